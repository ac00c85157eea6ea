//! The proposals service: proposals (提案) from draft to closed, the units
//! that handle them, their follow-up, and the yearly assessment of units,
//! in the `proposals` schema.
//!
//! `domain` holds the rules (no I/O), `store` the queries, `grpc` the
//! services; proposers are checked with the members service through
//! `cppcc_members_client`. Everything else comes from `cppcc-kit`.

#![forbid(unsafe_code)]

pub mod conversion;
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

use cppcc_proto::proposals::v1::proposal_assessment_service_server::ProposalAssessmentServiceServer;
use cppcc_proto::proposals::v1::proposal_follow_up_service_server::ProposalFollowUpServiceServer;
use cppcc_proto::proposals::v1::proposal_office_service_server::ProposalOfficeServiceServer;
use cppcc_proto::proposals::v1::proposal_service_server::ProposalServiceServer;

/// The schema this service owns.
pub const SCHEMA: Schema = Schema::new("proposals");

/// The service's migrations.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The proposals service's configuration.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "cppcc-proposals",
    about = "The cppcc proposals service",
    version
)]
pub struct Config {
    /// The address to serve gRPC on.
    #[arg(
        long = "addr",
        env = "CPPCC_PROPOSALS_ADDR",
        default_value = "0.0.0.0:50063"
    )]
    pub addr: SocketAddr,
    /// The members service, which says who is a member and in office
    /// (e.g. `http://members:50061`).
    #[arg(long = "members-uri", env = "CPPCC_PROPOSALS_MEMBERS_URI")]
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
    /// The opinions service, which takes proposals turned into opinion
    /// reports (e.g. `http://opinions:50067`). Without it, converted
    /// proposals wait, pending, until it is given.
    #[arg(long = "opinions-uri", env = "CPPCC_PROPOSALS_OPINIONS_URI")]
    pub opinions_uri: Option<String>,
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
    let opinions = match config.opinions_uri.as_deref().filter(|u| !u.is_empty()) {
        Some(uri) => Some(conversion::Opinions::new(uri, issuer.clone())?),
        None => {
            tracing::info!("no --opinions-uri: converted proposals wait, pending");
            None
        }
    };
    let members = cppcc_members_client::Members::new(
        &config.members_uri,
        "--members-uri (CPPCC_PROPOSALS_MEMBERS_URI)",
        issuer,
        "cppcc-proposals",
    )?;
    let api = grpc::Api::new(db.clone(), members);
    let mut server = Server::new(db.clone(), verifier, &config.server)?
        .add_service(ProposalOfficeServiceServer::new(api.clone()))
        .add_service(ProposalServiceServer::new(api.clone()))
        .add_service(ProposalFollowUpServiceServer::new(api.clone()))
        .add_service(ProposalAssessmentServiceServer::new(api));
    if let Some(opinions) = opinions {
        server = server.add_worker(move |stop| conversion::run(db, opinions, stop));
    }
    Ok(server)
}
