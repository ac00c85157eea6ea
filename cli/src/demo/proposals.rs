//! The demo's proposals (提案): the fourth term's three plenary sessions, 40
//! county departments as handling units, and the proposals of 2022 and of
//! the third session (四届三次会议, 2023) on the seed's matters — 香菇, 油茶,
//! 中药材, 石材, 公共卫生, 淮河湿地公园, 擦亮小城镇, 曾随一体化, 乡村合作公司,
//! 美丽乡村, 全域旅游, 外来少数民族务工 and the county's everyday concerns.
//!
//! The 200 proposals of 2023 stand in every state a county office sees at
//! the end of the year: drafts, withdrawn, awaiting review, not filed and
//! turned into opinion reports, filed, being handled (reassigned, given more
//! time, replies returned, co-handlers countersigning), replied, rated and
//! closed; joint ones with co-signers who sign, sector and party-group ones,
//! merged ones (并案), key proposals supervised by county leaders with their
//! instructions and look-backs (回头看), the year's excellent proposals, and
//! the 100-point assessment of the units with the members' democratic
//! evaluation (民主评议). The 36 proposals of 2022, all settled, give the
//! term's figures ("四届政协以来").
//!
//! Everything goes through the proposals service's own RPCs, acting as the
//! office, the members, the units and the leaders would. Each proposal is
//! created under a request id derived from it and then driven from the
//! state it is in to the state planned for it, so a load that was cut off
//! is finished by the next one; a finished load is seen and skipped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context as _;
use tonic::Code;

use cppcc_kit::auth::{Role, TokenIssuer};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_proto::common::v1::Date;
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::proposals::v1 as pb;
use pb::proposal_assessment_service_client::ProposalAssessmentServiceClient;
use pb::proposal_follow_up_service_client::ProposalFollowUpServiceClient;
use pb::proposal_office_service_client::ProposalOfficeServiceClient;
use pb::proposal_service_client::ProposalServiceClient;

use super::{
    COMMITTEE, DemoMember, Pool, Rng, Roll, SECTORS, SPECIAL_COMMITTEES, bearer, in_parallel,
    request_id,
};

/// Proposals of the third session (2023).
pub const PROPOSALS_2023: usize = 200;
/// Proposals of the second session (2022), all settled.
pub const PROPOSALS_2022: usize = 36;
/// Of 2023's, still drafts: not counted as submitted.
pub const DRAFTS_2023: usize = 4;
/// Of 2023's, withdrawn by their proposers: not counted either.
pub const WITHDRAWN_2023: usize = 3;
/// Key proposals of 2023, each supervised by a county leader.
pub const KEY_PROPOSALS: usize = 10;
/// Leader instructions (领导批示) on 2023's proposals.
pub const INSTRUCTIONS: usize = 10;
/// Look-backs on 2023's closed proposals: every closed key one and a few more.
pub const LOOK_BACKS: usize = 12;
/// 2023's proposals put forward as excellent.
const EXCELLENT_NOMINATED: usize = 12;
/// Of them, chosen by the panel and approved by the chairs' meeting.
pub const EXCELLENT: usize = 8;
/// Members who take part in 2023's democratic evaluation, and the units
/// each scores.
const EVALUATORS: usize = 30;
const UNITS_EVALUATED: usize = 6;
/// The year of the third session, whose work the demo shows.
const YEAR: i32 = 2023;

/// The handling units (承办单位): the county's departments and bodies that
/// answer proposals, with the kind of body each is.
pub const UNITS: [(&str, &str); 40] = [
    ("县发改局", "政府部门"),
    ("县财政局", "政府部门"),
    ("县农业农村局", "政府部门"),
    ("县林业局", "政府部门"),
    ("县卫健局", "政府部门"),
    ("县教育局", "政府部门"),
    ("县住建局", "政府部门"),
    ("县交通运输局", "政府部门"),
    ("县文旅局", "政府部门"),
    ("县生态环境分局", "派驻机构"),
    ("县自然资源和规划局", "政府部门"),
    ("县水利和湖泊局", "政府部门"),
    ("县商务局", "政府部门"),
    ("县经信局", "政府部门"),
    ("县人社局", "政府部门"),
    ("县民政局", "政府部门"),
    ("县医保局", "政府部门"),
    ("县市场监管局", "政府部门"),
    ("县应急管理局", "政府部门"),
    ("县公安局", "政府部门"),
    ("县城管执法局", "政府部门"),
    ("县乡村振兴局", "政府部门"),
    ("县科技局", "政府部门"),
    ("县司法局", "政府部门"),
    ("县退役军人事务局", "政府部门"),
    ("县数据局", "政府部门"),
    ("县行政审批局", "政府部门"),
    ("县税务局", "垂直管理部门"),
    ("县气象局", "垂直管理部门"),
    ("县委宣传部", "党委部门"),
    ("县委统战部", "党委部门"),
    ("县总工会", "群团组织"),
    ("团县委", "群团组织"),
    ("县妇联", "群团组织"),
    ("县残联", "群团组织"),
    ("县供销社", "事业单位"),
    ("县融媒体中心", "事业单位"),
    ("县香菇产业发展中心", "事业单位"),
    ("国网随县供电公司", "企业"),
    ("各镇人民政府", "乡镇政府"),
];

/// A day of a given year: month and day.
type MonthDay = (i32, i32);

/// The fourth term's plenary sessions: name, year, first and last day.
const SESSIONS: [(&str, i32, MonthDay, MonthDay); 3] = [
    ("政协随县第四届委员会第一次会议", 2021, (12, 28), (12, 31)),
    ("政协随县第四届委员会第二次会议", 2022, (1, 12), (1, 15)),
    ("政协随县第四届委员会第三次会议", 2023, (1, 10), (1, 13)),
];
/// Index into `SESSIONS` of each year's session with proposals.
const SESSION_2022: usize = 1;
const SESSION_2023: usize = 2;

/// County leaders who supervise key proposals and write instructions:
/// title and name.
const LEADERS: [(&str, &str); 6] = [
    ("县委书记", "杨正德"),
    ("县委副书记、县长", "罗文斌"),
    ("县委副书记", "韩立群"),
    ("县委常委、常务副县长", "郑光明"),
    ("副县长", "吴晓燕"),
    ("副县长", "邓永安"),
];

/// Parties and people's organisations that put proposals in their own
/// name: the sector their members sit for, and the body.
const GROUPS: [(&str, &str); 10] = [
    ("民革", "民革随县支部"),
    ("民盟", "民盟随县支部"),
    ("民建", "民建随县支部"),
    ("民进", "民进随县支部"),
    ("农工党", "农工党随县支部"),
    ("九三学社", "九三学社随县支社"),
    ("工商联", "县工商联"),
    ("妇联", "县妇联"),
    ("共青团", "团县委"),
    ("工会", "县总工会"),
];

/// A matter members raise: what they ask, why, and how the units answer.
struct Topic {
    /// One proposal each: its title is 关于{ask}的建议.
    asks: &'static [&'static str],
    category: pb::ProposalCategory,
    /// The sector whose members raise it most.
    sector: &'static str,
    /// The situation and its causes (案由).
    reason: &'static str,
    /// What the proposers ask the county to do.
    suggestions: [&'static str; 4],
    /// The units that answer it, the usual lead first.
    units: &'static [&'static str],
    /// What the lead unit reports it has done.
    answer: &'static str,
}

