//! The published figures (DOMAIN.md, "Reference figures"), each read from
//! a field of a statistics response: the flat list a county office prints.
//!
//! A figure's key is `{section}.{figure}`; its year value comes from the
//! year's figures, its term value from the term's when the statistics
//! count both. A count a statistics list leaves out (no activities of a
//! kind, no entries of a duty kind) is zero.

use cppcc_proto::common::v1::{DutyKind, Money};
use cppcc_proto::consultations::v1 as cpb;
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::opinions::v1 as opb;
use cppcc_proto::proposals::v1 as ppb;
use cppcc_proto::reports::v1::{Figure, FigureUnit, GetAnnualReportResponse, Section};

/// Every figure of a report, from the statistics it carries, section by
/// section (members, proposals, consultations, opinions).
pub fn flatten(report: &GetAnnualReportResponse) -> Vec<Figure> {
    let mut out = Vec::new();
    if let Some(s) = report.members.as_ref().and_then(|m| m.statistics.as_ref()) {
        member_figures(s, &mut out);
    }
    if let Some(p) = &report.proposals {
        proposal_figures(p, &mut out);
    }
    if let Some(c) = &report.consultations {
        consultation_figures(c, &mut out);
    }
    if let Some(s) = report.opinions.as_ref().and_then(|o| o.statistics.as_ref()) {
        opinion_figures(s, &mut out);
    }
    out
}

/// Figures of one section as they are added.
struct Sheet<'a> {
    section: Section,
    out: &'a mut Vec<Figure>,
}

impl Sheet<'_> {
    fn add(
        &mut self,
        key: &str,
        label: &str,
        unit: FigureUnit,
        year_value: f64,
        term_value: Option<f64>,
    ) {
        self.out.push(Figure {
            key: key.to_owned(),
            label: label.to_owned(),
            section: self.section as i32,
            unit: unit as i32,
            year_value,
            term_value,
        });
    }

    /// A count of the year only (or of how things stand now).
    fn count(&mut self, key: &str, label: &str, year: i32) {
        self.add(key, label, FigureUnit::Count, year.into(), None);
    }

    /// A count of the year and of the term to date.
    fn counts(&mut self, key: &str, label: &str, year: i32, term: Option<i32>) {
        self.add(
            key,
            label,
            FigureUnit::Count,
            year.into(),
            term.map(f64::from),
        );
    }

    /// A ratio of the year and of the term to date.
    fn ratios(&mut self, key: &str, label: &str, year: f64, term: Option<f64>) {
        self.add(key, label, FigureUnit::Ratio, year, term);
    }

    /// An amount of the year, in yuan.
    fn yuan(&mut self, key: &str, label: &str, amount: Option<&Money>) {
        let fen = amount.map_or(0, |m| m.fen);
        self.add(key, label, FigureUnit::Yuan, fen as f64 / 100.0, None);
    }
}

/// The duty kinds counted, with their keys and labels: the five the seed
/// publishes "since the term began" first, then the rest.
const DUTY_FIGURES: &[(DutyKind, &str, &str)] = &[
    (
        DutyKind::PolicyPublicity,
        "policy_publicity",
        "政策宣传（人次）",
    ),
    (
        DutyKind::ResearchInspection,
        "research_inspection",
        "参加调研视察（人次）",
    ),
    (
        DutyKind::ConsultationGrassroots,
        "consultation_grassroots",
        "参与基层协商议事（人次）",
    ),
    (
        DutyKind::OpinionSubmitted,
        "opinion_submitted",
        "反映社情民意信息（篇）",
    ),
    (
        DutyKind::PracticalDeed,
        "practical_deed",
        "兴办便民利民实事（件）",
    ),
    (
        DutyKind::ProposalSubmitted,
        "proposal_submitted",
        "提交提案（人次）",
    ),
    (
        DutyKind::ProposalFiled,
        "proposal_filed",
        "提案立案（人次）",
    ),
    (
        DutyKind::OpinionAdopted,
        "opinion_adopted",
        "社情民意信息本级采用（篇）",
    ),
    (
        DutyKind::OpinionAdoptedUpward,
        "opinion_adopted_upward",
        "社情民意信息上级采用（篇）",
    ),
    (
        DutyKind::OpinionInstructed,
        "opinion_instructed",
        "社情民意信息获领导批示（篇）",
    ),
    (
        DutyKind::ConsultationOther,
        "consultation_other",
        "参与其他协商（人次）",
    ),
    (
        DutyKind::MeetingAttended,
        "meeting_attended",
        "出席会议（人次）",
    ),
    (DutyKind::MeetingExcused, "meeting_excused", "请假（人次）"),
    (
        DutyKind::PlenarySpeech,
        "plenary_speech",
        "大会发言（人次）",
    ),
    (DutyKind::Training, "training", "学习培训（人次）"),
    (DutyKind::Suggestion, "suggestion", "合理化建议（条）"),
    (DutyKind::FriendsMade, "friends_made", "交朋友（人次）"),
];

