//! Results, their instructions and feedback, publications, and the
//! statistics.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct ResultRow {
    pub id: Uuid,
    pub committee_id: String,
    pub activity_id: Uuid,
    pub kind: i16,
    pub title: String,
    pub text: String,
    pub recipients: Vec<String>,
    pub send_day: Date,
    pub instructions: serde_json::Value,
    pub adoption: i16,
    pub actions: String,
    pub feedback_time: Option<OffsetDateTime>,
    pub publication_year: Option<i16>,
    pub publication_no: Option<i16>,
    pub create_time: OffsetDateTime,
}

pub async fn insert(conn: &mut Conn, r: &ResultRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.result (id, committee_id, activity_id, kind, title, text, recipients, send_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        r.id,
        r.committee_id,
        r.activity_id,
        r.kind,
        r.title,
        r.text,
        &r.recipients,
        r.send_day
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Results of a committee: with `ids`, of `activity`, or sent in `year`;
/// locked if `lock`.
pub async fn list(
    conn: &mut Conn,
    committee: &str,
    ids: Option<&[Uuid]>,
    activity: Option<Uuid>,
    year: Option<i32>,
    lock: bool,
) -> Result<Vec<ResultRow>> {
    if lock && let Some(ids) = ids {
        sqlx::query!("SELECT id FROM consultations.result WHERE committee_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE", committee, ids)
            .fetch_all(&mut *conn)
            .await?;
    }
    sqlx::query_as!(
        ResultRow,
        "SELECT id, committee_id, activity_id, kind, title, text, recipients, send_day, instructions, adoption,
                actions, feedback_time, publication_year, publication_no, create_time
         FROM consultations.result
         WHERE committee_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2))
           AND ($3::int IS NULL OR extract(year FROM send_day)::int = $3)
           AND ($4::uuid IS NULL OR activity_id = $4)
         ORDER BY send_day, create_time, id",
        committee,
        ids as Option<&[Uuid]>,
        year,
        activity
    )
    .fetch_all(conn)
    .await
}

pub async fn add_instruction(
    conn: &mut Conn,
    id: Uuid,
    instruction: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.result SET instructions = instructions || jsonb_build_array($2::jsonb) WHERE id = $1",
        id,
        instruction
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn feedback(conn: &mut Conn, id: Uuid, adoption: i16, actions: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.result SET adoption = $2, actions = $3, feedback_time = now() WHERE id = $1",
        id,
        adoption,
        actions
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Issues the year's next number of 《建言资政》 with `results`; the number.
/// The committee's year is locked while numbering, so numbers never repeat
/// or skip.
pub async fn publish(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    title: &str,
    day: Date,
    results: &[Uuid],
) -> Result<i16> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('consultations.publication:' || $1 || ':' || $2::smallint::text))", committee, year)
        .execute(&mut *conn)
        .await?;
    let number = sqlx::query_scalar!(
        r#"INSERT INTO consultations.publication (committee_id, year, number, title, issue_day)
           SELECT $1, $2, coalesce(max(number), 0) + 1, $3, $4 FROM consultations.publication
           WHERE committee_id = $1 AND year = $2
           RETURNING number"#,
        committee,
        year,
        title,
        day
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE consultations.result SET publication_year = $2, publication_no = $3
         WHERE committee_id = $1 AND id = ANY($4) AND publication_no IS NULL",
        committee,
        year,
        number,
        results
    )
    .execute(conn)
    .await?;
    Ok(number)
}

#[derive(Clone, Debug)]
pub struct PublicationRow {
    pub year: i16,
    pub number: i16,
    pub title: String,
    pub issue_day: Date,
    pub results: Vec<Uuid>,
}

pub async fn publications(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    number: Option<i16>,
) -> Result<Vec<PublicationRow>> {
    sqlx::query_as!(
        PublicationRow,
        r#"SELECT p.year, p.number, p.title, p.issue_day,
                  ARRAY(SELECT r.id FROM consultations.result r WHERE r.committee_id = p.committee_id
                        AND r.publication_year = p.year AND r.publication_no = p.number ORDER BY r.send_day, r.id) AS "results!"
           FROM consultations.publication p
           WHERE p.committee_id = $1 AND p.year = $2 AND ($3::smallint IS NULL OR p.number = $3)
           ORDER BY p.number"#,
        committee,
        year,
        number
    )
    .fetch_all(conn)
    .await
}

/// A committee's activities and results over a span of days, counted.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub by_kind: Vec<(i16, i64)>,
    pub by_format: Vec<(i16, i64)>,
    /// Everyone taking part (members, officials, residents), by kind.
    pub everyone_by_kind: Vec<(i16, i64)>,
    pub members_by_kind: Vec<(i16, i64)>,
    pub members_taking_part: i64,
    pub opinions: i64,
    pub problems: i64,
    pub solved: i64,
    pub reports: i64,
    pub results: i64,
    pub adopted: i64,
    pub instructions: i64,
    pub publications: i64,
}

