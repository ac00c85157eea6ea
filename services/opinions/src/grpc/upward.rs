//! `cppcc.opinions.v1.UpwardInboxService`: the parent committee's inbox of
//! forwarded reports, and the way a decision goes back to the forwarding
//! committee (in the same deployment, in the same transaction; in another
//! one, through the delivery outbox).

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::convert::{date, is_set, parse_date};
use cppcc_kit::names::{ChildName, committee_id, committee_name, parse_committee};
use cppcc_kit::text::{take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::common::v1::DutyKind;

use super::*;
use crate::domain::{ForwardStep, Inbox};
use crate::store::inbox::InboxRow;

fn inbox(r: &InboxRow) -> pb::InboxReport {
    pb::InboxReport {
        name: ChildName::format(&r.committee_id, "inboxReports", r.id),
        forward: format!(
            "{}/forwards/{}",
            ChildName::format(&r.source_committee, "opinionReports", r.source_report),
            r.id
        ),
        source_committee: committee_name(&r.source_committee),
        source_report: ChildName::format(&r.source_committee, "opinionReports", r.source_report),
        title: r.title.clone(),
        content: r.content.clone(),
        category: r.category.into(),
        contributor_display_name: r.contributor_name.clone(),
        forward_date: Some(date(r.forward_day)),
        state: r.state.into(),
        decision_note: r.decision_note.clone(),
        decision_date: r.decision_day.map(date),
        receive_time: Some(cppcc_kit::convert::timestamp(r.receive_time)),
        decision_delivered: r.decision_delivered,
    }
}

/// The forward a delivered report names: (its report, its id), of the
/// source committee.
fn forward_of(field: &str, input: &pb::InboxReport) -> Result<(ChildName, Uuid), ServiceError> {
    let (report, id) = sub_name(field, &input.forward, "forwards")?;
    if committee_name(&report.committee) != input.source_committee
        || ChildName::format(&report.committee, "opinionReports", report.id) != input.source_report
    {
        return Err(ServiceError::invalid(
            field,
            "the forward must be of report.source_report, of report.source_committee",
        ));
    }
    Ok((report, id))
}

/// Takes forwarded report `req` into `target`'s inbox; the same forward
/// again changes nothing. The inbox report.
pub(super) async fn receive(
    change: &mut Change,
    target: &str,
    req: &pb::ReceiveForwardedReportRequest,
) -> Result<pb::InboxReport, ServiceError> {
    let input = req
        .report
        .as_ref()
        .ok_or_else(|| ServiceError::invalid("report", "required"))?;
    let (report, id) = forward_of("report.forward", input)?;
    let mut errors = Violations::default();
    let title = take_line(&mut errors, "report.title", &input.title, 1, 200);
    let content = take_paragraphs(&mut errors, "report.content", &input.content, 1, 20_000);
    let contributor = take_line(
        &mut errors,
        "report.contributor_display_name",
        &input.contributor_display_name,
        0,
        60,
    );
    errors.check(
        !is_set::<pb::OpinionCategory>(input.category),
        "report.category",
        "required",
    );
    let day = parse_date("report.forward_date", input.forward_date.as_ref())?;
    errors.check(day.is_none(), "report.forward_date", "required");
    errors.finish()?;
    let row = InboxRow {
        id,
        committee_id: target.to_owned(),
        source_committee: report.committee.clone(),
        source_report: report.id,
        title,
        content,
        category: input.category as i16,
        contributor_name: contributor,
        forward_day: day.expect("checked"),
        state: Inbox::Received.number(),
        decision_note: String::new(),
        decision_day: None,
        decision_delivered: false,
        receive_time: time::OffsetDateTime::now_utc(),
    };
    let new = store::inbox::insert(change.conn(), &row)
        .await
        .map_err(classify_db_error)?;
    let stored = store::inbox::list(change.conn(), target, Some(&[id]), None, false)
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| {
            ServiceError::already_exists(
                &input.forward,
                format!("{} was delivered to another committee", input.forward),
            )
        })?;
    let made = inbox(&stored);
    if new {
        change.audit(target, &made.name, None, Some(to_json(&made)));
        change.publish(
            target,
            &made.name,
            &pb::InboxReportChanged {
                report: Some(made.clone()),
            },
        );
    }
    Ok(made)
}