fn kind_count(counts: &[mpb::KindCount], kind: DutyKind) -> i32 {
    counts
        .iter()
        .filter(|k| k.kind == kind as i32)
        .map(|k| k.count)
        .sum()
}

fn member_figures(s: &mpb::MemberStatistics, out: &mut Vec<Figure>) {
    let mut f = Sheet {
        section: Section::Members,
        out,
    };
    f.count("members.total", "委员总数", s.members);
    f.count("members.city_members", "其中市政协委员", s.city_members);
    f.count(
        "members.special_committees",
        "专门委员会",
        s.special_committees,
    );
    f.count(
        "members.liaison_stations",
        "社情民意联络站",
        s.liaison_stations,
    );
    f.count("members.informants", "信息员", s.informants);
    f.count(
        "members.reporting_opinions",
        "反映社情民意信息的委员",
        kind_count(&s.year_members, DutyKind::OpinionSubmitted),
    );
    f.count(
        "members.five_ones_complete",
        "完成“五个一”的委员",
        s.five_ones_complete,
    );
    for (kind, key, label) in DUTY_FIGURES {
        f.counts(
            &format!("members.duty.{key}"),
            label,
            kind_count(&s.year_entries, *kind),
            Some(kind_count(&s.term_entries, *kind)),
        );
    }
}

fn proposal_figures(p: &ppb::GetProposalStatisticsResponse, out: &mut Vec<Figure>) {
    let Some(year) = &p.year else { return };
    let term = p.term.as_ref();
    let mut f = Sheet {
        section: Section::Proposals,
        out,
    };
    type Count = fn(&ppb::ProposalStatistics) -> i32;
    type Ratio = fn(&ppb::ProposalStatistics) -> f64;
    let counts: [(&str, &str, Count); 4] = [
        ("proposals.submitted", "提交提案", |s| s.submitted),
        ("proposals.filed", "立案提案", |s| s.filed),
        (
            "proposals.distinct_proposers",
            "提出提案的委员",
            |s| s.distinct_proposers,
        ),
        ("proposals.key_proposals", "重点提案", |s| {
            s.key_proposals
        }),
    ];
    for (key, label, of) in counts {
        f.counts(key, label, of(year), term.map(of));
    }
    let ratios: [(&str, &str, Ratio); 5] = [
        ("proposals.filing_rate", "立案率", |s| s.filing_rate),
        ("proposals.on_time_reply_rate", "按时答复率", |s| {
            s.on_time_reply_rate
        }),
        (
            "proposals.contact_rate",
            "办前沟通率（面商率）",
            |s| s.contact_rate,
        ),
        (
            "proposals.satisfaction_rate",
            "满意率（满意和基本满意）",
            |s| s.satisfaction_rate,
        ),
        ("proposals.favourable_share", "A、B类答复占比", |s| {
            s.favourable_share
        }),
    ];
    for (key, label, of) in ratios {
        f.ratios(key, label, of(year), term.map(of));
    }
    let counts: [(&str, &str, Count); 4] = [
        (
            "proposals.key_proposals_closed",
            "重点提案办结",
            |s| s.key_proposals_closed,
        ),
        ("proposals.look_backs", "重点提案“回头看”", |s| {
            s.look_backs
        }),
        ("proposals.instructions", "提案领导批示", |s| {
            s.instructions
        }),
        ("proposals.excellent", "优秀提案", |s| s.excellent),
    ];
    for (key, label, of) in counts {
        f.counts(key, label, of(year), term.map(of));
    }
}

