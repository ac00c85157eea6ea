//! The demo committee: 随县政协 (`committees/suixian`) in 2023, its fourth
//! term, as the seed document describes it — 338 members across the
//! sectors, 37 of them also city members, 7 special committees, members
//! sent down to the 20 townships.
//!
//! Everything is loaded through the services' own RPCs, with request ids
//! derived from the data, so loading twice changes nothing: the registry
//! here, the organisation (activity groups and conveners, studios,
//! liaison stations, informants) in `organisation`, two years of duty
//! records in `ledger`, and the proposals, their handling units and the
//! units' assessment in `proposals`.

mod consultations;
mod ledger;
mod opinions;
mod organisation;
mod proposals;

pub use consultations::{
    BUDGET_FEN_2023, FRONTLINE_2023, INSTRUCTIONS as CONSULTATION_INSTRUCTIONS, PLATFORMS,
    PUBLICATIONS_PER_YEAR, REPORTS, Summary as ConsultationsLoaded,
};

pub use opinions::{
    ADOPTED_UPWARD_2023, CITY, FORWARDED_2023, INSTRUCTED_2023, MEMBER_REPORTS,
    MEMBER_REPORTS_2023, OPINION_MEMBERS_2023, Summary as OpinionsLoaded,
};

pub use proposals::{
    DRAFTS_2023, EXCELLENT, INSTRUCTIONS, KEY_PROPOSALS, LOOK_BACKS, PROPOSALS_2022,
    PROPOSALS_2023, Summary as ProposalsLoaded, UNITS, WITHDRAWN_2023, planned_states_2023,
};

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinSet;
use tonic::Code;
use uuid::Uuid;

use cppcc_kit::auth::{Role, TokenIssuer, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::common::v1::{CommitteeLevel, Date};
use cppcc_proto::members::v1 as pb;
use pb::committee_service_client::CommitteeServiceClient;
use pb::member_service_client::MemberServiceClient;

/// The demo committee's id.
pub const COMMITTEE: &str = "suixian";
/// Members on the roll.
pub const MEMBERS: usize = 338;
/// Of them, also members of the city committee.
pub const CITY_MEMBERS: usize = 37;

/// The sectors, their kind, and how many members sit for each (338 in all).
const SECTORS: [(&str, pb::SectorKind, usize); 22] = [
    ("中共", pb::SectorKind::Party, 61),
    ("民革", pb::SectorKind::Party, 6),
    ("民盟", pb::SectorKind::Party, 7),
    ("民建", pb::SectorKind::Party, 7),
    ("民进", pb::SectorKind::Party, 6),
    ("农工党", pb::SectorKind::Party, 6),
    ("九三学社", pb::SectorKind::Party, 5),
    ("无党派人士", pb::SectorKind::Party, 12),
    ("共青团", pb::SectorKind::Organisation, 8),
    ("工会", pb::SectorKind::Organisation, 10),
    ("妇联", pb::SectorKind::Organisation, 12),
    ("工商联", pb::SectorKind::Organisation, 52),
    ("科技界", pb::SectorKind::Field, 12),
    ("教育界", pb::SectorKind::Field, 22),
    ("文化艺术界", pb::SectorKind::Field, 10),
    ("医药卫生界", pb::SectorKind::Field, 20),
    ("经济界", pb::SectorKind::Field, 24),
    ("农业和农村界", pb::SectorKind::Field, 24),
    ("社会福利和社会保障界", pb::SectorKind::Field, 8),
    ("少数民族界", pb::SectorKind::Field, 5),
    ("宗教界", pb::SectorKind::Field, 5),
    ("特邀人士", pb::SectorKind::Field, 16),
];

/// The seven special committees: the six of before and the new
/// 农业和农村委员会.
const SPECIAL_COMMITTEES: [&str; 7] = [
    "提案委员会",
    "经济委员会",
    "农业和农村委员会",
    "教科卫体委员会",
    "文化文史和学习委员会",
    "社会法制和民族宗教委员会",
    "人口资源环境委员会",
];

/// The 20 townships and areas members are sent down to.
pub(crate) const TOWNSHIPS: [&str; 20] = [
    "厉山镇",
    "高城镇",
    "殷店镇",
    "草店镇",
    "小林镇",
    "淮河镇",
    "万和镇",
    "尚市镇",
    "唐县镇",
    "吴山镇",
    "新街镇",
    "安居镇",
    "环潭镇",
    "洪山镇",
    "三里岗镇",
    "柳林镇",
    "均川镇",
    "万福店农场",
    "大洪山风景名胜区",
    "太白顶风景名胜区",
];

/// Villages and communities members link with, by township (a few each).
const VILLAGES: [&str; 12] = [
    "大桥街村",
    "将军台村",
    "桂花街社区",
    "茅茨畈村",
    "解河村",
    "新城社区",
    "双河村",
    "凤凰村",
    "龙泉村",
    "黄土关村",
    "青龙村",
    "三合村",
];

const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建国红文斌宇浩凯波俊峰志海云飞鑫燕丹亮成林东晓春雪梅琳莉婷兵松柏清荣德胜利新宏光永安宁";

/// Employers and a job title there.
const JOBS: [(&str, &str); 14] = [
    ("随县人民医院", "主任医师"),
    ("随县人民医院", "院长"),
    ("随县第一中学", "校长"),
    ("随县第一中学", "高级教师"),
    ("随县农业农村局", "局长"),
    ("随县香菇产业协会", "会长"),
    ("湖北神农茶业有限公司", "董事长"),
    ("随县油茶专业合作社", "理事长"),
    ("随县中医医院", "副院长"),
    ("随县实验小学", "校长"),
    ("随县石材产业园", "总经理"),
    ("随县文化馆", "馆长"),
    ("随县农村商业银行", "行长"),
    ("随县供销合作社", "主任"),
];
const EDUCATION: [&str; 5] = ["大学本科", "硕士研究生", "大学专科", "博士研究生", "中专"];

/// A tiny deterministic generator, so the demo is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, s: &'a [&'a str]) -> &'a str {
        s[self.below(s.len())]
    }

    fn char_of(&mut self, s: &str) -> char {
        let chars: Vec<char> = s.chars().collect();
        chars[self.below(chars.len())]
    }
}

