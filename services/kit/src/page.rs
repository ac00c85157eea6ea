//! List pages (AIP-132, AIP-158): page sizes, `order_by`, and opaque page
//! tokens that carry the last row's sort key, so a list read page by page
//! neither skips nor repeats rows while others write (keyset pagination).
//!
//! A token also carries a fingerprint of the query it belongs to; a token
//! sent with another parent, filter or order is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Postgres, QueryBuilder};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::filter::{self, Filter, FilterField};

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page; larger requests are served this many (AIP-158).
pub const MAX_PAGE_SIZE: usize = 1000;

/// What kind of value a sort key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Text,
    Int,
    Time,
    Date,
    Uuid,
}

/// A field `order_by` may name.
#[derive(Clone, Copy, Debug)]
pub struct OrderField {
    /// The name callers write, e.g. `update_time`.
    pub name: &'static str,
    /// The SQL expression it sorts by, with its collation if it has one.
    pub sql: &'static str,
    /// The kind of value, for the page token.
    pub kind: KeyKind,
}

/// One sort key value of a row, as stored in a page token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Key {
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "t", with = "time::serde::rfc3339")]
    Time(OffsetDateTime),
    #[serde(rename = "d")]
    Date(Date),
    #[serde(rename = "u")]
    Uuid(Uuid),
}

impl Key {
    fn kind(&self) -> KeyKind {
        match self {
            Key::Int(_) => KeyKind::Int,
            Key::Text(_) => KeyKind::Text,
            Key::Time(_) => KeyKind::Time,
            Key::Date(_) => KeyKind::Date,
            Key::Uuid(_) => KeyKind::Uuid,
        }
    }

    fn push_bind(&self, qb: &mut QueryBuilder<Postgres>) {
        match self {
            Key::Int(v) => qb.push_bind(*v),
            Key::Text(v) => qb.push_bind(v.clone()),
            Key::Time(v) => qb.push_bind(*v),
            Key::Date(v) => qb.push_bind(*v),
            Key::Uuid(v) => qb.push_bind(*v),
        };
    }
}

/// The tie-break most lists use: the row's own id, a UUID column `id`.
pub const BY_ID: OrderField = OrderField {
    name: "id",
    sql: "id",
    kind: KeyKind::Uuid,
};

/// A row that can be paged: it can tell its value for each order field
/// (and for the tie-break).
pub trait Keyed {
    /// The row's value for the order field named `field`.
    fn key(&self, field: &str) -> Key;
}

/// How a resource's list is read: its filter fields, order fields, default
/// order and tie-break.
#[derive(Clone, Copy, Debug)]
pub struct ListSpec {
    pub filter_fields: &'static [FilterField],
    pub order_fields: &'static [OrderField],
    /// The order when `order_by` is empty, in `order_by` syntax.
    pub default_order: &'static str,
    /// A unique column that orders rows equal in every order field
    /// (ascending, after them). `None` when every order field is unique.
    pub tie_break: Option<OrderField>,
}

/// A list request as the caller sent it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListRequest<'a> {
    pub page_size: i32,
    pub page_token: &'a str,
    pub filter: &'a str,
    pub order_by: &'a str,
}

