//! Duty records, their intake from other services' events, and the counts
//! the evaluation and the statistics are computed from.

use sqlx::{PgConnection, QueryBuilder};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use cppcc_kit::filter::{FieldKind, FilterField};
use cppcc_kit::names::ChildName;
use cppcc_kit::page::{Key, KeyKind, Keyed, ListQuery, ListSpec, OrderField};
use cppcc_proto::common::v1::DutyKind;

use crate::domain::status::MemberStatus;

/// A duty record as stored, with the entry that reverses it, if any.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecordRow {
    pub id: Uuid,
    pub committee_id: String,
    pub member_id: Uuid,
    pub kind: i16,
    pub occurred_on: Date,
    pub evidence: String,
    pub source_service: String,
    pub source_event: Option<Uuid>,
    pub source: String,
    pub reverses: Option<Uuid>,
    pub reversed_by: Option<Uuid>,
    pub recorded_by: String,
    pub recorded_role: i16,
    pub reason: String,
    pub create_time: OffsetDateTime,
}

/// A new entry.
#[derive(Clone, Debug)]
pub struct NewRecord {
    pub id: Uuid,
    pub committee: String,
    pub member: Uuid,
    pub kind: i16,
    pub occurred_on: Date,
    pub evidence: String,
    pub source_service: String,
    pub source_event: Option<Uuid>,
    pub source: String,
    pub reverses: Option<Uuid>,
    pub recorded_by: String,
    pub recorded_role: i16,
    pub reason: String,
}

impl NewRecord {
    /// The entry as it reads once written at `create_time`.
    pub fn row(&self, create_time: OffsetDateTime) -> RecordRow {
        RecordRow {
            id: self.id,
            committee_id: self.committee.clone(),
            member_id: self.member,
            kind: self.kind,
            occurred_on: self.occurred_on,
            evidence: self.evidence.clone(),
            source_service: self.source_service.clone(),
            source_event: self.source_event,
            source: self.source.clone(),
            reverses: self.reverses,
            reversed_by: None,
            recorded_by: self.recorded_by.clone(),
            recorded_role: self.recorded_role,
            reason: self.reason.clone(),
            create_time,
        }
    }
}

/// The source of entries recorded by the office.
pub const STAFF: &str = "staff";

