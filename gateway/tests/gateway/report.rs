//! The annual report at the gateway: asked over JSON and gRPC, it fans out
//! to the statistics services through their routes; with only the members
//! service up, the report is partial and names each missing section.

use std::time::{Duration, Instant};

use cppcc_kit::auth::Role;
use cppcc_kit::client::Bearer;
use cppcc_proto::reports::v1 as pb;
use tonic::Code;

use super::*;

#[tokio::test]
async fn a_report_with_services_down_is_partial_and_says_what_is_missing() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let (http, created) = json_call(
        &gateway,
        "/cppcc.members.v1.CommitteeService/CreateCommittee",
        Some(&token(Role::Admin)),
        r#"{"committeeId": "suixian",
            "committee": {"displayName": "政协随县委员会", "level": "COMMITTEE_LEVEL_COUNTY",
                          "currentTerm": 4, "termStartDate": {"year": 2021, "month": 12, "day": 28}}}"#,
    )
    .await;
    assert_eq!(http, 200, "{created}");

    let path = "/cppcc.reports.v1.ReportService/GetAnnualReport";
    let leader = token(Role::Leader);
    let started = Instant::now();
    let (http, report) = json_call(
        &gateway,
        path,
        Some(&leader),
        r#"{"committee": "committees/suixian", "year": 2023}"#,
    )
    .await;
    assert_eq!(http, 200, "{report}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "services down do not hold the report up"
    );
    assert_eq!(report["complete"], false);
    assert_eq!(
        report["members"]["statistics"]["committee"], SUIXIAN,
        "{report}"
    );
    let missing: Vec<(&str, &str)> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["section"].as_str().unwrap(), m["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        missing,
        [
            ("SECTION_PROPOSALS", "UNAVAILABLE"),
            ("SECTION_CONSULTATIONS", "UNAVAILABLE"),
            ("SECTION_OPINIONS", "UNAVAILABLE"),
        ]
    );
    let figures = report["figures"].as_array().unwrap();
    assert!(!figures.is_empty());
    assert!(
        figures.iter().all(|f| f["section"] == "SECTION_MEMBERS"
            && f["key"].as_str().unwrap().starts_with("members.")),
        "only the members section has figures: {figures:?}"
    );
    let total = figures
        .iter()
        .find(|f| f["key"] == "members.total")
        .expect("the members' total is published");
    assert_eq!(total["yearValue"], 0.0, "no member registered yet");

    // The same over gRPC; bad input and a role the policy refuses.
    let mut client = pb::report_service_client::ReportServiceClient::with_interceptor(
        gateway.channel(),
        Bearer::new(&leader),
    );
    let got = client
        .get_annual_report(pb::GetAnnualReportRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.missing.len(), 3);
    assert!(got.members.is_some());
    let bad = client
        .get_annual_report(pb::GetAnnualReportRequest {
            committee: "suixian".into(),
            year: 2023,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    let mut security = pb::report_service_client::ReportServiceClient::with_interceptor(
        gateway.channel(),
        Bearer::new(&token(Role::SecurityAdmin)),
    );
    let denied = security
        .get_annual_report(pb::GetAnnualReportRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "POLICY_DENIED")
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}
