//! The 100-point assessment of handling units (百分制考核): the rule table
//! and how a unit's year scores under it. Computed items give their points
//! times a share of the unit's year; entered items are what assessors
//! gave. Every score says what it came from.

use std::collections::{BTreeMap, HashSet};

use cppcc_kit::Violations;
use cppcc_proto::proposals::v1 as pb;
use serde::{Deserialize, Serialize};

/// One line of the rule table, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub code: String,
    pub label: String,
    pub points: i32,
    /// The AssessmentMeasure number.
    pub measure: i32,
}

/// The table used when a committee has set none for the year: the
/// quantitative parts the county's rules name, and 20 entered points.
pub fn default_items() -> Vec<Item> {
    let item = |code: &str, label: &str, points, measure: pb::AssessmentMeasure| Item {
        code: code.into(),
        label: label.into(),
        points,
        measure: measure as i32,
    };
    use pb::AssessmentMeasure as M;
    vec![
        item("on_time", "按时答复", 20, M::OnTimeReplies),
        item("contact", "办前办中沟通", 15, M::ContactBeforeReply),
        item("satisfaction", "提案者满意度", 20, M::Satisfaction),
        item("results", "解决采纳率(A/B)", 15, M::FavourableResults),
        item("look_back", "回头看落实情况", 5, M::LookBack),
        item("evaluation", "民主评议", 5, M::DemocraticEvaluation),
        item("quality", "答复质量(定性)", 20, M::Entered),
    ]
}

/// A rule table from a request, every fault named by its field.
pub fn items_from_proto(
    items: &[pb::AssessmentItem],
) -> Result<Vec<Item>, cppcc_kit::ServiceError> {
    let mut errors = Violations::default();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    errors.check(
        items.is_empty() || items.len() > 30,
        "rules.items",
        "give 1 to 30 items",
    );
    for (i, item) in items.iter().enumerate() {
        let field = format!("rules.items[{i}]");
        let code = item.code.trim();
        errors.check(
            code.is_empty()
                || code.len() > 32
                || !code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            &format!("{field}.code"),
            "must be 1 to 32 lower-case letters, digits or _",
        );
        errors.check(
            !seen.insert(code.to_owned()),
            &format!("{field}.code"),
            format!("`{code}` is given twice"),
        );
        let label =
            cppcc_kit::text::take_line(&mut errors, &format!("{field}.label"), &item.label, 1, 40);
        errors.check(
            !(1..=100).contains(&item.points),
            &format!("{field}.points"),
            format!("must be 1 to 100, not {}", item.points),
        );
        errors.check(
            matches!(
                pb::AssessmentMeasure::try_from(item.measure),
                Err(_) | Ok(pb::AssessmentMeasure::Unspecified)
            ),
            &format!("{field}.measure"),
            "must be set",
        );
        out.push(Item {
            code: code.to_owned(),
            label,
            points: item.points,
            measure: item.measure,
        });
    }
    let total: i32 = items.iter().map(|i| i.points.clamp(0, 100)).sum();
    if errors.is_empty() && total != 100 {
        errors.add(
            "rules.items",
            format!("the points must sum to 100, not {total}"),
        );
    }
    errors.finish()?;
    Ok(out)
}

/// What a unit did in a year, as the computed items read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// Replies due from the unit (lead or split): submitted, or past their
    /// day unanswered; and of them submitted on time.
    pub due: i64,
    pub on_time: i64,
    /// Replies the unit submitted.
    pub replies: i64,
    /// Of them, made after talking with the proposers.
    pub contacted: i64,
    /// Approved replies, and of them in a favourable category.
    pub approved: i64,
    pub favourable: i64,
    /// Ratings of the unit's proposals (last round): all, satisfied, basically.
    pub ratings: i64,
    pub satisfied: i64,
    pub basically: i64,
    /// Look-backs on its proposals: all, kept, partly kept.
    pub look_backs: i64,
    pub kept: i64,
    pub partly_kept: i64,
    /// Members' democratic evaluation: how many and their mean (0..100).
    pub evaluations: i64,
    pub evaluation_mean: f64,
    /// Entered scores by item code.
    pub entered: BTreeMap<String, f64>,
}

/// A unit's score on one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub code: String,
    pub label: String,
    pub points: i32,
    pub score: f64,
    pub basis: String,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn share(points: i32, part: f64, whole: i64, what: &str) -> (f64, String) {
    if whole == 0 {
        return (0.0, format!("nothing to count yet ({what})"));
    }
    let s = f64::from(points) * part / whole as f64;
    (round2(s), format!("{part} of {whole} {what}"))
}