const TOPICS: [Topic; 35] = [
    Topic {
        asks: &[
            "加快香菇精深加工园区建设",
            "打响随县香菇区域公用品牌",
            "完善香菇产业金融保险支持",
            "推进香菇菌棒工厂化生产",
            "规范香菇交易市场秩序",
            "建设香菇产业数字化服务平台",
            "支持香菇出口企业开拓国际市场",
            "推动香菇产业高质量发展",
            "培育香菇产业新型经营主体",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "农业和农村界",
        reason: "香菇是我县第一大农业支柱产业，从业人员多、出口量大，是群众增收的“钱袋子”。但产业链前端种植分散，后端精深加工不足，产品多以干菇原料形式销售，附加值不高；品牌多而不强，市场话语权弱；菇农抗风险能力差，价格一波动，收益便难以保障。",
        suggestions: [
            "统筹规划建设香菇精深加工园区，引进培育香菇酱、香菇脆片、香菇多糖等精深加工龙头企业",
            "整合现有品牌，集中打造区域公用品牌，做到统一标准、统一标识、统一宣传",
            "设立香菇产业发展基金，开发专属信贷产品，推广香菇价格指数保险",
            "推进菌棒工厂化、标准化生产，由龙头企业向菇农统一供棒，降低生产成本和技术风险",
        ],
        units: &[
            "县香菇产业发展中心",
            "县农业农村局",
            "县商务局",
            "县市场监管局",
        ],
        answer: "香菇精深加工园区已纳入县农业产业化发展规划，年内新引进精深加工企业两家；区域公用品牌建设方案已报县政府审定，将统一标准和标识；县财政安排香菇产业发展专项资金，并与县农商行合作推出“菇农贷”。",
    },
    Topic {
        asks: &[
            "加强香菇种植用材林管理与使用",
            "建设香菇专用栎类原料林基地",
            "推广香菇菌材替代技术",
            "简化香菇菌材采伐审批",
            "建立菌材林采伐与更新补偿机制",
            "推进林菌协调发展",
            "加强菌材林病虫害防治",
        ],
        category: pb::ProposalCategory::Ecology,
        sector: "农业和农村界",
        reason: "香菇生产每年需消耗大量栎类木材，菇林矛盾日益突出。部分地方超量采伐，采伐后更新造林跟不上；专用原料林基地规模小，外购菌材成本高；采伐审批周期长，菇农办证难。",
        suggestions: [
            "科学测算全县菌材需求，编制香菇用材林专项规划，划定专用原料林基地",
            "简化菌材采伐审批流程，推行采伐指标一窗办理",
            "推广果枝、农作物秸秆等替代菌材，降低木材消耗",
            "落实“谁采伐、谁更新”，建立采伐与更新造林挂钩的补偿机制",
        ],
        units: &[
            "县林业局",
            "县香菇产业发展中心",
            "县自然资源和规划局",
            "县行政审批局",
        ],
        answer: "我局已会同相关单位编制香菇用材林专项规划，划定栎类原料林基地；菌材采伐审批已进入政务服务中心一窗办理，办理时限压缩一半；替代菌材试验示范正在三里岗镇、殷店镇开展。",
    },
    Topic {
        asks: &[
            "加快油茶产业高质量发展",
            "推进低产油茶林改造提升",
            "扶持油茶精深加工龙头企业",
            "加强油茶良种苗木繁育",
            "打造随县茶油区域品牌",
            "完善油茶种植补贴政策",
            "推进油茶规模化经营",
            "推进油茶与林下经济融合发展",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "农业和农村界",
        reason: "我县发展油茶条件得天独厚，县政协专题召开议政性常委会为油茶产业高质量发展出谋划策。目前全县油茶林面积逐年扩大，但低产林比重大，良种普及率不高；加工企业规模小、精深加工能力弱，产品同质化严重；扶持资金分散，经营主体融资难。",
        suggestions: [
            "实施低产油茶林改造提升工程，推广良种良法",
            "建设油茶良种苗木繁育基地，保障优质苗木供应",
            "招引培育油茶精深加工龙头企业，开发茶油、茶皂素等系列产品",
            "整合涉农资金，完善新造、改造油茶林补贴标准",
        ],
        units: &["县林业局", "县农业农村局", "县财政局", "县市场监管局"],
        answer: "我局已制定油茶产业三年行动方案，今年完成低产林改造任务，新建良种苗木繁育基地一处；县财政统筹整合涉农资金，提高新造油茶林补贴标准；油茶精深加工企业招引工作正在推进。",
    },
    Topic {
        asks: &[
            "推动中药材产业发展",
            "建设道地中药材规范化种植基地",
            "培育中药材加工和流通主体",
            "加强中药材种植技术服务",
            "推进中药材产地初加工设施建设",
            "打造大洪山中药材品牌",
            "推动中医药与康养产业融合发展",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "医药卫生界",
        reason: "我县大洪山、桐柏山一带中药材资源丰富，但种植以农户分散经营为主，规范化、标准化程度低；产地初加工设施缺乏，产品多以原料出售；技术指导和市场信息跟不上，种植户跟风种植、丰产不丰收的情况时有发生。",
        suggestions: [
            "编制中药材产业发展规划，因地制宜建设道地药材规范化种植基地",
            "引进培育中药饮片加工企业，建设产地初加工和仓储设施",
            "组建中药材技术服务团队，推广订单种植",
            "加强中药材质量检测，打造区域品牌",
        ],
        units: &["县农业农村局", "县卫健局", "县科技局", "县市场监管局"],
        answer: "我局已将中药材产业纳入全县特色产业发展规划，在洪山镇、长岗镇建设规范化种植示范基地；联合县科技局组建技术服务团队开展巡回指导；引进的中药饮片加工企业已签约落地。",
    },
    Topic {
        asks: &[
            "推动石材产业复工复产和转型升级",
            "加快石材产业园区建设",
            "规范石材矿山开采秩序",
            "推进石材废料综合利用",
            "加强石材企业安全生产监管",
            "打造随县石材区域品牌",
            "提升石材精深加工水平",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "经济界",
        reason: "石材产业是我县传统支柱产业。受疫情和环保整治影响，部分企业停产时间长、复工复产难；矿山开采不够规范，废渣废水处理不到位；企业规模小、产品档次低，精深加工和品牌营销能力不足。",
        suggestions: [
            "建立重点石材企业包保服务机制，帮助解决复工复产中的用地、用电、融资难题",
            "推动石材企业向园区集中，统一建设污水处理和废料利用设施",
            "依法规范矿山开采，推进绿色矿山建设",
            "支持企业技术改造，发展高端石材制品",
        ],
        units: &[
            "县经信局",
            "县自然资源和规划局",
            "县生态环境分局",
            "县应急管理局",
        ],
        answer: "我局已建立重点石材企业包保服务机制，协调解决用电、融资等问题，规模以上石材企业全部复工复产；石材产业园污水处理和废料综合利用项目已开工；绿色矿山创建工作有序推进。",
    },
    Topic {
        asks: &[
            "补齐公共卫生服务短板",
            "加强乡镇卫生院和村卫生室建设",
            "推进紧密型县域医共体建设",
            "加强基层医疗卫生人才队伍建设",
            "提升县级医院重症救治能力",
            "完善突发公共卫生事件应急体系",
            "加强慢性病综合防控",
            "推进分级诊疗制度落地",
        ],
        category: pb::ProposalCategory::Society,
        sector: "医药卫生界",
        reason: "新冠疫情暴露出我县公共卫生体系的短板：疾控机构检测能力不足，基层医疗机构设施陈旧，乡村医生老龄化严重、后继乏人；县级医院重症救治能力有限，分级诊疗推进不够，群众看大病仍需外出。",
        suggestions: [
            "加大公共卫生财政投入，提升疾控机构检测和应急处置能力",
            "推进乡镇卫生院和村卫生室标准化建设",
            "落实乡村医生待遇保障，定向培养基层医疗人才",
            "深化县域医共体建设，推动优质医疗资源下沉",
        ],
        units: &["县卫健局", "县财政局", "县医保局", "县人社局"],
        answer: "我局已将公共卫生补短板项目纳入年度重点工作，县疾控中心实验室改造完成，乡镇卫生院标准化建设有序推进；今年定向招聘基层医疗卫生人员，县域医共体牵头医院向乡镇派驻骨干医师。",
    },
    Topic {
        asks: &[
            "推进淮河国家湿地公园建设",
            "加强淮河源头水生态保护",
            "完善淮河湿地公园基础设施",
            "推动湿地公园与生态旅游融合发展",
            "治理湿地公园周边面源污染",
            "建立湿地生态补偿机制",
            "加强湿地公园科普宣教",
        ],
        category: pb::ProposalCategory::Ecology,
        sector: "九三学社",
        reason: "淮河国家湿地公园是淮河源头重要的生态屏障。目前公园保护与利用矛盾突出，周边养殖和农业面源污染尚未根治，部分河段岸线破损；基础设施和科普宣教设施不足，生态旅游开发滞后；管护资金来源单一。",
        suggestions: [
            "编制湿地公园保护与利用总体规划，严格落实分区管控",
            "开展周边畜禽养殖和农业面源污染综合治理",
            "完善步道、观鸟台、科普馆等基础设施",
            "积极争取上级生态补偿资金，建立多元投入机制",
        ],
        units: &["县林业局", "县水利和湖泊局", "县生态环境分局", "县文旅局"],
        answer: "湿地公园保护与利用总体规划已完成修编，周边规模养殖场粪污处理设施配套率显著提升；科普宣教馆和生态步道建设已列入年度计划；我局已向上级申报湿地生态效益补偿资金。",
    },
    Topic {
        asks: &[
            "深入推进擦亮小城镇行动",
            "完善集镇污水管网等基础设施",
            "建立集镇环境卫生长效管护机制",
            "推进集镇农贸市场标准化改造",
            "打造特色风貌小城镇",
            "整治集镇占道经营和乱停乱放",
            "推进集镇供水供气设施建设",
        ],
        category: pb::ProposalCategory::Society,
        sector: "民建",
        reason: "“擦亮小城镇”行动开展以来，我县集镇面貌明显改善，但仍存在重建设轻管护、基础设施欠账多、污水管网覆盖不全、农贸市场脏乱差、占道经营反弹等问题，部分集镇特色不鲜明，千镇一面。",
        suggestions: [
            "建立集镇环境卫生长效管护机制，落实管护经费",
            "加快集镇污水管网建设，提高污水收集率",
            "推进农贸市场标准化改造",
            "挖掘地域文化，打造一批特色风貌小城镇",
        ],
        units: &["县住建局", "各镇人民政府", "县城管执法局", "县商务局"],
        answer: "我局已会同各镇制定擦亮小城镇巩固提升方案，建立集镇环境卫生长效管护机制；集镇污水管网延伸工程已列入今年项目计划；安居、淮河等镇特色风貌改造正在实施。",
    },
    Topic {
        asks: &[
            "推进曾随一体化发展",
            "加快曾随快速通道建设",
            "推动曾随产业协同发展",
            "推进曾随公共服务共建共享",
            "建立曾随一体化发展协调机制",
            "推进曾随城乡公交一体化",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "经济界",
        reason: "推进曾都区与随县一体化发展，是优化全市发展格局的重要举措。但当前两地交通仍有断头路，产业布局同质竞争，教育、医疗等公共服务资源共享不足，一体化发展的体制机制尚不健全。",
        suggestions: [
            "加快打通两地断头路，推进快速通道和城乡公交一体化",
            "统筹两地产业布局，共建产业园区，避免同质竞争",
            "推动教育、医疗、社保等公共服务共建共享",
            "建立两地一体化发展联席会议制度",
        ],
        units: &["县发改局", "县交通运输局", "县自然资源和规划局", "县商务局"],
        answer: "我局已配合市发改委编制曾随一体化发展规划，两地联席会议制度已建立；曾随快速通道项目已完成前期工作；两地正在共建产业园区，推动产业错位发展。",
    },
    Topic {
        asks: &[
            "探索发展乡村合作公司",
            "发展壮大村级集体经济",
            "规范村集体经济组织运营管理",
            "支持乡村合作公司承接农村公益项目",
            "完善乡村合作公司利益联结机制",
            "加强农村集体资产监管",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "农业和农村界",
        reason: "发展乡村合作公司是壮大村集体经济、带动农民增收的有效途径。我县部分村已开展探索，但普遍存在经营人才缺乏、启动资金不足、业务单一、与农户利益联结不紧密、财务管理不规范等问题。",
        suggestions: [
            "出台支持乡村合作公司发展的指导意见，明确登记注册、财务管理等规范",
            "设立扶持资金，支持合作公司承接小型农村公益项目",
            "选派懂经营的能人担任公司负责人，加强培训",
            "完善“公司+合作社+农户”利益联结机制",
        ],
        units: &["县乡村振兴局", "县农业农村局", "县财政局", "县供销社"],
        answer: "我局已起草支持乡村合作公司发展的指导意见，在十个村开展试点；县财政安排村级集体经济发展扶持资金；小型农村公益项目已明确可由合作公司承接。",
    },
    Topic {
        asks: &[
            "推进美丽乡村建设",
            "深化农村人居环境整治",
            "推进农村生活污水治理",
            "完善农村生活垃圾收运处置体系",
            "推进农村厕所革命提质增效",
            "加强传统村落保护利用",
            "建设宜居宜业和美乡村示范片",
        ],
        category: pb::ProposalCategory::Ecology,
        sector: "民盟",
        reason: "我县美丽乡村建设取得阶段性成效，但村庄规划滞后，农村生活污水治理覆盖面小，垃圾收运体系不健全，改厕后管护跟不上；部分传统村落年久失修，保护利用不够，乡村特色正在消失。",
        suggestions: [
            "统筹编制村庄规划，分类推进美丽乡村建设",
            "因地制宜推进农村生活污水治理，建立运维机制",
            "完善“户分类、村收集、镇转运、县处理”的垃圾收运体系",
            "加强传统村落保护，发展乡村旅游",
        ],
        units: &["县农业农村局", "县住建局", "县生态环境分局", "各镇人民政府"],
        answer: "我局已会同相关部门完成美丽乡村建设三年规划，今年新建美丽乡村示范村；农村生活污水治理和垃圾收运体系建设已覆盖重点村；传统村落保护名录正在申报。",
    },
    Topic {
        asks: &[
            "推进全域旅游发展",
            "打造炎帝故里寻根文化旅游品牌",
            "加快大洪山景区提档升级",
            "发展乡村民宿和农家乐",
            "完善旅游交通和服务设施",
            "加强随县文化旅游宣传营销",
            "开发随县特色文创和旅游商品",
            "推进文旅与农业融合发展",
        ],
        category: pb::ProposalCategory::Culture,
        sector: "文化艺术界",
        reason: "我县拥有炎帝神农故里、大洪山、桐柏山淮河源等旅游资源，但资源开发分散，景点之间交通不便，旅游配套服务设施不完善，宣传营销力度不够，游客“过而不留”，旅游对经济的拉动作用未充分发挥。",
        suggestions: [
            "编制全域旅游发展规划，串联景区景点，设计精品旅游线路",
            "办好世界华人炎帝故里寻根节，打响寻根文化品牌",
            "完善旅游交通、停车、厕所等服务设施",
            "扶持乡村民宿和农家乐规范发展，开发特色旅游商品",
        ],
        units: &[
            "县文旅局",
            "县交通运输局",
            "县融媒体中心",
            "县自然资源和规划局",
        ],
        answer: "我局已编制全域旅游发展规划，推出精品旅游线路；大洪山景区提档升级项目正在实施；县融媒体中心开设文旅专栏，加大宣传营销；乡村民宿扶持办法已出台。",
    },
    Topic {
        asks: &[
            "做好外来少数民族务工人员服务管理",
            "加强少数民族务工人员就业技能培训",
            "保障少数民族务工人员子女就近入学",
            "建立少数民族务工人员服务站",
            "促进各民族交往交流交融",
            "加强少数民族务工人员法律服务",
        ],
        category: pb::ProposalCategory::Politics,
        sector: "少数民族界",
        reason: "近年来到我县务工经商的外来少数民族人员逐年增多，主要集中在石材、香菇和建筑等行业。他们在就业、子女入学、生活习惯等方面存在一些困难，服务管理机制还不健全，部门之间信息共享不够。",
        suggestions: [
            "建立外来少数民族务工人员服务站，提供政策咨询和法律援助",
            "开展有针对性的就业技能培训",
            "保障务工人员子女就近入学",
            "开展民族团结进步创建活动，促进各民族交往交流交融",
        ],
        units: &["县委统战部", "县人社局", "县公安局", "县教育局"],
        answer: "县委统战部已牵头建立外来少数民族务工人员服务管理联席机制，在重点企业设立服务站；县人社局开展专项技能培训；务工人员子女入学已纳入义务教育招生统筹。",
    },
    Topic {
        asks: &[
            "巩固提升农村饮水安全保障水平",
            "推进城乡供水一体化",
            "加强农村饮水工程运行管护",
            "加强农村饮用水水质监测",
            "解决丘陵山区季节性缺水问题",
            "推进农村供水工程规模化建设",
        ],
        category: pb::ProposalCategory::Society,
        sector: "农工党",
        reason: "我县农村饮水工程点多面广，部分早期建设的工程设施老化，供水保证率不高；丘陵山区季节性缺水问题突出；工程管护主体不明确，水质监测覆盖不全，群众对饮水安全仍有担忧。",
        suggestions: [
            "推进城乡供水一体化，以大水厂覆盖农村",
            "明确农村饮水工程管护主体，落实管护经费",
            "加强水源保护和水质监测",
            "实施丘陵山区小型供水工程提升改造",
        ],
        units: &["县水利和湖泊局", "县卫健局", "县财政局", "各镇人民政府"],
        answer: "我局已编制城乡供水一体化规划，今年实施农村供水管网延伸工程；农村饮水工程县级统管机制已建立，管护经费纳入财政预算；县卫健局每季度开展农村饮用水水质监测。",
    },
    Topic {
        asks: &[
            "推进义务教育优质均衡发展",
            "加强乡村教师队伍建设",
            "化解城区学校大班额问题",
            "改善农村寄宿制学校办学条件",
            "加强中小学生心理健康教育",
            "提升“双减”后课后服务质量",
            "推进职业教育产教融合",
            "推进学前教育普惠发展",
        ],
        category: pb::ProposalCategory::Society,
        sector: "教育界",
        reason: "我县义务教育基本均衡已通过验收，但城乡差距仍然明显：城区学校学位紧张、大班额突出，农村学校生源流失、设施闲置；乡村教师结构性缺编，年龄老化；学生心理健康问题日益突出，专业力量不足。",
        suggestions: [
            "科学规划城区学校布局，加快新建改扩建项目",
            "落实乡村教师生活补助，畅通城乡教师交流",
            "改善农村寄宿制学校生活设施",
            "配齐心理健康教师，建立学生心理健康档案",
        ],
        units: &["县教育局", "县财政局", "县住建局", "县人社局"],
        answer: "我局已制定义务教育优质均衡发展推进方案，城区新建学校项目开工建设；今年新招聘乡村教师，落实乡村教师生活补助；全县中小学已配备心理健康教育专兼职教师。",
    },
    Topic {
        asks: &[
            "完善农村养老服务体系",
            "推进医养结合发展",
            "推动乡镇敬老院提档升级",
            "发展居家和社区养老服务",
            "加强养老护理人才队伍建设",
            "推进农村互助养老",
            "加强失能老人照护服务",
        ],
        category: pb::ProposalCategory::Society,
        sector: "社会福利和社会保障界",
        reason: "我县老龄化程度高于全省平均水平，农村空巢、留守老人多。养老服务设施不足且分布不均，乡镇敬老院设施陈旧、入住率不高，医养结合刚刚起步，专业护理人员严重缺乏。",
        suggestions: [
            "推动乡镇敬老院改造升级为区域养老服务中心",
            "推进医养结合，支持卫生院与敬老院合作",
            "发展农村互助养老，建设幸福院",
            "加强养老护理员培训，落实岗位补贴",
        ],
        units: &["县民政局", "县卫健局", "县医保局", "县财政局"],
        answer: "我局已启动乡镇敬老院提档升级工程，三所区域养老服务中心投入运营；医养结合试点在厉山镇开展；今年举办养老护理员培训班，落实岗位补贴政策。",
    },
    Topic {
        asks: &[
            "持续优化营商环境",
            "推进涉企审批“一网通办”",
            "加强中小微企业融资服务",
            "清理拖欠民营企业账款",
            "落实助企纾困政策",
            "构建亲清政商关系",
            "加强企业用工保障服务",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "工商联",
        reason: "我县营商环境持续改善，但企业反映仍有一些堵点：部分审批事项跑多个部门，材料重复提交；中小微企业融资难、融资贵；个别单位拖欠企业账款；惠企政策知晓率不高，兑现不及时。",
        suggestions: [
            "深化“一网通办”，推行涉企审批一件事一次办",
            "建立政府性融资担保体系，扩大企业信贷投放",
            "开展拖欠民营企业账款专项清理",
            "建立惠企政策直达机制，做到免申即享",
        ],
        units: &["县发改局", "县行政审批局", "县税务局", "县市场监管局"],
        answer: "我局已牵头制定优化营商环境年度行动方案，涉企审批事项全部进驻政务服务中心；县政府性融资担保公司扩大担保规模；拖欠民营企业账款专项清理已完成，惠企政策实现线上直达。",
    },
    Topic {
        asks: &[
            "推进城乡客运一体化",
            "加强农村公路养护管理",
            "整治农村道路交通安全隐患",
            "推进“四好农村路”建设",
            "完善农村物流配送网络",
            "加强农村客运安全监管",
        ],
        category: pb::ProposalCategory::Society,
        sector: "特邀人士",
        reason: "我县农村公路里程长、等级低，部分路段年久失修，安保设施不全；城乡客运班线少、发车间隔长，偏远村群众出行不便；农村物流网点分散，配送成本高。",
        suggestions: [
            "推进城乡客运一体化，开通镇村公交",
            "落实农村公路养护资金，推行路长制",
            "开展农村道路交通安全隐患排查整治",
            "整合客运、邮政、快递资源，发展农村物流",
        ],
        units: &["县交通运输局", "县公安局", "县财政局", "县商务局"],
        answer: "我局已制定城乡客运一体化实施方案，新开通镇村公交线路；农村公路路长制全面推行，养护资金纳入预算；交通安全隐患路段整治已完成年度任务。",
    },
    Topic {
        asks: &[
            "破解城区停车难问题",
            "加快城区老旧小区改造",
            "规范城区占道经营和流动摊点",
            "加强城区背街小巷治理",
            "推进城区智慧停车系统建设",
            "加强城区住宅小区物业管理",
        ],
        category: pb::ProposalCategory::Society,
        sector: "民进",
        reason: "随着机动车保有量快速增长，城区停车位缺口大，乱停乱放现象突出；老旧小区基础设施老化，缺少停车和养老设施；部分背街小巷环境脏乱，占道经营屡禁不止。",
        suggestions: [
            "编制城区停车设施专项规划，挖潜增设公共停车位",
            "推进老旧小区改造，同步完善停车设施",
            "划定便民疏导区，规范流动摊点",
            "建设智慧停车系统，提高车位利用率",
        ],
        units: &["县公安局", "县城管执法局", "县住建局", "县自然资源和规划局"],
        answer: "县公安局交警大队会同县城管执法局新增公共停车泊位，规范城区停车秩序；老旧小区改造项目同步配建停车设施；智慧停车系统建设方案已编制完成。",
    },
    Topic {
        asks: &[
            "加强森林防灭火体系建设",
            "提升基层应急救援能力",
            "加强防汛抗旱基础设施建设",
            "完善自然灾害监测预警体系",
            "加强农村消防安全工作",
            "加强地质灾害隐患防治",
        ],
        category: pb::ProposalCategory::Society,
        sector: "中共",
        reason: "我县山林面积大，森林火险等级高；山洪、干旱等自然灾害频发。基层应急救援队伍力量薄弱，装备不足；部分小型水库和堤防存在隐患，监测预警设施覆盖不全，农村消防基础薄弱。",
        suggestions: [
            "加强森林防火专业队伍建设，配齐扑火装备",
            "建设乡镇应急救援队伍，定期开展演练",
            "加快病险水库除险加固，完善防汛设施",
            "完善自然灾害监测预警网络，打通预警信息“最后一公里”",
        ],
        units: &["县应急管理局", "县林业局", "县水利和湖泊局", "县气象局"],
        answer: "我局已推动组建乡镇应急救援队伍，配发应急装备；森林防火视频监控系统覆盖重点林区；病险水库除险加固项目有序实施；县气象局完成预警信息发布系统升级。",
    },
    Topic {
        asks: &[
            "促进高校毕业生返乡就业创业",
            "加强农民工职业技能培训",
            "支持返乡创业园建设",
            "维护新就业形态劳动者权益",
            "拓宽妇女就业创业渠道",
            "加强零工市场建设",
        ],
        category: pb::ProposalCategory::Society,
        sector: "共青团",
        reason: "我县外出务工人员多，本地就业岗位与求职者需求不匹配；高校毕业生返乡就业意愿不强；职业技能培训针对性不足；快递员、网约车司机等新就业形态劳动者权益保障不到位。",
        suggestions: [
            "搭建本地企业与高校毕业生对接平台，落实就业补贴",
            "开展订单式、定向式职业技能培训",
            "建设返乡创业园，提供创业担保贷款",
            "加强新就业形态劳动者权益保障",
        ],
        units: &["县人社局", "团县委", "县妇联", "县总工会"],
        answer: "我局已举办线上线下招聘会，组织本地企业与高校毕业生对接；开展订单式职业技能培训；返乡创业园已入驻创业主体，创业担保贷款持续发放；新就业形态劳动者纳入工伤保障试点。",
    },
    Topic {
        asks: &[
            "加强非物质文化遗产保护传承",
            "加强文物保护利用",
            "推进公共文化服务体系建设",
            "繁荣乡村文化生活",
            "弘扬炎帝神农文化",
            "推进农家书屋提质增效",
        ],
        category: pb::ProposalCategory::Culture,
        sector: "文化艺术界",
        reason: "我县历史文化底蕴深厚，是炎帝神农故里，非遗资源丰富。但部分非遗项目传承人老龄化，后继乏人；文物保护经费不足，部分文物点保护不力；乡镇综合文化站功能发挥不充分，群众文化生活较为单调。",
        suggestions: [
            "建立非遗传承人扶持机制，推动非遗进校园",
            "加大文物保护投入，开展文物资源调查",
            "提升乡镇综合文化站和村文化活动中心服务效能",
            "深入挖掘炎帝神农文化内涵，打造文化品牌",
        ],
        units: &["县文旅局", "县委宣传部", "县教育局", "县融媒体中心"],
        answer: "我局已开展非遗项目和传承人普查，落实传承人补助；文物保护单位“四有”工作全面完成；乡镇综合文化站免费开放经费足额拨付；炎帝神农文化研究成果汇编已出版。",
    },
    Topic {
        asks: &[
            "加快农村电网改造升级",
            "保障香菇烘干等农业生产用电",
            "推进分布式光伏规范发展",
            "加快新能源汽车充电设施建设",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "经济界",
        reason: "我县农村电网部分线路老化，香菇烘干季节用电负荷集中，低电压、频繁停电时有发生，影响农业生产；分布式光伏发展较快，但并网和消纳存在问题；充电设施布局不足，制约新能源汽车推广。",
        suggestions: [
            "加快农村电网改造升级，解决低电压问题",
            "在香菇主产区增容配电变压器",
            "规范分布式光伏建设和并网服务",
            "统筹布局建设公共充电设施",
        ],
        units: &[
            "国网随县供电公司",
            "县发改局",
            "县香菇产业发展中心",
            "县自然资源和规划局",
        ],
        answer: "国网随县供电公司已将香菇主产区配网改造列入年度计划，新增配电变压器，低电压问题明显改善；分布式光伏并网实现线上办理；公共充电站建设已纳入县城建设规划。",
    },
    Topic {
        asks: &[
            "完善农产品冷链物流体系",
            "发展农村电子商务",
            "加强供销社农产品流通网络建设",
            "推进县域商业体系建设",
            "推动农产品品牌营销",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "工商联",
        reason: "我县农产品丰富，但冷链物流设施短缺，产后损耗大；农村电商起步晚，缺少专业人才和品牌；供销社基层网点作用发挥不充分，县域商业体系仍有短板。",
        suggestions: [
            "建设产地冷藏保鲜设施和县级冷链物流中心",
            "培育农村电商主体，开展电商人才培训",
            "恢复和发展供销社基层网点",
            "完善县乡村三级商业网络",
        ],
        units: &["县商务局", "县供销社", "县农业农村局", "县交通运输局"],
        answer: "我局已争取县域商业体系建设项目资金，县级冷链物流中心开工建设；举办农村电商培训班；县供销社新建改造基层网点，县乡村三级物流配送体系初步形成。",
    },
    Topic {
        asks: &[
            "加快高标准农田建设",
            "加强耕地保护和撂荒地整治",
            "完善农田水利设施",
            "推进农业机械化发展",
            "稳定粮食生产",
            "推进化肥农药减量增效",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "农业和农村界",
        reason: "我县是农业大县，但部分农田基础设施薄弱，灌溉不配套，旱涝保收能力差；一些丘陵地区耕地撂荒；农业机械化水平不高，种粮比较效益低，农民种粮积极性不足。",
        suggestions: [
            "加大高标准农田建设投入，提高建设标准",
            "开展撂荒地专项整治，落实耕地保护责任",
            "完善农田水利设施，畅通灌溉“最后一公里”",
            "落实种粮补贴，推广农机社会化服务",
        ],
        units: &[
            "县农业农村局",
            "县自然资源和规划局",
            "县水利和湖泊局",
            "县财政局",
        ],
        answer: "我局今年完成高标准农田建设任务；撂荒地整治已复耕；农田水利设施配套同步推进；种粮补贴足额发放，农机社会化服务组织不断壮大。",
    },
    Topic {
        asks: &[
            "全面落实河湖长制",
            "加强府河流域水环境综合治理",
            "推进畜禽养殖污染治理",
            "加强水库饮用水水源地保护",
            "加强小微水体治理",
        ],
        category: pb::ProposalCategory::Ecology,
        sector: "九三学社",
        reason: "我县河流水库众多，是府河、淮河等河流的发源地之一。部分河段存在非法采砂、侵占岸线现象；畜禽养殖污染和生活污水直排影响水质；部分水库饮用水水源保护区管理不到位。",
        suggestions: [
            "压实河湖长责任，开展河湖“清四乱”常态化",
            "加强府河流域水环境综合治理",
            "推进畜禽养殖粪污资源化利用",
            "规范水源保护区标志设置和巡查",
        ],
        units: &[
            "县水利和湖泊局",
            "县生态环境分局",
            "县农业农村局",
            "各镇人民政府",
        ],
        answer: "我局已推动县镇村三级河湖长巡河常态化，“清四乱”问题全部整改；府河流域综合治理项目已申报；县生态环境分局完成水源保护区规范化建设。",
    },
    Topic {
        asks: &[
            "加强校园食品安全监管",
            "整治农村假冒伪劣食品",
            "加强药品零售环节监管",
            "加强电梯等特种设备安全监管",
            "加强农村集体聚餐食品安全管理",
        ],
        category: pb::ProposalCategory::Society,
        sector: "医药卫生界",
        reason: "食品药品安全事关群众身体健康。当前部分学校食堂和周边小餐饮管理不规范，农村市场仍有假冒伪劣食品流通；药品零售环节存在违规销售处方药现象；部分老旧电梯存在安全隐患。",
        suggestions: [
            "推行校园食堂“明厨亮灶”，落实校长陪餐制度",
            "开展农村假冒伪劣食品专项整治",
            "加强药品零售企业检查",
            "推进老旧电梯安全评估和更新改造",
        ],
        units: &["县市场监管局", "县教育局", "县公安局", "县卫健局"],
        answer: "我局已实现学校食堂“明厨亮灶”全覆盖，开展校园周边食品安全专项检查；农村假冒伪劣食品整治查办案件若干；药品零售企业检查全覆盖；老旧电梯安全评估正在推进。",
    },
    Topic {
        asks: &[
            "加快数字政府建设",
            "推进政务数据共享",
            "提升12345热线办理质效",
            "推进智慧社区建设",
            "推进乡村数字化治理",
        ],
        category: pb::ProposalCategory::Politics,
        sector: "科技界",
        reason: "数字政府建设是提升治理能力的重要抓手。我县部门信息系统多而分散，数据共享不畅，群众办事仍需重复提交材料；12345热线部分诉求办理不及时；社区治理数字化水平不高。",
        suggestions: [
            "统筹建设县级政务数据平台，打破数据壁垒",
            "推进高频政务服务事项“掌上办”",
            "完善12345热线诉求办理考核机制",
            "建设智慧社区综合服务平台",
        ],
        units: &["县数据局", "县行政审批局", "县融媒体中心", "县公安局"],
        answer: "我局已建成县级政务数据共享交换平台，接入部门数据；高频事项实现“掌上办”；12345热线诉求办理纳入绩效考核；智慧社区试点在城区社区启动。",
    },
    Topic {
        asks: &[
            "加强退役军人服务保障体系建设",
            "落实退役军人就业创业扶持政策",
            "推进城乡居民医保提质扩面",
            "完善困难群众社会救助机制",
            "加强优抚对象关爱帮扶",
        ],
        category: pb::ProposalCategory::Society,
        sector: "社会福利和社会保障界",
        reason: "保障和改善民生是政府的重要职责。我县退役军人服务站点规范化水平不一，就业创业扶持政策落实不够；部分群众医保参保续保意识不强；社会救助存在“人找政策”现象，主动发现机制不健全。",
        suggestions: [
            "规范退役军人服务站建设，落实专职人员",
            "开展退役军人适应性培训和就业推荐",
            "加强医保政策宣传，提高参保率",
            "建立困难群众主动发现和动态监测机制",
        ],
        units: &["县退役军人事务局", "县医保局", "县民政局", "县人社局"],
        answer: "我局已完成镇村退役军人服务站规范化建设，开展退役军人就业专场招聘；县医保局加强参保宣传，参保率稳定；县民政局建立困难群众动态监测机制。",
    },
    Topic {
        asks: &[
            "加强基层公共法律服务体系建设",
            "推进乡村法治建设",
            "加强矛盾纠纷多元化解",
            "加强未成年人法治教育",
            "加强社区矫正和安置帮教",
        ],
        category: pb::ProposalCategory::Politics,
        sector: "特邀人士",
        reason: "法治是最好的营商环境，也是基层治理的重要保障。我县村（社区）法律顾问作用发挥不充分，群众法治意识有待提高；矛盾纠纷多元化解机制不健全，部分纠纷久拖不决；未成年人法治教育形式单一。",
        suggestions: [
            "落实村（社区）法律顾问制度，提高服务质量",
            "培育“法律明白人”，推进民主法治示范村创建",
            "完善人民调解、行政调解、司法调解联动机制",
            "推进法治副校长全覆盖，丰富法治教育形式",
        ],
        units: &["县司法局", "县公安局", "县教育局", "县民政局"],
        answer: "我局已实现村（社区）法律顾问全覆盖，培育“法律明白人”；三调联动机制运行良好，矛盾纠纷化解率明显提升；全县中小学法治副校长全部配备到位。",
    },
    Topic {
        asks: &[
            "加强企业科技创新能力建设",
            "推进农业科技成果转化",
            "落实研发费用加计扣除政策",
            "引进培育科技人才",
            "建设县域科技创新平台",
        ],
        category: pb::ProposalCategory::Economy,
        sector: "科技界",
        reason: "科技创新是县域经济发展的动力。我县企业研发投入不足，高新技术企业数量少；农业科技成果转化率低；研发费用加计扣除等政策知晓度不高；科技人才引不进、留不住。",
        suggestions: [
            "实施高新技术企业培育计划",
            "加强与高校院所合作，建设农业科技示范基地",
            "开展研发费用加计扣除政策辅导",
            "完善科技人才引进和激励政策",
        ],
        units: &["县科技局", "县经信局", "县税务局", "县人社局"],
        answer: "我局已建立高新技术企业培育库，今年新认定高新技术企业；与华中农业大学等高校共建农业科技示范基地；县税务局开展研发费用加计扣除政策辅导，企业享受优惠明显增加。",
    },
    Topic {
        asks: &[
            "关爱农村留守儿童和困境儿童",
            "加强残疾人就业和康复服务",
            "维护妇女儿童合法权益",
            "关心关爱困难职工",
            "加强困境儿童心理关爱",
        ],
        category: pb::ProposalCategory::Society,
        sector: "妇联",
        reason: "农村留守儿童、困境儿童、残疾人、困难职工等特殊群体需要全社会关心关爱。当前关爱服务力量分散，儿童之家等阵地作用发挥不够；残疾人康复服务和就业渠道有限；困难职工帮扶机制有待完善。",
        suggestions: [
            "建立留守儿童和困境儿童关爱服务体系",
            "加强残疾人康复机构建设，拓宽就业渠道",
            "完善妇女儿童权益保障联动机制",
            "健全困难职工帮扶机制",
        ],
        units: &["县妇联", "县残联", "县民政局", "县总工会"],
        answer: "县妇联已会同相关部门建立留守儿童关爱服务体系，儿童之家实现村级全覆盖；县残联新建残疾人康复中心；县总工会开展困难职工精准帮扶。",
    },
    Topic {
        asks: &[
            "提升县级融媒体中心传播力",
            "加强网络文明建设",
            "讲好新时代随县故事",
        ],
        category: pb::ProposalCategory::Culture,
        sector: "文化艺术界",
        reason: "县级融媒体中心是基层宣传思想工作的重要平台。我县融媒体中心内容生产能力不强，原创精品少，新媒体平台影响力有限；网络空间治理有待加强，对外宣传随县形象的力度不够。",
        suggestions: [
            "加强融媒体中心人才队伍和技术平台建设",
            "打造一批原创精品栏目",
            "开展网络文明建设系列活动",
            "加强与上级媒体合作，讲好随县故事",
        ],
        units: &["县融媒体中心", "县委宣传部", "县文旅局"],
        answer: "县融媒体中心已完成技术平台升级，新开设原创栏目；与省市媒体合作推出随县专题报道；网络文明建设系列活动有序开展。",
    },
    Topic {
        asks: &[
            "加强为农气象服务",
            "推进人工影响天气作业能力建设",
            "建设乡镇自动气象站",
        ],
        category: pb::ProposalCategory::Other,
        sector: "农业和农村界",
        reason: "我县是农业大县，香菇、油茶、水稻等生产受天气影响大。目前气象观测站点密度不够，乡镇精细化预报能力不足；人工影响天气作业装备老化，防雹增雨能力有限。",
        suggestions: [
            "加密乡镇自动气象站布局",
            "开展香菇、油茶等特色农业气象服务",
            "更新人工影响天气作业装备",
            "建立农业气象灾害预警信息直达机制",
        ],
        units: &["县气象局", "县农业农村局", "县应急管理局"],
        answer: "县气象局已新建乡镇自动气象站，开展香菇、油茶特色农业气象服务；人工影响天气作业装备更新已列入年度计划；农业气象灾害预警信息实现直达新型经营主体。",
    },
    Topic {
        asks: &[
            "加强新的社会阶层人士统战工作",
            "发挥民营经济人士在乡村振兴中的作用",
            "推进统一战线参与基层社会治理",
        ],
        category: pb::ProposalCategory::Politics,
        sector: "无党派人士",
        reason: "统一战线是凝聚人心、汇聚力量的重要法宝。我县新的社会阶层人士数量增多，但联系服务机制不健全；民营经济人士参与乡村振兴热情高，但缺少有效平台；统一战线参与基层治理的渠道有待拓宽。",
        suggestions: [
            "建立新的社会阶层人士联谊组织",
            "搭建“万企兴万村”对接平台",
            "推动统一战线成员参与基层协商",
            "加强统战干部队伍建设",
        ],
        units: &["县委统战部", "县乡村振兴局", "县民政局"],
        answer: "县委统战部已成立新的社会阶层人士联谊会；“万企兴万村”行动已有企业与村结对；统一战线成员参与一线协商议事活动常态化。",
    },
];

/// The entered (qualitative) items of 2023's rule table, scored by the
/// assessors at the end of the year.
const ENTERED: [(&str, &str, i32); 1] = [("quality", "答复质量和办理工作组织", 15)];

/// Where a proposal is left once the demo is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Still being written; a joint one waits for its co-signers.
    Draft,
    /// Withdrawn by its proposer, before or after submitting it.
    Withdrawn {
        submitted: bool,
    },
    /// Awaiting the office's review.
    Submitted,
    /// Not filed, for the reason given.
    NotFiled(pb::NotFiledReason),
    /// Not filed, and turned into an opinion report.
    Converted(pb::NotFiledReason),
    /// Filed, awaiting assignment.
    Filed,
    /// With its units, the reply of its last round this far.
    Assigned(Progress),
    Replied,
    Rated,
    Closed,
}

/// How far the units got with the reply of a proposal left with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Not started.
    Fresh,
    /// Drafted; co-handlers are countersigning.
    Drafted,
    /// Submitted; the office has yet to review it.
    Submitted,
}

impl Fate {
    /// The state the proposal is in once it got there.
    pub(crate) fn state(self) -> pb::ProposalState {
        use pb::ProposalState as S;
        match self {
            Fate::Draft => S::Draft,
            Fate::Withdrawn { .. } => S::Withdrawn,
            Fate::Submitted => S::Submitted,
            Fate::NotFiled(_) => S::NotFiled,
            Fate::Converted(_) => S::Converted,
            Fate::Filed => S::Filed,
            Fate::Assigned(_) => S::Assigned,
            Fate::Replied => S::Replied,
            Fate::Rated => S::Rated,
            Fate::Closed => S::Closed,
        }
    }

    /// Whether the proposal goes to units.
    fn handled(self) -> bool {
        matches!(
            self,
            Fate::Assigned(_) | Fate::Replied | Fate::Rated | Fate::Closed
        )
    }
}

/// How an excellent-proposal nomination ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Excellence {
    TurnedDownByPanel,
    TurnedDownByChairs,
    Approved,
}

/// Who handles a proposal and what happens on the way.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handling {
    /// The lead unit (主办), or none for a split assignment (分办).
    pub lead: Option<&'static str>,
    /// Co-handlers (协办) with a lead; the units answering separately without.
    pub units: Vec<&'static str>,
    /// The lead asks to be relieved (退回改办); the office gives the
    /// proposal to this lead and these co-handlers.
    pub reassign: Option<(&'static str, Vec<&'static str>)>,
    /// The lead asks to be relieved and the office refuses.
    pub refused: bool,
    /// The lead asks for more time and gets it.
    pub extension: bool,
    /// The office returns the first reply once, to be written again.
    pub returned: bool,
    /// The result category the units give.
    pub category: &'static str,
    /// The category the office gives instead when it approves.
    pub recategorised: Option<&'static str>,
    /// Whether the units talked with the proposers before replying.
    pub contacted: bool,
    /// A proposer is not satisfied with the first answer: handled once more.
    pub unsatisfied: bool,
}

impl Handling {
    /// The units that reply in the last round: the lead (after any
    /// reassignment), or every unit of a split assignment.
    fn answering(&self) -> Vec<&'static str> {
        match (&self.reassign, self.lead) {
            (Some((to, _)), _) => vec![*to],
            (None, Some(lead)) => vec![lead],
            (None, None) => self.units.clone(),
        }
    }
}

/// One proposal as planned.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    /// Index into `SESSIONS`.
    pub session: usize,
    /// Its number among the session's planned proposals (for its request id).
    pub number: usize,
    /// Index into `TOPICS`, and what it asks.
    pub topic: usize,
    pub ask: &'static str,
    pub kind: pb::ProposalKind,
    pub on_behalf_of: String,
    /// The lead proposer, and the co-signers invited who sign; indices into the roll.
    pub lead: usize,
    pub cosigners: Vec<usize>,
    /// A co-signer invited who declines.
    pub decliner: Option<usize>,
    pub fate: Fate,
    /// The proposal (index into the plan) it is merged with (并案).
    pub merge_with: Option<usize>,
    pub handling: Handling,
    /// For a key proposal: the supervising leader (index into `LEADERS`)
    /// and how many supervision meetings it holds.
    pub key: Option<(usize, usize)>,
    /// The leader (index into `LEADERS`) who writes an instruction on it.
    pub instruction: Option<usize>,
    pub look_back: Option<pb::LookBackFinding>,
    pub excellent: Option<Excellence>,
}

impl Planned {
    fn title(&self) -> String {
        format!("关于{}的建议", self.ask)
    }

    /// The draft as its proposer writes it.
    fn draft(&self, session: &str) -> pb::Proposal {
        const NUMBERS: [&str; 4] = ["一", "二", "三", "四"];
        let topic = &TOPICS[self.topic];
        let skipped = self.number % topic.suggestions.len();
        let points = std::iter::once(format!(
            "将“{}”列入县委、县政府年度重点工作，明确牵头单位、责任人和完成时限",
            self.ask
        ))
        .chain(
            topic
                .suggestions
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skipped)
                .map(|(_, s)| (*s).to_owned()),
        );
        let suggestions = points
            .zip(NUMBERS)
            .map(|(s, n)| format!("{n}、{s}。"))
            .collect::<Vec<_>>()
            .join("\n");
        pb::Proposal {
            session: session.to_owned(),
            title: self.title(),
            reason: format!("{}为此，建议{}。", topic.reason, self.ask),
            suggestions,
            category: topic.category as i32,
            kind: self.kind as i32,
            on_behalf_of: self.on_behalf_of.clone(),
            ..Default::default()
        }
    }

    /// Whether the office writes it in the name of a body.
    fn collective(&self) -> bool {
        !matches!(
            self.kind,
            pb::ProposalKind::Individual | pb::ProposalKind::Joint
        )
    }

    /// The handling rounds it goes through: one, another after a
    /// reassignment, another after an unsatisfied rating.
    fn rounds(&self) -> i32 {
        1 + i32::from(self.handling.reassign.is_some()) + i32::from(self.handling.unsatisfied)
    }

    /// Its id in request ids and messages: session year and number.
    fn id(&self) -> String {
        format!("{}/{}", SESSIONS[self.session].1, self.number)
    }
}

/// The members as proposers: by sector, and the standing members.
struct People {
    count: usize,
    by_sector: Vec<Vec<usize>>,
    standing: Vec<usize>,
}

impl People {
    fn new(roll: &[DemoMember]) -> People {
        let mut by_sector = vec![Vec::new(); SECTORS.len()];
        for (i, m) in roll.iter().enumerate() {
            by_sector[m.sector].push(i);
        }
        People {
            count: roll.len(),
            by_sector,
            standing: (0..roll.len())
                .filter(|i| roll[*i].member.role == mpb::MemberRole::Standing as i32)
                .collect(),
        }
    }

    fn of_sector(&self, rng: &mut Rng, sector: &str) -> usize {
        let s = SECTORS
            .iter()
            .position(|(name, _, _)| *name == sector)
            .expect("a sector of the demo");
        let members = &self.by_sector[s];
        members[rng.below(members.len())]
    }

    /// `n` members, none of them in `not`.
    fn others(&self, rng: &mut Rng, n: usize, not: &[usize]) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::with_capacity(n);
        while out.len() < n {
            let m = rng.below(self.count);
            if !not.contains(&m) && !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }
}

fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// A sector's name as the body of a sector proposal: 工商联界别, 医药卫生界别.
fn sector_body(sector: &str) -> String {
    if sector.ends_with('界') {
        format!("{sector}别")
    } else {
        format!("{sector}界别")
    }
}

/// What a new proposal of `topic` is: kind, body, proposers, and its units
/// with how they answer.
fn proposal(
    rng: &mut Rng,
    people: &People,
    session: usize,
    number: usize,
    (topic, ask): (usize, &'static str),
    kind: pb::ProposalKind,
) -> Planned {
    let t = &TOPICS[topic];
    let (lead, on_behalf_of) = match kind {
        pb::ProposalKind::Sector => (people.of_sector(rng, t.sector), sector_body(t.sector)),
        pb::ProposalKind::PartyGroup => {
            let (sector, body) = GROUPS[(number / 20) % GROUPS.len()];
            (people.of_sector(rng, sector), body.to_owned())
        }
        pb::ProposalKind::SpecialCommittee => (
            people.standing[rng.below(people.standing.len())],
            SPECIAL_COMMITTEES[(number / 40) % SPECIAL_COMMITTEES.len()].to_owned(),
        ),
        _ if rng.below(2) == 0 => (people.of_sector(rng, t.sector), String::new()),
        _ => (rng.below(people.count), String::new()),
    };
    let (cosigners, decliner) = if kind == pb::ProposalKind::Joint {
        let signers = 1 + rng.below(3);
        let mut invited = people.others(
            rng,
            signers + usize::from(number.is_multiple_of(4)),
            &[lead],
        );
        let decliner = (invited.len() > signers).then(|| invited.pop()).flatten();
        (invited, decliner)
    } else {
        (Vec::new(), None)
    };
    let co_handlers = (number % 4).min(t.units.len() - 1);
    let category = match rng.below(20) {
        0..=8 => "A",
        9..=16 => "B",
        _ => "C",
    };
    Planned {
        session,
        number,
        topic,
        ask,
        kind,
        on_behalf_of,
        lead,
        cosigners,
        decliner,
        fate: Fate::Closed,
        merge_with: None,
        handling: Handling {
            lead: Some(t.units[0]),
            units: t.units[1..=co_handlers].to_vec(),
            category,
            contacted: rng.below(10) != 0,
            ..Default::default()
        },
        key: None,
        instruction: None,
        look_back: None,
        excellent: None,
    }
}

/// The kind of the proposal numbered `number`: three in five individual,
/// one in four joint, the rest in the name of a sector, a party or group,
/// or a special committee.
fn kind_of(number: usize) -> pb::ProposalKind {
    match (number % 20, number % 40) {
        (0..=11, _) => pb::ProposalKind::Individual,
        (12..=16, _) => pb::ProposalKind::Joint,
        (18, _) => pb::ProposalKind::PartyGroup,
        (_, 39) => pb::ProposalKind::SpecialCommittee,
        _ => pb::ProposalKind::Sector,
    }
}

/// Where 2023's proposals are left, in a fixed order to be shuffled.
fn fates_2023() -> Vec<Fate> {
    use pb::NotFiledReason as R;
    let mut fates = Vec::with_capacity(PROPOSALS_2023);
    fates.extend([Fate::Draft; DRAFTS_2023]);
    fates.push(Fate::Withdrawn { submitted: false });
    fates.extend([Fate::Withdrawn { submitted: true }; WITHDRAWN_2023 - 1]);
    fates.extend([Fate::Submitted; 6]);
    fates.extend(
        [
            R::NoSuggestion,
            R::SeveralMatters,
            R::OutsideReach,
            R::NoSuggestion,
            R::SeveralMatters,
        ]
        .map(Fate::NotFiled),
    );
    fates.extend(
        [
            R::OutsideReach,
            R::NoSuggestion,
            R::OutsideReach,
            R::SeveralMatters,
        ]
        .map(Fate::Converted),
    );
    fates.extend([Fate::Filed; 4]);
    fates.extend([Fate::Assigned(Progress::Fresh); 6]);
    fates.extend([Fate::Assigned(Progress::Drafted); 4]);
    fates.extend([Fate::Assigned(Progress::Submitted); 4]);
    fates.extend([Fate::Replied; 12]);
    fates.extend([Fate::Rated; 15]);
    fates.resize(PROPOSALS_2023, Fate::Closed);
    fates
}

/// Every proposal of the demo, the same every time: 2022's, then 2023's.
pub(crate) fn plan(roll: &[DemoMember]) -> Vec<Planned> {
    let mut rng = Rng(0x9e0b_2023_0200_0040);
    let people = People::new(roll);
    let mut asks: Vec<(usize, &'static str)> = TOPICS
        .iter()
        .enumerate()
        .flat_map(|(t, topic)| topic.asks.iter().map(move |a| (t, *a)))
        .collect();
    shuffle(&mut rng, &mut asks);
    let mut out = Vec::with_capacity(PROPOSALS_2022 + PROPOSALS_2023);

    // 2022: settled, every one; the asks 2023 leaves out, and some it
    // raises again.
    for number in 0..PROPOSALS_2022 {
        let ask = asks[(PROPOSALS_2023 + number) % asks.len()];
        let kind = if number % 4 == 0 {
            pb::ProposalKind::Joint
        } else {
            pb::ProposalKind::Individual
        };
        let mut p = proposal(&mut rng, &people, SESSION_2022, number, ask, kind);
        p.handling.units.truncate(number % 2);
        p.handling.category = if rng.below(2) == 0 { "A" } else { "B" };
        p.handling.contacted = true;
        p.fate = match number {
            7 => Fate::NotFiled(pb::NotFiledReason::NoSuggestion),
            23 => Fate::NotFiled(pb::NotFiledReason::OutsideReach),
            _ => Fate::Closed,
        };
        out.push(p);
    }

    // 2023: every state, and everything that happens on the way.
    let first = out.len();
    let mut fates = fates_2023();
    shuffle(&mut rng, &mut fates);
    for (number, fate) in fates.into_iter().enumerate() {
        let mut p = proposal(
            &mut rng,
            &people,
            SESSION_2023,
            number,
            asks[number],
            kind_of(number),
        );
        p.fate = fate;
        out.push(p);
    }
    features(&mut rng, &mut out[first..], first);
    out
}

/// Merges, key proposals, leaders' instructions, look-backs, units'
/// requests, returned replies, changed categories, second rounds, split
/// assignments and excellent proposals, each on proposals it suits.
fn features(rng: &mut Rng, year: &mut [Planned], offset: usize) {
    let mut order: Vec<usize> = (0..year.len()).collect();
    shuffle(rng, &mut order);
    // Proposals with something particular already.
    let mut taken: HashSet<usize> = HashSet::new();

    // Six merged with an earlier proposal on the same matter, handled in
    // the usual way; they go to its units.
    let mut mains: HashMap<usize, usize> = HashMap::new();
    let mut merged = 0;
    for (k, p) in year.iter_mut().enumerate() {
        if merged == 6 {
            break;
        }
        match mains.get(&p.topic) {
            Some(&main) if p.fate == Fate::Closed => {
                p.merge_with = Some(offset + main);
                mains.remove(&p.topic);
                taken.extend([k, main]);
                merged += 1;
            }
            None if matches!(p.fate, Fate::Replied | Fate::Rated | Fate::Closed) => {
                mains.insert(p.topic, k);
            }
            _ => {}
        }
    }

    let pick = |taken: &mut HashSet<usize>, year: &[Planned], fate: Fate| -> usize {
        let k = *order
            .iter()
            .find(|k| !taken.contains(k) && year[**k].fate == fate)
            .expect("the plan has proposals enough of each fate");
        taken.insert(k);
        k
    };

    // Ten key proposals, each with a supervising leader, all their units
    // and a meeting or two; the first eight with a leader's instruction,
    // the closed ones looked back on.
    let keys: Vec<Fate> = [Fate::Closed; 8]
        .into_iter()
        .chain([Fate::Rated, Fate::Assigned(Progress::Fresh)])
        .collect();
    let mut excellent = Vec::new();
    for (n, fate) in keys.into_iter().enumerate() {
        let k = pick(&mut taken, year, fate);
        let topic = &TOPICS[year[k].topic];
        let p = &mut year[k];
        p.key = Some((n % LEADERS.len(), 1 + usize::from(n % 3 == 0)));
        p.handling.units = topic.units[1..].to_vec();
        p.handling.contacted = true;
        if n < 8 {
            p.instruction = Some(if n % 2 == 0 { 0 } else { n % LEADERS.len() });
        }
        if fate == Fate::Closed {
            p.look_back = Some(if n == 3 {
                pb::LookBackFinding::PartlyKept
            } else {
                pb::LookBackFinding::Kept
            });
            if n < 4 {
                excellent.push(k);
            }
        }
    }
    // Instructions and look-backs on a few proposals not key.
    for _ in 0..INSTRUCTIONS - 8 {
        let k = pick(&mut taken, year, Fate::Closed);
        year[k].instruction = Some(1);
    }
    for finding in [
        pb::LookBackFinding::Kept,
        pb::LookBackFinding::PartlyKept,
        pb::LookBackFinding::NotKept,
        pb::LookBackFinding::Kept,
    ] {
        let k = pick(&mut taken, year, Fate::Closed);
        year[k].look_back = Some(finding);
    }

    // Units' requests: reassignments granted and one refused, extensions.
    for fate in [
        Fate::Closed,
        Fate::Closed,
        Fate::Replied,
        Fate::Assigned(Progress::Fresh),
    ] {
        let k = pick(&mut taken, year, fate);
        let units = TOPICS[year[k].topic].units;
        year[k].handling.reassign = Some((units[1], units[2..].iter().take(1).copied().collect()));
    }
    let k = pick(&mut taken, year, Fate::Closed);
    year[k].handling.refused = true;
    for fate in [Fate::Assigned(Progress::Fresh), Fate::Closed] {
        let k = pick(&mut taken, year, fate);
        year[k].handling.extension = true;
    }
    // The office's review: replies returned once, categories changed.
    for _ in 0..3 {
        let k = pick(&mut taken, year, Fate::Closed);
        year[k].handling.returned = true;
    }
    for fate in [
        Fate::Closed,
        Fate::Closed,
        Fate::Closed,
        Fate::Closed,
        Fate::Rated,
        Fate::Replied,
    ] {
        let k = pick(&mut taken, year, fate);
        let h = &mut year[k].handling;
        h.recategorised = Some(if h.category == "B" { "C" } else { "B" });
    }
    // Not satisfied with the first answer: a second round.
    for fate in [
        Fate::Closed,
        Fate::Closed,
        Fate::Closed,
        Fate::Rated,
        Fate::Assigned(Progress::Fresh),
    ] {
        let k = pick(&mut taken, year, fate);
        year[k].handling.unsatisfied = true;
    }
    // Split among three units, each answering for its part.
    for fate in [
        [Fate::Closed; 7].as_slice(),
        &[Fate::Rated, Fate::Rated, Fate::Replied],
    ]
    .concat()
    {
        let k = pick(&mut taken, year, fate);
        let units = TOPICS[year[k].topic].units;
        let h = &mut year[k].handling;
        h.lead = None;
        h.units = units[..3].to_vec();
    }
    // Every unit answers some proposals itself, not only co-handles others':
    // its replies are what the assessment counts.
    for (unit, _) in UNITS {
        let answers = year.iter().any(|p| {
            matches!(p.fate, Fate::Replied | Fate::Rated | Fate::Closed)
                && p.merge_with.is_none()
                && p.handling.answering().contains(&unit)
        });
        if answers {
            continue;
        }
        let k = *order
            .iter()
            .find(|k| {
                !taken.contains(k)
                    && year[**k].fate == Fate::Closed
                    && TOPICS[year[**k].topic].units.contains(&unit)
            })
            .expect("a proposal on a matter of every unit");
        taken.insert(k);
        let h = &mut year[k].handling;
        h.units = TOPICS[year[k].topic]
            .units
            .iter()
            .filter(|u| **u != unit)
            .take(1)
            .copied()
            .collect();
        h.lead = Some(unit);
    }
    // Excellent proposals: four key ones and eight others put forward.
    while excellent.len() < EXCELLENT_NOMINATED {
        let k = pick(&mut taken, year, Fate::Closed);
        if year[k].handling.category == "A" {
            excellent.push(k);
        }
    }
    for (n, k) in excellent.into_iter().enumerate() {
        year[k].excellent = Some(match n {
            5 | 9 => Excellence::TurnedDownByPanel,
            7 | 11 => Excellence::TurnedDownByChairs,
            _ => Excellence::Approved,
        });
    }
}

/// How many of 2023's proposals are planned in each state, for those
/// counted as submitted (drafts and withdrawn ones left out).
pub fn planned_states_2023() -> BTreeMap<pb::ProposalState, usize> {
    let mut out = BTreeMap::new();
    for p in plan(&super::members()) {
        let state = p.fate.state();
        if p.session == SESSION_2023
            && !matches!(
                state,
                pb::ProposalState::Draft | pb::ProposalState::Withdrawn
            )
        {
            *out.entry(state).or_default() += 1;
        }
    }
    out
}

/// The proposals service, and the tokens the demo acts with there.
#[derive(Clone)]
pub(super) struct Desk {
    channel: tonic::transport::Channel,
    issuer: TokenIssuer,
    /// The proposal office (提案委员会): reviews, assigns, decides, assesses.
    office: Bearer,
    /// The committee office: records the chairs' meeting's approvals.
    admin: Bearer,
    /// A county leader: supervises key proposals and writes instructions.
    leader: Bearer,
}

impl Desk {
    pub(super) fn new(proposals_uri: &str, issuer: &TokenIssuer) -> anyhow::Result<Desk> {
        Ok(Desk {
            channel: cppcc_kit::client::channel(proposals_uri)?,
            issuer: issuer.clone(),
            office: bearer(
                issuer,
                Role::ProposalOffice,
                "demo-proposal-office",
                None,
                None,
            ),
            admin: bearer(issuer, Role::Admin, "cppcc-demo", None, None),
            leader: bearer(issuer, Role::Leader, "demo-leader", None, None),
        })
    }

    /// A member acting for itself: `member` is its resource name.
    fn member(&self, member: &str) -> Bearer {
        bearer(&self.issuer, Role::Member, member, Some(member), None)
    }

    /// A unit's staff: `unit` is its resource name.
    fn unit(&self, unit: &str) -> Bearer {
        bearer(&self.issuer, Role::HandlingUnit, unit, None, Some(unit))
    }

    fn proposals(&self, bearer: &Bearer) -> ProposalServiceClient<Authed> {
        ProposalServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    fn follow_ups(&self, bearer: &Bearer) -> ProposalFollowUpServiceClient<Authed> {
        ProposalFollowUpServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    fn assessment(&self, bearer: &Bearer) -> ProposalAssessmentServiceClient<Authed> {
        ProposalAssessmentServiceClient::with_interceptor(self.channel.clone(), bearer.clone())
    }

    fn catalogue(&self) -> ProposalOfficeServiceClient<Authed> {
        ProposalOfficeServiceClient::with_interceptor(self.channel.clone(), self.office.clone())
    }
}

fn committee() -> String {
    format!("committees/{COMMITTEE}")
}

fn day(month: i32, day: i32) -> Option<Date> {
    Some(Date {
        year: YEAR,
        month,
        day,
    })
}

/// Whether the proposals are all there: the sessions, and 2023's
/// assessment with every unit scored by the assessors (the load's last step).
pub(super) async fn loaded(desk: &Desk) -> anyhow::Result<bool> {
    let sessions = desk
        .catalogue()
        .list_sessions(pb::ListSessionsRequest {
            parent: committee(),
        })
        .await
        .context("listing the sessions")?
        .into_inner()
        .sessions;
    if sessions.len() < SESSIONS.len() {
        return Ok(false);
    }
    let assessments = desk
        .assessment(&desk.office)
        .list_unit_assessments(pb::ListUnitAssessmentsRequest {
            parent: committee(),
            year: YEAR,
        })
        .await
        .context("reading the 2023 assessment")?
        .into_inner()
        .assessments;
    Ok(assessments.len() >= UNITS.len()
        && assessments.iter().all(|a| {
            ENTERED
                .iter()
                .all(|(code, _, _)| a.items.iter().any(|i| i.code == *code && i.score > 0.0))
        }))
}

/// What the load put there.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Proposals, and of them the third session's (2023).
    pub proposals: usize,
    pub of_2023: usize,
    /// Handling units.
    pub units: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} proposals ({} of 2023 in every state, {} of 2022), {} handling units and their 2023 assessment",
            self.proposals,
            self.of_2023,
            self.proposals - self.of_2023,
            self.units
        )
    }
}

/// What every step needs: the service, the plan, and the names the
/// catalogues and the registry gave.
struct Ctx {
    desk: Desk,
    plan: Vec<Planned>,
    /// Members' resource names, in roll order.
    members: Vec<String>,
    /// Units' resource names, by name.
    units: HashMap<&'static str, String>,
    /// Sessions' resource names, in `SESSIONS` order.
    sessions: Vec<String>,
}

/// Loads the proposals of the members on `roll`: the catalogues and 2023's
/// rules first, then each proposal written, reviewed, handled and followed
/// up, then the year's excellent proposals and assessment.
pub(super) async fn load(desk: &Desk, roll: &Roll) -> anyhow::Result<Summary> {
    let demo: Vec<DemoMember> = roll.members.iter().map(|(d, _)| d.clone()).collect();
    let ctx = Arc::new(Ctx {
        desk: desk.clone(),
        plan: plan(&demo),
        members: roll.members.iter().map(|(_, m)| m.name.clone()).collect(),
        units: units(desk).await?,
        sessions: sessions(desk).await?,
    });
    desk.assessment(&desk.office)
        .set_assessment_rules(pb::SetAssessmentRulesRequest {
            parent: committee(),
            rules: Some(rules_2023()),
        })
        .await
        .context("setting the 2023 assessment rules")?;

    let written = in_parallel(0..ctx.plan.len(), |k| write(ctx.clone(), k)).await?;
    // Reviewed in order, so serial numbers are the same every time; each
    // proposal is assigned while the next is reviewed.
    let mut assigning = Pool::new();
    for (k, mut p) in written.into_iter().enumerate() {
        review(&ctx, k, &mut p).await?;
        assigning.start(assign(ctx.clone(), k, p)).await?;
    }
    let mut proposals = assigning.finish().await?;
    let filed: Vec<(String, i32)> = proposals
        .iter()
        .map(|(p, _)| (p.name.clone(), p.serial))
        .collect();
    for (k, p) in proposals.iter_mut().enumerate() {
        merge(&ctx, k, p, &filed).await?;
    }
    let proposals = in_parallel(proposals.into_iter().enumerate(), |(k, (p, fresh))| {
        handle(ctx.clone(), k, p, fresh)
    })
    .await?;
    for (plan, p) in ctx.plan.iter().zip(&proposals) {
        anyhow::ensure!(
            p.state() == plan.fate.state(),
            "proposal {} ({}) is {:?}, not {:?} as planned",
            plan.id(),
            p.name,
            p.state(),
            plan.fate.state()
        );
    }
    excellent(&ctx, &proposals).await?;
    evaluate(&ctx, roll).await?;
    score(&ctx).await?;
    Ok(Summary {
        proposals: ctx.plan.len(),
        of_2023: ctx
            .plan
            .iter()
            .filter(|p| p.session == SESSION_2023)
            .count(),
        units: ctx.units.len(),
    })
}

/// The handling units, made where missing; their names by display name.
async fn units(desk: &Desk) -> anyhow::Result<HashMap<&'static str, String>> {
    let mut catalogue = desk.catalogue();
    let listed = catalogue
        .list_handling_units(pb::ListHandlingUnitsRequest {
            parent: committee(),
            show_retired: true,
        })
        .await
        .context("listing the handling units")?
        .into_inner()
        .units;
    let mut out = HashMap::new();
    for (name, kind) in UNITS {
        let unit = match listed.iter().find(|u| u.display_name == name) {
            Some(u) => u.name.clone(),
            None => {
                catalogue
                    .create_handling_unit(pb::CreateHandlingUnitRequest {
                        parent: committee(),
                        unit: Some(pb::HandlingUnit {
                            display_name: name.into(),
                            kind: kind.into(),
                            ..Default::default()
                        }),
                    })
                    .await
                    .with_context(|| format!("creating the unit {name}"))?
                    .into_inner()
                    .unit
                    .context("a unit in the answer")?
                    .name
            }
        };
        out.insert(name, unit);
    }
    Ok(out)
}

/// The term's sessions, made where missing; their names in `SESSIONS` order.
async fn sessions(desk: &Desk) -> anyhow::Result<Vec<String>> {
    let mut catalogue = desk.catalogue();
    let listed = catalogue
        .list_sessions(pb::ListSessionsRequest {
            parent: committee(),
        })
        .await
        .context("listing the sessions")?
        .into_inner()
        .sessions;
    let mut out = Vec::new();
    for (name, year, (open_month, open_day), (close_month, close_day)) in SESSIONS {
        let session = match listed.iter().find(|s| s.display_name == name) {
            Some(s) => s.name.clone(),
            None => {
                let date = |month, day| Some(Date { year, month, day });
                catalogue
                    .create_session(pb::CreateSessionRequest {
                        parent: committee(),
                        session: Some(pb::Session {
                            display_name: name.into(),
                            term: 4,
                            year,
                            open_date: date(open_month, open_day),
                            close_date: date(close_month, close_day),
                            ..Default::default()
                        }),
                    })
                    .await
                    .with_context(|| format!("creating the session {name}"))?
                    .into_inner()
                    .session
                    .context("a session in the answer")?
                    .name
            }
        };
        out.push(session);
    }
    Ok(out)
}

/// 2023's 100-point table, after 《随县政协提案办理工作年度绩效考核暂行办法》:
/// quantitative parts from the data, the members' evaluation, and what
/// the assessors score.
fn rules_2023() -> pb::AssessmentRules {
    use pb::AssessmentMeasure as M;
    let item = |code: &str, label: &str, points, measure: M| pb::AssessmentItem {
        code: code.into(),
        label: label.into(),
        points,
        measure: measure as i32,
    };
    let mut items = vec![
        item("on_time", "按时答复", 15, M::OnTimeReplies),
        item(
            "contact",
            "办前办中沟通（面商率）",
            15,
            M::ContactBeforeReply,
        ),
        item("satisfaction", "提案者满意度", 20, M::Satisfaction),
        item("results", "解决采纳率（A、B类）", 15, M::FavourableResults),
        item("look_back", "回头看落实情况", 10, M::LookBack),
        item("evaluation", "委员民主评议", 10, M::DemocraticEvaluation),
    ];
    items.extend(
        ENTERED
            .iter()
            .map(|(code, label, points)| item(code, label, *points, M::Entered)),
    );
    pb::AssessmentRules {
        year: YEAR,
        items,
        ..Default::default()
    }
}

/// Writes proposal `k` as its proposer would: the draft, its co-signers
/// invited and signing (or declining), and submitted or withdrawn.
async fn write(ctx: Arc<Ctx>, k: usize) -> anyhow::Result<pb::Proposal> {
    let plan = &ctx.plan[k];
    let lead = &ctx.members[plan.lead];
    // The office writes a proposal in the name of a body; a member its own.
    let author = if plan.collective() {
        ctx.desk.office.clone()
    } else {
        ctx.desk.member(lead)
    };
    let mut writer = ctx.desk.proposals(&author);
    let id = plan.id();
    let mut p = writer
        .create_proposal(pb::CreateProposalRequest {
            parent: committee(),
            proposal: Some(plan.draft(&ctx.sessions[plan.session])),
            lead_member: if plan.collective() {
                lead.clone()
            } else {
                String::new()
            },
            request_id: request_id(&format!("proposal/{id}")),
        })
        .await
        .with_context(|| format!("writing proposal {id}"))?
        .into_inner()
        .proposal
        .context("a proposal in the answer")?;
    if p.state() == pb::ProposalState::Draft {
        if !plan.cosigners.is_empty() && p.proposers.len() == 1 {
            let invited = plan
                .cosigners
                .iter()
                .chain(&plan.decliner)
                .map(|m| ctx.members[*m].clone())
                .collect();
            p = writer
                .invite_cosigners(pb::InviteCosignersRequest {
                    name: p.name.clone(),
                    members: invited,
                    etag: p.etag.clone(),
                })
                .await
                .with_context(|| format!("inviting the co-signers of proposal {id}"))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?;
        }
        if plan.fate == Fate::Draft {
            return Ok(p);
        }
        let decliner = plan.decliner.map(|m| &ctx.members[m]);
        for cosigner in p.proposers.clone().iter().filter(|c| !c.lead && !c.signed) {
            p = ctx
                .desk
                .proposals(&ctx.desk.member(&cosigner.member))
                .sign_proposal(pb::SignProposalRequest {
                    name: p.name.clone(),
                    decline: Some(&cosigner.member) == decliner,
                })
                .await
                .with_context(|| format!("co-signing proposal {id}"))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?;
        }
        if plan.fate != (Fate::Withdrawn { submitted: false }) {
            p = writer
                .submit_proposal(pb::SubmitProposalRequest {
                    name: p.name.clone(),
                    etag: String::new(),
                })
                .await
                .with_context(|| format!("submitting proposal {id}"))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?;
        }
    }
    // Withdrawn before the office filed it: from the draft, or once submitted.
    if let Fate::Withdrawn { submitted } = plan.fate
        && matches!(
            p.state(),
            pb::ProposalState::Draft | pb::ProposalState::Submitted
        )
    {
        let reason = if submitted {
            "所提问题已由相关部门着手解决，申请撤回"
        } else {
            "经进一步调研，拟充实内容后再行提出"
        };
        p = writer
            .withdraw_proposal(pb::WithdrawProposalRequest {
                name: p.name.clone(),
                reason: reason.into(),
            })
            .await
            .with_context(|| format!("withdrawing proposal {id}"))?
            .into_inner()
            .proposal
            .context("a proposal in the answer")?;
    }
    Ok(p)
}

/// The office's review of a submitted proposal: filed, or not filed (and
/// then perhaps turned into an opinion report). Merged ones wait for
/// their main proposal to be assigned.
async fn review(ctx: &Ctx, k: usize, p: &mut pb::Proposal) -> anyhow::Result<()> {
    use pb::ProposalState as S;
    let plan = &ctx.plan[k];
    let id = plan.id();
    let mut office = ctx.desk.proposals(&ctx.desk.office);
    if p.state() == S::Submitted && plan.merge_with.is_none() {
        *p = match plan.fate {
            Fate::Draft | Fate::Withdrawn { .. } | Fate::Submitted => return Ok(()),
            Fate::NotFiled(reason) | Fate::Converted(reason) => office
                .reject_proposal(pb::RejectProposalRequest {
                    name: p.name.clone(),
                    reason: reason as i32,
                    note: not_filed_note(reason).into(),
                })
                .await
                .with_context(|| format!("not filing proposal {id}"))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?,
            _ => office
                .file_proposal(pb::FileProposalRequest {
                    name: p.name.clone(),
                    note: "经提案委员会审查，予以立案".into(),
                })
                .await
                .with_context(|| format!("filing proposal {id}"))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?,
        };
    }
    if p.state() == S::NotFiled && matches!(plan.fate, Fate::Converted(_)) {
        *p = office
            .convert_proposal(pb::ConvertProposalRequest {
                name: p.name.clone(),
                proposer_consented: true,
                note: "经征得提案人同意，转作社情民意信息报送".into(),
            })
            .await
            .with_context(|| format!("converting proposal {id}"))?
            .into_inner()
            .proposal
            .context("a proposal in the answer")?;
    }
    Ok(())
}

fn not_filed_note(reason: pb::NotFiledReason) -> &'static str {
    match reason {
        pb::NotFiledReason::SeveralMatters => "一案多事，建议分别提出",
        pb::NotFiledReason::OutsideReach => "所提事项属省市事权，超出县级职权范围",
        _ => "内容较为空泛，缺乏具体可行的建议",
    }
}

/// The office assigns a filed proposal (交办) to its units, marking the key
/// ones with their supervising leader first. Says whether it assigned it
/// now (so no unit has replied yet).
async fn assign(
    ctx: Arc<Ctx>,
    k: usize,
    mut p: pb::Proposal,
) -> anyhow::Result<(pb::Proposal, bool)> {
    use pb::ProposalState as S;
    let plan = &ctx.plan[k];
    let id = plan.id();
    let filed_or_later = matches!(
        p.state(),
        S::Filed | S::Assigned | S::Replied | S::Rated | S::Closed
    );
    if let Some((leader, _)) = plan.key
        && filed_or_later
        && !p.key
    {
        let (title, name) = LEADERS[leader];
        p = ctx
            .desk
            .follow_ups(&ctx.desk.office)
            .mark_key_proposal(pb::MarkKeyProposalRequest {
                name: p.name.clone(),
                leader_name: name.into(),
                leader_title: title.into(),
            })
            .await
            .with_context(|| format!("marking proposal {id} key"))?
            .into_inner()
            .proposal
            .context("a proposal in the answer")?;
    }
    if p.state() != S::Filed || !plan.fate.handled() || plan.merge_with.is_some() {
        return Ok((p, false));
    }
    let h = &plan.handling;
    let assigned = ctx
        .desk
        .proposals(&ctx.desk.office)
        .assign_proposal(pb::AssignProposalRequest {
            name: p.name.clone(),
            lead_unit: h.lead.map(|u| ctx.units[u].clone()).unwrap_or_default(),
            units: h.units.iter().map(|u| ctx.units[u].clone()).collect(),
            note: if h.lead.is_some() {
                "请主办单位会同协办单位认真办理".into()
            } else {
                "请各承办单位按职责分别办理答复".into()
            },
        })
        .await
        .with_context(|| format!("assigning proposal {id}"))?
        .into_inner()
        .proposal
        .context("a proposal in the answer")?;
    Ok((assigned, true))
}

/// Files a proposal merged with its main one (并案), which its units are
/// handling: it goes to them too, and is fresh to them.
async fn merge(
    ctx: &Ctx,
    k: usize,
    (p, fresh): &mut (pb::Proposal, bool),
    filed: &[(String, i32)],
) -> anyhow::Result<()> {
    let plan = &ctx.plan[k];
    let Some(main) = plan.merge_with else {
        return Ok(());
    };
    if p.state() != pb::ProposalState::Submitted {
        return Ok(());
    }
    *fresh = true;
    *p = ctx
        .desk
        .proposals(&ctx.desk.office)
        .merge_proposal(pb::MergeProposalRequest {
            name: p.name.clone(),
            merge_with: filed[main].0.clone(),
            note: format!("与第{}号提案内容相近，并案办理", filed[main].1),
        })
        .await
        .with_context(|| format!("merging proposal {}", plan.id()))?
        .into_inner()
        .proposal
        .context("a proposal in the answer")?;
    Ok(())
}

/// How many steps a proposal or a reply may take in one load before the
/// load gives up on it.
const MAX_STEPS: usize = 16;

/// Drives a proposal from where it stands to where it is planned to be
/// left: its units' rounds, the proposers' ratings, closing, a look-back.
/// `fresh` says its current round was assigned by this load, so has no
/// replies yet; so has every round this load takes it to.
async fn handle(
    ctx: Arc<Ctx>,
    k: usize,
    mut p: pb::Proposal,
    mut fresh: bool,
) -> anyhow::Result<pb::Proposal> {
    use pb::ProposalState as S;
    let plan = &ctx.plan[k];
    for _ in 0..MAX_STEPS {
        let round = p.handling_round;
        p = match p.state() {
            S::Assigned => {
                let after = handling_round(&ctx, k, p, fresh).await?;
                if after.state() == S::Assigned && after.handling_round == round {
                    return Ok(after);
                }
                fresh = true;
                after
            }
            S::Replied => {
                let after = rate(&ctx, k, p).await?;
                if after.state() == S::Replied {
                    return Ok(after);
                }
                fresh = true;
                after
            }
            S::Rated if plan.fate == Fate::Closed => ctx
                .desk
                .proposals(&ctx.desk.office)
                .close_proposal(pb::CloseProposalRequest {
                    name: p.name.clone(),
                    reason: String::new(),
                })
                .await
                .with_context(|| format!("closing proposal {}", plan.id()))?
                .into_inner()
                .proposal
                .context("a proposal in the answer")?,
            S::Closed => {
                look_back(&ctx, k, &p).await?;
                return Ok(p);
            }
            _ => return Ok(p),
        };
    }
    anyhow::bail!("proposal {} did not get where it was planned to", plan.id())
}

/// One handling round: the leaders' supervision, the units' requests, then
/// each answering unit's reply as far as planned. Replies already made are
/// read, unless the round is `fresh`.
async fn handling_round(
    ctx: &Ctx,
    k: usize,
    p: pb::Proposal,
    fresh: bool,
) -> anyhow::Result<pb::Proposal> {
    let plan = &ctx.plan[k];
    supervise(ctx, k, &p).await?;
    let round = p.handling_round;
    let mut p = requests(ctx, k, p).await?;
    if p.handling_round != round {
        return Ok(p);
    }
    let progress = match plan.fate {
        Fate::Assigned(progress) if round == plan.rounds() => Some(progress),
        _ => None,
    };
    if progress == Some(Progress::Fresh) {
        return Ok(p);
    }
    let mut replies = if fresh {
        Vec::new()
    } else {
        ctx.desk
            .proposals(&ctx.desk.office)
            .list_replies(pb::ListRepliesRequest {
                parent: p.name.clone(),
            })
            .await
            .with_context(|| format!("listing the replies to proposal {}", plan.id()))?
            .into_inner()
            .replies
    };
    let (co, answering): (Vec<pb::Assignment>, Vec<pb::Assignment>) = p
        .assignments
        .iter()
        .cloned()
        .partition(|a| a.part() == pb::UnitPart::CoHandler);
    for (n, unit) in answering.iter().enumerate() {
        let goal = match progress {
            None => Goal::Approved,
            Some(Progress::Submitted) => Goal::Submitted,
            Some(_) if n == 0 => Goal::Drafted,
            Some(_) => break,
        };
        p = answer(ctx, k, p, (n, unit), &co, goal, &mut replies).await?;
    }
    Ok(p)
}

/// How far a unit takes its reply in this load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal {
    /// Drafted, and countersigned by the first co-handler only.
    Drafted,
    /// Submitted to the office.
    Submitted,
    /// Approved by the office (after being returned once, if planned).
    Approved,
}

