//! The opinions service over real gRPC, with a real members service (it
//! checks members and informants there, asks it for the parent committee,
//! and credits members there through its intake), against a real
//! PostgreSQL; and two deployments, a county's and a city's, each with its
//! own database, forwarding to each other over loopback.

mod lifecycle;
mod remote;

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::Code;
use tonic_types::StatusExt as _;

use cppcc_kit::auth::Role;
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::common::v1::{CommitteeLevel, Date, DutyKind};
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::opinions::v1 as pb;
use cppcc_tests::{Running, TestDatabase};

use mpb::committee_service_client::CommitteeServiceClient;
use mpb::duty_record_service_client::DutyRecordServiceClient;
use mpb::liaison_network_service_client::LiaisonNetworkServiceClient;
use mpb::member_service_client::MemberServiceClient;
use pb::bulletin_service_client::BulletinServiceClient;
use pb::opinion_quota_service_client::OpinionQuotaServiceClient;
use pb::opinion_report_service_client::OpinionReportServiceClient;
use pb::upward_inbox_service_client::UpwardInboxServiceClient;

const SUIXIAN: &str = "committees/suixian";
const SUIZHOU: &str = "committees/suizhou";

fn telemetry() -> cppcc_kit::telemetry::TelemetryArgs {
    cppcc_kit::telemetry::TelemetryArgs {
        log_format: Default::default(),
        log_filter: "warn".into(),
    }
}

/// One deployment: a members and an opinions service on one fresh
/// database, the first following the second's duty events.
struct Deployment {
    _db: TestDatabase,
    members: Running,
    opinions: Running,
}

impl Deployment {
    /// Starts on `listener` (for opinions), with `remotes` served elsewhere.
    async fn start_on(listener: TcpListener, remotes: Vec<cppcc_opinions::Remote>) -> Deployment {
        let db = cppcc_tests::database().await;
        let members_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let members_uri = format!("http://{}", members_listener.local_addr().unwrap());
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let members = cppcc_members::server(&cppcc_members::Config {
            addr: members_listener.local_addr().unwrap(),
            database: db.args("members"),
            auth: cppcc_tests::auth_args(),
            pii: cppcc_tests::pii_args(),
            intake: cppcc_members::intake::IntakeArgs {
                follow: vec![cppcc_members::intake::Producer {
                    name: "opinions".into(),
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
        let opinions = cppcc_opinions::server(&cppcc_opinions::Config {
            addr: listener.local_addr().unwrap(),
            members_uri,
            remotes,
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            database: db.args("opinions"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the opinions service starts");
        Deployment {
            members: cppcc_tests::serve_on(members, members_listener).await,
            opinions: cppcc_tests::serve_on(opinions, listener).await,
            _db: db,
        }
    }

    /// 随县政协 (its parent 随州市政协, in this deployment too unless
    /// `remotes` says otherwise) with `n` members, a liaison station and an
    /// informant.
    async fn county(n: u32, remotes: Vec<cppcc_opinions::Remote>) -> (Deployment, County) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let d = Deployment::start_on(listener, remotes).await;
        let county = d.seed(n).await;
        (d, county)
    }

    async fn seed(&self, n: u32) -> County {
        let mut committees =
            CommitteeServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()));
        committees
            .create_committee(mpb::CreateCommitteeRequest {
                committee_id: "suixian".into(),
                committee: Some(mpb::Committee {
                    display_name: "政协随县委员会".into(),
                    level: CommitteeLevel::County as i32,
                    parent: SUIZHOU.into(),
                    current_term: 4,
                    term_start_date: day(2021, 12, 28),
                    region_code: "421321".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
        let mut registry = self.registry();
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
        let mut network = LiaisonNetworkServiceClient::with_interceptor(
            self.members.channel(),
            Bearer::new(&admin()),
        );
        let station = network
            .create_liaison_station(mpb::CreateLiaisonStationRequest {
                parent: SUIXIAN.into(),
                liaison_station: Some(mpb::LiaisonStation {
                    display_name: "洪山镇社情民意联络站".into(),
                    kind: mpb::LiaisonStationKind::Township as i32,
                    location: "洪山镇".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .liaison_station
            .unwrap()
            .name;
        let informant = network
            .create_informant(mpb::CreateInformantRequest {
                parent: SUIXIAN.into(),
                informant: Some(mpb::Informant {
                    display_name: "李信息".into(),
                    liaison_station: station.clone(),
                    employer: "洪山镇人民政府 办公室".into(),
                    active: true,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .informant
            .unwrap()
            .name;
        County {
            members,
            station,
            informant,
        }
    }

    fn reports(&self, token: &str) -> OpinionReportServiceClient<Authed> {
        OpinionReportServiceClient::with_interceptor(self.opinions.channel(), Bearer::new(token))
    }

    fn inbox(&self, token: &str) -> UpwardInboxServiceClient<Authed> {
        UpwardInboxServiceClient::with_interceptor(self.opinions.channel(), Bearer::new(token))
    }

    fn bulletins(&self, token: &str) -> BulletinServiceClient<Authed> {
        BulletinServiceClient::with_interceptor(self.opinions.channel(), Bearer::new(token))
    }

    fn quota(&self, token: &str) -> OpinionQuotaServiceClient<Authed> {
        OpinionQuotaServiceClient::with_interceptor(self.opinions.channel(), Bearer::new(token))
    }

    fn registry(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    fn duty(&self) -> DutyRecordServiceClient<Authed> {
        DutyRecordServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
    }

    /// Waits until `member`'s duty record has an entry of `kind` from the
    /// opinions service for `source`; how many there are.
    async fn credited(&self, member: &str, kind: DutyKind, source: &str) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let records = self
                .duty()
                .list_duty_records(mpb::ListDutyRecordsRequest {
                    parent: member.to_owned(),
                    filter: "source_service = \"opinions\"".into(),
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .duty_records;
            let n = records
                .iter()
                .filter(|r| r.kind == kind as i32 && r.source == source)
                .count();
            if n > 0 {
                return n;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{member} has no {kind:?} for {source}: {records:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a seeded county has.
struct County {
    members: Vec<String>,
    station: String,
    informant: String,
}

fn admin() -> String {
    cppcc_tests::token(Role::Admin, "suixian")
}

fn centre() -> String {
    cppcc_tests::token(Role::InfoCentre, "suixian")
}

fn city_centre() -> String {
    cppcc_tests::token(Role::InfoCentre, "suizhou")
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

/// A member's report, as its contributor would write it.
fn member_report(member: &str, title: &str) -> pb::OpinionReport {
    pb::OpinionReport {
        title: title.into(),
        content: "建议县里统筹推进乡村合作公司试点，明确收益分配和风险防控办法。".into(),
        category: pb::OpinionCategory::Rural as i32,
        member: member.into(),
        township: "洪山镇".into(),
        submit_date: day(2023, 3, 6),
        ..Default::default()
    }
}

/// Records and accepts a member's report; the accepted report.
async fn accepted(d: &Deployment, member: &str, title: &str) -> pb::OpinionReport {
    let mut reports = d.reports(&centre());
    let made = reports
        .create_opinion_report(pb::CreateOpinionReportRequest {
            parent: SUIXIAN.into(),
            report: Some(member_report(member, title)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    reports
        .accept_opinion_report(pb::AcceptOpinionReportRequest {
            name: made.name,
            date: day(2023, 3, 8),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
}
