//! The members service: committees and their settings, sectors, special
//! committees and their seats, and members, in the `members` schema.
//!
//! `domain` holds the rules (no I/O), `store` the queries, `grpc` the
//! services. Everything else — database and migrations, tokens, errors,
//! audit, outbox, event stream, health, reflection, shutdown — comes from
//! `cppcc-kit`.

#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod intake;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use cppcc_kit::BoxError;
use cppcc_kit::auth::{AuthArgs, TokenVerifier};
use cppcc_kit::config::PiiArgs;
use cppcc_kit::db::{Database, DatabaseArgs, Schema};
use cppcc_kit::server::{Server, ServerArgs};
use cppcc_kit::telemetry::TelemetryArgs;

use crate::intake::{Intake, IntakeArgs};
use cppcc_proto::members::v1::activity_group_service_server::ActivityGroupServiceServer;
use cppcc_proto::members::v1::committee_service_server::CommitteeServiceServer;
use cppcc_proto::members::v1::duty_record_service_server::DutyRecordServiceServer;
use cppcc_proto::members::v1::evaluation_service_server::EvaluationServiceServer;
use cppcc_proto::members::v1::liaison_network_service_server::LiaisonNetworkServiceServer;
use cppcc_proto::members::v1::member_service_server::MemberServiceServer;
use cppcc_proto::members::v1::studio_service_server::StudioServiceServer;

/// The schema this service owns.
pub const SCHEMA: Schema = Schema::new("members");

/// The service's migrations.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The members service's configuration.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "cppcc-members", about = "The cppcc members service", version)]
pub struct Config {
    /// The address to serve gRPC on.
    #[arg(
        long = "addr",
        env = "CPPCC_MEMBERS_ADDR",
        default_value = "0.0.0.0:50061"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub pii: PiiArgs,
    #[command(flatten)]
    pub intake: IntakeArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Connects and migrates the database and builds the server, ready to serve.
pub async fn server(config: &Config) -> Result<Server, BoxError> {
    let db = Database::connect(SCHEMA, &config.database, &MIGRATIONS).await?;
    let verifier = Arc::new(TokenVerifier::from_args(&config.auth)?);
    let pii = Arc::new(config.pii.cipher()?);
    // After a key rotation, seal old rows with the new keys, in the background.
    let (pool, keys) = (db.pool().clone(), pii.clone());
    tokio::spawn(async move {
        match store::reseal::reseal(&pool, &keys).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "personal data sealed again with the active key"),
            Err(e) => {
                tracing::warn!(error = %e, "re-sealing personal data failed; old keys are still needed")
            }
        }
    });
    let intake = Intake::new(db.clone(), &config.intake, &config.auth)?;
    let intake_status = intake.as_ref().map(Intake::status).unwrap_or_default();
    let shared = grpc::Shared {
        db: db.clone(),
        pii,
    };
    let organisation = grpc::OrganisationApi::new(shared.clone());
    let mut server = Server::new(db, verifier, &config.server)?
        .add_service(CommitteeServiceServer::new(grpc::CommitteeApi::new(
            shared.clone(),
        )))
        .add_service(MemberServiceServer::new(grpc::MemberApi::new(
            shared.clone(),
        )))
        .add_service(ActivityGroupServiceServer::new(organisation.clone()))
        .add_service(StudioServiceServer::new(organisation.clone()))
        .add_service(LiaisonNetworkServiceServer::new(organisation))
        .add_service(DutyRecordServiceServer::new(grpc::DutyRecordApi::new(
            shared.clone(),
            intake_status,
        )))
        .add_service(EvaluationServiceServer::new(grpc::EvaluationApi::new(
            shared,
        )));
    if let Some(intake) = intake {
        server = server.add_worker(|stop| intake.run(stop));
    }
    Ok(server)
}
