//! Sectors and special committees: two catalogues of the same shape,
//! created, read, listed, updated and deleted (as tombstones) the same way.
//! [`Kind`] says what differs.

use tonic::Request;
use uuid::Uuid;

use cppcc_kit::change::{Change, Claim};
use cppcc_kit::convert::timestamp;
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::page::{ListQuery, ListRequest, ListSpec};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::members::v1 as pb;

use super::Shared;
use crate::domain::text;
use crate::store::catalogue::{self as store, Catalogue, EntryFields, EntryRow};
use crate::store::committees as committee_store;
use crate::store::lists;

/// The common fields of an entry message.
pub(super) struct Parts<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub kind: i32,
    pub sort_order: i32,
    pub etag: &'a str,
}

/// What differs between the catalogues.
pub(super) trait Kind {
    type Resource: prost::Message + prost::Name + Clone + Default + Send + Sync + 'static;
    const CATALOGUE: Catalogue;
    /// The collection id in resource names.
    const COLLECTION: &'static str;
    /// The request field holding the resource.
    const FIELD: &'static str;
    /// What it is called in messages.
    const NOUN: &'static str;
    const MASK: MaskSpec;
    const LIST: &'static ListSpec;
    fn to_proto(row: &EntryRow) -> Self::Resource;
    fn parts(r: &Self::Resource) -> Parts<'_>;
    /// Copies `field` of `from` into `into`.
    fn copy(into: &mut Self::Resource, from: &Self::Resource, field: &str);
    /// Whether a kind is required (sectors have one).
    fn checks_kind() -> bool;
    /// Why an entry still in use cannot be deleted.
    fn in_use(n: i64) -> String;
    /// Publishes the entry as it now is.
    fn publish(change: &mut Change, committee: &str, name: &str, entry: Self::Resource);
}

pub(super) struct Sectors;

impl Kind for Sectors {
    type Resource = pb::Sector;
    const CATALOGUE: Catalogue = Catalogue::Sectors;
    const COLLECTION: &'static str = "sectors";
    const FIELD: &'static str = "sector";
    const NOUN: &'static str = "sector";
    const MASK: MaskSpec = MaskSpec {
        updatable: &["display_name", "kind", "sort_order"],
        output_only: &[
            ("name", "it identifies the sector"),
            ("active_member_count", "it is output only"),
            ("create_time", "it is output only"),
            ("update_time", "it is output only"),
            ("delete_time", "use DeleteSector"),
            ("etag", "send it in sector.etag to guard the update"),
        ],
    };
    const LIST: &'static ListSpec = &lists::SECTORS;

    fn to_proto(row: &EntryRow) -> pb::Sector {
        pb::Sector {
            name: ChildName::format(&row.committee_id, Self::COLLECTION, row.id),
            display_name: row.display_name.clone(),
            kind: row.kind.into(),
            sort_order: row.sort_order,
            active_member_count: row.count as i32,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        }
    }

    fn parts(r: &pb::Sector) -> Parts<'_> {
        Parts {
            name: &r.name,
            display_name: &r.display_name,
            kind: r.kind,
            sort_order: r.sort_order,
            etag: &r.etag,
        }
    }

    fn copy(into: &mut pb::Sector, from: &pb::Sector, field: &str) {
        match field {
            "display_name" => into.display_name.clone_from(&from.display_name),
            "kind" => into.kind = from.kind,
            "sort_order" => into.sort_order = from.sort_order,
            _ => {}
        }
    }

    fn checks_kind() -> bool {
        true
    }

    fn in_use(n: i64) -> String {
        format!("{n} members sit for this sector; move them to another sector before deleting it")
    }

    fn publish(change: &mut Change, committee: &str, name: &str, entry: pb::Sector) {
        change.publish(
            committee,
            name,
            &pb::SectorChanged {
                sector: Some(entry),
            },
        );
    }
}

pub(super) struct SpecialCommittees;

