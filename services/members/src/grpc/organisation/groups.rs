//! `cppcc.members.v1.ActivityGroupService`: township activity groups and
//! their conveners' appointments, whose steps `domain::convener` decides.

use super::*;

const GROUP_MASK: MaskSpec = MaskSpec {
    updatable: &["display_name", "township"],
    output_only: &[
        ("name", "it identifies the group"),
        (
            "convener_appointment",
            "appoint conveners with NominateConvener",
        ),
        (
            "convener_display_name",
            "appoint conveners with NominateConvener",
        ),
        ("member_count", "it is output only"),
        ("create_time", "it is output only"),
        ("update_time", "it is output only"),
        ("delete_time", "use DeleteActivityGroup"),
        ("etag", "send it in activity_group.etag to guard the update"),
    ],
};

fn group(row: &store::ActivityGroupRow) -> pb::ActivityGroup {
    pb::ActivityGroup {
        name: ChildName::format(&row.committee_id, "activityGroups", row.id),
        display_name: row.display_name.clone(),
        township: row.township.clone(),
        convener_appointment: row
            .convener_id
            .map(|a| {
                SubName::format(
                    &row.committee_id,
                    "activityGroups",
                    row.id,
                    "convenerAppointments",
                    a,
                )
            })
            .unwrap_or_default(),
        convener_display_name: row.convener_name.clone().unwrap_or_default(),
        member_count: row.member_count as i32,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        delete_time: row.delete_time.map(timestamp),
        etag: etag::format(row.revision),
    }
}

