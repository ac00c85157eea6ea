//! The server every service runs: its gRPC services plus health
//! (`grpc.health.v1`), reflection, the event stream and the audit log
//! service, behind the tower layers every call passes, with graceful
//! shutdown.
//!
//! ```ignore
//! Server::new(db, verifier, &args.server)
//!     .add_service(MemberServiceServer::new(api))
//!     .serve(listener, kit::server::shutdown_signal())
//!     .await?;
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic_health::ServingStatus;

use crate::access::Decision;
use crate::audit::{self, AuditApi};
use crate::auth::TokenVerifier;
use crate::db::Database;
use crate::events::EventStreamApi;
use crate::{BoxError, ServiceError};
use base64::Engine as _;
use cppcc_proto::audit::v1::audit_service_server::AuditServiceServer;
use cppcc_proto::events::v1::event_stream_service_server::EventStreamServiceServer;
use secrecy::{ExposeSecret as _, SecretString};

/// Server settings shared by every service binary.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Longest a call may run; a caller's shorter `grpc-timeout` wins.
    #[arg(long, env = "CPPCC_REQUEST_TIMEOUT", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub request_timeout: Duration,
    /// Most calls served at once; further calls wait for a free slot.
    #[arg(long, env = "CPPCC_CONCURRENCY_LIMIT", default_value_t = 1024)]
    pub concurrency_limit: usize,
    /// After SIGTERM, how long to answer health checks with NOT_SERVING
    /// before refusing new connections, so load balancers stop sending.
    #[arg(long, env = "CPPCC_SHUTDOWN_DELAY", default_value = "5s", value_parser = crate::config::parse_duration)]
    pub shutdown_delay: Duration,
    /// How long calls in flight get to finish once new connections are refused.
    #[arg(long, env = "CPPCC_SHUTDOWN_GRACE", default_value = "25s", value_parser = crate::config::parse_duration)]
    pub shutdown_grace: Duration,
    /// Connections are closed gracefully at this age, so clients reconnect
    /// and spread over new replicas.
    #[arg(long, env = "CPPCC_MAX_CONNECTION_AGE", default_value = "10m", value_parser = crate::config::parse_duration)]
    pub max_connection_age: Duration,
    /// How long audit records are kept (never less than 184 days).
    #[arg(long, env = "CPPCC_AUDIT_RETENTION", default_value = "184d", value_parser = crate::config::parse_duration)]
    pub audit_retention: Duration,
    /// How long published events are kept for consumers that fell behind.
    #[arg(long, env = "CPPCC_OUTBOX_RETENTION", default_value = "30d", value_parser = crate::config::parse_duration)]
    pub outbox_retention: Duration,
    /// How long a create's request id still answers a retry.
    #[arg(long, env = "CPPCC_REQUEST_ID_RETENTION", default_value = "7d", value_parser = crate::config::parse_duration)]
    pub request_id_retention: Duration,
    /// The key (base64, 32 bytes or more) the audit chain is sealed with
    /// (HMAC-SHA256): keep it outside the database, so that someone who can
    /// write the database cannot rewrite the chain to match.
    #[arg(long, env = "CPPCC_AUDIT_KEY", hide_env_values = true)]
    pub audit_key: Option<SecretString>,
}

impl ServerArgs {
    /// The audit key's bytes, if one is configured.
    pub fn audit_key_bytes(&self) -> Result<Option<Vec<u8>>, BoxError> {
        let Some(key) = &self.audit_key else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| "the audit key (CPPCC_AUDIT_KEY) is not base64")?;
        if bytes.len() < 32 {
            return Err("the audit key (CPPCC_AUDIT_KEY) must be at least 32 bytes".into());
        }
        Ok(Some(bytes))
    }
}

impl Default for ServerArgs {
    fn default() -> Self {
        ServerArgs {
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
            shutdown_delay: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(25),
            max_connection_age: Duration::from_secs(600),
            audit_retention: Duration::from_secs(184 * 86_400),
            outbox_retention: Duration::from_secs(30 * 86_400),
            request_id_retention: Duration::from_secs(7 * 86_400),
            audit_key: None,
        }
    }
}

