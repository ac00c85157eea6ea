//! `cppcc.members.v1.MemberService`: sectors, special committees and their
//! seats, and members.

use std::collections::HashMap;

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::Actor;
use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::{classify_db_error, constraint_violated};
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::page::{BY_ID, Key, KeyKind, ListQuery, ListRequest, ListSpec, OrderField};
use cppcc_kit::pii::{mask_id_number, mask_phone};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;
use pb::member_service_server::MemberService;

use super::catalogue::{self, Sectors, SpecialCommittees};
use super::{ID_NUMBER_INDEX, Shared, context, iso_date, masked, seat};
use crate::domain::member::{self as rules, MemberFields};
use crate::domain::{MemberStatus, text};
use crate::store::catalogue::{self as catalogue_store, CHAIR_KEY, Catalogue};
use crate::store::lists;
use crate::store::members::{self as member_store, ID_NUMBER_KEY, MemberRow, MemberWrite};

/// The member service.
#[derive(Clone, Debug)]
pub struct MemberApi {
    shared: Shared,
}

impl MemberApi {
    pub fn new(shared: Shared) -> Self {
        MemberApi { shared }
    }
}

const MEMBER_MASK: MaskSpec = MaskSpec {
    updatable: &rules::UPDATABLE,
    output_only: &rules::OUTPUT_ONLY,
};

/// Seats are listed by position, then name (strokes), then member id.
const SEATS: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "position",
            sql: "position",
            kind: KeyKind::Int,
        },
        OrderField {
            name: "display_name",
            sql: "display_name",
            kind: KeyKind::Text,
        },
    ],
    default_order: "position, display_name",
    tie_break: Some(BY_ID),
};

/// Status changes are listed oldest first.
const STATUS_CHANGES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[OrderField {
        name: "id",
        sql: "id",
        kind: KeyKind::Int,
    }],
    default_order: "id",
    tie_break: None,
};

impl MemberApi {
    async fn member_row(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<MemberRow>, ServiceError> {
        let mut rows = member_store::get_many(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.pop())
    }

    /// Members as messages, unmasked for an entitled caller who asked for
    /// the full view; unmasked reads are audited.
    async fn members_for(
        &self,
        actor: &Actor,
        committee: &str,
        rows: &[MemberRow],
        full: bool,
    ) -> Result<Vec<pb::Member>, ServiceError> {
        let mut unmasked = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name = ChildName::format(&row.committee_id, "members", row.id);
            let unmask = full && Shared::entitled(actor, &name);
            out.push(self.shared.member(row, unmask)?);
            if unmask {
                unmasked.push(name);
            }
        }
        self.shared
            .db
            .audit_reads(actor, committee, &unmasked)
            .await?;
        Ok(out)
    }

    /// Seals and masks a member's personal data for storage.
    fn write(
        &self,
        id: Uuid,
        fields: &MemberFields,
        term: i32,
    ) -> Result<MemberWrite, ServiceError> {
        let pii = &self.shared.pii;
        let links = serde_json::to_value(&fields.links).map_err(ServiceError::internal)?;
        Ok(MemberWrite {
            display_name: fields.display_name.clone(),
            gender: fields.gender.number(),
            ethnicity: fields.ethnicity.clone(),
            birth_date_sealed: pii.seal(&iso_date(fields.birth_date), &context("birth_date", id)),
            birth_year: fields.birth_date.year(),
            id_number_sealed: pii.seal(&fields.id_number.text, &context("id_number", id)),
            id_number_index: pii.blind_index(&fields.id_number.text, ID_NUMBER_INDEX),
            id_number_masked: mask_id_number(&fields.id_number.text),
            phone_sealed: fields
                .phone
                .as_ref()
                .map(|p| pii.seal(p, &context("phone", id))),
            phone_masked: fields.phone.as_deref().map(mask_phone).unwrap_or_default(),
            political_affiliation: fields.political_affiliation,
            sector_id: fields.sector_id,
            employer: fields.employer.clone(),
            job_title: fields.job_title.clone(),
            role: fields.role,
            city_member: fields.city_member,
            township: fields.township.clone(),
            links,
            term,
            join_date: fields.join_date,
            education: fields.education.clone(),
        })
    }

