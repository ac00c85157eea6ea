//! The outbox of calls owed to other deployments.

use uuid::Uuid;

use super::{Conn, Result};

/// A call owed.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub kind: String,
    pub sender: String,
    pub target: String,
    pub forward_id: Uuid,
    pub payload: Vec<u8>,
    pub attempts: i32,
}

pub async fn enqueue(
    conn: &mut Conn,
    kind: &str,
    sender: &str,
    target: &str,
    forward_id: Uuid,
    payload: &[u8],
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO opinions.delivery (kind, sender, target, forward_id, payload) VALUES ($1, $2, $3, $4, $5)",
        kind,
        sender,
        target,
        forward_id,
        payload
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Up to `limit` calls due now, locked (others skip them).
pub async fn due(conn: &mut Conn, limit: i64) -> Result<Vec<DeliveryRow>> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT id, kind, sender, target, forward_id, payload, attempts FROM opinions.delivery
         WHERE delivered_time IS NULL AND next_attempt <= now()
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn delivered(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.delivery SET delivered_time = now(), attempts = attempts + 1 WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt; the next after `retry_ms`.
pub async fn failed(conn: &mut Conn, id: i64, error: &str, retry_ms: i64) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.delivery SET attempts = attempts + 1, last_error = $2,
                next_attempt = now() + make_interval(secs => $3::bigint / 1000.0)
         WHERE id = $1",
        id,
        error,
        retry_ms
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The first due time of an undelivered call, in milliseconds from now
/// (0 when one is due), if any is owed.
pub async fn next_due_ms(conn: &mut Conn) -> Result<Option<i64>> {
    sqlx::query_scalar!(
        r#"SELECT GREATEST(0, (extract(epoch FROM min(next_attempt) - now()) * 1000)::bigint) AS "ms"
         FROM opinions.delivery WHERE delivered_time IS NULL"#
    )
    .fetch_one(conn)
    .await
}