/// A service's gRPC server, under construction.
pub struct Server {
    db: Database,
    verifier: Arc<TokenVerifier>,
    args: ServerArgs,
    routes: Routes,
    names: Vec<&'static str>,
    stop: (watch::Sender<bool>, watch::Receiver<bool>),
    workers: Vec<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("services", &self.names)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server over `db`, checking tokens with `verifier`. The event
    /// stream and the audit log service are added already.
    pub fn new(
        db: Database,
        verifier: Arc<TokenVerifier>,
        args: &ServerArgs,
    ) -> Result<Server, BoxError> {
        let key = args.audit_key_bytes()?;
        if key.is_none() {
            tracing::warn!("no audit key (CPPCC_AUDIT_KEY): the audit chain is hashed, not keyed");
        }
        let db = db.with_audit_key(key.as_deref());
        let stop = watch::channel(false);
        let server = Server {
            db: db.clone(),
            verifier,
            args: args.clone(),
            routes: Routes::default(),
            names: Vec::new(),
            stop,
            workers: Vec::new(),
        };
        let events = EventStreamApi::new(db.clone(), server.stop.1.clone());
        Ok(server
            .add_service(EventStreamServiceServer::new(events))
            .add_service(AuditServiceServer::new(AuditApi::new(db))))
    }

