//! Plan versions and their items.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct VersionRow {
    pub committee_id: String,
    pub year: i16,
    pub version: i16,
    pub state: i16,
    pub steps: serde_json::Value,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

#[derive(Clone, Debug)]
pub struct ItemRow {
    pub id: Uuid,
    pub position: i16,
    pub topic: String,
    pub kind: i16,
    pub lead_body: String,
    pub quarter: i16,
    pub departments: Vec<String>,
}

pub async fn insert_version(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
    steps: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.plan_version (committee_id, year, version, state, steps) VALUES ($1, $2, $3, 1, $4)",
        committee,
        year,
        version,
        steps
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A version (`None`: the one in force), locked for a change if `lock`.
pub async fn version(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: Option<i16>,
    lock: bool,
) -> Result<Option<VersionRow>> {
    if lock {
        sqlx::query!(
            "SELECT version FROM consultations.plan_version
             WHERE committee_id = $1 AND year = $2 AND (version = $3 OR ($3 IS NULL AND state = 3)) FOR UPDATE",
            committee,
            year,
            version
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        VersionRow,
        "SELECT committee_id, year, version, state, steps, update_time, revision FROM consultations.plan_version
         WHERE committee_id = $1 AND year = $2 AND (version = $3 OR ($3::smallint IS NULL AND state = 3))",
        committee,
        year,
        version
    )
    .fetch_optional(conn)
    .await
}

pub async fn latest_version(conn: &mut Conn, committee: &str, year: i16) -> Result<Option<i16>> {
    sqlx::query_scalar!(
        "SELECT max(version) FROM consultations.plan_version WHERE committee_id = $1 AND year = $2",
        committee,
        year
    )
    .fetch_one(conn)
    .await
}

pub async fn items(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
) -> Result<Vec<ItemRow>> {
    sqlx::query_as!(
        ItemRow,
        "SELECT id, position, topic, kind, lead_body, quarter, departments FROM consultations.plan_item
         WHERE committee_id = $1 AND year = $2 AND version = $3 ORDER BY position",
        committee,
        year,
        version
    )
    .fetch_all(conn)
    .await
}

pub async fn add_item(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
    item: &ItemRow,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.plan_item (committee_id, year, version, id, position, topic, kind, lead_body, quarter, departments)
         SELECT $1, $2, $3, $4, coalesce(max(position) + 1, 0), $5, $6, $7, $8, $9
         FROM consultations.plan_item WHERE committee_id = $1 AND year = $2 AND version = $3",
        committee,
        year,
        version,
        item.id,
        item.topic,
        item.kind,
        item.lead_body,
        item.quarter,
        &item.departments
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_item(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
    id: Uuid,
) -> Result<bool> {
    let done = sqlx::query!(
        "DELETE FROM consultations.plan_item WHERE committee_id = $1 AND year = $2 AND version = $3 AND id = $4",
        committee,
        year,
        version,
        id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Copies a version's items into another (an amendment starts as the plan in force).
pub async fn copy_items(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    from: i16,
    to: i16,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.plan_item (committee_id, year, version, id, position, topic, kind, lead_body, quarter, departments)
         SELECT committee_id, year, $4, id, position, topic, kind, lead_body, quarter, departments
         FROM consultations.plan_item WHERE committee_id = $1 AND year = $2 AND version = $3",
        committee,
        year,
        from,
        to
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn move_version(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
    state: i16,
    step: Option<&serde_json::Value>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.plan_version SET state = $4, steps = CASE WHEN $5::jsonb IS NULL THEN steps ELSE steps || $5 END,
                update_time = now(), revision = revision + 1
         WHERE committee_id = $1 AND year = $2 AND version = $3",
        committee,
        year,
        version,
        state,
        step
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Per item of a version: activities on it and of them archived.
pub async fn progress(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    version: i16,
) -> Result<Vec<(Uuid, i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT i.id AS "id!", count(a.id) AS "activities!", count(a.id) FILTER (WHERE a.step = 8) AS "archived!"
           FROM consultations.plan_item i
           LEFT JOIN consultations.activity a ON a.plan_item = i.id AND a.committee_id = i.committee_id
           WHERE i.committee_id = $1 AND i.year = $2 AND i.version = $3
           GROUP BY i.id, i.position ORDER BY i.position"#,
        committee,
        year,
        version
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.activities, r.archived))
        .collect())
}
