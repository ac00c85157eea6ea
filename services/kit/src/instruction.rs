//! Leaders' instructions (领导批示) as the services that record them keep
//! them: a JSON list on the record instructed on, checked the same way
//! wherever one is written.

use crate::convert::{date, parse_date};
use crate::error::{ServiceError, Violations};
use crate::text::{take_line, take_paragraphs};
use cppcc_proto::common::v1::LeaderInstruction;

/// One instruction, as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredInstruction {
    pub leader_name: String,
    pub leader_title: String,
    pub text: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

impl StoredInstruction {
    /// The instruction in `input` (the request's `instruction`, which is
    /// required), its faults added to `errors`; and its day, when given.
    pub fn take(
        errors: &mut Violations,
        input: Option<&LeaderInstruction>,
    ) -> Result<(StoredInstruction, Option<time::Date>), ServiceError> {
        let input = input.ok_or_else(|| ServiceError::invalid("instruction", "required"))?;
        let leader_name = take_line(errors, "instruction.leader_name", &input.leader_name, 2, 20);
        let leader_title = take_line(
            errors,
            "instruction.leader_title",
            &input.leader_title,
            2,
            30,
        );
        let text = take_paragraphs(errors, "instruction.text", &input.text, 2, 2000);
        let day = parse_date("instruction.date", input.date.as_ref())?;
        errors.check(day.is_none(), "instruction.date", "required");
        let stored = StoredInstruction {
            leader_name,
            leader_title,
            text,
            date: day.map(|d| d.to_string()).unwrap_or_default(),
        };
        Ok((stored, day))
    }

    /// As JSON, to append to the stored list.
    pub fn json(&self) -> Result<serde_json::Value, ServiceError> {
        serde_json::to_value(self).map_err(ServiceError::internal)
    }

    /// The stored list, as the contract gives it.
    pub fn list(stored: &serde_json::Value) -> Vec<LeaderInstruction> {
        let list: Vec<StoredInstruction> =
            serde_json::from_value(stored.clone()).unwrap_or_default();
        list.iter()
            .map(|i| LeaderInstruction {
                leader_name: i.leader_name.clone(),
                leader_title: i.leader_title.clone(),
                text: i.text.clone(),
                date: time::Date::parse(
                    &i.date,
                    &time::format_description::well_known::Iso8601::DATE,
                )
                .ok()
                .map(date),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cppcc_proto::common::v1::Date;

    #[test]
    fn an_instruction_is_checked_and_read_back() {
        let given = LeaderInstruction {
            leader_name: "王书记".into(),
            leader_title: "县委书记".into(),
            text: "请认真研究。".into(),
            date: Some(Date {
                year: 2023,
                month: 3,
                day: 15,
            }),
        };
        let mut errors = Violations::default();
        let (stored, day) = StoredInstruction::take(&mut errors, Some(&given)).unwrap();
        assert!(errors.is_empty());
        assert_eq!(day.unwrap().to_string(), "2023-03-15");
        let list = serde_json::json!([stored.json().unwrap()]);
        assert_eq!(StoredInstruction::list(&list), vec![given]);

        let mut errors = Violations::default();
        let bad = LeaderInstruction::default();
        StoredInstruction::take(&mut errors, Some(&bad)).unwrap();
        assert!(!errors.is_empty());
        assert!(StoredInstruction::take(&mut errors, None).is_err());
    }
}
