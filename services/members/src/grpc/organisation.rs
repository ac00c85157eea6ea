//! `cppcc.members.v1.OrganisationService`: activity groups and their
//! conveners, studios with members, liaisons and activities, liaison
//! stations and informants.

use std::collections::HashMap;

use time::{Date, OffsetDateTime};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::page::{Key, KeyKind, ListQuery, ListRequest, ListSpec, OrderField};
use cppcc_kit::pii::mask_phone;
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;
use pb::organisation_service_server::OrganisationService;

use super::{READERS, Shared, SubName, committee_resource, today};
use crate::domain::convener::{ConvenerState, NOMINATORS, Step, StepError};
use crate::domain::member::phone;
use crate::domain::text;
use crate::store::lists::{self, Entity};
use crate::store::organisation::{self as store, InformantFields, LiaisonFields, StudioFields};
use crate::store::{committees as committee_store, members as member_store};

/// Who keeps activity groups and studios: the office and its staff.
const ORGANISERS: &[Role] = &[Role::Admin, Role::Staff];
/// Who keeps liaison stations and informants: the office and the
/// information centre.
const NETWORK_KEEPERS: &[Role] = &[Role::Admin, Role::InfoCentre];
/// Who may see an informant's phone: the same.
const NETWORK_ENTITLED: &[Role] = NETWORK_KEEPERS;

/// The organisation service.
#[derive(Clone, Debug)]
pub struct OrganisationApi {
    shared: Shared,
}

impl OrganisationApi {
    pub fn new(shared: Shared) -> Self {
        OrganisationApi { shared }
    }
}

fn stamp(by: &str, role: i16, time: OffsetDateTime, reason: &str) -> common::AuditStamp {
    common::AuditStamp {
        actor: by.to_owned(),
        actor_role: role.into(),
        time: Some(timestamp(time)),
        reason: reason.to_owned(),
    }
}

fn optional_stamp(
    by: &Option<String>,
    role: Option<i16>,
    time: Option<OffsetDateTime>,
    reason: &Option<String>,
) -> Option<common::AuditStamp> {
    match (by, role, time) {
        (Some(by), Some(role), Some(time)) => {
            Some(stamp(by, role, time, reason.as_deref().unwrap_or_default()))
        }
        _ => None,
    }
}

fn group(row: &store::ActivityGroupRow) -> pb::ActivityGroup {
    pb::ActivityGroup {
        name: ChildName::format(&row.committee_id, "activityGroups", row.id),
        display_name: row.display_name.clone(),
        township: row.township.clone(),
        convener_appointment: row
            .convener_id
            .map(|a| {
                SubName::format(
                    &row.committee_id,
                    "activityGroups",
                    row.id,
                    "convenerAppointments",
                    a,
                )
            })
            .unwrap_or_default(),
        convener_display_name: row.convener_name.clone().unwrap_or_default(),
        member_count: row.member_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn appointment(row: &store::AppointmentRow) -> pb::ConvenerAppointment {
    pb::ConvenerAppointment {
        name: SubName::format(
            &row.committee_id,
            "activityGroups",
            row.activity_group_id,
            "convenerAppointments",
            row.id,
        ),
        candidate_display_name: row.candidate_display_name.clone(),
        candidate_title: row.candidate_title.clone(),
        candidate_member: row
            .candidate_member_id
            .map(|m| ChildName::format(&row.committee_id, "members", m))
            .unwrap_or_default(),
        state: row.state.into(),
        nominated: Some(stamp(
            &row.nominated_by,
            row.nominated_role,
            row.nominated_time,
            &row.nominated_note,
        )),
        agreed: optional_stamp(
            &row.agreed_by,
            row.agreed_role,
            row.agreed_time,
            &row.agreed_note,
        ),
        approved: optional_stamp(
            &row.approved_by,
            row.approved_role,
            row.approved_time,
            &row.approved_note,
        ),
        rejected: optional_stamp(
            &row.rejected_by,
            row.rejected_role,
            row.rejected_time,
            &row.rejected_reason,
        ),
        ended: optional_stamp(
            &row.ended_by,
            row.ended_role,
            row.ended_time,
            &row.ended_reason,
        ),
        create_time: Some(timestamp(row.nominated_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag::format(row.revision),
    }
}

fn studio(row: &store::StudioRow) -> pb::Studio {
    pb::Studio {
        name: ChildName::format(&row.committee_id, "studios", row.id),
        display_name: row.display_name.clone(),
        kind: row.kind.into(),
        township: row.township.clone(),
        sector: row
            .sector_id
            .map(|s| ChildName::format(&row.committee_id, "sectors", s))
            .unwrap_or_default(),
        monthly_target: row.monthly_target,
        establish_date: Some(date(row.established_on)),
        member_count: row.member_count as i32,
        liaison_count: row.liaison_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn station(row: &store::StationRow) -> pb::LiaisonStation {
    pb::LiaisonStation {
        name: ChildName::format(&row.committee_id, "liaisonStations", row.id),
        display_name: row.display_name.clone(),
        kind: row.kind.into(),
        location: row.location.clone(),
        informant_count: row.informant_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn activity(row: &store::ActivityRow) -> pb::StudioActivity {
    pb::StudioActivity {
        name: SubName::format(
            &row.committee_id,
            "studios",
            row.studio_id,
            "activities",
            row.id,
        ),
        title: row.title.clone(),
        date: Some(date(row.activity_date)),
        description: row.description.clone(),
        participants: row
            .participants
            .iter()
            .map(|m| ChildName::format(&row.committee_id, "members", *m))
            .collect(),
        recorded: Some(stamp(
            &row.recorded_by,
            row.recorded_role,
            row.create_time,
            "",
        )),
    }
}

/// The associated data a phone is sealed with: table, field and record.
fn phone_context(table: &str, id: Uuid) -> String {
    format!("members.{table}.phone:{id}")
}

/// Reports every violation of `e` into `errors`.
fn absorb(errors: &mut Violations, e: ServiceError) {
    for v in e.field_violations() {
        errors.add(v.field.clone(), v.description.clone());
    }
}

fn take_text(errors: &mut Violations, field: &str, value: &str, min: usize, max: usize) -> String {
    text(value, min, max).unwrap_or_else(|e| {
        errors.add(field, e);
        String::new()
    })
}

const GROUP_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "township"],
    output_only: &[
        ("name", "it identifies the group"),
        (
            "convener_appointment",
            "appoint conveners with NominateConvener",
        ),
        (
            "convener_display_name",
            "appoint conveners with NominateConvener",
        ),
        ("member_count", "it is output only"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteActivityGroup"),
        ("etag", "send it in activity_group.etag to guard the update"),
    ],
};

const STUDIO_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "township",
        "sector",
        "monthly_target",
        "establish_date",
    ],
    output_only: &[
        ("name", "it identifies the studio"),
        (
            "kind",
            "a studio's kind does not change; create another studio",
        ),
        ("member_count", "use AddStudioMember and RemoveStudioMember"),
        (
            "liaison_count",
            "use CreateStudioLiaison and DeleteStudioLiaison",
        ),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteStudio"),
        ("etag", "send it in studio.etag to guard the update"),
    ],
};

const LIAISON_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "village", "phone"],
    output_only: &[
        ("name", "it identifies the liaison"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteStudioLiaison"),
        ("etag", "send it in liaison.etag to guard the update"),
    ],
};

const STATION_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "kind", "location"],
    output_only: &[
        ("name", "it identifies the station"),
        ("informant_count", "it is output only"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteLiaisonStation"),
        (
            "etag",
            "send it in liaison_station.etag to guard the update",
        ),
    ],
};

const INFORMANT_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "liaison_station",
        "employer",
        "phone",
        "active",
    ],
    output_only: &[
        ("name", "it identifies the informant"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteInformant"),
        ("etag", "send it in informant.etag to guard the update"),
    ],
};

/// Pages that order by time, newest first, with the id to break ties.
const NEWEST_FIRST: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[OrderField {
        name: "time",
        sql: "time",
        kind: KeyKind::Time,
    }],
    default_order: "time desc",
    tie_break: Some(OrderField {
        name: "id",
        sql: "id",
        kind: KeyKind::Uuid,
    }),
};

/// Pages that order by day, newest first, with the id to break ties.
const DAYS_NEWEST_FIRST: ListSpec = ListSpec {
    order_fields: &[OrderField {
        name: "date",
        sql: "date",
        kind: KeyKind::Date,
    }],
    default_order: "date desc",
    ..NEWEST_FIRST
};

/// Pages by one or two names, then the id.
const BY_NAMES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "first",
            sql: "first",
            kind: KeyKind::Text,
        },
        OrderField {
            name: "second",
            sql: "second",
            kind: KeyKind::Text,
        },
    ],
    default_order: "first, second",
    tie_break: Some(OrderField {
        name: "id",
        sql: "id",
        kind: KeyKind::Uuid,
    }),
};

