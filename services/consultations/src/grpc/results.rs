//! `cppcc.consultations.v1.ConsultationResultService`: results and their
//! feedback, 《建言资政》 issues, and the statistics.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::instruction::StoredInstruction;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::{take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::consultations::v1 as pb;

use super::*;
use crate::domain::is_set;
use crate::domain::steps::{self, MEETING};
use crate::store::results::{self as store, ResultRow};

fn result(r: &ResultRow) -> pb::ConsultationResult {
    let c = &r.committee_id;
    pb::ConsultationResult {
        name: ChildName::format(c, "results", r.id),
        activity: ChildName::format(c, "activities", r.activity_id),
        kind: r.kind.into(),
        title: r.title.clone(),
        text: r.text.clone(),
        recipients: r.recipients.clone(),
        send_date: Some(date(r.send_day)),
        instructions: StoredInstruction::list(&r.instructions),
        adoption: r.adoption.into(),
        actions: r.actions.clone(),
        feedback_recorded: r.feedback_time.is_some(),
        publication: match (r.publication_year, r.publication_no) {
            (Some(y), Some(n)) => format!("committees/{c}/publications/{y}-{n}"),
            _ => String::new(),
        },
        create_time: Some(timestamp(r.create_time)),
    }
}

impl Api {
    /// Locks a result and its activity (activity first, as every change
    /// takes them); both, the activity read.
    async fn locked_result(
        &self,
        change: &mut cppcc_kit::change::Change,
        name: &str,
    ) -> Result<(ResultRow, super::activities::Viewed), ServiceError> {
        let id = ChildName::parse_field("name", name, "results")?;
        if !change.actor().in_committee(&id.committee) {
            return Err(ServiceError::not_found(name));
        }
        let r = store::list(
            change.conn(),
            &id.committee,
            Some(&[id.id]),
            None,
            None,
            false,
        )
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| ServiceError::not_found(name))?;
        let activity = ChildName {
            committee: id.committee.clone(),
            id: r.activity_id,
        };
        let a = self
            .lock(
                change,
                &ChildName::format(&id.committee, "activities", r.activity_id),
                &activity,
            )
            .await?;
        steps::open(a.row.step as u8).map_err(|e| {
            ServiceError::failed_precondition(
                "ARCHIVED",
                name,
                format!("its activity is archived: {e}"),
            )
            .with_metadata("current_step", a.row.step.to_string())
        })?;
        let r = store::list(
            change.conn(),
            &id.committee,
            Some(&[id.id]),
            None,
            None,
            true,
        )
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| ServiceError::not_found(name))?;
        Ok((r, a))
    }
}