/// A checked list request, ready to be turned into SQL.
#[derive(Debug)]
pub struct ListQuery {
    filter_fields: &'static [FilterField],
    /// The parsed filter, if any.
    pub filter: Option<Filter>,
    /// The order: fields and whether each is descending, tie-break last.
    order: Vec<(OrderField, bool)>,
    /// The sort key of the last row of the previous page.
    after: Option<Vec<Key>>,
    /// Rows per page.
    pub limit: usize,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Token {
    /// Fingerprint of the query.
    q: String,
    /// Sort key of the last row.
    k: Vec<Key>,
}

impl ListQuery {
    /// Checks a list request against `spec`. `scope` names whatever else
    /// fixes the query (the parent, `show_deleted`, a view that changes the
    /// order…): a page token is only good for the same scope.
    pub fn new(
        spec: &ListSpec,
        req: ListRequest<'_>,
        scope: &[&str],
    ) -> Result<Self, ServiceError> {
        let mut errors = crate::error::Violations::default();
        let limit = match usize::try_from(req.page_size) {
            Err(_) => {
                errors.add("page_size", "must not be negative");
                DEFAULT_PAGE_SIZE
            }
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(n) => n.min(MAX_PAGE_SIZE),
        };
        let filter = match filter::parse(req.filter, spec.filter_fields) {
            Ok(f) => f,
            Err(e) => {
                errors.add("filter", e.0);
                None
            }
        };
        let order_text = if req.order_by.trim().is_empty() {
            spec.default_order
        } else {
            req.order_by
        };
        let mut order = match parse_order(order_text, spec.order_fields) {
            Ok(o) => o,
            Err(e) => {
                errors.add("order_by", e);
                Vec::new()
            }
        };
        if let Some(tie) = spec.tie_break {
            order.push((tie, false));
        }
        let fingerprint = fingerprint(req.filter, order_text, scope);
        let mut after = None;
        if !req.page_token.is_empty() {
            match decode_token(req.page_token, &fingerprint, &order) {
                Ok(keys) => after = Some(keys),
                Err(e) => errors.add("page_token", e),
            }
        }
        errors.finish()?;
        Ok(ListQuery {
            filter_fields: spec.filter_fields,
            filter,
            order,
            after,
            limit,
            fingerprint,
        })
    }

    /// A list in `spec`'s one order, which takes no `filter` or `order_by`:
    /// only the caller's `page_size` and `page_token` (`scope` as in
    /// [`ListQuery::new`]).
    pub fn fixed(
        spec: &ListSpec,
        page_size: i32,
        page_token: &str,
        scope: &[&str],
    ) -> Result<Self, ServiceError> {
        ListQuery::new(
            spec,
            ListRequest {
                page_size,
                page_token,
                filter: "",
                order_by: "",
            },
            scope,
        )
    }

    /// Rows to fetch for one page: one more than it holds, which tells
    /// whether there is a next.
    pub fn fetch_limit(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX - 1) + 1
    }

    /// The sort key of the last row of the previous page (order fields,
    /// then the tie-break), for lists that page with their own query.
    pub fn after(&self) -> Option<&[Key]> {
        self.after.as_deref()
    }

    /// Appends ` AND <filter> AND <after the previous page>` to a query whose
    /// WHERE clause is already open.
    pub fn push_conditions(&self, qb: &mut QueryBuilder<Postgres>) {
        self.push_filter(qb);
        if let Some(keys) = &self.after {
            qb.push(" AND (");
            for upto in 0..self.order.len() {
                if upto > 0 {
                    qb.push(" OR ");
                }
                qb.push("(");
                for (i, (field, _)) in self.order.iter().take(upto).enumerate() {
                    qb.push(field.sql);
                    qb.push(" = ");
                    keys[i].push_bind(qb);
                    qb.push(" AND ");
                }
                let (field, desc) = &self.order[upto];
                qb.push(field.sql);
                qb.push(if *desc { " < " } else { " > " });
                keys[upto].push_bind(qb);
                qb.push(")");
            }
            qb.push(")");
        }
    }

    /// Appends ` AND <filter>` alone, for counting all matches.
    pub fn push_filter(&self, qb: &mut QueryBuilder<Postgres>) {
        if let Some(filter) = &self.filter {
            qb.push(" AND ");
            filter.push_sql(qb, self.filter_fields);
        }
    }

    /// Appends ` ORDER BY … LIMIT n+1` (one extra row tells whether a next
    /// page exists).
    pub fn push_order_limit(&self, qb: &mut QueryBuilder<Postgres>) {
        qb.push(" ORDER BY ");
        for (i, (field, desc)) in self.order.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push(field.sql);
            qb.push(if *desc { " DESC" } else { " ASC" });
        }
        qb.push(" LIMIT ");
        qb.push_bind((self.limit + 1) as i64);
    }

    /// Cuts the fetched rows to one page and makes the token for the next.
    pub fn page<T: Keyed>(&self, mut rows: Vec<T>) -> (Vec<T>, String) {
        if rows.len() <= self.limit {
            return (rows, String::new());
        }
        rows.truncate(self.limit);
        let last = rows.last().expect("limit is at least 1");
        let token = Token {
            q: self.fingerprint.clone(),
            k: self.order.iter().map(|(f, _)| last.key(f.name)).collect(),
        };
        let json = serde_json::to_vec(&token).expect("a token always serializes");
        (rows, URL_SAFE_NO_PAD.encode(json))
    }
}