/// A row keyed for a page token by (time, id) or (first, second, id).
struct Keyed<T> {
    row: T,
    keys: Vec<Key>,
}

impl<T> cppcc_kit::page::Keyed for Keyed<T> {
    fn key(&self, field: &str) -> Key {
        let i = match field {
            "time" | "date" | "first" => 0,
            "second" => 1,
            _ => self.keys.len() - 1,
        };
        self.keys[i].clone()
    }
}

fn list_request(page_size: i32, page_token: &str) -> ListRequest<'_> {
    ListRequest {
        page_size,
        page_token,
        ..Default::default()
    }
}

/// A studio's members and village liaisons hold no seat elsewhere; a
/// township studio names a township, a sector studio a sector of its committee.
fn studio_fields(s: &pb::Studio, committee: &str, kind: i16) -> Result<StudioFields, ServiceError> {
    let mut errors = Violations::default();
    let display_name = take_text(&mut errors, "studio.display_name", &s.display_name, 1, 40);
    let township = take_text(&mut errors, "studio.township", &s.township, 0, 40);
    let mut sector_id = None;
    match pb::StudioKind::try_from(i32::from(kind)) {
        Ok(pb::StudioKind::Township) => {
            errors.check(
                township.is_empty(),
                "studio.township",
                "required for a township studio",
            );
            errors.check(
                !s.sector.is_empty(),
                "studio.sector",
                "a township studio has no sector",
            );
        }
        Ok(pb::StudioKind::Sector) => {
            errors.check(
                !township.is_empty(),
                "studio.township",
                "a sector studio has no township",
            );
            match ChildName::parse(&s.sector, "sectors") {
                Some(n) if n.committee == committee => sector_id = Some(n.id),
                _ => errors.add(
                    "studio.sector",
                    "required for a sector studio: a sector of this committee",
                ),
            }
        }
        _ => errors.add(
            "studio.kind",
            "required: STUDIO_KIND_TOWNSHIP or STUDIO_KIND_SECTOR",
        ),
    }
    errors.check(
        !(0..=31).contains(&s.monthly_target),
        "studio.monthly_target",
        "must be between 0 (the committee's setting) and 31",
    );
    let established_on = match parse_date("studio.establish_date", s.establish_date.as_ref()) {
        Ok(Some(d)) if crate::domain::member::plausible(d, today()) && d <= today() => d,
        Ok(Some(_)) => {
            errors.add(
                "studio.establish_date",
                "must be a day between 1949-09-21 and today",
            );
            today()
        }
        Ok(None) => today(),
        Err(e) => {
            absorb(&mut errors, e);
            today()
        }
    };
    errors.finish()?;
    Ok(StudioFields {
        display_name,
        kind,
        township,
        sector_id,
        monthly_target: s.monthly_target,
        established_on,
    })
}

