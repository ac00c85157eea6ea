//! `cppcc.members.v1.DutyRecordService`: members' duty records (履职档案),
//! entries recorded by the office, their reversals, and where the intake
//! of other services' events stands.

use time::Date;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::convert::{parse_date, timestamp};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::page::{ListQuery, ListRequest};
use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::common::v1::{self as common, DutyKind};
use cppcc_proto::members::v1 as pb;
use pb::duty_record_service_server::DutyRecordService;

use super::{Shared, SubName};
use crate::domain::evaluation::duty_kind;
use crate::domain::member::plausible;
use crate::domain::text;
use crate::intake::IntakeStatus;
use crate::store::duty::{self as store, NewRecord, NotInOffice, RecordRow, TenureRow};
use crate::store::members as member_store;

/// The duty record service.
#[derive(Clone, Debug)]
pub struct DutyRecordApi {
    shared: Shared,
    intake: IntakeStatus,
}

impl DutyRecordApi {
    pub fn new(shared: Shared, intake: IntakeStatus) -> Self {
        DutyRecordApi { shared, intake }
    }
}

/// `committees/{c}/members/{m}/dutyRecords/{id}`.
pub(crate) fn record_name(committee: &str, member: Uuid, id: Uuid) -> String {
    SubName::format(committee, "members", member, "dutyRecords", id)
}

/// An entry as a message.
pub(crate) fn record(row: &RecordRow) -> pb::DutyRecord {
    let name = |id: Uuid| record_name(&row.committee_id, row.member_id, id);
    pb::DutyRecord {
        name: name(row.id),
        kind: row.kind.into(),
        date: Some(cppcc_kit::convert::date(row.occurred_on)),
        evidence: row.evidence.clone(),
        source_service: row.source_service.clone(),
        source_event: row.source_event.map(|e| e.to_string()).unwrap_or_default(),
        source: row.source.clone(),
        reverses: row.reverses.map(name).unwrap_or_default(),
        reversed_by: row.reversed_by.map(name).unwrap_or_default(),
        recorded: Some(common::AuditStamp {
            actor: row.recorded_by.clone(),
            actor_role: row.recorded_role.into(),
            time: Some(timestamp(row.create_time)),
            reason: row.reason.clone(),
        }),
        create_time: Some(timestamp(row.create_time)),
    }
}

/// The day of an entry: given, a real day of the CPPCC, not in the future.
pub(crate) fn duty_date(
    field: &str,
    given: Option<&common::Date>,
    today: Date,
) -> Result<Date, String> {
    match parse_date(field, given) {
        Ok(Some(d)) if plausible(d, today) && d <= today => Ok(d),
        Ok(Some(_)) => Err("must be a day between 1949-09-21 and today".to_owned()),
        Ok(None) => Err("required".to_owned()),
        Err(e) => Err(e
            .field_violations()
            .first()
            .map_or_else(|| e.message().to_owned(), |v| v.description.clone())),
    }
}

/// An entry as a caller gives it, checked.
struct Entry {
    kind: DutyKind,
    day: Date,
    evidence: String,
    source: String,
}

impl Entry {
    /// Checks the entry in request field `field`, adding what is wrong to
    /// `errors`.
    fn check(
        errors: &mut Violations,
        field: &str,
        input: Option<&pb::DutyRecord>,
        today: Date,
    ) -> Option<Entry> {
        let Some(input) = input else {
            errors.add(field, "required");
            return None;
        };
        let f = |name: &str| format!("{field}.{name}");
        let kind = duty_kind(input.kind);
        errors.check(
            kind.is_none(),
            &f("kind"),
            format!("required: a DutyKind, not {}", input.kind),
        );
        let day = duty_date(&f("date"), input.date.as_ref(), today)
            .map_err(|e| errors.add(f("date"), e))
            .ok();
        let evidence = text(&input.evidence, 1, 2000)
            .map_err(|e| errors.add(f("evidence"), e))
            .ok();
        let source = text(&input.source, 0, 300)
            .map_err(|e| errors.add(f("source"), e))
            .ok();
        Some(Entry {
            kind: kind?,
            day: day?,
            evidence: evidence?,
            source: source?,
        })
    }

