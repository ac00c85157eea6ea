//! The audit log: append-only and tamper-evident.
//!
//! Changes write their rows inside their own transaction (see
//! [`crate::change`]); unmasked reads and denied calls write theirs here.
//! A sealer then chains every row to the one before it: its hash is
//! SHA-256 over the previous hash and the row's canonical form. Sealing
//! after commit, one sealer at a time, keeps writers from queueing behind
//! one another for the chain's head. [`verify`] walks the chain and finds
//! the first row that was altered, removed or moved.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, FromRow};
use time::OffsetDateTime;

use crate::auth::Actor;
use crate::convert::timestamp;
use crate::db::Database;
use crate::error::{ServiceError, classify_db_error};
use crate::filter::{FieldKind, FilterField};
use crate::page::{Key, KeyKind, Keyed, ListQuery, ListRequest, ListSpec, OrderField};
use cppcc_proto::audit::v1 as pb;

/// Rows sealed per round.
const SEAL_BATCH: i64 = 1000;

/// What the audit log records of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A change that was made.
    Changed,
    /// A read of unmasked personal data.
    Read,
    /// A call that was refused.
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "ok",
            Outcome::Read => "read",
            Outcome::Denied => "denied",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Changed, Outcome::Read, Outcome::Denied]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    fn to_proto(self) -> pb::AuditOutcome {
        match self {
            Outcome::Changed => pb::AuditOutcome::Changed,
            Outcome::Read => pb::AuditOutcome::Read,
            Outcome::Denied => pb::AuditOutcome::Denied,
        }
    }
}

impl Database {
    /// Records that `actor` read the unmasked personal data of `resources`.
    pub async fn audit_reads(
        &self,
        actor: &Actor,
        committee: &str,
        resources: &[String],
    ) -> Result<(), ServiceError> {
        if resources.is_empty() {
            return Ok(());
        }
        self.insert_audit(
            &actor.subject,
            actor.role.as_str(),
            &actor.peer_text(),
            &actor.method,
            Outcome::Read,
            "",
            committee,
            resources,
        )
        .await
    }

    /// The caller of `request`, if it acts in `committee`: a caller of
    /// another committee is told `resource` does not exist, and the refusal
    /// is audited. Its role was checked against the method's contract
    /// before the handler ran (`crate::access`).
    pub async fn caller<T>(
        &self,
        request: &tonic::Request<T>,
        committee: &str,
        resource: &str,
    ) -> Result<Actor, ServiceError> {
        let actor = crate::auth::actor(request)?;
        if !actor.in_committee(committee) {
            self.audit_denied(
                Some(&actor),
                Some(committee),
                &actor.peer_text(),
                &actor.method,
                &format!("{resource}: outside the caller's committee"),
            )
            .await?;
            return Err(ServiceError::not_found(resource));
        }
        Ok(actor)
    }

