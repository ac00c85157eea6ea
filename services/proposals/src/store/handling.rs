//! Units' requests, replies and their countersignatures, and ratings.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct RequestRow {
    pub id: Uuid,
    pub proposal_id: Uuid,
    pub unit_id: Uuid,
    pub kind: i16,
    pub reason: String,
    pub reply_due: Option<Date>,
    pub state: i16,
    pub create_time: OffsetDateTime,
    pub decided_by: Option<String>,
    pub decided_role: Option<i16>,
    pub decided_time: Option<OffsetDateTime>,
    pub decision_reason: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_request(
    conn: &mut Conn,
    id: Uuid,
    proposal: Uuid,
    unit: Uuid,
    kind: i16,
    reason: &str,
    reply_due: Option<Date>,
    by: &str,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.handling_request (id, proposal_id, unit_id, kind, reason, reply_due, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        proposal,
        unit,
        kind,
        reason,
        reply_due,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn requests(
    conn: &mut Conn,
    proposal: Uuid,
    id: Option<Uuid>,
) -> Result<Vec<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        "SELECT id, proposal_id, unit_id, kind, reason, reply_due, state, create_time, decided_by,
                decided_role, decided_time, decision_reason
         FROM proposals.handling_request WHERE proposal_id = $1 AND ($2::uuid IS NULL OR id = $2)
         ORDER BY create_time, id",
        proposal,
        id
    )
    .fetch_all(conn)
    .await
}

