//! `cppcc.members.v1.CommitteeService`.

use tonic::{Request, Response, Status};

use cppcc_kit::change::{Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{committee_id, is_committee_id, parse_committee};
use cppcc_kit::page::{ListQuery, ListRequest};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;
use pb::committee_service_server::CommitteeService;

use super::{Shared, committee_resource};
use crate::domain::settings::{FIELDS as SETTINGS_FIELDS, Settings};
use crate::domain::text;
use crate::store::committees::{
    self as store, COMMITTEE_PKEY, CommitteeFields, CommitteeRow, SettingsRow,
};
use crate::store::lists;

/// The committee service.
#[derive(Clone, Debug)]
pub struct CommitteeApi {
    shared: Shared,
}

impl CommitteeApi {
    pub fn new(shared: Shared) -> Self {
        CommitteeApi { shared }
    }
}

fn committee(row: &CommitteeRow) -> pb::Committee {
    pb::Committee {
        name: committee_resource(&row.id),
        display_name: row.display_name.clone(),
        level: row.level.into(),
        parent: row.parent.clone(),
        current_term: row.current_term,
        term_start_date: row.term_start_date.map(date),
        region_code: row.region_code.clone(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag::format(row.revision),
    }
}

fn settings(id: &str, row: &SettingsRow) -> Result<pb::CommitteeSettings, ServiceError> {
    let stored: Settings =
        serde_json::from_value(row.settings.clone()).map_err(ServiceError::internal)?;
    let mut out = stored.to_proto(format!("{}/settings", committee_resource(id)));
    out.update_time = Some(timestamp(row.update_time));
    out.etag = etag::format(row.revision);
    Ok(out)
}

/// Checks a committee's caller-set fields.
fn fields(c: &pb::Committee, prefix: &str) -> Result<CommitteeFields, ServiceError> {
    let mut errors = Violations::default();
    let display_name = text(&c.display_name, 1, 60).unwrap_or_else(|e| {
        errors.add(format!("{prefix}.display_name"), e);
        String::new()
    });
    let level = match common::CommitteeLevel::try_from(c.level) {
        Ok(common::CommitteeLevel::Unspecified) => {
            errors.add(
                format!("{prefix}.level"),
                "required: COUNTY, CITY, PROVINCE or NATIONAL",
            );
            0
        }
        Ok(l) => l as i16,
        Err(_) => {
            errors.add(
                format!("{prefix}.level"),
                format!("{} is not a CommitteeLevel value", c.level),
            );
            0
        }
    };
    if !c.parent.is_empty() && committee_id(&c.parent).is_none() {
        errors.add(
            format!("{prefix}.parent"),
            format!(
                "`{}` is not a committee name like `committees/suizhou`",
                c.parent
            ),
        );
    }
    if !(1..=99).contains(&c.current_term) {
        errors.add(
            format!("{prefix}.current_term"),
            format!("required: the term number, 1 to 99, not {}", c.current_term),
        );
    }
    let term_start_date = parse_date(
        &format!("{prefix}.term_start_date"),
        c.term_start_date.as_ref(),
    )
    .unwrap_or_else(|e| {
        for v in e.field_violations() {
            errors.add(v.field.clone(), v.description.clone());
        }
        None
    });
    let six_digits = c.region_code.len() == 6 && c.region_code.bytes().all(|b| b.is_ascii_digit());
    if !c.region_code.is_empty() && !six_digits {
        errors.add(
            format!("{prefix}.region_code"),
            "must be the six-digit division code, e.g. 421321",
        );
    }
    errors.finish()?;
    Ok(CommitteeFields {
        display_name,
        level,
        parent: c.parent.clone(),
        current_term: c.current_term,
        term_start_date,
        region_code: c.region_code.clone(),
    })
}

const COMMITTEE_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "parent",
        "current_term",
        "term_start_date",
        "region_code",
    ],
    output_only: &[
        ("name", "it identifies the committee"),
        (
            "level",
            "a committee's level does not change; create a new committee",
        ),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("etag", "send it in committee.etag to guard the update"),
    ],
};

const SETTINGS_MASK: MaskSpec = MaskSpec {
    updatable: &SETTINGS_FIELDS,
    output_only: &[
        ("name", "it identifies the settings"),
        ("update_time", "it is output only"),
        ("etag", "send it in settings.etag to guard the update"),
    ],
};

impl CommitteeApi {
    async fn read(&self, id: &str) -> Result<CommitteeRow, ServiceError> {
        let mut conn = self.shared.db.acquire().await?;
        store::get(&mut conn, id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(committee_resource(id)))
    }
}