/// Inserts an entry; `false` if the same event already credited the same
/// member with the same kind, or the entry it reverses is reversed already.
pub async fn insert(conn: &mut PgConnection, r: &NewRecord) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO members.duty_record
             (id, committee_id, member_id, kind, occurred_on, evidence, source_service, source_event, source,
              reverses, recorded_by, recorded_role, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
        r.id,
        r.committee,
        r.member,
        r.kind,
        r.occurred_on,
        r.evidence,
        r.source_service,
        r.source_event,
        r.source,
        r.reverses,
        r.recorded_by,
        r.recorded_role,
        r.reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Entries of a committee by id, in any order.
pub async fn records(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<RecordRow>, sqlx::Error> {
    sqlx::query_as!(
        RecordRow,
        r#"SELECT d.id, d.committee_id, d.member_id, d.kind, d.occurred_on, d.evidence, d.source_service,
                  d.source_event, d.source, d.reverses,
                  (SELECT r.id FROM members.duty_record r WHERE r.reverses = d.id) AS "reversed_by?",
                  d.recorded_by, d.recorded_role, d.reason, d.create_time
           FROM members.duty_record d
           WHERE d.id = ANY($1)"#,
        ids,
    )
    .fetch_all(conn)
    .await
    .map(|rows| rows.into_iter().filter(|r| r.committee_id == committee).collect())
}

/// Locks an entry of a member of a committee; whether it exists.
pub async fn lock(
    conn: &mut PgConnection,
    committee: &str,
    member: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        r#"SELECT 1 AS "found!" FROM members.duty_record d
           WHERE d.committee_id = $1 AND d.member_id = $2 AND d.id = $3
           FOR UPDATE"#,
        committee,
        member,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The entries an event from `producer` credited, for a withdrawal: those of
/// the members for `source` and `kind` not reversed yet.
pub async fn credited(
    conn: &mut PgConnection,
    committee: &str,
    producer: &str,
    members: &[Uuid],
    kind: i16,
    source: &str,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    sqlx::query_as!(
        RecordRow,
        r#"SELECT d.id, d.committee_id, d.member_id, d.kind, d.occurred_on, d.evidence, d.source_service,
                  d.source_event, d.source, d.reverses, NULL::uuid AS "reversed_by?", d.recorded_by,
                  d.recorded_role, d.reason, d.create_time
           FROM members.duty_record d
           WHERE d.committee_id = $1 AND d.source_service = $2 AND d.member_id = ANY($3) AND d.kind = $4
             AND d.source = $5 AND d.reverses IS NULL
             AND NOT EXISTS (SELECT 1 FROM members.duty_record r WHERE r.reverses = d.id AND r.reverses IS NOT NULL)
           ORDER BY d.id
           FOR UPDATE"#,
        committee,
        producer,
        members,
        kind,
        source,
    )
    .fetch_all(conn)
    .await
}

fn member_ref(name: &str) -> Option<Uuid> {
    ChildName::parse(name, "members").map(|n| n.id)
}

fn duty_kind(name: &str) -> Option<i32> {
    DutyKind::from_str_name(name).map(|k| k as i32)
}

/// Entries listed oldest first.
pub const RECORDS: ListSpec = ListSpec {
    filter_fields: &[
        FilterField {
            name: "kind",
            sql: "t.kind",
            kind: FieldKind::Enum(duty_kind),
        },
        FilterField {
            name: "date",
            sql: "t.occurred_on",
            kind: FieldKind::Date,
        },
        FilterField {
            name: "source_service",
            sql: "t.source_service",
            kind: FieldKind::Text,
        },
        FilterField {
            name: "member",
            sql: "t.member_id",
            kind: FieldKind::Reference(member_ref),
        },
    ],
    order_fields: &[OrderField {
        name: "date",
        sql: "t.occurred_on",
        kind: KeyKind::Date,
    }],
    default_order: "date",
    tie_break: Some(OrderField {
        name: "id",
        sql: "t.id",
        kind: KeyKind::Uuid,
    }),
};

/// The sort key of a listed entry.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecordKey {
    pub id: Uuid,
    pub occurred_on: Date,
}

impl Keyed for RecordKey {
    fn key(&self, field: &str) -> Key {
        match field {
            "date" => Key::Date(self.occurred_on),
            _ => Key::Uuid(self.id),
        }
    }
}

/// One page of entries of a committee, of one member or all.
pub async fn page(
    conn: &mut PgConnection,
    committee: &str,
    member: Option<Uuid>,
    query: &ListQuery,
) -> Result<Vec<RecordKey>, sqlx::Error> {
    let mut qb = QueryBuilder::new(
        "SELECT t.id, t.occurred_on FROM members.duty_record t WHERE t.committee_id = ",
    );
    qb.push_bind(committee.to_owned());
    if let Some(member) = member {
        qb.push(" AND t.member_id = ").push_bind(member);
    }
    query.push_conditions(&mut qb);
    query.push_order_limit(&mut qb);
    qb.build_query_as().fetch_all(conn).await
}

/// How many entries of a committee (of one member or all) match the filter.
pub async fn count(
    conn: &mut PgConnection,
    committee: &str,
    member: Option<Uuid>,
    query: &ListQuery,
) -> Result<i64, sqlx::Error> {
    let mut qb =
        QueryBuilder::new("SELECT count(*) FROM members.duty_record t WHERE t.committee_id = ");
    qb.push_bind(committee.to_owned());
    if let Some(member) = member {
        qb.push(" AND t.member_id = ").push_bind(member);
    }
    query.push_filter(&mut qb);
    qb.build_query_scalar().fetch_one(conn).await
}

/// Entries that stand (neither a reversal nor reversed) per member and kind
/// between two days, as recorded by `as_of`.
#[derive(Clone, Debug)]
pub struct KindCountRow {
    pub member_id: Uuid,
    pub kind: i16,
    pub entries: i64,
}

pub async fn standing_counts(
    conn: &mut PgConnection,
    committee: &str,
    from: Date,
    to: Date,
    as_of: OffsetDateTime,
) -> Result<Vec<KindCountRow>, sqlx::Error> {
    sqlx::query_as!(
        KindCountRow,
        r#"SELECT d.member_id, d.kind, count(*) AS "entries!"
           FROM members.duty_record d
           WHERE d.committee_id = $1 AND d.occurred_on BETWEEN $2 AND $3 AND d.reverses IS NULL
             AND d.create_time <= $4
             AND NOT EXISTS (SELECT 1 FROM members.duty_record r
                             WHERE r.reverses = d.id AND r.reverses IS NOT NULL AND r.create_time <= $4)
           GROUP BY d.member_id, d.kind"#,
        committee,
        from,
        to,
        as_of,
    )
    .fetch_all(conn)
    .await
}

/// One member's standing entries per kind between two days, with their ids.
#[derive(Clone, Debug)]
pub struct KindIdsRow {
    pub kind: i16,
    pub ids: Vec<Uuid>,
}

pub async fn standing_ids(
    conn: &mut PgConnection,
    member: Uuid,
    from: Date,
    to: Date,
) -> Result<Vec<KindIdsRow>, sqlx::Error> {
    sqlx::query_as!(
        KindIdsRow,
        r#"SELECT d.kind, array_agg(d.id ORDER BY d.occurred_on, d.id) AS "ids!"
           FROM members.duty_record d
           WHERE d.member_id = $1 AND d.occurred_on BETWEEN $2 AND $3 AND d.reverses IS NULL
             AND NOT EXISTS (SELECT 1 FROM members.duty_record r WHERE r.reverses = d.id AND r.reverses IS NOT NULL)
           GROUP BY d.kind"#,
        member,
        from,
        to,
    )
    .fetch_all(conn)
    .await
}

/// Where the intake stands with a producer.
pub async fn cursor(
    conn: &mut PgConnection,
    producer: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT cursor FROM members.intake_cursor WHERE producer = $1",
        producer
    )
    .fetch_optional(conn)
    .await
}

/// Sets an event aside; `false` if it was set aside before.
#[allow(clippy::too_many_arguments)]
pub async fn park(
    conn: &mut PgConnection,
    producer: &str,
    event: Uuid,
    event_type: &str,
    committee: &str,
    payload: &[u8],
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO members.parked_event (producer, event_id, event_type, committee, payload, reason)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        producer,
        event,
        event_type,
        committee,
        payload,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A parked event, for the office.
#[derive(Clone, Debug)]
pub struct ParkedRow {
    pub producer: String,
    pub event_id: Uuid,
    pub event_type: String,
    pub committee: String,
    pub reason: String,
    pub park_time: OffsetDateTime,
}

pub async fn parked(
    conn: &mut PgConnection,
    committee: &str,
) -> Result<Vec<ParkedRow>, sqlx::Error> {
    sqlx::query_as!(
        ParkedRow,
        "SELECT producer, event_id, event_type, committee, reason, park_time FROM members.parked_event
         WHERE committee = $1 ORDER BY park_time DESC LIMIT 1000",
        committee,
    )
    .fetch_all(conn)
    .await
}

/// A member's committee and when it was in office, for entries of it.
#[derive(Clone, Debug)]
pub struct TenureRow {
    pub id: Uuid,
    pub committee_id: String,
    pub status: i16,
    pub join_date: Option<Date>,
    /// The day it left office, if it did.
    pub left_on: Option<Date>,
}

/// Why a member was not in office on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotInOffice {
    /// It joined later.
    BeforeJoining(Date),
    /// It left office (status now, and the day it left if known).
    Left(MemberStatus, Option<Date>),
    /// Its stored status is a number no status has: never taken for in
    /// office.
    Unreadable(i16),
}

impl TenureRow {
    /// Whether the member was in office on `day`.
    pub fn in_office_on(&self, day: Date) -> Result<(), NotInOffice> {
        if let Some(joined) = self.join_date
            && day < joined
        {
            return Err(NotInOffice::BeforeJoining(joined));
        }
        let status =
            MemberStatus::from_number(self.status).ok_or(NotInOffice::Unreadable(self.status))?;
        match (status.is_final(), self.left_on) {
            (false, _) => Ok(()),
            (true, Some(left)) if day < left => Ok(()),
            (true, left) => Err(NotInOffice::Left(status, left)),
        }
    }
}

/// The tenures of members of a committee, locked against a concurrent
/// change of their status; members the committee does not have are left
/// out.
pub async fn tenures(
    conn: &mut PgConnection,
    committee: &str,
    members: &[Uuid],
) -> Result<Vec<TenureRow>, sqlx::Error> {
    // Lock first, then read in a statement of its own: it sees a status
    // change that committed while the lock waited, with its day.
    sqlx::query!(
        "SELECT id FROM members.member WHERE id = ANY($1) AND committee_id = $2 ORDER BY id FOR SHARE",
        members,
        committee,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = member_tenures(conn, members).await?;
    rows.retain(|r| r.committee_id == committee);
    Ok(rows)
}

/// The tenures of the members of any committee this service has.
pub async fn member_tenures(
    conn: &mut PgConnection,
    members: &[Uuid],
) -> Result<Vec<TenureRow>, sqlx::Error> {
    sqlx::query_as!(
        TenureRow,
        r#"SELECT m.id, m.committee_id, m.status, m.join_date,
                  (SELECT max(c.effective_date) FROM members.member_status_change c
                   WHERE c.member_id = m.id AND c.to_status IN (3, 4)) AS "left_on?"
           FROM members.member m WHERE m.id = ANY($1)
           ORDER BY m.id"#,
        members,
    )
    .fetch_all(conn)
    .await
}

/// Inserts many entries in one statement; the ids of those inserted (an
/// event's credit already recorded is skipped).
pub async fn insert_many(
    conn: &mut PgConnection,
    records: &[NewRecord],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let column = |f: fn(&NewRecord) -> &str| {
        records
            .iter()
            .map(|r| f(r).to_owned())
            .collect::<Vec<String>>()
    };
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let members: Vec<Uuid> = records.iter().map(|r| r.member).collect();
    let kinds: Vec<i16> = records.iter().map(|r| r.kind).collect();
    let days: Vec<Date> = records.iter().map(|r| r.occurred_on).collect();
    let events: Vec<Option<Uuid>> = records.iter().map(|r| r.source_event).collect();
    let reverses: Vec<Option<Uuid>> = records.iter().map(|r| r.reverses).collect();
    let roles: Vec<i16> = records.iter().map(|r| r.recorded_role).collect();
    sqlx::query_scalar!(
        "INSERT INTO members.duty_record
             (id, committee_id, member_id, kind, occurred_on, evidence, source_service, source_event, source,
              reverses, recorded_by, recorded_role, reason)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::smallint[], $5::date[], $6::text[],
                              $7::text[], $8::uuid[], $9::text[], $10::uuid[], $11::text[], $12::smallint[],
                              $13::text[])
         ON CONFLICT DO NOTHING
         RETURNING id",
        &ids,
        &column(|r| &r.committee),
        &members,
        &kinds,
        &days,
        &column(|r| &r.evidence),
        &column(|r| &r.source_service),
        &events as &[Option<Uuid>],
        &column(|r| &r.source),
        &reverses as &[Option<Uuid>],
        &column(|r| &r.recorded_by),
        &roles,
        &column(|r| &r.reason),
    )
    .fetch_all(conn)
    .await
}

/// Takes events of `producer`: those never taken before (of `events`).
pub async fn claim_events(
    conn: &mut PgConnection,
    producer: &str,
    events: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        "INSERT INTO members.intake_event (producer, event_id)
         SELECT $1, e FROM UNNEST($2::uuid[]) AS t(e)
         ON CONFLICT DO NOTHING
         RETURNING event_id",
        producer,
        events,
    )
    .fetch_all(conn)
    .await
}

