//! Sessions, handling units, settings and the calendar.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};
use crate::domain::settings::{Category, Settings};

#[derive(Clone, Debug)]
pub struct SessionRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub term: i16,
    pub year: i16,
    pub open_date: Date,
    pub close_date: Date,
    pub last_serial: i32,
    pub create_time: OffsetDateTime,
}

pub async fn insert_session(conn: &mut Conn, row: &SessionRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.session (id, committee_id, display_name, term, year, open_date, close_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        row.id,
        row.committee_id,
        row.display_name,
        row.term,
        row.year,
        row.open_date,
        row.close_date
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn sessions(
    conn: &mut Conn,
    committee: &str,
    id: Option<Uuid>,
) -> Result<Vec<SessionRow>> {
    sqlx::query_as!(
        SessionRow,
        "SELECT id, committee_id, display_name, term, year, open_date, close_date, last_serial, create_time
         FROM proposals.session WHERE committee_id = $1 AND ($2::uuid IS NULL OR id = $2)
         ORDER BY open_date DESC, id",
        committee,
        id
    )
    .fetch_all(conn)
    .await
}

/// Takes the next serial number of a session: the row stays locked until
/// the filing commits, so concurrent filings queue and none is skipped.
pub async fn next_serial(conn: &mut Conn, session: Uuid) -> Result<i32> {
    sqlx::query_scalar!(
        "UPDATE proposals.session SET last_serial = last_serial + 1 WHERE id = $1 RETURNING last_serial",
        session
    )
    .fetch_one(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct UnitRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub kind: String,
    pub create_time: OffsetDateTime,
    pub retire_time: Option<OffsetDateTime>,
}

pub async fn insert_unit(conn: &mut Conn, row: &UnitRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.unit (id, committee_id, display_name, kind) VALUES ($1, $2, $3, $4)",
        row.id,
        row.committee_id,
        row.display_name,
        row.kind
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A committee's units: all, or those with `ids`; retired ones only if asked.
pub async fn units(
    conn: &mut Conn,
    committee: &str,
    ids: Option<&[Uuid]>,
    retired: bool,
) -> Result<Vec<UnitRow>> {
    sqlx::query_as!(
        UnitRow,
        r#"SELECT id, committee_id, display_name, kind, create_time, retire_time
         FROM proposals.unit
         WHERE committee_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2)) AND ($3 OR retire_time IS NULL)
         ORDER BY display_name COLLATE proposals.zh_pinyin, id"#,
        committee,
        ids as Option<&[Uuid]>,
        retired
    )
    .fetch_all(conn)
    .await
}

pub async fn retire_unit(conn: &mut Conn, committee: &str, id: Uuid) -> Result<bool> {
    let done = sqlx::query!(
        "UPDATE proposals.unit SET retire_time = coalesce(retire_time, now()) WHERE committee_id = $1 AND id = $2",
        committee,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The committee's settings, the defaults if it set none, and when they
/// were set.
pub async fn settings(
    conn: &mut Conn,
    committee: &str,
) -> Result<(Settings, Option<OffsetDateTime>)> {
    let row = sqlx::query!(
        "SELECT result_categories, reply_months, max_reply_months, reassignment_days,
                reassignment_working_days, rating_days, cosign_days, update_time
         FROM proposals.settings WHERE committee_id = $1",
        committee
    )
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else {
        return Ok((Settings::default(), None));
    };
    let categories: Vec<Category> = serde_json::from_value(r.result_categories)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok((
        Settings {
            categories,
            reply_months: r.reply_months,
            max_reply_months: r.max_reply_months,
            reassignment_days: r.reassignment_days,
            reassignment_working_days: r.reassignment_working_days,
            rating_days: r.rating_days,
            cosign_days: r.cosign_days,
        },
        Some(r.update_time),
    ))
}

pub async fn put_settings(conn: &mut Conn, committee: &str, s: &Settings) -> Result<()> {
    let categories =
        serde_json::to_value(&s.categories).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "INSERT INTO proposals.settings (committee_id, result_categories, reply_months, max_reply_months,
                reassignment_days, reassignment_working_days, rating_days, cosign_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (committee_id) DO UPDATE SET result_categories = $2, reply_months = $3,
             max_reply_months = $4, reassignment_days = $5, reassignment_working_days = $6,
             rating_days = $7, cosign_days = $8, update_time = now()",
        committee,
        categories,
        s.reply_months,
        s.max_reply_months,
        s.reassignment_days,
        s.reassignment_working_days,
        s.rating_days,
        s.cosign_days
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct CalendarRow {
    pub day: Date,
    pub working: bool,
    pub note: String,
}

pub async fn put_calendar_day(conn: &mut Conn, committee: &str, day: &CalendarRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.calendar_day (committee_id, day, working, note) VALUES ($1, $2, $3, $4)
         ON CONFLICT (committee_id, day) DO UPDATE SET working = $3, note = $4",
        committee,
        day.day,
        day.working,
        day.note
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn calendar_days(
    conn: &mut Conn,
    committee: &str,
    from: Date,
    to: Date,
) -> Result<Vec<CalendarRow>> {
    sqlx::query_as!(
        CalendarRow,
        "SELECT day, working, note FROM proposals.calendar_day
         WHERE committee_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day",
        committee,
        from,
        to
    )
    .fetch_all(conn)
    .await
}