impl OrganisationApi {
    async fn read_group(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::ActivityGroup>, ServiceError> {
        let rows = store::groups(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(group))
    }

    async fn read_appointment(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::ConvenerAppointment>, ServiceError> {
        let rows = store::appointments(conn, committee, Some(&[id]), None, None, 1)
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(appointment))
    }

    async fn read_studio(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::Studio>, ServiceError> {
        let rows = store::studios(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(studio))
    }

    async fn read_station(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::LiaisonStation>, ServiceError> {
        let rows = store::stations(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(station))
    }

    fn liaison(
        &self,
        row: &store::LiaisonRow,
        unmask: bool,
    ) -> Result<pb::StudioLiaison, ServiceError> {
        let phone = match (&row.phone_sealed, unmask) {
            (Some(sealed), true) => self
                .shared
                .pii
                .open(sealed, &phone_context("studio_liaison", row.id))
                .map_err(ServiceError::internal)?,
            _ => row.phone_masked.clone(),
        };
        Ok(pb::StudioLiaison {
            name: SubName::format(
                &row.committee_id,
                "studios",
                row.studio_id,
                "liaisons",
                row.id,
            ),
            display_name: row.display_name.clone(),
            village: row.village.clone(),
            phone,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        })
    }

    async fn read_liaison(
        &self,
        conn: &mut sqlx::PgConnection,
        name: &SubName,
    ) -> Result<Option<store::LiaisonRow>, ServiceError> {
        let mut rows = store::liaisons(
            conn,
            &name.committee,
            name.parent,
            Some(&[name.id]),
            true,
            None,
            1,
        )
        .await
        .map_err(classify_db_error)?;
        Ok(rows.pop())
    }

    fn informant(
        &self,
        row: &store::InformantRow,
        unmask: bool,
    ) -> Result<pb::Informant, ServiceError> {
        let phone = match (&row.phone_sealed, unmask) {
            (Some(sealed), true) => self
                .shared
                .pii
                .open(sealed, &phone_context("informant", row.id))
                .map_err(ServiceError::internal)?,
            _ => row.phone_masked.clone(),
        };
        Ok(pb::Informant {
            name: ChildName::format(&row.committee_id, "informants", row.id),
            display_name: row.display_name.clone(),
            liaison_station: ChildName::format(
                &row.committee_id,
                "liaisonStations",
                row.liaison_station_id,
            ),
            employer: row.employer.clone(),
            phone,
            active: row.active,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        })
    }

    async fn read_informant(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<store::InformantRow>, ServiceError> {
        let mut rows = store::informants(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.pop())
    }

    /// Seals a phone for `table`'s record `id`: (sealed, masked).
    fn seal_phone(&self, table: &str, id: Uuid, phone: Option<&str>) -> (Option<Vec<u8>>, String) {
        match phone {
            Some(p) => (
                Some(self.shared.pii.seal(p, &phone_context(table, id))),
                mask_phone(p),
            ),
            None => (None, String::new()),
        }
    }

    /// Checks the committee exists, inside a change.
    async fn committee_exists(
        &self,
        change: &mut Change,
        committee: &str,
    ) -> Result<(), ServiceError> {
        committee_store::get(change.conn(), committee)
            .await
            .map_err(classify_db_error)?
            .map(drop)
            .ok_or_else(|| ServiceError::not_found(committee_resource(committee)))
    }

    /// Takes a step on an appointment. Approving ends the convener in force.
    async fn step(
        &self,
        request: &Request<impl Sync>,
        name: &str,
        step: Step,
        note: &str,
        given_etag: &str,
    ) -> Result<pb::ConvenerAppointment, ServiceError> {
        let parsed = SubName::parse_field("name", name, "activityGroups", "convenerAppointments")?;
        let needs_reason = matches!(step, Step::Reject | Step::End);
        let note = text(note, usize::from(needs_reason), 500)
            .map_err(|e| ServiceError::invalid(if needs_reason { "reason" } else { "note" }, e))?;
        let every_hand = &[Role::Admin, Role::Leader];
        let actor = self
            .shared
            .caller(
                request,
                every_hand,
                "take steps on convener appointments",
                &parsed.committee,
                name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        // The group first, then its appointments: the order every change takes.
        store::lock_group(change.conn(), &parsed.committee, parsed.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(name))?;
        let (revision, state) =
            store::lock_appointment(change.conn(), &parsed.committee, parsed.parent, parsed.id)
                .await
                .map_err(classify_db_error)?
                .ok_or_else(|| ServiceError::not_found(name))?;
        etag::check(given_etag, revision, name)?;
        let from = ConvenerState::from_number(state)
            .ok_or_else(|| ServiceError::internal("unknown appointment state"))?;
        let to = from
            .transition(step, actor.role)
            .map_err(|e| step_refused(e, from, name))?;
        let group_before = self
            .read_group(change.conn(), &parsed.committee, parsed.parent)
            .await?;
        if to == ConvenerState::Approved
            && let Some(previous) = store::approved_appointment(change.conn(), parsed.parent)
                .await
                .map_err(classify_db_error)?
        {
            // The convener in force is superseded, by the same hands.
            let previous_name = SubName::format(
                &parsed.committee,
                "activityGroups",
                parsed.parent,
                "convenerAppointments",
                previous,
            );
            let ended = ConvenerState::Approved
                .transition(Step::Supersede, actor.role)
                .map_err(|e| step_refused(e, ConvenerState::Approved, &previous_name))?;
            self.move_appointment(
                &mut change,
                &parsed.committee,
                previous,
                ended,
                "superseded by a new convener",
            )
            .await?;
        }
        let after = self
            .move_appointment(&mut change, &parsed.committee, parsed.id, to, &note)
            .await?;
        // The group changes only when its convener does.
        if matches!(to, ConvenerState::Approved | ConvenerState::Ended) {
            store::mark_group(change.conn(), parsed.parent, false)
                .await
                .map_err(classify_db_error)?;
            let group_after = self
                .read_group(change.conn(), &parsed.committee, parsed.parent)
                .await?
                .ok_or_else(|| ServiceError::internal("the group just changed is gone"))?;
            change.audit(
                &parsed.committee,
                &group_after.name,
                group_before.as_ref().map(to_json),
                Some(to_json(&group_after)),
            );
            change.publish(
                &parsed.committee,
                &group_after.name.clone(),
                &pb::ActivityGroupChanged {
                    activity_group: Some(group_after),
                },
            );
        }
        change.commit().await?;
        Ok(after)
    }

    /// Moves an appointment to `to` (the transition decided already), with
    /// its audit row and event; the appointment after.
    async fn move_appointment(
        &self,
        change: &mut Change,
        committee: &str,
        id: Uuid,
        to: ConvenerState,
        note: &str,
    ) -> Result<pb::ConvenerAppointment, ServiceError> {
        let before = self.read_appointment(change.conn(), committee, id).await?;
        let actor = change.actor().clone();
        store::step_appointment(
            change.conn(),
            id,
            to.number(),
            &actor.subject,
            actor.role.to_proto() as i16,
            note,
        )
        .await
        .map_err(classify_db_error)?;
        let after = self
            .read_appointment(change.conn(), committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the appointment just moved is gone"))?;
        change.audit(
            committee,
            &after.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            committee,
            &after.name.clone(),
            &pb::ConvenerAppointmentChanged {
                appointment: Some(after.clone()),
            },
        );
        Ok(after)
    }

    /// Claims a create's request id; on a replay, the name created before.
    async fn claim<M: prost::Message + Clone>(
        change: &mut Change,
        req: &M,
        request_id: &str,
        clear: impl FnOnce(&mut M),
        name: &str,
    ) -> Result<Option<String>, ServiceError> {
        let actor = change.actor().clone();
        match change
            .claim_request_id(
                "request_id",
                request_id,
                &fingerprint(req, &actor, clear),
                name,
            )
            .await?
        {
            Claim::New => Ok(None),
            Claim::Replay(existing) => Ok(Some(existing)),
        }
    }
}

/// A step the appointment's state machine refused, as an error.
fn step_refused(e: StepError, from: ConvenerState, name: &str) -> ServiceError {
    match e {
        StepError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
        StepError::OutOfOrder { .. } => {
            ServiceError::failed_precondition("STATE", name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        }
    }
}

/// The first day of a month and of the next.
fn month_bounds(year: i32, month: i32) -> Result<(Date, Date), ServiceError> {
    let mut errors = Violations::default();
    errors.check(
        !(1949..=9999).contains(&year),
        "year",
        format!("{year} is not a year of the CPPCC"),
    );
    errors.check(
        !(1..=12).contains(&month),
        "month",
        format!("{month} is not a month (1..12)"),
    );
    errors.finish()?;
    let first = Date::from_calendar_date(
        year,
        time::Month::try_from(month as u8).expect("checked"),
        1,
    )
    .map_err(ServiceError::internal)?;
    let next = if month == 12 {
        Date::from_calendar_date(year + 1, time::Month::January, 1)
    } else {
        Date::from_calendar_date(
            year,
            time::Month::try_from(month as u8 + 1).expect("checked"),
            1,
        )
    }
    .map_err(ServiceError::internal)?;
    Ok((first, next))
}

#[tonic::async_trait]
impl OrganisationService for OrganisationApi {
    async fn create_activity_group(
        &self,
        request: Request<pb::CreateActivityGroupRequest>,
    ) -> Result<Response<pb::CreateActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "create activity groups",
                &committee,
                &req.parent,
            )
            .await?;
        let input = req
            .activity_group
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity_group", "required"))?;
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "activity_group.display_name",
            &input.display_name,
            1,
            40,
        );
        let township = take_text(
            &mut errors,
            "activity_group.township",
            &input.township,
            1,
            40,
        );
        errors.finish()?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "activityGroups", id);
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = ChildName::parse_field("name", &existing, "activityGroups")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let found = self.read_group(&mut conn, &committee, existing.id).await?;
            return Ok(Response::new(pb::CreateActivityGroupResponse {
                activity_group: found,
            }));
        }
        self.committee_exists(&mut change, &committee).await?;
        match store::insert_group(change.conn(), id, &committee, &display_name, &township).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::GROUP_TOWNSHIP_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!("{township} already has an activity group in {}", req.parent),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_group(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the group just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::ActivityGroupChanged {
                activity_group: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateActivityGroupResponse {
            activity_group: Some(created),
        }))
    }

    async fn get_activity_group(
        &self,
        request: Request<pb::GetActivityGroupRequest>,
    ) -> Result<Response<pb::GetActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "activityGroups")?;
        self.shared
            .caller(
                &request,
                READERS,
                "read activity groups",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let found = self
            .read_group(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetActivityGroupResponse {
            activity_group: Some(found),
        }))
    }

