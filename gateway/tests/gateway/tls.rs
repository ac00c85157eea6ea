//! TLS on the public port and client certificates: a city system calling
//! with a certificate from the client CA acts as the upper committee of
//! the committee its certificate names, over gRPC (tonic over rustls) and
//! JSON (curl); callers without a certificate still send tokens; a
//! certificate from another CA, or one that names no committee, is refused.

use std::sync::Arc;

use cppcc_kit::client::Bearer;
use cppcc_proto::members::v1 as mpb;
use cppcc_tests::tls::{Leaf, TestCa as Ca, Usage as ExtendedKeyUsagePurpose, pem_dir, write};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::*;

/// A gRPC channel over TLS to the gateway, trusting `ca`, with the client
/// certificate `client` when given.
async fn tls_channel(
    addr: SocketAddr,
    ca: &Ca,
    client: Option<&Leaf>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der().to_vec())).unwrap();
    #[allow(deprecated)] // as the gateway's: ring
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some(leaf) => {
            use rustls::pki_types::pem::PemObject as _;
            let chain = vec![CertificateDer::from_pem_slice(leaf.cert.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tonic::transport::Endpoint::from_static("http://gateway.test")
        .connect_with_connector(tower::service_fn(move |_| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = ServerName::try_from("127.0.0.1").unwrap();
                let tls = connector.connect(name, tcp).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
}

/// A JSON call with curl over TLS: the HTTP status and the body.
async fn curl_json(
    url: &str,
    ca: &str,
    client: Option<(&str, &str)>,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let auth = token.map(|t| format!("authorization: Bearer {t}"));
    let mut args = vec!["--cacert", ca, "-H", "content-type: application/json", url];
    if let Some((cert, key)) = client {
        args.extend(["--cert", cert, "--key", key]);
    }
    if let Some(a) = &auth {
        args.extend(["-H", a.as_str()]);
    }
    let (code, body) = curl(&args, body.as_bytes()).await;
    (code, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_city_system_calls_with_its_certificate_as_the_upper_committee() {
    let server_ca = Ca::new("cppcc test server CA");
    let client_ca = Ca::new("cppcc test client CA");
    let rogue_ca = Ca::new("someone else's CA");
    let server = server_ca.issue(
        "gateway",
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = ExtendedKeyUsagePurpose::ClientAuth;
    let suizhou = client_ca.issue("suizhou", &[], client.clone());
    let xiaolin = client_ca.issue("xiaolin", &[], client.clone());
    let unnamed = client_ca.issue("Suizhou City System", &[], client.clone());
    let rogue = rogue_ca.issue("suizhou", &[], client);

    let dir = pem_dir("cppcc-gateway-tls");
    let server_ca_pem = write(&dir, "server-ca.pem", &server_ca.pem());
    let client_ca_pem = write(&dir, "client-ca.pem", &client_ca.pem());
    let files = |name: &str, leaf: &Leaf| {
        (
            write(&dir, &format!("{name}.pem"), &leaf.cert),
            write(&dir, &format!("{name}.key"), &leaf.key),
        )
    };
    let (server_cert, server_key) = files("server", &server);
    let (suizhou_cert, suizhou_key) = files("suizhou", &suizhou);
    let (unnamed_cert, unnamed_key) = files("unnamed", &unnamed);
    let (rogue_cert, rogue_key) = files("rogue", &rogue);

    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |c| {
        c.tls_cert = Some(server_cert.clone().into());
        c.tls_key = Some(server_key.clone().into());
        c.client_ca = Some(client_ca_pem.clone().into());
        c.service_key = Some(cppcc_tests::signing_key());
    })
    .await;
    let url = |method: &str| {
        format!(
            "https://127.0.0.1:{}/cppcc.members.v1.CommitteeService/{method}",
            gateway.addr.port()
        )
    };

    // A caller without a certificate sends a token, as before: a city and
    // a county below it are set up over TLS.
    let setup = token(Role::Service);
    let admin = token(Role::Admin);
    let admin_token = admin.clone();
    for (id, level, parent) in [
        ("suizhou", "COMMITTEE_LEVEL_CITY", ""),
        ("suixian", "COMMITTEE_LEVEL_COUNTY", "committees/suizhou"),
    ] {
        let body = format!(
            r#"{{"committeeId": "{id}", "committee": {{"displayName": "{id}", "level": "{level}", "currentTerm": 1, "parent": "{parent}"}}}}"#
        );
        let (code, answer) = curl_json(
            &url("CreateCommittee"),
            &server_ca_pem,
            None,
            Some(&setup),
            &body,
        )
        .await;
        assert_eq!(code, 200, "{answer}");
    }
    let get = format!(r#"{{"name": "{SUIXIAN}"}}"#);

    // 随州's system, by certificate alone, reads the county below it: over
    // JSON with curl …
    let (code, answer) = curl_json(
        &url("GetCommittee"),
        &server_ca_pem,
        Some((&suizhou_cert, &suizhou_key)),
        None,
        &get,
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer.contains(r#""parent":"committees/suizhou""#),
        "{answer}"
    );

    // … and over gRPC, where it is the upper committee role: the policy
    // refuses it what that role may not do.
    let channel = tls_channel(gateway.addr, &server_ca, Some(&suizhou))
        .await
        .unwrap();
    let mut committees = mpb::committee_service_client::CommitteeServiceClient::new(channel);
    let got = committees
        .get_committee(mpb::GetCommitteeRequest {
            name: SUIXIAN.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.committee.unwrap().parent, "committees/suizhou");
    let refused = committees
        .create_committee(mpb::CreateCommitteeRequest {
            committee_id: "zengdu".into(),
            committee: Some(mpb::Committee {
                display_name: "曾都区".into(),
                level: cppcc_proto::common::v1::CommitteeLevel::County as i32,
                current_term: 1,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("upper_committee"),
        "{}",
        refused.message()
    );

    // The services check again: a system of a committee not above 随县
    // does not see it.
    let channel = tls_channel(gateway.addr, &server_ca, Some(&xiaolin))
        .await
        .unwrap();
    let unseen = mpb::committee_service_client::CommitteeServiceClient::new(channel)
        .get_committee(mpb::GetCommitteeRequest {
            name: SUIXIAN.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unseen.code(), Code::NotFound, "{unseen:?}");

    // A token still wins over a certificate: the caller said who it is.
    let channel = tls_channel(gateway.addr, &server_ca, Some(&suizhou))
        .await
        .unwrap();
    let mut as_admin = mpb::committee_service_client::CommitteeServiceClient::with_interceptor(
        channel,
        Bearer::new(&admin),
    );
    as_admin
        .get_committee(mpb::GetCommitteeRequest {
            name: SUIXIAN.into(),
        })
        .await
        .unwrap();

    // A certificate whose common name is no committee id names no caller.
    let (code, answer) = curl_json(
        &url("GetCommittee"),
        &server_ca_pem,
        Some((&unnamed_cert, &unnamed_key)),
        None,
        &get,
    )
    .await;
    assert_eq!(code, 401, "{answer}");
    assert!(answer.contains("CERTIFICATE_UNUSABLE"), "{answer}");
    assert!(answer.contains("is not a committee id"), "{answer}");

    // Without a certificate or a token: no caller.
    let (code, answer) = curl_json(&url("GetCommittee"), &server_ca_pem, None, None, &get).await;
    assert_eq!(code, 401, "{answer}");
    assert!(answer.contains("TOKEN_MISSING"), "{answer}");

    // A certificate from another CA does not get through the handshake,
    // nor does a plaintext call to the TLS port.
    let (code, _) = curl_json(
        &url("GetCommittee"),
        &server_ca_pem,
        Some((&rogue_cert, &rogue_key)),
        None,
        &get,
    )
    .await;
    assert_eq!(
        code, 0,
        "curl reports no HTTP status when the handshake fails"
    );
    let rogue_grpc = async {
        let channel = tls_channel(gateway.addr, &server_ca, Some(&rogue)).await?;
        mpb::committee_service_client::CommitteeServiceClient::new(channel)
            .get_committee(mpb::GetCommitteeRequest {
                name: SUIXIAN.into(),
            })
            .await
            .map_err(|s| s.into())
            .map(drop)
    };
    let result: Result<(), Box<dyn std::error::Error>> = rogue_grpc.await;
    assert!(result.is_err(), "a rogue certificate is refused");
    let plain = grpc_raw(
        gateway.channel(),
        "/cppcc.members.v1.CommitteeService/GetCommittee",
        Some(&admin),
        None,
    )
    .await;
    // (tonic says a broken connection is UNKNOWN or UNAVAILABLE.)
    assert!(
        matches!(plain.code(), Code::Unavailable | Code::Unknown)
            && plain.message().contains("transport error"),
        "{plain:?}"
    );

    // Probes and scrapers use the plain admin port: health and metrics,
    // and nothing else.
    let admin = cppcc_kit::client::channel(&format!("http://{}", gateway.admin_addr)).unwrap();
    let health = tonic_health::pb::health_client::HealthClient::new(admin.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let metrics_url = format!("http://{}/metrics", gateway.admin_addr);
    let (code, metrics) = curl(&["-X", "GET", metrics_url.as_str()], b"").await;
    assert_eq!(code, 200);
    assert!(
        String::from_utf8_lossy(&metrics).contains("cppcc_gateway_requests_total"),
        "{}",
        String::from_utf8_lossy(&metrics)
    );
    let behind = grpc_raw(
        admin,
        "/cppcc.members.v1.CommitteeService/GetCommittee",
        Some(&admin_token),
        None,
    )
    .await;
    assert_ne!(behind.code(), Code::Ok, "{behind:?}");
    let get_url = format!(
        "http://{}/cppcc.members.v1.CommitteeService/GetCommittee",
        gateway.admin_addr
    );
    let (code, _) = curl(
        &["-H", "content-type: application/json", get_url.as_str()],
        get.as_bytes(),
    )
    .await;
    assert_eq!(code, 404);

    gateway.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_ca_needs_a_service_key_the_gateway_trusts() {
    let dir = pem_dir("cppcc-gateway-tls");
    let ca = Ca::new("ca");
    let server = ca.issue("gw", &["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
    let cert = write(&dir, "server.pem", &server.cert);
    let key = write(&dir, "server.key", &server.key);
    let ca_pem = write(&dir, "ca.pem", &ca.pem());
    let base = [
        "cppcc-gateway",
        "--route",
        "cppcc.members.v1=http://127.0.0.1:1",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--client-ca",
        &ca_pem,
    ];
    // Without a service key the flags do not parse.
    let missing = Config::try_parse_from(base).unwrap_err().to_string();
    assert!(missing.contains("--service-key"), "{missing}");
    // With a key the gateway's own keys refuse, it does not start.
    let (stranger, _) = cppcc_kit::auth::generate_ed25519_pem();
    let stranger = write(&dir, "stranger.key", &stranger);
    let mut config =
        Config::try_parse_from(base.iter().copied().chain(["--service-key", &stranger])).unwrap();
    config.auth = cppcc_tests::auth_args();
    let refused = config
        .build()
        .err()
        .expect("an untrusted key is refused")
        .to_string();
    assert!(refused.contains("--jwt-public-key"), "{refused}");
    // A key file that is not PEM is named.
    let mut config = Config::try_parse_from(
        base.iter()
            .copied()
            .chain(["--service-key", "/nonexistent"]),
    )
    .unwrap();
    config.auth = cppcc_tests::auth_args();
    let unread = config
        .build()
        .err()
        .expect("a missing key file is refused")
        .to_string();
    assert!(unread.contains("/nonexistent"), "{unread}");
    let _ = std::fs::remove_dir_all(dir);
}
