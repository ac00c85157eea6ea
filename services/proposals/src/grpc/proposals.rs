//! `cppcc.proposals.v1.ProposalService`, part one: drafts, co-signers,
//! submission, the office's review and assignment, and reading.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::{Change, Claim, fingerprint};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::fieldmask::{self, MaskSpec};
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, parse_committee};
use cppcc_kit::text::{take_line, take_paragraphs};
use cppcc_kit::{ServiceError, Violations, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::proposals::v1 as pb;

use super::*;
use crate::domain::calendar::add_months;
use crate::domain::{grams, is_set};
use crate::store::office as office_store;
use cppcc_kit::page::{BY_ID, Key, KeyKind, ListQuery, ListSpec, OrderField};

/// Proposals page by serial (drafts, with none, last), newest first among
/// equals (the kit's page tokens; `store::list_ids` reads in this order).
const PROPOSAL_PAGES: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "serial",
            sql: "sort_serial",
            kind: KeyKind::Int,
        },
        OrderField {
            name: "create_time",
            sql: "create_time",
            kind: KeyKind::Time,
        },
    ],
    default_order: "serial, create_time desc",
    tie_break: Some(BY_ID),
};

const PROPOSAL_MASK: MaskSpec = MaskSpec {
    updatable: &[
        "title",
        "reason",
        "suggestions",
        "category",
        "on_behalf_of",
        "session",
    ],
    output_only: &[
        ("name", "it identifies the proposal"),
        ("kind", "invite co-signers with InviteCosigners"),
        ("proposers", "invite co-signers with InviteCosigners"),
        (
            "state",
            "use the step methods (SubmitProposal, FileProposal, …)",
        ),
        ("etag", "send it in proposal.etag to guard the update"),
    ],
};

/// What a proposal says, checked.
struct Words {
    title: String,
    reason: String,
    suggestions: String,
}

fn words(errors: &mut Violations, p: &pb::Proposal) -> Words {
    Words {
        title: take_line(errors, "proposal.title", &p.title, 4, 80),
        reason: take_paragraphs(errors, "proposal.reason", &p.reason, 0, 5000),
        suggestions: take_paragraphs(errors, "proposal.suggestions", &p.suggestions, 0, 5000),
    }
}

/// Whether a kind is in the name of a body (and so names it).
fn collective(kind: i32) -> bool {
    matches!(
        pb::ProposalKind::try_from(kind),
        Ok(pb::ProposalKind::Sector
            | pb::ProposalKind::SpecialCommittee
            | pb::ProposalKind::PartyGroup)
    )
}

fn check_on_behalf(errors: &mut Violations, kind: i32, on_behalf_of: &str) -> String {
    if collective(kind) {
        take_line(errors, "proposal.on_behalf_of", on_behalf_of, 2, 40)
    } else {
        errors.check(
            !on_behalf_of.trim().is_empty(),
            "proposal.on_behalf_of",
            "only sector, special-committee and party or group proposals are in the name of a body",
        );
        String::new()
    }
}

/// The session named in `field`, of `committee`, if it exists.
async fn session_of(
    conn: &mut sqlx::PgConnection,
    field: &str,
    name: &str,
    committee: &str,
) -> Result<Uuid, ServiceError> {
    let s = ChildName::parse_field(field, name, "sessions")?;
    if s.committee != committee {
        return Err(ServiceError::invalid(
            field,
            format!("`{name}` is not a session of committees/{committee}"),
        ));
    }
    let found = office_store::sessions(conn, committee, Some(s.id))
        .await
        .map_err(classify_db_error)?;
    if found.is_empty() {
        return Err(ServiceError::invalid(
            field,
            format!("{name} does not exist"),
        ));
    }
    Ok(s.id)
}

/// A member caller acting on a proposal must be its lead proposer.
fn lead_only(actor: &Actor, p: &Viewed, what: &str) -> Result<(), ServiceError> {
    if actor.role == Role::Member && member_id(actor) != p.lead() {
        return Err(ServiceError::permission_denied(format!(
            "only the lead proposer may {what} {}",
            p.message.name
        )));
    }
    Ok(())
}

impl Api {
    /// Assigns a proposal's round `round` to units already checked, with a
    /// new day due, as `step`; merged proposals waiting on it follow.
    pub(crate) async fn assign_units(
        &self,
        change: &mut Change,
        before: &Viewed,
        step: Step,
        units: &[(Uuid, pb::UnitPart)],
        round: i16,
        reason: &str,
    ) -> Result<Viewed, ServiceError> {
        let to = decide(before, step, change.actor().role)?;
        let (settings, _) = office_store::settings(change.conn(), &before.row.committee_id)
            .await
            .map_err(classify_db_error)?;
        for (unit, part) in units {
            store::assign(change.conn(), before.row.id, round, *unit, *part as i16)
                .await
                .map_err(classify_db_error)?;
        }
        let today = self.db.today();
        let after = self
            .moved(
                change,
                before,
                step,
                store::Moved {
                    state: to.number(),
                    handling_round: Some(round),
                    assign_date: Some(today),
                    reply_due: Some(add_months(today, settings.reply_months as u32)),
                    ..Default::default()
                },
                reason,
            )
            .await?;
        if step == Step::Assign {
            for merged in store::merged_waiting(change.conn(), before.row.id)
                .await
                .map_err(classify_db_error)?
            {
                let m = self
                    .reread(change, &before.row.committee_id, merged)
                    .await?;
                Box::pin(self.assign_units(
                    change,
                    &m,
                    Step::Assign,
                    units,
                    1,
                    "assigned with the proposal it is merged with",
                ))
                .await?;
            }
        }
        Ok(after)
    }