/// The scores of `facts` under `items`, in the table's order, and their total.
pub fn score(items: &[Item], facts: &Facts) -> (Vec<Scored>, f64) {
    use pb::AssessmentMeasure as M;
    let scored: Vec<Scored> = items
        .iter()
        .map(|item| {
            let p = item.points;
            let (score, basis) = match M::try_from(item.measure).unwrap_or(M::Unspecified) {
                M::OnTimeReplies => {
                    share(p, facts.on_time as f64, facts.due, "replies due, on time")
                }
                M::ContactBeforeReply => share(
                    p,
                    facts.contacted as f64,
                    facts.replies,
                    "replies after talking with the proposers",
                ),
                M::Satisfaction => {
                    let part = facts.satisfied as f64 + facts.basically as f64 / 2.0;
                    let (s, _) = share(p, part, facts.ratings, "");
                    let basis = if facts.ratings == 0 {
                        "no ratings".to_owned()
                    } else {
                        format!(
                            "{} satisfied and {} basically satisfied (half) of {} ratings",
                            facts.satisfied, facts.basically, facts.ratings
                        )
                    };
                    (s, basis)
                }
                M::FavourableResults => share(
                    p,
                    facts.favourable as f64,
                    facts.approved,
                    "approved replies solved or planned",
                ),
                M::LookBack => {
                    if facts.look_backs == 0 {
                        (
                            f64::from(p),
                            "nothing looked back on: full points".to_owned(),
                        )
                    } else {
                        let part = facts.kept as f64 + facts.partly_kept as f64 / 2.0;
                        let (s, _) = share(p, part, facts.look_backs, "");
                        (
                            s,
                            format!(
                                "{} kept and {} partly kept (half) of {} look-backs",
                                facts.kept, facts.partly_kept, facts.look_backs
                            ),
                        )
                    }
                }
                M::DemocraticEvaluation => {
                    if facts.evaluations == 0 {
                        (0.0, "no member has evaluated the unit".to_owned())
                    } else {
                        (
                            round2(f64::from(p) * facts.evaluation_mean / 100.0),
                            format!(
                                "mean {:.2} of 100 from {} members",
                                facts.evaluation_mean, facts.evaluations
                            ),
                        )
                    }
                }
                M::Entered | M::Unspecified => match facts.entered.get(&item.code) {
                    Some(s) => (
                        round2(s.min(f64::from(p))),
                        "entered by the assessors".to_owned(),
                    ),
                    None => (0.0, "not scored yet".to_owned()),
                },
            };
            Scored {
                code: item.code.clone(),
                label: item.label.clone(),
                points: p,
                score,
                basis,
            }
        })
        .collect();
    let total = round2(scored.iter().map(|s| s.score).sum());
    (scored, total)
}

/// Ranks of `totals` (best first; equal totals share a rank, the next
/// rank skips: 1, 2, 2, 4).
pub fn ranks(totals: &[f64]) -> Vec<i32> {
    totals
        .iter()
        .map(|t| 1 + totals.iter().filter(|o| *o > t).count() as i32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(items: &[Item]) -> Vec<pb::AssessmentItem> {
        items
            .iter()
            .map(|i| pb::AssessmentItem {
                code: i.code.clone(),
                label: i.label.clone(),
                points: i.points,
                measure: i.measure,
            })
            .collect()
    }

    #[test]
    fn the_default_table_sums_to_100() {
        let items = default_items();
        assert_eq!(items.iter().map(|i| i.points).sum::<i32>(), 100);
        assert_eq!(items_from_proto(&proto(&items)).unwrap(), items);
    }

    #[test]
    fn a_table_not_summing_to_100_or_with_bad_lines_is_refused() {
        let mut items = proto(&default_items());
        items[0].points = 25;
        let e = items_from_proto(&items).unwrap_err();
        assert_eq!(e.field_violations()[0].field, "rules.items");
        assert!(e.field_violations()[0].description.contains("not 105"));
        items[0].points = 20;
        items[1].code = "on_time".into();
        items[2].measure = 0;
        let e = items_from_proto(&items).unwrap_err();
        let fields: Vec<&str> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(fields, ["rules.items[1].code", "rules.items[2].measure"]);
    }

    #[test]
    fn every_point_traces_to_its_facts() {
        let facts = Facts {
            due: 4,
            replies: 4,
            on_time: 3,
            contacted: 4,
            approved: 4,
            favourable: 2,
            ratings: 4,
            satisfied: 2,
            basically: 2,
            look_backs: 0,
            evaluations: 10,
            evaluation_mean: 90.0,
            entered: BTreeMap::from([("quality".to_owned(), 18.5)]),
            ..Facts::default()
        };
        let (scored, total) = score(&default_items(), &facts);
        let by_code: BTreeMap<&str, f64> =
            scored.iter().map(|s| (s.code.as_str(), s.score)).collect();
        assert_eq!(by_code["on_time"], 15.0);
        assert_eq!(by_code["contact"], 15.0);
        assert_eq!(by_code["satisfaction"], 15.0);
        assert_eq!(by_code["results"], 7.5);
        assert_eq!(by_code["look_back"], 5.0);
        assert_eq!(by_code["evaluation"], 4.5);
        assert_eq!(by_code["quality"], 18.5);
        assert_eq!(total, 80.5);
        assert_eq!(scored[0].basis, "3 of 4 replies due, on time");
        // A unit with nothing scores nothing on shares, and says so.
        let (scored, total) = score(&default_items(), &Facts::default());
        assert_eq!(
            scored[0].basis,
            "nothing to count yet (replies due, on time)"
        );
        assert_eq!(total, 5.0, "only the look-back's full points");
    }

    #[test]
    fn equal_totals_share_a_rank() {
        assert_eq!(ranks(&[90.0, 80.0, 80.0, 70.0]), [1, 2, 2, 4]);
    }
}
