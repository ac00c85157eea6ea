//! The proposals service's queries, on its own schema only. Rows are
//! plain structs; the `grpc` layer turns them into messages.

pub mod assessment;
pub mod follow_up;
pub mod handling;
pub mod office;
pub mod proposals;

/// A connection or transaction's connection.
pub type Conn = sqlx::PgConnection;
/// What queries return.
pub type Result<T> = std::result::Result<T, sqlx::Error>;
