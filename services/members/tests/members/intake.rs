//! The duty-record intake against a real producer: a kit server with its
//! own schema and outbox, publishing duty events as later services will.

use super::*;

use std::net::SocketAddr;

use cppcc_kit::auth::{Actor, TokenVerifier};
use cppcc_kit::db::{Database, Schema};
use cppcc_members::intake::{IntakeArgs, Producer};
use tokio::net::TcpListener;

const PRODUCER: Schema = Schema::new("producer");
static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

/// A producer service: the kit's server (event stream included) over its
/// own schema.
struct ProducerService {
    db: Database,
    running: Option<Running>,
    addr: SocketAddr,
}

impl ProducerService {
    async fn start(test_db: &TestDatabase) -> ProducerService {
        let db = Database::connect(PRODUCER, &test_db.args("producer"), &NO_MIGRATIONS)
            .await
            .expect("the producer's schema");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut p = ProducerService {
            db,
            running: None,
            addr,
        };
        p.serve(listener).await;
        p
    }

    async fn serve(&mut self, listener: TcpListener) {
        let verifier =
            std::sync::Arc::new(TokenVerifier::from_args(&cppcc_tests::auth_args()).unwrap());
        let server =
            cppcc_kit::server::Server::new(self.db.clone(), verifier, &cppcc_tests::server_args())
                .unwrap();
        self.running = Some(cppcc_tests::serve_on(server, listener).await);
    }

    async fn stop(&mut self) {
        self.running.take().unwrap().stop().await.unwrap();
    }

    /// Starts again on the same port.
    async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("the producer's port again");
        self.serve(listener).await;
    }

    /// Publishes a withdrawal, as a service's change does.
    async fn withdrawn(&self, w: events::DutyWithdrawn) {
        let actor = Actor::internal("producer-test", "/test.Producer/Publish");
        let mut change = self.db.change(&actor).await.unwrap();
        change.publish("suixian", &w.source, &w);
        change.commit().await.unwrap();
    }

    /// Publishes events in one transaction, as a service's change does.
    async fn performed(&self, batch: Vec<events::DutyPerformed>) {
        let actor = Actor::internal("producer-test", "/test.Producer/Publish");
        let mut change = self.db.change(&actor).await.unwrap();
        for e in &batch {
            change.publish("suixian", &e.source, e);
        }
        change.commit().await.unwrap();
    }

    fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn intake_config(db: &TestDatabase, producer: &ProducerService) -> cppcc_members::Config {
    cppcc_members::Config {
        intake: IntakeArgs {
            follow: vec![Producer {
                name: "proposals".into(),
                uri: producer.uri(),
            }],
            service_key: Some(cppcc_tests::signing_key()),
            service_key_id: None,
        },
        ..config(db)
    }
}

async fn start_members(db: &TestDatabase, producer: &ProducerService) -> Running {
    let server = cppcc_members::server(&intake_config(db, producer))
        .await
        .expect("the members service starts");
    cppcc_tests::serve(server).await
}

/// Entries the intake recorded from the producer.
async fn applied(db: &TestDatabase) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM members.duty_record WHERE source_service = 'proposals'",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .unwrap()
}

/// Waits until `check` holds, for at most a minute.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn performed(member: &str, n: usize) -> events::DutyPerformed {
    events::DutyPerformed {
        members: vec![member.to_owned()],
        kind: DutyKind::PolicyPublicity as i32,
        date: day(2023, 1 + (n % 12) as i32, 1 + (n % 28) as i32),
        evidence: format!("宣传活动 {n}"),
        source: format!("committees/suixian/proposals/{n}"),
    }
}