    fn record(self, id: Uuid, committee: &str, member: Uuid, actor: &Actor) -> NewRecord {
        NewRecord {
            id,
            committee: committee.to_owned(),
            member,
            kind: self.kind as i16,
            occurred_on: self.day,
            evidence: self.evidence,
            source_service: store::STAFF.to_owned(),
            source_event: None,
            source: self.source,
            reverses: None,
            recorded_by: actor.subject.clone(),
            recorded_role: actor.role.to_proto() as i16,
            reason: String::new(),
        }
    }
}

/// Whether `member` was in office on `day`, as entries need: `NOT_FOUND`
/// if the committee does not have it, `INVALID_ARGUMENT` on `field` for a
/// day before it joined, `FAILED_PRECONDITION` for a day after it left
/// office (an entry for a day it served may be recorded after it left).
fn in_office_on(
    member: &str,
    tenure: Option<&TenureRow>,
    day: Date,
    field: &str,
) -> Result<(), ServiceError> {
    let tenure = tenure.ok_or_else(|| ServiceError::not_found(member))?;
    match tenure.in_office_on(day) {
        Ok(()) => Ok(()),
        Err(NotInOffice::BeforeJoining(joined)) => Err(ServiceError::invalid(
            field,
            format!("{day} is before {member} joined the committee ({joined})"),
        )),
        Err(NotInOffice::Left(status, left)) => {
            let state = status.to_proto().as_str_name();
            let left = left.map(|d| format!(" since {d}")).unwrap_or_default();
            Err(ServiceError::failed_precondition(
                "MEMBER_NOT_ACTIVE",
                member,
                format!(
                    "{member} is {state}{left}: entries are recorded for the days it was in office"
                ),
            )
            .with_metadata("current_state", state))
        }
        Err(NotInOffice::Unreadable(n)) => Err(ServiceError::internal(format!(
            "{member} has status {n}, which is no status"
        ))),
    }
}

/// The ids of a batch's entries: derived from its request id, so a retry
/// finds the entries the first call recorded.
fn batch_ids(request_id: &str, n: usize) -> Vec<Uuid> {
    const NAMESPACE: Uuid = Uuid::from_u128(0x8f0b_5a4e_7c1d_4e0a_9b52_d1c3_a6e7_f201);
    (0..n)
        .map(|i| {
            if request_id.is_empty() {
                Uuid::now_v7()
            } else {
                Uuid::new_v5(&NAMESPACE, format!("{request_id}/{i}").as_bytes())
            }
        })
        .collect()
}

/// The most entries one batch records.
const MAX_BATCH: usize = 1000;

impl Shared {
    /// Lets a member read only its own record: for anyone else it does not
    /// exist (and the refusal is audited).
    pub(crate) async fn check_own(
        &self,
        actor: &Actor,
        committee: &str,
        member: &str,
        resource: &str,
    ) -> Result<(), ServiceError> {
        if actor.role != Role::Member || actor.member.as_deref() == Some(member) {
            return Ok(());
        }
        self.db
            .audit_denied(
                Some(actor),
                Some(committee),
                &actor.peer_text(),
                &actor.method,
                &format!("{resource}: another member's record"),
            )
            .await?;
        Err(ServiceError::not_found(resource))
    }
}

impl DutyRecordApi {
    async fn read(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        member: Uuid,
        id: Uuid,
    ) -> Result<Option<pb::DutyRecord>, ServiceError> {
        let rows = store::records(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.iter().find(|r| r.member_id == member).map(record))
    }

