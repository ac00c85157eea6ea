//! The gateway's settings: flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cppcc_kit::auth::{AuthArgs, TokenIssuer, TokenVerifier};
use cppcc_kit::config::parse_duration;
use cppcc_kit::telemetry::TelemetryArgs;
use secrecy::SecretString;

use crate::limits::LimitArgs;
use crate::server::{self, Gateway};
use crate::tls::{self, Tls};
use crate::upstream::{Balanced, Refresh, Routes, Upstream};
use cppcc_reports::AnnualReports;

/// `cppcc-gateway`'s settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "cppcc-gateway",
    version,
    about = "The cppcc suite's public endpoint"
)]
pub struct Config {
    /// The public address.
    #[arg(
        long = "addr",
        env = "CPPCC_GATEWAY_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub addr: SocketAddr,
    /// A plain-HTTP address that serves only the gRPC health check and
    /// `GET /metrics`: for Kubernetes probes and scrapers when the public
    /// port speaks TLS. None when unset.
    #[arg(long = "admin-addr", env = "CPPCC_GATEWAY_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Threads that carry calls. Unset: one per CPU the process may use
    /// (its cgroup's quota counts). Fewer pays where the gateway shares a
    /// small machine with the services, as on a two-core node.
    #[arg(long, env = "CPPCC_GATEWAY_WORKER_THREADS")]
    pub worker_threads: Option<std::num::NonZeroUsize>,
    /// Where calls go, as `name=uri[,uri…]`: the name is a package
    /// (`cppcc.members.v1`) or a service (`cppcc.members.v1.MemberService`,
    /// which wins over its package); each uri is `http://host:port`, and a
    /// host that resolves to several addresses (a headless Kubernetes
    /// Service) gives one endpoint per address. Repeat the flag, or
    /// separate with `;`.
    #[arg(long = "route", env = "CPPCC_GATEWAY_ROUTES", value_delimiter = ';')]
    pub routes: Vec<String>,
    /// Calls a second each caller may make, sustained.
    #[arg(long, env = "CPPCC_GATEWAY_RATE_LIMIT", default_value_t = 200.0)]
    pub rate_limit: f64,
    /// Calls a caller may make at once above its rate.
    #[arg(long, env = "CPPCC_GATEWAY_RATE_BURST", default_value_t = 400.0)]
    pub rate_burst: f64,
    /// Calls a caller may have in flight at once.
    #[arg(long, env = "CPPCC_GATEWAY_CALLER_CONCURRENCY", default_value_t = 64)]
    pub caller_concurrency: usize,
    /// The largest request taken, in bytes.
    #[arg(long, env = "CPPCC_GATEWAY_MAX_REQUEST_BYTES", default_value_t = 4 << 20)]
    pub max_request_bytes: usize,
    /// Connections served at once; past this, new ones are closed at
    /// once (a flood of idle connections cannot exhaust the process).
    #[arg(long, env = "CPPCC_GATEWAY_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Calls one HTTP/2 connection may have open at once.
    #[arg(long, env = "CPPCC_GATEWAY_MAX_STREAMS", default_value_t = 1024)]
    pub max_streams_per_connection: u32,
    /// The deadline of a call that sets none.
    #[arg(long, env = "CPPCC_GATEWAY_DEFAULT_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub default_timeout: Duration,
    /// The longest deadline a call may have (longer ones are cut to this).
    #[arg(long, env = "CPPCC_GATEWAY_MAX_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    pub max_timeout: Duration,
    /// How often routes are resolved again.
    #[arg(long, env = "CPPCC_GATEWAY_DNS_REFRESH", default_value = "5s", value_parser = parse_duration)]
    pub dns_refresh: Duration,
    /// How often every endpoint's health is checked.
    #[arg(long, env = "CPPCC_GATEWAY_HEALTH_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub health_interval: Duration,
    /// How long connecting to an endpoint may take.
    #[arg(long, env = "CPPCC_GATEWAY_CONNECT_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Browser origins allowed to call (CORS), e.g. `https://dash.example`;
    /// `*` for any. None: same origin only.
    #[arg(
        long = "cors-origin",
        env = "CPPCC_GATEWAY_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// The longest the annual report may take (its four statistics calls
    /// under one deadline), whatever the caller allows.
    #[arg(long, env = "CPPCC_GATEWAY_REPORT_DEADLINE", default_value = "5s", value_parser = parse_duration)]
    pub report_deadline: Duration,
    /// On SIGTERM: how long health says NOT_SERVING before new connections
    /// are refused (so load balancers stop sending first).
    #[arg(long, env = "CPPCC_SHUTDOWN_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// Then how long calls in flight get to finish.
    #[arg(long, env = "CPPCC_SHUTDOWN_GRACE", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// The public port's certificate chain (PEM file); with `--tls-key`
    /// the port speaks TLS only (HTTP/2 and HTTP/1.1 by ALPN).
    #[arg(long, env = "CPPCC_GATEWAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of that certificate (PEM file).
    #[arg(long, env = "CPPCC_GATEWAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The CA certificates (PEM file) whose client certificates identify
    /// city and provincial systems: a certificate's subject common name is
    /// the id of its system's committee, which then calls in the upper
    /// committee role. Callers without a certificate still send tokens.
    /// Needs TLS and `--service-key`.
    #[arg(
        long,
        env = "CPPCC_GATEWAY_CLIENT_CA",
        requires = "tls_cert",
        requires = "service_key"
    )]
    pub client_ca: Option<PathBuf>,
    /// The Ed25519 private key (PEM text, or a file holding it) that signs
    /// the short-lived tokens of certificate callers; the gateway and the
    /// services must trust its public half (`--jwt-public-key`).
    #[arg(
        long = "service-key",
        env = "CPPCC_SERVICE_KEY",
        hide_env_values = true
    )]
    pub service_key: Option<SecretString>,
    /// The key id (`kid`) to put in those tokens.
    #[arg(long = "service-key-id", env = "CPPCC_SERVICE_KEY_ID")]
    pub service_key_id: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// The annual report, asking each statistics service through its route
