//! Where calls go: routes from a service (or its package) to an upstream,
//! and each upstream's endpoints, resolved from DNS and refreshed (a
//! headless Kubernetes Service names every pod), probed with the gRPC health
//! check, and picked per request in turn among the healthy ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::watch;
use tonic::body::Body;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// One address behind a service name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parses `http://host:port` or `host:port`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let rest = text.trim();
        let rest = rest.strip_prefix("http://").unwrap_or(rest);
        if rest.starts_with("https://") {
            return Err(format!(
                "{text}: the gateway reaches services in plain HTTP/2 inside the cluster; TLS is for the public port"
            ));
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{text}: an upstream is `http://host:port`"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{text}: `{port}` is not a port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{text}: no host"));
        }
        Ok(Target {
            host: host.to_owned(),
            port,
        })
    }
}

/// The HTTP/2 client of one endpoint: requests go straight onto its
/// connection (no buffer task between), which it opens again when lost.
type Client = hyper_util::client::legacy::Client<HttpConnector, Body>;

/// One resolved endpoint (a pod), with its connection.
#[derive(Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    client: Client,
    authority: http::uri::Authority,
    healthy: AtomicBool,
    /// Calls sent here.
    pub calls: AtomicU64,
}

impl Endpoint {
    fn new(addr: SocketAddr, connect_timeout: Duration) -> Endpoint {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .http2_only(true)
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_keep_alive_timeout(Duration::from_secs(10))
            .http2_keep_alive_while_idle(true)
            .http2_max_header_list_size(cppcc_kit::error::MAX_HEADER_LIST_BYTES)
            .build(connector);
        Endpoint {
            addr,
            client,
            authority: addr
                .to_string()
                .parse()
                .expect("a socket address makes an authority"),
            healthy: AtomicBool::new(true),
            calls: AtomicU64::new(0),
        }
    }

    /// Sends one request (its URI a path) to this endpoint.
    pub async fn send(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Response<Body>, hyper_util::client::legacy::Error> {
        let mut uri = std::mem::take(request.uri_mut()).into_parts();
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(self.authority.clone());
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        *request.uri_mut() = http::Uri::from_parts(uri).expect("scheme, authority and path");
        let response = self.client.request(request).await?;
        Ok(response.map(Body::new))
    }

    /// Whether the last probe (or call) found it serving.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Takes it out of rotation until a probe finds it serving again (a call
    /// could not reach it).
    pub fn mark_down(&self) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(endpoint = %self.addr, "endpoint unreachable: out of rotation until it answers a health check");
        }
    }

    async fn probe(&self, timeout: Duration) {
        let origin = http::Uri::from_maybe_shared(format!("http://{}", self.authority))
            .expect("an authority makes an origin");
        let mut client = HealthClient::with_origin(self.client.clone(), origin);
        let answer = tokio::time::timeout(
            timeout,
            client.check(HealthCheckRequest {
                service: String::new(),
            }),
        )
        .await;
        let serving = matches!(
            answer,
            Ok(Ok(ref r)) if r.get_ref().status == ServingStatus::Serving as i32
        );
        let was = self.healthy.swap(serving, Ordering::Relaxed);
        if was != serving {
            if serving {
                tracing::info!(endpoint = %self.addr, "endpoint serving: back in rotation");
            } else {
                tracing::warn!(endpoint = %self.addr, "endpoint not serving: out of rotation");
            }
        }
    }
}

/// One upstream: the endpoints behind a route.
#[derive(Debug)]
pub struct Upstream {
    /// The route's name (a package or a service).
    pub name: String,
    targets: Vec<Target>,
    endpoints: RwLock<Arc<Vec<Arc<Endpoint>>>>,
    next: AtomicUsize,
    connect_timeout: Duration,
}

impl Upstream {
    fn new(name: String, targets: Vec<Target>, connect_timeout: Duration) -> Upstream {
        Upstream {
            name,
            targets,
            endpoints: RwLock::new(Arc::new(Vec::new())),
            next: AtomicUsize::new(0),
            connect_timeout,
        }
    }

    /// An upstream no route names: it has no endpoints, so calls to it are
    /// `UNAVAILABLE`.
    pub fn unrouted(name: &str) -> Upstream {
        Upstream::new(name.to_owned(), Vec::new(), Duration::ZERO)
    }

