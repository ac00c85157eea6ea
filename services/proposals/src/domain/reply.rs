//! A unit's reply (答复) in one handling round: the one place its steps
//! are decided.
//!
//! ```text
//! Draft --submit--> Submitted --approve--> Approved
//!   ^  \--edit--^        \--return--> Returned
//!   (any live state) --supersede--> Superseded   (the round ended)
//! ```
//!
//! The unit drafts, edits and submits (once every co-handler has
//! countersigned: the caller checks); the office approves or returns; a
//! returned reply is written again as a new draft.

use cppcc_kit::auth::Role;
use cppcc_proto::proposals::v1 as pb;

/// Where a reply stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyState {
    Draft,
    Submitted,
    Approved,
    Returned,
    Superseded,
}

/// A step on a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyStep {
    Edit,
    Countersign,
    Submit,
    Approve,
    Return,
    Supersede,
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyStepError {
    #[error("cannot {step} a reply that is {from}")]
    OutOfOrder { from: ReplyState, step: ReplyStep },
    #[error("only {allowed} may {step} a reply that is {from}")]
    WrongHands {
        from: ReplyState,
        step: ReplyStep,
        allowed: &'static str,
    },
}

const UNITS: &[Role] = &[Role::HandlingUnit, Role::Admin, Role::ProposalOffice];
const OFFICE: &[Role] = &[Role::Admin, Role::ProposalOffice];

impl ReplyState {
    /// Every state.
    pub const ALL: [ReplyState; 5] = [
        ReplyState::Draft,
        ReplyState::Submitted,
        ReplyState::Approved,
        ReplyState::Returned,
        ReplyState::Superseded,
    ];

    /// The state after `role` takes `step`, if it may.
    pub fn transition(self, step: ReplyStep, role: Role) -> Result<ReplyState, ReplyStepError> {
        use ReplyState::*;
        let (to, allowed, names) = match (self, step) {
            (Draft, ReplyStep::Edit | ReplyStep::Countersign) => {
                (Draft, UNITS, "handling_unit, admin or proposal_office")
            }
            (Draft, ReplyStep::Submit) => {
                (Submitted, UNITS, "handling_unit, admin or proposal_office")
            }
            (Submitted, ReplyStep::Approve) => (Approved, OFFICE, "admin or proposal_office"),
            (Submitted, ReplyStep::Return) => (Returned, OFFICE, "admin or proposal_office"),
            (Draft | Submitted | Approved, ReplyStep::Supersede) => {
                (Superseded, OFFICE, "admin or proposal_office")
            }
            _ => return Err(ReplyStepError::OutOfOrder { from: self, step }),
        };
        if !allowed.contains(&role) {
            return Err(ReplyStepError::WrongHands {
                from: self,
                step,
                allowed: names,
            });
        }
        Ok(to)
    }

    /// Whether it is the unit's reply of its round (not returned or superseded).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ReplyState::Draft | ReplyState::Submitted | ReplyState::Approved
        )
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<ReplyState> {
        ReplyState::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::ReplyState {
        match self {
            ReplyState::Draft => pb::ReplyState::Draft,
            ReplyState::Submitted => pb::ReplyState::Submitted,
            ReplyState::Approved => pb::ReplyState::Approved,
            ReplyState::Returned => pb::ReplyState::Returned,
            ReplyState::Superseded => pb::ReplyState::Superseded,
        }
    }
}

impl std::fmt::Display for ReplyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_proto().as_str_name())
    }
}

impl std::fmt::Display for ReplyStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReplyStep::Edit => "edit",
            ReplyStep::Countersign => "countersign",
            ReplyStep::Submit => "submit",
            ReplyStep::Approve => "approve",
            ReplyStep::Return => "return",
            ReplyStep::Supersede => "supersede",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ReplyState::*;
    use super::*;

    const STEPS: [ReplyStep; 6] = [
        ReplyStep::Edit,
        ReplyStep::Countersign,
        ReplyStep::Submit,
        ReplyStep::Approve,
        ReplyStep::Return,
        ReplyStep::Supersede,
    ];

    #[test]
    fn every_step_from_every_state_by_every_role_is_decided() {
        let legal: &[(ReplyState, ReplyStep, ReplyState, &[Role])] = &[
            (Draft, ReplyStep::Edit, Draft, UNITS),
            (Draft, ReplyStep::Countersign, Draft, UNITS),
            (Draft, ReplyStep::Submit, Submitted, UNITS),
            (Submitted, ReplyStep::Approve, Approved, OFFICE),
            (Submitted, ReplyStep::Return, Returned, OFFICE),
            (Draft, ReplyStep::Supersede, Superseded, OFFICE),
            (Submitted, ReplyStep::Supersede, Superseded, OFFICE),
            (Approved, ReplyStep::Supersede, Superseded, OFFICE),
        ];
        for from in ReplyState::ALL {
            for step in STEPS {
                for role in Role::ALL {
                    let result = from.transition(step, role);
                    match legal.iter().find(|(f, s, ..)| *f == from && *s == step) {
                        Some((_, _, to, roles)) if roles.contains(&role) => {
                            assert_eq!(result, Ok(*to), "{from:?} {step:?} by {role:?}")
                        }
                        Some(_) => assert!(
                            matches!(result, Err(ReplyStepError::WrongHands { .. })),
                            "{from:?} {step:?} by {role:?}"
                        ),
                        None => assert!(
                            matches!(result, Err(ReplyStepError::OutOfOrder { .. })),
                            "{from:?} {step:?} by {role:?}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn a_unit_cannot_approve_its_own_reply() {
        let e = Submitted
            .transition(ReplyStep::Approve, Role::HandlingUnit)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "only admin or proposal_office may approve a reply that is REPLY_STATE_SUBMITTED"
        );
        assert!(Draft.is_live() && Approved.is_live() && !Returned.is_live());
    }

    #[test]
    fn numbers_round_trip() {
        for s in ReplyState::ALL {
            assert_eq!(ReplyState::from_number(s.number()), Some(s));
        }
    }
}
