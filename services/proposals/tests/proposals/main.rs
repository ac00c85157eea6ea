//! The proposals service over real gRPC, with a real members service (it
//! checks proposers there, and credits them there through its intake),
//! against a real PostgreSQL.

mod assessment;
mod follow_up;
mod lifecycle;
mod review;

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::Code;
use tonic_types::StatusExt as _;

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::common::v1::{CommitteeLevel, Date};
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::proposals::v1 as pb;
use cppcc_tests::{Running, TestDatabase};

use mpb::committee_service_client::CommitteeServiceClient;
use mpb::duty_record_service_client::DutyRecordServiceClient;
use mpb::member_service_client::MemberServiceClient;
use pb::proposal_assessment_service_client::ProposalAssessmentServiceClient;
use pb::proposal_follow_up_service_client::ProposalFollowUpServiceClient;
use pb::proposal_office_service_client::ProposalOfficeServiceClient;
use pb::proposal_service_client::ProposalServiceClient;

const SUIXIAN: &str = "committees/suixian";

fn telemetry() -> cppcc_kit::telemetry::TelemetryArgs {
    cppcc_kit::telemetry::TelemetryArgs {
        log_format: Default::default(),
        log_filter: "warn".into(),
    }
}

/// The members and proposals services on one fresh database, the first
/// following the second's duty events.
struct Suite {
    db: TestDatabase,
    members: Running,
    proposals: Running,
    /// The opinions service, which takes converted proposals.
    opinions: Running,
}