fn appointment(row: &store::AppointmentRow) -> pb::ConvenerAppointment {
    pb::ConvenerAppointment {
        name: SubName::format(
            &row.committee_id,
            "activityGroups",
            row.activity_group_id,
            "convenerAppointments",
            row.id,
        ),
        candidate_display_name: row.candidate_display_name.clone(),
        candidate_title: row.candidate_title.clone(),
        candidate_member: row
            .candidate_member_id
            .map(|m| ChildName::format(&row.committee_id, "members", m))
            .unwrap_or_default(),
        state: row.state.into(),
        nominated: Some(stamp(
            &row.nominated_by,
            row.nominated_role,
            row.nominated_time,
            &row.nominated_note,
        )),
        agreed: optional_stamp(
            &row.agreed_by,
            row.agreed_role,
            row.agreed_time,
            &row.agreed_note,
        ),
        approved: optional_stamp(
            &row.approved_by,
            row.approved_role,
            row.approved_time,
            &row.approved_note,
        ),
        rejected: optional_stamp(
            &row.rejected_by,
            row.rejected_role,
            row.rejected_time,
            &row.rejected_reason,
        ),
        ended: optional_stamp(
            &row.ended_by,
            row.ended_role,
            row.ended_time,
            &row.ended_reason,
        ),
        create_time: Some(timestamp(row.nominated_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag::format(row.revision),
    }
}

/// A step the appointment's state machine refused, as an error.
fn step_refused(e: StepError, from: ConvenerState, name: &str) -> ServiceError {
    match e {
        StepError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
        StepError::OutOfOrder { .. } => {
            ServiceError::failed_precondition("STATE", name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        }
    }
}

impl OrganisationApi {
    async fn read_group(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::ActivityGroup>, ServiceError> {
        let rows = store::groups(conn, committee, &[id])
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(group))
    }

    async fn read_appointment(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        id: Uuid,
    ) -> Result<Option<pb::ConvenerAppointment>, ServiceError> {
        let rows = store::appointments(conn, committee, Some(&[id]), None, None, 1)
            .await
            .map_err(classify_db_error)?;
        Ok(rows.first().map(appointment))
    }

    /// Takes a step on an appointment. Approving ends the convener in force.
    async fn step(
        &self,
        request: &Request<impl Sync>,
        name: &str,
        step: Step,
        note: &str,
        given_etag: &str,
    ) -> Result<pb::ConvenerAppointment, ServiceError> {
        let parsed = SubName::parse_field("name", name, "activityGroups", "convenerAppointments")?;
        let needs_reason = matches!(step, Step::Reject | Step::End);
        let note = text(note, usize::from(needs_reason), 500)
            .map_err(|e| ServiceError::invalid(if needs_reason { "reason" } else { "note" }, e))?;
        let _every_hand = &[Role::Admin, Role::Leader];
        let actor = self.shared.caller(request, &parsed.committee, name).await?;
        let mut change = self.shared.db.change(&actor).await?;
        // The group first, then its appointments: the order every change takes.
        store::lock_group(change.conn(), &parsed.committee, parsed.parent)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(name))?;
        let (revision, state) =
            store::lock_appointment(change.conn(), &parsed.committee, parsed.parent, parsed.id)
                .await
                .map_err(classify_db_error)?
                .ok_or_else(|| ServiceError::not_found(name))?;
        etag::check(given_etag, revision, name)?;
        let from = ConvenerState::from_number(state)
            .ok_or_else(|| ServiceError::internal("unknown appointment state"))?;
        let to = from
            .transition(step, actor.role)
            .map_err(|e| step_refused(e, from, name))?;
        let group_before = self
            .read_group(change.conn(), &parsed.committee, parsed.parent)
            .await?;
        if to == ConvenerState::Approved
            && let Some(previous) = store::approved_appointment(change.conn(), parsed.parent)
                .await
                .map_err(classify_db_error)?
        {
            // The convener in force is superseded, by the same hands.
            let previous_name = SubName::format(
                &parsed.committee,
                "activityGroups",
                parsed.parent,
                "convenerAppointments",
                previous,
            );
            let ended = ConvenerState::Approved
                .transition(Step::Supersede, actor.role)
                .map_err(|e| step_refused(e, ConvenerState::Approved, &previous_name))?;
            self.move_appointment(
                &mut change,
                &parsed.committee,
                previous,
                ended,
                "superseded by a new convener",
            )
            .await?;
        }
        let after = self
            .move_appointment(&mut change, &parsed.committee, parsed.id, to, &note)
            .await?;
        // The group changes only when its convener does.
        if matches!(to, ConvenerState::Approved | ConvenerState::Ended) {
            store::mark_group(change.conn(), parsed.parent, false)
                .await
                .map_err(classify_db_error)?;
            let group_after = self
                .read_group(change.conn(), &parsed.committee, parsed.parent)
                .await?
                .ok_or_else(|| ServiceError::internal("the group just changed is gone"))?;
            change.audit(
                &parsed.committee,
                &group_after.name,
                group_before.as_ref().map(to_json),
                Some(to_json(&group_after)),
            );
            change.publish(
                &parsed.committee,
                &group_after.name.clone(),
                &pb::ActivityGroupChanged {
                    activity_group: Some(group_after),
                },
            );
        }
        change.commit().await?;
        Ok(after)
    }

    /// Moves an appointment to `to` (the transition decided already), with
    /// its audit row and event; the appointment after.
    async fn move_appointment(
        &self,
        change: &mut Change,
        committee: &str,
        id: Uuid,
        to: ConvenerState,
        note: &str,
    ) -> Result<pb::ConvenerAppointment, ServiceError> {
        let before = self.read_appointment(change.conn(), committee, id).await?;
        let actor = change.actor().clone();
        store::step_appointment(
            change.conn(),
            id,
            to.number(),
            &actor.subject,
            actor.role.to_proto() as i16,
            note,
        )
        .await
        .map_err(classify_db_error)?;
        let after = self
            .read_appointment(change.conn(), committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the appointment just moved is gone"))?;
        change.audit(
            committee,
            &after.name,
            before.as_ref().map(to_json),
            Some(to_json(&after)),
        );
        change.publish(
            committee,
            &after.name.clone(),
            &pb::ConvenerAppointmentChanged {
                appointment: Some(after.clone()),
            },
        );
        Ok(after)
    }
}

#[tonic::async_trait]
impl ActivityGroupService for OrganisationApi {
    async fn create_activity_group(
        &self,
        request: Request<pb::CreateActivityGroupRequest>,
    ) -> Result<Response<pb::CreateActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let actor = self
            .shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let input = req
            .activity_group
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity_group", "required"))?;
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "activity_group.display_name",
            &input.display_name,
            1,
            40,
        );
        let township = take_text(
            &mut errors,
            "activity_group.township",
            &input.township,
            1,
            40,
        );
        errors.finish()?;
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "activityGroups", id);
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
            let existing = ChildName::parse_field("name", &existing, "activityGroups")?;
            let mut conn = self.shared.db.acquire().await?;
            let found = self.read_group(&mut conn, &committee, existing.id).await?;
            return Ok(Response::new(pb::CreateActivityGroupResponse {
                activity_group: found,
            }));
        }
        self.committee_exists(&mut change, &committee).await?;
        match store::insert_group(change.conn(), id, &committee, &display_name, &township).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::GROUP_TOWNSHIP_KEY) => {
                return Err(ServiceError::already_exists(
                    &req.parent,
                    format!("{township} already has an activity group in {}", req.parent),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_group(change.conn(), &committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the group just written is gone"))?;
        change.audit(&committee, &name, None, Some(to_json(&created)));
        change.publish(
            &committee,
            &name,
            &pb::ActivityGroupChanged {
                activity_group: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateActivityGroupResponse {
            activity_group: Some(created),
        }))
    }

    async fn get_activity_group(
        &self,
        request: Request<pb::GetActivityGroupRequest>,
    ) -> Result<Response<pb::GetActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "activityGroups")?;
        self.shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let found = self
            .read_group(&mut conn, &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetActivityGroupResponse {
            activity_group: Some(found),
        }))
    }

    async fn list_activity_groups(
        &self,
        request: Request<pb::ListActivityGroupsRequest>,
    ) -> Result<Response<pb::ListActivityGroupsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        self.shared
            .caller(&request, &committee, &req.parent)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let (ids, next_page_token) = EntityList {
            entity: Entity::ActivityGroups,
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
        let rows = store::groups(&mut conn, &committee, &ids)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListActivityGroupsResponse {
            activity_groups: in_order_of(&ids, &rows, |r| r.id)
                .into_iter()
                .map(group)
                .collect(),
            next_page_token,
        }))
    }

    async fn update_activity_group(
        &self,
        request: Request<pb::UpdateActivityGroupRequest>,
    ) -> Result<Response<pb::UpdateActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .activity_group
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("activity_group", "required"))?;
        let name = ChildName::parse_field("activity_group.name", &input.name, "activityGroups")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &input.name)
            .await?;
        let mask = fieldmask::resolve(req.update_mask.as_ref(), &GROUP_MASK, |f| match f {
            "display_name" => !input.display_name.is_empty(),
            "township" => !input.township.is_empty(),
            _ => false,
        })?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_group(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        etag::check(&input.etag, revision, &input.name)?;
        let before = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?
            .ok_or_else(|| ServiceError::not_found(&input.name))?;
        let mut merged = before.clone();
        if mask.contains(&"display_name") {
            merged.display_name.clone_from(&input.display_name);
        }
        if mask.contains(&"township") {
            merged.township.clone_from(&input.township);
        }
        let mut errors = Violations::default();
        let display_name = take_text(
            &mut errors,
            "activity_group.display_name",
            &merged.display_name,
            1,
            40,
        );
        let township = take_text(
            &mut errors,
            "activity_group.township",
            &merged.township,
            1,
            40,
        );
        errors.finish()?;
        match store::update_group(change.conn(), name.id, &display_name, &township).await {
            Ok(()) => {}
            Err(e) if constraint_violated(&e, store::GROUP_TOWNSHIP_KEY) => {
                return Err(ServiceError::already_exists(
                    &input.name,
                    format!("{township} already has an activity group"),
                )
                .into());
            }
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let after = self
            .read_group(change.conn(), &name.committee, name.id)
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
            &pb::ActivityGroupChanged {
                activity_group: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::UpdateActivityGroupResponse {
            activity_group: Some(after),
        }))
    }

    async fn delete_activity_group(
        &self,
        request: Request<pb::DeleteActivityGroupRequest>,
    ) -> Result<Response<pb::DeleteActivityGroupResponse>, Status> {
        let req = request.get_ref();
        let name = ChildName::parse_field("name", &req.name, "activityGroups")?;
        let actor = self
            .shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut change = self.shared.db.change(&actor).await?;
        let revision = store::lock_group(change.conn(), &name.committee, name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        etag::check(&req.etag, revision, &req.name)?;
        let before = self
            .read_group(change.conn(), &name.committee, name.id)
            .await?;
        if before
            .as_ref()
            .is_some_and(|g| !g.convener_appointment.is_empty())
        {
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                "the group has a convener in force; end the appointment before deleting the group",
            )
            .into());
        }
        if let Some(pending) = store::pending_appointment(change.conn(), name.id)
            .await
            .map_err(classify_db_error)?
        {
            let pending = SubName::format(
                &name.committee,
                "activityGroups",
                name.id,
                "convenerAppointments",
                pending,
            );
            return Err(ServiceError::failed_precondition(
                "IN_USE",
                &req.name,
                format!("{pending} is under way; approve or reject it before deleting the group"),
            )
            .with_metadata("appointment", pending)
            .into());
        }
        store::mark_group(change.conn(), name.id, true)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .read_group(change.conn(), &name.committee, name.id)
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
            &pb::ActivityGroupChanged {
                activity_group: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::DeleteActivityGroupResponse {
            activity_group: Some(after),
        }))
    }

    async fn nominate_convener(
        &self,
        request: Request<pb::NominateConvenerRequest>,
    ) -> Result<Response<pb::NominateConvenerResponse>, Status> {
        let req = request.get_ref();
        let group_name = ChildName::parse_field("parent", &req.parent, "activityGroups")?;
        let actor = self
            .shared
            .caller(&request, &group_name.committee, &req.parent)
            .await?;
        let input = req
            .appointment
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("appointment", "required"))?;
        let mut errors = Violations::default();
        let candidate = take_text(
            &mut errors,
            "appointment.candidate_display_name",
            &input.candidate_display_name,
            1,
            30,
        );
        let title = take_text(
            &mut errors,
            "appointment.candidate_title",
            &input.candidate_title,
            0,
            60,
        );
        let note = take_text(&mut errors, "note", &req.note, 0, 500);
        let candidate_member = if input.candidate_member.is_empty() {
            None
        } else {
            match ChildName::parse(&input.candidate_member, "members") {
                Some(m) if m.committee == group_name.committee => Some(m.id),
                _ => {
                    errors.add(
                        "appointment.candidate_member",
                        "must be a member of this committee, or empty",
                    );
                    None
                }
            }
        };
        errors.finish()?;
        let id = Uuid::now_v7();
        let name = SubName::format(
            &group_name.committee,
            "activityGroups",
            group_name.id,
            "convenerAppointments",
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
            let existing =
                SubName::parse_field("name", &existing, "activityGroups", "convenerAppointments")?;
            let mut conn = self.shared.db.acquire().await?;
            let found = self
                .read_appointment(&mut conn, &existing.committee, existing.id)
                .await?
                .ok_or_else(|| {
                    ServiceError::internal("the nomination a request id names is gone")
                })?;
            return Ok(Response::new(pb::NominateConvenerResponse {
                appointment: Some(found),
            }));
        }
        store::lock_group(change.conn(), &group_name.committee, group_name.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(&req.parent))?;
        if let Some(member) = candidate_member
            && member_store::lock(change.conn(), &group_name.committee, member)
                .await
                .map_err(classify_db_error)?
                .is_none()
        {
            return Err(ServiceError::invalid(
                "appointment.candidate_member",
                "no such member in this committee",
            )
            .into());
        }
        if let Some(pending) = store::pending_appointment(change.conn(), group_name.id)
            .await
            .map_err(classify_db_error)?
        {
            let pending = SubName::format(
                &group_name.committee,
                "activityGroups",
                group_name.id,
                "convenerAppointments",
                pending,
            );
            return Err(ServiceError::failed_precondition(
                "PENDING",
                &req.parent,
                format!("{pending} is under way; it must be approved or rejected before another nomination"),
            )
            .with_metadata("appointment", pending)
            .into());
        }
        let nomination = store::Nomination {
            id,
            group: group_name.id,
            candidate_display_name: &candidate,
            candidate_title: &title,
            candidate_member,
            by: &actor.subject,
            role: actor.role.to_proto() as i16,
            note: &note,
        };
        match store::insert_nomination(change.conn(), &nomination).await {
            Ok(()) => {}
            Err(e) => return Err(classify_db_error(e).into()),
        }
        let created = self
            .read_appointment(change.conn(), &group_name.committee, id)
            .await?
            .ok_or_else(|| ServiceError::internal("the nomination just written is gone"))?;
        change.audit(&group_name.committee, &name, None, Some(to_json(&created)));
        change.publish(
            &group_name.committee,
            &name,
            &pb::ConvenerAppointmentChanged {
                appointment: Some(created.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::NominateConvenerResponse {
            appointment: Some(created),
        }))
    }

    async fn agree_convener(
        &self,
        request: Request<pb::AgreeConvenerRequest>,
    ) -> Result<Response<pb::AgreeConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Agree, &req.note, &req.etag)
            .await?;
        Ok(Response::new(pb::AgreeConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn approve_convener(
        &self,
        request: Request<pb::ApproveConvenerRequest>,
    ) -> Result<Response<pb::ApproveConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Approve, &req.note, &req.etag)
            .await?;
        Ok(Response::new(pb::ApproveConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn reject_convener(
        &self,
        request: Request<pb::RejectConvenerRequest>,
    ) -> Result<Response<pb::RejectConvenerResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::Reject, &req.reason, &req.etag)
            .await?;
        Ok(Response::new(pb::RejectConvenerResponse {
            appointment: Some(appointment),
        }))
    }

    async fn end_convener_appointment(
        &self,
        request: Request<pb::EndConvenerAppointmentRequest>,
    ) -> Result<Response<pb::EndConvenerAppointmentResponse>, Status> {
        let req = request.get_ref();
        let appointment = self
            .step(&request, &req.name, Step::End, &req.reason, &req.etag)
            .await?;
        Ok(Response::new(pb::EndConvenerAppointmentResponse {
            appointment: Some(appointment),
        }))
    }

    async fn get_convener_appointment(
        &self,
        request: Request<pb::GetConvenerAppointmentRequest>,
    ) -> Result<Response<pb::GetConvenerAppointmentResponse>, Status> {
        let req = request.get_ref();
        let name =
            SubName::parse_field("name", &req.name, "activityGroups", "convenerAppointments")?;
        self.shared
            .caller(&request, &name.committee, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        let found = self
            .read_appointment(&mut conn, &name.committee, name.id)
            .await?
            .filter(|a| a.name == req.name)
            .ok_or_else(|| ServiceError::not_found(&req.name))?;
        Ok(Response::new(pb::GetConvenerAppointmentResponse {
            appointment: Some(found),
        }))
    }

    async fn list_convener_appointments(
        &self,
        request: Request<pb::ListConvenerAppointmentsRequest>,
    ) -> Result<Response<pb::ListConvenerAppointmentsResponse>, Status> {
        let req = request.get_ref();
        let group_name = ChildName::parse_field("parent", &req.parent, "activityGroups")?;
        self.shared
            .caller(&request, &group_name.committee, &req.parent)
            .await?;
        let query = ListQuery::new(
            &NEWEST_FIRST,
            list_request(req.page_size, &req.page_token),
            &[&req.parent],
        )?;
        let after = match query.after() {
            Some([Key::Time(t), Key::Uuid(id)]) => Some((*t, *id)),
            _ => None,
        };
        let mut conn = self.shared.db.acquire().await?;
        if self
            .read_group(&mut conn, &group_name.committee, group_name.id)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(&req.parent).into());
        }
        let rows = store::appointments(
            &mut conn,
            &group_name.committee,
            None,
            Some(group_name.id),
            after,
            query.limit as i64 + 1,
        )
        .await
        .map_err(classify_db_error)?;
        let keyed: Vec<_> = rows
            .into_iter()
            .map(|r| Keyed {
                keys: vec![Key::Time(r.nominated_time), Key::Uuid(r.id)],
                row: r,
            })
            .collect();
        let (page, next_page_token) = query.page(keyed);
        Ok(Response::new(pb::ListConvenerAppointmentsResponse {
            appointments: page.iter().map(|k| appointment(&k.row)).collect(),
            next_page_token,
        }))
    }
}