/// The `n`th answering unit's reply in the current round, from wherever it
/// stands (`replies` are the proposal's, kept up to date) to `goal`.
async fn answer(
    ctx: &Ctx,
    k: usize,
    mut p: pb::Proposal,
    (n, unit): (usize, &pb::Assignment),
    co: &[pb::Assignment],
    goal: Goal,
    replies: &mut Vec<pb::Reply>,
) -> anyhow::Result<pb::Proposal> {
    use pb::ReplyState as R;
    let plan = &ctx.plan[k];
    let id = plan.id();
    let round = p.handling_round;
    let mut own = ctx.desk.proposals(&ctx.desk.unit(&unit.unit));
    let mut office = ctx.desk.proposals(&ctx.desk.office);
    let ours = |r: &pb::Reply| r.unit == unit.unit && r.handling_round == round;
    for _ in 0..MAX_STEPS {
        let returned = replies.iter().any(|r| ours(r) && r.state() == R::Returned);
        let live = replies
            .iter()
            .find(|r| ours(r) && matches!(r.state(), R::Draft | R::Submitted | R::Approved))
            .cloned();
        let Some(mut reply) = live else {
            let drafted = own
                .draft_reply(pb::DraftReplyRequest {
                    parent: p.name.clone(),
                    reply: Some(reply_text(ctx, k, &p, (n, unit), returned)),
                })
                .await
                .with_context(|| format!("{} replying to proposal {id}", unit.unit_display_name))?
                .into_inner()
                .reply
                .context("a reply in the answer")?;
            keep(replies, drafted);
            continue;
        };
        match reply.state() {
            R::Draft => {
                // The lead's co-handlers send their opinions and countersign.
                let missing: Vec<&pb::Assignment> = if unit.part() == pb::UnitPart::Lead {
                    co.iter()
                        .filter(|c| !reply.countersignatures.iter().any(|s| s.unit == c.unit))
                        .collect()
                } else {
                    Vec::new()
                };
                let signing = match goal {
                    Goal::Drafted => usize::from(reply.countersignatures.is_empty()),
                    _ => missing.len(),
                };
                for c in missing.into_iter().take(signing) {
                    reply = ctx
                        .desk
                        .proposals(&ctx.desk.unit(&c.unit))
                        .countersign_reply(pb::CountersignReplyRequest {
                            name: reply.name.clone(),
                            opinion: format!(
                                "{}会签意见：同意主办单位答复意见，我单位将在职责范围内积极配合落实。",
                                c.unit_display_name
                            ),
                            unit: String::new(),
                        })
                        .await
                        .with_context(|| {
                            format!("{} countersigning on proposal {id}", c.unit_display_name)
                        })?
                        .into_inner()
                        .reply
                        .context("a reply in the answer")?;
                }
                if goal != Goal::Drafted {
                    reply = own
                        .submit_reply(pb::SubmitReplyRequest {
                            name: reply.name.clone(),
                            etag: String::new(),
                        })
                        .await
                        .with_context(|| format!("submitting a reply to proposal {id}"))?
                        .into_inner()
                        .reply
                        .context("a reply in the answer")?;
                }
                let drafted_only = goal == Goal::Drafted;
                keep(replies, reply);
                if drafted_only {
                    return Ok(p);
                }
            }
            R::Submitted if goal == Goal::Approved => {
                let h = &plan.handling;
                let (approve, category, reason) = if h.returned && n == 0 && !returned {
                    (
                        false,
                        "",
                        "答复内容较为笼统，请补充具体措施和完成时限后重新答复",
                    )
                } else if let Some(changed) = h.recategorised.filter(|_| n == 0) {
                    (
                        true,
                        changed,
                        "答复所述情况与实际办理进度不完全相符，调整答复类别",
                    )
                } else {
                    (true, "", "")
                };
                let reviewed = office
                    .review_reply(pb::ReviewReplyRequest {
                        name: reply.name.clone(),
                        approve,
                        result_category: category.into(),
                        reason: reason.into(),
                    })
                    .await
                    .with_context(|| format!("reviewing a reply to proposal {id}"))?
                    .into_inner();
                keep(replies, reviewed.reply.context("a reply in the answer")?);
                p = reviewed.proposal.context("a proposal in the answer")?;
            }
            _ => return Ok(p),
        }
    }
    anyhow::bail!(
        "the reply of {} to proposal {id} did not get where it was planned to",
        unit.unit_display_name
    )
}