#[tonic::async_trait]
impl pb::consultation_result_service_server::ConsultationResultService for Api {
    async fn create_consultation_result(
        &self,
        request: Request<pb::CreateConsultationResultRequest>,
    ) -> Result<Response<pb::CreateConsultationResultResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .result
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("result", "required"))?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::ResultKind>(input.kind),
            "result.kind",
            "must be REPORT or RECOMMENDATIONS",
        );
        let title = take_line(&mut errors, "result.title", &input.title, 4, 100);
        let text = take_paragraphs(&mut errors, "result.text", &input.text, 0, 20000);
        errors.check(
            input.recipients.is_empty() || input.recipients.len() > 20,
            "result.recipients",
            "give 1 to 20 recipients, e.g. 县委",
        );
        let recipients: Vec<String> = input
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| take_line(&mut errors, &format!("result.recipients[{i}]"), r, 1, 40))
            .collect();
        let send_day = parse_date("result.send_date", input.send_date.as_ref())?;
        errors.check(send_day.is_none(), "result.send_date", "required");
        let activity = match ChildName::parse(&input.activity, "activities") {
            Some(a) if a.committee == committee => Some(a),
            _ => {
                errors.add(
                    "result.activity",
                    format!("not an activity of {}", req.parent),
                );
                None
            }
        };
        errors.finish()?;
        let (activity, send_day) = (activity.expect("checked"), send_day.expect("checked"));
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "results", id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let eid = ChildName::parse_field("name", &existing, "results")?;
            let r = store::list(
                change.conn(),
                &committee,
                Some(&[eid.id]),
                None,
                None,
                false,
            )
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateConsultationResultResponse {
                result: Some(result(&r)),
            }));
        }
        let a = self
            .lock(&mut change, &input.activity, &activity)
            .await
            .map_err(|e| {
                if e.kind() == cppcc_kit::error::ErrorKind::NotFound {
                    ServiceError::invalid(
                        "result.activity",
                        format!("{} does not exist", input.activity),
                    )
                } else {
                    e
                }
            })?;
        let blocked = |kind: &str, message: String| {
            ServiceError::failed_precondition(kind, &input.activity, message)
                .with_metadata("current_step", a.row.step.to_string())
        };
        if a.row.step < i16::from(MEETING) {
            return Err(blocked(
                "BEFORE_MEETING",
                format!(
                    "{} has not held its meeting (step 4) yet: results come after it",
                    input.activity
                ),
            )
            .into());
        }
        steps::open(a.row.step as u8).map_err(|e| blocked("ARCHIVED", e.to_string()))?;
        if a.row.step >= 7 {
            return Err(blocked(
                "FED_BACK",
                format!(
                    "{} has fed its results back (step 7): a new result would miss the loop",
                    input.activity
                ),
            )
            .into());
        }
        if send_day > self.db.today() {
            return Err(
                ServiceError::invalid("result.send_date", "must not be in the future").into(),
            );
        }
        if Some(send_day) < a.row.meeting_day {
            return Err(ServiceError::invalid(
                "result.send_date",
                "must not be before the meeting",
            )
            .into());
        }
        let row = ResultRow {
            id,
            committee_id: committee.clone(),
            activity_id: activity.id,
            kind: input.kind as i16,
            title,
            text,
            recipients,
            send_day,
            instructions: serde_json::json!([]),
            adoption: 0,
            actions: String::new(),
            feedback_time: None,
            publication_year: None,
            publication_no: None,
            create_time: time::OffsetDateTime::now_utc(),
        };
        store::insert(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        let made = result(&row);
        change.audit(&committee, &made.name, None, Some(to_json(&made)));
        change.publish(&committee, &made.name.clone(), &made);
        change.commit().await?;
        Ok(Response::new(pb::CreateConsultationResultResponse {
            result: Some(made),
        }))
    }

    async fn get_consultation_result(
        &self,
        request: Request<pb::GetConsultationResultRequest>,
    ) -> Result<Response<pb::GetConsultationResultResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "results")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let r = store::list(&mut conn, &id.committee, Some(&[id.id]), None, None, false)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetConsultationResultResponse {
            result: Some(result(&r)),
        }))
    }

    async fn list_consultation_results(
        &self,
        request: Request<pb::ListConsultationResultsRequest>,
    ) -> Result<Response<pb::ListConsultationResultsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::list(&mut conn, &committee, None, None, Some(year.into()), false)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListConsultationResultsResponse {
            results: rows.iter().map(result).collect(),
        }))
    }

    async fn add_result_instruction(
        &self,
        request: Request<pb::AddResultInstructionRequest>,
    ) -> Result<Response<pb::AddResultInstructionResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "results")?;
        let mut errors = Violations::default();
        let (stored, _) = StoredInstruction::take(&mut errors, req.instruction.as_ref())?;
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let (before, _) = self.locked_result(&mut change, &req.name).await?;
        let stored = stored.json()?;
        store::add_instruction(change.conn(), id.id, &stored)
            .await
            .map_err(classify_db_error)?;
        let after = store::list(
            change.conn(),
            &id.committee,
            Some(&[id.id]),
            None,
            None,
            false,
        )
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| ServiceError::internal("the result just changed is gone"))?;
        let (b, a) = (result(&before), result(&after));
        change.audit(
            &id.committee,
            &req.name,
            Some(to_json(&b)),
            Some(to_json(&a)),
        );
        change.publish(&id.committee, &req.name, &a);
        change.commit().await?;
        Ok(Response::new(pb::AddResultInstructionResponse {
            result: Some(a),
        }))
    }

    async fn record_result_feedback(
        &self,
        request: Request<pb::RecordResultFeedbackRequest>,
    ) -> Result<Response<pb::RecordResultFeedbackResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "results")?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::Adoption>(req.adoption),
            "adoption",
            "must be ADOPTED, PARTLY or NOT_ADOPTED",
        );
        let actions = take_paragraphs(&mut errors, "actions", &req.actions, 2, 5000);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let (before, _) = self.locked_result(&mut change, &req.name).await?;
        store::feedback(change.conn(), id.id, req.adoption as i16, &actions)
            .await
            .map_err(classify_db_error)?;
        let after = store::list(
            change.conn(),
            &id.committee,
            Some(&[id.id]),
            None,
            None,
            false,
        )
        .await
        .map_err(classify_db_error)?
        .pop()
        .ok_or_else(|| ServiceError::internal("the result just changed is gone"))?;
        let (b, a) = (result(&before), result(&after));
        change.audit(
            &id.committee,
            &req.name,
            Some(to_json(&b)),
            Some(to_json(&a)),
        );
        change.publish(&id.committee, &req.name, &a);
        change.commit().await?;
        Ok(Response::new(pb::RecordResultFeedbackResponse {
            result: Some(a),
        }))
    }

    async fn create_publication(
        &self,
        request: Request<pb::CreatePublicationRequest>,
    ) -> Result<Response<pb::CreatePublicationResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .publication
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("publication", "required"))?;
        let year = year_field("publication.year", input.year)?;
        let mut errors = Violations::default();
        let title = take_line(&mut errors, "publication.title", &input.title, 2, 100);
        let day = parse_date("publication.issue_date", input.issue_date.as_ref())?;
        errors.check(day.is_none(), "publication.issue_date", "required");
        errors.check(
            day.is_some_and(|d| d.year() != i32::from(year)),
            "publication.issue_date",
            "must be in the publication's year",
        );
        errors.check(
            input.results.is_empty() || input.results.len() > 50,
            "publication.results",
            "give 1 to 50 results",
        );
        let mut ids = Vec::new();
        for (i, r) in input.results.iter().enumerate() {
            match ChildName::parse(r, "results") {
                Some(c) if c.committee == committee => ids.push(c.id),
                _ => errors.add(
                    format!("publication.results[{i}]"),
                    format!("not a result of {}", req.parent),
                ),
            }
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        let claimed = format!("committees/{committee}/publications/{year}");
        if let Claim::Replay(_) = change
            .claim_request_id("request_id", &req.request_id, &fp, &claimed)
            .await?
        {
            // The first call's issue: the one its results went into.
            let row = store::publications(change.conn(), &committee, year, None)
                .await
                .map_err(classify_db_error)?
                .into_iter()
                .find(|p| ids.iter().all(|r| p.results.contains(r)))
                .ok_or_else(|| ServiceError::internal("a replayed issue is gone"))?;
            change.commit().await?;
            return Ok(Response::new(pb::CreatePublicationResponse {
                publication: Some(publication(&committee, &row)),
            }));
        }
        let found = store::list(change.conn(), &committee, Some(&ids), None, None, true)
            .await
            .map_err(classify_db_error)?;
        for (i, id) in ids.iter().enumerate() {
            match found.iter().find(|r| r.id == *id) {
                None => {
                    return Err(ServiceError::invalid(
                        format!("publication.results[{i}]"),
                        format!("{} does not exist", input.results[i]),
                    )
                    .into());
                }
                Some(r) if r.publication_no.is_some() => {
                    return Err(ServiceError::failed_precondition(
                        "PUBLISHED",
                        &input.results[i],
                        format!(
                            "{} is already in 《建言资政》 {}-{}",
                            input.results[i],
                            r.publication_year.unwrap_or_default(),
                            r.publication_no.unwrap_or_default()
                        ),
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
        let number = store::publish(
            change.conn(),
            &committee,
            year,
            &title,
            day.expect("checked"),
            &ids,
        )
        .await
        .map_err(classify_db_error)?;
        let row = store::publications(change.conn(), &committee, year, Some(number))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the issue just made is gone"))?;
        let made = publication(&committee, &row);
        change.audit(&committee, &made.name, None, Some(to_json(&made)));
        change.commit().await?;
        Ok(Response::new(pb::CreatePublicationResponse {
            publication: Some(made),
        }))
    }

    async fn list_publications(
        &self,
        request: Request<pb::ListPublicationsRequest>,
    ) -> Result<Response<pb::ListPublicationsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::publications(&mut conn, &committee, year, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListPublicationsResponse {
            publications: rows.iter().map(|p| publication(&committee, p)).collect(),
        }))
    }

    async fn get_consultation_statistics(
        &self,
        request: Request<pb::GetConsultationStatisticsRequest>,
    ) -> Result<Response<pb::GetConsultationStatisticsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("committee", &req.committee)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.committee).await?;
        let first = time::Date::from_calendar_date(year.into(), time::Month::January, 1)
            .map_err(ServiceError::internal)?;
        let last = time::Date::from_calendar_date(year.into(), time::Month::December, 31)
            .map_err(ServiceError::internal)?;
        // The term began on its day, if the registry has one before the
        // year's end; the term's figures are the year's otherwise.
        let term_start = self
            .members
            .term_start(&committee)
            .await?
            .filter(|d| *d <= last)
            .unwrap_or(first);
        let mut conn = self.db.acquire().await?;
        let year_figures = store::figures(&mut conn, &committee, first, last)
            .await
            .map_err(classify_db_error)?;
        let term_figures = store::figures(&mut conn, &committee, term_start, last)
            .await
            .map_err(classify_db_error)?;
        let (platforms_by_level, platforms_compliant) =
            store::platform_figures(&mut conn, &committee)
                .await
                .map_err(classify_db_error)?;
        let budget = super::platforms::read_budget(&mut conn, &committee, year).await?;
        let (_, plan_completion) = super::plans::progress(&mut conn, &committee, year).await?;
        Ok(Response::new(pb::GetConsultationStatisticsResponse {
            year: Some(figures(&year_figures)),
            term: Some(figures(&term_figures)),
            term_start_date: Some(date(term_start)),
            plan_completion,
            platforms: platforms_by_level.iter().map(|(_, n)| n).sum::<i64>() as i32,
            platforms_by_level: counts(&platforms_by_level, |n| {
                pb::PlatformLevel::try_from(n).ok().map(|k| k.as_str_name())
            }),
            platforms_compliant: platforms_compliant as i32,
            budget: Some(budget),
        }))
    }
}

