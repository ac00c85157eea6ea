//! The gateway's request path: every call is read (within the size limit),
//! authenticated, checked against the policy and the caller's limits, given
//! a deadline, and sent to the next healthy endpoint of the service that
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
use crate::policy::{Decision, Policy};
use crate::tls::{CertCaller, Tls};
use crate::upstream::{Refresh, Routes, Upstream};

/// What the gateway needs to run.
pub struct Config {
    pub verifier: TokenVerifier,
    pub policy: Policy,
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

/// An upstream's CANCELLED this close to the deadline is the deadline.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

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

/// How a call came in, and so how it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Grpc,
    GrpcWeb,
    GrpcWebText,
    Json,
}

/// Headers not passed on: they describe one connection, not the call.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "content-length",
    "grpc-timeout",
];

fn is_health(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

fn is_public(path: &str) -> bool {
    is_health(path) || path.starts_with("/grpc.reflection.")
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

    async fn handle(self: Arc<Self>, req: Request<Incoming>, conn: Arc<Conn>) -> Response<Body> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let origin = parts.headers.get(header::ORIGIN).cloned();
        if conn.admin {
            if parts.method == Method::GET && path == "/metrics" {
                let text =
                    self.metrics.render() + &crate::metrics::render_endpoints(&self.config.routes);
                return plain(StatusCode::OK, "text/plain; version=0.0.4", text);
            }
            if !is_health(&path) {
                return plain(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "the admin port serves the gRPC health check and GET /metrics only\n",
                );
            }
        }
        if parts.method == Method::OPTIONS {
            return self.preflight(origin.as_ref());
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let protocol = if content_type.starts_with("application/grpc-web-text") {
            Protocol::GrpcWebText
        } else if content_type.starts_with("application/grpc-web") {
            Protocol::GrpcWeb
        } else if content_type.starts_with("application/grpc") {
            Protocol::Grpc
        } else if content_type.is_empty() || content_type.starts_with("application/json") {
            Protocol::Json
        } else {
            return json_error(
                &ServiceError::invalid(
                    "content-type",
                    format!(
                        "`{}` is not taken: send application/grpc, application/grpc-web(+proto), application/grpc-web-text or application/json",
                        cppcc_kit::text::prefix(&content_type, 60)
                    ),
                )
                .to_status(),
                Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            );
        };
        if parts.method != Method::POST {
            let status = ServiceError::invalid(
                "method",
                format!(
                    "calls are POST /package.Service/Method, not {} {}",
                    parts.method,
                    cppcc_kit::text::prefix(&path, 120)
                ),
            )
            .to_status();
            return self.refuse(protocol, status, Some(StatusCode::METHOD_NOT_ALLOWED));
        }
        // An HTTP/1.1 caller whose body is refused unread is told to close
        // (hyper does): a client that reused the socket would fail its next call.
        let http1 = parts.version < http::Version::HTTP_2;
        let mut response = match protocol {
            Protocol::Grpc => {
                self.clone()
                    .call(
                        parts.headers,
                        &path,
                        body,
                        (&conn, http1),
                        started,
                        Decode::Grpc,
                    )
                    .await
            }
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                let text = protocol == Protocol::GrpcWebText;
                let decode = if text {
                    Decode::GrpcWebText
                } else {
                    Decode::GrpcWeb
                };
                let response = self
                    .clone()
                    .call(parts.headers, &path, body, (&conn, http1), started, decode)
                    .await;
                to_grpc_web(response, text)
            }
            Protocol::Json => {
                self.clone()
                    .json(parts.headers, &path, body, (&conn, http1), started)
                    .await
            }
        };
        if protocol != Protocol::Grpc {
            self.cors(origin.as_ref(), response.headers_mut());
        }
        response
    }

    /// Reads the whole body, refusing one over the limit.
    async fn read_body(
        &self,
        declared: Option<usize>,
        body: Incoming,
    ) -> Result<Bytes, tonic::Status> {
        let limit = self.config.max_request_bytes;
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(too_large(limit))
            }
            Err(e) => Err(tonic::Status::cancelled(format!(
                "the request body could not be read: {e}"
            ))),
        }
    }

    /// A refusal before any call, in the caller's protocol.
    fn refuse(
        &self,
        protocol: Protocol,
        status: tonic::Status,
        http: Option<StatusCode>,
    ) -> Response<Body> {
        match protocol {
            Protocol::Grpc => status.into_http(),
            Protocol::GrpcWeb | Protocol::GrpcWebText => {
                to_grpc_web(status.into_http(), protocol == Protocol::GrpcWebText)
            }
            Protocol::Json => json_error(&status, http),
        }
    }

    fn preflight(&self, origin: Option<&HeaderValue>) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if self.cors(origin, response.headers_mut()) {
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "authorization, content-type, grpc-timeout, x-grpc-web, x-user-agent, traceparent, tracestate, connect-protocol-version, connect-timeout-ms, cppcc-service, x-request-id",
                ),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        } else {
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        response
    }

    /// Adds the CORS headers when the origin may call; says whether it may.
    fn cors(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) -> bool {
        let Some(origin) = origin else { return false };
        let allowed = self
            .config
            .cors_origins
            .iter()
            .any(|o| o == "*" || origin.as_bytes() == o.as_bytes());
        if allowed {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "grpc-status, grpc-message, grpc-status-details-bin, x-request-id",
                ),
            );
            headers.insert(header::VARY, HeaderValue::from_static("origin"));
        }
        allowed
    }

    async fn json(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        conn: (&Conn, bool),
        started: Instant,
    ) -> Response<Body> {
        let Some(method) = descriptors::method(path) else {
            let status = tonic::Status::unimplemented(format!(
                "no method at {}: JSON calls are POST /package.Service/Method, e.g. /cppcc.members.v1.CommitteeService/GetCommittee",
                cppcc_kit::text::prefix(path, 120)
            ));
            return json_error(&status, Some(StatusCode::NOT_FOUND));
        };
        if method.is_client_streaming() || method.is_server_streaming() {
            let status = tonic::Status::unimplemented(format!(
                "{} streams; JSON takes unary calls only: use gRPC or gRPC-Web",
                method.full_name()
            ));
            return json_error(&status, None);
        }
        let response = self
            .call(
                headers,
                path,
                body,
                conn,
                started,
                Decode::Json(method.clone()),
            )
            .await;
        let (parts, body) = response.into_parts();
        let kept: Vec<_> = [
            HeaderName::from_static(cppcc_kit::telemetry::CALL_ID_HEADER),
            header::CONNECTION,
        ]
        .into_iter()
        .filter_map(|name| Some((name.clone(), parts.headers.get(&name)?.clone())))
        .collect();
        let mut answer = Self::json_answer(&method, parts.headers, body).await;
        for (name, value) in kept {
            answer.headers_mut().insert(name, value);
        }
        answer
    }

    /// A gRPC answer as JSON.
    async fn json_answer(
        method: &prost_reflect::MethodDescriptor,
        headers: HeaderMap,
        body: Body,
    ) -> Response<Body> {
        let (data, trailers) = match body.collect().await {
            Ok(c) => {
                let trailers = c.trailers().cloned().unwrap_or_default();
                (c.to_bytes(), trailers)
            }
            Err(status) => return json_error(&status, None),
        };
        let status = tonic::Status::from_header_map(&trailers)
            .or_else(|| tonic::Status::from_header_map(&headers))
            .unwrap_or_else(|| tonic::Status::unknown("the service's answer has no grpc-status"));
        if status.code() != Code::Ok {
            return json_error(&status, None);
        }
        match json::response(method, &data) {
            Ok(body) => plain(StatusCode::OK, "application/json", body),
            Err(e) => json_error(&e.to_status(), None),
        }
    }

    /// One call, in gRPC: admitted on its headers alone (token, policy,
    /// limits, route), its body read only then, answered locally or
    /// forwarded, and counted. Always answers (errors as trailers-only
    /// responses).
    async fn call(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        conn: (&Conn, bool),
        started: Instant,
        decode: Decode,
    ) -> Response<Body> {
        let mut headers = headers;
        let id = cppcc_kit::telemetry::call_id(&headers);
        headers.insert(cppcc_kit::telemetry::CALL_ID_HEADER, id.clone());
        let span = cppcc_kit::telemetry::gateway_span(path, &headers);
        let this = self.clone();
        async move {
            let mut caller = String::from("anonymous");
            let result = this
                .clone()
                .admit_and_send(headers, path, body, conn, decode, &mut caller)
                .await;
            let mut response = result.unwrap_or_else(|status| status.into_http());
            response
                .headers_mut()
                .insert(cppcc_kit::telemetry::CALL_ID_HEADER, id);
            let code = status_of(&response);
            let span = tracing::Span::current();
            span.record("rpc.grpc.status_code", code as i32);
            span.record("caller", caller.as_str());
            // Only known methods name a series: a path a caller makes up
            // counts under one label.
            let known = descriptors::method(path).is_some()
                || is_public(path)
                || path
                    .strip_prefix('/')
                    .and_then(|p| p.split_once('/'))
                    .is_some_and(|(s, _)| this.local_names.contains(&s));
            let label = if known { path } else { "unknown" };
            this.metrics.record(label, code, &caller, started.elapsed());
            response
        }
        .instrument(span)
        .await
    }

    async fn admit_and_send(
        self: Arc<Self>,
        headers: HeaderMap,
        path: &str,
        body: Incoming,
        (conn, http1): (&Conn, bool),
        decode: Decode,
        caller: &mut String,
    ) -> Result<Response<Body>, tonic::Status> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let admitted = self.admit(headers, path, conn, caller)?;
        let limit = self.config.max_request_bytes;
        if is_public(path) && matches!(decode, Decode::Grpc) {
            // Health and reflection read their requests as they come
            // (reflection answers each question on an open stream).
            let body = Limited::new(body, limit).map_err(move |e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large(limit)
                } else {
                    tonic::Status::cancelled(format!("the request body could not be read: {e}"))
                }
            });
            return Ok(self
                .local(admitted.headers, path, Body::new(body), admitted.timeout)
                .await);
        }
        let raw = match self.read_body(declared, body).await {
            Ok(raw) => raw,
            Err(status) => {
                let mut refusal = status.into_http();
                if http1 {
                    refusal
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return Ok(refusal);
            }
        };
        let (mut headers, body) = (admitted.headers, decode.into_grpc(raw)?);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        match admitted.target {
            Target::Local => Ok(self
                .local(
                    headers,
                    path,
                    Body::new(http_body_util::Full::new(body)),
                    admitted.timeout,
                )
                .await),
            Target::Upstream(upstream) => {
                let timeout = admitted.timeout.unwrap_or(self.config.default_timeout);
                let streaming = descriptors::method(path).is_some_and(|m| m.is_server_streaming());
                forward(&upstream, headers, path, body, timeout, streaming).await
            }
        }
    }

    /// Lets a call through on its headers alone, or says why not: the
    /// caller's token (health and reflection need none), the policy table,
    /// the caller's limits, and where the call goes. The headers come back
    /// ready to send on.
    fn admit(
        &self,
        mut headers: HeaderMap,
        path: &str,
        conn: &Conn,
        caller: &mut String,
    ) -> Result<Admitted, tonic::Status> {
        if is_public(path) {
            return Ok(Admitted {
                headers,
                target: Target::Local,
                timeout: None,
                _permit: None,
            });
        }
        let Some((service, _)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Err(tonic::Status::unimplemented(format!(
                "`{}` is not a gRPC method path (/package.Service/Method)",
                cppcc_kit::text::prefix(path, 120)
            )));
        };
        let actor = self.authenticate(&headers, path, conn)?;
        *caller = format!("{}@{}", actor.role, actor.committee().unwrap_or("*"));
        let method = &path[1..];
        match self.config.policy.decide(method, actor.role) {
            Decision::Allow => {}
            Decision::Unlisted
                if descriptors::method(path).is_none() && !self.local_names.contains(&service) =>
            {
                let service = cppcc_kit::text::prefix(service, 120);
                let known = self.config.routes.find(&service).is_some();
                return Err(tonic::Status::unimplemented(if known {
                    format!(
                        "{service} has no method `{}`",
                        cppcc_kit::text::prefix(&method[service.len() + 1..], 120)
                    )
                } else {
                    format!("no service `{service}` behind this gateway")
                }));
            }
            decision => {
                let roles = self.config.policy.roles(method);
                let message = if decision == Decision::Unlisted {
                    format!("{method} is not in the gateway's policy, so no role may call it")
                } else {
                    format!(
                        "the {} role may not call {method}; it takes one of: {}",
                        actor.role,
                        roles
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                audit_denied(Some(&actor), conn.addr, path, "POLICY_DENIED", &message);
                return Err(ServiceError::permission_denied(message)
                    .with_reason("POLICY_DENIED")
                    .to_status());
            }
        }
        let target = if self.local_names.contains(&service) {
            Target::Local
        } else {
            Target::Upstream(self.route(service, &headers)?)
        };
        let key = format!(
            "{}|{}|{}",
            actor.subject,
            actor.role,
            actor.committee().unwrap_or("*")
        );
        let permit = self.limits.admit(&key).map_err(|e| {
            audit_denied(Some(&actor), conn.addr, path, e.reason(), e.message());
            e.to_status()
        })?;
        let timeout = headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(frames::parse_timeout)
            .unwrap_or(self.config.default_timeout)
            .min(self.config.max_timeout);
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        headers.remove(OWNER_HEADER);
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", actor.bearer)) {
            headers.insert(header::AUTHORIZATION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&conn.addr.ip().to_string()) {
            headers.append(HeaderName::from_static("x-forwarded-for"), v);
        }
        cppcc_kit::telemetry::inject_headers(&tracing::Span::current(), &mut headers);
        Ok(Admitted {
            headers,
            target,
            timeout: Some(timeout),
            _permit: Some(permit),
        })
    }

    /// The upstream that serves `service`. Every service also serves the
    /// shared packages (its event stream, its audit log): a call to one of
    /// those names the service it is for in the `cppcc-service` header
    /// (`members`, `proposals`, … or the package, `cppcc.members.v1`);
    /// without it, a route configured for the shared package itself.
    fn route(&self, service: &str, headers: &HeaderMap) -> Result<Arc<Upstream>, tonic::Status> {
        let routes = &self.config.routes;
        let shared = SHARED_PACKAGES.iter().any(|p| {
            service
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('.'))
        });
        let unrouted = || {
            tonic::Status::unimplemented(format!(
                "no service `{}` behind this gateway",
                cppcc_kit::text::prefix(service, 120)
            ))
        };
        if !shared {
            return routes.find(service).cloned().ok_or_else(unrouted);
        }
        let owners = || {
            let mut names: Vec<&str> = routes
                .upstreams()
                .map(|u| u.name.as_str())
                .filter_map(|n| n.strip_prefix("cppcc.")?.strip_suffix(".v1"))
                .filter(|n| !SHARED_PACKAGES.contains(&format!("cppcc.{n}.v1").as_str()))
                .collect();
            names.sort_unstable();
            names.join(", ")
        };
        let Some(owner) = headers.get(OWNER_HEADER) else {
            return routes.find(service).cloned().ok_or_else(|| {
                ServiceError::invalid(
                    OWNER_HEADER,
                    format!(
                        "every service has its own {service}: name whose in the `{OWNER_HEADER}` header (one of: {})",
                        owners()
                    ),
                )
                .to_status()
            });
        };
        let owner = owner.to_str().unwrap_or("").trim();
        let package = if owner.starts_with("cppcc.") {
            owner.to_owned()
        } else {
            format!("cppcc.{owner}.v1")
        };
        let well_formed = !owner.is_empty()
            && owner.len() <= 64
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        routes
            .find(&package)
            .filter(|u| well_formed && !SHARED_PACKAGES.contains(&u.name.as_str()))
            .cloned()
            .ok_or_else(|| {
                ServiceError::invalid(
                    OWNER_HEADER,
                    format!(
                        "`{}` is no service behind this gateway; name one of: {}",
                        cppcc_kit::text::prefix(owner, 64),
                        owners()
                    ),
                )
                .to_status()
            })
    }

    /// Verifies the bearer token or, without one, takes the caller a
    /// client certificate names; audits a refusal.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        conn: &Conn,
    ) -> Result<Actor, tonic::Status> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let verifier = &self.config.verifier;
        let issuer = self
            .config
            .tls
            .as_ref()
            .and_then(|t| t.certificates.as_ref());
        let verified = match (token, &conn.cert, issuer) {
            (Some(token), _, _) => verifier
                .verify(token, Some(conn.addr))
                .map_err(ServiceError::from),
            (None, Some(Ok(cert)), Some(issuer)) => cert
                .actor(issuer, verifier, Some(conn.addr))
                .map_err(ServiceError::from),
            (None, Some(Err(why)), _) => Err(ServiceError::unauthenticated(
                "CERTIFICATE_UNUSABLE",
                why.clone(),
            )),
            (None, _, _) => Err(ServiceError::unauthenticated(
                "TOKEN_MISSING",
                "no bearer token: send `authorization: Bearer <token>`",
            )),
        };
        verified.map_err(|e| {
            audit_denied(None, conn.addr, path, e.reason(), e.message());
            e.to_status()
        })
    }

    /// Answers from the gateway's own services, within the call's deadline
    /// when it has one (health and reflection have none).
    async fn local(
        &self,
        headers: HeaderMap,
        path: &str,
        body: Body,
        timeout: Option<Duration>,
    ) -> Response<Body> {
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path.parse().unwrap_or_default();
        *request.headers_mut() = headers;
        if let Some(t) = timeout
            && let Ok(v) = HeaderValue::from_str(&frames::format_timeout(t))
        {
            request.headers_mut().insert("grpc-timeout", v);
        }
        let answer = self.local.clone().oneshot(request);
        let answered = match timeout {
            None => answer.await,
            Some(t) => match tokio::time::timeout(t, answer).await {
                Ok(r) => r,
                Err(_) => return deadline_exceeded(t).into_http(),
            },
        };
        match answered {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}

/// A call let through, and what it holds while it runs.
struct Admitted {
    /// The headers to send on.
    headers: HeaderMap,
    target: Target,
    /// The call's deadline (none for health and reflection).
    timeout: Option<Duration>,
    _permit: Option<crate::limits::Permit>,
}

/// Where an admitted call goes.
enum Target {
    /// The gateway's own services: health, reflection, the annual report.
    Local,
    Upstream(Arc<Upstream>),
}

/// How a call's body becomes gRPC messages.
enum Decode {
    Grpc,
    GrpcWeb,
    GrpcWebText,
    Json(prost_reflect::MethodDescriptor),
}

impl Decode {
    fn into_grpc(self, body: Bytes) -> Result<Bytes, tonic::Status> {
        let body = match self {
            Decode::Grpc => return Ok(body),
            Decode::Json(method) => {
                return json::request(&method, &body).map_err(|e| e.to_status());
            }
            Decode::GrpcWebText => Bytes::from(
                frames::decode_text(&body)
                    .map_err(|e| ServiceError::invalid("body", e.to_string()).to_status())?,
            ),
            Decode::GrpcWeb => body,
        };
        frames::split_messages(&body).map_err(|e| {
            ServiceError::invalid("body", format!("not a gRPC-Web request: {e}")).to_status()
        })?;
        Ok(body)
    }
}

/// The packages every service serves: the call says whose it wants.
const SHARED_PACKAGES: [&str; 2] = ["cppcc.events.v1", "cppcc.audit.v1"];

/// The header naming the service a shared package's call is for.
pub const OWNER_HEADER: &str = "cppcc-service";

fn too_large(limit: usize) -> tonic::Status {
    ServiceError::resource_exhausted(
        format!("the request is over the gateway's limit of {limit} bytes"),
        Duration::ZERO,
    )
    .with_reason("REQUEST_TOO_LARGE")
    .to_status()
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

fn deadline_exceeded(timeout: Duration) -> tonic::Status {
    ServiceError::deadline_exceeded(format!(
        "no answer within the call's deadline of {} ms",
        timeout.as_millis()
    ))
    .to_status()
}

/// Whether a transport error means the request never reached the service
/// (so another endpoint may take it).
fn never_sent(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable
            )
        {
            return true;
        }
        if err.to_string().contains("connect") && !err.to_string().contains("connection") {
            return true;
        }
        source = err.source();
    }
    false
}