/// Puts `reply` in `replies`, in place of its earlier self.
fn keep(replies: &mut Vec<pb::Reply>, reply: pb::Reply) {
    match replies.iter_mut().find(|r| r.name == reply.name) {
        Some(r) => *r = reply,
        None => replies.push(reply),
    }
}

/// What the `n`th answering unit writes: written again once the office
/// returned the first (`redraft`).
fn reply_text(
    ctx: &Ctx,
    k: usize,
    p: &pb::Proposal,
    (n, unit): (usize, &pb::Assignment),
    redraft: bool,
) -> pb::Reply {
    let plan = &ctx.plan[k];
    let h = &plan.handling;
    let topic = &TOPICS[plan.topic];
    let category = if n == 0 {
        h.category
    } else {
        ["B", "A", "C"][(plan.number + n) % 3]
    };
    let mut text = format!("关于第{}号提案《{}》的答复\n", p.serial, p.title);
    if h.contacted {
        text.push_str("收到提案后，我单位负责同志与提案人当面沟通，听取意见建议。");
    }
    if p.handling_round > 1 + i32::from(h.reassign.is_some()) {
        text.push_str("针对提案人对首次答复的意见，我单位再次专题研究，逐项细化了落实措施。");
    }
    if unit.unit_display_name == topic.units[0] {
        text.push_str(topic.answer);
    } else {
        text.push_str(&format!(
            "{}按照职责分工，对提案中涉及本单位的事项进行了认真研究，相关建议已纳入本单位年度工作计划，正在逐项落实。",
            unit.unit_display_name
        ));
    }
    if redraft {
        text.push_str("按照提案委员会意见，补充具体措施和完成时限：年内完成实施方案，明年上半年全面落实到位。");
    }
    text.push_str(match category {
        "A" => "提案所提建议已采纳并落实。",
        "B" => "提案所提建议已列入工作计划，正在推进落实。",
        _ => "受资金和政策条件限制，提案所提部分建议暂时难以实施，我单位将作为今后工作的参考。",
    });
    text.push_str("\n感谢您对全县经济社会发展的关心和支持！\n");
    text.push_str(&unit.unit_display_name);
    let year = SESSIONS[plan.session].1;
    pb::Reply {
        text,
        result_category: category.into(),
        contacted_proposers: h.contacted,
        contact_date: h.contacted.then(|| Date {
            year,
            month: 3 + (k % 6) as i32,
            day: 1 + (k * 7 % 28) as i32,
        }),
        ..Default::default()
    }
}

