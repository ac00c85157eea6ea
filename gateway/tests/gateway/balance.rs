//! Two members-service processes behind one gateway route: calls spread
//! evenly, and stopping one (SIGTERM: it says NOT_SERVING, then drains)
//! loses no call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::Parser as _;
use cppcc_kit::auth::Role;
use cppcc_kit::client::Bearer;
use cppcc_proto::members::v1 as mpb;
use tokio::io::AsyncBufReadExt as _;

use super::*;

const CHILD: &str = "CPPCC_GATEWAY_TEST_CHILD";

/// Not a test of its own: the body of a members-service process the
/// balancing test starts (this test binary run again, with `CHILD` set).
#[tokio::test]
async fn members_service_process() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let config = cppcc_members::Config::try_parse_from(["cppcc-members"]).unwrap();
    let _telemetry = cppcc_kit::telemetry::init("cppcc-members", &config.telemetry).unwrap();
    let server = cppcc_members::server(&config).await.unwrap();
    let listener = cppcc_kit::server::bind(config.addr, "--addr")
        .await
        .unwrap();
    server
        .serve(listener, cppcc_kit::server::shutdown_signal())
        .await
        .unwrap();
}

/// Starts a members-service process on `db`; the process and its address.
async fn spawn_members(db: &TestDatabase) -> (tokio::process::Child, SocketAddr) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "balance::members_service_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(cppcc_tests::service_env(db, "members"))
        .env(CHILD, "1")
        .env("CPPCC_MEMBERS_ADDR", "127.0.0.1:0")
        .env("CPPCC_SHUTDOWN_DELAY", "1s")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the members process starts within a minute")
            .unwrap()
            .expect("it logs until it serves");
        if line.contains("\"serving\"") {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            break log["addr"].as_str().unwrap().parse().unwrap();
        }
    };
    // Keep reading its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// The gateway's count of calls sent to `endpoint`, from `/metrics`.
async fn endpoint_calls(gateway: &Gateway, endpoint: SocketAddr) -> u64 {
    let out = tokio::process::Command::new("curl")
        .args(["-s", &format!("http://{}/metrics", gateway.admin_addr)])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let needle = format!("endpoint=\"{endpoint}\"}} ");
    text.lines()
        .find(|l| l.starts_with("cppcc_gateway_endpoint_calls_total") && l.contains(&needle))
        .and_then(|l| l.rsplit(' ').next())
        .map(|n| n.parse().unwrap())
        .unwrap_or_else(|| panic!("no count for {endpoint} in\n{text}"))
}

#[tokio::test]
async fn calls_spread_over_two_processes_and_none_is_lost_when_one_stops() {
    let db = cppcc_tests::database().await;
    let (mut first, a) = spawn_members(&db).await;
    let (_second, b) = spawn_members(&db).await;
    let gateway =
        Gateway::start(&[format!("cppcc.members.v1=http://{a},http://{b}")], |_| {}).await;
    let admin = token(Role::Admin);
    let committees = mpb::committee_service_client::CommitteeServiceClient::with_interceptor(
        gateway.channel(),
        Bearer::new(&admin),
    );
    create_suixian(gateway.channel()).await;

    // Even spread: 2,000 calls, 16 at a time.
    let (a0, b0) = (
        endpoint_calls(&gateway, a).await,
        endpoint_calls(&gateway, b).await,
    );
    let calls = 2000;
    use futures::StreamExt as _;
    let failures = futures::stream::iter(0..calls)
        .map(|_| {
            let mut c = committees.clone();
            async move {
                c.get_committee(mpb::GetCommitteeRequest {
                    name: SUIXIAN.into(),
                })
                .await
                .is_err()
            }
        })
        .buffer_unordered(16)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    assert_eq!(failures, 0);
    let (to_a, to_b) = (
        endpoint_calls(&gateway, a).await - a0,
        endpoint_calls(&gateway, b).await - b0,
    );
    assert_eq!(to_a + to_b, calls as u64);
    let half = calls as f64 / 2.0;
    assert!(
        (to_a as f64 - half).abs() <= half * 0.10 && (to_b as f64 - half).abs() <= half * 0.10,
        "uneven: {to_a} and {to_b} of {calls}"
    );

    // Calls keep coming while the first process is stopped: none fails.
    let done = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (done, ok) = (done.clone(), ok.clone());
        let mut c = committees.clone();
        workers.push(tokio::spawn(async move {
            let mut failed = Vec::new();
            while !done.load(Ordering::Relaxed) {
                match c
                    .get_committee(mpb::GetCommitteeRequest {
                        name: SUIXIAN.into(),
                    })
                    .await
                {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(s) => failed.push(s),
                }
            }
            failed
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = first.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), first.wait())
        .await
        .expect("the first process stops")
        .unwrap();
    assert!(exit.success(), "it drained and exited cleanly: {exit:?}");
    let after_stop = ok.load(Ordering::Relaxed);
    let b_at_stop = endpoint_calls(&gateway, b).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::Relaxed);
    let mut failed = Vec::new();
    for w in workers {
        failed.extend(w.await.unwrap());
    }
    assert!(
        failed.is_empty(),
        "{} calls failed: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(
        ok.load(Ordering::Relaxed) > after_stop,
        "calls went on after the stop"
    );
    assert!(
        endpoint_calls(&gateway, b).await > b_at_stop,
        "the second process took them"
    );
    gateway.stop().await;
}
