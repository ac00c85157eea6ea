//! One change: a database transaction that also writes, atomically, the
//! audit rows of what it changed and the events it publishes, and claims
//! the request id of a create so a retry creates nothing twice.
//!
//! ```ignore
//! let mut change = db.change(&actor).await?;
//! if let Claim::Replay(name) = change.claim_request_id("request_id", &req.request_id, &fingerprint, &name).await? {
//!     return self.get(name).await;            // the first call's result
//! }
//! sqlx::query!(/* … */).execute(change.conn()).await?;
//! change.audit(committee, &name, None, Some(json));
//! change.publish(committee, &name, &MemberCreated { … });
//! change.commit().await?;
//! ```

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::Actor;
use crate::db::Database;
use crate::error::{ServiceError, classify_db_error};

/// What claiming a request id found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// No request id was given, or this is its first use: go on.
    New,
    /// The id was used before by this same request, which created the named
    /// resource; return that instead of creating again.
    Replay(String),
}

/// A write transaction with its audit rows and events.
pub struct Change {
    tx: Transaction<'static, Postgres>,
    db: Database,
    actor: Actor,
    audit_committees: Vec<String>,
    audit_resources: Vec<String>,
    audit_before: Vec<Option<serde_json::Value>>,
    audit_after: Vec<Option<serde_json::Value>>,
    event_ids: Vec<Uuid>,
    event_types: Vec<String>,
    event_committees: Vec<String>,
    event_subjects: Vec<String>,
    event_payloads: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("method", &self.actor.method)
            .field("audits", &self.audit_resources.len())
            .field("events", &self.event_ids.len())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Begins a change made by `actor` (in the RPC it is calling).
    pub async fn change(&self, actor: &Actor) -> Result<Change, ServiceError> {
        let tx = self.pool().begin().await.map_err(classify_db_error)?;
        Ok(Change {
            tx,
            db: self.clone(),
            actor: actor.clone(),
            audit_committees: Vec::new(),
            audit_resources: Vec::new(),
            audit_before: Vec::new(),
            audit_after: Vec::new(),
            event_ids: Vec::new(),
            event_types: Vec::new(),
            event_committees: Vec::new(),
            event_subjects: Vec::new(),
            event_payloads: Vec::new(),
        })
    }
}

/// A fingerprint of a create request for its request id: the caller and
/// the request's bytes with the request id itself cleared by `clear_id`.
pub fn fingerprint<M: prost::Message + Clone>(
    request: &M,
    actor: &Actor,
    clear_id: impl FnOnce(&mut M),
) -> Vec<u8> {
    let mut without_id = request.clone();
    clear_id(&mut without_id);
    let mut hash = Sha256::new();
    hash.update(actor.subject.as_bytes());
    hash.update([0]);
    hash.update(without_id.encode_to_vec());
    hash.finalize().to_vec()
}

