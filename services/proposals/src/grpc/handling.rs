//! `cppcc.proposals.v1.ProposalService`, part two: what units do with an
//! assigned proposal (requests, replies, countersignatures), the office's
//! decisions and review, the proposers' ratings and closing.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::Change;
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::json::to_json;
use cppcc_kit::names::ChildName;
use cppcc_kit::text::{line, take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::proposals::v1 as pb;

use super::*;
use crate::domain::calendar::{Calendar, add_months};
use crate::domain::{ReplyState, ReplyStep, ReplyStepError, is_set};
use crate::store::handling::{self as hstore, CountersignRow, ReplyRow, ReplyText, RequestRow};
use crate::store::office as office_store;

pub(crate) fn reply(committee: &str, r: &ReplyRow, signs: &[CountersignRow]) -> pb::Reply {
    pb::Reply {
        name: sub_format(committee, r.proposal_id, "replies", r.id),
        unit: ChildName::format(committee, "units", r.unit_id),
        unit_display_name: r.unit_name.clone(),
        handling_round: r.handling_round.into(),
        text: r.text.clone(),
        result_category: r.result_category.clone(),
        contacted_proposers: r.contacted,
        contact_date: r.contact_date.map(date),
        state: r.state.into(),
        countersignatures: signs
            .iter()
            .filter(|s| s.reply_id == r.id)
            .map(|s| pb::Countersignature {
                unit: ChildName::format(committee, "units", s.unit_id),
                opinion: s.opinion.clone(),
                sign_time: Some(timestamp(s.sign_time)),
            })
            .collect(),
        submit_time: r.submit_time.map(timestamp),
        on_time: r.on_time.unwrap_or(false),
        review: match (&r.reviewed_by, r.reviewed_role, r.review_time) {
            (Some(by), Some(role), Some(t)) => Some(stamp(
                by,
                role,
                t,
                r.review_reason.as_deref().unwrap_or_default(),
            )),
            _ => None,
        },
        reviewed_category: r.reviewed_category.clone().unwrap_or_default(),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
        etag: etag::format(r.revision),
    }
}

fn request_message(committee: &str, r: &RequestRow) -> pb::HandlingRequest {
    pb::HandlingRequest {
        name: sub_format(committee, r.proposal_id, "requests", r.id),
        unit: ChildName::format(committee, "units", r.unit_id),
        kind: r.kind.into(),
        reason: r.reason.clone(),
        reply_due_date: r.reply_due.map(date),
        state: r.state.into(),
        create_time: Some(timestamp(r.create_time)),
        decision: match (&r.decided_by, r.decided_role, r.decided_time) {
            (Some(by), Some(role), Some(t)) => Some(stamp(
                by,
                role,
                t,
                r.decision_reason.as_deref().unwrap_or_default(),
            )),
            _ => None,
        },
    }
}

fn reply_refused(e: ReplyStepError, from: ReplyState, name: &str) -> ServiceError {
    match e {
        ReplyStepError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
        ReplyStepError::OutOfOrder { .. } => {
            ServiceError::failed_precondition("STATE", name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        }
    }
}

/// The unit a call acts for: a unit's own, or the one the office names.
fn acting_unit(
    actor: &Actor,
    field: &str,
    given: &str,
    committee: &str,
) -> Result<Uuid, ServiceError> {
    if actor.role == Role::HandlingUnit {
        let own = unit_id(actor)
            .ok_or_else(|| ServiceError::permission_denied("this unit token names no unit"))?;
        if !given.is_empty() && unit_name(field, given, committee)? != own {
            return Err(ServiceError::permission_denied(
                "a unit acts only for itself; leave the unit empty",
            ));
        }
        return Ok(own);
    }
    if given.is_empty() {
        return Err(ServiceError::invalid(
            field,
            "required: the unit the office acts for",
        ));
    }
    unit_name(field, given, committee)
}

/// The proposal must be with its units.
fn being_handled(p: &Viewed) -> Result<(), ServiceError> {
    if p.state != State::Assigned {
        return Err(ServiceError::failed_precondition(
            "STATE",
            &p.message.name,
            format!(
                "{} is {}: units act only on a proposal assigned to them",
                p.message.name, p.state
            ),
        )
        .with_metadata("current_state", p.state.to_proto().as_str_name()));
    }
    Ok(())
}

/// The unit's part in the current round, or why it has none.
fn part_of(p: &Viewed, unit: Uuid) -> Result<pb::UnitPart, ServiceError> {
    p.units
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, part)| pb::UnitPart::try_from(i32::from(*part)).unwrap_or_default())
        .ok_or_else(|| {
            ServiceError::permission_denied(format!(
                "{} is not handling {}",
                ChildName::format(&p.row.committee_id, "units", unit),
                p.message.name
            ))
        })
}

