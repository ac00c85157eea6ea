//! `cppcc.members.v1.EvaluationService`: yearly evaluation rules, members'
//! scores, grades, ranks and the four goods, the five ones, and the
//! statistics a committee reports — all computed from the duty records
//! when asked, in one consistent snapshot of them.

use std::collections::{BTreeMap, HashMap};

use sqlx::PgConnection;
use time::{Date, Month, OffsetDateTime};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::convert::timestamp;
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, committee_name, parse_committee};
use cppcc_kit::page::{Key, KeyKind, Keyed, ListQuery, ListSpec, OrderField};
use cppcc_kit::{ServiceError, etag};
use cppcc_proto::members::v1 as pb;
use pb::evaluation_service_server::EvaluationService;

use super::duty::record_name;
use super::{Shared, committee_resource};
use crate::domain::evaluation::{Entries, Rules, Score, five_ones, ranks};
use crate::store::committees as committee_store;
use crate::store::duty::{self as duty_store};
use crate::store::evaluation::{self as store, EvaluatedRow};

/// The evaluation service.
#[derive(Clone, Debug)]
pub struct EvaluationApi {
    shared: Shared,
}

impl EvaluationApi {
    pub fn new(shared: Shared) -> Self {
        EvaluationApi { shared }
    }
}

/// A calendar year and its first and last days.
#[derive(Clone, Copy, Debug)]
struct Year {
    year: i32,
    first: Date,
    last: Date,
}

/// A year that has begun (evaluations, five ones, statistics).
fn past_year(field: &str, y: i32, today: Date) -> Result<Year, ServiceError> {
    let this = today.year();
    if (1949..=this).contains(&y) {
        return year(field, y);
    }
    Err(ServiceError::invalid(
        field,
        format!("{y} is not a year of the CPPCC up to this one ({this})"),
    ))
}

fn year(field: &str, year: i32) -> Result<Year, ServiceError> {
    if !(1949..=9999).contains(&year) {
        return Err(ServiceError::invalid(
            field,
            format!("{year} is not a year of the CPPCC (1949 on)"),
        ));
    }
    let day = |m, d| Date::from_calendar_date(year, m, d).map_err(ServiceError::internal);
    Ok(Year {
        year,
        first: day(Month::January, 1)?,
        last: day(Month::December, 31)?,
    })
}

/// `committees/{c}/evaluationRules/{year}`.
fn rules_name(committee: &str, year: i32) -> String {
    format!("{}/evaluationRules/{year}", committee_name(committee))
}

fn parse_rules_name(field: &str, name: &str) -> Result<(String, Year), ServiceError> {
    let bad = || {
        ServiceError::invalid(
            field,
            format!(
                "`{name}` is not a name like `committees/{{committee}}/evaluationRules/{{year}}`"
            ),
        )
    };
    let (committee, year_text) = name.split_once("/evaluationRules/").ok_or_else(bad)?;
    let committee = parse_committee(field, committee)?.to_owned();
    let y: i32 = year_text
        .parse()
        .ok()
        .filter(|_| year_text.len() == 4)
        .ok_or_else(bad)?;
    Ok((committee, year(field, y)?))
}

/// The rules in force for a year, and whose they are.
struct InForce {
    rules: Rules,
    /// `committees/{c}/evaluationRules/{year}`, or `default`.
    name: String,
    row: Option<store::RulesRow>,
}

async fn rules_in_force(
    conn: &mut PgConnection,
    committee: &str,
    year: i32,
) -> Result<InForce, ServiceError> {
    match store::rules_for(conn, committee, year)
        .await
        .map_err(classify_db_error)?
    {
        Some(row) => Ok(InForce {
            rules: serde_json::from_value(row.rules.clone()).map_err(ServiceError::internal)?,
            name: rules_name(committee, row.year),
            row: Some(row),
        }),
        None => Ok(InForce {
            rules: Rules::defaults(),
            name: "default".to_owned(),
            row: None,
        }),
    }
}

