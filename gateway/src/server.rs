//! The gateway: its connections (the public port, TLS and client
//! certificates, the admin port, the connection cap, the drain at shutdown)
//! and its health; each call's path is in the modules below. Every call is
//! admitted on its headers (token, the contract's callers, limits, route), its body read
//! only then, and sent to the next healthy endpoint of the service that
//! owns it; gRPC-Web and JSON calls are turned into gRPC on the way in and
//! back on the way out.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cppcc_kit::auth::{Actor, TokenVerifier};
use cppcc_kit::error::ServiceError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tonic::Code;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::descriptors;
use crate::frames;
use crate::json;
use crate::limits::{LimitArgs, Limits};
use crate::metrics::Metrics;
use crate::tls::{CertCaller, Tls};
use crate::upstream::{Refresh, Routes, Upstream};
use cppcc_kit::access::Decision;

mod admit;
mod call;
mod forward;
mod web;

pub use admit::OWNER_HEADER;
use admit::*;
use call::*;
use forward::*;
use web::*;

/// What the gateway needs to run.
pub struct Config {
    pub verifier: TokenVerifier,
    pub routes: Arc<Routes>,
    pub refresh: Refresh,
    pub limits: LimitArgs,
    /// The largest request body taken, in bytes.
    pub max_request_bytes: usize,
    /// Connections served at once (the public and admin ports together).
    pub max_connections: usize,
    /// Calls one HTTP/2 connection may have open at once.
    pub max_streams_per_connection: u32,
    /// The deadline of a call that names none.
    pub default_timeout: Duration,
    /// The longest deadline a call may have.
    pub max_timeout: Duration,
    /// Origins whose browsers may call (CORS); empty: same origin only.
    pub cors_origins: Vec<String>,
    /// After shutdown begins: how long health says NOT_SERVING before new
    /// connections are refused, and how long calls in flight then get.
    pub shutdown_delay: Duration,
    pub shutdown_grace: Duration,
    /// TLS on the public port, when configured.
    pub tls: Option<Tls>,
}

/// One connection: where it comes from and, over TLS with a client
/// certificate, the caller the certificate names (or why it names none).
#[derive(Debug)]
pub(crate) struct Conn {
    addr: SocketAddr,
    cert: Option<Result<CertCaller, String>>,
    /// Came in on the admin listener: health and metrics only.
    admin: bool,
    /// Its place among the connections served at once.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// A place for a new connection, or none (it is then closed at once).
fn connection_slot(
    connections: &Arc<tokio::sync::Semaphore>,
    peer: SocketAddr,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    let slot = connections.clone().try_acquire_owned().ok();
    if slot.is_none() {
        tracing::warn!(peer = %peer, "connection limit reached: closing a new connection");
    }
    slot
}

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The gateway, ready to serve.
pub struct Gateway {
    shared: Arc<Shared>,
    /// A plain-HTTP listener for health and metrics only (Kubernetes
    /// probes cannot speak TLS).
    admin: Option<TcpListener>,
}

struct Shared {
    config: Config,
    limits: Limits,
    metrics: Metrics,
    /// Health, reflection and the services the gateway answers itself.
    local: tonic::service::Routes,
    local_names: Vec<&'static str>,
    health: tonic_health::server::HealthReporter,
}

/// The next connection on the admin listener; never, without one.
async fn accept_admin(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

impl Gateway {
    /// A gateway over `config`'s routes, answering health and reflection
    /// for the whole suite itself.
    pub fn new(config: Config) -> Result<Gateway, cppcc_kit::BoxError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        // Every contract the suite serves through this port, with the
        // error details, so reflecting clients can read a refusal too.
        let reflection = cppcc_kit::reflection::Reflection::new(&descriptors::SETS, |s| {
            s.starts_with("cppcc.") || s == "grpc.health.v1.Health"
        })?;
        let local = tonic::service::Routes::new(health_service)
            .add_service(reflection.v1())
            .add_service(reflection.v1alpha());
        let limits = Limits::new(config.limits);
        Ok(Gateway {
            shared: Arc::new(Shared {
                config,
                limits,
                metrics: Metrics::default(),
                local,
                local_names: Vec::new(),
                health,
            }),
            admin: None,
        })
    }

    /// Adds a service the gateway answers itself (the annual report); its
    /// calls are authenticated and authorised like every other.
    pub fn add_local_service<S>(mut self, service: S) -> Gateway
    where
        S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let shared = Arc::get_mut(&mut self.shared).expect("not serving yet");
        shared.local = std::mem::take(&mut shared.local).add_service(service);
        shared.local_names.push(S::NAME);
        self
    }

