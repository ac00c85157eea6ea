//! The demo's consultations (协商): the county's platforms (20 township
//! rooms, 195 village and community ones, 61 in enterprises), the year's
//! platform budget of 500,000 yuan, the 2022 and 2023 consultation plans
//! with the seed's topics, and two years of activities through the eight
//! steps — 32 research and inspection tours (460 member participations),
//! the frontline consultations in the villages (130 in 2023 with more than
//! 6000 taking part, 160-odd opinions, 120-odd problems solved; the term's
//! 235 member participations), the special-topic consultations, the
//! standing committee's deliberative meeting on 油茶, the 工商联's
//! 企业帮 — with their results, 16 research reports, 10 leader
//! instructions and 10 issues of 《建言资政》.
//!
//! The members' 调研视察 and 基层协商议事 duty entries are not typed in: the
//! members service's intake credits them from this service's events.
//!
//! Everything goes through the consultations service's RPCs under request
//! ids derived from the data; each activity is driven from the step it is at
//! to the step planned for it, so a load that was cut off is finished by the
//! next one.

use std::sync::Arc;

use anyhow::Context as _;
use tonic::Code;

use cppcc_kit::auth::{Role, TokenIssuer};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_proto::common::v1::{Date, DutyKind, LeaderInstruction, Money};
use cppcc_proto::consultations::v1 as pb;
use pb::activity_service_client::ActivityServiceClient;
use pb::consultation_plan_service_client::ConsultationPlanServiceClient;
use pb::consultation_result_service_client::ConsultationResultServiceClient;
use pb::platform_service_client::PlatformServiceClient;

use super::{COMMITTEE, Rng, Roll, TOWNSHIPS, VILLAGES, distinct, in_parallel, request_id};

/// Platforms by level, as the seed counts them.
pub const PLATFORMS: [(pb::PlatformLevel, usize); 3] = [
    (pb::PlatformLevel::Township, 20),
    (pb::PlatformLevel::Village, 195),
    (pb::PlatformLevel::Enterprise, 61),
];
/// The platforms' special budget for 2023: 500,000 yuan.
pub const BUDGET_FEN_2023: i64 = 50_000_000;
/// Frontline consultations (协商在一线) of 2023, and of 2022.
pub const FRONTLINE_2023: usize = 130;
const FRONTLINE_2022: usize = 90;
/// Of each year's, those with two members rather than one (2023: 140
/// member participations; 2022: 95; the term's 235).
const FRONTLINE_PAIRS: [(i32, usize); 2] = [(2022, 5), (2023, 10)];
/// Research reports over the term, leader instructions on them, and the
/// issues of 《建言资政》 (five a year).
pub const REPORTS: usize = 16;
pub const INSTRUCTIONS: usize = 10;
pub const PUBLICATIONS_PER_YEAR: usize = 5;
/// Of 2023's frontline consultations, the last few are still under way at
/// the year's end: held and answered, their feedback not yet in.
const UNDER_WAY: usize = 4;
/// The term's duty entries the activities credit, by kind, as the seed
/// counts them (调研视察460人次, 基层协商议事235人次).
pub const CREDITED: &[(DutyKind, usize)] = &[
    (DutyKind::ResearchInspection, 460),
    (DutyKind::ConsultationGrassroots, 235),
];

/// Research and inspections over the two years, 16 a year; 6 a year with
/// 15 members, 10 with 14 (460 in all).
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

