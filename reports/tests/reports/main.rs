//! The annual report over real gRPC: the members, proposals,
//! consultations and opinions services on one fresh PostgreSQL database,
//! the report service in front of them on its own socket, asked with a
//! leader's token; its figures follow the data as it is written through
//! the services' RPCs, and a service that is down or silent is left out
//! within the deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_members::domain::id_number::check_char;
use cppcc_proto::common::v1::{CommitteeLevel, Date, Money};
use cppcc_proto::consultations::v1 as cpb;
use cppcc_proto::members::v1 as mpb;
use cppcc_proto::opinions::v1 as opb;
use cppcc_proto::proposals::v1 as ppb;
use cppcc_proto::reports::v1 as pb;
use cppcc_reports::AnnualReports;
use cppcc_tests::{Running, TestDatabase};

use cpb::activity_service_client::ActivityServiceClient;
use cpb::consultation_result_service_client::ConsultationResultServiceClient;
use cpb::platform_service_client::PlatformServiceClient;
use mpb::committee_service_client::CommitteeServiceClient;
use mpb::evaluation_service_client::EvaluationServiceClient;
use mpb::liaison_network_service_client::LiaisonNetworkServiceClient;
use mpb::member_service_client::MemberServiceClient;
use opb::opinion_report_service_client::OpinionReportServiceClient;
use pb::report_service_client::ReportServiceClient;
use ppb::proposal_assessment_service_client::ProposalAssessmentServiceClient;
use ppb::proposal_office_service_client::ProposalOfficeServiceClient;
use ppb::proposal_service_client::ProposalServiceClient;

const SUIXIAN: &str = "committees/suixian";

fn telemetry() -> cppcc_kit::telemetry::TelemetryArgs {
    cppcc_kit::telemetry::TelemetryArgs {
        log_format: Default::default(),
        log_filter: "warn".into(),
    }
}

/// The four services on one fresh database.
struct Suite {
    _db: TestDatabase,
    members: Running,
    proposals: Running,
    consultations: Running,
    opinions: Running,
}

