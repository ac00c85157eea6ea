//! `cppcc-proposals`: the proposals service on its own.

use clap::Parser as _;
use cppcc_proposals::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let _telemetry = cppcc_kit::telemetry::init("cppcc-proposals", &config.telemetry)
        .map_err(anyhow::Error::from_boxed)?;
    if config.database.migrate_only {
        return cppcc_kit::db::Database::migrate_only(
            cppcc_proposals::SCHEMA,
            &config.database,
            &cppcc_proposals::MIGRATIONS,
        )
        .await
        .map_err(anyhow::Error::from_boxed);
    }
    let server = cppcc_proposals::server(&config)
        .await
        .map_err(anyhow::Error::from_boxed)?;
    let listener = cppcc_kit::server::bind(config.addr, "--addr / CPPCC_PROPOSALS_ADDR").await?;
    server
        .serve(listener, cppcc_kit::server::shutdown_signal())
        .await
        .map_err(anyhow::Error::from_boxed)
}