    async fn list_activity_groups(
        &self,
        request: Request<pb::ListActivityGroupsRequest>,
    ) -> Result<Response<pb::ListActivityGroupsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(
                &request,
                READERS,
                "list activity groups",
                &committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &lists::ENTITIES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let keys = lists::entity_page(
            &mut conn,
            Entity::ActivityGroups,
            &committee,
            req.show_deleted,
            &query,
        )
        .await
        .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = store::groups(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let by_id: HashMap<Uuid, _> = rows.iter().map(|r| (r.id, r)).collect();
        Ok(Response::new(pb::ListActivityGroupsResponse {
            activity_groups: ids
                .iter()
                .filter_map(|id| by_id.get(id))
                .map(|r| group(r))
                .collect(),
            next_page_token,
        }))
    }

    async fn update_activity_group(
        &self,
        request: Request<pb::UpdateActivityGroupRequest>,
    ) -> Result<Response<pb::UpdateActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .activity_group
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity_group", "required"))?;
        let name = ChildName::parse_field("activity_group.name", &input.name, "activityGroups")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "update activity groups",
                &name.committee,
                &input.name,
            )
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &GROUP_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "township" => !input.township.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_group(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        if mask.contains(&"display_name") {
            merged.display_name.clone_from(&input.display_name);
        }
        if mask.contains(&"township") {
            merged.township.clone_from(&input.township);
        }
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "activity_group.display_name",
            &merged.display_name,
            1,
            40,
        );
        let township = take_text(
            &mut errors,
            "activity_group.township",
            &merged.township,
            1,
            40,
        );
        errors.finish()?;
        match store::update_group(change.conn(), name.id, &display_name, &township).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::GROUP_TOWNSHIP_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!("{township} already has an activity group"),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::ActivityGroupChanged {
                activity_group: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateActivityGroupResponse {
            activity_group: Some(after),
        }))
    }

    async fn delete_activity_group(
        &self,
        request: Request<pb::DeleteActivityGroupRequest>,
    ) -> Result<Response<pb::DeleteActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "activityGroups")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "delete activity groups",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_group(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?;
        if before
            .as_ref()
            .is_some_and(|g| !g.convener_appointment.is_empty())
        {
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                "the group has a convener in force; end the appointment before deleting the group",
            )
            .into());
        }
        if let Some(pending) = store::pending_appointment(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?
        {
            let pending = SubName::format(
                &name.committee,
                "activityGroups",
                name.id,
                "convenerAppointments",
                pending,
            );
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                format!("{pending} is under way; approve or reject it before deleting the group"),
            )
            .with_metadata("appointment", pending)
            .into());
        }
        store::mark_group(change.conn(), name.id, true)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::ActivityGroupChanged {
                activity_group: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteActivityGroupResponse {
            activity_group: Some(after),
        }))
    }

    async fn nominate_convener(
        &self,
        request: Request<pb::NominateConvenerRequest>,
    ) -> Result<Response<pb::NominateConvenerResponse>, Status> {
        let req = request.get_ref();
        let group_name = ChildName::parse_field("parent", &req.parent, "activityGroups")?;
        let actor = self
            .shared
            .caller(
                &request,
                NOMINATORS,
                "nominate conveners",
                &group_name.committee,
                &req.parent,
            )
            .await?;
        let input = req
            .appointment
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("appointment", "required"))?;
        let mut errors = Violations::default();
        let candidate = take_text(
            &mut errors,
            "appointment.candidate_display_name",
            &input.candidate_display_name,
            1,
            30,
        );
        let title = take_text(
            &mut errors,
            "appointment.candidate_title",
            &input.candidate_title,
            0,
            60,
        );
        let note = take_text(&mut errors, "note", &req.note, 0, 500);
        let candidate_member = if input.candidate_member.is_empty() {
            None
        } else {
            match ChildName::parse(&input.candidate_member, "members") {
                Some(m) if m.committee == group_name.committee => Some(m.id),
                _ => {
                    errors.add(
                        "appointment.candidate_member",
                        "must be a member of this committee, or empty",
                    );
                    None
                }
            }
        };
        errors.finish()?;
        let id = Uuid::now_v7();
        let name = SubName::format(
            &group_name.committee,
            "activityGroups",
            group_name.id,
            "convenerAppointments",
            id,
        );
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing =
                SubName::parse_field("name", &existing, "activityGroups", "convenerAppointments")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let found = self
                .read_appointment(&mut conn, &existing.committee, existing.id)
                .await?
                .ok_or_else(|| {
                    ServiceError::internal("the nomination a request id names is gone")
                })?;
            return Ok(Response::new(pb::NominateConvenerResponse {
                appointment: Some(found),
            }));
        }
        store::lock_group(change.conn(), &group_name.committee, group_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        if let Some(member) = candidate_member
            && member_store::lock(change.conn(), &group_name.committee, member)
                .await
                .map_err(classify_db_error)?
                .is_none()
        {
            return Err(ServiceError::invalid(
                "appointment.candidate_member",
                "no such member in this committee",
            )
            .into());
        }
        if let Some(pending) = store::pending_appointment(change.conn(), group_name.id)
            .await
            .map_err(classify_db_error)?
        {
            let pending = SubName::format(
                &group_name.committee,
                "activityGroups",
                group_name.id,
                "convenerAppointments",
                pending,
            );
            return Err(ServiceError::failed_precondition(
                "PENDING",
                &req.parent,
                format!("{pending} is under way; it must be approved or rejected before another nomination"),
            )
            .with_metadata("appointment", pending)
            .into());
        }
        let nomination = store::Nomination {
            id,
            group: group_name.id,
            candidate_display_name: &candidate,
            candidate_title: &title,
            candidate_member,
            by: &actor.subject,
            role: actor.role.to_proto() as i16,
            note: &note,
        };
        match store::insert_nomination(change.conn(), &nomination).await {
            Ok(()) => {}
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_appointment(change.conn(), &group_name.committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the nomination just written is gone"))?;
        change.audit(&group_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &group_name.committee,
            &name,
            &pb::ConvenerAppointmentChanged {
                appointment: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::NominateConvenerResponse {
            appointment: Some(created),
        }))
    }

    async fn agree_convener(
        &self,
        request: Request<pb::AgreeConvenerRequest>,
    ) -> Result<Response<pb::AgreeConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Agree, &req.note, &req.etag)
            .await?;
        Ok(Response::new(pb::AgreeConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn approve_convener(
        &self,
        request: Request<pb::ApproveConvenerRequest>,
    ) -> Result<Response<pb::ApproveConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Approve, &req.note, &req.etag)
            .await?;
        Ok(Response::new(pb::ApproveConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn reject_convener(
        &self,
        request: Request<pb::RejectConvenerRequest>,
    ) -> Result<Response<pb::RejectConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Reject, &req.reason, &req.etag)
            .await?;
        Ok(Response::new(pb::RejectConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn end_convener_appointment(
        &self,
        request: Request<pb::EndConvenerAppointmentRequest>,
    ) -> Result<Response<pb::EndConvenerAppointmentResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::End, &req.reason, &req.etag)
            .await?;
        Ok(Response::new(pb::EndConvenerAppointmentResponse {
            appointment: Some(appointment),
        }))
    }

    async fn get_convener_appointment(
        &self,
        request: Request<pb::GetConvenerAppointmentRequest>,
    ) -> Result<Response<pb::GetConvenerAppointmentResponse>, Status> {
        let req = request.get_ref();
        let name =
            SubName::parse_field("name", &req.name, "activityGroups", "convenerAppointments")?;
        self.shared
            .caller(
                &request,
                READERS,
                "read convener appointments",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let found = self
            .read_appointment(&mut conn, &name.committee, name.id)
            .await?
            .filter(|a| a.name == req.name)
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetConvenerAppointmentResponse {
            appointment: Some(found),
        }))
    }

    async fn list_convener_appointments(
        &self,
        request: Request<pb::ListConvenerAppointmentsRequest>,
    ) -> Result<Response<pb::ListConvenerAppointmentsResponse>, Status> {
        let req = request.get_ref();
        let group_name = ChildName::parse_field("parent", &req.parent, "activityGroups")?;
        self.shared
            .caller(
                &request,
                READERS,
                "list convener appointments",
                &group_name.committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &NEWEST_FIRST,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Time(t), Key::Uuid(id)]) => Some((*t, *id)),
            _ => None,
        };
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        if self
            .read_group(&mut conn, &group_name.committee, group_name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::appointments(
            &mut conn,
            &group_name.committee,
            None,
            Some(group_name.id),
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![Key::Time(r.nominated_time), Key::Uuid(r.id)],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListConvenerAppointmentsResponse {
            appointments: page.iter().map(|k| appointment(&k.row)).collect(),
            next_page_token,
        }))
    }

    async fn create_studio(
        &self,
        request: Request<pb::CreateStudioRequest>,
    ) -> Result<Response<pb::CreateStudioResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "create studios",
                &committee,
                &req.parent,
            )
            .await?;
        let input = req
            .studio
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("studio", "required"))?;
        let kind = i16::try_from(input.kind).unwrap_or_default();
        let fields = studio_fields(input, &committee, kind)?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "studios", id);
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = ChildName::parse_field("name", &existing, "studios")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let found = self.read_studio(&mut conn, &committee, existing.id).await?;
            return Ok(Response::new(pb::CreateStudioResponse { studio: found }));
        }
        self.committee_exists(&mut change, &committee).await?;
        self.check_sector(&mut change, &committee, fields.sector_id)
            .await?;
        match store::insert_studio(change.conn(), id, &committee, &fields).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STUDIO_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a studio named {}",
                        req.parent, fields.display_name
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_studio(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the studio just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::StudioChanged {
                studio: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioResponse {
            studio: Some(created),
        }))
    }

    async fn get_studio(
        &self,
        request: Request<pb::GetStudioRequest>,
    ) -> Result<Response<pb::GetStudioResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "studios")?;
        self.shared
            .caller(
                &request,
                READERS,
                "read studios",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let found = self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetStudioResponse {
            studio: Some(found),
        }))
    }

    async fn list_studios(
        &self,
        request: Request<pb::ListStudiosRequest>,
    ) -> Result<Response<pb::ListStudiosResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, READERS, "list studios", &committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &lists::ENTITIES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let keys = lists::entity_page(
            &mut conn,
            Entity::Studios,
            &committee,
            req.show_deleted,
            &query,
        )
        .await
        .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = store::studios(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let by_id: HashMap<Uuid, _> = rows.iter().map(|r| (r.id, r)).collect();
        Ok(Response::new(pb::ListStudiosResponse {
            studios: ids
                .iter()
                .filter_map(|id| by_id.get(id))
                .map(|r| studio(r))
                .collect(),
            next_page_token,
        }))
    }

    async fn update_studio(
        &self,
        request: Request<pb::UpdateStudioRequest>,
    ) -> Result<Response<pb::UpdateStudioResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .studio
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("studio", "required"))?;
        let name = ChildName::parse_field("studio.name", &input.name, "studios")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "update studios",
                &name.committee,
                &input.name,
            )
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &STUDIO_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "township" => !input.township.is_empty(),
            "sector" => !input.sector.is_empty(),
            "monthly_target" => input.monthly_target != 0,
            "establish_date" => input.establish_date.is_some(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_studio(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "township" => merged.township.clone_from(&input.township),
                "sector" => merged.sector.clone_from(&input.sector),
                "monthly_target" => merged.monthly_target = input.monthly_target,
                "establish_date" => merged.establish_date = input.establish_date,
                _ => {}
            }
        }
        let fields = studio_fields(
            &merged,
            &name.committee,
            i16::try_from(before.kind).unwrap_or_default(),
        )?;
        self.check_sector(&mut change, &name.committee, fields.sector_id)
            .await?;
        match store::update_studio(change.conn(), name.id, &fields).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STUDIO_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!(
                        "committees/{} already has a studio named {}",
                        name.committee, fields.display_name
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateStudioResponse {
            studio: Some(after),
        }))
    }

    async fn delete_studio(
        &self,
        request: Request<pb::DeleteStudioRequest>,
    ) -> Result<Response<pb::DeleteStudioResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "studios")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "delete studios",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_studio(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?;
        store::mark_studio(change.conn(), name.id, true)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteStudioResponse {
            studio: Some(after),
        }))
    }

    async fn add_studio_member(
        &self,
        request: Request<pb::AddStudioMemberRequest>,
    ) -> Result<Response<pb::AddStudioMemberResponse>, Status> {
        let studio = self
            .studio_membership(
                &request,
                &request.get_ref().studio,
                &request.get_ref().member,
                true,
            )
            .await?;
        Ok(Response::new(pb::AddStudioMemberResponse {
            studio: Some(studio),
        }))
    }

    async fn remove_studio_member(
        &self,
        request: Request<pb::RemoveStudioMemberRequest>,
    ) -> Result<Response<pb::RemoveStudioMemberResponse>, Status> {
        let studio = self
            .studio_membership(
                &request,
                &request.get_ref().studio,
                &request.get_ref().member,
                false,
            )
            .await?;
        Ok(Response::new(pb::RemoveStudioMemberResponse {
            studio: Some(studio),
        }))
    }

    async fn list_studio_members(
        &self,
        request: Request<pb::ListStudioMembersRequest>,
    ) -> Result<Response<pb::ListStudioMembersResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(
                &request,
                READERS,
                "list studio members",
                &name.committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &BY_NAMES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Text(n), Key::Text(_), Key::Uuid(id)]) => Some((n.clone(), *id)),
            _ => None,
        };
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::studio_members(&mut conn, name.id, after, query.limit as i64 + 1)
            .await
            .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![
                    Key::Text(r.display_name.clone()),
                    Key::Text(String::new()),
                    Key::Uuid(r.member_id),
                ],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioMembersResponse {
            members: page
                .iter()
                .map(|k| ChildName::format(&name.committee, "members", k.row.member_id))
                .collect(),
            member_display_names: page.iter().map(|k| k.row.display_name.clone()).collect(),
            next_page_token,
        }))
    }

    async fn create_studio_liaison(
        &self,
        request: Request<pb::CreateStudioLiaisonRequest>,
    ) -> Result<Response<pb::CreateStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let studio_name = ChildName::parse_field("parent", &req.parent, "studios")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "add studio liaisons",
                &studio_name.committee,
                &req.parent,
            )
            .await?;
        let input = req
            .liaison
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison", "required"))?;
        let id = Uuid::now_v7();
        let fields = self.liaison_fields(input, id)?;
        let name = SubName::format(
            &studio_name.committee,
            "studios",
            studio_name.id,
            "liaisons",
            id,
        );
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = SubName::parse_field("name", &existing, "studios", "liaisons")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let row = self.read_liaison(&mut conn, &existing).await?;
            let found = row.map(|r| self.liaison(&r, false)).transpose()?;
            return Ok(Response::new(pb::CreateStudioLiaisonResponse {
                liaison: found,
            }));
        }
        store::lock_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        store::insert_liaison(change.conn(), id, studio_name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        store::mark_studio(change.conn(), studio_name.id, false)
            .await
            .map_err(classify_db_error)?;
        let sub = SubName {
            committee: studio_name.committee.clone(),
            parent: studio_name.id,
            id,
        };
        let row = self
            .read_liaison(change.conn(), &sub)
            .await?
            .ok_or_else(|| ServiceError::internal("the liaison just written is gone"))?;
        let created = self.liaison(&row, false)?;
        change.audit(&studio_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &studio_name.committee,
            &name,
            &pb::StudioLiaisonChanged {
                liaison: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioLiaisonResponse {
            liaison: Some(created),
        }))
    }

    async fn list_studio_liaisons(
        &self,
        request: Request<pb::ListStudioLiaisonsRequest>,
    ) -> Result<Response<pb::ListStudioLiaisonsResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(
                &request,
                READERS,
                "list studio liaisons",
                &name.committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &BY_NAMES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let after = match query.after() {
            Some([Key::Text(v), Key::Text(n), Key::Uuid(id)]) => Some((v.clone(), n.clone(), *id)),
            _ => None,
        };
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::liaisons(
            &mut conn,
            &name.committee,
            name.id,
            None,
            req.show_deleted,
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![
                    Key::Text(r.village.clone()),
                    Key::Text(r.display_name.clone()),
                    Key::Uuid(r.id),
                ],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioLiaisonsResponse {
            liaisons: page
                .iter()
                .map(|k| self.liaison(&k.row, false))
                .collect::<Result<_, _>>()?,
            next_page_token,
        }))
    }

    async fn update_studio_liaison(
        &self,
        request: Request<pb::UpdateStudioLiaisonRequest>,
    ) -> Result<Response<pb::UpdateStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .liaison
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison", "required"))?;
        let name = SubName::parse_field("liaison.name", &input.name, "studios", "liaisons")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "update studio liaisons",
                &name.committee,
                &input.name,
            )
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &LIAISON_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "village" => !input.village.is_empty(),
            "phone" => !input.phone.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &name.committee, name.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let revision = store::lock_liaison(change.conn(), name.parent, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let before = self.liaison(&row, true)?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "village" => merged.village.clone_from(&input.village),
                // The masked phone a caller read back leaves it as it is.
                "phone" if input.phone != row.phone_masked => merged.phone.clone_from(&input.phone),
                _ => {}
            }
        }
        let fields = self.liaison_fields(&merged, name.id)?;
        store::update_liaison(change.conn(), name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let after = self.liaison(&row, false)?;
        let before = pb::StudioLiaison {
            phone: mask_phone(&before.phone),
            ..before
        };
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::StudioLiaisonChanged {
                liaison: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateStudioLiaisonResponse {
            liaison: Some(after),
        }))
    }

    async fn delete_studio_liaison(
        &self,
        request: Request<pb::DeleteStudioLiaisonRequest>,
    ) -> Result<Response<pb::DeleteStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let name = SubName::parse_field("name", &req.name, "studios", "liaisons")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "remove studio liaisons",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &name.committee, name.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let revision = store::lock_liaison(change.conn(), name.parent, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_liaison(change.conn(), &name)
            .await?
            .map(|r| self.liaison(&r, false))
            .transpose()?;
        store::delete_liaison(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        store::mark_studio(change.conn(), name.parent, false)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let after = self.liaison(&row, false)?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::StudioLiaisonChanged {
                liaison: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteStudioLiaisonResponse {
            liaison: Some(after),
        }))
    }

    async fn create_studio_activity(
        &self,
        request: Request<pb::CreateStudioActivityRequest>,
    ) -> Result<Response<pb::CreateStudioActivityResponse>, Status> {
        let req = request.get_ref();
        let studio_name = ChildName::parse_field("parent", &req.parent, "studios")?;
        let actor = self
            .shared
            .caller(
                &request,
                ORGANISERS,
                "record studio activities",
                &studio_name.committee,
                &req.parent,
            )
            .await?;
        let input = req
            .activity
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity", "required"))?;
        let mut errors = Violations::default();
        let title = take_text(&mut errors, "activity.title", &input.title, 1, 100);
        let description = take_text(
            &mut errors,
            "activity.description",
            &input.description,
            0,
            4000,
        );
        let day = match parse_date("activity.date", input.date.as_ref()) {
            Ok(Some(d)) if crate::domain::member::plausible(d, today()) && d <= today() => Some(d),
            Ok(Some(_)) => {
                errors.add(
                    "activity.date",
                    "must be a day between 1949-09-21 and today",
                );
                None
            }
            Ok(None) => {
                errors.add("activity.date", "required");
                None
            }
            Err(e) => {
                absorb(&mut errors, e);
                None
            }
        };
        let mut participants = Vec::new();
        for (i, p) in input.participants.iter().enumerate() {
            match ChildName::parse(p, "members") {
                Some(m) if m.committee == studio_name.committee => participants.push(m.id),
                _ => errors.add(
                    format!("activity.participants[{i}]"),
                    "must be a member of this committee",
                ),
            }
        }
        participants.sort();
        participants.dedup();
        errors.finish()?;
        let day = day.expect("checked");
        let id = Uuid::now_v7();
        let name = SubName::format(
            &studio_name.committee,
            "studios",
            studio_name.id,
            "activities",
            id,
        );
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = SubName::parse_field("name", &existing, "studios", "activities")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let rows = store::activities(
                &mut conn,
                &existing.committee,
                existing.parent,
                Some(&[existing.id]),
                None,
                1,
            )
            .await
            .map_err(classify_db_error)?;
            return Ok(Response::new(pb::CreateStudioActivityResponse {
                activity: rows.first().map(activity),
            }));
        }
        store::lock_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        let studio = self
            .read_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        if let Some(established) = studio.establish_date.as_ref()
            && let Ok(Some(established)) = parse_date("establish_date", Some(established))
            && day < established
        {
            return Err(ServiceError::invalid(
                "activity.date",
                format!("{day} is before the studio was set up ({established})"),
            )
            .into());
        }
        let known = member_store::get_many(change.conn(), &studio_name.committee, &participants)
            .await
            .map_err(classify_db_error)?;
        if known.len() != participants.len() {
            return Err(ServiceError::invalid(
                "activity.participants",
                "names a member this committee does not have",
            )
            .into());
        }
        store::insert_activity(
            change.conn(),
            id,
            studio_name.id,
            &title,
            day,
            &description,
            &participants,
            &actor.subject,
            actor.role.to_proto() as i16,
        )
        .await
        .map_err(classify_db_error)?;
        let rows = store::activities(
            change.conn(),
            &studio_name.committee,
            studio_name.id,
            Some(&[id]),
            None,
            1,
        )
        .await
        .map_err(classify_db_error)?;
        let created = rows
            .first()
            .map(activity)
            .ok_or_else(|| ServiceError::internal("the activity just written is gone"))?;
        change.audit(&studio_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &studio_name.committee,
            &name,
            &pb::StudioActivityRecorded {
                activity: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioActivityResponse {
            activity: Some(created),
        }))
    }

    async fn list_studio_activities(
        &self,
        request: Request<pb::ListStudioActivitiesRequest>,
    ) -> Result<Response<pb::ListStudioActivitiesResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(
                &request,
                READERS,
                "list studio activities",
                &name.committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &DAYS_NEWEST_FIRST,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Date(d), Key::Uuid(id)]) => Some((*d, *id)),
            _ => None,
        };
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::activities(
            &mut conn,
            &name.committee,
            name.id,
            None,
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![Key::Date(r.activity_date), Key::Uuid(r.id)],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioActivitiesResponse {
            activities: page.iter().map(|k| activity(&k.row)).collect(),
            next_page_token,
        }))
    }

    async fn list_studio_shortfalls(
        &self,
        request: Request<pb::ListStudioShortfallsRequest>,
    ) -> Result<Response<pb::ListStudioShortfallsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let (first, next) = month_bounds(req.year, req.month)?;
        if first > today() {
            return Err(ServiceError::invalid(
                "month",
                format!(
                    "{}-{:02} has not begun; ask for this month or an earlier one",
                    req.year, req.month
                ),
            )
            .into());
        }
        self.shared
            .caller(
                &request,
                READERS,
                "read studio shortfalls",
                &committee,
                &req.parent,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let settings = committee_store::settings(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        let settings: crate::domain::settings::Settings =
            serde_json::from_value(settings.settings).map_err(ServiceError::internal)?;
        let default_target = settings.effective().studio_monthly_activities.unwrap_or(2);
        let rows = store::studio_months(&mut conn, &committee, first, next)
            .await
            .map_err(classify_db_error)?;
        let studio_count = rows.len() as i32;
        let shortfalls = rows
            .into_iter()
            .filter_map(|r| {
                let target = if r.monthly_target > 0 {
                    r.monthly_target
                } else {
                    default_target
                };
                (r.held < i64::from(target)).then(|| pb::StudioShortfall {
                    studio: ChildName::format(&committee, "studios", r.id),
                    display_name: r.display_name,
                    held: r.held as i32,
                    target,
                })
            })
            .collect();
        Ok(Response::new(pb::ListStudioShortfallsResponse {
            shortfalls,
            studio_count,
        }))
    }

    async fn create_liaison_station(
        &self,
        request: Request<pb::CreateLiaisonStationRequest>,
    ) -> Result<Response<pb::CreateLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "create liaison stations",
                &committee,
                &req.parent,
            )
            .await?;
        let input = req
            .liaison_station
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison_station", "required"))?;
        let (display_name, kind, location) = station_fields(input)?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "liaisonStations", id);
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = ChildName::parse_field("name", &existing, "liaisonStations")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let found = self
                .read_station(&mut conn, &committee, existing.id)
                .await?;
            return Ok(Response::new(pb::CreateLiaisonStationResponse {
                liaison_station: found,
            }));
        }
        self.committee_exists(&mut change, &committee).await?;
        match store::insert_station(
            change.conn(),
            id,
            &committee,
            &display_name,
            kind,
            &location,
        )
        .await
        {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STATION_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a liaison station named {display_name}",
                        req.parent
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_station(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the station just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::LiaisonStationChanged {
                liaison_station: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateLiaisonStationResponse {
            liaison_station: Some(created),
        }))
    }

    async fn get_liaison_station(
        &self,
        request: Request<pb::GetLiaisonStationRequest>,
    ) -> Result<Response<pb::GetLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "liaisonStations")?;
        self.shared
            .caller(
                &request,
                READERS,
                "read liaison stations",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let found = self
            .read_station(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetLiaisonStationResponse {
            liaison_station: Some(found),
        }))
    }

    async fn list_liaison_stations(
        &self,
        request: Request<pb::ListLiaisonStationsRequest>,
    ) -> Result<Response<pb::ListLiaisonStationsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(
                &request,
                READERS,
                "list liaison stations",
                &committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &lists::ENTITIES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let keys = lists::entity_page(
            &mut conn,
            Entity::LiaisonStations,
            &committee,
            req.show_deleted,
            &query,
        )
        .await
        .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = store::stations(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let by_id: HashMap<Uuid, _> = rows.iter().map(|r| (r.id, r)).collect();
        Ok(Response::new(pb::ListLiaisonStationsResponse {
            liaison_stations: ids
                .iter()
                .filter_map(|id| by_id.get(id))
                .map(|r| station(r))
                .collect(),
            next_page_token,
        }))
    }

    async fn update_liaison_station(
        &self,
        request: Request<pb::UpdateLiaisonStationRequest>,
    ) -> Result<Response<pb::UpdateLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .liaison_station
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison_station", "required"))?;
        let name = ChildName::parse_field("liaison_station.name", &input.name, "liaisonStations")?;
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "update liaison stations",
                &name.committee,
                &input.name,
            )
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &STATION_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "kind" => input.kind != 0,
            "location" => !input.location.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_station(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "kind" => merged.kind = input.kind,
                "location" => merged.location.clone_from(&input.location),
                _ => {}
            }
        }
        let (display_name, kind, location) = station_fields(&merged)?;
        match store::update_station(change.conn(), name.id, &display_name, kind, &location).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STATION_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!(
                        "committees/{} already has a liaison station named {display_name}",
                        name.committee
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::LiaisonStationChanged {
                liaison_station: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateLiaisonStationResponse {
            liaison_station: Some(after),
        }))
    }

    async fn delete_liaison_station(
        &self,
        request: Request<pb::DeleteLiaisonStationRequest>,
    ) -> Result<Response<pb::DeleteLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "liaisonStations")?;
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "delete liaison stations",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_station(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let informants = store::station_informants(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        if informants > 0 {
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                format!(
                    "{informants} informants report through this station; move or remove them first"
                ),
            )
            .into());
        }
        let before = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?;
        store::delete_station(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::LiaisonStationChanged {
                liaison_station: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteLiaisonStationResponse {
            liaison_station: Some(after),
        }))
    }

    async fn create_informant(
        &self,
        request: Request<pb::CreateInformantRequest>,
    ) -> Result<Response<pb::CreateInformantResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "create informants",
                &committee,
                &req.parent,
            )
            .await?;
        let input = req
            .informant
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("informant", "required"))?;
        let id = Uuid::now_v7();
        let fields = self.informant_fields(input, &committee, id, true)?;
        let name = ChildName::format(&committee, "informants", id);
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = ChildName::parse_field("name", &existing, "informants")?;
            let mut conn = self
                .shared
                .db
                .pool()
                .acquire()
                .await
                .map_err(classify_db_error)?;
            let row = self
                .read_informant(&mut conn, &committee, existing.id)
                .await?;
            let found = row.map(|r| self.informant(&r, false)).transpose()?;
            return Ok(Response::new(pb::CreateInformantResponse {
                informant: found,
            }));
        }
        if !store::hold_station(change.conn(), &committee, fields.station)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::invalid(
                "informant.liaison_station",
                "no such liaison station in this committee",
            )
            .into());
        }
        store::insert_informant(change.conn(), id, &committee, &fields)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_informant(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the informant just written is gone"))?;
        let created = self.informant(&row, false)?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::InformantChanged {
                informant: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateInformantResponse {
            informant: Some(created),
        }))
    }

    async fn get_informant(
        &self,
        request: Request<pb::GetInformantRequest>,
    ) -> Result<Response<pb::GetInformantResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "informants")?;
        let actor = self
            .shared
            .caller(
                &request,
                READERS,
                "read informants",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_informant(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        drop(conn);
        let unmask = actor.is(NETWORK_ENTITLED) && row.phone_sealed.is_some();
        let found = self.informant(&row, unmask)?;
        if unmask {
            self.shared
                .db
                .audit_reads(&actor, &name.committee, std::slice::from_ref(&req.name))
                .await?;
        }
        Ok(Response::new(pb::GetInformantResponse {
            informant: Some(found),
        }))
    }

    async fn list_informants(
        &self,
        request: Request<pb::ListInformantsRequest>,
    ) -> Result<Response<pb::ListInformantsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(
                &request,
                READERS,
                "list informants",
                &committee,
                &req.parent,
            )
            .await?;
        let query = ListQuery::new(
            &lists::INFORMANTS,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                filter: &req.filter,
                order_by: "",
            },
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let mut conn = self
            .shared
            .db
            .pool()
            .acquire()
            .await
            .map_err(classify_db_error)?;
        let keys = lists::entity_page(
            &mut conn,
            Entity::Informants,
            &committee,
            req.show_deleted,
            &query,
        )
        .await
        .map_err(classify_db_error)?;
        let total = lists::entity_count(
            &mut conn,
            Entity::Informants,
            &committee,
            req.show_deleted,
            &query,
        )
        .await
        .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = store::informants(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let by_id: HashMap<Uuid, _> = rows.iter().map(|r| (r.id, r)).collect();
        let informants = ids
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|r| self.informant(r, false))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListInformantsResponse {
            informants,
            next_page_token,
            total_size: total as i32,
        }))
    }

    async fn update_informant(
        &self,
        request: Request<pb::UpdateInformantRequest>,
    ) -> Result<Response<pb::UpdateInformantResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .informant
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("informant", "required"))?;
        let name = ChildName::parse_field("informant.name", &input.name, "informants")?;
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "update informants",
                &name.committee,
                &input.name,
            )
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &INFORMANT_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "liaison_station" => !input.liaison_station.is_empty(),
            "employer" => !input.employer.is_empty(),
            "phone" => !input.phone.is_empty(),
            // `false` is unset in proto3: name `active` in the mask to clear it.
            "active" => input.active,
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_informant(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let current = self.informant(&row, true)?;
        let mut merged = current.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "liaison_station" => merged.liaison_station.clone_from(&input.liaison_station),
                "employer" => merged.employer.clone_from(&input.employer),
                // The masked phone a caller read back leaves it as it is.
                "phone" if input.phone != row.phone_masked => merged.phone.clone_from(&input.phone),
                "active" => merged.active = input.active,
                _ => {}
            }
        }
        let fields = self.informant_fields(&merged, &name.committee, name.id, merged.active)?;
        if !store::hold_station(change.conn(), &name.committee, fields.station)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::invalid(
                "informant.liaison_station",
                "no such liaison station in this committee",
            )
            .into());
        }
        store::update_informant(change.conn(), name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        let before = self.informant(&row, false)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let after = self.informant(&row, false)?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::InformantChanged {
                informant: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateInformantResponse {
            informant: Some(after),
        }))
    }

    async fn delete_informant(
        &self,
        request: Request<pb::DeleteInformantRequest>,
    ) -> Result<Response<pb::DeleteInformantResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "informants")?;
        let actor = self
            .shared
            .caller(
                &request,
                NETWORK_KEEPERS,
                "delete informants",
                &name.committee,
                &req.name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_informant(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .map(|r| self.informant(&r, false))
            .transpose()?;
        store::delete_informant(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let after = self.informant(&row, false)?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::InformantChanged {
                informant: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteInformantResponse {
            informant: Some(after),
        }))
    }
}

