//! Bad input at the gateway: each gets a precise error, and nothing reaches
//! a service that should not.

use std::time::Instant;

use cppcc_kit::auth::{Role, TokenRequest};
use tonic::Code;
use tonic_types::StatusExt as _;

use super::*;

const GET: &str = "/cppcc.members.v1.CommitteeService/GetCommittee";
const CREATE: &str = "/cppcc.members.v1.CommitteeService/CreateCommittee";

#[tokio::test]
async fn tokens_roles_bodies_and_json_are_checked() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |c| {
        c.max_request_bytes = 1024;
    })
    .await;

    // No token; an expired one; a forged one.
    let none = grpc_raw(gateway.channel(), GET, None, None).await;
    assert_eq!(
        (none.code(), reason(&none).as_str()),
        (Code::Unauthenticated, "TOKEN_MISSING")
    );
    let expired = cppcc_tests::token_issued_at(
        TokenRequest {
            subject: "old",
            role: Role::Admin,
            committee: "suixian",
            member: None,
            unit: None,
            ttl: Duration::from_secs(60),
        },
        cppcc_kit::auth::now() - 3600,
    );
    let s = grpc_raw(gateway.channel(), GET, Some(&expired), None).await;
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::Unauthenticated, "TOKEN_EXPIRED")
    );
    let good = token(Role::Admin);
    let (head, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    let s = grpc_raw(gateway.channel(), GET, Some(&forged), None).await;
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::Unauthenticated, "TOKEN_SIGNATURE_INVALID")
    );
    let (http, body) = json_call(&gateway, GET, None, "{}").await;
    assert_eq!(
        (http, body["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    // A role calling a method it may not.
    let s = grpc_raw(gateway.channel(), CREATE, Some(&token(Role::Auditor)), None).await;
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::PermissionDenied, "POLICY_DENIED")
    );
    assert!(
        s.message().contains("the auditor role may not call"),
        "{}",
        s.message()
    );
    let (http, body) = json_call(&gateway, CREATE, Some(&token(Role::Auditor)), "{}").await;
    assert_eq!(
        (http, body["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );

    // A body over the limit, over JSON and gRPC.
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2000));
    let (http, body) = json_call(&gateway, GET, Some(&good), &big).await;
    assert_eq!(http, 413, "{body}");
    assert_eq!(body["status"], "RESOURCE_EXHAUSTED");
    assert!(body["message"].as_str().unwrap().contains("1024 bytes"));
    let mut client = cppcc_proto::members::v1::committee_service_client::CommitteeServiceClient::with_interceptor(
        gateway.channel(),
        cppcc_kit::client::Bearer::new(&good),
    );
    let s = client
        .get_committee(cppcc_proto::members::v1::GetCommitteeRequest {
            name: "x".repeat(2000),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::ResourceExhausted, "REQUEST_TOO_LARGE")
    );

    // Malformed JSON; JSON for an unknown method; unknown fields.
    let (http, body) = json_call(&gateway, GET, Some(&good), r#"{"name": "#).await;
    assert_eq!(
        (http, body["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert_eq!(bad_request_field(&body), Some("body"), "{body}");
    let (http, body) = json_call(
        &gateway,
        "/cppcc.members.v1.CommitteeService/Fly",
        Some(&good),
        "{}",
    )
    .await;
    assert_eq!(
        (http, body["status"].as_str()),
        (404, Some("UNIMPLEMENTED"))
    );
    let (http, body) = json_call(
        &gateway,
        GET,
        Some(&good),
        r#"{"nmae": "committees/suixian"}"#,
    )
    .await;
    assert_eq!(
        (http, body["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert!(body["message"].as_str().unwrap().contains("nmae"), "{body}");

    // A gRPC-Web request whose frame says more bytes than it has.
    let (_, trailers) = grpc_web_call(&gateway, GET, &good, &[0, 0, 0, 0, 9, 1, 2], false).await;
    assert_eq!(trailers["grpc-status"], "3", "{trailers:?}");
    assert!(
        trailers["grpc-message"].contains("says%209%20bytes")
            || trailers["grpc-message"].contains("says 9 bytes"),
        "{trailers:?}"
    );
    // And one that is not base64 in text mode.
    let (code, out) = curl(
        &[
            "-H",
            "content-type: application/grpc-web-text",
            "-H",
            &format!("authorization: Bearer {good}"),
            &format!("{}{GET}", gateway.url()),
        ],
        b"%%%%",
    )
    .await;
    assert_eq!(code, 200);
    assert!(!out.is_empty());

    // Unknown gRPC method and unknown service.
    let s = grpc_raw(
        gateway.channel(),
        "/cppcc.members.v1.CommitteeService/Fly",
        Some(&good),
        None,
    )
    .await;
    assert_eq!(s.code(), Code::Unimplemented, "{s:?}");
    let s = grpc_raw(gateway.channel(), "/other.v1.Thing/Do", Some(&good), None).await;
    assert_eq!(s.code(), Code::Unimplemented, "{s:?}");
    assert!(
        s.message().contains("no service `other.v1.Thing`"),
        "{}",
        s.message()
    );

    gateway.stop().await;
    members.stop().await.unwrap();
}

#[tokio::test]
async fn callers_over_their_limits_are_told_when_to_retry() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |c| {
        c.rate_limit = 1.0;
        c.rate_burst = 3.0;
    })
    .await;
    let admin = token(Role::Admin);
    let body = r#"{"name": "committees/suixian"}"#;
    for _ in 0..3 {
        let (http, _) = json_call(&gateway, GET, Some(&admin), body).await;
        assert_eq!(http, 404, "within the burst the call reaches the service");
    }
    let s = grpc_raw(gateway.channel(), GET, Some(&admin), None).await;
    assert_eq!(
        (s.code(), reason(&s).as_str()),
        (Code::ResourceExhausted, "RATE_LIMITED")
    );
    let retry = s.get_details_retry_info().unwrap().retry_delay.unwrap();
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(1),
        "{retry:?}"
    );
    let (http, answer) = json_call(&gateway, GET, Some(&admin), body).await;
    assert_eq!(
        (http, answer["status"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED"))
    );
    // Another caller has its own allowance.
    let (http, _) = json_call(&gateway, GET, Some(&token(Role::Staff)), body).await;
    assert_eq!(http, 404);
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// The consultations activity service, hung: it takes every call and never
/// answers.
#[derive(Clone)]
struct Hung;

impl tonic::server::NamedService for Hung {
    const NAME: &'static str = "cppcc.consultations.v1.ActivityService";
}

impl tower::Service<http::Request<tonic::body::Body>> for Hung {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Pending<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        std::future::pending()
    }
}

/// A slow upstream: it answers its health checks (so it stays in
/// rotation) and never its calls.
async fn slow_upstream() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_, health) = tonic_health::server::health_reporter();
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .add_service(Hung)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    (addr, task)
}

#[tokio::test]
async fn a_down_upstream_is_unavailable_and_a_slow_one_runs_out_of_time() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let (slow, _hold) = slow_upstream().await;
    let mut routes = routes(members.addr(), closed_port().await);
    routes.push(format!("cppcc.consultations.v1.ActivityService={slow}"));
    let gateway = Gateway::start(&routes, |c| {
        c.max_timeout = Duration::from_secs(2);
        c.default_timeout = Duration::from_secs(1);
    })
    .await;
    let admin = token(Role::Admin);

    let started = Instant::now();
    let s = grpc_raw(
        gateway.channel(),
        "/cppcc.proposals.v1.ProposalService/GetProposal",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s.code(), Code::Unavailable, "{s:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once, not a hang"
    );

    let path = "/cppcc.consultations.v1.ActivityService/GetActivity";
    let started = Instant::now();
    // By curl, so that only the gateway keeps the deadline (tonic's
    // client would end the call itself at the same moment).
    let (code, answer) = grpc_curl(&gateway, path, &admin, "300m").await;
    assert_eq!(code, Some(Code::DeadlineExceeded as i32), "{answer}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // No deadline: the default applies; a long one is cut to the cap.
    let started = Instant::now();
    let s = grpc_raw(gateway.channel(), path, Some(&admin), None).await;
    assert_eq!(s.code(), Code::DeadlineExceeded);
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let s = grpc_raw(
        gateway.channel(),
        path,
        Some(&admin),
        Some(Duration::from_secs(3600)),
    )
    .await;
    assert_eq!(s.code(), Code::DeadlineExceeded);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let (http, body) = json_call(&gateway, path, Some(&admin), "{}").await;
    assert_eq!(
        (http, body["status"].as_str()),
        (504, Some("DEADLINE_EXCEEDED"))
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}