    /// Reads an entry written in this change, or fails as internal.
    async fn written(
        &self,
        change: &mut Change,
        committee: &str,
        member: Uuid,
        id: Uuid,
    ) -> Result<pb::DutyRecord, ServiceError> {
        self.read(change.conn(), committee, member, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the entry just written is gone"))
    }
}

/// The rows of `ids` as messages, in the order of `ids`.
fn in_order(ids: &[Uuid], rows: &[RecordRow]) -> Vec<pb::DutyRecord> {
    super::in_order_of(ids, rows, |r| r.id)
        .into_iter()
        .map(record)
        .collect()
}

/// The committee, and the member if one is named, of a list's parent:
/// `committees/{c}/members/{m}` or `committees/{c}/members/-`.
fn list_parent(parent: &str) -> Result<(String, Option<Uuid>), ServiceError> {
    if let Some(committee) = parent.strip_suffix("/members/-") {
        return Ok((parse_committee("parent", committee)?.to_owned(), None));
    }
    let name = ChildName::parse_field("parent", parent, "members")?;
    Ok((name.committee, Some(name.id)))
}

#[tonic::async_trait]
impl DutyRecordService for DutyRecordApi {
    async fn create_duty_record(
        &self,
        request: Request<pb::CreateDutyRecordRequest>,
    ) -> Result<Response<pb::CreateDutyRecordResponse>, Status> {
        let req = request.get_ref();
        let member = ChildName::parse_field("parent", &req.parent, "members")?;
        let actor = self
            .shared
            .caller(&request, &member.committee, &req.parent)
            .await?;
        let mut errors = Violations::default();
        let entry = Entry::check(
            &mut errors,
            "duty_record",
            req.duty_record.as_ref(),
            self.shared.db.today(),
        );
        errors.finish()?;
        let entry = entry.expect("checked");

        let id = Uuid::now_v7();
        let name = record_name(&member.committee, member.id, id);
        let mut change = self.shared.db.change(&actor).await?;
        let print = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &print, &name)
            .await?
        {
            drop(change);
            let existing = SubName::parse_field("name", &existing, "members", "dutyRecords")?;
            let mut conn = self.shared.db.acquire().await?;
            let found = self
                .read(&mut conn, &existing.committee, existing.parent, existing.id)
                .await?
                .ok_or_else(|| ServiceError::internal("the entry a request id names is gone"))?;
            return Ok(Response::new(pb::CreateDutyRecordResponse {
                duty_record: Some(found),
            }));
        }
        let tenure = store::tenures(change.conn(), &member.committee, &[member.id])
            .await
            .map_err(classify_db_error)?;
        in_office_on(&req.parent, tenure.first(), entry.day, "duty_record.date")?;
        store::insert(
            change.conn(),
            &entry.record(id, &member.committee, member.id, &actor),
        )
        .await
        .map_err(classify_db_error)?;
        let created = self
            .written(&mut change, &member.committee, member.id, id)
            .await?;
        change.audit(&member.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &member.committee,
            &name,
            &pb::DutyRecordAdded {
                duty_record: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateDutyRecordResponse {
            duty_record: Some(created),
        }))
    }

