//! The members service over real gRPC, against a real PostgreSQL: the
//! registry, the organisation, duty records and their intake, evaluation.

mod duty;
mod evaluation;
mod intake;
mod organisation;
mod registry;

use std::time::Duration;

use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::audit::v1 as audit;
use cppcc_proto::common::v1::{CommitteeLevel, Date, DutyKind};
use cppcc_proto::events::v1 as events;
use cppcc_proto::members::v1 as pb;
use cppcc_tests::{Running, TestDatabase};

use audit::audit_service_client::AuditServiceClient;
use events::event_stream_service_client::EventStreamServiceClient;
use pb::activity_group_service_client::ActivityGroupServiceClient;
use pb::committee_service_client::CommitteeServiceClient;
use pb::duty_record_service_client::DutyRecordServiceClient;
use pb::evaluation_service_client::EvaluationServiceClient;
use pb::liaison_network_service_client::LiaisonNetworkServiceClient;
use pb::member_service_client::MemberServiceClient;
use pb::studio_service_client::StudioServiceClient;

const SUIXIAN: &str = "committees/suixian";

fn config(db: &TestDatabase) -> cppcc_members::Config {
    cppcc_members::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: db.args("members"),
        auth: cppcc_tests::auth_args(),
        pii: cppcc_tests::pii_args(),
        intake: Default::default(),
        server: cppcc_tests::server_args(),
        telemetry: cppcc_kit::telemetry::TelemetryArgs {
            log_format: Default::default(),
            log_filter: "warn".into(),
        },
    }
}

/// A members service on a fresh database.
struct Suite {
    db: TestDatabase,
    running: Running,
}

impl Suite {
    async fn start() -> Suite {
        Suite::start_on(None).await
    }

    /// A members service whose clock starts on `today` (the system's day
    /// when `None`).
    async fn start_on(today: Option<time::Date>) -> Suite {
        let db = cppcc_tests::database().await;
        let mut config = config(&db);
        config.database.today = today;
        let server = cppcc_members::server(&config)
            .await
            .expect("the service starts");
        let running = cppcc_tests::serve(server).await;
        Suite { db, running }
    }

