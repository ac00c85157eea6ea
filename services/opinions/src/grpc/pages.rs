//! How the opinions lists page: the kit's page tokens (AIP-158) over each
//! list's one order, oldest first.

use cppcc_kit::page::{BY_ID, Key, KeyKind, Keyed, ListQuery, ListSpec, OrderField};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::store::inbox::InboxRow;
use crate::store::reports::ReportRow;

/// A committee's reports, by the day submitted.
pub(super) const REPORTS: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "submit_day",
            sql: "submit_day",
            kind: KeyKind::Date,
        },
        OrderField {
            name: "create_time",
            sql: "create_time",
            kind: KeyKind::Time,
        },
    ],
    default_order: "submit_day, create_time",
    tie_break: Some(BY_ID),
};

/// A committee's inbox, by the time received.
pub(super) const INBOX: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[OrderField {
        name: "receive_time",
        sql: "receive_time",
        kind: KeyKind::Time,
    }],
    default_order: "receive_time",
    tie_break: Some(BY_ID),
};

/// The last report of the page before, from its token.
pub(super) fn report_after(query: &ListQuery) -> Option<(Date, OffsetDateTime, Uuid)> {
    match query.after()? {
        [Key::Date(d), Key::Time(t), Key::Uuid(id)] => Some((*d, *t, *id)),
        _ => None,
    }
}

/// The last inbox report of the page before, from its token.
pub(super) fn inbox_after(query: &ListQuery) -> Option<(OffsetDateTime, Uuid)> {
    match query.after()? {
        [Key::Time(t), Key::Uuid(id)] => Some((*t, *id)),
        _ => None,
    }
}

impl Keyed for ReportRow {
    fn key(&self, field: &str) -> Key {
        match field {
            "submit_day" => Key::Date(self.submit_day),
            "create_time" => Key::Time(self.create_time),
            _ => Key::Uuid(self.id),
        }
    }
}

impl Keyed for InboxRow {
    fn key(&self, field: &str) -> Key {
        match field {
            "receive_time" => Key::Time(self.receive_time),
            _ => Key::Uuid(self.id),
        }
    }
}
