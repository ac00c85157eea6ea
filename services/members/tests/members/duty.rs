//! Duty records: entries by the office, who may read them, and
//! corrections by reversal only.

use super::*;

use pb::duty_record_service_client::DutyRecordServiceClient;

fn entry(kind: DutyKind, d: Option<Date>, evidence: &str) -> pb::DutyRecord {
    pb::DutyRecord {
        kind: kind as i32,
        date: d,
        evidence: evidence.into(),
        ..Default::default()
    }
}

async fn record(
    d: &mut DutyRecordServiceClient<Authed>,
    member: &str,
    e: pb::DutyRecord,
    request_id: &str,
) -> Result<pb::DutyRecord, tonic::Status> {
    d.create_duty_record(pb::CreateDutyRecordRequest {
        parent: member.into(),
        duty_record: Some(e),
        request_id: request_id.into(),
    })
    .await
    .map(|r| r.into_inner().duty_record.unwrap())
}

async fn reverse(
    d: &mut DutyRecordServiceClient<Authed>,
    name: &str,
    reason: &str,
) -> Result<pb::DutyRecord, tonic::Status> {
    d.reverse_duty_record(pb::ReverseDutyRecordRequest {
        name: name.into(),
        reason: reason.into(),
    })
    .await
    .map(|r| r.into_inner().reversal.unwrap())
}

async fn list(
    d: &mut DutyRecordServiceClient<Authed>,
    parent: &str,
    filter: &str,
) -> Result<pb::ListDutyRecordsResponse, tonic::Status> {
    d.list_duty_records(pb::ListDutyRecordsRequest {
        parent: parent.into(),
        page_size: 0,
        page_token: String::new(),
        filter: filter.into(),
    })
    .await
    .map(|r| r.into_inner())
}

