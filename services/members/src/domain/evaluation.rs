//! The yearly evaluation (履职评价) and the five ones (五个一), computed
//! from duty-record entries: no I/O, deterministic, every point traced to
//! the entries it came from.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use cppcc_kit::{ServiceError, Violations};
use cppcc_proto::common::v1::DutyKind;
use cppcc_proto::members::v1 as pb;

/// The five ones, in order: a proposal, an opinion report, a suggestion,
/// friends made, a practical deed.
pub const FIVE_ONES: [DutyKind; 5] = [
    DutyKind::ProposalSubmitted,
    DutyKind::OpinionSubmitted,
    DutyKind::Suggestion,
    DutyKind::FriendsMade,
    DutyKind::PracticalDeed,
];

/// Which of the five ones a member with entries of `kinds` has done.
pub fn five_ones(has: impl Fn(DutyKind) -> bool) -> [bool; 5] {
    FIVE_ONES.map(has)
}

/// A kind of entry from its number; `None` for unspecified or unknown.
pub fn duty_kind(n: i32) -> Option<DutyKind> {
    DutyKind::try_from(n)
        .ok()
        .filter(|k| *k != DutyKind::Unspecified)
}

/// Points for one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindRule {
    pub kind: i32,
    pub points: i32,
    /// 0: no cap.
    pub yearly_cap: i32,
}

/// One of the four goods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FourGoodsRule {
    pub display_name: String,
    pub kinds: Vec<i32>,
    pub min_points: i32,
}

/// A year's evaluation rules, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub kinds: Vec<KindRule>,
    pub excellent: i32,
    pub qualified: i32,
    pub basic: i32,
    pub four_goods: Vec<FourGoodsRule>,
}

/// A grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Excellent,
    Qualified,
    Basic,
    Unqualified,
}

impl Grade {
    pub fn to_proto(self) -> pb::Grade {
        match self {
            Grade::Excellent => pb::Grade::Excellent,
            Grade::Qualified => pb::Grade::Qualified,
            Grade::Basic => pb::Grade::Basic,
            Grade::Unqualified => pb::Grade::Unqualified,
        }
    }
}

fn rule(kind: DutyKind, points: i32, yearly_cap: i32) -> KindRule {
    KindRule {
        kind: kind as i32,
        points,
        yearly_cap,
    }
}

fn good(name: &str, kinds: &[DutyKind], min_points: i32) -> FourGoodsRule {
    FourGoodsRule {
        display_name: name.to_owned(),
        kinds: kinds.iter().map(|k| *k as i32).collect(),
        min_points,
    }
}

impl Rules {
    /// The rules a committee has until it sets its own.
    pub fn defaults() -> Rules {
        use DutyKind::*;
        Rules {
            kinds: vec![
                rule(ProposalSubmitted, 5, 20),
                rule(ProposalFiled, 3, 15),
                rule(OpinionSubmitted, 3, 15),
                rule(OpinionAdopted, 5, 20),
                rule(OpinionAdoptedUpward, 8, 24),
                rule(ResearchInspection, 3, 15),
                rule(ConsultationGrassroots, 3, 15),
                rule(ConsultationOther, 2, 10),
                rule(MeetingAttended, 2, 20),
                rule(MeetingExcused, 0, 0),
                rule(PlenarySpeech, 5, 10),
                rule(PolicyPublicity, 1, 10),
                rule(PracticalDeed, 3, 15),
                rule(Training, 1, 5),
                rule(Suggestion, 2, 10),
                rule(FriendsMade, 1, 5),
            ],
            excellent: 60,
            qualified: 30,
            basic: 15,
            four_goods: vec![
                good(
                    "履行职责好",
                    &[
                        ProposalSubmitted,
                        ProposalFiled,
                        MeetingAttended,
                        PlenarySpeech,
                    ],
                    10,
                ),
                good(
                    "服务发展好",
                    &[ResearchInspection, ConsultationOther, Suggestion],
                    5,
                ),
                good(
                    "联系群众好",
                    &[
                        ConsultationGrassroots,
                        PolicyPublicity,
                        PracticalDeed,
                        OpinionSubmitted,
                    ],
                    8,
                ),
                good(
                    "社会形象好",
                    &[Training, FriendsMade, OpinionAdopted, OpinionAdoptedUpward],
                    2,
                ),
            ],
        }
    }

