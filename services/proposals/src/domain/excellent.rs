//! An excellent-proposal nomination (优秀提案): nominated by a unit or the
//! office, chosen by the panel (the proposal office acting for it),
//! approved by the chairs' meeting (the committee office recording it);
//! either may turn it down. The one place its steps are decided.

use cppcc_kit::auth::Role;
use cppcc_proto::proposals::v1 as pb;

/// Where a nomination stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcellentState {
    Nominated,
    Chosen,
    Approved,
    Rejected,
}

/// Why a decision was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the nomination is {0}: nothing is left to decide")]
    Decided(ExcellentState),
    #[error("only {allowed} may decide a nomination that is {from}")]
    WrongHands {
        from: ExcellentState,
        allowed: &'static str,
    },
}

impl ExcellentState {
    /// Every state.
    pub const ALL: [ExcellentState; 4] = [
        ExcellentState::Nominated,
        ExcellentState::Chosen,
        ExcellentState::Approved,
        ExcellentState::Rejected,
    ];

    /// The state after `role` accepts (or turns down) the nomination at
    /// the step it is at.
    pub fn decide(self, accept: bool, role: Role) -> Result<ExcellentState, DecisionError> {
        let (allowed, names, next) = match self {
            ExcellentState::Nominated => (
                Role::ProposalOffice,
                "proposal_office (the panel)",
                ExcellentState::Chosen,
            ),
            ExcellentState::Chosen => (
                Role::Admin,
                "admin (for the chairs' meeting)",
                ExcellentState::Approved,
            ),
            ExcellentState::Approved | ExcellentState::Rejected => {
                return Err(DecisionError::Decided(self));
            }
        };
        if role != allowed {
            return Err(DecisionError::WrongHands {
                from: self,
                allowed: names,
            });
        }
        Ok(if accept {
            next
        } else {
            ExcellentState::Rejected
        })
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<ExcellentState> {
        ExcellentState::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::ExcellentState {
        match self {
            ExcellentState::Nominated => pb::ExcellentState::Nominated,
            ExcellentState::Chosen => pb::ExcellentState::Chosen,
            ExcellentState::Approved => pb::ExcellentState::Approved,
            ExcellentState::Rejected => pb::ExcellentState::Rejected,
        }
    }
}

impl std::fmt::Display for ExcellentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_proto().as_str_name())
    }
}

#[cfg(test)]
mod tests {
    use super::ExcellentState::*;
    use super::*;

    #[test]
    fn every_decision_from_every_state_by_every_role() {
        for from in ExcellentState::ALL {
            for accept in [true, false] {
                for role in Role::ALL {
                    let result = from.decide(accept, role);
                    let expected = match (from, role) {
                        (Nominated, Role::ProposalOffice) => {
                            Some(if accept { Chosen } else { Rejected })
                        }
                        (Chosen, Role::Admin) => Some(if accept { Approved } else { Rejected }),
                        _ => None,
                    };
                    match expected {
                        Some(to) => assert_eq!(result, Ok(to), "{from:?} {accept} {role:?}"),
                        None => assert!(result.is_err(), "{from:?} {accept} {role:?}"),
                    }
                }
            }
        }
        assert_eq!(
            Approved.decide(true, Role::Admin).unwrap_err().to_string(),
            "the nomination is EXCELLENT_STATE_APPROVED: nothing is left to decide"
        );
        assert!(matches!(
            Nominated.decide(true, Role::Admin),
            Err(DecisionError::WrongHands { .. })
        ));
    }

    #[test]
    fn numbers_round_trip() {
        for s in ExcellentState::ALL {
            assert_eq!(ExcellentState::from_number(s.number()), Some(s));
        }
    }
}
