//! Activities, their steps, participants, opinions and problems.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct ActivityRow {
    pub id: Uuid,
    pub committee_id: String,
    pub kind: i16,
    pub format: i16,
    pub topic: String,
    pub platform_id: Option<Uuid>,
    pub plan_item: Option<Uuid>,
    pub day: Date,
    pub official_count: i32,
    pub resident_count: i32,
    pub step: i16,
    pub meeting_day: Option<Date>,
    pub results_due: Option<Date>,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

pub async fn insert(conn: &mut Conn, a: &ActivityRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.activity (id, committee_id, kind, format, topic, platform_id, plan_item, day,
                official_count, resident_count, step)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)",
        a.id,
        a.committee_id,
        a.kind,
        a.format,
        a.topic,
        a.platform_id,
        a.plan_item,
        a.day,
        a.official_count,
        a.resident_count
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Activities with `ids` of a committee.
pub async fn get_many(conn: &mut Conn, committee: &str, ids: &[Uuid]) -> Result<Vec<ActivityRow>> {
    sqlx::query_as!(
        ActivityRow,
        "SELECT id, committee_id, kind, format, topic, platform_id, plan_item, day, official_count, resident_count,
                step, meeting_day, results_due, create_time, update_time, revision
         FROM consultations.activity WHERE committee_id = $1 AND id = ANY($2)",
        committee,
        ids
    )
    .fetch_all(conn)
    .await
}

