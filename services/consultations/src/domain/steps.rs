//! The eight steps (八步) of a consultation activity: the one place their
//! order is decided. Each step follows the one before, none is skipped,
//! and the eighth (archived) freezes the activity.

use cppcc_kit::auth::Role;

/// The steps' names, 1..8.
pub const TITLES: [&str; 8] = [
    "确定协商议题",
    "制定协商方案",
    "开展前期调研",
    "召开协商会议",
    "报送协商成果",
    "实施跟踪监督",
    "反馈协商结果",
    "形成协商档案",
];

/// The step at which the meeting (or the research) is held.
pub const MEETING: u8 = 4;
/// The step at which results are submitted.
pub const RESULTS: u8 = 5;
/// The last step: the activity is archived and frozen.
pub const ARCHIVED: u8 = 8;

/// Who records activities: the office and its staff.
pub const RECORDERS: &[Role] = &[Role::Admin, Role::Staff];

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("step {wanted} does not exist: the steps are 1 to 8")]
    Unknown { wanted: i32 },
    #[error("the activity is archived (step 8): it is frozen")]
    Archived,
    #[error("the activity is at step {at} ({}); the next step is {} ({}), not {wanted}", TITLES[usize::from(*at) - 1], at + 1, TITLES[usize::from(*at)])]
    OutOfOrder { at: u8, wanted: i32 },
    #[error("only admin or staff record an activity's steps")]
    WrongHands,
}

/// The step after `at` if `wanted` is it and `role` may take it.
pub fn next(at: u8, wanted: i32, role: Role) -> Result<u8, StepError> {
    if !(1..=8).contains(&wanted) {
        return Err(StepError::Unknown { wanted });
    }
    if at >= ARCHIVED {
        return Err(StepError::Archived);
    }
    if wanted != i32::from(at) + 1 {
        return Err(StepError::OutOfOrder { at, wanted });
    }
    if !RECORDERS.contains(&role) {
        return Err(StepError::WrongHands);
    }
    Ok(at + 1)
}

/// Whether an activity at step `at` may still change (participants,
/// counts, opinions, problems): everything but an archived one.
pub fn open(at: u8) -> Result<(), StepError> {
    if at >= ARCHIVED {
        Err(StepError::Archived)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_from_every_step_by_every_role() {
        for at in 1..=8u8 {
            for wanted in 0..=9 {
                for role in Role::ALL {
                    let result = next(at, wanted, role);
                    let legal = at < 8 && wanted == i32::from(at) + 1 && RECORDERS.contains(&role);
                    match result {
                        Ok(to) => {
                            assert!(legal, "{at} -> {wanted} by {role:?}");
                            assert_eq!(i32::from(to), wanted);
                        }
                        Err(e) => {
                            assert!(!legal, "{at} -> {wanted} by {role:?}: {e}");
                            let expected = if !(1..=8).contains(&wanted) {
                                StepError::Unknown { wanted }
                            } else if at == 8 {
                                StepError::Archived
                            } else if wanted != i32::from(at) + 1 {
                                StepError::OutOfOrder { at, wanted }
                            } else {
                                StepError::WrongHands
                            };
                            assert_eq!(e, expected);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_name_the_next_step() {
        assert_eq!(
            next(3, 5, Role::Staff).unwrap_err().to_string(),
            "the activity is at step 3 (开展前期调研); the next step is 4 (召开协商会议), not 5"
        );
        assert!(open(7).is_ok());
        assert_eq!(open(8), Err(StepError::Archived));
    }
}