/// The activity kinds counted, with their keys and labels.
const ACTIVITY_KINDS: &[(cpb::ActivityKind, &str, &str)] = &[
    (cpb::ActivityKind::Frontline, "frontline", "一线协商活动"),
    (
        cpb::ActivityKind::ResearchInspection,
        "research_inspection",
        "调研视察活动",
    ),
    (cpb::ActivityKind::SpecialTopic, "special_topic", "专题协商"),
    (
        cpb::ActivityKind::StandingCommittee,
        "standing_committee",
        "议政性常委会",
    ),
    (cpb::ActivityKind::Plenary, "plenary", "全体会议协商"),
    (cpb::ActivityKind::Sector, "sector", "界别协商"),
    (
        cpb::ActivityKind::ProposalHandling,
        "proposal_handling",
        "提案办理协商",
    ),
];

/// The platform levels counted, with their keys and labels.
const PLATFORM_LEVELS: &[(cpb::PlatformLevel, &str, &str)] = &[
    (cpb::PlatformLevel::Township, "township", "乡镇协商议事平台"),
    (
        cpb::PlatformLevel::Village,
        "village",
        "村（社区）协商议事平台",
    ),
    (
        cpb::PlatformLevel::Enterprise,
        "enterprise",
        "企事业单位议事平台",
    ),
];

/// The count under `label` (an enum value's name); zero when not listed.
fn labelled(counts: &[cpb::KindCount], label: &str) -> i32 {
    counts
        .iter()
        .filter(|k| k.label == label)
        .map(|k| k.count)
        .sum()
}

fn consultation_figures(c: &cpb::GetConsultationStatisticsResponse, out: &mut Vec<Figure>) {
    let mut f = Sheet {
        section: Section::Consultations,
        out,
    };
    f.count("consultations.platforms", "协商议事平台", c.platforms);
    for (level, key, label) in PLATFORM_LEVELS {
        f.count(
            &format!("consultations.platforms.{key}"),
            label,
            labelled(&c.platforms_by_level, level.as_str_name()),
        );
    }
    f.count(
        "consultations.platforms_compliant",
        "达到“五有”标准的平台",
        c.platforms_compliant,
    );
    f.ratios(
        "consultations.plan_completion",
        "年度协商计划完成率",
        c.plan_completion,
        None,
    );

    if let Some(year) = &c.year {
        let term = c.term.as_ref();
        let total =
            |s: &cpb::ConsultationFigures| s.activities_by_kind.iter().map(|k| k.count).sum();
        f.counts(
            "consultations.activities",
            "协商活动",
            total(year),
            term.map(total),
        );
        for (kind, key, label) in ACTIVITY_KINDS {
            let of =
                |s: &cpb::ConsultationFigures| labelled(&s.activities_by_kind, kind.as_str_name());
            f.counts(
                &format!("consultations.activities.{key}"),
                label,
                of(year),
                term.map(of),
            );
        }
        type Count = fn(&cpb::ConsultationFigures) -> i32;
        let frontline = cpb::ActivityKind::Frontline.as_str_name();
        let research = cpb::ActivityKind::ResearchInspection.as_str_name();
        let counts: [(&str, &str, Count); 2] = [
            (
                "consultations.participations",
                "参与人次（委员、干部、群众）",
                |s| s.participations,
            ),
            (
                "consultations.member_participations",
                "委员参与人次",
                |s| s.member_participations,
            ),
        ];
        for (key, label, of) in counts {
            f.counts(key, label, of(year), term.map(of));
        }
        let of = |s: &cpb::ConsultationFigures| labelled(&s.participations_by_kind, frontline);
        f.counts(
            "consultations.participations.frontline",
            "一线协商参与人次",
            of(year),
            term.map(of),
        );
        let of =
            |s: &cpb::ConsultationFigures| labelled(&s.member_participations_by_kind, research);
        f.counts(
            "consultations.member_participations.research_inspection",
            "委员参加调研视察人次",
            of(year),
            term.map(of),
        );
        let counts: [(&str, &str, Count); 9] = [
            (
                "consultations.members_taking_part",
                "参与协商的委员",
                |s| s.members_taking_part,
            ),
            ("consultations.opinions", "收集意见建议", |s| {
                s.opinions
            }),
            ("consultations.problems", "发现问题", |s| s.problems),
            ("consultations.problems_solved", "解决实际问题", |s| {
                s.problems_solved
            }),
            ("consultations.reports", "调研视察报告", |s| s.reports),
            ("consultations.results", "报送协商成果", |s| s.results),
            ("consultations.results_adopted", "协商成果采纳", |s| {
                s.results_adopted
            }),
            (
                "consultations.instructions",
                "协商成果领导批示",
                |s| s.instructions,
            ),
            ("consultations.publications", "《建言资政》", |s| {
                s.publications
            }),
        ];
        for (key, label, of) in counts {
            f.counts(key, label, of(year), term.map(of));
        }
    }

    if let Some(b) = &c.budget {
        f.yuan(
            "consultations.budget",
            "议政平台专项经费（元）",
            b.amount.as_ref(),
        );
        f.yuan(
            "consultations.budget.allotted",
            "专项经费已分配（元）",
            b.allotted.as_ref(),
        );
        f.yuan(
            "consultations.budget.spent",
            "专项经费已使用（元）",
            b.spent.as_ref(),
        );
        f.count(
            "consultations.budget.platforms_funded",
            "获得经费的平台",
            b.platforms_funded,
        );
    }
}

