//! The demo's duty records: 2022 and 2023, the fourth term so far (it began
//! on 2021-12-28), entered by the office. Their term totals are the seed's
//! ("四届政协以来 … 政策宣传1200人次, 兴办便民利民实事253件"; the 调研视察 and
//! 基层协商议事 entries are credited by the consultations service from its
//! activities, the 216 社情民意信息 by the opinions service from its
//! reports). Suggestions and friends made (two of the five ones, which
//! the seed does not count) are there too, so the five ones have something
//! to show; proposals come from the proposals service. So are the
//! meetings every member is called to (the plenary sessions, and for the
//! standing members the standing committee's meetings) and the members'
//! training, which an evaluation counts; and 2023's evaluation rules, as a
//! county sets them for what its members do in a year.

use anyhow::Context as _;

use cppcc_proto::common::v1::{Date, DutyKind};
use cppcc_proto::members::v1 as pb;
use pb::duty_record_service_client::DutyRecordServiceClient;
use pb::evaluation_service_client::EvaluationServiceClient;

use super::{Callers, DemoMember, Rng, Roll, request_id};

/// Term totals, by kind, as the seed gives them.
/// (The term's 460 调研视察 and 235 基层协商议事 entries are credited by the
/// consultations service, from its activities; its 216 社情民意信息 by the
/// opinions service, from its reports.)
pub const TERM_TOTALS: [(DutyKind, usize); 2] = [
    (DutyKind::PolicyPublicity, 1200),
    (DutyKind::PracticalDeed, 253),
];

/// Of each term total, the entries of 2023 (the rest are of 2022).
const IN_2023: [usize; 2] = [640, 133];
/// Suggestions (合理化建议) and friends made (交朋友) in 2023.
const SUGGESTIONS_2023: usize = 180;
const FRIENDS_2023: usize = 240;
/// Entries per batch call.
const BATCH: usize = 1000;
/// The plenary sessions of the two years.
const PLENARY: [(i32, i32, i32); 2] = [(2022, 1, 12), (2023, 1, 10)];
/// The standing committee's meetings of 2023.
const STANDING_MEETINGS: [(i32, i32); 6] = [(2, 20), (4, 18), (6, 20), (8, 22), (10, 24), (12, 19)];
/// Members excused from a meeting, in a hundred.
const EXCUSED_PERCENT: usize = 4;

/// One planned entry.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Index into the roll.
    pub member: usize,
    pub kind: DutyKind,
    pub date: Date,
    pub evidence: String,
}

fn some_day(rng: &mut Rng, year: i32) -> Date {
    Date {
        year,
        month: 1 + rng.below(12) as i32,
        day: 1 + rng.below(28) as i32,
    }
}