    /// A receiver that turns true when the server starts shutting down;
    /// long-running streams of the service end when it does.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.1.clone()
    }

    /// Adds a background worker (a consumer of other services' events): it
    /// starts when the server serves, is told to stop through the receiver
    /// when shutdown begins, and is waited for before `serve` returns.
    pub fn add_worker<F>(mut self, make: impl FnOnce(watch::Receiver<bool>) -> F) -> Server
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.workers.push(Box::pin(make(self.stop.1.clone())));
        self
    }

    /// Adds a gRPC service.
    pub fn add_service<S>(mut self, service: S) -> Server
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains: health
    /// turns NOT_SERVING, after `shutdown_delay` new connections are
    /// refused, calls in flight get `shutdown_grace` to finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BoxError> {
        let Server {
            db,
            verifier,
            args,
            routes,
            names,
            stop: (stop_tx, stop_rx),
            workers,
        } = self;
        let (reporter, health) = tonic_health::server::health_reporter();
        let health_state = Health {
            reporter: reporter.clone(),
            names: names.clone(),
            draining: Arc::new(tokio::sync::Mutex::new(false)),
        };
        health_state.set(true).await;
        // The error details (google.rpc.BadRequest, …) too, so reflecting
        // clients can show what a refusal says; the services listed are the
        // ones this server serves.
        let served = names.clone();
        let reflection = crate::reflection::Reflection::new(
            &[
                cppcc_proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
                tonic_types::pb::FILE_DESCRIPTOR_SET,
            ],
            |s| served.contains(&s) || s == "grpc.health.v1.Health",
        )?;
        let routes = routes
            .add_service(health)
            .add_service(reflection.v1())
            .add_service(reflection.v1alpha());

        let sealer = tokio::spawn(audit::run_sealer(db.clone(), stop_rx.clone()));
        let retention = crate::maintenance::Retention {
            audit: args.audit_retention,
            outbox: args.outbox_retention,
            request_ids: args.request_id_retention,
        };
        let maintenance = tokio::spawn(crate::maintenance::run(
            db.clone(),
            retention,
            stop_rx.clone(),
        ));
        let workers: Vec<_> = workers.into_iter().map(tokio::spawn).collect();
        let delay = args.shutdown_delay;
        let database_watch = tokio::spawn(
            health_state
                .clone()
                .follow_database(db.clone(), stop_rx.clone()),
        );
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(delay = ?delay, "shutting down: health now NOT_SERVING");
            health_state.drain().await;
            tokio::time::sleep(delay).await;
            tracing::info!("refusing new connections; finishing calls in flight");
            let _ = stop_tx.send(true);
        });

        let local = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        // Layers, outermost first. The concurrency limit is shared by every
        // connection, so it bounds the process; authentication runs inside
        // it, so a flood of bad tokens cannot take every slot unchecked.
        let layers = tower::ServiceBuilder::new()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                args.concurrency_limit,
            ))
            .layer(AuthLayer {
                verifier,
                db: db.clone(),
            });
        let router = tonic::transport::Server::builder()
            .trace_fn(crate::telemetry::server_span)
            .timeout(args.request_timeout)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .http2_max_header_list_size(Some(crate::error::MAX_HEADER_LIST_BYTES))
            .max_connection_age(args.max_connection_age)
            .layer(layers)
            .add_routes(routes);
        tracing::info!(addr = %local, "serving");
        let mut stop = stop_rx.clone();
        let serving =
            router.serve_with_incoming_shutdown(incoming, async move { stopped(&mut stop).await });
        tokio::pin!(serving);
        let mut stop = stop_rx.clone();
        let grace = args.shutdown_grace;
        let outcome = tokio::select! {
            result = &mut serving => result,
            _ = async move {
                stopped(&mut stop).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace = ?grace, "calls still open after the grace period; closing them");
                Ok(())
            }
        };
        if outcome.is_err() {
            // Serving failed before any shutdown: stop the helpers too.
            sealer.abort();
            maintenance.abort();
            database_watch.abort();
            workers.iter().for_each(|w| w.abort());
        }
        let _ = tokio::join!(sealer, maintenance, database_watch);
        for worker in workers {
            let _ = worker.await;
        }
        // Seal what the last calls wrote.
        if let Err(e) = audit::seal(&db).await {
            tracing::warn!(error = %e, "could not seal the last audit records; the next start will");
        }
        outcome?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The health the server reports: SERVING while it can serve (its
/// database answers), NOT_SERVING once it drains for shutdown, for good.
#[derive(Clone)]
struct Health {
    reporter: tonic_health::server::HealthReporter,
    names: Vec<&'static str>,
    /// Whether shutdown has begun; held while the status changes, so a late
    /// database check cannot report SERVING after draining began.
    draining: Arc<tokio::sync::Mutex<bool>>,
}

impl Health {
    async fn report(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for name in &self.names {
            self.reporter.set_service_status(*name, status).await;
        }
    }

    /// Reports `serving`, unless draining has begun.
    async fn set(&self, serving: bool) {
        let draining = self.draining.lock().await;
        if !*draining {
            self.report(serving).await;
        }
    }

    /// Reports NOT_SERVING for good.
    async fn drain(&self) {
        let mut draining = self.draining.lock().await;
        *draining = true;
        self.report(false).await;
    }

    /// Checks the database every few seconds and reports NOT_SERVING while
    /// it does not answer, so load balancers send calls to replicas that can
    /// serve them.
    async fn follow_database(self, db: Database, mut stop: watch::Receiver<bool>) {
        let mut up = true;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stopped(&mut stop) => return,
            }
            let ping = tokio::time::timeout(
                Duration::from_secs(3),
                sqlx::query("SELECT 1").execute(db.pool()),
            )
            .await;
            let answers = matches!(ping, Ok(Ok(_)));
            if answers != up {
                if answers {
                    tracing::info!("the database answers again: serving");
                } else {
                    tracing::warn!("the database does not answer: health now NOT_SERVING");
                }
                up = answers;
                self.set(answers).await;
            }
        }
    }
}

/// Binds `addr`; when it fails, the error names the address and the flag
/// or variable that changes it (on shared machines some ports are taken by
/// processes that cannot be seen).
pub async fn bind(addr: std::net::SocketAddr, flag: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr}: {e}; choose another address with {flag}"),
        )
    })
}

/// Completes once `stop` has turned true.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = stop.wait_for(|s| *s).await;
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// Paths served without a token: health checks (probes) and reflection
/// (which describes the contracts, not data).
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// Verifies the bearer token of every call (but health and reflection),
/// hands the RPC its [`crate::auth::Actor`], and audits every refused call.
#[derive(Clone)]
struct AuthLayer {
    verifier: Arc<TokenVerifier>,
    db: Database,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            db: self.db.clone(),
        }
    }
}

