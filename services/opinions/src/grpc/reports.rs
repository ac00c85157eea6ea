//! `cppcc.opinions.v1.OpinionReportService`: reports, their review, and
//! what follows acceptance.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::convert::{date, is_set};
use cppcc_kit::names::{ChildName, committee_name, parse_committee};
use cppcc_kit::text::{take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::common::v1::DutyKind;

use super::*;
use crate::domain::{HandlingStep, ReviewStep};
use crate::store::reports::{Filter, ForwardRow, HandlingRow};
use cppcc_kit::instruction::StoredInstruction;

/// A report's title and text limits.
const TITLE: (usize, usize) = (4, 200);
const CONTENT: (usize, usize) = (10, 20_000);

impl Api {
    /// Locks report `name` for a change by the caller of `change`, and
    /// reads it; not found when the caller may not see it.
    pub(super) async fn locked(
        &self,
        change: &mut Change,
        name: &str,
    ) -> Result<(ReportRow, pb::OpinionReport), ServiceError> {
        let id = ChildName::parse_field("name", name, "opinionReports")?;
        let ids = [id.id];
        let filter = visible(
            change.actor(),
            Filter {
                ids: Some(&ids),
                lock: true,
                ..Default::default()
            },
        );
        let row = store::reports::list(change.conn(), &id.committee, filter)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(name))?;
        let before = view(change.conn(), std::slice::from_ref(&row))
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found(name))?;
        Ok((row, before))
    }

    /// Opens a change on report `name` for its caller.
    async fn open<T>(
        &self,
        request: &Request<T>,
        name: &str,
    ) -> Result<(Change, ReportRow, pb::OpinionReport), ServiceError> {
        let id = ChildName::parse_field("name", name, "opinionReports")?;
        let actor = self.db.caller(request, &id.committee, name).await?;
        let mut change = self.db.change(&actor).await?;
        let (row, before) = self.locked(&mut change, name).await?;
        Ok((change, row, before))
    }

    /// Opens a change on handling `name` (`…/handlings/{id}`) for the
    /// information centre: the change, the report, its view, and the
    /// handling.
    async fn open_handling<T>(
        &self,
        request: &Request<T>,
        name: &str,
    ) -> Result<(Change, ReportRow, pb::OpinionReport, HandlingRow), ServiceError> {
        let (report, hid) = sub_name("name", name, "handlings")?;
        let report_name = ChildName::format(&report.committee, "opinionReports", report.id);
        let (mut change, row, before) = self.open(request, &report_name).await?;
        let h = store::reports::handlings(change.conn(), &[row.id])
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .find(|h| h.id == hid)
            .ok_or_else(|| ServiceError::not_found(name))?;
        Ok((change, row, before, h))
    }

    /// Who the contributor of a new report is: (kind, member, informant,
    /// staff, display name, station).
    async fn contributor(
        &self,
        committee: &str,
        actor: &Actor,
        input: &pb::OpinionReport,
        station: Option<Uuid>,
    ) -> Result<Contributor, ServiceError> {
        let given = [
            !input.member.is_empty(),
            !input.informant.is_empty(),
            !input.staff.is_empty(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(ServiceError::invalid(
                "report.member",
                "give exactly one contributor: member, informant or staff",
            ));
        }
        if actor.role == Role::Member && actor.member.as_deref() != Some(input.member.as_str()) {
            return Err(ServiceError::permission_denied(
                "a member reports in its own name: set report.member to your own member name",
            ));
        }
        if given[0] {
            let m = self
                .members
                .in_office(
                    committee,
                    "report.member",
                    std::slice::from_ref(&input.member),
                )
                .await?
                .pop()
                .ok_or_else(|| ServiceError::invalid("report.member", "not a member"))?;
            return Ok(Contributor {
                kind: pb::ContributorKind::Member,
                member: Some(m.id),
                informant: None,
                staff: None,
                name: m.display_name,
                station,
            });
        }
        if given[1] {
            let i = self
                .members
                .informant(committee, "report.informant", &input.informant)
                .await?;
            if let Some(s) = station
                && i.station != Some(s)
            {
                return Err(ServiceError::invalid(
                    "report.liaison_station",
                    format!(
                        "{} reports through {}, not {}",
                        i.display_name,
                        i.station
                            .map(|s| ChildName::format(committee, "liaisonStations", s))
                            .unwrap_or_else(|| "no station".into()),
                        input.liaison_station
                    ),
                ));
            }
            return Ok(Contributor {
                kind: pb::ContributorKind::Informant,
                member: None,
                informant: Some(i.id),
                staff: None,
                station: i.station,
                name: i.display_name,
            });
        }
        let staff = match ChildName::parse(&input.staff, "opinionStaff") {
            Some(s) if s.committee == committee => s.id,
            _ => {
                return Err(ServiceError::invalid(
                    "report.staff",
                    format!(
                        "`{}` is not a staff member of committees/{committee} (`committees/{committee}/opinionStaff/{{id}}`)",
                        input.staff
                    ),
                ));
            }
        };
        let mut conn = self.db.acquire().await?;
        let s = store::staff(&mut conn, committee, Some(&[staff]))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| {
                ServiceError::invalid(
                    "report.staff",
                    format!("{} is not on the quota roster", input.staff),
                )
            })?;
        Ok(Contributor {
            kind: pb::ContributorKind::Staff,
            member: None,
            informant: None,
            staff: Some(s.id),
            name: s.display_name,
            station,
        })
    }

    /// A new report, recorded, credited and published.
    async fn insert_report(
        &self,
        change: &mut Change,
        row: &ReportRow,
    ) -> Result<pb::OpinionReport, ServiceError> {
        store::reports::insert(change.conn(), row)
            .await
            .map_err(classify_db_error)?;
        let name = ChildName::format(&row.committee_id, "opinionReports", row.id);
        credit(
            change,
            row,
            DutyKind::OpinionSubmitted,
            row.submit_day,
            "反映社情民意信息",
            &name,
        );
        let (_, made) = changed(change, None, &row.committee_id, row.id).await?;
        Ok(made)
    }
}