pub async fn lock(conn: &mut Conn, committee: &str, id: Uuid) -> Result<bool> {
    Ok(sqlx::query!(
        "SELECT id FROM consultations.activity WHERE committee_id = $1 AND id = $2 FOR UPDATE",
        committee,
        id
    )
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Records step `number` and moves the activity to it; the meeting step
/// sets the results' day due.
#[allow(clippy::too_many_arguments)]
pub async fn step(
    conn: &mut Conn,
    id: Uuid,
    number: i16,
    documents: &[String],
    note: &str,
    actor: &str,
    role: i16,
    results_due: Option<Date>,
    meeting_day: Option<Date>,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.activity_step (activity_id, number, documents, note, actor, actor_role)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        number,
        documents,
        note,
        actor,
        role
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE consultations.activity SET step = $2, results_due = coalesce($3, results_due),
                meeting_day = coalesce($4, meeting_day), day = coalesce($4, day),
                update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
        number,
        results_due,
        meeting_day
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn touch(conn: &mut Conn, id: Uuid) -> Result<()> {
    sqlx::query!("UPDATE consultations.activity SET update_time = now(), revision = revision + 1 WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct StepRow {
    pub activity_id: Uuid,
    pub number: i16,
    pub documents: Vec<String>,
    pub note: String,
    pub actor: String,
    pub actor_role: i16,
    pub time: OffsetDateTime,
}

pub async fn steps(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<StepRow>> {
    sqlx::query_as!(
        StepRow,
        "SELECT activity_id, number, documents, note, actor, actor_role, time
         FROM consultations.activity_step WHERE activity_id = ANY($1) ORDER BY activity_id, number",
        ids
    )
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct ParticipantRow {
    pub activity_id: Uuid,
    pub member_id: Uuid,
    pub display_name: String,
}

pub async fn participants(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<ParticipantRow>> {
    sqlx::query_as!(
        ParticipantRow,
        "SELECT activity_id, member_id, display_name FROM consultations.participant
         WHERE activity_id = ANY($1) ORDER BY activity_id, add_time, member_id",
        ids
    )
    .fetch_all(conn)
    .await
}

/// Takes participants off; the ids taken off.
pub async fn remove_participants(
    conn: &mut Conn,
    activity: Uuid,
    members: &[Uuid],
) -> Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "DELETE FROM consultations.participant WHERE activity_id = $1 AND member_id = ANY($2) RETURNING member_id",
        activity,
        members
    )
    .fetch_all(conn)
    .await
}

/// Problems of an activity not yet solved.
pub async fn open_problems(conn: &mut Conn, activity: Uuid) -> Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM consultations.problem WHERE activity_id = $1 AND status <> 3"#,
        activity
    )
    .fetch_one(conn)
    .await
}

/// Adds a participant; false if already there.
pub async fn add_participant(
    conn: &mut Conn,
    activity: Uuid,
    member: Uuid,
    name: &str,
) -> Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO consultations.participant (activity_id, member_id, display_name) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        activity,
        member,
        name
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Opinions and problems (and of them solved) per activity.
pub async fn tallies(conn: &mut Conn, ids: &[Uuid]) -> Result<Vec<(Uuid, i64, i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT a AS "id!",
                  (SELECT count(*) FROM consultations.opinion o WHERE o.activity_id = a) AS "opinions!",
                  (SELECT count(*) FROM consultations.problem p WHERE p.activity_id = a) AS "problems!",
                  (SELECT count(*) FROM consultations.problem p WHERE p.activity_id = a AND p.status = 3) AS "solved!"
           FROM unnest($1::uuid[]) AS a"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.opinions, r.problems, r.solved))
        .collect())
}

/// One page of a committee's activity ids, newest day first, after the
/// (day, id) `after`; and how many match.
/// Where an activity stands in a list: newest day first, then by id.
#[derive(Clone, Copy, Debug)]
pub struct ListKey {
    pub day: Date,
    pub id: Uuid,
}

impl cppcc_kit::page::Keyed for ListKey {
    fn key(&self, field: &str) -> cppcc_kit::page::Key {
        match field {
            "day" => cppcc_kit::page::Key::Date(self.day),
            _ => cppcc_kit::page::Key::Uuid(self.id),
        }
    }
}

/// A page of a committee's activities (at most `limit` after `after`), and
/// how many match in all.
pub async fn list_ids(
    conn: &mut Conn,
    committee: &str,
    year: Option<i32>,
    kind: i16,
    after: Option<ListKey>,
    limit: i64,
) -> Result<(Vec<ListKey>, i64)> {
    let (a_day, a_id) = after.map(|k| (k.day, k.id)).unzip();
    let rows = sqlx::query!(
        r#"WITH matching AS (
             SELECT id, day FROM consultations.activity
             WHERE committee_id = $1 AND ($2::int IS NULL OR extract(year FROM day)::int = $2) AND ($3::smallint = 0 OR kind = $3)
           )
           SELECT id AS "id!", day AS "day!", (SELECT count(*) FROM matching) AS "total!" FROM matching
           WHERE $4::date IS NULL OR day < $4 OR (day = $4 AND id > $5::uuid)
           ORDER BY day DESC, id LIMIT $6"#,
        committee,
        year,
        kind,
        a_day,
        a_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    let total = rows.first().map(|r| r.total).unwrap_or(0);
    Ok((
        rows.into_iter()
            .map(|r| ListKey {
                day: r.day,
                id: r.id,
            })
            .collect(),
        total,
    ))
}

#[derive(Clone, Debug)]
pub struct OpinionRow {
    pub id: Uuid,
    pub activity_id: Uuid,
    pub text: String,
    pub source: String,
    pub create_time: OffsetDateTime,
}

pub async fn add_opinion(conn: &mut Conn, o: &OpinionRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.opinion (id, activity_id, text, source) VALUES ($1, $2, $3, $4)",
        o.id,
        o.activity_id,
        o.text,
        o.source
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn opinions(
    conn: &mut Conn,
    activity: Uuid,
    id: Option<Uuid>,
) -> Result<Vec<OpinionRow>> {
    sqlx::query_as!(
        OpinionRow,
        "SELECT id, activity_id, text, source, create_time FROM consultations.opinion
         WHERE activity_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY create_time, id",
        activity,
        id
    )
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct ProblemRow {
    pub id: Uuid,
    pub activity_id: Uuid,
    pub description: String,
    pub owner: String,
    pub status: i16,
    pub resolution: String,
    pub solve_time: Option<OffsetDateTime>,
    pub create_time: OffsetDateTime,
}

pub async fn add_problem(conn: &mut Conn, p: &ProblemRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.problem (id, activity_id, description, owner, status) VALUES ($1, $2, $3, $4, 1)",
        p.id,
        p.activity_id,
        p.description,
        p.owner
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn problems(
    conn: &mut Conn,
    activity: Uuid,
    id: Option<Uuid>,
) -> Result<Vec<ProblemRow>> {
    sqlx::query_as!(
        ProblemRow,
        "SELECT id, activity_id, description, owner, status, resolution, solve_time, create_time
         FROM consultations.problem WHERE activity_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY create_time, id",
        activity,
        id
    )
    .fetch_all(conn)
    .await
}

pub async fn move_problem(conn: &mut Conn, id: Uuid, status: i16, resolution: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.problem SET status = $2::smallint, resolution = CASE WHEN $3 = '' THEN resolution ELSE $3 END,
                solve_time = CASE WHEN $2::smallint = 3 THEN now() END
         WHERE id = $1",
        id,
        status,
        resolution
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Activities whose meeting was held and whose results were past due and
/// not yet submitted on `as_of` (judged by when step 5 was taken, so a
/// past day shows what was overdue then).
pub async fn overdue(
    conn: &mut Conn,
    committee: &str,
    as_of: Date,
) -> Result<Vec<(Uuid, String, i16, Date)>> {
    let rows = sqlx::query!(
        r#"SELECT a.id, a.topic, a.kind, a.results_due AS "due!" FROM consultations.activity a
           WHERE a.committee_id = $1 AND a.results_due < $2
             AND NOT EXISTS (SELECT 1 FROM consultations.activity_step s WHERE s.activity_id = a.id AND s.number = 5
                             AND (s.time AT TIME ZONE 'Asia/Shanghai')::date <= $2)
           ORDER BY a.results_due, a.id"#,
        committee,
        as_of
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.topic, r.kind, r.due))
        .collect())
}
