//! The gRPC face of the proposals service: validate, check the caller,
//! decide the step (`domain`), write (`store`), audit and publish.

mod assessment;
mod follow_up;
mod handling;
mod office;
mod proposals;

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::Change;
use cppcc_kit::convert::{date, timestamp};
use cppcc_kit::db::Database;
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::ChildName;
use cppcc_kit::{ServiceError, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::events::v1 as events;
use cppcc_proto::proposals::v1 as pb;

use crate::domain::{State, Step, StepError};
use crate::store::proposals::{self as store, AssignmentRow, ProposalRow, ProposerRow};
use cppcc_members_client::Members;

/// The four services on one API.
#[derive(Clone, Debug)]
pub struct Api {
    db: Database,
    members: Members,
}

impl Api {
    pub fn new(db: Database, members: Members) -> Api {
        Api { db, members }
    }

    /// The proposals with `ids` as messages, in the order of `ids`; ids with
    /// no row are left out.
    async fn read(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        ids: &[Uuid],
    ) -> Result<Vec<Viewed>, ServiceError> {
        let rows = store::get_many(conn, committee, ids)
            .await
            .map_err(classify_db_error)?;
        let proposers = store::proposers(conn, ids)
            .await
            .map_err(classify_db_error)?;
        let assignments = store::assignments(conn, ids)
            .await
            .map_err(classify_db_error)?;
        let mut by_id: HashMap<Uuid, ProposalRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(row) = by_id.remove(id) else {
                continue;
            };
            let mine: Vec<&ProposerRow> =
                proposers.iter().filter(|p| p.proposal_id == *id).collect();
            let units: Vec<&AssignmentRow> = assignments
                .iter()
                .filter(|a| a.proposal_id == *id)
                .collect();
            out.push(Viewed {
                message: proposal(&row, &mine, &units),
                state: State::from_number(row.state)
                    .ok_or_else(|| ServiceError::internal("unknown proposal state"))?,
                proposers: mine
                    .iter()
                    .map(|p| (p.member_id, p.sign_time.is_some()))
                    .collect(),
                units: units.iter().map(|a| (a.unit_id, a.part)).collect(),
                row,
            });
        }
        Ok(out)
    }

    /// One proposal the caller may see, or `NOT_FOUND`.
    async fn visible(
        &self,
        conn: &mut sqlx::PgConnection,
        actor: &Actor,
        name: &str,
        id: &ChildName,
    ) -> Result<Viewed, ServiceError> {
        let viewed = self
            .read(conn, &id.committee, &[id.id])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::not_found(name))?;
        if !viewed.seen_by(actor) {
            // Told apart from a missing one nowhere but in the audit log.
            self.db
                .audit_denied(
                    Some(actor),
                    Some(&id.committee),
                    &actor.peer_text(),
                    &actor.method,
                    &format!("{name}: not the caller's to see"),
                )
                .await?;
            return Err(ServiceError::not_found(name));
        }
        Ok(viewed)
    }

    /// Locks a proposal the caller may see for a change, and reads it.
    async fn lock(
        &self,
        change: &mut Change,
        name: &str,
        id: &ChildName,
    ) -> Result<Viewed, ServiceError> {
        store::lock(change.conn(), &id.committee, id.id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(name))?;
        let actor = change.actor().clone();
        self.visible(change.conn(), &actor, name, id).await
    }

    /// Records a step already decided: moves the row, writes the step, and
    /// audits and publishes the proposal after. Returns it.
    async fn moved(
        &self,
        change: &mut Change,
        before: &Viewed,
        step: Step,
        moved: store::Moved,
        reason: &str,
    ) -> Result<Viewed, ServiceError> {
        let actor = change.actor().clone();
        store::mark(change.conn(), before.row.id, &moved, self.db.today())
            .await
            .map_err(classify_db_error)?;
        self.stepped(change, before, step, moved.state, reason, &actor)
            .await
    }

    /// Writes a step (the row changed already), audits and publishes.
    async fn stepped(
        &self,
        change: &mut Change,
        before: &Viewed,
        step: Step,
        to: i16,
        reason: &str,
        actor: &Actor,
    ) -> Result<Viewed, ServiceError> {
        store::record_step(
            change.conn(),
            before.row.id,
            Some(before.row.state),
            to,
            step.as_str(),
            &actor.subject,
            actor.role.to_proto() as i16,
            reason,
        )
        .await
        .map_err(classify_db_error)?;
        let after = self
            .reread(change, &before.row.committee_id, before.row.id)
            .await?;
        let name = after.message.name.clone();
        change.audit(
            &before.row.committee_id,
            &name,
            Some(to_json(&before.message)),
            Some(to_json(&after.message)),
        );
        change.publish(
            &before.row.committee_id,
            &name,
            &pb::ProposalChanged {
                proposal: Some(after.message.clone()),
                step: step.as_str().to_owned(),
            },
        );
        Ok(after)
    }

    async fn reread(
        &self,
        change: &mut Change,
        committee: &str,
        id: Uuid,
    ) -> Result<Viewed, ServiceError> {
        self.read(change.conn(), committee, &[id])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::internal("the proposal just changed is gone"))
    }

    /// Credits (or withdraws the credit of) the signed proposers with `kind`.
    fn credit(
        &self,
        change: &mut Change,
        p: &Viewed,
        kind: common::DutyKind,
        withdraw: Option<&str>,
    ) {
        let members: Vec<String> = p
            .proposers
            .iter()
            .filter(|(_, signed)| *signed)
            .map(|(m, _)| ChildName::format(&p.row.committee_id, "members", *m))
            .collect();
        if members.is_empty() {
            return;
        }
        let name = p.message.name.clone();
        match withdraw {
            None => change.publish(
                &p.row.committee_id,
                &name,
                &events::DutyPerformed {
                    members,
                    kind: kind as i32,
                    date: Some(date(self.db.today())),
                    evidence: format!("提案《{}》", p.row.title),
                    source: name.clone(),
                },
            ),
            Some(reason) => change.publish(
                &p.row.committee_id,
                &name,
                &events::DutyWithdrawn {
                    members,
                    kind: kind as i32,
                    source: name.clone(),
                    reason: reason.to_owned(),
                },
            ),
        }
    }
}