/// Each year's plan: topic, kind, lead body, quarter, departments taking part.
type PlanItem = (
    &'static str,
    pb::ActivityKind,
    &'static str,
    i32,
    &'static [&'static str],
);
const PLANS: [(i32, &[PlanItem]); 2] = [
    (
        2022,
        &[
            (
                "香菇产业高质量发展",
                pb::ActivityKind::ResearchInspection,
                "经济委员会",
                2,
                &["县香菇产业发展中心", "县农业农村局"],
            ),
            (
                "公共卫生补短板",
                pb::ActivityKind::ResearchInspection,
                "教科卫体委员会",
                2,
                &["县卫健局", "县疾控中心"],
            ),
            (
                "推进淮河国家湿地公园建设",
                pb::ActivityKind::SpecialTopic,
                "人口资源环境委员会",
                3,
                &["县林业局", "县自然资源和规划局"],
            ),
            (
                "曾随（县）一体化发展",
                pb::ActivityKind::SpecialTopic,
                "经济委员会",
                3,
                &["县发改局"],
            ),
            (
                "中药材产业发展",
                pb::ActivityKind::SpecialTopic,
                "农业和农村委员会",
                4,
                &["县农业农村局", "县林业局"],
            ),
            (
                "石材产业转型升级",
                pb::ActivityKind::SpecialTopic,
                "经济委员会",
                4,
                &["县经信局", "县石材产业园"],
            ),
        ],
    ),
    (
        2023,
        &[
            (
                "油茶产业高质量发展",
                pb::ActivityKind::StandingCommittee,
                "农业和农村委员会",
                2,
                &["县林业局", "县农业农村局", "县财政局"],
            ),
            (
                "擦亮小城镇建设美丽城镇",
                pb::ActivityKind::SpecialTopic,
                "经济委员会",
                2,
                &["县住建局", "各镇人民政府"],
            ),
            (
                "全域旅游发展",
                pb::ActivityKind::SpecialTopic,
                "文化文史和学习委员会",
                3,
                &["县文旅局"],
            ),
            (
                "探索乡村合作公司",
                pb::ActivityKind::SpecialTopic,
                "农业和农村委员会",
                3,
                &["县乡村振兴局", "县农业农村局"],
            ),
            (
                "美丽乡村建设",
                pb::ActivityKind::SpecialTopic,
                "人口资源环境委员会",
                4,
                &["县住建局", "县生态环境分局"],
            ),
            (
                "县域医共体建设",
                pb::ActivityKind::ResearchInspection,
                "教科卫体委员会",
                2,
                &["县卫健局", "县医保局"],
            ),
        ],
    ),
];

/// What villagers raise at frontline consultations, and who solves it.
const MATTERS: [(&str, &str, &str); 8] = [
    (
        "村组道路破损，雨天出行难",
        "县交通运输局",
        "已列入年度农村公路提档升级计划并完成硬化",
    ),
    (
        "香菇烘干房用电负荷不足",
        "国网随县供电公司",
        "已新增变压器一台",
    ),
    (
        "村湾垃圾清运不及时",
        "县城管执法局",
        "已增设垃圾转运点并定时清运",
    ),
    ("农田灌溉渠道淤塞", "县水利和湖泊局", "已组织清淤疏浚"),
    ("留守老人就医不便", "县卫健局", "已开通村卫生室巡诊服务"),
    ("油茶林缺少生产便道", "县林业局", "已修建生产便道"),
    ("村小学校车接送不便", "县教育局", "已调整校车线路"),
    ("农产品销售渠道少", "县商务局", "已对接电商平台开设专区"),
];
const OPINIONS: [&str; 6] = [
    "建议加大对村级集体经济的扶持力度",
    "建议完善村湾人居环境长效管护机制",
    "建议推广“香菇+”种养模式",
    "建议加强农村实用技术培训",
    "建议在村里设置便民服务代办点",
    "建议统筹安排村级公益岗位",
];
const FRONTLINE_FORMATS: [pb::ActivityFormat; 4] = [
    pb::ActivityFormat::VillageEveningTalk,
    pb::ActivityFormat::BenchMeeting,
    pb::ActivityFormat::CourtyardMeeting,
    pb::ActivityFormat::FixedAndMobile,
];
const LEADERS: [(&str, &str); 4] = [
    ("县委书记", "杨正德"),
    ("县委副书记、县长", "罗文斌"),
    ("县委常委、常务副县长", "郑光明"),
    ("副县长", "吴晓燕"),
];

/// What was loaded, for `cppcc up` to print.
#[derive(Clone, Debug)]
pub struct Summary {
    pub platforms: usize,
    pub activities: usize,
    pub results: usize,
    pub publications: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} consultation platforms, {} consultation activities with {} results, {} issues of 《建言资政》",
            self.platforms, self.activities, self.results, self.publications
        )
    }
}

/// The office's callers of the consultations service.
pub(super) struct Office {
    channel: tonic::transport::Channel,
    staff: Bearer,
    leader: Bearer,
}

impl Office {
    pub(super) fn new(uri: &str, issuer: &TokenIssuer) -> anyhow::Result<Office> {
        let bearer = |role, subject| super::bearer(issuer, role, subject, None, None);
        Ok(Office {
            channel: cppcc_kit::client::channel(uri)?,
            staff: bearer(Role::Staff, "demo-consultations"),
            leader: bearer(Role::Leader, "demo-leader"),
        })
    }

