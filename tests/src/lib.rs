//! The test harness: one throwaway PostgreSQL for the test process (or the
//! server `DATABASE_URL` names), a fresh database for every test, test
//! tokens and keys, and services spawned on random ports, reached over real
//! gRPC.
//!
//! ```ignore
//! let db = cppcc_tests::database().await;            // a new, empty database
//! let config = /* the service's Config from db.args("members") … */;
//! let running = cppcc_tests::serve(cppcc_members::server(&config).await?).await;
//! let token = cppcc_tests::token(Role::Admin, "suixian");
//! let mut client = MemberServiceClient::with_interceptor(running.channel(), Bearer::new(&token));
//! ```

#![forbid(unsafe_code)]

pub mod tls;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::{Connection as _, PgConnection};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use cppcc_kit::BoxError;
use cppcc_kit::auth::{AuthArgs, Role, TokenIssuer, TokenRequest, generate_ed25519_pem};
use cppcc_kit::config::PiiArgs;
use cppcc_kit::db::DatabaseArgs;
use cppcc_kit::pii::PiiCipher;
use cppcc_kit::server::{Server, ServerArgs};
use cppcc_local_pg::{LocalPostgres, PgOptions};

/// Where the test databases live.
enum Cluster {
    /// Our own server, for this test process.
    Local(LocalPostgres),
    /// A server the environment named (`DATABASE_URL`), as a user that may
    /// create databases and roles.
    External(String),
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            return Cluster::External(url);
        }
        let base = std::env::temp_dir().join(format!(
            "cppcc-test-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let pg = LocalPostgres::start(&PgOptions {
            data_dir: base.join("data"),
            socket_dir: base.clone(),
            durable: false,
            max_connections: 300,
            remove_on_exit: true,
            tcp: None,
        })
        .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL: {e}"));
        Cluster::Local(pg)
    })
}

/// A URL for `user` (or the cluster's own user) on `database`.
fn url(user: Option<&str>, database: &str) -> String {
    match cluster() {
        Cluster::Local(pg) => pg.url(user.unwrap_or("postgres"), database),
        // An external cluster is reached as the user it was given.
        Cluster::External(url) => with_database(url, database),
    }
}

/// `url` with its database replaced.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// A fresh, empty database of the test cluster.
#[derive(Clone, Debug)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
}

/// Creates a fresh database for one test.
pub async fn database() -> TestDatabase {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&url(None, "postgres"))
        .await
        .expect("connect to the test cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    TestDatabase { name }
}

impl TestDatabase {
    /// Database settings for a service whose role is `role`: it connects as
    /// that role and uses the cluster's superuser only to create the role
    /// and schema.
    pub fn args(&self, role: &str) -> DatabaseArgs {
        DatabaseArgs {
            database_url: url(Some(role), &self.name),
            database_admin_url: Some(url(None, &self.name)),
            database_max_connections: 8,
            database_acquire_timeout: Duration::from_secs(10),
            database_statement_timeout: Duration::from_secs(30),
            migrate_only: false,
            today: None,
        }
    }

    /// A URL as the cluster's superuser, for tests that look underneath.
    pub fn admin_url(&self) -> String {
        url(None, &self.name)
    }

    /// A connection as the cluster's superuser.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&self.admin_url())
            .await
            .expect("connect as admin")
    }
}

/// The process's signing key and its public key on disk.
struct Keys {
    issuer: TokenIssuer,
    private_key: String,
    public_key: String,
    pii: PiiCipher,
    pii_keys: cppcc_kit::pii::GeneratedKeys,
    audit_key: String,
}

/// Tokens' issuer and audience in tests.
pub const ISSUER: &str = "cppcc-test";
/// Tokens' audience in tests.
pub const AUDIENCE: &str = "cppcc";

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (private, public_key) = generate_ed25519_pem();
        let (pii, pii_keys) = PiiCipher::generate();
        // Any 32 random bytes will do; the index key generator makes them.
        let audit_key = PiiCipher::generate().1.index_key;
        Keys {
            audit_key,
            issuer: TokenIssuer::from_ed_pem(private.as_bytes(), None, ISSUER, AUDIENCE)
                .expect("a fresh key loads"),
            private_key: private,
            public_key,
            pii,
            pii_keys,
        }
    })
}

/// Token settings that trust the test key.
pub fn auth_args() -> AuthArgs {
    AuthArgs {
        jwt_public_keys: vec![keys().public_key.clone()],
        jwt_issuer: ISSUER.to_owned(),
        jwt_audience: AUDIENCE.to_owned(),
    }
}

/// The private key (PEM) test tokens are signed with, for a service that
/// signs its own tokens (a consumer watching another service).
pub fn signing_key() -> SecretString {
    SecretString::from(keys().private_key.clone())
}

