use cppcc_kit::auth::Role;
use cppcc_kit::client::Bearer;
use cppcc_proto::common::v1::CommitteeLevel;
use cppcc_proto::members::v1 as pb;
use pb::committee_service_client::CommitteeServiceClient;

#[tokio::test]
async fn smoke() {
    let db = cppcc_tests::database().await;
    let config = cppcc_members::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database: db.args("members"),
        auth: cppcc_tests::auth_args(),
        pii: cppcc_tests::pii_args(),
        server: cppcc_tests::server_args(),
        telemetry: cppcc_kit::telemetry::TelemetryArgs { log_format: Default::default(), log_filter: "info".into() },
    };
    let running = cppcc_tests::serve(cppcc_members::server(&config).await.unwrap()).await;
    let token = cppcc_tests::token(Role::Admin, "suixian");
    let mut c = CommitteeServiceClient::with_interceptor(running.channel(), Bearer::new(&token));
    let r = c
        .create_committee(pb::CreateCommitteeRequest {
            committee_id: "suixian".into(),
            committee: Some(pb::Committee {
                display_name: "政协随县委员会".into(),
                level: CommitteeLevel::County as i32,
                current_term: 4,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    println!("{:?}", r.into_inner());
    let s = c.get_committee_settings(pb::GetCommitteeSettingsRequest { name: "committees/suixian/settings".into() }).await.unwrap();
    println!("{:?}", s.into_inner());
    running.stop().await.unwrap();
}
