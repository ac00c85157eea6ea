//! Calls owed to other deployments: a forward to a parent committee served
//! elsewhere, a decision back to a child committee served elsewhere.
//!
//! The call is written to `opinions.delivery` in the same transaction as
//! the change that owes it, so it is never lost; the worker sends what is
//! due, marks it delivered in the transaction that holds its row (others
//! skip locked rows), and backs off when the other side is down. The other
//! side takes each forward and each decision once, however often it
//! arrives, so a call repeated after a lost answer is harmless: delivered
//! at least once, applied once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use tokio::sync::{Notify, watch};
use tonic::transport::Channel;

use cppcc_kit::auth::{Role, TokenIssuer, TokenRequest};
use cppcc_kit::client::{Bearer, channel};
use cppcc_kit::db::Database;
use cppcc_proto::opinions::v1 as pb;
use pb::opinion_report_service_client::OpinionReportServiceClient;
use pb::upward_inbox_service_client::UpwardInboxServiceClient;

use crate::domain::{Forward, ForwardStep};
use crate::store::{self, delivery::DeliveryRow};

/// How long one call to another deployment may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the tokens this service signs for those calls live.
const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// Calls sent per round.
const BATCH: i64 = 20;
/// The first retry's wait, doubled after each failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF_MS: i64 = 500;
const MAX_BACKOFF_MS: i64 = 30_000;
/// How long the worker sleeps with nothing owed (a change wakes it sooner).
const IDLE: Duration = Duration::from_secs(30);

/// A committee served by another deployment: `committee=uri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub committee: String,
    pub uri: String,
}

impl std::str::FromStr for Remote {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (committee, uri) = text.split_once('=').ok_or_else(|| {
            format!("`{text}` is not `committee=uri`, e.g. `suizhou=https://cppcc.suizhou.gov.cn`")
        })?;
        let (committee, uri) = (committee.trim(), uri.trim());
        if !cppcc_kit::names::is_committee_id(committee) {
            return Err(format!(
                "`{committee}` is not a committee id (lower-case letters and digits, e.g. `suizhou`)"
            ));
        }
        if !(uri.starts_with("http://") || uri.starts_with("https://"))
            || uri.parse::<tonic::codegen::http::Uri>().is_err()
        {
            return Err(format!("`{uri}` is not an http:// or https:// address"));
        }
        Ok(Remote {
            committee: committee.to_owned(),
            uri: uri.to_owned(),
        })
    }
}

/// The other deployments, and a bell for the worker.
#[derive(Clone, Debug)]
pub struct Remotes {
    channels: Arc<HashMap<String, Channel>>,
    issuer: TokenIssuer,
    bell: Arc<Notify>,
}

impl Remotes {
    pub fn new(remotes: &[Remote], issuer: TokenIssuer) -> Result<Remotes, cppcc_kit::BoxError> {
        let mut channels = HashMap::new();
        for r in remotes {
            let ch =
                channel(&r.uri).map_err(|e| format!("--remote {}={}: {e}", r.committee, r.uri))?;
            if channels.insert(r.committee.clone(), ch).is_some() {
                return Err(format!("--remote names committee `{}` twice", r.committee).into());
            }
        }
        Ok(Remotes {
            channels: Arc::new(channels),
            issuer,
            bell: Arc::new(Notify::new()),
        })
    }

    /// Whether `committee` is served by another deployment.
    pub fn is_remote(&self, committee: &str) -> bool {
        self.channels.contains_key(committee)
    }

    /// Tells the worker something is owed.
    pub fn ring(&self) {
        self.bell.notify_one();
    }

    /// A token of the service role for `sender`, which the other side
    /// checks the call against.
    fn bearer(&self, sender: &str) -> Bearer {
        Bearer::new(&self.issuer.issue(&TokenRequest {
            subject: "cppcc-opinions",
            role: Role::Service,
            committee: sender,
            member: None,
            unit: None,
            ttl: TOKEN_TTL,
        }))
    }

