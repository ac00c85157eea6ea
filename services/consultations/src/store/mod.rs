//! The consultations service's queries, on its own schema only.

pub mod activities;
pub mod plans;
pub mod platforms;
pub mod results;

/// A connection or transaction's connection.
pub type Conn = sqlx::PgConnection;
/// What queries return.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// The committee's days for results and reports: (after a meeting, after
/// research), 3 and 7 unless it set others.
pub async fn deadlines(conn: &mut Conn, committee: &str) -> Result<(i16, i16)> {
    let row = sqlx::query!(
        "SELECT result_days, report_days FROM consultations.settings WHERE committee_id = $1",
        committee
    )
    .fetch_optional(conn)
    .await?;
    Ok(row
        .map(|r| (r.result_days, r.report_days))
        .unwrap_or((3, 7)))
}
