//! Calling a cppcc service: channels with connect timeouts and keepalive,
//! and the bearer token on every call.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// A channel to `uri` (`http://127.0.0.1:50061`) that connects when first
/// used, with a connect timeout and HTTP/2 keepalive. Call deadlines are set
/// per call.
pub fn channel(uri: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(uri.to_owned())?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true)
        .connect_lazy())
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone, Debug)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    /// A bearer interceptor for `token`.
    ///
    /// # Panics
    /// If the token contains characters a header cannot carry; JWTs never do.
    pub fn new(token: &str) -> Bearer {
        Bearer(
            format!("Bearer {token}")
                .parse()
                .expect("a JWT is a valid header value"),
        )
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        crate::telemetry::inject_context(req.metadata_mut());
        Ok(req)
    }
}

/// A channel with a bearer token, as the generated clients take it.
pub type Authed = tonic::service::interceptor::InterceptedService<Channel, Bearer>;