    /// Checks rules sent by a caller; every problem at once.
    pub fn from_proto(p: &pb::EvaluationRules) -> Result<Rules, ServiceError> {
        let mut errors = Violations::default();
        let mut seen = Vec::new();
        for (i, r) in p.kind_rules.iter().enumerate() {
            let field = |f: &str| format!("rules.kind_rules[{i}].{f}");
            match duty_kind(r.kind) {
                None => errors.add(field("kind"), format!("{} is not a DutyKind", r.kind)),
                Some(k) if seen.contains(&k) => errors.add(
                    field("kind"),
                    format!("{} is listed twice", k.as_str_name()),
                ),
                Some(k) => seen.push(k),
            }
            errors.check(
                !(0..=1000).contains(&r.points),
                &field("points"),
                "must be between 0 and 1000",
            );
            errors.check(
                !(0..=10_000).contains(&r.yearly_cap),
                &field("yearly_cap"),
                "must be between 0 (no cap) and 10000",
            );
        }
        errors.check(
            p.basic_threshold <= 0,
            "rules.basic_threshold",
            format!("must be above 0, not {}", p.basic_threshold),
        );
        errors.check(
            p.qualified_threshold <= p.basic_threshold,
            "rules.qualified_threshold",
            format!(
                "must be above basic_threshold ({}), or the grades overlap; not {}",
                p.basic_threshold, p.qualified_threshold
            ),
        );
        errors.check(
            p.excellent_threshold <= p.qualified_threshold,
            "rules.excellent_threshold",
            format!(
                "must be above qualified_threshold ({}), or the grades overlap; not {}",
                p.qualified_threshold, p.excellent_threshold
            ),
        );
        errors.check(
            p.four_goods.len() > 4,
            "rules.four_goods",
            "at most four goods",
        );
        for (i, g) in p.four_goods.iter().enumerate() {
            let field = |f: &str| format!("rules.four_goods[{i}].{f}");
            if let Err(e) = super::text(&g.display_name, 1, 20) {
                errors.add(field("display_name"), e);
            }
            errors.check(g.kinds.is_empty(), &field("kinds"), "names no kind");
            for (j, k) in g.kinds.iter().enumerate() {
                let problem = match duty_kind(*k) {
                    None => Some(format!("{k} is not a DutyKind")),
                    Some(kind) if g.kinds[..j].contains(k) => {
                        Some(format!("{} is listed twice", kind.as_str_name()))
                    }
                    // Points of a kind that scores nothing could never count.
                    Some(kind) if !p.kind_rules.iter().any(|r| r.kind == *k && r.points > 0) => {
                        Some(format!(
                            "{} scores no points in kind_rules, so it could never count",
                            kind.as_str_name()
                        ))
                    }
                    Some(_) => None,
                };
                if let Some(problem) = problem {
                    errors.add(field("kinds"), problem);
                }
            }
            errors.check(
                g.min_points < 0,
                &field("min_points"),
                "must not be negative",
            );
        }
        errors.finish()?;
        Ok(Rules {
            kinds: p
                .kind_rules
                .iter()
                .map(|r| KindRule {
                    kind: r.kind,
                    points: r.points,
                    yearly_cap: r.yearly_cap,
                })
                .collect(),
            excellent: p.excellent_threshold,
            qualified: p.qualified_threshold,
            basic: p.basic_threshold,
            four_goods: p
                .four_goods
                .iter()
                .map(|g| FourGoodsRule {
                    display_name: g.display_name.trim().to_owned(),
                    kinds: g.kinds.clone(),
                    min_points: g.min_points,
                })
                .collect(),
        })
    }

