//! The gateway: the suite's one public endpoint. It authenticates callers,
//! authorises by method and role, limits rates and concurrency per caller,
//! forwards gRPC frames to the service that owns the method with
//! per-request load balancing over every endpoint, and speaks gRPC-Web and
//! JSON for browsers and scripts; it answers reflection and health for the
//! whole suite.

pub mod config;
pub mod descriptors;
pub mod frames;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod server;
pub mod tls;
pub mod upstream;
