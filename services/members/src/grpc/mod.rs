//! The gRPC face of the members service: validate, check the caller, call
//! the store, map rows to messages (masking personal data where the caller
//! is not entitled to it), audit and publish.

mod catalogue;
mod committees;
mod duty;
mod evaluation;
mod members;
mod organisation;

use std::sync::Arc;

use time::Date;
use uuid::Uuid;

use cppcc_kit::auth::{Actor, Role};
use cppcc_kit::convert::{date, timestamp};
use cppcc_kit::db::Database;
use cppcc_kit::names::{ChildName, committee_name};
use cppcc_kit::pii::{PiiCipher, mask_id_number, mask_phone};
use cppcc_kit::{ServiceError, etag};
use cppcc_proto::common::v1 as common;
use cppcc_proto::members::v1 as pb;

use crate::domain::member::Link;
use crate::store::catalogue::SeatRow;
use crate::store::members::MemberRow;

pub use committees::CommitteeApi;
pub use duty::DutyRecordApi;
pub(crate) use duty::{record, record_name};
pub use evaluation::EvaluationApi;
pub use members::MemberApi;
pub use organisation::OrganisationApi;

/// What both APIs share.
#[derive(Clone, Debug)]
pub struct Shared {
    pub db: Database,
    pub pii: Arc<PiiCipher>,
}

impl Shared {
    /// Answers `NOT_FOUND` for `resource` unless the caller acts in
    /// `committee` (or, for an upper committee's system, a committee above
    /// it), exactly as if it did not exist; the refusal is audited.
    async fn check_committee(
        &self,
        actor: &Actor,
        committee: &str,
        resource: &str,
    ) -> Result<(), ServiceError> {
        if actor.in_committee(committee) {
            return Ok(());
        }
        // A city or provincial system reads the committees below its own.
        if actor.role == Role::UpperCommittee
            && let Some(own) = actor.committee()
        {
            let mut conn = self.db.acquire().await?;
            if crate::store::committees::is_below(&mut conn, committee, own)
                .await
                .map_err(cppcc_kit::error::classify_db_error)?
            {
                return Ok(());
            }
        }
        self.db
            .audit_denied(
                Some(actor),
                Some(committee),
                &actor.peer_text(),
                &actor.method,
                &format!("{resource}: outside the caller's committee"),
            )
            .await?;
        Err(ServiceError::not_found(resource))
    }

    /// Reads the caller and checks its committee (its role was checked
    /// against the method's contract before the handler ran).
    async fn caller<T>(
        &self,
        request: &tonic::Request<T>,
        committee: &str,
        resource: &str,
    ) -> Result<Actor, ServiceError> {
        let actor = cppcc_kit::auth::actor(request)?;
        self.check_committee(&actor, committee, resource).await?;
        Ok(actor)
    }

    /// Whether `actor` may see the personal data of `member`: an admin of
    /// its committee, or the member itself.
    fn entitled(actor: &Actor, member: &str) -> bool {
        actor.role == Role::Admin
            || (actor.role == Role::Member && actor.member.as_deref() == Some(member))
    }

    /// A member as a message, personal data unmasked only if `unmask`.
    fn member(&self, row: &MemberRow, unmask: bool) -> Result<pb::Member, ServiceError> {
        let name = ChildName::format(&row.committee_id, "members", row.id);
        let links: Vec<Link> =
            serde_json::from_value(row.links.clone()).map_err(ServiceError::internal)?;
        let (id_number, phone, birth_date) = if unmask {
            let id_number = self
                .pii
                .open(&row.id_number_sealed, &context("id_number", row.id))
                .map_err(ServiceError::internal)?;
            let phone = match &row.phone_sealed {
                Some(sealed) => self
                    .pii
                    .open(sealed, &context("phone", row.id))
                    .map_err(ServiceError::internal)?,
                None => String::new(),
            };
            let birth_date = match &row.birth_date_sealed {
                Some(sealed) => {
                    let text = self
                        .pii
                        .open(sealed, &context("birth_date", row.id))
                        .map_err(ServiceError::internal)?;
                    Some(date(parse_iso_date(&text)?))
                }
                None => None,
            };
            (id_number, phone, birth_date)
        } else {
            let birth_date = row.birth_year.map(|year| common::Date {
                year,
                month: 0,
                day: 0,
            });
            (
                row.id_number_masked.clone(),
                row.phone_masked.clone(),
                birth_date,
            )
        };
        Ok(pb::Member {
            name,
            display_name: row.display_name.clone(),
            gender: row.gender.into(),
            ethnicity: row.ethnicity.clone(),
            birth_date,
            id_number,
            phone,
            political_affiliation: row.political_affiliation.into(),
            sector: ChildName::format(&row.committee_id, "sectors", row.sector_id),
            employer: row.employer.clone(),
            job_title: row.job_title.clone(),
            role: row.role.into(),
            special_committees: row
                .special_committees
                .iter()
                .map(|id| ChildName::format(&row.committee_id, "specialCommittees", *id))
                .collect(),
            city_member: row.city_member,
            status: row.status.into(),
            township: row.township.clone(),
            links: links
                .into_iter()
                .map(|l| pb::MemberLink {
                    kind: l.kind,
                    display_name: l.display_name,
                })
                .collect(),
            term: row.term,
            join_date: row.join_date.map(date),
            education: row.education.clone(),
            personal_data_masked: !unmask,
            create_time: Some(timestamp(row.create_time)),
            update_time: Some(timestamp(row.update_time)),
            etag: etag::format(row.revision),
        })
    }
}