async fn rows(suite: &Suite) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM members.duty_record")
        .fetch_one(&mut suite.db.admin().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_office_records_entries_and_corrects_them_only_by_reversal() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let gone = create(&mut m, member("乙委员", 2, &seed.party))
        .await
        .unwrap();
    m.change_member_status(pb::ChangeMemberStatusRequest {
        name: gone.name.clone(),
        status: pb::MemberStatus::Resigned as i32,
        reason: "辞去委员".into(),
        effective_date: day(2023, 2, 1),
        etag: String::new(),
    })
    .await
    .unwrap();
    // A member of another committee (below 随县).
    create_committee(&suite, "xiaolin", SUIXIAN, &admin())
        .await
        .unwrap();
    let xiaolin = cppcc_tests::token(Role::Admin, "xiaolin");
    let mut mx = suite.members(&xiaolin);
    let xs = mx
        .create_sector(pb::CreateSectorRequest {
            parent: "committees/xiaolin".into(),
            sector: Some(pb::Sector {
                display_name: "中共".into(),
                kind: pb::SectorKind::Party as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .sector
        .unwrap();
    let other = mx
        .create_member(pb::CreateMemberRequest {
            parent: "committees/xiaolin".into(),
            member: Some(member("丙委员", 3, &xs.name)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();

    let mut d = suite.duty(&staff());
    let request_id = Uuid::now_v7().to_string();
    let deed = record(
        &mut d,
        &a.name,
        entry(DutyKind::PracticalDeed, day(2023, 5, 1), "为村里修路"),
        &request_id,
    )
    .await
    .unwrap();
    assert!(deed.name.starts_with(&format!("{}/dutyRecords/", a.name)));
    assert_eq!(deed.source_service, "staff");
    assert_eq!(deed.recorded.as_ref().unwrap().actor, "test-staff");
    let replay = record(
        &mut d,
        &a.name,
        entry(DutyKind::PracticalDeed, day(2023, 5, 1), "为村里修路"),
        &request_id,
    )
    .await
    .unwrap();
    assert_eq!(replay.name, deed.name, "a retried call records once");
    let speech = record(
        &mut d,
        &a.name,
        entry(DutyKind::PlenarySpeech, day(2023, 1, 10), "大会发言"),
        "",
    )
    .await
    .unwrap();
    assert_eq!(rows(&suite).await, 2);

    // Bad input, each precisely; nothing written.
    let bad = record(
        &mut d,
        &a.name,
        entry(DutyKind::Unspecified, day(2999, 1, 1), " "),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&bad),
        [
            "duty_record.kind",
            "duty_record.date",
            "duty_record.evidence"
        ]
    );
    let resigned = record(
        &mut d,
        &gone.name,
        entry(DutyKind::Training, day(2023, 3, 5), "培训"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(resigned.code(), Code::FailedPrecondition, "{resigned:?}");
    assert_eq!(precondition(&resigned), "MEMBER_NOT_ACTIVE");
    assert_eq!(info(&resigned, "current_state"), "MEMBER_STATUS_RESIGNED");
    let as_ours = format!(
        "{SUIXIAN}/members/{}",
        other.name.rsplit('/').next().unwrap()
    );
    let foreign = record(
        &mut d,
        &as_ours,
        entry(DutyKind::Training, day(2023, 1, 5), "培训"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound, "{foreign:?}");
    let theirs = record(
        &mut d,
        &other.name,
        entry(DutyKind::Training, day(2023, 1, 5), "培训"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        theirs.code(),
        Code::NotFound,
        "another committee's member does not exist for 随县's staff"
    );
    let by_leader = record(
        &mut suite.duty(&leader()),
        &a.name,
        entry(DutyKind::Training, day(2023, 1, 5), "培训"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(by_leader.code(), Code::PermissionDenied);
    // A member who joined in 2021 did nothing for the committee in 2020.
    let joined = create(
        &mut m,
        pb::Member {
            join_date: day(2021, 12, 28),
            ..member("丁委员", 4, &seed.party)
        },
    )
    .await
    .unwrap();
    let early = record(
        &mut d,
        &joined.name,
        entry(DutyKind::Training, day(2020, 5, 1), "培训"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&early), ["duty_record.date"]);
    assert_eq!(rows(&suite).await, 2);
    // An entry for a day the resigned member still served is recorded.
    let served = record(
        &mut d,
        &gone.name,
        entry(DutyKind::Training, day(2023, 1, 5), "岗前培训"),
        "",
    )
    .await
    .unwrap();
    assert!(served.name.starts_with(&gone.name));

    // Lists: one member's, or the committee's, filtered, oldest first.
    let mine = list(&mut d, &a.name, "").await.unwrap();
    let names: Vec<_> = mine.duty_records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [speech.name.as_str(), deed.name.as_str()]);
    assert_eq!(mine.total_size, 2);
    let deeds = list(
        &mut d,
        &format!("{SUIXIAN}/members/-"),
        "kind = DUTY_KIND_PRACTICAL_DEED AND date >= \"2023-02-01\"",
    )
    .await
    .unwrap();
    assert_eq!(deeds.total_size, 1);
    assert_eq!(deeds.duty_records[0].name, deed.name);
    let page = d
        .list_duty_records(pb::ListDutyRecordsRequest {
            parent: a.name.clone(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let next = d
        .list_duty_records(pb::ListDutyRecordsRequest {
            parent: a.name.clone(),
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.duty_records[0].name, deed.name);
    let bad_filter = list(&mut d, &a.name, "points > 3").await.unwrap_err();
    assert_eq!(fields(&bad_filter), ["filter"]);

    // A member reads its own record only.
    let own = member_token(Some(&a.name));
    assert_eq!(
        list(&mut suite.duty(&own), &a.name, "")
            .await
            .unwrap()
            .total_size,
        2
    );
    let others = member_token(Some(&gone.name));
    let hidden = list(&mut suite.duty(&others), &a.name, "")
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let everyone = list(&mut suite.duty(&own), &format!("{SUIXIAN}/members/-"), "")
        .await
        .unwrap_err();
    assert_eq!(everyone.code(), Code::PermissionDenied);
    let got = suite
        .duty(&others)
        .get_duty_record(pb::GetDutyRecordRequest {
            name: deed.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(got.code(), Code::NotFound);

    // Corrections are reversals: with a reason, once, never of a reversal.
    let no_reason = reverse(&mut d, &deed.name, "").await.unwrap_err();
    assert_eq!(fields(&no_reason), ["reason"]);
    let reversal = reverse(&mut d, &deed.name, "重复录入").await.unwrap();
    assert_eq!(reversal.reverses, deed.name);
    assert_eq!(reversal.kind, deed.kind);
    assert_eq!(reversal.date, deed.date);
    assert_eq!(reversal.recorded.as_ref().unwrap().reason, "重复录入");
    let original = d
        .get_duty_record(pb::GetDutyRecordRequest {
            name: deed.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .duty_record
        .unwrap();
    assert_eq!(original.reversed_by, reversal.name);
    let twice = reverse(&mut d, &deed.name, "再次").await.unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(precondition(&twice), "ALREADY_REVERSED");
    assert_eq!(info(&twice, "reversed_by"), reversal.name);
    let of_reversal = reverse(&mut d, &reversal.name, "撤销更正")
        .await
        .unwrap_err();
    assert_eq!(precondition(&of_reversal), "IS_REVERSAL");
    let missing = reverse(
        &mut d,
        &format!("{}/dutyRecords/{}", a.name, Uuid::now_v7()),
        "无",
    )
    .await
    .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = reverse(&mut d, "committees/suixian/dutyRecords/1", "无")
        .await
        .unwrap_err();
    assert_eq!(fields(&malformed), ["name"]);
    // A correction of a member who has since left is still possible.
    reverse(&mut d, &served.name, "录错了").await.unwrap();
    assert_eq!(rows(&suite).await, 5);

    // The ledger itself refuses edits, whoever asks.
    let edit = sqlx::query("UPDATE members.duty_record SET evidence = 'x'")
        .execute(&mut suite.db.admin().await)
        .await
        .unwrap_err();
    assert!(edit.to_string().contains("append-only"), "{edit}");

    // Each entry and the reversal were audited and published.
    suite.seal().await;
    let audited = suite
        .audit_records(&format!("resource = \"{}\"", deed.name))
        .await;
    assert_eq!(audited.len(), 2, "recorded, then reversed");
    let mut events = suite
        .events(&admin())
        .watch(events::WatchRequest {
            after_cursor: String::new(),
            types: vec!["cppcc.members.v1.DutyRecordAdded".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let first = events.message().await.unwrap().unwrap();
    assert_eq!(first.events.len(), 5);
}

#[tokio::test]
async fn a_sheet_of_entries_is_recorded_whole_or_not_at_all() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let b = create(&mut m, member("乙委员", 2, &seed.business))
        .await
        .unwrap();
    let gone = create(&mut m, member("丙委员", 3, &seed.party))
        .await
        .unwrap();
    m.change_member_status(pb::ChangeMemberStatusRequest {
        name: gone.name.clone(),
        status: pb::MemberStatus::Revoked as i32,
        reason: "撤销委员资格".into(),
        effective_date: day(2023, 2, 1),
        etag: String::new(),
    })
    .await
    .unwrap();
    let one = |who: &pb::Member, kind: DutyKind, d: Option<Date>| pb::CreateDutyRecordRequest {
        parent: who.name.clone(),
        duty_record: Some(entry(kind, d, "政策宣讲")),
        request_id: String::new(),
    };
    let batch = |requests: Vec<pb::CreateDutyRecordRequest>, request_id: &str| {
        pb::BatchCreateDutyRecordsRequest {
            parent: format!("{SUIXIAN}/members/-"),
            requests,
            request_id: request_id.into(),
        }
    };
    let mut d = suite.duty(&staff());
    let sheet = vec![
        one(&a, DutyKind::PolicyPublicity, day(2023, 4, 1)),
        one(&b, DutyKind::PolicyPublicity, day(2023, 4, 1)),
        one(&a, DutyKind::ResearchInspection, day(2023, 4, 2)),
    ];
    let request_id = Uuid::now_v7().to_string();
    let recorded = d
        .batch_create_duty_records(batch(sheet.clone(), &request_id))
        .await
        .unwrap()
        .into_inner()
        .duty_records;
    assert_eq!(recorded.len(), 3);
    assert!(
        recorded[1].name.starts_with(&b.name),
        "in the order of the requests"
    );
    let again = d
        .batch_create_duty_records(batch(sheet.clone(), &request_id))
        .await
        .unwrap()
        .into_inner()
        .duty_records;
    let names = |r: &[pb::DutyRecord]| r.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&again),
        names(&recorded),
        "a retry answers what the first call recorded"
    );
    assert_eq!(rows(&suite).await, 3);

    // Every problem of the sheet at once, by position; nothing written.
    let bad = d
        .batch_create_duty_records(batch(
            vec![
                one(&a, DutyKind::PolicyPublicity, day(2023, 4, 1)),
                one(&a, DutyKind::PolicyPublicity, day(2999, 4, 1)),
                pb::CreateDutyRecordRequest {
                    parent: "committees/zengdu/members/0190a1b2-0000-7000-8000-000000000000".into(),
                    ..one(&a, DutyKind::PolicyPublicity, day(2023, 4, 1))
                },
            ],
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&bad),
        ["requests[1].duty_record.date", "requests[2].parent"]
    );
    let with_revoked = d
        .batch_create_duty_records(batch(
            vec![
                one(&a, DutyKind::PolicyPublicity, day(2023, 4, 1)),
                one(&gone, DutyKind::PolicyPublicity, day(2023, 3, 5)),
            ],
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(precondition(&with_revoked), "MEMBER_NOT_ACTIVE");
    assert_eq!(info(&with_revoked, "resource"), gone.name);
    assert_eq!(info(&with_revoked, "request"), "requests[1]");
    let empty = d
        .batch_create_duty_records(batch(Vec::new(), ""))
        .await
        .unwrap_err();
    assert_eq!(fields(&empty), ["requests"]);
    let one_member = d
        .batch_create_duty_records(pb::BatchCreateDutyRecordsRequest {
            parent: a.name.clone(),
            ..batch(sheet, "")
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&one_member), ["parent"]);
    assert_eq!(rows(&suite).await, 3);
}

/// The service's clock (`--today`) is the day entries are checked against
/// and the year figures may be asked for.
#[tokio::test]
async fn entries_and_years_are_checked_against_the_services_clock() {
    let (suite, seed) = Suite::seeded_on(Some(time::macros::date!(2023 - 06 - 30))).await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let mut d = suite.duty(&staff());
    let tomorrow = record(
        &mut d,
        &a.name,
        entry(DutyKind::PracticalDeed, day(2023, 7, 1), "为村里修路"),
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(tomorrow.code(), Code::InvalidArgument, "{tomorrow:?}");
    assert_eq!(fields(&tomorrow), ["duty_record.date"]);
    record(
        &mut d,
        &a.name,
        entry(DutyKind::PracticalDeed, day(2023, 6, 30), "为村里修路"),
        "",
    )
    .await
    .unwrap();
    let mut e = suite.evaluation(&staff());
    let next_year = e
        .get_five_ones(pb::GetFiveOnesRequest {
            member: a.name.clone(),
            year: 2024,
        })
        .await
        .unwrap_err();
    assert_eq!(next_year.code(), Code::InvalidArgument, "{next_year:?}");
    let this_year = e
        .get_five_ones(pb::GetFiveOnesRequest {
            member: a.name.clone(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .five_ones
        .unwrap();
    assert!(this_year.practical_deed, "{this_year:?}");
}
