//! `cppcc up --demo`, as the README tells a newcomer to run it: the suite
//! comes up with its own PostgreSQL, the demo committee is there with the
//! seed's figures, Ctrl-C stops it, and a second start keeps the data
//! without loading the demo twice.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use cppcc_kit::client::Bearer;
use cppcc_proto::members::v1 as pb;
use pb::member_service_client::MemberServiceClient;

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