fn parse_order(text: &str, fields: &[OrderField]) -> Result<Vec<(OrderField, bool)>, String> {
    let mut order = Vec::new();
    for part in text.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (name, desc) = match words.as_slice() {
            [name] => (*name, false),
            [name, dir] if dir.eq_ignore_ascii_case("asc") => (*name, false),
            [name, dir] if dir.eq_ignore_ascii_case("desc") => (*name, true),
            _ => return Err(format!("`{}` is not `field` or `field desc`", part.trim())),
        };
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(format!(
                "cannot order by `{name}`; known fields: {}",
                known.join(", ")
            ));
        };
        if order
            .iter()
            .any(|(f, _): &(OrderField, bool)| f.name == name)
        {
            return Err(format!("`{name}` appears twice"));
        }
        order.push((*field, desc));
    }
    Ok(order)
}

fn fingerprint(filter: &str, order: &str, scope: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in [filter, order].iter().chain(scope) {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(&hash.finalize()[..12])
}

fn decode_token(
    token: &str,
    fingerprint: &str,
    order: &[(OrderField, bool)],
) -> Result<Vec<Key>, String> {
    let bad = || "is not a page token this service issued".to_string();
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.q != fingerprint {
        return Err(
            "belongs to a different query; send the same fields (all but page_size and page_token) as the call that returned it"
                .into(),
        );
    }
    let kinds_match = token.k.len() == order.len()
        && token
            .k
            .iter()
            .zip(order)
            .all(|(k, (f, _))| k.kind() == f.kind);
    if !kinds_match {
        return Err(bad());
    }
    Ok(token.k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FieldKind;

    const FILTERS: &[FilterField] = &[FilterField {
        name: "city",
        sql: "t.city",
        kind: FieldKind::Bool,
    }];
    const ORDERS: &[OrderField] = &[
        OrderField {
            name: "name",
            sql: "t.name",
            kind: KeyKind::Text,
        },
        OrderField {
            name: "update_time",
            sql: "t.update_time",
            kind: KeyKind::Time,
        },
    ];
    const SPEC: ListSpec = ListSpec {
        filter_fields: FILTERS,
        order_fields: ORDERS,
        default_order: "name",
        tie_break: Some(OrderField {
            name: "id",
            sql: "t.id",
            kind: KeyKind::Uuid,
        }),
    };

    struct Row(&'static str, Uuid);

    impl Keyed for Row {
        fn key(&self, field: &str) -> Key {
            match field {
                "name" => Key::Text(self.0.into()),
                "id" => Key::Uuid(self.1),
                _ => Key::Time(OffsetDateTime::UNIX_EPOCH),
            }
        }
    }

    fn violations(err: ServiceError) -> Vec<(String, String)> {
        err.field_violations()
            .iter()
            .map(|v| (v.field.clone(), v.description.clone()))
            .collect()
    }

    #[test]
    fn sizes_default_and_cap() {
        let q = |n| {
            ListQuery::new(
                &SPEC,
                ListRequest {
                    page_size: n,
                    ..Default::default()
                },
                &[],
            )
        };
        assert_eq!(q(0).unwrap().limit, DEFAULT_PAGE_SIZE);
        assert_eq!(q(7).unwrap().limit, 7);
        assert_eq!(q(5000).unwrap().limit, MAX_PAGE_SIZE);
        let v = violations(q(-1).unwrap_err());
        assert_eq!(v[0].0, "page_size");
    }

    #[test]
    fn every_bad_part_is_reported_at_once() {
        let req = ListRequest {
            page_size: -3,
            page_token: "???",
            filter: "colour = red",
            order_by: "name sideways",
        };
        let fields: Vec<String> = violations(ListQuery::new(&SPEC, req, &[]).unwrap_err())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["page_size", "filter", "order_by", "page_token"]);
    }

    #[test]
    fn order_by_is_checked() {
        let bad = |o: &str| {
            let req = ListRequest {
                order_by: o,
                ..Default::default()
            };
            violations(ListQuery::new(&SPEC, req, &[]).unwrap_err())[0]
                .1
                .clone()
        };
        assert!(bad("colour").contains("cannot order by `colour`"));
        assert!(bad("name, name desc").contains("twice"));
        assert!(bad("name up").contains("is not `field` or `field desc`"));
    }

    #[test]
    fn keyset_sql_and_token_round_trip() {
        let req = ListRequest {
            page_size: 2,
            filter: "city = true",
            order_by: "update_time desc, name",
            ..Default::default()
        };
        let first = ListQuery::new(&SPEC, req, &["parent"]).unwrap();
        let rows = vec![
            Row("a", Uuid::nil()),
            Row("b", Uuid::max()),
            Row("c", Uuid::nil()),
        ];
        let (page, token) = first.page(rows);
        assert_eq!(page.len(), 2);
        assert!(!token.is_empty());

        let next = ListQuery::new(
            &SPEC,
            ListRequest {
                page_token: &token,
                ..req
            },
            &["parent"],
        )
        .unwrap();
        let mut qb = QueryBuilder::<Postgres>::new("SELECT 1 FROM t WHERE true");
        next.push_conditions(&mut qb);
        next.push_order_limit(&mut qb);
        assert_eq!(
            qb.sql().as_str(),
            "SELECT 1 FROM t WHERE true AND (t.city = $1) AND (\
             (t.update_time < $2) OR \
             (t.update_time = $3 AND t.name > $4) OR \
             (t.update_time = $5 AND t.name = $6 AND t.id > $7)) \
             ORDER BY t.update_time DESC, t.name ASC, t.id ASC LIMIT $8"
        );

        // The last page has no token.
        let (_, none) = next.page(vec![Row("d", Uuid::nil())]);
        assert!(none.is_empty());
    }

    #[test]
    fn a_token_only_fits_its_own_query() {
        let req = ListRequest {
            page_size: 1,
            ..Default::default()
        };
        let q = ListQuery::new(&SPEC, req, &["committees/a"]).unwrap();
        let (_, token) = q.page(vec![Row("a", Uuid::nil()), Row("b", Uuid::nil())]);
        let other_parent = ListQuery::new(
            &SPEC,
            ListRequest {
                page_token: &token,
                ..req
            },
            &["committees/b"],
        );
        assert!(
            violations(other_parent.unwrap_err())[0]
                .1
                .contains("different query")
        );
        let other_filter = ListQuery::new(
            &SPEC,
            ListRequest {
                page_token: &token,
                filter: "city = true",
                ..req
            },
            &["committees/a"],
        );
        assert!(
            violations(other_filter.unwrap_err())[0]
                .1
                .contains("different query")
        );
        let same = ListQuery::new(
            &SPEC,
            ListRequest {
                page_token: &token,
                ..req
            },
            &["committees/a"],
        );
        assert!(same.is_ok());
    }

    #[test]
    fn date_keys_round_trip_as_dates() {
        const DAYS: ListSpec = ListSpec {
            filter_fields: &[],
            order_fields: &[OrderField {
                name: "date",
                sql: "t.day",
                kind: KeyKind::Date,
            }],
            default_order: "date desc",
            tie_break: None,
        };
        struct Day(Date);
        impl Keyed for Day {
            fn key(&self, _: &str) -> Key {
                Key::Date(self.0)
            }
        }
        let req = ListRequest {
            page_size: 1,
            ..Default::default()
        };
        let may = Date::from_calendar_date(2023, time::Month::May, 1).unwrap();
        let q = ListQuery::new(&DAYS, req, &[]).unwrap();
        let (_, token) = q.page(vec![Day(may), Day(may.previous_day().unwrap())]);
        let next = ListQuery::new(
            &DAYS,
            ListRequest {
                page_token: &token,
                ..req
            },
            &[],
        )
        .unwrap();
        assert_eq!(next.after(), Some(&[Key::Date(may)][..]));
    }
}
