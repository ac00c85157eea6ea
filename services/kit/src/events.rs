//! The event stream: `cppcc.events.v1.EventStreamService/Watch` over the
//! service's outbox.
//!
//! Events are read in (transaction id, sequence) order, and only once every
//! transaction that could still commit an earlier one has ended, so a
//! consumer resuming after a cursor never misses an event. Delivery is at
//! least once; consumers apply each event id once.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use sqlx::{AssertSqlSafe, FromRow};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::auth::Actor;
use crate::convert::timestamp;
use crate::db::Database;
use crate::error::{ServiceError, classify_db_error};
use crate::names;
use cppcc_proto::events::v1 as pb;

/// Events read per query.
const BATCH: i64 = 500;
/// How often a waiting stream looks for events committed by other processes.
const POLL: Duration = Duration::from_millis(200);
/// How often an idle stream sends its cursor, so the consumer (and any
/// proxy between) knows the stream is alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// A position in the outbox: the `seq` of the last event seen, `0` before
/// the first.
fn parse_cursor(text: &str) -> Option<i64> {
    if text.is_empty() {
        return Some(0);
    }
    text.parse().ok().filter(|n: &i64| *n >= 0)
}

#[derive(FromRow)]
struct OutboxRow {
    seq: i64,
    id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    committee: String,
    subject: String,
    actor: String,
    event_time: OffsetDateTime,
    payload: Vec<u8>,
}

impl OutboxRow {
    fn into_event(self) -> pb::Event {
        pb::Event {
            cursor: self.seq.to_string(),
            id: self.id.to_string(),
            committee: names::committee_name(&self.committee),
            subject: self.subject,
            time: Some(timestamp(self.event_time)),
            actor: self.actor,
            payload: Some(prost_types::Any {
                type_url: format!("type.googleapis.com/{}", self.kind),
                value: self.payload,
            }),
            r#type: self.kind,
        }
    }
}

/// Reads up to `limit` events after `after` that no event still in flight
/// can come before.
async fn read(db: &Database, after: i64, limit: i64) -> Result<Vec<OutboxRow>, ServiceError> {
    let mut conn = db.pool().acquire().await.map_err(classify_db_error)?;
    // In this order, each its own statement: the last seq taken, then the
    // lowest mark of a writer still in flight (every seq at or below it is
    // committed or abandoned), then the rows with a snapshot taken after.
    let taken: i64 = sqlx::query_scalar(AssertSqlSafe(db.sql.outbox_taken.as_str()))
        .fetch_one(&mut *conn)
        .await
        .map_err(classify_db_error)?;
    let in_flight: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(db.sql.outbox_in_flight.as_str()))
            .fetch_one(&mut *conn)
            .await
            .map_err(classify_db_error)?;
    let upto = in_flight.map_or(taken, |mark| mark.min(taken));
    if upto <= after {
        return Ok(Vec::new());
    }
    sqlx::query_as(AssertSqlSafe(db.sql.outbox_read.as_str()))
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(classify_db_error)
}

/// The last event removed by retention, 0 if none.
async fn purged_through(db: &Database) -> Result<i64, ServiceError> {
    let purged: Option<i64> = sqlx::query_scalar(AssertSqlSafe(db.sql.outbox_purged.as_str()))
        .fetch_optional(db.pool())
        .await
        .map_err(classify_db_error)?;
    Ok(purged.unwrap_or(0))
}

/// The `cppcc.events.v1.EventStreamService` of a service.
#[derive(Clone, Debug)]
pub struct EventStreamApi {
    db: Database,
    stop: watch::Receiver<bool>,
}

impl EventStreamApi {
    /// Streams `db`'s outbox; open streams end when `stop` turns true.
    pub fn new(db: Database, stop: watch::Receiver<bool>) -> Self {
        EventStreamApi { db, stop }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl pb::event_stream_service_server::EventStreamService for EventStreamApi {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: tonic::Request<pb::WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        let actor = crate::auth::actor(&request)?;
        let req = request.into_inner();
        let after = parse_cursor(&req.after_cursor).ok_or_else(|| {
            ServiceError::invalid(
                "after_cursor",
                format!("`{}` is not a cursor this service issued", req.after_cursor),
            )
        })?;
        let purged = purged_through(&self.db).await?;
        if after > 0 && after < purged {
            return Err(ServiceError::failed_precondition(
                "CURSOR_EXPIRED",
                "after_cursor",
                format!(
                    "events after cursor {after} are gone (kept only for the outbox retention, up to {purged}); \
                     read the current state again, then watch from an empty cursor"
                ),
            )
            .into());
        }
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(follow(
            self.db.clone(),
            actor,
            req.types,
            after,
            tx,
            self.stop.clone(),
        ));
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// How a stream ends early.
fn closing(stop: &watch::Receiver<bool>) -> tonic::Status {
    if *stop.borrow() {
        tonic::Status::unavailable("the server is shutting down; resume from the last cursor")
    } else {
        tonic::Status::unauthenticated(
            "the token has expired; resume from the last cursor with a fresh one",
        )
    }
}

/// Sends events to one watcher until it goes away, its token expires or the
/// server stops.
async fn follow(
    db: Database,
    actor: Actor,
    types: Vec<String>,
    mut after: i64,
    tx: mpsc::Sender<Result<pb::WatchResponse, tonic::Status>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_sent = tokio::time::Instant::now();
    let expired = async {
        let left = actor.expires_at.saturating_sub(crate::auth::now());
        tokio::time::sleep(Duration::from_secs(left)).await;
    };
    tokio::pin!(expired);
    loop {
        // Register for wake-ups before reading, so a commit between the read
        // and the wait is not missed.
        let written = db.events_written.notified();
        let rows = match read(&db, after, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.send(Err(e.into())).await;
                return;
            }
        };
        let full = rows.len() as i64 == BATCH;
        let mut batch = None;
        if let Some(last) = rows.last() {
            after = last.seq;
            let events: Vec<pb::Event> = rows
                .into_iter()
                .filter(|r| actor.in_committee(&r.committee))
                .filter(|r| types.is_empty() || types.contains(&r.kind))
                .map(OutboxRow::into_event)
                .collect();
            if !events.is_empty() || last_sent.elapsed() >= HEARTBEAT {
                batch = Some(events);
            }
        } else if last_sent.elapsed() >= HEARTBEAT {
            batch = Some(Vec::new());
        }
        if let Some(events) = batch {
            let response = pb::WatchResponse {
                events,
                cursor: after.to_string(),
            };
            tokio::select! {
                sent = tx.send(Ok(response)) => if sent.is_err() { return },
                _ = crate::server::stopped(&mut stop) => break,
                _ = &mut expired => break,
            }
            last_sent = tokio::time::Instant::now();
        }
        if full {
            continue;
        }
        tokio::select! {
            _ = written => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tx.closed() => return,
            _ = crate::server::stopped(&mut stop) => break,
            _ = &mut expired => break,
        }
    }
    let _ = tx.try_send(Err(closing(&stop)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(""), Some(0));
        assert_eq!(parse_cursor("42"), Some(42));
        assert_eq!(parse_cursor("-1"), None);
        assert_eq!(parse_cursor("x"), None);
    }
}
