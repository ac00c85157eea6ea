//! Members and their status history.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A member as stored (personal data sealed), with its special committees.
#[derive(Clone, Debug)]
pub struct MemberRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub gender: i16,
    pub ethnicity: String,
    pub birth_date_sealed: Option<Vec<u8>>,
    pub birth_year: Option<i32>,
    pub id_number_sealed: Vec<u8>,
    pub id_number_masked: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
    pub political_affiliation: i16,
    pub sector_id: Uuid,
    pub employer: String,
    pub job_title: String,
    pub role: i16,
    pub city_member: bool,
    pub status: i16,
    pub township: String,
    pub links: serde_json::Value,
    pub term: i32,
    pub join_date: Option<Date>,
    pub education: String,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub special_committees: Vec<Uuid>,
}

/// A member's fields as written (personal data already sealed).
#[derive(Clone, Debug)]
pub struct MemberWrite {
    pub display_name: String,
    pub gender: i16,
    pub ethnicity: String,
    pub birth_date_sealed: Vec<u8>,
    pub birth_year: i32,
    pub id_number_sealed: Vec<u8>,
    pub id_number_index: Vec<u8>,
    pub id_number_masked: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
    pub political_affiliation: i16,
    pub sector_id: Uuid,
    pub employer: String,
    pub job_title: String,
    pub role: i16,
    pub city_member: bool,
    pub township: String,
    pub links: serde_json::Value,
    pub term: i32,
    pub join_date: Option<Date>,
    pub education: String,
}

/// The unique index on (committee, ID number hash).
pub const ID_NUMBER_KEY: &str = "member_id_number_key";

/// Inserts a member; the row as stored (a new member sits on no special committee).
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    w: &MemberWrite,
) -> Result<MemberRow, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"INSERT INTO members.member AS m (
             id, committee_id, display_name, gender, ethnicity, birth_date_sealed, birth_year,
             id_number_sealed, id_number_index, id_number_masked, phone_sealed, phone_masked,
             political_affiliation, sector_id, employer, job_title, role, city_member, township,
             links, term, join_date, education)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                   $20, $21, $22, $23)
           RETURNING m.id, m.committee_id, m.display_name, m.gender, m.ethnicity, m.birth_date_sealed,
                          m.birth_year, m.id_number_sealed, m.id_number_masked, m.phone_sealed, m.phone_masked,
                          m.political_affiliation, m.sector_id, m.employer, m.job_title, m.role, m.city_member,
                          m.status, m.township, m.links, m.term, m.join_date, m.education, m.revision,
                          m.create_time, m.update_time,
                     ARRAY[]::uuid[] AS "special_committees!""#,
        id,
        committee,
        w.display_name,
        w.gender,
        w.ethnicity,
        w.birth_date_sealed,
        w.birth_year,
        w.id_number_sealed,
        w.id_number_index,
        w.id_number_masked,
        w.phone_sealed,
        w.phone_masked,
        w.political_affiliation,
        w.sector_id,
        w.employer,
        w.job_title,
        w.role,
        w.city_member,
        w.township,
        w.links,
        w.term,
        w.join_date,
        w.education,
    )
    .fetch_one(conn)
    .await
}

/// Rewrites a member's fields; the row as stored.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    w: &MemberWrite,
) -> Result<MemberRow, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"UPDATE members.member AS m SET
             display_name = $2, gender = $3, ethnicity = $4, birth_date_sealed = $5, birth_year = $6,
             id_number_sealed = $7, id_number_index = $8, id_number_masked = $9, phone_sealed = $10,
             phone_masked = $11, political_affiliation = $12, sector_id = $13, employer = $14,
             job_title = $15, role = $16, city_member = $17, township = $18, links = $19, term = $20,
             join_date = $21, education = $22, revision = m.revision + 1, update_time = now()
           WHERE m.id = $1
           RETURNING m.id, m.committee_id, m.display_name, m.gender, m.ethnicity, m.birth_date_sealed,
                          m.birth_year, m.id_number_sealed, m.id_number_masked, m.phone_sealed, m.phone_masked,
                          m.political_affiliation, m.sector_id, m.employer, m.job_title, m.role, m.city_member,
                          m.status, m.township, m.links, m.term, m.join_date, m.education, m.revision,
                          m.create_time, m.update_time,
                     ARRAY(SELECT f.special_committee_id
                           FROM members.special_committee_member f
                           JOIN members.special_committee s ON s.id = f.special_committee_id
                           WHERE f.member_id = m.id AND s.delete_time IS NULL
                           ORDER BY s.sort_order, s.id) AS "special_committees!""#,
        id,
        w.display_name,
        w.gender,
        w.ethnicity,
        w.birth_date_sealed,
        w.birth_year,
        w.id_number_sealed,
        w.id_number_index,
        w.id_number_masked,
        w.phone_sealed,
        w.phone_masked,
        w.political_affiliation,
        w.sector_id,
        w.employer,
        w.job_title,
        w.role,
        w.city_member,
        w.township,
        w.links,
        w.term,
        w.join_date,
        w.education,
    )
    .fetch_one(conn)
    .await
}