    /// The rules as protobuf (name, time and etag left to the caller).
    pub fn to_proto(&self) -> pb::EvaluationRules {
        pb::EvaluationRules {
            name: String::new(),
            kind_rules: self
                .kinds
                .iter()
                .map(|r| pb::KindRule {
                    kind: r.kind,
                    points: r.points,
                    yearly_cap: r.yearly_cap,
                })
                .collect(),
            excellent_threshold: self.excellent,
            qualified_threshold: self.qualified,
            basic_threshold: self.basic,
            four_goods: self
                .four_goods
                .iter()
                .map(|g| pb::FourGoodsRule {
                    display_name: g.display_name.clone(),
                    kinds: g.kinds.clone(),
                    min_points: g.min_points,
                })
                .collect(),
            update_time: None,
            etag: String::new(),
        }
    }

    fn grade(&self, score: i32) -> Grade {
        if score >= self.excellent {
            Grade::Excellent
        } else if score >= self.qualified {
            Grade::Qualified
        } else if score >= self.basic {
            Grade::Basic
        } else {
            Grade::Unqualified
        }
    }

    /// Scores one member from the member's entries per kind (their ids, or
    /// only their count when the ids are not needed).
    pub fn score(&self, entries: &BTreeMap<i32, Entries>) -> Score {
        let mut lines = Vec::new();
        let mut points_by_kind = HashMap::new();
        for rule in &self.kinds {
            let Some(found) = entries.get(&rule.kind) else {
                continue;
            };
            let raw = found.count.saturating_mul(rule.points);
            let points = if rule.yearly_cap > 0 {
                raw.min(rule.yearly_cap)
            } else {
                raw
            };
            points_by_kind.insert(rule.kind, points);
            lines.push(Line {
                kind: rule.kind,
                entries: found.clone(),
                points_each: rule.points,
                raw_points: raw,
                points,
            });
        }
        // Kinds with entries but no rule score nothing, and are shown so.
        for (kind, found) in entries {
            if !self.kinds.iter().any(|r| r.kind == *kind) {
                lines.push(Line {
                    kind: *kind,
                    entries: found.clone(),
                    points_each: 0,
                    raw_points: 0,
                    points: 0,
                });
            }
        }
        lines.sort_by_key(|l| l.kind);
        let total = lines
            .iter()
            .fold(0i32, |sum, l| sum.saturating_add(l.points));
        let grade = self.grade(total);
        let four_goods = grade == Grade::Excellent
            && !self.four_goods.is_empty()
            && self.four_goods.iter().all(|g| {
                let earned = g
                    .kinds
                    .iter()
                    .filter_map(|k| points_by_kind.get(k))
                    .fold(0i32, |sum, p| sum.saturating_add(*p));
                earned >= g.min_points
            });
        Score {
            total,
            grade,
            four_goods,
            lines,
        }
    }
}

/// A member's entries of one kind in the year.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub count: i32,
    /// Their ids, when asked for (one member's evaluation).
    pub ids: Vec<Uuid>,
}

/// The points of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: i32,
    pub entries: Entries,
    pub points_each: i32,
    pub raw_points: i32,
    pub points: i32,
}

/// A member's score for a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    pub total: i32,
    pub grade: Grade,
    pub four_goods: bool,
    pub lines: Vec<Line>,
}