#[tokio::test]
async fn ten_thousand_events_apply_exactly_once_across_restarts() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let mut members = Vec::new();
    for n in 0..20u32 {
        members.push(
            create(&mut m, member(&format!("委员{n}"), 100 + n, &seed.party))
                .await
                .unwrap()
                .name,
        );
    }
    // The suite's own members service follows nobody; a second one follows the producer.
    let mut producer = ProducerService::start(&suite.db).await;
    let mut consumer = Some(start_members(&suite.db, &producer).await);

    const EVENTS: usize = 10_000;
    const PER_CHANGE: usize = 100;
    let emitter = {
        let db = producer.db.clone();
        let members = members.clone();
        tokio::spawn(async move {
            let p = ProducerService {
                db,
                running: None,
                addr: "127.0.0.1:0".parse().unwrap(),
            };
            for start in (0..EVENTS).step_by(PER_CHANGE) {
                let batch = (start..start + PER_CHANGE)
                    .map(|n| performed(&members[n % members.len()], n))
                    .collect();
                p.performed(batch).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // Stop and start the consumer twice while the producer emits.
    for round in 1..=2 {
        let before = applied(&suite.db).await;
        until("the consumer to apply more", || async {
            applied(&suite.db).await > before
        })
        .await;
        consumer.take().unwrap().stop().await.unwrap();
        let stopped_at = applied(&suite.db).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            applied(&suite.db).await,
            stopped_at,
            "round {round}: nothing applied while stopped"
        );
        consumer = Some(start_members(&suite.db, &producer).await);
    }
    emitter.await.unwrap();
    until("every event to be applied", || async {
        applied(&suite.db).await >= EVENTS as i64
    })
    .await;
    // Let any stray second application show itself.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut admin_conn = suite.db.admin().await;
    let (entries, distinct): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT source_event) FROM members.duty_record WHERE source_service = 'proposals'",
    )
    .fetch_one(&mut admin_conn)
    .await
    .unwrap();
    assert_eq!(
        (entries, distinct),
        (EVENTS as i64, EVENTS as i64),
        "each event applied exactly once"
    );
    let published: i64 = sqlx::query_scalar("SELECT count(*) FROM producer.outbox")
        .fetch_one(&mut admin_conn)
        .await
        .unwrap();
    assert_eq!(published, EVENTS as i64);
    // Each entry carries its event and the producer's actor.
    let matched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM members.duty_record d JOIN producer.outbox o ON o.id = d.source_event
         WHERE d.source = o.subject AND d.recorded_by = 'producer-test'",
    )
    .fetch_one(&mut admin_conn)
    .await
    .unwrap();
    assert_eq!(matched, EVENTS as i64);
    let cursor: String =
        sqlx::query_scalar("SELECT cursor FROM members.intake_cursor WHERE producer = 'proposals'")
            .fetch_one(&mut admin_conn)
            .await
            .unwrap();
    let last: i64 = sqlx::query_scalar("SELECT max(seq) FROM producer.outbox")
        .fetch_one(&mut admin_conn)
        .await
        .unwrap();
    assert_eq!(cursor, last.to_string());
    // The statistics see them: 10,000 publicity entries in 2023.
    let stats = EvaluationServiceClient::with_interceptor(
        consumer.as_ref().unwrap().channel(),
        Bearer::new(&admin()),
    )
    .get_member_statistics(pb::GetMemberStatisticsRequest {
        committee: SUIXIAN.into(),
        year: 2023,
    })
    .await
    .unwrap()
    .into_inner()
    .statistics
    .unwrap();
    assert_eq!(stats.year_entries[0].kind, DutyKind::PolicyPublicity as i32);
    assert_eq!(stats.year_entries[0].count, EVENTS as i32);
    consumer.take().unwrap().stop().await.unwrap();
    producer.stop().await;
}

