//! The one error type of every service, and its one mapping to `tonic::Status`.
//!
//! Every error carries a `google.rpc.ErrorInfo` (a stable `reason` in
//! UPPER_SNAKE_CASE, the domain `cppcc`, and metadata such as the resource
//! or the current state); invalid arguments carry every field violation at
//! once as `google.rpc.BadRequest`, broken preconditions a
//! `google.rpc.PreconditionFailure`. Internal errors are logged with their
//! cause and reach the caller only as "internal error": no SQL, no personal
//! data in messages.

use std::collections::HashMap;
use std::time::Duration;

use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every cppcc error.
pub const ERROR_DOMAIN: &str = "cppcc";

/// The most characters of an error's message a caller is sent.
pub const MESSAGE_CHARS: usize = 480;
/// The most characters of each string in an error's details.
pub const DETAIL_CHARS: usize = 160;
/// The most entries of each kind of detail.
pub const MAX_DETAILS: usize = 32;
/// The largest HTTP/2 header block a service or the gateway takes or sends
/// (names, values and 32 bytes an entry): far above any answer's status
/// and details, which are capped above, and below what proxies refuse.
pub const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// The few kinds of failure a caller must tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Aborted,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

impl ErrorKind {
    fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }
}

/// A broken precondition: what kind, about what, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    /// A short type, e.g. `STATE` or `ETAG`.
    pub kind: String,
    /// What it is about, e.g. a resource name.
    pub subject: String,
    /// What is wrong and what would make it right.
    pub description: String,
}

/// An error a service returns. Boxed: errors are the rare path, and a
/// small `Result` keeps the common one fast.
#[derive(Debug)]
pub struct ServiceError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    reason: &'static str,
    metadata: HashMap<String, String>,
    violations: Vec<FieldViolation>,
    preconditions: Vec<Precondition>,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.0.kind, self.0.message)
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The result of a service operation.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    fn new(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        ServiceError(Box::new(Inner {
            kind,
            message: message.into(),
            reason,
            metadata: HashMap::new(),
            violations: Vec::new(),
            preconditions: Vec::new(),
            retry_after: None,
            source: None,
        }))
    }

    /// One invalid field. For several, use [`Violations`].
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Violations::default();
        v.add(field, description);
        v.into_error()
    }

    /// The named resource does not exist, or the caller may not see it: the
    /// two look the same so that existence does not leak.
    pub fn not_found(resource: impl Into<String>) -> Self {
        let resource = resource.into();
        ServiceError::new(
            ErrorKind::NotFound,
            "RESOURCE_NOT_FOUND",
            format!("{resource} not found"),
        )
        .with_metadata("resource", resource)
    }

    /// A resource with the same identity already exists.
    pub fn already_exists(resource: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::AlreadyExists, "RESOURCE_EXISTS", message)
            .with_metadata("resource", resource)
    }

    /// The resource is not in a state that allows the call.
    pub fn failed_precondition(
        kind: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        let description = description.into();
        let subject = subject.into();
        let mut e = ServiceError::new(
            ErrorKind::FailedPrecondition,
            "FAILED_PRECONDITION",
            description.clone(),
        )
        .with_metadata("resource", subject.clone());
        e.0.preconditions.push(Precondition {
            kind: kind.into(),
            subject,
            description,
        });
        e
    }

    /// The caller's view is stale (an etag no longer matches), or a
    /// concurrent change won; read again and retry.
    pub fn aborted(reason: &'static str, message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::Aborted, reason, message)
    }

    /// The caller is known but may not do this.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::PermissionDenied, "PERMISSION_DENIED", message)
    }

    /// The caller is not known: no token, or a token that is not good.
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::Unauthenticated, reason, message)
    }

    /// A limit was reached; retry after the given time.
    pub fn resource_exhausted(message: impl Into<String>, retry_after: Duration) -> Self {
        let mut e = ServiceError::new(ErrorKind::ResourceExhausted, "RATE_LIMITED", message);
        e.0.retry_after = Some(retry_after);
        e
    }

    /// Something this service depends on is down; retrying may help.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::Unavailable, "UNAVAILABLE", message)
    }

    /// The call ran out of time.
    pub fn deadline_exceeded(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorKind::DeadlineExceeded, "DEADLINE_EXCEEDED", message)
    }

    /// A failure the caller cannot act on. The cause is logged, not sent.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = ServiceError::new(ErrorKind::Internal, "INTERNAL", "internal error");
        e.0.source = Some(source.into());
        e
    }

    /// Adds a metadata entry to the `ErrorInfo`.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.metadata.insert(key.into(), value.into());
        self
    }

    /// Replaces the stable reason of the `ErrorInfo`.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.0.reason = reason;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message the caller sees.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The stable reason of the `ErrorInfo`.
    pub fn reason(&self) -> &'static str {
        self.0.reason
    }

    /// The field violations of an invalid-argument error.
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.0.violations
    }

    /// The gRPC status this error is sent as.
    pub fn to_status(&self) -> tonic::Status {
        let e = &self.0;
        if e.kind == ErrorKind::Internal {
            tracing::error!(error = ?e.source, reason = e.reason, "internal error");
        }
        // Whatever a message or detail quotes of a caller's input, the
        // answer stays small: it travels in HTTP/2 headers, which every
        // hop caps (MAX_HEADER_LIST_BYTES).
        let cap = |s: &str| crate::text::prefix(s, DETAIL_CHARS).into_owned();
        let mut details = ErrorDetails::new();
        details.set_error_info(
            e.reason,
            ERROR_DOMAIN,
            e.metadata
                .iter()
                .take(MAX_DETAILS)
                .map(|(k, v)| (cap(k), cap(v)))
                .collect::<HashMap<_, _>>(),
        );
        if !e.violations.is_empty() {
            details.set_bad_request(
                e.violations
                    .iter()
                    .take(MAX_DETAILS)
                    .map(|v| FieldViolation::new(cap(&v.field), cap(&v.description)))
                    .collect::<Vec<_>>(),
            );
        }
        for p in e.preconditions.iter().take(MAX_DETAILS) {
            details.add_precondition_failure_violation(
                cap(&p.kind),
                cap(&p.subject),
                cap(&p.description),
            );
        }
        if let Some(delay) = e.retry_after {
            details.set_retry_info(Some(delay));
        }
        let message = crate::text::prefix(&e.message, MESSAGE_CHARS).into_owned();
        tonic::Status::with_error_details(e.kind.code(), message, details)
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        e.to_status()
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        classify_db_error(e)
    }
}