    /// Checks what the fields refer to inside the change: a live sector, a
    /// term no later than the committee's; returns the term to store.
    async fn check_references(
        &self,
        change: &mut Change,
        committee: &str,
        fields: &MemberFields,
    ) -> Result<i32, ServiceError> {
        let (current_term, sector_live) =
            member_store::references(change.conn(), committee, fields.sector_id)
                .await
                .map_err(classify_db_error)?
                .ok_or_else(|| ServiceError::not_found(super::committee_resource(committee)))?;
        let mut errors = Violations::default();
        errors.check(
            !sector_live,
            "member.sector",
            "no such sector in this committee",
        );
        let term = fields.term.unwrap_or(current_term);
        errors.check(
            term > current_term,
            "member.term",
            format!("the committee's current term is {current_term}, not {term}"),
        );
        errors.finish()?;
        Ok(term)
    }

    /// The error for an ID number already on the committee's roll, naming
    /// the member who has it (the caller is the committee office).
    async fn duplicate_id_number(&self, committee: &str, fields: &MemberFields) -> ServiceError {
        let index = self
            .shared
            .pii
            .blind_index(&fields.id_number.text, ID_NUMBER_INDEX);
        let holder = sqlx::query_scalar!(
            "SELECT id FROM members.member WHERE committee_id = $1 AND id_number_index = $2",
            committee,
            index,
        )
        .fetch_optional(self.shared.db.pool())
        .await
        .ok()
        .flatten();
        let holder = holder
            .map(|id| ChildName::format(committee, "members", id))
            .unwrap_or_default();
        ServiceError::already_exists(
            &holder,
            format!("a member with this ID number is already on the roll of committees/{committee}: {holder}"),
        )
        .with_reason("DUPLICATE_ID_NUMBER")
    }

    /// Removes every seat of a member leaving office, each audited and
    /// published as a removal. The special committees are locked already.
    async fn vacate_seats(
        &self,
        change: &mut Change,
        member: &ChildName,
    ) -> Result<(), ServiceError> {
        let member_name = ChildName::format(&member.committee, "members", member.id);
        let vacated = catalogue_store::remove_seats(change.conn(), member.id)
            .await
            .map_err(classify_db_error)?;
        for (special_committee, position) in vacated {
            catalogue_store::mark(
                change.conn(),
                Catalogue::SpecialCommittees,
                special_committee,
                false,
            )
            .await
            .map_err(classify_db_error)?;
            let sc_name =
                ChildName::format(&member.committee, "specialCommittees", special_committee);
            change.audit(
                &member.committee,
                &format!("{sc_name}/members/{}", member.id),
                Some(serde_json::json!({"member": member_name, "position": position})),
                None,
            );
            change.publish(
                &member.committee,
                &sc_name,
                &pb::SpecialCommitteeMemberRemoved {
                    special_committee: sc_name.clone(),
                    member: member_name.clone(),
                },
            );
        }
        Ok(())
    }

    /// Locks a member, checks its etag, and returns its row.
    async fn lock_member(
        &self,
        change: &mut Change,
        name: &ChildName,
        resource: &str,
        given_etag: &str,
    ) -> Result<MemberRow, ServiceError> {
        let (revision, _) = member_store::lock(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(resource))?;
        etag::check(given_etag, revision, resource)?;
        self.member_row(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(resource))
    }
}