/// Counts under the names of the enum values they count.
fn counts(v: &[(i16, i64)], name: fn(i32) -> Option<&'static str>) -> Vec<pb::KindCount> {
    v.iter()
        .map(|(n, c)| pb::KindCount {
            label: name((*n).into()).unwrap_or("UNKNOWN").to_owned(),
            count: *c as i32,
        })
        .collect()
}

fn kind_name(n: i32) -> Option<&'static str> {
    pb::ActivityKind::try_from(n).ok().map(|k| k.as_str_name())
}

fn figures(f: &store::Figures) -> pb::ConsultationFigures {
    let sum = |v: &[(i16, i64)]| v.iter().map(|(_, n)| n).sum::<i64>() as i32;
    pb::ConsultationFigures {
        activities_by_kind: counts(&f.by_kind, kind_name),
        activities_by_format: counts(&f.by_format, |n| {
            pb::ActivityFormat::try_from(n)
                .ok()
                .map(|k| k.as_str_name())
        }),
        participations: sum(&f.everyone_by_kind),
        participations_by_kind: counts(&f.everyone_by_kind, kind_name),
        member_participations: sum(&f.members_by_kind),
        member_participations_by_kind: counts(&f.members_by_kind, kind_name),
        members_taking_part: f.members_taking_part as i32,
        opinions: f.opinions as i32,
        problems: f.problems as i32,
        problems_solved: f.solved as i32,
        reports: f.reports as i32,
        results: f.results as i32,
        results_adopted: f.adopted as i32,
        instructions: f.instructions as i32,
        publications: f.publications as i32,
    }
}

fn publication(committee: &str, p: &store::PublicationRow) -> pb::Publication {
    pb::Publication {
        name: format!(
            "committees/{committee}/publications/{}-{}",
            p.year, p.number
        ),
        year: p.year.into(),
        number: p.number.into(),
        title: p.title.clone(),
        results: p
            .results
            .iter()
            .map(|r| ChildName::format(committee, "results", *r))
            .collect(),
        issue_date: Some(date(p.issue_day)),
    }
}