/// When a transport error is one stream's reset (the connection lives on),
/// the call's status: `REFUSED_STREAM` means the service took none of it
/// (`UNAVAILABLE`, safe to retry), any other reason that the answer could
/// not be carried (`INTERNAL`); the endpoint stays in rotation.
fn stream_error(e: &(dyn std::error::Error + 'static), service: &str) -> Option<tonic::Status> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            if !h2.is_reset() {
                return None;
            }
            let reason = h2.reason()?;
            return Some(if reason == h2::Reason::REFUSED_STREAM {
                ServiceError::unavailable(format!("{service} refused the call; retry it"))
                    .to_status()
            } else {
                tonic::Status::internal(format!(
                    "{service} reset the call ({reason}): its answer could not be carried"
                ))
            });
        }
        source = err.source();
    }
    None
}

/// Sends a call to the next healthy endpoint; when that endpoint cannot be
/// reached at all, to the next one (the call never left the gateway).
/// Unary answers are read whole within the deadline; streams pass through.
async fn forward(
    upstream: &Upstream,
    headers: HeaderMap,
    path: &str,
    body: Bytes,
    timeout: Duration,
    streaming: bool,
) -> Result<Response<Body>, tonic::Status> {
    let deadline = tokio::time::Instant::now() + timeout;
    let attempts = upstream.endpoints().len().clamp(1, 3);
    let mut except = None;
    let mut last_error = None;
    for _ in 0..attempts {
        let Some(endpoint) = upstream.pick(except) else {
            break;
        };
        let mut request = Request::new(Body::new(http_body_util::Full::new(body.clone())));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path
            .parse()
            .map_err(|_| tonic::Status::invalid_argument(format!("`{path}` is not a path")))?;
        *request.headers_mut() = headers.clone();
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if let Ok(v) = HeaderValue::from_str(&frames::format_timeout(remaining)) {
            request.headers_mut().insert("grpc-timeout", v);
        }
        let sent = tokio::time::timeout_at(deadline, endpoint.send(request)).await;
        let response = match sent {
            Err(_) => return Err(deadline_exceeded(timeout)),
            Ok(Err(e)) => {
                if let Some(status) = stream_error(&e, &upstream.name) {
                    // This call's stream was reset; the connection, and
                    // every other call on it, carries on.
                    tracing::warn!(endpoint = %endpoint.addr, error = %e, "upstream reset the call");
                    return Err(status);
                }
                let unsent = never_sent(&e);
                endpoint.mark_down();
                let message = format!(
                    "{} at {} cannot be reached: {}",
                    upstream.name,
                    endpoint.addr,
                    crate::upstream::causes(&e)
                );
                tracing::warn!(endpoint = %endpoint.addr, error = %e, unsent, "upstream call failed");
                if unsent {
                    except = Some(endpoint.addr);
                    last_error = Some(message);
                    continue;
                }
                return Err(ServiceError::unavailable(message).to_status());
            }
            Ok(Ok(r)) => r,
        };
        if streaming {
            return Ok(within_deadline(response, deadline, timeout));
        }
        let (parts, body) = response.into_parts();
        let collected = match tokio::time::timeout_at(deadline, body.collect()).await {
            Err(_) => return Err(deadline_exceeded(timeout)),
            Ok(Err(status)) => return Err(status),
            Ok(Ok(c)) => c,
        };
        let trailers = collected.trailers().cloned();
        // A service ends a call at the deadline it was sent (tonic says
        // CANCELLED), a hair before the gateway's own timer: that is the
        // caller's deadline passing.
        let cancelled = |h: &HeaderMap| h.get("grpc-status").is_some_and(|v| v == "1");
        if (cancelled(&parts.headers) || trailers.as_ref().is_some_and(cancelled))
            && deadline.saturating_duration_since(tokio::time::Instant::now()) < DEADLINE_SLACK
        {
            return Err(deadline_exceeded(timeout));
        }
        let data = collected.to_bytes();
        if data.is_empty() && trailers.is_none() {
            // Trailers-only (the status in the one HEADERS frame): it stays
            // so, an empty body ending the stream with the headers.
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let mut frames: Vec<Result<Frame<Bytes>, tonic::Status>> = Vec::with_capacity(2);
        if !data.is_empty() {
            frames.push(Ok(Frame::data(data)));
        }
        if let Some(t) = trailers {
            frames.push(Ok(Frame::trailers(t)));
        }
        let body = StreamBody::new(futures::stream::iter(frames));
        return Ok(Response::from_parts(parts, Body::new(body)));
    }
    Err(ServiceError::unavailable(last_error.unwrap_or_else(|| {
        format!(
            "{} has no endpoint: its route resolves to no address",
            upstream.name
        )
    }))
    .to_status())
}

/// A server stream that ends at the call's deadline: its messages pass as
/// they come, and if the deadline comes first the stream ends with
/// `DEADLINE_EXCEEDED` trailers (dropping the upstream stream cancels it at
/// the service). A trailers-only answer passes as it is.
fn within_deadline(
    response: Response<Body>,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> Response<Body> {
    use futures::StreamExt as _;
    if response.headers().contains_key("grpc-status") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let frames = futures::stream::unfold(
        Some(http_body_util::BodyStream::new(body)),
        move |body| async move {
            let mut body = body?;
            tokio::select! {
                frame = body.next() => frame.map(|f| (f, Some(body))),
                _ = tokio::time::sleep_until(deadline) => {
                    let mut trailers = HeaderMap::new();
                    let _ = deadline_exceeded(timeout).add_header(&mut trailers);
                    Some((Ok(Frame::trailers(trailers)), None))
                }
            }
        },
    );
    Response::from_parts(parts, Body::new(StreamBody::new(frames)))
}

/// The call's gRPC code, from a trailers-only answer's headers or a
/// buffered answer's trailers (a stream in progress counts as OK).
fn status_of(response: &Response<Body>) -> Code {
    if let Some(v) = response.headers().get("grpc-status") {
        return v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .map(Code::from)
            .unwrap_or(Code::Unknown);
    }
    Code::Ok
}

/// Turns a gRPC answer into gRPC-Web: the trailers become the last frame.
fn to_grpc_web(response: Response<Body>, text: bool) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if text {
            "application/grpc-web-text+proto"
        } else {
            "application/grpc-web+proto"
        }),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.status = StatusCode::OK;
    let encode = move |chunk: Bytes| {
        if text {
            frames::encode_text(&chunk)
        } else {
            chunk
        }
    };
    if parts.headers.contains_key("grpc-status") {
        // Trailers only: the status goes into the trailer frame.
        let mut trailers = HeaderMap::new();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            if let Some(v) = parts.headers.remove(name) {
                trailers.insert(name, v);
            }
        }
        let frame = encode(frames::trailer_frame(&trailers));
        return Response::from_parts(parts, Body::new(http_body_util::Full::new(frame)));
    }
    let body = body.map_frame(move |frame| match frame.into_data() {
        Ok(data) => Frame::data(encode(data)),
        Err(frame) => match frame.into_trailers() {
            Ok(trailers) => Frame::data(encode(frames::trailer_frame(&trailers))),
            Err(_) => Frame::data(Bytes::new()),
        },
    });
    Response::from_parts(parts, Body::new(body))
}