    /// The endpoints now known.
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.read().expect("not poisoned").clone()
    }

    /// Whether any endpoint is healthy.
    pub fn serving(&self) -> bool {
        self.endpoints().iter().any(|e| e.is_healthy())
    }

    /// The next endpoint in turn among the healthy ones, other than
    /// `except`; when none is healthy, the next of all (a stale probe must
    /// not stop every call).
    pub fn pick(&self, except: Option<SocketAddr>) -> Option<Arc<Endpoint>> {
        let all = self.endpoints();
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let candidates: Vec<&Arc<Endpoint>> = all
            .iter()
            .filter(|e| e.is_healthy() && Some(e.addr) != except)
            .collect();
        let chosen = if candidates.is_empty() {
            let rest: Vec<&Arc<Endpoint>> = all.iter().filter(|e| Some(e.addr) != except).collect();
            if rest.is_empty() {
                return None;
            }
            rest[turn % rest.len()]
        } else {
            candidates[turn % candidates.len()]
        };
        chosen.calls.fetch_add(1, Ordering::Relaxed);
        Some(chosen.clone())
    }

    /// Resolves every target again; keeps the endpoints (and connections)
    /// that are still named, adds the new ones, drops the rest. A name that
    /// does not resolve keeps what it had (DNS may blink).
    pub async fn refresh(&self) {
        let mut resolved = Vec::new();
        for target in &self.targets {
            match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
                Ok(addrs) => resolved.extend(addrs),
                Err(e) => {
                    tracing::warn!(upstream = %self.name, host = %target.host, error = %e, "cannot resolve; keeping the endpoints known");
                    return;
                }
            }
        }
        resolved.sort();
        resolved.dedup();
        let current = self.endpoints();
        let mut by_addr: HashMap<SocketAddr, Arc<Endpoint>> =
            current.iter().map(|e| (e.addr, e.clone())).collect();
        let next: Vec<Arc<Endpoint>> = resolved
            .iter()
            .map(|addr| {
                by_addr
                    .remove(addr)
                    .unwrap_or_else(|| Arc::new(Endpoint::new(*addr, self.connect_timeout)))
            })
            .collect();
        if next
            .iter()
            .map(|e| e.addr)
            .ne(current.iter().map(|e| e.addr))
        {
            tracing::info!(
                upstream = %self.name,
                endpoints = ?next.iter().map(|e| e.addr).collect::<Vec<_>>(),
                "endpoints changed"
            );
        }
        *self.endpoints.write().expect("not poisoned") = Arc::new(next);
    }

    /// Probes every endpoint once, in parallel.
    pub async fn probe(&self, timeout: Duration) {
        let endpoints = self.endpoints();
        futures::future::join_all(endpoints.iter().map(|e| e.probe(timeout))).await;
    }
}

/// How often to look again.
#[derive(Clone, Copy, Debug)]
pub struct Refresh {
    pub dns: Duration,
    pub health: Duration,
    pub connect_timeout: Duration,
}

impl Refresh {
    /// How long a health check may take.
    pub fn probe_timeout(&self) -> Duration {
        self.health.min(Duration::from_secs(2))
    }
}

/// Every route.
#[derive(Debug, Default)]
pub struct Routes {
    /// By route name: a package (`cppcc.members.v1`) or a service
    /// (`cppcc.members.v1.MemberService`).
    by_name: HashMap<String, Arc<Upstream>>,
}

impl Routes {
    /// Builds the routes from `name=uri[,uri…]` specs.
    pub fn parse(specs: &[String], refresh: Refresh) -> Result<Routes, String> {
        let mut by_name = HashMap::new();
        for spec in specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (name, uris) = spec.split_once('=').ok_or_else(|| {
                format!(
                    "route `{spec}`: write `package.or.Service=http://host:port[,http://host:port]`"
                )
            })?;
            let name = name.trim();
            if name.is_empty() || name.contains('/') {
                return Err(format!(
                    "route `{spec}`: `{name}` is not a package or service name"
                ));
            }
            let targets = uris
                .split(',')
                .map(Target::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("route `{spec}`: {e}"))?;
            let upstream = Arc::new(Upstream::new(
                name.to_owned(),
                targets,
                refresh.connect_timeout,
            ));
            if by_name.insert(name.to_owned(), upstream).is_some() {
                return Err(format!("route `{name}` is given twice"));
            }
        }
        Ok(Routes { by_name })
    }

    /// The upstream for a service: its own route, else its package's
    /// (the longest that matches).
    pub fn find(&self, service: &str) -> Option<&Arc<Upstream>> {
        if let Some(u) = self.by_name.get(service) {
            return Some(u);
        }
        let mut name = service;
        while let Some((package, _)) = name.rsplit_once('.') {
            if let Some(u) = self.by_name.get(package) {
                return Some(u);
            }
            name = package;
        }
        None
    }

    /// Every upstream.
    pub fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.by_name.values()
    }

    /// Resolves and probes every upstream once, then again on `refresh`'s
    /// intervals until `stop` turns true.
    pub async fn follow(self: Arc<Self>, refresh: Refresh, mut stop: watch::Receiver<bool>) {
        let mut dns = tokio::time::interval(refresh.dns);
        let mut health = tokio::time::interval(refresh.health);
        dns.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let probe_timeout = refresh.probe_timeout();
        loop {
            tokio::select! {
                _ = dns.tick() => {
                    futures::future::join_all(self.by_name.values().map(|u| u.refresh())).await;
                }
                _ = health.tick() => {
                    futures::future::join_all(self.by_name.values().map(|u| u.probe(probe_timeout))).await;
                }
                _ = cppcc_kit::server::stopped(&mut stop) => return,
            }
        }
    }

    /// Resolves and probes every upstream once (before serving), so that
    /// the first health answers and picks know which endpoints serve.
    pub async fn resolve_all(&self, probe_timeout: Duration) {
        futures::future::join_all(self.by_name.values().map(|u| async move {
            u.refresh().await;
            u.probe(probe_timeout).await;
        }))
        .await;
    }
}

