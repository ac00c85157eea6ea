//! The opinions service's rules, free of I/O: the four state machines (a
//! report's review, a forward, an inbox report, a unit's handling), each
//! the one place its steps are decided, and the overall status derived
//! from them.

use cppcc_proto::opinions::v1 as pb;

/// A step refused: the state it was refused in (for `current_state`) and
/// why, in words a caller can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// The reason code, e.g. `ALREADY_REVIEWED`.
    pub reason: &'static str,
    /// The state, as the contract names it.
    pub current: &'static str,
    pub message: String,
}

fn refused(reason: &'static str, current: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        current,
        message: message.into(),
    }
}

/// Where the information centre's review of a report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Submitted,
    InReview,
    Accepted,
    NotAccepted,
}

/// A step of the review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewStep {
    /// Take it up.
    Start,
    /// Accept it (采用), from submitted or in review.
    Accept,
    /// Do not accept it.
    Reject,
    /// Edit its title or text (the original is kept).
    Edit,
    /// Publish, forward, send for handling, record an instruction: only
    /// once accepted.
    Use,
}

impl Review {
    pub const ALL: [Review; 4] = [
        Review::Submitted,
        Review::InReview,
        Review::Accepted,
        Review::NotAccepted,
    ];

    /// The state after `step`, if it may be taken.
    pub fn transition(self, step: ReviewStep) -> Result<Review, Refused> {
        use Review::*;
        use ReviewStep::*;
        match (self, step) {
            (Submitted, Start) => Ok(InReview),
            (Submitted | InReview, Accept) => Ok(Accepted),
            (Submitted | InReview, Reject) => Ok(NotAccepted),
            (InReview | Accepted, Edit) => Ok(self),
            (Accepted, Use) => Ok(Accepted),
            (InReview, Start) => Err(refused(
                "ALREADY_IN_REVIEW",
                self.as_str(),
                "the report is already being reviewed",
            )),
            (Accepted | NotAccepted, Start | Accept | Reject) => Err(refused(
                "ALREADY_REVIEWED",
                self.as_str(),
                format!(
                    "the report was already reviewed ({}); a review is decided once",
                    self.words()
                ),
            )),
            (Submitted, Edit) => Err(refused(
                "NOT_IN_REVIEW",
                self.as_str(),
                "take the report into review (StartOpinionReview) before editing it",
            )),
            (NotAccepted, Edit) => Err(refused(
                "NOT_ACCEPTED",
                self.as_str(),
                "the report was not accepted; it is not edited further",
            )),
            (_, Use) => Err(refused(
                "NOT_ACCEPTED",
                self.as_str(),
                format!(
                    "only an accepted report may be published, forwarded, sent for handling or instructed on; this one is {}",
                    self.words()
                ),
            )),
        }
    }

    fn words(self) -> &'static str {
        match self {
            Review::Submitted => "submitted, not yet reviewed",
            Review::InReview => "in review",
            Review::Accepted => "accepted",
            Review::NotAccepted => "not accepted",
        }
    }

    pub fn to_proto(self) -> pb::ReviewState {
        match self {
            Review::Submitted => pb::ReviewState::Submitted,
            Review::InReview => pb::ReviewState::InReview,
            Review::Accepted => pb::ReviewState::Accepted,
            Review::NotAccepted => pb::ReviewState::NotAccepted,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.to_proto().as_str_name()
    }

    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    pub fn from_number(n: i16) -> Option<Review> {
        Review::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// Where a forward to the parent committee stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    Pending,
    Delivered,
    Adopted,
    NotAdopted,
}

/// A step of a forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardStep {
    /// The parent's deployment took it in.
    Deliver,
    /// The parent decided. A decision may overtake the delivery's answer
    /// (the parent took it in, decided, and its decision came back before
    /// the sender heard the delivery succeed).
    Decide { adopted: bool },
}

impl Forward {
    pub const ALL: [Forward; 4] = [
        Forward::Pending,
        Forward::Delivered,
        Forward::Adopted,
        Forward::NotAdopted,
    ];