impl Suite {
    async fn start() -> Suite {
        let db = cppcc_tests::database().await;
        let members_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proposals_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let members_uri = format!("http://{}", members_listener.local_addr().unwrap());
        let proposals_uri = format!("http://{}", proposals_listener.local_addr().unwrap());
        let opinions_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let opinions_uri = format!("http://{}", opinions_listener.local_addr().unwrap());
        let members = cppcc_members::server(&cppcc_members::Config {
            addr: members_listener.local_addr().unwrap(),
            database: db.args("members"),
            auth: cppcc_tests::auth_args(),
            pii: cppcc_tests::pii_args(),
            intake: cppcc_members::intake::IntakeArgs {
                follow: vec![cppcc_members::intake::Producer {
                    name: "proposals".into(),
                    uri: proposals_uri,
                }],
                service_key: Some(cppcc_tests::signing_key()),
                service_key_id: None,
            },
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the members service starts");
        let proposals = cppcc_proposals::server(&cppcc_proposals::Config {
            addr: proposals_listener.local_addr().unwrap(),
            members_uri,
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            opinions_uri: Some(opinions_uri),
            database: db.args("proposals"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the proposals service starts");
        let opinions = cppcc_opinions::server(&cppcc_opinions::Config {
            addr: opinions_listener.local_addr().unwrap(),
            members_uri: format!("http://{}", members_listener.local_addr().unwrap()),
            remotes: vec![],
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            database: db.args("opinions"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the opinions service starts");
        Suite {
            opinions: cppcc_tests::serve_on(opinions, opinions_listener).await,
            members: cppcc_tests::serve_on(members, members_listener).await,
            proposals: cppcc_tests::serve_on(proposals, proposals_listener).await,
            db,
        }
    }

    fn proposals(&self, token: &str) -> ProposalServiceClient<Authed> {
        ProposalServiceClient::with_interceptor(self.proposals.channel(), Bearer::new(token))
    }

    fn office(&self, token: &str) -> ProposalOfficeServiceClient<Authed> {
        ProposalOfficeServiceClient::with_interceptor(self.proposals.channel(), Bearer::new(token))
    }

    fn follow_up(&self, token: &str) -> ProposalFollowUpServiceClient<Authed> {
        ProposalFollowUpServiceClient::with_interceptor(
            self.proposals.channel(),
            Bearer::new(token),
        )
    }

    fn assessment(&self, token: &str) -> ProposalAssessmentServiceClient<Authed> {
        ProposalAssessmentServiceClient::with_interceptor(
            self.proposals.channel(),
            Bearer::new(token),
        )
    }

    fn registry(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    fn duty(&self) -> DutyRecordServiceClient<Authed> {
        DutyRecordServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    /// 随县政协 with `n` members, a session and three units.
    async fn seeded(n: u32) -> (Suite, Seed) {
        let suite = Suite::start().await;
        CommitteeServiceClient::with_interceptor(suite.members.channel(), Bearer::new(&admin()))
            .create_committee(mpb::CreateCommitteeRequest {
                committee_id: "suixian".into(),
                committee: Some(mpb::Committee {
                    display_name: "政协随县委员会".into(),
                    level: CommitteeLevel::County as i32,
                    current_term: 4,
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
                    display_name: "农业界".into(),
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
            members.push(
                registry
                    .create_member(mpb::CreateMemberRequest {
                        parent: SUIXIAN.into(),
                        member: Some(mpb::Member {
                            display_name: format!("委员{i}"),
                            id_number: id_number(i),
                            sector: sector.clone(),
                            role: mpb::MemberRole::Member as i32,
                            ethnicity: "汉族".into(),
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
        let mut office = suite.office(&office_token());
        let this_year = time::OffsetDateTime::now_utc().year();
        let session = office
            .create_session(pb::CreateSessionRequest {
                parent: SUIXIAN.into(),
                session: Some(pb::Session {
                    display_name: "政协随县第四届委员会第三次会议".into(),
                    term: 4,
                    year: this_year,
                    open_date: day(this_year, 1, 10),
                    close_date: day(this_year, 1, 13),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .session
            .unwrap()
            .name;
        let mut units = Vec::new();
        for name in ["县农业农村局", "县林业局", "县财政局"] {
            units.push(
                office
                    .create_handling_unit(pb::CreateHandlingUnitRequest {
                        parent: SUIXIAN.into(),
                        unit: Some(pb::HandlingUnit {
                            display_name: name.into(),
                            kind: "政府部门".into(),
                            ..Default::default()
                        }),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .unit
                    .unwrap()
                    .name,
            );
        }
        (
            suite,
            Seed {
                members,
                session,
                units,
                year: this_year,
            },
        )
    }
}

struct Seed {
    members: Vec<String>,
    session: String,
    units: Vec<String>,
    year: i32,
}

fn admin() -> String {
    cppcc_tests::token(Role::Admin, "suixian")
}

fn office_token() -> String {
    cppcc_tests::token(Role::ProposalOffice, "suixian")
}

fn member_token(member: &str) -> String {
    cppcc_tests::token_with(TokenRequest {
        subject: member,
        role: Role::Member,
        committee: "suixian",
        member: Some(member),
        unit: None,
        ttl: Duration::from_secs(600),
    })
}

fn unit_token(unit: &str) -> String {
    cppcc_tests::token_with(TokenRequest {
        subject: unit,
        role: Role::HandlingUnit,
        committee: "suixian",
        member: None,
        unit: Some(unit),
        ttl: Duration::from_secs(600),
    })
}

/// A valid ID number, different for every `n`.
fn id_number(n: u32) -> String {
    let birth = time::Date::from_calendar_date(1965, time::Month::March, 1).unwrap()
        + time::Duration::days(i64::from(n) * 41);
    let first17 = format!(
        "421321{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 1000
    );
    format!("{first17}{}", check_char(first17.as_bytes()) as char)
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn draft(session: &str, title: &str) -> pb::Proposal {
    pb::Proposal {
        session: session.into(),
        title: title.into(),
        reason: "我县香菇产业规模大，但精深加工不足，品牌效益不明显。".into(),
        suggestions: "一、建设香菇精深加工园区；二、打造区域公用品牌。".into(),
        category: pb::ProposalCategory::Economy as i32,
        kind: pb::ProposalKind::Individual as i32,
        ..Default::default()
    }
}

/// Writes and submits a proposal of `member`'s.
async fn submitted(suite: &Suite, seed: &Seed, member: &str, title: &str) -> pb::Proposal {
    let mut p = suite.proposals(&member_token(member));
    let made = p
        .create_proposal(pb::CreateProposalRequest {
            parent: SUIXIAN.into(),
            proposal: Some(draft(&seed.session, title)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    p.submit_proposal(pb::SubmitProposalRequest {
        name: made.name,
        etag: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
    .proposal
    .unwrap()
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

/// Today in China, the day the service writes.
fn today() -> Date {
    let d = (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date();
    Date {
        year: d.year(),
        month: u8::from(d.month()).into(),
        day: d.day().into(),
    }
}
