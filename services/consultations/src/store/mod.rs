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

/// Sets the committee's days for results and reports.
pub async fn put_deadlines(
    conn: &mut Conn,
    committee: &str,
    result_days: i16,
    report_days: i16,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO consultations.settings (committee_id, result_days, report_days) VALUES ($1, $2, $3)
         ON CONFLICT (committee_id) DO UPDATE SET result_days = $2, report_days = $3",
        committee,
        result_days,
        report_days
    )
    .execute(conn)
    .await?;
    Ok(())
}
