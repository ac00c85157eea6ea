//! `cppcc.members.v1.StudioService`: member studios, their members, village
//! liaisons and activities, and the months they fell short.

use super::*;

const STUDIO_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "township",
        "sector",
        "monthly_target",
        "establish_date",
    ],
    output_only: &[
        ("name", "it identifies the studio"),
        (
            "kind",
            "a studio's kind does not change; create another studio",
        ),
        ("member_count", "use AddStudioMember and RemoveStudioMember"),
        (
            "liaison_count",
            "use CreateStudioLiaison and DeleteStudioLiaison",
        ),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteStudio"),
        ("etag", "send it in studio.etag to guard the update"),
    ],
};

const LIAISON_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "village", "phone"],
    output_only: &[
        ("name", "it identifies the liaison"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteStudioLiaison"),
        ("etag", "send it in liaison.etag to guard the update"),
    ],
};

fn studio(row: &store::StudioRow) -> pb::Studio {
    pb::Studio {
        name: ChildName::format(&row.committee_id, "studios", row.id),
        display_name: row.display_name.clone(),
        kind: row.kind.into(),
        township: row.township.clone(),
        sector: row
            .sector_id
            .map(|s| ChildName::format(&row.committee_id, "sectors", s))
            .unwrap_or_default(),
        monthly_target: row.monthly_target,
        establish_date: Some(date(row.established_on)),
        member_count: row.member_count as i32,
        liaison_count: row.liaison_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn activity(row: &store::ActivityRow) -> pb::StudioActivity {
    pb::StudioActivity {
        name: SubName::format(
            &row.committee_id,
            "studios",
            row.studio_id,
            "activities",
            row.id,
        ),
        title: row.title.clone(),
        date: Some(date(row.activity_date)),
        description: row.description.clone(),
        participants: row
            .participants
            .iter()
            .map(|m| ChildName::format(&row.committee_id, "members", *m))
            .collect(),
        recorded: Some(stamp(
            &row.recorded_by,
            row.recorded_role,
            row.create_time,
            "",
        )),
    }
}

/// A studio's members and village liaisons hold no seat elsewhere; a
/// township studio names a township, a sector studio a sector of its committee.
fn studio_fields(
    s: &pb::Studio,
    committee: &str,
    kind: i16,
    today: Date,
) -> Result<StudioFields, ServiceError> {
    let mut errors = Violations::default();
    let display_name = take_text(&mut errors, "studio.display_name", &s.display_name, 1, 40);
    let township = take_text(&mut errors, "studio.township", &s.township, 0, 40);
    let mut sector_id = None;
    match pb::StudioKind::try_from(i32::from(kind)) {
        Ok(pb::StudioKind::Township) => {
            errors.check(
                township.is_empty(),
                "studio.township",
                "required for a township studio",
            );
            errors.check(
                !s.sector.is_empty(),
                "studio.sector",
                "a township studio has no sector",
            );
        }
        Ok(pb::StudioKind::Sector) => {
            errors.check(
                !township.is_empty(),
                "studio.township",
                "a sector studio has no township",
            );
            match ChildName::parse(&s.sector, "sectors") {
                Some(n) if n.committee == committee => sector_id = Some(n.id),
                _ => errors.add(
                    "studio.sector",
                    "required for a sector studio: a sector of this committee",
                ),
            }
        }
        _ => errors.add(
            "studio.kind",
            "required: STUDIO_KIND_TOWNSHIP or STUDIO_KIND_SECTOR",
        ),
    }
    errors.check(
        !(0..=31).contains(&s.monthly_target),
        "studio.monthly_target",
        "must be between 0 (the committee's setting) and 31",
    );
    let established_on = match parse_date("studio.establish_date", s.establish_date.as_ref()) {
        Ok(Some(d)) if crate::domain::member::plausible(d, today) && d <= today => d,
        Ok(Some(_)) => {
            errors.add(
                "studio.establish_date",
                "must be a day between 1949-09-21 and today",
            );
            today
        }
        Ok(None) => today,
        Err(e) => {
            absorb(&mut errors, e);
            today
        }
    };
    errors.finish()?;
    Ok(StudioFields {
        display_name,
        kind,
        township,
        sector_id,
        monthly_target: s.monthly_target,
        established_on,
    })
}

/// The first day of a month and of the next.
fn month_bounds(year: i32, month: i32) -> Result<(Date, Date), ServiceError> {
    let mut errors = Violations::default();
    errors.check(
        !(1949..=9999).contains(&year),
        "year",
        format!("{year} is not a year of the CPPCC"),
    );
    errors.check(
        !(1..=12).contains(&month),
        "month",
        format!("{month} is not a month (1..12)"),
    );
    errors.finish()?;
    let first = Date::from_calendar_date(
        year,
        time::Month::try_from(month as u8).expect("checked"),
        1,
    )
    .map_err(ServiceError::internal)?;
    let next = if month == 12 {
        Date::from_calendar_date(year + 1, time::Month::January, 1)
    } else {
        Date::from_calendar_date(
            year,
            time::Month::try_from(month as u8 + 1).expect("checked"),
            1,
        )
    }
    .map_err(ServiceError::internal)?;
    Ok((first, next))
}

impl OrganisationApi {
    async fn read_studio(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::Studio>, ServiceError> {
        let rows = store::studios(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(studio))
    }

    fn liaison(
        &self,
        row: &store::LiaisonRow,
        unmask: bool,
    ) -> Result<pb::StudioLiaison, ServiceError> {
        let phone = match (&row.phone_sealed, unmask) {
            (Some(sealed), true) => self
                .shared
                .pii
                .open(sealed, &phone_context("studio_liaison", row.id))
                .map_err(ServiceError::internal)?,
            _ => row.phone_masked.clone(),
        };
        Ok(pb::StudioLiaison {
            name: SubName::format(
                &row.committee_id,
                "studios",
                row.studio_id,
                "liaisons",
                row.id,
            ),
            display_name: row.display_name.clone(),
            village: row.village.clone(),
            phone,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        })
    }

    async fn read_liaison(
        &self,
        conn: &mut sqlx::PgConnection,
        name: &SubName,
    ) -> Result<Option<store::LiaisonRow>, ServiceError> {
        let mut rows = store::liaisons(
            conn,
            &name.committee,
            name.parent,
            Some(&[name.id]),
            true,
            None,
            1,
        )
        .await
        .map_err(classify_db_error)?;
        Ok(rows.pop())
    }

    /// A sector studio's sector must be a live sector of the committee.
    async fn check_sector(
        &self,
        change: &mut Change,
        committee: &str,
        sector: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        let Some(sector) = sector else { return Ok(()) };
        let live = crate::store::catalogue::lock(
            change.conn(),
            crate::store::catalogue::Catalogue::Sectors,
            committee,
            sector,
        )
        .await
        .map_err(classify_db_error)?;
        if live.is_none() {
            return Err(ServiceError::invalid(
                "studio.sector",
                "no such sector in this committee",
            ));
        }
        Ok(())
    }

    fn liaison_fields(
        &self,
        l: &pb::StudioLiaison,
        id: Uuid,
    ) -> Result<LiaisonFields, ServiceError> {
        let mut errors = Violations::default();
        let display_name = take_text(&mut errors, "liaison.display_name", &l.display_name, 1, 30);
        let village = take_text(&mut errors, "liaison.village", &l.village, 1, 40);
        let phone = phone(&l.phone).unwrap_or_else(|e| {
            errors.add("liaison.phone", e);
            None
        });
        errors.finish()?;
        let (phone_sealed, phone_masked) = self.seal_phone("studio_liaison", id, phone.as_deref());
        Ok(LiaisonFields {
            display_name,
            village,
            phone_sealed,
            phone_masked,
        })
    }

    /// Adds (`add`) or removes a member of a studio; the studio after.
    async fn studio_membership<T>(
        &self,
        request: &Request<T>,
        studio_name: &str,
        member_name: &str,
        add: bool,
    ) -> Result<pb::Studio, ServiceError> {
        let mut errors = Violations::default();
        let studio = ChildName::parse_field("studio", studio_name, "studios");
        let member = ChildName::parse_field("member", member_name, "members");
        for e in [studio.as_ref().err(), member.as_ref().err()]
            .into_iter()
            .flatten()
        {
            for v in e.field_violations() {
                errors.add(v.field.clone(), v.description.clone());
            }
        }
        if let (Ok(s), Ok(m)) = (&studio, &member) {
            errors.check(
                s.committee != m.committee,
                "member",
                "belongs to another committee than the studio",
            );
        }
        errors.finish()?;
        let (studio, member) = (studio?, member?);
        let actor: Actor = self
            .shared
            .caller(request, &studio.committee, studio_name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &studio.committee, studio.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(studio_name))?;
        let (_, status) = member_store::lock(change.conn(), &member.committee, member.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(member_name))?;
        let resource = format!("{studio_name}/members/{}", member.id);
        if add {
            if status != crate::domain::MemberStatus::Active.number() {
                return Err(ServiceError::failed_precondition(
                    "STATE",
                    member_name,
                    "only members in office join studios",
                ));
            }
            if !store::add_studio_member(change.conn(), studio.id, member.id)
                .await
                .map_err(classify_db_error)?
            {
                // A member already: nothing changes.
                drop(change);
                let mut conn = self.shared.db.acquire().await?;
                return self
                    .read_studio(&mut conn, &studio.committee, studio.id)
                    .await?
                    .ok_or_else(|| ServiceError::not_found(studio_name));
            }
        } else if !store::remove_studio_member(change.conn(), studio.id, member.id)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::not_found(&resource));
        }
        store::mark_studio(change.conn(), studio.id, false)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_studio(change.conn(), &studio.committee, studio.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(studio_name))?;
        let seat = serde_json::json!({ "member": member_name });
        let (before, after_json) = if add {
            (None, Some(seat))
        } else {
            (Some(seat), None)
        };
        change.audit(&studio.committee, &resource, before, after_json);
        change.publish(
            &studio.committee,
            studio_name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(after)
    }
}

#[tonic::async_trait]
impl StudioService for OrganisationApi {
    async fn create_studio(
        &self,
        request: Request<pb::CreateStudioRequest>,
    ) -> Result<Response<pb::CreateStudioResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let input = req
            .studio
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("studio", "required"))?;
        let kind = i16::try_from(input.kind).unwrap_or_default();
        let fields = studio_fields(input, &committee, kind, self.shared.db.today())?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "studios", id);
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = ChildName::parse_field("name", &existing, "studios")?;
            let mut conn = self.shared.db.acquire().await?;
            let found = self.read_studio(&mut conn, &committee, existing.id).await?;
            return Ok(Response::new(pb::CreateStudioResponse { studio: found }));
        }
        self.committee_exists(&mut change, &committee).await?;
        self.check_sector(&mut change, &committee, fields.sector_id)
            .await?;
        match store::insert_studio(change.conn(), id, &committee, &fields).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STUDIO_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a studio named {}",
                        req.parent, fields.display_name
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_studio(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the studio just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::StudioChanged {
                studio: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioResponse {
            studio: Some(created),
        }))
    }

    async fn get_studio(
        &self,
        request: Request<pb::GetStudioRequest>,
    ) -> Result<Response<pb::GetStudioResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "studios")?;
        self.shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let found = self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetStudioResponse {
            studio: Some(found),
        }))
    }

    async fn list_studios(
        &self,
        request: Request<pb::ListStudiosRequest>,
    ) -> Result<Response<pb::ListStudiosResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let (ids, next_page_token) = EntityList {
            entity: Entity::Studios,
            spec: &lists::ENTITIES,
            committee: &committee,
            parent: &req.parent,
            page_size: req.page_size,
            page_token: &req.page_token,
            filter: "",
            show_deleted: req.show_deleted,
        }
        .page(&mut conn)
        .await?;
        let rows = store::studios(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListStudiosResponse {
            studios: in_order_of(&ids, &rows, |r| r.id)
                .into_iter()
                .map(studio)
                .collect(),
            next_page_token,
        }))
    }

    async fn update_studio(
        &self,
        request: Request<pb::UpdateStudioRequest>,
    ) -> Result<Response<pb::UpdateStudioResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .studio
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("studio", "required"))?;
        let name = ChildName::parse_field("studio.name", &input.name, "studios")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &STUDIO_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "township" => !input.township.is_empty(),
            "sector" => !input.sector.is_empty(),
            "monthly_target" => input.monthly_target != 0,
            "establish_date" => input.establish_date.is_some(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_studio(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "township" => merged.township.clone_from(&input.township),
                "sector" => merged.sector.clone_from(&input.sector),
                "monthly_target" => merged.monthly_target = input.monthly_target,
                "establish_date" => merged.establish_date = input.establish_date,
                _ => {}
            }
        }
        let fields = studio_fields(
            &merged,
            &name.committee,
            i16::try_from(before.kind).unwrap_or_default(),
            self.shared.db.today(),
        )?;
        self.check_sector(&mut change, &name.committee, fields.sector_id)
            .await?;
        match store::update_studio(change.conn(), name.id, &fields).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STUDIO_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!(
                        "committees/{} already has a studio named {}",
                        name.committee, fields.display_name
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateStudioResponse {
            studio: Some(after),
        }))
    }

    async fn delete_studio(
        &self,
        request: Request<pb::DeleteStudioRequest>,
    ) -> Result<Response<pb::DeleteStudioResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "studios")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_studio(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?;
        store::mark_studio(change.conn(), name.id, true)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_studio(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::StudioChanged {
                studio: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteStudioResponse {
            studio: Some(after),
        }))
    }

    async fn add_studio_member(
        &self,
        request: Request<pb::AddStudioMemberRequest>,
    ) -> Result<Response<pb::AddStudioMemberResponse>, Status> {
        let studio = self
            .studio_membership(
                &request,
                &request.get_ref().studio,
                &request.get_ref().member,
                true,
            )
            .await?;
        Ok(Response::new(pb::AddStudioMemberResponse {
            studio: Some(studio),
        }))
    }

    async fn remove_studio_member(
        &self,
        request: Request<pb::RemoveStudioMemberRequest>,
    ) -> Result<Response<pb::RemoveStudioMemberResponse>, Status> {
        let studio = self
            .studio_membership(
                &request,
                &request.get_ref().studio,
                &request.get_ref().member,
                false,
            )
            .await?;
        Ok(Response::new(pb::RemoveStudioMemberResponse {
            studio: Some(studio),
        }))
    }

    async fn list_studio_members(
        &self,
        request: Request<pb::ListStudioMembersRequest>,
    ) -> Result<Response<pb::ListStudioMembersResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(&request, &name.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &BY_NAMES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Text(n), Key::Text(_), Key::Uuid(id)]) => Some((n.clone(), *id)),
            _ => None,
        };
        let mut conn = self.shared.db.acquire().await?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::studio_members(&mut conn, name.id, after, query.limit as i64 + 1)
            .await
            .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![
                    Key::Text(r.display_name.clone()),
                    Key::Text(String::new()),
                    Key::Uuid(r.member_id),
                ],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioMembersResponse {
            members: page
                .iter()
                .map(|k| ChildName::format(&name.committee, "members", k.row.member_id))
                .collect(),
            member_display_names: page.iter().map(|k| k.row.display_name.clone()).collect(),
            next_page_token,
        }))
    }

    async fn create_studio_liaison(
        &self,
        request: Request<pb::CreateStudioLiaisonRequest>,
    ) -> Result<Response<pb::CreateStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let studio_name = ChildName::parse_field("parent", &req.parent, "studios")?;
        let actor = self
            .shared
            .caller(&request, &studio_name.committee, &req.parent)
            .await?;
        let input = req
            .liaison
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison", "required"))?;
        let id = Uuid::now_v7();
        let fields = self.liaison_fields(input, id)?;
        let name = SubName::format(
            &studio_name.committee,
            "studios",
            studio_name.id,
            "liaisons",
            id,
        );
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = SubName::parse_field("name", &existing, "studios", "liaisons")?;
            let mut conn = self.shared.db.acquire().await?;
            let row = self.read_liaison(&mut conn, &existing).await?;
            let found = row.map(|r| self.liaison(&r, false)).transpose()?;
            return Ok(Response::new(pb::CreateStudioLiaisonResponse {
                liaison: found,
            }));
        }
        store::lock_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        store::insert_liaison(change.conn(), id, studio_name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        store::mark_studio(change.conn(), studio_name.id, false)
            .await
            .map_err(classify_db_error)?;
        let sub = SubName {
            committee: studio_name.committee.clone(),
            parent: studio_name.id,
            id,
        };
        let row = self
            .read_liaison(change.conn(), &sub)
            .await?
            .ok_or_else(|| ServiceError::internal("the liaison just written is gone"))?;
        let created = self.liaison(&row, false)?;
        change.audit(&studio_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &studio_name.committee,
            &name,
            &pb::StudioLiaisonChanged {
                liaison: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioLiaisonResponse {
            liaison: Some(created),
        }))
    }

    async fn list_studio_liaisons(
        &self,
        request: Request<pb::ListStudioLiaisonsRequest>,
    ) -> Result<Response<pb::ListStudioLiaisonsResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(&request, &name.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &BY_NAMES,
            list_request(req.page_size, &req.page_token),
            &[&req.parent, if req.show_deleted { "deleted" } else { "" }],
        )?;
        let after = match query.after() {
            Some([Key::Text(v), Key::Text(n), Key::Uuid(id)]) => Some((v.clone(), n.clone(), *id)),
            _ => None,
        };
        let mut conn = self.shared.db.acquire().await?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::liaisons(
            &mut conn,
            &name.committee,
            name.id,
            None,
            req.show_deleted,
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![
                    Key::Text(r.village.clone()),
                    Key::Text(r.display_name.clone()),
                    Key::Uuid(r.id),
                ],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioLiaisonsResponse {
            liaisons: page
                .iter()
                .map(|k| self.liaison(&k.row, false))
                .collect::<Result<_, _>>()?,
            next_page_token,
        }))
    }

    async fn update_studio_liaison(
        &self,
        request: Request<pb::UpdateStudioLiaisonRequest>,
    ) -> Result<Response<pb::UpdateStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .liaison
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison", "required"))?;
        let name = SubName::parse_field("liaison.name", &input.name, "studios", "liaisons")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &LIAISON_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "village" => !input.village.is_empty(),
            "phone" => !input.phone.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &name.committee, name.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let revision = store::lock_liaison(change.conn(), name.parent, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let before = self.liaison(&row, true)?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "village" => merged.village.clone_from(&input.village),
                // The masked phone a caller read back leaves it as it is.
                "phone" if input.phone != row.phone_masked => merged.phone.clone_from(&input.phone),
                _ => {}
            }
        }
        let fields = self.liaison_fields(&merged, name.id)?;
        store::update_liaison(change.conn(), name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let after = self.liaison(&row, false)?;
        let before = pb::StudioLiaison {
            phone: mask_phone(&before.phone),
            ..before
        };
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::StudioLiaisonChanged {
                liaison: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateStudioLiaisonResponse {
            liaison: Some(after),
        }))
    }

    async fn delete_studio_liaison(
        &self,
        request: Request<pb::DeleteStudioLiaisonRequest>,
    ) -> Result<Response<pb::DeleteStudioLiaisonResponse>, Status> {
        let req = request.get_ref();
        let name = SubName::parse_field("name", &req.name, "studios", "liaisons")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        store::lock_studio(change.conn(), &name.committee, name.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let revision = store::lock_liaison(change.conn(), name.parent, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_liaison(change.conn(), &name)
            .await?
            .map(|r| self.liaison(&r, false))
            .transpose()?;
        store::delete_liaison(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        store::mark_studio(change.conn(), name.parent, false)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_liaison(change.conn(), &name)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let after = self.liaison(&row, false)?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::StudioLiaisonChanged {
                liaison: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteStudioLiaisonResponse {
            liaison: Some(after),
        }))
    }

    async fn create_studio_activity(
        &self,
        request: Request<pb::CreateStudioActivityRequest>,
    ) -> Result<Response<pb::CreateStudioActivityResponse>, Status> {
        let req = request.get_ref();
        let studio_name = ChildName::parse_field("parent", &req.parent, "studios")?;
        let actor = self
            .shared
            .caller(&request, &studio_name.committee, &req.parent)
            .await?;
        let input = req
            .activity
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity", "required"))?;
        let mut errors = Violations::default();
        let title = take_text(&mut errors, "activity.title", &input.title, 1, 100);
        let description = take_text(
            &mut errors,
            "activity.description",
            &input.description,
            0,
            4000,
        );
        let day = match parse_date("activity.date", input.date.as_ref()) {
            Ok(Some(d))
                if crate::domain::member::plausible(d, self.shared.db.today())
                    && d <= self.shared.db.today() =>
            {
                Some(d)
            }
            Ok(Some(_)) => {
                errors.add(
                    "activity.date",
                    "must be a day between 1949-09-21 and today",
                );
                None
            }
            Ok(None) => {
                errors.add("activity.date", "required");
                None
            }
            Err(e) => {
                absorb(&mut errors, e);
                None
            }
        };
        let mut participants = Vec::new();
        for (i, p) in input.participants.iter().enumerate() {
            match ChildName::parse(p, "members") {
                Some(m) if m.committee == studio_name.committee => participants.push(m.id),
                _ => errors.add(
                    format!("activity.participants[{i}]"),
                    "must be a member of this committee",
                ),
            }
        }
        participants.sort();
        participants.dedup();
        errors.finish()?;
        let day = day.expect("checked");
        let id = Uuid::now_v7();
        let name = SubName::format(
            &studio_name.committee,
            "studios",
            studio_name.id,
            "activities",
            id,
        );
        let mut change = self.shared.db.change(&actor).await?;
        if let Some(existing) = Self::claim(
            &mut change,
            req,
            &req.request_id,
            |r| r.request_id.clear(),
            &name,
        )
        .await?
        {
            drop(change);
            let existing = SubName::parse_field("name", &existing, "studios", "activities")?;
            let mut conn = self.shared.db.acquire().await?;
            let rows = store::activities(
                &mut conn,
                &existing.committee,
                existing.parent,
                Some(&[existing.id]),
                None,
                1,
            )
            .await
            .map_err(classify_db_error)?;
            return Ok(Response::new(pb::CreateStudioActivityResponse {
                activity: rows.first().map(activity),
            }));
        }
        store::lock_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        let studio = self
            .read_studio(change.conn(), &studio_name.committee, studio_name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        if let Some(established) = studio.establish_date.as_ref()
            && let Ok(Some(established)) = parse_date("establish_date", Some(established))
            && day < established
        {
            return Err(ServiceError::invalid(
                "activity.date",
                format!("{day} is before the studio was set up ({established})"),
            )
            .into());
        }
        let known = member_store::get_many(change.conn(), &studio_name.committee, &participants)
            .await
            .map_err(classify_db_error)?;
        if known.len() != participants.len() {
            return Err(ServiceError::invalid(
                "activity.participants",
                "names a member this committee does not have",
            )
            .into());
        }
        store::insert_activity(
            change.conn(),
            id,
            studio_name.id,
            &title,
            day,
            &description,
            &participants,
            &actor.subject,
            actor.role.to_proto() as i16,
        )
        .await
        .map_err(classify_db_error)?;
        let rows = store::activities(
            change.conn(),
            &studio_name.committee,
            studio_name.id,
            Some(&[id]),
            None,
            1,
        )
        .await
        .map_err(classify_db_error)?;
        let created = rows
            .first()
            .map(activity)
            .ok_or_else(|| ServiceError::internal("the activity just written is gone"))?;
        change.audit(&studio_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &studio_name.committee,
            &name,
            &pb::StudioActivityRecorded {
                activity: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateStudioActivityResponse {
            activity: Some(created),
        }))
    }

    async fn list_studio_activities(
        &self,
        request: Request<pb::ListStudioActivitiesRequest>,
    ) -> Result<Response<pb::ListStudioActivitiesResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("parent", &req.parent, "studios")?;
        self.shared
            .caller(&request, &name.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &DAYS_NEWEST_FIRST,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Date(d), Key::Uuid(id)]) => Some((*d, *id)),
            _ => None,
        };
        let mut conn = self.shared.db.acquire().await?;
        if self
            .read_studio(&mut conn, &name.committee, name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::activities(
            &mut conn,
            &name.committee,
            name.id,
            None,
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![Key::Date(r.activity_date), Key::Uuid(r.id)],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListStudioActivitiesResponse {
            activities: page.iter().map(|k| activity(&k.row)).collect(),
            next_page_token,
        }))
    }

    async fn list_studio_shortfalls(
        &self,
        request: Request<pb::ListStudioShortfallsRequest>,
    ) -> Result<Response<pb::ListStudioShortfallsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let (first, next) = month_bounds(req.year, req.month)?;
        if first > self.shared.db.today() {
            return Err(ServiceError::invalid(
                "month",
                format!(
                    "{}-{:02} has not begun; ask for this month or an earlier one",
                    req.year, req.month
                ),
            )
            .into());
        }
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let settings = committee_store::settings(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        let settings: crate::domain::settings::Settings =
            serde_json::from_value(settings.settings).map_err(ServiceError::internal)?;
        let default_target = settings.effective().studio_monthly_activities.unwrap_or(2);
        let rows = store::studio_months(&mut conn, &committee, first, next)
            .await
            .map_err(classify_db_error)?;
        let studio_count = rows.len() as i32;
        let shortfalls = rows
            .into_iter()
            .filter_map(|r| {
                let target = if r.monthly_target > 0 {
                    r.monthly_target
                } else {
                    default_target
                };
                (r.held < i64::from(target)).then(|| pb::StudioShortfall {
                    studio: ChildName::format(&committee, "studios", r.id),
                    display_name: r.display_name,
                    held: r.held as i32,
                    target,
                })
            })
            .collect();
        Ok(Response::new(pb::ListStudioShortfallsResponse {
            shortfalls,
            studio_count,
        }))
    }
}