    /// Records a refused call. `actor` is `None` when the caller could not
    /// be identified. The record is filed under `committee` (the committee
    /// whose records were asked for) when given, else the caller's own, so
    /// the auditor of the committee concerned sees it.
    pub async fn audit_denied(
        &self,
        actor: Option<&Actor>,
        committee: Option<&str>,
        peer: &str,
        method: &str,
        detail: &str,
    ) -> Result<(), ServiceError> {
        let (subject, role, own) = match actor {
            Some(a) => (
                a.subject.as_str(),
                a.role.as_str(),
                a.committee().unwrap_or_default(),
            ),
            None => ("", "", ""),
        };
        let committee = committee.unwrap_or(own);
        // Callers choose much of this text; keep it short.
        let detail: String = detail.chars().take(300).collect();
        self.insert_audit(
            subject,
            role,
            peer,
            method,
            Outcome::Denied,
            &detail,
            committee,
            &[String::new()],
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_audit(
        &self,
        subject: &str,
        role: &str,
        peer: &str,
        method: &str,
        outcome: Outcome,
        detail: &str,
        committee: &str,
        resources: &[String],
    ) -> Result<(), ServiceError> {
        sqlx::query(AssertSqlSafe(self.sql.audit_insert.as_str()))
            .bind(subject)
            .bind(role)
            .bind(peer)
            .bind(method)
            .bind(outcome.as_str())
            .bind(detail)
            .bind(committee)
            .bind(resources)
            .execute(self.pool())
            .await
            .map_err(classify_db_error)?;
        self.audit_written.notify_one();
        Ok(())
    }
}

/// One row of the audit log as stored.
#[derive(Clone, Debug, FromRow)]
struct Row {
    seq: i64,
    at: OffsetDateTime,
    actor: String,
    actor_role: String,
    committee: String,
    peer: String,
    method: String,
    resource: String,
    outcome: String,
    detail: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    chain_pos: Option<i64>,
    prev_hash: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

const ROW_COLUMNS: &str = "seq, at, actor, actor_role, committee, peer, method, resource, outcome, \
                           detail, before, after, chain_pos, prev_hash, hash";

impl Row {
    /// The MAC (HMAC-SHA256 under `key`, or SHA-256 without one) over the
    /// previous hash and this row at `chain_pos`.
    fn chain_hash(&self, key: Option<&[u8]>, chain_pos: i64, prev: &[u8]) -> Vec<u8> {
        let canonical = serde_json::json!([
            chain_pos,
            self.seq,
            self.at.unix_timestamp_nanos() / 1000,
            self.actor,
            self.actor_role,
            self.committee,
            self.peer,
            self.method,
            self.resource,
            self.outcome,
            self.detail,
            self.before,
            self.after,
        ]);
        let bytes = serde_json::to_vec(&canonical).expect("JSON values serialize");
        match key {
            Some(key) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(prev);
                mac.update(&bytes);
                mac.finalize().into_bytes().to_vec()
            }
            None => {
                let mut hash = Sha256::new();
                hash.update(prev);
                hash.update(&bytes);
                hash.finalize().to_vec()
            }
        }
    }
}

/// Chains every committed, unsealed row; returns how many. Only one sealer
/// runs at a time per schema; others return 0 at once.
pub async fn seal(db: &Database) -> Result<u64, ServiceError> {
    let schema = db.schema();
    let mut sealed = 0;
    loop {
        let mut tx = db.pool().begin().await.map_err(classify_db_error)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
            .bind(format!("cppcc audit seal {}", schema.name()))
            .fetch_one(&mut *tx)
            .await
            .map_err(classify_db_error)?;
        if !locked {
            return Ok(sealed);
        }
        let (mut pos, mut prev) = chain_head(&mut tx, db).await?;
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(schema.sql(&format!(
            "SELECT {ROW_COLUMNS} FROM {{schema}}.audit_log WHERE chain_pos IS NULL ORDER BY seq LIMIT $1"
        ))))
        .bind(SEAL_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(classify_db_error)?;
        if rows.is_empty() {
            return Ok(sealed);
        }
        let (mut seqs, mut positions, mut prevs, mut hashes) = (vec![], vec![], vec![], vec![]);
        for row in &rows {
            pos += 1;
            let hash = row.chain_hash(db.audit_key.as_deref(), pos, &prev);
            seqs.push(row.seq);
            positions.push(pos);
            prevs.push(prev.clone());
            hashes.push(hash.clone());
            prev = hash;
        }
        sqlx::query(AssertSqlSafe(schema.sql(
            "UPDATE {schema}.audit_log a SET chain_pos = u.p, prev_hash = u.ph, hash = u.h \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(s, p, ph, h) \
             WHERE a.seq = u.s",
        )))
        .bind(&seqs)
        .bind(&positions)
        .bind(&prevs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await
        .map_err(classify_db_error)?;
        tx.commit().await.map_err(classify_db_error)?;
        // The head of the chain in the service's log: a copy outside the
        // database that a rewritten chain would have to match.
        tracing::info!(schema = schema.name(), chain_pos = pos, head = %hex::encode(&prev), "audit chain sealed");
        sealed += rows.len() as u64;
        if (rows.len() as i64) < SEAL_BATCH {
            return Ok(sealed);
        }
    }
}

/// The chain position and hash of the last sealed row (or of the anchor
/// left by purging, or the start).
async fn chain_head(
    conn: &mut sqlx::PgConnection,
    db: &Database,
) -> Result<(i64, Vec<u8>), ServiceError> {
    let schema = db.schema();
    let last: Option<(i64, Vec<u8>)> = sqlx::query_as(AssertSqlSafe(schema.sql(
        "SELECT chain_pos, hash FROM {schema}.audit_log WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1",
    )))
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify_db_error)?;
    if let Some(head) = last {
        return Ok(head);
    }
    anchor(conn, db).await
}

async fn anchor(
    conn: &mut sqlx::PgConnection,
    db: &Database,
) -> Result<(i64, Vec<u8>), ServiceError> {
    let anchor: Option<(i64, Vec<u8>)> = sqlx::query_as(AssertSqlSafe(
        db.schema()
            .sql("SELECT chain_pos, hash FROM {schema}.audit_anchor"),
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(classify_db_error)?;
    Ok(anchor.unwrap_or((0, vec![0; 32])))
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Sealed rows checked.
    pub checked: i64,
    /// Rows not sealed yet.
    pub unsealed: i64,
    /// The first row that does not fit, and what is wrong with it.
    pub broken: Option<(i64, String)>,
}

/// Recomputes the chain from its start and reports the first break.
pub async fn verify(db: &Database) -> Result<ChainReport, ServiceError> {
    let schema = db.schema();
    // One snapshot throughout, so a purge or seal meanwhile is not a break.
    let mut conn = db
        .pool()
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(classify_db_error)?;
    let (mut pos, mut prev) = anchor(&mut conn, db).await?;
    let mut checked = 0;
    let page_sql = schema.sql(&format!(
        "SELECT {ROW_COLUMNS} FROM {{schema}}.audit_log \
         WHERE chain_pos IS NOT NULL AND chain_pos > $1 ORDER BY chain_pos LIMIT 5000"
    ));
    let broken = 'walk: loop {
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(page_sql.as_str()))
            .bind(pos)
            .fetch_all(&mut *conn)
            .await
            .map_err(classify_db_error)?;
        if rows.is_empty() {
            break None;
        }
        for row in rows {
            let at = row.chain_pos.unwrap_or_default();
            if at != pos + 1 {
                break 'walk Some((
                    pos + 1,
                    format!("missing: the chain jumps from {pos} to {at}"),
                ));
            }
            if row.prev_hash.as_deref() != Some(prev.as_slice()) {
                break 'walk Some((
                    at,
                    "out of place: its previous hash is not the record before it".into(),
                ));
            }
            let expected = row.chain_hash(db.audit_key.as_deref(), at, &prev);
            if row.hash.as_deref() != Some(expected.as_slice()) {
                break 'walk Some((at, "altered: its content does not match its hash".into()));
            }
            checked += 1;
            pos = at;
            prev = expected;
        }
    };
    let unsealed: i64 = sqlx::query_scalar(AssertSqlSafe(
        schema.sql("SELECT count(*) FROM {schema}.audit_log WHERE chain_pos IS NULL"),
    ))
    .fetch_one(&mut *conn)
    .await
    .map_err(classify_db_error)?;
    Ok(ChainReport {
        checked,
        unsealed,
        broken,
    })
}