impl Kind for SpecialCommittees {
    type Resource = pb::SpecialCommittee;
    const CATALOGUE: Catalogue = Catalogue::SpecialCommittees;
    const COLLECTION: &'static str = "specialCommittees";
    const FIELD: &'static str = "special_committee";
    const NOUN: &'static str = "special committee";
    const MASK: MaskSpec = MaskSpec {
        updatable: &["display_name", "sort_order"],
        output_only: &[
            ("name", "it identifies the special committee"),
            ("chair", "seat a chair with AddSpecialCommitteeMember"),
            ("member_count", "it is output only"),
            ("create_time", "it is output only"),
            ("update_time", "it is output only"),
            ("delete_time", "use DeleteSpecialCommittee"),
            (
                "etag",
                "send it in special_committee.etag to guard the update",
            ),
        ],
    };
    const LIST: &'static ListSpec = &lists::SPECIAL_COMMITTEES;

    fn to_proto(row: &EntryRow) -> pb::SpecialCommittee {
        pb::SpecialCommittee {
            name: ChildName::format(&row.committee_id, Self::COLLECTION, row.id),
            display_name: row.display_name.clone(),
            sort_order: row.sort_order,
            chair: row
                .chair
                .map(|id| ChildName::format(&row.committee_id, "members", id))
                .unwrap_or_default(),
            member_count: row.count as i32,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        }
    }

    fn parts(r: &pb::SpecialCommittee) -> Parts<'_> {
        Parts {
            name: &r.name,
            display_name: &r.display_name,
            kind: 0,
            sort_order: r.sort_order,
            etag: &r.etag,
        }
    }

    fn copy(into: &mut pb::SpecialCommittee, from: &pb::SpecialCommittee, field: &str) {
        match field {
            "display_name" => into.display_name.clone_from(&from.display_name),
            "sort_order" => into.sort_order = from.sort_order,
            _ => {}
        }
    }

    fn checks_kind() -> bool {
        false
    }

    fn in_use(n: i64) -> String {
        format!("{n} members sit on this special committee; remove them before deleting it")
    }

    fn publish(change: &mut Change, committee: &str, name: &str, entry: pb::SpecialCommittee) {
        change.publish(
            committee,
            name,
            &pb::SpecialCommitteeChanged {
                special_committee: Some(entry),
            },
        );
    }
}

/// Checks an entry's fields, reporting them under `K::FIELD`.
fn fields<K: Kind>(r: &K::Resource) -> Result<EntryFields, ServiceError> {
    let p = K::parts(r);
    let field = |name: &str| format!("{}.{name}", K::FIELD);
    let mut errors = Violations::default();
    let display_name = text(p.display_name, 1, 30).unwrap_or_else(|e| {
        errors.add(field("display_name"), e);
        String::new()
    });
    let kind = if K::checks_kind() {
        match pb::SectorKind::try_from(p.kind) {
            Ok(pb::SectorKind::Unspecified) => {
                errors.add(
                    field("kind"),
                    "required: SECTOR_KIND_PARTY, _ORGANISATION or _FIELD",
                );
                0
            }
            Ok(k) => k as i16,
            Err(_) => {
                errors.add(
                    field("kind"),
                    format!("{} is not a SectorKind value", p.kind),
                );
                0
            }
        }
    } else {
        0
    };
    errors.check(
        !(0..=9999).contains(&p.sort_order),
        &field("sort_order"),
        format!("must be between 0 and 9999, not {}", p.sort_order),
    );
    errors.finish()?;
    Ok(EntryFields {
        display_name,
        kind,
        sort_order: p.sort_order,
    })
}

pub(super) async fn read<K: Kind>(
    conn: &mut sqlx::PgConnection,
    committee: &str,
    id: Uuid,
) -> Result<Option<K::Resource>, ServiceError> {
    let rows = store::read(conn, K::CATALOGUE, committee, &[id])
        .await
        .map_err(classify_db_error)?;
    Ok(rows.first().map(K::to_proto))
}

