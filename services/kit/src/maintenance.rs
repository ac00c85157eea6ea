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

/// Removes what is past its retention.
pub async fn purge(db: &Database, retention: &Retention) -> Result<Purged, ServiceError> {
    let audit = audit::purge(db, retention.audit).await?;
    let delete_older = |table: &str, column: &str| {
        db.schema().sql(&format!(
            "DELETE FROM {{schema}}.{table} WHERE {column} < now() - make_interval(secs => $1)"
        ))
    };
    let outbox = sqlx::query(AssertSqlSafe(delete_older("outbox", "event_time")))
        .bind(retention.outbox.as_secs_f64())
        .execute(db.pool())
        .await
        .map_err(classify_db_error)?
        .rows_affected();
    let request_ids = sqlx::query(AssertSqlSafe(delete_older("request_ids", "create_time")))
        .bind(retention.request_ids.as_secs_f64())
        .execute(db.pool())
        .await
        .map_err(classify_db_error)?
        .rows_affected();
    Ok(Purged {
        audit,
        outbox,
        request_ids,
    })
}

/// Purges a minute after start and every hour after, until `stop`.
pub async fn run(db: Database, retention: Retention, mut stop: watch::Receiver<bool>) {
    let mut next = tokio::time::sleep(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = next => {}
            _ = crate::server::stopped(&mut stop) => return,
        }
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
