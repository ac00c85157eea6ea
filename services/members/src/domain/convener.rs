//! A convener's appointment (召集人任用): nominated by the township party
//! committee, agreed by the CPPCC party group, approved by the county
//! standing committee — in that order, each step by its own hands — and
//! rejectable at either step still open. The one place the steps are
//! decided.
//!
//! ```text
//! Nominated --agree--> Agreed --approve--> Approved --end--> Ended
//!     |                   |                      \--supersede--^
//!     +------reject-------+---------> Rejected
//! ```
//!
//! Superseding is what approving a new convener does to the one in force:
//! it is taken by the hands that approve.
//!
//! Who takes each step, as roles of the suite: the office's staff (or the
//! office) record the township party committee's nomination; the office
//! acts for the CPPCC party group; a county leader records the standing
//! committee's approval. A rejection comes from whoever holds the step
//! that is open.

use cppcc_kit::auth::Role;
use cppcc_proto::members::v1 as pb;

/// Where an appointment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvenerState {
    Nominated,
    Agreed,
    Approved,
    Rejected,
    Ended,
}

/// A step on an appointment after its nomination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Agree,
    Approve,
    Reject,
    End,
    /// Ended because a new convener was approved.
    Supersede,
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step does not follow from where the appointment stands.
    #[error("cannot {step} an appointment that is {from}{next}")]
    OutOfOrder {
        from: ConvenerState,
        step: Step,
        /// What would come next, if anything.
        next: String,
    },
    /// The step is the right one, but not the caller's to take.
    #[error("only {allowed} may {step} an appointment that is {from}")]
    WrongHands {
        from: ConvenerState,
        step: Step,
        allowed: String,
    },
}

/// Who may nominate: the office's staff or the office, recording the
/// township party committee's nomination.
pub const NOMINATORS: &[Role] = &[Role::Staff, Role::Admin];

impl ConvenerState {
    /// Every state.
    pub const ALL: [ConvenerState; 5] = [
        ConvenerState::Nominated,
        ConvenerState::Agreed,
        ConvenerState::Approved,
        ConvenerState::Rejected,
        ConvenerState::Ended,
    ];

    /// The roles that may take `step` from this state, if the step can be
    /// taken from it at all.
    fn hands(self, step: Step) -> Option<&'static [Role]> {
        use ConvenerState::*;
        match (self, step) {
            (Nominated, Step::Agree) | (Nominated, Step::Reject) => Some(&[Role::Admin]),
            (Agreed, Step::Approve) | (Agreed, Step::Reject) => Some(&[Role::Leader]),
            (Approved, Step::End) => Some(&[Role::Admin]),
            (Approved, Step::Supersede) => Some(&[Role::Leader]),
            _ => None,
        }
    }

    /// The state after `role` takes `step`, if it may.
    pub fn transition(self, step: Step, role: Role) -> Result<ConvenerState, StepError> {
        let Some(allowed) = self.hands(step) else {
            let next = match self {
                ConvenerState::Nominated => "; it awaits the party group's agreement".to_owned(),
                ConvenerState::Agreed => "; it awaits the standing committee's approval".to_owned(),
                ConvenerState::Approved => "; it can only be ended".to_owned(),
                ConvenerState::Rejected | ConvenerState::Ended => "; it is closed".to_owned(),
            };
            return Err(StepError::OutOfOrder {
                from: self,
                step,
                next,
            });
        };
        if !allowed.contains(&role) {
            return Err(StepError::WrongHands {
                from: self,
                step,
                allowed: allowed
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
        Ok(match step {
            Step::Agree => ConvenerState::Agreed,
            Step::Approve => ConvenerState::Approved,
            Step::Reject => ConvenerState::Rejected,
            Step::End | Step::Supersede => ConvenerState::Ended,
        })
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<ConvenerState> {
        ConvenerState::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::ConvenerState {
        match self {
            ConvenerState::Nominated => pb::ConvenerState::Nominated,
            ConvenerState::Agreed => pb::ConvenerState::Agreed,
            ConvenerState::Approved => pb::ConvenerState::Approved,
            ConvenerState::Rejected => pb::ConvenerState::Rejected,
            ConvenerState::Ended => pb::ConvenerState::Ended,
        }
    }
}

impl std::fmt::Display for ConvenerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_proto().as_str_name())
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Agree => "agree to",
            Step::Approve => "approve",
            Step::Reject => "reject",
            Step::End => "end",
            Step::Supersede => "supersede",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ConvenerState::*;
    use super::*;

    const STEPS: [Step; 5] = [
        Step::Agree,
        Step::Approve,
        Step::Reject,
        Step::End,
        Step::Supersede,
    ];

    #[test]
    fn every_step_from_every_state_by_every_role_is_decided() {
        let legal: [(ConvenerState, Step, Role, ConvenerState); 6] = [
            (Nominated, Step::Agree, Role::Admin, Agreed),
            (Nominated, Step::Reject, Role::Admin, Rejected),
            (Agreed, Step::Approve, Role::Leader, Approved),
            (Agreed, Step::Reject, Role::Leader, Rejected),
            (Approved, Step::End, Role::Admin, Ended),
            (Approved, Step::Supersede, Role::Leader, Ended),
        ];
        for from in ConvenerState::ALL {
            for step in STEPS {
                for role in Role::ALL {
                    let result = from.transition(step, role);
                    match legal
                        .iter()
                        .find(|(f, s, r, _)| *f == from && *s == step && *r == role)
                    {
                        Some((.., to)) => {
                            assert_eq!(result, Ok(*to), "{from:?} {step:?} by {role:?}")
                        }
                        None => assert!(result.is_err(), "{from:?} {step:?} by {role:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn out_of_order_and_wrong_hands_are_told_apart() {
        // Approving before the party group agreed.
        let e = Nominated
            .transition(Step::Approve, Role::Leader)
            .unwrap_err();
        assert!(matches!(e, StepError::OutOfOrder { .. }));
        assert_eq!(
            e.to_string(),
            "cannot approve an appointment that is CONVENER_STATE_NOMINATED; it awaits the party group's agreement"
        );
        // The office cannot approve for the standing committee.
        let e = Agreed.transition(Step::Approve, Role::Admin).unwrap_err();
        assert_eq!(
            e.to_string(),
            "only leader may approve an appointment that is CONVENER_STATE_AGREED"
        );
        assert!(matches!(e, StepError::WrongHands { .. }));
        // Closed appointments stay closed.
        for from in [Rejected, Ended] {
            for step in STEPS {
                assert!(matches!(
                    from.transition(step, Role::Admin),
                    Err(StepError::OutOfOrder { .. })
                ));
            }
        }
    }

    #[test]
    fn numbers_round_trip() {
        for s in ConvenerState::ALL {
            assert_eq!(ConvenerState::from_number(s.number()), Some(s));
        }
        assert_eq!(ConvenerState::from_number(0), None);
    }
}
