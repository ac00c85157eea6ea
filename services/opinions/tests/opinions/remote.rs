//! Two deployments on loopback, each with its own database: the county's
//! (this process) and the city's (its own `cppcc-opinions` process). The
//! county forwards, the city adopts, the county sees it and the member is
//! credited; with the city down, the forward waits as pending and is
//! delivered once when the city is back.

use secrecy::ExposeSecret as _;

use super::*;

/// The city's opinions service as its own process on `addr` (port 0 for
/// any), with the county at `county_uri`; the process and its address.
async fn spawn_city(
    db: &TestDatabase,
    addr: &str,
    members_uri: &str,
    county_uri: &str,
) -> (tokio::process::Child, String) {
    let mut envs = cppcc_tests::service_env(db, "opinions");
    for (k, v) in [
        ("CPPCC_OPINIONS_ADDR", addr.to_owned()),
        ("CPPCC_OPINIONS_MEMBERS_URI", members_uri.to_owned()),
        ("CPPCC_OPINIONS_REMOTES", format!("suixian={county_uri}")),
        (
            "CPPCC_SERVICE_KEY",
            cppcc_tests::signing_key().expose_secret().to_owned(),
        ),
        ("RUST_LOG", "info".to_owned()),
    ] {
        envs.push((k.to_owned(), v));
    }
    let (child, addr, mut lines) =
        cppcc_tests::spawn_service(env!("CARGO_BIN_EXE_cppcc-opinions"), envs).await;
    // Keep reading, so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// Waits until `report`'s only forward satisfies `done`; the forward.
async fn forward_until(
    d: &Deployment,
    report: &str,
    what: &str,
    done: impl Fn(&pb::Forward) -> bool,
) -> pb::Forward {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = d
            .reports(&centre())
            .get_opinion_report(pb::GetOpinionReportRequest {
                name: report.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        if let [f] = r.forwards.as_slice()
            && done(f)
        {
            return f.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {:?}",
            r.forwards
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn city_inbox(addr: &str) -> UpwardInboxServiceClient<Authed> {
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).unwrap();
    UpwardInboxServiceClient::with_interceptor(channel, Bearer::new(&city_centre()))
}

#[tokio::test]
async fn a_county_forwards_to_a_city_in_another_deployment() {
    // The city: its own database, members service and opinions process.
    let city_db = cppcc_tests::database().await;
    let city_members = cppcc_members::server(&cppcc_members::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: city_db.args("members"),
        auth: cppcc_tests::auth_args(),
        pii: cppcc_tests::pii_args(),
        intake: Default::default(),
        server: cppcc_tests::server_args(),
        telemetry: telemetry(),
    })
    .await
    .unwrap();
    let city_members = cppcc_tests::serve(city_members).await;
    let city_members_uri = format!("http://{}", city_members.addr());
    let county_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let county_uri = format!("http://{}", county_listener.local_addr().unwrap());
    let (mut city, city_addr) =
        spawn_city(&city_db, "127.0.0.1:0", &city_members_uri, &county_uri).await;

    // The county, which knows the city is served there.
    let remote = format!("suizhou=http://{city_addr}").parse().unwrap();
    let d = Deployment::start_on(county_listener, vec![remote]).await;
    let county = d.seed(1).await;
    let member = &county.members[0];

    let report = accepted(&d, member, "关于探索乡村合作公司的建议").await;
    d.reports(&centre())
        .forward_opinion_report(pb::ForwardOpinionReportRequest {
            name: report.name.clone(),
            target: SUIZHOU.into(),
            date: day(2023, 3, 10),
        })
        .await
        .unwrap();
    let forward = forward_until(&d, &report.name, "delivered", |f| {
        f.state == pb::ForwardState::Delivered as i32
    })
    .await;
    let inbox = city_inbox(&city_addr)
        .list_inbox_reports(pb::ListInboxReportsRequest {
            parent: SUIZHOU.into(),
            state: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].forward, forward.name);
    assert_eq!(inbox[0].source_committee, SUIXIAN);
    assert_eq!(inbox[0].contributor_display_name, "委员0");
    let decided = city_inbox(&city_addr)
        .decide_inbox_report(pb::DecideInboxReportRequest {
            name: inbox[0].name.clone(),
            adopted: true,
            note: "采用".into(),
            date: day(2023, 3, 20),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(
        !decided.decision_delivered,
        "the decision goes back through the outbox"
    );
    let adopted = forward_until(&d, &report.name, "adopted", |f| {
        f.state == pb::ForwardState::Adopted as i32
    })
    .await;
    assert_eq!(adopted.decision_date, day(2023, 3, 20));
    d.credited(member, DutyKind::OpinionAdoptedUpward, &forward.name)
        .await;

    // The city goes down: the next forward waits, pending, and is retried.
    city.kill().await.unwrap();
    city.wait().await.unwrap();
    let second = accepted(&d, member, "关于美丽乡村建设的建议").await;
    let pending = d
        .reports(&centre())
        .forward_opinion_report(pb::ForwardOpinionReportRequest {
            name: second.name.clone(),
            target: SUIZHOU.into(),
            date: day(2023, 3, 12),
        })
        .await
        .unwrap()
        .into_inner()
        .forward
        .unwrap();
    assert_eq!(pending.state, pb::ForwardState::Pending as i32);
    let failing = forward_until(&d, &second.name, "failed attempts", |f| {
        f.state == pb::ForwardState::Pending as i32 && f.failed_attempts >= 2
    })
    .await;
    assert!(!failing.last_error.is_empty());

    // Back on its address: delivered, once.
    let (_city, _) = spawn_city(&city_db, &city_addr, &city_members_uri, &county_uri).await;
    forward_until(
        &d,
        &second.name,
        "delivered after the city came back",
        |f| f.state == pb::ForwardState::Delivered as i32,
    )
    .await;
    let inbox = city_inbox(&city_addr)
        .list_inbox_reports(pb::ListInboxReportsRequest {
            parent: SUIZHOU.into(),
            state: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert_eq!(
        inbox.iter().filter(|r| r.forward == pending.name).count(),
        1
    );
    let mut admin_db = city_db.admin().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM opinions.inbox WHERE id = $1")
        .bind(uuid::Uuid::parse_str(pending.name.rsplit('/').next().unwrap()).unwrap())
        .fetch_one(&mut admin_db)
        .await
        .unwrap();
    assert_eq!(rows, 1);

    // Not adopted, and the county hears it.
    let second_inbox = inbox.iter().find(|r| r.forward == pending.name).unwrap();
    city_inbox(&city_addr)
        .decide_inbox_report(pb::DecideInboxReportRequest {
            name: second_inbox.name.clone(),
            adopted: false,
            note: "与已采用信息重复".into(),
            date: day(2023, 3, 25),
        })
        .await
        .unwrap();
    let declined = forward_until(&d, &second.name, "declined", |f| {
        f.state == pb::ForwardState::NotAdopted as i32
    })
    .await;
    assert_eq!(declined.decision_note, "与已采用信息重复");
    let stats = d
        .reports(&centre())
        .get_opinion_statistics(pb::GetOpinionStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap()
        .year_figures
        .unwrap();
    assert_eq!((stats.forwarded, stats.adopted_upward), (2, 1));
    assert!((stats.adoption_rate - 0.5).abs() < 1e-9);
}
