//! The local data folder (`.cppcc/` by default): the private PostgreSQL,
//! the development signing key and the personal-data keys.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use cppcc_kit::auth::{TokenIssuer, generate_ed25519_pem};
use cppcc_kit::pii::PiiCipher;
use cppcc_local_pg::{LocalPostgres, PgOptions, running_as_root};

/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "cppcc-dev";
/// Audience of every cppcc token.
pub const AUDIENCE: &str = "cppcc";
/// The database the suite uses.
pub const DATABASE: &str = "cppcc";

/// The local data folder.
#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
}

/// The development keys kept in the data folder.
#[derive(Clone, Debug)]
pub struct DevKeys {
    pub jwt_private: String,
    pub jwt_public: String,
    pub pii_keys: String,
    pub pii_active: String,
    pub pii_index: String,
    pub audit_key: String,
}

impl DevKeys {
    /// The issuer of development tokens.
    pub fn issuer(&self) -> anyhow::Result<TokenIssuer> {
        Ok(TokenIssuer::from_ed_pem(
            self.jwt_private.as_bytes(),
            None,
            DEV_ISSUER,
            AUDIENCE,
        )?)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PiiFile {
    keys: String,
    active: String,
    index_key: String,
    /// Added later than the others: made when missing.
    #[serde(default)]
    audit_key: String,
}

fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

impl DataDir {
    /// Opens (creating) the data folder.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create the data folder {}", path.display()))?;
        let root = path.canonicalize()?;
        Ok(DataDir { root })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The development keys, made on first use.
    pub fn keys(&self) -> anyhow::Result<DevKeys> {
        let dir = self.root.join("keys");
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let private = dir.join("jwt-private.pem");
        let public = dir.join("jwt-public.pem");
        if !private.exists() || !public.exists() {
            let (private_pem, public_pem) = generate_ed25519_pem();
            write_secret(&private, &private_pem)?;
            std::fs::write(&public, public_pem)?;
        }
        let pii_path = dir.join("pii.json");
        if !pii_path.exists() {
            let (_, generated) = PiiCipher::generate();
            let file = PiiFile {
                keys: generated.keys,
                active: generated.active,
                index_key: generated.index_key,
                audit_key: PiiCipher::generate().1.index_key,
            };
            write_secret(&pii_path, &serde_json::to_string_pretty(&file)?)?;
        }
        let mut pii: PiiFile = serde_json::from_str(&std::fs::read_to_string(&pii_path)?)
            .with_context(|| format!("{} is not a key file", pii_path.display()))?;
        if pii.audit_key.is_empty() {
            pii.audit_key = PiiCipher::generate().1.index_key;
            write_secret(&pii_path, &serde_json::to_string_pretty(&pii)?)?;
        }
        Ok(DevKeys {
            jwt_private: std::fs::read_to_string(&private)?,
            jwt_public: std::fs::read_to_string(&public)?,
            pii_keys: pii.keys,
            pii_active: pii.active,
            pii_index: pii.index_key,
            audit_key: pii.audit_key,
        })
    }

    /// Where the private PostgreSQL keeps its data and socket. Normally in
    /// the data folder; but PostgreSQL runs as the `postgres` user when we
    /// are root, and if that user cannot reach the data folder (a folder
    /// above it is closed to others, as `mktemp -d` makes them), or the
    /// socket path would be too long, the cluster lives under `/var/tmp`
    /// instead, at a place fixed by the data folder's path so it is found
    /// again next time.
    fn postgres_dirs(&self) -> (PathBuf, PathBuf) {
        let here = (self.root.join("postgres"), self.root.join("run"));
        let socket_fits = here.1.join(".s.PGSQL.5432").as_os_str().len() < 100;
        if socket_fits && (!running_as_root() || reachable_by_others(&self.root)) {
            return here;
        }
        let digest = hex::encode(&Sha256::digest(self.root.as_os_str().as_encoded_bytes())[..6]);
        let base = PathBuf::from(format!("/var/tmp/cppcc-{digest}"));
        let _ = std::fs::write(
            self.root.join("postgres-location"),
            format!(
                "PostgreSQL data for this folder is kept in {}\n",
                base.display()
            ),
        );
        (base.join("postgres"), base.join("run"))
    }

    /// Starts the private PostgreSQL and makes sure the suite's database exists.
    pub async fn start_postgres(&self) -> anyhow::Result<LocalPostgres> {
        let (data_dir, socket_dir) = self.postgres_dirs();
        if let Some(base) = data_dir.parent()
            && !base.starts_with(&self.root)
        {
            // A folder in a shared place: ours alone, not a link someone laid.
            std::fs::create_dir_all(base)?;
            let meta = std::fs::symlink_metadata(base)?;
            let me = std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(u32::MAX);
            if !meta.is_dir() || meta.uid() != me {
                anyhow::bail!(
                    "{} is not a folder of this user (a link, or someone else's); remove it or choose --data-dir",
                    base.display()
                );
            }
            std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711))?;
        }
        let opts = PgOptions {
            data_dir,
            socket_dir,
            durable: true,
            max_connections: 200,
            remove_on_exit: false,
            tcp: None,
        };
        let pg = tokio::task::spawn_blocking(move || LocalPostgres::start(&opts)).await??;
        let admin = pg.url("postgres", "postgres");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
                .execute(&mut conn)
                .await?;
        }
        Ok(pg)
    }
}

fn reachable_by_others(path: &Path) -> bool {
    path.ancestors().all(|dir| {
        std::fs::metadata(dir)
            .map(|m| m.mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// How services reach the database: as their own role on the private
/// cluster, or all through `DATABASE_URL`.
#[derive(Clone, Debug)]
pub enum DatabaseAccess {
    Local { socket_dir: PathBuf },
    External(String),
}

impl DatabaseAccess {
    /// Database settings for the service whose role is `role`.
    pub fn args(&self, role: &str) -> cppcc_kit::db::DatabaseArgs {
        let (url, admin) = match self {
            DatabaseAccess::Local { socket_dir } => (
                format!(
                    "postgres:///{DATABASE}?host={}&user={role}",
                    socket_dir.display()
                ),
                format!(
                    "postgres:///{DATABASE}?host={}&user=postgres",
                    socket_dir.display()
                ),
            ),
            DatabaseAccess::External(url) => (url.clone(), url.clone()),
        };
        cppcc_kit::db::DatabaseArgs {
            database_url: url,
            database_admin_url: Some(admin),
            database_max_connections: 16,
            database_acquire_timeout: std::time::Duration::from_secs(5),
            database_statement_timeout: std::time::Duration::from_secs(30),
            migrate_only: false,
            today: None,
        }
    }
}

/// The database: `DATABASE_URL` if set, else the private cluster.
pub async fn database(data: &DataDir) -> anyhow::Result<(DatabaseAccess, Option<LocalPostgres>)> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok((DatabaseAccess::External(url), None)),
        _ => {
            let pg = data.start_postgres().await?;
            let access = DatabaseAccess::Local {
                socket_dir: pg.socket_dir().to_path_buf(),
            };
            Ok((access, Some(pg)))
        }
    }
}