/// The committee's current term and whether `sector` is a live sector of
/// it: what a member's fields refer to. `None` if there is no such
/// committee. The sector is share-locked, so it cannot be deleted before
/// this transaction ends.
pub async fn references(
    conn: &mut PgConnection,
    committee: &str,
    sector: Uuid,
) -> Result<Option<(i32, bool)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT c.current_term, s.id IS NOT NULL AS "sector_live!"
           FROM members.committee c
           LEFT JOIN LATERAL (
             SELECT id FROM members.sector
             WHERE committee_id = c.id AND id = $2 AND delete_time IS NULL
             FOR KEY SHARE
           ) s ON true
           WHERE c.id = $1"#,
        committee,
        sector,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.current_term, r.sector_live)))
}

/// Reads members of a committee by id, in any order. (The ids are looked
/// up by primary key alone and rows of other committees dropped here, so
/// the planner never trades the key for the committee index.)
pub async fn get_many(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let mut rows = sqlx::query_as!(
        MemberRow,
        r#"SELECT m.id, m.committee_id, m.display_name, m.gender, m.ethnicity, m.birth_date_sealed,
                  m.birth_year, m.id_number_sealed, m.id_number_masked, m.phone_sealed, m.phone_masked,
                  m.political_affiliation, m.sector_id, m.employer, m.job_title, m.role, m.city_member,
                  m.status, m.township, m.links, m.term, m.join_date, m.education, m.revision,
                  m.create_time, m.update_time,
                  ARRAY(SELECT f.special_committee_id
                        FROM members.special_committee_member f
                        JOIN members.special_committee s ON s.id = f.special_committee_id
                        WHERE f.member_id = m.id AND s.delete_time IS NULL
                        ORDER BY s.sort_order, s.id) AS "special_committees!"
           FROM members.member m WHERE m.id = ANY($1)"#,
        ids,
    )
    .fetch_all(conn)
    .await?;
    rows.retain(|r| r.committee_id == committee);
    Ok(rows)
}

/// Locks a member of a committee for a change; its revision and status.
pub async fn lock(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<(i64, i16)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT revision, status FROM members.member WHERE committee_id = $1 AND id = $2 FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.revision, r.status)))
}

pub async fn set_status(conn: &mut PgConnection, id: Uuid, status: i16) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.member SET status = $2, revision = revision + 1, update_time = now() WHERE id = $1",
        id,
        status,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Marks a member changed (its special committees moved).
pub async fn touch(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.member SET revision = revision + 1, update_time = now() WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// One status change as stored.
#[derive(Clone, Debug)]
pub struct StatusChangeRow {
    pub id: i64,
    pub member_id: Uuid,
    pub from_status: i16,
    pub to_status: i16,
    pub effective_date: Date,
    pub reason: String,
    pub actor: String,
    pub actor_role: i16,
    pub change_time: OffsetDateTime,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_status_change(
    conn: &mut PgConnection,
    member: Uuid,
    from: i16,
    to: i16,
    effective: Date,
    reason: &str,
    actor: &str,
    actor_role: i16,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.member_status_change
             (member_id, from_status, to_status, effective_date, reason, actor, actor_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        member,
        from,
        to,
        effective,
        reason,
        actor,
        actor_role,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A page of a member's status changes, oldest first, after the given id.
pub async fn status_changes(
    conn: &mut PgConnection,
    member: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<StatusChangeRow>, sqlx::Error> {
    sqlx::query_as!(
        StatusChangeRow,
        "SELECT id, member_id, from_status, to_status, effective_date, reason, actor, actor_role, change_time
         FROM members.member_status_change
         WHERE member_id = $1 AND id > $2
         ORDER BY id LIMIT $3",
        member,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}
