//! The opinions service: public-opinion reports (社情民意信息) and their
//! review, bulletin issues, forwards to the parent committee and the
//! parent's inbox, units' handling and follow-up, leaders' instructions and
//! the staff quota, in the `opinions` schema.
//!
//! `domain` holds the rules (no I/O), `store` the queries, `grpc` the
//! services, `delivery` the calls owed to other deployments (a parent or
//! child committee served elsewhere). Members, informants and committees
//! are asked of the members service through `cppcc_members_client`.

#![forbid(unsafe_code)]

pub mod delivery;
pub mod domain;
pub mod grpc;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use cppcc_kit::BoxError;
use cppcc_kit::auth::{AuthArgs, TokenIssuer, TokenVerifier};
use cppcc_kit::db::{Database, DatabaseArgs, Schema};
use cppcc_kit::server::{Server, ServerArgs};
use cppcc_kit::telemetry::TelemetryArgs;
use secrecy::SecretString;

use cppcc_proto::opinions::v1::bulletin_service_server::BulletinServiceServer;
use cppcc_proto::opinions::v1::opinion_quota_service_server::OpinionQuotaServiceServer;
use cppcc_proto::opinions::v1::opinion_report_service_server::OpinionReportServiceServer;
use cppcc_proto::opinions::v1::upward_inbox_service_server::UpwardInboxServiceServer;

pub use delivery::Remote;

/// The schema this service owns.
pub const SCHEMA: Schema = Schema::new("opinions");

/// The service's migrations.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The opinions service's configuration.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "cppcc-opinions", about = "The cppcc opinions service", version)]
pub struct Config {
    /// The address to serve gRPC on.
    #[arg(
        long = "addr",
        env = "CPPCC_OPINIONS_ADDR",
        default_value = "0.0.0.0:50067"
    )]
    pub addr: SocketAddr,
    /// The members service, which says who is a member or an informant and
    /// which committee is whose parent (e.g. `http://members:50061`).
    #[arg(long = "members-uri", env = "CPPCC_OPINIONS_MEMBERS_URI")]
    pub members_uri: String,
    /// Committees served by another deployment, as `committee=uri` (the
    /// other deployment's gateway or opinions service, e.g.
    /// `suizhou=https://cppcc.suizhou.gov.cn`); repeat the flag or separate
    /// with commas. Forwards to such a parent, and decisions back to such a
    /// child, are delivered there by the delivery worker; every other
    /// committee is served here.
    #[arg(long = "remote", env = "CPPCC_OPINIONS_REMOTES", value_delimiter = ',')]
    pub remotes: Vec<Remote>,
    /// The Ed25519 private key (PEM text, or a file holding it) this
    /// service signs its own short-lived tokens with, to call the members
    /// service and the remote deployments, which must trust its public half.
    #[arg(
        long = "service-key",
        env = "CPPCC_SERVICE_KEY",
        hide_env_values = true
    )]
    pub service_key: SecretString,
    /// The key id (`kid`) to put in those tokens.
    #[arg(long = "service-key-id", env = "CPPCC_SERVICE_KEY_ID")]
    pub service_key_id: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Connects and migrates the database and builds the server (with its
/// delivery worker), ready to serve.
pub async fn server(config: &Config) -> Result<Server, BoxError> {
    let db = Database::connect(SCHEMA, &config.database, &MIGRATIONS).await?;
    let verifier = Arc::new(TokenVerifier::from_args(&config.auth)?);
    let issuer = TokenIssuer::for_service(
        &config.service_key,
        config.service_key_id.clone(),
        &config.auth,
    )?;
    let members = cppcc_members_client::Members::new(
        &config.members_uri,
        "--members-uri (CPPCC_OPINIONS_MEMBERS_URI)",
        issuer.clone(),
        "cppcc-opinions",
    )?;
    let remotes = delivery::Remotes::new(&config.remotes, issuer)?;
    let api = grpc::Api::new(db.clone(), members, remotes.clone());
    let worker_db = db.clone();
    Ok(Server::new(db, verifier, &config.server)?
        .add_service(OpinionReportServiceServer::new(api.clone()))
        .add_service(UpwardInboxServiceServer::new(api.clone()))
        .add_service(BulletinServiceServer::new(api.clone()))
        .add_service(OpinionQuotaServiceServer::new(api))
        .add_worker(move |stop| delivery::run(worker_db, remotes, stop)))
}
