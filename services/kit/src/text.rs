//! Checking the words callers send: trimmed, within a length counted in
//! characters (not bytes: 随县政协 is four), and free of control characters
//! (a paragraph may break lines).

use crate::Violations;

/// At most `max` characters of `value`, with `…` when cut: what an error
/// message quotes of a value a caller sent, so that a long value never
/// makes a long answer.
pub fn prefix(value: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", &value[..end])),
    }
}

/// One line of text, `min..=max` characters once trimmed.
pub fn line(value: &str, min: usize, max: usize) -> Result<String, String> {
    checked(value, min, max, |c| c.is_control())
}

/// Text that may run over several lines (tabs and line breaks allowed),
/// `min..=max` characters once trimmed.
pub fn paragraphs(value: &str, min: usize, max: usize) -> Result<String, String> {
    checked(value, min, max, |c| {
        c.is_control() && !matches!(c, '\n' | '\r' | '\t')
    })
}

fn checked(value: &str, min: usize, max: usize, bad: fn(char) -> bool) -> Result<String, String> {
    let trimmed = value.trim();
    let count = trimmed.chars().count();
    if count < min {
        return Err(if min == 1 {
            "must not be empty".into()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if count > max {
        return Err(format!("must be at most {max} characters, not {count}"));
    }
    if trimmed.chars().any(bad) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// `line`, its fault added to `errors` under `field` (and an empty string
/// returned, for the caller to carry on and report every fault at once).
pub fn take_line(
    errors: &mut Violations,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> String {
    line(value, min, max).unwrap_or_else(|e| {
        errors.add(field, e);
        String::new()
    })
}

/// `paragraphs`, its fault added to `errors` under `field`.
pub fn take_paragraphs(
    errors: &mut Violations,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> String {
    paragraphs(value, min, max).unwrap_or_else(|e| {
        errors.add(field, e);
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_characters_and_breaks_only_in_paragraphs() {
        assert_eq!(line("  随县政协 ", 1, 4).unwrap(), "随县政协");
        assert_eq!(
            line("随县政协委员", 1, 4).unwrap_err(),
            "must be at most 4 characters, not 6"
        );
        assert_eq!(line(" ", 1, 4).unwrap_err(), "must not be empty");
        assert_eq!(
            line("ab", 3, 4).unwrap_err(),
            "must be at least 3 characters"
        );
        assert!(line("一\n二", 1, 10).is_err());
        assert_eq!(paragraphs("一\n二", 1, 10).unwrap(), "一\n二");
        assert!(paragraphs("一\u{0}二", 1, 10).is_err());
    }
}
