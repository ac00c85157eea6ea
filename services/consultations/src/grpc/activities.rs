//! `cppcc.consultations.v1.ActivityService`: activities, their eight
//! steps, participants, opinions and problems, and what is overdue.

use std::collections::HashMap;

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::{line, take_line};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::consultations::v1 as pb;
use cppcc_proto::events::v1 as events;

use super::*;
use crate::domain::steps::{self, MEETING, RESULTS, StepError, TITLES};
use crate::domain::{duty_of, is_set, problem_moves};
use crate::store::activities::{self as store, ActivityRow, OpinionRow, ProblemRow};
use crate::store::plans as plan_store;
use crate::store::platforms as platform_store;
use cppcc_kit::page::{BY_ID, Key, KeyKind, ListQuery, ListSpec, OrderField};

/// Activities page newest day first (the kit's page tokens).
const ACTIVITY_PAGES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[OrderField {
        name: "day",
        sql: "day",
        kind: KeyKind::Date,
    }],
    default_order: "day desc",
    tie_break: Some(BY_ID),
};

/// An activity read for a call.
pub(crate) struct Viewed {
    pub message: pb::Activity,
    pub row: ActivityRow,
    /// Its participants: member id and name.
    pub participants: Vec<(Uuid, String)>,
}

fn step_refused(e: StepError, at: i16, name: &str) -> ServiceError {
    match e {
        StepError::Unknown { .. } => ServiceError::invalid("step", e.to_string()),
        StepError::WrongHands => ServiceError::permission_denied(e.to_string()),
        StepError::Archived | StepError::OutOfOrder { .. } => ServiceError::failed_precondition(
            if matches!(e, StepError::Archived) {
                "ARCHIVED"
            } else {
                "STEP"
            },
            name,
            e.to_string(),
        )
        .with_metadata("current_step", at.to_string()),
    }
}

fn opinion(committee: &str, o: &OpinionRow) -> pb::Opinion {
    pb::Opinion {
        name: format!(
            "{}/opinions/{}",
            ChildName::format(committee, "activities", o.activity_id),
            o.id
        ),
        text: o.text.clone(),
        source: o.source.clone(),
        create_time: Some(timestamp(o.create_time)),
    }
}

fn problem(committee: &str, p: &ProblemRow) -> pb::Problem {
    pb::Problem {
        name: format!(
            "{}/problems/{}",
            ChildName::format(committee, "activities", p.activity_id),
            p.id
        ),
        description: p.description.clone(),
        owner: p.owner.clone(),
        status: p.status.into(),
        resolution: p.resolution.clone(),
        solve_time: p.solve_time.map(timestamp),
        create_time: Some(timestamp(p.create_time)),
    }
}

impl Api {
    /// Activities with `ids` as messages, in the order of `ids`.
    pub(crate) async fn read(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        ids: &[Uuid],
    ) -> Result<Vec<Viewed>, ServiceError> {
        let rows = store::get_many(conn, committee, ids)
            .await
            .map_err(classify_db_error)?;
        let steps = store::steps(conn, ids).await.map_err(classify_db_error)?;
        let people = store::participants(conn, ids)
            .await
            .map_err(classify_db_error)?;
        let tallies: HashMap<Uuid, (i64, i64, i64)> = store::tallies(conn, ids)
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .map(|(id, o, p, s)| (id, (o, p, s)))
            .collect();
        let mut by_id: HashMap<Uuid, ActivityRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        let mut out = Vec::new();
        for id in ids {
            let Some(row) = by_id.remove(id) else {
                continue;
            };
            let c = &row.committee_id;
            let participants: Vec<(Uuid, String)> = people
                .iter()
                .filter(|p| p.activity_id == *id)
                .map(|p| (p.member_id, p.display_name.clone()))
                .collect();
            let (opinions, problems, solved) = tallies.get(id).copied().unwrap_or_default();
            let message = pb::Activity {
                name: ChildName::format(c, "activities", row.id),
                kind: row.kind.into(),
                format: row.format.into(),
                topic: row.topic.clone(),
                platform: row
                    .platform_id
                    .map(|p| ChildName::format(c, "platforms", p))
                    .unwrap_or_default(),
                plan_item: row.plan_item.map(|p| p.to_string()).unwrap_or_default(),
                date: Some(date(row.day)),
                participants: participants
                    .iter()
                    .map(|(m, _)| ChildName::format(c, "members", *m))
                    .collect(),
                official_count: row.official_count,
                resident_count: row.resident_count,
                step: row.step.into(),
                steps: steps
                    .iter()
                    .filter(|s| s.activity_id == *id)
                    .map(|s| pb::StepRecord {
                        number: s.number.into(),
                        title: TITLES[usize::from(s.number as u8) - 1].to_owned(),
                        documents: s.documents.clone(),
                        stamp: Some(stamp(&s.actor, s.actor_role, s.time, &s.note)),
                    })
                    .collect(),
                opinion_count: opinions as i32,
                problem_count: problems as i32,
                solved_count: solved as i32,
                results_due_date: row.results_due.map(date),
                archived: row.step == i16::from(steps::ARCHIVED),
                create_time: Some(timestamp(row.create_time)),
                update_time: Some(timestamp(row.update_time)),
                etag: etag::format(row.revision),
            };
            out.push(Viewed {
                message,
                row,
                participants,
            });
        }
        Ok(out)
    }