/// The lead unit's requests, as planned: to be relieved (granted, or once
/// refused), or for more time.
async fn requests(ctx: &Ctx, k: usize, mut p: pb::Proposal) -> anyhow::Result<pb::Proposal> {
    use pb::{HandlingRequestKind as Kind, HandlingRequestState as State};
    let plan = &ctx.plan[k];
    let h = &plan.handling;
    if h.reassign.is_none() && !h.refused && !h.extension {
        return Ok(p);
    }
    let Some(lead) = p
        .assignments
        .iter()
        .find(|a| a.part() == pb::UnitPart::Lead)
        .cloned()
    else {
        return Ok(p);
    };
    let id = plan.id();
    let mut office = ctx.desk.proposals(&ctx.desk.office);
    let made = office
        .list_handling_requests(pb::ListHandlingRequestsRequest {
            parent: p.name.clone(),
        })
        .await
        .with_context(|| format!("listing the requests on proposal {id}"))?
        .into_inner()
        .requests;
    let pending = |kind: Kind| {
        made.iter()
            .find(|r| r.kind() == kind && r.state() == State::Pending)
            .cloned()
    };
    let name = p.name.clone();
    let mut unit = ctx.desk.proposals(&ctx.desk.unit(&lead.unit));
    let mut ask = async |kind: Kind, reason: String, reply_due_date: Option<Date>| {
        unit.create_handling_request(pb::CreateHandlingRequestRequest {
            parent: name.clone(),
            request: Some(pb::HandlingRequest {
                kind: kind as i32,
                reason,
                reply_due_date,
                ..Default::default()
            }),
        })
        .await
        .with_context(|| format!("{} asking about proposal {id}", lead.unit_display_name))?
        .into_inner()
        .request
        .context("a request in the answer")
    };
    let mut decide = async |request: pb::DecideHandlingRequestRequest| {
        office
            .decide_handling_request(request)
            .await
            .with_context(|| format!("deciding a request on proposal {id}"))?
            .into_inner()
            .proposal
            .context("a proposal in the answer")
    };

    if h.refused && !made.iter().any(|r| r.kind() == Kind::Reassignment) {
        let asked = ask(
            Kind::Reassignment,
            "提案所提事项主要涉及其他部门职责，申请改办".into(),
            None,
        )
        .await?;
        decide(pb::DecideHandlingRequestRequest {
            name: asked.name,
            grant: false,
            reason: "所提事项属于本单位职责范围，请认真研究办理".into(),
            ..Default::default()
        })
        .await?;
    }
    if let Some((to, with)) = &h.reassign
        && p.handling_round == 1
    {
        let asked = match pending(Kind::Reassignment) {
            Some(r) => r,
            None => {
                ask(
                    Kind::Reassignment,
                    format!("提案所提事项不属于本单位职能，建议改由{to}主办"),
                    None,
                )
                .await?
            }
        };
        return decide(pb::DecideHandlingRequestRequest {
            name: asked.name,
            grant: true,
            reason: format!("经核实，同意改由{to}主办"),
            lead_unit: ctx.units[to].clone(),
            units: with.iter().map(|u| ctx.units[u].clone()).collect(),
            reply_due_date: None,
        })
        .await;
    }
    if h.extension
        && !made
            .iter()
            .any(|r| r.kind() == Kind::Extension && r.state() == State::Granted)
    {
        let asked = match pending(Kind::Extension) {
            Some(r) => r,
            None => {
                let due = p
                    .reply_due_date
                    .as_ref()
                    .context("an assigned proposal has a day due")?;
                ask(
                    Kind::Extension,
                    "提案涉及项目需争取上级资金支持，办理周期较长，申请延期答复".into(),
                    Some(days_after(due, 45)?),
                )
                .await?
            }
        };
        p = decide(pb::DecideHandlingRequestRequest {
            name: asked.name,
            grant: true,
            reason: "同意延期答复".into(),
            ..Default::default()
        })
        .await?;
    }
    Ok(p)
}

