//! The consultations service's rules, free of I/O: the plan's path, the
//! eight steps, problems' statuses, the five haves, and which duty an
//! activity credits.

pub mod plan;
pub mod steps;

use cppcc_proto::common::v1::DutyKind;
use cppcc_proto::consultations::v1 as pb;

pub use cppcc_kit::convert::is_set;

/// The duty members are credited with for taking part in an activity of
/// `kind`: a research inspection is 调研视察, a frontline consultation a
/// grassroots consultation, anything else another consultation.
pub fn duty_of(kind: pb::ActivityKind) -> DutyKind {
    match kind {
        pb::ActivityKind::ResearchInspection => DutyKind::ResearchInspection,
        pb::ActivityKind::Frontline => DutyKind::ConsultationGrassroots,
        _ => DutyKind::ConsultationOther,
    }
}

/// Which of the five haves (五有) a platform has.
pub fn five_haves(
    convener: &str,
    venue: &str,
    sign: bool,
    content: &str,
    archives: bool,
) -> pb::FiveHaves {
    let (convener, venue, content) = (
        !convener.trim().is_empty(),
        !venue.trim().is_empty(),
        !content.trim().is_empty(),
    );
    pb::FiveHaves {
        convener,
        venue,
        sign,
        content,
        archives,
        compliant: convener && venue && sign && content && archives,
    }
}

/// Whether a problem may move from `from` to `to`: forward only, and a
/// solved one stays solved.
pub fn problem_moves(from: pb::ProblemStatus, to: pb::ProblemStatus) -> bool {
    use pb::ProblemStatus::*;
    matches!(
        (from, to),
        (Open, InProgress) | (Open, Solved) | (InProgress, Solved)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::ProblemStatus::*;

    #[test]
    fn duties_follow_the_kind() {
        assert_eq!(
            duty_of(pb::ActivityKind::ResearchInspection),
            DutyKind::ResearchInspection
        );
        assert_eq!(
            duty_of(pb::ActivityKind::Frontline),
            DutyKind::ConsultationGrassroots
        );
        assert_eq!(
            duty_of(pb::ActivityKind::StandingCommittee),
            DutyKind::ConsultationOther
        );
    }

    #[test]
    fn five_haves_need_all_five() {
        assert!(five_haves("刘强", "村委会议室", true, "乡村振兴", true).compliant);
        let missing = five_haves("刘强", " ", true, "乡村振兴", true);
        assert!(!missing.compliant && !missing.venue && missing.convener);
    }

    #[test]
    fn problems_move_forward_only() {
        let all = [Unspecified, Open, InProgress, Solved];
        for from in all {
            for to in all {
                let legal = matches!(
                    (from, to),
                    (Open, InProgress) | (Open, Solved) | (InProgress, Solved)
                );
                assert_eq!(problem_moves(from, to), legal, "{from:?} -> {to:?}");
            }
        }
    }
}
