//! A committee's proposal settings: result categories, the days and
//! months of handling, and what makes them valid.

use cppcc_kit::Violations;
use cppcc_proto::proposals::v1 as pb;
use serde::{Deserialize, Serialize};

/// A result category, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: String,
    pub label: String,
    pub favourable: bool,
}

/// A committee's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub categories: Vec<Category>,
    pub reply_months: i16,
    pub max_reply_months: i16,
    pub reassignment_days: i16,
    pub reassignment_working_days: bool,
    pub rating_days: i16,
    pub cosign_days: i16,
}

impl Default for Settings {
    fn default() -> Settings {
        let category = |code: &str, label: &str, favourable| Category {
            code: code.into(),
            label: label.into(),
            favourable,
        };
        Settings {
            categories: vec![
                category("A", "已解决或采纳", true),
                category("B", "正在解决或列入计划", true),
                category("C", "因条件限制留作参考", false),
            ],
            reply_months: 3,
            max_reply_months: 6,
            reassignment_days: 10,
            reassignment_working_days: false,
            rating_days: 30,
            cosign_days: 7,
        }
    }
}

impl Settings {
    /// The category with `code`, if the committee defines it.
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// The codes, for error messages: `A, B, C`.
    pub fn codes(&self) -> String {
        self.categories
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Settings from a request, every fault named by its field.
    pub fn from_proto(s: &pb::ProposalSettings) -> Result<Settings, cppcc_kit::ServiceError> {
        let mut errors = Violations::default();
        errors.check(
            s.result_categories.is_empty() || s.result_categories.len() > 10,
            "settings.result_categories",
            "give 1 to 10 categories",
        );
        let mut categories = Vec::new();
        for (i, c) in s.result_categories.iter().enumerate() {
            let field = format!("settings.result_categories[{i}]");
            let code = c.code.trim();
            errors.check(
                code.is_empty()
                    || code.chars().count() > 4
                    || !code.chars().all(|ch| ch.is_ascii_alphanumeric()),
                &format!("{field}.code"),
                "must be 1 to 4 letters or digits, e.g. A",
            );
            errors.check(
                categories.iter().any(|k: &Category| k.code == code),
                &format!("{field}.code"),
                format!("`{code}` is given twice"),
            );
            match cppcc_kit::text::line(&c.label, 1, 40) {
                Ok(label) => categories.push(Category {
                    code: code.to_owned(),
                    label,
                    favourable: c.favourable,
                }),
                Err(e) => errors.add(format!("{field}.label"), e),
            }
        }
        let mut number = |field: &str, value: i32, min: i32, max: i32| -> i16 {
            errors.check(
                !(min..=max).contains(&value),
                &format!("settings.{field}"),
                format!("must be {min} to {max}, not {value}"),
            );
            value.clamp(min, max) as i16
        };
        let reply_months = number("reply_months", s.reply_months, 1, 12);
        let max_reply_months = number("max_reply_months", s.max_reply_months, 1, 24);
        let reassignment_days = number("reassignment_days", s.reassignment_days, 1, 60);
        let rating_days = number("rating_days", s.rating_days, 1, 365);
        let cosign_days = number("cosign_days", s.cosign_days, 1, 60);
        errors.check(
            max_reply_months < reply_months,
            "settings.max_reply_months",
            format!("must be at least reply_months ({reply_months})"),
        );
        errors.finish()?;
        Ok(Settings {
            categories,
            reply_months,
            max_reply_months,
            reassignment_days,
            reassignment_working_days: s.reassignment_working_days,
            rating_days,
            cosign_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(s: &Settings) -> pb::ProposalSettings {
        pb::ProposalSettings {
            result_categories: s
                .categories
                .iter()
                .map(|c| pb::ResultCategory {
                    code: c.code.clone(),
                    label: c.label.clone(),
                    favourable: c.favourable,
                })
                .collect(),
            reply_months: s.reply_months.into(),
            max_reply_months: s.max_reply_months.into(),
            reassignment_days: s.reassignment_days.into(),
            reassignment_working_days: s.reassignment_working_days,
            rating_days: s.rating_days.into(),
            cosign_days: s.cosign_days.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_defaults_are_valid_and_round_trip() {
        let d = Settings::default();
        assert_eq!(Settings::from_proto(&proto(&d)).unwrap(), d);
        assert_eq!(d.codes(), "A, B, C");
        assert!(d.category("B").unwrap().favourable);
        assert!(d.category("D").is_none());
    }

    #[test]
    fn every_fault_is_named_by_its_field() {
        let mut p = proto(&Settings::default());
        p.result_categories[1].code = "A".into();
        p.result_categories[2].label = String::new();
        p.max_reply_months = 2;
        p.rating_days = 0;
        let e = Settings::from_proto(&p).unwrap_err();
        let fields: Vec<&str> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "settings.result_categories[1].code",
                "settings.result_categories[2].label",
                "settings.rating_days",
                "settings.max_reply_months"
            ]
        );
    }
}
