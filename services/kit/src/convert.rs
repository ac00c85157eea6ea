//! Conversions between protobuf's well-known and common types and Rust's.

use cppcc_proto::common::v1::Date;
use prost_types::Timestamp;
use time::{Month, OffsetDateTime};

use crate::error::ServiceError;

/// A point in time as protobuf.
pub fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// Whether `n` is a set value of the protobuf enum `E` (not 0, not unknown).
pub fn is_set<E: TryFrom<i32>>(n: i32) -> bool {
    n != 0 && E::try_from(n).is_ok()
}

/// A calendar date as `cppcc.common.v1.Date`.
pub fn date(d: time::Date) -> Date {
    Date {
        year: d.year(),
        month: i32::from(u8::from(d.month())),
        day: i32::from(d.day()),
    }
}

/// Reads an optional date: unset (or all zero) is `None`; anything else
/// must be a real day, or `field` is reported invalid.
pub fn parse_date(field: &str, d: Option<&Date>) -> Result<Option<time::Date>, ServiceError> {
    let Some(d) = d else { return Ok(None) };
    if d.year == 0 && d.month == 0 && d.day == 0 {
        return Ok(None);
    }
    let month = u8::try_from(d.month)
        .ok()
        .and_then(|m| Month::try_from(m).ok());
    let day = u8::try_from(d.day).ok();
    match (month, day) {
        (Some(month), Some(day)) if (1..=9999).contains(&d.year) => {
            time::Date::from_calendar_date(d.year, month, day)
                .map(Some)
                .map_err(|_| {
                    ServiceError::invalid(
                        field,
                        format!("{}-{:02}-{:02} is not a day", d.year, d.month, d.day),
                    )
                })
        }
        _ => Err(ServiceError::invalid(
            field,
            format!("{}-{:02}-{:02} is not a day", d.year, d.month, d.day),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_known_and_not_zero() {
        use cppcc_proto::common::v1::DutyKind;
        assert!(is_set::<DutyKind>(DutyKind::Training as i32));
        assert!(!is_set::<DutyKind>(0));
        assert!(!is_set::<DutyKind>(99));
    }

    #[test]
    fn dates() {
        let d = Date {
            year: 2023,
            month: 2,
            day: 28,
        };
        let parsed = parse_date("d", Some(&d)).unwrap().unwrap();
        assert_eq!(date(parsed), d);
        assert_eq!(parse_date("d", None).unwrap(), None);
        assert_eq!(parse_date("d", Some(&Date::default())).unwrap(), None);
        let bad = Date {
            year: 2023,
            month: 2,
            day: 30,
        };
        assert_eq!(
            parse_date("member.join_date", Some(&bad))
                .unwrap_err()
                .field_violations()[0]
                .field,
            "member.join_date"
        );
        assert!(
            parse_date(
                "d",
                Some(&Date {
                    year: 2023,
                    month: 13,
                    day: 1
                })
            )
            .is_err()
        );
    }
}
