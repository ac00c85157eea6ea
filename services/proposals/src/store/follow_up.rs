//! Follow-ups (supervision, instructions, look-backs) and excellent proposals.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct FollowUpRow {
    pub id: Uuid,
    pub proposal_id: Uuid,
    pub kind: i16,
    pub day: Date,
    pub leader_name: String,
    pub leader_title: String,
    pub text: String,
    pub finding: i16,
    pub recorded_by: String,
    pub recorded_role: i16,
    pub create_time: OffsetDateTime,
}

pub async fn insert(conn: &mut Conn, r: &FollowUpRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.follow_up (id, proposal_id, kind, day, leader_name, leader_title, text,
                finding, recorded_by, recorded_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        r.id,
        r.proposal_id,
        r.kind,
        r.day,
        r.leader_name,
        r.leader_title,
        r.text,
        r.finding,
        r.recorded_by,
        r.recorded_role
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(conn: &mut Conn, proposal: Uuid, id: Option<Uuid>) -> Result<Vec<FollowUpRow>> {
    sqlx::query_as!(
        FollowUpRow,
        "SELECT id, proposal_id, kind, day, leader_name, leader_title, text, finding, recorded_by,
                recorded_role, create_time
         FROM proposals.follow_up WHERE proposal_id = $1 AND ($2::uuid IS NULL OR id = $2)
         ORDER BY day, create_time",
        proposal,
        id
    )
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct ExcellentRow {
    pub id: Uuid,
    pub committee_id: String,
    pub proposal_id: Uuid,
    pub title: String,
    pub year: i16,
    pub nominated_by: String,
    pub reason: String,
    pub state: i16,
    pub steps: serde_json::Value,
}

pub async fn insert_excellent(conn: &mut Conn, r: &ExcellentRow) -> Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO proposals.excellent (id, committee_id, proposal_id, year, nominated_by, reason, state, steps)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (proposal_id, year) DO NOTHING",
        r.id,
        r.committee_id,
        r.proposal_id,
        r.year,
        r.nominated_by,
        r.reason,
        r.state,
        r.steps
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn excellent(
    conn: &mut Conn,
    committee: &str,
    year: Option<i16>,
    id: Option<Uuid>,
    lock: bool,
) -> Result<Vec<ExcellentRow>> {
    if lock && let Some(id) = id {
        sqlx::query!(
            "SELECT id FROM proposals.excellent WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        ExcellentRow,
        "SELECT e.id, e.committee_id, e.proposal_id, p.title, e.year, e.nominated_by, e.reason, e.state, e.steps
         FROM proposals.excellent e JOIN proposals.proposal p ON p.id = e.proposal_id
         WHERE e.committee_id = $1 AND ($2::smallint IS NULL OR e.year = $2) AND ($3::uuid IS NULL OR e.id = $3)
         ORDER BY CASE e.state WHEN 3 THEN 0 WHEN 2 THEN 1 WHEN 1 THEN 2 ELSE 3 END, p.serial, e.id",
        committee,
        year,
        id
    )
    .fetch_all(conn)
    .await
}

pub async fn step_excellent(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    steps: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.excellent SET state = $2, steps = $3 WHERE id = $1",
        id,
        state,
        steps
    )
    .execute(conn)
    .await?;
    Ok(())
}