#[tokio::test]
async fn unknown_members_are_set_aside_withdrawals_reverse_and_a_producer_outage_is_waited_out() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let b = create(&mut m, member("乙委员", 2, &seed.party))
        .await
        .unwrap();
    let mut producer = ProducerService::start(&suite.db).await;
    let consumer = start_members(&suite.db, &producer).await;
    let stranger = format!("{SUIXIAN}/members/{}", Uuid::now_v7());

    // A joint proposal crediting 甲, 乙 and a member this service does not
    // know; an event of a kind no one knows; a withdrawal of 乙's credit.
    let joint = events::DutyPerformed {
        members: vec![a.name.clone(), b.name.clone(), stranger.clone()],
        kind: DutyKind::ProposalSubmitted as i32,
        date: day(2023, 2, 1),
        evidence: "关于乡村道路的提案".into(),
        source: "committees/suixian/proposals/1".into(),
    };
    let unknown_kind = events::DutyPerformed {
        members: vec![a.name.clone()],
        kind: 99,
        date: day(2023, 2, 1),
        evidence: "?".into(),
        source: "committees/suixian/proposals/2".into(),
    };
    producer.performed(vec![joint, unknown_kind]).await;
    until("the credits", || async { applied(&suite.db).await == 2 }).await;

    let withdrawn = events::DutyWithdrawn {
        members: vec![b.name.clone()],
        kind: DutyKind::ProposalSubmitted as i32,
        source: "committees/suixian/proposals/1".into(),
        reason: "乙委员退出联名".into(),
    };
    producer.withdrawn(withdrawn).await;
    until("the reversal", || async { applied(&suite.db).await == 3 }).await;
    let mut d =
        DutyRecordServiceClient::with_interceptor(consumer.channel(), Bearer::new(&admin()));
    let b_entries = d
        .list_duty_records(pb::ListDutyRecordsRequest {
            parent: b.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .duty_records;
    assert_eq!(b_entries.len(), 2);
    assert_eq!(b_entries[0].reversed_by, b_entries[1].name);
    assert_eq!(
        b_entries[1].recorded.as_ref().unwrap().reason,
        "乙委员退出联名"
    );
    assert_eq!(b_entries[1].source_service, "proposals");

    // What was set aside is reported, with why.
    let intake = d
        .get_duty_record_intake(pb::GetDutyRecordIntakeRequest {
            parent: SUIXIAN.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(intake.parked_events.len(), 2, "{intake:?}");
    let reasons: Vec<_> = intake
        .parked_events
        .iter()
        .map(|p| p.reason.as_str())
        .collect();
    assert!(reasons.iter().any(|r| r.contains(&stranger)), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("99 is not a DutyKind")),
        "{reasons:?}"
    );
    let status = &intake.producers[0];
    assert_eq!(
        (status.producer.as_str(), status.state()),
        ("proposals", pb::IntakeState::Following)
    );
    assert_eq!(status.applied_events, 3);
    assert_eq!(status.parked_events, 2);
    assert!(!status.cursor.is_empty());
    // Members do not see the intake.
    let denied = DutyRecordServiceClient::with_interceptor(
        consumer.channel(),
        Bearer::new(&member_token(Some(&a.name))),
    )
    .get_duty_record_intake(pb::GetDutyRecordIntakeRequest {
        parent: SUIXIAN.into(),
    })
    .await
    .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // The producer goes down; its events keep being written; it comes back
    // on the same address and the intake catches up.
    producer.stop().await;
    until("the intake to notice", || {
        let mut d = d.clone();
        async move {
            let status = d
                .get_duty_record_intake(pb::GetDutyRecordIntakeRequest {
                    parent: SUIXIAN.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .producers
                .remove(0);
            status.state() == pb::IntakeState::Retrying && !status.last_error.is_empty()
        }
    })
    .await;
    producer
        .performed(vec![performed(&a.name, 1), performed(&a.name, 2)])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        applied(&suite.db).await,
        3,
        "nothing arrives while the producer is down"
    );
    producer.restart().await;
    until("the intake to catch up", || async {
        applied(&suite.db).await == 5
    })
    .await;
    consumer.stop().await.unwrap();
    producer.stop().await;
}

#[tokio::test]
async fn a_replay_applies_nothing_twice_and_a_refused_event_is_set_aside_alone() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let producer = ProducerService::start(&suite.db).await;
    let consumer = start_members(&suite.db, &producer).await;
    let source = "committees/suixian/proposals/7";

    // A withdrawal that finds nothing to reverse, then a credit for the same
    // proposal: replayed later, the withdrawal must not take the credit back.
    producer
        .withdrawn(events::DutyWithdrawn {
            members: vec![a.name.clone()],
            kind: DutyKind::ProposalSubmitted as i32,
            source: source.into(),
            reason: "撤回".into(),
        })
        .await;
    producer
        .performed(vec![events::DutyPerformed {
            members: vec![a.name.clone()],
            kind: DutyKind::ProposalSubmitted as i32,
            date: day(2023, 3, 1),
            evidence: "再次提交\u{0}的提案".into(),
            source: source.into(),
        }])
        .await;
    // A withdrawal naming no source would match every source-less credit: set aside.
    producer
        .withdrawn(events::DutyWithdrawn {
            members: vec![a.name.clone()],
            kind: DutyKind::ProposalSubmitted as i32,
            source: String::new(),
            reason: "?".into(),
        })
        .await;
    until("the credit", || async { applied(&suite.db).await == 1 }).await;
    let evidence: String = sqlx::query_scalar("SELECT evidence FROM members.duty_record")
        .fetch_one(&mut suite.db.admin().await)
        .await
        .unwrap();
    assert_eq!(
        evidence, "再次提交的提案",
        "control characters are dropped, not refused"
    );

    // A member credited for a day after it left office is set aside (the
    // office could not record it either); the others in the event are credited.
    let gone = create(&mut m, member("乙委员", 2, &seed.party))
        .await
        .unwrap();
    m.change_member_status(pb::ChangeMemberStatusRequest {
        name: gone.name.clone(),
        status: pb::MemberStatus::Resigned as i32,
        reason: "辞去委员".into(),
        effective_date: day(2023, 2, 1),
        etag: String::new(),
    })
    .await
    .unwrap();
    producer
        .performed(vec![events::DutyPerformed {
            members: vec![a.name.clone(), gone.name.clone()],
            ..performed(&a.name, 40)
        }])
        .await;
    until("the credit of the member in office", || async {
        applied(&suite.db).await == 2
    })
    .await;

    // An event the database refuses (a trigger standing in for any such
    // fault) is set aside alone; the events around it in the same response apply.
    let mut admin_conn = suite.db.admin().await;
    sqlx::raw_sql(
        "CREATE FUNCTION members.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.evidence = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_poison BEFORE INSERT ON members.duty_record
             FOR EACH ROW EXECUTE FUNCTION members.refuse_poison();",
    )
    .execute(&mut admin_conn)
    .await
    .unwrap();
    let with = |evidence: &str, n: usize| events::DutyPerformed {
        evidence: evidence.into(),
        ..performed(&a.name, n)
    };
    producer
        .performed(vec![with("good", 1), with("poison", 2), with("good", 3)])
        .await;
    until("the good events", || async {
        applied(&suite.db).await == 4
    })
    .await;
    let parked: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM members.parked_event ORDER BY park_time")
            .fetch_all(&mut admin_conn)
            .await
            .unwrap();
    assert_eq!(parked.len(), 3, "{parked:?}");
    assert!(
        parked[0].contains("without naming its source"),
        "{parked:?}"
    );
    assert!(
        parked[1].contains("not in office on 2023-05-13"),
        "{parked:?}"
    );
    assert!(parked[2].contains("poisoned"), "{parked:?}");

    // Replay everything from the start: nothing changes.
    consumer.stop().await.unwrap();
    sqlx::query("DELETE FROM members.intake_cursor")
        .execute(&mut admin_conn)
        .await
        .unwrap();
    let consumer = start_members(&suite.db, &producer).await;
    let last: i64 = sqlx::query_scalar("SELECT max(seq) FROM producer.outbox")
        .fetch_one(&mut admin_conn)
        .await
        .unwrap();
    until("the replay", || {
        let db = suite.db.clone();
        async move {
            let cursor: Option<String> =
                sqlx::query_scalar("SELECT cursor FROM members.intake_cursor")
                    .fetch_optional(&mut db.admin().await)
                    .await
                    .unwrap();
            cursor == Some(last.to_string())
        }
    })
    .await;
    assert_eq!(applied(&suite.db).await, 4);
    let reversals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM members.duty_record WHERE reverses IS NOT NULL")
            .fetch_one(&mut admin_conn)
            .await
            .unwrap();
    assert_eq!(
        reversals, 0,
        "the old withdrawal did not take back the newer credit"
    );
    let parked_again: i64 = sqlx::query_scalar("SELECT count(*) FROM members.parked_event")
        .fetch_one(&mut admin_conn)
        .await
        .unwrap();
    assert_eq!(parked_again, 3);
    consumer.stop().await.unwrap();
}
