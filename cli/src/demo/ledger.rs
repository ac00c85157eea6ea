//! The demo's duty records: 2022 and 2023, the fourth term so far (it began
//! on 2021-12-28), entered by the office. Their term totals are the seed's
//! ("四届政协以来 … 政策宣传1200人次, 参加调研视察460人次, 参与基层协商议事活动
//! 235人次, 反映社情民意信息216篇, 兴办便民利民实事253件"), the research is
//! 30-odd inspections with 14 or 15 members each ("近两年来共有460余名委员参加
//! 30多个调研视察"), and 47 members reported opinions in 2023 ("今年共有47名委员
//! … 提出意见建议"). Suggestions and friends made (two of the five ones, which
//! the seed does not count) are there too, so the five ones have something
//! to show; proposals come from the proposals service.

use anyhow::Context as _;

use cppcc_proto::common::v1::{Date, DutyKind};
use cppcc_proto::members::v1 as pb;
use pb::duty_record_service_client::DutyRecordServiceClient;

use super::{Callers, MEMBERS, Rng, Roll, request_id};

/// Term totals, by kind, as the seed gives them.
pub const TERM_TOTALS: [(DutyKind, usize); 5] = [
    (DutyKind::PolicyPublicity, 1200),
    (DutyKind::ResearchInspection, 460),
    (DutyKind::ConsultationGrassroots, 235),
    (DutyKind::OpinionSubmitted, 216),
    (DutyKind::PracticalDeed, 253),
];
/// Members who reported opinions in 2023.
pub const OPINION_MEMBERS_2023: usize = 47;

/// Of each term total, the entries of 2023 (the rest are of 2022).
const IN_2023: [usize; 5] = [640, 230, 140, 96, 133];
/// Research and inspections over the two years, and who took part.
const RESEARCH_TOPICS: [&str; 32] = [
    "香菇产业高质量发展",
    "公共卫生补短板",
    "推进淮河国家湿地公园建设",
    "曾随（县）一体化发展",
    "香菇种植用材林管理与使用",
    "中药材产业发展",
    "擦亮小城镇行动",
    "外来少数民族务工情况",
    "石材产业复工复产",
    "农村饮水安全",
    "义务教育均衡发展",
    "乡村振兴衔接",
    "农村人居环境整治",
    "营商环境优化",
    "全域旅游发展",
    "养老服务体系建设",
    "油茶产业高质量发展",
    "美丽乡村建设",
    "探索乡村合作公司",
    "民族团结进步创建",
    "县域医共体建设",
    "农产品冷链物流",
    "高标准农田建设",
    "文物保护利用",
    "城区停车难治理",
    "河湖长制落实",
    "森林防火",
    "就业创业服务",
    "农村客运",
    "非遗传承保护",
    "校园安全",
    "政务服务“一网通办”",
];
/// Suggestions (合理化建议) and friends made (交朋友) in 2023.
const SUGGESTIONS_2023: usize = 180;
const FRIENDS_2023: usize = 240;
/// Entries per batch call.
const BATCH: usize = 1000;

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

/// Distinct members, `n` of `members`.
fn distinct(rng: &mut Rng, members: usize, n: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..members).collect();
    for i in 0..n {
        all.swap(i, i + rng.below(members - i));
    }
    all.truncate(n);
    all
}

/// The ledger of `members` members, the same every time.
pub fn plan(members: usize) -> Vec<Planned> {
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
        match kind {
            // 32 inspections, 16 a year: 12 with 15 members, 20 with 14.
            DutyKind::ResearchInspection => {
                for (i, topic) in RESEARCH_TOPICS.iter().enumerate() {
                    let year = if i < 16 { 2022 } else { 2023 };
                    let date = some_day(&mut rng, year);
                    let size = if i % 16 < 6 { 15 } else { 14 };
                    for m in distinct(&mut rng, members, size) {
                        add(m, *kind, date, format!("参加“{topic}”调研视察"));
                    }
                }
            }
            // 2023's reports come from exactly 47 members.
            DutyKind::OpinionSubmitted => {
                for n in 0..by_year[0].1 {
                    let m = rng.below(members);
                    let date = some_day(&mut rng, 2022);
                    add(m, *kind, date, format!("社情民意信息第{}期", n + 1));
                }
                let reporters = distinct(&mut rng, members, OPINION_MEMBERS_2023);
                for n in 0..by_year[1].1 {
                    let m = if n < reporters.len() {
                        reporters[n]
                    } else {
                        reporters[rng.below(reporters.len())]
                    };
                    let date = some_day(&mut rng, 2023);
                    add(m, *kind, date, format!("2023年社情民意信息第{}期", n + 1));
                }
            }
            _ => {
                let what = match kind {
                    DutyKind::PolicyPublicity => "宣讲惠民政策",
                    DutyKind::ConsultationGrassroots => "参与基层协商议事",
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

/// Whether the whole ledger is there (so the demo is loaded).
pub(super) async fn loaded(callers: &Callers) -> bool {
    let listed = client(callers)
        .list_duty_records(pb::ListDutyRecordsRequest {
            parent: format!("committees/{}/members/-", super::COMMITTEE),
            page_size: 1,
            ..Default::default()
        })
        .await;
    matches!(listed, Ok(r) if r.get_ref().total_size as usize >= plan(MEMBERS).len())
}

/// Enters the ledger, a thousand entries a call.
pub(super) async fn load(callers: &Callers, roll: &Roll) -> anyhow::Result<()> {
    let mut d = client(callers);
    let planned = plan(roll.members.len());
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

    #[test]
    fn the_plan_has_the_seed_totals() {
        let plan = plan(MEMBERS);
        for (kind, total) in TERM_TOTALS {
            assert_eq!(
                plan.iter().filter(|p| p.kind == kind).count(),
                total,
                "{kind:?}"
            );
        }
        let reporters: std::collections::HashSet<_> = plan
            .iter()
            .filter(|p| p.kind == DutyKind::OpinionSubmitted && p.date.year == 2023)
            .map(|p| p.member)
            .collect();
        assert_eq!(reporters.len(), OPINION_MEMBERS_2023);
        assert!(
            plan.iter()
                .all(|p| p.member < MEMBERS && (2022..=2023).contains(&p.date.year))
        );
    }
}