    /// Also serves health and `/metrics` (nothing else) in plain HTTP on
    /// `listener`, for probes and scrapers when the public port is TLS.
    pub fn with_admin_listener(mut self, listener: TcpListener) -> Gateway {
        self.admin = Some(listener);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then drains.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), cppcc_kit::BoxError> {
        let shared = self.shared;
        let admin = self.admin;
        let (stop_tx, stop_rx) = watch::channel(false);
        shared
            .config
            .routes
            .resolve_all(shared.config.refresh.probe_timeout())
            .await;
        let follow = tokio::spawn(
            shared
                .config
                .routes
                .clone()
                .follow(shared.config.refresh, stop_rx.clone()),
        );
        let health = tokio::spawn(shared.clone().report_health(stop_rx.clone()));
        let delay = shared.config.shutdown_delay;
        let draining = shared.clone();
        let (closing_tx, mut closing_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(delay = ?delay, "shutting down: health now NOT_SERVING");
            draining
                .health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            tokio::time::sleep(delay).await;
            let _ = closing_tx.send(true);
        });

        let local = listener.local_addr()?;
        tracing::info!(addr = %local, "gateway serving");
        let mut http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        http.http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10))
            .max_concurrent_streams(shared.config.max_streams_per_connection)
            .max_header_list_size(cppcc_kit::error::MAX_HEADER_LIST_BYTES);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let connections = Arc::new(tokio::sync::Semaphore::new(shared.config.max_connections));
        // Handshakes run on their own tasks; the connections they open come
        // back here to be served (and drained at shutdown).
        let (handshaken_tx, mut handshaken) = mpsc::channel(64);
        loop {
            let (stream, addr) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                Ok((stream, addr)) = accept_admin(admin.as_ref()) => {
                    let Some(slot) = connection_slot(&connections, addr) else { continue };
                    let _ = stream.set_nodelay(true);
                    serve_connection(&http, &graceful, &shared, stream, Conn { addr, cert: None, admin: true, _slot: slot });
                    continue;
                }
                Some((stream, conn)) = handshaken.recv() => {
                    serve_connection(&http, &graceful, &shared, stream, conn);
                    continue;
                }
                _ = cppcc_kit::server::stopped(&mut closing_rx) => break,
            };
            let Some(slot) = connection_slot(&connections, addr) else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let Some(tls) = &shared.config.tls else {
                serve_connection(
                    &http,
                    &graceful,
                    &shared,
                    stream,
                    Conn {
                        addr,
                        cert: None,
                        admin: false,
                        _slot: slot,
                    },
                );
                continue;
            };
            let acceptor = tls.acceptor.clone();
            let names_callers = tls.certificates.is_some();
            let handshaken_tx = handshaken_tx.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, peer = %addr, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %addr, "TLS handshake timed out");
                            return;
                        }
                    };
                let cert = match stream.get_ref().1.peer_certificates() {
                    Some([leaf, ..]) if names_callers => Some(CertCaller::from_certificate(leaf)),
                    _ => None,
                };
                let _ = handshaken_tx
                    .send((
                        stream,
                        Conn {
                            addr,
                            cert,
                            admin: false,
                            _slot: slot,
                        },
                    ))
                    .await;
            });
        }
        drop(listener);
        drop(admin);
        tracing::info!("refusing new connections; finishing calls in flight");
        let grace = shared.config.shutdown_grace;
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?grace, "calls still open after the grace period; closing them");
        }
        let _ = stop_tx.send(true);
        let _ = tokio::join!(follow, health);
        tracing::info!("gateway stopped");
        Ok(())
    }
}

/// Serves HTTP/1.1 and HTTP/2 on one connection until it ends or the
/// gateway drains.
fn serve_connection<I>(
    http: &hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    shared: &Arc<Shared>,
    io: I,
    conn: Conn,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let addr = conn.addr;
    let conn = Arc::new(conn);
    let shared = shared.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(shared.handle(req, conn).await) }
    });
    let connection = http
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .into_owned();
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, peer = %addr, "connection ended with an error");
        }
    });
}

impl Shared {
    /// Keeps the gateway's health service saying, per service, whether a
    /// healthy endpoint serves it. The gateway itself (`""`) serves while
    /// it runs: one service down is not a reason to stop the others.
    async fn report_health(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        use tonic_health::ServingStatus;
        let mut tick = tokio::time::interval(self.config.refresh.health);
        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
        for name in &self.local_names {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = cppcc_kit::server::stopped(&mut stop) => return,
            }
            for service in descriptors::pool().services() {
                if let Some(upstream) = self.config.routes.find(service.full_name()) {
                    let status = if upstream.serving() {
                        ServingStatus::Serving
                    } else {
                        ServingStatus::NotServing
                    };
                    self.health
                        .set_service_status(service.full_name(), status)
                        .await;
                }
            }
        }
    }
}