fn plain(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(body.into())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An error as a JSON answer, with the HTTP status of its code (or `http`).
fn json_error(status: &tonic::Status, http: Option<StatusCode>) -> Response<Body> {
    use tonic_types::StatusExt as _;
    let too_large = status
        .get_details_error_info()
        .is_some_and(|i| i.reason == "REQUEST_TOO_LARGE");
    let http = http.or(too_large.then_some(StatusCode::PAYLOAD_TOO_LARGE));
    let mut response = plain(
        http.unwrap_or_else(|| json::http_status(status.code())),
        "application/json",
        json::error(status),
    );
    if status.code() == Code::ResourceExhausted
        && let Some(retry) = retry_after_seconds(status)
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry));
    }
    response
}

fn retry_after_seconds(status: &tonic::Status) -> Option<u64> {
    use tonic_types::StatusExt as _;
    let delay = status.get_details_retry_info()?.retry_delay?;
    Some(delay.as_secs_f64().ceil().max(1.0) as u64)
}

/// Records a refused call in the audit stream (the gateway keeps no
/// records of its own; the log collector keeps these lines).
fn audit_denied(actor: Option<&Actor>, peer: SocketAddr, path: &str, reason: &str, message: &str) {
    tracing::warn!(
        target: "cppcc::audit",
        outcome = "denied",
        subject = actor.map(|a| a.subject.as_str()).unwrap_or(""),
        role = actor.map(|a| a.role.as_str()).unwrap_or(""),
        committee = actor.and_then(|a| a.committee()).unwrap_or(""),
        peer = %peer,
        method = path,
        reason,
        message,
        "call refused at the gateway"
    );
}