/// One generated member.
#[derive(Clone, Debug)]
pub struct DemoMember {
    pub member: pb::Member,
    /// Index into `SECTORS`.
    pub sector: usize,
}

fn political_affiliation(sector: &str, rng: &mut Rng) -> pb::PoliticalAffiliation {
    use pb::PoliticalAffiliation as P;
    match sector {
        "中共" => P::Cpc,
        "民革" => P::Rcck,
        "民盟" => P::Cdl,
        "民建" => P::Cndca,
        "民进" => P::Capd,
        "农工党" => P::Cpwdp,
        "九三学社" => P::Jss,
        "无党派人士" => P::NonParty,
        "共青团" => P::Cyl,
        _ => [P::Cpc, P::Cpc, P::Masses, P::NonParty][rng.below(4)],
    }
}

/// The 338 members, deterministic.
pub fn members() -> Vec<DemoMember> {
    let mut rng = Rng(0x5eed_2023_0004_0338);
    let mut names = std::collections::HashSet::new();
    let mut ids = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(MEMBERS);
    let mut n = 0usize;
    for (s, (sector, _, count)) in SECTORS.iter().enumerate() {
        for _ in 0..*count {
            let name = loop {
                let surname = rng.char_of(SURNAMES);
                let mut given = String::from(rng.char_of(GIVEN));
                if rng.below(3) > 0 {
                    given.push(rng.char_of(GIVEN));
                }
                let name = format!("{surname}{given}");
                if names.insert(name.clone()) {
                    break name;
                }
            };
            let female = rng.below(100) < 32;
            let id_number = loop {
                let year = 1958 + rng.below(34) as i32;
                let month = 1 + rng.below(12) as u32;
                let day = 1 + rng.below(28) as u32;
                let sequence = (rng.below(500) * 2 + usize::from(!female)) as u32;
                let first17 = format!("421321{year:04}{month:02}{day:02}{sequence:03}");
                let id = format!("{first17}{}", check_char(first17.as_bytes()) as char);
                if ids.insert(id.clone()) {
                    break id;
                }
            };
            // 洪山镇 has 13 members (its studio), 小林镇 5 (the seed's market story).
            let township = match n {
                0..=12 => "洪山镇",
                13..=17 => "小林镇",
                _ => TOWNSHIPS[rng.below(TOWNSHIPS.len())],
            };
            let ethnicity = match rng.below(100) {
                0..=95 => "汉族",
                96 | 97 => "回族",
                98 => "满族",
                _ => "土家族",
            };
            let job = JOBS[rng.below(JOBS.len())];
            let links = (0..1 + rng.below(3))
                .map(|i| pb::MemberLink {
                    kind: if i == 2 {
                        pb::MemberLinkKind::Enterprise as i32
                    } else {
                        pb::MemberLinkKind::Village as i32
                    },
                    display_name: if i == 2 {
                        JOBS[rng.below(JOBS.len())].0.to_owned()
                    } else {
                        rng.pick(&VILLAGES).to_owned()
                    },
                })
                .collect();
            out.push(DemoMember {
                sector: s,
                member: pb::Member {
                    display_name: name,
                    ethnicity: ethnicity.into(),
                    id_number,
                    phone: format!(
                        "1{}{:09}",
                        [3, 5, 7, 8, 9][rng.below(5)],
                        rng.next() % 1_000_000_000
                    ),
                    political_affiliation: political_affiliation(sector, &mut rng) as i32,
                    employer: job.0.into(),
                    job_title: job.1.into(),
                    role: pb::MemberRole::Member as i32,
                    township: township.into(),
                    links,
                    term: 4,
                    join_date: Some(Date {
                        year: 2021,
                        month: 12,
                        day: 28,
                    }),
                    education: rng.pick(&EDUCATION).into(),
                    ..Default::default()
                },
            });
            n += 1;
        }
    }
    // Leadership: one chair, five vice chairs, a secretary-general, 38
    // standing members; 37 sit on the city committee too.
    let mut order: Vec<usize> = (0..out.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for (rank, &i) in order.iter().enumerate() {
        let m = &mut out[i].member;
        m.role = match rank {
            0 => pb::MemberRole::Chair,
            1..=5 => pb::MemberRole::ViceChair,
            6 => pb::MemberRole::SecretaryGeneral,
            7..=44 => pb::MemberRole::Standing,
            _ => pb::MemberRole::Member,
        } as i32;
        m.city_member = rank < CITY_MEMBERS;
    }
    out
}

/// A member for load tests: valid and different for every `n` (up to
/// about 30 million), in the given sector.
pub fn member_for_bench(n: u32, sector: &str) -> pb::Member {
    let birth = time::Date::from_calendar_date(1950, time::Month::January, 1).expect("a real day")
        + time::Duration::days(i64::from(n / 1000));
    let first17 = format!(
        "421321{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    pb::Member {
        display_name: format!("压测{n}"),
        id_number: format!("{first17}{}", check_char(first17.as_bytes()) as char),
        phone: format!("138{:08}", n % 100_000_000),
        sector: sector.to_owned(),
        role: pb::MemberRole::Member as i32,
        ethnicity: "汉族".into(),
        employer: "随县人民医院".into(),
        job_title: "院长".into(),
        township: "洪山镇".into(),
        links: vec![pb::MemberLink {
            kind: pb::MemberLinkKind::Village as i32,
            display_name: "大桥街村".into(),
        }],
        ..Default::default()
    }
}

/// How long the demo waits for the members service to credit the duty
/// entries other services' events give.
const CREDIT_WAIT: Duration = Duration::from_secs(180);

/// Calls in flight at once.
const IN_FLIGHT: usize = 8;

/// Tasks run `IN_FLIGHT` at a time, their results given back in the order
/// the tasks were started; the first failure stops the rest.
pub(crate) struct Pool<R> {
    running: JoinSet<anyhow::Result<(usize, R)>>,
    done: Vec<(usize, R)>,
    started: usize,
}

impl<R: Send + 'static> Pool<R> {
    pub(crate) fn new() -> Pool<R> {
        Pool {
            running: JoinSet::new(),
            done: Vec::new(),
            started: 0,
        }
    }

    /// Starts `task` once a slot is free.
    pub(crate) async fn start(
        &mut self,
        task: impl Future<Output = anyhow::Result<R>> + Send + 'static,
    ) -> anyhow::Result<()> {
        if self.running.len() == IN_FLIGHT {
            self.join_one().await?;
        }
        let i = self.started;
        self.started += 1;
        self.running
            .spawn(async move { task.await.map(|r| (i, r)) });
        Ok(())
    }

    async fn join_one(&mut self) -> anyhow::Result<()> {
        let done = self
            .running
            .join_next()
            .await
            .context("a task is running")?
            .context("a task of the demo failed")??;
        self.done.push(done);
        Ok(())
    }

    /// Waits for every task started.
    pub(crate) async fn finish(mut self) -> anyhow::Result<Vec<R>> {
        while !self.running.is_empty() {
            self.join_one().await?;
        }
        self.done.sort_by_key(|(i, _)| *i);
        Ok(self.done.into_iter().map(|(_, r)| r).collect())
    }
}

