//! A committee's organisation below its members, three services on one
//! API: township activity groups and their conveners (`groups`), member
//! studios with their members, liaisons and activities (`studios`), and
//! the liaison stations and informants of the public-opinion network
//! (`network`). What they share is here.

mod groups;
mod network;
mod studios;

use time::{Date, OffsetDateTime};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::page::{BY_ID, Key, KeyKind, ListQuery, ListRequest, ListSpec, OrderField};
use cppcc_kit::pii::mask_phone;
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;
use pb::activity_group_service_server::ActivityGroupService;
use pb::liaison_network_service_server::LiaisonNetworkService;
use pb::studio_service_server::StudioService;

use super::{Shared, SubName, committee_resource, in_order_of};
use crate::domain::convener::{ConvenerState, Step, StepError};
use crate::domain::member::phone;
use crate::domain::text;
use crate::store::lists::{self, Entity};
use crate::store::organisation::{self as store, InformantFields, LiaisonFields, StudioFields};
use crate::store::{committees as committee_store, members as member_store};

/// Who keeps liaison stations and informants: the office and the
/// information centre.
const NETWORK_KEEPERS: &[Role] = &[Role::Admin, Role::InfoCentre];
/// Who may see an informant's phone: the same.
const NETWORK_ENTITLED: &[Role] = NETWORK_KEEPERS;

/// The organisation services: activity groups, studios, the liaison network.
#[derive(Clone, Debug)]
pub struct OrganisationApi {
    shared: Shared,
}

fn stamp(by: &str, role: i16, time: OffsetDateTime, reason: &str) -> common::AuditStamp {
    common::AuditStamp {
        actor: by.to_owned(),
        actor_role: role.into(),
        time: Some(timestamp(time)),
        reason: reason.to_owned(),
    }
}

fn optional_stamp(
    by: &Option<String>,
    role: Option<i16>,
    time: Option<OffsetDateTime>,
    reason: &Option<String>,
) -> Option<common::AuditStamp> {
    match (by, role, time) {
        (Some(by), Some(role), Some(time)) => {
            Some(stamp(by, role, time, reason.as_deref().unwrap_or_default()))
        }
        _ => None,
    }
}

/// The associated data a phone is sealed with: table, field and record.
fn phone_context(table: &str, id: Uuid) -> String {
    format!("members.{table}.phone:{id}")
}

/// Reports every violation of `e` into `errors`.
fn absorb(errors: &mut Violations, e: ServiceError) {
    for v in e.field_violations() {
        errors.add(v.field.clone(), v.description.clone());
    }
}

use cppcc_kit::text::take_line as take_text;

/// Pages that order by time, newest first, with the id to break ties.
const NEWEST_FIRST: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[OrderField {
        name: "time",
        sql: "time",
        kind: KeyKind::Time,
    }],
    default_order: "time desc",
    tie_break: Some(BY_ID),
};

/// Pages that order by day, newest first, with the id to break ties.
const DAYS_NEWEST_FIRST: ListSpec = ListSpec {
    order_fields: &[OrderField {
        name: "date",
        sql: "date",
        kind: KeyKind::Date,
    }],
    default_order: "date desc",
    ..NEWEST_FIRST
};

/// Pages by one or two names, then the id.
const BY_NAMES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "first",
            sql: "first",
            kind: KeyKind::Text,
        },
        OrderField {
            name: "second",
            sql: "second",
            kind: KeyKind::Text,
        },
    ],
    default_order: "first, second",
    tie_break: Some(BY_ID),
};

/// A row keyed for a page token by (time, id) or (first, second, id).
struct Keyed<T> {
    row: T,
    keys: Vec<Key>,
}

impl<T> cppcc_kit::page::Keyed for Keyed<T> {
    fn key(&self, field: &str) -> Key {
        let i = match field {
            "time" | "date" | "first" => 0,
            "second" => 1,
            _ => self.keys.len() - 1,
        };
        self.keys[i].clone()
    }
}

/// A list of an organisation entity as a caller asks for it.
struct EntityList<'a> {
    entity: Entity,
    spec: &'static ListSpec,
    committee: &'a str,
    parent: &'a str,
    page_size: i32,
    page_token: &'a str,
    filter: &'a str,
    show_deleted: bool,
}

impl EntityList<'_> {
    fn query(&self) -> Result<ListQuery, ServiceError> {
        ListQuery::new(
            self.spec,
            ListRequest {
                page_size: self.page_size,
                page_token: self.page_token,
                filter: self.filter,
                order_by: "",
            },
            &[self.parent, if self.show_deleted { "deleted" } else { "" }],
        )
    }

    /// The ids of one page and the token for the next.
    async fn page(
        &self,
        conn: &mut sqlx::PgConnection,
    ) -> Result<(Vec<Uuid>, String), ServiceError> {
        let query = self.query()?;
        let keys = lists::entity_page(conn, self.entity, self.committee, self.show_deleted, &query)
            .await
            .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        Ok((keys.iter().map(|k| k.id).collect(), next_page_token))
    }

    /// How many match, across all pages.
    async fn count(&self, conn: &mut sqlx::PgConnection) -> Result<i64, ServiceError> {
        lists::entity_count(
            conn,
            self.entity,
            self.committee,
            self.show_deleted,
            &self.query()?,
        )
        .await
        .map_err(classify_db_error)
    }
}

fn list_request(page_size: i32, page_token: &str) -> ListRequest<'_> {
    ListRequest {
        page_size,
        page_token,
        ..Default::default()
    }
}

impl OrganisationApi {
    pub fn new(shared: Shared) -> Self {
        OrganisationApi { shared }
    }

    /// Seals a phone for `table`'s record `id`: (sealed, masked).
    fn seal_phone(&self, table: &str, id: Uuid, phone: Option<&str>) -> (Option<Vec<u8>>, String) {
        match phone {
            Some(p) => (
                Some(self.shared.pii.seal(p, &phone_context(table, id))),
                mask_phone(p),
            ),
            None => (None, String::new()),
        }
    }

    /// Checks the committee exists, inside a change.
    async fn committee_exists(
        &self,
        change: &mut Change,
        committee: &str,
    ) -> Result<(), ServiceError> {
        committee_store::get(change.conn(), committee)
            .await
            .map_err(classify_db_error)?
            .map(drop)
            .ok_or_else(|| ServiceError::not_found(committee_resource(committee)))
    }

    /// Claims a create's request id; on a replay, the name created before.
    async fn claim<M: prost::Message + Clone>(
        change: &mut Change,
        req: &M,
        request_id: &str,
        clear: impl FnOnce(&mut M),
        name: &str,
    ) -> Result<Option<String>, ServiceError> {
        let actor = change.actor().clone();
        match change
            .claim_request_id(
                "request_id",
                request_id,
                &fingerprint(req, &actor, clear),
                name,
            )
            .await?
        {
            Claim::New => Ok(None),
            Claim::Replay(existing) => Ok(Some(existing)),
        }
    }
}
