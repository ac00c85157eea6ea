//! JSON for scripts and dashboards: a unary call as `POST
//! /package.Service/Method` with the request in proto3's canonical JSON
//! mapping, answered in the same mapping; errors as JSON with the gRPC code
//! and the error details. Generic: everything comes from the descriptors.

use bytes::Bytes;
use cppcc_kit::error::ServiceError;
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, MethodDescriptor, SerializeOptions};
use tonic::Code;

use crate::frames;

/// The request body (JSON) as one gRPC message frame. An empty body is the
/// empty message.
pub fn request(method: &MethodDescriptor, body: &[u8]) -> Result<Bytes, ServiceError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        method.input(),
        &mut de,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .and_then(|m| de.end().map(|()| m))
    .map_err(|e| {
        ServiceError::invalid(
            "body",
            format!(
                "not a JSON {} in proto3's JSON mapping: {e}",
                method.input().full_name()
            ),
        )
    })?;
    Ok(frames::frame(&message.encode_to_vec()))
}

fn serialize(message: &DynamicMessage) -> Vec<u8> {
    let mut out = serde_json::Serializer::new(Vec::new());
    // Every field, defaults too, so a dashboard reads 0 rather than nothing.
    let options = SerializeOptions::new().skip_default_fields(false);
    message
        .serialize_with_options(&mut out, &options)
        .expect("a decoded message serializes");
    out.into_inner()
}

/// The answer (the body of a gRPC response: one message frame) as JSON.
pub fn response(method: &MethodDescriptor, body: &[u8]) -> Result<Vec<u8>, ServiceError> {
    let messages = frames::split_messages(body)
        .map_err(|e| ServiceError::internal(format!("the service's answer: {e}")))?;
    let [(false, message)] = messages.as_slice() else {
        return Err(ServiceError::internal(format!(
            "the service answered {} messages (or compressed ones) to a unary call",
            messages.len()
        )));
    };
    let message = DynamicMessage::decode(method.output(), *message).map_err(|e| {
        ServiceError::internal(format!("the service's answer does not decode: {e}"))
    })?;
    Ok(serialize(&message))
}

/// The HTTP status for a gRPC code (as google.rpc.Code documents them).
pub fn http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as S;
    match code {
        Code::Ok => S::OK,
        Code::Cancelled => S::from_u16(499).expect("499 is a status"),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => S::BAD_REQUEST,
        Code::DeadlineExceeded => S::GATEWAY_TIMEOUT,
        Code::NotFound => S::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => S::CONFLICT,
        Code::PermissionDenied => S::FORBIDDEN,
        Code::Unauthenticated => S::UNAUTHORIZED,
        Code::ResourceExhausted => S::TOO_MANY_REQUESTS,
        Code::Unimplemented => S::NOT_IMPLEMENTED,
        Code::Unavailable => S::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => S::INTERNAL_SERVER_ERROR,
    }
}

/// The code's name as google.rpc.Code spells it (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error as JSON: `{"code": 3, "status": "INVALID_ARGUMENT", "message":
/// "…", "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", …}]}`.
pub fn error(status: &tonic::Status) -> Vec<u8> {
    let details = crate::descriptors::pool()
        .get_message_by_name("google.rpc.Status")
        .and_then(|desc| DynamicMessage::decode(desc, status.details()).ok())
        .and_then(|m| serde_json::from_slice::<serde_json::Value>(&serialize(&m)).ok())
        .and_then(|v| v.get("details").cloned())
        .unwrap_or_else(|| serde_json::Value::Array(Vec::new()));
    serde_json::to_vec(&serde_json::json!({
        "code": status.code() as i32,
        "status": code_name(status.code()),
        "message": status.message(),
        "details": details,
    }))
    .expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get_committee() -> MethodDescriptor {
        crate::descriptors::method("/cppcc.members.v1.CommitteeService/GetCommittee").unwrap()
    }

    #[test]
    fn requests_become_frames_and_bad_json_is_refused() {
        let f = request(&get_committee(), br#"{"name": "committees/suixian"}"#).unwrap();
        let messages = frames::split_messages(&f).unwrap();
        assert_eq!(messages.len(), 1);
        assert!(request(&get_committee(), b"").is_ok());
        let e = request(&get_committee(), br#"{"name": "#).unwrap_err();
        assert!(e.message().contains("not a JSON"), "{}", e.message());
        let e = request(&get_committee(), br#"{"nmae": "x"}"#).unwrap_err();
        assert!(e.message().contains("nmae"), "{}", e.message());
        assert!(request(&get_committee(), br#"{} {}"#).is_err());
    }

    #[test]
    fn errors_carry_their_details() {
        let status = ServiceError::invalid("year", "must be 1949 or later").to_status();
        let body: serde_json::Value = serde_json::from_slice(&error(&status)).unwrap();
        assert_eq!(body["code"], 3);
        assert_eq!(body["status"], "INVALID_ARGUMENT");
        let details = body["details"].as_array().unwrap();
        assert!(details.iter().any(
            |d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest"
                && d["fieldViolations"][0]["field"] == "year"
        ));
        assert_eq!(http_status(Code::ResourceExhausted), 429);
    }
}
