//! Committees, sectors, special committees and members; the kit's audit,
//! events, health and shutdown as the members service uses them.

use super::*;

#[tokio::test]
// Deprecated settings are still kept and given back (fields are never dropped).
#[allow(deprecated)]
async fn committees_and_their_settings() {
    let suite = Suite::start().await;
    let c = create_committee(&suite, "suixian", "committees/suizhou", &admin())
        .await
        .unwrap();
    assert_eq!(c.name, SUIXIAN);
    assert_eq!(c.current_term, 4);

    let again = create_committee(&suite, "suixian", "", &admin())
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    // An admin of 随县 may add a committee below it, not beside it.
    let other = create_committee(&suite, "zengdu", "committees/suizhou", &admin())
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    create_committee(&suite, "xiaolin", SUIXIAN, &admin())
        .await
        .unwrap();
    let mut c = suite.committees(&admin());
    let listed = c
        .list_committees(pb::ListCommitteesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = listed.committees.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["committees/suixian", "committees/xiaolin"]);
    let below = suite.committees(&cppcc_tests::token(Role::Admin, "xiaolin"));
    let listed = below
        .clone()
        .list_committees(pb::ListCommitteesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.committees.len(), 1);
    let hidden = below
        .clone()
        .get_committee(pb::GetCommitteeRequest {
            name: SUIXIAN.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let filtered = c
        .list_committees(pb::ListCommitteesRequest {
            filter: format!("parent = \"{SUIXIAN}\""),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.committees.len(), 1);

    // A committee cannot sit below itself.
    let cycle = c
        .update_committee(pb::UpdateCommitteeRequest {
            committee: Some(pb::Committee {
                name: SUIXIAN.into(),
                parent: "committees/xiaolin".into(),
                ..Default::default()
            }),
            update_mask: mask(&["parent"]),
        })
        .await
        .unwrap_err();
    assert_eq!(cycle.code(), Code::InvalidArgument);

    // Settings read back with the defaults and change by mask.
    let settings = c
        .get_committee_settings(pb::GetCommitteeSettingsRequest {
            name: "committees/suixian/settings".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(settings.consultation_result_days, Some(3));
    assert_eq!(settings.proposal_handling_months, Some(3));
    let changed = c
        .update_committee_settings(pb::UpdateCommitteeSettingsRequest {
            settings: Some(pb::CommitteeSettings {
                name: "committees/suixian/settings".into(),
                reassignment_window_days: Some(15),
                reassignment_window_working_days: Some(true),
                etag: settings.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&[
                "reassignment_window_days",
                "reassignment_window_working_days",
            ]),
        })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(changed.reassignment_window_days, Some(15));
    assert_eq!(changed.reassignment_window_working_days, Some(true));
    assert_eq!(changed.consultation_result_days, Some(3));

    let stale = c
        .update_committee_settings(pb::UpdateCommitteeSettingsRequest {
            settings: Some(pb::CommitteeSettings {
                name: "committees/suixian/settings".into(),
                monthly_opinion_quota: Some(2),
                etag: settings.etag,
                ..Default::default()
            }),
            update_mask: mask(&["monthly_opinion_quota"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let bad = c
        .update_committee_settings(pb::UpdateCommitteeSettingsRequest {
            settings: Some(pb::CommitteeSettings {
                name: "committees/suixian/settings".into(),
                consultation_result_days: Some(0),
                ..Default::default()
            }),
            update_mask: mask(&["consultation_result_days", "colour"]),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad), ["update_mask"]);

    // Only the office changes settings.
    let staff = suite
        .committees(&cppcc_tests::token(Role::Staff, "suixian"))
        .update_committee_settings(pb::UpdateCommitteeSettingsRequest {
            settings: Some(pb::CommitteeSettings {
                name: "committees/suixian/settings".into(),
                monthly_opinion_quota: Some(2),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(staff.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn personal_data_is_masked_unless_entitled_and_unmasked_reads_are_audited() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let created = create(&mut m, member("刘强", 1, &seed.party))
        .await
        .unwrap();
    let id = id_number(1);
    // Write responses never carry personal data.
    assert!(created.personal_data_masked);
    assert_eq!(
        created.id_number,
        format!("{}**********{}", &id[..4], &id[14..])
    );

    // A member (not this one) sees the masks.
    let as_member = get(
        &mut suite.members(&member_token(None)),
        &created.name,
        pb::MemberView::Full,
    )
    .await
    .unwrap();
    assert!(as_member.personal_data_masked);
    assert_eq!(as_member.id_number, created.id_number);
    assert_eq!(as_member.phone, "138****0001");
    assert_eq!(as_member.birth_date.unwrap().month, 0);

    // The office sees the data, and the read is audited.
    let as_admin = get(&mut m, &created.name, pb::MemberView::Unspecified)
        .await
        .unwrap();
    assert!(!as_admin.personal_data_masked);
    assert_eq!(as_admin.id_number, id);
    assert_eq!(as_admin.phone, "13800000001");
    let reads = suite
        .audit_records(&format!(
            "resource = \"{}\" AND outcome = AUDIT_OUTCOME_READ",
            created.name
        ))
        .await;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].actor, "test-admin");
    assert_eq!(reads[0].method, "/cppcc.members.v1.MemberService/GetMember");
    assert!(reads[0].peer.starts_with("127.0.0.1:"));

    // The basic view is masked even for the office, and is not audited.
    let basic = get(&mut m, &created.name, pb::MemberView::Basic)
        .await
        .unwrap();
    assert!(basic.personal_data_masked);
    // The member itself sees its own data.
    let own = get(
        &mut suite.members(&member_token(Some(&created.name))),
        &created.name,
        pb::MemberView::Full,
    )
    .await
    .unwrap();
    assert_eq!(own.id_number, id);
    let reads = suite
        .audit_records(&format!(
            "resource = \"{}\" AND outcome = AUDIT_OUTCOME_READ",
            created.name
        ))
        .await;
    assert_eq!(reads.len(), 2);

    // Lists are basic unless asked; full lists audit each unmasked member.
    let listed = m
        .list_members(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.members[0].personal_data_masked);

    // At rest the data is sealed: the row holds no plaintext.
    let mut admin_db = suite.db.admin().await;
    let row: (Vec<u8>, Option<Vec<u8>>, String) = sqlx::query_as(
        "SELECT id_number_sealed, phone_sealed, id_number_masked FROM members.member",
    )
    .fetch_one(&mut admin_db)
    .await
    .unwrap();
    let plain = id.as_bytes();
    assert!(!row.0.windows(plain.len()).any(|w| w == plain));
    assert_eq!(row.2, created.id_number);
    let member_id = created.name.rsplit('/').next().unwrap();
    assert_eq!(
        cppcc_tests::pii()
            .open(&row.0, &format!("members.member.id_number:{member_id}"))
            .unwrap(),
        id
    );
}

#[tokio::test]
async fn a_request_id_creates_once() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let request_id = Uuid::new_v4().to_string();
    let req = pb::CreateMemberRequest {
        parent: SUIXIAN.into(),
        member: Some(member("王芳", 2, &seed.party)),
        request_id: request_id.clone(),
    };
    let (mut m1, mut m2) = (m.clone(), m.clone());
    let (a, b) = tokio::join!(m1.create_member(req.clone()), m2.create_member(req.clone()));
    let a = a.unwrap().into_inner().member.unwrap();
    let b = b.unwrap().into_inner().member.unwrap();
    assert_eq!(a.name, b.name);
    let c = m
        .create_member(req.clone())
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(a.name, c.name);
    assert_eq!(suite.member_count().await, 1);

    let mut different = req.clone();
    different.member.as_mut().unwrap().display_name = "王芳芳".into();
    let e = m.create_member(different).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["request_id"]);

    let mut not_uuid = req;
    not_uuid.request_id = "again".into();
    let e = m.create_member(not_uuid).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(suite.member_count().await, 1);
}

#[tokio::test]
async fn updates_follow_the_mask_and_the_etag() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let created = create(&mut m, member("李明", 3, &seed.party))
        .await
        .unwrap();

    let updated = m
        .update_member(pb::UpdateMemberRequest {
            member: Some(pb::Member {
                name: created.name.clone(),
                employer: "随县人民医院".into(),
                display_name: "不应改".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["employer"]),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(updated.employer, "随县人民医院");
    assert_eq!(updated.display_name, "李明");
    assert_ne!(updated.etag, created.etag);

    // The old etag is stale now.
    let stale = m
        .update_member(pb::UpdateMemberRequest {
            member: Some(pb::Member {
                name: created.name.clone(),
                job_title: "院长".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["job_title"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        stale.get_details_error_info().unwrap().reason,
        "ETAG_MISMATCH"
    );

    // Unknown and output-only fields in the mask are refused together.
    let bad_mask = m
        .update_member(pb::UpdateMemberRequest {
            member: Some(pb::Member {
                name: created.name.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["favourite_colour", "status"]),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_mask.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad_mask), ["update_mask", "update_mask"]);

    // Moving to another sector, and a phone change, through `*`.
    let mut whole = get(&mut m, &created.name, pb::MemberView::Full)
        .await
        .unwrap();
    whole.sector = seed.business.clone();
    whole.phone = "13900000003".into();
    let moved = m
        .update_member(pb::UpdateMemberRequest {
            member: Some(whole),
            update_mask: mask(&["*"]),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(moved.sector, seed.business);
    assert_eq!(moved.phone, "139****0003");
    let after = get(&mut m, &created.name, pb::MemberView::Full)
        .await
        .unwrap();
    assert_eq!(after.phone, "13900000003");
    assert_eq!(after.id_number, id_number(3));

    // The audit log has before and after of the change, masked.
    let changes = suite
        .audit_records(&format!(
            "resource = \"{}\" AND outcome = AUDIT_OUTCOME_CHANGED",
            created.name
        ))
        .await;
    assert_eq!(changes.len(), 3);
    let last = &changes[0];
    let before = last.before.as_ref().unwrap();
    let phone = before.fields["phone"].kind.clone().unwrap();
    assert_eq!(
        phone,
        prost_types::value::Kind::StringValue("138****0003".into())
    );
}

#[tokio::test]
async fn bad_input_is_refused_precisely_and_changes_nothing() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let kept = create(&mut m, member("赵刚", 4, &seed.party))
        .await
        .unwrap();
    suite.seal().await;
    let audit_before = suite
        .audit_records("outcome = AUDIT_OUTCOME_CHANGED")
        .await
        .len();

    let cases: Vec<(&str, pb::Member, Code, &str)> = vec![
        (
            "empty name",
            pb::Member {
                display_name: "  ".into(),
                ..member("x", 5, &seed.party)
            },
            Code::InvalidArgument,
            "member.display_name",
        ),
        (
            "long name",
            pb::Member {
                display_name: "张".repeat(31),
                ..member("x", 5, &seed.party)
            },
            Code::InvalidArgument,
            "member.display_name",
        ),
        (
            "check digit",
            pb::Member {
                id_number: {
                    let mut id = id_number(5);
                    let last = if id.ends_with('0') { '1' } else { '0' };
                    id.pop();
                    id.push(last);
                    id
                },
                ..member("x", 5, &seed.party)
            },
            Code::InvalidArgument,
            "member.id_number",
        ),
        (
            "unknown sector",
            member("x", 5, &format!("{SUIXIAN}/sectors/{}", Uuid::new_v4())),
            Code::InvalidArgument,
            "member.sector",
        ),
        (
            "duplicate ID number",
            member("x", 4, &seed.party),
            Code::AlreadyExists,
            "",
        ),
    ];
    for (what, input, code, field) in cases {
        let e = create(&mut m, input).await.unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e:?}");
        if !field.is_empty() {
            assert_eq!(fields(&e), [field], "{what}");
        }
        assert!(
            e.get_details_error_info().is_some(),
            "{what}: every error has an ErrorInfo"
        );
    }

    // Several bad fields at once are all reported.
    let many = create(
        &mut m,
        pb::Member {
            display_name: String::new(),
            id_number: "123".into(),
            role: 0,
            ..member("x", 6, &seed.party)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        fields(&many),
        ["member.display_name", "member.id_number", "member.role"]
    );

    // The duplicate names who has the number.
    let dup = create(&mut m, member("x", 4, &seed.party))
        .await
        .unwrap_err();
    assert!(dup.message().contains(&kept.name), "{}", dup.message());

    // A page token from another query.
    create(&mut m, member("钱七", 7, &seed.party))
        .await
        .unwrap();
    let first = m
        .list_members(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let e = m
        .list_members(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            page_size: 1,
            filter: "city_member = true".into(),
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["page_token"]);
    let e = m
        .list_members(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            filter: "colour = red".into(),
            order_by: "height".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["filter", "order_by"]);

    // Tokens: expired, badly signed, for another committee.
    let expired = cppcc_tests::token_issued_at(
        TokenRequest {
            subject: "old",
            role: Role::Admin,
            committee: "suixian",
            member: None,
            unit: None,
            ttl: Duration::from_secs(60),
        },
        1_700_000_000,
    );
    let e = get(
        &mut suite.members(&expired),
        &kept.name,
        pb::MemberView::Basic,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(e.get_details_error_info().unwrap().reason, "TOKEN_EXPIRED");
    let (private, _) = cppcc_kit::auth::generate_ed25519_pem();
    let forger = cppcc_kit::auth::TokenIssuer::from_ed_pem(
        private.as_bytes(),
        None,
        cppcc_tests::ISSUER,
        cppcc_tests::AUDIENCE,
    )
    .unwrap();
    let forged = forger.issue(&TokenRequest {
        subject: "mallory",
        role: Role::Admin,
        committee: "suixian",
        member: None,
        unit: None,
        ttl: Duration::from_secs(60),
    });
    let e = create(&mut suite.members(&forged), member("x", 8, &seed.party))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(
        e.get_details_error_info().unwrap().reason,
        "TOKEN_SIGNATURE_INVALID"
    );
    let e = create(&mut m, member("x", 9, &seed.party))
        .await
        .map(|_| ())
        .err();
    assert!(e.is_none(), "a good call still works");
    let elsewhere = cppcc_tests::token(Role::Admin, "zengdu");
    let hidden = get(
        &mut suite.members(&elsewhere),
        &kept.name,
        pb::MemberView::Basic,
    )
    .await
    .unwrap_err();
    let missing_name = format!("{SUIXIAN}/members/{}", Uuid::new_v4());
    let missing = get(&mut m, &missing_name, pb::MemberView::Basic)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(hidden.message(), format!("{} not found", kept.name));
    assert_eq!(missing.message(), format!("{missing_name} not found"));
    let e = create(&mut suite.members(&elsewhere), member("x", 10, &seed.party))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // None of the refused calls changed anything.
    assert_eq!(suite.member_count().await, 3);
    let audit_after = suite
        .audit_records("outcome = AUDIT_OUTCOME_CHANGED")
        .await
        .len();
    assert_eq!(
        audit_after,
        audit_before + 2,
        "only the two good creates wrote"
    );
}

#[tokio::test]
async fn lists_filter_order_and_page() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    // 丁 于 马 王 刘 张 李 赵 by strokes; 丁 李 刘 马 王 于 张 赵 by pinyin.
    let names = [
        "张伟", "王芳", "李娜", "刘洋", "赵敏", "丁一", "于谦", "马骏",
    ];
    let mut created = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut input = member(
            name,
            20 + i as u32,
            if i % 2 == 0 {
                &seed.party
            } else {
                &seed.business
            },
        );
        input.city_member = i < 3;
        input.role = if i == 0 {
            pb::MemberRole::Standing as i32
        } else {
            pb::MemberRole::Member as i32
        };
        if i == 7 {
            input.township = "厉山镇".into();
        }
        created.push(create(&mut m, input).await.unwrap());
    }
    let lister = m.clone();
    let list = |req: pb::ListMembersRequest| {
        let mut m = lister.clone();
        async move { m.list_members(req).await.map(|r| r.into_inner()) }
    };
    let all = list(pb::ListMembersRequest {
        parent: SUIXIAN.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let order: Vec<_> = all
        .members
        .iter()
        .map(|m| m.display_name.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "丁一", "于谦", "马骏", "王芳", "刘洋", "张伟", "李娜", "赵敏"
        ]
    );
    assert_eq!(all.total_size, 8);
    let pinyin = list(pb::ListMembersRequest {
        parent: SUIXIAN.into(),
        collation: pb::NameCollation::Pinyin as i32,
        ..Default::default()
    })
    .await
    .unwrap();
    let order: Vec<_> = pinyin
        .members
        .iter()
        .map(|m| m.display_name.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "丁一", "李娜", "刘洋", "马骏", "王芳", "于谦", "张伟", "赵敏"
        ]
    );

    // Pages of 3 give the same members in the same order.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            page_size: 3,
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        paged.extend(page.members.into_iter().map(|m| m.display_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        paged,
        all.members
            .iter()
            .map(|m| m.display_name.clone())
            .collect::<Vec<_>>()
    );

    // Filters.
    let count = |filter: String| async move {
        list(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            filter,
            ..Default::default()
        })
        .await
        .unwrap()
        .total_size
    };
    assert_eq!(count("city_member = true".into()).await, 3);
    assert_eq!(count(format!("sector = \"{}\"", seed.business)).await, 4);
    assert_eq!(count("role = MEMBER_ROLE_STANDING".into()).await, 1);
    assert_eq!(count("township = \"厉山镇\"".into()).await, 1);
    assert_eq!(count("display_name : \"王\"".into()).await, 1);
    assert_eq!(
        count("status = MEMBER_STATUS_ACTIVE AND NOT city_member = true".into()).await,
        5
    );
    assert_eq!(
        count(format!("special_committee = \"{}\"", seed.proposals)).await,
        0
    );
    m.add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
        special_committee: seed.proposals.clone(),
        member: created[0].name.clone(),
        position: pb::SpecialCommitteePosition::Chair as i32,
    })
    .await
    .unwrap();
    assert_eq!(
        count(format!("special_committee = \"{}\"", seed.proposals)).await,
        1
    );

    // Mirrors read what changed since a moment, in change order.
    let since = all
        .members
        .iter()
        .map(|m| m.update_time.unwrap())
        .max_by_key(|t| (t.seconds, t.nanos))
        .unwrap();
    let since = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(since.seconds) * 1_000_000_000 + i128::from(since.nanos),
    )
    .unwrap()
    .format(&time::format_description::well_known::Rfc3339)
    .unwrap();
    let changed = list(pb::ListMembersRequest {
        parent: SUIXIAN.into(),
        filter: format!("update_time > \"{since}\""),
        order_by: "update_time".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(changed.members.len(), 1, "only the member seated since");
    assert_eq!(
        changed.members[0].special_committees,
        std::slice::from_ref(&seed.proposals)
    );

    // BatchGet keeps the order asked and is all or nothing.
    let names: Vec<String> = vec![
        created[3].name.clone(),
        created[1].name.clone(),
        created[3].name.clone(),
    ];
    let batch = m
        .batch_get_members(pb::BatchGetMembersRequest {
            parent: SUIXIAN.into(),
            names: names.clone(),
            view: pb::MemberView::Basic as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        batch
            .members
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>(),
        names
    );
    let missing = m
        .batch_get_members(pb::BatchGetMembersRequest {
            parent: SUIXIAN.into(),
            names: vec![
                created[0].name.clone(),
                format!("{SUIXIAN}/members/{}", Uuid::new_v4()),
            ],
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn status_changes_follow_the_state_machine() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let created = create(&mut m, member("周敏", 30, &seed.party))
        .await
        .unwrap();
    let change = |status: pb::MemberStatus, reason: &str| pb::ChangeMemberStatusRequest {
        name: created.name.clone(),
        status: status as i32,
        reason: reason.into(),
        effective_date: Some(Date {
            year: 2023,
            month: 6,
            day: 1,
        }),
        etag: String::new(),
    };
    let s = m
        .change_member_status(change(pb::MemberStatus::Suspended, "因病暂停履职"))
        .await
        .unwrap();
    assert_eq!(
        s.into_inner().member.unwrap().status,
        pb::MemberStatus::Suspended as i32
    );
    m.change_member_status(change(pb::MemberStatus::Active, "恢复履职"))
        .await
        .unwrap();
    m.change_member_status(change(pb::MemberStatus::Resigned, "本人申请辞去委员"))
        .await
        .unwrap();
    let refused = m
        .change_member_status(change(pb::MemberStatus::Suspended, "再次暂停"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        refused.get_details_error_info().unwrap().metadata["current_state"],
        "MEMBER_STATUS_RESIGNED"
    );
    assert!(
        refused.message().contains("resigned"),
        "{}",
        refused.message()
    );
    let no_reason = m
        .change_member_status(change(pb::MemberStatus::Active, ""))
        .await
        .unwrap_err();
    assert_eq!(fields(&no_reason), ["reason"]);

    let history = m
        .list_member_status_changes(pb::ListMemberStatusChangesRequest {
            parent: created.name.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.status_changes.len(), 2);
    let rest = m
        .list_member_status_changes(pb::ListMemberStatusChangesRequest {
            parent: created.name.clone(),
            page_size: 2,
            page_token: history.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.status_changes.len(), 1);
    let last = &rest.status_changes[0];
    assert_eq!(last.to_status, pb::MemberStatus::Resigned as i32);
    assert_eq!(last.stamp.as_ref().unwrap().reason, "本人申请辞去委员");
    assert!(rest.next_page_token.is_empty());

    // A resigned member does not sit on special committees.
    let seat = m
        .add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: created.name.clone(),
            position: pb::SpecialCommitteePosition::Member as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(seat.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn sectors_and_special_committees() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let dup = m
        .create_sector(pb::CreateSectorRequest {
            parent: SUIXIAN.into(),
            sector: Some(pb::Sector {
                display_name: "中共".into(),
                kind: pb::SectorKind::Party as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);

    let chair = create(&mut m, member("孙立", 40, &seed.party))
        .await
        .unwrap();
    let vice = create(&mut m, member("丁宁", 41, &seed.party))
        .await
        .unwrap();
    let other = create(&mut m, member("王五", 42, &seed.business))
        .await
        .unwrap();
    for (who, position) in [
        (&other, pb::SpecialCommitteePosition::Member),
        (&chair, pb::SpecialCommitteePosition::Chair),
        (&vice, pb::SpecialCommitteePosition::ViceChair),
    ] {
        m.add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: who.name.clone(),
            position: position as i32,
        })
        .await
        .unwrap();
    }
    let second_chair = m
        .add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: other.name.clone(),
            position: pb::SpecialCommitteePosition::Chair as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(second_chair.code(), Code::FailedPrecondition);
    let seats = m
        .list_special_committee_members(pb::ListSpecialCommitteeMembersRequest {
            parent: seed.proposals.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let order: Vec<_> = seats
        .memberships
        .iter()
        .map(|s| s.member_display_name.as_str())
        .collect();
    assert_eq!(order, ["孙立", "丁宁", "王五"]);
    let sc = m
        .get_special_committee(pb::GetSpecialCommitteeRequest {
            name: seed.proposals.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .special_committee
        .unwrap();
    assert_eq!(sc.chair, chair.name);
    assert_eq!(sc.member_count, 3);

    let in_use = m
        .delete_special_committee(pb::DeleteSpecialCommitteeRequest {
            name: seed.proposals.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    let in_use = m
        .delete_sector(pb::DeleteSectorRequest {
            name: seed.party.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    // An empty sector is deleted, and kept as a tombstone for mirrors.
    let empty = sector(&mut m, "特邀人士", pb::SectorKind::Field).await;
    let deleted = m
        .delete_sector(pb::DeleteSectorRequest {
            name: empty.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .sector
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let live = m
        .list_sectors(pb::ListSectorsRequest {
            parent: SUIXIAN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(live.sectors.len(), 2);
    assert_eq!(live.sectors[0].active_member_count, 2);
    let with_tombstones = m
        .list_sectors(pb::ListSectorsRequest {
            parent: SUIXIAN.into(),
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_tombstones.sectors.len(), 3);

    // A deleted sector's name can be used again.
    sector(&mut m, "特邀人士", pb::SectorKind::Field).await;
    let renamed = m
        .update_sector(pb::UpdateSectorRequest {
            sector: Some(pb::Sector {
                name: seed.business.clone(),
                display_name: "中共".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap_err();
    assert_eq!(renamed.code(), Code::AlreadyExists);

    m.remove_special_committee_member(pb::RemoveSpecialCommitteeMemberRequest {
        special_committee: seed.proposals.clone(),
        member: other.name.clone(),
    })
    .await
    .unwrap();
    let gone = m
        .remove_special_committee_member(pb::RemoveSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: other.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn every_change_is_published_to_the_event_stream() {
    let (suite, seed) = Suite::seeded().await;
    let service = cppcc_tests::token(Role::Service, "*");
    let mut stream = suite
        .events(&service)
        .watch(events::WatchRequest {
            after_cursor: String::new(),
            types: vec![
                "cppcc.members.v1.MemberCreated".into(),
                "cppcc.members.v1.MemberStatusChanged".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let mut m = suite.members(&admin());
    let created = create(&mut m, member("吴刚", 50, &seed.party))
        .await
        .unwrap();
    m.change_member_status(pb::ChangeMemberStatusRequest {
        name: created.name.clone(),
        status: pb::MemberStatus::Suspended as i32,
        reason: "暂停".into(),
        effective_date: None,
        etag: String::new(),
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    while seen.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("events arrive within seconds")
            .unwrap()
            .unwrap();
        cursor = batch.cursor.clone();
        seen.extend(batch.events);
    }
    assert_eq!(seen[0].r#type, "cppcc.members.v1.MemberCreated");
    assert_eq!(seen[0].committee, SUIXIAN);
    assert_eq!(seen[0].subject, created.name);
    assert_eq!(seen[0].actor, "test-admin");
    let payload = seen[0].payload.as_ref().unwrap();
    assert_eq!(
        payload.type_url,
        "type.googleapis.com/cppcc.members.v1.MemberCreated"
    );
    let event = pb::MemberCreated::decode(payload.value.as_slice()).unwrap();
    assert!(
        event.member.unwrap().personal_data_masked,
        "events carry no personal data"
    );
    assert_eq!(seen[1].r#type, "cppcc.members.v1.MemberStatusChanged");
    drop(stream);

    // Resuming after the cursor gives only what came later.
    create(&mut m, member("郑和", 51, &seed.party))
        .await
        .unwrap();
    let mut resumed = suite
        .events(&service)
        .watch(events::WatchRequest {
            after_cursor: cursor,
            types: vec!["cppcc.members.v1.MemberCreated".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let mut later = Vec::new();
    while later.is_empty() {
        let batch = tokio::time::timeout(Duration::from_secs(10), resumed.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        later.extend(batch.events);
    }
    assert_eq!(later.len(), 1);
    assert_ne!(later[0].subject, created.name);

    // Other committees' admins see none of it; members may not watch at all.
    let mut theirs = suite
        .events(&cppcc_tests::token(Role::Admin, "zengdu"))
        .watch(events::WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    let quiet = tokio::time::timeout(Duration::from_millis(800), theirs.message()).await;
    assert!(quiet.is_err() || quiet.unwrap().unwrap().unwrap().events.is_empty());
    let denied = suite
        .events(&member_token(None))
        .watch(events::WatchRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let bad_cursor = suite
        .events(&service)
        .watch(events::WatchRequest {
            after_cursor: "yesterday".into(),
            types: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&bad_cursor), ["after_cursor"]);
}

#[tokio::test]
async fn the_audit_log_is_chained_and_tampering_is_found() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    for i in 0..3 {
        create(&mut m, member(&format!("审计{i}"), 60 + i, &seed.party))
            .await
            .unwrap();
    }
    suite.seal().await;
    let verify = |suite: &Suite| {
        let mut a = suite.audit();
        async move {
            a.verify_audit_log(audit::VerifyAuditLogRequest {})
                .await
                .unwrap()
                .into_inner()
        }
    };
    let report = verify(&suite).await;
    assert!(report.intact, "{report:?}");
    assert!(report.records_checked >= 7, "{report:?}");

    // The service's own role cannot rewrite history.
    let url = suite.db.args("members").database_url;
    let mut as_service = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let refused = sqlx::query("UPDATE members.audit_log SET actor = 'mallory' WHERE chain_pos = 2")
        .execute(&mut as_service)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    let refused = sqlx::query("DELETE FROM members.audit_log WHERE chain_pos = 3")
        .execute(&mut as_service)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");

    // Someone with the power to bypass the guard alters a row: it is found.
    let mut admin_db = suite.db.admin().await;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut admin_db)
        .await
        .unwrap();
    sqlx::query("UPDATE members.audit_log SET actor = 'mallory' WHERE chain_pos = 2")
        .execute(&mut admin_db)
        .await
        .unwrap();
    let report = verify(&suite).await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_position, 2);
    assert!(report.problem.starts_with("altered"), "{}", report.problem);

    // Undo that, then remove a row instead: the gap is found.
    sqlx::query("UPDATE members.audit_log SET actor = 'test-admin' WHERE chain_pos = 2")
        .execute(&mut admin_db)
        .await
        .unwrap();
    assert!(verify(&suite).await.intact);
    sqlx::query("DELETE FROM members.audit_log WHERE chain_pos = 4")
        .execute(&mut admin_db)
        .await
        .unwrap();
    let report = verify(&suite).await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_position, 4);
    assert!(report.problem.starts_with("missing"), "{}", report.problem);

    // Only auditors read the log; the office cannot.
    let denied =
        AuditServiceClient::with_interceptor(suite.running.channel(), Bearer::new(&admin()))
            .list_audit_records(audit::ListAuditRecordsRequest::default())
            .await
            .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn refused_calls_are_audited() {
    let (suite, seed) = Suite::seeded().await;
    let member_name = create(
        &mut suite.members(&admin()),
        member("冯七", 70, &seed.party),
    )
    .await
    .unwrap()
    .name;
    // No token at all.
    let mut anonymous = MemberServiceClient::new(suite.running.channel());
    let e = anonymous
        .get_member(pb::GetMemberRequest {
            name: member_name.clone(),
            view: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    // A member may not create members.
    let e = create(
        &mut suite.members(&member_token(None)),
        member("x", 71, &seed.party),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // The security admin sees no business records.
    let e = get(
        &mut suite.members(&cppcc_tests::token(Role::SecurityAdmin, "suixian")),
        &member_name,
        pb::MemberView::Basic,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Another committee's admin is told the member does not exist.
    let e = get(
        &mut suite.members(&cppcc_tests::token(Role::Admin, "zengdu")),
        &member_name,
        pb::MemberView::Basic,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    let denied = suite.audit_records("outcome = AUDIT_OUTCOME_DENIED").await;
    let methods: Vec<_> = denied
        .iter()
        .map(|r| (r.actor.as_str(), r.method.as_str()))
        .collect();
    assert!(
        methods.contains(&("", "/cppcc.members.v1.MemberService/GetMember")),
        "{methods:?}"
    );
    assert!(
        methods.contains(&("member-1", "/cppcc.members.v1.MemberService/CreateMember")),
        "{methods:?}"
    );
    assert!(
        methods.contains(&(
            "test-security_admin",
            "/cppcc.members.v1.MemberService/GetMember"
        )),
        "{methods:?}"
    );
    // Another committee's probe is filed under this committee, whose records it was after.
    assert!(
        methods.contains(&("test-admin", "/cppcc.members.v1.MemberService/GetMember")),
        "{methods:?}"
    );
    let probe = denied.iter().find(|r| r.actor == "test-admin").unwrap();
    assert_eq!(probe.committee, SUIXIAN);
    assert!(probe.detail.contains(&member_name), "{}", probe.detail);
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let suite = Suite::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(suite.running.channel());
    for service in [
        "",
        "cppcc.members.v1.MemberService",
        "cppcc.members.v1.CommitteeService",
        "cppcc.events.v1.EventStreamService",
    ] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }
    // Reflection knows the services and the error details they answer with.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(suite.running.channel());
    for symbol in [
        "cppcc.members.v1.EvaluationService",
        "google.rpc.BadRequest",
    ] {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
        };
        let mut answers = reflection
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let answer = answers.message().await.unwrap().unwrap();
        assert!(
            matches!(
                answer.message_response,
                Some(MessageResponse::FileDescriptorResponse(_))
            ),
            "{symbol}: {answer:?}"
        );
    }
    suite.running.stop().await.unwrap();
}

/// Runs the members binary with `--migrate-only` and `envs`: how it ended
/// and what it logged.
async fn migrate_only(envs: Vec<(String, String)>) -> (std::process::Output, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cppcc-members"))
        .envs(envs)
        .env("CPPCC_MIGRATE_ONLY", "true")
        // Were it to serve, it would serve here, and the test would hang.
        .env("CPPCC_MEMBERS_ADDR", "127.0.0.1:0")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("it exits")
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, log)
}

/// `--migrate-only`, as a Kubernetes init container runs it: the role,
/// the schema and every migration, then the process exits without serving.
#[tokio::test]
async fn migrate_only_migrates_and_exits() {
    let db = cppcc_tests::database().await;
    let (out, log) = migrate_only(cppcc_tests::service_env(&db, "members")).await;
    assert!(out.status.success(), "{log}");
    assert!(log.contains("migrated; exiting"), "{log}");
    assert!(!log.contains("\"serving\""), "{log}");
    let mut admin = db.admin().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM members._sqlx_migrations WHERE success")
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(
        applied as usize,
        cppcc_kit::db::migrator(cppcc_members::SCHEMA, &cppcc_members::MIGRATIONS)
            .iter()
            .count()
    );
}

/// The database over TLS, as in Kubernetes, where CloudNativePG serves
/// TLS and the services check its certificate against the cluster's CA
/// (`sslmode=verify-full`): the service's connections are encrypted; a
/// server with a certificate from another CA, or one that names another
/// host, is refused before anything is sent.
#[tokio::test]
async fn the_database_is_reached_over_tls_and_its_certificate_checked() {
    use cppcc_local_pg::{LocalPostgres, PgOptions, PgTcp, PgTls};
    use cppcc_tests::tls::{TestCa, Usage, pem_dir, write};

    let ca = TestCa::new("cppcc-db CA");
    let server = ca.issue("cppcc-db-rw", &["localhost"], Usage::ServerAuth);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Short: the socket's path is limited to ~100 bytes.
    let base = std::env::temp_dir().join(format!(
        "cppcc-pgtls-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    ));
    let options = PgOptions {
        data_dir: base.join("data"),
        socket_dir: base.clone(),
        durable: false,
        max_connections: 20,
        remove_on_exit: true,
        tcp: Some(PgTcp {
            port,
            tls: Some(PgTls {
                cert_pem: server.cert,
                key_pem: server.key,
            }),
        }),
    };
    let pg = tokio::task::spawn_blocking(move || LocalPostgres::start(&options))
        .await
        .unwrap()
        .unwrap();
    let mut superuser =
        <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url("postgres", "postgres"))
            .await
            .unwrap();
    sqlx::query("CREATE DATABASE cppcc")
        .execute(&mut superuser)
        .await
        .unwrap();
    let dir = pem_dir("cppcc-pgtls");
    let ca_file = write(&dir, "ca.crt", &ca.pem());
    let rogue_file = write(&dir, "rogue.crt", &TestCa::new("rogue CA").pem());
    let env = |host: &str, root: &str| {
        let mut envs = cppcc_tests::service_env(
            &cppcc_tests::TestDatabase {
                name: "cppcc".into(),
            },
            "members",
        );
        envs.retain(|(k, _)| k != "DATABASE_URL" && k != "CPPCC_DATABASE_ADMIN_URL");
        envs.extend([
            (
                "DATABASE_URL".to_owned(),
                format!(
                    "postgres://members@{host}:{port}/cppcc?sslmode=verify-full&sslrootcert={root}"
                ),
            ),
            (
                "CPPCC_DATABASE_ADMIN_URL".to_owned(),
                pg.url("postgres", "cppcc"),
            ),
            ("CPPCC_MEMBERS_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ]);
        envs
    };

    // Refused: the right server under a name its certificate does not
    // carry, and a certificate the given CA did not sign.
    for (host, root, why) in [
        ("127.0.0.1", &ca_file, "certificate not valid for name"),
        ("localhost", &rogue_file, "UnknownIssuer"),
    ] {
        let (out, log) = migrate_only(env(host, root)).await;
        assert!(!out.status.success(), "{host} with {root}: {log}");
        assert!(log.contains(why), "{host} with {root}: {log}");
    }

    // Accepted: it migrates and serves over TLS, every connection of it.
    let (mut child, addr, _lines) = cppcc_tests::spawn_service(
        env!("CARGO_BIN_EXE_cppcc-members"),
        env("localhost", &ca_file),
    )
    .await;
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).unwrap();
    let mut committees = CommitteeServiceClient::with_interceptor(channel, Bearer::new(&admin()));
    create_committee_with(&mut committees, "suixian", "")
        .await
        .unwrap();
    let (encrypted, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.usename = 'members'",
    )
    .fetch_one(&mut superuser)
    .await
    .unwrap();
    assert!(encrypted >= 1, "{encrypted} encrypted connections");
    assert_eq!(plain, 0, "unencrypted connections of the service");
    child.kill().await.unwrap();
    let _ = sqlx::Connection::close(superuser).await;
    pg.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// The service run as its own process, as Kubernetes runs it.
#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish() {
    let db = cppcc_tests::database().await;
    let mut envs = cppcc_tests::service_env(&db, "members");
    for (k, v) in [
        ("CPPCC_MEMBERS_ADDR", "127.0.0.1:0"),
        ("CPPCC_SHUTDOWN_DELAY", "1s"),
        ("RUST_LOG", "info"),
    ] {
        envs.push((k.to_owned(), v.to_owned()));
    }
    let (mut child, addr, mut lines) =
        cppcc_tests::spawn_service(env!("CARGO_BIN_EXE_cppcc-members"), envs).await;
    let logs = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    let channel = cppcc_kit::client::channel(&format!("http://{addr}")).unwrap();
    let mut committees =
        CommitteeServiceClient::with_interceptor(channel.clone(), Bearer::new(&admin()));
    let mut members = MemberServiceClient::with_interceptor(channel, Bearer::new(&admin()));
    create_committee_with(&mut committees, "suixian", "")
        .await
        .unwrap();
    let party = sector(&mut members, "中共", pb::SectorKind::Party).await;
    let created = create(&mut members, member("慢一", 80, &party))
        .await
        .unwrap();
    let id: Uuid = created.name.rsplit('/').next().unwrap().parse().unwrap();

    // Hold the member's row so the next update waits in the database.
    let mut holder = db.admin().await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM members.member WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut holder)
        .await
        .unwrap();
    let mut slow_client = members.clone();
    let name = created.name.clone();
    let slow = tokio::spawn(async move {
        slow_client
            .update_member(pb::UpdateMemberRequest {
                member: Some(pb::Member {
                    name,
                    employer: "随县人民医院".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["employer"]),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // Health turns NOT_SERVING at once, so load balancers stop sending.
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        cppcc_kit::client::channel(&format!("http://{addr}")).unwrap(),
    );
    let mut status = 0;
    for _ in 0..20 {
        status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status)
            .unwrap_or_default();
        if status == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the service waits for the call in flight"
    );
    assert!(!slow.is_finished());

    sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        answer.unwrap().into_inner().member.unwrap().employer,
        "随县人民医院"
    );
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let logs = logs.await.unwrap().join("\n");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("\"stopped\""), "{logs}");
}

#[tokio::test]
async fn old_rows_are_purged_and_the_chain_still_holds() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    create(&mut m, member("旧一", 90, &seed.party))
        .await
        .unwrap();
    suite.seal().await;
    // Age the first records, the events and the request ids as if written long ago.
    let mut admin_db = suite.db.admin().await;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut admin_db)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE members.audit_log SET at = now() - interval '200 days' WHERE chain_pos <= 3",
    )
    .execute(&mut admin_db)
    .await
    .unwrap();
    sqlx::query("UPDATE members.outbox SET event_time = now() - interval '40 days'")
        .execute(&mut admin_db)
        .await
        .unwrap();
    // Hashes cover the time, so re-seal what was aged: drop the seals and seal again.
    sqlx::query("UPDATE members.audit_log SET chain_pos = NULL, prev_hash = NULL, hash = NULL")
        .execute(&mut admin_db)
        .await
        .unwrap();
    suite.seal().await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM members.audit_log")
        .fetch_one(&mut admin_db)
        .await
        .unwrap();

    let pool = sqlx::PgPool::connect(&suite.db.admin_url()).await.unwrap();
    let db = cppcc_kit::db::Database::from_pool(pool, cppcc_members::SCHEMA)
        .with_audit_key(Some(&cppcc_tests::audit_key()));
    let retention = cppcc_kit::maintenance::Retention {
        // Asking for less than the legal minimum still keeps 184 days.
        audit: Duration::from_secs(86_400),
        outbox: Duration::from_secs(30 * 86_400),
        request_ids: Duration::from_secs(7 * 86_400),
    };
    let purged = cppcc_kit::maintenance::purge(&db, &retention)
        .await
        .unwrap();
    assert_eq!(purged.audit, 3);
    assert!(purged.outbox >= 5, "{purged:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM members.audit_log")
        .fetch_one(&mut admin_db)
        .await
        .unwrap();
    assert_eq!(left, total - 3);
    let report = suite
        .audit()
        .verify_audit_log(audit::VerifyAuditLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact, "{report:?}");
    // New records chain on from where the purge left off.
    create(&mut m, member("新一", 91, &seed.party))
        .await
        .unwrap();
    suite.seal().await;
    let report = suite
        .audit()
        .verify_audit_log(audit::VerifyAuditLogRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact, "{report:?}");
    assert_eq!(report.records_checked, total - 3 + 2);
}

#[tokio::test]
async fn rotated_keys_reseal_old_rows_so_the_old_key_can_go() {
    let (suite, seed) = Suite::seeded().await;
    let created = create(
        &mut suite.members(&admin()),
        member("轮换", 95, &seed.party),
    )
    .await
    .unwrap();
    suite.running.stop().await.unwrap();

    // Start again with a new active key, the old one kept for reading.
    let mut rotated = config(&suite.db);
    rotated.pii = cppcc_tests::rotated_pii_args(true);
    let pii = rotated.pii.cipher().unwrap();
    let running = cppcc_tests::serve(cppcc_members::server(&rotated).await.unwrap()).await;
    let pool = sqlx::PgPool::connect(&suite.db.admin_url()).await.unwrap();
    let mut stale = true;
    for _ in 0..100 {
        let sealed: Vec<u8> = sqlx::query_scalar("SELECT id_number_sealed FROM members.member")
            .fetch_one(&pool)
            .await
            .unwrap();
        stale = pii.is_stale(&sealed);
        if !stale {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!stale, "the row is sealed with the new key");
    running.stop().await.unwrap();

    // The old key can now be dropped: the data still reads back.
    let mut only_new = config(&suite.db);
    only_new.pii = cppcc_tests::rotated_pii_args(false);
    let running = cppcc_tests::serve(cppcc_members::server(&only_new).await.unwrap()).await;
    let mut m = MemberServiceClient::with_interceptor(running.channel(), Bearer::new(&admin()));
    let full = get(&mut m, &created.name, pb::MemberView::Full)
        .await
        .unwrap();
    assert_eq!(full.id_number, id_number(95));
    assert_eq!(full.phone, "13800000095");
    // And the duplicate check still finds the number.
    let dup = create(&mut m, member("重复", 95, &seed.party))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn health_follows_the_database() {
    let suite = Suite::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(suite.running.channel());
    let status =
        |health: &mut tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>| {
            let mut health = health.clone();
            async move {
                health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: "cppcc.members.v1.MemberService".into(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .status
            }
        };
    use tonic_health::pb::health_check_response::ServingStatus;
    assert_eq!(status(&mut health).await, ServingStatus::Serving as i32);

    // The database stops taking this service's connections.
    let mut admin_db = <sqlx::PgConnection as sqlx::Connection>::connect(
        &suite.db.admin_url().replace(&suite.db.name, "postgres"),
    )
    .await
    .unwrap();
    let database = &suite.db.name;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    )))
    .execute(&mut admin_db)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(database)
        .execute(&mut admin_db)
        .await
        .unwrap();
    let mut seen = 0;
    for _ in 0..150 {
        seen = status(&mut health).await;
        if seen == ServingStatus::NotServing as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        ServingStatus::NotServing as i32,
        "NOT_SERVING while the database is away"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS true"
    )))
    .execute(&mut admin_db)
    .await
    .unwrap();
    for _ in 0..150 {
        seen = status(&mut health).await;
        if seen == ServingStatus::Serving as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        ServingStatus::Serving as i32,
        "SERVING again once it is back"
    );
}

#[tokio::test]
async fn leaving_office_vacates_every_seat() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let chair = create(&mut m, member("陈主任", 100, &seed.party))
        .await
        .unwrap();
    let other = create(&mut m, member("林委员", 101, &seed.party))
        .await
        .unwrap();
    for (who, position) in [
        (&chair, pb::SpecialCommitteePosition::Chair),
        (&other, pb::SpecialCommitteePosition::Member),
    ] {
        m.add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: who.name.clone(),
            position: position as i32,
        })
        .await
        .unwrap();
    }
    let service = cppcc_tests::token(Role::Service, "*");
    let mut stream = suite
        .events(&service)
        .watch(events::WatchRequest {
            after_cursor: String::new(),
            types: vec!["cppcc.members.v1.SpecialCommitteeMemberRemoved".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let resigned = m
        .change_member_status(pb::ChangeMemberStatusRequest {
            name: chair.name.clone(),
            status: pb::MemberStatus::Resigned as i32,
            reason: "工作调动，辞去委员".into(),
            effective_date: None,
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert!(resigned.special_committees.is_empty());
    let sc = m
        .get_special_committee(pb::GetSpecialCommitteeRequest {
            name: seed.proposals.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .special_committee
        .unwrap();
    assert_eq!(sc.chair, "", "the chair is free again");
    assert_eq!(sc.member_count, 1);
    let mut removed = Vec::new();
    while removed.is_empty() {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        removed.extend(batch.events);
    }
    let event = pb::SpecialCommitteeMemberRemoved::decode(
        removed[0].payload.as_ref().unwrap().value.as_slice(),
    )
    .unwrap();
    assert_eq!(event.member, chair.name);
    // The other member can now be seated as chair.
    m.add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
        special_committee: seed.proposals.clone(),
        member: other.name.clone(),
        position: pb::SpecialCommitteePosition::Chair as i32,
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn seats_list_by_position_then_strokes_page_by_page() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    // Within one position: 丁 于 马 王 by strokes.
    for (n, name) in ["王一", "马二", "丁三", "于四"].iter().enumerate() {
        let created = create(&mut m, member(name, 110 + n as u32, &seed.party))
            .await
            .unwrap();
        m.add_special_committee_member(pb::AddSpecialCommitteeMemberRequest {
            special_committee: seed.proposals.clone(),
            member: created.name,
            position: pb::SpecialCommitteePosition::Member as i32,
        })
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = m
            .list_special_committee_members(pb::ListSpecialCommitteeMembersRequest {
                parent: seed.proposals.clone(),
                page_size: 1,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.memberships.into_iter().map(|s| s.member_display_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["丁三", "于四", "马二", "王一"]);
}

#[tokio::test]
async fn full_lists_audit_every_unmasked_member_and_names_are_canonical() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let mut created = Vec::new();
    for n in 0..3 {
        created.push(
            create(&mut m, member(&format!("列表{n}"), 120 + n, &seed.party))
                .await
                .unwrap(),
        );
    }
    let full = m
        .list_members(pb::ListMembersRequest {
            parent: SUIXIAN.into(),
            view: pb::MemberView::Full as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(full.members.iter().all(|m| !m.personal_data_masked));
    let reads = suite
        .audit_records("outcome = AUDIT_OUTCOME_READ AND method : \"ListMembers\"")
        .await;
    let mut read: Vec<_> = reads.iter().map(|r| r.resource.clone()).collect();
    read.sort();
    let mut expected: Vec<_> = created.iter().map(|m| m.name.clone()).collect();
    expected.sort();
    assert_eq!(read, expected);

    // One member, one name: other spellings of the id are refused.
    let shouting = created[0]
        .name
        .to_uppercase()
        .replace("COMMITTEES/SUIXIAN/MEMBERS", "committees/suixian/members");
    let e = get(&mut m, &shouting, pb::MemberView::Basic)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["name"]);
}

#[tokio::test]
async fn a_committee_cannot_be_created_below_itself() {
    let suite = Suite::start().await;
    let own = create_committee(&suite, "suixian", SUIXIAN, &admin())
        .await
        .unwrap_err();
    assert_eq!(fields(&own), ["committee.parent"]);
    // A child made first (its parent not here yet), then the parent below it.
    create_committee(
        &suite,
        "xiaolin",
        SUIXIAN,
        &cppcc_tests::token(Role::Admin, "xiaolin"),
    )
    .await
    .unwrap();
    let circle = create_committee(&suite, "suixian", "committees/xiaolin", &admin())
        .await
        .unwrap_err();
    assert_eq!(circle.code(), Code::InvalidArgument);
    assert_eq!(fields(&circle), ["committee.parent"]);
}

#[tokio::test]
async fn events_wait_for_writers_still_in_flight_and_keep_commit_order() {
    let (suite, seed) = Suite::seeded().await;
    let service = cppcc_tests::token(Role::Service, "*");
    let mut stream = suite
        .events(&service)
        .watch(events::WatchRequest::default())
        .await
        .unwrap()
        .into_inner();
    // Drain what seeding published.
    let mut cursor = String::new();
    while let Ok(Some(batch)) = tokio::time::timeout(Duration::from_millis(600), stream.message())
        .await
        .map(|m| m.unwrap())
    {
        cursor = batch.cursor;
    }

    // A writer takes its place in the stream and has not committed yet…
    let mut writer = suite.db.admin().await;
    sqlx::query("BEGIN").execute(&mut writer).await.unwrap();
    sqlx::query(
        "INSERT INTO members.outbox (id, type, committee, subject, actor, payload)
         VALUES (gen_random_uuid(), 'test.Earlier', 'suixian', 'x', 'test', '\\x00')",
    )
    .execute(&mut writer)
    .await
    .unwrap();
    // …while a later change commits.
    let later = create(
        &mut suite.members(&admin()),
        member("后到", 130, &seed.party),
    )
    .await
    .unwrap();
    let held = tokio::time::timeout(Duration::from_millis(1000), stream.message()).await;
    let held_events = match held {
        Ok(Ok(Some(batch))) => batch.events,
        _ => Vec::new(),
    };
    assert!(
        held_events.is_empty(),
        "nothing passes a writer in flight: {held_events:?}"
    );

    sqlx::query("COMMIT").execute(&mut writer).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let batch = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.extend(batch.events);
    }
    assert_eq!(seen[0].r#type, "test.Earlier");
    assert_eq!(seen[1].subject, later.name);
    assert!(seen[0].cursor.parse::<i64>().unwrap() > cursor.parse::<i64>().unwrap_or(0));

    // A consumer that fell behind the retained events is told so.
    let mut admin_db = suite.db.admin().await;
    sqlx::query("INSERT INTO members.outbox_horizon (purged_through) VALUES (3)")
        .execute(&mut admin_db)
        .await
        .unwrap();
    let expired = suite
        .events(&service)
        .watch(events::WatchRequest {
            after_cursor: "1".into(),
            types: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::FailedPrecondition);
    assert_eq!(
        expired.get_details_error_info().unwrap().reason,
        "FAILED_PRECONDITION"
    );
}

/// A change publishing many events marks itself in flight once, not once
/// per event (thousands of locks would exhaust the lock table).
#[tokio::test]
async fn a_writer_marks_itself_in_flight_once() {
    let suite = Suite::start().await;
    let mut conn = suite.db.admin().await;
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query(
        "INSERT INTO members.outbox (id, type, committee, subject, actor, payload)
         SELECT gen_random_uuid(), 't', 'suixian', 's', 'a', '' FROM generate_series(1, 500)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let marks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(marks, 1);
    tx.commit().await.unwrap();
    // The next transaction marks itself again.
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query("INSERT INTO members.outbox (id, type, committee, subject, actor, payload) VALUES (gen_random_uuid(), 't', 'suixian', 's', 'a', '')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let marks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(marks, 1);
    tx.rollback().await.unwrap();
}
