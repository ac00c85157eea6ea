//! `cppcc up --demo`, as the README tells a newcomer to run it: the suite
//! comes up with its own PostgreSQL, the demo committee is there with the
//! seed's figures, Ctrl-C stops it, and a second start keeps the data
//! without loading the demo twice.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use cppcc_kit::client::Bearer;
use cppcc_proto::common::v1::DutyKind;
use cppcc_proto::members::v1 as pb;
use pb::activity_group_service_client::ActivityGroupServiceClient;
use pb::evaluation_service_client::EvaluationServiceClient;
use pb::liaison_network_service_client::LiaisonNetworkServiceClient;
use pb::member_service_client::MemberServiceClient;
use pb::studio_service_client::StudioServiceClient;

struct Up {
    child: Child,
    members: String,
    demo: String,
}

async fn up(data_dir: &std::path::Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cppcc"))
        .args([
            "up",
            "--demo",
            "--members-addr",
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
    let (mut members, mut demo) = (String::new(), String::new());
    while demo.is_empty() {
        let line = tokio::time::timeout(Duration::from_secs(180), lines.next_line())
            .await
            .expect("cppcc up answers within three minutes")
            .unwrap()
            .expect("cppcc up prints its addresses and the demo");
        if let Some(addr) = line.trim().strip_prefix("members") {
            members = addr.trim().to_owned();
        }
        if line.starts_with("demo:") {
            demo = line;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Up {
        child,
        members,
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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cppcc"))
        .args([
            "token",
            "--role",
            "staff",
            "--committee",
            "suixian",
            "--data-dir",
        ])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
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
    stop(first).await;

    let second = up(&data_dir).await;
    assert!(second.demo.contains("already loaded"), "{}", second.demo);
    let channel = cppcc_kit::client::channel(&format!("http://{}", second.members)).unwrap();
    let mut members =
        MemberServiceClient::with_interceptor(channel, Bearer::new(&token(&data_dir)));
    assert_eq!(count(&mut members, "").await, 338);
    stop(second).await;
    let _ = std::fs::remove_dir_all(&data_dir);
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
