//! The gRPC face of the consultations service: validate, check the
//! caller, decide (`domain`), write (`store`), audit and publish.

mod activities;
mod plans;
mod platforms;
mod results;

use uuid::Uuid;

use cppcc_kit::ServiceError;
use cppcc_kit::auth::Actor;
use cppcc_kit::convert::timestamp;
use cppcc_kit::db::Database;
use cppcc_members_client::Members;
use cppcc_proto::common::v1 as common;

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
}

fn stamp(by: &str, role: i16, time: time::OffsetDateTime, reason: &str) -> common::AuditStamp {
    common::AuditStamp {
        actor: by.to_owned(),
        actor_role: role.into(),
        time: Some(timestamp(time)),
        reason: reason.to_owned(),
    }
}

/// A step recorded in a JSON list of steps.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredStamp {
    actor: String,
    role: i16,
    time: i64,
    reason: String,
}

impl StoredStamp {
    fn now(actor: &Actor, reason: &str) -> StoredStamp {
        StoredStamp {
            actor: actor.subject.clone(),
            role: actor.role.to_proto() as i16,
            time: time::OffsetDateTime::now_utc().unix_timestamp(),
            reason: reason.to_owned(),
        }
    }

    fn json(&self) -> Result<serde_json::Value, ServiceError> {
        serde_json::to_value([self]).map_err(ServiceError::internal)
    }

    fn stamps(value: &serde_json::Value) -> Vec<common::AuditStamp> {
        let stored: Vec<StoredStamp> = serde_json::from_value(value.clone()).unwrap_or_default();
        stored
            .iter()
            .map(|s| {
                let t = time::OffsetDateTime::from_unix_timestamp(s.time)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                stamp(&s.actor, s.role, t, &s.reason)
            })
            .collect()
    }
}

/// A sub-resource: `committees/{c}/{collection}/{parent}/{sub}/{id}`.
fn sub_name(
    field: &str,
    name: &str,
    collection: &str,
    sub: &str,
) -> Result<(cppcc_kit::names::ChildName, Uuid), ServiceError> {
    cppcc_kit::names::ChildName::parse_sub(field, name, collection, sub)
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