pub async fn decide_request(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    by: &str,
    role: i16,
    reason: &str,
    reply_due: Option<Date>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.handling_request SET state = $2, decided_by = $3, decided_role = $4,
                decided_time = now(), decision_reason = $5, reply_due = coalesce($6, reply_due)
         WHERE id = $1",
        id,
        state,
        by,
        role,
        reason,
        reply_due
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Refuses every open request of the proposal's units (their round ended).
pub async fn close_open_requests(
    conn: &mut Conn,
    proposal: Uuid,
    by: &str,
    role: i16,
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.handling_request SET state = 3, decided_by = $2, decided_role = $3,
                decided_time = now(), decision_reason = 'the handling round ended'
         WHERE proposal_id = $1 AND state = 1",
        proposal,
        by,
        role
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ReplyRow {
    pub id: Uuid,
    pub proposal_id: Uuid,
    pub handling_round: i16,
    pub unit_id: Uuid,
    pub unit_name: String,
    pub text: String,
    pub result_category: String,
    pub contacted: bool,
    pub contact_date: Option<Date>,
    pub state: i16,
    pub submit_time: Option<OffsetDateTime>,
    pub on_time: Option<bool>,
    pub reviewed_by: Option<String>,
    pub reviewed_role: Option<i16>,
    pub review_time: Option<OffsetDateTime>,
    pub review_reason: Option<String>,
    pub reviewed_category: Option<String>,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

/// Replies of proposals: all, one (`id`), or a unit's live one in a round.
pub async fn replies(
    conn: &mut Conn,
    proposals: &[Uuid],
    id: Option<Uuid>,
    live_of: Option<(i16, Uuid)>,
) -> Result<Vec<ReplyRow>> {
    let (round, unit) = live_of.unzip();
    sqlx::query_as!(
        ReplyRow,
        "SELECT r.id, r.proposal_id, r.handling_round, r.unit_id, u.display_name AS unit_name, r.text,
                r.result_category, r.contacted, r.contact_date, r.state, r.submit_time, r.on_time,
                r.reviewed_by, r.reviewed_role, r.review_time, r.review_reason, r.reviewed_category,
                r.create_time, r.update_time, r.revision
         FROM proposals.reply r JOIN proposals.unit u ON u.id = r.unit_id
         WHERE r.proposal_id = ANY($1) AND ($2::uuid IS NULL OR r.id = $2)
           AND ($3::smallint IS NULL OR (r.handling_round = $3 AND r.unit_id = $4 AND r.state IN (1, 2, 3)))
         ORDER BY r.handling_round DESC, r.create_time DESC, r.id",
        proposals,
        id,
        round,
        unit
    )
    .fetch_all(conn)
    .await
}

/// What a unit writes in a reply.
#[derive(Clone, Debug)]
pub struct ReplyText {
    pub text: String,
    pub result_category: String,
    pub contacted: bool,
    pub contact_date: Option<Date>,
}

pub async fn insert_reply(
    conn: &mut Conn,
    id: Uuid,
    proposal: Uuid,
    round: i16,
    unit: Uuid,
    t: &ReplyText,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.reply (id, proposal_id, handling_round, unit_id, text, result_category,
                contacted, contact_date, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
        id,
        proposal,
        round,
        unit,
        t.text,
        t.result_category,
        t.contacted,
        t.contact_date
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites a draft reply; the countersignatures on the old words go.
pub async fn rewrite_reply(conn: &mut Conn, id: Uuid, t: &ReplyText) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.reply SET text = $2, result_category = $3, contacted = $4, contact_date = $5,
                update_time = now(), revision = revision + 1 WHERE id = $1",
        id,
        t.text,
        t.result_category,
        t.contacted,
        t.contact_date
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM proposals.countersignature WHERE reply_id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a reply to `state`; submitting records whether it is on time.
#[allow(clippy::too_many_arguments)]
pub async fn move_reply(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    on_time: Option<bool>,
    submitted: bool,
    review: Option<(&str, i16, &str)>,
    reviewed_category: Option<&str>,
) -> Result<()> {
    let (by, role, reason) = match review {
        Some((b, r, w)) => (Some(b), Some(r), Some(w)),
        None => (None, None, None),
    };
    sqlx::query!(
        "UPDATE proposals.reply SET state = $2, on_time = coalesce($3, on_time),
                submit_time = CASE WHEN $4 THEN now() ELSE submit_time END,
                reviewed_by = coalesce($5, reviewed_by), reviewed_role = coalesce($6, reviewed_role),
                review_time = CASE WHEN $5::text IS NOT NULL THEN now() ELSE review_time END,
                review_reason = coalesce($7, review_reason),
                reviewed_category = coalesce($8, reviewed_category),
                update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
        state,
        on_time,
        submitted,
        by,
        role,
        reason,
        reviewed_category
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Supersedes every live reply of a round (all units, or one).
pub async fn supersede_replies(
    conn: &mut Conn,
    proposal: Uuid,
    round: i16,
    unit: Option<Uuid>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.reply SET state = 5, update_time = now(), revision = revision + 1
         WHERE proposal_id = $1 AND handling_round = $2 AND state IN (1, 2, 3)
           AND ($3::uuid IS NULL OR unit_id = $3)",
        proposal,
        round,
        unit
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct CountersignRow {
    pub reply_id: Uuid,
    pub unit_id: Uuid,
    pub opinion: String,
    pub sign_time: OffsetDateTime,
}

pub async fn countersignatures(conn: &mut Conn, replies: &[Uuid]) -> Result<Vec<CountersignRow>> {
    sqlx::query_as!(
        CountersignRow,
        "SELECT reply_id, unit_id, opinion, sign_time FROM proposals.countersignature
         WHERE reply_id = ANY($1) ORDER BY sign_time",
        replies
    )
    .fetch_all(conn)
    .await
}

pub async fn countersign(conn: &mut Conn, reply: Uuid, unit: Uuid, opinion: &str) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.countersignature (reply_id, unit_id, opinion) VALUES ($1, $2, $3)
         ON CONFLICT (reply_id, unit_id) DO UPDATE SET opinion = $3, sign_time = now()",
        reply,
        unit,
        opinion
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE proposals.reply SET update_time = now(), revision = revision + 1 WHERE id = $1",
        reply
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct RatingRow {
    pub proposal_id: Uuid,
    pub handling_round: i16,
    pub member_id: Uuid,
    pub satisfaction: i16,
    pub comment: String,
    pub by_staff: bool,
    pub entered_by: String,
    pub entered_role: i16,
    pub enter_time: OffsetDateTime,
}

pub async fn ratings(
    conn: &mut Conn,
    proposal: Uuid,
    round: Option<i16>,
) -> Result<Vec<RatingRow>> {
    sqlx::query_as!(
        RatingRow,
        "SELECT proposal_id, handling_round, member_id, satisfaction, comment, by_staff, entered_by,
                entered_role, enter_time
         FROM proposals.rating WHERE proposal_id = $1 AND ($2::smallint IS NULL OR handling_round = $2)
         ORDER BY handling_round, enter_time",
        proposal,
        round
    )
    .fetch_all(conn)
    .await
}

/// Records a rating; false if the member already rated this round.
pub async fn insert_rating(conn: &mut Conn, r: &RatingRow) -> Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO proposals.rating (proposal_id, handling_round, member_id, satisfaction, comment,
                by_staff, entered_by, entered_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        r.proposal_id,
        r.handling_round,
        r.member_id,
        r.satisfaction,
        r.comment,
        r.by_staff,
        r.entered_by,
        r.entered_role
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
