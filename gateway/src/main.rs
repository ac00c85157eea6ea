//! `cppcc-gateway`: the suite's public endpoint.

use clap::Parser as _;
use cppcc_gateway::config::Config;

fn main() -> Result<(), cppcc_kit::BoxError> {
    let config = Config::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = config.worker_threads {
        runtime.worker_threads(threads.get());
    }
    runtime.build()?.block_on(run(config))
}

async fn run(config: Config) -> Result<(), cppcc_kit::BoxError> {
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