/// Writes handling `h` (and an added follow-up), then the report's
/// change; the report as it now is.
async fn write_handling(
    change: &mut Change,
    row: &ReportRow,
    before: &pb::OpinionReport,
    h: &HandlingRow,
    follow_up: Option<&serde_json::Value>,
) -> Result<pb::OpinionReport, ServiceError> {
    store::reports::update_handling(change.conn(), h, follow_up)
        .await
        .map_err(classify_db_error)?;
    store::reports::touch(change.conn(), row.id)
        .await
        .map_err(classify_db_error)?;
    Ok(changed(change, Some(before), &row.committee_id, row.id)
        .await?
        .1)
}

struct Contributor {
    kind: pb::ContributorKind,
    member: Option<Uuid>,
    informant: Option<Uuid>,
    staff: Option<Uuid>,
    name: String,
    station: Option<Uuid>,
}

fn new_row(
    committee: &str,
    title: String,
    content: String,
    category: i16,
    who: Contributor,
    township: String,
    day: time::Date,
) -> ReportRow {
    let now = time::OffsetDateTime::now_utc();
    ReportRow {
        id: Uuid::now_v7(),
        committee_id: committee.to_owned(),
        title,
        content,
        category,
        contributor_kind: who.kind as i16,
        member_id: who.member,
        informant_id: who.informant,
        staff_id: who.staff,
        contributor_name: who.name,
        station_id: who.station,
        township,
        submit_day: day,
        source_proposal: None,
        review_state: Review::Submitted.number(),
        review_reason: String::new(),
        review_day: None,
        original_title: None,
        original_content: None,
        instructions: serde_json::json!([]),
        create_time: now,
        update_time: now,
    }
}