#[tonic::async_trait]
impl CommitteeService for CommitteeApi {
    async fn create_committee(
        &self,
        request: Request<pb::CreateCommitteeRequest>,
    ) -> Result<Response<pb::CreateCommitteeResponse>, Status> {
        let actor = cppcc_kit::auth::actor(&request)?;
        let req = request.get_ref();
        let mut errors = Violations::default();
        errors.check(
            !is_committee_id(&req.committee_id),
            "committee_id",
            format!(
                "`{}` is not an id: 2–40 lowercase letters, digits and hyphens, starting with a letter",
                req.committee_id
            ),
        );
        let Some(input) = req.committee.as_ref() else {
            errors.add("committee", "required");
            return Err(errors.finish().unwrap_err().into());
        };
        let fields = fields(input, "committee");
        if let Err(e) = &fields {
            for v in e.field_violations() {
                errors.add(v.field.clone(), v.description.clone());
            }
        }
        errors.finish()?;
        let fields = fields?;
        let id = req.committee_id.clone();
        let name = committee_resource(&id);
        // An admin may start its own committee or one directly below it.
        let own = actor.in_committee(&id);
        let child = actor
            .committee()
            .is_some_and(|c| fields.parent == committee_resource(c));
        if !(own || child) {
            return Err(ServiceError::permission_denied(format!(
                "an admin of {} may create its own committee or one whose parent it is, not {name}",
                actor
                    .committee()
                    .map(committee_resource)
                    .unwrap_or_default()
            ))
            .into());
        }
        if fields.parent == name {
            return Err(ServiceError::invalid(
                "committee.parent",
                "a committee cannot be its own parent",
            )
            .into());
        }
        let mut change = self.shared.db.change(&actor).await?;
        if let Claim::Replay(existing) = change
            .claim_request_id(
                "request_id",
                &req.request_id,
                &fingerprint(req, &actor, |r| r.request_id.clear()),
                &name,
            )
            .await?
        {
            drop(change);
            let id = committee_id(&existing).unwrap_or_default();
            return Ok(Response::new(pb::CreateCommitteeResponse {
                committee: Some(committee(&self.read(id).await?)),
            }));
        }
        // A committee created above one that names it as parent would close a circle.
        if let Some(parent) = committee_id(&fields.parent)
            && is_within(change.conn(), &id, parent).await?
        {
            return Err(ServiceError::invalid(
                "committee.parent",
                format!(
                    "{} sits below {name}; a committee cannot sit below itself",
                    fields.parent
                ),
            )
            .into());
        }
        let row = match store::insert(change.conn(), &id, &fields).await {
            Ok(row) => row,
            Err(e) if constraint_violated(&e, COMMITTEE_PKEY) => {
                return Err(
                    ServiceError::already_exists(&name, format!("{name} already exists")).into(),
                );
            }
            Err(e) => return Err(classify_db_error(e).into()),
        };
        store::insert_settings(change.conn(), &id)
            .await
            .map_err(classify_db_error)?;
        let created = committee(&row);
        change.audit(&id, &name, None, Some(to_json(&created)));
        change.publish(
            &id,
            &name,
            &pb::CommitteeCreated {
                committee: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateCommitteeResponse {
            committee: Some(created),
        }))
    }