    fn platforms(&self) -> PlatformServiceClient<Authed> {
        PlatformServiceClient::with_interceptor(self.channel.clone(), self.staff.clone())
    }

    fn plans(&self, leader: bool) -> ConsultationPlanServiceClient<Authed> {
        let who = if leader { &self.leader } else { &self.staff };
        ConsultationPlanServiceClient::with_interceptor(self.channel.clone(), who.clone())
    }

    fn activities(&self) -> ActivityServiceClient<Authed> {
        ActivityServiceClient::with_interceptor(self.channel.clone(), self.staff.clone())
    }

    fn results(&self, leader: bool) -> ConsultationResultServiceClient<Authed> {
        let who = if leader { &self.leader } else { &self.staff };
        ConsultationResultServiceClient::with_interceptor(self.channel.clone(), who.clone())
    }
}

fn committee() -> String {
    format!("committees/{COMMITTEE}")
}

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// A day in `year` before mid-December, so what follows it stays in the year.
fn some_day(rng: &mut Rng, year: i32) -> Date {
    date(year, 1 + rng.below(11) as i32, 1 + rng.below(28) as i32)
}

fn plus_days(d: &Date, n: i64) -> Date {
    let day =
        time::Date::from_calendar_date(d.year, (d.month as u8).try_into().unwrap(), d.day as u8)
            .expect("a planned day is a day")
            + time::Duration::days(n);
    date(day.year(), u8::from(day.month()).into(), day.day().into())
}

/// One planned platform.
#[derive(Clone, Debug)]
struct PlannedPlatform {
    key: String,
    platform: pb::Platform,
}

fn platforms() -> Vec<PlannedPlatform> {
    let mut out = Vec::new();
    for (level, count) in PLATFORMS {
        for i in 0..count {
            let township = TOWNSHIPS[i % TOWNSHIPS.len()];
            let (display_name, venue, content) = match level {
                pb::PlatformLevel::Township => (
                    format!("{township}政协委员协商议事室"),
                    format!("{township}政府会议室"),
                    "乡村振兴、产业发展、民生实事",
                ),
                pb::PlatformLevel::Village => {
                    let village = VILLAGES[(i / TOWNSHIPS.len()) % VILLAGES.len()];
                    (
                        format!("{township}{village}协商议事点（{}）", i + 1),
                        format!("{village}党群服务中心"),
                        "村湾建设、人居环境、群众急难愁盼",
                    )
                }
                _ => (
                    format!("随县第{}企业协商议事点", i + 1),
                    "企业会议室".to_owned(),
                    "企业发展、营商环境、用工服务",
                ),
            };
            // Most have all five; every tenth village one and every sixth
            // enterprise one still keeps no archives.
            let has_archives = match level {
                pb::PlatformLevel::Village => i % 10 != 9,
                pb::PlatformLevel::Enterprise => i % 6 != 5,
                _ => true,
            };
            out.push(PlannedPlatform {
                key: format!("consultations/platform/{}/{i}", level.as_str_name()),
                platform: pb::Platform {
                    display_name,
                    level: level as i32,
                    township: township.to_owned(),
                    convener: format!("召集人{}", i + 1),
                    venue,
                    has_sign: true,
                    content: content.to_owned(),
                    has_archives,
                    ..Default::default()
                },
            });
        }
    }
    out
}

/// One planned activity and how far it has got.
#[derive(Clone, Debug)]
struct Planned {
    key: String,
    activity: pb::Activity,
    /// Index into the platforms, if on one.
    platform: Option<usize>,
    /// The plan's topic, if carried out under it.
    plan_topic: Option<&'static str>,
    /// Indexes into the roll.
    members: Vec<usize>,
    opinions: Vec<&'static str>,
    /// Problems raised, and whether each is solved.
    problems: Vec<(usize, bool)>,
    result: pb::ResultKind,
    instruction: Option<usize>,
    /// The step it reaches (8: archived).
    target: i32,
}

fn activity(
    kind: pb::ActivityKind,
    format: pb::ActivityFormat,
    topic: String,
    day: Date,
) -> pb::Activity {
    pb::Activity {
        kind: kind as i32,
        format: format as i32,
        topic,
        date: Some(day),
        ..Default::default()
    }
}

