//! Resource names (AIP-122): `committees/{committee}` and the collections
//! below it, e.g. `committees/suixian/members/{uuid}`.

use uuid::Uuid;

use crate::error::ServiceError;

/// The collection id of committees.
pub const COMMITTEES: &str = "committees";

/// Whether `id` is a valid committee id: 2–40 characters of lowercase
/// letters, digits and hyphens, starting with a letter and not ending with a
/// hyphen.
pub fn is_committee_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (2..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `committees/{id}` for a committee id.
pub fn committee_name(id: &str) -> String {
    format!("{COMMITTEES}/{id}")
}

/// The committee id in `committees/{id}`, if `name` is one.
pub fn committee_id(name: &str) -> Option<&str> {
    name.strip_prefix("committees/")
        .filter(|id| is_committee_id(id))
}

/// What an error quotes of a name a caller sent: its first characters.
pub fn quoted(name: &str) -> std::borrow::Cow<'_, str> {
    crate::text::prefix(name, 80)
}

/// Parses `committees/{id}`, or reports `field` as invalid.
pub fn parse_committee<'a>(field: &str, name: &'a str) -> Result<&'a str, ServiceError> {
    committee_id(name).ok_or_else(|| {
        ServiceError::invalid(
            field,
            format!(
                "`{}` is not a committee name like `committees/suixian`",
                quoted(name)
            ),
        )
    })
}

/// A resource directly below a committee: `committees/{committee}/{collection}/{uuid}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildName {
    /// The committee id.
    pub committee: String,
    /// The resource's id.
    pub id: Uuid,
}

impl ChildName {
    /// Formats the name for `collection`.
    pub fn format(committee: &str, collection: &str, id: Uuid) -> String {
        format!("{COMMITTEES}/{committee}/{collection}/{id}")
    }

    /// Parses `committees/{committee}/{collection}/{uuid}`.
    pub fn parse(name: &str, collection: &str) -> Option<ChildName> {
        let mut parts = name.split('/');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some(COMMITTEES), Some(c), Some(coll), Some(id), None)
                if coll == collection && is_committee_id(c) =>
            {
                // Only the canonical form (lowercase, hyphenated), so one
                // resource has one name in the audit log and in events.
                let uuid = Uuid::try_parse(id).ok()?;
                if uuid.hyphenated().to_string() != id {
                    return None;
                }
                let id = uuid;
                Some(ChildName {
                    committee: c.to_owned(),
                    id,
                })
            }
            _ => None,
        }
    }

    /// Parses a sub-resource's name,
    /// `committees/{committee}/{collection}/{id}/{sub}/{id}`: its parent
    /// and its own id; or reports `field` as invalid with the expected shape.
    pub fn parse_sub(
        field: &str,
        name: &str,
        collection: &str,
        sub: &str,
    ) -> Result<(ChildName, Uuid), ServiceError> {
        let bad = || {
            ServiceError::invalid(
                field,
                format!(
                    "`{}` is not a name like `committees/{{committee}}/{collection}/{{id}}/{sub}/{{id}}`",
                    quoted(name)
                ),
            )
        };
        let (parent, id) = name.rsplit_once('/').ok_or_else(bad)?;
        let (parent, segment) = parent.rsplit_once('/').ok_or_else(bad)?;
        if segment != sub {
            return Err(bad());
        }
        let id = Uuid::try_parse(id)
            .ok()
            .filter(|u| u.hyphenated().to_string() == id)
            .ok_or_else(bad)?;
        let parent = ChildName::parse(parent, collection).ok_or_else(bad)?;
        Ok((parent, id))
    }

    /// Parses a name, or reports `field` as invalid with the expected shape.
    pub fn parse_field(
        field: &str,
        name: &str,
        collection: &str,
    ) -> Result<ChildName, ServiceError> {
        ChildName::parse(name, collection).ok_or_else(|| {
            ServiceError::invalid(
                field,
                if name.is_empty() {
                    format!("required: a name like `committees/{{committee}}/{collection}/{{id}}`")
                } else {
                    format!(
                        "`{}` is not a name like `committees/{{committee}}/{collection}/{{id}}`",
                        quoted(name)
                    )
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committee_ids() {
        for ok in ["suixian", "suizhou", "hubei-2", "ab"] {
            assert!(is_committee_id(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Suixian",
            "1abc",
            "ab-",
            "a_b",
            "随县",
            &"a".repeat(41),
        ] {
            assert!(!is_committee_id(bad), "{bad}");
        }
        assert_eq!(committee_id("committees/suixian"), Some("suixian"));
        assert_eq!(committee_id("committees/"), None);
        assert_eq!(committee_id("committee/suixian"), None);
        assert!(parse_committee("parent", "suixian").is_err());
    }

    #[test]
    fn child_names() {
        let id = Uuid::now_v7();
        let name = ChildName::format("suixian", "members", id);
        assert_eq!(
            ChildName::parse(&name, "members"),
            Some(ChildName {
                committee: "suixian".into(),
                id
            })
        );
        assert_eq!(ChildName::parse(&name, "sectors"), None);
        assert_eq!(ChildName::parse(&format!("{name}/x"), "members"), None);
        assert_eq!(
            ChildName::parse("committees/suixian/members/nope", "members"),
            None
        );
        let e = ChildName::parse_field("member.sector", "x", "sectors").unwrap_err();
        assert_eq!(e.field_violations()[0].field, "member.sector");
    }
}