    async fn one(
        &self,
        conn: &mut sqlx::PgConnection,
        name: &str,
        id: &ChildName,
    ) -> Result<Viewed, ServiceError> {
        self.read(conn, &id.committee, &[id.id])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found(name))
    }

    /// Locks an activity for a change and reads it.
    pub(crate) async fn lock(
        &self,
        change: &mut Change,
        name: &str,
        id: &ChildName,
    ) -> Result<Viewed, ServiceError> {
        if !store::lock(change.conn(), &id.committee, id.id)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::not_found(name));
        }
        self.one(change.conn(), name, id).await
    }

    /// Audits and publishes the activity after a change; returns it.
    async fn changed(
        &self,
        change: &mut Change,
        before: Option<&Viewed>,
        id: &ChildName,
    ) -> Result<Viewed, ServiceError> {
        let name = ChildName::format(&id.committee, "activities", id.id);
        let after = self.one(change.conn(), &name, id).await?;
        change.audit(
            &id.committee,
            &name,
            before.map(|b| to_json(&b.message)),
            Some(to_json(&after.message)),
        );
        change.publish(
            &id.committee,
            &name,
            &pb::ActivityChanged {
                activity: Some(after.message.clone()),
            },
        );
        Ok(after)
    }

    /// Credits `members` (ids) with taking part in the held activity.
    fn credit(change: &mut Change, a: &Viewed, members: &[Uuid]) {
        if members.is_empty() {
            return;
        }
        let c = &a.row.committee_id;
        let kind = pb::ActivityKind::try_from(i32::from(a.row.kind)).unwrap_or_default();
        change.publish(
            c,
            &a.message.name,
            &events::DutyPerformed {
                members: members
                    .iter()
                    .map(|m| ChildName::format(c, "members", *m))
                    .collect(),
                kind: duty_of(kind) as i32,
                date: Some(date(a.row.day)),
                evidence: format!("{}：{}", kind_label(kind), a.row.topic),
                source: a.message.name.clone(),
            },
        );
    }
}

fn settings(committee: &str, result_days: i16, report_days: i16) -> pb::ConsultationSettings {
    pb::ConsultationSettings {
        name: format!("committees/{committee}/consultationSettings"),
        result_days: result_days.into(),
        report_days: report_days.into(),
    }
}

fn settings_committee(field: &str, name: &str) -> Result<String, ServiceError> {
    name.strip_suffix("/consultationSettings")
        .and_then(cppcc_kit::names::committee_id)
        .map(str::to_owned)
        .ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!(
                    "`{name}` is not a name like `committees/{{committee}}/consultationSettings`"
                ),
            )
        })
}

/// How the duty record names an activity's kind.
fn kind_label(kind: pb::ActivityKind) -> &'static str {
    match kind {
        pb::ActivityKind::Plenary => "全体会议协商",
        pb::ActivityKind::StandingCommittee => "议政性常委会",
        pb::ActivityKind::SpecialTopic => "专题协商",
        pb::ActivityKind::ResearchInspection => "调研视察",
        pb::ActivityKind::Frontline => "一线协商",
        pb::ActivityKind::Sector => "界别协商",
        pb::ActivityKind::ProposalHandling => "提案办理协商",
        pb::ActivityKind::Unspecified => "协商活动",
    }
}

