//! What day it is in China: the one clock every service asks.
//!
//! A committee's dates are days in China (UTC+8), whatever the time zone of
//! the machine. The clock normally follows the system's; a test, a bench or
//! a rehearsal of a past year starts it on another day (`--today` /
//! `CPPCC_TODAY`), from which it goes on as days pass.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// China Standard Time, the zone a committee's days are counted in.
pub const CHINA: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("UTC+8 is an offset"),
};

/// A clock: the system's, or the system's moved by whole days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// How many days this clock is ahead of the system's (negative: behind).
    shift: Duration,
}

impl Clock {
    /// The system's clock.
    pub const fn system() -> Clock {
        Clock {
            shift: Duration::ZERO,
        }
    }

    /// A clock on which today is `day`, and tomorrow comes when it comes on
    /// the system's clock.
    pub fn starting(day: Date) -> Clock {
        Clock {
            shift: Duration::days((day - day_in_china(OffsetDateTime::now_utc())).whole_days()),
        }
    }

    /// The clock `--today` asks for: the system's when it is not given.
    pub fn from_arg(today: Option<Date>) -> Clock {
        today.map_or_else(Clock::system, Clock::starting)
    }

    /// Today in China.
    pub fn today(self) -> Date {
        day_in_china(OffsetDateTime::now_utc() + self.shift)
    }
}

/// The day in China at `t`.
pub fn day_in_china(t: OffsetDateTime) -> Date {
    t.to_offset(CHINA).date()
}

/// Parses `--today`: a day written `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), &format).map_err(|_| format!("`{text}` is not a day as YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn days_are_counted_in_china() {
        assert_eq!(
            day_in_china(datetime!(2024-03-01 15:59:59 UTC)),
            date!(2024 - 03 - 01)
        );
        assert_eq!(
            day_in_china(datetime!(2024-03-01 16:00:00 UTC)),
            date!(2024 - 03 - 02)
        );
    }

    #[test]
    fn a_started_clock_says_its_day() {
        let day = date!(2023 - 01 - 10);
        // The day could turn between the two readings; then it is one later.
        let today = Clock::starting(day).today();
        assert!(today == day || today == day.next_day().unwrap(), "{today}");
        assert_ne!(Clock::starting(day), Clock::system());
        assert_eq!(Clock::from_arg(None), Clock::system());
        assert_eq!(Clock::from_arg(None).today(), Clock::system().today());
    }

    #[test]
    fn days_parse() {
        assert_eq!(parse_day("2024-02-29"), Ok(date!(2024 - 02 - 29)));
        assert!(parse_day("2023-02-29").is_err());
        assert!(parse_day("yesterday").unwrap_err().contains("YYYY-MM-DD"));
    }
}
