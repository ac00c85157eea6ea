//! What makes a member record valid, checked all at once so a caller hears
//! of every bad field in one answer.

use time::Date;
use uuid::Uuid;

use cppcc_kit::convert::parse_date;
use cppcc_kit::names::ChildName;
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::members::v1 as pb;

use super::{Gender, IdNumber, ethnicity, text};

/// The longest a member may link with.
pub const MAX_LINKS: usize = 50;

/// A place a member links with.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    /// The `MemberLinkKind` number.
    pub kind: i32,
    pub display_name: String,
}

/// A member's fields, checked and normalised, ready to store.
#[derive(Clone, Debug)]
pub struct MemberFields {
    pub display_name: String,
    pub gender: Gender,
    pub ethnicity: String,
    pub birth_date: Date,
    pub id_number: IdNumber,
    pub phone: Option<String>,
    pub political_affiliation: i16,
    pub sector_id: Uuid,
    pub employer: String,
    pub job_title: String,
    pub role: i16,
    pub city_member: bool,
    pub township: String,
    pub links: Vec<Link>,
    /// `None`: the committee's current term.
    pub term: Option<i32>,
    pub join_date: Option<Date>,
    pub education: String,
}

/// Normalises a mobile number: spaces, dashes and a `+86` prefix dropped;
/// then 11 digits starting with 1.
pub fn phone(text: &str) -> Result<Option<String>, String> {
    let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = digits.strip_prefix("+86").unwrap_or(&digits);
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(digits.to_owned()))
    } else {
        Err("must be an 11-digit mobile number starting with 1".into())
    }
}

/// The day the CPPCC first met (1949-09-21): no committee date is earlier.
pub const FOUNDING: Date = time::macros::date!(1949 - 09 - 21);

/// Whether `d` is a plausible date of a committee's records: not before
/// the CPPCC's founding, and at most a year after `today`.
pub fn plausible(d: Date, today: Date) -> bool {
    d >= FOUNDING && d <= today + time::Duration::days(366)
}