    /// The state after `step`; `Ok(None)` when the step was already taken
    /// (the same delivery or decision arriving again changes nothing).
    pub fn transition(self, step: ForwardStep) -> Result<Option<Forward>, Refused> {
        use Forward::*;
        match (self, step) {
            (Pending, ForwardStep::Deliver) => Ok(Some(Delivered)),
            (Delivered | Adopted | NotAdopted, ForwardStep::Deliver) => Ok(None),
            (Pending | Delivered, ForwardStep::Decide { adopted }) => {
                Ok(Some(if adopted { Adopted } else { NotAdopted }))
            }
            (Adopted, ForwardStep::Decide { adopted: true })
            | (NotAdopted, ForwardStep::Decide { adopted: false }) => Ok(None),
            (Adopted | NotAdopted, ForwardStep::Decide { .. }) => Err(refused(
                "ALREADY_DECIDED",
                self.as_str(),
                format!(
                    "the parent committee already decided this forward ({}); a decision is made once",
                    if self == Adopted {
                        "adopted"
                    } else {
                        "not adopted"
                    }
                ),
            )),
        }
    }

    /// Whether the parent has still to decide.
    pub fn open(self) -> bool {
        matches!(self, Forward::Pending | Forward::Delivered)
    }

    pub fn to_proto(self) -> pb::ForwardState {
        match self {
            Forward::Pending => pb::ForwardState::Pending,
            Forward::Delivered => pb::ForwardState::Delivered,
            Forward::Adopted => pb::ForwardState::Adopted,
            Forward::NotAdopted => pb::ForwardState::NotAdopted,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.to_proto().as_str_name()
    }

    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    pub fn from_number(n: i16) -> Option<Forward> {
        Forward::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// Where a report in the parent's inbox stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbox {
    Received,
    Adopted,
    NotAdopted,
}

impl Inbox {
    pub const ALL: [Inbox; 3] = [Inbox::Received, Inbox::Adopted, Inbox::NotAdopted];

    /// The state after deciding `adopted`: once only.
    pub fn decide(self, adopted: bool) -> Result<Inbox, Refused> {
        match self {
            Inbox::Received => Ok(if adopted {
                Inbox::Adopted
            } else {
                Inbox::NotAdopted
            }),
            _ => Err(refused(
                "ALREADY_DECIDED",
                self.as_str(),
                format!(
                    "this report was already {}; a decision is made once",
                    if self == Inbox::Adopted {
                        "adopted"
                    } else {
                        "declined"
                    }
                ),
            )),
        }
    }

    pub fn to_proto(self) -> pb::InboxState {
        match self {
            Inbox::Received => pb::InboxState::Received,
            Inbox::Adopted => pb::InboxState::Adopted,
            Inbox::NotAdopted => pb::InboxState::NotAdopted,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.to_proto().as_str_name()
    }

    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    pub fn from_number(n: i16) -> Option<Inbox> {
        Inbox::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// Where a unit's handling of a report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handling {
    Sent,
    Answered,
    Closed,
}

/// A step of a unit's handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandlingStep {
    /// The unit's feedback (again, after a follow-up asked for more).
    Answer,
    /// A follow-up (跟踪督办): changes no state.
    FollowUp,
    /// Closed by the information centre, once the unit answered.
    Close,
}

impl Handling {
    pub const ALL: [Handling; 3] = [Handling::Sent, Handling::Answered, Handling::Closed];

    pub fn transition(self, step: HandlingStep) -> Result<Handling, Refused> {
        use Handling::*;
        match (self, step) {
            (Sent | Answered, HandlingStep::Answer) => Ok(Answered),
            (Sent | Answered, HandlingStep::FollowUp) => Ok(self),
            (Answered, HandlingStep::Close) => Ok(Closed),
            (Sent, HandlingStep::Close) => Err(refused(
                "NO_FEEDBACK",
                self.as_str(),
                "the unit has not answered yet: record its feedback before closing",
            )),
            (Closed, _) => Err(refused(
                "HANDLING_CLOSED",
                self.as_str(),
                "this unit's handling is closed",
            )),
        }
    }

    pub fn to_proto(self) -> pb::HandlingState {
        match self {
            Handling::Sent => pb::HandlingState::Sent,
            Handling::Answered => pb::HandlingState::Answered,
            Handling::Closed => pb::HandlingState::Closed,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.to_proto().as_str_name()
    }

    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    pub fn from_number(n: i16) -> Option<Handling> {
        Handling::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// A report's overall status, from its review, forwards, handlings,
/// bulletins and instructions.
pub fn status(
    review: Review,
    forwards: &[Forward],
    handlings: &[Handling],
    published: bool,
    instructed: bool,
) -> pb::OpinionReportStatus {
    use pb::OpinionReportStatus as S;
    match review {
        Review::Submitted => S::Submitted,
        Review::InReview => S::InReview,
        Review::NotAccepted => S::NotAccepted,
        Review::Accepted => {
            let open = forwards.iter().any(|f| f.open())
                || handlings.iter().any(|h| *h != Handling::Closed);
            let done = !forwards.is_empty() || !handlings.is_empty() || published || instructed;
            if open {
                S::InProgress
            } else if done {
                S::Concluded
            } else {
                S::Accepted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_every_step_from_every_state() {
        use Review::*;
        use ReviewStep::*;
        for from in Review::ALL {
            for step in [Start, Accept, Reject, Edit, Use] {
                let expected = match (from, step) {
                    (Submitted, Start) => Some(InReview),
                    (Submitted | InReview, Accept) => Some(Accepted),
                    (Submitted | InReview, Reject) => Some(NotAccepted),
                    (InReview, Edit) => Some(InReview),
                    (Accepted, Edit | Use) => Some(Accepted),
                    _ => None,
                };
                let got = from.transition(step);
                assert_eq!(got.clone().ok(), expected, "{from:?} {step:?}");
                if let Err(e) = got {
                    assert_eq!(e.current, from.as_str());
                }
            }
        }
    }

    #[test]
    fn accepting_twice_says_so() {
        let e = Review::Accepted.transition(ReviewStep::Accept).unwrap_err();
        assert_eq!(e.reason, "ALREADY_REVIEWED");
        assert_eq!(e.current, "REVIEW_STATE_ACCEPTED");
    }

    #[test]
    fn forward_every_step_from_every_state() {
        use Forward::*;
        let steps = [
            ForwardStep::Deliver,
            ForwardStep::Decide { adopted: true },
            ForwardStep::Decide { adopted: false },
        ];
        for from in Forward::ALL {
            for step in steps {
                let expected: Result<Option<Forward>, ()> = match (from, step) {
                    (Pending, ForwardStep::Deliver) => Ok(Some(Delivered)),
                    (_, ForwardStep::Deliver) => Ok(None),
                    (Pending | Delivered, ForwardStep::Decide { adopted: true }) => {
                        Ok(Some(Adopted))
                    }
                    (Pending | Delivered, ForwardStep::Decide { adopted: false }) => {
                        Ok(Some(NotAdopted))
                    }
                    (Adopted, ForwardStep::Decide { adopted: true }) => Ok(None),
                    (NotAdopted, ForwardStep::Decide { adopted: false }) => Ok(None),
                    _ => Err(()),
                };
                assert_eq!(
                    from.transition(step).map_err(|_| ()),
                    expected,
                    "{from:?} {step:?}"
                );
            }
        }
    }

    #[test]
    fn inbox_decides_once() {
        assert_eq!(Inbox::Received.decide(true), Ok(Inbox::Adopted));
        assert_eq!(Inbox::Received.decide(false), Ok(Inbox::NotAdopted));
        for from in [Inbox::Adopted, Inbox::NotAdopted] {
            for adopted in [true, false] {
                assert_eq!(from.decide(adopted).unwrap_err().reason, "ALREADY_DECIDED");
            }
        }
    }

    #[test]
    fn handling_every_step_from_every_state() {
        use Handling::*;
        use HandlingStep::*;
        for from in Handling::ALL {
            for step in [Answer, FollowUp, Close] {
                let expected = match (from, step) {
                    (Sent | Answered, Answer) => Some(Answered),
                    (Sent | Answered, FollowUp) => Some(from),
                    (Answered, Close) => Some(Closed),
                    _ => None,
                };
                assert_eq!(from.transition(step).ok(), expected, "{from:?} {step:?}");
            }
        }
    }

    #[test]
    fn status_is_derived() {
        use pb::OpinionReportStatus as S;
        assert_eq!(
            status(Review::Submitted, &[], &[], false, false),
            S::Submitted
        );
        assert_eq!(
            status(Review::NotAccepted, &[], &[], false, false),
            S::NotAccepted
        );
        assert_eq!(
            status(Review::Accepted, &[], &[], false, false),
            S::Accepted
        );
        assert_eq!(
            status(Review::Accepted, &[], &[], true, false),
            S::Concluded
        );
        assert_eq!(
            status(Review::Accepted, &[Forward::Pending], &[], true, false),
            S::InProgress
        );
        assert_eq!(
            status(
                Review::Accepted,
                &[Forward::Adopted],
                &[Handling::Answered],
                false,
                false
            ),
            S::InProgress
        );
        assert_eq!(
            status(
                Review::Accepted,
                &[Forward::NotAdopted],
                &[Handling::Closed],
                false,
                false
            ),
            S::Concluded
        );
    }
}