/// The two years' activities, the same every time.
fn plan(members: usize) -> Vec<Planned> {
    let mut rng = Rng(0xc025_0175_2023_0130);
    let mut out = Vec::new();
    let village = |i: usize| PLATFORMS[0].1 + i % PLATFORMS[1].1;
    let enterprise = |i: usize| PLATFORMS[0].1 + PLATFORMS[1].1 + i % PLATFORMS[2].1;
    let planned = |year: i32, topic: &str| {
        PLANS
            .iter()
            .filter(|(y, _)| *y == year)
            .flat_map(|(_, items)| items.iter())
            .find(|item| item.0 == topic && item.1 == pb::ActivityKind::ResearchInspection)
            .map(|item| item.0)
    };
    // Research and inspection: a report from one in two, instructions on
    // ten of the reports.
    let mut reports = 0;
    for (i, topic) in RESEARCH_TOPICS.iter().enumerate() {
        let year = if i < 16 { 2022 } else { 2023 };
        let size = if i % 16 < 6 { 15 } else { 14 };
        let report = i % 2 == 0;
        let day = some_day(&mut rng, year);
        out.push(Planned {
            key: format!("consultations/research/{i}"),
            activity: pb::Activity {
                official_count: 4,
                ..activity(
                    pb::ActivityKind::ResearchInspection,
                    pb::ActivityFormat::SiteVisit,
                    format!("{topic}调研视察"),
                    day,
                )
            },
            platform: None,
            plan_topic: planned(year, topic),
            members: distinct(&mut rng, members, size),
            opinions: vec![OPINIONS[i % OPINIONS.len()]],
            problems: vec![],
            result: if report {
                pb::ResultKind::Report
            } else {
                pb::ResultKind::Recommendations
            },
            instruction: (report && reports < INSTRUCTIONS).then(|| {
                reports += 1;
                reports % LEADERS.len()
            }),
            target: 8,
        });
    }
    // Frontline consultations in the villages.
    for (year, count) in [(2022, FRONTLINE_2022), (2023, FRONTLINE_2023)] {
        let pairs = FRONTLINE_PAIRS
            .iter()
            .find(|(y, _)| *y == year)
            .map_or(0, |p| p.1);
        for i in 0..count {
            let late = year == 2023 && i >= count - UNDER_WAY;
            let day = if late {
                date(2023, 12, 4 + i as i32 - (count - UNDER_WAY) as i32)
            } else {
                some_day(&mut rng, year)
            };
            let n = if i < pairs { 2 } else { 1 };
            let mut opinions = vec![OPINIONS[i % OPINIONS.len()]];
            if i % 4 == 0 {
                opinions.push(OPINIONS[(i + 3) % OPINIONS.len()]);
            }
            let problems = if year == 2023 && i < 126 || year == 2022 && i % 2 == 0 {
                vec![(i % MATTERS.len(), !late)]
            } else {
                vec![]
            };
            let platform = village(i * 7 + year as usize);
            out.push(Planned {
                key: format!("consultations/frontline/{year}/{i}"),
                activity: pb::Activity {
                    official_count: 5 + (i % 3) as i32,
                    resident_count: 36 + (i % 9) as i32,
                    ..activity(
                        pb::ActivityKind::Frontline,
                        FRONTLINE_FORMATS[i % FRONTLINE_FORMATS.len()],
                        format!("{}协商在一线", MATTERS[i % MATTERS.len()].0),
                        day,
                    )
                },
                platform: Some(platform),
                plan_topic: None,
                members: distinct(&mut rng, members, n),
                opinions,
                problems,
                result: pb::ResultKind::Recommendations,
                instruction: None,
                target: if late { 6 } else { 8 },
            });
        }
    }
    // The plans' consultations: special topics and the standing committee's
    // deliberative meeting.
    for (year, items) in PLANS {
        for (k, (topic, kind, ..)) in items.iter().enumerate() {
            if *kind == pb::ActivityKind::ResearchInspection {
                continue;
            }
            let size = if *kind == pb::ActivityKind::StandingCommittee {
                25
            } else {
                10
            };
            let day = date(year, 2 + 2 * k as i32, 12);
            out.push(Planned {
                key: format!("consultations/plan/{year}/{k}"),
                activity: pb::Activity {
                    official_count: 8,
                    resident_count: 4,
                    ..activity(
                        *kind,
                        pb::ActivityFormat::Meeting,
                        format!("{topic}专题协商"),
                        day,
                    )
                },
                platform: None,
                plan_topic: Some(topic),
                members: distinct(&mut rng, members, size),
                opinions: vec![
                    OPINIONS[k % OPINIONS.len()],
                    OPINIONS[(k + 1) % OPINIONS.len()],
                ],
                problems: vec![],
                result: pb::ResultKind::Recommendations,
                instruction: None,
                target: 8,
            });
        }
    }
    // The 工商联's 企业帮: firms' problems taken to the departments.
    out.push(Planned {
        key: "consultations/sector/2023/enterprise-help".into(),
        activity: pb::Activity {
            official_count: 6,
            resident_count: 18,
            ..activity(
                pb::ActivityKind::Sector,
                pb::ActivityFormat::Meeting,
                "工商联“企业帮”协商活动".into(),
                date(2023, 9, 14),
            )
        },
        platform: Some(enterprise(0)),
        plan_topic: None,
        members: distinct(&mut rng, members, 6),
        opinions: vec!["建议建立企业诉求“一站式”办理机制"],
        problems: vec![(1, true), (7, true), (3, true)],
        result: pb::ResultKind::Recommendations,
        instruction: None,
        target: 8,
    });
    out
}