/// Runs `work` on every item, `IN_FLIGHT` at a time, and gives the results
/// in the items' order.
pub(crate) async fn in_parallel<T, R, Fut>(
    items: impl IntoIterator<Item = T>,
    work: impl Fn(T) -> Fut,
) -> anyhow::Result<Vec<R>>
where
    R: Send + 'static,
    Fut: Future<Output = anyhow::Result<R>> + Send + 'static,
{
    let mut pool = Pool::new();
    for item in items {
        pool.start(work(item)).await?;
    }
    pool.finish().await
}

pub(crate) fn request_id(what: &str) -> String {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("https://cppcc.example/demo/{what}").as_bytes(),
    )
    .to_string()
}

/// A token of the demo committee, valid for an hour.
pub(crate) fn bearer(
    issuer: &TokenIssuer,
    role: Role,
    subject: &str,
    member: Option<&str>,
    unit: Option<&str>,
) -> Bearer {
    Bearer::new(&issuer.issue(&TokenRequest {
        subject,
        role,
        committee: COMMITTEE,
        member,
        unit,
        ttl: Duration::from_secs(3600),
    }))
}

/// `n` distinct indexes below `members`.
fn distinct(rng: &mut Rng, members: usize, n: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..members).collect();
    for i in 0..n {
        all.swap(i, i + rng.below(members - i));
    }
    all.truncate(n);
    all
}