fn duplicate<K: Kind>(parent: &str, display_name: &str) -> ServiceError {
    ServiceError::already_exists(
        parent,
        format!("{parent} already has a {} named {display_name}", K::NOUN),
    )
}

/// Creates an entry in the committee `parent`.
pub(super) async fn create<K: Kind, T>(
    shared: &Shared,
    request: &Request<T>,
    parent: &str,
    input: Option<&K::Resource>,
    request_id: &str,
    fingerprint: impl FnOnce(&cppcc_kit::auth::Actor) -> Vec<u8>,
) -> Result<K::Resource, ServiceError> {
    let committee = parse_committee("parent", parent)?.to_owned();
    let actor = shared.caller(request, &committee, parent).await?;
    let input = input.ok_or_else(|| ServiceError::invalid(K::FIELD, "required"))?;
    let entry = fields::<K>(input)?;
    let id = Uuid::now_v7();
    let name = ChildName::format(&committee, K::COLLECTION, id);
    let mut change = shared.db.change(&actor).await?;
    if let Claim::Replay(existing) = change
        .claim_request_id("request_id", request_id, &fingerprint(&actor), &name)
        .await?
    {
        drop(change);
        let existing = ChildName::parse_field("name", &existing, K::COLLECTION)?;
        let mut conn = shared.db.acquire().await?;
        return read::<K>(&mut conn, &committee, existing.id)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(ChildName::format(&committee, K::COLLECTION, existing.id))
            });
    }
    if committee_store::get(change.conn(), &committee)
        .await
        .map_err(classify_db_error)?
        .is_none()
    {
        return Err(ServiceError::not_found(parent));
    }
    match store::insert(change.conn(), K::CATALOGUE, id, &committee, &entry).await {
        Ok(()) => {}
        Err(e) if constraint_violated(&e, K::CATALOGUE.name_key()) => {
            return Err(duplicate::<K>(parent, &entry.display_name));
        }
        Err(e) => return Err(classify_db_error(e)),
    }
    let created = read::<K>(change.conn(), &committee, id)
        .await?
        .ok_or_else(|| ServiceError::internal("the entry just written is gone"))?;
    change.audit(&committee, &name, None, Some(to_json(&created)));
    K::publish(&mut change, &committee, &name, created.clone());
    change.commit().await?;
    Ok(created)
}

/// Reads one entry (a deleted one too, with its delete time).
pub(super) async fn get<K: Kind, T>(
    shared: &Shared,
    request: &Request<T>,
    name: &str,
) -> Result<K::Resource, ServiceError> {
    let parsed = ChildName::parse_field("name", name, K::COLLECTION)?;
    shared.caller(request, &parsed.committee, name).await?;
    let mut conn = shared.db.acquire().await?;
    read::<K>(&mut conn, &parsed.committee, parsed.id)
        .await?
        .ok_or_else(|| ServiceError::not_found(name))
}

/// A page of a committee's entries.
pub(super) async fn list<K: Kind, T>(
    shared: &Shared,
    request: &Request<T>,
    parent: &str,
    page: ListRequest<'_>,
    show_deleted: bool,
) -> Result<(Vec<K::Resource>, String), ServiceError> {
    let committee = parse_committee("parent", parent)?.to_owned();
    shared.caller(request, &committee, parent).await?;
    let query = ListQuery::new(
        K::LIST,
        page,
        &[parent, if show_deleted { "deleted" } else { "" }],
    )?;
    let mut conn = shared.db.acquire().await?;
    let keys = lists::catalogue_page(&mut conn, K::CATALOGUE, &committee, show_deleted, &query)
        .await
        .map_err(classify_db_error)?;
    let (keys, next_page_token) = query.page(keys);
    let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
    let rows = store::read(&mut conn, K::CATALOGUE, &committee, &ids)
        .await
        .map_err(classify_db_error)?;
    let entries = super::in_order_of(&ids, &rows, |r| r.id)
        .into_iter()
        .map(K::to_proto)
        .collect();
    Ok((entries, next_page_token))
}

