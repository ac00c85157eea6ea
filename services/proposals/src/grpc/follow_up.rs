//! `cppcc.proposals.v1.ProposalFollowUpService`: key proposals and their
//! supervision, leader instructions, look-backs and excellent proposals.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::convert::{date, parse_date};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::{take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::proposals::v1 as pb;

use super::*;
use crate::domain::excellent::{DecisionError, ExcellentState};
use crate::domain::is_set;
use crate::store::follow_up::{self as fstore, ExcellentRow, FollowUpRow};

fn follow_up(committee: &str, r: &FollowUpRow) -> pb::FollowUp {
    pb::FollowUp {
        name: sub_format(committee, r.proposal_id, "followUps", r.id),
        kind: r.kind.into(),
        date: Some(date(r.day)),
        leader_name: r.leader_name.clone(),
        leader_title: r.leader_title.clone(),
        text: r.text.clone(),
        finding: r.finding.into(),
        recorded: Some(stamp(&r.recorded_by, r.recorded_role, r.create_time, "")),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredStep {
    actor: String,
    role: i16,
    time: i64,
    reason: String,
}

fn nomination(r: &ExcellentRow) -> pb::ExcellentNomination {
    let steps: Vec<StoredStep> = serde_json::from_value(r.steps.clone()).unwrap_or_default();
    pb::ExcellentNomination {
        name: ChildName::format(&r.committee_id, "excellentNominations", r.id),
        proposal: ChildName::format(&r.committee_id, "proposals", r.proposal_id),
        title: r.title.clone(),
        year: r.year.into(),
        nominated_by: r.nominated_by.clone(),
        reason: r.reason.clone(),
        state: r.state.into(),
        steps: steps
            .iter()
            .map(|s| {
                let t = time::OffsetDateTime::from_unix_timestamp(s.time)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                stamp(&s.actor, s.role, t, &s.reason)
            })
            .collect(),
    }
}

fn stored_step(actor: &cppcc_kit::auth::Actor, reason: &str) -> StoredStep {
    StoredStep {
        actor: actor.subject.clone(),
        role: actor.role.to_proto() as i16,
        time: time::OffsetDateTime::now_utc().unix_timestamp(),
        reason: reason.to_owned(),
    }
}

#[tonic::async_trait]
impl pb::proposal_follow_up_service_server::ProposalFollowUpService for Api {
    async fn mark_key_proposal(
        &self,
        request: Request<pb::MarkKeyProposalRequest>,
    ) -> Result<Response<pb::MarkKeyProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let mut errors = Violations::default();
        let leader_name = take_line(&mut errors, "leader_name", &req.leader_name, 2, 20);
        let leader_title = take_line(&mut errors, "leader_title", &req.leader_title, 2, 30);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.name, &id).await?;
        decide(&p, Step::FollowUp, actor.role)?;
        store::mark_key(change.conn(), p.row.id, &leader_name, &leader_title)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .stepped(
                &mut change,
                &p,
                Step::FollowUp,
                p.row.state,
                &format!("key proposal, supervised by {leader_title}{leader_name}"),
                &actor,
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::MarkKeyProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn create_follow_up(
        &self,
        request: Request<pb::CreateFollowUpRequest>,
    ) -> Result<Response<pb::CreateFollowUpResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("parent", &req.parent)?;
        let input = req
            .follow_up
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("follow_up", "required"))?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::FollowUpKind>(input.kind),
            "follow_up.kind",
            "must be SUPERVISION, INSTRUCTION or LOOK_BACK",
        );
        let kind = pb::FollowUpKind::try_from(input.kind).unwrap_or_default();
        let needs_leader = matches!(
            kind,
            pb::FollowUpKind::Supervision | pb::FollowUpKind::Instruction
        );
        let leader_name = take_line(
            &mut errors,
            "follow_up.leader_name",
            &input.leader_name,
            if needs_leader { 2 } else { 0 },
            20,
        );
        let leader_title = take_line(
            &mut errors,
            "follow_up.leader_title",
            &input.leader_title,
            if needs_leader { 2 } else { 0 },
            30,
        );
        let text = take_paragraphs(&mut errors, "follow_up.text", &input.text, 2, 5000);
        let day = parse_date("follow_up.date", input.date.as_ref())?;
        errors.check(day.is_none(), "follow_up.date", "required");
        errors.check(
            day.is_some_and(|d| d > self.db.today()),
            "follow_up.date",
            "must not be in the future",
        );
        let look_back = kind == pb::FollowUpKind::LookBack;
        errors.check(
            look_back != is_set::<pb::LookBackFinding>(input.finding),
            "follow_up.finding",
            if look_back {
                "required for a look-back: KEPT, PARTLY_KEPT or NOT_KEPT"
            } else {
                "only a look-back has a finding"
            },
        );
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.parent, &id).await?;
        decide(&p, Step::FollowUp, actor.role)?;
        if kind == pb::FollowUpKind::Supervision && !p.row.key {
            return Err(ServiceError::failed_precondition(
                "NOT_KEY",
                &req.parent,
                format!("{} is not a key proposal: mark it key first", req.parent),
            )
            .into());
        }
        if look_back && p.state != State::Closed {
            return Err(ServiceError::failed_precondition(
                "STATE",
                &req.parent,
                format!(
                    "{} is {}: a look-back comes after closing",
                    req.parent, p.state
                ),
            )
            .with_metadata("current_state", p.state.to_proto().as_str_name())
            .into());
        }
        let row = FollowUpRow {
            id: Uuid::now_v7(),
            proposal_id: p.row.id,
            kind: input.kind as i16,
            day: day.expect("checked"),
            leader_name,
            leader_title,
            text,
            finding: input.finding as i16,
            recorded_by: actor.subject.clone(),
            recorded_role: actor.role.to_proto() as i16,
            create_time: time::OffsetDateTime::now_utc(),
        };
        fstore::insert(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        let made = fstore::list(change.conn(), p.row.id, Some(row.id))
            .await
            .map_err(classify_db_error)?
            .pop()
            .map(|r| follow_up(&id.committee, &r))
            .ok_or_else(|| ServiceError::internal("the follow-up just made is gone"))?;
        change.audit(&id.committee, &made.name, None, Some(to_json(&made)));
        change.publish(&id.committee, &made.name.clone(), &made);
        change.commit().await?;
        Ok(Response::new(pb::CreateFollowUpResponse {
            follow_up: Some(made),
        }))
    }

    async fn list_follow_ups(
        &self,
        request: Request<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::ListFollowUpsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = proposal_name("parent", &parent)?;
        let actor = self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.visible(&mut conn, &actor, &parent, &id).await?;
        let rows = fstore::list(&mut conn, id.id, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListFollowUpsResponse {
            follow_ups: rows.iter().map(|r| follow_up(&id.committee, r)).collect(),
        }))
    }

    async fn nominate_excellent_proposal(
        &self,
        request: Request<pb::NominateExcellentProposalRequest>,
    ) -> Result<Response<pb::NominateExcellentProposalResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .nomination
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("nomination", "required"))?;
        let id = proposal_name("nomination.proposal", &input.proposal)?;
        let mut errors = Violations::default();
        errors.check(
            id.committee != committee,
            "nomination.proposal",
            format!("not a proposal of {}", req.parent),
        );
        errors.check(
            !(1949..=2200).contains(&input.year),
            "nomination.year",
            "must be a year from 1949",
        );
        let nominated_by = take_line(
            &mut errors,
            "nomination.nominated_by",
            &input.nominated_by,
            2,
            60,
        );
        let reason = take_paragraphs(&mut errors, "nomination.reason", &input.reason, 2, 2000);
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &input.proposal, &id).await?;
        if !matches!(p.state, State::Replied | State::Rated | State::Closed) {
            return Err(ServiceError::failed_precondition(
                "STATE",
                &input.proposal,
                format!(
                    "{} is {}: only an answered proposal can be excellent",
                    input.proposal, p.state
                ),
            )
            .with_metadata("current_state", p.state.to_proto().as_str_name())
            .into());
        }
        let steps = serde_json::to_value(vec![stored_step(&actor, &reason)])
            .map_err(ServiceError::internal)?;
        let row = ExcellentRow {
            id: Uuid::now_v7(),
            committee_id: committee.clone(),
            proposal_id: p.row.id,
            title: p.row.title.clone(),
            year: input.year as i16,
            nominated_by,
            reason,
            state: ExcellentState::Nominated.number(),
            steps,
        };
        if !fstore::insert_excellent(change.conn(), &row)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::already_exists(
                &input.proposal,
                format!("{} is already nominated for {}", input.proposal, input.year),
            )
            .into());
        }
        let made = nomination(&row);
        change.audit(&committee, &made.name, None, Some(to_json(&made)));
        change.commit().await?;
        Ok(Response::new(pb::NominateExcellentProposalResponse {
            nomination: Some(made),
        }))
    }

    async fn decide_excellent_nomination(
        &self,
        request: Request<pb::DecideExcellentNominationRequest>,
    ) -> Result<Response<pb::DecideExcellentNominationResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "excellentNominations")?;
        let reason = cppcc_kit::text::line(&req.reason, usize::from(!req.accept), 500)
            .map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let row = fstore::excellent(change.conn(), &id.committee, None, Some(id.id), true)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let from = ExcellentState::from_number(row.state)
            .ok_or_else(|| ServiceError::internal("unknown nomination state"))?;
        let to = from.decide(req.accept, actor.role).map_err(|e| match e {
            DecisionError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
            DecisionError::Decided(_) => {
                ServiceError::failed_precondition("STATE", &req.name, e.to_string())
                    .with_metadata("current_state", from.to_proto().as_str_name())
            }
        })?;
        let mut steps: Vec<StoredStep> =
            serde_json::from_value(row.steps.clone()).map_err(ServiceError::internal)?;
        steps.push(stored_step(&actor, &reason));
        let steps = serde_json::to_value(steps).map_err(ServiceError::internal)?;
        fstore::step_excellent(change.conn(), row.id, to.number(), &steps)
            .await
            .map_err(classify_db_error)?;
        let after = ExcellentRow {
            state: to.number(),
            steps,
            ..row.clone()
        };
        let (before, after) = (nomination(&row), nomination(&after));
        change.audit(
            &id.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::DecideExcellentNominationResponse {
            nomination: Some(after),
        }))
    }

    async fn list_excellent_nominations(
        &self,
        request: Request<pb::ListExcellentNominationsRequest>,
    ) -> Result<Response<pb::ListExcellentNominationsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        if !(1949..=2200).contains(&req.year) {
            return Err(ServiceError::invalid("year", "must be a year from 1949").into());
        }
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = fstore::excellent(&mut conn, &committee, Some(req.year as i16), None, false)
            .await
            .map_err(classify_db_error)?;
        // A unit sees the nominations of what it handles only.
        let ids: Vec<Uuid> = rows.iter().map(|r| r.proposal_id).collect();
        let seen: Vec<Uuid> = self
            .read(&mut conn, &committee, &ids)
            .await?
            .into_iter()
            .filter(|p| p.seen_by(&actor))
            .map(|p| p.row.id)
            .collect();
        Ok(Response::new(pb::ListExcellentNominationsResponse {
            nominations: rows
                .iter()
                .filter(|r| seen.contains(&r.proposal_id))
                .map(nomination)
                .collect(),
        }))
    }
}
