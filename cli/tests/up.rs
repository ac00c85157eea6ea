//! `cppcc up --demo`, as the README tells a newcomer to run it: the suite
//! comes up with its own PostgreSQL, the demo committee is there with the
//! seed's figures and a year of proposals, Ctrl-C stops it, and a second
//! start keeps the data without loading the demo twice.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use cpb::consultation_result_service_client::ConsultationResultServiceClient;
use cppcc_cli::demo;
use cppcc_kit::client::Bearer;
use cppcc_proto::common::v1::DutyKind;
use cppcc_proto::consultations::v1 as cpb;
use cppcc_proto::members::v1 as pb;
use cppcc_proto::opinions::v1 as opb;
use cppcc_proto::proposals::v1 as ppb;
use pb::activity_group_service_client::ActivityGroupServiceClient;
use pb::evaluation_service_client::EvaluationServiceClient;
use pb::liaison_network_service_client::LiaisonNetworkServiceClient;
use pb::member_service_client::MemberServiceClient;
use pb::studio_service_client::StudioServiceClient;
use ppb::proposal_assessment_service_client::ProposalAssessmentServiceClient;

struct Up {
    child: Child,
    gateway: String,
    members: String,
    proposals: String,
    consultations: String,
    opinions: String,
    demo: String,
}