/// Deletes sealed rows older than `retention` (never less than 184 days),
/// moving the chain's anchor to the last one deleted. Returns how many.
///
/// The chain is cut just before the first sealed row still within
/// retention (rows are sealed in write order, which is not quite time
/// order), under the sealer's lock so positions do not move meanwhile.
pub async fn purge(db: &Database, retention: Duration) -> Result<u64, ServiceError> {
    let days = (retention.as_secs() / 86_400).max(184) as i32;
    let schema = db.schema();
    let mut tx = db.pool().begin().await.map_err(classify_db_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("cppcc audit seal {}", schema.name()))
        .execute(&mut *tx)
        .await
        .map_err(classify_db_error)?;
    let upto: Option<i64> = sqlx::query_scalar(AssertSqlSafe(schema.sql(
        "SELECT coalesce( \
           (SELECT min(chain_pos) - 1 FROM {schema}.audit_log \
            WHERE chain_pos IS NOT NULL AND at >= now() - make_interval(days => $1)), \
           (SELECT max(chain_pos) FROM {schema}.audit_log WHERE chain_pos IS NOT NULL))",
    )))
    .bind(days)
    .fetch_one(&mut *tx)
    .await
    .map_err(classify_db_error)?;
    let (anchored, _) = anchor(&mut tx, db).await?;
    let Some(upto) = upto.filter(|u| *u > anchored) else {
        return Ok(0);
    };
    let hash: Vec<u8> = sqlx::query_scalar(AssertSqlSafe(
        schema.sql("SELECT hash FROM {schema}.audit_log WHERE chain_pos = $1"),
    ))
    .bind(upto)
    .fetch_one(&mut *tx)
    .await
    .map_err(classify_db_error)?;
    let deleted = sqlx::query(AssertSqlSafe(
        schema.sql("DELETE FROM {schema}.audit_log WHERE chain_pos <= $1"),
    ))
    .bind(upto)
    .execute(&mut *tx)
    .await
    .map_err(classify_db_error)?
    .rows_affected();
    sqlx::query(AssertSqlSafe(schema.sql(
        "INSERT INTO {schema}.audit_anchor (chain_pos, hash) VALUES ($1, $2) \
         ON CONFLICT (only_row) DO UPDATE SET chain_pos = excluded.chain_pos, hash = excluded.hash \
         WHERE {schema}.audit_anchor.chain_pos < excluded.chain_pos",
    )))
    .bind(upto)
    .bind(hash)
    .execute(&mut *tx)
    .await
    .map_err(classify_db_error)?;
    tx.commit().await.map_err(classify_db_error)?;
    Ok(deleted)
}

/// Seals new rows as they come, until `stop` fires.
pub async fn run_sealer(db: Database, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = seal(&db).await {
            tracing::warn!(error = %e, "sealing the audit log failed; retrying");
        }
        tokio::select! {
            _ = db.audit_written.notified() => {
                // Let a burst of writes commit, then seal them together.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = crate::server::stopped(&mut stop) => return,
        }
    }
}

