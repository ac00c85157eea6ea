//! Sectors, special committees, and members' seats on special committees.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// The two catalogues of a committee: sectors and special committees.
/// They have the same shape; a sector also has a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalogue {
    Sectors,
    SpecialCommittees,
}

impl Catalogue {
    /// The unique index on a committee's live entry names.
    pub fn name_key(self) -> &'static str {
        match self {
            Catalogue::Sectors => "sector_display_name_key",
            Catalogue::SpecialCommittees => "special_committee_display_name_key",
        }
    }
}

/// A catalogue entry as stored. `count` is, for a sector, its members in
/// office; for a special committee, its seats.
#[derive(Clone, Debug)]
pub struct EntryRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub kind: i16,
    pub sort_order: i32,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub count: i64,
    pub chair: Option<Uuid>,
}

/// An entry's fields as written (`kind` is 0 for special committees).
#[derive(Clone, Debug)]
pub struct EntryFields {
    pub display_name: String,
    pub kind: i16,
    pub sort_order: i32,
}

/// The unique index allowing one chair per special committee.
pub const CHAIR_KEY: &str = "special_committee_chair_key";

pub async fn insert(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    id: Uuid,
    committee: &str,
    f: &EntryFields,
) -> Result<(), sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => sqlx::query!(
            "INSERT INTO members.sector (id, committee_id, display_name, kind, sort_order) VALUES ($1, $2, $3, $4, $5)",
            id,
            committee,
            f.display_name,
            f.kind,
            f.sort_order,
        )
        .execute(conn)
        .await
        .map(drop),
        Catalogue::SpecialCommittees => sqlx::query!(
            "INSERT INTO members.special_committee (id, committee_id, display_name, sort_order) VALUES ($1, $2, $3, $4)",
            id,
            committee,
            f.display_name,
            f.sort_order,
        )
        .execute(conn)
        .await
        .map(drop),
    }
}

/// Reads entries by id, in any order.
pub async fn read(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<EntryRow>, sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => {
            sqlx::query_as!(
                EntryRow,
                r#"SELECT s.id, s.committee_id, s.display_name, s.kind, s.sort_order, s.revision,
                          s.create_time, s.update_time, s.delete_time,
                          (SELECT count(*) FROM members.member m WHERE m.sector_id = s.id AND m.status = 1)
                            AS "count!",
                          NULL::uuid AS chair
                   FROM members.sector s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
                committee,
                ids,
            )
            .fetch_all(conn)
            .await
        }
        Catalogue::SpecialCommittees => {
            sqlx::query_as!(
                EntryRow,
                r#"SELECT s.id, s.committee_id, s.display_name, 0::smallint AS "kind!", s.sort_order, s.revision,
                          s.create_time, s.update_time, s.delete_time,
                          (SELECT count(*) FROM members.special_committee_member f
                           WHERE f.special_committee_id = s.id) AS "count!",
                          (SELECT f.member_id FROM members.special_committee_member f
                           WHERE f.special_committee_id = s.id AND f.position = 1) AS chair
                   FROM members.special_committee s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
                committee,
                ids,
            )
            .fetch_all(conn)
            .await
        }
    }
}

/// Locks a live entry for a change; its revision.
pub async fn lock(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => {
            sqlx::query_scalar!(
                "SELECT revision FROM members.sector
                 WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
                committee,
                id,
            )
            .fetch_optional(conn)
            .await
        }
        Catalogue::SpecialCommittees => {
            sqlx::query_scalar!(
                "SELECT revision FROM members.special_committee
                 WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
                committee,
                id,
            )
            .fetch_optional(conn)
            .await
        }
    }
}

pub async fn update(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    id: Uuid,
    f: &EntryFields,
) -> Result<(), sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => sqlx::query!(
            "UPDATE members.sector SET display_name = $2, kind = $3, sort_order = $4,
                    revision = revision + 1, update_time = now()
             WHERE id = $1",
            id,
            f.display_name,
            f.kind,
            f.sort_order,
        )
        .execute(conn)
        .await
        .map(drop),
        Catalogue::SpecialCommittees => sqlx::query!(
            "UPDATE members.special_committee SET display_name = $2, sort_order = $3,
                    revision = revision + 1, update_time = now()
             WHERE id = $1",
            id,
            f.display_name,
            f.sort_order,
        )
        .execute(conn)
        .await
        .map(drop),
    }
}

/// What still uses an entry: members (in any status) sitting for a
/// sector, or seats on a special committee.
pub async fn users(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    id: Uuid,
) -> Result<i64, sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => {
            sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM members.member WHERE sector_id = $1"#, id)
                .fetch_one(conn)
                .await
        }
        Catalogue::SpecialCommittees => {
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM members.special_committee_member WHERE special_committee_id = $1"#,
                id,
            )
            .fetch_one(conn)
            .await
        }
    }
}

/// Marks an entry deleted (kept as a tombstone), or changed when `delete` is false.
pub async fn mark(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    id: Uuid,
    delete: bool,
) -> Result<(), sqlx::Error> {
    match catalogue {
        Catalogue::Sectors => sqlx::query!(
            "UPDATE members.sector
             SET delete_time = CASE WHEN $2 THEN now() ELSE delete_time END,
                 update_time = now(), revision = revision + 1
             WHERE id = $1",
            id,
            delete,
        )
        .execute(conn)
        .await
        .map(drop),
        Catalogue::SpecialCommittees => sqlx::query!(
            "UPDATE members.special_committee
             SET delete_time = CASE WHEN $2 THEN now() ELSE delete_time END,
                 update_time = now(), revision = revision + 1
             WHERE id = $1",
            id,
            delete,
        )
        .execute(conn)
        .await
        .map(drop),
    }
}

/// The special committees a member sits on, by id.
pub async fn seats_of(conn: &mut PgConnection, member: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT special_committee_id FROM members.special_committee_member WHERE member_id = $1 ORDER BY 1",
        member,
    )
    .fetch_all(conn)
    .await
}

/// Locks special committees for a change to their seats, in id order (the
/// order every change takes them in, special committees before members, so
/// two changes never wait on each other in a circle).
pub async fn lock_special_committees(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT id FROM members.special_committee WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        ids,
    )
    .fetch_all(conn)
    .await
    .map(drop)
}

/// Removes every seat of a member; the special committees and positions it had.
pub async fn remove_seats(
    conn: &mut PgConnection,
    member: Uuid,
) -> Result<Vec<(Uuid, i16)>, sqlx::Error> {
    let rows = sqlx::query!(
        "DELETE FROM members.special_committee_member WHERE member_id = $1
         RETURNING special_committee_id, position",
        member,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.special_committee_id, r.position))
        .collect())
}

/// A member's seat on one special committee, if it has one.
pub async fn seat(
    conn: &mut PgConnection,
    special_committee: Uuid,
    member: Uuid,
) -> Result<Option<SeatRow>, sqlx::Error> {
    sqlx::query_as!(
        SeatRow,
        r#"SELECT f.special_committee_id, f.member_id, m.display_name AS member_display_name,
                  f.position, f.create_time
           FROM members.special_committee_member f JOIN members.member m ON m.id = f.member_id
           WHERE f.special_committee_id = $1 AND f.member_id = $2"#,
        special_committee,
        member,
    )
    .fetch_optional(conn)
    .await
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
