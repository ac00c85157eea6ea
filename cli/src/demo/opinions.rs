//! The demo's public-opinion work (社情民意信息): the term's 216 members'
//! reports (96 of them in 2023, from 47 members: "今年共有47名委员…提出意见
//! 建议"), the informants' reports through their liaison stations, the
//! office's and special committees' staff reporting each month against
//! their quota, the information centre's review, the monthly
//! 《社情民意简报》 and four 专刊 sent to units for handling with their
//! feedback and follow-up, the county party secretary's instructions, and
//! 12 reports forwarded to 随州市政协 (`committees/suizhou`, the city
//! committee, in this deployment too), which adopts 6 ("报送给随州政协10余篇,
//! 被随州政协采用了6篇"), declines 4 and has 2 still before it.
//!
//! The members' 反映社情民意信息 duty entries are not typed in: the members
//! service's intake credits them from this service's events. Everything
//! goes through the opinions service's RPCs, under request ids derived
//! from the data, and each report is taken from the step it is at to the
//! step planned for it, so a load that was cut off is finished by the next.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use tonic::Code;

use cppcc_kit::auth::{Role, TokenIssuer, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_proto::common::v1::{CommitteeLevel, Date, DutyKind, LeaderInstruction};
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::opinions::v1 as pb;
use cppcc_proto::proposals::v1 as ppb;
use mpb::committee_service_client::CommitteeServiceClient;
use mpb::liaison_network_service_client::LiaisonNetworkServiceClient;
use pb::bulletin_service_client::BulletinServiceClient;
use pb::opinion_quota_service_client::OpinionQuotaServiceClient;
use pb::opinion_report_service_client::OpinionReportServiceClient;
use pb::upward_inbox_service_client::UpwardInboxServiceClient;
use ppb::proposal_office_service_client::ProposalOfficeServiceClient;

use super::{COMMITTEE, Rng, Roll, TOWNSHIPS, distinct, in_parallel, request_id};

/// The city committee the county forwards to.
pub const CITY: &str = "suizhou";
/// Members' reports since the term began, and of them 2023's.
pub const MEMBER_REPORTS: usize = 216;
pub const MEMBER_REPORTS_2023: usize = 96;
/// Members who reported in 2023.
pub const OPINION_MEMBERS_2023: usize = 47;
/// 2023's reports forwarded to the city, adopted there, and declined.
pub const FORWARDED_2023: usize = 12;
pub const ADOPTED_UPWARD_2023: usize = 6;
const DECLINED_2023: usize = 4;
/// Informants' reports, by year.
const INFORMANT_REPORTS: [(i32, usize); 2] = [(2022, 40), (2023, 60)];
/// 2023's reports the county party secretary wrote instructions on.
pub const INSTRUCTED_2023: usize = 6;
/// 2023's 专刊, each with two reports sent to a unit for handling; the
/// last one's handling is still open at the year's end.
const SPECIAL_ISSUES_2023: usize = 4;
const PER_SPECIAL: usize = 2;
/// In a hundred reports, those the information centre does not accept.
const NOT_ACCEPTED_PERCENT: usize = 12;
/// The term's duty entries the reports credit, as the seed counts them.
pub const CREDITED: &[(DutyKind, usize)] = &[(DutyKind::OpinionSubmitted, MEMBER_REPORTS)];

/// The staff owing a report a month: the office's and each special
/// committee's.
const STAFF: [(&str, &str); 8] = [
    ("陈晓燕", "办公室"),
    ("刘志强", "办公室"),
    ("王丽", "提案委员会"),
    ("张建国", "经济委员会"),
    ("李春梅", "农业和农村委员会"),
    ("赵磊", "教科卫体委员会"),
    ("周婷", "文化文史和学习委员会"),
    ("吴斌", "社会法制和民族宗教委员会"),
];

/// What reports are about, as the seed names them.
const TOPICS: [(&str, pb::OpinionCategory); 16] = [
    ("探索乡村合作公司", pb::OpinionCategory::Rural),
    ("美丽乡村建设", pb::OpinionCategory::Rural),
    ("全域旅游发展", pb::OpinionCategory::CultureTourism),
    ("香菇产业提质增效", pb::OpinionCategory::Economy),
    ("油茶产业规模化发展", pb::OpinionCategory::Economy),
    ("城乡供水一体化", pb::OpinionCategory::Livelihood),
    ("农村养老服务", pb::OpinionCategory::Livelihood),
    ("大洪山水库污染治理", pb::OpinionCategory::Environment),
    ("集镇棚户区改造", pb::OpinionCategory::Livelihood),
    ("县域医共体建设", pb::OpinionCategory::Health),
    ("农村学校师资补充", pb::OpinionCategory::Education),
    ("石材专用通道建设", pb::OpinionCategory::Economy),
    ("涉企信访矛盾化解", pb::OpinionCategory::Governance),
    ("绿色矿山建设", pb::OpinionCategory::Environment),
    ("茅茨畈湿地公园建设", pb::OpinionCategory::CultureTourism),
    ("农贸市场改造", pb::OpinionCategory::Livelihood),
];

/// What was loaded, for `cppcc up` to print.
#[derive(Clone, Debug)]
pub struct Summary {
    pub reports: usize,
    pub bulletins: usize,
    pub forwarded: usize,
    pub adopted: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} opinion reports, {} bulletin issues, {} forwarded to 随州市政协 and {} adopted there",
            self.reports, self.bulletins, self.forwarded, self.adopted
        )
    }
}

