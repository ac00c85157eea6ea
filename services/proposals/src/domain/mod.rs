//! The proposals service's rules, free of I/O: the proposal's and the
//! reply's state machines, excellent-proposal decisions, settings, the
//! working calendar, similarity and the assessment.

pub mod assessment;
pub mod calendar;
pub mod excellent;
pub mod grams;
pub mod lifecycle;
pub mod reply;
pub mod settings;

pub use lifecycle::{State, Step, StepError};
pub use reply::{ReplyState, ReplyStep, ReplyStepError};

/// Whether `n` is a set value of the protobuf enum `E` (not 0, not unknown).
pub fn is_set<E: TryFrom<i32>>(n: i32) -> bool {
    n != 0 && E::try_from(n).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cppcc_proto::proposals::v1 as pb;

    #[test]
    fn set_values_are_known_and_not_zero() {
        assert!(is_set::<pb::ProposalKind>(pb::ProposalKind::Joint as i32));
        assert!(!is_set::<pb::ProposalKind>(0));
        assert!(!is_set::<pb::ProposalKind>(99));
    }
}
