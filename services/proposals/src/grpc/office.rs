//! `cppcc.proposals.v1.ProposalOfficeService`: sessions, handling units,
//! settings and the working calendar.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, committee_id, parse_committee};
use cppcc_kit::text::take_line;
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::proposals::v1 as pb;
use pb::proposal_office_service_server::ProposalOfficeService;

use super::Api;
use crate::domain::settings::Settings;
use crate::store::office::{self as store, CalendarRow, SessionRow, UnitRow};

fn session(row: &SessionRow) -> pb::Session {
    pb::Session {
        name: ChildName::format(&row.committee_id, "sessions", row.id),
        display_name: row.display_name.clone(),
        term: row.term.into(),
        year: row.year.into(),
        open_date: Some(date(row.open_date)),
        close_date: Some(date(row.close_date)),
        filed_count: row.last_serial,
        create_time: Some(timestamp(row.create_time)),
    }
}

pub(crate) fn unit(row: &UnitRow) -> pb::HandlingUnit {
    pb::HandlingUnit {
        name: ChildName::format(&row.committee_id, "units", row.id),
        display_name: row.display_name.clone(),
        kind: row.kind.clone(),
        create_time: Some(timestamp(row.create_time)),
        retire_time: row.retire_time.map(timestamp),
    }
}

pub(crate) fn settings_message(
    committee: &str,
    s: &Settings,
    at: Option<time::OffsetDateTime>,
) -> pb::ProposalSettings {
    pb::ProposalSettings {
        name: format!("committees/{committee}/proposalSettings"),
        result_categories: s
            .categories
            .iter()
            .map(|c| pb::ResultCategory {
                code: c.code.clone(),
                label: c.label.clone(),
                favourable: c.favourable,
            })
            .collect(),
        reply_months: s.reply_months.into(),
        max_reply_months: s.max_reply_months.into(),
        reassignment_days: s.reassignment_days.into(),
        reassignment_working_days: s.reassignment_working_days,
        rating_days: s.rating_days.into(),
        cosign_days: s.cosign_days.into(),
        update_time: at.map(timestamp),
    }
}

fn settings_committee(field: &str, name: &str) -> Result<String, ServiceError> {
    name.strip_suffix("/proposalSettings")
        .and_then(committee_id)
        .map(str::to_owned)
        .ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!("`{name}` is not a name like `committees/{{committee}}/proposalSettings`"),
            )
        })
}

fn calendar_day(row: &CalendarRow) -> pb::CalendarDay {
    pb::CalendarDay {
        date: Some(date(row.day)),
        working: row.working,
        note: row.note.clone(),
    }
}

