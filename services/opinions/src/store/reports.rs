//! Reports, their forwards, handlings, bulletins and the statistics.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct ReportRow {
    pub id: Uuid,
    pub committee_id: String,
    pub title: String,
    pub content: String,
    pub category: i16,
    pub contributor_kind: i16,
    pub member_id: Option<Uuid>,
    pub informant_id: Option<Uuid>,
    pub staff_id: Option<Uuid>,
    pub contributor_name: String,
    pub station_id: Option<Uuid>,
    pub township: String,
    pub submit_day: Date,
    pub source_proposal: Option<Uuid>,
    pub review_state: i16,
    pub review_reason: String,
    pub review_day: Option<Date>,
    pub original_title: Option<String>,
    pub original_content: Option<String>,
    pub instructions: serde_json::Value,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

pub async fn insert(conn: &mut Conn, r: &ReportRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO opinions.report (id, committee_id, title, content, category, contributor_kind, member_id,
                informant_id, staff_id, contributor_name, station_id, township, submit_day, source_proposal,
                review_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        r.id,
        r.committee_id,
        r.title,
        r.content,
        r.category,
        r.contributor_kind,
        r.member_id,
        r.informant_id,
        r.staff_id,
        r.contributor_name,
        r.station_id,
        r.township,
        r.submit_day,
        r.source_proposal,
        r.review_state
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Which reports to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    pub ids: Option<&'a [Uuid]>,
    /// Submitted in this year.
    pub year: Option<i32>,
    pub review_state: Option<i16>,
    /// Contributed by this member.
    pub member: Option<Uuid>,
    /// Sent to this unit.
    pub unit: Option<Uuid>,
    /// Turned from this proposal.
    pub proposal: Option<Uuid>,
    /// Lock the rows read (with `ids` only).
    pub lock: bool,
    /// Only those after this (submit day, create time, id), the last of
    /// the page before.
    pub after: Option<(Date, OffsetDateTime, Uuid)>,
    /// At most this many.
    pub limit: Option<i64>,
}

/// A committee's reports, oldest first.
pub async fn list(conn: &mut Conn, committee: &str, f: Filter<'_>) -> Result<Vec<ReportRow>> {
    if f.lock
        && let Some(ids) = f.ids
    {
        sqlx::query!(
            "SELECT id FROM opinions.report WHERE committee_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
            committee,
            ids
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        ReportRow,
        "SELECT id, committee_id, title, content, category, contributor_kind, member_id, informant_id, staff_id,
                contributor_name, station_id, township, submit_day, source_proposal, review_state, review_reason,
                review_day, original_title, original_content, instructions, create_time, update_time
         FROM opinions.report r
         WHERE committee_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2))
           AND ($3::int IS NULL OR extract(year FROM submit_day)::int = $3)
           AND ($4::smallint IS NULL OR review_state = $4)
           AND ($5::uuid IS NULL OR member_id = $5)
           AND ($6::uuid IS NULL OR EXISTS (SELECT 1 FROM opinions.handling h WHERE h.report_id = r.id AND h.unit_id = $6))
           AND ($7::uuid IS NULL OR source_proposal = $7)
           AND ($8::date IS NULL OR (submit_day, create_time, id) > ($8, $9, $10))
         ORDER BY submit_day, create_time, id
         LIMIT $11",
        committee,
        f.ids,
        f.year,
        f.review_state,
        f.member,
        f.unit,
        f.proposal,
        f.after.map(|a| a.0),
        f.after.map(|a| a.1),
        f.after.map(|a| a.2),
        f.limit
    )
    .fetch_all(conn)
    .await
}

