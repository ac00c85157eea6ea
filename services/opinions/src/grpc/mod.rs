//! The gRPC face of the opinions service: validate, check the caller,
//! decide (`domain`), write (`store`), audit and publish.

mod bulletins;
mod pages;
mod quota;
mod reports;
mod upward;

use std::collections::HashMap;

use uuid::Uuid;

use cppcc_kit::ServiceError;
use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::change::Change;
use cppcc_kit::convert::{date, timestamp};
use cppcc_kit::db::Database;
use cppcc_kit::error::classify_db_error;
use cppcc_kit::instruction::StoredInstruction;
use cppcc_kit::json::to_json;
use cppcc_kit::names::ChildName;
use cppcc_members_client::Members;
use cppcc_proto::common::v1 as common;
use cppcc_proto::events::v1 as events;
use cppcc_proto::opinions::v1 as pb;

use crate::delivery::Remotes;
use crate::domain::{self, Forward, Handling, Review};
use crate::store::{self, Conn, reports::ReportRow};

/// The four services on one API.
#[derive(Clone, Debug)]
pub struct Api {
    db: Database,
    members: Members,
    remotes: Remotes,
}

impl Api {
    pub fn new(db: Database, members: Members, remotes: Remotes) -> Api {
        Api {
            db,
            members,
            remotes,
        }
    }
}

/// What of a committee's reports `actor` may see: a member its own, a
/// handling unit those sent to it, anyone else all.
fn visible<'a>(actor: &Actor, mut f: store::reports::Filter<'a>) -> store::reports::Filter<'a> {
    let id = |name: &Option<String>, collection: &str| {
        name.as_deref()
            .and_then(|n| ChildName::parse(n, collection))
            .map(|c| c.id)
            // A caller without its own record sees nothing.
            .unwrap_or(Uuid::nil())
    };
    match actor.role {
        Role::Member => f.member = Some(id(&actor.member, "members")),
        Role::HandlingUnit => f.unit = Some(id(&actor.unit, "units")),
        _ => {}
    }
    f
}

/// The reports `rows` with all that was done with them.
async fn view(conn: &mut Conn, rows: &[ReportRow]) -> Result<Vec<pb::OpinionReport>, ServiceError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let forwards = store::reports::forwards(conn, Some(&ids), None, false)
        .await
        .map_err(classify_db_error)?;
    let handlings = store::reports::handlings(conn, &ids)
        .await
        .map_err(classify_db_error)?;
    let published = store::reports::published(conn, &ids)
        .await
        .map_err(classify_db_error)?;
    /// What was done with one report.
    #[derive(Default)]
    struct Done {
        forwards: Vec<pb::Forward>,
        handlings: Vec<pb::Handling>,
        bulletins: Vec<String>,
    }
    let mut by_report: HashMap<Uuid, Done> = HashMap::new();
    let committee_of: HashMap<Uuid, &str> = rows
        .iter()
        .map(|r| (r.id, r.committee_id.as_str()))
        .collect();
    for f in &forwards {
        by_report
            .entry(f.report_id)
            .or_default()
            .forwards
            .push(forward(f));
    }
    for h in &handlings {
        by_report
            .entry(h.report_id)
            .or_default()
            .handlings
            .push(handling(h));
    }
    for (report, bulletin) in published {
        let c = committee_of.get(&report).copied().unwrap_or_default();
        by_report
            .entry(report)
            .or_default()
            .bulletins
            .push(ChildName::format(c, "bulletins", bulletin));
    }
    rows.iter()
        .map(|r| {
            let done = by_report.remove(&r.id).unwrap_or_default();
            report(r, done.forwards, done.handlings, done.bulletins)
        })
        .collect()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFollowUp {
    note: String,
    date: String,
    actor: String,
}

fn stored_day(text: &str) -> Option<common::Date> {
    time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .ok()
        .map(date)
}

fn report(
    r: &ReportRow,
    forwards: Vec<pb::Forward>,
    handlings: Vec<pb::Handling>,
    bulletins: Vec<String>,
) -> Result<pb::OpinionReport, ServiceError> {
    let c = &r.committee_id;
    let instructions = StoredInstruction::list(&r.instructions);
    let review = stored_review(r)?;
    let fstates: Vec<Forward> = forwards
        .iter()
        .filter_map(|f| Forward::from_number(f.state as i16))
        .collect();
    let hstates: Vec<Handling> = handlings
        .iter()
        .filter_map(|h| Handling::from_number(h.state as i16))
        .collect();
    let status = domain::status(
        review,
        &fstates,
        &hstates,
        !bulletins.is_empty(),
        !instructions.is_empty(),
    );
    let name_of = |collection: &str, id: Option<Uuid>| {
        id.map(|id| ChildName::format(c, collection, id))
            .unwrap_or_default()
    };
    Ok(pb::OpinionReport {
        name: ChildName::format(c, "opinionReports", r.id),
        title: r.title.clone(),
        content: r.content.clone(),
        category: r.category.into(),
        contributor_kind: r.contributor_kind.into(),
        member: name_of("members", r.member_id),
        informant: name_of("informants", r.informant_id),
        staff: name_of("opinionStaff", r.staff_id),
        contributor_display_name: r.contributor_name.clone(),
        liaison_station: name_of("liaisonStations", r.station_id),
        township: r.township.clone(),
        submit_date: Some(date(r.submit_day)),
        source_proposal: name_of("proposals", r.source_proposal),
        review_state: r.review_state.into(),
        review_reason: r.review_reason.clone(),
        review_date: r.review_day.map(date),
        edited: r.original_title.is_some(),
        original_title: r.original_title.clone().unwrap_or_default(),
        original_content: r.original_content.clone().unwrap_or_default(),
        bulletins,
        forwards,
        handlings,
        instructions,
        status: status.into(),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
    })
}