async fn up(data_dir: &std::path::Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cppcc"))
        .args([
            "up",
            "--demo",
            "--gateway-addr",
            "127.0.0.1:0",
            "--gateway-admin-addr",
            "127.0.0.1:0",
            "--members-addr",
            "127.0.0.1:0",
            "--proposals-addr",
            "127.0.0.1:0",
            "--consultations-addr",
            "127.0.0.1:0",
            "--opinions-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut gateway, mut members, mut proposals, mut consultations, mut opinions, mut demo) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    while demo.is_empty() {
        let line = tokio::time::timeout(Duration::from_secs(180), lines.next_line())
            .await
            .expect("cppcc up answers within three minutes")
            .unwrap()
            .expect("cppcc up prints its addresses and the demo");
        if let Some(addr) = line.trim().strip_prefix("gateway") {
            gateway = addr.trim().to_owned();
        }
        if let Some(addr) = line.trim().strip_prefix("members") {
            members = addr.trim().to_owned();
        }
        if let Some(addr) = line.trim().strip_prefix("proposals") {
            proposals = addr.trim().to_owned();
        }
        if let Some(addr) = line.trim().strip_prefix("consultations") {
            consultations = addr.trim().to_owned();
        }
        if let Some(addr) = line.trim().strip_prefix("opinions") {
            opinions = addr.trim().to_owned();
        }
        if line.starts_with("demo:") {
            demo = line;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Up {
        child,
        gateway,
        members,
        proposals,
        consultations,
        opinions,
        demo,
    }
}

async fn stop(mut up: Up) {
    let pid = up.child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), up.child.wait())
        .await
        .expect("Ctrl-C stops everything")
        .unwrap();
    assert!(status.success(), "{status}");
}

fn token(data_dir: &std::path::Path) -> String {
    token_as(data_dir, "staff")
}

fn token_as(data_dir: &std::path::Path, role: &str) -> String {
    token_with(data_dir, role, &[])
}

/// A token for `role` in 随县, with `more` arguments to `cppcc token`.
fn token_with(data_dir: &std::path::Path, role: &str, more: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cppcc"))
        .args([
            "token",
            "--role",
            role,
            "--committee",
            "suixian",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(more)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn count(client: &mut MemberServiceClient<cppcc_kit::client::Authed>, filter: &str) -> i32 {
    client
        .list_members(pb::ListMembersRequest {
            parent: "committees/suixian".into(),
            page_size: 1,
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .total_size
}

#[tokio::test]
async fn up_with_the_demo_gives_the_seed_figures_and_keeps_them() {
    let data_dir = std::env::temp_dir().join(format!("cppcc-up-{}", uuid::Uuid::new_v4().simple()));
    let first = up(&data_dir).await;
    assert!(first.demo.contains("loaded: 338 members"), "{}", first.demo);
    let channel = cppcc_kit::client::channel(&format!("http://{}", first.members)).unwrap();
    let mut members =
        MemberServiceClient::with_interceptor(channel, Bearer::new(&token(&data_dir)));
    assert_eq!(count(&mut members, "").await, 338);
    assert_eq!(count(&mut members, "city_member = true").await, 37);
    assert!(count(&mut members, "township = \"洪山镇\"").await >= 13);
    let special = members
        .list_special_committees(pb::ListSpecialCommitteesRequest {
            parent: "committees/suixian".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .special_committees;
    assert_eq!(special.len(), 7);
    assert!(special.iter().all(|s| !s.chair.is_empty()));
    assert!(special.iter().any(|s| s.display_name == "农业和农村委员会"));
    organisation_and_duty_figures(&first.members, &token(&data_dir)).await;
    let proposals = proposal_figures(&first.proposals, &token(&data_dir)).await;
    let consultations = consultation_figures(&first.consultations, &token(&data_dir)).await;
    let opinions = opinion_figures(&first.opinions, &token(&data_dir)).await;
    annual_report(&first.gateway, &data_dir).await;
    conformance(&first, &data_dir).await;
    every_method_and_role_agree(&first, &data_dir).await;
    stop(first).await;

    let second = up(&data_dir).await;
    assert!(second.demo.contains("already loaded"), "{}", second.demo);
    let channel = cppcc_kit::client::channel(&format!("http://{}", second.members)).unwrap();
    let mut members =
        MemberServiceClient::with_interceptor(channel, Bearer::new(&token(&data_dir)));
    assert_eq!(count(&mut members, "").await, 338);
    assert_eq!(
        proposal_figures(&second.proposals, &token(&data_dir)).await,
        proposals,
        "the second start changed no proposal"
    );
    assert_eq!(
        consultation_figures(&second.consultations, &token(&data_dir)).await,
        consultations,
        "the second start changed no consultation"
    );
    assert_eq!(
        opinion_figures(&second.opinions, &token(&data_dir)).await,
        opinions,
        "the second start changed no opinion report"
    );
    stop(second).await;
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The conformance suite (tests/conformance): clients no one here wrote —
/// Python's grpcio (C core) and curl, Node's grpc-js and connect-node —
/// call every service through the gateway and straight, over gRPC,
/// gRPC-Web and JSON, and compare the answers. Its lines are printed (run
/// with `--nocapture` to see them).
async fn conformance(up: &Up, data_dir: &std::path::Path) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let install = std::process::Command::new("bash")
        .arg(dir.join("install"))
        .status()
        .unwrap();
    assert!(install.success(), "tests/conformance/install failed");
    let descriptors = data_dir.join("descriptors.binpb");
    std::fs::write(
        &descriptors,
        cppcc_gateway::descriptors::pool().encode_to_vec(),
    )
    .unwrap();
    let config = serde_json::json!({
        "gateway": up.gateway,
        "direct": {
            "members": up.members,
            "proposals": up.proposals,
            "consultations": up.consultations,
            "opinions": up.opinions,
        },
        "tokens": {
            "admin": token_as(data_dir, "admin"),
            "auditor": token_as(data_dir, "auditor"),
        },
        "descriptors": descriptors,
    });
    let python = dir.join(".venv/bin/python");
    for (program, script) in [
        (python.as_os_str(), "grpcio_client.py"),
        ("node".as_ref(), "node_clients.mjs"),
    ] {
        let run = Command::new(program)
            .arg(dir.join(script))
            .env("CONFORMANCE", config.to_string())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(600), run)
            .await
            .unwrap_or_else(|_| panic!("{script} ends within ten minutes"))
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{script}:\n{text}");
        assert!(
            out.status.success() && text.trim_end().ends_with(" passed, 0 failed"),
            "{script}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `cppcc report --year 2023` against the gateway: the seed's figures in
/// the table, every section there, and the workbook written.
async fn annual_report(gateway: &str, data_dir: &std::path::Path) {
    let xlsx = data_dir.join("report.xlsx");
    let out = Command::new(env!("CARGO_BIN_EXE_cppcc"))
        .args(["report", "--year", "2023", "--gateway"])
        .arg(format!("http://{gateway}"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--xlsx")
        .arg(&xlsx)
        .output()
        .await
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!table.contains("注："), "every section is there:\n{table}");
    // Section, label, the year, the term to date.
    let row = |label: &str| -> Vec<String> {
        table
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cells| cells.get(1).map(String::as_str) == Some(label))
            .unwrap_or_else(|| panic!("no {label} in\n{table}"))
    };
    assert_eq!(row("委员总数")[2], "338");
    assert_eq!(row("其中市政协委员")[2], "37");
    assert_eq!(row("专门委员会")[2], "7");
    assert_eq!(
        row("其中委员报送")[3],
        "216",
        "members' reports since the term began"
    );
    assert_eq!(row("反映社情民意信息的委员")[2], "47");
    assert_eq!(row("被上级政协采用")[3], "6");
    let workbook = std::fs::read(&xlsx).expect("the workbook is written");
    assert!(workbook.starts_with(b"PK"), "an xlsx is a zip");
}

/// The seed's organisation and duty figures, as a county office reads them.
async fn organisation_and_duty_figures(members_addr: &str, token: &str) {
    let channel = cppcc_kit::client::channel(&format!("http://{members_addr}")).unwrap();
    let mut e = EvaluationServiceClient::with_interceptor(channel.clone(), Bearer::new(token));
    let mut group_client =
        ActivityGroupServiceClient::with_interceptor(channel.clone(), Bearer::new(token));
    let mut studio_client =
        StudioServiceClient::with_interceptor(channel.clone(), Bearer::new(token));
    let mut network_client =
        LiaisonNetworkServiceClient::with_interceptor(channel, Bearer::new(token));
    let parent = "committees/suixian".to_owned();

    let stats = e
        .get_member_statistics(pb::GetMemberStatisticsRequest {
            committee: parent.clone(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    assert_eq!(
        (
            stats.members,
            stats.city_members,
            stats.special_committees,
            stats.term
        ),
        (338, 37, 7, 4)
    );
    let business = stats
        .by_sector
        .iter()
        .find(|s| s.label == "工商联")
        .unwrap();
    assert_eq!(business.count, 52);
    let term = |kind: DutyKind| {
        stats
            .term_entries
            .iter()
            .find(|k| k.kind == kind as i32)
            .map_or(0, |k| k.count)
    };
    // 四届政协以来: 政策宣传1200人次, 调研视察460人次, 基层协商议事235人次, 社情民意216篇, 实事253件.
    assert_eq!(
        [
            term(DutyKind::PolicyPublicity),
            term(DutyKind::ResearchInspection),
            term(DutyKind::ConsultationGrassroots),
            term(DutyKind::OpinionSubmitted),
            term(DutyKind::PracticalDeed),
        ],
        [1200, 460, 235, 216, 253]
    );
    let reporters = stats
        .year_members
        .iter()
        .find(|k| k.kind == DutyKind::OpinionSubmitted as i32)
        .unwrap();
    assert_eq!(reporters.count, 47, "今年共有47名委员反映社情民意");

    // 20 township activity groups, each with its convener.
    let groups = group_client
        .list_activity_groups(pb::ListActivityGroupsRequest {
            parent: parent.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .activity_groups;
    assert_eq!(groups.len(), 20);
    assert!(groups.iter().all(|g| !g.convener_display_name.is_empty()));
    // The 洪山镇 studio: 13 members, 25 liaisons; the 工商联 studio its sector's 52.
    let studios = studio_client
        .list_studios(pb::ListStudiosRequest {
            parent: parent.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .studios;
    let hongshan = studios.iter().find(|s| s.township == "洪山镇").unwrap();
    assert_eq!((hongshan.member_count, hongshan.liaison_count), (13, 25));
    let sector_studio = studios
        .iter()
        .find(|s| s.sector == business.resource)
        .unwrap();
    assert_eq!(sector_studio.member_count, 52);
    // Two activities a month: in July 2023 only the 工商联 studio fell short.
    let july = studio_client
        .list_studio_shortfalls(pb::ListStudioShortfallsRequest {
            parent: parent.clone(),
            year: 2023,
            month: 7,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(july.studio_count, 2);
    assert_eq!(july.shortfalls.len(), 1);
    assert_eq!(july.shortfalls[0].studio, sector_studio.name);
    // 26 liaison stations, 50+ informants.
    let stations = network_client
        .list_liaison_stations(pb::ListLiaisonStationsRequest {
            parent: parent.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .liaison_stations;
    assert_eq!(stations.len(), 26);
    let informants = network_client
        .list_informants(pb::ListInformantsRequest {
            parent: parent.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .total_size;
    assert!(informants >= 50, "{informants}");

    // Every member's 2023 score breaks down to its entries.
    let all = e
        .list_member_evaluations(pb::ListMemberEvaluationsRequest {
            parent: parent.clone(),
            year: 2023,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_size, 338);
    // Under the committee's own 2023 rules every grade occurs, and some
    // members make the four goods.
    assert!(
        all.evaluations
            .iter()
            .all(|e| e.rules == "committees/suixian/evaluationRules/2023")
    );
    for grade in [
        pb::Grade::Excellent,
        pb::Grade::Qualified,
        pb::Grade::Basic,
        pb::Grade::Unqualified,
    ] {
        assert!(
            all.evaluations.iter().any(|e| e.grade() == grade),
            "{grade:?}"
        );
    }
    assert!(all.evaluations.iter().any(|e| e.four_goods));
    for listed in &all.evaluations {
        let one = e
            .get_member_evaluation(pb::GetMemberEvaluationRequest {
                member: listed.member.clone(),
                year: 2023,
            })
            .await
            .unwrap()
            .into_inner()
            .evaluation
            .unwrap();
        assert_eq!(one.score, listed.score);
        assert_eq!(one.committee_rank, listed.committee_rank);
        assert_eq!(
            one.score,
            one.lines.iter().map(|l| l.points).sum::<i32>(),
            "{}",
            one.member
        );
        for line in &one.lines {
            assert_eq!(line.entries as usize, line.duty_records.len());
            assert!(line.duty_records.iter().all(|r| r.starts_with(&one.member)));
        }
    }
}

/// The proposals of 2023 as the office reads them: the year's and the
/// term's figures, and the units ranked out of 100, each score broken
/// down to its items.
async fn proposal_figures(
    proposals_addr: &str,
    token: &str,
) -> (
    ppb::GetProposalStatisticsResponse,
    ppb::ListUnitAssessmentsResponse,
) {
    let channel = cppcc_kit::client::channel(&format!("http://{proposals_addr}")).unwrap();
    let mut a = ProposalAssessmentServiceClient::with_interceptor(channel, Bearer::new(token));
    let stats = a
        .get_proposal_statistics(ppb::GetProposalStatisticsRequest {
            committee: "committees/suixian".into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    let (year, term) = (stats.year.clone().unwrap(), stats.term.clone().unwrap());
    // Drafts and withdrawn proposals are not counted as submitted.
    assert_eq!(
        year.submitted as usize,
        demo::PROPOSALS_2023 - demo::DRAFTS_2023 - demo::WITHDRAWN_2023
    );
    // Every state from submitted to closed, each as often as planned.
    let by_state: BTreeMap<String, usize> = year
        .by_state
        .iter()
        .map(|c| (c.label.clone(), c.count as usize))
        .collect();
    let planned: BTreeMap<String, usize> = demo::planned_states_2023()
        .into_iter()
        .map(|(state, n)| (state.as_str_name().to_owned(), n))
        .collect();
    assert_eq!(by_state, planned);
    assert_eq!(by_state.len(), 8, "{by_state:?}");
    let filed: usize = [
        ppb::ProposalState::Filed,
        ppb::ProposalState::Assigned,
        ppb::ProposalState::Replied,
        ppb::ProposalState::Rated,
        ppb::ProposalState::Closed,
    ]
    .iter()
    .map(|s| by_state[s.as_str_name()])
    .sum();
    assert_eq!(year.filed as usize, filed);
    assert!(
        year.filing_rate > 0.8 && year.filing_rate < 1.0,
        "{}",
        year.filing_rate
    );
    assert_eq!(year.by_category.len(), 6, "every category");
    assert_eq!(year.by_kind.len(), 5, "every kind");
    let results: Vec<&str> = year.by_result.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(results, ["A", "B", "C"]);
    // Most units talked with the proposers first; most answers solved or planned.
    assert!(
        year.contact_rate > 0.5 && year.contact_rate < 1.0,
        "{}",
        year.contact_rate
    );
    assert!(year.favourable_share > 0.5 && year.favourable_share < 1.0);
    assert!(year.satisfaction_rate > 0.9);
    assert_eq!(
        [
            year.key_proposals,
            year.instructions,
            year.look_backs,
            year.excellent
        ],
        [
            demo::KEY_PROPOSALS,
            demo::INSTRUCTIONS,
            demo::LOOK_BACKS,
            demo::EXCELLENT
        ]
        .map(|n| n as i32)
    );
    assert!(year.key_proposals_closed > 0 && year.key_proposals_closed < year.key_proposals);
    assert_eq!(
        year.by_unit.len(),
        demo::UNITS.len(),
        "every unit handles some"
    );
    assert!(year.distinct_proposers > 100, "{}", year.distinct_proposers);
    // 四届政协以来: 2022's proposals too, every one of them submitted.
    assert_eq!(term.submitted, year.submitted + demo::PROPOSALS_2022 as i32);
    assert!(term.distinct_proposers > year.distinct_proposers);

    // The units ranked, best first; every total is its items' sum.
    let ranking = a
        .list_unit_assessments(ppb::ListUnitAssessmentsRequest {
            parent: "committees/suixian".into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    let units = &ranking.assessments;
    assert_eq!(units.len(), demo::UNITS.len());
    assert_eq!(units[0].rank, 1);
    for (i, u) in units.iter().enumerate() {
        assert!(u.proposal_count > 0, "{}", u.unit_display_name);
        assert_eq!(u.items.iter().map(|i| i.points).sum::<i32>(), 100);
        let sum: f64 = u.items.iter().map(|i| i.score).sum();
        assert!(
            (u.total - sum).abs() < 0.01,
            "{}: {} ≠ {sum}",
            u.unit_display_name,
            u.total
        );
        assert!(
            u.items
                .iter()
                .all(|i| (0.0..=f64::from(i.points)).contains(&i.score)),
            "{u:?}"
        );
        // Members evaluated every unit; assessors scored it.
        for code in ["evaluation", "quality"] {
            assert!(
                u.items.iter().any(|i| i.code == code && i.score > 0.0),
                "{u:?}"
            );
        }
        if i > 0 {
            assert!(units[i - 1].total >= u.total && units[i - 1].rank <= u.rank);
        }
    }
    let totals: std::collections::HashSet<String> =
        units.iter().map(|u| format!("{:.2}", u.total)).collect();
    assert!(
        totals.len() > demo::UNITS.len() / 2,
        "units differ: {totals:?}"
    );
    assert!(units[0].total - units[units.len() - 1].total > 5.0);
    (stats, ranking)
}

/// The seed's consultation figures for 2023 and the term, as the county
/// office reads them; the whole answer, to compare across starts.
/// The seed's opinion figures: 216 members' reports since the term began,
/// 47 members reporting in 2023, 10+ forwarded to 随州市政协 and 6 adopted.
async fn opinion_figures(addr: &str, token: &str) -> opb::OpinionStatistics {
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).unwrap();
    let stats = opb::opinion_report_service_client::OpinionReportServiceClient::with_interceptor(
        channel,
        Bearer::new(token),
    )
    .get_opinion_statistics(opb::GetOpinionStatisticsRequest {
        committee: "committees/suixian".into(),
        year: 2023,
    })
    .await
    .unwrap()
    .into_inner()
    .statistics
    .unwrap();
    let (year, term) = (
        stats.year_figures.clone().unwrap(),
        stats.term_figures.clone().unwrap(),
    );
    assert_eq!(
        term.submitted_by_members as usize,
        demo::MEMBER_REPORTS,
        "反映社情民意信息216篇"
    );
    assert_eq!(
        year.submitted_by_members as usize,
        demo::MEMBER_REPORTS_2023
    );
    assert_eq!(
        year.member_contributors as usize,
        demo::OPINION_MEMBERS_2023,
        "今年共有47名委员"
    );
    assert!(
        year.forwarded >= 10,
        "报送给随州政协10余篇: {}",
        year.forwarded
    );
    assert_eq!(year.adopted_upward, 6, "被随州政协采用了6篇");
    assert!(year.instructions > 0 && year.published > 0 && year.submitted_by_informants > 0);
    assert!(year.by_station.len() > 10 && !year.by_category.is_empty());
    stats
}

async fn consultation_figures(addr: &str, token: &str) -> cpb::GetConsultationStatisticsResponse {
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).unwrap();
    let stats = ConsultationResultServiceClient::with_interceptor(channel, Bearer::new(token))
        .get_consultation_statistics(cpb::GetConsultationStatisticsRequest {
            committee: "committees/suixian".into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    let of = |counts: &[cpb::KindCount], label: &str| {
        counts
            .iter()
            .find(|k| k.label == label)
            .map_or(0, |k| k.count)
    };
    // 20个镇级、195个村（社区）级、61个企业协商议事平台.
    for (level, n) in demo::PLATFORMS {
        assert_eq!(
            of(&stats.platforms_by_level, level.as_str_name()),
            n as i32,
            "{level:?}"
        );
    }
    assert!(stats.platforms_compliant > 0 && stats.platforms_compliant < stats.platforms);
    assert_eq!(
        stats.budget.as_ref().unwrap().amount.as_ref().unwrap().fen,
        demo::BUDGET_FEN_2023,
        "500,000 yuan a year"
    );
    assert_eq!(
        stats.plan_completion, 1.0,
        "every topic of the 2023 plan was taken up"
    );
    let year = stats.year.as_ref().unwrap();
    // 开展“协商在一线”活动130场次, 6000余人次参与, 收集意见建议160余条, 解决问题120余个.
    let frontline = "ACTIVITY_KIND_FRONTLINE";
    assert_eq!(
        of(&year.activities_by_kind, frontline),
        demo::FRONTLINE_2023 as i32
    );
    assert!(
        of(&year.participations_by_kind, frontline) >= 6000,
        "{year:?}"
    );
    assert!(year.opinions >= 160, "{}", year.opinions);
    assert!(year.problems_solved >= 120, "{}", year.problems_solved);
    assert!(
        of(&year.activities_by_kind, "ACTIVITY_KIND_STANDING_COMMITTEE") >= 1,
        "油茶"
    );
    assert!(of(&year.activities_by_kind, "ACTIVITY_KIND_SPECIAL_TOPIC") >= 4);
    // Over the term: 30多个调研视察, 460余名委员参加; 调研报告16篇; 建言资政10期; 领导批示10次.
    let term = stats.term.as_ref().unwrap();
    let research = "ACTIVITY_KIND_RESEARCH_INSPECTION";
    assert!(of(&term.activities_by_kind, research) >= 30);
    assert!(of(&term.member_participations_by_kind, research) >= 460);
    assert_eq!(term.reports, demo::REPORTS as i32);
    assert_eq!(term.publications, 2 * demo::PUBLICATIONS_PER_YEAR as i32);
    assert_eq!(term.instructions, demo::CONSULTATION_INSTRUCTIONS as i32);
    stats
}

/// Every method × every role, through the gateway and straight at the
/// service that owns it: both refuse exactly the roles the method's
/// contract leaves out (PERMISSION_DENIED, POLICY_DENIED), in the same
/// words, and let every other role through to the handler. The calls carry
/// an empty message, which no method takes for a change.
async fn every_method_and_role_agree(up: &Up, data_dir: &std::path::Path) {
    use cppcc_kit::access::{self, Decision};
    use cppcc_kit::auth::Role;
    use futures::StreamExt as _;
    use tonic_types::StatusExt as _;

    let tokens: Vec<(Role, String)> = Role::ALL
        .into_iter()
        .map(|r| {
            let whose: &[&str] = match r {
                Role::Member => &[
                    "--member",
                    "committees/suixian/members/00000000-0000-7000-8000-000000000001",
                ],
                Role::HandlingUnit => &[
                    "--unit",
                    "committees/suixian/units/00000000-0000-7000-8000-000000000001",
                ],
                _ => &[],
            };
            (r, token_with(data_dir, r.as_str(), whose))
        })
        .collect();
    let gateway = cppcc_kit::client::channel(&format!("http://{}", up.gateway)).unwrap();
    let service = |name: &str| {
        let addr = match name {
            "members" => &up.members,
            "proposals" => &up.proposals,
            "consultations" => &up.consultations,
            _ => &up.opinions,
        };
        cppcc_kit::client::channel(&format!("http://{addr}")).unwrap()
    };
    // (method, the service answering it, the channel, the role's token)
    let mut calls = Vec::new();
    for s in cppcc_gateway::descriptors::pool().services() {
        let package = s.package_name();
        let owners: &[&str] = match package {
            "cppcc.members.v1" => &["members"],
            "cppcc.proposals.v1" => &["proposals"],
            "cppcc.consultations.v1" => &["consultations"],
            "cppcc.opinions.v1" => &["opinions"],
            // Every service serves its own audit log and event stream.
            "cppcc.audit.v1" | "cppcc.events.v1" => {
                &["members", "proposals", "consultations", "opinions"]
            }
            // The gateway's own.
            "cppcc.reports.v1" => &["gateway"],
            _ => continue,
        };
        for m in s.methods().filter(|m| !m.is_server_streaming()) {
            let path = format!("/{}/{}", s.full_name(), m.name());
            for owner in owners {
                for (role, token) in &tokens {
                    calls.push((path.clone(), *owner, "gateway", *role, token.clone()));
                    if *owner != "gateway" {
                        calls.push((path.clone(), *owner, *owner, *role, token.clone()));
                    }
                }
            }
        }
    }
    assert!(calls.len() > 3500, "{} calls", calls.len());
    let answers: Vec<tonic::Status> =
        futures::stream::iter(calls.iter().map(|(path, owner, via, _, token)| {
            let channel = if *via == "gateway" {
                gateway.clone()
            } else {
                service(via)
            };
            empty_call(channel, path, token, owner)
        }))
        .buffered(32)
        .collect()
        .await;
    let mut wrong = Vec::new();
    for ((path, owner, via, role, _), status) in calls.iter().zip(&answers) {
        let refused = status.code() == tonic::Code::PermissionDenied
            && status
                .get_details_error_info()
                .is_some_and(|i| i.reason == "POLICY_DENIED");
        let decided = access::decide(path, *role);
        assert_ne!(decided, Decision::Unlisted, "{path} declares its callers");
        let reached = !matches!(
            status.code(),
            tonic::Code::Unimplemented | tonic::Code::Unauthenticated | tonic::Code::Unavailable
        );
        if refused != (decided == Decision::Deny) || !reached {
            wrong.push(format!(
                "{path} ({owner}) as {role} via {via}: the contract says {decided:?}, the answer {:?} {}",
                status.code(),
                status.message()
            ));
        } else if refused {
            let expected = access::refusal(path, *role);
            assert_eq!(status.message(), expected.message(), "{path} via {via}");
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} answers differ from the contracts:\n{}",
        wrong.len(),
        calls.len(),
        wrong.join("\n")
    );
    println!(
        "access: {} calls ({} methods × {} roles, through the gateway and straight) agree with the contracts",
        calls.len(),
        access::methods().count(),
        tokens.len()
    );
}

/// Calls `path` with an empty message as the holder of `token`, naming the
/// service that owns it for the gateway's shared packages.
async fn empty_call(
    channel: tonic::transport::Channel,
    path: &str,
    token: &str,
    owner: &str,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(e) = grpc.ready().await {
        return tonic::Status::unavailable(e.to_string());
    }
    let mut req = tonic::Request::new(());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    if owner != "gateway" {
        req.metadata_mut()
            .insert(cppcc_gateway::server::OWNER_HEADER, owner.parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(req, path.parse().unwrap(), codec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}