/// Moves a producer's cursor from `from` to `to`; `false` if another
/// instance moved it first.
pub async fn advance_cursor(
    conn: &mut PgConnection,
    producer: &str,
    from: &str,
    to: &str,
) -> Result<bool, sqlx::Error> {
    let done = if from.is_empty() {
        sqlx::query!(
            "INSERT INTO members.intake_cursor (producer, cursor) VALUES ($1, $2) ON CONFLICT (producer) DO NOTHING",
            producer,
            to,
        )
        .execute(conn)
        .await?
    } else {
        sqlx::query!(
            "UPDATE members.intake_cursor SET cursor = $3, update_time = now() WHERE producer = $1 AND cursor = $2",
            producer,
            from,
            to,
        )
        .execute(conn)
        .await?
    };
    Ok(done.rows_affected() == 1)
}

/// Forgets a producer's cursor, so the next stream starts from its oldest
/// event; unless another instance moved it from `from` meanwhile.
pub async fn reset_cursor(
    conn: &mut PgConnection,
    producer: &str,
    from: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM members.intake_cursor WHERE producer = $1 AND cursor = $2",
        producer,
        from
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Each producer's cursor and when it last moved.
pub async fn cursors(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String, OffsetDateTime)>, sqlx::Error> {
    let rows = sqlx::query!("SELECT producer, cursor, update_time FROM members.intake_cursor")
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.producer, r.cursor, r.update_time))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_in_office_from_joining_until_leaving() {
        let day =
            |m, d| Date::from_calendar_date(2023, time::Month::try_from(m).unwrap(), d).unwrap();
        let mut t = TenureRow {
            id: Uuid::nil(),
            committee_id: "suixian".into(),
            status: MemberStatus::Resigned.number(),
            join_date: Some(day(2, 1)),
            left_on: Some(day(6, 1)),
        };
        assert_eq!(
            t.in_office_on(day(1, 31)),
            Err(NotInOffice::BeforeJoining(day(2, 1)))
        );
        assert_eq!(t.in_office_on(day(2, 1)), Ok(()));
        assert_eq!(t.in_office_on(day(5, 31)), Ok(()));
        assert_eq!(
            t.in_office_on(day(6, 1)),
            Err(NotInOffice::Left(MemberStatus::Resigned, Some(day(6, 1))))
        );
        t.status = MemberStatus::Suspended.number();
        assert_eq!(
            t.in_office_on(day(9, 1)),
            Ok(()),
            "suspended members are in office"
        );
        t.status = 99;
        assert_eq!(
            t.in_office_on(day(9, 1)),
            Err(NotInOffice::Unreadable(99)),
            "a status no status has is never in office"
        );
    }
}