impl MemberFields {
    /// Checks `m` as a member of the committee `committee` on `today`.
    /// `prefix` is the request field the member sits in (`member`).
    pub fn parse(
        m: &pb::Member,
        committee: &str,
        prefix: &str,
        today: Date,
    ) -> Result<MemberFields, ServiceError> {
        let mut errors = Violations::default();
        let field = |name: &str| format!("{prefix}.{name}");
        let take_text =
            |errors: &mut Violations, name: &str, value: &str, min: usize, max: usize| {
                text(value, min, max).unwrap_or_else(|e| {
                    errors.add(field(name), e);
                    String::new()
                })
            };
        let display_name = take_text(&mut errors, "display_name", &m.display_name, 1, 30);
        let employer = take_text(&mut errors, "employer", &m.employer, 0, 100);
        let job_title = take_text(&mut errors, "job_title", &m.job_title, 0, 100);
        let township = take_text(&mut errors, "township", &m.township, 0, 40);
        let education = take_text(&mut errors, "education", &m.education, 0, 40);

        let id_number = match IdNumber::parse(&m.id_number) {
            Ok(id) => Some(id),
            Err(_) if m.id_number.trim().is_empty() => {
                errors.add(field("id_number"), "required");
                None
            }
            Err(e) => {
                errors.add(field("id_number"), e);
                None
            }
        };

        let gender = match (Gender::from_number(m.gender), &id_number) {
            (None, _) if m.gender != 0 => {
                errors.add(
                    field("gender"),
                    format!("{} is not a Gender value", m.gender),
                );
                None
            }
            (Some(g), Some(id)) if g != id.gender => {
                errors.add(field("gender"), "does not agree with the ID number");
                None
            }
            (g, id) => g.or(id.as_ref().map(|id| id.gender)),
        };

        let birth_date = match (
            parse_date(&field("birth_date"), m.birth_date.as_ref()),
            &id_number,
        ) {
            (Err(e), _) => {
                for v in e.field_violations() {
                    errors.add(v.field.clone(), v.description.clone());
                }
                None
            }
            (Ok(Some(d)), Some(id)) if d != id.birth_date => {
                errors.add(field("birth_date"), "does not agree with the ID number");
                None
            }
            (Ok(d), id) => d.or(id.as_ref().map(|id| id.birth_date)),
        };
        if birth_date.is_some_and(|d| d > today) {
            errors.add(field("birth_date"), "is in the future (see the ID number)");
        }

        let ethnicity = if m.ethnicity.trim().is_empty() {
            String::new()
        } else {
            match ethnicity(&m.ethnicity) {
                Some(e) => e.to_owned(),
                None => {
                    errors.add(
                        field("ethnicity"),
                        format!("`{}` is not one of the 56 ethnic groups", m.ethnicity),
                    );
                    String::new()
                }
            }
        };

        let phone = phone(&m.phone).unwrap_or_else(|e| {
            errors.add(field("phone"), e);
            None
        });

        let political_affiliation =
            match pb::PoliticalAffiliation::try_from(m.political_affiliation) {
                Ok(p) => p as i16,
                Err(_) => {
                    errors.add(
                        field("political_affiliation"),
                        format!(
                            "{} is not a PoliticalAffiliation value",
                            m.political_affiliation
                        ),
                    );
                    0
                }
            };

        let role = match pb::MemberRole::try_from(m.role) {
            Ok(pb::MemberRole::Unspecified) => {
                errors.add(field("role"), "required: MEMBER_ROLE_CHAIR, _VICE_CHAIR, _SECRETARY_GENERAL, _STANDING or _MEMBER");
                0
            }
            Ok(r) => r as i16,
            Err(_) => {
                errors.add(
                    field("role"),
                    format!("{} is not a MemberRole value", m.role),
                );
                0
            }
        };

        let sector_id = if m.sector.is_empty() {
            errors.add(field("sector"), "required: a sector of this committee");
            None
        } else {
            match ChildName::parse(&m.sector, "sectors") {
                Some(s) if s.committee == committee => Some(s.id),
                Some(_) => {
                    errors.add(field("sector"), "belongs to another committee");
                    None
                }
                None => {
                    errors.add(
                        field("sector"),
                        format!(
                            "`{}` is not a name like `committees/{committee}/sectors/{{id}}`",
                            m.sector
                        ),
                    );
                    None
                }
            }
        };

        if m.links.len() > MAX_LINKS {
            errors.add(
                field("links"),
                format!("at most {MAX_LINKS} places, not {}", m.links.len()),
            );
        }
        let mut links = Vec::new();
        for (i, link) in m.links.iter().enumerate().take(MAX_LINKS) {
            match pb::MemberLinkKind::try_from(link.kind) {
                Ok(pb::MemberLinkKind::Unspecified) | Err(_) => {
                    errors.add(
                        field(&format!("links[{i}].kind")),
                        "must be VILLAGE, COMMUNITY or ENTERPRISE",
                    );
                }
                Ok(_) => {}
            }
            let name = take_text(
                &mut errors,
                &format!("links[{i}].display_name"),
                &link.display_name,
                1,
                60,
            );
            links.push(Link {
                kind: link.kind,
                display_name: name,
            });
        }

        let term = match m.term {
            0 => None,
            t if (1..=99).contains(&t) => Some(t),
            t => {
                errors.add(field("term"), format!("must be between 1 and 99, not {t}"));
                None
            }
        };
        let join_date = parse_date(&field("join_date"), m.join_date.as_ref()).unwrap_or_else(|e| {
            for v in e.field_violations() {
                errors.add(v.field.clone(), v.description.clone());
            }
            None
        });
        if join_date.is_some_and(|d| !plausible(d, today)) {
            errors.add(
                field("join_date"),
                "must be between 1949-09-21 and a year from today",
            );
        }

        errors.finish()?;
        let (Some(id_number), Some(gender), Some(birth_date), Some(sector_id)) =
            (id_number, gender, birth_date, sector_id)
        else {
            unreachable!("every missing part was reported as a violation");
        };
        Ok(MemberFields {
            display_name,
            gender,
            ethnicity,
            birth_date,
            id_number,
            phone,
            political_affiliation,
            sector_id,
            employer,
            job_title,
            role,
            city_member: m.city_member,
            township,
            links,
            term,
            join_date,
            education,
        })
    }
}