impl Suite {
    async fn start() -> Suite {
        let db = cppcc_tests::database().await;
        let members_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let members_uri = format!("http://{}", members_listener.local_addr().unwrap());
        let members = cppcc_members::server(&cppcc_members::Config {
            addr: members_listener.local_addr().unwrap(),
            database: db.args("members"),
            auth: cppcc_tests::auth_args(),
            pii: cppcc_tests::pii_args(),
            intake: cppcc_members::intake::IntakeArgs {
                follow: vec![],
                service_key: Some(cppcc_tests::signing_key()),
                service_key_id: None,
            },
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the members service starts");
        let members = cppcc_tests::serve_on(members, members_listener).await;
        let proposals = cppcc_proposals::server(&cppcc_proposals::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            members_uri: members_uri.clone(),
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            opinions_uri: None,
            database: db.args("proposals"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the proposals service starts");
        let consultations = cppcc_consultations::server(&cppcc_consultations::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            members_uri: members_uri.clone(),
            service_key: cppcc_tests::signing_key(),
            service_key_id: None,
            database: db.args("consultations"),
            auth: cppcc_tests::auth_args(),
            server: cppcc_tests::server_args(),
            telemetry: telemetry(),
        })
        .await
        .expect("the consultations service starts");
        let opinions = cppcc_opinions::server(&cppcc_opinions::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            members_uri,
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
            members,
            proposals: cppcc_tests::serve(proposals).await,
            consultations: cppcc_tests::serve(consultations).await,
            opinions: cppcc_tests::serve(opinions).await,
            _db: db,
        }
    }

    /// The report service over channels to the four services.
    fn reports(&self) -> AnnualReports<Channel> {
        AnnualReports::new(
            self.members.channel(),
            self.proposals.channel(),
            self.consultations.channel(),
            self.opinions.channel(),
            Duration::from_secs(10),
        )
    }

    /// 随县政协, its term begun last year, with `n` members, a liaison
    /// station and an informant.
    async fn seed(&self, n: u32) -> Seed {
        let year = this_year();
        CommitteeServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()))
            .create_committee(mpb::CreateCommitteeRequest {
                committee_id: "suixian".into(),
                committee: Some(mpb::Committee {
                    display_name: "政协随县委员会".into(),
                    level: CommitteeLevel::County as i32,
                    current_term: 4,
                    term_start_date: day(year - 1, 1, 1),
                    region_code: "421321".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
        let mut registry =
            MemberServiceClient::with_interceptor(self.members.channel(), Bearer::new(&admin()));
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
                            city_member: i == 0,
                            join_date: day(year - 1, 1, 1),
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
        Seed {
            members,
            station,
            informant,
        }
    }

    /// A proposal of `member`'s, written and submitted in this year's session.
    async fn submit_proposal(&self, session: &str, member: &str, title: &str) {
        let mut p = ProposalServiceClient::with_interceptor(
            self.proposals.channel(),
            Bearer::new(&member_token(member)),
        );
        let made = p
            .create_proposal(ppb::CreateProposalRequest {
                parent: SUIXIAN.into(),
                proposal: Some(ppb::Proposal {
                    session: session.into(),
                    title: title.into(),
                    reason: "我县香菇产业规模大，但精深加工不足，品牌效益不明显。".into(),
                    suggestions: "一、建设香菇精深加工园区；二、打造区域公用品牌。".into(),
                    category: ppb::ProposalCategory::Economy as i32,
                    kind: ppb::ProposalKind::Individual as i32,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .proposal
            .unwrap();
        p.submit_proposal(ppb::SubmitProposalRequest {
            name: made.name,
            etag: String::new(),
        })
        .await
        .unwrap();
    }

    /// This year's session.
    async fn session(&self) -> String {
        let year = this_year();
        ProposalOfficeServiceClient::with_interceptor(
            self.proposals.channel(),
            Bearer::new(&cppcc_tests::token(Role::ProposalOffice, "suixian")),
        )
        .create_session(ppb::CreateSessionRequest {
            parent: SUIXIAN.into(),
            session: Some(ppb::Session {
                display_name: "政协随县第四届委员会第三次会议".into(),
                term: 4,
                year,
                open_date: day(year, 1, 1),
                close_date: day(year, 1, 1),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap()
        .name
    }

    /// A township platform, this year's platform budget, and a frontline
    /// consultation held on the platform with `participants`.
    async fn consult(&self, participants: &[String]) {
        let year = this_year();
        let mut platforms = PlatformServiceClient::with_interceptor(
            self.consultations.channel(),
            Bearer::new(&staff()),
        );
        let platform = platforms
            .create_platform(cpb::CreatePlatformRequest {
                parent: SUIXIAN.into(),
                platform: Some(cpb::Platform {
                    display_name: "洪山镇政协委员协商议事室".into(),
                    level: cpb::PlatformLevel::Township as i32,
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
            .unwrap();
        platforms
            .update_platform_budget(cpb::UpdatePlatformBudgetRequest {
                budget: Some(cpb::PlatformBudget {
                    name: format!("{SUIXIAN}/platformBudgets/{year}"),
                    amount: Some(Money { fen: 50_000_000 }),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let mut activities = ActivityServiceClient::with_interceptor(
            self.consultations.channel(),
            Bearer::new(&staff()),
        );
        let activity = activities
            .create_activity(cpb::CreateActivityRequest {
                parent: SUIXIAN.into(),
                activity: Some(cpb::Activity {
                    kind: cpb::ActivityKind::Frontline as i32,
                    format: cpb::ActivityFormat::VillageEveningTalk as i32,
                    topic: "人居环境整治".into(),
                    platform: platform.name,
                    date: day(year, 1, 1),
                    official_count: 3,
                    resident_count: 40,
                    ..Default::default()
                }),
                participants: participants.to_vec(),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .activity
            .unwrap();
        // Counted once its meeting is held (step 4).
        for step in 2..=4 {
            activities
                .take_activity_step(cpb::TakeActivityStepRequest {
                    name: activity.name.clone(),
                    step,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }

    /// An opinion report from a member (or, with `informant`, from an
    /// informant of `station`).
    async fn report_opinion(&self, member: &str, informant: &str, station: &str, title: &str) {
        OpinionReportServiceClient::with_interceptor(
            self.opinions.channel(),
            Bearer::new(&cppcc_tests::token(Role::InfoCentre, "suixian")),
        )
        .create_opinion_report(opb::CreateOpinionReportRequest {
            parent: SUIXIAN.into(),
            report: Some(opb::OpinionReport {
                title: title.into(),
                content: "建议县里统筹推进乡村合作公司试点，明确收益分配和风险防控办法。".into(),
                category: opb::OpinionCategory::Rural as i32,
                member: member.into(),
                informant: informant.into(),
                liaison_station: station.into(),
                township: "洪山镇".into(),
                submit_date: day(this_year(), 1, 1),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    }
}

/// What a seeded committee has.
struct Seed {
    members: Vec<String>,
    station: String,
    informant: String,
}

/// The report service on its own loopback socket.
struct ReportServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ReportServer {
    async fn start(reports: AnnualReports<Channel>) -> ReportServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(reports.into_server())
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async move {
                        let _ = stopped.await;
                    },
                ),
        );
        ReportServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn client(&self, token: &str) -> ReportServiceClient<Authed> {
        let channel = cppcc_kit::client::channel(&format!("http://{}", self.addr)).unwrap();
        ReportServiceClient::with_interceptor(channel, Bearer::new(token))
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

fn this_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
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

async fn annual_report(
    server: &ReportServer,
    token: &str,
    timeout: Option<Duration>,
) -> Result<pb::GetAnnualReportResponse, tonic::Status> {
    let mut request = tonic::Request::new(pb::GetAnnualReportRequest {
        committee: SUIXIAN.into(),
        year: this_year(),
    });
    if let Some(t) = timeout {
        request.set_timeout(t);
    }
    server
        .client(token)
        .get_annual_report(request)
        .await
        .map(tonic::Response::into_inner)
}

/// A figure's year and term values.
fn figure(report: &pb::GetAnnualReportResponse, key: &str) -> (f64, Option<f64>) {
    let f = report
        .figures
        .iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("no figure {key} in {:?}", report.figures));
    (f.year_value, f.term_value)
}

fn has_section(report: &pb::GetAnnualReportResponse, section: pb::Section) -> bool {
    report.figures.iter().any(|f| f.section == section as i32)
}

#[tokio::test]
async fn the_report_follows_the_data_of_every_service() {
    let suite = Suite::start().await;
    let seed = suite.seed(3).await;
    let server = ReportServer::start(suite.reports()).await;

    let before = annual_report(&server, &leader(), None).await.unwrap();
    assert!(before.complete && before.missing.is_empty(), "{before:?}");
    assert_eq!(
        (before.committee.as_str(), before.year),
        (SUIXIAN, this_year())
    );
    assert_eq!(figure(&before, "members.total"), (3.0, None));
    assert_eq!(figure(&before, "members.city_members"), (1.0, None));
    assert_eq!(figure(&before, "members.liaison_stations"), (1.0, None));
    assert_eq!(figure(&before, "members.informants"), (1.0, None));
    assert_eq!(figure(&before, "proposals.submitted"), (0.0, Some(0.0)));
    assert_eq!(figure(&before, "consultations.platforms"), (0.0, None));
    assert_eq!(
        figure(&before, "consultations.activities.frontline"),
        (0.0, Some(0.0))
    );
    assert_eq!(figure(&before, "consultations.budget"), (0.0, None));
    assert_eq!(figure(&before, "opinions.submitted"), (0.0, Some(0.0)));

    // Write through the services' own RPCs.
    let session = suite.session().await;
    suite
        .submit_proposal(
            &session,
            &seed.members[0],
            "关于推动香菇产业高质量发展的提案",
        )
        .await;
    suite
        .submit_proposal(&session, &seed.members[1], "关于加快中药材产业发展的提案")
        .await;
    suite.consult(&seed.members[..2]).await;
    suite
        .report_opinion(&seed.members[0], "", "", "关于探索乡村合作公司的建议")
        .await;
    suite
        .report_opinion(&seed.members[0], "", "", "关于全域旅游发展的建议")
        .await;
    suite
        .report_opinion("", &seed.informant, &seed.station, "关于美丽乡村建设的建议")
        .await;

    let after = annual_report(&server, &leader(), None).await.unwrap();
    assert!(after.complete, "{:?}", after.missing);
    assert_eq!(figure(&after, "members.total"), (3.0, None));
    assert_eq!(figure(&after, "proposals.submitted"), (2.0, Some(2.0)));
    assert_eq!(
        figure(&after, "proposals.distinct_proposers"),
        (2.0, Some(2.0))
    );
    assert_eq!(figure(&after, "consultations.platforms"), (1.0, None));
    assert_eq!(
        figure(&after, "consultations.platforms.township"),
        (1.0, None)
    );
    assert_eq!(
        figure(&after, "consultations.platforms.village"),
        (0.0, None)
    );
    assert_eq!(
        figure(&after, "consultations.platforms_compliant"),
        (1.0, None)
    );
    assert_eq!(
        figure(&after, "consultations.activities.frontline"),
        (1.0, Some(1.0))
    );
    assert_eq!(
        figure(&after, "consultations.member_participations"),
        (2.0, Some(2.0))
    );
    assert_eq!(
        figure(&after, "consultations.participations.frontline"),
        (45.0, Some(45.0)),
        "2 members, 3 officials, 40 residents"
    );
    assert_eq!(figure(&after, "consultations.budget"), (500_000.0, None));
    assert_eq!(figure(&after, "opinions.submitted"), (3.0, Some(3.0)));
    assert_eq!(
        figure(&after, "opinions.submitted_by_members"),
        (2.0, Some(2.0))
    );
    assert_eq!(
        figure(&after, "opinions.submitted_by_informants"),
        (1.0, Some(1.0))
    );
    assert_eq!(
        figure(&after, "opinions.member_contributors"),
        (1.0, Some(1.0))
    );

    // The statistics are carried as the services answered them, and the
    // figures are read from them.
    let direct = |token: String| {
        let suite = &suite;
        async move {
            let committee = SUIXIAN.to_owned();
            let year = this_year();
            (
                EvaluationServiceClient::with_interceptor(
                    suite.members.channel(),
                    Bearer::new(&token),
                )
                .get_member_statistics(mpb::GetMemberStatisticsRequest {
                    committee: committee.clone(),
                    year,
                })
                .await
                .unwrap()
                .into_inner(),
                ProposalAssessmentServiceClient::with_interceptor(
                    suite.proposals.channel(),
                    Bearer::new(&token),
                )
                .get_proposal_statistics(ppb::GetProposalStatisticsRequest {
                    committee: committee.clone(),
                    year,
                })
                .await
                .unwrap()
                .into_inner(),
                ConsultationResultServiceClient::with_interceptor(
                    suite.consultations.channel(),
                    Bearer::new(&token),
                )
                .get_consultation_statistics(cpb::GetConsultationStatisticsRequest {
                    committee: committee.clone(),
                    year,
                })
                .await
                .unwrap()
                .into_inner(),
                OpinionReportServiceClient::with_interceptor(
                    suite.opinions.channel(),
                    Bearer::new(&token),
                )
                .get_opinion_statistics(opb::GetOpinionStatisticsRequest { committee, year })
                .await
                .unwrap()
                .into_inner(),
            )
        }
    };
    let (m, p, c, o) = direct(leader()).await;
    assert_eq!(after.members.as_ref(), Some(&m));
    assert_eq!(after.proposals.as_ref(), Some(&p));
    assert_eq!(after.consultations.as_ref(), Some(&c));
    assert_eq!(after.opinions.as_ref(), Some(&o));
    assert_eq!(after.figures, cppcc_reports::flatten(&after));

    // Bad input: every field named.
    let bad = server
        .client(&leader())
        .get_annual_report(pb::GetAnnualReportRequest {
            committee: "suixian".into(),
            year: 1900,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let fields: Vec<_> = bad
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["committee", "year"]);

    // Refused by every service alike: the refusal, not an empty report.
    let mut anonymous = ReportServiceClient::new(
        cppcc_kit::client::channel(&format!("http://{}", server.addr)).unwrap(),
    );
    let unsigned = anonymous
        .get_annual_report(pb::GetAnnualReportRequest {
            committee: SUIXIAN.into(),
            year: this_year(),
        })
        .await
        .unwrap_err();
    assert_eq!(unsigned.code(), Code::Unauthenticated, "{unsigned:?}");
    let security = cppcc_tests::token(Role::SecurityAdmin, "suixian");
    let denied = annual_report(&server, &security, None).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let elsewhere = cppcc_tests::token(Role::Leader, "zengdu");
    let unseen = annual_report(&server, &elsewhere, None).await.unwrap_err();
    assert_eq!(unseen.code(), Code::NotFound, "{unseen:?}");

    server.stop().await;
}

#[tokio::test]
async fn a_service_down_or_silent_is_left_out_within_the_deadline() {
    let suite = Suite::start().await;
    suite.seed(2).await;

    // Opinions at a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_uri = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = ReportServer::start(AnnualReports::new(
        suite.members.channel(),
        suite.proposals.channel(),
        suite.consultations.channel(),
        cppcc_kit::client::channel(&closed_uri).unwrap(),
        Duration::from_secs(10),
    ))
    .await;
    let deadline = Duration::from_secs(3);
    let started = Instant::now();
    let report = annual_report(&down, &leader(), Some(deadline))
        .await
        .unwrap();
    assert!(started.elapsed() < deadline, "{:?}", started.elapsed());
    assert!(!report.complete);
    assert_eq!(report.missing.len(), 1, "{:?}", report.missing);
    let missing = &report.missing[0];
    assert_eq!(missing.section, pb::Section::Opinions as i32);
    assert_eq!(missing.code, "UNAVAILABLE", "{missing:?}");
    assert!(report.opinions.is_none());
    assert!(
        report.members.is_some() && report.proposals.is_some() && report.consultations.is_some()
    );
    assert!(has_section(&report, pb::Section::Members));
    assert!(has_section(&report, pb::Section::Proposals));
    assert!(has_section(&report, pb::Section::Consultations));
    assert!(!has_section(&report, pb::Section::Opinions));
    assert_eq!(figure(&report, "members.total"), (2.0, None));
    down.stop().await;

    // Consultations at a port that takes connections and never answers:
    // the report waits for it only as long as the caller allows.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_uri = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let slow = ReportServer::start(AnnualReports::new(
        suite.members.channel(),
        suite.proposals.channel(),
        cppcc_kit::client::channel(&silent_uri).unwrap(),
        suite.opinions.channel(),
        Duration::from_secs(10),
    ))
    .await;
    let deadline = Duration::from_millis(1500);
    let started = Instant::now();
    let report = annual_report(&slow, &leader(), Some(deadline))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(took < deadline, "answered after {took:?}");
    assert_eq!(report.missing.len(), 1, "{:?}", report.missing);
    assert_eq!(report.missing[0].section, pb::Section::Consultations as i32);
    assert_eq!(report.missing[0].code, "DEADLINE_EXCEEDED");
    assert!(!report.complete);
    assert!(has_section(&report, pb::Section::Opinions));
    assert!(!has_section(&report, pb::Section::Consultations));

    // Without a deadline of the caller's, the report's own maximum holds.
    let capped = ReportServer::start(AnnualReports::new(
        suite.members.channel(),
        suite.proposals.channel(),
        cppcc_kit::client::channel(&silent_uri).unwrap(),
        suite.opinions.channel(),
        Duration::from_millis(1500),
    ))
    .await;
    let started = Instant::now();
    let report = annual_report(&capped, &leader(), None).await.unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    assert_eq!(report.missing[0].code, "DEADLINE_EXCEEDED");
    capped.stop().await;
    slow.stop().await;
    hold.abort();
}