fn station_fields(s: &pb::LiaisonStation) -> Result<(String, i16, String), ServiceError> {
    let mut errors = Violations::default();
    let display_name = take_text(
        &mut errors,
        "liaison_station.display_name",
        &s.display_name,
        1,
        40,
    );
    let location = take_text(&mut errors, "liaison_station.location", &s.location, 1, 60);
    let kind = match pb::LiaisonStationKind::try_from(s.kind) {
        Ok(pb::LiaisonStationKind::Unspecified) | Err(_) => {
            errors.add(
                "liaison_station.kind",
                "required: LIAISON_STATION_KIND_TOWNSHIP or _DEPARTMENT",
            );
            0
        }
        Ok(k) => k as i16,
    };
    errors.finish()?;
    Ok((display_name, kind, location))
}

impl OrganisationApi {
    /// A sector studio's sector must be a live sector of the committee.
    async fn check_sector(
        &self,
        change: &mut Change,
        committee: &str,
        sector: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        let Some(sector) = sector else { return Ok(()) };
        let live = crate::store::catalogue::lock(
            change.conn(),
            crate::store::catalogue::Catalogue::Sectors,
            committee,
            sector,
        )
        .await
        .map_err(classify_db_error)?;
        if live.is_none() {
            return Err(ServiceError::invalid(
                "studio.sector",
                "no such sector in this committee",
            ));
        }
        Ok(())
    }