#[tonic::async_trait]
impl pb::opinion_report_service_server::OpinionReportService for Api {
    async fn create_opinion_report(
        &self,
        request: Request<pb::CreateOpinionReportRequest>,
    ) -> Result<Response<pb::CreateOpinionReportResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .report
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("report", "required"))?;
        let mut errors = Violations::default();
        let title = take_line(&mut errors, "report.title", &input.title, TITLE.0, TITLE.1);
        let content = take_paragraphs(
            &mut errors,
            "report.content",
            &input.content,
            CONTENT.0,
            CONTENT.1,
        );
        errors.check(
            !is_set::<pb::OpinionCategory>(input.category),
            "report.category",
            "must be one of ECONOMY, RURAL, LIVELIHOOD, ENVIRONMENT, CULTURE_TOURISM, HEALTH, EDUCATION, GOVERNANCE, OTHER",
        );
        let township = take_line(&mut errors, "report.township", &input.township, 0, 40);
        let station = if input.liaison_station.is_empty() {
            None
        } else {
            match ChildName::parse(&input.liaison_station, "liaisonStations") {
                Some(s) if s.committee == committee => Some(s.id),
                _ => {
                    errors.add(
                        "report.liaison_station",
                        format!(
                            "`{}` is not a liaison station of {} (`{}/liaisonStations/{{id}}`)",
                            input.liaison_station, req.parent, req.parent
                        ),
                    );
                    None
                }
            }
        };
        errors.finish()?;
        let day = day_field(
            self.db.today(),
            "report.submit_date",
            input.submit_date.as_ref(),
            None,
        )?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let who = self.contributor(&committee, &actor, input, station).await?;
        let row = new_row(
            &committee,
            title,
            content,
            input.category as i16,
            who,
            township,
            day,
        );
        let name = ChildName::format(&committee, "opinionReports", row.id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let (_, r) = self.locked(&mut change, &existing).await?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateOpinionReportResponse {
                report: Some(r),
            }));
        }
        let made = self.insert_report(&mut change, &row).await?;
        change.commit().await?;
        Ok(Response::new(pb::CreateOpinionReportResponse {
            report: Some(made),
        }))
    }

    async fn get_opinion_report(
        &self,
        request: Request<pb::GetOpinionReportRequest>,
    ) -> Result<Response<pb::GetOpinionReportResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "opinionReports")?;
        let actor = self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let ids = [id.id];
        let filter = visible(
            &actor,
            Filter {
                ids: Some(&ids),
                ..Default::default()
            },
        );
        let rows = store::reports::list(&mut conn, &id.committee, filter)
            .await
            .map_err(classify_db_error)?;
        let r = view(&mut conn, &rows)
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetOpinionReportResponse {
            report: Some(r),
        }))
    }

    async fn list_opinion_reports(
        &self,
        request: Request<pb::ListOpinionReportsRequest>,
    ) -> Result<Response<pb::ListOpinionReportsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        let review_state = match req.review_state {
            0 => None,
            n if is_set::<pb::ReviewState>(n) => Some(n as i16),
            _ => {
                return Err(ServiceError::invalid(
                    "review_state",
                    "must be SUBMITTED, IN_REVIEW, ACCEPTED or NOT_ACCEPTED, or unset",
                )
                .into());
            }
        };
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        // What the caller sees is part of the list a token belongs to.
        let page = cppcc_kit::page::ListQuery::fixed(
            &pages::REPORTS,
            req.page_size,
            &req.page_token,
            &[
                &committee,
                &year.to_string(),
                &req.review_state.to_string(),
                &actor.subject,
            ],
        )?;
        let mut conn = self.db.acquire().await?;
        let filter = visible(
            &actor,
            Filter {
                year: Some(year.into()),
                review_state,
                after: pages::report_after(&page),
                limit: Some(page.fetch_limit()),
                ..Default::default()
            },
        );
        let rows = store::reports::list(&mut conn, &committee, filter)
            .await
            .map_err(classify_db_error)?;
        let (rows, next_page_token) = page.page(rows);
        Ok(Response::new(pb::ListOpinionReportsResponse {
            reports: view(&mut conn, &rows).await?,
            next_page_token,
        }))
    }

    async fn start_opinion_review(
        &self,
        request: Request<pb::StartOpinionReviewRequest>,
    ) -> Result<Response<pb::StartOpinionReviewResponse>, Status> {
        let name = request.get_ref().name.clone();
        let (mut change, row, before) = self.open(&request, &name).await?;
        let to = review_step(&row, ReviewStep::Start, &name)?;
        store::reports::set_review(change.conn(), row.id, to.number(), "", None)
            .await
            .map_err(classify_db_error)?;
        let (_, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        change.commit().await?;
        Ok(Response::new(pb::StartOpinionReviewResponse {
            report: Some(after),
        }))
    }

    async fn accept_opinion_report(
        &self,
        request: Request<pb::AcceptOpinionReportRequest>,
    ) -> Result<Response<pb::AcceptOpinionReportResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let edited = !req.title.is_empty() || !req.content.is_empty();
        let (title, content) = if edited {
            (
                take_line(&mut errors, "title", &req.title, TITLE.0, TITLE.1),
                take_paragraphs(&mut errors, "content", &req.content, CONTENT.0, CONTENT.1),
            )
        } else {
            Default::default()
        };
        errors.finish()?;
        let (mut change, row, before) = self.open(&request, &req.name).await?;
        let to = review_step(&row, ReviewStep::Accept, &req.name)?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((row.submit_day, "the day it was submitted")),
        )?;
        if edited {
            store::reports::edit(change.conn(), row.id, &title, &content)
                .await
                .map_err(classify_db_error)?;
        }
        store::reports::set_review(change.conn(), row.id, to.number(), "", Some(day))
            .await
            .map_err(classify_db_error)?;
        let (row, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        credit(
            &mut change,
            &row,
            DutyKind::OpinionAdopted,
            day,
            "社情民意信息被采用",
            &after.name,
        );
        change.commit().await?;
        Ok(Response::new(pb::AcceptOpinionReportResponse {
            report: Some(after),
        }))
    }

    async fn reject_opinion_report(
        &self,
        request: Request<pb::RejectOpinionReportRequest>,
    ) -> Result<Response<pb::RejectOpinionReportResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let reason = take_paragraphs(&mut errors, "reason", &req.reason, 2, 2000);
        errors.finish()?;
        let (mut change, row, before) = self.open(&request, &req.name).await?;
        let to = review_step(&row, ReviewStep::Reject, &req.name)?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((row.submit_day, "the day it was submitted")),
        )?;
        store::reports::set_review(change.conn(), row.id, to.number(), &reason, Some(day))
            .await
            .map_err(classify_db_error)?;
        let (_, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        change.commit().await?;
        Ok(Response::new(pb::RejectOpinionReportResponse {
            report: Some(after),
        }))
    }

    async fn edit_opinion_report(
        &self,
        request: Request<pb::EditOpinionReportRequest>,
    ) -> Result<Response<pb::EditOpinionReportResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let title = take_line(&mut errors, "title", &req.title, TITLE.0, TITLE.1);
        let content = take_paragraphs(&mut errors, "content", &req.content, CONTENT.0, CONTENT.1);
        errors.finish()?;
        let (mut change, row, before) = self.open(&request, &req.name).await?;
        review_step(&row, ReviewStep::Edit, &req.name)?;
        store::reports::edit(change.conn(), row.id, &title, &content)
            .await
            .map_err(classify_db_error)?;
        let (_, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        change.commit().await?;
        Ok(Response::new(pb::EditOpinionReportResponse {
            report: Some(after),
        }))
    }

    async fn forward_opinion_report(
        &self,
        request: Request<pb::ForwardOpinionReportRequest>,
    ) -> Result<Response<pb::ForwardOpinionReportResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "opinionReports")?;
        let target = parse_committee("target", &req.target)?.to_owned();
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let parent = self.members.parent(&id.committee).await?;
        let Some(parent) = parent else {
            return Err(ServiceError::failed_precondition(
                "NO_PARENT",
                committee_name(&id.committee),
                format!(
                    "{} has no parent committee in the registry to forward to",
                    committee_name(&id.committee)
                ),
            )
            .into());
        };
        if target != parent {
            return Err(ServiceError::invalid(
                "target",
                format!(
                    "{} is not the parent of {}: reports are forwarded to committees/{parent}",
                    req.target,
                    committee_name(&id.committee)
                ),
            )
            .into());
        }
        let mut change = self.db.change(&actor).await?;
        let (row, before) = self.locked(&mut change, &req.name).await?;
        review_step(&row, ReviewStep::Use, &req.name)?;
        if let Some(open) = before
            .forwards
            .iter()
            .find(|f| f.target == req.target && f.state != pb::ForwardState::NotAdopted as i32)
        {
            return Err(ServiceError::already_exists(
                &open.name,
                format!(
                    "{} was already forwarded to {} ({})",
                    req.name, req.target, open.name
                ),
            )
            .into());
        }
        let review_day = row.review_day.unwrap_or(row.submit_day);
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((review_day, "the day it was accepted")),
        )?;
        let mut f = ForwardRow {
            id: Uuid::now_v7(),
            committee_id: row.committee_id.clone(),
            report_id: row.id,
            target: target.clone(),
            state: Forward::Pending.number(),
            forward_day: day,
            decision_day: None,
            decision_note: String::new(),
            failed_attempts: 0,
            last_error: String::new(),
        };
        let forward_name = format!("{}/forwards/{}", req.name, f.id);
        let delivery = pb::ReceiveForwardedReportRequest {
            parent: committee_name(&target),
            report: Some(pb::InboxReport {
                forward: forward_name.clone(),
                source_committee: committee_name(&row.committee_id),
                source_report: req.name.clone(),
                title: row.title.clone(),
                content: row.content.clone(),
                category: row.category.into(),
                contributor_display_name: row.contributor_name.clone(),
                forward_date: Some(date(day)),
                ..Default::default()
            }),
        };
        let remote = self.remotes.is_remote(&target);
        if !remote {
            f.state = Forward::Pending
                .transition(crate::domain::ForwardStep::Deliver)
                .ok()
                .flatten()
                .unwrap_or(Forward::Delivered)
                .number();
        }
        store::reports::insert_forward(change.conn(), &f)
            .await
            .map_err(classify_db_error)?;
        if remote {
            store::delivery::enqueue(
                change.conn(),
                "forward",
                &row.committee_id,
                &target,
                f.id,
                &prost::Message::encode_to_vec(&delivery),
            )
            .await
            .map_err(classify_db_error)?;
        } else {
            super::upward::receive(&mut change, &target, &delivery).await?;
        }
        store::reports::touch(change.conn(), row.id)
            .await
            .map_err(classify_db_error)?;
        let (_, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        change.commit().await?;
        if remote {
            self.remotes.ring();
        }
        let made = after
            .forwards
            .iter()
            .find(|x| x.name == forward_name)
            .cloned();
        Ok(Response::new(pb::ForwardOpinionReportResponse {
            report: Some(after),
            forward: made,
        }))
    }

    async fn send_opinion_report_to_units(
        &self,
        request: Request<pb::SendOpinionReportToUnitsRequest>,
    ) -> Result<Response<pb::SendOpinionReportToUnitsResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "opinionReports")?;
        let mut errors = Violations::default();
        errors.check(
            req.units.is_empty() || req.units.len() > 20,
            "units",
            "give 1 to 20 units",
        );
        let mut units: Vec<(Uuid, String)> = Vec::new();
        for (i, u) in req.units.iter().enumerate() {
            let display = take_line(
                &mut errors,
                &format!("units[{i}].display_name"),
                &u.display_name,
                2,
                60,
            );
            match ChildName::parse(&u.unit, "units") {
                Some(c) if c.committee == id.committee => {
                    if units.iter().any(|(x, _)| *x == c.id) {
                        errors.add(
                            format!("units[{i}].unit"),
                            format!("{} is given twice", u.unit),
                        );
                    }
                    units.push((c.id, display));
                }
                _ => errors.add(
                    format!("units[{i}].unit"),
                    format!(
                        "`{}` is not a unit of {} (`{}/units/{{id}}`)",
                        u.unit,
                        committee_name(&id.committee),
                        committee_name(&id.committee)
                    ),
                ),
            }
        }
        errors.finish()?;
        let (mut change, row, before) = self.open(&request, &req.name).await?;
        review_step(&row, ReviewStep::Use, &req.name)?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((
                row.review_day.unwrap_or(row.submit_day),
                "the day it was accepted",
            )),
        )?;
        for (unit, display) in units {
            if let Some(h) = before
                .handlings
                .iter()
                .find(|h| h.unit.ends_with(&unit.to_string()))
            {
                return Err(ServiceError::already_exists(
                    &h.name,
                    format!(
                        "{} was already sent to {} ({})",
                        req.name, h.unit_display_name, h.name
                    ),
                )
                .into());
            }
            store::reports::insert_handling(
                change.conn(),
                &HandlingRow {
                    id: Uuid::now_v7(),
                    committee_id: row.committee_id.clone(),
                    report_id: row.id,
                    unit_id: unit,
                    unit_name: display,
                    state: Handling::Sent.number(),
                    send_day: day,
                    feedback: String::new(),
                    feedback_day: None,
                    follow_ups: serde_json::json!([]),
                    close_day: None,
                },
            )
            .await
            .map_err(classify_db_error)?;
        }
        let (_, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        change.commit().await?;
        Ok(Response::new(pb::SendOpinionReportToUnitsResponse {
            report: Some(after),
        }))
    }

    async fn record_handling_feedback(
        &self,
        request: Request<pb::RecordHandlingFeedbackRequest>,
    ) -> Result<Response<pb::RecordHandlingFeedbackResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "opinionReports")?;
        let mut errors = Violations::default();
        let feedback = take_paragraphs(&mut errors, "feedback", &req.feedback, 2, 5000);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let unit_name = if actor.role == Role::HandlingUnit {
            let own = actor.unit.clone().unwrap_or_default();
            if !req.unit.is_empty() && req.unit != own {
                return Err(ServiceError::permission_denied(format!(
                    "a unit answers for itself ({own}), not for {}",
                    req.unit
                ))
                .into());
            }
            own
        } else {
            req.unit.clone()
        };
        let unit = match ChildName::parse(&unit_name, "units") {
            Some(u) if u.committee == id.committee => u.id,
            _ => {
                return Err(ServiceError::invalid(
                    "unit",
                    format!(
                        "`{unit_name}` is not a unit of {}",
                        committee_name(&id.committee)
                    ),
                )
                .into());
            }
        };
        let mut change = self.db.change(&actor).await?;
        let (row, before) = self.locked(&mut change, &req.name).await?;
        let mut handlings = store::reports::handlings(change.conn(), &[row.id])
            .await
            .map_err(classify_db_error)?;
        let sent_to: Vec<String> = handlings.iter().map(|h| h.unit_name.clone()).collect();
        let Some(h) = handlings.iter_mut().find(|h| h.unit_id == unit) else {
            return Err(ServiceError::failed_precondition(
                "NOT_SENT_TO_UNIT",
                &req.name,
                if sent_to.is_empty() {
                    format!(
                        "{} was not sent to any unit, so not to {unit_name}",
                        req.name
                    )
                } else {
                    format!(
                        "{} was not sent to {unit_name}; it was sent to {}",
                        req.name,
                        sent_to.join("、")
                    )
                },
            )
            .into());
        };
        let state = Handling::from_number(h.state).ok_or_else(|| {
            ServiceError::internal(format!(
                "handling {} has state {}, which is no state",
                h.id, h.state
            ))
        })?;
        let to = state
            .transition(HandlingStep::Answer)
            .map_err(|e| refused(&h_name(h), e))?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((h.send_day, "the day it was sent")),
        )?;
        h.state = to.number();
        h.feedback = feedback;
        h.feedback_day = Some(day);
        let after = write_handling(&mut change, &row, &before, h, None).await?;
        change.commit().await?;
        Ok(Response::new(pb::RecordHandlingFeedbackResponse {
            report: Some(after),
        }))
    }

    async fn record_handling_follow_up(
        &self,
        request: Request<pb::RecordHandlingFollowUpRequest>,
    ) -> Result<Response<pb::RecordHandlingFollowUpResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let note = take_paragraphs(&mut errors, "note", &req.note, 2, 2000);
        errors.finish()?;
        let (mut change, row, before, h) = self.open_handling(&request, &req.name).await?;
        let state = Handling::from_number(h.state).ok_or_else(|| {
            ServiceError::internal(format!(
                "handling {} has state {}, which is no state",
                h.id, h.state
            ))
        })?;
        state
            .transition(HandlingStep::FollowUp)
            .map_err(|e| refused(&req.name, e))?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((h.send_day, "the day it was sent")),
        )?;
        let stored = serde_json::to_value(StoredFollowUp {
            note,
            date: day.to_string(),
            actor: change.actor().subject.clone(),
        })
        .map_err(ServiceError::internal)?;
        let after = write_handling(&mut change, &row, &before, &h, Some(&stored)).await?;
        change.commit().await?;
        Ok(Response::new(pb::RecordHandlingFollowUpResponse {
            report: Some(after),
        }))
    }

    async fn close_handling(
        &self,
        request: Request<pb::CloseHandlingRequest>,
    ) -> Result<Response<pb::CloseHandlingResponse>, Status> {
        let req = request.get_ref();
        let (mut change, row, before, mut h) = self.open_handling(&request, &req.name).await?;
        let state = Handling::from_number(h.state).ok_or_else(|| {
            ServiceError::internal(format!(
                "handling {} has state {}, which is no state",
                h.id, h.state
            ))
        })?;
        let to = state
            .transition(HandlingStep::Close)
            .map_err(|e| refused(&req.name, e))?;
        let day = day_field(
            self.db.today(),
            "date",
            req.date.as_ref(),
            Some((h.feedback_day.unwrap_or(h.send_day), "the unit's feedback")),
        )?;
        h.state = to.number();
        h.close_day = Some(day);
        let after = write_handling(&mut change, &row, &before, &h, None).await?;
        change.commit().await?;
        Ok(Response::new(pb::CloseHandlingResponse {
            report: Some(after),
        }))
    }

    async fn add_opinion_instruction(
        &self,
        request: Request<pb::AddOpinionInstructionRequest>,
    ) -> Result<Response<pb::AddOpinionInstructionResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let (mut stored, given) = StoredInstruction::take(&mut errors, req.instruction.as_ref())?;
        errors.finish()?;
        let (mut change, row, before) = self.open(&request, &req.name).await?;
        review_step(&row, ReviewStep::Use, &req.name)?;
        let accepted = row.review_day.unwrap_or(row.submit_day);
        let day = given.expect("checked");
        if day > self.db.today() || day < accepted {
            return Err(ServiceError::invalid(
                "instruction.date",
                format!("must be from the day it was accepted ({accepted}) to today"),
            )
            .into());
        }
        stored.date = day.to_string();
        let leader_title = stored.leader_title.clone();
        let stored = stored.json()?;
        store::reports::add_instruction(change.conn(), row.id, &stored)
            .await
            .map_err(classify_db_error)?;
        let (row, after) = changed(&mut change, Some(&before), &row.committee_id, row.id).await?;
        credit(
            &mut change,
            &row,
            DutyKind::OpinionInstructed,
            day,
            &format!("社情民意信息获{leader_title}批示"),
            &format!("{}#instruction-{}", after.name, after.instructions.len()),
        );
        change.commit().await?;
        Ok(Response::new(pb::AddOpinionInstructionResponse {
            report: Some(after),
        }))
    }

    async fn record_upward_decision(
        &self,
        request: Request<pb::RecordUpwardDecisionRequest>,
    ) -> Result<Response<pb::RecordUpwardDecisionResponse>, Status> {
        let req = request.get_ref();
        let (report, fid) = sub_name("name", &req.name, "forwards")?;
        let decided_by = parse_committee("decided_by", &req.decided_by)?.to_owned();
        let mut errors = Violations::default();
        let note = take_paragraphs(&mut errors, "note", &req.note, 0, 2000);
        let day = cppcc_kit::convert::parse_date("date", req.date.as_ref())?;
        errors.check(day.is_none(), "date", "required");
        errors.finish()?;
        // The deciding committee's own call: its service, or its system
        // in the upper committee role.
        let actor = self.db.caller(&request, &decided_by, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let f = super::upward::decide_forward(
            &mut change,
            &report,
            fid,
            &decided_by,
            req.adopted,
            &note,
            day.expect("checked"),
        )
        .await?;
        change.commit().await?;
        Ok(Response::new(pb::RecordUpwardDecisionResponse {
            forward: Some(f),
        }))
    }

    async fn import_converted_proposal(
        &self,
        request: Request<pb::ImportConvertedProposalRequest>,
    ) -> Result<Response<pb::ImportConvertedProposalResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        let proposal = match ChildName::parse(&req.proposal, "proposals") {
            Some(p) if p.committee == committee => Some(p.id),
            _ => {
                errors.add(
                    "proposal",
                    format!("`{}` is not a proposal of {}", req.proposal, req.parent),
                );
                None
            }
        };
        let title = take_line(&mut errors, "title", &req.title, TITLE.0, TITLE.1);
        let content = take_paragraphs(&mut errors, "content", &req.content, 1, CONTENT.1);
        errors.finish()?;
        let proposal = proposal.expect("checked");
        let day = day_field(self.db.today(), "date", req.date.as_ref(), None)?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let existing = {
            let mut conn = self.db.acquire().await?;
            let rows = store::reports::list(
                &mut conn,
                &committee,
                Filter {
                    proposal: Some(proposal),
                    ..Default::default()
                },
            )
            .await
            .map_err(classify_db_error)?;
            view(&mut conn, &rows).await?.pop()
        };
        if let Some(r) = existing {
            return Ok(Response::new(pb::ImportConvertedProposalResponse {
                report: Some(r),
            }));
        }
        let m = self
            .members
            .in_office(&committee, "member", std::slice::from_ref(&req.member))
            .await?
            .pop()
            .ok_or_else(|| ServiceError::invalid("member", "not a member"))?;
        let mut row = new_row(
            &committee,
            title,
            content,
            pb::OpinionCategory::Other as i16,
            Contributor {
                kind: pb::ContributorKind::Member,
                member: Some(m.id),
                informant: None,
                staff: None,
                name: m.display_name,
                station: None,
            },
            String::new(),
            day,
        );
        row.source_proposal = Some(proposal);
        let mut change = self.db.change(&actor).await?;
        let made = self.insert_report(&mut change, &row).await?;
        change.commit().await?;
        Ok(Response::new(pb::ImportConvertedProposalResponse {
            report: Some(made),
        }))
    }

    async fn get_opinion_statistics(
        &self,
        request: Request<pb::GetOpinionStatisticsRequest>,
    ) -> Result<Response<pb::GetOpinionStatisticsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("committee", &req.committee)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.committee).await?;
        let term_start = self.members.term_start(&committee).await?;
        let first = time::Date::from_calendar_date(year.into(), time::Month::January, 1)
            .map_err(ServiceError::internal)?;
        let last = time::Date::from_calendar_date(year.into(), time::Month::December, 31)
            .map_err(ServiceError::internal)?;
        let mut conn = self.db.acquire().await?;
        let year_figures = store::reports::figures(&mut conn, &committee, first, last)
            .await
            .map_err(classify_db_error)?;
        // Without a term in the registry, the whole record (the CPPCC began
        // in 1949).
        let since = term_start.unwrap_or(
            time::Date::from_calendar_date(1949, time::Month::January, 1)
                .map_err(ServiceError::internal)?,
        );
        let term_figures = store::reports::figures(&mut conn, &committee, since, last)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetOpinionStatisticsResponse {
            statistics: Some(pb::OpinionStatistics {
                committee: committee_name(&committee),
                year: year.into(),
                term_start_date: term_start.map(date),
                year_figures: Some(figures(&committee, &year_figures)),
                term_figures: Some(figures(&committee, &term_figures)),
            }),
        }))
    }
}

