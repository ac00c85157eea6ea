//! A proposal's lifecycle: the one place its steps are decided.
//!
//! ```text
//! Draft --submit--> Submitted --file | merge--> Filed --assign--> Assigned
//!   |                  |                                         |  ^   (reassign,
//!   +----withdraw------+--> Withdrawn                            |  |    extend)
//!                      +--reject--> NotFiled --convert--> Converted |
//!                                                                |  | rehandle
//!                                        approve the last reply  v  |
//!                                      Replied --settle--> Rated --close--> Closed
//!                                         +-----------close (rating time over)--^
//! ```
//!
//! Who takes each step: a member (or the office on its behalf) writes,
//! submits and withdraws its proposal and rates the reply; the proposal
//! office (or the committee office) reviews, assigns, decides units'
//! requests, approves replies and closes. Units act on replies, which have
//! their own machine (`reply`).

use cppcc_kit::auth::Role;
use cppcc_proto::proposals::v1 as pb;

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Draft,
    Submitted,
    Filed,
    NotFiled,
    Converted,
    Assigned,
    Replied,
    Rated,
    Closed,
    Withdrawn,
}

/// A step on a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Change the draft or its co-signers.
    Edit,
    Submit,
    Withdraw,
    File,
    Reject,
    /// File, handled with another proposal.
    Merge,
    Convert,
    Assign,
    /// Assign to other units, granting a unit's request.
    Reassign,
    /// Move the reply's day, granting a unit's request.
    Extend,
    /// The last reply of the round approved.
    Answer,
    /// A proposer's rating, not the last.
    Rate,
    /// The last rating, none unsatisfied.
    Settle,
    /// The last rating, one unsatisfied: handled once more.
    Rehandle,
    Close,
    /// Marked key, or followed up.
    FollowUp,
}

/// Why a step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step does not follow from where the proposal stands.
    #[error("cannot {step} a proposal that is {from}{next}")]
    OutOfOrder {
        from: State,
        step: Step,
        next: &'static str,
    },
    /// The step is possible, but not the caller's to take.
    #[error("only {allowed} may {step} a proposal that is {from}")]
    WrongHands {
        from: State,
        step: Step,
        allowed: String,
    },
}

const PROPOSERS: &[Role] = &[Role::Member, Role::Admin, Role::ProposalOffice];
const OFFICE: &[Role] = &[Role::Admin, Role::ProposalOffice];
const FOLLOWERS: &[Role] = &[Role::Admin, Role::ProposalOffice, Role::Leader];

impl State {
    /// Every state.
    pub const ALL: [State; 10] = [
        State::Draft,
        State::Submitted,
        State::Filed,
        State::NotFiled,
        State::Converted,
        State::Assigned,
        State::Replied,
        State::Rated,
        State::Closed,
        State::Withdrawn,
    ];

    /// The state `step` leads to from this one and the roles that may take
    /// it, if it can be taken at all.
    fn rule(self, step: Step) -> Option<(State, &'static [Role])> {
        use State::*;
        Some(match (self, step) {
            (Draft, Step::Edit) => (Draft, PROPOSERS),
            (Draft, Step::Submit) => (Submitted, PROPOSERS),
            (Draft | Submitted, Step::Withdraw) => (Withdrawn, PROPOSERS),
            (Submitted, Step::File | Step::Merge) => (Filed, OFFICE),
            (Submitted, Step::Reject) => (NotFiled, OFFICE),
            (NotFiled, Step::Convert) => (Converted, OFFICE),
            (Filed, Step::Assign) => (Assigned, OFFICE),
            (Assigned, Step::Reassign | Step::Extend) => (Assigned, OFFICE),
            (Assigned, Step::Answer) => (Replied, OFFICE),
            (Replied, Step::Rate) => (Replied, PROPOSERS),
            (Replied, Step::Settle) => (Rated, PROPOSERS),
            (Replied, Step::Rehandle) => (Assigned, PROPOSERS),
            (Replied | Rated, Step::Close) => (Closed, OFFICE),
            (Filed | Assigned | Replied | Rated | Closed, Step::FollowUp) => (self, FOLLOWERS),
            _ => return None,
        })
    }

