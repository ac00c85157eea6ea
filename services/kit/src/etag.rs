//! Etags (AIP-154): a resource's revision as an opaque string, sent back
//! on update so a change made from a stale read is refused.

use crate::error::ServiceError;

/// The etag of a resource at `revision`.
pub fn format(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// Checks a caller's etag against the current revision. An empty etag
/// checks nothing. A stale or foreign etag is `ABORTED`, naming the current
/// one, so the caller knows to read again.
pub fn check(given: &str, current: i64, resource: &str) -> Result<(), ServiceError> {
    if given.is_empty() || given == format(current) {
        return Ok(());
    }
    Err(ServiceError::aborted(
        "ETAG_MISMATCH",
        format!(
            "etag {given} is stale: {resource} has changed since it was read (now {}); read it again and retry",
            format(current)
        ),
    )
    .with_metadata("resource", resource)
    .with_metadata("current_etag", format(current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert_eq!(format(3), "\"3\"");
        assert!(check("", 3, "r").is_ok());
        assert!(check("\"3\"", 3, "r").is_ok());
        let e = check("\"2\"", 3, "committees/x").unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Aborted);
        assert!(e.message().contains("now \"3\""));
        assert!(check("garbage", 3, "r").is_err());
    }
}
