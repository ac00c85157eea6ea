//! A committee's settings: every number a rule runs on, with the defaults
//! DOMAIN.md gives. Only what a committee changed is stored.

use serde::{Deserialize, Serialize};

use cppcc_kit::Violations;
use cppcc_proto::members::v1 as pb;

/// The settings a committee has set (unset fields take the defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consultation_result_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub research_report_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_handling_months: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal_extension_max_months: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reassignment_window_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reassignment_window_working_days: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_opinion_quota: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub studio_monthly_activities: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_topic_consultations_per_year: Option<i32>,
}

/// The defaults (DOMAIN.md: 3 days, 1 week, 3 months up to 6, 10 days,
/// one report a month, two studio activities a month, four special-topic
/// consultations a year).
pub const DEFAULTS: Settings = Settings {
    consultation_result_days: Some(3),
    research_report_days: Some(7),
    proposal_handling_months: Some(3),
    proposal_extension_max_months: Some(6),
    reassignment_window_days: Some(10),
    reassignment_window_working_days: Some(false),
    monthly_opinion_quota: Some(1),
    studio_monthly_activities: Some(2),
    special_topic_consultations_per_year: Some(4),
};

/// Field name, allowed range, reader and writer of each whole-number setting.
type IntField = (
    &'static str,
    std::ops::RangeInclusive<i32>,
    fn(&Settings) -> Option<i32>,
    fn(&mut Settings, Option<i32>),
);

const INT_FIELDS: [IntField; 8] = [
    (
        "consultation_result_days",
        1..=60,
        |s| s.consultation_result_days,
        |s, v| s.consultation_result_days = v,
    ),
    (
        "research_report_days",
        1..=90,
        |s| s.research_report_days,
        |s, v| s.research_report_days = v,
    ),
    (
        "proposal_handling_months",
        1..=24,
        |s| s.proposal_handling_months,
        |s, v| s.proposal_handling_months = v,
    ),
    (
        "proposal_extension_max_months",
        1..=36,
        |s| s.proposal_extension_max_months,
        |s, v| s.proposal_extension_max_months = v,
    ),
    (
        "reassignment_window_days",
        1..=60,
        |s| s.reassignment_window_days,
        |s, v| s.reassignment_window_days = v,
    ),
    (
        "monthly_opinion_quota",
        0..=31,
        |s| s.monthly_opinion_quota,
        |s, v| s.monthly_opinion_quota = v,
    ),
    (
        "studio_monthly_activities",
        0..=31,
        |s| s.studio_monthly_activities,
        |s, v| s.studio_monthly_activities = v,
    ),
    (
        "special_topic_consultations_per_year",
        0..=52,
        |s| s.special_topic_consultations_per_year,
        |s, v| s.special_topic_consultations_per_year = v,
    ),
];

/// Every settings field an update may name.
pub const FIELDS: [&str; 9] = [
    "consultation_result_days",
    "research_report_days",
    "proposal_handling_months",
    "proposal_extension_max_months",
    "reassignment_window_days",
    "reassignment_window_working_days",
    "monthly_opinion_quota",
    "studio_monthly_activities",
    "special_topic_consultations_per_year",
];

impl Settings {
    /// These settings with every unset field taken from the defaults.
    pub fn effective(&self) -> Settings {
        let mut out = self.clone();
        for (_, _, get, set) in INT_FIELDS {
            if get(&out).is_none() {
                set(&mut out, get(&DEFAULTS));
            }
        }
        out.reassignment_window_working_days = out
            .reassignment_window_working_days
            .or(DEFAULTS.reassignment_window_working_days);
        out
    }

    /// Takes the `fields` named from `new` (a field named but unset there
    /// goes back to its default), and checks the result.
    pub fn apply(
        &self,
        new: &pb::CommitteeSettings,
        fields: &[&str],
    ) -> Result<Settings, cppcc_kit::ServiceError> {
        let incoming = Settings::from_proto(new);
        let mut out = self.clone();
        for field in fields {
            if let Some((_, _, get, set)) = INT_FIELDS.iter().find(|(n, ..)| n == field) {
                set(&mut out, get(&incoming));
            } else if *field == "reassignment_window_working_days" {
                out.reassignment_window_working_days = incoming.reassignment_window_working_days;
            }
        }
        out.check()?;
        Ok(out)
    }

