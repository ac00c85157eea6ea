//! A private PostgreSQL for development (`cppcc up`) and tests: the
//! machine's own `initdb` and `postgres`, a data folder, and a Unix socket
//! in a folder of its own instead of a TCP port.
//!
//! PostgreSQL refuses to run as root, so when we are root the server runs as
//! the unprivileged `postgres` user. The server is tied to this process: it
//! is started under a small shell that stops it (fast shutdown) when our end
//! of its standard input closes, which happens when we stop it or exit,
//! however we exit.

#![forbid(unsafe_code)]

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// How to run the server.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The cluster's data folder; created with `initdb` when empty.
    pub data_dir: PathBuf,
    /// Where the Unix socket goes (kept short: socket paths are limited to ~100 bytes).
    pub socket_dir: PathBuf,
    /// `false` for tests: no fsync, no synchronous commit. Never for data you keep.
    pub durable: bool,
    /// Most connections the server accepts.
    pub max_connections: u32,
    /// Remove the data folder when the server stops.
    pub remove_on_exit: bool,
    /// Also listen on a TCP port of the loopback address, as a server
    /// elsewhere would be reached (with TLS when given). `None`: the socket
    /// only. Authentication stays `trust`, so anyone on this machine may
    /// connect as any role: for tests, never for data you keep.
    pub tcp: Option<PgTcp>,
}

/// Listening on TCP.
#[derive(Clone, Debug)]
pub struct PgTcp {
    /// The port (on 127.0.0.1); the Unix socket then carries its number too.
    pub port: u16,
    /// The server's certificate chain and private key (PEM): `ssl=on`.
    pub tls: Option<PgTls>,
}

/// The server's TLS identity.
#[derive(Clone, Debug)]
pub struct PgTls {
    /// Certificate chain, PEM.
    pub cert_pem: String,
    /// Private key, PEM.
    pub key_pem: String,
}

/// A running private PostgreSQL.
#[derive(Debug)]
pub struct LocalPostgres {
    socket_dir: PathBuf,
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Why the server could not be started.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PgError(String);

fn fail<T>(msg: impl Into<String>) -> Result<T, PgError> {
    Err(PgError(msg.into()))
}

const DEFAULT_PORT: u16 = 5432;

/// Writes `text` to `path`, readable by its owner only, the server's user
/// owning it (PostgreSQL refuses a key others can read).
fn write_private(path: &Path, text: &str, owner: Option<(u32, u32)>) -> Result<(), PgError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let cannot = |e: std::io::Error| PgError(format!("cannot write {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(cannot)?;
    }
    Ok(())
}

/// The folder holding `initdb` and `postgres`: `pg_config --bindir`, else
/// the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> Result<PathBuf, PgError> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => fail(
            "PostgreSQL is not installed: no `initdb` found (pg_config --bindir, /usr/lib/postgresql/*/bin); \
             install it (`apt-get install -y postgresql`) or set DATABASE_URL",
        ),
    }
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> Result<(u32, u32), PgError> {
    let id = |flag: &str| -> Result<u32, PgError> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| PgError(format!("cannot run `id`: {e}")))?;
        if !out.status.success() {
            return fail(
                "running as root, PostgreSQL needs an unprivileged `postgres` user, and there is none \
                 (install the postgresql package, or run as another user)",
            );
        }
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| PgError("`id postgres` printed no number".into()))
    };
    Ok((id("-u")?, id("-g")?))
}

