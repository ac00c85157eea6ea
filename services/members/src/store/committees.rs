//! Committees and their settings.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};

/// A committee as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CommitteeRow {
    pub id: String,
    pub display_name: String,
    pub level: i16,
    pub parent: String,
    pub current_term: i32,
    pub term_start_date: Option<Date>,
    pub region_code: String,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// The fields of a committee a caller sets.
#[derive(Clone, Debug)]
pub struct CommitteeFields {
    pub display_name: String,
    pub level: i16,
    pub parent: String,
    pub current_term: i32,
    pub term_start_date: Option<Date>,
    pub region_code: String,
}

/// The primary key, whose violation means the id is taken.
pub const COMMITTEE_PKEY: &str = "committee_pkey";

pub async fn insert(
    conn: &mut PgConnection,
    id: &str,
    f: &CommitteeFields,
) -> Result<CommitteeRow, sqlx::Error> {
    sqlx::query_as!(
        CommitteeRow,
        "INSERT INTO members.committee (id, display_name, level, parent, current_term, term_start_date, region_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, display_name, level, parent, current_term, term_start_date, region_code,
                   revision, create_time, update_time",
        id,
        f.display_name,
        f.level,
        f.parent,
        f.current_term,
        f.term_start_date,
        f.region_code,
    )
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: &str) -> Result<Option<CommitteeRow>, sqlx::Error> {
    sqlx::query_as!(
        CommitteeRow,
        "SELECT id, display_name, level, parent, current_term, term_start_date, region_code,
                revision, create_time, update_time
         FROM members.committee WHERE id = $1",
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Locks and reads a committee for an update.
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<CommitteeRow>, sqlx::Error> {
    sqlx::query_as!(
        CommitteeRow,
        "SELECT id, display_name, level, parent, current_term, term_start_date, region_code,
                revision, create_time, update_time
         FROM members.committee WHERE id = $1 FOR UPDATE",
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn get_many(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<CommitteeRow>, sqlx::Error> {
    sqlx::query_as!(
        CommitteeRow,
        "SELECT id, display_name, level, parent, current_term, term_start_date, region_code,
                revision, create_time, update_time
         FROM members.committee WHERE id = ANY($1)",
        ids,
    )
    .fetch_all(conn)
    .await
}

pub async fn update(
    conn: &mut PgConnection,
    id: &str,
    f: &CommitteeFields,
) -> Result<CommitteeRow, sqlx::Error> {
    sqlx::query_as!(
        CommitteeRow,
        "UPDATE members.committee
         SET display_name = $2, parent = $3, current_term = $4, term_start_date = $5, region_code = $6,
             revision = revision + 1, update_time = now()
         WHERE id = $1
         RETURNING id, display_name, level, parent, current_term, term_start_date, region_code,
                   revision, create_time, update_time",
        id,
        f.display_name,
        f.parent,
        f.current_term,
        f.term_start_date,
        f.region_code,
    )
    .fetch_one(conn)
    .await
}

/// A committee's stored settings.
#[derive(Clone, Debug)]
pub struct SettingsRow {
    pub settings: serde_json::Value,
    pub revision: i64,
    pub update_time: OffsetDateTime,
}

pub async fn settings(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        "SELECT settings, revision, update_time FROM members.committee_settings WHERE committee_id = $1",
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn settings_for_update(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        "SELECT settings, revision, update_time FROM members.committee_settings WHERE committee_id = $1 FOR UPDATE",
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn insert_settings(
    conn: &mut PgConnection,
    id: &str,
) -> Result<SettingsRow, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        "INSERT INTO members.committee_settings (committee_id) VALUES ($1)
         RETURNING settings, revision, update_time",
        id,
    )
    .fetch_one(conn)
    .await
}

pub async fn update_settings(
    conn: &mut PgConnection,
    id: &str,
    settings: &serde_json::Value,
) -> Result<SettingsRow, sqlx::Error> {
    sqlx::query_as!(
        SettingsRow,
        "UPDATE members.committee_settings
         SET settings = $2, revision = revision + 1, update_time = now()
         WHERE committee_id = $1
         RETURNING settings, revision, update_time",
        id,
        settings,
    )
    .fetch_one(conn)
    .await
}

/// Whether committee `ancestor` is above committee `committee`: its
/// parent, or its parent's, and so on (parents are resource names).
pub async fn is_below(
    conn: &mut PgConnection,
    committee: &str,
    ancestor: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE up (id, parent, depth) AS (
               SELECT id, parent, 0 FROM members.committee WHERE id = $1
               UNION ALL
               SELECT c.id, c.parent, up.depth + 1
               FROM members.committee c JOIN up ON 'committees/' || c.id = up.parent
               WHERE up.depth < 16
           )
           SELECT EXISTS (SELECT 1 FROM up WHERE up.parent = 'committees/' || $2) AS "below!""#,
        committee,
        ancestor,
    )
    .fetch_one(conn)
    .await
}