impl Api {
    async fn locked_reply(
        &self,
        change: &mut Change,
        name: &str,
    ) -> Result<(Viewed, ReplyRow), ServiceError> {
        let (parent, id) = sub_name("name", name, "replies")?;
        let actor = change.actor().clone();
        if !actor.in_committee(&parent.committee) {
            return Err(ServiceError::not_found(name));
        }
        let proposal_name = ChildName::format(&parent.committee, "proposals", parent.id);
        let p = self
            .lock(change, &proposal_name, &parent)
            .await
            .map_err(|e| {
                if e.kind() == cppcc_kit::error::ErrorKind::NotFound {
                    ServiceError::not_found(name)
                } else {
                    e
                }
            })?;
        let r = hstore::replies(change.conn(), &[parent.id], Some(id), None)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(name))?;
        Ok((p, r))
    }

    async fn reply_after(
        &self,
        change: &mut Change,
        committee: &str,
        r: &ReplyRow,
    ) -> Result<pb::Reply, ServiceError> {
        let row = hstore::replies(change.conn(), &[r.proposal_id], Some(r.id), None)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the reply just written is gone"))?;
        let signs = hstore::countersignatures(change.conn(), &[r.id])
            .await
            .map_err(classify_db_error)?;
        Ok(reply(committee, &row, &signs))
    }

    pub(super) async fn create_handling_request_impl(
        &self,
        request: Request<pb::CreateHandlingRequestRequest>,
    ) -> Result<Response<pb::CreateHandlingRequestResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("parent", &req.parent)?;
        let input = req
            .request
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("request", "required"))?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::HandlingRequestKind>(input.kind),
            "request.kind",
            "must be REASSIGNMENT or EXTENSION",
        );
        let reason = take_line(&mut errors, "request.reason", &input.reason, 1, 500);
        let asked_due = parse_date("request.reply_due_date", input.reply_due_date.as_ref())?;
        let extension = input.kind == pb::HandlingRequestKind::Extension as i32;
        errors.check(
            extension && asked_due.is_none(),
            "request.reply_due_date",
            "required: the day the unit asks to reply by",
        );
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.parent).await?;
        let unit = acting_unit(&actor, "request.unit", &input.unit, &id.committee)?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.parent, &id).await?;
        being_handled(&p)?;
        part_of(&p, unit)?;
        let (settings, _) = office_store::settings(change.conn(), &id.committee)
            .await
            .map_err(classify_db_error)?;
        let assigned = p
            .row
            .assign_date
            .ok_or_else(|| ServiceError::internal("an assigned proposal with no assignment day"))?;
        if extension {
            let asked = asked_due.expect("checked");
            let longest = add_months(assigned, settings.max_reply_months as u32);
            let current = p.row.reply_due.unwrap_or(assigned);
            if asked <= current || asked > longest {
                return Err(ServiceError::invalid(
                    "request.reply_due_date",
                    format!("must be after the day now due ({current}) and at most {longest} ({} months after assignment)", settings.max_reply_months),
                )
                .into());
            }
        } else {
            let days = office_store::calendar_days(
                change.conn(),
                &id.committee,
                assigned,
                assigned + time::Duration::days(120),
            )
            .await
            .map_err(classify_db_error)?;
            let calendar = Calendar::new(days.into_iter().map(|d| (d.day, d.working)));
            let last = calendar.window_end(
                assigned,
                settings.reassignment_days as u32,
                settings.reassignment_working_days,
            );
            if self.db.today() > last {
                return Err(blocked(
                    &p,
                    "REASSIGNMENT_WINDOW",
                    format!(
                        "the time to ask for reassignment ended on {last} ({} {}days after assignment on {assigned}); a unit may not pass a proposal on by itself",
                        settings.reassignment_days,
                        if settings.reassignment_working_days { "working " } else { "" }
                    ),
                )
                .into());
            }
        }
        let rid = Uuid::now_v7();
        if let Err(e) = hstore::insert_request(
            change.conn(),
            rid,
            p.row.id,
            unit,
            input.kind as i16,
            &reason,
            asked_due,
            &actor.subject,
        )
        .await
        {
            if constraint_violated(&e, "handling_request_open_key") {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    "the unit already has a request of this kind waiting for the office",
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let row = hstore::requests(change.conn(), p.row.id, Some(rid))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the request just made is gone"))?;
        let made = request_message(&id.committee, &row);
        change.audit(&id.committee, &made.name, None, Some(to_json(&made)));
        change.commit().await?;
        Ok(Response::new(pb::CreateHandlingRequestResponse {
            request: Some(made),
        }))
    }

    pub(super) async fn list_handling_requests_impl(
        &self,
        request: Request<pb::ListHandlingRequestsRequest>,
    ) -> Result<Response<pb::ListHandlingRequestsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = proposal_name("parent", &parent)?;
        let actor = self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.visible(&mut conn, &actor, &parent, &id).await?;
        let rows = hstore::requests(&mut conn, id.id, None)
            .await
            .map_err(classify_db_error)?;
        let own = unit_id(&actor);
        Ok(Response::new(pb::ListHandlingRequestsResponse {
            requests: rows
                .iter()
                .filter(|r| actor.role != Role::HandlingUnit || Some(r.unit_id) == own)
                .map(|r| request_message(&id.committee, r))
                .collect(),
        }))
    }

    pub(super) async fn decide_handling_request_impl(
        &self,
        request: Request<pb::DecideHandlingRequestRequest>,
    ) -> Result<Response<pb::DecideHandlingRequestResponse>, Status> {
        let req = request.get_ref();
        let (parent, rid) = sub_name("name", &req.name, "requests")?;
        let reason = line(&req.reason, usize::from(!req.grant), 500)
            .map_err(|e| ServiceError::invalid("reason", e))?;
        let granted_due = parse_date("reply_due_date", req.reply_due_date.as_ref())?;
        let proposal_name = ChildName::format(&parent.committee, "proposals", parent.id);
        let actor = self
            .db
            .caller(&request, &parent.committee, &req.name)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &proposal_name, &parent).await?;
        let r = hstore::requests(change.conn(), p.row.id, Some(rid))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        if r.state != pb::HandlingRequestState::Pending as i16 {
            return Err(ServiceError::failed_precondition(
                "DECIDED",
                &req.name,
                format!("{} was decided already", req.name),
            )
            .with_metadata(
                "current_state",
                pb::HandlingRequestState::try_from(i32::from(r.state))
                    .unwrap_or_default()
                    .as_str_name(),
            )
            .into());
        }
        let role = actor.role.to_proto() as i16;
        let mut after = p.clone();
        if req.grant && !p.units.iter().any(|(u, _)| *u == r.unit_id) {
            return Err(blocked(
                &p,
                "NOT_HANDLING",
                format!(
                    "{} no longer handles {}: its request lapsed",
                    ChildName::format(&parent.committee, "units", r.unit_id),
                    proposal_name
                ),
            )
            .into());
        }
        if req.grant {
            if r.kind == pb::HandlingRequestKind::Reassignment as i16 {
                decide(&p, Step::Reassign, actor.role)?;
                let units = self
                    .check_units(
                        change.conn(),
                        &parent.committee,
                        &req.lead_unit,
                        &req.units,
                        "lead_unit",
                        "units",
                    )
                    .await?;
                if units.iter().any(|(u, _)| *u == r.unit_id) {
                    return Err(ServiceError::invalid(
                        "units",
                        "the unit that asked to be relieved cannot be assigned again",
                    )
                    .into());
                }
                hstore::decide_request(
                    change.conn(),
                    rid,
                    pb::HandlingRequestState::Granted as i16,
                    &actor.subject,
                    role,
                    &reason,
                    None,
                )
                .await
                .map_err(classify_db_error)?;
                hstore::supersede_replies(change.conn(), p.row.id, p.row.handling_round, None)
                    .await
                    .map_err(classify_db_error)?;
                hstore::close_open_requests(change.conn(), p.row.id, &actor.subject, role)
                    .await
                    .map_err(classify_db_error)?;
                store::end_assignments(change.conn(), p.row.id, p.row.handling_round)
                    .await
                    .map_err(classify_db_error)?;
                let why = format!(
                    "reassigned at the request of {}: {}",
                    ChildName::format(&parent.committee, "units", r.unit_id),
                    r.reason
                );
                after = self
                    .assign_units(
                        &mut change,
                        &p,
                        Step::Reassign,
                        &units,
                        p.row.handling_round + 1,
                        &why,
                    )
                    .await?;
            } else {
                let to = decide(&p, Step::Extend, actor.role)?;
                let (settings, _) = office_store::settings(change.conn(), &parent.committee)
                    .await
                    .map_err(classify_db_error)?;
                let assigned = p.row.assign_date.ok_or_else(|| {
                    ServiceError::internal("an assigned proposal with no assignment day")
                })?;
                let due = granted_due
                    .or(r.reply_due)
                    .ok_or_else(|| ServiceError::invalid("reply_due_date", "required"))?;
                let longest = add_months(assigned, settings.max_reply_months as u32);
                if due > longest || Some(due) <= p.row.reply_due {
                    return Err(ServiceError::invalid(
                        "reply_due_date",
                        format!("must be after the day now due and at most {longest} ({} months after assignment)", settings.max_reply_months),
                    )
                    .into());
                }
                hstore::decide_request(
                    change.conn(),
                    rid,
                    pb::HandlingRequestState::Granted as i16,
                    &actor.subject,
                    role,
                    &reason,
                    Some(due),
                )
                .await
                .map_err(classify_db_error)?;
                after = self
                    .moved(
                        &mut change,
                        &p,
                        Step::Extend,
                        store::Moved {
                            state: to.number(),
                            reply_due: Some(due),
                            ..Default::default()
                        },
                        &format!("extended to {due}: {}", r.reason),
                    )
                    .await?;
            }
        } else {
            hstore::decide_request(
                change.conn(),
                rid,
                pb::HandlingRequestState::Refused as i16,
                &actor.subject,
                role,
                &reason,
                None,
            )
            .await
            .map_err(classify_db_error)?;
        }
        let decided = hstore::requests(change.conn(), p.row.id, Some(rid))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the request just decided is gone"))?;
        let (before_msg, after_msg) = (
            request_message(&parent.committee, &r),
            request_message(&parent.committee, &decided),
        );
        change.audit(
            &parent.committee,
            &req.name,
            Some(to_json(&before_msg)),
            Some(to_json(&after_msg)),
        );
        change.commit().await?;
        Ok(Response::new(pb::DecideHandlingRequestResponse {
            request: Some(after_msg),
            proposal: Some(after.message),
        }))
    }

    pub(super) async fn draft_reply_impl(
        &self,
        request: Request<pb::DraftReplyRequest>,
    ) -> Result<Response<pb::DraftReplyResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("parent", &req.parent)?;
        let input = req
            .reply
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("reply", "required"))?;
        let mut errors = Violations::default();
        let text = take_paragraphs(&mut errors, "reply.text", &input.text, 10, 20000);
        let contact_date = parse_date("reply.contact_date", input.contact_date.as_ref())?;
        errors.check(
            input.contacted_proposers && contact_date.is_none(),
            "reply.contact_date",
            "required when the unit talked with the proposers",
        );
        errors.check(
            contact_date.is_some_and(|d| d > self.db.today()),
            "reply.contact_date",
            "must not be in the future",
        );
        errors.check(
            input.result_category.trim().is_empty(),
            "reply.result_category",
            "required",
        );
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.parent).await?;
        let unit = acting_unit(&actor, "reply.unit", &input.unit, &id.committee)?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.parent, &id).await?;
        let (settings, _) = office_store::settings(change.conn(), &id.committee)
            .await
            .map_err(classify_db_error)?;
        let category = input.result_category.trim();
        if settings.category(category).is_none() {
            return Err(ServiceError::invalid(
                "reply.result_category",
                format!(
                    "`{category}` is not a result category of committees/{}: use one of {}",
                    id.committee,
                    settings.codes()
                ),
            )
            .into());
        }
        being_handled(&p)?;
        if part_of(&p, unit)? == pb::UnitPart::CoHandler {
            return Err(ServiceError::permission_denied(
                "a co-handling unit does not reply: it sends its opinion to the lead unit with CountersignReply",
            )
            .into());
        }
        let words = ReplyText {
            text,
            result_category: category.to_owned(),
            contacted: input.contacted_proposers,
            contact_date,
        };
        let live = hstore::replies(
            change.conn(),
            &[p.row.id],
            None,
            Some((p.row.handling_round, unit)),
        )
        .await
        .map_err(classify_db_error)?
        .pop();
        let (before, reply_id) = match live {
            Some(r) => {
                let from = ReplyState::from_number(r.state)
                    .ok_or_else(|| ServiceError::internal("unknown reply state"))?;
                let name = sub_format(&id.committee, p.row.id, "replies", r.id);
                from.transition(ReplyStep::Edit, actor.role)
                    .map_err(|e| reply_refused(e, from, &name))?;
                etag::check(&input.etag, r.revision, &name)?;
                hstore::rewrite_reply(change.conn(), r.id, &words)
                    .await
                    .map_err(classify_db_error)?;
                let signs = hstore::countersignatures(change.conn(), &[r.id])
                    .await
                    .map_err(classify_db_error)?;
                (Some(reply(&id.committee, &r, &signs)), r.id)
            }
            None => {
                let rid = Uuid::now_v7();
                hstore::insert_reply(
                    change.conn(),
                    rid,
                    p.row.id,
                    p.row.handling_round,
                    unit,
                    &words,
                )
                .await
                .map_err(classify_db_error)?;
                (None, rid)
            }
        };
        let row = hstore::replies(change.conn(), &[p.row.id], Some(reply_id), None)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the reply just written is gone"))?;
        let after = reply(&id.committee, &row, &[]);
        change.audit(
            &id.committee,
            &after.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::DraftReplyResponse { reply: Some(after) }))
    }

    pub(super) async fn countersign_reply_impl(
        &self,
        request: Request<pb::CountersignReplyRequest>,
    ) -> Result<Response<pb::CountersignReplyResponse>, Status> {
        let req = request.get_ref();
        let (parent, _) = sub_name("name", &req.name, "replies")?;
        let opinion =
            line(&req.opinion, 1, 2000).map_err(|e| ServiceError::invalid("opinion", e))?;
        let actor = self
            .db
            .caller(&request, &parent.committee, &req.name)
            .await?;
        let unit = acting_unit(&actor, "unit", &req.unit, &parent.committee)?;
        let mut change = self.db.change(&actor).await?;
        let (p, r) = self.locked_reply(&mut change, &req.name).await?;
        being_handled(&p)?;
        if part_of(&p, unit)? != pb::UnitPart::CoHandler || r.handling_round != p.row.handling_round
        {
            return Err(ServiceError::permission_denied(format!(
                "only a co-handling unit of the current round countersigns {}",
                req.name
            ))
            .into());
        }
        let from = ReplyState::from_number(r.state)
            .ok_or_else(|| ServiceError::internal("unknown reply state"))?;
        from.transition(ReplyStep::Countersign, actor.role)
            .map_err(|e| reply_refused(e, from, &req.name))?;
        let signs = hstore::countersignatures(change.conn(), &[r.id])
            .await
            .map_err(classify_db_error)?;
        let before = reply(&parent.committee, &r, &signs);
        hstore::countersign(change.conn(), r.id, unit, &opinion)
            .await
            .map_err(classify_db_error)?;
        let after = self.reply_after(&mut change, &parent.committee, &r).await?;
        change.audit(
            &parent.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::CountersignReplyResponse {
            reply: Some(after),
        }))
    }

    pub(super) async fn submit_reply_impl(
        &self,
        request: Request<pb::SubmitReplyRequest>,
    ) -> Result<Response<pb::SubmitReplyResponse>, Status> {
        let req = request.get_ref();
        let (parent, _) = sub_name("name", &req.name, "replies")?;
        let actor = self
            .db
            .caller(&request, &parent.committee, &req.name)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let (p, r) = self.locked_reply(&mut change, &req.name).await?;
        if actor.role == Role::HandlingUnit && unit_id(&actor) != Some(r.unit_id) {
            return Err(
                ServiceError::permission_denied("a unit submits only its own replies").into(),
            );
        }
        being_handled(&p)?;
        etag::check(&req.etag, r.revision, &req.name)?;
        let from = ReplyState::from_number(r.state)
            .ok_or_else(|| ServiceError::internal("unknown reply state"))?;
        let to = from
            .transition(ReplyStep::Submit, actor.role)
            .map_err(|e| reply_refused(e, from, &req.name))?;
        let signs = hstore::countersignatures(change.conn(), &[r.id])
            .await
            .map_err(classify_db_error)?;
        if part_of(&p, r.unit_id)? == pb::UnitPart::Lead {
            let missing: Vec<String> = self
                .read(change.conn(), &parent.committee, &[p.row.id])
                .await?
                .pop()
                .map(|v| v.message.assignments)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a.part == pb::UnitPart::CoHandler as i32)
                .filter(|a| {
                    !signs
                        .iter()
                        .any(|s| ChildName::format(&parent.committee, "units", s.unit_id) == a.unit)
                })
                .map(|a| a.unit_display_name)
                .collect();
            if !missing.is_empty() {
                return Err(blocked(
                    &p,
                    "COUNTERSIGNATURES",
                    format!(
                        "the co-handling units have not countersigned yet: {}",
                        missing.join(", ")
                    ),
                )
                .into());
            }
        }
        let before = reply(&parent.committee, &r, &signs);
        let on_time = p.row.reply_due.is_none_or(|due| self.db.today() <= due);
        hstore::move_reply(
            change.conn(),
            r.id,
            to.number(),
            Some(on_time),
            true,
            None,
            None,
        )
        .await
        .map_err(classify_db_error)?;
        let after = self.reply_after(&mut change, &parent.committee, &r).await?;
        change.audit(
            &parent.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::SubmitReplyResponse {
            reply: Some(after),
        }))
    }

    pub(super) async fn review_reply_impl(
        &self,
        request: Request<pb::ReviewReplyRequest>,
    ) -> Result<Response<pb::ReviewReplyResponse>, Status> {
        let req = request.get_ref();
        let (parent, _) = sub_name("name", &req.name, "replies")?;
        let reason = line(&req.reason, 0, 500).map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self
            .db
            .caller(&request, &parent.committee, &req.name)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let (p, r) = self.locked_reply(&mut change, &req.name).await?;
        let (settings, _) = office_store::settings(change.conn(), &parent.committee)
            .await
            .map_err(classify_db_error)?;
        let changed = req.result_category.trim();
        if !changed.is_empty() && settings.category(changed).is_none() {
            return Err(ServiceError::invalid(
                "result_category",
                format!(
                    "`{changed}` is not a result category of committees/{}: use one of {}",
                    parent.committee,
                    settings.codes()
                ),
            )
            .into());
        }
        let recategorised = !changed.is_empty() && changed != r.result_category;
        if (!req.approve || recategorised) && reason.is_empty() {
            return Err(ServiceError::invalid(
                "reason",
                "required when a reply is returned or its category changed",
            )
            .into());
        }
        let from = ReplyState::from_number(r.state)
            .ok_or_else(|| ServiceError::internal("unknown reply state"))?;
        let step = if req.approve {
            ReplyStep::Approve
        } else {
            ReplyStep::Return
        };
        let to = from
            .transition(step, actor.role)
            .map_err(|e| reply_refused(e, from, &req.name))?;
        being_handled(&p)?;
        let signs = hstore::countersignatures(change.conn(), &[r.id])
            .await
            .map_err(classify_db_error)?;
        let before = reply(&parent.committee, &r, &signs);
        let role = actor.role.to_proto() as i16;
        hstore::move_reply(
            change.conn(),
            r.id,
            to.number(),
            None,
            false,
            Some((&actor.subject, role, &reason)),
            recategorised.then_some(changed),
        )
        .await
        .map_err(classify_db_error)?;
        let after = self.reply_after(&mut change, &parent.committee, &r).await?;
        change.audit(
            &parent.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        let mut proposal = p.clone();
        // The last answering unit's approval answers the proposal.
        if to == ReplyState::Approved {
            let replies = hstore::replies(change.conn(), &[p.row.id], None, None)
                .await
                .map_err(classify_db_error)?;
            let approved = |unit: Uuid| {
                replies.iter().find(|x| {
                    x.unit_id == unit
                        && x.handling_round == p.row.handling_round
                        && x.state == ReplyState::Approved.number()
                })
            };
            let answering: Vec<Uuid> = p
                .units
                .iter()
                .filter(|(_, part)| *part != pb::UnitPart::CoHandler as i16)
                .map(|(u, _)| *u)
                .collect();
            if answering.iter().all(|u| approved(*u).is_some()) {
                let first = answering.first().and_then(|u| approved(*u));
                let category = first.map(|x| {
                    x.reviewed_category
                        .clone()
                        .unwrap_or_else(|| x.result_category.clone())
                });
                let step_to = decide(&p, Step::Answer, actor.role)?;
                // What units asked for in the round lapses with it.
                hstore::close_open_requests(change.conn(), p.row.id, &actor.subject, role)
                    .await
                    .map_err(classify_db_error)?;
                proposal = self
                    .moved(
                        &mut change,
                        &p,
                        Step::Answer,
                        store::Moved {
                            state: step_to.number(),
                            result_category: category,
                            replied: true,
                            ..Default::default()
                        },
                        &reason,
                    )
                    .await?;
            }
        }
        change.commit().await?;
        Ok(Response::new(pb::ReviewReplyResponse {
            reply: Some(after),
            proposal: Some(proposal.message),
        }))
    }

    pub(super) async fn list_replies_impl(
        &self,
        request: Request<pb::ListRepliesRequest>,
    ) -> Result<Response<pb::ListRepliesResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = proposal_name("parent", &parent)?;
        let actor = self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        let p = self.visible(&mut conn, &actor, &parent, &id).await?;
        let rows = hstore::replies(&mut conn, &[id.id], None, None)
            .await
            .map_err(classify_db_error)?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let signs = hstore::countersignatures(&mut conn, &ids)
            .await
            .map_err(classify_db_error)?;
        let office = matches!(
            actor.role,
            Role::Admin | Role::ProposalOffice | Role::Service | Role::Auditor
        );
        let own = unit_id(&actor);
        let handles = own.is_some_and(|u| p.units.iter().any(|(h, _)| *h == u));
        Ok(Response::new(pb::ListRepliesResponse {
            replies: rows
                .iter()
                .filter(|r| {
                    office
                        || handles
                        || r.state == ReplyState::Approved.number()
                        || (r.state == ReplyState::Superseded.number() && r.review_time.is_some())
                })
                .map(|r| reply(&id.committee, r, &signs))
                .collect(),
        }))
    }

    pub(super) async fn rate_proposal_impl(
        &self,
        request: Request<pb::RateProposalRequest>,
    ) -> Result<Response<pb::RateProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::Satisfaction>(req.satisfaction),
            "satisfaction",
            "must be SATISFIED, BASICALLY_SATISFIED or UNSATISFIED",
        );
        let unsatisfied = req.satisfaction == pb::Satisfaction::Unsatisfied as i32;
        let comment = take_line(
            &mut errors,
            "comment",
            &req.comment,
            usize::from(unsatisfied),
            1000,
        );
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let (member, by_staff) = match actor.role {
            Role::Member => {
                let me = member_id(&actor).ok_or_else(|| {
                    ServiceError::permission_denied("this member token names no member")
                })?;
                if !req.member.is_empty()
                    && ChildName::parse(&req.member, "members").map(|m| m.id) != Some(me)
                {
                    return Err(ServiceError::permission_denied(
                        "a member rates for itself; leave member empty",
                    )
                    .into());
                }
                (me, false)
            }
            _ => {
                let m = ChildName::parse_field("member", &req.member, "members")?;
                (m.id, true)
            }
        };
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.name, &id).await?;
        decide(&p, Step::Rate, actor.role)?;
        if !p
            .proposers
            .iter()
            .any(|(m, signed)| *m == member && *signed)
        {
            let who = ChildName::format(&id.committee, "members", member);
            return Err(if by_staff {
                ServiceError::invalid("member", format!("{who} is not a proposer of {}", req.name))
            } else {
                ServiceError::permission_denied(format!(
                    "only the proposers of {} rate it",
                    req.name
                ))
            }
            .into());
        }
        let rating = hstore::RatingRow {
            proposal_id: p.row.id,
            handling_round: p.row.handling_round,
            member_id: member,
            satisfaction: req.satisfaction as i16,
            comment,
            by_staff,
            entered_by: actor.subject.clone(),
            entered_role: actor.role.to_proto() as i16,
            enter_time: time::OffsetDateTime::now_utc(),
        };
        if !hstore::insert_rating(change.conn(), &rating)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::already_exists(
                &req.name,
                format!(
                    "{} already rated round {} of {}",
                    ChildName::format(&id.committee, "members", member),
                    p.row.handling_round,
                    req.name
                ),
            )
            .into());
        }
        let ratings = hstore::ratings(change.conn(), p.row.id, Some(p.row.handling_round))
            .await
            .map_err(classify_db_error)?;
        let signed = p.proposers.iter().filter(|(_, s)| *s).count();
        let unsatisfied = ratings
            .iter()
            .any(|r| r.satisfaction == pb::Satisfaction::Unsatisfied as i16);
        // Handled once more after an unsatisfied rating, once: after that
        // the ratings stand as given.
        let again = unsatisfied
            && store::rehandled(change.conn(), p.row.id)
                .await
                .map_err(classify_db_error)?
                == 0;
        let after = if ratings.len() >= signed {
            if again {
                // Handled once more, by the same units.
                let units: Vec<(Uuid, pb::UnitPart)> =
                    store::assignments(change.conn(), &[p.row.id])
                        .await
                        .map_err(classify_db_error)?
                        .iter()
                        .map(|a| {
                            (
                                a.unit_id,
                                pb::UnitPart::try_from(i32::from(a.part)).unwrap_or_default(),
                            )
                        })
                        .collect();
                store::end_assignments(change.conn(), p.row.id, p.row.handling_round)
                    .await
                    .map_err(classify_db_error)?;
                hstore::close_open_requests(
                    change.conn(),
                    p.row.id,
                    &actor.subject,
                    actor.role.to_proto() as i16,
                )
                .await
                .map_err(classify_db_error)?;
                self.assign_units(
                    &mut change,
                    &p,
                    Step::Rehandle,
                    &units,
                    p.row.handling_round + 1,
                    "a proposer is not satisfied: handled once more",
                )
                .await?
            } else {
                let to = decide(&p, Step::Settle, actor.role)?;
                self.moved(
                    &mut change,
                    &p,
                    Step::Settle,
                    store::Moved {
                        state: to.number(),
                        ..Default::default()
                    },
                    if unsatisfied {
                        "every proposer rated; handled once more already, the dissatisfaction stands"
                    } else {
                        "every proposer rated"
                    },
                )
                .await?
            }
        } else {
            self.stepped(&mut change, &p, Step::Rate, p.row.state, "", &actor)
                .await?
        };
        change.commit().await?;
        Ok(Response::new(pb::RateProposalResponse {
            rating: Some(rating_message(&id.committee, &rating)),
            proposal: Some(after.message),
        }))
    }

    pub(super) async fn list_ratings_impl(
        &self,
        request: Request<pb::ListRatingsRequest>,
    ) -> Result<Response<pb::ListRatingsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = proposal_name("parent", &parent)?;
        let actor = self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.visible(&mut conn, &actor, &parent, &id).await?;
        let rows = hstore::ratings(&mut conn, id.id, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListRatingsResponse {
            ratings: rows
                .iter()
                .map(|r| rating_message(&id.committee, r))
                .collect(),
        }))
    }

    pub(super) async fn close_proposal_impl(
        &self,
        request: Request<pb::CloseProposalRequest>,
    ) -> Result<Response<pb::CloseProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let reason = line(&req.reason, 0, 500).map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let p = self.lock(&mut change, &req.name, &id).await?;
        let to = decide(&p, Step::Close, actor.role)?;
        if p.state == State::Replied {
            let (settings, _) = office_store::settings(change.conn(), &id.committee)
                .await
                .map_err(classify_db_error)?;
            let replied = p
                .row
                .replied_time
                .map(cppcc_kit::clock::day_in_china)
                .unwrap_or_else(|| self.db.today());
            let last = replied + time::Duration::days(settings.rating_days.into());
            if self.db.today() <= last {
                return Err(ServiceError::failed_precondition(
                    "RATING_OPEN",
                    &req.name,
                    format!("its proposers have until {last} to rate the reply; close it after every proposer rated, or after that day"),
                )
                .with_metadata("current_state", p.state.to_proto().as_str_name())
                .into());
            }
            if reason.is_empty() {
                return Err(ServiceError::invalid(
                    "reason",
                    "required when closing before every proposer rated",
                )
                .into());
            }
            let unsatisfied = hstore::ratings(change.conn(), p.row.id, Some(p.row.handling_round))
                .await
                .map_err(classify_db_error)?
                .iter()
                .any(|r| r.satisfaction == pb::Satisfaction::Unsatisfied as i16);
            if unsatisfied
                && store::rehandled(change.conn(), p.row.id)
                    .await
                    .map_err(classify_db_error)?
                    == 0
            {
                return Err(blocked(
                    &p,
                    "UNSATISFIED",
                    "a proposer is not satisfied, so it is to be handled once more: enter the missing ratings on the members' behalf (RateProposal with member) instead of closing",
                )
                .into());
            }
        }
        let after = self
            .moved(
                &mut change,
                &p,
                Step::Close,
                store::Moved {
                    state: to.number(),
                    close: true,
                    ..Default::default()
                },
                &reason,
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::CloseProposalResponse {
            proposal: Some(after.message),
        }))
    }
}

fn rating_message(committee: &str, r: &hstore::RatingRow) -> pb::Rating {
    pb::Rating {
        member: ChildName::format(committee, "members", r.member_id),
        handling_round: r.handling_round.into(),
        satisfaction: r.satisfaction.into(),
        comment: r.comment.clone(),
        entered_by_staff: r.by_staff,
        entered: Some(stamp(&r.entered_by, r.entered_role, r.enter_time, "")),
    }
}
