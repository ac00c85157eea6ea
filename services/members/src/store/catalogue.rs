//! Sectors, special committees, and members' seats on special committees.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A sector as stored, with its count of members in office.
#[derive(Clone, Debug)]
pub struct SectorRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub kind: i16,
    pub sort_order: i32,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub active_member_count: i64,
}

/// The unique index on a committee's live sector names.
pub const SECTOR_NAME_KEY: &str = "sector_display_name_key";
/// The unique index on a committee's live special-committee names.
pub const SPECIAL_COMMITTEE_NAME_KEY: &str = "special_committee_display_name_key";
/// The unique index allowing one chair per special committee.
pub const CHAIR_KEY: &str = "special_committee_chair_key";

pub async fn insert_sector(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    display_name: &str,
    kind: i16,
    sort_order: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.sector (id, committee_id, display_name, kind, sort_order) VALUES ($1, $2, $3, $4, $5)",
        id,
        committee,
        display_name,
        kind,
        sort_order,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Reads sectors by id (in any order), with their member counts.
pub async fn sectors(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<SectorRow>, sqlx::Error> {
    sqlx::query_as!(
        SectorRow,
        r#"SELECT s.id, s.committee_id, s.display_name, s.kind, s.sort_order, s.revision,
                  s.create_time, s.update_time, s.delete_time,
                  (SELECT count(*) FROM members.member m WHERE m.sector_id = s.id AND m.status = 1)
                    AS "active_member_count!"
           FROM members.sector s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

pub async fn lock_sector(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.sector WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_sector(
    conn: &mut PgConnection,
    id: Uuid,
    display_name: &str,
    kind: i16,
    sort_order: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.sector SET display_name = $2, kind = $3, sort_order = $4,
                revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        display_name,
        kind,
        sort_order,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// How many members (in any status) sit for a sector.
pub async fn sector_member_count(conn: &mut PgConnection, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM members.member WHERE sector_id = $1"#,
        id
    )
    .fetch_one(conn)
    .await
}

pub async fn delete_sector(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.sector SET delete_time = now(), update_time = now(), revision = revision + 1 WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Whether a live sector with this id belongs to the committee.
pub async fn sector_exists(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM members.sector
                          WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL) AS "exists!""#,
        committee,
        id,
    )
    .fetch_one(conn)
    .await
}

/// A special committee as stored, with its chair and size.
#[derive(Clone, Debug)]
pub struct SpecialCommitteeRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub sort_order: i32,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub chair: Option<Uuid>,
    pub member_count: i64,
}

pub async fn insert_special_committee(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    display_name: &str,
    sort_order: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.special_committee (id, committee_id, display_name, sort_order) VALUES ($1, $2, $3, $4)",
        id,
        committee,
        display_name,
        sort_order,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Reads special committees by id (in any order).
pub async fn special_committees(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<SpecialCommitteeRow>, sqlx::Error> {
    sqlx::query_as!(
        SpecialCommitteeRow,
        r#"SELECT s.id, s.committee_id, s.display_name, s.sort_order, s.revision,
                  s.create_time, s.update_time, s.delete_time,
                  (SELECT f.member_id FROM members.special_committee_member f
                   WHERE f.special_committee_id = s.id AND f.position = 1) AS chair,
                  (SELECT count(*) FROM members.special_committee_member f
                   WHERE f.special_committee_id = s.id) AS "member_count!"
           FROM members.special_committee s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

pub async fn lock_special_committee(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.special_committee
         WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_special_committee(
    conn: &mut PgConnection,
    id: Uuid,
    display_name: &str,
    sort_order: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.special_committee SET display_name = $2, sort_order = $3,
                revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        display_name,
        sort_order,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete_special_committee(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.special_committee SET delete_time = now(), update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Marks a special committee changed (its chair or size moved).
pub async fn touch_special_committee(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.special_committee SET revision = revision + 1, update_time = now() WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A member's seat, with the member's name.
#[derive(Clone, Debug)]
pub struct SeatRow {
    pub special_committee_id: Uuid,
    pub member_id: Uuid,
    pub member_display_name: String,
    pub position: i16,
    pub create_time: OffsetDateTime,
}

/// Seats a member or changes the seat's position.
pub async fn upsert_seat(
    conn: &mut PgConnection,
    special_committee: Uuid,
    member: Uuid,
    position: i16,
) -> Result<SeatRow, sqlx::Error> {
    sqlx::query_as!(
        SeatRow,
        r#"WITH seat AS (
             INSERT INTO members.special_committee_member (special_committee_id, member_id, position)
             VALUES ($1, $2, $3)
             ON CONFLICT (special_committee_id, member_id) DO UPDATE SET position = excluded.position
             RETURNING special_committee_id, member_id, position, create_time
           )
           SELECT seat.special_committee_id AS "special_committee_id!", seat.member_id AS "member_id!",
                  m.display_name AS member_display_name, seat.position AS "position!",
                  seat.create_time AS "create_time!"
           FROM seat JOIN members.member m ON m.id = seat.member_id"#,
        special_committee,
        member,
        position,
    )
    .fetch_one(conn)
    .await
}

/// Removes a seat; whether there was one.
pub async fn delete_seat(
    conn: &mut PgConnection,
    special_committee: Uuid,
    member: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM members.special_committee_member WHERE special_committee_id = $1 AND member_id = $2",
        special_committee,
        member,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many seats a special committee has.
pub async fn seat_count(
    conn: &mut PgConnection,
    special_committee: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM members.special_committee_member WHERE special_committee_id = $1"#,
        special_committee,
    )
    .fetch_one(conn)
    .await
}

/// A page of a special committee's seats: chair, vice chairs, members,
/// each by surname strokes, after the given position (position, name, id).
pub async fn seats(
    conn: &mut PgConnection,
    special_committee: Uuid,
    after: Option<(i16, String, Uuid)>,
    limit: i64,
) -> Result<Vec<SeatRow>, sqlx::Error> {
    let (position, name, id) = after.unwrap_or((0, String::new(), Uuid::nil()));
    sqlx::query_as!(
        SeatRow,
        r#"SELECT f.special_committee_id, f.member_id, m.display_name AS member_display_name,
                  f.position, f.create_time
           FROM members.special_committee_member f JOIN members.member m ON m.id = f.member_id
           WHERE f.special_committee_id = $1
             AND ($2::smallint = 0
                  OR (f.position, m.display_name COLLATE members.zh_stroke, f.member_id)
                     > ($2, $3::text COLLATE members.zh_stroke, $4))
           ORDER BY f.position, m.display_name COLLATE members.zh_stroke, f.member_id
           LIMIT $5"#,
        special_committee,
        position,
        name,
        id,
        limit,
    )
    .fetch_all(conn)
    .await
}