/// The information centre's callers: of the county, of the city, and the
/// registry and the proposals service it asks.
pub(super) struct Centre {
    opinions: tonic::transport::Channel,
    members: tonic::transport::Channel,
    proposals: tonic::transport::Channel,
    county: Bearer,
    leader: Bearer,
    unit_issuer: TokenIssuer,
    city: Bearer,
    city_admin: Bearer,
}

impl Centre {
    pub(super) fn new(
        opinions_uri: &str,
        members_uri: &str,
        proposals_uri: &str,
        issuer: &TokenIssuer,
    ) -> anyhow::Result<Centre> {
        let county = |role, subject| super::bearer(issuer, role, subject, None, None);
        let city = |role| {
            Bearer::new(&issuer.issue(&TokenRequest {
                subject: "demo-suizhou",
                role,
                committee: CITY,
                member: None,
                unit: None,
                ttl: std::time::Duration::from_secs(3600),
            }))
        };
        Ok(Centre {
            opinions: cppcc_kit::client::channel(opinions_uri)?,
            members: cppcc_kit::client::channel(members_uri)?,
            proposals: cppcc_kit::client::channel(proposals_uri)?,
            county: county(Role::InfoCentre, "demo-info-centre"),
            leader: county(Role::Leader, "demo-leader"),
            unit_issuer: issuer.clone(),
            city: city(Role::InfoCentre),
            city_admin: city(Role::Admin),
        })
    }

    fn reports(&self) -> OpinionReportServiceClient<Authed> {
        OpinionReportServiceClient::with_interceptor(self.opinions.clone(), self.county.clone())
    }

    fn bulletins(&self) -> BulletinServiceClient<Authed> {
        BulletinServiceClient::with_interceptor(self.opinions.clone(), self.county.clone())
    }
}

fn committee() -> String {
    format!("committees/{COMMITTEE}")
}

fn plus_days(d: &Date, n: i64) -> Date {
    let day =
        time::Date::from_calendar_date(d.year, (d.month as u8).try_into().unwrap(), d.day as u8)
            .expect("a planned day is a day")
            + time::Duration::days(n);
    Date {
        year: day.year(),
        month: u8::from(day.month()).into(),
        day: day.day().into(),
    }
}

/// Who reports.
#[derive(Clone, Debug)]
enum Who {
    Member(usize),
    Informant(usize),
    Staff(usize),
}

/// What becomes of a report after review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    Nothing,
    /// Forwarded to the city, which adopts it (`Some(true)`), declines it,
    /// or has not decided.
    Forward(Option<bool>),
    /// Instructed on by the county party secretary.
    Instructed,
    /// In 专刊 number `n` (from 0), sent to a unit.
    Special(usize),
}