/// Fields an update may change.
pub const UPDATABLE: [&str; 17] = [
    "display_name",
    "gender",
    "ethnicity",
    "birth_date",
    "id_number",
    "phone",
    "political_affiliation",
    "sector",
    "employer",
    "job_title",
    "role",
    "city_member",
    "township",
    "links",
    "term",
    "join_date",
    "education",
];

/// Fields an update may not name, and what to do instead.
pub const OUTPUT_ONLY: [(&str, &str); 7] = [
    ("name", "it identifies the member"),
    (
        "special_committees",
        "use AddSpecialCommitteeMember and RemoveSpecialCommitteeMember",
    ),
    ("status", "use ChangeMemberStatus"),
    ("personal_data_masked", "it is output only"),
    ("create_time", "it is output only"),
    ("update_time", "it is output only"),
    ("etag", "send it in member.etag to guard the update"),
];

/// Copies the named fields of `from` into `into`. A new ID number carries
/// its own birth date and gender: unless those are named too, they are
/// cleared so the ID number's are taken.
pub fn merge(into: &mut pb::Member, from: &pb::Member, fields: &[&str]) {
    if fields.contains(&"id_number") {
        if !fields.contains(&"birth_date") {
            into.birth_date = None;
        }
        if !fields.contains(&"gender") {
            into.gender = 0;
        }
    }
    for field in fields {
        match *field {
            "display_name" => into.display_name.clone_from(&from.display_name),
            "gender" => into.gender = from.gender,
            "ethnicity" => into.ethnicity.clone_from(&from.ethnicity),
            "birth_date" => into.birth_date = from.birth_date,
            "id_number" => into.id_number.clone_from(&from.id_number),
            "phone" => into.phone.clone_from(&from.phone),
            "political_affiliation" => into.political_affiliation = from.political_affiliation,
            "sector" => into.sector.clone_from(&from.sector),
            "employer" => into.employer.clone_from(&from.employer),
            "job_title" => into.job_title.clone_from(&from.job_title),
            "role" => into.role = from.role,
            "city_member" => into.city_member = from.city_member,
            "township" => into.township.clone_from(&from.township),
            "links" => into.links.clone_from(&from.links),
            "term" => into.term = from.term,
            "join_date" => into.join_date = from.join_date,
            "education" => into.education.clone_from(&from.education),
            other => unreachable!("`{other}` is not an updatable member field"),
        }
    }
}