#[tonic::async_trait]
impl ProposalOfficeService for Api {
    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::CreateSessionResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .session
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("session", "required"))?;
        let mut errors = Violations::default();
        let display_name = take_line(
            &mut errors,
            "session.display_name",
            &input.display_name,
            2,
            60,
        );
        errors.check(
            !(1..=99).contains(&input.term),
            "session.term",
            "must be 1 to 99",
        );
        errors.check(
            !(1949..=2200).contains(&input.year),
            "session.year",
            "must be a year from 1949",
        );
        let open = parse_date("session.open_date", input.open_date.as_ref())?;
        let close = parse_date("session.close_date", input.close_date.as_ref())?;
        errors.check(open.is_none(), "session.open_date", "required");
        errors.check(close.is_none(), "session.close_date", "required");
        if let (Some(o), Some(c)) = (open, close) {
            errors.check(c < o, "session.close_date", "must not be before open_date");
            errors.check(
                o.year() != input.year,
                "session.open_date",
                "must be in the session's year",
            );
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let row = SessionRow {
            id: Uuid::now_v7(),
            committee_id: committee.clone(),
            display_name,
            term: input.term as i16,
            year: input.year as i16,
            open_date: open.expect("checked"),
            close_date: close.expect("checked"),
            last_serial: 0,
            create_time: time::OffsetDateTime::now_utc(),
        };
        let mut change = self.db.change(&actor).await?;
        if let Err(e) = store::insert_session(change.conn(), &row).await {
            if constraint_violated(&e, "session_committee_id_display_name_key") {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a session named {}",
                        req.parent, row.display_name
                    ),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let created = store::sessions(change.conn(), &committee, Some(row.id))
            .await
            .map_err(classify_db_error)?
            .pop()
            .map(|r| session(&r))
            .ok_or_else(|| ServiceError::internal("the session just made is gone"))?;
        change.audit(&committee, &created.name, None, Some(to_json(&created)));
        change.commit().await?;
        Ok(Response::new(pb::CreateSessionResponse {
            session: Some(created),
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let committee = parse_committee("parent", &request.get_ref().parent)?.to_owned();
        self.db
            .caller(&request, &committee, &request.get_ref().parent)
            .await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::sessions(&mut conn, &committee, None)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: rows.iter().map(session).collect(),
        }))
    }

    async fn create_handling_unit(
        &self,
        request: Request<pb::CreateHandlingUnitRequest>,
    ) -> Result<Response<pb::CreateHandlingUnitResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .unit
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("unit", "required"))?;
        let mut errors = Violations::default();
        let display_name = take_line(&mut errors, "unit.display_name", &input.display_name, 2, 60);
        let kind = take_line(&mut errors, "unit.kind", &input.kind, 0, 20);
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let row = UnitRow {
            id: Uuid::now_v7(),
            committee_id: committee.clone(),
            display_name,
            kind,
            create_time: time::OffsetDateTime::now_utc(),
            retire_time: None,
        };
        let mut change = self.db.change(&actor).await?;
        if let Err(e) = store::insert_unit(change.conn(), &row).await {
            if constraint_violated(&e, "unit_committee_id_display_name_key") {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a unit named {}",
                        req.parent, row.display_name
                    ),
                )
                .into());
            }
            return Err(classify_db_error(e).into());
        }
        let created = unit(&row);
        change.audit(&committee, &created.name, None, Some(to_json(&created)));
        change.commit().await?;
        Ok(Response::new(pb::CreateHandlingUnitResponse {
            unit: Some(created),
        }))
    }

    async fn get_handling_unit(
        &self,
        request: Request<pb::GetHandlingUnitRequest>,
    ) -> Result<Response<pb::GetHandlingUnitResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "units")?;
        self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let row = store::units(&mut conn, &id.committee, Some(&[id.id]), true)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetHandlingUnitResponse {
            unit: Some(unit(&row)),
        }))
    }

    async fn list_handling_units(
        &self,
        request: Request<pb::ListHandlingUnitsRequest>,
    ) -> Result<Response<pb::ListHandlingUnitsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let rows = store::units(&mut conn, &committee, None, req.show_retired)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListHandlingUnitsResponse {
            units: rows.iter().map(unit).collect(),
        }))
    }

    async fn retire_handling_unit(
        &self,
        request: Request<pb::RetireHandlingUnitRequest>,
    ) -> Result<Response<pb::RetireHandlingUnitResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = ChildName::parse_field("name", &name, "units")?;
        let actor = self.db.caller(&request, &id.committee, &name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = store::units(change.conn(), &id.committee, Some(&[id.id]), true)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::not_found(&name))?;
        store::retire_unit(change.conn(), &id.committee, id.id)
            .await
            .map_err(classify_db_error)?;
        let after = store::units(change.conn(), &id.committee, Some(&[id.id]), true)
            .await
            .map_err(classify_db_error)?
            .pop()
            .ok_or_else(|| ServiceError::internal("the unit just retired is gone"))?;
        let (before, after) = (unit(&before), unit(&after));
        if before != after {
            change.audit(
                &id.committee,
                &name,
                Some(to_json(&before)),
                Some(to_json(&after)),
            );
        }
        change.commit().await?;
        Ok(Response::new(pb::RetireHandlingUnitResponse {
            unit: Some(after),
        }))
    }

    async fn get_proposal_settings(
        &self,
        request: Request<pb::GetProposalSettingsRequest>,
    ) -> Result<Response<pb::GetProposalSettingsResponse>, Status> {
        let name = request.get_ref().name.clone();
        let committee = settings_committee("name", &name)?;
        self.db.caller(&request, &committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let (s, at) = store::settings(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetProposalSettingsResponse {
            settings: Some(settings_message(&committee, &s, at)),
        }))
    }

    async fn update_proposal_settings(
        &self,
        request: Request<pb::UpdateProposalSettingsRequest>,
    ) -> Result<Response<pb::UpdateProposalSettingsResponse>, Status> {
        let input = request
            .get_ref()
            .settings
            .clone()
            .ok_or_else(|| ServiceError::invalid("settings", "required"))?;
        let committee = settings_committee("settings.name", &input.name)?;
        let settings = Settings::from_proto(&input)?;
        let actor = self.db.caller(&request, &committee, &input.name).await?;
        let mut change = self.db.change(&actor).await?;
        let (old, old_at) = store::settings(change.conn(), &committee)
            .await
            .map_err(classify_db_error)?;
        store::put_settings(change.conn(), &committee, &settings)
            .await
            .map_err(classify_db_error)?;
        let (new, at) = store::settings(change.conn(), &committee)
            .await
            .map_err(classify_db_error)?;
        let after = settings_message(&committee, &new, at);
        change.audit(
            &committee,
            &after.name,
            Some(to_json(&settings_message(&committee, &old, old_at))),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateProposalSettingsResponse {
            settings: Some(after),
        }))
    }

    async fn set_calendar_days(
        &self,
        request: Request<pb::SetCalendarDaysRequest>,
    ) -> Result<Response<pb::SetCalendarDaysResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        errors.check(
            req.days.is_empty() || req.days.len() > 366,
            "days",
            "give 1 to 366 days",
        );
        let mut rows = Vec::new();
        for (i, d) in req.days.iter().enumerate() {
            let day = parse_date(&format!("days[{i}].date"), d.date.as_ref())?;
            errors.check(day.is_none(), &format!("days[{i}].date"), "required");
            let note = take_line(&mut errors, &format!("days[{i}].note"), &d.note, 0, 40);
            if let Some(day) = day {
                rows.push(CalendarRow {
                    day,
                    working: d.working,
                    note,
                });
            }
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        for row in &rows {
            store::put_calendar_day(change.conn(), &committee, row)
                .await
                .map_err(classify_db_error)?;
        }
        let days: Vec<pb::CalendarDay> = rows.iter().map(calendar_day).collect();
        change.audit(
            &committee,
            &format!("{}/calendar", req.parent),
            None,
            Some(to_json(&pb::SetCalendarDaysResponse { days: days.clone() })),
        );
        change.commit().await?;
        Ok(Response::new(pb::SetCalendarDaysResponse { days }))
    }

    async fn list_calendar_days(
        &self,
        request: Request<pb::ListCalendarDaysRequest>,
    ) -> Result<Response<pb::ListCalendarDaysResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let first = time::Date::from_calendar_date(req.year, time::Month::January, 1)
            .ok()
            .filter(|_| (1949..=2200).contains(&req.year))
            .ok_or_else(|| ServiceError::invalid("year", "must be a year from 1949"))?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let last =
            time::Date::from_calendar_date(req.year, time::Month::December, 31).expect("a day");
        let mut conn = self.db.acquire().await?;
        let rows = store::calendar_days(&mut conn, &committee, first, last)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListCalendarDaysResponse {
            days: rows.iter().map(calendar_day).collect(),
        }))
    }
}