impl Change {
    /// The transaction's connection, for the service's own queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The caller making the change.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Claims `request_id` (AIP-155) for the resource this call will create.
    /// An empty id claims nothing. A second call with the same id and the
    /// same request gets [`Claim::Replay`]; with a different request,
    /// `INVALID_ARGUMENT`. A concurrent second call waits for the first.
    pub async fn claim_request_id(
        &mut self,
        field: &str,
        request_id: &str,
        fingerprint: &[u8],
        resource: &str,
    ) -> Result<Claim, ServiceError> {
        if request_id.is_empty() {
            return Ok(Claim::New);
        }
        let id = Uuid::try_parse(request_id)
            .map_err(|_| ServiceError::invalid(field, format!("`{request_id}` is not a UUID")))?;
        let sql = &self.db.sql;
        let inserted = sqlx::query(AssertSqlSafe(sql.claim_request.as_str()))
            .bind(&*self.actor.method)
            .bind(id)
            .bind(fingerprint)
            .bind(resource)
            .execute(&mut *self.tx)
            .await
            .map_err(classify_db_error)?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::New);
        }
        let (stored, existing): (Vec<u8>, String) =
            sqlx::query_as(AssertSqlSafe(sql.find_request.as_str()))
                .bind(&*self.actor.method)
                .bind(id)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(classify_db_error)?;
        if stored != fingerprint {
            return Err(ServiceError::invalid(
                field,
                format!(
                    "request id {request_id} was already used for a different request; use a new UUID for a new request"
                ),
            ));
        }
        Ok(Claim::Replay(existing))
    }

    /// Records in the audit log that this change took `resource` from
    /// `before` to `after` (`None` where it did not exist).
    pub fn audit(
        &mut self,
        committee: &str,
        resource: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        self.audit_committees.push(committee.to_owned());
        self.audit_resources.push(resource.to_owned());
        self.audit_before.push(before);
        self.audit_after.push(after);
    }

    /// Publishes `event` about `subject` once the change commits.
    pub fn publish<M: prost::Message + prost::Name>(
        &mut self,
        committee: &str,
        subject: &str,
        event: &M,
    ) {
        self.event_ids.push(Uuid::now_v7());
        self.event_types.push(M::full_name());
        self.event_committees.push(committee.to_owned());
        self.event_subjects.push(subject.to_owned());
        self.event_payloads.push(event.encode_to_vec());
    }

    /// Writes the audit rows and events, and commits.
    pub async fn commit(mut self) -> Result<(), ServiceError> {
        let wrote_events = !self.event_ids.is_empty();
        let wrote_audit = !self.audit_resources.is_empty();
        if wrote_events || wrote_audit {
            sqlx::query(AssertSqlSafe(self.db.sql.flush_change.as_str()))
                .bind(&self.actor.subject)
                .bind(self.actor.role.as_str())
                .bind(self.actor.peer_text())
                .bind(&*self.actor.method)
                .bind(&self.audit_committees)
                .bind(&self.audit_resources)
                .bind(&self.audit_before)
                .bind(&self.audit_after)
                .bind(&self.event_ids)
                .bind(&self.event_types)
                .bind(&self.event_committees)
                .bind(&self.event_subjects)
                .bind(&self.event_payloads)
                .execute(&mut *self.tx)
                .await
                .map_err(classify_db_error)?;
        }
        self.tx.commit().await.map_err(classify_db_error)?;
        if wrote_events {
            self.db.events_written.notify_waiters();
        }
        if wrote_audit {
            self.db.audit_written.notify_one();
        }
        Ok(())
    }
}

/// The kit's statements, with the service's schema written in once.
#[derive(Debug)]
pub(crate) struct KitSql {
    pub claim_request: String,
    pub find_request: String,
    pub flush_change: String,
    pub audit_insert: String,
    pub outbox_taken: String,
    pub outbox_in_flight: String,
    pub outbox_read: String,
    pub outbox_purged: String,
}

impl KitSql {
    pub(crate) fn new(schema: crate::db::Schema) -> KitSql {
        KitSql {
            claim_request: schema.sql(
                "INSERT INTO {schema}.request_ids (method, request_id, fingerprint, resource) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (method, request_id) DO NOTHING",
            ),
            find_request: schema.sql(
                "SELECT fingerprint, resource FROM {schema}.request_ids WHERE method = $1 AND request_id = $2",
            ),
            flush_change: schema.sql(
                "WITH audit AS ( \
                   INSERT INTO {schema}.audit_log \
                     (actor, actor_role, peer, method, outcome, committee, resource, before, after) \
                   SELECT $1, $2, $3, $4, 'ok', c, r, b, a \
                   FROM UNNEST($5::text[], $6::text[], $7::jsonb[], $8::jsonb[]) AS t(c, r, b, a) \
                 ) \
                 INSERT INTO {schema}.outbox (actor, id, type, committee, subject, payload) \
                 SELECT $1, i, ty, c, s, p \
                 FROM UNNEST($9::uuid[], $10::text[], $11::text[], $12::text[], $13::bytea[]) AS u(i, ty, c, s, p)",
            ),
            audit_insert: schema.sql(
                "INSERT INTO {schema}.audit_log \
                   (actor, actor_role, peer, method, outcome, detail, committee, resource) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, r FROM UNNEST($8::text[]) AS t(r)",
            ),
            outbox_taken: schema.sql(
                "SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM {schema}.outbox_seq",
            ),
            outbox_in_flight: schema.sql(
                "SELECT min(((classid::bigint << 32) | objid::bigint) & ((1::bigint << 40) - 1)) \
                 FROM pg_locks \
                 WHERE locktype = 'advisory' AND objsubid = 1 \
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                   AND ((classid::bigint << 32) | objid::bigint) >> 40 \
                       = (hashtext('{schema}')::bigint & 2097151) + 1",
            ),
            outbox_read: schema.sql(
                "SELECT seq, id, type, committee, subject, actor, event_time, payload \
                 FROM {schema}.outbox WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            ),
            outbox_purged: schema.sql("SELECT purged_through FROM {schema}.outbox_horizon"),
        }
    }
}