/// The ledger of the demo's members, the same every time.
pub fn plan(roll: &[DemoMember]) -> Vec<Planned> {
    let members = roll.len();
    let mut rng = Rng(0x1ed6_e202_2202_3001);
    let mut out = Vec::new();
    let mut add = |member: usize, kind: DutyKind, date: Date, evidence: String| {
        out.push(Planned {
            member,
            kind,
            date,
            evidence,
        })
    };
    for ((kind, total), in_2023) in TERM_TOTALS.iter().zip(IN_2023) {
        let by_year = [(2022, total - in_2023), (2023, in_2023)];
        let what = match kind {
            DutyKind::PolicyPublicity => "宣讲惠民政策",
            _ => "兴办便民利民实事",
        };
        for (year, count) in by_year {
            for _ in 0..count {
                let m = rng.below(members);
                let date = some_day(&mut rng, year);
                let place = super::TOWNSHIPS[rng.below(super::TOWNSHIPS.len())];
                add(m, *kind, date, format!("在{place}{what}"));
            }
        }
    }
    // Meetings: attended, or excused.
    let standing: Vec<usize> = (0..members)
        .filter(|m| roll[*m].member.role != pb::MemberRole::Member as i32)
        .collect();
    let plenary = PLENARY.iter().map(|(y, m, d)| {
        (
            *y,
            *m,
            *d,
            "出席政协全体会议",
            (0..members).collect::<Vec<_>>(),
        )
    });
    let standing_meetings = STANDING_MEETINGS
        .iter()
        .map(|(m, d)| (2023, *m, *d, "出席政协常委会议", standing.clone()));
    for (year, month, day, what, called) in plenary.chain(standing_meetings) {
        let date = Date { year, month, day };
        for m in called {
            if rng.below(100) < EXCUSED_PERCENT {
                add(m, DutyKind::MeetingExcused, date, format!("请假：{what}"));
            } else {
                add(m, DutyKind::MeetingAttended, date, what.to_owned());
            }
        }
    }
    // The members' training of 2023.
    let training = Date {
        year: 2023,
        month: 5,
        day: 16,
    };
    for m in 0..members {
        if rng.below(100) >= EXCUSED_PERCENT {
            add(
                m,
                DutyKind::Training,
                training,
                "参加全县政协委员履职能力培训班".to_owned(),
            );
        }
    }
    for (kind, count, what) in [
        (DutyKind::Suggestion, SUGGESTIONS_2023, "提出合理化建议"),
        (DutyKind::FriendsMade, FRIENDS_2023, "与界别群众结对交友"),
    ] {
        for _ in 0..count {
            let m = rng.below(members);
            let date = some_day(&mut rng, 2023);
            add(m, kind, date, what.to_owned());
        }
    }
    out
}

fn client(callers: &Callers) -> DutyRecordServiceClient<cppcc_kit::client::Authed> {
    DutyRecordServiceClient::with_interceptor(callers.channel.clone(), callers.staff.clone())
}

