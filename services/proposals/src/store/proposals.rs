//! Proposals, their proposers, assignments and steps.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct ProposalRow {
    pub id: Uuid,
    pub committee_id: String,
    pub session_id: Uuid,
    pub inter_session: bool,
    pub title: String,
    pub reason: String,
    pub suggestions: String,
    pub category: i16,
    pub kind: i16,
    pub on_behalf_of: String,
    pub state: i16,
    pub serial: Option<i32>,
    pub not_filed_reason: Option<i16>,
    pub merged_with: Option<Uuid>,
    pub handling_round: i16,
    pub assign_date: Option<Date>,
    pub reply_due: Option<Date>,
    pub result_category: Option<String>,
    pub key: bool,
    pub leader_name: String,
    pub leader_title: String,
    pub conversion_state: i16,
    pub opinion_report: String,
    pub convert_time: Option<OffsetDateTime>,
    pub created_by: String,
    pub submit_time: Option<OffsetDateTime>,
    pub file_time: Option<OffsetDateTime>,
    pub replied_time: Option<OffsetDateTime>,
    pub close_time: Option<OffsetDateTime>,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

/// What a new draft holds.
#[derive(Clone, Debug)]
pub struct NewProposal {
    pub id: Uuid,
    pub committee_id: String,
    pub session_id: Uuid,
    pub title: String,
    pub reason: String,
    pub suggestions: String,
    pub category: i16,
    pub kind: i16,
    pub on_behalf_of: String,
    pub grams: Vec<String>,
    pub created_by: String,
}

pub async fn insert(conn: &mut Conn, p: &NewProposal) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.proposal (id, committee_id, session_id, title, reason, suggestions,
                category, kind, on_behalf_of, state, grams, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)",
        p.id,
        p.committee_id,
        p.session_id,
        p.title,
        p.reason,
        p.suggestions,
        p.category,
        p.kind,
        p.on_behalf_of,
        &p.grams,
        p.created_by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The proposals with `ids` of a committee, in no particular order.
pub async fn get_many(conn: &mut Conn, committee: &str, ids: &[Uuid]) -> Result<Vec<ProposalRow>> {
    sqlx::query_as!(
        ProposalRow,
        "SELECT id, committee_id, session_id, inter_session, title, reason, suggestions, category, kind,
                on_behalf_of, state, serial, not_filed_reason, merged_with, handling_round, assign_date,
                reply_due, result_category, key, leader_name, leader_title, conversion_state,
                opinion_report, convert_time, created_by, submit_time, file_time, replied_time,
                close_time, create_time, update_time, revision
         FROM proposals.proposal WHERE committee_id = $1 AND id = ANY($2)",
        committee,
        ids
    )
    .fetch_all(conn)
    .await
}

/// Locks a proposal for a change: its state and revision.
pub async fn lock(conn: &mut Conn, committee: &str, id: Uuid) -> Result<Option<ProposalRow>> {
    sqlx::query_as!(
        ProposalRow,
        "SELECT id, committee_id, session_id, inter_session, title, reason, suggestions, category, kind,
                on_behalf_of, state, serial, not_filed_reason, merged_with, handling_round, assign_date,
                reply_due, result_category, key, leader_name, leader_title, conversion_state,
                opinion_report, convert_time, created_by, submit_time, file_time, replied_time,
                close_time, create_time, update_time, revision
         FROM proposals.proposal WHERE committee_id = $1 AND id = $2 FOR UPDATE",
        committee,
        id
    )
    .fetch_optional(conn)
    .await
}

/// What a step changes on the proposal row; `None` leaves a column be.
#[derive(Clone, Debug, Default)]
pub struct Moved {
    pub state: i16,
    pub serial: Option<i32>,
    pub not_filed_reason: Option<i16>,
    pub merged_with: Option<Uuid>,
    pub handling_round: Option<i16>,
    pub assign_date: Option<Date>,
    pub reply_due: Option<Date>,
    pub result_category: Option<String>,
    pub conversion_state: Option<i16>,
    pub submit: bool,
    pub file: bool,
    pub replied: bool,
    pub close: bool,
    pub convert: bool,
}

