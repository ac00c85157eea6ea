//! The gateway over real sockets, in front of real members services on a
//! real PostgreSQL: gRPC (tonic), gRPC-Web and JSON (curl, a client none of
//! us wrote), the contracts' callers, the caller's limits, deadlines, refusals,
//! and load balancing over two members-service processes.

mod balance;
mod framing;
mod policy;
mod protocols;
mod refusals;
mod report;
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser as _;
use cppcc_gateway::config::Config;
use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_tests::{Running, TestDatabase};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Code;
use tonic_types::StatusExt as _;

pub const SUIXIAN: &str = "committees/suixian";

/// A gateway serving on a loopback port.
pub struct Gateway {
    pub addr: SocketAddr,
    /// The plain admin port (health and metrics).
    pub admin_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), cppcc_kit::BoxError>>,
}

impl Gateway {
    /// Starts one with `routes` and whatever `tweak` changes.
    pub async fn start(routes: &[String], tweak: impl FnOnce(&mut Config)) -> Gateway {
        let mut config = Config::try_parse_from([
            "cppcc-gateway",
            "--addr",
            "127.0.0.1:0",
            "--health-interval",
            "200ms",
            "--dns-refresh",
            "1s",
            "--rate-limit",
            "100000",
            "--rate-burst",
            "100000",
            "--caller-concurrency",
            "10000",
            "--shutdown-delay",
            "0s",
            "--log-filter",
            "warn",
        ])
        .expect("the test settings parse");
        config.routes = routes.to_vec();
        config.auth = cppcc_tests::auth_args();
        tweak(&mut config);
        let gateway = config.build().expect("the gateway builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_addr = admin.local_addr().unwrap();
        let gateway = gateway.with_admin_listener(admin);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        Gateway {
            addr,
            admin_addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn channel(&self) -> tonic::transport::Channel {
        cppcc_kit::client::channel(&self.url()).unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// A members service on its own fresh database.
pub async fn members(db: &TestDatabase) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = cppcc_members::server(&members_config(db, listener.local_addr().unwrap()))
        .await
        .expect("the members service starts");
    cppcc_tests::serve_on(server, listener).await
}

pub fn members_config(db: &TestDatabase, addr: SocketAddr) -> cppcc_members::Config {
    cppcc_members::Config {
        addr,
        database: db.args("members"),
        auth: cppcc_tests::auth_args(),
        pii: cppcc_tests::pii_args(),
        intake: cppcc_members::intake::IntakeArgs {
            follow: Vec::new(),
            service_key: None,
            service_key_id: None,
        },
        server: cppcc_tests::server_args(),
        telemetry: cppcc_kit::telemetry::TelemetryArgs {
            log_format: Default::default(),
            log_filter: "warn".into(),
        },
    }
}

/// A route of every cppcc package: members to `members`, the rest to
/// `others` (a port where nothing listens, unless a test says otherwise).
pub fn routes(members: SocketAddr, others: SocketAddr) -> Vec<String> {
    let mut routes = vec![format!("cppcc.members.v1=http://{members}")];
    for package in [
        "cppcc.proposals.v1",
        "cppcc.consultations.v1",
        "cppcc.opinions.v1",
        "cppcc.audit.v1",
        "cppcc.events.v1",
    ] {
        routes.push(format!("{package}=http://{others}"));
    }
    routes
}

/// Creates 随县's committee as its admin, over `channel`.
pub async fn create_suixian(channel: tonic::transport::Channel) {
    cppcc_proto::members::v1::committee_service_client::CommitteeServiceClient::with_interceptor(
        channel,
        cppcc_kit::client::Bearer::new(&token(Role::Admin)),
    )
    .create_committee(cppcc_proto::members::v1::CreateCommitteeRequest {
        committee_id: "suixian".into(),
        committee: Some(cppcc_proto::members::v1::Committee {
            display_name: "政协随县委员会".into(),
            level: cppcc_proto::common::v1::CommitteeLevel::County as i32,
            current_term: 4,
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A token for `role` in 随县 (members and units with a name of their own).
pub fn token(role: Role) -> String {
    let committee = if role == Role::Service {
        "*"
    } else {
        "suixian"
    };
    cppcc_tests::token_with(TokenRequest {
        subject: &format!("test-{role}"),
        role,
        committee,
        member: (role == Role::Member).then_some("committees/suixian/members/m0000001"),
        unit: (role == Role::HandlingUnit).then_some("committees/suixian/units/u1"),
        ttl: Duration::from_secs(3600),
    })
}

/// An empty message for any method: `()` encodes as nothing and decodes
/// whatever comes back.
pub type Raw = tonic_prost::ProstCodec<(), ()>;

/// Calls `path` over gRPC with an empty request; the code and the
/// `ErrorInfo` reason of the answer.
pub async fn grpc_raw(
    channel: tonic::transport::Channel,
    path: &str,
    token: Option<&str>,
    timeout: Option<Duration>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut req = tonic::Request::new(());
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    // Written by hand, so only the gateway keeps the deadline (tonic's
    // own timer would otherwise fire first).
    if let Some(t) = timeout {
        req.metadata_mut().insert(
            "grpc-timeout",
            format!("{}m", t.as_millis()).parse().unwrap(),
        );
    }
    match grpc.unary(req, path.parse().unwrap(), Raw::default()).await {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

/// The `ErrorInfo` reason of a status, if it has one.
pub fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// Runs curl; the HTTP status and the body.
pub async fn curl(args: &[&str], body: &[u8]) -> (u16, Vec<u8>) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-S",
            "--data-binary",
            "@-",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("curl runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = out.stdout;
    let cut = text.iter().rposition(|b| *b == b'\n').unwrap();
    let code = std::str::from_utf8(&text[cut + 1..])
        .unwrap()
        .parse()
        .unwrap();
    (code, text[..cut].to_vec())
}

/// A JSON call with curl: the HTTP status and the parsed answer.
pub async fn json_call(
    gateway: &Gateway,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", gateway.url());
    let auth = token.map(|t| format!("authorization: Bearer {t}"));
    let mut args = vec!["-H", "content-type: application/json", url.as_str()];
    if let Some(a) = &auth {
        args.extend(["-H", a.as_str()]);
    }
    let (code, body) = curl(&args, body.as_bytes()).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (code, value)
}

/// A gRPC-Web call with curl (HTTP/1.1): the messages and the trailers.
pub async fn grpc_web_call(
    gateway: &Gateway,
    path: &str,
    token: &str,
    body: &[u8],
    text: bool,
) -> (Vec<Vec<u8>>, std::collections::HashMap<String, String>) {
    use base64::Engine as _;
    let url = format!("{}{path}", gateway.url());
    let auth = format!("authorization: Bearer {token}");
    let content_type = if text {
        "content-type: application/grpc-web-text"
    } else {
        "content-type: application/grpc-web+proto"
    };
    let encoded;
    let body = if text {
        encoded = base64::engine::general_purpose::STANDARD.encode(body);
        encoded.as_bytes()
    } else {
        body
    };
    let (code, mut out) = curl(
        &["-H", content_type, "-H", &auth, "-H", "x-grpc-web: 1", &url],
        body,
    )
    .await;
    assert_eq!(
        code, 200,
        "{path}: gRPC-Web answers 200 and puts the status in its trailers"
    );
    if text {
        // Each chunk is encoded on its own, padding and all; every four
        // characters decode alone.
        out = out
            .chunks(4)
            .flat_map(|quad| {
                base64::engine::general_purpose::STANDARD
                    .decode(quad)
                    .expect("grpc-web-text answers in base64")
            })
            .collect();
    }
    let mut messages = Vec::new();
    let mut trailers = std::collections::HashMap::new();
    let mut at = 0;
    while at < out.len() {
        let flag = out[at];
        let len = u32::from_be_bytes(out[at + 1..at + 5].try_into().unwrap()) as usize;
        let data = &out[at + 5..at + 5 + len];
        if flag & 0x80 != 0 {
            for line in std::str::from_utf8(data)
                .unwrap()
                .split("\r\n")
                .filter(|l| !l.is_empty())
            {
                let (k, v) = line.split_once(':').unwrap();
                trailers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        } else {
            messages.push(data.to_vec());
        }
        at += 5 + len;
    }
    (messages, trailers)
}

/// A unary gRPC call with an empty message by curl over HTTP/2 with a
/// `grpc-timeout` header: the `grpc-status` answered, and the headers and
/// trailers as curl printed them.
pub async fn grpc_curl(
    gateway: &Gateway,
    path: &str,
    token: &str,
    timeout: &str,
) -> (Option<i32>, String) {
    let url = format!("{}{path}", gateway.url());
    let auth = format!("authorization: Bearer {token}");
    let timeout = format!("grpc-timeout: {timeout}");
    let (_, out) = curl(
        &[
            "--http2-prior-knowledge",
            "-D",
            "-",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "-H",
            &auth,
            "-H",
            &timeout,
            &url,
        ],
        &[0, 0, 0, 0, 0],
    )
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .lines()
        .find_map(|l| l.strip_prefix("grpc-status:"))
        .and_then(|v| v.trim().parse().ok());
    (status, text)
}

/// The field of the first `BadRequest` violation in a JSON error.
pub fn bad_request_field(body: &serde_json::Value) -> Option<&str> {
    body["details"]
        .as_array()?
        .iter()
        .find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")?["fieldViolations"][0]
        ["field"]
        .as_str()
}

/// The gRPC code of a JSON answer (`OK` for a 200).
pub fn json_code(http: u16, body: &serde_json::Value) -> Code {
    if http == 200 {
        Code::Ok
    } else {
        Code::from(body["code"].as_i64().expect("an error has a code") as i32)
    }
}
