//! Every members RPC through the gateway by gRPC, gRPC-Web and JSON.

use cppcc_gateway::descriptors;
use cppcc_kit::auth::Role;
use cppcc_kit::client::Bearer;
use cppcc_proto::members::v1 as mpb;
use prost::Message as _;
use tonic::Code;

use super::*;

/// Each members method, called with an empty request by a role the policy
/// lets through, gets the same answer from the service over all three
/// protocols, and it is the service's answer (the gateway refused nothing).
#[tokio::test]
async fn every_members_rpc_answers_alike_over_grpc_grpc_web_and_json() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let mut checked = 0;
    for service in descriptors::pool().services() {
        if !service.full_name().starts_with("cppcc.members.v1.") {
            continue;
        }
        for method in service.methods() {
            let name = format!("{}/{}", service.full_name(), method.name());
            let path = format!("/{name}");
            let role = cppcc_kit::access::callers(&name)
                .and_then(|r| r.first().copied())
                .unwrap_or(Role::Admin);
            let token = token(role);
            if method.is_server_streaming() {
                continue;
            }
            let grpc = grpc_raw(gateway.channel(), &path, Some(&token), None).await;
            let (web_messages, web_trailers) =
                grpc_web_call(&gateway, &path, &token, &[0, 0, 0, 0, 0], false).await;
            let web_code = Code::from(
                web_trailers["grpc-status"]
                    .parse::<i32>()
                    .expect("a numeric grpc-status"),
            );
            let (http, body) = json_call(&gateway, &path, Some(&token), "{}").await;
            let json = json_code(http, &body);
            assert_eq!(
                (grpc.code(), web_code, json),
                (grpc.code(), grpc.code(), grpc.code()),
                "{name} as {role}: gRPC {grpc:?}, gRPC-Web {web_trailers:?}, JSON {http} {body}"
            );
            assert!(
                !matches!(
                    grpc.code(),
                    Code::Unimplemented
                        | Code::Unauthenticated
                        | Code::Unavailable
                        | Code::Internal
                ) && reason(&grpc) != "POLICY_DENIED",
                "{name} as {role} did not reach the service: {grpc:?}"
            );
            if grpc.code() == Code::Ok {
                assert_eq!(web_messages.len(), 1, "{name}: one answer over gRPC-Web");
                assert!(body.is_object(), "{name}: a JSON object");
            } else {
                assert_eq!(
                    body["status"],
                    json::code_name(grpc.code()),
                    "{name}: {body}"
                );
                assert_eq!(body["message"], grpc.message(), "{name}: the same message");
                assert!(body["details"].is_array());
            }
            checked += 1;
        }
    }
    assert!(checked >= 70, "only {checked} members methods checked");
    gateway.stop().await;
    members.stop().await.unwrap();
}

use cppcc_gateway::json;

/// A committee created over JSON reads back over gRPC-Web (binary and
/// text) and gRPC, with the same fields.
#[tokio::test]
async fn a_committee_made_over_json_reads_back_over_grpc_web_and_grpc() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let admin = token(Role::Admin);
    let (http, created) = json_call(
        &gateway,
        "/cppcc.members.v1.CommitteeService/CreateCommittee",
        Some(&admin),
        r#"{"committeeId": "suixian",
            "committee": {"displayName": "政协随县委员会", "level": "COMMITTEE_LEVEL_COUNTY",
                          "currentTerm": 4, "termStartDate": {"year": 2021, "month": 12, "day": 28},
                          "regionCode": "421321"}}"#,
    )
    .await;
    assert_eq!(http, 200, "{created}");
    assert_eq!(created["committee"]["name"], SUIXIAN);
    assert_eq!(created["committee"]["level"], "COMMITTEE_LEVEL_COUNTY");
    // Defaults are written out too.
    assert_eq!(created["committee"]["parent"], "");

    let request = mpb::GetCommitteeRequest {
        name: SUIXIAN.into(),
    }
    .encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(&request);
    for text in [false, true] {
        let (messages, trailers) = grpc_web_call(
            &gateway,
            "/cppcc.members.v1.CommitteeService/GetCommittee",
            &admin,
            &framed,
            text,
        )
        .await;
        assert_eq!(trailers["grpc-status"], "0", "{trailers:?}");
        let got = mpb::GetCommitteeResponse::decode(&messages[0][..]).unwrap();
        assert_eq!(got.committee.unwrap().display_name, "政协随县委员会");
    }

    let mut client = mpb::committee_service_client::CommitteeServiceClient::with_interceptor(
        gateway.channel(),
        Bearer::new(&admin),
    );
    let got = client
        .get_committee(mpb::GetCommitteeRequest {
            name: SUIXIAN.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .committee
        .unwrap();
    assert_eq!(got.display_name, "政协随县委员会");
    assert_eq!(got.current_term, 4);

    // The error of a second create, over JSON: the code, the message and
    // the details as the service gave them.
    let (http, again) = json_call(
        &gateway,
        "/cppcc.members.v1.CommitteeService/CreateCommittee",
        Some(&admin),
        r#"{"committeeId": "suixian", "committee": {"displayName": "x", "level": "COMMITTEE_LEVEL_COUNTY", "currentTerm": 4}}"#,
    )
    .await;
    assert_eq!(http, 409, "{again}");
    assert_eq!(again["status"], "ALREADY_EXISTS");
    assert!(
        again["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
    );

    // Reflection and health for the suite, at the gateway, with no token.
    let mut health = tonic_health::pb::health_client::HealthClient::new(gateway.channel());
    let mut serving = false;
    for _ in 0..50 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "cppcc.members.v1.CommitteeService".into(),
            })
            .await
            .map(|r| r.into_inner().status)
            .ok();
        if status == Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32) {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(serving, "the gateway says the members service serves");
    let proposals = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cppcc.proposals.v1.ProposalService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        proposals,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32,
        "nothing serves proposals here"
    );
    // Methods no contract has count under one label, however many.
    for n in 0..5 {
        let path = format!("/cppcc.members.v1.CommitteeService/Made{n}");
        let s = grpc_raw(gateway.channel(), &path, Some(&token(Role::Admin)), None).await;
        assert_eq!(s.code(), Code::Unimplemented, "{s:?}");
    }
    let get = |url: String| async move {
        let out = tokio::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", &url])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse::<u16>().unwrap(), body.to_owned())
    };
    // Metrics are the admin port's alone.
    let (http, public) = get(format!("{}/metrics", gateway.url())).await;
    assert_ne!(http, 200, "{public}");
    assert!(!public.contains("cppcc_gateway_requests_total"), "{public}");
    let (http, metrics) = get(format!("http://{}/metrics", gateway.admin_addr)).await;
    assert_eq!(http, 200);
    assert!(
        metrics.contains(
            "cppcc_gateway_requests_total{method=\"/cppcc.members.v1.CommitteeService/GetCommittee\",code=\"OK\",caller=\"admin@suixian\"} 3"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "cppcc_gateway_requests_total{method=\"unknown\",code=\"UNIMPLEMENTED\",caller=\"admin@suixian\"} 5"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("Made0"), "{metrics}");
    gateway.stop().await;
    members.stop().await.unwrap();
}