/// Marks a move taken `today` (the day, in China, a submission is
/// compared with its session's close).
pub async fn mark(conn: &mut Conn, id: Uuid, m: &Moved, today: Date) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.proposal SET
            state = $2,
            serial = coalesce($3, serial),
            not_filed_reason = coalesce($4, not_filed_reason),
            merged_with = coalesce($5, merged_with),
            handling_round = coalesce($6, handling_round),
            assign_date = coalesce($7, assign_date),
            reply_due = coalesce($8, reply_due),
            result_category = coalesce($9, result_category),
            conversion_state = coalesce($10, conversion_state),
            submit_time = CASE WHEN $11 THEN now() ELSE submit_time END,
            inter_session = CASE WHEN $11 THEN (SELECT $16::date > s.close_date
                                                FROM proposals.session s WHERE s.id = session_id)
                                 ELSE inter_session END,
            file_time = CASE WHEN $12 THEN now() ELSE file_time END,
            replied_time = CASE WHEN $13 THEN now() ELSE replied_time END,
            close_time = CASE WHEN $14 THEN now() ELSE close_time END,
            convert_time = CASE WHEN $15 THEN now() ELSE convert_time END,
            update_time = now(),
            revision = revision + 1
         WHERE id = $1",
        id,
        m.state,
        m.serial,
        m.not_filed_reason,
        m.merged_with,
        m.handling_round,
        m.assign_date,
        m.reply_due,
        m.result_category,
        m.conversion_state,
        m.submit,
        m.file,
        m.replied,
        m.close,
        m.convert,
        today
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Changes a draft's words.
#[allow(clippy::too_many_arguments)]
pub async fn edit(
    conn: &mut Conn,
    id: Uuid,
    session_id: Uuid,
    title: &str,
    reason: &str,
    suggestions: &str,
    category: i16,
    on_behalf_of: &str,
    grams: &[String],
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.proposal SET session_id = $2, title = $3, reason = $4, suggestions = $5,
                category = $6, on_behalf_of = $7, grams = $8, update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
        session_id,
        title,
        reason,
        suggestions,
        category,
        on_behalf_of,
        grams
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a change that is not a step (a co-signer signed, a key mark).
pub async fn touch(conn: &mut Conn, id: Uuid, kind: Option<i16>) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.proposal SET kind = coalesce($2, kind), update_time = now(), revision = revision + 1 WHERE id = $1",
        id,
        kind
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_key(
    conn: &mut Conn,
    id: Uuid,
    leader_name: &str,
    leader_title: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.proposal SET key = true, leader_name = $2, leader_title = $3,
                update_time = now(), revision = revision + 1 WHERE id = $1",
        id,
        leader_name,
        leader_title
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ProposerRow {
    pub proposal_id: Uuid,
    pub member_id: Uuid,
    pub display_name: String,
    pub position: i16,
    pub sign_by: Option<Date>,
    pub sign_time: Option<OffsetDateTime>,
}

pub async fn proposers(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<ProposerRow>> {
    sqlx::query_as!(
        ProposerRow,
        "SELECT proposal_id, member_id, display_name, position, sign_by, sign_time
         FROM proposals.proposer WHERE proposal_id = ANY($1) ORDER BY proposal_id, position",
        ids
    )
    .fetch_all(conn)
    .await
}

/// Adds a proposer at the next position; one already there is left be.
pub async fn add_proposer(
    conn: &mut Conn,
    proposal: Uuid,
    member: Uuid,
    display_name: &str,
    sign_by: Option<Date>,
    signed: bool,
) -> Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO proposals.proposer (proposal_id, member_id, display_name, position, sign_by, sign_time)
         SELECT $1, $2, $3, coalesce(max(position) + 1, 0), $4, CASE WHEN $5 THEN now() END
         FROM proposals.proposer WHERE proposal_id = $1
         ON CONFLICT (proposal_id, member_id) DO NOTHING",
        proposal,
        member,
        display_name,
        sign_by,
        signed
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn sign(conn: &mut Conn, proposal: Uuid, member: Uuid) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.proposer SET sign_time = now() WHERE proposal_id = $1 AND member_id = $2",
        proposal,
        member
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes co-signers who have not signed off the proposal.
pub async fn drop_unsigned(conn: &mut Conn, proposal: Uuid, member: Option<Uuid>) -> Result<u64> {
    let done = sqlx::query!(
        "DELETE FROM proposals.proposer
         WHERE proposal_id = $1 AND position > 0 AND sign_time IS NULL AND ($2::uuid IS NULL OR member_id = $2)",
        proposal,
        member
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[derive(Clone, Debug)]
pub struct AssignmentRow {
    pub proposal_id: Uuid,
    pub handling_round: i16,
    pub unit_id: Uuid,
    pub unit_name: String,
    pub part: i16,
    pub active: bool,
    pub assign_time: OffsetDateTime,
}

/// The assignments of the proposals' current rounds, still active.
pub async fn assignments(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<AssignmentRow>> {
    sqlx::query_as!(
        AssignmentRow,
        "SELECT a.proposal_id, a.handling_round, a.unit_id, u.display_name AS unit_name, a.part, a.active, a.assign_time
         FROM proposals.assignment a
         JOIN proposals.proposal p ON p.id = a.proposal_id AND p.handling_round = a.handling_round
         JOIN proposals.unit u ON u.id = a.unit_id
         WHERE a.proposal_id = ANY($1) AND a.active
         ORDER BY a.proposal_id, a.part, u.display_name COLLATE proposals.zh_pinyin",
        ids
    )
    .fetch_all(conn)
    .await
}

pub async fn assign(
    conn: &mut Conn,
    proposal: Uuid,
    round: i16,
    unit: Uuid,
    part: i16,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.assignment (proposal_id, handling_round, unit_id, part) VALUES ($1, $2, $3, $4)
         ON CONFLICT (proposal_id, handling_round, unit_id) DO UPDATE SET part = $4, active = true, assign_time = now()",
        proposal,
        round,
        unit,
        part
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a round's assignments for every unit.
pub async fn end_assignments(conn: &mut Conn, proposal: Uuid, round: i16) -> Result<()> {
    sqlx::query!(
        "UPDATE proposals.assignment SET active = false WHERE proposal_id = $1 AND handling_round = $2",
        proposal,
        round
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes back co-signers' signatures (the words they signed changed),
/// giving them until `sign_by` to sign again.
pub async fn unsign_cosigners(conn: &mut Conn, proposal: Uuid, sign_by: Date) -> Result<u64> {
    let done = sqlx::query!(
        "UPDATE proposals.proposer SET sign_time = NULL, sign_by = $2
         WHERE proposal_id = $1 AND position > 0 AND sign_time IS NOT NULL",
        proposal,
        sign_by
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// How often a proposal was handled once more after an unsatisfied rating.
pub async fn rehandled(conn: &mut Conn, proposal: Uuid) -> Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM proposals.transition WHERE proposal_id = $1 AND step = 'rehandle'"#,
        proposal
    )
    .fetch_one(conn)
    .await
}

/// Proposals filed merged with `main` and not yet assigned.
pub async fn merged_waiting(conn: &mut Conn, main: Uuid) -> Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM proposals.proposal WHERE merged_with = $1 AND state = 3 ORDER BY serial FOR UPDATE",
        main
    )
    .fetch_all(conn)
    .await
}

/// Records a step.
#[allow(clippy::too_many_arguments)]
pub async fn record_step(
    conn: &mut Conn,
    proposal: Uuid,
    from: Option<i16>,
    to: i16,
    step: &str,
    actor: &str,
    role: i16,
    reason: &str,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.transition (proposal_id, seq, from_state, to_state, step, actor, actor_role, reason)
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7 FROM proposals.transition WHERE proposal_id = $1",
        proposal,
        from,
        to,
        step,
        actor,
        role,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct TransitionRow {
    pub from_state: Option<i16>,
    pub to_state: i16,
    pub step: String,
    pub actor: String,
    pub actor_role: i16,
    pub reason: String,
    pub time: OffsetDateTime,
}

pub async fn transitions(conn: &mut Conn, proposal: Uuid) -> Result<Vec<TransitionRow>> {
    sqlx::query_as!(
        TransitionRow,
        "SELECT from_state, to_state, step, actor, actor_role, reason, time
         FROM proposals.transition WHERE proposal_id = $1 ORDER BY seq",
        proposal
    )
    .fetch_all(conn)
    .await
}

/// What a list asks for.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub session: Option<Uuid>,
    pub states: Vec<i16>,
    pub unit: Option<Uuid>,
    pub member: Option<Uuid>,
    /// Proposals never submitted (drafts, and drafts withdrawn) are listed
    /// only where the member is a proposer (`Some`), or all (`None`, for
    /// the office); `Some(None)` lists none.
    pub drafts_of: Option<Option<Uuid>>,
}

/// One page of ids, ordered filed first by serial, then by creation,
/// newest first; `after` is the last (serial, create_time, id) seen.
/// Where a proposal stands in a list: by serial (drafts, with none, last),
/// newest first among equals, then by id.
#[derive(Clone, Copy, Debug)]
pub struct ListKey {
    pub serial: i32,
    pub create_time: OffsetDateTime,
    pub id: Uuid,
}

impl cppcc_kit::page::Keyed for ListKey {
    fn key(&self, field: &str) -> cppcc_kit::page::Key {
        use cppcc_kit::page::Key;
        match field {
            "serial" => Key::Int(self.serial.into()),
            "create_time" => Key::Time(self.create_time),
            _ => Key::Uuid(self.id),
        }
    }
}

pub async fn list_ids(
    conn: &mut Conn,
    committee: &str,
    f: &ListFilter,
    after: Option<ListKey>,
    limit: i64,
) -> Result<(Vec<ListKey>, i64)> {
    let drafts_all = f.drafts_of.is_none();
    let drafts_member = f.drafts_of.flatten();
    let (a_serial, a_time, a_id) = match after {
        Some(k) => (Some(k.serial), Some(k.create_time), Some(k.id)),
        None => (None, None, None),
    };
    let rows = sqlx::query!(
        r#"WITH matching AS (
             SELECT p.id, coalesce(p.serial, 2147483647) AS sort_serial, p.create_time
             FROM proposals.proposal p
             WHERE p.committee_id = $1
               AND ($2::uuid IS NULL OR p.session_id = $2)
               AND (cardinality($3::smallint[]) = 0 OR p.state = ANY($3))
               AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM proposals.assignment a
                      WHERE a.proposal_id = p.id AND a.unit_id = $4 AND a.active AND a.handling_round = p.handling_round))
               AND ($5::uuid IS NULL OR EXISTS (SELECT 1 FROM proposals.proposer r
                      WHERE r.proposal_id = p.id AND r.member_id = $5))
               AND (p.submit_time IS NOT NULL OR $6 OR ($7::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM proposals.proposer r
                      WHERE r.proposal_id = p.id AND r.member_id = $7)))
           )
           SELECT id AS "id!", sort_serial AS "sort_serial!", create_time AS "create_time!",
                  (SELECT count(*) FROM matching) AS "total!"
           FROM matching
           WHERE $8::int IS NULL OR (sort_serial, -extract(epoch FROM create_time), id)
                 > ($8, -extract(epoch FROM $9::timestamptz), $10::uuid)
           ORDER BY sort_serial, create_time DESC, id
           LIMIT $11"#,
        committee,
        f.session,
        &f.states,
        f.unit,
        f.member,
        drafts_all,
        drafts_member,
        a_serial,
        a_time,
        a_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok((
        rows.into_iter()
            .map(|r| ListKey {
                serial: r.sort_serial,
                create_time: r.create_time,
                id: r.id,
            })
            .collect(),
        total,
    ))
}

/// Earlier proposals sharing pairs with `grams`, most alike first, with
/// how alike (Dice's coefficient), drafts and withdrawn ones left out.
pub async fn similar(
    conn: &mut Conn,
    committee: &str,
    grams: &[String],
    exclude: Option<Uuid>,
    limit: i64,
) -> Result<Vec<(Uuid, f64)>> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", (2.0 * cardinality(ARRAY(SELECT unnest(grams) INTERSECT SELECT unnest($2::text[])))
                   / (cardinality(grams) + cardinality($2::text[])))::float8 AS "similarity!"
           FROM proposals.proposal
           WHERE committee_id = $1 AND grams && $2::text[] AND state NOT IN (1, 10)
             AND ($3::uuid IS NULL OR id <> $3)
           ORDER BY 2 DESC, create_time DESC
           LIMIT $4"#,
        committee,
        grams,
        exclude,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.similarity)).collect())
}
