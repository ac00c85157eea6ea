//! What every cppcc service shares, so that a service writes only its
//! domain: configuration, telemetry, the database and its migrations,
//! errors and their mapping to gRPC status, callers and their tokens,
//! resource names, list filters and pages, request ids, etags, personal
//! data protection, the transactional outbox and its event stream, the
//! audit log, and the server that puts it all together.

#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod change;
pub mod client;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod error;
pub mod etag;
pub mod events;
pub mod fieldmask;
pub mod filter;
pub mod instruction;
pub mod json;
pub mod maintenance;
pub mod names;
pub mod page;
pub mod pii;
pub mod reflection;
pub mod server;
pub mod telemetry;
pub mod text;

/// A boxed error for start-up paths, where the message is all that matters.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub use error::{Result, ServiceError, Violations};