/// Waits until the members service has credited `totals` (term entries by
/// kind, from other services' events) for 2023.
pub(super) async fn credited(
    callers: &Callers,
    totals: &[(DutyKind, usize)],
) -> anyhow::Result<()> {
    let mut evaluations =
        EvaluationServiceClient::with_interceptor(callers.channel.clone(), callers.staff.clone());
    let deadline = tokio::time::Instant::now() + super::CREDIT_WAIT;
    loop {
        let stats = evaluations
            .get_member_statistics(pb::GetMemberStatisticsRequest {
                committee: format!("committees/{}", super::COMMITTEE),
                year: 2023,
            })
            .await
            .context("reading the member statistics")?
            .into_inner()
            .statistics
            .context("statistics in the answer")?;
        let short: Vec<String> = totals
            .iter()
            .filter_map(|(kind, total)| {
                let have = stats
                    .term_entries
                    .iter()
                    .find(|k| k.kind == *kind as i32)
                    .map_or(0, |k| k.count as usize);
                (have < *total).then(|| format!("{} {have} of {total}", kind.as_str_name()))
            })
            .collect();
        if short.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the members service has not credited the duty entries yet: {}",
            short.join(", ")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Whether the whole ledger is there (so the demo is loaded).
pub(super) async fn loaded(callers: &Callers) -> bool {
    let listed = client(callers)
        .list_duty_records(pb::ListDutyRecordsRequest {
            parent: format!("committees/{}/members/-", super::COMMITTEE),
            page_size: 1,
            ..Default::default()
        })
        .await;
    matches!(listed, Ok(r) if r.get_ref().total_size as usize >= plan(&super::members()).len())
}

/// 随县's rules for 2023: points and yearly caps per kind, grades from 30,
/// 15 and 8 points, and the four goods.
fn rules_2023() -> pb::EvaluationRules {
    use DutyKind::*;
    let kind = |kind: DutyKind, points: i32, yearly_cap: i32| pb::KindRule {
        kind: kind as i32,
        points,
        yearly_cap,
    };
    let good = |name: &str, kinds: &[DutyKind], min_points: i32| pb::FourGoodsRule {
        display_name: name.into(),
        kinds: kinds.iter().map(|k| *k as i32).collect(),
        min_points,
    };
    pb::EvaluationRules {
        name: format!("committees/{}/evaluationRules/2023", super::COMMITTEE),
        kind_rules: vec![
            kind(ProposalSubmitted, 5, 20),
            kind(ProposalFiled, 3, 15),
            kind(OpinionSubmitted, 4, 20),
            kind(OpinionAdopted, 6, 24),
            kind(OpinionAdoptedUpward, 10, 30),
            kind(ResearchInspection, 4, 20),
            kind(ConsultationGrassroots, 4, 20),
            kind(ConsultationOther, 3, 15),
            kind(MeetingAttended, 3, 24),
            kind(PlenarySpeech, 6, 12),
            kind(PolicyPublicity, 2, 16),
            kind(PracticalDeed, 5, 20),
            kind(Training, 2, 6),
            kind(Suggestion, 3, 12),
            kind(FriendsMade, 2, 8),
        ],
        excellent_threshold: 30,
        qualified_threshold: 15,
        basic_threshold: 8,
        four_goods: vec![
            good(
                "履行职责好",
                &[
                    ProposalSubmitted,
                    ProposalFiled,
                    MeetingAttended,
                    PlenarySpeech,
                ],
                6,
            ),
            good(
                "服务发展好",
                &[ResearchInspection, ConsultationOther, Suggestion],
                4,
            ),
            good(
                "联系群众好",
                &[
                    ConsultationGrassroots,
                    PolicyPublicity,
                    PracticalDeed,
                    OpinionSubmitted,
                ],
                6,
            ),
            good(
                "社会形象好",
                &[Training, FriendsMade, OpinionAdopted, OpinionAdoptedUpward],
                2,
            ),
        ],
        ..Default::default()
    }
}

/// Sets 2023's rules, then enters the ledger, a thousand entries a call.
pub(super) async fn load(callers: &Callers, roll: &Roll) -> anyhow::Result<()> {
    EvaluationServiceClient::with_interceptor(callers.channel.clone(), callers.admin.clone())
        .set_evaluation_rules(pb::SetEvaluationRulesRequest {
            rules: Some(rules_2023()),
        })
        .await
        .context("setting the 2023 evaluation rules")?;
    let mut d = client(callers);
    let demo: Vec<DemoMember> = roll.members.iter().map(|(d, _)| d.clone()).collect();
    let planned = plan(&demo);
    for (k, chunk) in planned.chunks(BATCH).enumerate() {
        let requests = chunk
            .iter()
            .map(|p| pb::CreateDutyRecordRequest {
                parent: roll.members[p.member].1.name.clone(),
                duty_record: Some(pb::DutyRecord {
                    kind: p.kind as i32,
                    date: Some(p.date),
                    evidence: p.evidence.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .collect();
        d.batch_create_duty_records(pb::BatchCreateDutyRecordsRequest {
            parent: format!("committees/{}/members/-", super::COMMITTEE),
            requests,
            request_id: request_id(&format!("ledger/{k}")),
        })
        .await
        .with_context(|| format!("entering duty records, batch {k}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::MEMBERS;

    #[test]
    fn the_plan_has_the_seed_totals() {
        let plan = plan(&crate::demo::members());
        for (kind, total) in TERM_TOTALS {
            assert_eq!(
                plan.iter().filter(|p| p.kind == kind).count(),
                total,
                "{kind:?}"
            );
        }
        // Opinion reports are the opinions service's to credit.
        assert!(plan.iter().all(|p| p.kind != DutyKind::OpinionSubmitted));
        assert!(
            plan.iter()
                .all(|p| p.member < MEMBERS && (2022..=2023).contains(&p.date.year))
        );
        let plenary_2023 = plan
            .iter()
            .filter(|p| {
                p.date
                    == Date {
                        year: 2023,
                        month: 1,
                        day: 10,
                    }
            })
            .filter(|p| matches!(p.kind, DutyKind::MeetingAttended | DutyKind::MeetingExcused))
            .count();
        assert_eq!(
            plenary_2023, MEMBERS,
            "every member attended or was excused"
        );
    }
}
