//! A member's status and the one place its transitions are decided.
//!
//! ```text
//! Active ⇄ Suspended
//! Active | Suspended → Resigned | Revoked   (final)
//! ```

use cppcc_proto::members::v1 as pb;

/// Whether a member is in office.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    /// 在任.
    Active,
    /// 暂停履职.
    Suspended,
    /// 辞去.
    Resigned,
    /// 撤销.
    Revoked,
}

/// A transition the state machine refuses, with the state it was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a member who is {from} cannot become {to}")]
pub struct IllegalTransition {
    pub from: MemberStatus,
    pub to: MemberStatus,
}

impl MemberStatus {
    /// Every status.
    pub const ALL: [MemberStatus; 4] = [
        MemberStatus::Active,
        MemberStatus::Suspended,
        MemberStatus::Resigned,
        MemberStatus::Revoked,
    ];

    /// The status after moving to `to`, if the move is allowed.
    pub fn transition(self, to: MemberStatus) -> Result<MemberStatus, IllegalTransition> {
        use MemberStatus::*;
        match (self, to) {
            (Active, Suspended) | (Suspended, Active) => Ok(to),
            (Active | Suspended, Resigned | Revoked) => Ok(to),
            _ => Err(IllegalTransition { from: self, to }),
        }
    }

    /// Whether no transition leaves this status.
    pub fn is_final(self) -> bool {
        matches!(self, MemberStatus::Resigned | MemberStatus::Revoked)
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<MemberStatus> {
        MemberStatus::ALL.into_iter().find(|s| s.number() == n)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::MemberStatus {
        match self {
            MemberStatus::Active => pb::MemberStatus::Active,
            MemberStatus::Suspended => pb::MemberStatus::Suspended,
            MemberStatus::Resigned => pb::MemberStatus::Resigned,
            MemberStatus::Revoked => pb::MemberStatus::Revoked,
        }
    }

    /// From the protobuf number; `None` for unspecified or unknown.
    pub fn from_proto(n: i32) -> Option<MemberStatus> {
        MemberStatus::ALL
            .into_iter()
            .find(|s| s.to_proto() as i32 == n)
    }
}

impl std::fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemberStatus::Active => "in office (MEMBER_STATUS_ACTIVE)",
            MemberStatus::Suspended => "suspended (MEMBER_STATUS_SUSPENDED)",
            MemberStatus::Resigned => "resigned (MEMBER_STATUS_RESIGNED)",
            MemberStatus::Revoked => "removed (MEMBER_STATUS_REVOKED)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::MemberStatus::*;
    use super::*;

    #[test]
    fn every_transition_is_decided() {
        let legal = [
            (Active, Suspended),
            (Suspended, Active),
            (Active, Resigned),
            (Active, Revoked),
            (Suspended, Resigned),
            (Suspended, Revoked),
        ];
        for from in MemberStatus::ALL {
            for to in MemberStatus::ALL {
                let result = from.transition(to);
                if legal.contains(&(from, to)) {
                    assert_eq!(result, Ok(to), "{from:?} → {to:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(IllegalTransition { from, to }),
                        "{from:?} → {to:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in MemberStatus::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(
                MemberStatus::ALL
                    .into_iter()
                    .all(|to| from.transition(to).is_err())
            );
        }
    }

    #[test]
    fn numbers_round_trip() {
        for s in MemberStatus::ALL {
            assert_eq!(MemberStatus::from_number(s.number()), Some(s));
            assert_eq!(MemberStatus::from_proto(s.to_proto() as i32), Some(s));
        }
        assert_eq!(MemberStatus::from_proto(0), None);
    }

    #[test]
    fn refusals_name_the_current_state() {
        let e = Resigned.transition(Active).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a member who is resigned (MEMBER_STATUS_RESIGNED) cannot become in office (MEMBER_STATUS_ACTIVE)"
        );
    }
}