/// A proposal read for a call: its message and what access and steps need.
#[derive(Clone, Debug)]
pub(crate) struct Viewed {
    pub message: pb::Proposal,
    pub row: ProposalRow,
    pub state: State,
    /// Proposers and whether each signed, lead first.
    pub proposers: Vec<(Uuid, bool)>,
    /// Units handling the current round and their parts.
    pub units: Vec<(Uuid, i16)>,
}

impl Viewed {
    /// Whether `actor` may see it: one never submitted (a draft, or a
    /// draft withdrawn) only by its proposers and the office; a unit only
    /// what it handles now.
    fn seen_by(&self, actor: &Actor) -> bool {
        match actor.role {
            Role::Admin | Role::ProposalOffice | Role::Service | Role::Auditor => true,
            Role::Member => {
                self.row.submit_time.is_some()
                    || member_id(actor).is_some_and(|m| self.proposers.iter().any(|(p, _)| *p == m))
            }
            Role::HandlingUnit => {
                unit_id(actor).is_some_and(|u| self.units.iter().any(|(h, _)| *h == u))
            }
            Role::SecurityAdmin => false,
            _ => self.row.submit_time.is_some(),
        }
    }

    fn lead(&self) -> Option<Uuid> {
        self.proposers.first().map(|(m, _)| *m)
    }
}

/// The member a member's token acts for.
fn member_id(actor: &Actor) -> Option<Uuid> {
    actor.member.as_deref().and_then(|m| {
        ChildName::parse(m, "members")
            .map(|c| c.id)
            .or_else(|| Uuid::try_parse(m).ok())
    })
}

/// The unit a unit's token acts for.
fn unit_id(actor: &Actor) -> Option<Uuid> {
    actor.unit.as_deref().and_then(|u| {
        ChildName::parse(u, "units")
            .map(|c| c.id)
            .or_else(|| Uuid::try_parse(u).ok())
    })
}

/// A refused step as an error: out of order is `FAILED_PRECONDITION` with
/// the current state, the wrong hands `PERMISSION_DENIED`.
fn refused(e: StepError, from: State, name: &str) -> ServiceError {
    match e {
        StepError::WrongHands { .. } => ServiceError::permission_denied(e.to_string()),
        StepError::OutOfOrder { .. } => {
            ServiceError::failed_precondition("STATE", name, e.to_string())
                .with_metadata("current_state", from.to_proto().as_str_name())
        }
    }
}

