//! `cppcc-gateway`: the suite's public endpoint.

use clap::Parser as _;
use cppcc_gateway::config::Config;

#[tokio::main]
async fn main() -> Result<(), cppcc_kit::BoxError> {
    let config = Config::parse();
    let _telemetry = cppcc_kit::telemetry::init("cppcc-gateway", &config.telemetry)?;
    let gateway = config.build()?;
    let listener = cppcc_kit::server::bind(config.addr, "--addr / CPPCC_GATEWAY_ADDR").await?;
    gateway
        .serve(listener, cppcc_kit::server::shutdown_signal())
        .await
}