    async fn batch_create_duty_records(
        &self,
        request: Request<pb::BatchCreateDutyRecordsRequest>,
    ) -> Result<Response<pb::BatchCreateDutyRecordsResponse>, Status> {
        let req = request.get_ref();
        let (committee, member) = list_parent(&req.parent)?;
        if member.is_some() {
            return Err(ServiceError::invalid(
                "parent",
                format!("must be the committee's members, `committees/{committee}/members/-`"),
            )
            .into());
        }
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut errors = Violations::default();
        errors.check(
            req.requests.is_empty() || req.requests.len() > MAX_BATCH,
            "requests",
            format!(
                "must hold 1 to {MAX_BATCH} entries, not {}",
                req.requests.len()
            ),
        );
        let mut entries = Vec::with_capacity(req.requests.len());
        for (i, r) in req.requests.iter().enumerate() {
            let member = match ChildName::parse(&r.parent, "members") {
                Some(m) if m.committee == committee => Some(m.id),
                _ => {
                    errors.add(
                        format!("requests[{i}].parent"),
                        format!("must be a member of {}", req.parent),
                    );
                    None
                }
            };
            let entry = Entry::check(
                &mut errors,
                &format!("requests[{i}].duty_record"),
                r.duty_record.as_ref(),
                self.shared.db.today(),
            );
            entries.push(member.zip(entry));
        }
        errors.finish()?;
        let entries: Vec<(Uuid, Entry)> =
            entries.into_iter().map(|e| e.expect("checked")).collect();

        let ids = batch_ids(&req.request_id, entries.len());
        let mut change = self.shared.db.change(&actor).await?;
        let print = fingerprint(req, &actor, |r| r.request_id.clear());
        let first = record_name(&committee, entries[0].0, ids[0]);
        if let Claim::Replay(_) = change
            .claim_request_id("request_id", &req.request_id, &print, &first)
            .await?
        {
            drop(change);
            let mut conn = self.shared.db.acquire().await?;
            let rows = store::records(&mut conn, &committee, &ids)
                .await
                .map_err(classify_db_error)?;
            return Ok(Response::new(pb::BatchCreateDutyRecordsResponse {
                duty_records: in_order(&ids, &rows),
            }));
        }
        let mut wanted: Vec<Uuid> = entries.iter().map(|(m, _)| *m).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let tenures = store::tenures(change.conn(), &committee, &wanted)
            .await
            .map_err(classify_db_error)?;
        for (i, (m, entry)) in entries.iter().enumerate() {
            let tenure = tenures.iter().find(|t| t.id == *m);
            let field = format!("requests[{i}].duty_record.date");
            in_office_on(&req.requests[i].parent, tenure, entry.day, &field)
                .map_err(|e| e.with_metadata("request", format!("requests[{i}]")))?;
        }
        let records: Vec<NewRecord> = entries
            .into_iter()
            .zip(&ids)
            .map(|((member, entry), id)| entry.record(*id, &committee, member, &actor))
            .collect();
        let inserted = store::insert_many(change.conn(), &records)
            .await
            .map_err(classify_db_error)?;
        if inserted.len() != records.len() {
            // The request id was used for another sheet long enough ago that
            // its claim has been forgotten, but its entries are still there.
            return Err(ServiceError::already_exists(
                &req.parent,
                format!(
                    "request id {} was used for entries recorded before; use a new UUID for a new sheet",
                    req.request_id
                ),
            )
            .into());
        }
        let rows = store::records(change.conn(), &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let created = in_order(&ids, &rows);
        if created.len() != ids.len() {
            return Err(ServiceError::internal("entries just written are gone").into());
        }
        for r in &created {
            change.audit(&committee, &r.name, None, Some(to_json(r)));
            change.publish(
                &committee,
                &r.name,
                &pb::DutyRecordAdded {
                    duty_record: Some(r.clone()),
                },
            );
        }
        change.commit().await?;
        Ok(Response::new(pb::BatchCreateDutyRecordsResponse {
            duty_records: created,
        }))
    }

    async fn get_duty_record(
        &self,
        request: Request<pb::GetDutyRecordRequest>,
    ) -> Result<Response<pb::GetDutyRecordResponse>, Status> {
        let req = request.get_ref();
        let name = SubName::parse_field("name", &req.name, "members", "dutyRecords")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let member = ChildName::format(&name.committee, "members", name.parent);
        self.shared
            .check_own(&actor, &name.committee, &member, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let found = self
            .read(&mut conn, &name.committee, name.parent, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetDutyRecordResponse {
            duty_record: Some(found),
        }))
    }

    async fn list_duty_records(
        &self,
        request: Request<pb::ListDutyRecordsRequest>,
    ) -> Result<Response<pb::ListDutyRecordsResponse>, Status> {
        let req = request.get_ref();
        let (committee, member) = list_parent(&req.parent)?;
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        match member {
            Some(_) => {
                self.shared
                    .check_own(&actor, &committee, &req.parent, &req.parent)
                    .await?
            }
            None if actor.role == Role::Member => {
                return Err(ServiceError::permission_denied(format!(
                    "a member may list only its own record: {}",
                    actor
                        .member
                        .as_deref()
                        .unwrap_or("committees/{committee}/members/{member}")
                ))
                .into());
            }
            None => {}
        }
        let query = ListQuery::new(
            &store::RECORDS,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                filter: &req.filter,
                order_by: "",
            },
            &[&req.parent],
        )?;
        let mut conn = self.shared.db.acquire().await?;
        if let Some(id) = member {
            let found = member_store::get_many(&mut conn, &committee, &[id])
                .await
                .map_err(classify_db_error)?;
            if found.is_empty() {
                return Err(ServiceError::not_found(&req.parent).into());
            }
        }
        let keys = store::page(&mut conn, &committee, member, &query)
            .await
            .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let total = store::count(&mut conn, &committee, member, &query)
            .await
            .map_err(classify_db_error)?;
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = store::records(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let duty_records = ids
            .iter()
            .filter_map(|id| rows.iter().find(|r| r.id == *id))
            .map(record)
            .collect();
        Ok(Response::new(pb::ListDutyRecordsResponse {
            duty_records,
            next_page_token,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn reverse_duty_record(
        &self,
        request: Request<pb::ReverseDutyRecordRequest>,
    ) -> Result<Response<pb::ReverseDutyRecordResponse>, Status> {
        let req = request.get_ref();
        let name = SubName::parse_field("name", &req.name, "members", "dutyRecords")?;
        let reason = text(&req.reason, 1, 500).map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        if !store::lock(change.conn(), &name.committee, name.parent, name.id)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::not_found(&req.name).into());
        }
        // Read after the lock: a reversal that committed while this call
        // waited is seen.
        let original = store::records(change.conn(), &name.committee, &[name.id])
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let before = record(&original);
        if original.reverses.is_some() {
            return Err(ServiceError::failed_precondition(
                "IS_REVERSAL",
                &req.name,
                format!(
                    "{} is itself a reversal (of {}); to restore that entry, record it again",
                    req.name, before.reverses
                ),
            )
            .into());
        }
        let already = |by: &str| {
            ServiceError::failed_precondition(
                "ALREADY_REVERSED",
                &req.name,
                format!("{} was reversed already, by {by}", req.name),
            )
            .with_metadata("reversed_by", by)
        };
        if original.reversed_by.is_some() {
            return Err(already(&before.reversed_by).into());
        }
        let id = Uuid::now_v7();
        let reversal_name = record_name(&name.committee, name.parent, id);
        let inserted = store::insert(
            change.conn(),
            &NewRecord {
                id,
                committee: name.committee.clone(),
                member: name.parent,
                kind: original.kind,
                occurred_on: original.occurred_on,
                evidence: original.evidence,
                source_service: store::STAFF.to_owned(),
                source_event: None,
                source: original.source,
                reverses: Some(name.id),
                recorded_by: actor.subject.clone(),
                recorded_role: actor.role.to_proto() as i16,
                reason,
            },
        )
        .await
        .map_err(classify_db_error)?;
        if !inserted {
            return Err(already("another reversal").into());
        }
        let reversal = self
            .written(&mut change, &name.committee, name.parent, id)
            .await?;
        let after = self
            .written(&mut change, &name.committee, name.parent, name.id)
            .await?;
        change.audit(
            &name.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.audit(
            &name.committee,
            &reversal_name,
            None,
            Some(to_json(&reversal)),
        );
        change.publish(
            &name.committee,
            &reversal_name,
            &pb::DutyRecordAdded {
                duty_record: Some(reversal.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::ReverseDutyRecordResponse {
            reversal: Some(reversal),
        }))
    }

    async fn get_duty_record_intake(
        &self,
        request: Request<pb::GetDutyRecordIntakeRequest>,
    ) -> Result<Response<pb::GetDutyRecordIntakeResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let cursors = store::cursors(&mut conn).await.map_err(classify_db_error)?;
        let mut producers = self.intake.snapshot();
        for p in &mut producers {
            if let Some((_, cursor, time)) = cursors.iter().find(|(name, _, _)| *name == p.producer)
            {
                p.cursor = cursor.clone();
                p.cursor_update_time = Some(timestamp(*time));
            }
        }
        let parked = store::parked(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetDutyRecordIntakeResponse {
            producers,
            parked_events: parked
                .into_iter()
                .map(|p| pb::ParkedEvent {
                    producer: p.producer,
                    event_id: p.event_id.to_string(),
                    event_type: p.event_type,
                    committee: cppcc_kit::names::committee_name(&p.committee),
                    reason: p.reason,
                    park_time: Some(timestamp(p.park_time)),
                })
                .collect(),
        }))
    }
}