/// Whether the consultations are loaded: the last thing loaded is 2023's
/// last issue of 《建言资政》.
pub(super) async fn loaded(office: &Office) -> anyhow::Result<bool> {
    let issues = office
        .results(false)
        .list_publications(pb::ListPublicationsRequest {
            parent: committee(),
            year: 2023,
        })
        .await
        .context("listing 2023's publications")?
        .into_inner()
        .publications;
    Ok(issues.len() >= PUBLICATIONS_PER_YEAR)
}

pub(super) async fn load(office: Office, roll: &Roll) -> anyhow::Result<Summary> {
    let office = Arc::new(office);
    let platforms = in_parallel(platforms(), |p| {
        let office = office.clone();
        async move {
            let created = office
                .platforms()
                .create_platform(pb::CreatePlatformRequest {
                    parent: committee(),
                    platform: Some(p.platform),
                    request_id: request_id(&p.key),
                })
                .await
                .with_context(|| format!("creating the platform {}", p.key))?;
            Ok(created
                .into_inner()
                .platform
                .context("a platform in the answer")?
                .name)
        }
    })
    .await?;
    funds(&office, &platforms).await?;
    let mut items = std::collections::HashMap::new();
    for (year, planned) in PLANS {
        items.extend(consultation_plan(&office, year, planned).await?);
    }
    let members: Vec<String> = roll.members.iter().map(|(_, m)| m.name.clone()).collect();
    let planned = plan(members.len());
    let activities = planned.len();
    let items = Arc::new(items);
    let (platforms, members) = (Arc::new(platforms), Arc::new(members));
    let results = in_parallel(planned, |p| {
        let (office, items, platforms, members) = (
            office.clone(),
            items.clone(),
            platforms.clone(),
            members.clone(),
        );
        async move { drive(&office, &items, &platforms, &members, p).await }
    })
    .await?;
    let publications = publish(&office, &results).await?;
    Ok(Summary {
        platforms: platforms.len(),
        activities,
        results: results.len(),
        publications,
    })
}

/// 2023's budget, shared among the township rooms and the first 30 village
/// points, four fifths of it spent.
async fn funds(office: &Office, platforms: &[String]) -> anyhow::Result<()> {
    let mut client = office.platforms();
    client
        .update_platform_budget(pb::UpdatePlatformBudgetRequest {
            budget: Some(pb::PlatformBudget {
                name: format!("{}/platformBudgets/2023", committee()),
                amount: Some(Money {
                    fen: BUDGET_FEN_2023,
                }),
                ..Default::default()
            }),
        })
        .await
        .context("setting 2023's platform budget")?;
    let funded = &platforms[..PLATFORMS[0].1 + 30];
    let share = BUDGET_FEN_2023 / funded.len() as i64;
    for name in funded {
        client
            .update_platform_fund(pb::UpdatePlatformFundRequest {
                fund: Some(pb::PlatformFund {
                    name: format!("{name}/funds/2023"),
                    allotted: Some(Money { fen: share }),
                    spent: Some(Money { fen: share / 5 * 4 }),
                    ..Default::default()
                }),
            })
            .await
            .with_context(|| format!("allotting {name}'s 2023 funds"))?;
    }
    Ok(())
}