fn rules_message(in_force: &InForce) -> pb::EvaluationRules {
    let mut message = in_force.rules.to_proto();
    message.name = in_force.name.clone();
    if let Some(row) = &in_force.row {
        message.update_time = Some(timestamp(row.update_time));
        message.etag = etag::format(row.revision);
    }
    message
}

/// A member's evaluation.
struct Evaluated {
    member: EvaluatedRow,
    score: Score,
    committee_rank: i32,
    sector_rank: i32,
}

/// One snapshot of a committee's year: who is evaluated (the members in
/// office at some time in it), and each one's standing entries per kind.
struct Snapshot {
    members: Vec<EvaluatedRow>,
    entries: HashMap<Uuid, BTreeMap<i32, Entries>>,
}

impl Snapshot {
    /// The year as recorded by `as_of` (within the transaction's snapshot).
    async fn read(
        conn: &mut PgConnection,
        committee: &str,
        year: Year,
        as_of: OffsetDateTime,
    ) -> Result<Snapshot, ServiceError> {
        let members = store::evaluated_members(conn, committee, year.first, year.last, as_of)
            .await
            .map_err(classify_db_error)?;
        let counts = duty_store::standing_counts(conn, committee, year.first, year.last, as_of)
            .await
            .map_err(classify_db_error)?;
        let mut entries: HashMap<Uuid, BTreeMap<i32, Entries>> = HashMap::new();
        for c in counts {
            entries.entry(c.member_id).or_default().insert(
                i32::from(c.kind),
                Entries {
                    count: i32::try_from(c.entries).unwrap_or(i32::MAX),
                    ids: Vec::new(),
                },
            );
        }
        Ok(Snapshot { members, entries })
    }

    fn entries(&self, member: Uuid) -> BTreeMap<i32, Entries> {
        self.entries.get(&member).cloned().unwrap_or_default()
    }

    /// Every member scored and ranked, in order of surname strokes.
    fn evaluate(&self, rules: &Rules) -> Vec<Evaluated> {
        let scores: Vec<Score> = self
            .members
            .iter()
            .map(|m| rules.score(&self.entries(m.id)))
            .collect();
        let totals: Vec<i32> = scores.iter().map(|s| s.total).collect();
        let committee_ranks = ranks(&totals);
        let mut by_sector: HashMap<Uuid, Vec<usize>> = HashMap::new();
        for (i, m) in self.members.iter().enumerate() {
            by_sector.entry(m.sector_id).or_default().push(i);
        }
        let mut sector_ranks = vec![0; self.members.len()];
        for positions in by_sector.values() {
            let sector_totals: Vec<i32> = positions.iter().map(|i| totals[*i]).collect();
            for (i, rank) in positions.iter().zip(ranks(&sector_totals)) {
                sector_ranks[*i] = rank;
            }
        }
        self.members
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(i, (m, score))| Evaluated {
                member: m.clone(),
                score,
                committee_rank: committee_ranks[i],
                sector_rank: sector_ranks[i],
            })
            .collect()
    }

    /// Each member's five ones, in order of surname strokes.
    fn five_ones(&self, committee: &str, year: i32) -> Vec<pb::FiveOnes> {
        self.members
            .iter()
            .map(|m| {
                let entries = self.entries.get(&m.id);
                let done = five_ones(|k| {
                    entries.is_some_and(|e| e.get(&(k as i32)).is_some_and(|n| n.count > 0))
                });
                five_ones_message(committee, m, year, done)
            })
            .collect()
    }
}

fn five_ones_message(
    committee: &str,
    m: &EvaluatedRow,
    year: i32,
    done: [bool; 5],
) -> pb::FiveOnes {
    pb::FiveOnes {
        member: ChildName::format(committee, "members", m.id),
        member_display_name: m.display_name.clone(),
        year,
        proposal: done[0],
        opinion: done[1],
        suggestion: done[2],
        friends: done[3],
        practical_deed: done[4],
        complete: done.iter().all(|d| *d),
    }
}

