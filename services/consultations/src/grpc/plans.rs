//! `cppcc.consultations.v1.ConsultationPlanService`: the annual plan, its
//! versions and their path to approval, and its progress.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::Change;
use cppcc_kit::convert::timestamp;
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{committee_id, parse_committee};
use cppcc_kit::text::{line, take_line};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::consultations::v1 as pb;

use super::*;
use crate::domain::is_set;
use crate::domain::plan::{PlanState, PlanStep, PlanStepError};
use crate::store::plans::{self as store, ItemRow, VersionRow};

/// `committees/{c}/consultationPlans/{year}` → (committee, year).
fn plan_parent(field: &str, name: &str) -> Result<(String, i16), ServiceError> {
    let bad = || {
        ServiceError::invalid(
            field,
            format!(
                "`{name}` is not a name like `committees/{{committee}}/consultationPlans/{{year}}`"
            ),
        )
    };
    let (committee, year) = name.rsplit_once("/consultationPlans/").ok_or_else(bad)?;
    let committee = committee_id(committee).ok_or_else(bad)?.to_owned();
    let year = year_field(field, year.parse().map_err(|_| bad())?)?;
    Ok((committee, year))
}

/// `…/consultationPlans/{year}/versions/{n or -}` → (committee, year, version).
fn plan_name(field: &str, name: &str) -> Result<(String, i16, Option<i16>), ServiceError> {
    let bad = || {
        ServiceError::invalid(
            field,
            format!(
                "`{name}` is not a name like `committees/{{committee}}/consultationPlans/{{year}}/versions/{{version}}`"
            ),
        )
    };
    let (parent, version) = name.rsplit_once("/versions/").ok_or_else(bad)?;
    let (committee, year) = plan_parent(field, parent)?;
    let version = match version {
        "-" => None,
        v => Some(v.parse::<i16>().ok().filter(|v| *v >= 1).ok_or_else(bad)?),
    };
    Ok((committee, year, version))
}

fn plan_refused(e: PlanStepError, from: PlanState, name: &str) -> ServiceError {
    match e {
        PlanStepError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
        PlanStepError::OutOfOrder { .. } => {
            ServiceError::failed_precondition("STATE", name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        }
    }
}

fn item(row: &ItemRow) -> pb::PlanItem {
    pb::PlanItem {
        id: row.id.to_string(),
        topic: row.topic.clone(),
        kind: row.kind.into(),
        lead_body: row.lead_body.clone(),
        quarter: row.quarter.into(),
        departments: row.departments.clone(),
    }
}

impl Api {
    async fn plan(
        &self,
        conn: &mut sqlx::PgConnection,
        v: &VersionRow,
    ) -> Result<pb::ConsultationPlan, ServiceError> {
        let items = store::items(conn, &v.committee_id, v.year, v.version)
            .await
            .map_err(classify_db_error)?;
        Ok(pb::ConsultationPlan {
            name: format!(
                "committees/{}/consultationPlans/{}/versions/{}",
                v.committee_id, v.year, v.version
            ),
            year: v.year.into(),
            version: v.version.into(),
            state: v.state.into(),
            items: items.iter().map(item).collect(),
            in_force: v.state == PlanState::Approved.number(),
            steps: StoredStamp::stamps(&v.steps),
            update_time: Some(timestamp(v.update_time)),
            etag: etag::format(v.revision),
        })
    }

    /// Locks a version for a step and decides it; the version and its state.
    async fn plan_step(
        &self,
        change: &mut Change,
        name: &str,
        step: PlanStep,
    ) -> Result<(VersionRow, PlanState, PlanState), ServiceError> {
        let (committee, year, version) = plan_name("name", name)?;
        let v = store::version(change.conn(), &committee, year, version, true)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(name))?;
        let from = PlanState::from_number(v.state)
            .ok_or_else(|| ServiceError::internal("unknown plan state"))?;
        let to = from
            .transition(step, change.actor().role)
            .map_err(|e| plan_refused(e, from, name))?;
        Ok((v, from, to))
    }

    /// Audits a version's change and returns it as it is now.
    async fn plan_changed(
        &self,
        change: &mut Change,
        before: Option<pb::ConsultationPlan>,
        v: &VersionRow,
    ) -> Result<pb::ConsultationPlan, ServiceError> {
        let now = store::version(
            change.conn(),
            &v.committee_id,
            v.year,
            Some(v.version),
            false,
        )
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::internal("the plan just changed is gone"))?;
        let after = self.plan(change.conn(), &now).await?;
        change.audit(
            &v.committee_id,
            &after.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        Ok(after)
    }
}

