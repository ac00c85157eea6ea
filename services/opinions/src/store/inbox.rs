//! The parent committee's inbox of forwarded reports.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct InboxRow {
    /// The forward's id at the sending committee.
    pub id: Uuid,
    pub committee_id: String,
    pub source_committee: String,
    pub source_report: Uuid,
    pub title: String,
    pub content: String,
    pub category: i16,
    pub contributor_name: String,
    pub forward_day: Date,
    pub state: i16,
    pub decision_note: String,
    pub decision_day: Option<Date>,
    pub decision_delivered: bool,
    pub receive_time: OffsetDateTime,
}

/// Takes in a forward; `false` when it was already here (nothing changed).
pub async fn insert(conn: &mut Conn, r: &InboxRow) -> Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO opinions.inbox (id, committee_id, source_committee, source_report, title, content, category,
                contributor_name, forward_day, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        r.id,
        r.committee_id,
        r.source_committee,
        r.source_report,
        r.title,
        r.content,
        r.category,
        r.contributor_name,
        r.forward_day,
        r.state
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The committee's inbox: `ids`, or those in `state`; locked if `lock`.
pub async fn list(
    conn: &mut Conn,
    committee: &str,
    ids: Option<&[Uuid]>,
    state: Option<i16>,
    lock: bool,
) -> Result<Vec<InboxRow>> {
    if lock && let Some(ids) = ids {
        sqlx::query!(
            "SELECT id FROM opinions.inbox WHERE committee_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
            committee,
            ids
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        InboxRow,
        "SELECT id, committee_id, source_committee, source_report, title, content, category, contributor_name,
                forward_day, state, decision_note, decision_day, decision_delivered, receive_time
         FROM opinions.inbox
         WHERE committee_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2)) AND ($3::smallint IS NULL OR state = $3)
         ORDER BY receive_time, id",
        committee,
        ids,
        state
    )
    .fetch_all(conn)
    .await
}

/// A page of a committee's inbox, oldest first: at most `limit` after
/// `after` (the receive time and id of the last of the page before).
pub async fn page(
    conn: &mut Conn,
    committee: &str,
    state: Option<i16>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<InboxRow>> {
    sqlx::query_as!(
        InboxRow,
        "SELECT id, committee_id, source_committee, source_report, title, content, category, contributor_name,
                forward_day, state, decision_note, decision_day, decision_delivered, receive_time
         FROM opinions.inbox
         WHERE committee_id = $1 AND ($2::smallint IS NULL OR state = $2)
           AND ($3::timestamptz IS NULL OR (receive_time, id) > ($3, $4))
         ORDER BY receive_time, id
         LIMIT $5",
        committee,
        state,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit
    )
    .fetch_all(conn)
    .await
}

/// Any committee's inbox report `id` (a decision's way back looks it up).
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Option<InboxRow>> {
    sqlx::query_as!(
        InboxRow,
        "SELECT id, committee_id, source_committee, source_report, title, content, category, contributor_name,
                forward_day, state, decision_note, decision_day, decision_delivered, receive_time
         FROM opinions.inbox WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn decide(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    note: &str,
    day: Date,
    delivered: bool,
) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.inbox SET state = $2, decision_note = $3, decision_day = $4, decision_delivered = $5
         WHERE id = $1",
        id,
        state,
        note,
        day,
        delivered
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn decision_delivered(conn: &mut Conn, id: Uuid) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.inbox SET decision_delivered = true WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}