fn evaluation_message(
    committee: &str,
    year: i32,
    e: &Evaluated,
    rules: &str,
) -> pb::MemberEvaluation {
    pb::MemberEvaluation {
        member: ChildName::format(committee, "members", e.member.id),
        member_display_name: e.member.display_name.clone(),
        sector: ChildName::format(committee, "sectors", e.member.sector_id),
        year,
        score: e.score.total,
        grade: e.score.grade.to_proto().into(),
        committee_rank: e.committee_rank,
        sector_rank: e.sector_rank,
        four_goods: e.score.four_goods,
        lines: e
            .score
            .lines
            .iter()
            .map(|l| pb::ScoreLine {
                kind: l.kind,
                entries: l.entries.count,
                points_each: l.points_each,
                raw_points: l.raw_points,
                points: l.points,
                duty_records: l
                    .entries
                    .ids
                    .iter()
                    .map(|id| record_name(committee, e.member.id, *id))
                    .collect(),
            })
            .collect(),
        rules: rules.to_owned(),
    }
}

/// Lists computed whole, paged by position in a list computed as the
/// data stood when the first page was asked for (`as_of`): later pages are
/// computed from the same entries, so none is skipped or repeated while
/// new entries arrive.
const POSITIONS: ListSpec = ListSpec {
    filter_fields: &[],
    order_fields: &[
        OrderField {
            name: "as_of",
            sql: "as_of",
            kind: KeyKind::Time,
        },
        OrderField {
            name: "position",
            sql: "position",
            kind: KeyKind::Int,
        },
    ],
    default_order: "as_of, position",
    tie_break: None,
};

struct At<T> {
    as_of: OffsetDateTime,
    position: i64,
    item: T,
}

impl<T> Keyed for At<T> {
    fn key(&self, field: &str) -> Key {
        match field {
            "as_of" => Key::Time(self.as_of),
            _ => Key::Int(self.position),
        }
    }
}

/// When the list being paged was computed: the first page's time, carried
/// by the token; for a first page, the transaction's.
async fn as_of(query: &ListQuery, conn: &mut PgConnection) -> Result<OffsetDateTime, ServiceError> {
    match query.after() {
        Some([Key::Time(t), _]) => Ok(*t),
        _ => transaction_time(conn).await,
    }
}

async fn transaction_time(conn: &mut PgConnection) -> Result<OffsetDateTime, ServiceError> {
    sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(conn)
        .await
        .map_err(classify_db_error)
}

/// One page of a computed list, and the token for the next.
fn page_of<T>(query: &ListQuery, as_of: OffsetDateTime, items: Vec<T>) -> (Vec<T>, String) {
    let start = match query.after() {
        Some([_, Key::Int(n)]) => n
            .checked_add(1)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(usize::MAX),
        _ => 0,
    };
    let rows: Vec<At<T>> = items
        .into_iter()
        .enumerate()
        .skip(start)
        .take(query.limit + 1)
        .map(|(i, item)| At {
            as_of,
            position: i as i64,
            item,
        })
        .collect();
    let (rows, token) = query.page(rows);
    (rows.into_iter().map(|r| r.item).collect(), token)
}

fn list_query(page_size: i32, page_token: &str, scope: &[&str]) -> Result<ListQuery, ServiceError> {
    ListQuery::fixed(&POSITIONS, page_size, page_token, scope)
}

