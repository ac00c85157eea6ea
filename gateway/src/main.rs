//! `cppcc-gateway`: the suite's public endpoint.

use clap::Parser as _;
use cppcc_gateway::config::Config;

#[tokio::main]
async fn main() -> Result<(), cppcc_kit::BoxError> {
    let config = Config::parse();
    let _telemetry = cppcc_kit::telemetry::init("cppcc-gateway", &config.telemetry)?;
    let mut gateway = config.build()?;
    let listener = cppcc_kit::server::bind(config.addr, "--addr / CPPCC_GATEWAY_ADDR").await?;
    if let Some(addr) = config.admin_addr {
        let admin =
            cppcc_kit::server::bind(addr, "--admin-addr / CPPCC_GATEWAY_ADMIN_ADDR").await?;
        gateway = gateway.with_admin_listener(admin);
    }
    gateway
        .serve(listener, cppcc_kit::server::shutdown_signal())
        .await
}