fn days_after(d: &Date, days: i64) -> anyhow::Result<Date> {
    let month = time::Month::try_from(u8::try_from(d.month)?)?;
    let day = time::Date::from_calendar_date(d.year, month, u8::try_from(d.day)?)?
        + time::Duration::days(days);
    Ok(Date {
        year: day.year(),
        month: u8::from(day.month()).into(),
        day: day.day().into(),
    })
}

/// The leaders' part while a proposal is handled: an instruction, and for
/// a key proposal its supervising leader's meetings.
async fn supervise(ctx: &Ctx, k: usize, p: &pb::Proposal) -> anyhow::Result<()> {
    use pb::FollowUpKind as K;
    let plan = &ctx.plan[k];
    let meetings = plan.key.map_or(0, |(_, meetings)| meetings);
    if meetings == 0 && plan.instruction.is_none() {
        return Ok(());
    }
    let id = plan.id();
    let mut leader = ctx.desk.follow_ups(&ctx.desk.leader);
    let had = leader
        .list_follow_ups(pb::ListFollowUpsRequest {
            parent: p.name.clone(),
        })
        .await
        .with_context(|| format!("listing the follow-ups of proposal {id}"))?
        .into_inner()
        .follow_ups;
    let count = |kind: K| had.iter().filter(|f| f.kind() == kind).count();
    let lead_unit = p
        .assignments
        .first()
        .map_or("承办单位", |a| a.unit_display_name.as_str());
    let mut notes = Vec::new();
    if let Some(l) = plan.instruction
        && count(K::Instruction) == 0
    {
        let (title, name) = LEADERS[l];
        notes.push(pb::FollowUp {
            kind: K::Instruction as i32,
            date: day(4, 3 + (k % 20) as i32),
            leader_name: name.into(),
            leader_title: title.into(),
            text: format!("此件所提建议很有针对性，请{lead_unit}认真研究吸纳，抓好落实。"),
            ..Default::default()
        });
    }
    if let Some((l, _)) = plan.key {
        let (title, name) = LEADERS[l];
        for m in count(K::Supervision)..meetings {
            let text = if m == 0 {
                format!(
                    "{title}{name}主持召开重点提案督办会，听取{lead_unit}办理情况汇报，要求把提案办理与推进全县中心工作结合起来，确保办出实效。"
                )
            } else {
                format!("{title}{name}实地察看办理进展，协调解决办理中的资金和用地问题。")
            };
            notes.push(pb::FollowUp {
                kind: K::Supervision as i32,
                date: day(5 + 3 * m as i32, 8 + (k % 20) as i32),
                leader_name: name.into(),
                leader_title: title.into(),
                text,
                ..Default::default()
            });
        }
    }
    for note in notes {
        leader
            .create_follow_up(pb::CreateFollowUpRequest {
                parent: p.name.clone(),
                follow_up: Some(note),
            })
            .await
            .with_context(|| format!("following proposal {id} up"))?;
    }
    Ok(())
}

