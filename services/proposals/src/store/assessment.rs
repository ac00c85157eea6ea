//! Rule tables, entered scores, members' evaluations, the facts the
//! assessment computes from, and the statistics.

use std::collections::BTreeMap;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Conn, Result};
use crate::domain::assessment::{Facts, Item};

pub async fn rules(
    conn: &mut Conn,
    committee: &str,
    year: i16,
) -> Result<Option<(Vec<Item>, OffsetDateTime)>> {
    let row = sqlx::query!(
        "SELECT items, update_time FROM proposals.assessment_rules WHERE committee_id = $1 AND year = $2",
        committee,
        year
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let items: Vec<Item> =
            serde_json::from_value(r.items).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok((items, r.update_time))
    })
    .transpose()
}

pub async fn put_rules(conn: &mut Conn, committee: &str, year: i16, items: &[Item]) -> Result<()> {
    let items = serde_json::to_value(items).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "INSERT INTO proposals.assessment_rules (committee_id, year, items) VALUES ($1, $2, $3)
         ON CONFLICT (committee_id, year) DO UPDATE SET items = $3, update_time = now()",
        committee,
        year,
        items
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn put_score(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    unit: Uuid,
    code: &str,
    score: f64,
    note: &str,
    by: &str,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO proposals.unit_score (committee_id, year, unit_id, code, score, note, scored_by)
         VALUES ($1, $2, $3, $4, round($5::numeric, 2), $6, $7)
         ON CONFLICT (committee_id, year, unit_id, code)
         DO UPDATE SET score = round($5::numeric, 2), note = $6, scored_by = $7, score_time = now()",
        committee,
        year,
        unit,
        code,
        score as f64,
        note,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn put_evaluation(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    unit: Uuid,
    member: Uuid,
    score: i16,
    comment: &str,
    by: &str,
) -> Result<(i64, f64)> {
    sqlx::query!(
        "INSERT INTO proposals.unit_evaluation (committee_id, year, unit_id, member_id, score, comment, entered_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (committee_id, year, unit_id, member_id)
         DO UPDATE SET score = $5, comment = $6, entered_by = $7, enter_time = now()",
        committee,
        year,
        unit,
        member,
        score,
        comment,
        by
    )
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query!(
        r#"SELECT count(*) AS "n!", coalesce(avg(score), 0)::float8 AS "mean!"
           FROM proposals.unit_evaluation WHERE committee_id = $1 AND year = $2 AND unit_id = $3"#,
        committee,
        year,
        unit
    )
    .fetch_one(conn)
    .await?;
    Ok((r.n, r.mean))
}

/// What each unit did with the proposals of the year's sessions, for the
/// computed items; `favourable` are the committee's favourable codes.
pub async fn facts(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    favourable: &[String],
    today: Date,
) -> Result<BTreeMap<Uuid, (Facts, i64)>> {
    let rows = sqlx::query!(
        r#"WITH year_proposals AS (
             SELECT p.id FROM proposals.proposal p JOIN proposals.session s ON s.id = p.session_id
             WHERE p.committee_id = $1 AND s.year = $2
           ),
           -- The units answering each proposal now (lead or split).
           answering AS (
             SELECT a.unit_id, a.proposal_id, a.handling_round, p.reply_due
             FROM proposals.assignment a JOIN proposals.proposal p
               ON p.id = a.proposal_id AND p.handling_round = a.handling_round
             WHERE a.proposal_id IN (SELECT id FROM year_proposals) AND a.part IN (1, 3) AND a.active
           ),
           handled AS (
             SELECT a.unit_id, count(DISTINCT a.proposal_id) AS proposals
             FROM proposals.assignment a JOIN proposals.proposal p
               ON p.id = a.proposal_id AND p.handling_round = a.handling_round
             WHERE a.proposal_id IN (SELECT id FROM year_proposals) AND a.active
             GROUP BY a.unit_id
           ),
           -- Each answering unit's reply of the round, if submitted.
           answered AS (
             SELECT w.unit_id, w.proposal_id, w.reply_due, r.on_time, r.contacted, r.state,
                    coalesce(r.reviewed_category, r.result_category) AS category
             FROM answering w LEFT JOIN proposals.reply r
               ON r.proposal_id = w.proposal_id AND r.handling_round = w.handling_round
              AND r.unit_id = w.unit_id AND r.state IN (2, 3)
           ),
           replies AS (
             SELECT unit_id,
                    -- A reply is due once submitted, or once its day passed unanswered.
                    count(*) FILTER (WHERE state IS NOT NULL OR reply_due < $4) AS due,
                    count(*) FILTER (WHERE state IS NOT NULL) AS replies,
                    count(*) FILTER (WHERE on_time) AS on_time,
                    count(*) FILTER (WHERE contacted) AS contacted,
                    count(*) FILTER (WHERE state = 3) AS approved,
                    count(*) FILTER (WHERE state = 3 AND category = ANY($3)) AS favourable
             FROM answered GROUP BY unit_id
           ),
           -- Ratings of every round the unit answered, earlier rounds too.
           ratings AS (
             SELECT w.unit_id, count(*) AS ratings,
                    count(*) FILTER (WHERE g.satisfaction = 1) AS satisfied,
                    count(*) FILTER (WHERE g.satisfaction = 2) AS basically
             FROM (SELECT DISTINCT a.unit_id, a.proposal_id, a.handling_round FROM proposals.assignment a
                   WHERE a.proposal_id IN (SELECT id FROM year_proposals) AND a.part IN (1, 3)) w
             JOIN proposals.rating g ON g.proposal_id = w.proposal_id AND g.handling_round = w.handling_round
             GROUP BY w.unit_id
           ),
           looks AS (
             SELECT w.unit_id, count(*) AS look_backs,
                    count(*) FILTER (WHERE f.finding = 1) AS kept,
                    count(*) FILTER (WHERE f.finding = 2) AS partly
             FROM (SELECT DISTINCT unit_id, proposal_id FROM answering) w
             JOIN proposals.follow_up f ON f.proposal_id = w.proposal_id AND f.kind = 3
             GROUP BY w.unit_id
           ),
           evaluations AS (
             SELECT unit_id, count(*) AS n, avg(score)::float8 AS mean
             FROM proposals.unit_evaluation WHERE committee_id = $1 AND year = $2 GROUP BY unit_id
           ),
           units AS (
             SELECT unit_id FROM handled UNION SELECT unit_id FROM evaluations
             UNION SELECT unit_id FROM proposals.unit_score WHERE committee_id = $1 AND year = $2
           )
           SELECT u.unit_id AS "unit_id!",
                  coalesce(h.proposals, 0) AS "proposals!",
                  coalesce(r.due, 0) AS "due!",
                  coalesce(r.replies, 0) AS "replies!", coalesce(r.on_time, 0) AS "on_time!",
                  coalesce(r.contacted, 0) AS "contacted!", coalesce(r.approved, 0) AS "approved!",
                  coalesce(r.favourable, 0) AS "favourable!",
                  coalesce(g.ratings, 0) AS "ratings!", coalesce(g.satisfied, 0) AS "satisfied!",
                  coalesce(g.basically, 0) AS "basically!",
                  coalesce(l.look_backs, 0) AS "look_backs!", coalesce(l.kept, 0) AS "kept!",
                  coalesce(l.partly, 0) AS "partly!",
                  coalesce(e.n, 0) AS "evaluations!", coalesce(e.mean, 0) AS "evaluation_mean!"
           FROM units u
           LEFT JOIN handled h ON h.unit_id = u.unit_id
           LEFT JOIN replies r ON r.unit_id = u.unit_id
           LEFT JOIN ratings g ON g.unit_id = u.unit_id
           LEFT JOIN looks l ON l.unit_id = u.unit_id
           LEFT JOIN evaluations e ON e.unit_id = u.unit_id"#,
        committee,
        year,
        favourable,
        today
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: BTreeMap<Uuid, (Facts, i64)> = rows
        .into_iter()
        .map(|r| {
            (
                r.unit_id,
                (
                    Facts {
                        due: r.due,
                        replies: r.replies,
                        on_time: r.on_time,
                        contacted: r.contacted,
                        approved: r.approved,
                        favourable: r.favourable,
                        ratings: r.ratings,
                        satisfied: r.satisfied,
                        basically: r.basically,
                        look_backs: r.look_backs,
                        kept: r.kept,
                        partly_kept: r.partly,
                        evaluations: r.evaluations,
                        evaluation_mean: r.evaluation_mean,
                        entered: BTreeMap::new(),
                    },
                    r.proposals,
                ),
            )
        })
        .collect();
    let scores = sqlx::query!(
        r#"SELECT unit_id, code, score::float8 AS "score!" FROM proposals.unit_score
           WHERE committee_id = $1 AND year = $2"#,
        committee,
        year
    )
    .fetch_all(conn)
    .await?;
    for s in scores {
        if let Some((facts, _)) = out.get_mut(&s.unit_id) {
            facts.entered.insert(s.code, s.score);
        }
    }
    Ok(out)
}

/// A committee's figures over the proposals of some sessions.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub submitted: i64,
    pub filed: i64,
    pub by_state: Vec<(i16, i64)>,
    pub by_category: Vec<(i16, i64)>,
    pub by_kind: Vec<(i16, i64)>,
    pub by_unit: Vec<(String, i64)>,
    pub by_result: Vec<(String, i64)>,
    pub approved: i64,
    pub on_time: i64,
    pub contacted: i64,
    pub favourable: i64,
    pub ratings: i64,
    pub satisfied: i64,
    pub key: i64,
    pub key_closed: i64,
    pub look_backs: i64,
    pub instructions: i64,
    pub excellent: i64,
    pub proposers: i64,
}

/// The figures over the proposals of the sessions with `sessions`, and
/// the excellent proposals of `years`.
pub async fn figures(
    conn: &mut Conn,
    committee: &str,
    sessions: &[Uuid],
    years: &[i16],
    favourable: &[String],
) -> Result<Figures> {
    let counts = sqlx::query!(
        r#"SELECT 'state' AS "what!", state AS "n!", count(*) AS "count!" FROM proposals.proposal
             WHERE committee_id = $1 AND session_id = ANY($2) AND state NOT IN (1, 10) GROUP BY state
           UNION ALL
           SELECT 'category', category, count(*) FROM proposals.proposal
             WHERE committee_id = $1 AND session_id = ANY($2) AND state NOT IN (1, 10) GROUP BY category
           UNION ALL
           SELECT 'kind', kind, count(*) FROM proposals.proposal
             WHERE committee_id = $1 AND session_id = ANY($2) AND state NOT IN (1, 10) GROUP BY kind
           ORDER BY 1, 2"#,
        committee,
        sessions
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut f = Figures::default();
    for c in counts {
        let entry = (c.n, c.count);
        match c.what.as_str() {
            "state" => f.by_state.push(entry),
            "category" => f.by_category.push(entry),
            _ => f.by_kind.push(entry),
        }
    }
    f.submitted = f.by_state.iter().map(|(_, n)| n).sum();
    f.filed = f
        .by_state
        .iter()
        .filter(|(s, _)| matches!(s, 3 | 6 | 7 | 8 | 9))
        .map(|(_, n)| n)
        .sum();
    let units = sqlx::query!(
        r#"SELECT u.display_name AS "name!", count(DISTINCT a.proposal_id) AS "count!"
           FROM proposals.assignment a JOIN proposals.unit u ON u.id = a.unit_id
           JOIN proposals.proposal p ON p.id = a.proposal_id
           WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND a.active
           GROUP BY u.display_name ORDER BY 2 DESC, u.display_name COLLATE proposals.zh_pinyin"#,
        committee,
        sessions
    )
    .fetch_all(&mut *conn)
    .await?;
    f.by_unit = units.into_iter().map(|u| (u.name, u.count)).collect();
    let replies = sqlx::query!(
        r#"SELECT coalesce(r.reviewed_category, r.result_category) AS "category!", count(*) AS "count!",
                  count(*) FILTER (WHERE r.on_time) AS "on_time!",
                  count(*) FILTER (WHERE r.contacted) AS "contacted!"
           FROM proposals.reply r JOIN proposals.proposal p ON p.id = r.proposal_id
           WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND r.state = 3
             AND r.handling_round = p.handling_round
           GROUP BY 1 ORDER BY 1"#,
        committee,
        sessions
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in replies {
        f.approved += r.count;
        f.on_time += r.on_time;
        f.contacted += r.contacted;
        if favourable.contains(&r.category) {
            f.favourable += r.count;
        }
        f.by_result.push((r.category, r.count));
    }
    let rest = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM proposals.rating g JOIN proposals.proposal p ON p.id = g.proposal_id
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND g.handling_round = p.handling_round) AS "ratings!",
             (SELECT count(*) FROM proposals.rating g JOIN proposals.proposal p ON p.id = g.proposal_id
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND g.handling_round = p.handling_round
                 AND g.satisfaction IN (1, 2)) AS "satisfied!",
             (SELECT count(*) FROM proposals.proposal p
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND p.key) AS "key!",
             (SELECT count(*) FROM proposals.proposal p
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND p.key AND p.state = 9) AS "key_closed!",
             (SELECT count(*) FROM proposals.follow_up f JOIN proposals.proposal p ON p.id = f.proposal_id
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND f.kind = 3) AS "look_backs!",
             (SELECT count(*) FROM proposals.follow_up f JOIN proposals.proposal p ON p.id = f.proposal_id
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND f.kind = 2) AS "instructions!",
             (SELECT count(*) FROM proposals.excellent e
               WHERE e.committee_id = $1 AND e.year = ANY($3) AND e.state = 3) AS "excellent!",
             (SELECT count(DISTINCT r.member_id) FROM proposals.proposer r JOIN proposals.proposal p ON p.id = r.proposal_id
               WHERE p.committee_id = $1 AND p.session_id = ANY($2) AND p.state NOT IN (1, 10)) AS "proposers!""#,
        committee,
        sessions,
        years
    )
    .fetch_one(conn)
    .await?;
    f.ratings = rest.ratings;
    f.satisfied = rest.satisfied;
    f.key = rest.key;
    f.key_closed = rest.key_closed;
    f.look_backs = rest.look_backs;
    f.instructions = rest.instructions;
    f.excellent = rest.excellent;
    f.proposers = rest.proposers;
    Ok(f)
}

/// Overdue replies: units handling a proposal with no reply submitted
/// after its day; and replied proposals not rated by every proposer after
/// `rating_days`.
pub struct OverdueRow {
    pub proposal_id: Uuid,
    pub title: String,
    pub serial: Option<i32>,
    pub kind: i16,
    pub unit_id: Option<Uuid>,
    pub unit_name: Option<String>,
    pub due: time::Date,
    pub members: Vec<Uuid>,
}

pub async fn overdue(
    conn: &mut Conn,
    committee: &str,
    unit: Option<Uuid>,
    as_of: time::Date,
    rating_days: i32,
) -> Result<Vec<OverdueRow>> {
    sqlx::query_as!(
        OverdueRow,
        r#"SELECT p.id AS "proposal_id!", p.title AS "title!", p.serial, 1::smallint AS "kind!",
                  a.unit_id AS "unit_id?", u.display_name AS "unit_name?", p.reply_due AS "due!",
                  ARRAY[]::uuid[] AS "members!"
           FROM proposals.proposal p
           JOIN proposals.assignment a ON a.proposal_id = p.id AND a.handling_round = p.handling_round AND a.active
           JOIN proposals.unit u ON u.id = a.unit_id
           WHERE p.committee_id = $1 AND p.state = 6 AND p.reply_due < $3 AND a.part IN (1, 3)
             AND ($2::uuid IS NULL OR a.unit_id = $2)
             AND NOT EXISTS (SELECT 1 FROM proposals.reply r WHERE r.proposal_id = p.id
                   AND r.handling_round = p.handling_round AND r.unit_id = a.unit_id AND r.state IN (2, 3))
           UNION ALL
           SELECT p.id, p.title, p.serial, 2::smallint, NULL, NULL,
                  ((p.replied_time AT TIME ZONE 'Asia/Shanghai')::date + $4::int),
                  ARRAY(SELECT r.member_id FROM proposals.proposer r WHERE r.proposal_id = p.id
                        AND NOT EXISTS (SELECT 1 FROM proposals.rating g WHERE g.proposal_id = p.id
                              AND g.handling_round = p.handling_round AND g.member_id = r.member_id)
                        ORDER BY r.position)
           FROM proposals.proposal p
           WHERE p.committee_id = $1 AND p.state = 7 AND $2::uuid IS NULL
             AND (p.replied_time AT TIME ZONE 'Asia/Shanghai')::date + $4::int < $3
           ORDER BY 6 NULLS LAST, 7, 3"#,
        committee,
        unit,
        as_of,
        rating_days
    )
    .fetch_all(conn)
    .await
}