/// The one place database errors become service errors, by SQLSTATE.
///
/// Services that expect a particular constraint to fire (a duplicate name, a
/// missing reference) check for it first with [`constraint_violated`] and
/// return a precise error; what reaches this function is unexpected.
pub fn classify_db_error(e: sqlx::Error) -> ServiceError {
    match &e {
        sqlx::Error::RowNotFound => ServiceError::internal(e),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            tracing::warn!(error = %e, "database unavailable");
            ServiceError::unavailable("the database is unavailable; retry later")
        }
        // No constraint or table names reach the caller: they describe the
        // schema, not the request. Services that expect a constraint check
        // for it first and answer precisely.
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => ServiceError::new(
                ErrorKind::AlreadyExists,
                "RESOURCE_EXISTS",
                "a record with the same identity already exists",
            ),
            Some("23503") => ServiceError::new(
                ErrorKind::FailedPrecondition,
                "REFERENCE",
                "a referenced record does not exist or is still referenced",
            ),
            // serialization failure, deadlock: the client may retry the call
            Some("40001") | Some("40P01") => ServiceError::aborted(
                "CONCURRENT_CHANGE",
                "a concurrent change interfered; retry the call",
            ),
            Some("57014") => ServiceError::deadline_exceeded("the database query was cancelled"),
            Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                tracing::warn!(error = %e, "database connection lost");
                ServiceError::unavailable("the database is unavailable; retry later")
            }
            _ => ServiceError::internal(e),
        },
        _ => ServiceError::internal(e),
    }
}

/// Whether `e` is a unique or foreign-key violation of the named constraint.
pub fn constraint_violated(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}

/// Collects every invalid field of a request so the caller hears of all of
/// them at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records that `field` is invalid, and why.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records a violation when `bad` is true.
    pub fn check(&mut self, bad: bool, field: &str, description: impl Into<String>) {
        if bad {
            self.add(field, description);
        }
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` if nothing was recorded, else the invalid-argument error.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    fn into_error(self) -> ServiceError {
        let message = match self.0.as_slice() {
            [one] => format!("{}: {}", one.field, one.description),
            // Every field with what is wrong with it: not every client shows
            // the BadRequest details.
            many => format!(
                "{} invalid fields: {}",
                many.len(),
                many.iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let mut e = ServiceError::new(ErrorKind::InvalidArgument, "INVALID_ARGUMENT", message);
        e.0.violations = self.0;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_carry_every_violation() {
        let mut v = Violations::default();
        v.add("member.display_name", "must not be empty");
        v.add("member.id_number", "check digit is wrong");
        let status = tonic::Status::from(v.finish().unwrap_err());
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "2 invalid fields: member.display_name: must not be empty; member.id_number: check digit is wrong"
        );
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations.len(), 2);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, ERROR_DOMAIN);
    }

    #[test]
    fn preconditions_name_the_state() {
        let e = ServiceError::failed_precondition(
            "STATE",
            "committees/x/members/y",
            "member is resigned; a resigned member cannot be suspended",
        );
        let status = e.to_status();
        assert_eq!(status.code(), Code::FailedPrecondition);
        let pf = status.get_details_precondition_failure().unwrap();
        assert_eq!(pf.violations[0].r#type, "STATE");
        assert_eq!(
            status.get_details_error_info().unwrap().metadata["resource"],
            "committees/x/members/y"
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ServiceError::internal(std::io::Error::other("password=secret"));
        let status = e.to_status();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn long_input_is_quoted_briefly() {
        let long = "名".repeat(65_536);
        let mut v = Violations::default();
        for i in 0..100 {
            v.add(format!("f{i}"), format!("`{long}` is not a name"));
        }
        let status = v.finish().unwrap_err().to_status();
        assert!(status.message().chars().count() <= MESSAGE_CHARS + 1);
        assert!(status.message().ends_with('…'));
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations.len(), MAX_DETAILS);
        assert!(bad.field_violations[0].description.chars().count() <= DETAIL_CHARS + 1);
        let found = ServiceError::not_found(long).to_status();
        assert!(
            found.details().len() < 2 * 1024,
            "{}",
            found.details().len()
        );
        assert!(found.message().len() < 2 * 1024);
    }

    #[test]
    fn retry_info_is_attached() {
        let status =
            ServiceError::resource_exhausted("slow down", Duration::from_secs(2)).to_status();
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(2))
        );
    }
}