    /// The state after `role` takes `step`, if it may.
    pub fn transition(self, step: Step, role: Role) -> Result<State, StepError> {
        let Some((to, allowed)) = self.rule(step) else {
            return Err(StepError::OutOfOrder {
                from: self,
                step,
                next: self.awaits(),
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
        Ok(to)
    }

    /// What the proposal waits for, as told with a refusal.
    fn awaits(self) -> &'static str {
        match self {
            State::Draft => "; it is a draft: submit it first",
            State::Submitted => "; it awaits the proposal office's review",
            State::Filed => "; it awaits assignment to units",
            State::NotFiled => "; it was not filed",
            State::Assigned => "; its units are handling it",
            State::Replied => "; it awaits its proposers' ratings",
            State::Rated => "; it awaits closing",
            State::Converted | State::Closed | State::Withdrawn => "; it is finished",
        }
    }

    /// Whether it has a serial number.
    pub fn is_filed(self) -> bool {
        matches!(
            self,
            State::Filed | State::Assigned | State::Replied | State::Rated | State::Closed
        )
    }

    /// The database and protobuf number.
    pub fn number(self) -> i16 {
        self.to_proto() as i16
    }

    /// From the database number.
    pub fn from_number(n: i16) -> Option<State> {
        State::ALL.into_iter().find(|s| s.number() == n)
    }

    /// From a protobuf number.
    pub fn from_proto(n: i32) -> Option<State> {
        i16::try_from(n).ok().and_then(State::from_number)
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::ProposalState {
        use pb::ProposalState as P;
        match self {
            State::Draft => P::Draft,
            State::Submitted => P::Submitted,
            State::Filed => P::Filed,
            State::NotFiled => P::NotFiled,
            State::Converted => P::Converted,
            State::Assigned => P::Assigned,
            State::Replied => P::Replied,
            State::Rated => P::Rated,
            State::Closed => P::Closed,
            State::Withdrawn => P::Withdrawn,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_proto().as_str_name())
    }
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 16] = [
        Step::Edit,
        Step::Submit,
        Step::Withdraw,
        Step::File,
        Step::Reject,
        Step::Merge,
        Step::Convert,
        Step::Assign,
        Step::Reassign,
        Step::Extend,
        Step::Answer,
        Step::Rate,
        Step::Settle,
        Step::Rehandle,
        Step::Close,
        Step::FollowUp,
    ];

    /// Its name in the proposal's history and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Edit => "edit",
            Step::Submit => "submit",
            Step::Withdraw => "withdraw",
            Step::File => "file",
            Step::Reject => "reject",
            Step::Merge => "merge",
            Step::Convert => "convert",
            Step::Assign => "assign",
            Step::Reassign => "reassign",
            Step::Extend => "extend",
            Step::Answer => "answer",
            Step::Rate => "rate",
            Step::Settle => "settle",
            Step::Rehandle => "rehandle",
            Step::Close => "close",
            Step::FollowUp => "follow up",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::State::*;
    use super::*;

    /// Every legal (from, step) and where it leads; who may take it is
    /// checked separately.
    const LEGAL: &[(State, Step, State)] = &[
        (Draft, Step::Edit, Draft),
        (Draft, Step::Submit, Submitted),
        (Draft, Step::Withdraw, Withdrawn),
        (Submitted, Step::Withdraw, Withdrawn),
        (Submitted, Step::File, Filed),
        (Submitted, Step::Merge, Filed),
        (Submitted, Step::Reject, NotFiled),
        (NotFiled, Step::Convert, Converted),
        (Filed, Step::Assign, Assigned),
        (Assigned, Step::Reassign, Assigned),
        (Assigned, Step::Extend, Assigned),
        (Assigned, Step::Answer, Replied),
        (Replied, Step::Rate, Replied),
        (Replied, Step::Settle, Rated),
        (Replied, Step::Rehandle, Assigned),
        (Replied, Step::Close, Closed),
        (Rated, Step::Close, Closed),
        (Filed, Step::FollowUp, Filed),
        (Assigned, Step::FollowUp, Assigned),
        (Replied, Step::FollowUp, Replied),
        (Rated, Step::FollowUp, Rated),
        (Closed, Step::FollowUp, Closed),
    ];

    fn hands(step: Step) -> &'static [Role] {
        match step {
            Step::Edit
            | Step::Submit
            | Step::Withdraw
            | Step::Rate
            | Step::Settle
            | Step::Rehandle => PROPOSERS,
            Step::FollowUp => FOLLOWERS,
            _ => OFFICE,
        }
    }

    #[test]
    fn every_step_from_every_state_by_every_role_is_decided() {
        for from in State::ALL {
            for step in Step::ALL {
                for role in Role::ALL {
                    let result = from.transition(step, role);
                    match LEGAL.iter().find(|(f, s, _)| *f == from && *s == step) {
                        Some((.., to)) if hands(step).contains(&role) => {
                            assert_eq!(result, Ok(*to), "{from:?} {step:?} by {role:?}")
                        }
                        Some(_) => assert!(
                            matches!(result, Err(StepError::WrongHands { .. })),
                            "{from:?} {step:?} by {role:?}: {result:?}"
                        ),
                        None => assert!(
                            matches!(result, Err(StepError::OutOfOrder { .. })),
                            "{from:?} {step:?} by {role:?}: {result:?}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_say_where_the_proposal_stands() {
        let e = Filed
            .transition(Step::File, Role::ProposalOffice)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot file a proposal that is PROPOSAL_STATE_FILED; it awaits assignment to units"
        );
        let e = Submitted.transition(Step::File, Role::Member).unwrap_err();
        assert_eq!(
            e.to_string(),
            "only admin or proposal_office may file a proposal that is PROPOSAL_STATE_SUBMITTED"
        );
        // Units never move a proposal by themselves.
        for from in State::ALL {
            for step in Step::ALL {
                assert!(from.transition(step, Role::HandlingUnit).is_err());
            }
        }
    }

    #[test]
    fn only_filed_states_carry_a_serial() {
        let filed: Vec<State> = State::ALL.into_iter().filter(|s| s.is_filed()).collect();
        assert_eq!(filed, [Filed, Assigned, Replied, Rated, Closed]);
    }

    #[test]
    fn numbers_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_number(s.number()), Some(s));
        }
        assert_eq!(State::from_number(0), None);
        assert_eq!(State::from_number(11), None);
    }
}