/// Records `decided_by`'s decision on forward `fid` of `report` (a report
/// of this deployment); the same decision again changes nothing.
pub(super) async fn decide_forward(
    change: &mut Change,
    report: &ChildName,
    fid: Uuid,
    decided_by: &str,
    adopted: bool,
    note: &str,
    day: time::Date,
) -> Result<pb::Forward, ServiceError> {
    let name = format!(
        "{}/forwards/{fid}",
        ChildName::format(&report.committee, "opinionReports", report.id)
    );
    let row = store::reports::list(
        change.conn(),
        &report.committee,
        store::reports::Filter {
            ids: Some(&[report.id]),
            lock: true,
            ..Default::default()
        },
    )
    .await
    .map_err(classify_db_error)?
    .pop()
    .ok_or_else(|| ServiceError::not_found(&name))?;
    let f = store::reports::forwards(change.conn(), Some(&[report.id]), Some(&[fid]), true)
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| ServiceError::not_found(&name))?;
    if f.target != decided_by {
        return Err(ServiceError::permission_denied(format!(
            "{name} was forwarded to committees/{}, not to {}: only the committee it was forwarded to decides on it",
            f.target,
            committee_name(decided_by)
        )));
    }
    let state = Forward::from_number(f.state).ok_or_else(|| {
        ServiceError::internal(format!(
            "forward {} has state {}, which is no state",
            f.id, f.state
        ))
    })?;
    let Some(to) = state
        .transition(ForwardStep::Decide { adopted })
        .map_err(|e| refused(&name, e))?
    else {
        return Ok(forward(&f));
    };
    if day < f.forward_day {
        return Err(ServiceError::invalid(
            "date",
            "must not be before the day it was forwarded",
        ));
    }
    let before = view(change.conn(), std::slice::from_ref(&row)).await?.pop();
    store::reports::set_forward(change.conn(), fid, to.number(), Some(day), note)
        .await
        .map_err(classify_db_error)?;
    store::reports::touch(change.conn(), row.id)
        .await
        .map_err(classify_db_error)?;
    let (row, after) = changed(change, before.as_ref(), &report.committee, report.id).await?;
    if adopted {
        credit(
            change,
            &row,
            DutyKind::OpinionAdoptedUpward,
            day,
            &format!("社情民意信息被{}采用", committee_name(decided_by)),
            &name,
        );
    }
    after
        .forwards
        .into_iter()
        .find(|x| x.name == name)
        .ok_or_else(|| ServiceError::internal("the forward just decided is gone"))
}