#[tonic::async_trait]
impl pb::consultation_plan_service_server::ConsultationPlanService for Api {
    async fn create_consultation_plan(
        &self,
        request: Request<pb::CreateConsultationPlanRequest>,
    ) -> Result<Response<pb::CreateConsultationPlanResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let steps = StoredStamp::now(&actor, "made").json()?;
        if let Err(e) = store::insert_version(change.conn(), &committee, year, 1, &steps).await {
            if constraint_violated(&e, "plan_version_pkey") {
                return Err(ServiceError::already_exists(
                    format!("{}/consultationPlans/{year}", req.parent),
                    format!(
                        "{} already has a plan for {year}; amend it instead",
                        req.parent
                    ),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let v = store::version(change.conn(), &committee, year, Some(1), false)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::internal("the plan just made is gone"))?;
        let plan = self.plan_changed(&mut change, None, &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::CreateConsultationPlanResponse {
            plan: Some(plan),
        }))
    }

    async fn get_consultation_plan(
        &self,
        request: Request<pb::GetConsultationPlanRequest>,
    ) -> Result<Response<pb::GetConsultationPlanResponse>, Status> {
        let name = request.get_ref().name.clone();
        let (committee, year, version) = plan_name("name", &name)?;
        self.db.caller(&request, &committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let v = store::version(&mut conn, &committee, year, version, false)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetConsultationPlanResponse {
            plan: Some(self.plan(&mut conn, &v).await?),
        }))
    }