    fn check(&self) -> Result<(), cppcc_kit::ServiceError> {
        let mut errors = Violations::default();
        for (name, range, get, _) in INT_FIELDS {
            if let Some(v) = get(self)
                && !range.contains(&v)
            {
                errors.add(
                    format!("settings.{name}"),
                    format!(
                        "must be between {} and {}, not {v}",
                        range.start(),
                        range.end()
                    ),
                );
            }
        }
        let effective = self.effective();
        if effective.proposal_extension_max_months < effective.proposal_handling_months {
            errors.add(
                "settings.proposal_extension_max_months",
                "must not be shorter than proposal_handling_months",
            );
        }
        errors.finish()
    }

    /// From the protobuf message (its optional fields). The deprecated
    /// fields, whose rules live in the proposals and consultations services,
    /// are still kept and given back as set: fields are never dropped.
    #[allow(deprecated)]
    pub fn from_proto(p: &pb::CommitteeSettings) -> Settings {
        Settings {
            consultation_result_days: p.consultation_result_days,
            research_report_days: p.research_report_days,
            proposal_handling_months: p.proposal_handling_months,
            proposal_extension_max_months: p.proposal_extension_max_months,
            reassignment_window_days: p.reassignment_window_days,
            reassignment_window_working_days: p.reassignment_window_working_days,
            monthly_opinion_quota: p.monthly_opinion_quota,
            studio_monthly_activities: p.studio_monthly_activities,
            special_topic_consultations_per_year: p.special_topic_consultations_per_year,
        }
    }

    /// The effective settings as protobuf, every field set.
    #[allow(deprecated)]
    pub fn to_proto(&self, name: String) -> pb::CommitteeSettings {
        let e = self.effective();
        pb::CommitteeSettings {
            name,
            consultation_result_days: e.consultation_result_days,
            research_report_days: e.research_report_days,
            proposal_handling_months: e.proposal_handling_months,
            proposal_extension_max_months: e.proposal_extension_max_months,
            reassignment_window_days: e.reassignment_window_days,
            reassignment_window_working_days: e.reassignment_window_working_days,
            monthly_opinion_quota: e.monthly_opinion_quota,
            studio_monthly_activities: e.studio_monthly_activities,
            special_topic_consultations_per_year: e.special_topic_consultations_per_year,
            update_time: None,
            etag: String::new(),
        }
    }

    /// Whether the protobuf message sets `field`.
    pub fn is_set(p: &pb::CommitteeSettings, field: &str) -> bool {
        let s = Settings::from_proto(p);
        match INT_FIELDS.iter().find(|(n, ..)| *n == field) {
            Some((_, _, get, _)) => get(&s).is_some(),
            None => {
                field == "reassignment_window_working_days"
                    && s.reassignment_window_working_days.is_some()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_what_is_unset() {
        let s = Settings {
            proposal_handling_months: Some(2),
            ..Settings::default()
        };
        let e = s.effective();
        assert_eq!(e.proposal_handling_months, Some(2));
        assert_eq!(e.consultation_result_days, Some(3));
        assert_eq!(e.research_report_days, Some(7));
        assert_eq!(e.reassignment_window_working_days, Some(false));
        assert_eq!(Settings::default().effective(), DEFAULTS);
    }

    #[test]
    #[allow(deprecated)]
    fn apply_sets_resets_and_checks() {
        let current = Settings {
            reassignment_window_days: Some(15),
            ..Settings::default()
        };
        let new = pb::CommitteeSettings {
            consultation_result_days: Some(5),
            ..Default::default()
        };
        let out = current
            .apply(
                &new,
                &["consultation_result_days", "reassignment_window_days"],
            )
            .unwrap();
        assert_eq!(out.consultation_result_days, Some(5));
        // Named but unset: back to the default.
        assert_eq!(out.reassignment_window_days, None);
        assert_eq!(out.effective().reassignment_window_days, Some(10));

        let bad = pb::CommitteeSettings {
            consultation_result_days: Some(0),
            proposal_extension_max_months: Some(2),
            ..Default::default()
        };
        let e = current
            .apply(
                &bad,
                &["consultation_result_days", "proposal_extension_max_months"],
            )
            .unwrap_err();
        let fields: Vec<_> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "settings.consultation_result_days",
                "settings.proposal_extension_max_months"
            ]
        );
    }

    #[test]
    fn stored_json_holds_only_what_was_set() {
        let s = Settings {
            monthly_opinion_quota: Some(2),
            ..Settings::default()
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"monthly_opinion_quota":2}"#
        );
        let back: Settings = serde_json::from_str(r#"{"monthly_opinion_quota":2}"#).unwrap();
        assert_eq!(back, s);
    }
}