/// Whether every folder on the way to `path` lets others pass (`o+x`), so
/// the `postgres` user can reach it.
fn reachable_by_others(path: &Path) -> bool {
    path.ancestors().skip(1).all(|dir| {
        std::fs::metadata(dir)
            .map(|m| m.mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

impl LocalPostgres {
    /// Initialises the cluster if needed and starts the server; returns when
    /// it accepts connections.
    pub fn start(opts: &PgOptions) -> Result<LocalPostgres, PgError> {
        let bin = bin_dir()?;
        let as_user = if running_as_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        for dir in [&opts.data_dir, &opts.socket_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| PgError(format!("cannot create {}: {e}", dir.display())))?;
            // Never hand over (or lock down) what a link points at.
            let meta = std::fs::symlink_metadata(dir)
                .map_err(|e| PgError(format!("cannot read {}: {e}", dir.display())))?;
            if !meta.is_dir() {
                return fail(format!(
                    "{} is not a folder (a link?); refusing to use it",
                    dir.display()
                ));
            }
            if let Some((uid, gid)) = as_user {
                if !reachable_by_others(dir) {
                    return fail(format!(
                        "running as root, PostgreSQL runs as the `postgres` user, which cannot reach {} \
                         (a folder above it is closed to others); choose a folder under /tmp or /var, or set DATABASE_URL",
                        dir.display()
                    ));
                }
                std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| {
                    PgError(format!("cannot hand {} to postgres: {e}", dir.display()))
                })?;
            }
        }
        std::fs::set_permissions(
            &opts.data_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(|e| PgError(format!("cannot restrict {}: {e}", opts.data_dir.display())))?;

        if !opts.data_dir.join("PG_VERSION").exists() {
            let mut initdb = Command::new(bin.join("initdb"));
            initdb
                .arg("-D")
                .arg(&opts.data_dir)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            if !opts.durable {
                initdb.arg("--no-sync");
            }
            if let Some((uid, gid)) = as_user {
                initdb.uid(uid).gid(gid);
            }
            let out = initdb
                .output()
                .map_err(|e| PgError(format!("cannot run initdb: {e}")))?;
            if !out.status.success() {
                return fail(format!(
                    "initdb failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }

        // Values are passed verbatim (no quoting on the command line). The
        // socket is the owner's only: trust authentication is then safe.
        let port = opts.tcp.as_ref().map_or(DEFAULT_PORT, |tcp| tcp.port);
        let mut settings = vec![
            format!(
                "listen_addresses={}",
                if opts.tcp.is_some() { "127.0.0.1" } else { "" }
            ),
            format!("port={port}"),
            format!("unix_socket_directories={}", opts.socket_dir.display()),
            "unix_socket_permissions=0700".to_owned(),
            format!("max_connections={}", opts.max_connections),
            "timezone=UTC".to_owned(),
        ];
        if !opts.durable {
            settings.extend(
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ]
                .map(str::to_owned),
            );
        }
        if let Some(tls) = opts.tcp.as_ref().and_then(|tcp| tcp.tls.as_ref()) {
            let cert = opts.data_dir.join("server.crt");
            let key = opts.data_dir.join("server.key");
            write_private(&cert, &tls.cert_pem, as_user)?;
            write_private(&key, &tls.key_pem, as_user)?;
            settings.extend([
                "ssl=on".to_owned(),
                format!("ssl_cert_file={}", cert.display()),
                format!("ssl_key_file={}", key.display()),
            ]);
        }
        // The shell starts the server, stops it (fast shutdown) once its own
        // standard input closes, and exits when the server does. Paths go in
        // as arguments, never into the script's text.
        // (A background job's standard input is /dev/null in `sh`, so the
        // watcher reads ours through a copy on descriptor 3.)
        const SCRIPT: &str = r#"pg=$1; log=$2; remove=$3; data=$4; sock=$5; shift 5
exec 3<&0
"$pg" "$@" >"$log" 2>&1 </dev/null &
pid=$!
( read _ignored <&3; kill -INT "$pid" 2>/dev/null ) &
wait "$pid"
status=$?
if [ "$remove" = 1 ]; then rm -rf -- "$data" "$sock"; fi
exit $status
"#;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("sh")
            .arg(bin.join("postgres"))
            .arg(opts.socket_dir.join("postgres.log"))
            .arg(if opts.remove_on_exit { "1" } else { "0" })
            .arg(&opts.data_dir)
            .arg(&opts.socket_dir)
            .arg("-D")
            .arg(&opts.data_dir);
        for setting in &settings {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = as_user {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| PgError(format!("cannot start postgres: {e}")))?;
        let stdin = child.stdin.take();
        let mut server = LocalPostgres {
            socket_dir: opts.socket_dir.clone(),
            port,
            child,
            stdin,
        };
        server.wait_ready(&bin)?;
        Ok(server)
    }

    fn wait_ready(&mut self, bin: &Path) -> Result<(), PgError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let log =
            |dir: &Path| std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(&self.socket_dir)
                .arg("-p")
                .arg(self.port.to_string())
                .arg("-U")
                .arg("postgres")
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return fail(format!(
                    "PostgreSQL exited ({status}) while starting; its log:\n{}",
                    log(&self.socket_dir)
                ));
            }
            if Instant::now() > deadline {
                return fail(format!(
                    "PostgreSQL did not become ready within 60 s; its log:\n{}",
                    log(&self.socket_dir)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The folder of the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// A URL for `user` on `database` over the socket.
    pub fn url(&self, user: &str, database: &str) -> String {
        let port = if self.port == DEFAULT_PORT {
            String::new()
        } else {
            format!("&port={}", self.port)
        };
        format!(
            "postgres:///{database}?host={}&user={user}{port}",
            self.socket_dir.display()
        )
    }

    /// Stops the server (fast shutdown) and waits for it.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
            drop(stdin);
            let _ = self.child.wait();
        }
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        self.stop_inner();
    }
}