    async fn add_plan_item(
        &self,
        request: Request<pb::AddPlanItemRequest>,
    ) -> Result<Response<pb::AddPlanItemResponse>, Status> {
        let req = request.get_ref();
        let (committee, ..) = plan_name("plan", &req.plan)?;
        let input = req
            .item
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("item", "required"))?;
        let mut errors = Violations::default();
        let topic = take_line(&mut errors, "item.topic", &input.topic, 2, 80);
        errors.check(
            !is_set::<pb::ActivityKind>(input.kind),
            "item.kind",
            "must be set",
        );
        let lead_body = take_line(&mut errors, "item.lead_body", &input.lead_body, 2, 40);
        errors.check(
            !(1..=4).contains(&input.quarter),
            "item.quarter",
            "must be 1 to 4",
        );
        errors.check(
            input.departments.len() > 30,
            "item.departments",
            "at most 30",
        );
        let departments: Vec<String> = input
            .departments
            .iter()
            .enumerate()
            .map(|(i, d)| take_line(&mut errors, &format!("item.departments[{i}]"), d, 2, 40))
            .collect();
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.plan).await?;
        let mut change = self.db.change(&actor).await?;
        let (v, ..) = self
            .plan_step(&mut change, &req.plan, PlanStep::Edit)
            .await
            .map_err(|e| rename(e, "name", "plan"))?;
        etag::check(&req.etag, v.revision, &req.plan)?;
        let before = self.plan(change.conn(), &v).await?;
        let row = ItemRow {
            id: Uuid::now_v7(),
            position: 0,
            topic,
            kind: input.kind as i16,
            lead_body,
            quarter: input.quarter as i16,
            departments,
        };
        store::add_item(change.conn(), &v.committee_id, v.year, v.version, &row)
            .await
            .map_err(classify_db_error)?;
        store::move_version(
            change.conn(),
            &v.committee_id,
            v.year,
            v.version,
            v.state,
            None,
        )
        .await
        .map_err(classify_db_error)?;
        let plan = self.plan_changed(&mut change, Some(before), &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::AddPlanItemResponse { plan: Some(plan) }))
    }

    async fn remove_plan_item(
        &self,
        request: Request<pb::RemovePlanItemRequest>,
    ) -> Result<Response<pb::RemovePlanItemResponse>, Status> {
        let req = request.get_ref();
        let (committee, ..) = plan_name("plan", &req.plan)?;
        let id = Uuid::try_parse(&req.item_id)
            .map_err(|_| ServiceError::invalid("item_id", "not an item id"))?;
        let actor = self.db.caller(&request, &committee, &req.plan).await?;
        let mut change = self.db.change(&actor).await?;
        let (v, ..) = self
            .plan_step(&mut change, &req.plan, PlanStep::Edit)
            .await
            .map_err(|e| rename(e, "name", "plan"))?;
        let before = self.plan(change.conn(), &v).await?;
        if !store::remove_item(change.conn(), &v.committee_id, v.year, v.version, id)
            .await
            .map_err(classify_db_error)?
        {
            return Err(
                ServiceError::invalid("item_id", format!("{} has no item {id}", req.plan)).into(),
            );
        }
        store::move_version(
            change.conn(),
            &v.committee_id,
            v.year,
            v.version,
            v.state,
            None,
        )
        .await
        .map_err(classify_db_error)?;
        let plan = self.plan_changed(&mut change, Some(before), &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::RemovePlanItemResponse {
            plan: Some(plan),
        }))
    }

    async fn submit_consultation_plan(
        &self,
        request: Request<pb::SubmitConsultationPlanRequest>,
    ) -> Result<Response<pb::SubmitConsultationPlanResponse>, Status> {
        let req = request.get_ref();
        let (committee, ..) = plan_name("name", &req.name)?;
        let actor = self.db.caller(&request, &committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let (v, _, to) = self
            .plan_step(&mut change, &req.name, PlanStep::Submit)
            .await?;
        etag::check(&req.etag, v.revision, &req.name)?;
        let before = self.plan(change.conn(), &v).await?;
        if before.items.is_empty() {
            return Err(ServiceError::failed_precondition(
                "EMPTY",
                &req.name,
                "the plan has no topics: add them first",
            )
            .with_metadata(
                "current_state",
                PlanState::from_number(v.state)
                    .map(|s| s.to_proto().as_str_name())
                    .unwrap_or_default(),
            )
            .into());
        }
        let step = StoredStamp::now(&actor, "submitted to the county party committee").json()?;
        store::move_version(
            change.conn(),
            &committee,
            v.year,
            v.version,
            to.number(),
            Some(&step),
        )
        .await
        .map_err(classify_db_error)?;
        let plan = self.plan_changed(&mut change, Some(before), &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::SubmitConsultationPlanResponse {
            plan: Some(plan),
        }))
    }

    async fn decide_consultation_plan(
        &self,
        request: Request<pb::DecideConsultationPlanRequest>,
    ) -> Result<Response<pb::DecideConsultationPlanResponse>, Status> {
        let req = request.get_ref();
        let (committee, ..) = plan_name("name", &req.name)?;
        let reason = line(&req.reason, usize::from(!req.approve), 500)
            .map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self.db.caller(&request, &committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let step = if req.approve {
            PlanStep::Approve
        } else {
            PlanStep::Return
        };
        let (v, _, to) = self.plan_step(&mut change, &req.name, step).await?;
        let before = self.plan(change.conn(), &v).await?;
        if to == PlanState::Approved {
            // The version in force until now gives way.
            if let Some(old) = store::version(change.conn(), &committee, v.year, None, true)
                .await
                .map_err(classify_db_error)?
            {
                let gone = PlanState::Approved
                    .transition(PlanStep::Supersede, actor.role)
                    .map_err(|e| plan_refused(e, PlanState::Approved, &req.name))?;
                let old_before = self.plan(change.conn(), &old).await?;
                let note =
                    StoredStamp::now(&actor, &format!("superseded by version {}", v.version))
                        .json()?;
                store::move_version(
                    change.conn(),
                    &committee,
                    old.year,
                    old.version,
                    gone.number(),
                    Some(&note),
                )
                .await
                .map_err(classify_db_error)?;
                self.plan_changed(&mut change, Some(old_before), &old)
                    .await?;
            }
        }
        let note = StoredStamp::now(
            &actor,
            if req.approve {
                "approved by the county party committee"
            } else {
                &reason
            },
        )
        .json()?;
        store::move_version(
            change.conn(),
            &committee,
            v.year,
            v.version,
            to.number(),
            Some(&note),
        )
        .await
        .map_err(classify_db_error)?;
        let plan = self.plan_changed(&mut change, Some(before), &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::DecideConsultationPlanResponse {
            plan: Some(plan),
        }))
    }

    async fn amend_consultation_plan(
        &self,
        request: Request<pb::AmendConsultationPlanRequest>,
    ) -> Result<Response<pb::AmendConsultationPlanResponse>, Status> {
        let req = request.get_ref();
        let (committee, year) = plan_parent("parent", &req.parent)?;
        let reason = line(&req.reason, 1, 500).map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let in_force = store::version(change.conn(), &committee, year, None, true)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| {
                ServiceError::failed_precondition(
                    "NOT_IN_FORCE",
                    &req.parent,
                    format!("no plan for {year} is in force yet: change the draft instead"),
                )
            })?;
        let next = store::latest_version(change.conn(), &committee, year)
            .await
            .map_err(classify_db_error)?
            .unwrap_or(0)
            + 1;
        let steps = StoredStamp::now(&actor, &format!("amendment: {reason}")).json()?;
        if let Err(e) = store::insert_version(change.conn(), &committee, year, next, &steps).await {
            if constraint_violated(&e, "plan_open_key") {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!("an amendment of the {year} plan is already open"),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        store::copy_items(change.conn(), &committee, year, in_force.version, next)
            .await
            .map_err(classify_db_error)?;
        let v = store::version(change.conn(), &committee, year, Some(next), false)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::internal("the amendment just made is gone"))?;
        let plan = self.plan_changed(&mut change, None, &v).await?;
        change.commit().await?;
        Ok(Response::new(pb::AmendConsultationPlanResponse {
            plan: Some(plan),
        }))
    }

    async fn get_plan_progress(
        &self,
        request: Request<pb::GetPlanProgressRequest>,
    ) -> Result<Response<pb::GetPlanProgressResponse>, Status> {
        let req = request.get_ref();
        let (committee, year) = plan_parent("parent", &req.parent)?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let (items, completion) = progress(&mut conn, &committee, year).await?;
        Ok(Response::new(pb::GetPlanProgressResponse {
            items,
            completion,
        }))
    }
}