    fn committees(&self, token: &str) -> CommitteeServiceClient<Authed> {
        CommitteeServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn members(&self, token: &str) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn groups(&self, token: &str) -> ActivityGroupServiceClient<Authed> {
        ActivityGroupServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn studios(&self, token: &str) -> StudioServiceClient<Authed> {
        StudioServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn network(&self, token: &str) -> LiaisonNetworkServiceClient<Authed> {
        LiaisonNetworkServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn duty(&self, token: &str) -> DutyRecordServiceClient<Authed> {
        DutyRecordServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn evaluation(&self, token: &str) -> EvaluationServiceClient<Authed> {
        EvaluationServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    fn audit(&self) -> AuditServiceClient<Authed> {
        AuditServiceClient::with_interceptor(self.running.channel(), Bearer::new(&auditor()))
    }

    fn events(&self, token: &str) -> EventStreamServiceClient<Authed> {
        EventStreamServiceClient::with_interceptor(self.running.channel(), Bearer::new(token))
    }

    /// The suite with 随县政协, two sectors and a special committee.
    async fn seeded() -> (Suite, Seed) {
        Suite::seeded_on(None).await
    }

    /// The suite as `seeded`, its clock starting on `today`.
    async fn seeded_on(today: Option<time::Date>) -> (Suite, Seed) {
        let suite = Suite::start_on(today).await;
        create_committee(&suite, "suixian", "", &admin())
            .await
            .unwrap();
        let mut m = suite.members(&admin());
        let party = sector(&mut m, "中共", pb::SectorKind::Party).await;
        let business = sector(&mut m, "工商联", pb::SectorKind::Organisation).await;
        let proposals = m
            .create_special_committee(pb::CreateSpecialCommitteeRequest {
                parent: SUIXIAN.into(),
                special_committee: Some(pb::SpecialCommittee {
                    display_name: "提案委员会".into(),
                    sort_order: 1,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .special_committee
            .unwrap()
            .name;
        (
            suite,
            Seed {
                party,
                business,
                proposals,
            },
        )
    }

    /// Seals the audit log now instead of waiting for the sealer.
    async fn seal(&self) {
        let pool = sqlx::PgPool::connect(&self.db.admin_url()).await.unwrap();
        cppcc_kit::audit::seal(
            &cppcc_kit::db::Database::from_pool(pool, cppcc_members::SCHEMA)
                .with_audit_key(Some(&cppcc_tests::audit_key())),
        )
        .await
        .unwrap();
    }

    async fn audit_records(&self, filter: &str) -> Vec<audit::AuditRecord> {
        self.audit()
            .list_audit_records(audit::ListAuditRecordsRequest {
                page_size: 1000,
                page_token: String::new(),
                filter: filter.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .records
    }

    async fn member_count(&self) -> i32 {
        self.members(&admin())
            .list_members(pb::ListMembersRequest {
                parent: SUIXIAN.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .total_size
    }
}

struct Seed {
    party: String,
    business: String,
    proposals: String,
}

fn admin() -> String {
    cppcc_tests::token(Role::Admin, "suixian")
}

fn staff() -> String {
    cppcc_tests::token(Role::Staff, "suixian")
}

fn leader() -> String {
    cppcc_tests::token(Role::Leader, "suixian")
}

fn auditor() -> String {
    cppcc_tests::token(Role::Auditor, "suixian")
}

fn member_token(member: Option<&str>) -> String {
    cppcc_tests::token_with(TokenRequest {
        subject: "member-1",
        role: Role::Member,
        committee: "suixian",
        member,
        unit: None,
        ttl: Duration::from_secs(600),
    })
}

/// A valid ID number, different for every `n`, of a man when `n` is odd.
fn id_number(n: u32) -> String {
    let birth = time::Date::from_calendar_date(1960, time::Month::January, 1).unwrap()
        + time::Duration::days(i64::from(n) * 37);
    let first17 = format!(
        "421321{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    format!("{first17}{}", check_char(first17.as_bytes()) as char)
}

async fn create_committee(
    suite: &Suite,
    id: &str,
    parent: &str,
    token: &str,
) -> Result<pb::Committee, tonic::Status> {
    create_committee_with(&mut suite.committees(token), id, parent).await
}

async fn create_committee_with(
    c: &mut CommitteeServiceClient<Authed>,
    id: &str,
    parent: &str,
) -> Result<pb::Committee, tonic::Status> {
    c.create_committee(pb::CreateCommitteeRequest {
        committee_id: id.into(),
        committee: Some(pb::Committee {
            display_name: format!("政协{id}委员会"),
            level: CommitteeLevel::County as i32,
            parent: parent.into(),
            current_term: 4,
            region_code: "421321".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .map(|r| r.into_inner().committee.unwrap())
}

async fn sector(m: &mut MemberServiceClient<Authed>, name: &str, kind: pb::SectorKind) -> String {
    m.create_sector(pb::CreateSectorRequest {
        parent: SUIXIAN.into(),
        sector: Some(pb::Sector {
            display_name: name.into(),
            kind: kind as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
    .sector
    .unwrap()
    .name
}

fn member(name: &str, n: u32, sector: &str) -> pb::Member {
    pb::Member {
        display_name: name.into(),
        id_number: id_number(n),
        phone: format!("138{:08}", n),
        sector: sector.into(),
        role: pb::MemberRole::Member as i32,
        ethnicity: "汉族".into(),
        township: "洪山镇".into(),
        ..Default::default()
    }
}

async fn create(
    m: &mut MemberServiceClient<Authed>,
    member: pb::Member,
) -> Result<pb::Member, tonic::Status> {
    m.create_member(pb::CreateMemberRequest {
        parent: SUIXIAN.into(),
        member: Some(member),
        request_id: String::new(),
    })
    .await
    .map(|r| r.into_inner().member.unwrap())
}

async fn get(
    m: &mut MemberServiceClient<Authed>,
    name: &str,
    view: pb::MemberView,
) -> Result<pb::Member, tonic::Status> {
    m.get_member(pb::GetMemberRequest {
        name: name.into(),
        view: view as i32,
    })
    .await
    .map(|r| r.into_inner().member.unwrap())
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A day of the calendar.
fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The reason of a refusal's precondition failure, if it has one.
fn precondition(status: &tonic::Status) -> String {
    status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.into_iter().next())
        .map(|v| v.r#type)
        .unwrap_or_default()
}

/// A value of a refusal's `ErrorInfo` metadata.
fn info(status: &tonic::Status, key: &str) -> String {
    status
        .get_details_error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}