#[tonic::async_trait]
impl MemberService for MemberApi {
    async fn create_sector(
        &self,
        request: Request<pb::CreateSectorRequest>,
    ) -> Result<Response<pb::CreateSectorResponse>, Status> {
        let req = request.get_ref();
        let sector = catalogue::create::<Sectors, _>(
            &self.shared,
            &request,
            &req.parent,
            req.sector.as_ref(),
            &req.request_id,
            |actor| fingerprint(req, actor, |r| r.request_id.clear()),
        )
        .await?;
        Ok(Response::new(pb::CreateSectorResponse {
            sector: Some(sector),
        }))
    }

    async fn get_sector(
        &self,
        request: Request<pb::GetSectorRequest>,
    ) -> Result<Response<pb::GetSectorResponse>, Status> {
        let sector =
            catalogue::get::<Sectors, _>(&self.shared, &request, &request.get_ref().name).await?;
        Ok(Response::new(pb::GetSectorResponse {
            sector: Some(sector),
        }))
    }

    async fn list_sectors(
        &self,
        request: Request<pb::ListSectorsRequest>,
    ) -> Result<Response<pb::ListSectorsResponse>, Status> {
        let req = request.get_ref();
        let page = ListRequest {
            page_size: req.page_size,
            page_token: &req.page_token,
            filter: &req.filter,
            order_by: &req.order_by,
        };
        let (sectors, next_page_token) = catalogue::list::<Sectors, _>(
            &self.shared,
            &request,
            &req.parent,
            page,
            req.show_deleted,
        )
        .await?;
        Ok(Response::new(pb::ListSectorsResponse {
            sectors,
            next_page_token,
        }))
    }

    async fn update_sector(
        &self,
        request: Request<pb::UpdateSectorRequest>,
    ) -> Result<Response<pb::UpdateSectorResponse>, Status> {
        let req = request.get_ref();
        let sector = catalogue::update::<Sectors, _>(
            &self.shared,
            &request,
            req.sector.as_ref(),
            req.update_mask.as_ref(),
        )
        .await?;
        Ok(Response::new(pb::UpdateSectorResponse {
            sector: Some(sector),
        }))
    }

    async fn delete_sector(
        &self,
        request: Request<pb::DeleteSectorRequest>,
    ) -> Result<Response<pb::DeleteSectorResponse>, Status> {
        let req = request.get_ref();
        let sector =
            catalogue::delete::<Sectors, _>(&self.shared, &request, &req.name, &req.etag).await?;
        Ok(Response::new(pb::DeleteSectorResponse {
            sector: Some(sector),
        }))
    }

    async fn create_special_committee(
        &self,
        request: Request<pb::CreateSpecialCommitteeRequest>,
    ) -> Result<Response<pb::CreateSpecialCommitteeResponse>, Status> {
        let req = request.get_ref();
        let special_committee = catalogue::create::<SpecialCommittees, _>(
            &self.shared,
            &request,
            &req.parent,
            req.special_committee.as_ref(),
            &req.request_id,
            |actor| fingerprint(req, actor, |r| r.request_id.clear()),
        )
        .await?;
        Ok(Response::new(pb::CreateSpecialCommitteeResponse {
            special_committee: Some(special_committee),
        }))
    }

    async fn get_special_committee(
        &self,
        request: Request<pb::GetSpecialCommitteeRequest>,
    ) -> Result<Response<pb::GetSpecialCommitteeResponse>, Status> {
        let special_committee =
            catalogue::get::<SpecialCommittees, _>(&self.shared, &request, &request.get_ref().name)
                .await?;
        Ok(Response::new(pb::GetSpecialCommitteeResponse {
            special_committee: Some(special_committee),
        }))
    }

    async fn list_special_committees(
        &self,
        request: Request<pb::ListSpecialCommitteesRequest>,
    ) -> Result<Response<pb::ListSpecialCommitteesResponse>, Status> {
        let req = request.get_ref();
        let page = ListRequest {
            page_size: req.page_size,
            page_token: &req.page_token,
            filter: &req.filter,
            order_by: &req.order_by,
        };
        let (special_committees, next_page_token) = catalogue::list::<SpecialCommittees, _>(
            &self.shared,
            &request,
            &req.parent,
            page,
            req.show_deleted,
        )
        .await?;
        Ok(Response::new(pb::ListSpecialCommitteesResponse {
            special_committees,
            next_page_token,
        }))
    }