    fn liaison_fields(
        &self,
        l: &pb::StudioLiaison,
        id: Uuid,
    ) -> Result<LiaisonFields, ServiceError> {
        let mut errors = Violations::default();
        let display_name = take_text(&mut errors, "liaison.display_name", &l.display_name, 1, 30);
        let village = take_text(&mut errors, "liaison.village", &l.village, 1, 40);
        let phone = phone(&l.phone).unwrap_or_else(|e| {
            errors.add("liaison.phone", e);
            None
        });
        errors.finish()?;
        let (phone_sealed, phone_masked) = self.seal_phone("studio_liaison", id, phone.as_deref());
        Ok(LiaisonFields {
            display_name,
            village,
            phone_sealed,
            phone_masked,
        })
    }

    fn informant_fields(
        &self,
        i: &pb::Informant,
        committee: &str,
        id: Uuid,
        active: bool,
    ) -> Result<InformantFields, ServiceError> {
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "informant.display_name",
            &i.display_name,
            1,
            30,
        );
        let employer = take_text(&mut errors, "informant.employer", &i.employer, 0, 100);
        let phone = phone(&i.phone).unwrap_or_else(|e| {
            errors.add("informant.phone", e);
            None
        });
        let station = match ChildName::parse(&i.liaison_station, "liaisonStations") {
            Some(s) if s.committee == committee => Some(s.id),
            _ => {
                errors.add(
                    "informant.liaison_station",
                    "required: a liaison station of this committee",
                );
                None
            }
        };
        errors.finish()?;
        let (phone_sealed, phone_masked) = self.seal_phone("informant", id, phone.as_deref());
        Ok(InformantFields {
            station: station.expect("checked"),
            display_name,
            employer,
            phone_sealed,
            phone_masked,
            active,
        })
    }

    /// Adds (`add`) or removes a member of a studio; the studio after.
    async fn studio_membership<T>(
        &self,
        request: &Request<T>,
        studio_name: &str,
        member_name: &str,
        add: bool,
    ) -> Result<pb::Studio, ServiceError> {
        let mut errors = Violations::default();
        let studio = ChildName::parse_field("studio", studio_name, "studios");
        let member = ChildName::parse_field("member", member_name, "members");
        for e in [studio.as_ref().err(), member.as_ref().err()]
            .into_iter()
            .flatten()
        {
            for v in e.field_violations() {
                errors.add(v.field.clone(), v.description.clone());
            }
        }
        if let (Ok(s), Ok(m)) = (&studio, &member) {
            errors.check(
                s.committee != m.committee,
                "member",
                "belongs to another committee than the studio",
            );
        }
        errors.finish()?;
        let (studio, member) = (studio?, member?);
        let actor: Actor = self
            .shared
            .caller(
                request,
                ORGANISERS,
                "change studio members",
                &studio.committee,
                studio_name,
            )
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &studio.committee, studio.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(studio_name))?;
        let (_, status) = member_store::lock(change.conn(), &member.committee, member.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(member_name))?;
        let resource = format!("{studio_name}/members/{}", member.id);
        if add {
            if status != crate::domain::MemberStatus::Active.number() {
                return Err(ServiceError::failed_precondition(
                    "STATE",
                    member_name,
                    "only members in office join studios",
                ));
            }
            if !store::add_studio_member(change.conn(), studio.id, member.id)
                .await
                .map_err(classify_db_error)?
            {
                // A member already: nothing changes.
                drop(change);
                let mut conn = self
                    .shared
                    .db
                    .pool()
                    .acquire()
                    .await
                    .map_err(classify_db_error)?;
                return self
                    .read_studio(&mut conn, &studio.committee, studio.id)
                    .await?
                    .ok_or_else(|| ServiceError::not_found(studio_name));
            }
        } else if !store::remove_studio_member(change.conn(), studio.id, member.id)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::not_found(&resource));
        }
        store::mark_studio(change.conn(), studio.id, false)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_studio(change.conn(), &studio.committee, studio.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(studio_name))?;
        let seat = serde_json::json!({ "member": member_name });
        let (before, after_json) = if add {
            (None, Some(seat))
        } else {
            (Some(seat), None)
        };
        change.audit(&studio.committee, &resource, before, after_json);
        change.publish(
            &studio.committee,
            studio_name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(after)
    }
}
