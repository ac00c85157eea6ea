//! The opinions service's queries, on its own schema only.

pub mod delivery;
pub mod inbox;
pub mod reports;

use time::Date;
use uuid::Uuid;

/// A connection or transaction's connection.
pub type Conn = sqlx::PgConnection;
/// What queries return.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// A staff member on the quota roster.
#[derive(Clone, Debug)]
pub struct StaffRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub unit: String,
    pub active: bool,
}

pub async fn insert_staff(conn: &mut Conn, s: &StaffRow) -> Result<()> {
    sqlx::query!(
        "INSERT INTO opinions.staff (id, committee_id, display_name, unit, active) VALUES ($1, $2, $3, $4, $5)",
        s.id,
        s.committee_id,
        s.display_name,
        s.unit,
        s.active
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The committee's roster (with `ids`, those only), by unit and name.
pub async fn staff(
    conn: &mut Conn,
    committee: &str,
    ids: Option<&[Uuid]>,
) -> Result<Vec<StaffRow>> {
    sqlx::query_as!(
        StaffRow,
        r#"SELECT id, committee_id, display_name, unit, active FROM opinions.staff
         WHERE committee_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2))
         ORDER BY unit COLLATE opinions.zh_pinyin, display_name COLLATE opinions.zh_pinyin, id"#,
        committee,
        ids as Option<&[Uuid]>
    )
    .fetch_all(conn)
    .await
}

pub async fn set_staff_active(conn: &mut Conn, id: Uuid, active: bool) -> Result<()> {
    sqlx::query!(
        "UPDATE opinions.staff SET active = $2 WHERE id = $1",
        id,
        active
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Reports each staff member of the committee submitted from `from` to
/// `to` (inclusive).
pub async fn staff_reports(
    conn: &mut Conn,
    committee: &str,
    from: Date,
    to: Date,
) -> Result<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT staff_id AS "staff!", count(*) AS "n!" FROM opinions.report
         WHERE committee_id = $1 AND staff_id IS NOT NULL AND submit_day BETWEEN $2 AND $3
         GROUP BY staff_id"#,
        committee,
        from,
        to
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.staff, r.n)).collect())
}