    /// Makes the call `d` owes.
    async fn call(&self, d: &DeliveryRow) -> Result<(), String> {
        let channel =
            self.channels.get(&d.target).cloned().ok_or_else(|| {
                format!("committees/{} is not configured with --remote", d.target)
            })?;
        let bearer = self.bearer(&d.sender);
        let answer = match d.kind.as_str() {
            "forward" => {
                let msg = pb::ReceiveForwardedReportRequest::decode(d.payload.as_slice())
                    .map_err(|e| format!("undecodable forward: {e}"))?;
                let mut request = tonic::Request::new(msg);
                request.set_timeout(CALL_TIMEOUT);
                UpwardInboxServiceClient::with_interceptor(channel, bearer)
                    .receive_forwarded_report(request)
                    .await
                    .map(|_| ())
            }
            "decision" => {
                let msg = pb::RecordUpwardDecisionRequest::decode(d.payload.as_slice())
                    .map_err(|e| format!("undecodable decision: {e}"))?;
                let mut request = tonic::Request::new(msg);
                request.set_timeout(CALL_TIMEOUT);
                OpinionReportServiceClient::with_interceptor(channel, bearer)
                    .record_upward_decision(request)
                    .await
                    .map(|_| ())
            }
            other => return Err(format!("unknown delivery kind `{other}`")),
        };
        answer.map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    }
}

/// The wait before the attempt after `attempts` failed ones.
pub fn backoff_ms(attempts: i32) -> i64 {
    let doublings = attempts.clamp(0, 16) as u32;
    (FIRST_BACKOFF_MS << doublings).min(MAX_BACKOFF_MS)
}

/// Sends what is owed until `stop`.
pub async fn run(db: Database, remotes: Remotes, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match round(&db, &remotes).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "opinion deliveries: a round failed; retrying");
                Duration::from_secs(2)
            }
        };
        tokio::select! {
            _ = stop.changed() => return,
            _ = remotes.bell.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One round: send every due call; how long until the next is due.
async fn round(db: &Database, remotes: &Remotes) -> Result<Duration, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    let due = store::delivery::due(&mut tx, BATCH).await?;
    for d in &due {
        match remotes.call(d).await {
            Ok(()) => {
                store::delivery::delivered(&mut tx, d.id).await?;
                match d.kind.as_str() {
                    "forward" => {
                        let f =
                            store::reports::forwards(&mut tx, None, Some(&[d.forward_id]), true)
                                .await?
                                .pop();
                        if let Some(f) = f
                            && let Some(state) = Forward::from_number(f.state)
                            && let Ok(Some(to)) = state.transition(ForwardStep::Deliver)
                        {
                            store::reports::set_forward(&mut tx, f.id, to.number(), None, "")
                                .await?;
                            store::reports::touch(&mut tx, f.report_id).await?;
                        }
                    }
                    _ => store::inbox::decision_delivered(&mut tx, d.forward_id).await?,
                }
                tracing::info!(kind = %d.kind, target = %d.target, forward = %d.forward_id, "delivered");
            }
            Err(error) => {
                let retry = backoff_ms(d.attempts);
                tracing::warn!(kind = %d.kind, target = %d.target, forward = %d.forward_id, %error, retry_ms = retry, "delivery failed");
                store::delivery::failed(&mut tx, d.id, &error, retry).await?;
                if d.kind == "forward" {
                    store::reports::forward_failed(&mut tx, d.forward_id, &error).await?;
                }
            }
        }
    }
    let next = store::delivery::next_due_ms(&mut tx).await?;
    tx.commit().await?;
    Ok(next.map_or(IDLE, |ms| {
        Duration::from_millis(ms.max(50) as u64).min(IDLE)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_parse() {
        let r: Remote = "suizhou=http://127.0.0.1:50067".parse().unwrap();
        assert_eq!(r.committee, "suizhou");
        assert!("suizhou".parse::<Remote>().is_err());
        assert!("Sui Zhou=http://x".parse::<Remote>().is_err());
        assert!("suizhou=ftp://x".parse::<Remote>().is_err());
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff_ms(0), 500);
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(3), 4000);
        assert_eq!(backoff_ms(10), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(1000), MAX_BACKOFF_MS);
    }
}