/// Records the review's outcome (or its start).
pub async fn set_review(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    reason: &str,
    day: Option<Date>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.report SET review_state = $2, review_reason = $3, review_day = $4, update_time = now()
         WHERE id = $1",
        id,
        state,
        reason,
        day
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the title and text, keeping the submitted ones the first time.
pub async fn edit(conn: &mut Conn, id: Uuid, title: &str, content: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.report SET original_title = COALESCE(original_title, title),
                original_content = COALESCE(original_content, content),
                title = $2, content = $3, update_time = now()
         WHERE id = $1",
        id,
        title,
        content
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn add_instruction(
    conn: &mut Conn,
    id: Uuid,
    instruction: &serde_json::Value,
) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.report SET instructions = instructions || jsonb_build_array($2::jsonb), update_time = now()
         WHERE id = $1",
        id,
        instruction
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn touch(conn: &mut Conn, id: Uuid) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.report SET update_time = now() WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ForwardRow {
    pub id: Uuid,
    pub committee_id: String,
    pub report_id: Uuid,
    pub target: String,
    pub state: i16,
    pub forward_day: Date,
    pub decision_day: Option<Date>,
    pub decision_note: String,
    pub failed_attempts: i32,
    pub last_error: String,
}

pub async fn insert_forward(conn: &mut Conn, f: &ForwardRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO opinions.forward (id, committee_id, report_id, target, state, forward_day)
         VALUES ($1, $2, $3, $4, $5, $6)",
        f.id,
        f.committee_id,
        f.report_id,
        f.target,
        f.state,
        f.forward_day
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The forwards of `reports`, or the forwards `ids`; locked if `lock`.
pub async fn forwards(
    conn: &mut Conn,
    reports: Option<&[Uuid]>,
    ids: Option<&[Uuid]>,
    lock: bool,
) -> Result<Vec<ForwardRow>> {
    if lock {
        sqlx::query!(
            "SELECT id FROM opinions.forward WHERE ($1::uuid[] IS NULL OR report_id = ANY($1))
               AND ($2::uuid[] IS NULL OR id = ANY($2)) ORDER BY id FOR UPDATE",
            reports,
            ids
        )
        .fetch_all(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        ForwardRow,
        "SELECT id, committee_id, report_id, target, state, forward_day, decision_day, decision_note,
                failed_attempts, last_error
         FROM opinions.forward WHERE ($1::uuid[] IS NULL OR report_id = ANY($1))
           AND ($2::uuid[] IS NULL OR id = ANY($2))
         ORDER BY forward_day, id",
        reports,
        ids
    )
    .fetch_all(conn)
    .await
}

pub async fn set_forward(
    conn: &mut Conn,
    id: Uuid,
    state: i16,
    decision_day: Option<Date>,
    note: &str,
) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.forward SET state = $2, decision_day = COALESCE($3, decision_day),
                decision_note = CASE WHEN $3::date IS NULL THEN decision_note ELSE $4 END
         WHERE id = $1",
        id,
        state,
        decision_day,
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn forward_failed(conn: &mut Conn, id: Uuid, error: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.forward SET failed_attempts = failed_attempts + 1, last_error = $2 WHERE id = $1",
        id,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct HandlingRow {
    pub id: Uuid,
    pub committee_id: String,
    pub report_id: Uuid,
    pub unit_id: Uuid,
    pub unit_name: String,
    pub state: i16,
    pub send_day: Date,
    pub feedback: String,
    pub feedback_day: Option<Date>,
    pub follow_ups: serde_json::Value,
    pub close_day: Option<Date>,
}

pub async fn insert_handling(conn: &mut Conn, h: &HandlingRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO opinions.handling (id, committee_id, report_id, unit_id, unit_name, state, send_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        h.id,
        h.committee_id,
        h.report_id,
        h.unit_id,
        h.unit_name,
        h.state,
        h.send_day
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The handlings of `reports`.
pub async fn handlings(conn: &mut Conn, reports: &[Uuid]) -> Result<Vec<HandlingRow>> {
    sqlx::query_as!(
        HandlingRow,
        "SELECT id, committee_id, report_id, unit_id, unit_name, state, send_day, feedback, feedback_day,
                follow_ups, close_day
         FROM opinions.handling WHERE report_id = ANY($1) ORDER BY send_day, unit_name, id",
        reports
    )
    .fetch_all(conn)
    .await
}

/// Writes a handling's state, feedback, an added follow-up and its close.
pub async fn update_handling(
    conn: &mut Conn,
    h: &HandlingRow,
    follow_up: Option<&serde_json::Value>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.handling SET state = $2, feedback = $3, feedback_day = $4, close_day = $5,
                follow_ups = CASE WHEN $6::jsonb IS NULL THEN follow_ups ELSE follow_ups || jsonb_build_array($6::jsonb) END
         WHERE id = $1",
        h.id,
        h.state,
        h.feedback,
        h.feedback_day,
        h.close_day,
        follow_up
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct BulletinRow {
    pub id: Uuid,
    pub committee_id: String,
    pub kind: i16,
    pub year: i16,
    pub number: i16,
    pub title: String,
    pub issue_day: Date,
    pub reports: Vec<Uuid>,
}

/// Issues the next number of the year's bulletin of `kind` with
/// `reports`; the number. The committee's year and kind are locked while
/// numbering, so numbers never repeat or skip.
pub async fn insert_bulletin(conn: &mut Conn, b: &BulletinRow) -> Result<i16> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('opinions.bulletin:' || $1 || ':' || $2::smallint::text || ':' || $3::smallint::text))",
        b.committee_id,
        b.kind,
        b.year
    )
    .execute(&mut *conn)
    .await?;
    let number = sqlx::query_scalar!(
        r#"SELECT (COALESCE(max(number), 0) + 1)::smallint AS "n!" FROM opinions.bulletin
         WHERE committee_id = $1 AND kind = $2 AND year = $3"#,
        b.committee_id,
        b.kind,
        b.year
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO opinions.bulletin (id, committee_id, kind, year, number, title, issue_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        b.id,
        b.committee_id,
        b.kind,
        b.year,
        number,
        b.title,
        b.issue_day
    )
    .execute(&mut *conn)
    .await?;
    let positions: Vec<i16> = (1..=b.reports.len() as i16).collect();
    sqlx::query!(
        "INSERT INTO opinions.bulletin_report (bulletin_id, report_id, position)
         SELECT $1, r, p FROM unnest($2::uuid[], $3::smallint[]) AS t(r, p)",
        b.id,
        &b.reports,
        &positions
    )
    .execute(conn)
    .await?;
    Ok(number)
}

/// A committee's bulletins: `ids`, or of `year`; by kind and number.
pub async fn bulletins(
    conn: &mut Conn,
    committee: &str,
    ids: Option<&[Uuid]>,
    year: Option<i16>,
) -> Result<Vec<BulletinRow>> {
    sqlx::query_as!(
        BulletinRow,
        r#"SELECT b.id, b.committee_id, b.kind, b.year, b.number, b.title, b.issue_day,
                COALESCE(array_agg(br.report_id ORDER BY br.position) FILTER (WHERE br.report_id IS NOT NULL), '{}') AS "reports!"
         FROM opinions.bulletin b LEFT JOIN opinions.bulletin_report br ON br.bulletin_id = b.id
         WHERE b.committee_id = $1 AND ($2::uuid[] IS NULL OR b.id = ANY($2)) AND ($3::smallint IS NULL OR b.year = $3)
         GROUP BY b.id ORDER BY b.kind, b.year, b.number"#,
        committee,
        ids,
        year
    )
    .fetch_all(conn)
    .await
}

/// (report, bulletin) for every publication of `reports`.
pub async fn published(conn: &mut Conn, reports: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        "SELECT br.report_id, br.bulletin_id FROM opinions.bulletin_report br
         JOIN opinions.bulletin b ON b.id = br.bulletin_id
         WHERE br.report_id = ANY($1) ORDER BY b.issue_day, b.number",
        reports
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.report_id, r.bulletin_id))
        .collect())
}

/// The figures of a span of days (inclusive).
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub submitted: i64,
    pub by_members: i64,
    pub by_informants: i64,
    pub by_staff: i64,
    pub accepted: i64,
    pub not_accepted: i64,
    pub published: i64,
    pub bulletins: i64,
    pub forwarded: i64,
    pub adopted_upward: i64,
    pub instructions: i64,
    pub member_contributors: i64,
    pub sent_for_handling: i64,
    pub handlings_closed: i64,
    pub by_station: Vec<(Uuid, i64)>,
    pub by_category: Vec<(i16, i64)>,
}

pub async fn figures(conn: &mut Conn, committee: &str, from: Date, to: Date) -> Result<Figures> {
    let f = sqlx::query!(
        r#"SELECT
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3) AS "submitted!",
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3 AND contributor_kind = 1) AS "by_members!",
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3 AND contributor_kind = 2) AS "by_informants!",
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3 AND contributor_kind = 3) AS "by_staff!",
            (SELECT count(DISTINCT member_id) FROM opinions.report WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3) AS "member_contributors!",
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND review_state = 3 AND review_day BETWEEN $2 AND $3) AS "accepted!",
            (SELECT count(*) FROM opinions.report WHERE committee_id = $1 AND review_state = 4 AND review_day BETWEEN $2 AND $3) AS "not_accepted!",
            (SELECT count(DISTINCT br.report_id) FROM opinions.bulletin_report br JOIN opinions.bulletin b ON b.id = br.bulletin_id
              WHERE b.committee_id = $1 AND b.issue_day BETWEEN $2 AND $3) AS "published!",
            (SELECT count(*) FROM opinions.bulletin WHERE committee_id = $1 AND issue_day BETWEEN $2 AND $3) AS "bulletins!",
            (SELECT count(DISTINCT report_id) FROM opinions.forward WHERE committee_id = $1 AND forward_day BETWEEN $2 AND $3) AS "forwarded!",
            (SELECT count(DISTINCT report_id) FROM opinions.forward WHERE committee_id = $1 AND forward_day BETWEEN $2 AND $3 AND state = 3) AS "adopted_upward!",
            (SELECT count(*) FROM opinions.report r, jsonb_array_elements(r.instructions) i
              WHERE r.committee_id = $1 AND (i->>'date')::date BETWEEN $2 AND $3) AS "instructions!",
            (SELECT count(DISTINCT report_id) FROM opinions.handling WHERE committee_id = $1 AND send_day BETWEEN $2 AND $3) AS "sent_for_handling!",
            (SELECT count(*) FROM opinions.handling WHERE committee_id = $1 AND close_day BETWEEN $2 AND $3) AS "handlings_closed!""#,
        committee,
        from,
        to
    )
    .fetch_one(&mut *conn)
    .await?;
    let by_station = sqlx::query!(
        r#"SELECT station_id AS "station!", count(*) AS "n!" FROM opinions.report
         WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3 AND station_id IS NOT NULL
         GROUP BY station_id ORDER BY count(*) DESC, station_id"#,
        committee,
        from,
        to
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_category = sqlx::query!(
        r#"SELECT category, count(*) AS "n!" FROM opinions.report
         WHERE committee_id = $1 AND submit_day BETWEEN $2 AND $3
         GROUP BY category ORDER BY category"#,
        committee,
        from,
        to
    )
    .fetch_all(conn)
    .await?;
    Ok(Figures {
        submitted: f.submitted,
        by_members: f.by_members,
        by_informants: f.by_informants,
        by_staff: f.by_staff,
        accepted: f.accepted,
        not_accepted: f.not_accepted,
        published: f.published,
        bulletins: f.bulletins,
        forwarded: f.forwarded,
        adopted_upward: f.adopted_upward,
        instructions: f.instructions,
        member_contributors: f.member_contributors,
        sent_for_handling: f.sent_for_handling,
        handlings_closed: f.handlings_closed,
        by_station: by_station.into_iter().map(|r| (r.station, r.n)).collect(),
        by_category: by_category.into_iter().map(|r| (r.category, r.n)).collect(),
    })
}