    async fn update_special_committee(
        &self,
        request: Request<pb::UpdateSpecialCommitteeRequest>,
    ) -> Result<Response<pb::UpdateSpecialCommitteeResponse>, Status> {
        let req = request.get_ref();
        let special_committee = catalogue::update::<SpecialCommittees, _>(
            &self.shared,
            &request,
            req.special_committee.as_ref(),
            req.update_mask.as_ref(),
        )
        .await?;
        Ok(Response::new(pb::UpdateSpecialCommitteeResponse {
            special_committee: Some(special_committee),
        }))
    }

    async fn delete_special_committee(
        &self,
        request: Request<pb::DeleteSpecialCommitteeRequest>,
    ) -> Result<Response<pb::DeleteSpecialCommitteeResponse>, Status> {
        let req = request.get_ref();
        let special_committee =
            catalogue::delete::<SpecialCommittees, _>(&self.shared, &request, &req.name, &req.etag)
                .await?;
        Ok(Response::new(pb::DeleteSpecialCommitteeResponse {
            special_committee: Some(special_committee),
        }))
    }

    async fn add_special_committee_member(
        &self,
        request: Request<pb::AddSpecialCommitteeMemberRequest>,
    ) -> Result<Response<pb::AddSpecialCommitteeMemberResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        let sc = ChildName::parse_field(
            "special_committee",
            &req.special_committee,
            "specialCommittees",
        );
        let member = ChildName::parse_field("member", &req.member, "members");
        let position = match pb::SpecialCommitteePosition::try_from(req.position) {
            Ok(pb::SpecialCommitteePosition::Unspecified) => {
                errors.add("position", "required: CHAIR, VICE_CHAIR or MEMBER");
                0
            }
            Ok(p) => p as i16,
            Err(_) => {
                errors.add(
                    "position",
                    format!("{} is not a SpecialCommitteePosition value", req.position),
                );
                0
            }
        };
        for e in [sc.as_ref().err(), member.as_ref().err()]
            .into_iter()
            .flatten()
        {
            for v in e.field_violations() {
                errors.add(v.field.clone(), v.description.clone());
            }
        }
        if let (Ok(sc), Ok(member)) = (&sc, &member) {
            errors.check(
                sc.committee != member.committee,
                "member",
                "belongs to another committee than the special committee",
            );
        }
        errors.finish()?;
        let (sc, member) = (sc?, member?);
        let actor = self
            .shared
            .caller(&request, &sc.committee, &req.special_committee)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        catalogue_store::lock(
            change.conn(),
            Catalogue::SpecialCommittees,
            &sc.committee,
            sc.id,
        )
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::not_found(&req.special_committee))?;
        let (_, status) = member_store::lock(change.conn(), &member.committee, member.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.member))?;
        let status = MemberStatus::from_number(status)
            .ok_or_else(|| ServiceError::internal("unknown member status"))?;
        if status != MemberStatus::Active {
            return Err(ServiceError::failed_precondition(
                "STATE",
                &req.member,
                format!("the member is {status}; only members in office sit on special committees"),
            )
            .with_metadata("current_state", status.to_proto().as_str_name())
            .into());
        }
        let before = catalogue_store::seat(change.conn(), sc.id, member.id)
            .await
            .map_err(classify_db_error)?
            .map(|b| to_json(&seat(&sc.committee, &b)));
        let seat_row = match catalogue_store::upsert_seat(change.conn(), sc.id, member.id, position)
            .await
        {
            Ok(row) => row,
            Err(e) if constraint_violated(&e, CHAIR_KEY) => {
                return Err(ServiceError::failed_precondition(
                    "CHAIR_TAKEN",
                    &req.special_committee,
                    "the special committee already has a chair; seat the present chair in another position first",
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        };
        catalogue_store::mark(change.conn(), Catalogue::SpecialCommittees, sc.id, false)
            .await
            .map_err(classify_db_error)?;
        member_store::touch(change.conn(), member.id)
            .await
            .map_err(classify_db_error)?;
        let membership = seat(&sc.committee, &seat_row);
        let resource = format!("{}/members/{}", req.special_committee, member.id);
        change.audit(&sc.committee, &resource, before, Some(to_json(&membership)));
        change.publish(
            &sc.committee,
            &req.special_committee,
            &pb::SpecialCommitteeMemberAdded {
                membership: Some(membership.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::AddSpecialCommitteeMemberResponse {
            membership: Some(membership),
        }))
    }

    async fn remove_special_committee_member(
        &self,
        request: Request<pb::RemoveSpecialCommitteeMemberRequest>,
    ) -> Result<Response<pb::RemoveSpecialCommitteeMemberResponse>, Status> {
        let req = request.get_ref();
        let sc = ChildName::parse_field(
            "special_committee",
            &req.special_committee,
            "specialCommittees",
        )?;
        let member = ChildName::parse_field("member", &req.member, "members")?;
        let actor = self
            .shared
            .caller(&request, &sc.committee, &req.special_committee)
            .await?;
        let resource = format!("{}/members/{}", req.special_committee, member.id);
        if member.committee != sc.committee {
            return Err(ServiceError::not_found(&resource).into());
        }
        let mut change = self.shared.db.change(&actor).await?;
        // Special committee, then member, then the seat: the order every change takes.
        catalogue_store::lock(
            change.conn(),
            Catalogue::SpecialCommittees,
            &sc.committee,
            sc.id,
        )
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::not_found(&resource))?;
        member_store::lock(change.conn(), &member.committee, member.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&resource))?;
        let before = catalogue_store::seat(change.conn(), sc.id, member.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&resource))?;
        catalogue_store::delete_seat(change.conn(), sc.id, member.id)
            .await
            .map_err(classify_db_error)?;
        catalogue_store::mark(change.conn(), Catalogue::SpecialCommittees, sc.id, false)
            .await
            .map_err(classify_db_error)?;
        member_store::touch(change.conn(), member.id)
            .await
            .map_err(classify_db_error)?;
        change.audit(
            &sc.committee,
            &resource,
            Some(to_json(&seat(&sc.committee, &before))),
            None,
        );
        change.publish(
            &sc.committee,
            &req.special_committee,
            &pb::SpecialCommitteeMemberRemoved {
                special_committee: req.special_committee.clone(),
                member: req.member.clone(),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::RemoveSpecialCommitteeMemberResponse {}))
    }

    async fn list_special_committee_members(
        &self,
        request: Request<pb::ListSpecialCommitteeMembersRequest>,
    ) -> Result<Response<pb::ListSpecialCommitteeMembersResponse>, Status> {
        let req = request.get_ref();
        let sc = ChildName::parse_field("parent", &req.parent, "specialCommittees")?;
        self.shared
            .caller(&request, &sc.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &SEATS,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                ..Default::default()
            },
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Int(position), Key::Text(name), Key::Uuid(id)]) => {
                Some((*position as i16, name.clone(), *id))
            }
            _ => None,
        };
        let mut conn = self.shared.db.acquire().await?;
        if catalogue::read::<SpecialCommittees>(&mut conn, &sc.committee, sc.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = catalogue_store::seats(&mut conn, sc.id, after, query.limit as i64 + 1)
            .await
            .map_err(classify_db_error)?;
        let keyed: Vec<SeatKey> = rows.into_iter().map(SeatKey).collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListSpecialCommitteeMembersResponse {
            memberships: page.iter().map(|s| seat(&sc.committee, &s.0)).collect(),
            next_page_token,
        }))
    }

    async fn create_member(
        &self,
        request: Request<pb::CreateMemberRequest>,
    ) -> Result<Response<pb::CreateMemberResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let Some(input) = req.member.as_ref() else {
            return Err(ServiceError::invalid("member", "required").into());
        };
        let fields = MemberFields::parse(input, &committee, "member", self.shared.db.today())?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "members", id);
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
            let existing = ChildName::parse_field("name", &existing, "members")?;
            let mut conn = self.shared.db.acquire().await?;
            let row = self
                .member_row(&mut conn, &committee, existing.id)
                .await?
                .ok_or_else(|| ServiceError::not_found(existing_name(&existing)))?;
            return Ok(Response::new(pb::CreateMemberResponse {
                member: Some(self.shared.member(&row, false)?),
            }));
        }
        let term = self
            .check_references(&mut change, &committee, &fields)
            .await?;
        let write = self.write(id, &fields, term)?;
        let row = match member_store::insert(change.conn(), id, &committee, &write).await {
            Ok(row) => row,
            Err(e) if constraint_violated(&e, ID_NUMBER_KEY) => {
                drop(change);
                return Err(self.duplicate_id_number(&committee, &fields).await.into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        };
        let created = self.shared.member(&row, false)?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::MemberCreated {
                member: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateMemberResponse {
            member: Some(created),
        }))
    }

    async fn get_member(
        &self,
        request: Request<pb::GetMemberRequest>,
    ) -> Result<Response<pb::GetMemberResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "members")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let full = view(req.view, true)?;
        let mut conn = self.shared.db.acquire().await?;
        let row = self
            .member_row(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        drop(conn);
        let mut members = self
            .members_for(&actor, &name.committee, &[row], full)
            .await?;
        Ok(Response::new(pb::GetMemberResponse {
            member: members.pop(),
        }))
    }

    async fn batch_get_members(
        &self,
        request: Request<pb::BatchGetMembersRequest>,
    ) -> Result<Response<pb::BatchGetMembersResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        errors.check(
            req.names.len() > 1000,
            "names",
            format!("at most 1000 names, not {}", req.names.len()),
        );
        let mut ids = Vec::with_capacity(req.names.len());
        for (i, n) in req.names.iter().enumerate() {
            match ChildName::parse(n, "members") {
                Some(c) if c.committee == committee => ids.push(c.id),
                Some(_) => errors.add(
                    format!("names[{i}]"),
                    format!("`{n}` is not in {}", req.parent),
                ),
                None => errors.add(format!("names[{i}]"), format!("`{n}` is not a member name")),
            }
        }
        errors.finish()?;
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let full = view(req.view, true)?;
        let mut conn = self.shared.db.acquire().await?;
        let rows = member_store::get_many(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        drop(conn);
        let mut by_id: HashMap<Uuid, MemberRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        let mut ordered = Vec::with_capacity(ids.len());
        for (id, n) in ids.iter().zip(&req.names) {
            // The same member may be asked for twice.
            match by_id.get(id) {
                Some(row) => ordered.push(row.clone()),
                None => return Err(ServiceError::not_found(n).into()),
            }
        }
        by_id.clear();
        let members = self.members_for(&actor, &committee, &ordered, full).await?;
        Ok(Response::new(pb::BatchGetMembersResponse { members }))
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let full = view(req.view, false)?;
        let spec = match pb::NameCollation::try_from(req.collation) {
            Ok(pb::NameCollation::Pinyin) => &lists::MEMBERS_BY_PINYIN,
            Ok(_) => &lists::MEMBERS_BY_STROKE,
            Err(_) => {
                return Err(ServiceError::invalid(
                    "collation",
                    format!("{} is not a NameCollation value", req.collation),
                )
                .into());
            }
        };
        let collation = if std::ptr::eq(spec, &lists::MEMBERS_BY_PINYIN) {
            "pinyin"
        } else {
            "stroke"
        };
        let query = ListQuery::new(
            spec,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                filter: &req.filter,
                order_by: &req.order_by,
            },
            &[&req.parent, collation],
        )?;
        let mut conn = self.shared.db.acquire().await?;
        let keys = lists::member_page(&mut conn, &committee, &query)
            .await
            .map_err(classify_db_error)?;
        let total = lists::member_count(&mut conn, &committee, &query)
            .await
            .map_err(classify_db_error)?;
        let (keys, next_page_token) = query.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let rows = member_store::get_many(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        drop(conn);
        let mut by_id: HashMap<Uuid, MemberRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        let ordered: Vec<MemberRow> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        let members = self.members_for(&actor, &committee, &ordered, full).await?;
        Ok(Response::new(pb::ListMembersResponse {
            members,
            next_page_token,
            total_size: total as i32,
        }))
    }

    async fn update_member(
        &self,
        request: Request<pb::UpdateMemberRequest>,
    ) -> Result<Response<pb::UpdateMemberResponse>, Status> {
        let req = request.get_ref();
        let Some(input) = req.member.as_ref() else {
            return Err(ServiceError::invalid("member", "required").into());
        };
        let name = ChildName::parse_field("member.name", &input.name, "members")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &MEMBER_MASK, |f| {
            rules::is_set(input, f)
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let current = self
            .lock_member(&mut change, &name, &input.name, &input.etag)
            .await?;
        let before = self.shared.member(&current, true)?;
        let mut merged = before.clone();
        rules::merge(&mut merged, input, &mask);
        let fields =
            MemberFields::parse(&merged, &name.committee, "member", self.shared.db.today())?;
        let term = self
            .check_references(&mut change, &name.committee, &fields)
            .await?;
        let write = self.write(name.id, &fields, term)?;
        let row = match member_store::update(change.conn(), name.id, &write).await {
            Ok(row) => row,
            Err(e) if constraint_violated(&e, ID_NUMBER_KEY) => {
                drop(change);
                return Err(self
                    .duplicate_id_number(&name.committee, &fields)
                    .await
                    .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        };
        let after = self.shared.member(&row, false)?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&masked(before))),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::MemberUpdated {
                member: Some(after.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: mask.iter().map(|f| f.to_string()).collect(),
                }),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateMemberResponse {
            member: Some(after),
        }))
    }

    async fn change_member_status(
        &self,
        request: Request<pb::ChangeMemberStatusRequest>,
    ) -> Result<Response<pb::ChangeMemberStatusResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "members")?;
        let mut errors = Violations::default();
        let to = MemberStatus::from_proto(req.status);
        errors.check(
            to.is_none(),
            "status",
            "required: MEMBER_STATUS_ACTIVE, _SUSPENDED, _RESIGNED or _REVOKED",
        );
        let reason = text(&req.reason, 1, 500).unwrap_or_else(|e| {
            errors.add("reason", e);
            String::new()
        });
        let effective =
            parse_date("effective_date", req.effective_date.as_ref()).unwrap_or_else(|e| {
                for v in e.field_violations() {
                    errors.add(v.field.clone(), v.description.clone());
                }
                None
            });
        if effective.is_some_and(|d| !rules::plausible(d, self.shared.db.today())) {
            errors.add(
                "effective_date",
                "must be between 1949-09-21 and a year from today",
            );
        }
        errors.finish()?;
        let to = to.expect("checked above");
        let effective = effective.unwrap_or(self.shared.db.today());
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        // Leaving for good also leaves every special committee: lock those
        // first (special committees before members, as every change does).
        if to.is_final() {
            let seats = catalogue_store::seats_of(change.conn(), name.id)
                .await
                .map_err(classify_db_error)?;
            catalogue_store::lock_special_committees(change.conn(), &seats)
                .await
                .map_err(classify_db_error)?;
        }
        let current = self
            .lock_member(&mut change, &name, &req.name, &req.etag)
            .await?;
        let from = MemberStatus::from_number(current.status)
            .ok_or_else(|| ServiceError::internal("unknown member status"))?;
        let to = from.transition(to).map_err(|e| {
            ServiceError::failed_precondition("STATE", &req.name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        })?;
        member_store::set_status(change.conn(), name.id, to.number())
            .await
            .map_err(classify_db_error)?;
        if to.is_final() {
            self.vacate_seats(&mut change, &name).await?;
        }
        member_store::insert_status_change(
            change.conn(),
            name.id,
            from.number(),
            to.number(),
            effective,
            &reason,
            &actor.subject,
            actor.role.to_proto() as i16,
        )
        .await
        .map_err(classify_db_error)?;
        let before = self.shared.member(&current, false)?;
        let row = self
            .member_row(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let after = self.shared.member(&row, false)?;
        change.audit(
            &name.committee,
            &req.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::MemberStatusChanged {
                member: req.name.clone(),
                from_status: from.to_proto() as i32,
                to_status: to.to_proto() as i32,
                effective_date: Some(date(effective)),
                reason,
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::ChangeMemberStatusResponse {
            member: Some(after),
        }))
    }

    async fn list_member_status_changes(
        &self,
        request: Request<pb::ListMemberStatusChangesRequest>,
    ) -> Result<Response<pb::ListMemberStatusChangesResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "members")?;
        self.shared
            .caller(&request, &name.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &STATUS_CHANGES,
            ListRequest {
                page_size: req.page_size,
                page_token: &req.page_token,
                ..Default::default()
            },
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Int(id)]) => *id,
            _ => 0,
        };
        let mut conn = self.shared.db.acquire().await?;
        if self
            .member_row(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = member_store::status_changes(&mut conn, name.id, after, query.limit as i64 + 1)
            .await
            .map_err(classify_db_error)?;
        let keyed: Vec<ChangeKey> = rows.into_iter().map(ChangeKey).collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListMemberStatusChangesResponse {
            status_changes: page
                .into_iter()
                .map(|c| {
                    let c = c.0;
                    pb::MemberStatusChange {
                        member: req.parent.clone(),
                        from_status: c.from_status.into(),
                        to_status: c.to_status.into(),
                        effective_date: Some(date(c.effective_date)),
                        stamp: Some(common::AuditStamp {
                            actor: c.actor,
                            actor_role: c.actor_role.into(),
                            time: Some(timestamp(c.change_time)),
                            reason: c.reason,
                        }),
                    }
                })
                .collect(),
            next_page_token,
        }))
    }
}

