//! `cppcc.proposals.v1.ProposalAssessmentService`: the 100-point rule
//! table, entered scores, members' democratic evaluation, the yearly
//! ranking of units and the statistics; and the overdue list.

use std::collections::HashMap;

use tonic::{Request, Response, Status};
use uuid::Uuid;

use cppcc_kit::ServiceError;
use cppcc_kit::auth::Role;
use cppcc_kit::convert::{date, parse_date, timestamp};
use cppcc_kit::error::classify_db_error;
use cppcc_kit::json::to_json;
use cppcc_kit::names::{ChildName, committee_id, parse_committee};
use cppcc_kit::text::line;
use cppcc_proto::proposals::v1 as pb;

use super::*;
use crate::domain::assessment::{self, Item};
use crate::store::assessment::{self as astore, Figures};
use crate::store::office as office_store;

fn rules_message(
    committee: &str,
    year: i16,
    items: &[Item],
    at: Option<time::OffsetDateTime>,
) -> pb::AssessmentRules {
    pb::AssessmentRules {
        name: format!("committees/{committee}/assessmentRules/{year}"),
        year: year.into(),
        items: items
            .iter()
            .map(|i| pb::AssessmentItem {
                code: i.code.clone(),
                label: i.label.clone(),
                points: i.points,
                measure: i.measure,
            })
            .collect(),
        update_time: at.map(timestamp),
    }
}

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

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10000.0).round() / 10000.0
    }
}

fn statistics(f: &Figures) -> pb::ProposalStatistics {
    let label = |n: i16, name: fn(i32) -> Option<&'static str>| {
        name(n.into()).unwrap_or("UNKNOWN").to_owned()
    };
    let counts = |v: &[(i16, i64)], name: fn(i32) -> Option<&'static str>| {
        v.iter()
            .map(|(n, c)| pb::LabelCount {
                label: label(*n, name),
                count: *c as i32,
            })
            .collect()
    };
    pb::ProposalStatistics {
        submitted: f.submitted as i32,
        filed: f.filed as i32,
        filing_rate: ratio(f.filed, f.submitted),
        by_state: counts(&f.by_state, |n| {
            pb::ProposalState::try_from(n).ok().map(|s| s.as_str_name())
        }),
        by_category: counts(&f.by_category, |n| {
            pb::ProposalCategory::try_from(n)
                .ok()
                .map(|s| s.as_str_name())
        }),
        by_kind: counts(&f.by_kind, |n| {
            pb::ProposalKind::try_from(n).ok().map(|s| s.as_str_name())
        }),
        by_unit: f
            .by_unit
            .iter()
            .map(|(l, c)| pb::LabelCount {
                label: l.clone(),
                count: *c as i32,
            })
            .collect(),
        by_result: f
            .by_result
            .iter()
            .map(|(l, c)| pb::LabelCount {
                label: l.clone(),
                count: *c as i32,
            })
            .collect(),
        on_time_reply_rate: ratio(f.on_time, f.approved),
        contact_rate: ratio(f.contacted, f.approved),
        satisfaction_rate: ratio(f.satisfied, f.ratings),
        favourable_share: ratio(f.favourable, f.approved),
        key_proposals: f.key as i32,
        key_proposals_closed: f.key_closed as i32,
        look_backs: f.look_backs as i32,
        instructions: f.instructions as i32,
        excellent: f.excellent as i32,
        distinct_proposers: f.proposers as i32,
    }
}

impl Api {
    /// The year's table: the committee's, or the default one.
    async fn table(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        year: i16,
    ) -> Result<(Vec<Item>, Option<time::OffsetDateTime>), ServiceError> {
        Ok(
            match astore::rules(conn, committee, year)
                .await
                .map_err(classify_db_error)?
            {
                Some((items, at)) => (items, Some(at)),
                None => (assessment::default_items(), None),
            },
        )
    }