#[derive(Clone, Debug)]
struct Planned {
    key: String,
    who: Who,
    topic: usize,
    township: &'static str,
    day: Date,
    accepted: bool,
    then: Then,
}

/// The reports, the same every time: submitted before the 25th of a
/// month from January to November, reviewed three days later.
fn plan(members: usize, informants: usize) -> Vec<Planned> {
    let mut rng = Rng(0x0b1a_1023_5e9e_2216);
    let mut out = Vec::new();
    let mut add = |rng: &mut Rng, key: String, who: Who, year: i32| {
        let day = Date {
            year,
            month: 1 + rng.below(11) as i32,
            day: 1 + rng.below(24) as i32,
        };
        out.push(Planned {
            key,
            who,
            topic: rng.below(TOPICS.len()),
            township: TOWNSHIPS[rng.below(TOWNSHIPS.len())],
            day,
            accepted: rng.below(100) >= NOT_ACCEPTED_PERCENT,
            then: Then::Nothing,
        });
    };
    for n in 0..MEMBER_REPORTS - MEMBER_REPORTS_2023 {
        let m = rng.below(members);
        add(
            &mut rng,
            format!("opinion/2022/member/{n}"),
            Who::Member(m),
            2022,
        );
    }
    let reporters = distinct(&mut rng, members, OPINION_MEMBERS_2023);
    for n in 0..MEMBER_REPORTS_2023 {
        let m = if n < reporters.len() {
            reporters[n]
        } else {
            reporters[rng.below(reporters.len())]
        };
        add(
            &mut rng,
            format!("opinion/2023/member/{n}"),
            Who::Member(m),
            2023,
        );
    }
    for (year, count) in INFORMANT_REPORTS {
        for n in 0..count {
            let i = rng.below(informants);
            add(
                &mut rng,
                format!("opinion/{year}/informant/{n}"),
                Who::Informant(i),
                year,
            );
        }
    }
    // Staff: each month of 2023, but a few months missed.
    for (s, _) in STAFF.iter().enumerate() {
        for month in 1..=11 {
            if (s * 5 + month) % 9 == 0 {
                continue;
            }
            let day = Date {
                year: 2023,
                month: month as i32,
                day: 5 + (s as i32) * 2,
            };
            out.push(Planned {
                key: format!("opinion/2023/staff/{s}/{month}"),
                who: Who::Staff(s),
                topic: (s + month) % TOPICS.len(),
                township: TOWNSHIPS[(s + month) % TOWNSHIPS.len()],
                day,
                accepted: true,
                then: Then::Nothing,
            });
        }
    }
    // 2023's accepted member reports: the first forwarded, the next
    // instructed on, the next in the 专刊.
    let mut accepted_2023 = out
        .iter_mut()
        .filter(|p| p.day.year == 2023 && p.accepted && matches!(p.who, Who::Member(_)));
    for n in 0..FORWARDED_2023 {
        let decision = if n < ADOPTED_UPWARD_2023 {
            Some(true)
        } else if n < ADOPTED_UPWARD_2023 + DECLINED_2023 {
            Some(false)
        } else {
            None
        };
        accepted_2023.next().expect("enough reports").then = Then::Forward(decision);
    }
    for _ in 0..INSTRUCTED_2023 {
        accepted_2023.next().expect("enough reports").then = Then::Instructed;
    }
    for n in 0..SPECIAL_ISSUES_2023 * PER_SPECIAL {
        accepted_2023.next().expect("enough reports").then = Then::Special(n / PER_SPECIAL);
    }
    out
}

fn review_day(p: &Planned) -> Date {
    plus_days(&p.day, 3)
}

/// Whether the opinions are loaded: the last thing loaded is 2023's last
/// bulletin issue.
pub(super) async fn loaded(centre: &Centre) -> anyhow::Result<bool> {
    let issues = centre
        .bulletins()
        .list_bulletins(pb::ListBulletinsRequest {
            parent: committee(),
            year: 2023,
        })
        .await
        .context("listing 2023's bulletins")?
        .into_inner()
        .bulletins;
    Ok(issues.len() >= 11 + SPECIAL_ISSUES_2023)
}

