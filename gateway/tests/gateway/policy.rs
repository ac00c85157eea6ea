//! Every method × every role against the contracts' declared callers: what
//! they refuse the gateway refuses (PERMISSION_DENIED, POLICY_DENIED) before
//! any service sees it; what they allow goes through to the service.

use cppcc_gateway::descriptors;
use cppcc_kit::access::{self, Decision};
use cppcc_kit::auth::Role;
use tonic::Code;

use super::*;

#[tokio::test]
async fn every_method_and_role_is_decided_by_the_contracts() {
    let db = cppcc_tests::database().await;
    let members = members(&db).await;
    let gateway = Gateway::start(&routes(members.addr(), closed_port().await), |_| {}).await;
    let tokens: Vec<(Role, String)> = Role::ALL.into_iter().map(|r| (r, token(r))).collect();
    let mut calls = Vec::new();
    for service in descriptors::pool().services() {
        if !service.full_name().starts_with("cppcc.") {
            continue;
        }
        for method in service.methods() {
            if method.is_server_streaming() {
                continue;
            }
            let name = format!("{}/{}", service.full_name(), method.name());
            for (role, token) in &tokens {
                calls.push((name.clone(), *role, token.clone()));
            }
        }
    }
    assert!(calls.len() > 1500, "{} calls", calls.len());
    let channel = gateway.channel();
    use futures::StreamExt as _;
    let answers: Vec<tonic::Status> =
        futures::stream::iter(calls.iter().map(|(name, _, token)| {
            let channel = channel.clone();
            async move { grpc_raw(channel, &format!("/{name}"), Some(token), None).await }
        }))
        .buffered(64)
        .collect()
        .await;
    let mut wrong = Vec::new();
    for ((name, role, _), status) in calls.iter().zip(answers) {
        let denied_here =
            status.code() == Code::PermissionDenied && reason(&status) == "POLICY_DENIED";
        let expected = access::decide(name, *role);
        assert_ne!(expected, Decision::Unlisted, "{name} declares its callers");
        if denied_here != (expected == Decision::Deny) {
            wrong.push(format!(
                "{name} as {role}: table {expected:?}, answer {status:?}"
            ));
        }
        if denied_here {
            assert!(
                status
                    .message()
                    .contains(&format!("the {role} role may not call {name}")),
                "{}",
                status.message()
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    gateway.stop().await;
    members.stop().await.unwrap();
}
