//! The consultations service: the annual consultation plan, platforms,
//! activities and their eight steps, results and 《建言资政》, in the
//! `consultations` schema.
//!
//! `domain` holds the rules (no I/O), `store` the queries, `grpc` the
//! services; participants are checked with the members service through
//! `cppcc_members_client`. Everything else comes from `cppcc-kit`.

#![forbid(unsafe_code)]

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

use cppcc_proto::consultations::v1::activity_service_server::ActivityServiceServer;
use cppcc_proto::consultations::v1::consultation_plan_service_server::ConsultationPlanServiceServer;
use cppcc_proto::consultations::v1::consultation_result_service_server::ConsultationResultServiceServer;
use cppcc_proto::consultations::v1::platform_service_server::PlatformServiceServer;

/// The schema this service owns.
pub const SCHEMA: Schema = Schema::new("consultations");

/// The service's migrations.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The consultations service's configuration.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "cppcc-consultations",
    about = "The cppcc consultations service",
    version
)]
pub struct Config {
    /// The address to serve gRPC on.
    #[arg(
        long = "addr",
        env = "CPPCC_CONSULTATIONS_ADDR",
        default_value = "0.0.0.0:50065"
    )]
    pub addr: SocketAddr,
    /// The members service, which says who is a member and in office
    /// (e.g. `http://members:50061`).
    #[arg(long = "members-uri", env = "CPPCC_CONSULTATIONS_MEMBERS_URI")]
    pub members_uri: String,
    /// The Ed25519 private key (PEM text, or a file holding it) this
    /// service signs its own short-lived tokens with to call the members
    /// service, which must trust its public half.
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

/// Connects and migrates the database and builds the server, ready to serve.
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
        "--members-uri (CPPCC_CONSULTATIONS_MEMBERS_URI)",
        issuer,
        "cppcc-consultations",
    )?;
    let api = grpc::Api::new(db.clone(), members);
    Ok(Server::new(db, verifier, &config.server)?
        .add_service(ConsultationPlanServiceServer::new(api.clone()))
        .add_service(PlatformServiceServer::new(api.clone()))
        .add_service(ActivityServiceServer::new(api.clone()))
        .add_service(ConsultationResultServiceServer::new(api)))
}