/// The callers the demo acts as: the office, its staff, a county leader
/// and the information centre.
struct Callers {
    channel: tonic::transport::Channel,
    admin: Bearer,
    staff: Bearer,
    leader: Bearer,
}

impl Callers {
    fn new(members_uri: &str, issuer: &TokenIssuer) -> anyhow::Result<Callers> {
        let bearer = |role, subject| bearer(issuer, role, subject, None, None);
        Ok(Callers {
            channel: cppcc_kit::client::channel(members_uri)?,
            admin: bearer(Role::Admin, "cppcc-demo"),
            staff: bearer(Role::Staff, "demo-staff"),
            leader: bearer(Role::Leader, "demo-leader"),
        })
    }

    fn members(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.channel.clone(), self.admin.clone())
    }
}

/// The members as created, with their generated data.
pub(crate) struct Roll {
    /// Sector resource names, in `SECTORS` order.
    pub sectors: Vec<String>,
    /// Every member: generated, and as the service answered.
    pub members: Vec<(DemoMember, pb::Member)>,
}

/// What a load did.
#[derive(Clone, Debug)]
pub enum Loaded {
    /// Everything was there already.
    Already,
    /// Loaded now: the members, their organisation and duty records too
    /// (`members`), or only the proposals (the members were there).
    Now {
        members: bool,
        proposals: ProposalsLoaded,
        consultations: Option<ConsultationsLoaded>,
        opinions: Option<OpinionsLoaded>,
    },
}