/// `FAILED_PRECONDITION` of kind `kind` about the proposal, with the
/// state it is in.
fn blocked(p: &Viewed, kind: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::failed_precondition(kind, &p.message.name, message)
        .with_metadata("current_state", p.state.to_proto().as_str_name())
}

/// Decides a step for the proposal, or says why not.
fn decide(p: &Viewed, step: Step, role: Role) -> Result<State, ServiceError> {
    p.state
        .transition(step, role)
        .map_err(|e| refused(e, p.state, &p.message.name))
}

fn proposal(
    row: &ProposalRow,
    proposers: &[&ProposerRow],
    units: &[&AssignmentRow],
) -> pb::Proposal {
    let c = &row.committee_id;
    pb::Proposal {
        name: ChildName::format(c, "proposals", row.id),
        session: ChildName::format(c, "sessions", row.session_id),
        inter_session: row.inter_session,
        title: row.title.clone(),
        reason: row.reason.clone(),
        suggestions: row.suggestions.clone(),
        category: row.category.into(),
        kind: row.kind.into(),
        on_behalf_of: row.on_behalf_of.clone(),
        proposers: proposers
            .iter()
            .map(|p| pb::Proposer {
                member: ChildName::format(c, "members", p.member_id),
                display_name: p.display_name.clone(),
                lead: p.position == 0,
                signed: p.sign_time.is_some(),
                sign_time: p.sign_time.map(timestamp),
                sign_by_date: p.sign_by.map(date),
            })
            .collect(),
        state: row.state.into(),
        serial: row.serial.unwrap_or_default(),
        not_filed_reason: row.not_filed_reason.unwrap_or_default().into(),
        merged_with: row
            .merged_with
            .map(|m| ChildName::format(c, "proposals", m))
            .unwrap_or_default(),
        assignments: units
            .iter()
            .map(|a| pb::Assignment {
                unit: ChildName::format(c, "units", a.unit_id),
                unit_display_name: a.unit_name.clone(),
                part: a.part.into(),
                assign_time: Some(timestamp(a.assign_time)),
            })
            .collect(),
        reply_due_date: row.reply_due.map(date),
        handling_round: row.handling_round.into(),
        result_category: row.result_category.clone().unwrap_or_default(),
        key: row.key,
        supervising_leader: if row.key {
            format!("{}{}", row.leader_title, row.leader_name)
        } else {
            String::new()
        },
        conversion: (row.conversion_state != 0).then(|| pb::Conversion {
            state: row.conversion_state.into(),
            opinion_report: row.opinion_report.clone(),
            request_time: row.convert_time.map(timestamp),
        }),
        submit_time: row.submit_time.map(timestamp),
        file_time: row.file_time.map(timestamp),
        close_time: row.close_time.map(timestamp),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag::format(row.revision),
    }
}

fn stamp(by: &str, role: i16, time: OffsetDateTime, reason: &str) -> common::AuditStamp {
    common::AuditStamp {
        actor: by.to_owned(),
        actor_role: role.into(),
        time: Some(timestamp(time)),
        reason: reason.to_owned(),
    }
}

/// A proposal name in `field`, parsed.
fn proposal_name(field: &str, name: &str) -> Result<ChildName, ServiceError> {
    ChildName::parse_field(field, name, "proposals")
}

/// A unit name in `field` of `committee`, parsed.
fn unit_name(field: &str, name: &str, committee: &str) -> Result<Uuid, ServiceError> {
    let unit = ChildName::parse_field(field, name, "units")?;
    if unit.committee != committee {
        return Err(ServiceError::invalid(
            field,
            format!("`{name}` is not a unit of committees/{committee}"),
        ));
    }
    Ok(unit.id)
}

/// A sub-resource of a proposal: `committees/{c}/proposals/{p}/{sub}/{id}`.
fn sub_name(field: &str, name: &str, sub: &str) -> Result<(ChildName, Uuid), ServiceError> {
    ChildName::parse_sub(field, name, "proposals", sub)
}

fn sub_format(committee: &str, proposal: Uuid, sub: &str, id: Uuid) -> String {
    format!(
        "{}/{sub}/{id}",
        ChildName::format(committee, "proposals", proposal)
    )
}
