//! The resident ID number (公民身份号码, GB 11643-1999): 6 digits of region,
//! 8 of birth date, 3 of sequence (odd for men, even for women) and a check
//! character computed from the other 17 (ISO 7064 MOD 11-2; `X` stands for 10).

use time::{Date, Month};

use super::Gender;

/// A checked ID number and what it says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdNumber {
    /// The 18 characters, with a final `x` written as `X`.
    pub text: String,
    /// The birth date it encodes.
    pub birth_date: Date,
    /// The gender its sequence digit encodes.
    pub gender: Gender,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits.
pub fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses and checks an ID number; the error says what is wrong.
    pub fn parse(text: &str) -> Result<IdNumber, String> {
        let text = text.trim().to_ascii_uppercase();
        let bytes = text.as_bytes();
        if bytes.len() != 18 {
            return Err(format!(
                "must be 18 characters, not {}",
                text.chars().count()
            ));
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err("must be 17 digits followed by a digit or X".into());
        }
        if !(b'1'..=b'9').contains(&bytes[0]) {
            return Err("does not start with a region code".into());
        }
        let num = |range: std::ops::Range<usize>| -> u32 {
            bytes[range]
                .iter()
                .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
        };
        let birth_date = Month::try_from(num(10..12) as u8)
            .ok()
            .and_then(|m| Date::from_calendar_date(num(6..10) as i32, m, num(12..14) as u8).ok())
            .filter(|d| d.year() >= 1900)
            .ok_or_else(|| "its digits 7–14 are not a birth date".to_string())?;
        let expected = check_char(&bytes[..17]);
        if bytes[17] != expected {
            return Err(format!(
                "its check character is wrong (the first 17 digits give {})",
                expected as char
            ));
        }
        let gender = if (bytes[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        };
        Ok(IdNumber {
            text,
            birth_date,
            gender,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_check(first17: &str) -> String {
        format!("{first17}{}", check_char(first17.as_bytes()) as char)
    }

    #[test]
    fn a_valid_number_gives_birth_date_and_gender() {
        // GB 11643's own example.
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(
            id.birth_date,
            Date::from_calendar_date(1949, Month::December, 31).unwrap()
        );
        assert_eq!(id.gender, Gender::Female);
        let id = IdNumber::parse(&with_check("42132119750101123")).unwrap();
        assert_eq!(id.gender, Gender::Male);
        assert_eq!(id.birth_date.year(), 1975);
    }

    #[test]
    fn lowercase_x_is_accepted() {
        assert_eq!(
            IdNumber::parse("11010519491231002x").unwrap().text,
            "11010519491231002X"
        );
    }

    #[test]
    fn bad_numbers_say_why() {
        assert!(
            IdNumber::parse("110105194912310021")
                .unwrap_err()
                .contains("check character")
        );
        assert!(
            IdNumber::parse("1101051949123100")
                .unwrap_err()
                .contains("18 characters")
        );
        assert!(
            IdNumber::parse("11010519491231002Y")
                .unwrap_err()
                .contains("17 digits")
        );
        assert!(
            IdNumber::parse(&with_check("42132119751301123"))
                .unwrap_err()
                .contains("birth date")
        );
        assert!(
            IdNumber::parse(&with_check("42132119750230123"))
                .unwrap_err()
                .contains("birth date")
        );
        assert!(
            IdNumber::parse(&with_check("02132119750101123"))
                .unwrap_err()
                .contains("region")
        );
    }
}