/// Loads the demo committee through the members service at `members_uri`
/// and the proposals service at `proposals_uri`, or what of it is missing.
pub async fn load(
    members_uri: &str,
    proposals_uri: &str,
    consultations_uri: &str,
    opinions_uri: &str,
    issuer: &TokenIssuer,
) -> anyhow::Result<Loaded> {
    let callers = Callers::new(members_uri, issuer)?;
    let desk = proposals::Desk::new(proposals_uri, issuer)?;
    let office = consultations::Office::new(consultations_uri, issuer)?;
    let members = !ledger::loaded(&callers).await;
    let consulted = consultations::loaded(&office).await?;
    let centre = opinions::Centre::new(opinions_uri, members_uri, proposals_uri, issuer)?;
    let reported = opinions::loaded(&centre).await?;
    if !members && consulted && reported && proposals::loaded(&desk).await? {
        return Ok(Loaded::Already);
    }
    let roll = if members {
        registry(&callers).await?
    } else {
        registered(&callers).await?
    };
    // The opinion reports come from members and informants, so after the
    // organisation; their duty entries come through the intake.
    let organised = async {
        if members {
            organisation::load(&callers, &roll).await?;
            ledger::load(&callers, &roll).await?;
        }
        if reported {
            return anyhow::Ok(None);
        }
        let loaded = opinions::load(centre, &roll).await?;
        ledger::credited(&callers, opinions::CREDITED).await?;
        Ok(Some(loaded))
    };
    let consulting = async {
        if consulted {
            return anyhow::Ok(None);
        }
        let loaded = consultations::load(office, &roll).await?;
        // Its duty entries come to the members service through the intake;
        // the demo is loaded when they are there.
        ledger::credited(&callers, consultations::CREDITED).await?;
        Ok(Some(loaded))
    };
    let (opinions, proposals, consultations) =
        tokio::try_join!(organised, proposals::load(&desk, &roll), consulting)?;
    Ok(Loaded::Now {
        members,
        proposals,
        consultations,
        opinions,
    })
}

async fn registry(callers: &Callers) -> anyhow::Result<Roll> {
    let mut committees =
        CommitteeServiceClient::with_interceptor(callers.channel.clone(), callers.admin.clone());
    let mut members = callers.members();
    let parent = format!("committees/{COMMITTEE}");
    let created = committees
        .create_committee(pb::CreateCommitteeRequest {
            committee_id: COMMITTEE.into(),
            committee: Some(pb::Committee {
                display_name: "政协随县委员会".into(),
                level: CommitteeLevel::County as i32,
                parent: "committees/suizhou".into(),
                current_term: 4,
                term_start_date: Some(Date {
                    year: 2021,
                    month: 12,
                    day: 28,
                }),
                region_code: "421321".into(),
                ..Default::default()
            }),
            request_id: request_id("committee"),
        })
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Code::AlreadyExists => {}
        Err(e) => return Err(e).context("creating the demo committee"),
    }

    let mut sector_names = Vec::new();
    for (i, (name, kind, _)) in SECTORS.iter().enumerate() {
        let sector = members
            .create_sector(pb::CreateSectorRequest {
                parent: parent.clone(),
                sector: Some(pb::Sector {
                    display_name: (*name).into(),
                    kind: *kind as i32,
                    sort_order: i as i32 + 1,
                    ..Default::default()
                }),
                request_id: request_id(&format!("sector/{name}")),
            })
            .await
            .with_context(|| format!("creating sector {name}"))?;
        sector_names.push(
            sector
                .into_inner()
                .sector
                .context("a sector in the answer")?
                .name,
        );
    }

    let mut special = Vec::new();
    for (i, name) in SPECIAL_COMMITTEES.iter().enumerate() {
        let sc = members
            .create_special_committee(pb::CreateSpecialCommitteeRequest {
                parent: parent.clone(),
                special_committee: Some(pb::SpecialCommittee {
                    display_name: (*name).into(),
                    sort_order: i as i32 + 1,
                    ..Default::default()
                }),
                request_id: request_id(&format!("special-committee/{name}")),
            })
            .await
            .with_context(|| format!("creating special committee {name}"))?;
        special.push(
            sc.into_inner()
                .special_committee
                .context("a special committee in the answer")?
                .name,
        );
    }

    let mut created = Vec::with_capacity(MEMBERS);
    let mut roll = Vec::with_capacity(MEMBERS);
    for (i, demo) in members_with_sectors(&sector_names).into_iter().enumerate() {
        let member = members
            .create_member(pb::CreateMemberRequest {
                parent: parent.clone(),
                member: Some(demo.member.clone()),
                request_id: request_id(&format!("member/{i}")),
            })
            .await
            .with_context(|| format!("creating member {}", demo.member.display_name))?;
        let member = member
            .into_inner()
            .member
            .context("a member in the answer")?;
        created.push(member.clone());
        roll.push((demo, member));
    }

    // Each special committee: a chair and two vice chairs from the
    // standing members, and ten members.
    let standing: Vec<&pb::Member> = created
        .iter()
        .filter(|m| m.role == pb::MemberRole::Standing as i32)
        .collect();
    let ordinary: Vec<&pb::Member> = created
        .iter()
        .filter(|m| m.role == pb::MemberRole::Member as i32)
        .collect();
    for (c, sc) in special.iter().enumerate() {
        let seats = (0..3)
            .map(|k| {
                let position = if k == 0 {
                    pb::SpecialCommitteePosition::Chair
                } else {
                    pb::SpecialCommitteePosition::ViceChair
                };
                (standing[(c * 3 + k) % standing.len()], position)
            })
            .chain((0..10).map(|k| {
                (
                    ordinary[(c * 10 + k) % ordinary.len()],
                    pb::SpecialCommitteePosition::Member,
                )
            }));
        for (member, position) in seats {
            let seated = members
                .add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
                    special_committee: sc.clone(),
                    member: member.name.clone(),
                    position: position as i32,
                })
                .await;
            match seated {
                Ok(_) => {}
                // Seated by an earlier, interrupted load.
                Err(e) if e.code() == Code::AlreadyExists => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("seating {} on {sc}", member.display_name));
                }
            }
        }
    }
    Ok(Roll {
        sectors: sector_names,
        members: roll,
    })
}

