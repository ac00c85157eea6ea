//! How answers cross the gateway: a service's trailers-only refusal stays
//! one HEADERS frame, details and all; a long input is quoted briefly and
//! harms no call beside it on the shared connection; the packages every
//! service serves reach the service the caller names.

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::Bearer;
use cppcc_proto::audit::v1 as apb;
use cppcc_proto::members::v1 as mpb;
use futures::StreamExt as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use super::*;

/// Sends one call over a bare HTTP/2 connection and says how the answer
/// was framed: its headers, and whether they ended the stream.
async fn raw_h2(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    message: &[u8],
) -> (http::HeaderMap, bool) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    let mut body = vec![0];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(message);
    send.send_data(body.into(), true).unwrap();
    let response = response.await.unwrap();
    let ended = response.body().is_end_stream();
    (response.headers().clone(), ended)
}

#[tokio::test]
async fn a_refusal_stays_trailers_only_with_its_details() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let path = "/cppcc.members.v1.MemberService/GetMember";
    let request = prost::Message::encode_to_vec(&mpb::GetMemberRequest {
        name: "committees/suixian/members/nonexistent".into(),
        ..Default::default()
    });
    let admin = token(Role::Admin);
    let direct = raw_h2(members.addr(), path, &admin, &request).await;
    let through = raw_h2(gateway.addr, path, &admin, &request).await;
    for (headers, ended) in [&direct, &through] {
        assert!(ended, "one HEADERS frame ends the stream: {headers:?}");
        assert_eq!(headers["grpc-status"], "3", "{headers:?}");
    }
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert_eq!(
            direct.0.get(name),
            through.0.get(name),
            "{name} arrives unchanged"
        );
    }
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// The 64 KiB name is INVALID_ARGUMENT with a short message, straight and
/// through the gateway, while ten callers' thousand good calls are in
/// flight on the gateway's one connection to the service: all succeed.
#[tokio::test]
async fn a_long_name_is_refused_briefly_and_harms_no_call_beside_it() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    create_suixian(gateway.channel()).await;
    let long = format!("committees/suixian/members/{}", "名".repeat(64 * 1024 / 3));
    let admin = token(Role::Admin);
    let long_call = |channel: tonic::transport::Channel| {
        let (long, admin) = (long.clone(), admin.clone());
        async move {
            mpb::member_service_client::MemberServiceClient::with_interceptor(
                channel,
                Bearer::new(&admin),
            )
            .get_member(mpb::GetMemberRequest {
                name: long,
                ..Default::default()
            })
            .await
            .unwrap_err()
        }
    };
    for channel in [members.channel(), gateway.channel()] {
        let s = long_call(channel).await;
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert!(s.message().len() < 600, "{} bytes", s.message().len());
        let bad = s.get_details_bad_request().expect("the field is named");
        assert_eq!(bad.field_violations[0].field, "name");
    }

    let good = futures::future::join_all((0..10).map(|caller| {
        let token = cppcc_tests::token_with(TokenRequest {
            subject: &format!("caller-{caller}"),
            role: Role::Admin,
            committee: "suixian",
            member: None,
            unit: None,
            ttl: Duration::from_secs(3600),
        });
        let client = mpb::committee_service_client::CommitteeServiceClient::with_interceptor(
            gateway.channel(),
            Bearer::new(&token),
        );
        futures::stream::iter(0..100)
            .map(move |_| {
                let mut c = client.clone();
                async move {
                    c.get_committee(mpb::GetCommitteeRequest {
                        name: SUIXIAN.into(),
                    })
                    .await
                    .map(|_| ())
                }
            })
            .buffer_unordered(100)
            .collect::<Vec<_>>()
    }));
    let bad = futures::future::join_all((0..20).map(|_| long_call(gateway.channel())));
    let (good, bad) = tokio::join!(good, bad);
    let good: Vec<_> = good.into_iter().flatten().collect();
    assert_eq!(good.len(), 1000);
    let failed: Vec<_> = good.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert!(
        bad.iter().all(|s| s.code() == Code::InvalidArgument),
        "{bad:?}"
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// The audit log and the event stream every service has are reached by
/// naming the service in `cppcc-service`.
#[tokio::test]
async fn shared_packages_reach_the_service_the_call_names() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let verify = |owner: Option<&'static str>| {
        let channel = gateway.channel();
        async move {
            let mut request = tonic::Request::new(apb::VerifyAuditLogRequest {});
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {}", token(Role::Auditor)).parse().unwrap(),
            );
            if let Some(owner) = owner {
                request
                    .metadata_mut()
                    .insert("cppcc-service", owner.parse().unwrap());
            }
            apb::audit_service_client::AuditServiceClient::new(channel)
                .verify_audit_log(request)
                .await
        }
    };
    let answer = verify(Some("members")).await.unwrap().into_inner();
    assert!(answer.intact, "{answer:?}");
    assert!(verify(Some("cppcc.members.v1")).await.is_ok());
    let s = verify(Some("treasury")).await.unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    assert!(s.message().contains("members"), "{}", s.message());
    // Without the header: the route given for the package itself (here a
    // port where nothing listens).
    assert_eq!(verify(None).await.unwrap_err().code(), Code::Unavailable);
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// A server stream through the gateway ends at its deadline with
/// DEADLINE_EXCEEDED, though the service would stream on.
#[tokio::test]
async fn a_stream_ends_at_its_deadline() {
    use cppcc_proto::events::v1 as epb;
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    create_suixian(gateway.channel()).await;
    let mut request = tonic::Request::new(epb::WatchRequest::default());
    let md = request.metadata_mut();
    md.insert(
        "authorization",
        format!("Bearer {}", token(Role::Service)).parse().unwrap(),
    );
    md.insert("cppcc-service", "members".parse().unwrap());
    // Written by hand: only the gateway keeps this deadline.
    md.insert("grpc-timeout", "700m".parse().unwrap());
    let started = std::time::Instant::now();
    let mut stream =
        epb::event_stream_service_client::EventStreamServiceClient::new(gateway.channel())
            .watch(request)
            .await
            .unwrap()
            .into_inner();
    let mut messages = 0;
    let read = async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => messages += 1,
                Ok(None) => break tonic::Status::ok("the stream ended"),
                Err(s) => break s,
            }
        }
    };
    let end = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the stream ends by its deadline");
    assert!(messages >= 1, "the committee's creation is an event");
    assert_eq!(end.code(), Code::DeadlineExceeded, "{end:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// A call without a token is refused on its headers: the answer comes
/// while the caller has sent no byte of its body.
#[tokio::test]
async fn a_call_without_a_token_is_refused_before_its_body() {
    let gateway = Gateway::start(&routes(closed_port().await, closed_port().await), |_| {}).await;
    let tcp = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!(
        "http://{}/cppcc.members.v1.MemberService/GetMember",
        gateway.addr
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .unwrap();
    // The body stays open and empty.
    let (response, _body) = client.send_request(request, false).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("answered without the body")
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "16", "{response:?}");
    gateway.stop().await;
}

/// Past `--max-connections`, a new connection is closed at once; the
/// ones served go on.
#[tokio::test]
async fn connections_past_the_cap_are_closed() {
    use tokio::io::AsyncReadExt as _;
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |c| {
        c.max_connections = 2
    })
    .await;
    let held: Vec<_> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(gateway.addr)))
            .await;
    // Accepted in turn: give the gateway a moment to take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("the third connection is closed, not left hanging");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = grpc_raw(
        gateway.channel(),
        "/cppcc.members.v1.CommitteeService/GetCommittee",
        Some(&token(Role::Admin)),
        None,
    )
    .await;
    assert_ne!(
        s.code(),
        Code::Unavailable,
        "a freed place serves again: {s:?}"
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}

/// A refused caller still sending its body reads its refusal, over
/// HTTP/1.1 and HTTP/2, rather than a reset: the gateway answers at once
/// and reads the rest (a bounded amount) before it lets go.
#[tokio::test]
async fn a_refused_caller_still_sending_reads_its_refusal() {
    let gateway = Gateway::start(&routes(closed_port().await, closed_port().await), |_| {}).await;
    let url = format!("{}/cppcc.members.v1.MemberService/GetMember", gateway.url());
    let body = format!(r#"{{"name": "{}"}}"#, "x".repeat(60_000));
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        for _ in 0..20 {
            let (code, answer) = curl(
                &[
                    version,
                    "-H",
                    "content-type: application/json",
                    url.as_str(),
                ],
                body.as_bytes(),
            )
            .await;
            let answer = String::from_utf8_lossy(&answer);
            assert_eq!(code, 401, "{version}: {answer}");
            assert!(answer.contains("TOKEN_MISSING"), "{version}: {answer}");
        }
    }
    gateway.stop().await;
}