pub(super) async fn load(centre: Centre, roll: &Roll) -> anyhow::Result<Summary> {
    city(&centre).await?;
    let staff = roster(&centre).await?;
    let informants = informants(&centre).await?;
    anyhow::ensure!(!informants.is_empty(), "the demo's informants are missing");
    let members: Vec<String> = roll.members.iter().map(|(_, m)| m.name.clone()).collect();
    let planned = plan(members.len(), informants.len());
    let centre = Arc::new(centre);
    let (members, informants, staff) = (Arc::new(members), Arc::new(informants), Arc::new(staff));
    let reports = in_parallel(planned.clone(), |p| {
        let (centre, members, informants, staff) = (
            centre.clone(),
            members.clone(),
            informants.clone(),
            staff.clone(),
        );
        async move { report(&centre, &members, &informants, &staff, &p).await }
    })
    .await?;
    let by_key: HashMap<String, pb::OpinionReport> = planned
        .iter()
        .map(|p| p.key.clone())
        .zip(reports.iter().cloned())
        .collect();
    let forwarded = decide(&centre, &planned, &by_key).await?;
    handle(&centre, &planned, &by_key).await?;
    let bulletins = bulletins(&centre, &planned, &by_key).await?;
    Ok(Summary {
        reports: reports.len(),
        bulletins,
        forwarded,
        adopted: ADOPTED_UPWARD_2023,
    })
}

/// 随州市政协, the county's parent, in the registry.
async fn city(centre: &Centre) -> anyhow::Result<()> {
    let created =
        CommitteeServiceClient::with_interceptor(centre.members.clone(), centre.city_admin.clone())
            .create_committee(mpb::CreateCommitteeRequest {
                committee_id: CITY.into(),
                committee: Some(mpb::Committee {
                    display_name: "政协随州市委员会".into(),
                    level: CommitteeLevel::City as i32,
                    parent: "committees/hubei".into(),
                    current_term: 5,
                    term_start_date: Some(Date {
                        year: 2021,
                        month: 12,
                        day: 20,
                    }),
                    region_code: "421300".into(),
                    ..Default::default()
                }),
                request_id: request_id("committee/suizhou"),
            })
            .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Code::AlreadyExists => Ok(()),
        Err(e) => Err(e).context("creating 随州市政协"),
    }
}

/// The quota roster; the staff's names in `STAFF` order.
async fn roster(centre: &Centre) -> anyhow::Result<Vec<String>> {
    let mut quota =
        OpinionQuotaServiceClient::with_interceptor(centre.opinions.clone(), centre.county.clone());
    let mut out = Vec::new();
    for (name, unit) in STAFF {
        out.push(
            quota
                .create_opinion_staff(pb::CreateOpinionStaffRequest {
                    parent: committee(),
                    staff: Some(pb::OpinionStaff {
                        display_name: name.into(),
                        unit: unit.into(),
                        ..Default::default()
                    }),
                    request_id: request_id(&format!("opinion-staff/{unit}/{name}")),
                })
                .await
                .with_context(|| format!("adding {name} to the quota roster"))?
                .into_inner()
                .staff
                .context("a staff member in the answer")?
                .name,
        );
    }
    Ok(out)
}

/// The committee's informants, as the registry lists them.
async fn informants(centre: &Centre) -> anyhow::Result<Vec<String>> {
    let listed = LiaisonNetworkServiceClient::with_interceptor(
        centre.members.clone(),
        centre.county.clone(),
    )
    .list_informants(mpb::ListInformantsRequest {
        parent: committee(),
        page_size: 1000,
        ..Default::default()
    })
    .await
    .context("listing the informants")?
    .into_inner()
    .informants;
    Ok(listed.into_iter().map(|i| i.name).collect())
}