/// The roll of a committee loaded before: the sectors and members the
/// registry holds, each demo member found by its name (no two share one).
async fn registered(callers: &Callers) -> anyhow::Result<Roll> {
    let parent = format!("committees/{COMMITTEE}");
    let mut client = callers.members();
    let sectors = client
        .list_sectors(pb::ListSectorsRequest {
            parent: parent.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .context("listing the sectors")?
        .into_inner()
        .sectors;
    let sector_names = SECTORS
        .iter()
        .map(|(name, _, _)| {
            sectors
                .iter()
                .find(|s| s.display_name == *name)
                .map(|s| s.name.clone())
                .with_context(|| format!("the sector {name} is not registered"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut listed = std::collections::HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_members(pb::ListMembersRequest {
                parent: parent.clone(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .context("listing the members")?
            .into_inner();
        listed.extend(
            page.members
                .into_iter()
                .map(|m| (m.display_name.clone(), m)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let members = members_with_sectors(&sector_names)
        .into_iter()
        .map(|demo| {
            let member = listed.remove(&demo.member.display_name).with_context(|| {
                format!("the member {} is not registered", demo.member.display_name)
            })?;
            Ok((demo, member))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Roll {
        sectors: sector_names,
        members,
    })
}

/// The members with their sector names filled in.
fn members_with_sectors(sector_names: &[String]) -> Vec<DemoMember> {
    members()
        .into_iter()
        .map(|mut d| {
            d.member.sector = sector_names[d.sector].clone();
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_has_the_seed_figures() {
        let all = members();
        assert_eq!(all.len(), MEMBERS);
        assert_eq!(SECTORS.iter().map(|s| s.2).sum::<usize>(), MEMBERS);
        assert_eq!(
            all.iter().filter(|m| m.member.city_member).count(),
            CITY_MEMBERS
        );
        assert!(all.iter().filter(|m| m.member.township == "洪山镇").count() >= 13);
        assert_eq!(SPECIAL_COMMITTEES.len(), 7);
        assert_eq!(TOWNSHIPS.len(), 20);
        let chairs = all
            .iter()
            .filter(|m| m.member.role == pb::MemberRole::Chair as i32)
            .count();
        assert_eq!(chairs, 1);
        // Every ID number is valid and unique, every name unique.
        let ids: std::collections::HashSet<_> =
            all.iter().map(|m| m.member.id_number.clone()).collect();
        assert_eq!(ids.len(), MEMBERS);
        for m in &all {
            cppcc_members::domain::IdNumber::parse(&m.member.id_number).unwrap();
        }
        let names: std::collections::HashSet<_> =
            all.iter().map(|m| m.member.display_name.clone()).collect();
        assert_eq!(names.len(), MEMBERS);
    }

    #[test]
    fn the_demo_is_the_same_every_time() {
        let a: Vec<_> = members()
            .into_iter()
            .map(|m| m.member.display_name)
            .collect();
        let b: Vec<_> = members()
            .into_iter()
            .map(|m| m.member.display_name)
            .collect();
        assert_eq!(a, b);
    }
}