#[derive(Clone)]
struct AuthService<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
    db: Database,
}

impl<S> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // Every answer carries the call's id back (the caller's own, or
        // one made here).
        let id = crate::telemetry::call_id(req.headers());
        req.headers_mut()
            .insert(crate::telemetry::CALL_ID_HEADER, id.clone());
        let answer = self.authorised(req);
        Box::pin(async move {
            let mut response = answer.await?;
            too_large_is_resource_exhausted(response.headers_mut());
            response
                .headers_mut()
                .insert(crate::telemetry::CALL_ID_HEADER, id);
            Ok(response)
        })
    }
}

/// A request message over the size limit is `RESOURCE_EXHAUSTED`, as the
/// gRPC protocol has it and the gateway answers (tonic's decoder says
/// `OUT_OF_RANGE`); its answer is trailers-only, so the status is in the
/// headers.
fn too_large_is_resource_exhausted(headers: &mut http::HeaderMap) {
    let decoder_refused = headers.get("grpc-status").is_some_and(|s| s == "11")
        && tonic::Status::from_header_map(headers).is_some_and(|s| {
            s.message()
                .starts_with("Error, decoded message length too large")
        });
    if decoder_refused {
        let status = ServiceError::resource_exhausted(
            "the request message is over the service's size limit",
            Duration::ZERO,
        )
        .with_reason("REQUEST_TOO_LARGE")
        .to_status();
        headers.remove("grpc-message");
        headers.remove("grpc-status-details-bin");
        let _ = status.add_header(headers);
    }
}

impl<S> AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    fn authorised(
        &mut self,
        mut req: http::Request<Body>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>> {
        // Keep the service that was polled ready; leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path().to_owned();
        if is_public(&path) {
            return Box::pin(inner.call(req));
        }
        let peer = req
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr());
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let verified = match token {
            None => Err(ServiceError::unauthenticated(
                "TOKEN_MISSING",
                "no bearer token: send `authorization: Bearer <token>`",
            )),
            Some(token) => self
                .verifier
                .verify(token, peer)
                .map_err(ServiceError::from),
        };
        let db = self.db.clone();
        match verified {
            Err(e) => Box::pin(async move {
                let peer = peer.map(|p| p.to_string()).unwrap_or_default();
                if let Err(audit_error) =
                    db.audit_denied(None, None, &peer, &path, e.message()).await
                {
                    tracing::warn!(error = %audit_error, "could not audit a refused call");
                }
                Ok(e.to_status().into_http())
            }),
            Ok(actor) if crate::access::decide(&path, actor.role) == Decision::Deny => {
                // The contract's callers, checked before the handler: the
                // same table, and the same words, as the gateway's.
                let refused = crate::access::refusal(&path, actor.role);
                Box::pin(async move {
                    if let Err(e) = db
                        .audit_denied(
                            Some(&actor),
                            None,
                            &actor.peer_text(),
                            &path,
                            refused.message(),
                        )
                        .await
                    {
                        tracing::warn!(error = %e, "could not audit a refused call");
                    }
                    Ok(refused.to_status().into_http())
                })
            }
            Ok(mut actor) => {
                actor.method = Arc::from(path.as_str());
                req.extensions_mut().insert(actor.clone());
                Box::pin(async move {
                    let response = inner.call(req).await?;
                    let status = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok());
                    if status == Some("7") {
                        let message = response
                            .headers()
                            .get("grpc-message")
                            .and_then(|v| v.to_str().ok())
                            .map(percent_decode)
                            .unwrap_or_default();
                        if let Err(e) = db
                            .audit_denied(Some(&actor), None, &actor.peer_text(), &path, &message)
                            .await
                        {
                            tracing::warn!(error = %e, "could not audit a refused call");
                        }
                    }
                    Ok(response)
                })
            }
        }
    }
}

/// Decodes the percent-encoding of a `grpc-message` header.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(is_public(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public("/cppcc.members.v1.MemberService/GetMember"));
    }

    #[test]
    fn grpc_messages_decode() {
        assert_eq!(percent_decode("a%20b%E5%A7%94"), "a b委");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