    async fn get_committee(
        &self,
        request: Request<pb::GetCommitteeRequest>,
    ) -> Result<Response<pb::GetCommitteeResponse>, Status> {
        let id = parse_committee("name", &request.get_ref().name)?.to_owned();
        let actor = cppcc_kit::auth::actor(&request)?;
        let name = committee_resource(&id);
        let mut conn = self.shared.db.acquire().await?;
        // Visible: the caller's committee and those below it.
        let visible = match actor.committee() {
            None => true,
            Some(root) => root == id || is_within(&mut conn, root, &id).await?,
        };
        if !visible {
            self.shared.check_committee(&actor, &id, &name).await?;
        }
        let row = store::get(&mut conn, &id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetCommitteeResponse {
            committee: Some(committee(&row)),
        }))
    }

    async fn list_committees(
        &self,
        request: Request<pb::ListCommitteesRequest>,
    ) -> Result<Response<pb::ListCommitteesResponse>, Status> {
        let actor = cppcc_kit::auth::actor(&request)?;
        let req = request.get_ref();
        let root = actor.committee();
        let query = ListQuery::new(
            &lists::COMMITTEES,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                filter: &req.filter,
                order_by: "",
            },
            &[root.unwrap_or("*")],
        )?;
        let mut conn = self.shared.db.acquire().await?;
        let keys = lists::committee_page(&mut conn, root, &query)
            .await
            .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<String> = keys.into_iter().map(|k| k.id).collect();
        let mut rows = store::get_many(&mut conn, &ids)
            .await
            .map_err(classify_db_error)?;
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Response::new(pb::ListCommitteesResponse {
            committees: rows.iter().map(committee).collect(),
            next_page_token,
        }))
    }

    async fn update_committee(
        &self,
        request: Request<pb::UpdateCommitteeRequest>,
    ) -> Result<Response<pb::UpdateCommitteeResponse>, Status> {
        let req = request.get_ref();
        let Some(input) = req.committee.as_ref() else {
            return Err(ServiceError::invalid("committee", "required").into());
        };
        let id = parse_committee("committee.name", &input.name)?.to_owned();
        let name = committee_resource(&id);
        let actor = self.shared.caller(&request, &id, &name).await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &COMMITTEE_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "parent" => !input.parent.is_empty(),
            "current_term" => input.current_term != 0,
            "term_start_date" => input.term_start_date.is_some(),
            "region_code" => !input.region_code.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let current = store::get_for_update(change.conn(), &id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        etag::check(&input.etag, current.revision, &name)?;
        let before = committee(&current);
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "parent" => merged.parent.clone_from(&input.parent),
                "current_term" => merged.current_term = input.current_term,
                "term_start_date" => merged.term_start_date = input.term_start_date,
                "region_code" => merged.region_code.clone_from(&input.region_code),
                _ => {}
            }
        }
        let new_fields = fields(&merged, "committee")?;
        if let Some(parent) = committee_id(&new_fields.parent)
            && (parent == id || is_within(change.conn(), &id, parent).await?)
        {
            return Err(ServiceError::invalid(
                "committee.parent",
                format!(
                    "{} is {name} or below it; a committee cannot sit below itself",
                    new_fields.parent
                ),
            )
            .into());
        }
        let row = store::update(change.conn(), &id, &new_fields)
            .await
            .map_err(classify_db_error)?;
        let after = committee(&row);
        change.audit(&id, &name, Some(to_json(&before)), Some(to_json(&after)));
        change.publish(
            &id,
            &name,
            &pb::CommitteeUpdated {
                committee: Some(after.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: mask.iter().map(|f| f.to_string()).collect(),
                }),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateCommitteeResponse {
            committee: Some(after),
        }))
    }

    async fn get_committee_settings(
        &self,
        request: Request<pb::GetCommitteeSettingsRequest>,
    ) -> Result<Response<pb::GetCommitteeSettingsResponse>, Status> {
        let id = settings_committee("name", &request.get_ref().name)?;
        let name = request.get_ref().name.clone();
        self.shared.caller(&request, &id, &name).await?;
        let mut conn = self.shared.db.acquire().await?;
        let row = store::settings(&mut conn, &id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        Ok(Response::new(pb::GetCommitteeSettingsResponse {
            settings: Some(settings(&id, &row)?),
        }))
    }

    async fn update_committee_settings(
        &self,
        request: Request<pb::UpdateCommitteeSettingsRequest>,
    ) -> Result<Response<pb::UpdateCommitteeSettingsResponse>, Status> {
        let req = request.get_ref();
        let Some(input) = req.settings.as_ref() else {
            return Err(ServiceError::invalid("settings", "required").into());
        };
        let id = settings_committee("settings.name", &input.name)?;
        let name = input.name.clone();
        let actor = self.shared.caller(&request, &id, &name).await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &SETTINGS_MASK, |f| {
            Settings::is_set(input, f)
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let current = store::settings_for_update(change.conn(), &id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&name))?;
        etag::check(&input.etag, current.revision, &name)?;
        let stored: Settings =
            serde_json::from_value(current.settings.clone()).map_err(ServiceError::internal)?;
        let new = stored.apply(input, &mask)?;
        let before = settings(&id, &current)?;
        let json = serde_json::to_value(&new).map_err(ServiceError::internal)?;
        let row = store::update_settings(change.conn(), &id, &json)
            .await
            .map_err(classify_db_error)?;
        let after = settings(&id, &row)?;
        change.audit(&id, &name, Some(to_json(&before)), Some(to_json(&after)));
        change.publish(
            &id,
            &name,
            &pb::CommitteeSettingsUpdated {
                settings: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateCommitteeSettingsResponse {
            settings: Some(after),
        }))
    }
}

/// The committee id in `committees/{id}/settings`.
fn settings_committee(field: &str, name: &str) -> Result<String, ServiceError> {
    name.strip_suffix("/settings")
        .and_then(committee_id)
        .map(str::to_owned)
        .ok_or_else(|| {
            ServiceError::invalid(
                field,
                format!("`{name}` is not a name like `committees/suixian/settings`"),
            )
        })
}

/// Whether `id` is `root` or below it (by the chain of parents, which may
/// name `root` before `root` itself exists).
async fn is_within(
    conn: &mut sqlx::PgConnection,
    root: &str,
    id: &str,
) -> Result<bool, ServiceError> {
    sqlx::query_scalar!(
        r#"WITH RECURSIVE up(id, parent) AS (
             SELECT id, parent FROM members.committee WHERE id = $2
             UNION
             SELECT c.id, c.parent FROM members.committee c JOIN up ON 'committees/' || c.id = up.parent
           )
           SELECT EXISTS (SELECT 1 FROM up WHERE id = $1 OR parent = 'committees/' || $1) AS "within!""#,
        root,
        id,
    )
    .fetch_one(conn)
    .await
    .map_err(classify_db_error)
}