#[tonic::async_trait]
impl pb::activity_service_server::ActivityService for Api {
    async fn create_activity(
        &self,
        request: Request<pb::CreateActivityRequest>,
    ) -> Result<Response<pb::CreateActivityResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .activity
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity", "required"))?;
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::ActivityKind>(input.kind),
            "activity.kind",
            "must be set",
        );
        errors.check(
            !is_set::<pb::ActivityFormat>(input.format),
            "activity.format",
            "must be set",
        );
        let topic = take_line(&mut errors, "activity.topic", &input.topic, 2, 80);
        let day = parse_date("activity.date", input.date.as_ref())?;
        errors.check(day.is_none(), "activity.date", "required");
        errors.check(
            input.official_count < 0,
            "activity.official_count",
            "must not be negative",
        );
        errors.check(
            input.resident_count < 0,
            "activity.resident_count",
            "must not be negative",
        );
        let platform = if input.platform.is_empty() {
            None
        } else {
            match ChildName::parse(&input.platform, "platforms") {
                Some(p) if p.committee == committee => Some(p.id),
                Some(_) => {
                    errors.add(
                        "activity.platform",
                        format!("{} is a platform of another committee", input.platform),
                    );
                    None
                }
                None => {
                    errors.add(
                        "activity.platform",
                        "not a name like `committees/{committee}/platforms/{id}`",
                    );
                    None
                }
            }
        };
        let plan_item = if input.plan_item.is_empty() {
            None
        } else {
            match Uuid::try_parse(&input.plan_item) {
                Ok(i) => Some(i),
                Err(_) => {
                    errors.add("activity.plan_item", "not a plan item id");
                    None
                }
            }
        };
        errors.finish()?;
        let day = day.expect("checked");
        if req.participants.len() > 1000 {
            return Err(ServiceError::invalid(
                "participants",
                "at most 1000 members; add more with AddParticipants",
            )
            .into());
        }
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let members = self
            .members
            .in_office(&committee, "participants", &req.participants)
            .await?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "activities", id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let eid = ChildName::parse_field("name", &existing, "activities")?;
            let a = self.one(change.conn(), &existing, &eid).await?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateActivityResponse {
                activity: Some(a.message),
            }));
        }
        if let Some(p) = platform
            && platform_store::get(change.conn(), &committee, p, false)
                .await
                .map_err(classify_db_error)?
                .is_none()
        {
            return Err(ServiceError::invalid(
                "activity.platform",
                format!("{} does not exist", input.platform),
            )
            .into());
        }
        if let Some(item) = plan_item {
            let year = day.year() as i16;
            let in_force = plan_store::version(change.conn(), &committee, year, None, false)
                .await
                .map_err(classify_db_error)?;
            let found = match in_force {
                Some(v) => plan_store::items(change.conn(), &committee, year, v.version)
                    .await
                    .map_err(classify_db_error)?
                    .iter()
                    .any(|i| i.id == item),
                None => false,
            };
            if !found {
                return Err(ServiceError::invalid(
                    "activity.plan_item",
                    format!("not a topic of the {year} plan in force"),
                )
                .into());
            }
        }
        let row = ActivityRow {
            id,
            committee_id: committee.clone(),
            kind: input.kind as i16,
            format: input.format as i16,
            topic,
            platform_id: platform,
            plan_item,
            day,
            official_count: input.official_count,
            resident_count: input.resident_count,
            step: 1,
            meeting_day: None,
            results_due: None,
            create_time: time::OffsetDateTime::now_utc(),
            update_time: time::OffsetDateTime::now_utc(),
            revision: 1,
        };
        store::insert(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        store::step(
            change.conn(),
            id,
            1,
            &[],
            "",
            &actor.subject,
            actor.role.to_proto() as i16,
            None,
            None,
        )
        .await
        .map_err(classify_db_error)?;
        for m in &members {
            store::add_participant(change.conn(), id, m.id, &m.display_name)
                .await
                .map_err(classify_db_error)?;
        }
        let created = self
            .changed(
                &mut change,
                None,
                &ChildName {
                    committee: committee.clone(),
                    id,
                },
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::CreateActivityResponse {
            activity: Some(created.message),
        }))
    }

    async fn get_activity(
        &self,
        request: Request<pb::GetActivityRequest>,
    ) -> Result<Response<pb::GetActivityResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "activities")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        Ok(Response::new(pb::GetActivityResponse {
            activity: Some(self.one(&mut conn, &name, &id).await?.message),
        }))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        errors.check(
            req.kind != 0 && !is_set::<pb::ActivityKind>(req.kind),
            "kind",
            "not an activity kind",
        );
        errors.check(
            req.year != 0 && !(1949..=2200).contains(&req.year),
            "year",
            "must be a year from 1949",
        );
        errors.finish()?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let page = ListQuery::fixed(
            &ACTIVITY_PAGES,
            req.page_size,
            &req.page_token,
            &[&committee, &req.year.to_string(), &req.kind.to_string()],
        )?;
        let after = match page.after() {
            Some([Key::Date(day), Key::Uuid(id)]) => Some(store::ListKey { day: *day, id: *id }),
            _ => None,
        };
        let mut conn = self.db.acquire().await?;
        let (keys, total) = store::list_ids(
            &mut conn,
            &committee,
            (req.year != 0).then_some(req.year),
            req.kind as i16,
            after,
            page.fetch_limit(),
        )
        .await
        .map_err(classify_db_error)?;
        let (keys, next_page_token) = page.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let activities = self.read(&mut conn, &committee, &ids).await?;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: activities.into_iter().map(|a| a.message).collect(),
            next_page_token,
            total_size: total as i32,
        }))
    }

    async fn add_participants(
        &self,
        request: Request<pb::AddParticipantsRequest>,
    ) -> Result<Response<pb::AddParticipantsResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "activities")?;
        if req.members.is_empty() || req.members.len() > 1000 {
            return Err(ServiceError::invalid("members", "give 1 to 1000 members").into());
        }
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let members = self
            .members
            .in_office(&id.committee, "members", &req.members)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        steps::open(before.row.step as u8)
            .map_err(|e| step_refused(e, before.row.step, &req.name))?;
        let mut added = Vec::new();
        for m in &members {
            if store::add_participant(change.conn(), id.id, m.id, &m.display_name)
                .await
                .map_err(classify_db_error)?
            {
                added.push(m.id);
            }
        }
        store::touch(change.conn(), id.id)
            .await
            .map_err(classify_db_error)?;
        let after = self.changed(&mut change, Some(&before), &id).await?;
        // Joining an activity already held is credited at once.
        if before.row.step >= i16::from(MEETING) {
            Self::credit(&mut change, &after, &added);
        }
        change.commit().await?;
        Ok(Response::new(pb::AddParticipantsResponse {
            activity: Some(after.message),
        }))
    }

    async fn remove_participants(
        &self,
        request: Request<pb::RemoveParticipantsRequest>,
    ) -> Result<Response<pb::RemoveParticipantsResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "activities")?;
        let reason = line(&req.reason, 2, 500).map_err(|e| ServiceError::invalid("reason", e))?;
        let mut errors = Violations::default();
        errors.check(
            req.members.is_empty() || req.members.len() > 1000,
            "members",
            "give 1 to 1000 members",
        );
        let mut ids = Vec::new();
        for (i, m) in req.members.iter().enumerate() {
            match ChildName::parse(m, "members") {
                Some(c) if c.committee == id.committee => ids.push(c.id),
                _ => errors.add(
                    format!("members[{i}]"),
                    format!("not a member of committees/{}", id.committee),
                ),
            }
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        steps::open(before.row.step as u8)
            .map_err(|e| step_refused(e, before.row.step, &req.name))?;
        for (i, m) in ids.iter().enumerate() {
            if !before.participants.iter().any(|(p, _)| p == m) {
                return Err(ServiceError::invalid(
                    format!("members[{i}]"),
                    format!("{} is not taking part", req.members[i]),
                )
                .into());
            }
        }
        let removed = store::remove_participants(change.conn(), id.id, &ids)
            .await
            .map_err(classify_db_error)?;
        store::touch(change.conn(), id.id)
            .await
            .map_err(classify_db_error)?;
        let after = self.changed(&mut change, Some(&before), &id).await?;
        // A credit already given is taken back.
        if before.row.step >= i16::from(MEETING) && !removed.is_empty() {
            let kind = pb::ActivityKind::try_from(i32::from(before.row.kind)).unwrap_or_default();
            change.publish(
                &id.committee,
                &req.name,
                &events::DutyWithdrawn {
                    members: removed
                        .iter()
                        .map(|m| ChildName::format(&id.committee, "members", *m))
                        .collect(),
                    kind: duty_of(kind) as i32,
                    source: req.name.clone(),
                    reason,
                },
            );
        }
        change.commit().await?;
        Ok(Response::new(pb::RemoveParticipantsResponse {
            activity: Some(after.message),
        }))
    }

    async fn take_activity_step(
        &self,
        request: Request<pb::TakeActivityStepRequest>,
    ) -> Result<Response<pb::TakeActivityStepResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "activities")?;
        let mut errors = Violations::default();
        errors.check(req.documents.len() > 50, "documents", "at most 50");
        let documents: Vec<String> = req
            .documents
            .iter()
            .enumerate()
            .map(|(i, d)| take_line(&mut errors, &format!("documents[{i}]"), d, 1, 200))
            .collect();
        let note = take_line(&mut errors, "note", &req.note, 0, 500);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        etag::check(&req.etag, before.row.revision, &req.name)?;
        let to = steps::next(before.row.step as u8, req.step, actor.role)
            .map_err(|e| step_refused(e, before.row.step, &req.name))?;
        // Results go out after the meeting, with at least one recorded; the
        // loop is fed back only once every result's feedback is in.
        let results = crate::store::results::list(
            change.conn(),
            &id.committee,
            None,
            Some(id.id),
            None,
            false,
        )
        .await
        .map_err(classify_db_error)?;
        let blocked = |kind: &str, message: String| {
            ServiceError::failed_precondition(kind, &req.name, message)
                .with_metadata("current_step", before.row.step.to_string())
        };
        if to == RESULTS && results.is_empty() {
            return Err(blocked(
                "NO_RESULTS",
                "no result is recorded yet: record one with CreateConsultationResult first".into(),
            )
            .into());
        }
        if to >= 7
            && let Some(r) = results.iter().find(|r| r.feedback_time.is_none())
        {
            return Err(blocked(
                "FEEDBACK_MISSING",
                format!(
                    "no feedback on result “{}” yet: record it with RecordResultFeedback first",
                    r.title
                ),
            )
            .into());
        }
        if to == steps::ARCHIVED {
            let open = store::open_problems(change.conn(), id.id)
                .await
                .map_err(classify_db_error)?;
            if open > 0 {
                return Err(blocked(
                    "OPEN_PROBLEMS",
                    format!("{open} problems raised at it are not solved yet: archiving would freeze them"),
                )
                .into());
            }
        }
        let held = parse_date("meeting_date", req.meeting_date.as_ref())?;
        if held.is_some() && to != MEETING {
            return Err(ServiceError::invalid(
                "meeting_date",
                "only step 4 (the meeting) takes a meeting date",
            )
            .into());
        }
        let (results_due, meeting_day) = if to == MEETING {
            let held = held.unwrap_or(before.row.day);
            if held > self.db.today() {
                return Err(blocked(
                    "NOT_YET",
                    format!(
                        "the meeting is on {held}; it cannot be recorded as held before that day"
                    ),
                )
                .into());
            }
            let (result_days, report_days) = crate::store::deadlines(change.conn(), &id.committee)
                .await
                .map_err(classify_db_error)?;
            let days = if before.row.kind == pb::ActivityKind::ResearchInspection as i16 {
                report_days
            } else {
                result_days
            };
            (Some(held + time::Duration::days(days.into())), Some(held))
        } else {
            (None, None)
        };
        store::step(
            change.conn(),
            id.id,
            to.into(),
            &documents,
            &note,
            &actor.subject,
            actor.role.to_proto() as i16,
            results_due,
            meeting_day,
        )
        .await
        .map_err(classify_db_error)?;
        let after = self.changed(&mut change, Some(&before), &id).await?;
        if to == MEETING {
            let everyone: Vec<Uuid> = after.participants.iter().map(|(m, _)| *m).collect();
            Self::credit(&mut change, &after, &everyone);
        }
        change.commit().await?;
        Ok(Response::new(pb::TakeActivityStepResponse {
            activity: Some(after.message),
        }))
    }

    async fn add_opinion(
        &self,
        request: Request<pb::AddOpinionRequest>,
    ) -> Result<Response<pb::AddOpinionResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("parent", &req.parent, "activities")?;
        let input = req
            .opinion
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("opinion", "required"))?;
        let mut errors = Violations::default();
        let text =
            cppcc_kit::text::take_paragraphs(&mut errors, "opinion.text", &input.text, 2, 2000);
        let source = take_line(&mut errors, "opinion.source", &input.source, 0, 60);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.parent, &id).await?;
        steps::open(before.row.step as u8)
            .map_err(|e| step_refused(e, before.row.step, &req.parent))?;
        let oid = Uuid::now_v7();
        let oname = format!("{}/opinions/{oid}", req.parent);
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &oname)
            .await?
        {
            let (_, eid) = sub_name("name", &existing, "activities", "opinions")?;
            let row = store::opinions(change.conn(), id.id, Some(eid))
                .await
                .map_err(classify_db_error)?
                .pop()
                .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::AddOpinionResponse {
                opinion: Some(opinion(&id.committee, &row)),
            }));
        }
        let row = OpinionRow {
            id: oid,
            activity_id: id.id,
            text,
            source,
            create_time: time::OffsetDateTime::now_utc(),
        };
        store::add_opinion(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        store::touch(change.conn(), id.id)
            .await
            .map_err(classify_db_error)?;
        let made = opinion(&id.committee, &row);
        change.audit(&id.committee, &made.name, None, Some(to_json(&made)));
        self.changed(&mut change, Some(&before), &id).await?;
        change.commit().await?;
        Ok(Response::new(pb::AddOpinionResponse {
            opinion: Some(made),
        }))
    }

    async fn list_opinions(
        &self,
        request: Request<pb::ListOpinionsRequest>,
    ) -> Result<Response<pb::ListOpinionsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = ChildName::parse_field("parent", &parent, "activities")?;
        self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.one(&mut conn, &parent, &id).await?;
        let rows = store::opinions(&mut conn, id.id, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListOpinionsResponse {
            opinions: rows.iter().map(|o| opinion(&id.committee, o)).collect(),
        }))
    }

    async fn add_problem(
        &self,
        request: Request<pb::AddProblemRequest>,
    ) -> Result<Response<pb::AddProblemResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("parent", &req.parent, "activities")?;
        let input = req
            .problem
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("problem", "required"))?;
        let mut errors = Violations::default();
        let description = cppcc_kit::text::take_paragraphs(
            &mut errors,
            "problem.description",
            &input.description,
            2,
            2000,
        );
        let owner = take_line(&mut errors, "problem.owner", &input.owner, 0, 60);
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.parent, &id).await?;
        steps::open(before.row.step as u8)
            .map_err(|e| step_refused(e, before.row.step, &req.parent))?;
        let pid = Uuid::now_v7();
        let pname = format!("{}/problems/{pid}", req.parent);
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &pname)
            .await?
        {
            let (_, eid) = sub_name("name", &existing, "activities", "problems")?;
            let row = store::problems(change.conn(), id.id, Some(eid))
                .await
                .map_err(classify_db_error)?
                .pop()
                .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::AddProblemResponse {
                problem: Some(problem(&id.committee, &row)),
            }));
        }
        let row = ProblemRow {
            id: pid,
            activity_id: id.id,
            description,
            owner,
            status: pb::ProblemStatus::Open as i16,
            resolution: String::new(),
            solve_time: None,
            create_time: time::OffsetDateTime::now_utc(),
        };
        store::add_problem(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        store::touch(change.conn(), id.id)
            .await
            .map_err(classify_db_error)?;
        let made = problem(&id.committee, &row);
        change.audit(&id.committee, &made.name, None, Some(to_json(&made)));
        self.changed(&mut change, Some(&before), &id).await?;
        change.commit().await?;
        Ok(Response::new(pb::AddProblemResponse {
            problem: Some(made),
        }))
    }

    async fn update_problem_status(
        &self,
        request: Request<pb::UpdateProblemStatusRequest>,
    ) -> Result<Response<pb::UpdateProblemStatusResponse>, Status> {
        let req = request.get_ref();
        let (parent, pid) = sub_name("name", &req.name, "activities", "problems")?;
        let to = pb::ProblemStatus::try_from(req.status).unwrap_or_default();
        let solved = to == pb::ProblemStatus::Solved;
        let resolution = line(&req.resolution, usize::from(solved) * 2, 1000)
            .map_err(|e| ServiceError::invalid("resolution", e))?;
        let activity = ChildName::format(&parent.committee, "activities", parent.id);
        let actor = self
            .db
            .caller(&request, &parent.committee, &req.name)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &activity, &parent).await?;
        steps::open(before.row.step as u8)
            .map_err(|e| step_refused(e, before.row.step, &req.name))?;
        let row = store::problems(change.conn(), parent.id, Some(pid))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let from = pb::ProblemStatus::try_from(i32::from(row.status)).unwrap_or_default();
        if !is_set::<pb::ProblemStatus>(req.status) {
            return Err(ServiceError::invalid("status", "must be IN_PROGRESS or SOLVED").into());
        }
        if !problem_moves(from, to) {
            return Err(ServiceError::failed_precondition(
                "STATUS",
                &req.name,
                format!(
                    "a problem that is {} cannot become {}",
                    from.as_str_name(),
                    to.as_str_name()
                ),
            )
            .with_metadata("current_state", from.as_str_name())
            .into());
        }
        store::move_problem(change.conn(), pid, to as i16, &resolution)
            .await
            .map_err(classify_db_error)?;
        store::touch(change.conn(), parent.id)
            .await
            .map_err(classify_db_error)?;
        let after = store::problems(change.conn(), parent.id, Some(pid))
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the problem just moved is gone"))?;
        let (b, a) = (
            problem(&parent.committee, &row),
            problem(&parent.committee, &after),
        );
        change.audit(
            &parent.committee,
            &req.name,
            Some(to_json(&b)),
            Some(to_json(&a)),
        );
        self.changed(&mut change, Some(&before), &parent).await?;
        change.commit().await?;
        Ok(Response::new(pb::UpdateProblemStatusResponse {
            problem: Some(a),
        }))
    }

    async fn list_problems(
        &self,
        request: Request<pb::ListProblemsRequest>,
    ) -> Result<Response<pb::ListProblemsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = ChildName::parse_field("parent", &parent, "activities")?;
        self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.one(&mut conn, &parent, &id).await?;
        let rows = store::problems(&mut conn, id.id, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListProblemsResponse {
            problems: rows.iter().map(|p| problem(&id.committee, p)).collect(),
        }))
    }

    async fn get_consultation_settings(
        &self,
        request: Request<pb::GetConsultationSettingsRequest>,
    ) -> Result<Response<pb::GetConsultationSettingsResponse>, Status> {
        let name = request.get_ref().name.clone();
        let committee = settings_committee("name", &name)?;
        self.db.caller(&request, &committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let (result_days, report_days) = crate::store::deadlines(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetConsultationSettingsResponse {
            settings: Some(settings(&committee, result_days, report_days)),
        }))
    }

    async fn update_consultation_settings(
        &self,
        request: Request<pb::UpdateConsultationSettingsRequest>,
    ) -> Result<Response<pb::UpdateConsultationSettingsResponse>, Status> {
        let input = request
            .get_ref()
            .settings
            .clone()
            .ok_or_else(|| ServiceError::invalid("settings", "required"))?;
        let committee = settings_committee("settings.name", &input.name)?;
        let mut errors = Violations::default();
        for (field, days) in [
            ("result_days", input.result_days),
            ("report_days", input.report_days),
        ] {
            errors.check(
                !(1..=60).contains(&days),
                &format!("settings.{field}"),
                format!("must be 1 to 60 days, not {days}"),
            );
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &input.name).await?;
        let mut change = self.db.change(&actor).await?;
        let (old_result, old_report) = crate::store::deadlines(change.conn(), &committee)
            .await
            .map_err(classify_db_error)?;
        crate::store::put_deadlines(
            change.conn(),
            &committee,
            input.result_days as i16,
            input.report_days as i16,
        )
        .await
        .map_err(classify_db_error)?;
        let after = settings(
            &committee,
            input.result_days as i16,
            input.report_days as i16,
        );
        change.audit(
            &committee,
            &after.name,
            Some(to_json(&settings(&committee, old_result, old_report))),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateConsultationSettingsResponse {
            settings: Some(after),
        }))
    }

    async fn list_overdue_activities(
        &self,
        request: Request<pb::ListOverdueActivitiesRequest>,
    ) -> Result<Response<pb::ListOverdueActivitiesResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let as_of =
            parse_date("as_of_date", req.as_of_date.as_ref())?.unwrap_or_else(|| self.db.today());
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::overdue(&mut conn, &committee, as_of)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListOverdueActivitiesResponse {
            activities: rows
                .iter()
                .map(|(id, topic, kind, due)| pb::OverdueActivity {
                    activity: ChildName::format(&committee, "activities", *id),
                    topic: topic.clone(),
                    kind: (*kind).into(),
                    due_date: Some(date(*due)),
                    days_overdue: (as_of - *due).whole_days() as i32,
                })
                .collect(),
        }))
    }
}
