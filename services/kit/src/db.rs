//! The database: one schema and one role per service.
//!
//! At start-up a service (optionally) makes sure its role and schema exist,
//! using an administrator URL only for that; then connects as its own role,
//! and applies its migrations together with the kit's own tables (outbox,
//! audit log, request ids), all inside its schema.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool, SqlSafeStr as _};
use tokio::sync::Notify;

use crate::BoxError;
use crate::change::KitSql;
use crate::clock::Clock;

/// The kit's own migrations, applied in every service schema. Their
/// versions are small numbers; a service's are timestamps, so they never
/// collide.
const KIT_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "kit outbox audit request ids",
        include_str!("../migrations/0001_kit.sql"),
    ),
    (
        2,
        "kit outbox marks once per transaction",
        include_str!("../migrations/0002_outbox_mark.sql"),
    ),
];

/// Database settings shared by every service binary.
#[derive(Clone, Debug, clap::Args)]
pub struct DatabaseArgs {
    /// The URL the service connects with, as its own role
    /// (`postgres://members@db/cppcc`, or `postgres:///cppcc?host=/socket/dir&user=members`).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// An administrator URL, used once at start-up to create the service's
    /// role and schema when they are missing. Leave unset where they are
    /// created by the platform (Kubernetes bootstrap).
    #[arg(long, env = "CPPCC_DATABASE_ADMIN_URL")]
    pub database_admin_url: Option<String>,
    /// Most connections the service opens.
    #[arg(long, env = "CPPCC_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// How long a call waits for a free connection before failing with UNAVAILABLE.
    #[arg(long, env = "CPPCC_DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = crate::config::parse_duration)]
    pub database_acquire_timeout: Duration,
    /// Longest a single statement may run.
    #[arg(long, env = "CPPCC_DATABASE_STATEMENT_TIMEOUT", default_value = "30s", value_parser = crate::config::parse_duration)]
    pub database_statement_timeout: Duration,
    /// Create the role and schema if asked to, apply the migrations, and
    /// exit: a Kubernetes init container (or Job) runs this before the
    /// service serves.
    #[arg(long, env = "CPPCC_MIGRATE_ONLY")]
    pub migrate_only: bool,
    /// The day the service takes for today, as YYYY-MM-DD, going on from
    /// there as days pass: for rehearsing a past year or a coming deadline.
    /// Unset, today is the system's day in China.
    #[arg(long, env = "CPPCC_TODAY", value_parser = crate::clock::parse_day)]
    pub today: Option<time::Date>,
}

/// A service's schema name: lowercase letters and underscores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schema(&'static str);

impl Schema {
    /// # Panics
    /// If `name` is not lowercase ASCII letters and underscores: schema
    /// names are constants of the code, and they are written into SQL.
    pub const fn new(name: &'static str) -> Schema {
        let b = name.as_bytes();
        assert!(!b.is_empty() && b.len() <= 40, "schema name length");
        let mut i = 0;
        while i < b.len() {
            assert!(
                b[i].is_ascii_lowercase() || b[i] == b'_',
                "schema name characters"
            );
            i += 1;
        }
        Schema(name)
    }

    /// The name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// `template` with every `{schema}` replaced by the schema name.
    pub fn sql(self, template: &str) -> String {
        template.replace("{schema}", self.0)
    }
}

/// A connected service database.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
    schema: Schema,
    /// Woken when a transaction that wrote events commits, so event
    /// streams in this process deliver at once instead of at the next poll.
    pub(crate) events_written: Arc<Notify>,
    /// Woken when audit rows were written, so the sealer chains them soon.
    pub(crate) audit_written: Arc<Notify>,
    /// The kit's statements for this schema.
    pub(crate) sql: Arc<KitSql>,
    /// The key the audit chain is sealed with (HMAC-SHA256); without one,
    /// plain SHA-256, which anyone with write access could recompute.
    pub(crate) audit_key: Option<Arc<[u8]>>,
    /// What day it is for this service's records.
    clock: Clock,
}

impl Database {
    /// Creates the role and schema if asked to, connects, and migrates.
    pub async fn connect(
        schema: Schema,
        args: &DatabaseArgs,
        migrations: &Migrator,
    ) -> Result<Database, BoxError> {
        let options: PgConnectOptions = args
            .database_url
            .parse()
            .map_err(|e| format!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
        let options = options
            .application_name(&format!("cppcc-{}", schema.name()))
            .options([
                ("timezone", "UTC".to_owned()),
                // Services run short queries: compiling one costs more than
                // it saves (tens of milliseconds on the larger reports).
                ("jit", "off".to_owned()),
                (
                    "statement_timeout",
                    format!("{}ms", args.database_statement_timeout.as_millis()),
                ),
                (
                    "idle_in_transaction_session_timeout",
                    format!("{}ms", args.database_statement_timeout.as_millis() * 2),
                ),
            ]);
        if let Some(admin) = &args.database_admin_url {
            let admin: PgConnectOptions = admin
                .parse()
                .map_err(|e| format!("the admin database URL is not a PostgreSQL URL: {e}"))?;
            bootstrap(&admin, schema, options.get_username()).await?;
        }
        migrate(&options, schema, migrations).await?;
        let pool = PgPoolOptions::new()
            .max_connections(args.database_max_connections)
            .acquire_timeout(args.database_acquire_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| format!("cannot connect to the {} database: {e}", schema.name()))?;
        Ok(Database::from_pool(pool, schema).with_clock(Clock::from_arg(args.today)))
    }

    /// For `--migrate-only`: bootstraps and migrates, then lets go.
    pub async fn migrate_only(
        schema: Schema,
        args: &DatabaseArgs,
        migrations: &Migrator,
    ) -> Result<(), BoxError> {
        let db = Database::connect(schema, args, migrations).await?;
        db.pool.close().await;
        tracing::info!(schema = schema.name(), "migrated; exiting (--migrate-only)");
        Ok(())
    }

    /// Wraps a pool already connected to a migrated schema.
    pub fn from_pool(pool: PgPool, schema: Schema) -> Database {
        Database {
            pool,
            schema,
            events_written: Arc::new(Notify::new()),
            audit_written: Arc::new(Notify::new()),
            sql: Arc::new(KitSql::new(schema)),
            audit_key: None,
            clock: Clock::system(),
        }
    }

    /// This database, dating its records by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Database {
        self.clock = clock;
        self
    }