fn opinion_figures(s: &opb::OpinionStatistics, out: &mut Vec<Figure>) {
    let Some(year) = &s.year_figures else { return };
    let term = s.term_figures.as_ref();
    let mut f = Sheet {
        section: Section::Opinions,
        out,
    };
    type Count = fn(&opb::OpinionFigures) -> i32;
    let counts: [(&str, &str, Count); 11] = [
        ("opinions.submitted", "社情民意信息", |s| s.submitted),
        ("opinions.submitted_by_members", "其中委员报送", |s| {
            s.submitted_by_members
        }),
        (
            "opinions.submitted_by_informants",
            "其中信息员报送",
            |s| s.submitted_by_informants,
        ),
        (
            "opinions.submitted_by_staff",
            "其中机关干部报送",
            |s| s.submitted_by_staff,
        ),
        (
            "opinions.member_contributors",
            "反映社情民意信息的委员",
            |s| s.member_contributors,
        ),
        ("opinions.accepted", "采用", |s| s.accepted),
        ("opinions.not_accepted", "未采用", |s| s.not_accepted),
        (
            "opinions.published",
            "刊发于《社情民意简报》",
            |s| s.published,
        ),
        (
            "opinions.bulletin_issues",
            "《社情民意简报》期数",
            |s| s.bulletin_issues,
        ),
        ("opinions.forwarded", "报送上级政协", |s| s.forwarded),
        ("opinions.adopted_upward", "被上级政协采用", |s| {
            s.adopted_upward
        }),
    ];
    for (key, label, of) in counts {
        f.counts(key, label, of(year), term.map(of));
    }
    f.ratios(
        "opinions.adoption_rate",
        "上级采用率",
        year.adoption_rate,
        term.map(|t| t.adoption_rate),
    );
    let counts: [(&str, &str, Count); 3] = [
        ("opinions.instructions", "社情民意领导批示", |s| {
            s.instructions
        }),
        ("opinions.sent_for_handling", "交有关单位办理", |s| {
            s.sent_for_handling
        }),
        ("opinions.handlings_closed", "办理办结", |s| {
            s.handlings_closed
        }),
    ];
    for (key, label, of) in counts {
        f.counts(key, label, of(year), term.map(of));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn members() -> mpb::GetMemberStatisticsResponse {
        mpb::GetMemberStatisticsResponse {
            statistics: Some(mpb::MemberStatistics {
                committee: "committees/suixian".into(),
                year: 2023,
                term: 4,
                members: 338,
                city_members: 37,
                special_committees: 7,
                liaison_stations: 26,
                informants: 52,
                five_ones_complete: 120,
                year_entries: vec![
                    mpb::KindCount {
                        kind: DutyKind::PolicyPublicity as i32,
                        count: 400,
                    },
                    mpb::KindCount {
                        kind: DutyKind::OpinionSubmitted as i32,
                        count: 90,
                    },
                ],
                term_entries: vec![
                    mpb::KindCount {
                        kind: DutyKind::PolicyPublicity as i32,
                        count: 1200,
                    },
                    mpb::KindCount {
                        kind: DutyKind::OpinionSubmitted as i32,
                        count: 216,
                    },
                ],
                year_members: vec![mpb::KindCount {
                    kind: DutyKind::OpinionSubmitted as i32,
                    count: 47,
                }],
                ..Default::default()
            }),
        }
    }

    fn proposals() -> ppb::GetProposalStatisticsResponse {
        ppb::GetProposalStatisticsResponse {
            year: Some(ppb::ProposalStatistics {
                submitted: 150,
                filed: 120,
                filing_rate: 0.8,
                key_proposals: 5,
                ..Default::default()
            }),
            term: Some(ppb::ProposalStatistics {
                submitted: 400,
                filed: 330,
                filing_rate: 0.825,
                key_proposals: 14,
                ..Default::default()
            }),
        }
    }

    fn consultations() -> cpb::GetConsultationStatisticsResponse {
        let kc = |label: &str, count| cpb::KindCount {
            label: label.into(),
            count,
        };
        cpb::GetConsultationStatisticsResponse {
            year: Some(cpb::ConsultationFigures {
                activities_by_kind: vec![
                    kc("ACTIVITY_KIND_FRONTLINE", 130),
                    kc("ACTIVITY_KIND_RESEARCH_INSPECTION", 16),
                ],
                participations: 6100,
                participations_by_kind: vec![kc("ACTIVITY_KIND_FRONTLINE", 6000)],
                member_participations_by_kind: vec![kc("ACTIVITY_KIND_RESEARCH_INSPECTION", 230)],
                problems_solved: 120,
                publications: 10,
                ..Default::default()
            }),
            term: Some(cpb::ConsultationFigures {
                activities_by_kind: vec![kc("ACTIVITY_KIND_RESEARCH_INSPECTION", 31)],
                member_participations_by_kind: vec![kc("ACTIVITY_KIND_RESEARCH_INSPECTION", 460)],
                ..Default::default()
            }),
            platforms_by_level: vec![
                kc("PLATFORM_LEVEL_TOWNSHIP", 20),
                kc("PLATFORM_LEVEL_VILLAGE", 195),
                kc("PLATFORM_LEVEL_ENTERPRISE", 61),
            ],
            platforms: 276,
            plan_completion: 0.75,
            budget: Some(cpb::PlatformBudget {
                amount: Some(Money { fen: 50_000_000 }),
                allotted: Some(Money { fen: 12_345 }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn opinions() -> opb::GetOpinionStatisticsResponse {
        opb::GetOpinionStatisticsResponse {
            statistics: Some(opb::OpinionStatistics {
                year_figures: Some(opb::OpinionFigures {
                    forwarded: 12,
                    adopted_upward: 6,
                    adoption_rate: 0.5,
                    member_contributors: 47,
                    ..Default::default()
                }),
                term_figures: Some(opb::OpinionFigures {
                    submitted_by_members: 216,
                    forwarded: 20,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }

    fn report() -> GetAnnualReportResponse {
        GetAnnualReportResponse {
            committee: "committees/suixian".into(),
            year: 2023,
            members: Some(members()),
            proposals: Some(proposals()),
            consultations: Some(consultations()),
            opinions: Some(opinions()),
            ..Default::default()
        }
    }

    fn find<'a>(figures: &'a [Figure], key: &str) -> &'a Figure {
        figures
            .iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no figure {key}"))
    }

    fn values(figures: &[Figure], key: &str) -> (f64, Option<f64>) {
        let f = find(figures, key);
        (f.year_value, f.term_value)
    }

    #[test]
    fn every_figure_comes_from_its_field() {
        let f = flatten(&report());
        assert_eq!(values(&f, "members.total"), (338.0, None));
        assert_eq!(values(&f, "members.city_members"), (37.0, None));
        assert_eq!(values(&f, "members.special_committees"), (7.0, None));
        assert_eq!(values(&f, "members.liaison_stations"), (26.0, None));
        assert_eq!(values(&f, "members.informants"), (52.0, None));
        assert_eq!(values(&f, "members.reporting_opinions"), (47.0, None));
        assert_eq!(
            values(&f, "members.duty.policy_publicity"),
            (400.0, Some(1200.0))
        );
        assert_eq!(
            values(&f, "members.duty.opinion_submitted"),
            (90.0, Some(216.0))
        );
        assert_eq!(
            values(&f, "members.duty.practical_deed"),
            (0.0, Some(0.0)),
            "a kind the statistics do not list counts zero"
        );
        assert_eq!(values(&f, "proposals.submitted"), (150.0, Some(400.0)));
        assert_eq!(values(&f, "proposals.filing_rate"), (0.8, Some(0.825)));
        assert_eq!(values(&f, "proposals.key_proposals"), (5.0, Some(14.0)));
        assert_eq!(values(&f, "consultations.platforms"), (276.0, None));
        assert_eq!(values(&f, "consultations.platforms.township"), (20.0, None));
        assert_eq!(values(&f, "consultations.platforms.village"), (195.0, None));
        assert_eq!(
            values(&f, "consultations.platforms.enterprise"),
            (61.0, None)
        );
        assert_eq!(
            values(&f, "consultations.activities"),
            (146.0, Some(31.0)),
            "the activities of every kind"
        );
        assert_eq!(
            values(&f, "consultations.activities.frontline"),
            (130.0, Some(0.0))
        );
        assert_eq!(
            values(&f, "consultations.activities.research_inspection"),
            (16.0, Some(31.0))
        );
        assert_eq!(
            values(&f, "consultations.participations.frontline"),
            (6000.0, Some(0.0))
        );
        assert_eq!(
            values(
                &f,
                "consultations.member_participations.research_inspection"
            ),
            (230.0, Some(460.0))
        );
        assert_eq!(
            values(&f, "consultations.problems_solved"),
            (120.0, Some(0.0))
        );
        assert_eq!(values(&f, "consultations.publications"), (10.0, Some(0.0)));
        assert_eq!(values(&f, "consultations.plan_completion"), (0.75, None));
        assert_eq!(values(&f, "consultations.budget"), (500_000.0, None));
        assert_eq!(values(&f, "consultations.budget.allotted"), (123.45, None));
        assert_eq!(
            values(&f, "consultations.budget.spent"),
            (0.0, None),
            "unset money is zero"
        );
        assert_eq!(values(&f, "opinions.forwarded"), (12.0, Some(20.0)));
        assert_eq!(values(&f, "opinions.adopted_upward"), (6.0, Some(0.0)));
        assert_eq!(values(&f, "opinions.adoption_rate"), (0.5, Some(0.0)));
        assert_eq!(
            values(&f, "opinions.submitted_by_members"),
            (0.0, Some(216.0))
        );
        assert_eq!(
            values(&f, "opinions.member_contributors"),
            (47.0, Some(0.0))
        );
    }

    #[test]
    fn keys_are_unique_labelled_and_in_their_section() {
        let f = flatten(&report());
        let keys: HashSet<_> = f.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys.len(), f.len(), "no key twice");
        for figure in &f {
            let section = Section::try_from(figure.section).unwrap();
            let prefix = match section {
                Section::Members => "members.",
                Section::Proposals => "proposals.",
                Section::Consultations => "consultations.",
                Section::Opinions => "opinions.",
                Section::Unspecified => panic!("{figure:?} has no section"),
            };
            assert!(figure.key.starts_with(prefix), "{figure:?}");
            assert!(
                !figure.label.is_empty() && !figure.label.is_ascii(),
                "{figure:?}"
            );
            assert_ne!(figure.unit, FigureUnit::Unspecified as i32, "{figure:?}");
        }
        // Sections follow one another in a fixed order.
        let order: Vec<i32> = f.iter().map(|f| f.section).collect();
        assert!(order.is_sorted(), "{order:?}");
        for (kind, _, _) in DUTY_FIGURES {
            assert_ne!(*kind, DutyKind::Unspecified);
        }
        assert_eq!(DUTY_FIGURES.len(), 17, "every duty kind");
        assert_eq!(ACTIVITY_KINDS.len(), 7, "every activity kind");
    }

    #[test]
    fn a_missing_section_has_no_figures() {
        let mut r = report();
        r.opinions = None;
        r.members = None;
        let f = flatten(&r);
        assert!(f.iter().all(|f| f.section == Section::Proposals as i32
            || f.section == Section::Consultations as i32));
        assert!(f.iter().any(|f| f.key == "proposals.filed"));
        assert!(flatten(&GetAnnualReportResponse::default()).is_empty());
    }

    #[test]
    fn without_the_terms_figures_there_is_no_term_value() {
        let mut r = report();
        if let Some(p) = r.proposals.as_mut() {
            p.term = None;
        }
        let f = flatten(&r);
        assert_eq!(values(&f, "proposals.submitted"), (150.0, None));
        assert_eq!(values(&f, "proposals.filing_rate"), (0.8, None));
    }
}
