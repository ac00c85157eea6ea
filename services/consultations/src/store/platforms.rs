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
    pub allotted_fen: i64,
    pub spent_fen: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

pub async fn insert(conn: &mut Conn, p: &PlatformRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.platform (id, committee_id, display_name, level, township, convener, venue,
                has_sign, content, has_archives, allotted_fen, spent_fen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        p.id,
        p.committee_id,
        p.display_name,
        p.level,
        p.township,
        p.convener,
        p.venue,
        p.has_sign,
        p.content,
        p.has_archives,
        p.allotted_fen,
        p.spent_fen
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, p: &PlatformRow) -> Result<()> {
    sqlx::query!(
        "UPDATE consultations.platform SET display_name = $2, level = $3, township = $4, convener = $5, venue = $6,
                has_sign = $7, content = $8, has_archives = $9, allotted_fen = $10, spent_fen = $11,
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
        p.has_archives,
        p.allotted_fen,
        p.spent_fen
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
                allotted_fen, spent_fen, create_time, update_time, revision
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
    let rows = sqlx::query_as!(
        PlatformRow,
        r#"SELECT id, committee_id, display_name, level, township, convener, venue, has_sign, content, has_archives,
                allotted_fen, spent_fen, create_time, update_time, revision
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