    /// Today in China, by this service's clock.
    pub fn today(&self) -> time::Date {
        self.clock.today()
    }

    /// This database, sealing its audit chain with `key`.
    pub fn with_audit_key(mut self, key: Option<&[u8]>) -> Database {
        self.audit_key = key.map(Arc::from);
        self
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection from the pool, for reads outside a change.
    pub async fn acquire(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, crate::ServiceError> {
        self.pool
            .acquire()
            .await
            .map_err(crate::error::classify_db_error)
    }

    /// The service's schema.
    pub fn schema(&self) -> Schema {
        self.schema
    }
}

/// Makes sure `role` exists (able to log in) and owns `schema`. Safe to run
/// concurrently from several processes.
pub async fn bootstrap(
    admin: &PgConnectOptions,
    schema: Schema,
    role: &str,
) -> Result<(), BoxError> {
    let mut conn = PgConnection::connect_with(admin)
        .await
        .map_err(|e| format!("cannot connect with the admin URL: {e}"))?;
    // Serialise bootstraps of this schema across processes.
    sqlx::query("SELECT pg_advisory_lock(hashtext('cppcc bootstrap ' || $1))")
        .bind(schema.name())
        .execute(&mut conn)
        .await?;
    let result = bootstrap_locked(&mut conn, schema, role).await;
    let _ = conn.close().await;
    result
}

async fn bootstrap_locked(
    conn: &mut PgConnection,
    schema: Schema,
    role: &str,
) -> Result<(), BoxError> {
    let role_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *conn)
            .await?;
    let quoted_role = quote_ident(role);
    if !role_exists {
        // Roles are shared by every database of the cluster; another
        // process may create it between the check and here.
        let created = sqlx::query(AssertSqlSafe(format!("CREATE ROLE {quoted_role} LOGIN")))
            .execute(&mut *conn)
            .await;
        match created {
            Ok(_) => {}
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42710" | "23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let schema_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema.name())
            .fetch_one(&mut *conn)
            .await?;
    if !schema_exists {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE SCHEMA {} AUTHORIZATION {quoted_role}",
            schema.name()
        )))
        .execute(&mut *conn)
        .await?;
    }
    // Nobody else gets into the schema; the role needs to reach the database.
    sqlx::query(AssertSqlSafe(format!(
        "REVOKE ALL ON SCHEMA {} FROM PUBLIC",
        schema.name()
    )))
    .execute(&mut *conn)
    .await?;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "GRANT CONNECT ON DATABASE {} TO {quoted_role}",
        quote_ident(&database)
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies the kit's and the service's migrations, as the service's role,
/// on a connection of its own (closing it releases the migration lock even
/// when a migration fails).
async fn migrate(
    options: &PgConnectOptions,
    schema: Schema,
    service: &Migrator,
) -> Result<(), BoxError> {
    let migrator = migrator(schema, service);
    let mut conn = PgConnection::connect_with(options)
        .await
        .map_err(|e| format!("cannot connect to the {} database: {e}", schema.name()))?;
    let result = migrator.run(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(|e| format!("migrating the {} schema failed: {e}", schema.name()).into())
}

/// The kit's migrations (for `schema`) followed by the service's.
pub fn migrator(schema: Schema, service: &Migrator) -> Migrator {
    let mut all: Vec<Migration> = KIT_MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                AssertSqlSafe(schema.sql(sql)).into_sql_str(),
                false,
            )
        })
        .collect();
    all.extend(service.iter().cloned());
    let mut migrator = Migrator::with_migrations(all);
    migrator.dangerous_set_table_name(format!("{}._sqlx_migrations", schema.name()));
    migrator
}

/// Quotes an SQL identifier.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_templates() {
        let s = Schema::new("members");
        assert_eq!(
            s.sql("SELECT * FROM {schema}.outbox"),
            "SELECT * FROM members.outbox"
        );
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }

    #[test]
    #[should_panic(expected = "schema name characters")]
    fn schema_names_are_plain() {
        let _ = Schema::new("members; drop");
    }
}