/// Personal-data keys for the test process.
pub fn pii_args() -> PiiArgs {
    let k = &keys().pii_keys;
    PiiArgs {
        pii_keys: SecretString::from(k.keys.clone()),
        pii_active_key: k.active.clone(),
        pii_index_key: SecretString::from(k.index_key.clone()),
    }
}

/// The environment that configures a service binary (run as its own
/// process) for `database`, with the test keys.
pub fn service_env(database: &TestDatabase, role: &str) -> Vec<(String, String)> {
    let db = database.args(role);
    let k = &keys().pii_keys;
    [
        ("DATABASE_URL", db.database_url),
        (
            "CPPCC_DATABASE_ADMIN_URL",
            db.database_admin_url.unwrap_or_default(),
        ),
        ("CPPCC_JWT_PUBLIC_KEYS", keys().public_key.clone()),
        ("CPPCC_JWT_ISSUER", ISSUER.to_owned()),
        ("CPPCC_JWT_AUDIENCE", AUDIENCE.to_owned()),
        ("CPPCC_PII_KEYS", k.keys.clone()),
        ("CPPCC_PII_ACTIVE_KEY", k.active.clone()),
        ("CPPCC_PII_INDEX_KEY", k.index_key.clone()),
        ("CPPCC_AUDIT_KEY", keys().audit_key.clone()),
        ("CPPCC_LOG_FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Personal-data keys after a rotation: a second key, active; the first
/// kept (to read old rows) when `keep_old`.
pub fn rotated_pii_args(keep_old: bool) -> PiiArgs {
    static SECOND: OnceLock<cppcc_kit::pii::GeneratedKeys> = OnceLock::new();
    let second = SECOND.get_or_init(|| PiiCipher::generate().1);
    let new_key = second.keys.replacen("k1:", "k2:", 1);
    let k = &keys().pii_keys;
    PiiArgs {
        pii_keys: SecretString::from(if keep_old {
            format!("{},{new_key}", k.keys)
        } else {
            new_key
        }),
        pii_active_key: "k2".to_owned(),
        pii_index_key: SecretString::from(k.index_key.clone()),
    }
}

/// The cipher `pii_args` configures, to look at stored data in tests.
pub fn pii() -> &'static PiiCipher {
    &keys().pii
}

/// Server settings for tests: a short grace period, the test audit key.
pub fn server_args() -> ServerArgs {
    ServerArgs {
        shutdown_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(10),
        audit_key: Some(SecretString::from(keys().audit_key.clone())),
        ..ServerArgs::default()
    }
}

/// The audit key `server_args` configures, to seal or verify in tests.
pub fn audit_key() -> Vec<u8> {
    server_args()
        .audit_key_bytes()
        .expect("the test audit key is valid")
        .expect("the tests configure an audit key")
}

/// A token for `role` in `committee` (an id, or `*` for the service role).
pub fn token(role: Role, committee: &str) -> String {
    token_with(TokenRequest {
        subject: &format!("test-{role}"),
        role,
        committee,
        member: None,
        unit: None,
        ttl: Duration::from_secs(3600),
    })
}

/// A token with every claim chosen by the test.
pub fn token_with(req: TokenRequest<'_>) -> String {
    keys().issuer.issue(&req)
}

/// A token signed by the test key as if issued at `iat` (for expired tokens).
pub fn token_issued_at(req: TokenRequest<'_>, iat: u64) -> String {
    keys().issuer.issue_at(&req, iat)
}

/// A service serving on a random loopback port.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), BoxError>>,
}

/// Serves `server` on `127.0.0.1:0`.
pub async fn serve(server: Server) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    serve_on(server, listener).await
}

/// Serves `server` on `listener` (to start a service again where it was).
pub async fn serve_on(server: Server, listener: TcpListener) -> Running {
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).expect("a loopback URI");
    Running {
        addr,
        channel,
        stop: Some(stop),
        task,
    }
}

impl Running {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A channel to it.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Shuts it down gracefully and waits until it has stopped.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("the server task does not panic")
    }
}

/// A service's standard error, line by line.
pub type LogLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// Runs the service binary `bin` as its own process (as Kubernetes runs
/// it) with `envs` and JSON logs, waits until it logs that it serves, and
/// gives the process, its address and the rest of its log.
pub async fn spawn_service(
    bin: &str,
    envs: impl IntoIterator<Item = (String, String)>,
) -> (tokio::process::Child, String, LogLines) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(bin)
        .envs(envs)
        .env("CPPCC_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} starts: {e}"));
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("piped")).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the service starts within a minute")
            .expect("its log is readable")
            .expect("the service logs until it serves");
        if line.contains("\"serving\"") {
            let log: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
            break log["addr"]
                .as_str()
                .expect("the address it serves on")
                .to_owned();
        }
    };
    (child, addr, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_in_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5/db?sslmode=disable", "t1"),
            "postgres://u:p@h:5/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