/// The proposers rate the replies of the round; now and then the office
/// enters a rating a member gave on paper.
async fn rate(ctx: &Ctx, k: usize, mut p: pb::Proposal) -> anyhow::Result<pb::Proposal> {
    use pb::Satisfaction as S;
    let plan = &ctx.plan[k];
    let h = &plan.handling;
    let unsatisfied = h.unsatisfied && p.handling_round == 1 + i32::from(h.reassign.is_some());
    let signed: Vec<String> = p
        .proposers
        .iter()
        .filter(|x| x.signed)
        .map(|x| x.member.clone())
        .collect();
    // A proposal left replied waits for its co-signers, or its only proposer.
    let raters = if plan.fate == Fate::Replied && p.handling_round == plan.rounds() {
        usize::from(signed.len() > 1)
    } else {
        signed.len()
    };
    for (j, member) in signed.iter().enumerate().take(raters) {
        let satisfaction = if unsatisfied && j + 1 == signed.len() {
            S::Unsatisfied
        } else if (plan.number * 3 + j * 7) % 10 < 7 {
            S::Satisfied
        } else {
            S::BasicallySatisfied
        };
        let comment = match satisfaction {
            S::Unsatisfied => "答复未回应提案所提核心问题，希望再次研究办理",
            S::Satisfied => "答复具体，措施有力",
            _ => "",
        };
        let on_paper = (plan.number + j).is_multiple_of(11);
        let (bearer, for_member) = if on_paper {
            (ctx.desk.office.clone(), member.clone())
        } else {
            (ctx.desk.member(member), String::new())
        };
        let rated = ctx
            .desk
            .proposals(&bearer)
            .rate_proposal(pb::RateProposalRequest {
                name: p.name.clone(),
                member: for_member,
                satisfaction: satisfaction as i32,
                comment: comment.into(),
            })
            .await;
        match rated {
            Ok(r) => {
                p = r
                    .into_inner()
                    .proposal
                    .context("a proposal in the answer")?
            }
            // Rated by an earlier, interrupted load.
            Err(e) if e.code() == Code::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("rating proposal {}", plan.id())),
        }
    }
    Ok(p)
}