/// Whether the request sets `field` (for an update without a mask).
pub fn is_set(m: &pb::Member, field: &str) -> bool {
    match field {
        "display_name" => !m.display_name.is_empty(),
        "gender" => m.gender != 0,
        "ethnicity" => !m.ethnicity.is_empty(),
        "birth_date" => m.birth_date.is_some(),
        "id_number" => !m.id_number.is_empty(),
        "phone" => !m.phone.is_empty(),
        "political_affiliation" => m.political_affiliation != 0,
        "sector" => !m.sector.is_empty(),
        "employer" => !m.employer.is_empty(),
        "job_title" => !m.job_title.is_empty(),
        "role" => m.role != 0,
        "city_member" => m.city_member,
        "township" => !m.township.is_empty(),
        "links" => !m.links.is_empty(),
        "term" => m.term != 0,
        "join_date" => m.join_date.is_some(),
        "education" => !m.education.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::id_number::check_char;
    use cppcc_proto::common::v1::Date as PbDate;

    fn id(first17: &str) -> String {
        format!("{first17}{}", check_char(first17.as_bytes()) as char)
    }

    fn today() -> Date {
        time::macros::date!(2023 - 11 - 13)
    }

    fn sector() -> String {
        format!("committees/suixian/sectors/{}", Uuid::nil())
    }

    fn good() -> pb::Member {
        pb::Member {
            display_name: "刘强".into(),
            id_number: id("42132119750101123"),
            sector: sector(),
            role: pb::MemberRole::Member as i32,
            ethnicity: "汉".into(),
            phone: "138 1234 5678".into(),
            links: vec![pb::MemberLink {
                kind: pb::MemberLinkKind::Village as i32,
                display_name: "大桥街村".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_good_member_is_normalised() {
        let f = MemberFields::parse(&good(), "suixian", "member", today()).unwrap();
        assert_eq!(f.display_name, "刘强");
        assert_eq!(f.gender, Gender::Male, "taken from the ID number");
        assert_eq!(f.birth_date.year(), 1975, "taken from the ID number");
        assert_eq!(f.ethnicity, "汉族");
        assert_eq!(f.phone.as_deref(), Some("13812345678"));
        assert_eq!(f.sector_id, Uuid::nil());
        assert_eq!(f.term, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let m = pb::Member {
            display_name: " ".into(),
            gender: pb::Gender::Female as i32,
            birth_date: Some(PbDate {
                year: 1980,
                month: 1,
                day: 1,
            }),
            ethnicity: "火星族".into(),
            phone: "12345".into(),
            role: 0,
            sector: format!("committees/other/sectors/{}", Uuid::nil()),
            links: vec![pb::MemberLink::default()],
            term: 120,
            join_date: Some(PbDate {
                year: 2023,
                month: 2,
                day: 31,
            }),
            political_affiliation: 99,
            ..good()
        };
        let e = MemberFields::parse(&m, "suixian", "member", today()).unwrap_err();
        let fields: Vec<_> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "member.display_name",
                "member.gender",
                "member.birth_date",
                "member.ethnicity",
                "member.phone",
                "member.political_affiliation",
                "member.role",
                "member.sector",
                "member.links[0].kind",
                "member.links[0].display_name",
                "member.term",
                "member.join_date",
            ]
        );
    }

    #[test]
    fn id_number_is_required_and_checked() {
        let mut m = good();
        m.id_number = String::new();
        let e = MemberFields::parse(&m, "suixian", "member", today()).unwrap_err();
        assert_eq!(e.field_violations()[0].description, "required");
        m.id_number = "421321197501011230".into();
        let e = MemberFields::parse(&m, "suixian", "member", today()).unwrap_err();
        assert!(
            e.field_violations()[0]
                .description
                .contains("check character")
        );
    }

    #[test]
    fn dates_must_be_plausible() {
        let mut m = good();
        m.id_number = id("42132120300101123");
        m.join_date = Some(PbDate {
            year: 1900,
            month: 1,
            day: 1,
        });
        let e = MemberFields::parse(&m, "suixian", "member", today()).unwrap_err();
        let fields: Vec<_> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["member.birth_date", "member.join_date"]);
        assert!(plausible(today(), today()));
        assert!(!plausible(time::macros::date!(1949 - 09 - 20), today()));
        assert!(!plausible(time::macros::date!(2025 - 01 - 01), today()));
    }

    #[test]
    fn a_new_id_number_brings_its_birth_date_and_gender() {
        let mut current = good();
        current.gender = pb::Gender::Male as i32;
        current.birth_date = Some(PbDate {
            year: 1975,
            month: 1,
            day: 1,
        });
        let new = pb::Member {
            id_number: id("42132119800202124"),
            ..Default::default()
        };
        merge(&mut current, &new, &["id_number"]);
        let f = MemberFields::parse(&current, "suixian", "member", today()).unwrap();
        assert_eq!(f.gender, Gender::Female);
        assert_eq!(f.birth_date, time::macros::date!(1980 - 02 - 02));
    }

    #[test]
    fn phones() {
        assert_eq!(phone("+86 138-1234-5678"), Ok(Some("13812345678".into())));
        assert_eq!(phone(""), Ok(None));
        assert!(phone("23812345678").is_err());
        assert!(phone("1381234567").is_err());
    }

    #[test]
    fn merge_copies_only_named_fields() {
        let mut current = good();
        let new = pb::Member {
            display_name: "刘强强".into(),
            employer: "随县人民医院".into(),
            ..Default::default()
        };
        merge(&mut current, &new, &["employer"]);
        assert_eq!(current.display_name, "刘强");
        assert_eq!(current.employer, "随县人民医院");
        for f in UPDATABLE {
            merge(&mut current.clone(), &new, &[f]);
        }
    }

    #[test]
    fn is_set_knows_every_updatable_field() {
        let empty = pb::Member::default();
        assert!(UPDATABLE.iter().all(|f| !is_set(&empty, f)));
        assert!(is_set(&good(), "display_name"));
    }
}
