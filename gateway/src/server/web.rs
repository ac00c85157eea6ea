//! Answers for browsers and plain HTTP clients: CORS, gRPC-Web's trailer
//! frame, and JSON (answers and errors, with the HTTP status of the code).

use super::*;

/// Turns a gRPC answer into gRPC-Web: the trailers become the last frame.
pub(super) fn to_grpc_web(response: Response<Body>, text: bool) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if text {
            "application/grpc-web-text+proto"
        } else {
            "application/grpc-web+proto"
        }),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.status = StatusCode::OK;
    let encode = move |chunk: Bytes| {
        if text {
            frames::encode_text(&chunk)
        } else {
            chunk
        }
    };
    if parts.headers.contains_key("grpc-status") {
        // Trailers only: the status goes into the trailer frame.
        let mut trailers = HeaderMap::new();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            if let Some(v) = parts.headers.remove(name) {
                trailers.insert(name, v);
            }
        }
        let frame = encode(frames::trailer_frame(&trailers));
        return Response::from_parts(parts, Body::new(http_body_util::Full::new(frame)));
    }
    let body = body.map_frame(move |frame| match frame.into_data() {
        Ok(data) => Frame::data(encode(data)),
        Err(frame) => match frame.into_trailers() {
            Ok(trailers) => Frame::data(encode(frames::trailer_frame(&trailers))),
            Err(_) => Frame::data(Bytes::new()),
        },
    });
    Response::from_parts(parts, Body::new(body))
}

pub(super) fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(body.into())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An error as a JSON answer, with the HTTP status of its code (or `http`).
pub(super) fn json_error(status: &tonic::Status, http: Option<StatusCode>) -> Response<Body> {
    use tonic_types::StatusExt as _;
    let too_large = status
        .get_details_error_info()
        .is_some_and(|i| i.reason == "REQUEST_TOO_LARGE");
    let http = http.or(too_large.then_some(StatusCode::PAYLOAD_TOO_LARGE));
    let mut response = plain(
        http.unwrap_or_else(|| json::http_status(status.code())),
        "application/json",
        json::error(status),
    );
    if status.code() == Code::ResourceExhausted
        && let Some(retry) = retry_after_seconds(status)
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    }
    response
}

pub(super) fn retry_after_seconds(status: &tonic::Status) -> Option<u64> {
    use tonic_types::StatusExt as _;
    let delay = status.get_details_retry_info()?.retry_delay?;
    Some(delay.as_secs_f64().ceil().max(1.0) as u64)
}

impl Shared {
    pub(super) fn preflight(&self, origin: Option<&HeaderValue>) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if self.cors(origin, response.headers_mut()) {
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "authorization, content-type, grpc-timeout, x-grpc-web, x-user-agent, traceparent, tracestate, connect-protocol-version, connect-timeout-ms, cppcc-service, x-request-id",
                ),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        } else {
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        response
    }

    /// Adds the CORS headers when the origin may call; says whether it may.
    pub(super) fn cors(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) -> bool {
        let Some(origin) = origin else { return false };
        let allowed = self
            .config
            .cors_origins
            .iter()
            .any(|o| o == "*" || origin.as_bytes() == o.as_bytes());
        if allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "grpc-status, grpc-message, grpc-status-details-bin, x-request-id",
                ),
            );
            headers.insert(header::VARY, HeaderValue::from_static("origin"));
        }
        allowed
    }

    /// A unary call in JSON: the body turned into the method's message
    /// (after admission), the gRPC answer turned back into JSON, an error
    /// into a JSON error with its details and HTTP status.
    pub(super) async fn json(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        conn: (&Conn, bool),
        started: Instant,
    ) -> Response<Body> {
        let Some(method) = descriptors::method(path) else {
            let status = tonic::Status::unimplemented(format!(
                "no method at {}: JSON calls are POST /package.Service/Method, e.g. /cppcc.members.v1.CommitteeService/GetCommittee",
                cppcc_kit::text::prefix(path, 120)
            ));
            return json_error(&status, Some(StatusCode::NOT_FOUND));
        };
        if method.is_client_streaming() || method.is_server_streaming() {
            let status = tonic::Status::unimplemented(format!(
                "{} streams; JSON takes unary calls only: use gRPC or gRPC-Web",
                method.full_name()
            ));
            return json_error(&status, None);
        }
        let response = self
            .call(
                headers,
                path,
                body,
                conn,
                started,
                Decode::Json(method.clone()),
            )
            .await;
        let (parts, body) = response.into_parts();
        let kept: Vec<_> = [
            HeaderName::from_static(cppcc_kit::telemetry::CALL_ID_HEADER),
            header::CONNECTION,
        ]
        .into_iter()
        .filter_map(|name| Some((name.clone(), parts.headers.get(&name)?.clone())))
        .collect();
        let mut answer = Self::json_answer(&method, parts.headers, body).await;
        for (name, value) in kept {
            answer.headers_mut().insert(name, value);
        }
        answer
    }

    /// A gRPC answer as JSON.
    pub(super) async fn json_answer(
        method: &prost_reflect::MethodDescriptor,
        headers: HeaderMap,
        body: Body,
    ) -> Response<Body> {
        let (data, trailers) = match body.collect().await {
            Ok(c) => {
                let trailers = c.trailers().cloned().unwrap_or_default();
                (c.to_bytes(), trailers)
            }
            Err(status) => return json_error(&status, None),
        };
        let status = tonic::Status::from_header_map(&trailers)
            .or_else(|| tonic::Status::from_header_map(&headers))
            .unwrap_or_else(|| tonic::Status::unknown("the service's answer has no grpc-status"));
        if status.code() != Code::Ok {
            return json_error(&status, None);
        }
        match json::response(method, &data) {
            Ok(body) => plain(StatusCode::OK, "application/json", body),
            Err(e) => json_error(&e.to_status(), None),
        }
    }
}