/// A sub-resource name: `committees/{c}/{collection}/{parent}/{sub}/{id}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SubName {
    pub committee: String,
    pub parent: Uuid,
    pub id: Uuid,
}

impl SubName {
    pub fn format(committee: &str, collection: &str, parent: Uuid, sub: &str, id: Uuid) -> String {
        format!(
            "{}/{sub}/{id}",
            ChildName::format(committee, collection, parent)
        )
    }

    pub fn parse_field(
        field: &str,
        name: &str,
        collection: &str,
        sub: &str,
    ) -> Result<SubName, ServiceError> {
        let bad = || {
            ServiceError::invalid(
                field,
                format!(
                    "`{name}` is not a name like `committees/{{committee}}/{collection}/{{id}}/{sub}/{{id}}`"
                ),
            )
        };
        let (parent, last) = name.rsplit_once('/').ok_or_else(bad)?;
        let (parent, segment) = parent.rsplit_once('/').ok_or_else(bad)?;
        let id = Uuid::try_parse(last)
            .ok()
            .filter(|u| u.hyphenated().to_string() == last)
            .ok_or_else(bad)?;
        if segment != sub {
            return Err(bad());
        }
        let parent = ChildName::parse(parent, collection).ok_or_else(bad)?;
        Ok(SubName {
            committee: parent.committee,
            parent: parent.id,
            id,
        })
    }
}

/// `rows` in the order of `ids`, by the id `id_of` reads from each; ids
/// with no row are left out (a list's page of ids, then its rows).
pub(crate) fn in_order_of<'a, R>(
    ids: &[Uuid],
    rows: &'a [R],
    id_of: impl Fn(&R) -> Uuid,
) -> Vec<&'a R> {
    let by_id: std::collections::HashMap<Uuid, &R> = rows.iter().map(|r| (id_of(r), r)).collect();
    ids.iter().filter_map(|id| by_id.get(id).copied()).collect()
}

/// The associated data personal data is sealed with: field and record.
pub(crate) fn context(field: &str, member: Uuid) -> String {
    format!("members.member.{field}:{member}")
}

/// The blind-index context of ID numbers.
pub(crate) const ID_NUMBER_INDEX: &str = "members.member.id_number";

pub(crate) fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_iso_date(text: &str) -> Result<Date, ServiceError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).map_err(ServiceError::internal)
}

/// Masks personal data in a member message (for events and the audit log).
pub(crate) fn masked(mut m: pb::Member) -> pb::Member {
    if !m.personal_data_masked {
        m.id_number = mask_id_number(&m.id_number);
        m.phone = mask_phone(&m.phone);
        if let Some(d) = m.birth_date.as_mut() {
            d.month = 0;
            d.day = 0;
        }
        m.personal_data_masked = true;
    }
    m
}

fn seat(committee: &str, row: &SeatRow) -> pb::SpecialCommitteeMembership {
    pb::SpecialCommitteeMembership {
        special_committee: ChildName::format(
            committee,
            "specialCommittees",
            row.special_committee_id,
        ),
        member: ChildName::format(committee, "members", row.member_id),
        member_display_name: row.member_display_name.clone(),
        position: row.position.into(),
        create_time: Some(timestamp(row.create_time)),
    }
}

/// `committees/{id}`.
pub(crate) fn committee_resource(id: &str) -> String {
    committee_name(id)
}