/// A year's plan, made, submitted and approved where it is not yet; its
/// topics' ids by (year, topic).
async fn consultation_plan(
    office: &Office,
    year: i32,
    planned: &[PlanItem],
) -> anyhow::Result<Vec<((i32, &'static str), String)>> {
    let plan_name = format!("{}/consultationPlans/{year}", committee());
    let mut plans = office.plans(false);
    // In force already; or the first version, made before a load was cut
    // off; or nothing yet.
    let mut found = None;
    for version in ["-", "1"] {
        let got = plans
            .get_consultation_plan(pb::GetConsultationPlanRequest {
                name: format!("{plan_name}/versions/{version}"),
            })
            .await;
        match got {
            Ok(r) => {
                found = r.into_inner().plan;
                break;
            }
            Err(e) if e.code() == Code::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading the {year} plan")),
        }
    }
    let mut plan = match found {
        Some(plan) => plan,
        None => plans
            .create_consultation_plan(pb::CreateConsultationPlanRequest {
                parent: committee(),
                year,
            })
            .await
            .with_context(|| format!("creating the {year} plan"))?
            .into_inner()
            .plan
            .context("a plan in the answer")?,
    };
    let name = plan.name.clone();
    if plan.state == pb::PlanState::Draft as i32 {
        for (topic, kind, lead_body, quarter, departments) in planned {
            if plan.items.iter().any(|i| i.topic == *topic) {
                continue;
            }
            plan = plans
                .add_plan_item(pb::AddPlanItemRequest {
                    plan: name.clone(),
                    item: Some(pb::PlanItem {
                        topic: (*topic).into(),
                        kind: *kind as i32,
                        lead_body: (*lead_body).into(),
                        quarter: *quarter,
                        departments: departments.iter().map(|d| (*d).into()).collect(),
                        ..Default::default()
                    }),
                    etag: String::new(),
                })
                .await
                .with_context(|| format!("adding {topic} to the {year} plan"))?
                .into_inner()
                .plan
                .context("a plan in the answer")?;
        }
        plans
            .submit_consultation_plan(pb::SubmitConsultationPlanRequest {
                name: name.clone(),
                etag: String::new(),
            })
            .await
            .with_context(|| format!("submitting the {year} plan"))?;
        plan.state = pb::PlanState::Submitted as i32;
    }
    if plan.state == pb::PlanState::Submitted as i32 {
        plan = office
            .plans(true)
            .decide_consultation_plan(pb::DecideConsultationPlanRequest {
                name: name.clone(),
                approve: true,
                reason: String::new(),
            })
            .await
            .with_context(|| format!("approving the {year} plan"))?
            .into_inner()
            .plan
            .context("a plan in the answer")?;
    }
    Ok(planned
        .iter()
        .filter_map(|(topic, ..)| {
            let item = plan.items.iter().find(|i| i.topic == *topic)?;
            Some(((year, *topic), item.id.clone()))
        })
        .collect())
}

/// One activity, from where it is to its planned step; its result's name,
/// year and kind.
async fn drive(
    office: &Office,
    items: &std::collections::HashMap<(i32, &'static str), String>,
    platforms: &[String],
    members: &[String],
    p: Planned,
) -> anyhow::Result<(String, i32, pb::ResultKind)> {
    let day = p.activity.date.context("a planned day")?;
    let mut activities = office.activities();
    let created = activities
        .create_activity(pb::CreateActivityRequest {
            parent: committee(),
            activity: Some(pb::Activity {
                platform: p.platform.map(|i| platforms[i].clone()).unwrap_or_default(),
                plan_item: p
                    .plan_topic
                    .and_then(|t| items.get(&(day.year, t)).cloned())
                    .unwrap_or_default(),
                ..p.activity.clone()
            }),
            participants: p.members.iter().map(|m| members[*m].clone()).collect(),
            request_id: request_id(&p.key),
        })
        .await
        .with_context(|| format!("creating {}", p.key))?
        .into_inner()
        .activity
        .context("an activity in the answer")?;
    let name = created.name;
    let now = activities
        .get_activity(pb::GetActivityRequest { name: name.clone() })
        .await
        .with_context(|| format!("reading {name}"))?
        .into_inner()
        .activity
        .context("an activity in the answer")?;
    let mut results = office.results(false);
    let title = match p.result {
        pb::ResultKind::Report => format!("关于{}的调研报告", p.activity.topic),
        _ => format!("关于{}的协商意见", p.activity.topic),
    };
    let within = if p.result == pb::ResultKind::Report {
        5
    } else {
        2
    };
    // Replayed under its request id once made: the same result each time.
    let result = || pb::CreateConsultationResultRequest {
        parent: committee(),
        result: Some(pb::ConsultationResult {
            activity: name.clone(),
            kind: p.result as i32,
            title: title.clone(),
            text: "一、基本情况……二、存在问题……三、意见建议……".into(),
            recipients: vec!["县委".into(), "县政府".into()],
            send_date: Some(plus_days(&day, within)),
            ..Default::default()
        }),
        request_id: request_id(&format!("{}/result", p.key)),
    };
    if now.step >= p.target {
        let sent = send_result(&mut results, result()).await?;
        return Ok((sent, day.year, p.result));
    }
    // Short of its planned step, so not archived: opinions and problems may
    // still be added (each once, under its request id).
    for (k, text) in p.opinions.iter().enumerate() {
        activities
            .add_opinion(pb::AddOpinionRequest {
                parent: name.clone(),
                opinion: Some(pb::Opinion {
                    text: (*text).into(),
                    source: "参会群众".into(),
                    ..Default::default()
                }),
                request_id: request_id(&format!("{}/opinion/{k}", p.key)),
            })
            .await
            .with_context(|| format!("adding an opinion to {name}"))?;
    }
    for (k, (matter, _)) in p.problems.iter().enumerate() {
        let (what, owner, _) = MATTERS[*matter];
        activities
            .add_problem(pb::AddProblemRequest {
                parent: name.clone(),
                problem: Some(pb::Problem {
                    description: what.into(),
                    owner: owner.into(),
                    ..Default::default()
                }),
                request_id: request_id(&format!("{}/problem/{k}", p.key)),
            })
            .await
            .with_context(|| format!("adding a problem to {name}"))?;
    }
    let listed = activities
        .list_problems(pb::ListProblemsRequest {
            parent: name.clone(),
        })
        .await
        .with_context(|| format!("listing {name}'s problems"))?
        .into_inner()
        .problems;
    for (problem, (matter, solved)) in listed.iter().zip(&p.problems) {
        if *solved && problem.status != pb::ProblemStatus::Solved as i32 {
            activities
                .update_problem_status(pb::UpdateProblemStatusRequest {
                    name: problem.name.clone(),
                    status: pb::ProblemStatus::Solved as i32,
                    resolution: MATTERS[*matter].2.into(),
                })
                .await
                .with_context(|| format!("solving {}", problem.name))?;
        }
    }
    // The result goes out with step 5; past it, it is there already.
    let mut sent = None;
    if now.step >= 5 {
        sent = Some(send_result(&mut results, result()).await?);
    }
    for step in now.step + 1..=p.target {
        if step == 5 {
            sent = Some(send_result(&mut results, result()).await?);
        }
        // Read only at steps 6 and 7, after the result went out.
        let result_name = sent.clone().unwrap_or_default();
        if step == 6
            && let Some(leader) = p.instruction
        {
            let current = results
                .get_consultation_result(pb::GetConsultationResultRequest {
                    name: result_name.clone(),
                })
                .await?
                .into_inner()
                .result
                .context("a result in the answer")?;
            if current.instructions.is_empty() {
                let (title, leader_name) = LEADERS[leader];
                office
                    .results(true)
                    .add_result_instruction(pb::AddResultInstructionRequest {
                        name: result_name.clone(),
                        instruction: Some(LeaderInstruction {
                            leader_name: leader_name.into(),
                            leader_title: title.into(),
                            text: "请相关部门认真研究，抓好落实。".into(),
                            date: Some(plus_days(&day, within + 3)),
                        }),
                    })
                    .await
                    .with_context(|| format!("instructing on {result_name}"))?;
            }
        }
        if step == 7 {
            results
                .record_result_feedback(pb::RecordResultFeedbackRequest {
                    name: result_name.clone(),
                    adoption: if p.key.ends_with('3') {
                        pb::Adoption::Partly as i32
                    } else {
                        pb::Adoption::Adopted as i32
                    },
                    actions: "相关部门已研究采纳并推进落实".into(),
                })
                .await
                .with_context(|| format!("recording feedback on {result_name}"))?;
        }
        activities
            .take_activity_step(pb::TakeActivityStepRequest {
                name: name.clone(),
                step,
                documents: vec![format!("第{step}步材料.pdf")],
                ..Default::default()
            })
            .await
            .with_context(|| format!("taking step {step} of {name}"))?;
    }
    let sent = sent.context("every planned activity gets past step 5")?;
    Ok((sent, day.year, p.result))
}

/// Sends an activity's result; under its request id, the same one each time.
async fn send_result(
    results: &mut ConsultationResultServiceClient<Authed>,
    request: pb::CreateConsultationResultRequest,
) -> anyhow::Result<String> {
    let activity = request
        .result
        .as_ref()
        .map(|r| r.activity.clone())
        .unwrap_or_default();
    Ok(results
        .create_consultation_result(request)
        .await
        .with_context(|| format!("sending {activity}'s result"))?
        .into_inner()
        .result
        .context("a result in the answer")?
        .name)
}

/// Five issues of 《建言资政》 a year, the year's reports first.
async fn publish(
    office: &Office,
    results: &[(String, i32, pb::ResultKind)],
) -> anyhow::Result<usize> {
    let mut client = office.results(false);
    let mut issued = 0;
    for year in [2022, 2023] {
        let mut of_year: Vec<&String> = results
            .iter()
            .filter(|(_, y, k)| *y == year && *k == pb::ResultKind::Report)
            .map(|(n, ..)| n)
            .collect();
        of_year.extend(
            results
                .iter()
                .filter(|(_, y, k)| *y == year && *k != pb::ResultKind::Report)
                .map(|(n, ..)| n)
                .take(PUBLICATIONS_PER_YEAR),
        );
        for n in 0..PUBLICATIONS_PER_YEAR {
            let collected = of_year
                .iter()
                .skip(n)
                .step_by(PUBLICATIONS_PER_YEAR)
                .map(|s| (*s).clone())
                .collect();
            client
                .create_publication(pb::CreatePublicationRequest {
                    parent: committee(),
                    publication: Some(pb::Publication {
                        year,
                        title: format!("建言资政（{year}年第{}期）", n + 1),
                        results: collected,
                        issue_date: Some(date(year, 12, 20 + n as i32)),
                        ..Default::default()
                    }),
                    request_id: request_id(&format!("consultations/publication/{year}/{n}")),
                })
                .await
                .with_context(|| format!("issuing 建言资政 {year}/{}", n + 1))?;
            issued += 1;
        }
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_the_seed_figures() {
        let plan = plan(crate::demo::MEMBERS);
        let of = |kind: pb::ActivityKind, year: i32| {
            plan.iter()
                .filter(move |p| p.activity.kind == kind as i32)
                .filter(move |p| p.activity.date.as_ref().unwrap().year == year)
        };
        let research: usize = [2022, 2023]
            .iter()
            .map(|y| {
                of(pb::ActivityKind::ResearchInspection, *y)
                    .map(|p| p.members.len())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(research, 460);
        let frontline: usize = [2022, 2023]
            .iter()
            .map(|y| {
                of(pb::ActivityKind::Frontline, *y)
                    .map(|p| p.members.len())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(frontline, 235);
        assert_eq!(
            of(pb::ActivityKind::Frontline, 2023).count(),
            FRONTLINE_2023
        );
        let everyone: i32 = of(pb::ActivityKind::Frontline, 2023)
            .map(|p| p.members.len() as i32 + p.activity.official_count + p.activity.resident_count)
            .sum();
        assert!(everyone >= 6000, "{everyone}");
        let opinions: usize = of(pb::ActivityKind::Frontline, 2023)
            .map(|p| p.opinions.len())
            .sum();
        assert!(opinions >= 160, "{opinions}");
        let solved: usize = of(pb::ActivityKind::Frontline, 2023)
            .map(|p| p.problems.iter().filter(|(_, s)| *s).count())
            .sum();
        assert!(solved >= 120, "{solved}");
        let reports = plan
            .iter()
            .filter(|p| p.result == pb::ResultKind::Report)
            .count();
        assert_eq!(reports, REPORTS);
        assert_eq!(
            plan.iter().filter(|p| p.instruction.is_some()).count(),
            INSTRUCTIONS
        );
        // Only what reaches the archive has every problem solved.
        assert!(
            plan.iter()
                .filter(|p| p.target == 8)
                .all(|p| p.problems.iter().all(|(_, s)| *s))
        );
        let dates_in_year = plan.iter().all(|p| {
            let d = p.activity.date.as_ref().unwrap();
            plus_days(d, 8).year == d.year
        });
        for (year, items) in PLANS {
            for (topic, ..) in items {
                assert!(
                    plan.iter().any(|p| p.plan_topic == Some(*topic)
                        && p.activity.date.as_ref().unwrap().year == year),
                    "{year} {topic} is carried out"
                );
            }
        }
        assert!(
            dates_in_year,
            "results and instructions stay in the activity's year"
        );
    }
}