fn h_name(h: &HandlingRow) -> String {
    format!(
        "{}/handlings/{}",
        ChildName::format(&h.committee_id, "opinionReports", h.report_id),
        h.id
    )
}

fn figures(committee: &str, f: &store::reports::Figures) -> pb::OpinionFigures {
    let n = |v: i64| v as i32;
    pb::OpinionFigures {
        submitted: n(f.submitted),
        submitted_by_members: n(f.by_members),
        submitted_by_informants: n(f.by_informants),
        submitted_by_staff: n(f.by_staff),
        accepted: n(f.accepted),
        not_accepted: n(f.not_accepted),
        published: n(f.published),
        bulletin_issues: n(f.bulletins),
        forwarded: n(f.forwarded),
        adopted_upward: n(f.adopted_upward),
        adoption_rate: if f.forwarded == 0 {
            0.0
        } else {
            f.adopted_upward as f64 / f.forwarded as f64
        },
        instructions: n(f.instructions),
        member_contributors: n(f.member_contributors),
        sent_for_handling: n(f.sent_for_handling),
        handlings_closed: n(f.handlings_closed),
        by_station: f
            .by_station
            .iter()
            .map(|(s, c)| pb::StationCount {
                liaison_station: ChildName::format(committee, "liaisonStations", *s),
                count: n(*c),
            })
            .collect(),
        by_category: f
            .by_category
            .iter()
            .map(|(k, c)| pb::CategoryCount {
                category: (*k).into(),
                count: n(*c),
            })
            .collect(),
    }
}