/// The office looks back (回头看) on a closed proposal, once.
async fn look_back(ctx: &Ctx, k: usize, p: &pb::Proposal) -> anyhow::Result<()> {
    use pb::LookBackFinding as F;
    let plan = &ctx.plan[k];
    let Some(finding) = plan.look_back else {
        return Ok(());
    };
    let id = plan.id();
    let mut office = ctx.desk.follow_ups(&ctx.desk.office);
    let had = office
        .list_follow_ups(pb::ListFollowUpsRequest {
            parent: p.name.clone(),
        })
        .await
        .with_context(|| format!("listing the follow-ups of proposal {id}"))?
        .into_inner()
        .follow_ups;
    if had.iter().any(|f| f.kind() == pb::FollowUpKind::LookBack) {
        return Ok(());
    }
    let text = match finding {
        F::Kept => "经回头看，答复中承诺的事项已全部落实到位，提案人表示满意。",
        F::PartlyKept => {
            "经回头看，答复中承诺的事项已部分落实，其余事项仍在推进中，已督促承办单位加快进度。"
        }
        _ => "经回头看，答复中承诺的事项尚未落实，已向承办单位发出督办通知，限期整改。",
    };
    office
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(pb::FollowUp {
                kind: pb::FollowUpKind::LookBack as i32,
                date: day(11 + (k % 2) as i32, 6 + (k % 20) as i32),
                text: text.into(),
                finding: finding as i32,
                ..Default::default()
            }),
        })
        .await
        .with_context(|| format!("looking back on proposal {id}"))?;
    Ok(())
}

/// The year's excellent proposals: put forward by their lead units or the
/// office, chosen (or not) by the panel, approved (or not) by the chairs.
async fn excellent(ctx: &Ctx, proposals: &[pb::Proposal]) -> anyhow::Result<()> {
    use pb::ExcellentState as E;
    let mut panel = ctx.desk.follow_ups(&ctx.desk.office);
    let mut chairs = ctx.desk.follow_ups(&ctx.desk.admin);
    let listed = panel
        .list_excellent_nominations(pb::ListExcellentNominationsRequest {
            parent: committee(),
            year: YEAR,
        })
        .await
        .context("listing the excellent-proposal nominations")?
        .into_inner()
        .nominations;
    for (k, p) in proposals.iter().enumerate() {
        let Some(outcome) = ctx.plan[k].excellent else {
            continue;
        };
        let id = ctx.plan[k].id();
        let mut nomination = match listed.iter().find(|n| n.proposal == p.name) {
            Some(n) => n.clone(),
            None => {
                let lead = p
                    .assignments
                    .iter()
                    .find(|a| a.part() == pb::UnitPart::Lead);
                let (bearer, by) = match lead {
                    Some(a) if k % 2 == 0 => (ctx.desk.unit(&a.unit), a.unit_display_name.clone()),
                    _ => (ctx.desk.office.clone(), "县政协提案委员会".to_owned()),
                };
                ctx.desk
                    .follow_ups(&bearer)
                    .nominate_excellent_proposal(pb::NominateExcellentProposalRequest {
                        parent: committee(),
                        nomination: Some(pb::ExcellentNomination {
                            proposal: p.name.clone(),
                            year: YEAR,
                            nominated_by: by,
                            reason: "选题紧扣全县中心工作，建议具体可行，办理成效明显".into(),
                            ..Default::default()
                        }),
                    })
                    .await
                    .with_context(|| format!("nominating proposal {id} as excellent"))?
                    .into_inner()
                    .nomination
                    .context("a nomination in the answer")?
            }
        };
        if nomination.state() == E::Nominated {
            let accept = outcome != Excellence::TurnedDownByPanel;
            nomination = panel
                .decide_excellent_nomination(pb::DecideExcellentNominationRequest {
                    name: nomination.name.clone(),
                    accept,
                    reason: if accept {
                        String::new()
                    } else {
                        "与同类提案相比，办理成效不够突出".into()
                    },
                })
                .await
                .with_context(|| format!("the panel deciding on proposal {id}"))?
                .into_inner()
                .nomination
                .context("a nomination in the answer")?;
        }
        if nomination.state() == E::Chosen {
            let accept = outcome == Excellence::Approved;
            chairs
                .decide_excellent_nomination(pb::DecideExcellentNominationRequest {
                    name: nomination.name.clone(),
                    accept,
                    reason: if accept {
                        String::new()
                    } else {
                        "经主席会议研究，本年度暂不列入".into()
                    },
                })
                .await
                .with_context(|| format!("the chairs deciding on proposal {id}"))?;
        }
    }
    Ok(())
}

/// The members' democratic evaluation (民主评议): standing members each
/// score a handful of units.
async fn evaluate(ctx: &Arc<Ctx>, roll: &Roll) -> anyhow::Result<()> {
    let evaluators: Vec<String> = roll
        .members
        .iter()
        .filter(|(_, m)| m.role == mpb::MemberRole::Standing as i32)
        .take(EVALUATORS)
        .map(|(_, m)| m.name.clone())
        .collect();
    let scores: Vec<(String, usize, i32)> = evaluators
        .into_iter()
        .enumerate()
        .flat_map(|(e, member)| {
            (0..UNITS_EVALUATED).map(move |j| {
                let u = (e * UNITS_EVALUATED + j) % UNITS.len();
                // Each unit has its standing; members differ a little.
                let score = 72 + (u * 37 % 24) as i32 + (e * 13 + u * 7) as i32 % 11 - 5;
                (member.clone(), u, score.clamp(0, 100))
            })
        })
        .collect();
    in_parallel(scores, |(member, u, score)| {
        let ctx = ctx.clone();
        async move {
            let comment = match score {
                90.. => "办理态度好，答复质量高",
                80..=89 => "办理认真，沟通及时",
                _ => "办理实效有待提高",
            };
            ctx.desk
                .assessment(&ctx.desk.member(&member))
                .evaluate_unit(pb::EvaluateUnitRequest {
                    parent: committee(),
                    unit: ctx.units[UNITS[u].0].clone(),
                    year: YEAR,
                    score,
                    member: String::new(),
                    comment: comment.into(),
                })
                .await
                .with_context(|| format!("{member} evaluating {}", UNITS[u].0))?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// The assessors score every unit assessed for 2023 on the entered items:
/// the load's last step.
async fn score(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let assessed = ctx
        .desk
        .assessment(&ctx.desk.office)
        .list_unit_assessments(pb::ListUnitAssessmentsRequest {
            parent: committee(),
            year: YEAR,
        })
        .await
        .context("reading the 2023 assessment")?
        .into_inner()
        .assessments;
    let scores: Vec<(String, String, usize, usize)> = assessed
        .into_iter()
        .flat_map(|a| {
            let u = UNITS
                .iter()
                .position(|(name, _)| *name == a.unit_display_name)
                .unwrap_or_default();
            (0..ENTERED.len()).map(move |c| (a.unit.clone(), a.unit_display_name.clone(), u, c))
        })
        .collect();
    in_parallel(scores, |(unit, name, u, c)| {
        let ctx = ctx.clone();
        async move {
            let (code, _, points) = ENTERED[c];
            // Six to ten in ten of the points, by half points.
            let share = 0.6 + ((u * 7 + c * 3) % 9) as f64 * 0.05;
            let score = (f64::from(points) * share * 2.0).round() / 2.0;
            ctx.desk
                .assessment(&ctx.desk.office)
                .score_unit(pb::ScoreUnitRequest {
                    parent: committee(),
                    unit,
                    year: YEAR,
                    code: code.into(),
                    score,
                    note: "根据答复材料和办理过程综合评定".into(),
                })
                .await
                .with_context(|| format!("scoring {name} on {code}"))?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_2023(plan: &[Planned]) -> Vec<&Planned> {
        plan.iter().filter(|p| p.session == SESSION_2023).collect()
    }

    #[test]
    fn the_catalogues_hold_together() {
        let units: HashSet<&str> = UNITS.iter().map(|(name, _)| *name).collect();
        assert_eq!(units.len(), UNITS.len(), "unit names are unique");
        for topic in &TOPICS {
            assert!(topic.units.len() >= 3, "{:?}", topic.asks);
            for unit in topic.units {
                assert!(units.contains(unit), "{unit} is a unit");
            }
            assert!(
                SECTORS.iter().any(|s| s.0 == topic.sector),
                "{}",
                topic.sector
            );
        }
        for (sector, body) in GROUPS {
            assert!(SECTORS.iter().any(|s| s.0 == sector), "{sector}");
            assert!(body.chars().count() <= 40);
        }
        for (title, name) in LEADERS {
            assert!((2..=30).contains(&title.chars().count()));
            assert!((2..=20).contains(&name.chars().count()));
        }
        let points: i32 = rules_2023().items.iter().map(|i| i.points).sum();
        assert_eq!(points, 100, "the table sums to 100");
        for (name, year, (month, _), _) in SESSIONS {
            assert!(name.chars().count() <= 60 && (1..=12).contains(&month) && year >= 2021);
        }
    }

    #[test]
    fn the_plan_is_the_same_every_time_and_fits_the_service() {
        let a = plan(&crate::demo::members());
        let b = plan(&crate::demo::members());
        let titles = |p: &[Planned]| p.iter().map(Planned::title).collect::<Vec<_>>();
        assert_eq!(titles(&a), titles(&b));
        assert_eq!(a.len(), PROPOSALS_2022 + PROPOSALS_2023);
        for p in &a {
            let draft = p.draft("committees/suixian/sessions/x");
            assert!(
                (4..=80).contains(&draft.title.chars().count()),
                "{}",
                draft.title
            );
            assert!(
                draft.reason.chars().count() <= 5000 && draft.suggestions.chars().count() <= 5000
            );
            assert!(draft.on_behalf_of.chars().count() <= 40);
            assert_eq!(p.collective(), !draft.on_behalf_of.is_empty(), "{}", p.id());
            assert!(!p.cosigners.contains(&p.lead) && p.decliner != Some(p.lead));
            if p.kind == pb::ProposalKind::Joint {
                assert!(!p.cosigners.is_empty(), "{}", p.id());
            }
            if p.handling.lead.is_none() {
                assert!(p.handling.units.len() >= 2, "{}", p.id());
            }
        }
        let year = of_2023(&a);
        let titles: HashSet<String> = year.iter().map(|p| p.title()).collect();
        assert_eq!(titles.len(), PROPOSALS_2023, "2023's titles differ");
    }

    #[test]
    fn the_year_2023_has_every_state_and_everything_that_happens_on_the_way() {
        let all = plan(&crate::demo::members());
        let year = of_2023(&all);
        let count = |f: &dyn Fn(&Planned) -> bool| year.iter().filter(|p| f(p)).count();
        assert_eq!(count(&|p| p.fate == Fate::Draft), DRAFTS_2023);
        assert_eq!(
            count(&|p| matches!(p.fate, Fate::Withdrawn { .. })),
            WITHDRAWN_2023
        );
        let states = planned_states_2023();
        for state in [
            pb::ProposalState::Submitted,
            pb::ProposalState::Filed,
            pb::ProposalState::NotFiled,
            pb::ProposalState::Converted,
            pb::ProposalState::Assigned,
            pb::ProposalState::Replied,
            pb::ProposalState::Rated,
            pb::ProposalState::Closed,
        ] {
            assert!(
                states.get(&state).copied().unwrap_or_default() > 0,
                "{state:?}"
            );
        }
        assert_eq!(
            states.values().sum::<usize>(),
            PROPOSALS_2023 - DRAFTS_2023 - WITHDRAWN_2023
        );
        for kind in [
            pb::ProposalKind::Individual,
            pb::ProposalKind::Joint,
            pb::ProposalKind::Sector,
            pb::ProposalKind::PartyGroup,
            pb::ProposalKind::SpecialCommittee,
        ] {
            assert!(count(&|p| p.kind == kind) > 0, "{kind:?}");
        }
        assert!(count(&|p| p.decliner.is_some()) > 0);
        let categories: HashSet<i32> = year
            .iter()
            .map(|p| TOPICS[p.topic].category as i32)
            .collect();
        assert_eq!(categories.len(), 6, "every category");

        assert_eq!(count(&|p| p.key.is_some()), KEY_PROPOSALS);
        assert_eq!(count(&|p| p.instruction.is_some()), INSTRUCTIONS);
        assert_eq!(count(&|p| p.look_back.is_some()), LOOK_BACKS);
        assert!(
            year.iter()
                .all(|p| p.look_back.is_none() || p.fate == Fate::Closed)
        );
        assert_eq!(count(&|p| p.excellent.is_some()), EXCELLENT_NOMINATED);
        assert_eq!(
            count(&|p| p.excellent == Some(Excellence::Approved)),
            EXCELLENT
        );
        assert!(
            year.iter()
                .all(|p| p.excellent.is_none() || p.fate == Fate::Closed)
        );
        assert_eq!(count(&|p| p.merge_with.is_some()), 6);
        for p in year.iter().filter(|p| p.merge_with.is_some()) {
            let main = &all[p.merge_with.unwrap()];
            assert_eq!((main.session, main.topic), (p.session, p.topic));
            assert!(main.merge_with.is_none() && main.handling.reassign.is_none());
            assert!(matches!(
                main.fate,
                Fate::Replied | Fate::Rated | Fate::Closed
            ));
            assert_eq!(p.fate, Fate::Closed);
        }
        assert!(count(&|p| p.handling.reassign.is_some()) >= 3);
        assert!(count(&|p| p.handling.refused) > 0);
        assert!(count(&|p| p.handling.extension) > 0);
        assert!(count(&|p| p.handling.returned) > 0);
        assert!(count(&|p| p.handling.recategorised.is_some()) > 0);
        assert!(count(&|p| p.handling.unsatisfied) > 0);
        assert!(count(&|p| p.handling.lead.is_none()) > 0);
        assert!(count(&|p| p.handling.contacted) > count(&|p| !p.handling.contacted));

        // Every unit handles something in 2023.
        let mut handling: HashSet<&str> = HashSet::new();
        for p in year
            .iter()
            .filter(|p| p.fate.handled() && p.merge_with.is_none())
        {
            let h = &p.handling;
            handling.extend(h.lead.iter().chain(&h.units));
            if let Some((lead, co)) = &h.reassign {
                handling.extend(std::iter::once(lead).chain(co));
            }
        }
        let missing: Vec<&str> = UNITS
            .iter()
            .map(|(name, _)| *name)
            .filter(|u| !handling.contains(u))
            .collect();
        assert!(
            missing.is_empty(),
            "units with nothing to handle: {missing:?}"
        );
        let answering: HashSet<&str> = year
            .iter()
            .filter(|p| matches!(p.fate, Fate::Replied | Fate::Rated | Fate::Closed))
            .filter(|p| p.merge_with.is_none())
            .flat_map(|p| p.handling.answering())
            .collect();
        assert_eq!(answering.len(), UNITS.len(), "every unit replies to some");
    }

    #[test]
    fn the_evaluators_are_standing_members() {
        let standing = crate::demo::members()
            .iter()
            .filter(|m| m.member.role == mpb::MemberRole::Standing as i32)
            .count();
        assert!(standing >= EVALUATORS);
        assert!(EVALUATORS * UNITS_EVALUATED >= UNITS.len());
    }
}
