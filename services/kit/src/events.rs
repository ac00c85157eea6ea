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

use crate::auth::{Actor, Role};
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

/// A position in the outbox: (transaction id, sequence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    xid: u64,
    seq: i64,
}

impl Cursor {
    /// Parses a cursor; the empty cursor is the start.
    pub fn parse(text: &str) -> Option<Cursor> {
        if text.is_empty() {
            return Some(Cursor::default());
        }
        let (xid, seq) = text.split_once('-')?;
        Some(Cursor {
            xid: xid.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.xid, self.seq)
    }
}

#[derive(FromRow)]
struct OutboxRow {
    xid: String,
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
    fn cursor(&self) -> Cursor {
        Cursor {
            xid: self.xid.parse().unwrap_or_default(),
            seq: self.seq,
        }
    }

    fn into_event(self) -> pb::Event {
        let cursor = self.cursor().to_string();
        pb::Event {
            cursor,
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

/// Reads up to `limit` deliverable events after `after`.
async fn read(db: &Database, after: Cursor, limit: i64) -> Result<Vec<OutboxRow>, ServiceError> {
    sqlx::query_as(AssertSqlSafe(db.sql.outbox_read.as_str()))
        .bind(after.xid.to_string())
        .bind(after.seq)
        .bind(limit)
        .fetch_all(db.pool())
        .await
        .map_err(classify_db_error)
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
        actor.require(&[Role::Service, Role::Admin, Role::Auditor], "watch events")?;
        let req = request.into_inner();
        let after = Cursor::parse(&req.after_cursor).ok_or_else(|| {
            ServiceError::invalid(
                "after_cursor",
                format!("`{}` is not a cursor this service issued", req.after_cursor),
            )
        })?;
        // Make sure the stream can be served before answering.
        read(&self.db, after, 1).await?;
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

/// Sends events to one watcher until it goes away or the server stops.
async fn follow(
    db: Database,
    actor: Actor,
    types: Vec<String>,
    mut after: Cursor,
    tx: mpsc::Sender<Result<pb::WatchResponse, tonic::Status>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_sent = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
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
        if let Some(last) = rows.last() {
            after = last.cursor();
            let events: Vec<pb::Event> = rows
                .into_iter()
                .filter(|r| actor.in_committee(&r.committee))
                .filter(|r| types.is_empty() || types.contains(&r.kind))
                .map(OutboxRow::into_event)
                .collect();
            if !events.is_empty() || last_sent.elapsed() >= HEARTBEAT {
                let batch = pb::WatchResponse {
                    events,
                    cursor: after.to_string(),
                };
                if tx.send(Ok(batch)).await.is_err() {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
            if full {
                continue;
            }
        } else if last_sent.elapsed() >= HEARTBEAT {
            let beat = pb::WatchResponse {
                events: Vec::new(),
                cursor: after.to_string(),
            };
            if tx.send(Ok(beat)).await.is_err() {
                return;
            }
            last_sent = tokio::time::Instant::now();
        }
        tokio::select! {
            _ = written => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = tx.closed() => return,
            _ = crate::server::stopped(&mut stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_order() {
        let c = Cursor { xid: 790, seq: 12 };
        assert_eq!(Cursor::parse(&c.to_string()), Some(c));
        assert_eq!(Cursor::parse(""), Some(Cursor::default()));
        assert_eq!(Cursor::parse("x"), None);
        assert_eq!(Cursor::parse("1-"), None);
        assert!(Cursor { xid: 1, seq: 9 } < Cursor { xid: 2, seq: 1 });
    }
}