    /// Every unit's assessment for the year, ranked.
    async fn assessments(
        &self,
        conn: &mut sqlx::PgConnection,
        committee: &str,
        year: i16,
    ) -> Result<Vec<pb::UnitAssessment>, ServiceError> {
        let (items, _) = self.table(conn, committee, year).await?;
        let (settings, _) = office_store::settings(conn, committee)
            .await
            .map_err(classify_db_error)?;
        let favourable: Vec<String> = settings
            .categories
            .iter()
            .filter(|c| c.favourable)
            .map(|c| c.code.clone())
            .collect();
        let facts = astore::facts(conn, committee, year, &favourable, self.db.today())
            .await
            .map_err(classify_db_error)?;
        let ids: Vec<Uuid> = facts.keys().copied().collect();
        let units: HashMap<Uuid, String> = office_store::units(conn, committee, Some(&ids), true)
            .await
            .map_err(classify_db_error)?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        let mut out: Vec<pb::UnitAssessment> = facts
            .iter()
            .map(|(unit, (f, proposals))| {
                let (scored, total) = assessment::score(&items, f);
                pb::UnitAssessment {
                    unit: ChildName::format(committee, "units", *unit),
                    unit_display_name: units.get(unit).cloned().unwrap_or_default(),
                    year: year.into(),
                    total,
                    items: scored
                        .into_iter()
                        .map(|s| pb::ItemScore {
                            code: s.code,
                            label: s.label,
                            points: s.points,
                            score: s.score,
                            basis: s.basis,
                        })
                        .collect(),
                    rank: 0,
                    proposal_count: *proposals as i32,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.total
                .total_cmp(&a.total)
                .then_with(|| a.unit_display_name.cmp(&b.unit_display_name))
        });
        let totals: Vec<f64> = out.iter().map(|a| a.total).collect();
        for (a, rank) in out.iter_mut().zip(assessment::ranks(&totals)) {
            a.rank = rank;
        }
        Ok(out)
    }

    pub(super) async fn list_overdue_impl(
        &self,
        request: Request<pb::ListOverdueRequest>,
    ) -> Result<Response<pb::ListOverdueResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let as_of =
            parse_date("as_of_date", req.as_of_date.as_ref())?.unwrap_or_else(|| self.db.today());
        let mut unit = if req.unit.is_empty() {
            None
        } else {
            Some(unit_name("unit", &req.unit, &committee)?)
        };
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        if actor.role == Role::HandlingUnit {
            let own = unit_id(&actor)
                .ok_or_else(|| ServiceError::permission_denied("this unit token names no unit"))?;
            if unit.is_some_and(|u| u != own) {
                return Err(ServiceError::permission_denied(
                    "a unit sees only what it has overdue",
                )
                .into());
            }
            unit = Some(own);
        }
        let mut conn = self.db.acquire().await?;
        let (settings, _) = office_store::settings(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?;
        let rows = astore::overdue(
            &mut conn,
            &committee,
            unit,
            as_of,
            settings.rating_days.into(),
        )
        .await
        .map_err(classify_db_error)?;
        Ok(Response::new(pb::ListOverdueResponse {
            items: rows
                .iter()
                .map(|r| pb::OverdueItem {
                    proposal: ChildName::format(&committee, "proposals", r.proposal_id),
                    title: r.title.clone(),
                    serial: r.serial.unwrap_or_default(),
                    kind: r.kind.into(),
                    unit: r
                        .unit_id
                        .map(|u| ChildName::format(&committee, "units", u))
                        .unwrap_or_default(),
                    unit_display_name: r.unit_name.clone().unwrap_or_default(),
                    members: r
                        .members
                        .iter()
                        .map(|m| ChildName::format(&committee, "members", *m))
                        .collect(),
                    due_date: Some(date(r.due)),
                    days_overdue: (as_of - r.due).whole_days() as i32,
                })
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::proposal_assessment_service_server::ProposalAssessmentService for Api {
    async fn set_assessment_rules(
        &self,
        request: Request<pb::SetAssessmentRulesRequest>,
    ) -> Result<Response<pb::SetAssessmentRulesResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let input = req
            .rules
            .as_ref()
            .ok_or_else(|| ServiceError::invalid("rules", "required"))?;
        let year = year_field("rules.year", input.year)?;
        let items = assessment::items_from_proto(&input.items)?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let before = astore::rules(change.conn(), &committee, year)
            .await
            .map_err(classify_db_error)?;
        astore::put_rules(change.conn(), &committee, year, &items)
            .await
            .map_err(classify_db_error)?;
        let (items, at) = self.table(change.conn(), &committee, year).await?;
        let after = rules_message(&committee, year, &items, at);
        change.audit(
            &committee,
            &after.name,
            before.map(|(i, at)| to_json(&rules_message(&committee, year, &i, Some(at)))),
            Some(to_json(&after)),
        );
        change.commit().await?;
        Ok(Response::new(pb::SetAssessmentRulesResponse {
            rules: Some(after),
        }))
    }

    async fn get_assessment_rules(
        &self,
        request: Request<pb::GetAssessmentRulesRequest>,
    ) -> Result<Response<pb::GetAssessmentRulesResponse>, Status> {
        let name = request.get_ref().name.clone();
        let bad = || {
            ServiceError::invalid(
                "name",
                format!(
                    "`{name}` is not a name like `committees/{{committee}}/assessmentRules/{{year}}`"
                ),
            )
        };
        let (parent, year) = name.rsplit_once("/assessmentRules/").ok_or_else(bad)?;
        let committee = committee_id(parent).ok_or_else(bad)?.to_owned();
        let year = year_field("name", year.parse().map_err(|_| bad())?)?;
        self.db.caller(&request, &committee, &name).await?;
        let mut conn = self.db.acquire().await?;
        let (items, at) = self.table(&mut conn, &committee, year).await?;
        Ok(Response::new(pb::GetAssessmentRulesResponse {
            rules: Some(rules_message(&committee, year, &items, at)),
        }))
    }

    async fn score_unit(
        &self,
        request: Request<pb::ScoreUnitRequest>,
    ) -> Result<Response<pb::ScoreUnitResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let unit = unit_name("unit", &req.unit, &committee)?;
        let year = year_field("year", req.year)?;
        let note = line(&req.note, 0, 500).map_err(|e| ServiceError::invalid("note", e))?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let mut change = self.db.change(&actor).await?;
        let (items, _) = self.table(change.conn(), &committee, year).await?;
        let item = items.iter().find(|i| i.code == req.code).ok_or_else(|| {
            ServiceError::invalid(
                "code",
                format!("`{}` is not an item of the {year} rule table", req.code),
            )
        })?;
        if item.measure != pb::AssessmentMeasure::Entered as i32 {
            return Err(ServiceError::invalid(
                "code",
                format!(
                    "`{}` is computed from the data; only entered items are scored by assessors",
                    req.code
                ),
            )
            .into());
        }
        if !(0.0..=f64::from(item.points)).contains(&req.score) || !req.score.is_finite() {
            return Err(
                ServiceError::invalid("score", format!("must be 0 to {}", item.points)).into(),
            );
        }
        if office_store::units(change.conn(), &committee, Some(&[unit]), true)
            .await
            .map_err(classify_db_error)?
            .is_empty()
        {
            return Err(
                ServiceError::invalid("unit", format!("{} does not exist", req.unit)).into(),
            );
        }
        astore::put_score(
            change.conn(),
            &committee,
            year,
            unit,
            &req.code,
            req.score,
            &note,
            &actor.subject,
        )
        .await
        .map_err(classify_db_error)?;
        let assessment = self
            .assessments(change.conn(), &committee, year)
            .await?
            .into_iter()
            .find(|a| a.unit == req.unit)
            .ok_or_else(|| ServiceError::internal("the unit just scored has no assessment"))?;
        change.audit(
            &committee,
            &format!("{}/assessments/{year}", req.unit),
            None,
            Some(to_json(&assessment)),
        );
        change.commit().await?;
        Ok(Response::new(pb::ScoreUnitResponse {
            assessment: Some(assessment),
        }))
    }

    async fn evaluate_unit(
        &self,
        request: Request<pb::EvaluateUnitRequest>,
    ) -> Result<Response<pb::EvaluateUnitResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let unit = unit_name("unit", &req.unit, &committee)?;
        let year = year_field("year", req.year)?;
        if !(0..=100).contains(&req.score) {
            return Err(ServiceError::invalid(
                "score",
                format!("must be 0 to 100, not {}", req.score),
            )
            .into());
        }
        let comment =
            line(&req.comment, 0, 1000).map_err(|e| ServiceError::invalid("comment", e))?;
        let actor = self.db.caller(&request, &committee, &req.parent).await?;
        let member = match actor.role {
            Role::Member => {
                let me = member_id(&actor).ok_or_else(|| {
                    ServiceError::permission_denied("this member token names no member")
                })?;
                if !req.member.is_empty()
                    && ChildName::parse(&req.member, "members").map(|m| m.id) != Some(me)
                {
                    return Err(ServiceError::permission_denied(
                        "a member evaluates for itself; leave member empty",
                    )
                    .into());
                }
                ChildName::format(&committee, "members", me)
            }
            _ if req.member.is_empty() => {
                return Err(ServiceError::invalid(
                    "member",
                    "required: the member whose score the office enters",
                )
                .into());
            }
            _ => req.member.clone(),
        };
        let member = self
            .members
            .in_office(&committee, "member", &[member])
            .await?
            .pop()
            .ok_or_else(|| ServiceError::internal("no member"))?;
        let mut change = self.db.change(&actor).await?;
        if office_store::units(change.conn(), &committee, Some(&[unit]), true)
            .await
            .map_err(classify_db_error)?
            .is_empty()
        {
            return Err(
                ServiceError::invalid("unit", format!("{} does not exist", req.unit)).into(),
            );
        }
        let (n, mean) = astore::put_evaluation(
            change.conn(),
            &committee,
            year,
            unit,
            member.id,
            req.score as i16,
            &comment,
            &actor.subject,
        )
        .await
        .map_err(classify_db_error)?;
        let response = pb::EvaluateUnitResponse {
            evaluations: n as i32,
            mean_score: (mean * 100.0).round() / 100.0,
        };
        change.audit(
            &committee,
            &format!("{}/evaluations/{year}/{}", req.unit, member.id),
            None,
            Some(serde_json::json!({ "score": req.score, "comment": comment })),
        );
        change.commit().await?;
        Ok(Response::new(response))
    }

    async fn list_unit_assessments(
        &self,
        request: Request<pb::ListUnitAssessmentsRequest>,
    ) -> Result<Response<pb::ListUnitAssessmentsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("parent", &req.parent)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.parent).await?;
        let mut conn = self.db.acquire().await?;
        let assessments = self.assessments(&mut conn, &committee, year).await?;
        Ok(Response::new(pb::ListUnitAssessmentsResponse {
            assessments,
        }))
    }

    async fn get_proposal_statistics(
        &self,
        request: Request<pb::GetProposalStatisticsRequest>,
    ) -> Result<Response<pb::GetProposalStatisticsResponse>, Status> {
        let req = request.get_ref();
        let committee = parse_committee("committee", &req.committee)?.to_owned();
        let year = year_field("year", req.year)?;
        self.db.caller(&request, &committee, &req.committee).await?;
        let mut conn = self.db.acquire().await?;
        let sessions = office_store::sessions(&mut conn, &committee, None)
            .await
            .map_err(classify_db_error)?;
        let of_year: Vec<Uuid> = sessions
            .iter()
            .filter(|s| s.year == year)
            .map(|s| s.id)
            .collect();
        let term = sessions
            .iter()
            .filter(|s| s.year == year)
            .map(|s| s.term)
            .max();
        let of_term: Vec<Uuid> = sessions
            .iter()
            .filter(|s| Some(s.term) == term && s.year <= year)
            .map(|s| s.id)
            .collect();
        let term_years: Vec<i16> = sessions
            .iter()
            .filter(|s| Some(s.term) == term && s.year <= year)
            .map(|s| s.year)
            .chain([year])
            .collect();
        let (settings, _) = office_store::settings(&mut conn, &committee)
            .await
            .map_err(classify_db_error)?;
        let favourable: Vec<String> = settings
            .categories
            .iter()
            .filter(|c| c.favourable)
            .map(|c| c.code.clone())
            .collect();
        let year_figures = astore::figures(&mut conn, &committee, &of_year, &[year], &favourable)
            .await
            .map_err(classify_db_error)?;
        let term_figures =
            astore::figures(&mut conn, &committee, &of_term, &term_years, &favourable)
                .await
                .map_err(classify_db_error)?;
        Ok(Response::new(pb::GetProposalStatisticsResponse {
            year: Some(statistics(&year_figures)),
            term: Some(statistics(&term_figures)),
        }))
    }
}
