//! Evaluation rules by year, the members a year's evaluation covers, and
//! the counts the statistics are made of.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A year's rules as stored.
#[derive(Clone, Debug)]
pub struct RulesRow {
    pub year: i32,
    pub rules: serde_json::Value,
    pub revision: i64,
    pub update_time: OffsetDateTime,
}

/// The rules that apply to `year`: its own, or the latest earlier ones.
pub async fn rules_for(
    conn: &mut PgConnection,
    committee: &str,
    year: i32,
) -> Result<Option<RulesRow>, sqlx::Error> {
    sqlx::query_as!(
        RulesRow,
        "SELECT year, rules, revision, update_time FROM members.evaluation_rules
         WHERE committee_id = $1 AND year <= $2 ORDER BY year DESC LIMIT 1",
        committee,
        year,
    )
    .fetch_optional(conn)
    .await
}

/// Locks the rules set for exactly `year`; their revision.
pub async fn lock_rules(
    conn: &mut PgConnection,
    committee: &str,
    year: i32,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.evaluation_rules WHERE committee_id = $1 AND year = $2 FOR UPDATE",
        committee,
        year,
    )
    .fetch_optional(conn)
    .await
}

/// Sets a year's rules.
pub async fn set_rules(
    conn: &mut PgConnection,
    committee: &str,
    year: i32,
    rules: &serde_json::Value,
) -> Result<RulesRow, sqlx::Error> {
    sqlx::query_as!(
        RulesRow,
        "INSERT INTO members.evaluation_rules (committee_id, year, rules) VALUES ($1, $2, $3)
         ON CONFLICT (committee_id, year) DO UPDATE
             SET rules = excluded.rules, revision = evaluation_rules.revision + 1, update_time = now()
         RETURNING year, rules, revision, update_time",
        committee,
        year,
        rules,
    )
    .fetch_one(conn)
    .await
}

/// A member a year's evaluation covers.
#[derive(Clone, Debug)]
pub struct EvaluatedRow {
    pub id: Uuid,
    pub display_name: String,
    pub sector_id: Uuid,
    pub role: i16,
    pub status: i16,
    pub city_member: bool,
}

/// The members in office at some time between two days: joined by the
/// end (or with no join date), and in office now or left on or after the
/// start; recorded by `as_of`. In order of surname strokes.
pub async fn evaluated_members(
    conn: &mut PgConnection,
    committee: &str,
    from: Date,
    to: Date,
    as_of: OffsetDateTime,
) -> Result<Vec<EvaluatedRow>, sqlx::Error> {
    sqlx::query_as!(
        EvaluatedRow,
        "SELECT m.id, m.display_name, m.sector_id, m.role, m.status, m.city_member FROM members.member m
         WHERE m.committee_id = $1 AND m.create_time <= $4
           AND (m.join_date IS NULL OR m.join_date <= $3)
           AND (m.status IN (1, 2)
                OR NOT EXISTS (SELECT 1 FROM members.member_status_change c
                               WHERE c.member_id = m.id AND c.to_status IN (3, 4) AND c.effective_date < $2))
         ORDER BY m.display_name COLLATE members.zh_stroke, m.id",
        committee,
        from,
        to,
        as_of,
    )
    .fetch_all(conn)
    .await
}

/// A committee's sectors in their order (as ListSectors gives them).
pub async fn sectors(
    conn: &mut PgConnection,
    committee: &str,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, display_name FROM members.sector WHERE committee_id = $1 AND delete_time IS NULL
         ORDER BY sort_order, id",
        committee,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.display_name)).collect())
}

/// How many special committees a committee has.
pub async fn special_committee_count(
    conn: &mut PgConnection,
    committee: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM members.special_committee WHERE committee_id = $1 AND delete_time IS NULL"#,
        committee,
    )
    .fetch_one(conn)
    .await
}

/// How many liaison stations a committee has, and how many active
/// informants report through them.
pub async fn liaison_network_counts(
    conn: &mut PgConnection,
    committee: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM members.liaison_station
               WHERE committee_id = $1 AND delete_time IS NULL) AS "stations!",
             (SELECT count(*) FROM members.informant i
               JOIN members.liaison_station s ON s.id = i.liaison_station_id AND s.delete_time IS NULL
               WHERE i.committee_id = $1 AND i.delete_time IS NULL AND i.active) AS "informants!""#,
        committee,
    )
    .fetch_one(conn)
    .await?;
    Ok((row.stations, row.informants))
}

/// Standing entries of a kind between two days, and the members they are of.
#[derive(Clone, Debug)]
pub struct KindTotalRow {
    pub kind: i16,
    pub entries: i64,
    pub members: i64,
}

pub async fn kind_totals(
    conn: &mut PgConnection,
    committee: &str,
    from: Date,
    to: Date,
) -> Result<Vec<KindTotalRow>, sqlx::Error> {
    sqlx::query_as!(
        KindTotalRow,
        r#"SELECT d.kind, count(*) AS "entries!", count(DISTINCT d.member_id) AS "members!"
           FROM members.duty_record d
           WHERE d.committee_id = $1 AND d.occurred_on BETWEEN $2 AND $3 AND d.reverses IS NULL
             AND NOT EXISTS (SELECT 1 FROM members.duty_record r WHERE r.reverses = d.id AND r.reverses IS NOT NULL)
           GROUP BY d.kind ORDER BY d.kind"#,
        committee,
        from,
        to,
    )
    .fetch_all(conn)
    .await
}
