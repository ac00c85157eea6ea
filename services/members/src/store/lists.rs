//! List queries. A list first reads the ids of one page (the filter and
//! order are the caller's, so this query is built at run time, every value
//! bound), then the rows themselves through the compile-time checked
//! queries of the other modules.

use sqlx::{PgConnection, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use cppcc_kit::filter::{FieldKind, FilterField};
use cppcc_kit::names::ChildName;
use cppcc_kit::page::{Key, KeyKind, Keyed, ListQuery, ListSpec, OrderField};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;

use super::catalogue::Catalogue;

/// The sort keys of one listed row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    pub id: Uuid,
    pub display_name: String,
    pub sort_order: i32,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

impl Keyed for KeyRow {
    fn key(&self, field: &str) -> Key {
        match field {
            "display_name" => Key::Text(self.display_name.clone()),
            "sort_order" => Key::Int(self.sort_order.into()),
            "create_time" => Key::Time(self.create_time),
            "update_time" => Key::Time(self.update_time),
            _ => Key::Uuid(self.id),
        }
    }
}

const TIE_BREAK: Option<OrderField> = Some(OrderField {
    name: "id",
    sql: "t.id",
    kind: KeyKind::Uuid,
});

fn any_sector(name: &str) -> Option<Uuid> {
    ChildName::parse(name, "sectors").map(|n| n.id)
}

fn any_special_committee(name: &str) -> Option<Uuid> {
    ChildName::parse(name, "specialCommittees").map(|n| n.id)
}

fn member_role(name: &str) -> Option<i32> {
    pb::MemberRole::from_str_name(name).map(|v| v as i32)
}

fn member_status(name: &str) -> Option<i32> {
    pb::MemberStatus::from_str_name(name).map(|v| v as i32)
}

fn gender(name: &str) -> Option<i32> {
    pb::Gender::from_str_name(name).map(|v| v as i32)
}

fn political_affiliation(name: &str) -> Option<i32> {
    pb::PoliticalAffiliation::from_str_name(name).map(|v| v as i32)
}

fn sector_kind(name: &str) -> Option<i32> {
    pb::SectorKind::from_str_name(name).map(|v| v as i32)
}

fn committee_level(name: &str) -> Option<i32> {
    common::CommitteeLevel::from_str_name(name).map(|v| v as i32)
}

const fn field(name: &'static str, sql: &'static str, kind: FieldKind) -> FilterField {
    FilterField { name, sql, kind }
}

const fn order(name: &'static str, sql: &'static str, kind: KeyKind) -> OrderField {
    OrderField { name, sql, kind }
}

const MEMBER_FILTERS: &[FilterField] = &[
    field("sector", "t.sector_id", FieldKind::Reference(any_sector)),
    field("role", "t.role", FieldKind::Enum(member_role)),
    field("status", "t.status", FieldKind::Enum(member_status)),
    field(
        "special_committee",
        "EXISTS (SELECT 1 FROM members.special_committee_member f \
         WHERE f.member_id = t.id AND f.special_committee_id = {})",
        FieldKind::Reference(any_special_committee),
    ),
    field("township", "t.township", FieldKind::Text),
    field("city_member", "t.city_member", FieldKind::Bool),
    field("gender", "t.gender", FieldKind::Enum(gender)),
    field(
        "political_affiliation",
        "t.political_affiliation",
        FieldKind::Enum(political_affiliation),
    ),
    field("term", "t.term", FieldKind::Int),
    field("display_name", "t.display_name", FieldKind::Text),
    field("create_time", "t.create_time", FieldKind::Time),
    field("update_time", "t.update_time", FieldKind::Time),
];

/// Members by surname strokes (姓氏笔画).
pub const MEMBERS_BY_STROKE: ListSpec = ListSpec {
    filter_fields: MEMBER_FILTERS,
    order_fields: &[
        order(
            "display_name",
            "t.display_name COLLATE members.zh_stroke",
            KeyKind::Text,
        ),
        order("create_time", "t.create_time", KeyKind::Time),
        order("update_time", "t.update_time", KeyKind::Time),
    ],
    default_order: "display_name",
    tie_break: TIE_BREAK,
};

/// Members by pinyin.
pub const MEMBERS_BY_PINYIN: ListSpec = ListSpec {
    order_fields: &[
        order(
            "display_name",
            "t.display_name COLLATE members.zh_pinyin",
            KeyKind::Text,
        ),
        order("create_time", "t.create_time", KeyKind::Time),
        order("update_time", "t.update_time", KeyKind::Time),
    ],
    ..MEMBERS_BY_STROKE
};

/// Sectors and special committees (the same shape).
pub const SECTORS: ListSpec = ListSpec {
    filter_fields: &[
        field("kind", "t.kind", FieldKind::Enum(sector_kind)),
        field("display_name", "t.display_name", FieldKind::Text),
        field("update_time", "t.update_time", FieldKind::Time),
    ],
    order_fields: &[
        order("sort_order", "t.sort_order", KeyKind::Int),
        order(
            "display_name",
            "t.display_name COLLATE members.zh_stroke",
            KeyKind::Text,
        ),
        order("update_time", "t.update_time", KeyKind::Time),
    ],
    default_order: "sort_order",
    tie_break: TIE_BREAK,
};

/// Special committees.
pub const SPECIAL_COMMITTEES: ListSpec = ListSpec {
    filter_fields: &[
        field("display_name", "t.display_name", FieldKind::Text),
        field("update_time", "t.update_time", FieldKind::Time),
    ],
    ..SECTORS
};

/// One page of member ids, and (if `count`) how many members match in all.
pub async fn member_page(
    conn: &mut PgConnection,
    committee: &str,
    query: &ListQuery,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let mut qb = QueryBuilder::new(
        "SELECT t.id, t.display_name, 0 AS sort_order, t.create_time, t.update_time \
         FROM members.member t WHERE t.committee_id = ",
    );
    qb.push_bind(committee.to_owned());
    query.push_conditions(&mut qb);
    query.push_order_limit(&mut qb);
    qb.build_query_as().fetch_all(conn).await
}

/// How many members of the committee match the query's filter.
pub async fn member_count(
    conn: &mut PgConnection,
    committee: &str,
    query: &ListQuery,
) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM members.member t WHERE t.committee_id = ");
    qb.push_bind(committee.to_owned());
    query.push_filter(&mut qb);
    qb.build_query_scalar().fetch_one(conn).await
}