/// Each topic of the year's plan in force with its activities, and the
/// share of topics carried out (an activity archived); nothing in force is
/// no topics and 0.
pub(crate) async fn progress(
    conn: &mut sqlx::PgConnection,
    committee: &str,
    year: i16,
) -> Result<(Vec<pb::PlanItemProgress>, f64), ServiceError> {
    let Some(v) = store::version(conn, committee, year, None, false)
        .await
        .map_err(classify_db_error)?
    else {
        return Ok((Vec::new(), 0.0));
    };
    let items = store::items(conn, committee, year, v.version)
        .await
        .map_err(classify_db_error)?;
    let counts = store::progress(conn, committee, year, v.version)
        .await
        .map_err(classify_db_error)?;
    let out: Vec<pb::PlanItemProgress> = items
        .iter()
        .map(|i| {
            let (_, activities, archived) = counts
                .iter()
                .find(|(id, ..)| *id == i.id)
                .copied()
                .unwrap_or((i.id, 0, 0));
            pb::PlanItemProgress {
                item: Some(item(i)),
                activities: activities as i32,
                archived: archived as i32,
            }
        })
        .collect();
    let done = out.iter().filter(|p| p.archived > 0).count();
    let completion = if out.is_empty() {
        0.0
    } else {
        (done as f64 / out.len() as f64 * 10000.0).round() / 10000.0
    };
    Ok((out, completion))
}

/// The same error, about field `to` where it said `from`.
fn rename(e: ServiceError, from: &str, to: &str) -> ServiceError {
    if e.field_violations().iter().any(|v| v.field == from) {
        return ServiceError::invalid(to, e.field_violations()[0].description.clone());
    }
    e
}
