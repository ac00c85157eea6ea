//! Platforms.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Conn, Result};

#[derive(Clone, Debug)]
pub struct PlatformRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub level: i16,
    pub township: String,
    pub convener: String,
    pub venue: String,
    pub has_sign: bool,
    pub content: String,
    pub has_archives: bool,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

pub async fn insert(conn: &mut Conn, p: &PlatformRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.platform (id, committee_id, display_name, level, township, convener, venue,
                has_sign, content, has_archives)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        p.id,
        p.committee_id,
        p.display_name,
        p.level,
        p.township,
        p.convener,
        p.venue,
        p.has_sign,
        p.content,
        p.has_archives
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, p: &PlatformRow) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.platform SET display_name = $2, level = $3, township = $4, convener = $5, venue = $6,
                has_sign = $7, content = $8, has_archives = $9,
                update_time = now(), revision = revision + 1
         WHERE id = $1",
        p.id,
        p.display_name,
        p.level,
        p.township,
        p.convener,
        p.venue,
        p.has_sign,
        p.content,
        p.has_archives
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One platform, locked if `lock`.
pub async fn get(
    conn: &mut Conn,
    committee: &str,
    id: Uuid,
    lock: bool,
) -> Result<Option<PlatformRow>> {
    if lock {
        sqlx::query!(
            "SELECT id FROM consultations.platform WHERE committee_id = $1 AND id = $2 FOR UPDATE",
            committee,
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        PlatformRow,
        "SELECT id, committee_id, display_name, level, township, convener, venue, has_sign, content, has_archives,
                create_time, update_time, revision
         FROM consultations.platform WHERE committee_id = $1 AND id = $2",
        committee,
        id
    )
    .fetch_optional(conn)
    .await
}

/// A page of a committee's platforms (of `level`, 0 for all) after the
/// (level, name, id) `after`; and how many match, and how many comply.
pub async fn list(
    conn: &mut Conn,
    committee: &str,
    level: i16,
    after: Option<(i16, String, Uuid)>,
    limit: i64,
) -> Result<(Vec<PlatformRow>, i64, i64)> {
    let (a_level, a_name, a_id) = match after {
        Some((l, n, i)) => (Some(l), Some(n), Some(i)),
        None => (None, None, None),
    };
    // The order is `PLATFORM_PAGES` (grpc/platforms.rs).
    let rows = sqlx::query_as!(
        PlatformRow,
        r#"SELECT id, committee_id, display_name, level, township, convener, venue, has_sign, content, has_archives,
                create_time, update_time, revision
         FROM consultations.platform
         WHERE committee_id = $1 AND ($2::smallint = 0 OR level = $2)
           AND ($3::smallint IS NULL OR (level, display_name, id) > ($3, $4::text, $5::uuid))
         ORDER BY level, display_name, id LIMIT $6"#,
        committee,
        level,
        a_level,
        a_name,
        a_id,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let counts = sqlx::query!(
        r#"SELECT count(*) AS "total!",
                  count(*) FILTER (WHERE btrim(convener) <> '' AND btrim(venue) <> '' AND has_sign
                                   AND btrim(content) <> '' AND has_archives) AS "compliant!"
           FROM consultations.platform WHERE committee_id = $1 AND ($2::smallint = 0 OR level = $2)"#,
        committee,
        level
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, counts.total, counts.compliant))
}

/// A year's platform budget, with what its platforms were allotted and spent.
#[derive(Clone, Debug)]
pub struct BudgetRow {
    pub amount_fen: Option<i64>,
    pub update_time: Option<OffsetDateTime>,
    pub allotted_fen: i64,
    pub spent_fen: i64,
    pub funded: i64,
}

/// Serialises changes to a committee's budget and allotments of `year`.
pub async fn lock_budget(conn: &mut Conn, committee: &str, year: i16) -> Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('consultations.platform_budget:' || $1 || ':' || $2::smallint::text))",
        committee,
        year
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The budget of `year` (its amount `None` until set) and the allotments
/// and spending of the committee's platforms that year, but for `except`.
pub async fn budget(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    except: Option<Uuid>,
) -> Result<BudgetRow> {
    sqlx::query_as!(
        BudgetRow,
        r#"SELECT (SELECT amount_fen FROM consultations.platform_budget WHERE committee_id = $1 AND year = $2) AS amount_fen,
                  (SELECT update_time FROM consultations.platform_budget WHERE committee_id = $1 AND year = $2) AS update_time,
                  coalesce(sum(f.allotted_fen), 0)::bigint AS "allotted_fen!",
                  coalesce(sum(f.spent_fen), 0)::bigint AS "spent_fen!",
                  count(f.platform_id) FILTER (WHERE f.allotted_fen > 0) AS "funded!"
           FROM consultations.platform_fund f JOIN consultations.platform p ON p.id = f.platform_id
           WHERE p.committee_id = $1 AND f.year = $2 AND ($3::uuid IS NULL OR f.platform_id <> $3)"#,
        committee,
        year,
        except
    )
    .fetch_one(conn)
    .await
}

pub async fn set_budget(
    conn: &mut Conn,
    committee: &str,
    year: i16,
    amount_fen: i64,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.platform_budget (committee_id, year, amount_fen) VALUES ($1, $2, $3)
         ON CONFLICT (committee_id, year) DO UPDATE SET amount_fen = excluded.amount_fen, update_time = now()",
        committee,
        year,
        amount_fen
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A platform's funds in a year.
#[derive(Clone, Debug)]
pub struct FundRow {
    pub allotted_fen: i64,
    pub spent_fen: i64,
    pub update_time: OffsetDateTime,
}

pub async fn fund(conn: &mut Conn, platform: Uuid, year: i16) -> Result<Option<FundRow>> {
    sqlx::query_as!(
        FundRow,
        "SELECT allotted_fen, spent_fen, update_time FROM consultations.platform_fund
         WHERE platform_id = $1 AND year = $2",
        platform,
        year
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_fund(
    conn: &mut Conn,
    platform: Uuid,
    year: i16,
    allotted_fen: i64,
    spent_fen: i64,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.platform_fund (platform_id, year, allotted_fen, spent_fen) VALUES ($1, $2, $3, $4)
         ON CONFLICT (platform_id, year) DO UPDATE
           SET allotted_fen = excluded.allotted_fen, spent_fen = excluded.spent_fen, update_time = now()",
        platform,
        year,
        allotted_fen,
        spent_fen
    )
    .execute(conn)
    .await?;
    Ok(())
}