/// Updates the fields of an entry named in `mask`.
pub(super) async fn update<K: Kind, T>(
    shared: &Shared,
    request: &Request<T>,
    input: Option<&K::Resource>,
    mask: Option<&prost_types::FieldMask>,
) -> Result<K::Resource, ServiceError> {
    let input = input.ok_or_else(|| ServiceError::invalid(K::FIELD, "required"))?;
    let p = K::parts(input);
    let resource = p.name.to_owned();
    let parsed = ChildName::parse_field(&format!("{}.name", K::FIELD), &resource, K::COLLECTION)?;
    let actor = shared.caller(request, &parsed.committee, &resource).await?;
    let fields_named = fieldmask::resolve(mask, &K::MASK, |f| match f {
        "display_name" => !p.display_name.is_empty(),
        "kind" => p.kind != 0,
        "sort_order" => p.sort_order != 0,
        _ => false,
    })?;
    let mut change = shared.db.change(&actor).await?;
    let revision = store::lock(change.conn(), K::CATALOGUE, &parsed.committee, parsed.id)
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::not_found(&resource))?;
    etag::check(p.etag, revision, &resource)?;
    let before = read::<K>(change.conn(), &parsed.committee, parsed.id)
        .await?
        .ok_or_else(|| ServiceError::not_found(&resource))?;
    let mut merged = before.clone();
    for field in &fields_named {
        K::copy(&mut merged, input, field);
    }
    let entry = fields::<K>(&merged)?;
    match store::update(change.conn(), K::CATALOGUE, parsed.id, &entry).await {
        Ok(()) => {}
        Err(e) if constraint_violated(&e, K::CATALOGUE.name_key()) => {
            return Err(duplicate::<K>(
                &format!("committees/{}", parsed.committee),
                &entry.display_name,
            ));
        }
        Err(e) => return Err(classify_db_error(e)),
    }
    let after = read::<K>(change.conn(), &parsed.committee, parsed.id)
        .await?
        .ok_or_else(|| ServiceError::not_found(&resource))?;
    change.audit(
        &parsed.committee,
        &resource,
        Some(to_json(&before)),
        Some(to_json(&after)),
    );
    K::publish(&mut change, &parsed.committee, &resource, after.clone());
    change.commit().await?;
    Ok(after)
}

/// Deletes an entry nothing uses any more; it stays as a tombstone.
pub(super) async fn delete<K: Kind, T>(
    shared: &Shared,
    request: &Request<T>,
    name: &str,
    given_etag: &str,
) -> Result<K::Resource, ServiceError> {
    let parsed = ChildName::parse_field("name", name, K::COLLECTION)?;
    let actor = shared.caller(request, &parsed.committee, name).await?;
    let mut change = shared.db.change(&actor).await?;
    let revision = store::lock(change.conn(), K::CATALOGUE, &parsed.committee, parsed.id)
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::not_found(name))?;
    etag::check(given_etag, revision, name)?;
    let users = store::users(change.conn(), K::CATALOGUE, parsed.id)
        .await
        .map_err(classify_db_error)?;
    if users > 0 {
        return Err(ServiceError::failed_precondition(
            "IN_USE",
            name,
            K::in_use(users),
        ));
    }
    let before = read::<K>(change.conn(), &parsed.committee, parsed.id).await?;
    store::mark(change.conn(), K::CATALOGUE, parsed.id, true)
        .await
        .map_err(classify_db_error)?;
    let after = read::<K>(change.conn(), &parsed.committee, parsed.id)
        .await?
        .ok_or_else(|| ServiceError::not_found(name))?;
    change.audit(
        &parsed.committee,
        name,
        before.as_ref().map(to_json),
        Some(to_json(&after)),
    );
    K::publish(&mut change, &parsed.committee, name, after.clone());
    change.commit().await?;
    Ok(after)
}
