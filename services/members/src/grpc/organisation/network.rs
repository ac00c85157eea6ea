//! `cppcc.members.v1.LiaisonNetworkService`: liaison stations and the
//! informants who report through them (phones shown to the office and the
//! information centre only, those reads audited).

use super::*;

const STATION_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "kind", "location"],
    output_only: &[
        ("name", "it identifies the station"),
        ("informant_count", "it is output only"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteLiaisonStation"),
        (
            "etag",
            "send it in liaison_station.etag to guard the update",
        ),
    ],
};

const INFORMANT_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "display_name",
        "liaison_station",
        "employer",
        "phone",
        "active",
    ],
    output_only: &[
        ("name", "it identifies the informant"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteInformant"),
        ("etag", "send it in informant.etag to guard the update"),
    ],
};

fn station(row: &store::StationRow) -> pb::LiaisonStation {
    pb::LiaisonStation {
        name: ChildName::format(&row.committee_id, "liaisonStations", row.id),
        display_name: row.display_name.clone(),
        kind: row.kind.into(),
        location: row.location.clone(),
        informant_count: row.informant_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn station_fields(s: &pb::LiaisonStation) -> Result<(String, i16, String), ServiceError> {
    let mut errors = Violations::default();
    let display_name = take_text(
        &mut errors,
        "liaison_station.display_name",
        &s.display_name,
        1,
        40,
    );
    let location = take_text(&mut errors, "liaison_station.location", &s.location, 1, 60);
    let kind = match pb::LiaisonStationKind::try_from(s.kind) {
        Ok(pb::LiaisonStationKind::Unspecified) | Err(_) => {
            errors.add(
                "liaison_station.kind",
                "required: LIAISON_STATION_KIND_TOWNSHIP or _DEPARTMENT",
            );
            0
        }
        Ok(k) => k as i16,
    };
    errors.finish()?;
    Ok((display_name, kind, location))
}

impl OrganisationApi {
    async fn read_station(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::LiaisonStation>, ServiceError> {
        let rows = store::stations(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(station))
    }

    fn informant(
        &self,
        row: &store::InformantRow,
        unmask: bool,
    ) -> Result<pb::Informant, ServiceError> {
        let phone = match (&row.phone_sealed, unmask) {
            (Some(sealed), true) => self
                .shared
                .pii
                .open(sealed, &phone_context("informant", row.id))
                .map_err(ServiceError::internal)?,
            _ => row.phone_masked.clone(),
        };
        Ok(pb::Informant {
            name: ChildName::format(&row.committee_id, "informants", row.id),
            display_name: row.display_name.clone(),
            liaison_station: ChildName::format(
                &row.committee_id,
                "liaisonStations",
                row.liaison_station_id,
            ),
            employer: row.employer.clone(),
            phone,
            active: row.active,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            delete_time: row.delete_time.map(timestamp),
            etag: etag::format(row.revision),
        })
    }

    async fn read_informant(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<store::InformantRow>, ServiceError> {
        let mut rows = store::informants(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.pop())
    }

    fn informant_fields(
        &self,
        i: &pb::Informant,
        committee: &str,
        id: Uuid,
        active: bool,
    ) -> Result<InformantFields, ServiceError> {
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "informant.display_name",
            &i.display_name,
            1,
            30,
        );
        let employer = take_text(&mut errors, "informant.employer", &i.employer, 0, 100);
        let phone = phone(&i.phone).unwrap_or_else(|e| {
            errors.add("informant.phone", e);
            None
        });
        let station = match ChildName::parse(&i.liaison_station, "liaisonStations") {
            Some(s) if s.committee == committee => Some(s.id),
            _ => {
                errors.add(
                    "informant.liaison_station",
                    "required: a liaison station of this committee",
                );
                None
            }
        };
        errors.finish()?;
        let (phone_sealed, phone_masked) = self.seal_phone("informant", id, phone.as_deref());
        Ok(InformantFields {
            station: station.expect("checked"),
            display_name,
            employer,
            phone_sealed,
            phone_masked,
            active,
        })
    }
}

#[tonic::async_trait]
impl LiaisonNetworkService for OrganisationApi {
    async fn create_liaison_station(
        &self,
        request: Request<pb::CreateLiaisonStationRequest>,
    ) -> Result<Response<pb::CreateLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let input = req
            .liaison_station
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison_station", "required"))?;
        let (display_name, kind, location) = station_fields(input)?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "liaisonStations", id);
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
            let existing = ChildName::parse_field("name", &existing, "liaisonStations")?;
            let mut conn = self.shared.db.acquire().await?;
            let found = self
                .read_station(&mut conn, &committee, existing.id)
                .await?;
            return Ok(Response::new(pb::CreateLiaisonStationResponse {
                liaison_station: found,
            }));
        }
        self.committee_exists(&mut change, &committee).await?;
        match store::insert_station(
            change.conn(),
            id,
            &committee,
            &display_name,
            kind,
            &location,
        )
        .await
        {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STATION_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!(
                        "{} already has a liaison station named {display_name}",
                        req.parent
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_station(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the station just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::LiaisonStationChanged {
                liaison_station: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateLiaisonStationResponse {
            liaison_station: Some(created),
        }))
    }

    async fn get_liaison_station(
        &self,
        request: Request<pb::GetLiaisonStationRequest>,
    ) -> Result<Response<pb::GetLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "liaisonStations")?;
        self.shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let found = self
            .read_station(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetLiaisonStationResponse {
            liaison_station: Some(found),
        }))
    }

    async fn list_liaison_stations(
        &self,
        request: Request<pb::ListLiaisonStationsRequest>,
    ) -> Result<Response<pb::ListLiaisonStationsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let (ids, next_page_token) = EntityList {
            entity: Entity::LiaisonStations,
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
        let rows = store::stations(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListLiaisonStationsResponse {
            liaison_stations: in_order_of(&ids, &rows, |r| r.id)
                .into_iter()
                .map(station)
                .collect(),
            next_page_token,
        }))
    }

    async fn update_liaison_station(
        &self,
        request: Request<pb::UpdateLiaisonStationRequest>,
    ) -> Result<Response<pb::UpdateLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .liaison_station
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("liaison_station", "required"))?;
        let name = ChildName::parse_field("liaison_station.name", &input.name, "liaisonStations")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &STATION_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "kind" => input.kind != 0,
            "location" => !input.location.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_station(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "kind" => merged.kind = input.kind,
                "location" => merged.location.clone_from(&input.location),
                _ => {}
            }
        }
        let (display_name, kind, location) = station_fields(&merged)?;
        match store::update_station(change.conn(), name.id, &display_name, kind, &location).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::STATION_NAME_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!(
                        "committees/{} already has a liaison station named {display_name}",
                        name.committee
                    ),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_station(change.conn(), &name.committee, name.id)
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
            &pb::LiaisonStationChanged {
                liaison_station: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateLiaisonStationResponse {
            liaison_station: Some(after),
        }))
    }

    async fn delete_liaison_station(
        &self,
        request: Request<pb::DeleteLiaisonStationRequest>,
    ) -> Result<Response<pb::DeleteLiaisonStationResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "liaisonStations")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_station(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let informants = store::station_informants(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        if informants > 0 {
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                format!(
                    "{informants} informants report through this station; move or remove them first"
                ),
            )
            .into());
        }
        let before = self
            .read_station(change.conn(), &name.committee, name.id)
            .await?;
        store::delete_station(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_station(change.conn(), &name.committee, name.id)
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
            &pb::LiaisonStationChanged {
                liaison_station: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteLiaisonStationResponse {
            liaison_station: Some(after),
        }))
    }

    async fn create_informant(
        &self,
        request: Request<pb::CreateInformantRequest>,
    ) -> Result<Response<pb::CreateInformantResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let input = req
            .informant
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("informant", "required"))?;
        let id = Uuid::now_v7();
        let fields = self.informant_fields(input, &committee, id, true)?;
        let name = ChildName::format(&committee, "informants", id);
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
            let existing = ChildName::parse_field("name", &existing, "informants")?;
            let mut conn = self.shared.db.acquire().await?;
            let row = self
                .read_informant(&mut conn, &committee, existing.id)
                .await?;
            let found = row.map(|r| self.informant(&r, false)).transpose()?;
            return Ok(Response::new(pb::CreateInformantResponse {
                informant: found,
            }));
        }
        if !store::hold_station(change.conn(), &committee, fields.station)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::invalid(
                "informant.liaison_station",
                "no such liaison station in this committee",
            )
            .into());
        }
        store::insert_informant(change.conn(), id, &committee, &fields)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_informant(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the informant just written is gone"))?;
        let created = self.informant(&row, false)?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::InformantChanged {
                informant: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateInformantResponse {
            informant: Some(created),
        }))
    }

    async fn get_informant(
        &self,
        request: Request<pb::GetInformantRequest>,
    ) -> Result<Response<pb::GetInformantResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "informants")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let row = self
            .read_informant(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        drop(conn);
        let unmask = actor.is(NETWORK_ENTITLED) && row.phone_sealed.is_some();
        let found = self.informant(&row, unmask)?;
        if unmask {
            self.shared
                .db
                .audit_reads(&actor, &name.committee, std::slice::from_ref(&req.name))
                .await?;
        }
        Ok(Response::new(pb::GetInformantResponse {
            informant: Some(found),
        }))
    }

    async fn list_informants(
        &self,
        request: Request<pb::ListInformantsRequest>,
    ) -> Result<Response<pb::ListInformantsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let list = EntityList {
            entity: Entity::Informants,
            spec: &lists::INFORMANTS,
            committee: &committee,
            parent: &req.parent,
            page_size: req.page_size,
            page_token: &req.page_token,
            filter: &req.filter,
            show_deleted: req.show_deleted,
        };
        let (ids, next_page_token) = list.page(&mut conn).await?;
        let total = list.count(&mut conn).await?;
        let rows = store::informants(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        let informants = in_order_of(&ids, &rows, |r| r.id)
            .into_iter()
            .map(|r| self.informant(r, false))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListInformantsResponse {
            informants,
            next_page_token,
            total_size: total as i32,
        }))
    }

    async fn update_informant(
        &self,
        request: Request<pb::UpdateInformantRequest>,
    ) -> Result<Response<pb::UpdateInformantResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .informant
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("informant", "required"))?;
        let name = ChildName::parse_field("informant.name", &input.name, "informants")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &INFORMANT_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "liaison_station" => !input.liaison_station.is_empty(),
            "employer" => !input.employer.is_empty(),
            "phone" => !input.phone.is_empty(),
            // `false` is unset in proto3: name `active` in the mask to clear it.
            "active" => input.active,
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_informant(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let current = self.informant(&row, true)?;
        let mut merged = current.clone();
        for field in &mask {
            match *field {
                "display_name" => merged.display_name.clone_from(&input.display_name),
                "liaison_station" => merged.liaison_station.clone_from(&input.liaison_station),
                "employer" => merged.employer.clone_from(&input.employer),
                // The masked phone a caller read back leaves it as it is.
                "phone" if input.phone != row.phone_masked => merged.phone.clone_from(&input.phone),
                "active" => merged.active = input.active,
                _ => {}
            }
        }
        let fields = self.informant_fields(&merged, &name.committee, name.id, merged.active)?;
        if !store::hold_station(change.conn(), &name.committee, fields.station)
            .await
            .map_err(classify_db_error)?
        {
            return Err(ServiceError::invalid(
                "informant.liaison_station",
                "no such liaison station in this committee",
            )
            .into());
        }
        store::update_informant(change.conn(), name.id, &fields)
            .await
            .map_err(classify_db_error)?;
        let before = self.informant(&row, false)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let after = self.informant(&row, false)?;
        change.audit(
            &name.committee,
            &input.name,
            Some(to_json(&before)),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &input.name,
            &pb::InformantChanged {
                informant: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateInformantResponse {
            informant: Some(after),
        }))
    }

    async fn delete_informant(
        &self,
        request: Request<pb::DeleteInformantRequest>,
    ) -> Result<Response<pb::DeleteInformantResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "informants")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_informant(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .map(|r| self.informant(&r, false))
            .transpose()?;
        store::delete_informant(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?;
        let row = self
            .read_informant(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        let after = self.informant(&row, false)?;
        change.audit(
            &name.committee,
            &req.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            &name.committee,
            &req.name,
            &pb::InformantChanged {
                informant: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteInformantResponse {
            informant: Some(after),
        }))
    }
}
