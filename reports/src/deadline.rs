//! The one deadline a report is made under: the caller's `grpc-timeout`,
//! capped by the report service's own maximum.

use std::time::Duration;

use tonic::metadata::MetadataMap;

/// The header a gRPC caller states its deadline in.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Parses a `grpc-timeout` value: at most eight digits and a unit (`H`
/// hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds,
/// `n` nanoseconds), e.g. `1500m`. `None` if it is not one.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// How long the report may take: the caller's `grpc-timeout` when it sent
/// a valid one, never more than `max`; `max` when it sent none.
pub fn deadline(metadata: &MetadataMap, max: Duration) -> Duration {
    metadata
        .get(GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(max, |asked| asked.min(max))
}

/// The most kept back from the deadline for putting the report together
/// and sending it.
const MAX_MARGIN: Duration = Duration::from_millis(100);

/// How long the statistics calls may take within `deadline`: a tenth of it
/// (at most 100 ms) is kept back, so that a report without a slow section
/// still reaches the caller before the caller gives up.
pub fn calls_budget(deadline: Duration) -> Duration {
    deadline - (deadline / 10).min(MAX_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_in_every_unit() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("10S"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_grpc_timeout("1500m"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_grpc_timeout("250u"), Some(Duration::from_micros(250)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("0m"), Some(Duration::ZERO));
    }

    #[test]
    fn bad_grpc_timeouts_are_not_deadlines() {
        for bad in [
            "",
            "m",
            "10",
            "10s",
            "10ms",
            "-5m",
            "1.5S",
            "123456789m",
            " 5S",
            "5 S",
            "五S",
        ] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_callers_deadline_capped_by_the_maximum() {
        let max = Duration::from_secs(5);
        let mut md = MetadataMap::new();
        assert_eq!(deadline(&md, max), max, "no deadline: the maximum");
        md.insert(GRPC_TIMEOUT, "800m".parse().unwrap());
        assert_eq!(deadline(&md, max), Duration::from_millis(800));
        md.insert(GRPC_TIMEOUT, "1M".parse().unwrap());
        assert_eq!(deadline(&md, max), max, "never more than the maximum");
        md.insert(GRPC_TIMEOUT, "soon".parse().unwrap());
        assert_eq!(deadline(&md, max), max, "an unreadable one: the maximum");
    }

    #[test]
    fn the_calls_leave_time_to_answer() {
        assert_eq!(
            calls_budget(Duration::from_millis(500)),
            Duration::from_millis(450)
        );
        assert_eq!(
            calls_budget(Duration::from_secs(5)),
            Duration::from_millis(4900),
            "at most 100 ms kept back"
        );
        assert_eq!(calls_budget(Duration::ZERO), Duration::ZERO);
    }
}
