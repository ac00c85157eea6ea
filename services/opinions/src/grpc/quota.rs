//! `cppcc.opinions.v1.OpinionQuotaService`: the staff who owe a report a
//! month, and who met the quota.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::take_line;
use cppcc_kit::{ServiceError, Violations};

use super::*;
use crate::store::StaffRow;

fn staff(s: &StaffRow) -> pb::OpinionStaff {
    pb::OpinionStaff {
        name: ChildName::format(&s.committee_id, "opinionStaff", s.id),
        display_name: s.display_name.clone(),
        unit: s.unit.clone(),
        active: s.active,
    }
}

async fn one(conn: &mut Conn, committee: &str, id: Uuid) -> Result<Option<StaffRow>, ServiceError> {
    Ok(store::staff(conn, committee, Some(&[id]))
        .await
        .map_err(classify_db_error)?
        .pop())
}

#[tonic::async_trait]
impl pb::opinion_quota_service_server::OpinionQuotaService for Api {
    async fn create_opinion_staff(
        &self,
        request: Request<pb::CreateOpinionStaffRequest>,
    ) -> Result<Response<pb::CreateOpinionStaffResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .staff
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("staff", "required"))?;
        let mut errors = Violations::default();
        let display_name = take_line(
            &mut errors,
            "staff.display_name",
            &input.display_name,
            2,
            20,
        );
        let unit = take_line(&mut errors, "staff.unit", &input.unit, 2, 40);
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let row = StaffRow {
            id: Uuid::now_v7(),
            committee_id: committee.clone(),
            display_name,
            unit,
            active: true,
        };
        let name = ChildName::format(&committee, "opinionStaff", row.id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let eid = ChildName::parse_field("name", &existing, "opinionStaff")?;
            let s = one(change.conn(), &committee, eid.id)
                .await?
                .ok_or_else(|| ServiceError::not_found(&existing))?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateOpinionStaffResponse {
                staff: Some(staff(&s)),
            }));
        }
        store::insert_staff(change.conn(), &row)
            .await
            .map_err(classify_db_error)?;
        let made = staff(&row);
        change.audit(&committee, &name, None, Some(to_json(&made)));
        change.commit().await?;
        Ok(Response::new(pb::CreateOpinionStaffResponse {
            staff: Some(made),
        }))
    }

    async fn list_opinion_staff(
        &self,
        request: Request<pb::ListOpinionStaffRequest>,
    ) -> Result<Response<pb::ListOpinionStaffResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::staff(&mut conn, &committee, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListOpinionStaffResponse {
            staff: rows.iter().map(staff).collect(),
        }))
    }

    async fn set_opinion_staff_active(
        &self,
        request: Request<pb::SetOpinionStaffActiveRequest>,
    ) -> Result<Response<pb::SetOpinionStaffActiveResponse>, Status> {
        let req = request.get_ref();
        let id = ChildName::parse_field("name", &req.name, "opinionStaff")?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = one(change.conn(), &id.committee, id.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        store::set_staff_active(change.conn(), id.id, req.active)
            .await
            .map_err(classify_db_error)?;
        let after = StaffRow {
            active: req.active,
            ..before.clone()
        };
        let (b, a) = (staff(&before), staff(&after));
        change.audit(
            &id.committee,
            &req.name,
            Some(to_json(&b)),
            Some(to_json(&a)),
        );
        change.commit().await?;
        Ok(Response::new(pb::SetOpinionStaffActiveResponse {
            staff: Some(a),
        }))
    }

    async fn get_quota_compliance(
        &self,
        request: Request<pb::GetQuotaComplianceRequest>,
    ) -> Result<Response<pb::GetQuotaComplianceResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("committee", &req.committee)?.to_owned();
        let year = year_field("year", req.year)?;
        let month = u8::try_from(req.month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .ok_or_else(|| {
                ServiceError::invalid("month", format!("must be 1 to 12, not {}", req.month))
            })?;
        self.db.caller(&request, &committee, &req.committee).await?;
        let quota = self.members.monthly_opinion_quota(&committee).await?;
        let first = time::Date::from_calendar_date(year.into(), month, 1)
            .map_err(ServiceError::internal)?;
        let last = first
            .replace_day(time::util::days_in_month(month, year.into()))
            .map_err(ServiceError::internal)?;
        let mut conn = self.db.acquire().await?;
        let roster = store::staff(&mut conn, &committee, None)
            .await
            .map_err(classify_db_error)?;
        let counts = store::staff_reports(&mut conn, &committee, first, last)
            .await
            .map_err(classify_db_error)?;
        let entries: Vec<pb::QuotaEntry> = roster
            .iter()
            .filter(|s| s.active)
            .map(|s| {
                let submitted = counts
                    .iter()
                    .find(|(id, _)| *id == s.id)
                    .map_or(0, |(_, n)| *n as i32);
                pb::QuotaEntry {
                    staff: Some(staff(s)),
                    submitted,
                    met: submitted >= quota,
                }
            })
            .collect();
        Ok(Response::new(pb::GetQuotaComplianceResponse {
            quota,
            met: entries.iter().filter(|e| e.met).count() as i32,
            entries,
        }))
    }
}
