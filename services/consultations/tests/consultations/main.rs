//! The consultations service over real gRPC, with a real members service
//! (it checks participants there and credits them there through its
//! intake), against a real PostgreSQL.

mod activities;
mod funds;
mod plans;

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::Code;
use tonic_types::StatusExt as _;

use cppcc_kit::auth::Role;
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::common::v1::{CommitteeLevel, Date};
use cppcc_proto::consultations::v1 as pb;
use cppcc_proto::members::v1 as mpb;
use cppcc_tests::{Running, TestDatabase};

use mpb::committee_service_client::CommitteeServiceClient;
use mpb::duty_record_service_client::DutyRecordServiceClient;
use mpb::member_service_client::MemberServiceClient;
use pb::activity_service_client::ActivityServiceClient;
use pb::consultation_plan_service_client::ConsultationPlanServiceClient;
use pb::consultation_result_service_client::ConsultationResultServiceClient;
use pb::platform_service_client::PlatformServiceClient;

const SUIXIAN: &str = "committees/suixian";

fn telemetry() -> cppcc_kit::telemetry::TelemetryArgs {
    cppcc_kit::telemetry::TelemetryArgs {
        log_format: Default::default(),
        log_filter: "warn".into(),
    }
}

/// The members and consultations services on one fresh database, the
/// first following the second's duty events.
struct Suite {
    _db: TestDatabase,
    members: Running,
    consultations: Running,
}

impl Suite {
    async fn start() -> Suite {
        let db = cppcc_tests::database().await;
        let members_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let members_uri = format!("http://{}", members_listener.local_addr().unwrap());
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let members = cppcc_members::server(&cppcc_members::Config {
            addr: members_listener.local_addr().unwrap(),
            database: db.args("members"),
            auth: cppcc_tests::auth_args(),
            pii: cppcc_tests::pii_args(),
            intake: cppcc_members::intake::IntakeArgs {
                follow: vec![cppcc_members::intake::Producer {
                    name: "consultations".into(),
                    uri,
                }],
                service_key: Some(cppcc_tests::signing_key()),
                service_key_id: None,
            },
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the members service starts");
        let consultations = cppcc_consultations::server(&cppcc_consultations::Config {
            addr: listener.local_addr().unwrap(),
            members_uri,
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            database: db.args("consultations"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the consultations service starts");
        Suite {
            members: cppcc_tests::serve_on(members, members_listener).await,
            consultations: cppcc_tests::serve_on(consultations, listener).await,
            _db: db,
        }
    }

    fn plans(&self, token: &str) -> ConsultationPlanServiceClient<Authed> {
        ConsultationPlanServiceClient::with_interceptor(
            self.consultations.channel(),
            Bearer::new(token),
        )
    }

    fn platforms(&self, token: &str) -> PlatformServiceClient<Authed> {
        PlatformServiceClient::with_interceptor(self.consultations.channel(), Bearer::new(token))
    }

    fn activities(&self, token: &str) -> ActivityServiceClient<Authed> {
        ActivityServiceClient::with_interceptor(self.consultations.channel(), Bearer::new(token))
    }

    fn results(&self, token: &str) -> ConsultationResultServiceClient<Authed> {
        ConsultationResultServiceClient::with_interceptor(
            self.consultations.channel(),
            Bearer::new(token),
        )
    }

    fn registry(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    fn duty(&self) -> DutyRecordServiceClient<Authed> {
        DutyRecordServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    /// 随县政协 with `n` members.
    async fn seeded(n: u32) -> (Suite, Vec<String>) {
        let suite = Suite::start().await;
        CommitteeServiceClient::with_interceptor(suite.members.channel(), Bearer::new(&admin()))
            .create_committee(mpb::CreateCommitteeRequest {
                committee_id: "suixian".into(),
                committee: Some(mpb::Committee {
                    display_name: "政协随县委员会".into(),
                    level: CommitteeLevel::County as i32,
                    current_term: 4,
                    term_start_date: day(2021, 12, 28),
                    region_code: "421321".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
        let mut registry = suite.registry();
        let sector = registry
            .create_sector(mpb::CreateSectorRequest {
                parent: SUIXIAN.into(),
                sector: Some(mpb::Sector {
                    display_name: "农业和农村界".into(),
                    kind: mpb::SectorKind::Field as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .sector
            .unwrap()
            .name;
        let mut members = Vec::new();
        for i in 0..n {
            let birth = time::Date::from_calendar_date(1970, time::Month::May, 1).unwrap()
                + time::Duration::days(i64::from(i) * 53);
            let first17 = format!(
                "421321{:04}{:02}{:02}{:03}",
                birth.year(),
                u8::from(birth.month()),
                birth.day(),
                i % 1000
            );
            let id_number = format!("{first17}{}", check_char(first17.as_bytes()) as char);
            members.push(
                registry
                    .create_member(mpb::CreateMemberRequest {
                        parent: SUIXIAN.into(),
                        member: Some(mpb::Member {
                            display_name: format!("委员{i}"),
                            id_number,
                            sector: sector.clone(),
                            role: mpb::MemberRole::Member as i32,
                            ethnicity: "汉族".into(),
                            join_date: day(2021, 12, 28),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .member
                    .unwrap()
                    .name,
            );
        }
        (suite, members)
    }
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

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn precondition(status: &tonic::Status) -> String {
    status
        .get_details_precondition_failure()
        .and_then(|p| p.violations.into_iter().next())
        .map(|v| v.r#type)
        .unwrap_or_default()
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code) -> tonic::Status {
    let status = result.expect_err("the call is refused");
    assert_eq!(status.code(), code, "{status:?}");
    status
}

/// An approved 2023 plan with one topic; the plan and the topic's id.
async fn approved_plan(suite: &Suite) -> (pb::ConsultationPlan, String) {
    let mut plans = suite.plans(&staff());
    let draft = plans
        .create_consultation_plan(pb::CreateConsultationPlanRequest {
            parent: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let with_item = plans
        .add_plan_item(pb::AddPlanItemRequest {
            plan: draft.name.clone(),
            item: Some(pb::PlanItem {
                topic: "全县油茶产业高质量发展".into(),
                kind: pb::ActivityKind::ResearchInspection as i32,
                lead_body: "农业和农村委员会".into(),
                quarter: 2,
                departments: vec!["县林业局".into(), "县农业农村局".into()],
                ..Default::default()
            }),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    plans
        .submit_consultation_plan(pb::SubmitConsultationPlanRequest {
            name: draft.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let approved = suite
        .plans(&leader())
        .decide_consultation_plan(pb::DecideConsultationPlanRequest {
            name: draft.name.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    (approved, with_item.items[0].id.clone())
}

/// A township platform with all five haves.
async fn platform(suite: &Suite, name: &str) -> pb::Platform {
    suite
        .platforms(&staff())
        .create_platform(pb::CreatePlatformRequest {
            parent: SUIXIAN.into(),
            platform: Some(pb::Platform {
                display_name: name.into(),
                level: pb::PlatformLevel::Township as i32,
                township: "洪山镇".into(),
                convener: "刘强".into(),
                venue: "镇政府三楼会议室".into(),
                has_sign: true,
                content: "乡村振兴、油茶产业".into(),
                has_archives: true,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .platform
        .unwrap()
}