fn forward(f: &store::reports::ForwardRow) -> pb::Forward {
    pb::Forward {
        name: format!(
            "{}/forwards/{}",
            ChildName::format(&f.committee_id, "opinionReports", f.report_id),
            f.id
        ),
        target: cppcc_kit::names::committee_name(&f.target),
        state: f.state.into(),
        forward_date: Some(date(f.forward_day)),
        decision_date: f.decision_day.map(date),
        decision_note: f.decision_note.clone(),
        failed_attempts: f.failed_attempts,
        last_error: f.last_error.clone(),
    }
}

fn handling(h: &store::reports::HandlingRow) -> pb::Handling {
    let follow_ups: Vec<StoredFollowUp> =
        serde_json::from_value(h.follow_ups.clone()).unwrap_or_default();
    pb::Handling {
        name: format!(
            "{}/handlings/{}",
            ChildName::format(&h.committee_id, "opinionReports", h.report_id),
            h.id
        ),
        unit: ChildName::format(&h.committee_id, "units", h.unit_id),
        unit_display_name: h.unit_name.clone(),
        state: h.state.into(),
        send_date: Some(date(h.send_day)),
        feedback: h.feedback.clone(),
        feedback_date: h.feedback_day.map(date),
        follow_ups: follow_ups
            .iter()
            .map(|f| pb::FollowUp {
                note: f.note.clone(),
                date: stored_day(&f.date),
                actor: f.actor.clone(),
            })
            .collect(),
        close_date: h.close_day.map(date),
    }
}

/// A sub-resource name: `committees/{c}/opinionReports/{r}/{sub}/{id}`:
/// the report and the id.
fn sub_name(field: &str, name: &str, sub: &str) -> Result<(ChildName, Uuid), ServiceError> {
    ChildName::parse_sub(field, name, "opinionReports", sub)
}

/// A day given or today; never in the future, never before `not_before`.
fn day_field(
    today: time::Date,
    field: &str,
    given: Option<&common::Date>,
    not_before: Option<(time::Date, &str)>,
) -> Result<time::Date, ServiceError> {
    let day = cppcc_kit::convert::parse_date(field, given)?.unwrap_or(today);
    if day > today {
        return Err(ServiceError::invalid(field, "must not be in the future"));
    }
    if let Some((earliest, what)) = not_before
        && day < earliest
    {
        return Err(ServiceError::invalid(
            field,
            format!("must not be before {what} ({earliest})"),
        ));
    }
    Ok(day)
}

/// A year field, 1949..=2200.
fn year_field(field: &str, year: i32) -> Result<i16, ServiceError> {
    if (1949..=2200).contains(&year) {
        Ok(year as i16)
    } else {
        Err(ServiceError::invalid(
            field,
            format!("must be a year from 1949, not {year}"),
        ))
    }
}

/// A refused step as the caller's error.
fn refused(subject: &str, e: domain::Refused) -> ServiceError {
    ServiceError::failed_precondition(e.reason, subject, e.message)
        .with_metadata("current_state", e.current)
}

/// A report's stored review state; a number no state has is an internal
/// error, never taken for the first state.
fn stored_review(r: &ReportRow) -> Result<Review, ServiceError> {
    Review::from_number(r.review_state).ok_or_else(|| {
        ServiceError::internal(format!(
            "report {} has review state {}, which is no state",
            r.id, r.review_state
        ))
    })
}

/// The review state after `step` on report `row` (named `name`), if it
/// may be taken.
fn review_step(
    row: &ReportRow,
    step: domain::ReviewStep,
    name: &str,
) -> Result<Review, ServiceError> {
    stored_review(row)?
        .transition(step)
        .map_err(|e| refused(name, e))
}

/// Credits the report's member contributor with `kind`, for `source`.
fn credit(
    change: &mut Change,
    r: &ReportRow,
    kind: common::DutyKind,
    day: time::Date,
    evidence: &str,
    source: &str,
) {
    let Some(member) = r.member_id else {
        return;
    };
    let c = &r.committee_id;
    change.publish(
        c,
        source,
        &events::DutyPerformed {
            members: vec![ChildName::format(c, "members", member)],
            kind: kind as i32,
            date: Some(date(day)),
            evidence: format!("{evidence}：{}", r.title),
            source: source.to_owned(),
        },
    );
}

/// Reads report `id` back after a change, audits the change from
/// `before`, publishes it, and returns it.
async fn changed(
    change: &mut Change,
    before: Option<&pb::OpinionReport>,
    committee: &str,
    id: Uuid,
) -> Result<(ReportRow, pb::OpinionReport), ServiceError> {
    let row = store::reports::list(
        change.conn(),
        committee,
        store::reports::Filter {
            ids: Some(&[id]),
            ..Default::default()
        },
    )
    .await
    .map_err(classify_db_error)?
    .pop()
    .ok_or_else(|| ServiceError::internal("the report just changed is gone"))?;
    let after = view(change.conn(), std::slice::from_ref(&row))
        .await?
        .pop()
        .ok_or_else(|| ServiceError::internal("the report just changed is gone"))?;
    change.audit(
        committee,
        &after.name,
        before.map(to_json),
        Some(to_json(&after)),
    );
    change.publish(
        committee,
        &after.name,
        &pb::OpinionReportChanged {
            report: Some(after.clone()),
        },
    );
    Ok((row, after))
}