    /// Checks the units of an assignment: a lead and co-handlers, or two or
    /// more units answering separately; each a unit of the committee in
    /// service.
    pub(crate) async fn check_units(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        lead: &str,
        others: &[String],
        lead_field: &str,
        others_field: &str,
    ) -> Result<Vec<(Uuid, pb::UnitPart)>, ServiceError> {
        let mut errors = Violations::default();
        let mut units = Vec::new();
        if !lead.is_empty() {
            match unit_name(lead_field, lead, committee) {
                Ok(id) => units.push((id, pb::UnitPart::Lead)),
                Err(e) => return Err(e),
            }
        } else {
            errors.check(
                others.len() < 2,
                others_field,
                "without a lead unit, name two or more units to answer separately (分办)",
            );
        }
        let part = if lead.is_empty() {
            pb::UnitPart::Split
        } else {
            pb::UnitPart::CoHandler
        };
        errors.check(others.len() > 20, others_field, "at most 20 units");
        for (i, u) in others.iter().enumerate() {
            let field = format!("{others_field}[{i}]");
            match unit_name(&field, u, committee) {
                Ok(id) if units.iter().any(|(k, _)| *k == id) => {
                    errors.add(field, format!("{u} is named twice"))
                }
                Ok(id) => units.push((id, part)),
                Err(e) => errors.add(field, e.message().to_owned()),
            }
        }
        errors.finish()?;
        let ids: Vec<Uuid> = units.iter().map(|(u, _)| *u).collect();
        let rows = office_store::units(conn, committee, Some(&ids), true)
            .await
            .map_err(classify_db_error)?;
        for (i, (id, _)) in units.iter().enumerate() {
            let name = ChildName::format(committee, "units", *id);
            let field = match (i, lead.is_empty()) {
                (0, false) => lead_field.to_owned(),
                (i, false) => format!("{others_field}[{}]", i - 1),
                (i, true) => format!("{others_field}[{i}]"),
            };
            match rows.iter().find(|r| r.id == *id) {
                None => {
                    return Err(ServiceError::invalid(
                        field,
                        format!("{name} does not exist"),
                    ));
                }
                Some(r) if r.retire_time.is_some() => {
                    return Err(ServiceError::failed_precondition(
                        "UNIT_RETIRED",
                        &name,
                        format!(
                            "{} ({name}) is retired and takes no new proposals",
                            r.display_name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(units)
    }

    /// The common path of a step that only moves the proposal.
    async fn simple_step(
        &self,
        request: &Request<impl Sync>,
        name: &str,
        step: Step,
        reason: &str,
        moved: impl FnOnce(&Viewed, State) -> store::Moved,
    ) -> Result<(Change, Viewed, Viewed), ServiceError> {
        let id = proposal_name("name", name)?;
        let actor = self.db.caller(request, &id.committee, name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, name, &id).await?;
        let to = decide(&before, step, actor.role)?;
        let m = moved(&before, to);
        let after = self.moved(&mut change, &before, step, m, reason).await?;
        Ok((change, before, after))
    }
}

#[tonic::async_trait]
impl pb::proposal_service_server::ProposalService for Api {
    async fn create_proposal(
        &self,
        request: Request<pb::CreateProposalRequest>,
    ) -> Result<Response<pb::CreateProposalResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .proposal
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("proposal", "required"))?;
        let mut errors = Violations::default();
        let w = words(&mut errors, input);
        errors.check(
            !is_set::<pb::ProposalCategory>(input.category),
            "proposal.category",
            "must be set: ECONOMY, POLITICS, CULTURE, SOCIETY, ECOLOGY or OTHER",
        );
        errors.check(
            !is_set::<pb::ProposalKind>(input.kind),
            "proposal.kind",
            "must be set: INDIVIDUAL, JOINT, SECTOR, SPECIAL_COMMITTEE or PARTY_GROUP",
        );
        let on_behalf_of = check_on_behalf(&mut errors, input.kind, &input.on_behalf_of);
        errors.check(input.session.is_empty(), "proposal.session", "required");
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let lead = match actor.role {
            Role::Member => {
                let own = actor.member.clone().ok_or_else(|| {
                    ServiceError::permission_denied("this member token names no member")
                })?;
                let own = if own.starts_with("committees/") {
                    own
                } else {
                    ChildName::format(
                        &committee,
                        "members",
                        Uuid::try_parse(&own).map_err(|_| {
                            ServiceError::permission_denied("this member token names no member")
                        })?,
                    )
                };
                if !req.lead_member.is_empty() && req.lead_member != own {
                    return Err(ServiceError::permission_denied(
                        "a member writes its own proposals; leave lead_member empty",
                    )
                    .into());
                }
                Some(own)
            }
            _ if req.lead_member.is_empty() && !collective(input.kind) => {
                return Err(ServiceError::invalid(
                    "lead_member",
                    "required: the member whose proposal the office writes",
                )
                .into());
            }
            _ => (!req.lead_member.is_empty()).then(|| req.lead_member.clone()),
        };
        let lead = match lead {
            Some(l) => self
                .members
                .in_office(&committee, "lead_member", std::slice::from_ref(&l))
                .await?
                .pop(),
            None => None,
        };
        let id = Uuid::now_v7();
        let name = ChildName::format(&committee, "proposals", id);
        let mut change = self.db.change(&actor).await?;
        let fp = fingerprint(req, &actor, |r| r.request_id.clear());
        if let Claim::Replay(existing) = change
            .claim_request_id("request_id", &req.request_id, &fp, &name)
            .await?
        {
            let existing_id = proposal_name("name", &existing)?;
            let p = self
                .visible(change.conn(), &actor, &existing, &existing_id)
                .await?;
            change.commit().await?;
            return Ok(Response::new(pb::CreateProposalResponse {
                proposal: Some(p.message),
            }));
        }
        let session = session_of(
            change.conn(),
            "proposal.session",
            &input.session,
            &committee,
        )
        .await?;
        let text = format!("{} {} {}", w.title, w.reason, w.suggestions);
        store::insert(
            change.conn(),
            &store::NewProposal {
                id,
                committee_id: committee.clone(),
                session_id: session,
                title: w.title,
                reason: w.reason,
                suggestions: w.suggestions,
                category: input.category as i16,
                kind: input.kind as i16,
                on_behalf_of,
                grams: grams::grams(&text),
                created_by: actor.subject.clone(),
            },
        )
        .await
        .map_err(classify_db_error)?;
        if let Some(lead) = &lead {
            store::add_proposer(change.conn(), id, lead.id, &lead.display_name, None, true)
                .await
                .map_err(classify_db_error)?;
        }
        store::record_step(
            change.conn(),
            id,
            None,
            State::Draft.number(),
            "create",
            &actor.subject,
            actor.role.to_proto() as i16,
            "",
        )
        .await
        .map_err(classify_db_error)?;
        let created = self.reread(&mut change, &committee, id).await?;
        change.audit(&committee, &name, None, Some(to_json(&created.message)));
        change.publish(
            &committee,
            &name,
            &pb::ProposalChanged {
                proposal: Some(created.message.clone()),
                step: "create".into(),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::CreateProposalResponse {
            proposal: Some(created.message),
        }))
    }

    async fn get_proposal(
        &self,
        request: Request<pb::GetProposalRequest>,
    ) -> Result<Response<pb::GetProposalResponse>, Status> {
        let name = request.get_ref().name.clone();
        let id = proposal_name("name", &name)?;
        let actor = self.db.caller(&request, &id.committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let p = self.visible(&mut conn, &actor, &name, &id).await?;
        Ok(Response::new(pb::GetProposalResponse {
            proposal: Some(p.message),
        }))
    }

    async fn list_proposals(
        &self,
        request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        let mut filter = store::ListFilter::default();
        for (i, s) in req.states.iter().enumerate() {
            match State::from_proto(*s) {
                Some(s) => filter.states.push(s.number()),
                None => errors.add(format!("states[{i}]"), "not a proposal state"),
            }
        }
        if !req.unit.is_empty() {
            match unit_name("unit", &req.unit, &committee) {
                Ok(u) => filter.unit = Some(u),
                Err(e) => errors.add("unit", e.message().to_owned()),
            }
        }
        if !req.member.is_empty() {
            match ChildName::parse(&req.member, "members") {
                Some(m) if m.committee == committee => filter.member = Some(m.id),
                _ => errors.add(
                    "member",
                    format!("`{}` is not a member of {}", req.member, req.parent),
                ),
            }
        }
        errors.finish()?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        if !req.session.is_empty() {
            filter.session =
                Some(session_of(&mut conn, "session", &req.session, &committee).await?);
        }
        // A unit sees only what it handles; a member its own drafts only.
        match actor.role {
            Role::HandlingUnit => {
                let own = unit_id(&actor).ok_or_else(|| {
                    ServiceError::permission_denied("this unit token names no unit")
                })?;
                if filter.unit.is_some_and(|u| u != own) {
                    return Err(ServiceError::permission_denied(
                        "a unit lists only the proposals it handles",
                    )
                    .into());
                }
                filter.unit = Some(own);
                filter.drafts_of = Some(None);
            }
            Role::Member => filter.drafts_of = Some(member_id(&actor)),
            Role::Admin | Role::ProposalOffice | Role::Service | Role::Auditor => {}
            _ => filter.drafts_of = Some(None),
        }
        // What the caller sees is part of the list a token belongs to.
        let states: Vec<String> = req.states.iter().map(i32::to_string).collect();
        let page = ListQuery::fixed(
            &PROPOSAL_PAGES,
            req.page_size,
            &req.page_token,
            &[
                &committee,
                &req.session,
                &states.join(","),
                &req.unit,
                &req.member,
                &actor.subject,
            ],
        )?;
        let after = match page.after() {
            Some([Key::Int(serial), Key::Time(create_time), Key::Uuid(id)]) => {
                Some(store::ListKey {
                    serial: i32::try_from(*serial).unwrap_or(i32::MAX),
                    create_time: *create_time,
                    id: *id,
                })
            }
            _ => None,
        };
        let (keys, total) =
            store::list_ids(&mut conn, &committee, &filter, after, page.fetch_limit())
                .await
                .map_err(classify_db_error)?;
        let (keys, next_page_token) = page.page(keys);
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let proposals = self.read(&mut conn, &committee, &ids).await?;
        Ok(Response::new(pb::ListProposalsResponse {
            proposals: proposals.into_iter().map(|p| p.message).collect(),
            next_page_token,
            total_size: total as i32,
        }))
    }

    async fn update_proposal(
        &self,
        request: Request<pb::UpdateProposalRequest>,
    ) -> Result<Response<pb::UpdateProposalResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .proposal
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("proposal", "required"))?;
        let id = proposal_name("proposal.name", &input.name)?;
        let fields = fieldmask::resolve(req.update_mask.as_ref(), &PROPOSAL_MASK, |f| match f {
            "title" => !input.title.is_empty(),
            "reason" => !input.reason.is_empty(),
            "suggestions" => !input.suggestions.is_empty(),
            "category" => input.category != 0,
            "on_behalf_of" => !input.on_behalf_of.is_empty(),
            "session" => !input.session.is_empty(),
            _ => false,
        })?;
        let actor = self.db.caller(&request, &id.committee, &input.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &input.name, &id).await?;
        etag::check(&input.etag, before.row.revision, &input.name)?;
        decide(&before, Step::Edit, actor.role)?;
        lead_only(&actor, &before, "change")?;
        let row = &before.row;
        let mut errors = Violations::default();
        let has = |f: &str| fields.contains(&f);
        let title = if has("title") {
            take_line(&mut errors, "proposal.title", &input.title, 4, 80)
        } else {
            row.title.clone()
        };
        let reason = if has("reason") {
            take_paragraphs(&mut errors, "proposal.reason", &input.reason, 0, 5000)
        } else {
            row.reason.clone()
        };
        let suggestions = if has("suggestions") {
            take_paragraphs(
                &mut errors,
                "proposal.suggestions",
                &input.suggestions,
                0,
                5000,
            )
        } else {
            row.suggestions.clone()
        };
        let category = if has("category") {
            errors.check(
                !is_set::<pb::ProposalCategory>(input.category),
                "proposal.category",
                "must be set",
            );
            input.category as i16
        } else {
            row.category
        };
        let on_behalf_of = if has("on_behalf_of") {
            check_on_behalf(&mut errors, row.kind.into(), &input.on_behalf_of)
        } else {
            row.on_behalf_of.clone()
        };
        errors.finish()?;
        let session = if has("session") {
            session_of(
                change.conn(),
                "proposal.session",
                &input.session,
                &id.committee,
            )
            .await?
        } else {
            row.session_id
        };
        let text = format!("{title} {reason} {suggestions}");
        store::edit(
            change.conn(),
            row.id,
            session,
            &title,
            &reason,
            &suggestions,
            category,
            &on_behalf_of,
            &grams::grams(&text),
        )
        .await
        .map_err(classify_db_error)?;
        // Co-signers signed the words as they were: they sign again.
        let reworded =
            (&title, &reason, &suggestions) != (&row.title, &row.reason, &row.suggestions);
        let mut note = String::new();
        if reworded {
            let (settings, _) = office_store::settings(change.conn(), &id.committee)
                .await
                .map_err(classify_db_error)?;
            let sign_by = self.db.today() + time::Duration::days(settings.cosign_days.into());
            let unsigned = store::unsign_cosigners(change.conn(), row.id, sign_by)
                .await
                .map_err(classify_db_error)?;
            if unsigned > 0 {
                note =
                    format!("reworded: {unsigned} co-signers are asked to sign again by {sign_by}");
            }
        }
        let after = self
            .stepped(
                &mut change,
                &before,
                Step::Edit,
                before.row.state,
                &note,
                &actor,
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::UpdateProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn invite_cosigners(
        &self,
        request: Request<pb::InviteCosignersRequest>,
    ) -> Result<Response<pb::InviteCosignersResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let mut errors = Violations::default();
        errors.check(
            req.members.is_empty() || req.members.len() > 50,
            "members",
            "invite 1 to 50 members",
        );
        errors.finish()?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let invited = self
            .members
            .in_office(&id.committee, "members", &req.members)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        etag::check(&req.etag, before.row.revision, &req.name)?;
        decide(&before, Step::Edit, actor.role)?;
        lead_only(&actor, &before, "invite co-signers to")?;
        let kind = pb::ProposalKind::try_from(i32::from(before.row.kind)).unwrap_or_default();
        if !matches!(kind, pb::ProposalKind::Individual | pb::ProposalKind::Joint) {
            return Err(blocked(
                &before,
                "KIND",
                format!(
                    "a {} proposal is in the name of {}; it has no co-signers",
                    kind.as_str_name(),
                    before.row.on_behalf_of
                ),
            )
            .into());
        }
        let (settings, _) = office_store::settings(change.conn(), &id.committee)
            .await
            .map_err(classify_db_error)?;
        let sign_by = self.db.today() + time::Duration::days(settings.cosign_days.into());
        for (i, m) in invited.iter().enumerate() {
            if before.lead() == Some(m.id) {
                return Err(ServiceError::invalid(
                    format!("members[{i}]"),
                    "the lead proposer signs by writing the proposal",
                )
                .into());
            }
            store::add_proposer(
                change.conn(),
                before.row.id,
                m.id,
                &m.display_name,
                Some(sign_by),
                false,
            )
            .await
            .map_err(classify_db_error)?;
        }
        store::touch(
            change.conn(),
            before.row.id,
            Some(pb::ProposalKind::Joint as i16),
        )
        .await
        .map_err(classify_db_error)?;
        let after = self
            .stepped(
                &mut change,
                &before,
                Step::Edit,
                before.row.state,
                "co-signers invited",
                &actor,
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::InviteCosignersResponse {
            proposal: Some(after.message),
        }))
    }

    async fn sign_proposal(
        &self,
        request: Request<pb::SignProposalRequest>,
    ) -> Result<Response<pb::SignProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let me = member_id(&actor)
            .ok_or_else(|| ServiceError::permission_denied("this member token names no member"))?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        decide(&before, Step::Edit, actor.role)?;
        let mine = store::proposers(change.conn(), &[before.row.id])
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .find(|p| p.member_id == me && p.position > 0)
            .ok_or_else(|| {
                ServiceError::permission_denied(format!(
                    "you were not invited to co-sign {}",
                    req.name
                ))
            })?;
        if mine.sign_time.is_some() && !req.decline {
            change.commit().await?;
            return Ok(Response::new(pb::SignProposalResponse {
                proposal: Some(before.message),
            }));
        }
        if let Some(by) = mine.sign_by
            && self.db.today() > by
            && !req.decline
        {
            return Err(blocked(
                &before,
                "SIGN_BY",
                format!("the time to co-sign {} ended on {by}", req.name),
            )
            .into());
        }
        if req.decline {
            store::drop_unsigned(change.conn(), before.row.id, Some(me))
                .await
                .map_err(classify_db_error)?;
            if mine.sign_time.is_some() {
                return Err(blocked(
                    &before,
                    "SIGNED",
                    "you signed already; ask the lead proposer to start again if you no longer agree",
                )
                .into());
            }
        } else {
            store::sign(change.conn(), before.row.id, me)
                .await
                .map_err(classify_db_error)?;
        }
        store::touch(change.conn(), before.row.id, None)
            .await
            .map_err(classify_db_error)?;
        let note = if req.decline {
            "co-signer declined"
        } else {
            "co-signer signed"
        };
        let after = self
            .stepped(
                &mut change,
                &before,
                Step::Edit,
                before.row.state,
                note,
                &actor,
            )
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::SignProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn submit_proposal(
        &self,
        request: Request<pb::SubmitProposalRequest>,
    ) -> Result<Response<pb::SubmitProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        // Everyone who signed must still be in office: asked of the members
        // service before the proposal is locked, and checked unchanged after.
        let signed_now = |p: &Viewed| -> Vec<String> {
            p.proposers
                .iter()
                .filter(|(_, signed)| *signed)
                .map(|(m, _)| ChildName::format(&id.committee, "members", *m))
                .collect()
        };
        let checked = {
            let mut conn = self.db.acquire().await?;
            signed_now(&self.visible(&mut conn, &actor, &req.name, &id).await?)
        };
        self.members
            .in_office(&id.committee, "proposers", &checked)
            .await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        etag::check(&req.etag, before.row.revision, &req.name)?;
        let to = decide(&before, Step::Submit, actor.role)?;
        if signed_now(&before) != checked {
            return Err(ServiceError::aborted(
                "CONCURRENT_CHANGE",
                "the proposers changed while they were being checked; retry",
            )
            .into());
        }
        lead_only(&actor, &before, "submit")?;
        let missing: Vec<&str> = [
            ("reason", &before.row.reason),
            ("suggestions", &before.row.suggestions),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(f, _)| f)
        .collect();
        if !missing.is_empty() {
            return Err(blocked(
                &before,
                "INCOMPLETE",
                format!(
                    "the draft has no {}: write it with UpdateProposal first",
                    missing.join(" and no ")
                ),
            )
            .into());
        }
        // Co-signers still within their time hold the submission; those past it are left off.
        let proposers = store::proposers(change.conn(), &[before.row.id])
            .await
            .map_err(classify_db_error)?;
        let waiting: Vec<String> = proposers
            .iter()
            .filter(|p| p.sign_time.is_none() && p.sign_by.is_some_and(|d| d >= self.db.today()))
            .map(|p| {
                format!(
                    "{} (until {})",
                    p.display_name,
                    p.sign_by.expect("filtered")
                )
            })
            .collect();
        if !waiting.is_empty() {
            return Err(blocked(
                &before,
                "COSIGNERS_PENDING",
                format!("co-signers have not signed yet: {}", waiting.join(", ")),
            )
            .into());
        }
        let lapsed = store::drop_unsigned(change.conn(), before.row.id, None)
            .await
            .map_err(classify_db_error)?;
        let signed: Vec<String> = proposers
            .iter()
            .filter(|p| p.sign_time.is_some())
            .map(|p| ChildName::format(&id.committee, "members", p.member_id))
            .collect();
        // A joint proposal none of whose co-signers signed is the lead's own.
        let alone = before.row.kind == pb::ProposalKind::Joint as i16 && signed.len() < 2;
        if alone {
            store::touch(
                change.conn(),
                before.row.id,
                Some(pb::ProposalKind::Individual as i16),
            )
            .await
            .map_err(classify_db_error)?;
        }
        let mut reason = if lapsed > 0 {
            format!("{lapsed} co-signers who did not sign in time left off")
        } else {
            String::new()
        };
        if alone {
            reason.push_str("; no co-signer signed: an individual proposal");
        }
        let after = self
            .moved(
                &mut change,
                &before,
                Step::Submit,
                store::Moved {
                    state: to.number(),
                    submit: true,
                    ..Default::default()
                },
                &reason,
            )
            .await?;
        self.credit(
            &mut change,
            &after,
            common::DutyKind::ProposalSubmitted,
            None,
        );
        change.commit().await?;
        Ok(Response::new(pb::SubmitProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn withdraw_proposal(
        &self,
        request: Request<pb::WithdrawProposalRequest>,
    ) -> Result<Response<pb::WithdrawProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let reason = cppcc_kit::text::line(&req.reason, 1, 500)
            .map_err(|e| ServiceError::invalid("reason", e))?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        let to = decide(&before, Step::Withdraw, actor.role)?;
        lead_only(&actor, &before, "withdraw")?;
        let after = self
            .moved(
                &mut change,
                &before,
                Step::Withdraw,
                store::Moved {
                    state: to.number(),
                    ..Default::default()
                },
                &reason,
            )
            .await?;
        if before.state == State::Submitted {
            self.credit(
                &mut change,
                &before,
                common::DutyKind::ProposalSubmitted,
                Some(&reason),
            );
        }
        change.commit().await?;
        Ok(Response::new(pb::WithdrawProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn file_proposal(
        &self,
        request: Request<pb::FileProposalRequest>,
    ) -> Result<Response<pb::FileProposalResponse>, Status> {
        let req = request.get_ref();
        let note = cppcc_kit::text::line(&req.note, 0, 500)
            .map_err(|e| ServiceError::invalid("note", e))?;
        let id = proposal_name("name", &req.name)?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        let to = decide(&before, Step::File, actor.role)?;
        let serial = office_store::next_serial(change.conn(), before.row.session_id)
            .await
            .map_err(classify_db_error)?;
        let after = self
            .moved(
                &mut change,
                &before,
                Step::File,
                store::Moved {
                    state: to.number(),
                    serial: Some(serial),
                    file: true,
                    ..Default::default()
                },
                &note,
            )
            .await?;
        self.credit(&mut change, &after, common::DutyKind::ProposalFiled, None);
        change.commit().await?;
        Ok(Response::new(pb::FileProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn reject_proposal(
        &self,
        request: Request<pb::RejectProposalRequest>,
    ) -> Result<Response<pb::RejectProposalResponse>, Status> {
        let req = request.get_ref();
        let mut errors = Violations::default();
        errors.check(
            !is_set::<pb::NotFiledReason>(req.reason),
            "reason",
            "must be one of the statutory reasons (NotFiledReason)",
        );
        let note = take_line(&mut errors, "note", &req.note, 1, 500);
        errors.finish()?;
        let (change, _, after) = self
            .simple_step(&request, &req.name, Step::Reject, &note, |_, to| {
                store::Moved {
                    state: to.number(),
                    not_filed_reason: Some(req.reason as i16),
                    ..Default::default()
                }
            })
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::RejectProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn merge_proposal(
        &self,
        request: Request<pb::MergeProposalRequest>,
    ) -> Result<Response<pb::MergeProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let with = proposal_name("merge_with", &req.merge_with)?;
        if with.committee != id.committee {
            return Err(ServiceError::invalid(
                "merge_with",
                format!(
                    "{} is not a proposal of committees/{}",
                    req.merge_with, id.committee
                ),
            )
            .into());
        }
        if with.id == id.id {
            return Err(ServiceError::invalid(
                "merge_with",
                "a proposal cannot be merged with itself",
            )
            .into());
        }
        let note = cppcc_kit::text::line(&req.note, 0, 500)
            .map_err(|e| ServiceError::invalid("note", e))?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        // Both locked, in id order, as every change taking two does.
        let (first, second) = if id.id < with.id {
            (&id, &with)
        } else {
            (&with, &id)
        };
        for p in [first, second] {
            store::lock(change.conn(), &p.committee, p.id)
                .await
                .map_err(classify_db_error)?;
        }
        let before = self.lock(&mut change, &req.name, &id).await?;
        let main = self
            .lock(&mut change, &req.merge_with, &with)
            .await
            .map_err(|e| {
                if e.kind() != cppcc_kit::error::ErrorKind::NotFound {
                    e
                } else {
                    ServiceError::invalid(
                        "merge_with",
                        format!("{} does not exist", req.merge_with),
                    )
                }
            })?;
        let to = decide(&before, Step::Merge, actor.role)?;
        if let Some(other) = main.row.merged_with {
            return Err(blocked(
                &main,
                "MERGED",
                format!(
                    "{} is itself merged with {}; merge with that one",
                    req.merge_with,
                    ChildName::format(&id.committee, "proposals", other)
                ),
            )
            .into());
        }
        if !matches!(main.state, State::Filed | State::Assigned) {
            return Err(blocked(
                &main,
                "STATE",
                format!(
                    "{} is {}: merge only with a proposal filed or being handled",
                    req.merge_with, main.state
                ),
            )
            .with_metadata("current_state", main.state.to_proto().as_str_name())
            .into());
        }
        let serial = office_store::next_serial(change.conn(), before.row.session_id)
            .await
            .map_err(classify_db_error)?;
        let mut after = self
            .moved(
                &mut change,
                &before,
                Step::Merge,
                store::Moved {
                    state: to.number(),
                    serial: Some(serial),
                    merged_with: Some(main.row.id),
                    file: true,
                    ..Default::default()
                },
                &note,
            )
            .await?;
        self.credit(&mut change, &after, common::DutyKind::ProposalFiled, None);
        if main.state == State::Assigned {
            let units: Vec<(Uuid, pb::UnitPart)> = main
                .units
                .iter()
                .map(|(u, part)| {
                    (
                        *u,
                        pb::UnitPart::try_from(i32::from(*part)).unwrap_or_default(),
                    )
                })
                .collect();
            after = self
                .assign_units(
                    &mut change,
                    &after,
                    Step::Assign,
                    &units,
                    1,
                    "assigned with the proposal it is merged with",
                )
                .await?;
        }
        change.commit().await?;
        Ok(Response::new(pb::MergeProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn convert_proposal(
        &self,
        request: Request<pb::ConvertProposalRequest>,
    ) -> Result<Response<pb::ConvertProposalResponse>, Status> {
        let req = request.get_ref();
        if !req.proposer_consented {
            return Err(ServiceError::invalid(
                "proposer_consented",
                "a proposal becomes an opinion report only with its proposer's consent; set it once the proposer agreed",
            )
            .into());
        }
        let note = cppcc_kit::text::line(&req.note, 0, 500)
            .map_err(|e| ServiceError::invalid("note", e))?;
        let (mut change, _, after) = self
            .simple_step(&request, &req.name, Step::Convert, &note, |_, to| {
                store::Moved {
                    state: to.number(),
                    conversion_state: Some(pb::ConversionState::Pending as i16),
                    convert: true,
                    ..Default::default()
                }
            })
            .await?;
        // The opinions service takes it from the outbox: offered until taken, never lost.
        change.publish(
            &after.row.committee_id,
            &after.message.name,
            &pb::ProposalConverted {
                proposal: Some(after.message.clone()),
                time: after.row.convert_time.map(cppcc_kit::convert::timestamp),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::ConvertProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn assign_proposal(
        &self,
        request: Request<pb::AssignProposalRequest>,
    ) -> Result<Response<pb::AssignProposalResponse>, Status> {
        let req = request.get_ref();
        let id = proposal_name("name", &req.name)?;
        let note = cppcc_kit::text::line(&req.note, 0, 500)
            .map_err(|e| ServiceError::invalid("note", e))?;
        let actor = self.db.caller(&request, &id.committee, &req.name).await?;
        let mut change = self.db.change(&actor).await?;
        let units = self
            .check_units(
                change.conn(),
                &id.committee,
                &req.lead_unit,
                &req.units,
                "lead_unit",
                "units",
            )
            .await?;
        let before = self.lock(&mut change, &req.name, &id).await?;
        decide(&before, Step::Assign, actor.role)?;
        if let Some(main) = before.row.merged_with {
            return Err(blocked(
                &before,
                "MERGED",
                format!(
                    "{} is merged with {}: it is assigned with it, to the same units",
                    req.name,
                    ChildName::format(&id.committee, "proposals", main)
                ),
            )
            .into());
        }
        let after = self
            .assign_units(&mut change, &before, Step::Assign, &units, 1, &note)
            .await?;
        change.commit().await?;
        Ok(Response::new(pb::AssignProposalResponse {
            proposal: Some(after.message),
        }))
    }

    async fn create_handling_request(
        &self,
        request: Request<pb::CreateHandlingRequestRequest>,
    ) -> Result<Response<pb::CreateHandlingRequestResponse>, Status> {
        self.create_handling_request_impl(request).await
    }

    async fn list_handling_requests(
        &self,
        request: Request<pb::ListHandlingRequestsRequest>,
    ) -> Result<Response<pb::ListHandlingRequestsResponse>, Status> {
        self.list_handling_requests_impl(request).await
    }

    async fn decide_handling_request(
        &self,
        request: Request<pb::DecideHandlingRequestRequest>,
    ) -> Result<Response<pb::DecideHandlingRequestResponse>, Status> {
        self.decide_handling_request_impl(request).await
    }

    async fn draft_reply(
        &self,
        request: Request<pb::DraftReplyRequest>,
    ) -> Result<Response<pb::DraftReplyResponse>, Status> {
        self.draft_reply_impl(request).await
    }

    async fn countersign_reply(
        &self,
        request: Request<pb::CountersignReplyRequest>,
    ) -> Result<Response<pb::CountersignReplyResponse>, Status> {
        self.countersign_reply_impl(request).await
    }

    async fn submit_reply(
        &self,
        request: Request<pb::SubmitReplyRequest>,
    ) -> Result<Response<pb::SubmitReplyResponse>, Status> {
        self.submit_reply_impl(request).await
    }

    async fn review_reply(
        &self,
        request: Request<pb::ReviewReplyRequest>,
    ) -> Result<Response<pb::ReviewReplyResponse>, Status> {
        self.review_reply_impl(request).await
    }

    async fn list_replies(
        &self,
        request: Request<pb::ListRepliesRequest>,
    ) -> Result<Response<pb::ListRepliesResponse>, Status> {
        self.list_replies_impl(request).await
    }

    async fn rate_proposal(
        &self,
        request: Request<pb::RateProposalRequest>,
    ) -> Result<Response<pb::RateProposalResponse>, Status> {
        self.rate_proposal_impl(request).await
    }

    async fn list_ratings(
        &self,
        request: Request<pb::ListRatingsRequest>,
    ) -> Result<Response<pb::ListRatingsResponse>, Status> {
        self.list_ratings_impl(request).await
    }

    async fn close_proposal(
        &self,
        request: Request<pb::CloseProposalRequest>,
    ) -> Result<Response<pb::CloseProposalResponse>, Status> {
        self.close_proposal_impl(request).await
    }

    async fn list_transitions(
        &self,
        request: Request<pb::ListTransitionsRequest>,
    ) -> Result<Response<pb::ListTransitionsResponse>, Status> {
        let parent = request.get_ref().parent.clone();
        let id = proposal_name("parent", &parent)?;
        let actor = self.db.caller(&request, &id.committee, &parent).await?;
        let mut conn = self.db.acquire().await?;
        self.visible(&mut conn, &actor, &parent, &id).await?;
        let rows = store::transitions(&mut conn, id.id)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListTransitionsResponse {
            transitions: rows
                .iter()
                .map(|t| pb::Transition {
                    from_state: t.from_state.unwrap_or_default().into(),
                    to_state: t.to_state.into(),
                    step: t.step.clone(),
                    stamp: Some(stamp(&t.actor, t.actor_role, t.time, &t.reason)),
                })
                .collect(),
        }))
    }

    async fn find_similar_proposals(
        &self,
        request: Request<pb::FindSimilarProposalsRequest>,
    ) -> Result<Response<pb::FindSimilarProposalsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let mut errors = Violations::default();
        errors.check(
            !(0..=20).contains(&req.page_size),
            "page_size",
            "must be 0 to 20",
        );
        let title = take_line(&mut errors, "title", &req.title, 0, 80);
        let text = take_paragraphs(&mut errors, "text", &req.text, 0, 10000);
        let exclude = if req.exclude.is_empty() {
            None
        } else {
            match proposal_name("exclude", &req.exclude) {
                Ok(p) => Some(p.id),
                Err(e) => {
                    errors.add("exclude", e.message().to_owned());
                    None
                }
            }
        };
        errors.finish()?;
        let wanted = grams::grams(&format!("{title} {text}"));
        if wanted.is_empty() {
            return Err(
                ServiceError::invalid("title", "give a title or text to compare with").into(),
            );
        }
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let limit = if req.page_size == 0 { 5 } else { req.page_size } as i64;
        let mut conn = self.db.acquire().await?;
        let found = store::similar(&mut conn, &committee, &wanted, exclude, limit)
            .await
            .map_err(classify_db_error)?;
        let ids: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
        let proposals = self.read(&mut conn, &committee, &ids).await?;
        let replies = crate::store::handling::replies(&mut conn, &ids, None, None)
            .await
            .map_err(classify_db_error)?;
        let mut out = Vec::new();
        for (p, (_, similarity)) in proposals.into_iter().zip(&found) {
            if !p.seen_by(&actor) {
                continue;
            }
            let approved = replies
                .iter()
                .filter(|r| {
                    r.proposal_id == p.row.id
                        && r.state == crate::domain::ReplyState::Approved.number()
                })
                .map(|r| super::handling::reply(&p.row.committee_id, r, &[]))
                .collect();
            out.push(pb::SimilarProposal {
                proposal: Some(p.message),
                similarity: (similarity * 1000.0).round() / 1000.0,
                replies: approved,
            });
        }
        Ok(Response::new(pb::FindSimilarProposalsResponse {
            proposals: out,
        }))
    }

    async fn list_overdue(
        &self,
        request: Request<pb::ListOverdueRequest>,
    ) -> Result<Response<pb::ListOverdueResponse>, Status> {
        self.list_overdue_impl(request).await
    }
}