/// A read-only transaction that sees one snapshot of the data.
async fn snapshot_tx(
    shared: &Shared,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ServiceError> {
    let mut tx = shared.db.pool().begin().await.map_err(classify_db_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(classify_db_error)?;
    Ok(tx)
}

/// The committee's row, or `NOT_FOUND`.
async fn committee(
    conn: &mut PgConnection,
    id: &str,
) -> Result<committee_store::CommitteeRow, ServiceError> {
    committee_store::get(conn, id)
        .await
        .map_err(classify_db_error)?
        .ok_or_else(|| ServiceError::not_found(committee_resource(id)))
}

/// Why a member has no evaluation (or five ones) for a year: it does not
/// exist, or was not in office in it.
async fn not_evaluated(
    conn: &mut PgConnection,
    committee: &str,
    member: Uuid,
    name: &str,
    year: Year,
) -> ServiceError {
    match crate::store::members::get_many(conn, committee, &[member]).await {
        Ok(found) if found.is_empty() => ServiceError::not_found(name),
        Ok(_) => ServiceError::failed_precondition(
            "NOT_IN_OFFICE",
            name,
            format!(
                "{name} was not in office in {}: nothing is counted for it",
                year.year
            ),
        ),
        Err(e) => classify_db_error(e),
    }
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[tonic::async_trait]
impl EvaluationService for EvaluationApi {
    async fn set_evaluation_rules(
        &self,
        request: Request<pb::SetEvaluationRulesRequest>,
    ) -> Result<Response<pb::SetEvaluationRulesResponse>, Status> {
        let req = request.get_ref();
        let input = req
            .rules
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("rules", "required"))?;
        let (committee_id, year) = parse_rules_name("rules.name", &input.name)?;
        let actor = self
            .shared
            .caller(&request, &committee_id, &input.name)
            .await?;
        let rules = Rules::from_proto(input)?;
        let stored = serde_json::to_value(&rules).map_err(ServiceError::internal)?;
        let mut change = self.shared.db.change(&actor).await?;
        // The committee's row serialises the first rules of a year too.
        committee_store::get_for_update(change.conn(), &committee_id)
            .await
            .map_err(classify_db_error)?
            .ok_or_else(|| ServiceError::not_found(committee_resource(&committee_id)))?;
        let current = store::lock_rules(change.conn(), &committee_id, year.year)
            .await
            .map_err(classify_db_error)?;
        etag::check(&input.etag, current.unwrap_or(0), &input.name)?;
        let before = match current {
            Some(_) => Some(to_json(&rules_message(
                &rules_in_force(change.conn(), &committee_id, year.year).await?,
            ))),
            None => None,
        };
        let row = store::set_rules(change.conn(), &committee_id, year.year, &stored)
            .await
            .map_err(classify_db_error)?;
        let after = rules_message(&InForce {
            rules,
            name: rules_name(&committee_id, year.year),
            row: Some(row),
        });
        change.audit(&committee_id, &input.name, before, Some(to_json(&after)));
        change.publish(
            &committee_id,
            &input.name,
            &pb::EvaluationRulesSet {
                rules: Some(after.clone()),
            },
        );
        change.commit().await?;
        Ok(Response::new(pb::SetEvaluationRulesResponse {
            rules: Some(after),
        }))
    }

    async fn get_evaluation_rules(
        &self,
        request: Request<pb::GetEvaluationRulesRequest>,
    ) -> Result<Response<pb::GetEvaluationRulesResponse>, Status> {
        let req = request.get_ref();
        let (committee_id, year) = parse_rules_name("name", &req.name)?;
        self.shared
            .caller(&request, &committee_id, &req.name)
            .await?;
        let mut conn = self.shared.db.acquire().await?;
        committee(&mut conn, &committee_id).await?;
        let in_force = rules_in_force(&mut conn, &committee_id, year.year).await?;
        Ok(Response::new(pb::GetEvaluationRulesResponse {
            rules: Some(rules_message(&in_force)),
        }))
    }

    async fn get_member_evaluation(
        &self,
        request: Request<pb::GetMemberEvaluationRequest>,
    ) -> Result<Response<pb::GetMemberEvaluationResponse>, Status> {
        let req = request.get_ref();
        let member = ChildName::parse_field("member", &req.member, "members")?;
        let year = past_year("year", req.year, self.shared.db.today())?;
        let actor = self
            .shared
            .caller(&request, &member.committee, &req.member)
            .await?;
        self.shared
            .check_own(&actor, &member.committee, &req.member, &req.member)
            .await?;
        let mut tx = snapshot_tx(&self.shared).await?;
        let conn = &mut *tx;
        let in_force = rules_in_force(conn, &member.committee, year.year).await?;
        let now = transaction_time(conn).await?;
        let snapshot = Snapshot::read(conn, &member.committee, year, now).await?;
        let mut all = snapshot.evaluate(&in_force.rules);
        let Some(position) = all.iter().position(|e| e.member.id == member.id) else {
            return Err(
                not_evaluated(conn, &member.committee, member.id, &req.member, year)
                    .await
                    .into(),
            );
        };
        // The same entries again, with their ids, so each point traces to them.
        let ids = duty_store::standing_ids(conn, member.id, year.first, year.last)
            .await
            .map_err(classify_db_error)?;
        let traced: BTreeMap<i32, Entries> = ids
            .into_iter()
            .map(|k| {
                (
                    i32::from(k.kind),
                    Entries {
                        count: i32::try_from(k.ids.len()).unwrap_or(i32::MAX),
                        ids: k.ids,
                    },
                )
            })
            .collect();
        let mut evaluated = all.swap_remove(position);
        evaluated.score = in_force.rules.score(&traced);
        Ok(Response::new(pb::GetMemberEvaluationResponse {
            evaluation: Some(evaluation_message(
                &member.committee,
                year.year,
                &evaluated,
                &in_force.name,
            )),
        }))
    }

    async fn list_member_evaluations(
        &self,
        request: Request<pb::ListMemberEvaluationsRequest>,
    ) -> Result<Response<pb::ListMemberEvaluationsResponse>, Status> {
        let req = request.get_ref();
        let committee_id = parse_committee("parent", &req.parent)?.to_owned();
        let year = past_year("year", req.year, self.shared.db.today())?;
        let sector = match req.sector.as_str() {
            "" => None,
            s => Some(ChildName::parse_field("sector", s, "sectors")?),
        };
        if let Some(s) = &sector
            && s.committee != committee_id
        {
            return Err(ServiceError::invalid(
                "sector",
                format!("{} is not a sector of {}", req.sector, req.parent),
            )
            .into());
        }
        let grade = match pb::Grade::try_from(req.grade) {
            Ok(pb::Grade::Unspecified) => None,
            Ok(g) => Some(g),
            Err(_) => {
                return Err(ServiceError::invalid(
                    "grade",
                    format!("{} is not a Grade", req.grade),
                )
                .into());
            }
        };
        self.shared
            .caller(&request, &committee_id, &req.parent)
            .await?;
        let scope = [
            req.parent.as_str(),
            &req.year.to_string(),
            &req.sector,
            &req.grade.to_string(),
            if req.four_goods_only {
                "four goods"
            } else {
                ""
            },
        ];
        let query = list_query(req.page_size, &req.page_token, &scope)?;
        let mut tx = snapshot_tx(&self.shared).await?;
        let conn = &mut *tx;
        committee(conn, &committee_id).await?;
        let in_force = rules_in_force(conn, &committee_id, year.year).await?;
        let as_of = as_of(&query, conn).await?;
        let snapshot = Snapshot::read(conn, &committee_id, year, as_of).await?;
        let mut all = snapshot.evaluate(&in_force.rules);
        // Highest first; equal scores keep the order of surname strokes.
        all.sort_by_key(|e| e.committee_rank);
        let matching: Vec<Evaluated> = all
            .into_iter()
            .filter(|e| sector.as_ref().is_none_or(|s| s.id == e.member.sector_id))
            .filter(|e| grade.is_none_or(|g| e.score.grade.to_proto() == g))
            .filter(|e| !req.four_goods_only || e.score.four_goods)
            .collect();
        let total_size = count(matching.len() as i64);
        let (page, next_page_token) = page_of(&query, as_of, matching);
        Ok(Response::new(pb::ListMemberEvaluationsResponse {
            evaluations: page
                .iter()
                .map(|e| {
                    let mut m = evaluation_message(&committee_id, year.year, e, &in_force.name);
                    m.lines.clear();
                    m
                })
                .collect(),
            next_page_token,
            total_size,
        }))
    }

    async fn get_five_ones(
        &self,
        request: Request<pb::GetFiveOnesRequest>,
    ) -> Result<Response<pb::GetFiveOnesResponse>, Status> {
        let req = request.get_ref();
        let member = ChildName::parse_field("member", &req.member, "members")?;
        let year = past_year("year", req.year, self.shared.db.today())?;
        let actor = self
            .shared
            .caller(&request, &member.committee, &req.member)
            .await?;
        self.shared
            .check_own(&actor, &member.committee, &req.member, &req.member)
            .await?;
        let mut tx = snapshot_tx(&self.shared).await?;
        let conn = &mut *tx;
        let now = transaction_time(conn).await?;
        let snapshot = Snapshot::read(conn, &member.committee, year, now).await?;
        let Some(five) = snapshot
            .five_ones(&member.committee, year.year)
            .into_iter()
            .find(|f| f.member == req.member)
        else {
            return Err(
                not_evaluated(conn, &member.committee, member.id, &req.member, year)
                    .await
                    .into(),
            );
        };
        Ok(Response::new(pb::GetFiveOnesResponse {
            five_ones: Some(five),
        }))
    }

    async fn list_five_ones(
        &self,
        request: Request<pb::ListFiveOnesRequest>,
    ) -> Result<Response<pb::ListFiveOnesResponse>, Status> {
        let req = request.get_ref();
        let committee_id = parse_committee("parent", &req.parent)?.to_owned();
        let year = past_year("year", req.year, self.shared.db.today())?;
        self.shared
            .caller(&request, &committee_id, &req.parent)
            .await?;
        let scope = [
            req.parent.as_str(),
            &req.year.to_string(),
            if req.incomplete_only {
                "incomplete"
            } else {
                ""
            },
        ];
        let query = list_query(req.page_size, &req.page_token, &scope)?;
        let mut tx = snapshot_tx(&self.shared).await?;
        let conn = &mut *tx;
        committee(conn, &committee_id).await?;
        let as_of = as_of(&query, conn).await?;
        let snapshot = Snapshot::read(conn, &committee_id, year, as_of).await?;
        let all = snapshot.five_ones(&committee_id, year.year);
        let members = count(all.len() as i64);
        let complete = count(all.iter().filter(|f| f.complete).count() as i64);
        let matching: Vec<pb::FiveOnes> = all
            .into_iter()
            .filter(|f| !req.incomplete_only || !f.complete)
            .collect();
        let (five_ones, next_page_token) = page_of(&query, as_of, matching);
        Ok(Response::new(pb::ListFiveOnesResponse {
            five_ones,
            next_page_token,
            members,
            complete,
        }))
    }

    async fn get_member_statistics(
        &self,
        request: Request<pb::GetMemberStatisticsRequest>,
    ) -> Result<Response<pb::GetMemberStatisticsResponse>, Status> {
        let req = request.get_ref();
        let committee_id = parse_committee("committee", &req.committee)?.to_owned();
        let year = past_year("year", req.year, self.shared.db.today())?;
        self.shared
            .caller(&request, &committee_id, &req.committee)
            .await?;
        let mut tx = snapshot_tx(&self.shared).await?;
        let conn = &mut *tx;
        let row = committee(conn, &committee_id).await?;
        let term_start = row.term_start_date.unwrap_or(year.first);

        // The members in office at some time in the year, as for the
        // evaluation: a member who left since still counts for the year.
        let now = transaction_time(conn).await?;
        let snapshot = Snapshot::read(conn, &committee_id, year, now).await?;
        let members = &snapshot.members;
        let sum = |f: &dyn Fn(&EvaluatedRow) -> bool| {
            count(members.iter().filter(|m| f(m)).count() as i64)
        };
        let sectors = store::sectors(conn, &committee_id)
            .await
            .map_err(classify_db_error)?;
        let by_sector = sectors
            .iter()
            .map(|(id, name)| pb::Count {
                label: name.clone(),
                resource: ChildName::format(&committee_id, "sectors", *id),
                count: sum(&|m| m.sector_id == *id),
            })
            .collect();
        let enum_counts =
            |labels: Vec<(i32, &str)>, of: fn(&EvaluatedRow) -> i16| -> Vec<pb::Count> {
                labels
                    .into_iter()
                    .map(|(n, label)| pb::Count {
                        label: label.to_owned(),
                        resource: String::new(),
                        count: sum(&|m| i32::from(of(m)) == n),
                    })
                    .collect()
            };
        let by_role = enum_counts(
            (1..=5)
                .filter_map(|n| pb::MemberRole::try_from(n).ok())
                .map(|r| (r as i32, r.as_str_name()))
                .collect(),
            |m| m.role,
        );
        let by_status = enum_counts(
            (1..=4)
                .filter_map(|n| pb::MemberStatus::try_from(n).ok())
                .map(|s| (s as i32, s.as_str_name()))
                .collect(),
            |m| m.status,
        );

        let year_totals = store::kind_totals(conn, &committee_id, year.first, year.last)
            .await
            .map_err(classify_db_error)?;
        let term_totals = if term_start <= year.last {
            store::kind_totals(conn, &committee_id, term_start, year.last)
                .await
                .map_err(classify_db_error)?
        } else {
            Vec::new()
        };
        let kind_counts = |rows: &[store::KindTotalRow], f: fn(&store::KindTotalRow) -> i64| {
            rows.iter()
                .map(|r| pb::KindCount {
                    kind: i32::from(r.kind),
                    count: count(f(r)),
                })
                .collect()
        };
        let five_ones_complete = count(
            snapshot
                .five_ones(&committee_id, year.year)
                .iter()
                .filter(|f| f.complete)
                .count() as i64,
        );
        let special_committees = store::special_committee_count(conn, &committee_id)
            .await
            .map_err(classify_db_error)?;
        let (liaison_stations, informants) = store::liaison_network_counts(conn, &committee_id)
            .await
            .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetMemberStatisticsResponse {
            statistics: Some(pb::MemberStatistics {
                committee: req.committee.clone(),
                year: year.year,
                term: row.current_term,
                members: sum(&|_| true),
                city_members: sum(&|m| m.city_member),
                by_sector,
                by_role,
                by_status,
                year_entries: kind_counts(&year_totals, |r| r.entries),
                term_entries: kind_counts(&term_totals, |r| r.entries),
                year_members: kind_counts(&year_totals, |r| r.members),
                five_ones_complete,
                special_committees: count(special_committees),
                liaison_stations: count(liaison_stations),
                informants: count(informants),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_names() {
        let (c, y) = parse_rules_name("name", "committees/suixian/evaluationRules/2023").unwrap();
        assert_eq!((c.as_str(), y.year), ("suixian", 2023));
        assert_eq!(
            y.last,
            Date::from_calendar_date(2023, Month::December, 31).unwrap()
        );
        for bad in [
            "committees/suixian/evaluationRules/23",
            "committees/suixian/evaluationRules/1900",
            "committees/suixian/rules/2023",
            "suixian/evaluationRules/2023",
        ] {
            assert!(parse_rules_name("name", bad).is_err(), "{bad}");
        }
        assert_eq!(
            rules_name("suixian", 2024),
            "committees/suixian/evaluationRules/2024"
        );
    }
}
