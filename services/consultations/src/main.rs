//! `cppcc-consultations`: the consultations service on its own.

use clap::Parser as _;
use cppcc_consultations::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let _telemetry = cppcc_kit::telemetry::init("cppcc-consultations", &config.telemetry)
        .map_err(anyhow::Error::from_boxed)?;
    if config.database.migrate_only {
        return cppcc_kit::db::Database::migrate_only(
            cppcc_consultations::SCHEMA,
            &config.database,
            &cppcc_consultations::MIGRATIONS,
        )
        .await
        .map_err(anyhow::Error::from_boxed);
    }
    let server = cppcc_consultations::server(&config)
        .await
        .map_err(anyhow::Error::from_boxed)?;
    let listener =
        cppcc_kit::server::bind(config.addr, "--addr / CPPCC_CONSULTATIONS_ADDR").await?;
    server
        .serve(listener, cppcc_kit::server::shutdown_signal())
        .await
        .map_err(anyhow::Error::from_boxed)
}
