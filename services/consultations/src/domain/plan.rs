//! A consultation plan version's path: written, submitted to the county
//! party committee, approved or returned; an approved version is in force
//! until an amendment is approved. The one place its steps are decided.

use cppcc_kit::auth::Role;
use cppcc_proto::consultations::v1 as pb;

/// Where a version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanState {
    Draft,
    Submitted,
    Approved,
    Returned,
    Superseded,
}

/// A step on a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanStep {
    /// Add or remove topics.
    Edit,
    Submit,
    Approve,
    Return,
    /// An amendment was approved.
    Supersede,
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanStepError {
    #[error("cannot {step:?} a plan that is {from}{hint}")]
    OutOfOrder {
        from: PlanState,
        step: PlanStep,
        hint: &'static str,
    },
    #[error("only {allowed} may {step:?} a plan that is {from}")]
    WrongHands {
        from: PlanState,
        step: PlanStep,
        allowed: &'static str,
    },
}

const WRITERS: &[Role] = &[Role::Admin, Role::Staff];
/// The county party committee's decision is recorded by a county leader.
const DECIDERS: &[Role] = &[Role::Leader];

impl PlanState {
    /// Every state.
    pub const ALL: [PlanState; 5] = [
        PlanState::Draft,
        PlanState::Submitted,
        PlanState::Approved,
        PlanState::Returned,
        PlanState::Superseded,
    ];

    /// The state after `role` takes `step`, if it may.
    pub fn transition(self, step: PlanStep, role: Role) -> Result<PlanState, PlanStepError> {
        use PlanState::*;
        let (to, allowed, names): (PlanState, &[Role], &'static str) = match (self, step) {
            (Draft | Returned, PlanStep::Edit) => (self, WRITERS, "admin or staff"),
            (Draft | Returned, PlanStep::Submit) => (Submitted, WRITERS, "admin or staff"),
            (Submitted, PlanStep::Approve) => (
                Approved,
                DECIDERS,
                "leader (for the county party committee)",
            ),
            (Submitted, PlanStep::Return) => (
                Returned,
                DECIDERS,
                "leader (for the county party committee)",
            ),
            (Approved, PlanStep::Supersede) => (
                Superseded,
                DECIDERS,
                "leader (for the county party committee)",
            ),
            _ => {
                let hint = match self {
                    Submitted => "; it awaits the county party committee",
                    Approved => "; it is in force: open an amendment to change it",
                    Superseded => "; an amendment replaced it",
                    Draft | Returned => "; it is being written: submit it first",
                };
                return Err(PlanStepError::OutOfOrder {
                    from: self,
                    step,
                    hint,
                });
            }
        };
        if !allowed.contains(&role) {
            return Err(PlanStepError::WrongHands {
                from: self,
                step,
                allowed: names,
            });
        }
        Ok(to)
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<PlanState> {
        PlanState::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::PlanState {
        match self {
            PlanState::Draft => pb::PlanState::Draft,
            PlanState::Submitted => pb::PlanState::Submitted,
            PlanState::Approved => pb::PlanState::Approved,
            PlanState::Returned => pb::PlanState::Returned,
            PlanState::Superseded => pb::PlanState::Superseded,
        }
    }
}

impl std::fmt::Display for PlanState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_proto().as_str_name())
    }
}

#[cfg(test)]
mod tests {
    use super::PlanState::*;
    use super::*;

    #[test]
    fn every_step_from_every_state_by_every_role() {
        let legal: &[(PlanState, PlanStep, PlanState, &[Role])] = &[
            (Draft, PlanStep::Edit, Draft, WRITERS),
            (Returned, PlanStep::Edit, Returned, WRITERS),
            (Draft, PlanStep::Submit, Submitted, WRITERS),
            (Returned, PlanStep::Submit, Submitted, WRITERS),
            (Submitted, PlanStep::Approve, Approved, DECIDERS),
            (Submitted, PlanStep::Return, Returned, DECIDERS),
            (Approved, PlanStep::Supersede, Superseded, DECIDERS),
        ];
        let steps = [
            PlanStep::Edit,
            PlanStep::Submit,
            PlanStep::Approve,
            PlanStep::Return,
            PlanStep::Supersede,
        ];
        for from in PlanState::ALL {
            for step in steps {
                for role in Role::ALL {
                    let result = from.transition(step, role);
                    match legal.iter().find(|(f, s, ..)| *f == from && *s == step) {
                        Some((.., to, roles)) if roles.contains(&role) => {
                            assert_eq!(result, Ok(*to))
                        }
                        Some(_) => assert!(matches!(result, Err(PlanStepError::WrongHands { .. }))),
                        None => assert!(matches!(result, Err(PlanStepError::OutOfOrder { .. }))),
                    }
                }
            }
        }
        assert_eq!(
            Approved
                .transition(PlanStep::Edit, Role::Staff)
                .unwrap_err()
                .to_string(),
            "cannot Edit a plan that is PLAN_STATE_APPROVED; it is in force: open an amendment to change it"
        );
    }

    #[test]
    fn numbers_round_trip() {
        for s in PlanState::ALL {
            assert_eq!(PlanState::from_number(s.number()), Some(s));
        }
    }
}