/// A transport for generated clients that sends each call to the next
/// endpoint of an upstream (the annual report's fan-out uses it).
#[derive(Clone, Debug)]
pub struct Balanced(pub Arc<Upstream>);

impl tower::Service<http::Request<Body>> for Balanced {
    type Response = http::Response<Body>;
    type Error = tonic::Status;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let upstream = self.0.clone();
        Box::pin(async move {
            let endpoint = upstream.pick(None).ok_or_else(|| {
                tonic::Status::unavailable(format!(
                    "no endpoint serves {}: the gateway has no route to it, or none resolved",
                    upstream.name
                ))
            })?;
            let timeout = req
                .headers()
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(crate::frames::parse_timeout);
            let sent = endpoint.send(req);
            let response = match timeout {
                Some(t) => match tokio::time::timeout(t, sent).await {
                    Ok(r) => r,
                    Err(_) => {
                        return Err(tonic::Status::deadline_exceeded(format!(
                            "{} did not answer within the call's deadline",
                            upstream.name
                        )));
                    }
                },
                None => sent.await,
            };
            response.map_err(|e| {
                if let Some(status) = stream_error(&e, &upstream.name) {
                    return status;
                }
                endpoint.mark_down();
                tonic::Status::unavailable(format!(
                    "{} at {} cannot be reached: {}",
                    upstream.name,
                    endpoint.addr,
                    causes(&e)
                ))
            })
        })
    }
}

/// When a transport error is one stream's reset (the connection lives on),
/// the call's status: `REFUSED_STREAM` means the service took none of it
/// (`UNAVAILABLE`, safe to retry), any other reason that the answer could
/// not be carried (`INTERNAL`); the endpoint stays in rotation.
pub fn stream_error(e: &(dyn std::error::Error + 'static), service: &str) -> Option<tonic::Status> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            if !h2.is_reset() {
                return None;
            }
            let reason = h2.reason()?;
            return Some(if reason == h2::Reason::REFUSED_STREAM {
                cppcc_kit::ServiceError::unavailable(format!(
                    "{service} refused the call; retry it"
                ))
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

/// An error and its sources, `: `-separated (a transport error alone says
/// only "transport error").
pub fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh() -> Refresh {
        Refresh {
            dns: Duration::from_secs(5),
            health: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("http://members:50061").unwrap(),
            Target {
                host: "members".into(),
                port: 50061
            }
        );
        assert_eq!(Target::parse("[::1]:80").unwrap().host, "::1");
        assert!(Target::parse("members").is_err());
        assert!(Target::parse("https://members:1").is_err());
        assert!(Target::parse("members:http").is_err());
    }

    #[test]
    fn routes_find_the_service_then_the_longest_package() {
        let routes = Routes::parse(
            &[
                "cppcc.members.v1=http://127.0.0.1:1".into(),
                "cppcc.members.v1.MemberService=http://127.0.0.1:2,127.0.0.1:3".into(),
                "cppcc=http://127.0.0.1:4".into(),
            ],
            refresh(),
        )
        .unwrap();
        assert_eq!(
            routes.find("cppcc.members.v1.MemberService").unwrap().name,
            "cppcc.members.v1.MemberService"
        );
        assert_eq!(
            routes
                .find("cppcc.members.v1.CommitteeService")
                .unwrap()
                .name,
            "cppcc.members.v1"
        );
        assert_eq!(routes.find("cppcc.opinions.v1.X").unwrap().name, "cppcc");
        assert!(routes.find("other.v1.X").is_none());
        assert!(Routes::parse(&["a=http://h:1".into(), "a=http://h:2".into()], refresh()).is_err());
        assert!(Routes::parse(&["nothing".into()], refresh()).is_err());
    }

    #[tokio::test]
    async fn picks_in_turn_among_the_healthy() {
        let routes =
            Routes::parse(&["s=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3".into()], refresh()).unwrap();
        let upstream = routes.find("s").unwrap();
        upstream.refresh().await;
        assert_eq!(upstream.endpoints().len(), 3);
        let mut seen = HashMap::new();
        for _ in 0..300 {
            *seen
                .entry(upstream.pick(None).unwrap().addr.port())
                .or_insert(0) += 1;
        }
        assert_eq!(
            seen.values().copied().collect::<Vec<_>>(),
            vec![100, 100, 100]
        );
        upstream.endpoints()[1].mark_down();
        for _ in 0..100 {
            assert_ne!(upstream.pick(None).unwrap().addr.port(), 2);
        }
        let first = upstream.endpoints()[0].addr;
        for _ in 0..10 {
            let p = upstream.pick(Some(first)).unwrap().addr;
            assert_eq!(p.port(), 3);
        }
        // None healthy: still the next of all.
        upstream.endpoints().iter().for_each(|e| e.mark_down());
        assert!(upstream.pick(None).is_some());
    }
}