/// Records a report and takes it through review and what follows it
/// (forward, instruction); the report as it then is.
async fn report(
    centre: &Centre,
    members: &[String],
    informants: &[String],
    staff: &[String],
    p: &Planned,
) -> anyhow::Result<pb::OpinionReport> {
    let (topic, category) = TOPICS[p.topic];
    let mut report = pb::OpinionReport {
        title: format!("关于{topic}的建议"),
        content: format!(
            "{}群众反映{topic}中存在的困难和问题较为集中。建议县直有关部门加强统筹，明确责任分工，\
             加大政策和资金支持，定期跟踪落实情况，切实回应群众关切。",
            p.township
        ),
        category: category as i32,
        township: p.township.into(),
        submit_date: Some(p.day),
        ..Default::default()
    };
    match p.who {
        Who::Member(m) => report.member = members[m].clone(),
        Who::Informant(i) => report.informant = informants[i].clone(),
        Who::Staff(s) => report.staff = staff[s].clone(),
    }
    let mut reports = centre.reports();
    let mut r = reports
        .create_opinion_report(pb::CreateOpinionReportRequest {
            parent: committee(),
            report: Some(report),
            request_id: request_id(&p.key),
        })
        .await
        .with_context(|| format!("recording {}", p.key))?
        .into_inner()
        .report
        .context("a report in the answer")?;
    let day = review_day(p);
    if r.review_state == pb::ReviewState::Submitted as i32 {
        r = if p.accepted {
            reports
                .accept_opinion_report(pb::AcceptOpinionReportRequest {
                    name: r.name.clone(),
                    date: Some(day),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("accepting {}", p.key))?
                .into_inner()
                .report
        } else {
            reports
                .reject_opinion_report(pb::RejectOpinionReportRequest {
                    name: r.name.clone(),
                    reason: "与已报送信息内容重复，未予采用".into(),
                    date: Some(day),
                })
                .await
                .with_context(|| format!("reviewing {}", p.key))?
                .into_inner()
                .report
        }
        .context("a report in the answer")?;
    }
    match p.then {
        Then::Forward(_) if r.forwards.is_empty() => {
            r = reports
                .forward_opinion_report(pb::ForwardOpinionReportRequest {
                    name: r.name.clone(),
                    target: format!("committees/{CITY}"),
                    date: Some(plus_days(&day, 2)),
                })
                .await
                .with_context(|| format!("forwarding {}", p.key))?
                .into_inner()
                .report
                .context("a report in the answer")?;
        }
        Then::Instructed if r.instructions.is_empty() => {
            r = OpinionReportServiceClient::with_interceptor(
                centre.opinions.clone(),
                centre.leader.clone(),
            )
            .add_opinion_instruction(pb::AddOpinionInstructionRequest {
                name: r.name.clone(),
                instruction: Some(LeaderInstruction {
                    leader_name: "王书记".into(),
                    leader_title: "县委书记".into(),
                    text: format!("请相关部门认真研究{topic}的建议，抓好落实。"),
                    date: Some(plus_days(&day, 4)),
                }),
            })
            .await
            .with_context(|| format!("instructing on {}", p.key))?
            .into_inner()
            .report
            .context("a report in the answer")?;
        }
        _ => {}
    }
    Ok(r)
}

/// The city's information centre decides on what reached its inbox; how
/// many were forwarded.
async fn decide(
    centre: &Centre,
    planned: &[Planned],
    by_key: &HashMap<String, pb::OpinionReport>,
) -> anyhow::Result<usize> {
    let mut inbox =
        UpwardInboxServiceClient::with_interceptor(centre.opinions.clone(), centre.city.clone());
    let mut received = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = inbox
            .list_inbox_reports(pb::ListInboxReportsRequest {
                parent: format!("committees/{CITY}"),
                state: pb::InboxState::Received as i32,
                page_size: 1000,
                page_token,
            })
            .await
            .context("listing 随州市政协's inbox")?
            .into_inner();
        received.extend(page.reports);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut forwarded = 0;
    for p in planned {
        let Then::Forward(decision) = p.then else {
            continue;
        };
        forwarded += 1;
        let Some(adopted) = decision else { continue };
        let report = &by_key[&p.key];
        let Some(item) = received.iter().find(|i| i.source_report == report.name) else {
            continue;
        };
        inbox
            .decide_inbox_report(pb::DecideInboxReportRequest {
                name: item.name.clone(),
                adopted,
                note: if adopted {
                    "采用，编入《随州政协社情民意》".into()
                } else {
                    "与已采用信息重复，未采用".into()
                },
                date: Some(plus_days(&review_day(p), 12)),
            })
            .await
            .with_context(|| format!("deciding on {} at the city", p.key))?;
    }
    Ok(forwarded)
}

/// The 专刊's reports sent to units, answered, followed up and (but the
/// last issue's) closed.
async fn handle(
    centre: &Centre,
    planned: &[Planned],
    by_key: &HashMap<String, pb::OpinionReport>,
) -> anyhow::Result<()> {
    let units = units(centre).await?;
    let mut reports = centre.reports();
    for (n, p) in planned
        .iter()
        .filter(|p| matches!(p.then, Then::Special(_)))
        .enumerate()
    {
        let Then::Special(issue) = p.then else {
            continue;
        };
        let (unit, unit_name) = &units[n % units.len()];
        let sent = plus_days(&review_day(p), 5);
        let mut r = by_key[&p.key].clone();
        if r.handlings.is_empty() {
            r = reports
                .send_opinion_report_to_units(pb::SendOpinionReportToUnitsRequest {
                    name: r.name.clone(),
                    units: vec![pb::UnitRef {
                        unit: unit.clone(),
                        display_name: unit_name.clone(),
                    }],
                    date: Some(sent),
                })
                .await
                .with_context(|| format!("sending {} to {unit_name}", p.key))?
                .into_inner()
                .report
                .context("a report in the answer")?;
        }
        let h = r.handlings[0].clone();
        if h.state == pb::HandlingState::Sent as i32 {
            let as_unit = super::bearer(
                &centre.unit_issuer,
                Role::HandlingUnit,
                unit_name,
                None,
                Some(unit),
            );
            OpinionReportServiceClient::with_interceptor(centre.opinions.clone(), as_unit)
                .record_handling_feedback(pb::RecordHandlingFeedbackRequest {
                    name: r.name.clone(),
                    unit: String::new(),
                    feedback: "已召开专题会议研究，制定整改方案，正在逐项落实。".into(),
                    date: Some(plus_days(&sent, 20)),
                })
                .await
                .with_context(|| format!("{unit_name}'s feedback on {}", p.key))?;
        }
        if h.follow_ups.is_empty() {
            reports
                .record_handling_follow_up(pb::RecordHandlingFollowUpRequest {
                    name: h.name.clone(),
                    note: "跟踪督办：实地查看整改进展，督促按期办结。".into(),
                    date: Some(plus_days(&sent, 25)),
                })
                .await
                .with_context(|| format!("following up {}", p.key))?;
        }
        if issue + 1 < SPECIAL_ISSUES_2023 && h.state != pb::HandlingState::Closed as i32 {
            reports
                .close_handling(pb::CloseHandlingRequest {
                    name: h.name.clone(),
                    date: Some(plus_days(&sent, 30)),
                })
                .await
                .with_context(|| format!("closing {}", p.key))?;
        }
    }
    Ok(())
}

/// Units of the proposals service to send 专刊 to: (name, display name).
/// The proposals part of the demo creates them; waited for.
async fn units(centre: &Centre) -> anyhow::Result<Vec<(String, String)>> {
    let deadline = tokio::time::Instant::now() + super::CREDIT_WAIT;
    let office = super::bearer(
        &centre.unit_issuer,
        Role::ProposalOffice,
        "demo-proposal-office",
        None,
        None,
    );
    loop {
        let listed =
            ProposalOfficeServiceClient::with_interceptor(centre.proposals.clone(), office.clone())
                .list_handling_units(ppb::ListHandlingUnitsRequest {
                    parent: committee(),
                    show_retired: false,
                })
                .await
                .context("listing the handling units")?
                .into_inner()
                .units;
        if listed.len() >= SPECIAL_ISSUES_2023 * PER_SPECIAL {
            return Ok(listed
                .into_iter()
                .take(SPECIAL_ISSUES_2023 * PER_SPECIAL)
                .map(|u| (u.name, u.display_name))
                .collect());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the proposals service has no handling units to send reports to"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Each month's 《社情民意简报》 (the month's accepted reports of members
/// and informants, up to 12) and 2023's 专刊, issued in date order; how
/// many.
async fn bulletins(
    centre: &Centre,
    planned: &[Planned],
    by_key: &HashMap<String, pb::OpinionReport>,
) -> anyhow::Result<usize> {
    let mut issues: Vec<(Date, pb::BulletinKind, String, Vec<String>)> = Vec::new();
    for year in [2022, 2023] {
        for month in 1..=11 {
            let reports: Vec<String> = planned
                .iter()
                .filter(|p| {
                    p.accepted
                        && p.day.year == year
                        && p.day.month == month
                        && !matches!(p.who, Who::Staff(_))
                        && !matches!(p.then, Then::Special(_))
                })
                .take(12)
                .map(|p| by_key[&p.key].name.clone())
                .collect();
            if reports.is_empty() {
                continue;
            }
            issues.push((
                Date {
                    year,
                    month,
                    day: 28,
                },
                pb::BulletinKind::Regular,
                format!("社情民意简报（{year}年{month}月）"),
                reports,
            ));
        }
    }
    let specials: Vec<&Planned> = planned
        .iter()
        .filter(|p| matches!(p.then, Then::Special(_)))
        .collect();
    for (n, chunk) in specials.chunks(PER_SPECIAL).enumerate() {
        let day = chunk
            .iter()
            .map(|p| plus_days(&review_day(p), 5))
            .max_by_key(|d| (d.year, d.month, d.day))
            .expect("a chunk is not empty");
        issues.push((
            day,
            pb::BulletinKind::Special,
            format!("社情民意专刊（2023年第{}期）", n + 1),
            chunk.iter().map(|p| by_key[&p.key].name.clone()).collect(),
        ));
    }
    issues.sort_by_key(|(d, kind, ..)| (d.year, d.month, d.day, *kind as i32));
    let mut client = centre.bulletins();
    for (day, kind, title, reports) in &issues {
        client
            .create_bulletin(pb::CreateBulletinRequest {
                parent: committee(),
                bulletin: Some(pb::Bulletin {
                    kind: *kind as i32,
                    title: title.clone(),
                    issue_date: Some(*day),
                    reports: reports.clone(),
                    ..Default::default()
                }),
                request_id: request_id(&format!("bulletin/{title}")),
            })
            .await
            .with_context(|| format!("issuing {title}"))?;
    }
    Ok(issues.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_the_seeds_figures() {
        let planned = plan(338, 52);
        let members = |year: Option<i32>| {
            planned
                .iter()
                .filter(|p| matches!(p.who, Who::Member(_)))
                .filter(|p| year.is_none_or(|y| p.day.year == y))
                .collect::<Vec<_>>()
        };
        assert_eq!(members(None).len(), MEMBER_REPORTS);
        assert_eq!(members(Some(2023)).len(), MEMBER_REPORTS_2023);
        let mut reporters: Vec<usize> = members(Some(2023))
            .iter()
            .map(|p| match p.who {
                Who::Member(m) => m,
                _ => unreachable!(),
            })
            .collect();
        reporters.sort_unstable();
        reporters.dedup();
        assert_eq!(reporters.len(), OPINION_MEMBERS_2023);
        let forwarded: Vec<_> = planned
            .iter()
            .filter_map(|p| match p.then {
                Then::Forward(d) => Some(d),
                _ => None,
            })
            .collect();
        assert_eq!(forwarded.len(), FORWARDED_2023);
        assert_eq!(
            forwarded.iter().filter(|d| **d == Some(true)).count(),
            ADOPTED_UPWARD_2023
        );
    }
}
