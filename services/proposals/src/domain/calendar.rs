//! Days a committee counts: the reply's day (months after assignment) and
//! the reassignment window (calendar or working days; the calendar's
//! exceptions are data).

use std::collections::HashMap;

use time::{Date, Duration, Month, Weekday};

/// The same day `months` later, or the month's last day when it has no
/// such day (31 January + 1 month = 28 or 29 February).
pub fn add_months(day: Date, months: u32) -> Date {
    let index = day.year() * 12 + i32::from(u8::from(day.month())) - 1 + months as i32;
    let (year, month) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u8);
    let month = Month::try_from(month).expect("1..=12");
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.day().min(last)).expect("a valid day")
}

/// A committee's working calendar: Monday to Friday, except the days it
/// lists (holidays on weekdays, weekend days worked).
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    exceptions: HashMap<Date, bool>,
}

impl Calendar {
    /// The calendar with these exceptions (day, working).
    pub fn new(exceptions: impl IntoIterator<Item = (Date, bool)>) -> Calendar {
        Calendar {
            exceptions: exceptions.into_iter().collect(),
        }
    }

    /// Whether the committee works on `day`.
    pub fn is_working(&self, day: Date) -> bool {
        self.exceptions.get(&day).copied().unwrap_or(!matches!(
            day.weekday(),
            Weekday::Saturday | Weekday::Sunday
        ))
    }

    /// The last day of a window of `days` days after `start` (calendar
    /// days, or working days when `working`).
    pub fn window_end(&self, start: Date, days: u32, working: bool) -> Date {
        if !working {
            return start + Duration::days(i64::from(days));
        }
        let mut day = start;
        let mut counted = 0;
        while counted < days {
            day += Duration::days(1);
            if self.is_working(day) {
                counted += 1;
            }
        }
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_keep_the_day_or_take_the_months_last() {
        assert_eq!(add_months(date!(2023 - 03 - 15), 3), date!(2023 - 06 - 15));
        assert_eq!(add_months(date!(2023 - 11 - 30), 3), date!(2024 - 02 - 29));
        assert_eq!(add_months(date!(2023 - 01 - 31), 1), date!(2023 - 02 - 28));
        assert_eq!(add_months(date!(2023 - 12 - 01), 12), date!(2024 - 12 - 01));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_count_days_worked() {
        // Assigned Friday 2023-09-22; the National Day holiday is 29 Sep –
        // 6 Oct, and Saturday 7 and Sunday 8 October are worked.
        let calendar = Calendar::new([
            (date!(2023 - 09 - 29), false),
            (date!(2023 - 10 - 02), false),
            (date!(2023 - 10 - 03), false),
            (date!(2023 - 10 - 04), false),
            (date!(2023 - 10 - 05), false),
            (date!(2023 - 10 - 06), false),
            (date!(2023 - 10 - 07), true),
            (date!(2023 - 10 - 08), true),
        ]);
        let start = date!(2023 - 09 - 22);
        // 25–28 Sep are 4 working days, then 7, 8, 9, 10, 11, 12 Oct.
        assert_eq!(calendar.window_end(start, 10, true), date!(2023 - 10 - 12));
        assert_eq!(calendar.window_end(start, 10, false), date!(2023 - 10 - 02));
        assert!(!Calendar::default().is_working(date!(2023 - 10 - 07)));
        assert!(calendar.is_working(date!(2023 - 10 - 07)));
    }
}