const FILTER_FIELDS: &[FilterField] = &[
    FilterField {
        name: "actor",
        sql: "actor",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "actor_role",
        sql: "actor_role",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "method",
        sql: "method",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "resource",
        sql: "resource",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "outcome",
        sql: "(CASE outcome WHEN 'ok' THEN 1 WHEN 'read' THEN 2 ELSE 3 END)",
        kind: FieldKind::Enum(outcome_number),
    },
    FilterField {
        name: "time",
        sql: "at",
        kind: FieldKind::Time,
    },
];

fn outcome_number(name: &str) -> Option<i32> {
    pb::AuditOutcome::from_str_name(name).map(|o| o as i32)
}

const ORDER_FIELDS: &[OrderField] = &[OrderField {
    name: "sequence",
    sql: "seq",
    kind: KeyKind::Int,
}];

const LIST: ListSpec = ListSpec {
    filter_fields: FILTER_FIELDS,
    order_fields: ORDER_FIELDS,
    default_order: "sequence desc",
    tie_break: None,
};

impl Keyed for Row {
    fn key(&self, _field: &str) -> Key {
        Key::Int(self.seq)
    }
}

/// The `cppcc.audit.v1.AuditService` of a service.
#[derive(Clone, Debug)]
pub struct AuditApi {
    db: Database,
}

impl AuditApi {
    /// The audit service over `db`'s audit log.
    pub fn new(db: Database) -> Self {
        AuditApi { db }
    }
}

fn to_struct(value: Option<serde_json::Value>) -> Option<prost_types::Struct> {
    match value? {
        serde_json::Value::Object(map) => Some(prost_types::Struct {
            fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
        other => Some(prost_types::Struct {
            fields: [("value".to_owned(), to_value(other))].into(),
        }),
    }
}

fn to_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

impl From<Row> for pb::AuditRecord {
    fn from(row: Row) -> Self {
        pb::AuditRecord {
            sequence: row.seq,
            time: Some(timestamp(row.at)),
            actor: row.actor,
            actor_role: row.actor_role,
            committee: if row.committee.is_empty() {
                String::new()
            } else {
                crate::names::committee_name(&row.committee)
            },
            peer: row.peer,
            method: row.method,
            resource: row.resource,
            outcome: Outcome::parse(&row.outcome).map_or(0, |o| o.to_proto() as i32),
            detail: row.detail,
            before: to_struct(row.before),
            after: to_struct(row.after),
            chain_position: row.chain_pos.unwrap_or_default(),
            hash: row.hash.unwrap_or_default(),
        }
    }
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_records(
        &self,
        request: tonic::Request<pb::ListAuditRecordsRequest>,
    ) -> Result<tonic::Response<pb::ListAuditRecordsResponse>, tonic::Status> {
        let actor = crate::auth::actor(&request)?;
        let req = request.into_inner();
        let committee = actor.committee().unwrap_or_default().to_owned();
        let query = ListQuery::new(
            &LIST,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                filter: &req.filter,
                order_by: "",
            },
            &[&committee],
        )?;
        let mut qb = sqlx::QueryBuilder::new(self.db.schema().sql(&format!(
            "SELECT {ROW_COLUMNS} FROM {{schema}}.audit_log WHERE committee IN ('', "
        )));
        qb.push_bind(committee.clone()).push(")");
        query.push_conditions(&mut qb);
        query.push_order_limit(&mut qb);
        let rows: Vec<Row> = qb
            .build_query_as()
            .fetch_all(self.db.pool())
            .await
            .map_err(classify_db_error)?;
        let (rows, next_page_token) = query.page(rows);
        self.db
            .audit_reads(&actor, &committee, &["audit_log".to_owned()])
            .await?;
        Ok(tonic::Response::new(pb::ListAuditRecordsResponse {
            records: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        }))
    }

    async fn verify_audit_log(
        &self,
        request: tonic::Request<pb::VerifyAuditLogRequest>,
    ) -> Result<tonic::Response<pb::VerifyAuditLogResponse>, tonic::Status> {
        let actor = crate::auth::actor(&request)?;
        let report = verify(&self.db).await?;
        self.db
            .audit_reads(
                &actor,
                actor.committee().unwrap_or_default(),
                &["audit_log".to_owned()],
            )
            .await?;
        let (first_broken_position, problem) = report.broken.clone().unwrap_or((0, String::new()));
        Ok(tonic::Response::new(pb::VerifyAuditLogResponse {
            intact: report.broken.is_none(),
            records_checked: report.checked,
            records_unsealed: report.unsealed,
            first_broken_position,
            problem,
        }))
    }
}
