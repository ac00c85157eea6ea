//! Township activity groups and convener appointments, member studios with
//! their members, liaisons and activities, liaison stations and informants.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// An activity group, with its convener in force and its size.
#[derive(Clone, Debug)]
pub struct ActivityGroupRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub township: String,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub member_count: i64,
    pub convener_id: Option<Uuid>,
    pub convener_name: Option<String>,
}

/// The unique index of one live group per township.
pub const GROUP_TOWNSHIP_KEY: &str = "activity_group_township_key";

pub async fn insert_group(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    display_name: &str,
    township: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.activity_group (id, committee_id, display_name, township) VALUES ($1, $2, $3, $4)",
        id,
        committee,
        display_name,
        township,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn groups(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<ActivityGroupRow>, sqlx::Error> {
    sqlx::query_as!(
        ActivityGroupRow,
        r#"SELECT g.id, g.committee_id, g.display_name, g.township, g.revision,
                  g.create_time, g.update_time, g.delete_time,
                  (SELECT count(*) FROM members.member m
                   WHERE m.committee_id = g.committee_id AND m.township = g.township AND m.status IN (1, 2))
                    AS "member_count!",
                  a.id AS "convener_id?", a.candidate_display_name AS "convener_name?"
           FROM members.activity_group g
           LEFT JOIN members.convener_appointment a ON a.activity_group_id = g.id AND a.state = 3
           WHERE g.committee_id = $1 AND g.id = ANY($2)"#,
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// Locks a live group; its revision.
pub async fn lock_group(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.activity_group
         WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_group(
    conn: &mut PgConnection,
    id: Uuid,
    display_name: &str,
    township: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.activity_group SET display_name = $2, township = $3,
                revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        display_name,
        township,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Marks a group deleted, or changed when `delete` is false.
pub async fn mark_group(
    conn: &mut PgConnection,
    id: Uuid,
    delete: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.activity_group
         SET delete_time = CASE WHEN $2 THEN now() ELSE delete_time END,
             update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
        delete,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A convener appointment with every step's stamp.
#[derive(Clone, Debug)]
pub struct AppointmentRow {
    pub id: Uuid,
    pub activity_group_id: Uuid,
    pub committee_id: String,
    pub candidate_display_name: String,
    pub candidate_title: String,
    pub candidate_member_id: Option<Uuid>,
    pub state: i16,
    pub nominated_by: String,
    pub nominated_role: i16,
    pub nominated_time: OffsetDateTime,
    pub nominated_note: String,
    pub agreed_by: Option<String>,
    pub agreed_role: Option<i16>,
    pub agreed_time: Option<OffsetDateTime>,
    pub agreed_note: Option<String>,
    pub approved_by: Option<String>,
    pub approved_role: Option<i16>,
    pub approved_time: Option<OffsetDateTime>,
    pub approved_note: Option<String>,
    pub rejected_by: Option<String>,
    pub rejected_role: Option<i16>,
    pub rejected_time: Option<OffsetDateTime>,
    pub rejected_reason: Option<String>,
    pub ended_by: Option<String>,
    pub ended_role: Option<i16>,
    pub ended_time: Option<OffsetDateTime>,
    pub ended_reason: Option<String>,
    pub revision: i64,
    pub update_time: OffsetDateTime,
}

/// A new nomination.
#[derive(Clone, Debug)]
pub struct Nomination<'a> {
    pub id: Uuid,
    pub group: Uuid,
    pub candidate_display_name: &'a str,
    pub candidate_title: &'a str,
    pub candidate_member: Option<Uuid>,
    pub by: &'a str,
    pub role: i16,
    pub note: &'a str,
}

pub async fn insert_nomination(
    conn: &mut PgConnection,
    n: &Nomination<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.convener_appointment
             (id, activity_group_id, candidate_display_name, candidate_title, candidate_member_id, state,
              nominated_by, nominated_role, nominated_note)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
        n.id,
        n.group,
        n.candidate_display_name,
        n.candidate_title,
        n.candidate_member,
        n.by,
        n.role,
        n.note,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Appointments by id (of a committee, through their group), or the
/// appointments of one group, newest first, after a place in that order.
pub async fn appointments(
    conn: &mut PgConnection,
    committee: &str,
    ids: Option<&[Uuid]>,
    group: Option<Uuid>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<AppointmentRow>, sqlx::Error> {
    let (after_time, after_id) = after.unwrap_or((OffsetDateTime::UNIX_EPOCH, Uuid::nil()));
    sqlx::query_as!(
        AppointmentRow,
        r#"SELECT a.id, a.activity_group_id, g.committee_id, a.candidate_display_name, a.candidate_title,
                  a.candidate_member_id, a.state, a.nominated_by, a.nominated_role, a.nominated_time,
                  a.nominated_note, a.agreed_by, a.agreed_role, a.agreed_time, a.agreed_note,
                  a.approved_by, a.approved_role, a.approved_time, a.approved_note,
                  a.rejected_by, a.rejected_role, a.rejected_time, a.rejected_reason,
                  a.ended_by, a.ended_role, a.ended_time, a.ended_reason, a.revision, a.update_time
           FROM members.convener_appointment a
           JOIN members.activity_group g ON g.id = a.activity_group_id
           WHERE g.committee_id = $1
             AND ($2::uuid[] IS NULL OR a.id = ANY($2))
             AND ($3::uuid IS NULL OR a.activity_group_id = $3)
             AND ($5::uuid = '00000000-0000-0000-0000-000000000000'
                  OR (a.nominated_time, a.id) < ($4, $5))
           ORDER BY a.nominated_time DESC, a.id DESC
           LIMIT $6"#,
        committee,
        ids,
        group,
        after_time,
        after_id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Locks an appointment; its revision, state and group.
pub async fn lock_appointment(
    conn: &mut PgConnection,
    committee: &str,
    group: Uuid,
    id: Uuid,
) -> Result<Option<(i64, i16)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT a.revision, a.state FROM members.convener_appointment a
         JOIN members.activity_group g ON g.id = a.activity_group_id
         WHERE g.committee_id = $1 AND a.activity_group_id = $2 AND a.id = $3
         FOR UPDATE OF a",
        committee,
        group,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.revision, r.state)))
}

/// Takes a step: records the new state and the step's stamp.
pub async fn step_appointment(
    conn: &mut PgConnection,
    id: Uuid,
    state: i16,
    by: &str,
    role: i16,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.convener_appointment SET
             state = $2::smallint,
             agreed_by       = CASE WHEN $2::smallint = 2 THEN $3 ELSE agreed_by END,
             agreed_role     = CASE WHEN $2::smallint = 2 THEN $4 ELSE agreed_role END,
             agreed_time     = CASE WHEN $2::smallint = 2 THEN now() ELSE agreed_time END,
             agreed_note     = CASE WHEN $2::smallint = 2 THEN $5 ELSE agreed_note END,
             approved_by     = CASE WHEN $2::smallint = 3 THEN $3 ELSE approved_by END,
             approved_role   = CASE WHEN $2::smallint = 3 THEN $4 ELSE approved_role END,
             approved_time   = CASE WHEN $2::smallint = 3 THEN now() ELSE approved_time END,
             approved_note   = CASE WHEN $2::smallint = 3 THEN $5 ELSE approved_note END,
             rejected_by     = CASE WHEN $2::smallint = 4 THEN $3 ELSE rejected_by END,
             rejected_role   = CASE WHEN $2::smallint = 4 THEN $4 ELSE rejected_role END,
             rejected_time   = CASE WHEN $2::smallint = 4 THEN now() ELSE rejected_time END,
             rejected_reason = CASE WHEN $2::smallint = 4 THEN $5 ELSE rejected_reason END,
             ended_by        = CASE WHEN $2::smallint = 5 THEN $3 ELSE ended_by END,
             ended_role      = CASE WHEN $2::smallint = 5 THEN $4 ELSE ended_role END,
             ended_time      = CASE WHEN $2::smallint = 5 THEN now() ELSE ended_time END,
             ended_reason    = CASE WHEN $2::smallint = 5 THEN $5 ELSE ended_reason END,
             revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        state,
        by,
        role,
        note,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The group's convener in force, locked: its appointment id.
pub async fn approved_appointment(
    conn: &mut PgConnection,
    group: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM members.convener_appointment WHERE activity_group_id = $1 AND state = 3 FOR UPDATE",
        group,
    )
    .fetch_optional(conn)
    .await
}

/// The appointment of a group under way (nominated or agreed), if any.
pub async fn pending_appointment(
    conn: &mut PgConnection,
    group: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM members.convener_appointment WHERE activity_group_id = $1 AND state IN (1, 2)",
        group,
    )
    .fetch_optional(conn)
    .await
}

/// A studio with its size.
#[derive(Clone, Debug)]
pub struct StudioRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub kind: i16,
    pub township: String,
    pub sector_id: Option<Uuid>,
    pub monthly_target: i32,
    pub established_on: Date,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub member_count: i64,
    pub liaison_count: i64,
}

/// A studio's fields as written.
#[derive(Clone, Debug)]
pub struct StudioFields {
    pub display_name: String,
    pub kind: i16,
    pub township: String,
    pub sector_id: Option<Uuid>,
    pub monthly_target: i32,
    pub established_on: Date,
}

/// The unique index of live studio names.
pub const STUDIO_NAME_KEY: &str = "studio_display_name_key";

pub async fn insert_studio(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    f: &StudioFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.studio
             (id, committee_id, display_name, kind, township, sector_id, monthly_target, established_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        committee,
        f.display_name,
        f.kind,
        f.township,
        f.sector_id,
        f.monthly_target,
        f.established_on,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn studios(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<StudioRow>, sqlx::Error> {
    sqlx::query_as!(
        StudioRow,
        r#"SELECT s.id, s.committee_id, s.display_name, s.kind, s.township, s.sector_id, s.monthly_target,
                  s.established_on, s.revision, s.create_time, s.update_time, s.delete_time,
                  (SELECT count(*) FROM members.studio_member sm JOIN members.member m ON m.id = sm.member_id
                   WHERE sm.studio_id = s.id AND m.status IN (1, 2)) AS "member_count!",
                  (SELECT count(*) FROM members.studio_liaison l
                   WHERE l.studio_id = s.id AND l.delete_time IS NULL) AS "liaison_count!"
           FROM members.studio s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

pub async fn lock_studio(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.studio WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_studio(
    conn: &mut PgConnection,
    id: Uuid,
    f: &StudioFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.studio SET display_name = $2, township = $3, sector_id = $4, monthly_target = $5,
                established_on = $6, revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        f.display_name,
        f.township,
        f.sector_id,
        f.monthly_target,
        f.established_on,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn mark_studio(
    conn: &mut PgConnection,
    id: Uuid,
    delete: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.studio
         SET delete_time = CASE WHEN $2 THEN now() ELSE delete_time END,
             update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
        delete,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Adds a member to a studio; whether it was not there yet.
pub async fn add_studio_member(
    conn: &mut PgConnection,
    studio: Uuid,
    member: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO members.studio_member (studio_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        studio,
        member,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a member from a studio; whether it was there.
pub async fn remove_studio_member(
    conn: &mut PgConnection,
    studio: Uuid,
    member: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM members.studio_member WHERE studio_id = $1 AND member_id = $2",
        studio,
        member,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member of a studio, for listing.
#[derive(Clone, Debug)]
pub struct StudioMemberRow {
    pub member_id: Uuid,
    pub display_name: String,
}

/// A page of a studio's members by surname strokes, after (name, id).
pub async fn studio_members(
    conn: &mut PgConnection,
    studio: Uuid,
    after: Option<(String, Uuid)>,
    limit: i64,
) -> Result<Vec<StudioMemberRow>, sqlx::Error> {
    let (name, id) = after.unwrap_or((String::new(), Uuid::nil()));
    sqlx::query_as!(
        StudioMemberRow,
        r#"SELECT s.member_id, m.display_name
           FROM members.studio_member s JOIN members.member m ON m.id = s.member_id
           WHERE s.studio_id = $1 AND m.status IN (1, 2)
             AND ($3::uuid = '00000000-0000-0000-0000-000000000000'
                  OR (m.display_name COLLATE members.zh_stroke, s.member_id) > ($2::text COLLATE members.zh_stroke, $3))
           ORDER BY m.display_name COLLATE members.zh_stroke, s.member_id
           LIMIT $4"#,
        studio,
        name,
        id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// A village liaison (phone sealed).
#[derive(Clone, Debug)]
pub struct LiaisonRow {
    pub id: Uuid,
    pub studio_id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub village: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
}

/// A liaison's fields as written.
#[derive(Clone, Debug)]
pub struct LiaisonFields {
    pub display_name: String,
    pub village: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
}

pub async fn insert_liaison(
    conn: &mut PgConnection,
    id: Uuid,
    studio: Uuid,
    f: &LiaisonFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.studio_liaison (id, studio_id, display_name, village, phone_sealed, phone_masked)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        studio,
        f.display_name,
        f.village,
        f.phone_sealed,
        f.phone_masked,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Liaisons by id, or a page of a studio's (by village, name, id) after a place.
pub async fn liaisons(
    conn: &mut PgConnection,
    committee: &str,
    studio: Uuid,
    ids: Option<&[Uuid]>,
    show_deleted: bool,
    after: Option<(String, String, Uuid)>,
    limit: i64,
) -> Result<Vec<LiaisonRow>, sqlx::Error> {
    let (village, name, id) = after.unwrap_or((String::new(), String::new(), Uuid::nil()));
    sqlx::query_as!(
        LiaisonRow,
        r#"SELECT l.id, l.studio_id, s.committee_id, l.display_name, l.village, l.phone_sealed, l.phone_masked,
                  l.revision, l.create_time, l.update_time, l.delete_time
           FROM members.studio_liaison l JOIN members.studio s ON s.id = l.studio_id
           WHERE s.committee_id = $1 AND l.studio_id = $2
             AND ($3::uuid[] IS NULL OR l.id = ANY($3))
             AND ($4 OR l.delete_time IS NULL)
             AND ($7::uuid = '00000000-0000-0000-0000-000000000000'
                  OR (l.village COLLATE members.zh_stroke, l.display_name COLLATE members.zh_stroke, l.id)
                     > ($5::text COLLATE members.zh_stroke, $6::text COLLATE members.zh_stroke, $7))
           ORDER BY l.village COLLATE members.zh_stroke, l.display_name COLLATE members.zh_stroke, l.id
           LIMIT $8"#,
        committee,
        studio,
        ids,
        show_deleted,
        village,
        name,
        id,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn lock_liaison(
    conn: &mut PgConnection,
    studio: Uuid,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.studio_liaison WHERE studio_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        studio,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_liaison(
    conn: &mut PgConnection,
    id: Uuid,
    f: &LiaisonFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.studio_liaison SET display_name = $2, village = $3, phone_sealed = $4, phone_masked = $5,
                revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        f.display_name,
        f.village,
        f.phone_sealed,
        f.phone_masked,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete_liaison(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.studio_liaison SET delete_time = now(), update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// A studio activity.
#[derive(Clone, Debug)]
pub struct ActivityRow {
    pub id: Uuid,
    pub studio_id: Uuid,
    pub committee_id: String,
    pub title: String,
    pub activity_date: Date,
    pub description: String,
    pub participants: Vec<Uuid>,
    pub recorded_by: String,
    pub recorded_role: i16,
    pub create_time: OffsetDateTime,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_activity(
    conn: &mut PgConnection,
    id: Uuid,
    studio: Uuid,
    title: &str,
    date: Date,
    description: &str,
    participants: &[Uuid],
    by: &str,
    role: i16,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.studio_activity
             (id, studio_id, title, activity_date, description, participants, recorded_by, recorded_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        studio,
        title,
        date,
        description,
        participants,
        by,
        role,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Activities by id, or a page of a studio's, newest first, after a place.
pub async fn activities(
    conn: &mut PgConnection,
    committee: &str,
    studio: Uuid,
    ids: Option<&[Uuid]>,
    after: Option<(Date, Uuid)>,
    limit: i64,
) -> Result<Vec<ActivityRow>, sqlx::Error> {
    let (after_date, after_id) = after.unwrap_or((Date::MAX, Uuid::nil()));
    sqlx::query_as!(
        ActivityRow,
        r#"SELECT a.id, a.studio_id, s.committee_id, a.title, a.activity_date, a.description, a.participants,
                  a.recorded_by, a.recorded_role, a.create_time
           FROM members.studio_activity a JOIN members.studio s ON s.id = a.studio_id
           WHERE s.committee_id = $1 AND a.studio_id = $2
             AND ($3::uuid[] IS NULL OR a.id = ANY($3))
             AND ($5::uuid = '00000000-0000-0000-0000-000000000000' OR (a.activity_date, a.id) < ($4, $5))
           ORDER BY a.activity_date DESC, a.id DESC
           LIMIT $6"#,
        committee,
        studio,
        ids,
        after_date,
        after_id,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Each studio that existed in the month, with its activities in it and
/// its target (0 = the committee's setting).
#[derive(Clone, Debug)]
pub struct MonthRow {
    pub id: Uuid,
    pub display_name: String,
    pub monthly_target: i32,
    pub held: i64,
}

pub async fn studio_months(
    conn: &mut PgConnection,
    committee: &str,
    first: Date,
    next: Date,
) -> Result<Vec<MonthRow>, sqlx::Error> {
    sqlx::query_as!(
        MonthRow,
        r#"SELECT s.id, s.display_name, s.monthly_target,
                  (SELECT count(*) FROM members.studio_activity a
                   WHERE a.studio_id = s.id AND a.activity_date >= $2 AND a.activity_date < $3) AS "held!"
           FROM members.studio s
           WHERE s.committee_id = $1 AND s.established_on < $3
             AND (s.delete_time IS NULL OR s.delete_time >= $2::date)
           ORDER BY s.display_name COLLATE members.zh_stroke, s.id"#,
        committee,
        first,
        next,
    )
    .fetch_all(conn)
    .await
}

/// A liaison station with its informants counted.
#[derive(Clone, Debug)]
pub struct StationRow {
    pub id: Uuid,
    pub committee_id: String,
    pub display_name: String,
    pub kind: i16,
    pub location: String,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
    pub informant_count: i64,
}

/// The unique index of live station names.
pub const STATION_NAME_KEY: &str = "liaison_station_display_name_key";

pub async fn insert_station(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    display_name: &str,
    kind: i16,
    location: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.liaison_station (id, committee_id, display_name, kind, location) VALUES ($1, $2, $3, $4, $5)",
        id,
        committee,
        display_name,
        kind,
        location,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn stations(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<StationRow>, sqlx::Error> {
    sqlx::query_as!(
        StationRow,
        r#"SELECT s.id, s.committee_id, s.display_name, s.kind, s.location, s.revision,
                  s.create_time, s.update_time, s.delete_time,
                  (SELECT count(*) FROM members.informant i
                   WHERE i.liaison_station_id = s.id AND i.delete_time IS NULL) AS "informant_count!"
           FROM members.liaison_station s WHERE s.committee_id = $1 AND s.id = ANY($2)"#,
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

/// Locks a live station; its revision.
pub async fn lock_station(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.liaison_station
         WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Share-locks a live station while an informant is written against it.
pub async fn hold_station(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        "SELECT id FROM members.liaison_station
         WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR KEY SHARE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

pub async fn update_station(
    conn: &mut PgConnection,
    id: Uuid,
    display_name: &str,
    kind: i16,
    location: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.liaison_station SET display_name = $2, kind = $3, location = $4,
                revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        display_name,
        kind,
        location,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete_station(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.liaison_station SET delete_time = now(), update_time = now(), revision = revision + 1
         WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Informants still on a station.
pub async fn station_informants(conn: &mut PgConnection, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM members.informant WHERE liaison_station_id = $1 AND delete_time IS NULL"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// An informant (phone sealed).
#[derive(Clone, Debug)]
pub struct InformantRow {
    pub id: Uuid,
    pub committee_id: String,
    pub liaison_station_id: Uuid,
    pub display_name: String,
    pub employer: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
    pub active: bool,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
}

/// An informant's fields as written.
#[derive(Clone, Debug)]
pub struct InformantFields {
    pub station: Uuid,
    pub display_name: String,
    pub employer: String,
    pub phone_sealed: Option<Vec<u8>>,
    pub phone_masked: String,
    pub active: bool,
}

pub async fn insert_informant(
    conn: &mut PgConnection,
    id: Uuid,
    committee: &str,
    f: &InformantFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO members.informant
             (id, committee_id, liaison_station_id, display_name, employer, phone_sealed, phone_masked, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        committee,
        f.station,
        f.display_name,
        f.employer,
        f.phone_sealed,
        f.phone_masked,
        f.active,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn informants(
    conn: &mut PgConnection,
    committee: &str,
    ids: &[Uuid],
) -> Result<Vec<InformantRow>, sqlx::Error> {
    sqlx::query_as!(
        InformantRow,
        "SELECT id, committee_id, liaison_station_id, display_name, employer, phone_sealed, phone_masked, active,
                revision, create_time, update_time, delete_time
         FROM members.informant WHERE committee_id = $1 AND id = ANY($2)",
        committee,
        ids,
    )
    .fetch_all(conn)
    .await
}

pub async fn lock_informant(
    conn: &mut PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT revision FROM members.informant
         WHERE committee_id = $1 AND id = $2 AND delete_time IS NULL FOR UPDATE",
        committee,
        id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn update_informant(
    conn: &mut PgConnection,
    id: Uuid,
    f: &InformantFields,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.informant SET liaison_station_id = $2, display_name = $3, employer = $4,
                phone_sealed = $5, phone_masked = $6, active = $7, revision = revision + 1, update_time = now()
         WHERE id = $1",
        id,
        f.station,
        f.display_name,
        f.employer,
        f.phone_sealed,
        f.phone_masked,
        f.active,
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete_informant(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE members.informant SET delete_time = now(), update_time = now(), revision = revision + 1 WHERE id = $1",
        id,
    )
    .execute(conn)
    .await
    .map(drop)
}