/// One page of sector or special-committee ids.
pub async fn catalogue_page(
    conn: &mut PgConnection,
    catalogue: Catalogue,
    committee: &str,
    show_deleted: bool,
    query: &ListQuery,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let table = match catalogue {
        Catalogue::Sectors => "members.sector",
        Catalogue::SpecialCommittees => "members.special_committee",
    };
    let mut qb = QueryBuilder::new(format!(
        "SELECT t.id, t.display_name, t.sort_order, t.create_time, t.update_time \
         FROM {table} t WHERE t.committee_id = "
    ));
    qb.push_bind(committee.to_owned());
    if !show_deleted {
        qb.push(" AND t.delete_time IS NULL");
    }
    query.push_conditions(&mut qb);
    query.push_order_limit(&mut qb);
    qb.build_query_as().fetch_all(conn).await
}

/// Tables listed by name: activity groups, studios, liaison stations,
/// informants.
#[derive(Clone, Copy, Debug)]
pub enum Entity {
    ActivityGroups,
    Studios,
    LiaisonStations,
    Informants,
}

impl Entity {
    fn table(self) -> &'static str {
        match self {
            Entity::ActivityGroups => "members.activity_group",
            Entity::Studios => "members.studio",
            Entity::LiaisonStations => "members.liaison_station",
            Entity::Informants => "members.informant",
        }
    }
}

fn any_station(name: &str) -> Option<Uuid> {
    ChildName::parse(name, "liaisonStations").map(|n| n.id)
}

/// Organisation entities, by name (surname strokes for people).
pub const ENTITIES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        order(
            "display_name",
            "t.display_name COLLATE members.zh_stroke",
            KeyKind::Text,
        ),
        order("update_time", "t.update_time", KeyKind::Time),
    ],
    default_order: "display_name",
    tie_break: TIE_BREAK,
};

/// Informants, filtered by station and whether they still report.
pub const INFORMANTS: ListSpec = ListSpec {
    filter_fields: &[
        field(
            "liaison_station",
            "t.liaison_station_id",
            FieldKind::Reference(any_station),
        ),
        field("active", "t.active", FieldKind::Bool),
        field("update_time", "t.update_time", FieldKind::Time),
    ],
    ..ENTITIES
};

/// One page of an entity's ids in a committee.
pub async fn entity_page(
    conn: &mut PgConnection,
    entity: Entity,
    committee: &str,
    show_deleted: bool,
    query: &ListQuery,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT t.id, t.display_name, 0 AS sort_order, t.create_time, t.update_time \
         FROM {} t WHERE t.committee_id = ",
        entity.table()
    ));
    qb.push_bind(committee.to_owned());
    if !show_deleted {
        qb.push(" AND t.delete_time IS NULL");
    }
    query.push_conditions(&mut qb);
    query.push_order_limit(&mut qb);
    qb.build_query_as().fetch_all(conn).await
}

/// How many of an entity in a committee match the query's filter.
pub async fn entity_count(
    conn: &mut PgConnection,
    entity: Entity,
    committee: &str,
    show_deleted: bool,
    query: &ListQuery,
) -> Result<i64, sqlx::Error> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT count(*) FROM {} t WHERE t.committee_id = ",
        entity.table()
    ));
    qb.push_bind(committee.to_owned());
    if !show_deleted {
        qb.push(" AND t.delete_time IS NULL");
    }
    query.push_filter(&mut qb);
    qb.build_query_scalar().fetch_one(conn).await
}

/// Committees, by id.
pub const COMMITTEES: ListSpec = ListSpec {
    filter_fields: &[
        field("level", "t.level", FieldKind::Enum(committee_level)),
        field("parent", "t.parent", FieldKind::Text),
        field("update_time", "t.update_time", FieldKind::Time),
    ],
    order_fields: &[order("name", "t.id", KeyKind::Text)],
    default_order: "name",
    tie_break: None,
};

/// A committee's id as a sort key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CommitteeKey {
    pub id: String,
}

impl Keyed for CommitteeKey {
    fn key(&self, _field: &str) -> Key {
        Key::Text(self.id.clone())
    }
}

/// One page of the ids of committees `root` may see: itself and every
/// committee below it (all committees when `root` is `None`).
pub async fn committee_page(
    conn: &mut PgConnection,
    root: Option<&str>,
    query: &ListQuery,
) -> Result<Vec<CommitteeKey>, sqlx::Error> {
    let mut qb = QueryBuilder::new(
        "WITH RECURSIVE visible(id) AS ( \
           SELECT id FROM members.committee WHERE ",
    );
    match root {
        Some(root) => {
            qb.push("id = ").push_bind(root.to_owned());
        }
        None => {
            qb.push("true");
        }
    }
    qb.push(
        " UNION SELECT c.id FROM members.committee c JOIN visible v ON c.parent = 'committees/' || v.id \
         ) SELECT t.id FROM members.committee t JOIN visible USING (id) WHERE true",
    );
    query.push_conditions(&mut qb);
    query.push_order_limit(&mut qb);
    qb.build_query_as().fetch_all(conn).await
}