/// (balanced over its endpoints, as every call is); a service without a
/// route is reported missing.
fn annual_report(routes: &Routes, deadline: Duration) -> AnnualReports<Balanced> {
    let to = |service: &str| {
        Balanced(
            routes
                .find(service)
                .cloned()
                .unwrap_or_else(|| Arc::new(Upstream::unrouted(service))),
        )
    };
    AnnualReports::new(
        to("cppcc.members.v1.EvaluationService"),
        to("cppcc.proposals.v1.ProposalAssessmentService"),
        to("cppcc.consultations.v1.ConsultationResultService"),
        to("cppcc.opinions.v1.OpinionReportService"),
        deadline,
    )
}

impl Config {
    /// TLS on the public port, as configured.
    fn tls(&self, verifier: &TokenVerifier) -> Result<Option<Tls>, cppcc_kit::BoxError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let certificates = match (&self.client_ca, &self.service_key) {
            (Some(_), Some(key)) => {
                let issuer =
                    TokenIssuer::for_service(key, self.service_key_id.clone(), &self.auth)?;
                tls::check_issuer(&issuer, verifier)?;
                Some(issuer)
            }
            _ => None,
        };
        let config = tls::server_config(cert, key, self.client_ca.as_deref())?;
        Ok(Some(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            certificates,
        }))
    }

    /// The gateway these settings describe.
    pub fn build(&self) -> Result<Gateway, cppcc_kit::BoxError> {
        if self.routes.is_empty() {
            return Err(
                "no routes: give --route package=http://host:port (or CPPCC_GATEWAY_ROUTES)".into(),
            );
        }
        if !(self.rate_limit > 0.0 && self.rate_burst >= 1.0 && self.caller_concurrency > 0) {
            return Err("--rate-limit must be above 0, --rate-burst at least 1 and --caller-concurrency at least 1".into());
        }
        let refresh = Refresh {
            dns: self.dns_refresh,
            health: self.health_interval,
            connect_timeout: self.connect_timeout,
        };
        let routes = Arc::new(Routes::parse(&self.routes, refresh)?);
        let report = annual_report(&routes, self.report_deadline);
        let verifier = TokenVerifier::from_args(&self.auth)?;
        let tls = self.tls(&verifier)?;
        let gateway = Gateway::new(server::Config {
            verifier,
            tls,
            routes,
            refresh,
            limits: LimitArgs {
                rate: self.rate_limit,
                burst: self.rate_burst,
                concurrency: self.caller_concurrency,
            },
            max_request_bytes: self.max_request_bytes,
            max_connections: self.max_connections.max(1),
            max_streams_per_connection: self.max_streams_per_connection.max(1),
            default_timeout: self.default_timeout.min(self.max_timeout),
            max_timeout: self.max_timeout,
            cors_origins: self.cors_origins.clone(),
            shutdown_delay: self.shutdown_delay,
            shutdown_grace: self.shutdown_grace,
        })?;
        Ok(gateway.add_local_service(report.into_server()))
    }
}