fn existing_name(name: &ChildName) -> String {
    ChildName::format(&name.committee, "members", name.id)
}

/// Whether a view asks for personal data; `default_full` is the
/// unspecified view (full for Get, basic for List, per AIP-157).
fn view(view: i32, default_full: bool) -> Result<bool, ServiceError> {
    match pb::MemberView::try_from(view) {
        Ok(pb::MemberView::Unspecified) => Ok(default_full),
        Ok(pb::MemberView::Basic) => Ok(false),
        Ok(pb::MemberView::Full) => Ok(true),
        Err(_) => Err(ServiceError::invalid(
            "view",
            format!("{view} is not a MemberView value"),
        )),
    }
}

struct SeatKey(crate::store::catalogue::SeatRow);

impl cppcc_kit::page::Keyed for SeatKey {
    fn key(&self, field: &str) -> Key {
        match field {
            "position" => Key::Int(self.0.position.into()),
            "display_name" => Key::Text(self.0.member_display_name.clone()),
            _ => Key::Uuid(self.0.member_id),
        }
    }
}

struct ChangeKey(crate::store::members::StatusChangeRow);

impl cppcc_kit::page::Keyed for ChangeKey {
    fn key(&self, _field: &str) -> Key {
        Key::Int(self.0.id)
    }
}