/// Standard competition ranks ("1224"): a member's place is one more than
/// the number of members who scored higher. Returns the ranks in the input
/// order.
pub fn ranks(scores: &[i32]) -> Vec<i32> {
    let mut sorted: Vec<i32> = scores.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    scores
        .iter()
        .map(|s| 1 + sorted.partition_point(|x| x > s) as i32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(pairs: &[(DutyKind, i32)]) -> BTreeMap<i32, Entries> {
        pairs
            .iter()
            .map(|(k, n)| {
                (
                    *k as i32,
                    Entries {
                        count: *n,
                        ids: Vec::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn points_caps_and_grades() {
        let rules = Rules::defaults();
        // 5 proposals × 5 = 25, capped at 20; 12 publicity × 1 = 12, capped at 10.
        let s = rules.score(&entries(&[
            (DutyKind::ProposalSubmitted, 5),
            (DutyKind::PolicyPublicity, 12),
        ]));
        assert_eq!(s.total, 30);
        assert_eq!(s.grade, Grade::Qualified);
        let line = &s.lines[0];
        assert_eq!((line.raw_points, line.points), (25, 20));
        assert_eq!(rules.score(&BTreeMap::new()).grade, Grade::Unqualified);
        assert_eq!(
            rules.score(&entries(&[(DutyKind::PracticalDeed, 5)])).grade,
            Grade::Basic
        );
    }

    #[test]
    fn four_goods_needs_excellence_and_every_good() {
        let rules = Rules::defaults();
        let all = entries(&[
            (DutyKind::ProposalSubmitted, 4),
            (DutyKind::ResearchInspection, 5),
            (DutyKind::ConsultationGrassroots, 5),
            (DutyKind::Training, 2),
            (DutyKind::MeetingAttended, 5),
        ]);
        let s = rules.score(&all);
        assert_eq!(s.total, 20 + 15 + 15 + 2 + 10);
        assert_eq!(s.grade, Grade::Excellent);
        assert!(s.four_goods);
        let mut missing_one = all.clone();
        missing_one.remove(&(DutyKind::Training as i32));
        missing_one.insert(
            DutyKind::PlenarySpeech as i32,
            Entries {
                count: 2,
                ids: vec![],
            },
        );
        let s = rules.score(&missing_one);
        assert_eq!(s.grade, Grade::Excellent);
        assert!(!s.four_goods, "社会形象好 has no points");
    }

    #[test]
    fn unruled_kinds_show_but_score_nothing() {
        let mut rules = Rules::defaults();
        rules
            .kinds
            .retain(|r| r.kind != DutyKind::FriendsMade as i32);
        let s = rules.score(&entries(&[(DutyKind::FriendsMade, 3)]));
        assert_eq!(s.total, 0);
        assert_eq!(s.lines.len(), 1);
        assert_eq!(s.lines[0].entries.count, 3);
    }

    #[test]
    fn ranks_share_places() {
        assert_eq!(ranks(&[10, 30, 20, 30]), [4, 1, 3, 1]);
        assert_eq!(ranks(&[]), Vec::<i32>::new());
    }

    #[test]
    fn rules_are_checked() {
        let mut p = Rules::defaults().to_proto();
        assert_eq!(Rules::from_proto(&p).unwrap(), Rules::defaults());
        p.qualified_threshold = p.excellent_threshold;
        p.kind_rules.push(pb::KindRule {
            kind: DutyKind::Training as i32,
            points: -1,
            yearly_cap: 0,
        });
        p.four_goods[0].kinds.clear();
        let e = Rules::from_proto(&p).unwrap_err();
        let fields: Vec<_> = e
            .field_violations()
            .iter()
            .map(|v| v.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "rules.kind_rules[16].kind",
                "rules.kind_rules[16].points",
                "rules.excellent_threshold",
                "rules.four_goods[0].kinds"
            ]
        );
        assert!(e.field_violations()[2].description.contains("overlap"));
    }

    #[test]
    fn a_good_counts_each_scoring_kind_once() {
        let mut p = Rules::defaults().to_proto();
        let kind = DutyKind::OpinionAdopted as i32;
        p.four_goods[0].kinds = vec![kind, kind, DutyKind::MeetingExcused as i32];
        let e = Rules::from_proto(&p).unwrap_err();
        let problems: Vec<_> = e
            .field_violations()
            .iter()
            .map(|v| (v.field.as_str(), v.description.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "rules.four_goods[0].kinds",
                    "DUTY_KIND_OPINION_ADOPTED is listed twice"
                ),
                (
                    "rules.four_goods[0].kinds",
                    "DUTY_KIND_MEETING_EXCUSED scores no points in kind_rules, so it could never count"
                ),
            ]
        );
    }

    #[test]
    fn five_ones_follow_the_kinds() {
        let done = five_ones(|k| k != DutyKind::FriendsMade);
        assert_eq!(done, [true, true, true, false, true]);
    }
}