#[tonic::async_trait]
impl pb::upward_inbox_service_server::UpwardInboxService for Api {
    async fn receive_forwarded_report(
        &self,
        request: Request<pb::ReceiveForwardedReportRequest>,
    ) -> Result<Response<pb::ReceiveForwardedReportResponse>, Status> {
        let req = request.get_ref();
        let target = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .report
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("report", "required"))?;
        let source = committee_id(&input.source_committee)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "report.source_committee",
                    "required: `committees/{committee}`",
                )
            })?
            .to_owned();
        // The forwarding committee's own service delivers.
        let actor = self.db.caller(&request, &source, &input.forward).await?;
        if self.remotes.is_remote(&target) {
            return Err(ServiceError::failed_precondition(
                "NOT_SERVED_HERE",
                &req.parent,
                format!(
                    "{} is served by another deployment, not this one",
                    req.parent
                ),
            )
            .into());
        }
        let mut change = self.db.change(&actor).await?;
        let made = receive(&mut change, &target, req).await?;
        change.commit().await?;
        Ok(Response::new(pb::ReceiveForwardedReportResponse {
            report: Some(made),
        }))
    }

    async fn get_inbox_report(
        &self,
        request: Request<pb::GetInboxReportRequest>,
    ) -> Result<Response<pb::GetInboxReportResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "inboxReports")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let r = store::inbox::list(&mut conn, &id.committee, Some(&[id.id]), None, false)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetInboxReportResponse {
            report: Some(inbox(&r)),
        }))
    }

    async fn list_inbox_reports(
        &self,
        request: Request<pb::ListInboxReportsRequest>,
    ) -> Result<Response<pb::ListInboxReportsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let state = match req.state {
            0 => None,
            n if is_set::<pb::InboxState>(n) => Some(n as i16),
            _ => {
                return Err(ServiceError::invalid(
                    "state",
                    "must be RECEIVED, ADOPTED or NOT_ADOPTED, or unset",
                )
                .into());
            }
        };
        self.db.caller(&request, &committee, &req.parent).await?;
        let page = cppcc_kit::page::ListQuery::fixed(
            &pages::INBOX,
            req.page_size,
            &req.page_token,
            &[&committee, &req.state.to_string()],
        )?;
        let mut conn = self.db.acquire().await?;
        let rows = store::inbox::page(
            &mut conn,
            &committee,
            state,
            pages::inbox_after(&page),
            page.fetch_limit(),
        )
        .await
        .map_err(classify_db_error)?;
        let (rows, next_page_token) = page.page(rows);
        Ok(Response::new(pb::ListInboxReportsResponse {
            reports: rows.iter().map(inbox).collect(),
            next_page_token,
        }))
    }

    async fn decide_inbox_report(
        &self,
        request: Request<pb::DecideInboxReportRequest>,
    ) -> Result<Response<pb::DecideInboxReportResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "inboxReports")?;
        let mut errors = Violations::default();
        let note = take_paragraphs(&mut errors, "note", &req.note, 0, 2000);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let r = store::inbox::list(change.conn(), &id.committee, Some(&[id.id]), None, true)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let state = Inbox::from_number(r.state).ok_or_else(|| {
            ServiceError::internal(format!(
                "inbox report {} has state {}, which is no state",
                r.id, r.state
            ))
        })?;
        let to = state
            .decide(req.adopted)
            .map_err(|e| refused(&req.name, e))?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((r.forward_day, "the day it was forwarded")),
        )?;
        let before = inbox(&r);
        let remote = self.remotes.is_remote(&r.source_committee);
        if remote {
            let decision = pb::RecordUpwardDecisionRequest {
                name: before.forward.clone(),
                decided_by: committee_name(&id.committee),
                adopted: req.adopted,
                note: note.clone(),
                date: Some(date(day)),
            };
            store::delivery::enqueue(
                change.conn(),
                "decision",
                &id.committee,
                &r.source_committee,
                r.id,
                &prost::Message::encode_to_vec(&decision),
            )
            .await
            .map_err(classify_db_error)?;
        } else {
            let source = ChildName {
                committee: r.source_committee.clone(),
                id: r.source_report,
            };
            decide_forward(
                &mut change,
                &source,
                r.id,
                &id.committee,
                req.adopted,
                &note,
                day,
            )
            .await?;
        }
        store::inbox::decide(change.conn(), r.id, to.number(), &note, day, !remote)
            .await
            .map_err(classify_db_error)?;
        let after = store::inbox::list(change.conn(), &id.committee, Some(&[id.id]), None, false)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the inbox report just decided is gone"))?;
        let after = inbox(&after);
        change.audit(
            &id.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &id.committee,
            &req.name,
            &pb::InboxReportChanged {
                report: Some(after.clone()),
            },
        );
        change.commit().await?;
        if remote {
            self.remotes.ring();
        }
        Ok(Response::new(pb::DecideInboxReportResponse {
            report: Some(after),
        }))
    }
}
