//! Keeping the kit's tables to size: audit rows past their retention (never
//! less than the 184 days the law asks), events older than consumers may
//! lag, request ids older than any retry.

use std::time::Duration;

use sqlx::AssertSqlSafe;
use tokio::sync::watch;

use crate::audit;
use crate::db::Database;
use crate::error::{ServiceError, classify_db_error};

/// How long each kind of row is kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Audit rows; at least 184 days whatever is asked.
    pub audit: Duration,
    /// Published events. A consumer that falls further behind than this
    /// misses events, so keep it well above any outage.
    pub outbox: Duration,
    /// Request ids of creates: how long a retry still finds the first call.
    pub request_ids: Duration,
}

/// What one round removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub audit: u64,
    pub outbox: u64,
    pub request_ids: u64,
}

/// Removes what is past its retention. Each kind is purged on its own: a
/// failure with one does not keep the others.
pub async fn purge(db: &Database, retention: &Retention) -> Result<Purged, ServiceError> {
    let audit = audit::purge(db, retention.audit).await;
    let outbox = purge_outbox(db, retention.outbox).await;
    let request_ids = sqlx::query(AssertSqlSafe(db.schema().sql(
        "DELETE FROM {schema}.request_ids WHERE create_time < now() - make_interval(secs => $1)",
    )))
    .bind(retention.request_ids.as_secs_f64())
    .execute(db.pool())
    .await
    .map(|done| done.rows_affected())
    .map_err(classify_db_error);
    Ok(Purged {
        audit: audit?,
        outbox: outbox?,
        request_ids: request_ids?,
    })
}

/// Deletes the oldest events, a prefix of the stream (up to the last event
/// older than `retention`), and records where the stream now starts.
async fn purge_outbox(db: &Database, retention: Duration) -> Result<u64, ServiceError> {
    let deleted: i64 = sqlx::query_scalar(AssertSqlSafe(db.schema().sql(
        "WITH upto AS ( \
           SELECT max(seq) AS seq FROM {schema}.outbox \
           WHERE event_time < now() - make_interval(secs => $1) \
         ), gone AS ( \
           DELETE FROM {schema}.outbox WHERE seq <= (SELECT seq FROM upto) RETURNING seq \
         ), mark AS ( \
           INSERT INTO {schema}.outbox_horizon (purged_through) \
           SELECT seq FROM upto WHERE seq IS NOT NULL \
           ON CONFLICT (only_row) DO UPDATE \
             SET purged_through = GREATEST({schema}.outbox_horizon.purged_through, excluded.purged_through) \
         ) \
         SELECT count(*) FROM gone",
    )))
    .bind(retention.as_secs_f64())
    .fetch_one(db.pool())
    .await
    .map_err(classify_db_error)?;
    Ok(deleted as u64)
}

/// Purges a minute after start and every hour after, until `stop`.
pub async fn run(db: Database, retention: Retention, mut stop: watch::Receiver<bool>) {
    let mut next = tokio::time::sleep(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = next => {}
            _ = crate::server::stopped(&mut stop) => return,
        }
        // Each kind is purged even when another fails; the first failure is logged.
        match purge(&db, &retention).await {
            Ok(p) if p != Purged::default() => tracing::info!(
                audit = p.audit,
                outbox = p.outbox,
                request_ids = p.request_ids,
                "purged rows past their retention"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging old rows failed; will retry"),
        }
        next = tokio::time::sleep(Duration::from_secs(3600));
    }
}