/// Activities held from `from` to `to` (by their day), results sent then,
/// and issues of the years between.
pub async fn figures(conn: &mut Conn, committee: &str, from: Date, to: Date) -> Result<Figures> {
    let counts = sqlx::query!(
        r#"WITH held AS (
             SELECT a.id, a.kind, a.format, a.official_count + a.resident_count AS others,
                    (SELECT count(*) FROM consultations.participant p WHERE p.activity_id = a.id) AS members
               FROM consultations.activity a
              WHERE a.committee_id = $1 AND a.day BETWEEN $2 AND $3 AND a.step >= 4)
           SELECT 'kind' AS "what!", kind AS "n!", count(*) AS "count!" FROM held GROUP BY kind
           UNION ALL
           SELECT 'format', format, count(*) FROM held GROUP BY format
           UNION ALL
           SELECT 'everyone', kind, sum(others + members)::bigint FROM held GROUP BY kind
           UNION ALL
           SELECT 'members', kind, sum(members)::bigint FROM held GROUP BY kind
           ORDER BY 1, 2"#,
        committee,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut f = Figures::default();
    for c in counts {
        let entry = (c.n, c.count);
        match c.what.as_str() {
            "kind" => f.by_kind.push(entry),
            "format" => f.by_format.push(entry),
            "everyone" => f.everyone_by_kind.push(entry),
            _ => f.members_by_kind.push(entry),
        }
    }
    let rest = sqlx::query!(
        r#"SELECT
             (SELECT count(DISTINCT p.member_id) FROM consultations.participant p JOIN consultations.activity a ON a.id = p.activity_id
               WHERE a.committee_id = $1 AND a.day BETWEEN $2 AND $3 AND a.step >= 4) AS "members!",
             (SELECT count(*) FROM consultations.opinion o JOIN consultations.activity a ON a.id = o.activity_id
               WHERE a.committee_id = $1 AND a.day BETWEEN $2 AND $3) AS "opinions!",
             (SELECT count(*) FROM consultations.problem p JOIN consultations.activity a ON a.id = p.activity_id
               WHERE a.committee_id = $1 AND a.day BETWEEN $2 AND $3) AS "problems!",
             (SELECT count(*) FROM consultations.problem p JOIN consultations.activity a ON a.id = p.activity_id
               WHERE a.committee_id = $1 AND a.day BETWEEN $2 AND $3 AND p.status = 3) AS "solved!",
             (SELECT count(*) FROM consultations.result WHERE committee_id = $1 AND send_day BETWEEN $2 AND $3
               AND kind = 1) AS "reports!",
             (SELECT count(*) FROM consultations.result WHERE committee_id = $1 AND send_day BETWEEN $2 AND $3) AS "results!",
             (SELECT count(*) FROM consultations.result WHERE committee_id = $1 AND send_day BETWEEN $2 AND $3
               AND adoption IN (1, 2)) AS "adopted!",
             (SELECT coalesce(sum(jsonb_array_length(instructions)), 0)::bigint FROM consultations.result
               WHERE committee_id = $1 AND send_day BETWEEN $2 AND $3) AS "instructions!",
             (SELECT count(*) FROM consultations.publication WHERE committee_id = $1
               AND year BETWEEN extract(year FROM $2::date) AND extract(year FROM $3::date)) AS "publications!""#,
        committee,
        from,
        to
    )
    .fetch_one(conn)
    .await?;
    f.members_taking_part = rest.members;
    f.opinions = rest.opinions;
    f.problems = rest.problems;
    f.solved = rest.solved;
    f.reports = rest.reports;
    f.results = rest.results;
    f.adopted = rest.adopted;
    f.instructions = rest.instructions;
    f.publications = rest.publications;
    Ok(f)
}

/// A committee's platforms as they stand: by level, and how many comply.
pub async fn platform_figures(conn: &mut Conn, committee: &str) -> Result<(Vec<(i16, i64)>, i64)> {
    let rows = sqlx::query!(
        r#"SELECT level AS "level!", count(*) AS "count!",
                  count(*) FILTER (WHERE btrim(convener) <> '' AND btrim(venue) <> '' AND has_sign
                                   AND btrim(content) <> '' AND has_archives) AS "compliant!"
           FROM consultations.platform WHERE committee_id = $1 GROUP BY level ORDER BY level"#,
        committee
    )
    .fetch_all(conn)
    .await?;
    let compliant = rows.iter().map(|r| r.compliant).sum();
    Ok((
        rows.into_iter().map(|r| (r.level, r.count)).collect(),
        compliant,
    ))
}
