//! Activity groups and the convener workflow, studios with their members,
//! liaisons and activities, liaison stations and informants.

use super::*;

async fn group(o: &mut ActivityGroupServiceClient<Authed>, township: &str) -> pb::ActivityGroup {
    o.create_activity_group(pb::CreateActivityGroupRequest {
        parent: SUIXIAN.into(),
        activity_group: Some(pb::ActivityGroup {
            display_name: format!("{township}政协活动组"),
            township: township.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .map(|r| r.into_inner().activity_group.unwrap())
    .unwrap()
}

async fn nominate(
    o: &mut ActivityGroupServiceClient<Authed>,
    group: &str,
    candidate: &str,
) -> Result<pb::ConvenerAppointment, tonic::Status> {
    o.nominate_convener(pb::NominateConvenerRequest {
        parent: group.into(),
        appointment: Some(pb::ConvenerAppointment {
            candidate_display_name: candidate.into(),
            candidate_title: "镇党委副书记".into(),
            ..Default::default()
        }),
        note: "镇党委会议决定".into(),
        request_id: String::new(),
    })
    .await
    .map(|r| r.into_inner().appointment.unwrap())
}

async fn agree(
    suite: &Suite,
    token: &str,
    name: &str,
) -> Result<pb::ConvenerAppointment, tonic::Status> {
    suite
        .groups(token)
        .agree_convener(pb::AgreeConvenerRequest {
            name: name.into(),
            note: "党组会议同意".into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().appointment.unwrap())
}

async fn approve(
    suite: &Suite,
    token: &str,
    name: &str,
) -> Result<pb::ConvenerAppointment, tonic::Status> {
    suite
        .groups(token)
        .approve_convener(pb::ApproveConvenerRequest {
            name: name.into(),
            note: "常委会议批准".into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().appointment.unwrap())
}

async fn reject(
    suite: &Suite,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::ConvenerAppointment, tonic::Status> {
    suite
        .groups(token)
        .reject_convener(pb::RejectConvenerRequest {
            name: name.into(),
            reason: reason.into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().appointment.unwrap())
}

async fn end(
    suite: &Suite,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::ConvenerAppointment, tonic::Status> {
    suite
        .groups(token)
        .end_convener_appointment(pb::EndConvenerAppointmentRequest {
            name: name.into(),
            reason: reason.into(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner().appointment.unwrap())
}

fn state(a: &pb::ConvenerAppointment) -> pb::ConvenerState {
    a.state()
}

#[tokio::test]
async fn conveners_pass_three_hands_in_order_and_one_serves_at_a_time() {
    let (suite, _) = Suite::seeded().await;
    let mut o = suite.groups(&staff());
    let hongshan = group(&mut o, "洪山镇").await;
    assert_eq!(hongshan.convener_appointment, "");
    let twice = o
        .create_activity_group(pb::CreateActivityGroupRequest {
            parent: SUIXIAN.into(),
            activity_group: Some(pb::ActivityGroup {
                display_name: "另一个组".into(),
                township: "洪山镇".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice:?}");

    // Nominated by the township (recorded by staff).
    let first = nominate(&mut o, &hongshan.name, "刘强").await.unwrap();
    assert_eq!(state(&first), pb::ConvenerState::Nominated);
    assert_eq!(first.nominated.as_ref().unwrap().reason, "镇党委会议决定");
    let pending = nominate(&mut o, &hongshan.name, "王明").await.unwrap_err();
    assert_eq!(pending.code(), Code::FailedPrecondition, "{pending:?}");
    assert_eq!(
        info(&pending, "appointment"),
        first.name,
        "names the nomination under way"
    );
    // A leader may not nominate.
    let wrong = nominate(&mut suite.groups(&leader()), &hongshan.name, "王明")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::PermissionDenied);

    // Out of order: the standing committee cannot approve before the party group agrees.
    let early = approve(&suite, &leader(), &first.name).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    assert_eq!(info(&early, "current_state"), "CONVENER_STATE_NOMINATED");
    // Wrong hands: the party group's step is the office's, not a leader's or staff's.
    let by_leader = agree(&suite, &leader(), &first.name).await.unwrap_err();
    assert_eq!(by_leader.code(), Code::PermissionDenied, "{by_leader:?}");
    let by_staff = agree(&suite, &staff(), &first.name).await.unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);

    let agreed = agree(&suite, &admin(), &first.name).await.unwrap();
    assert_eq!(state(&agreed), pb::ConvenerState::Agreed);
    let again = agree(&suite, &admin(), &first.name).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // Now only the standing committee's hands may reject or approve.
    let office_rejects = reject(&suite, &admin(), &first.name, "不合适")
        .await
        .unwrap_err();
    assert_eq!(office_rejects.code(), Code::PermissionDenied);
    let approved = approve(&suite, &leader(), &first.name).await.unwrap();
    assert_eq!(state(&approved), pb::ConvenerState::Approved);
    assert!(approved.approved.is_some() && approved.agreed.is_some());
    let g = o
        .get_activity_group(pb::GetActivityGroupRequest {
            name: hongshan.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .activity_group
        .unwrap();
    assert_eq!(g.convener_appointment, first.name);
    assert_eq!(g.convener_display_name, "刘强");
    // An approved appointment cannot be rejected any more, only ended.
    let late = reject(&suite, &leader(), &first.name, "迟了")
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);

    // A second candidate, rejected at the last step: a reason is required.
    let second = nominate(&mut o, &hongshan.name, "王明").await.unwrap();
    agree(&suite, &admin(), &second.name).await.unwrap();
    let no_reason = reject(&suite, &leader(), &second.name, " ")
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    assert_eq!(fields(&no_reason), ["reason"]);
    let rejected = reject(&suite, &leader(), &second.name, "常委会未通过")
        .await
        .unwrap();
    assert_eq!(state(&rejected), pb::ConvenerState::Rejected);
    assert_eq!(rejected.rejected.as_ref().unwrap().reason, "常委会未通过");
    let after_reject = approve(&suite, &leader(), &second.name).await.unwrap_err();
    assert_eq!(after_reject.code(), Code::FailedPrecondition);
    assert_eq!(
        info(&after_reject, "current_state"),
        "CONVENER_STATE_REJECTED"
    );

    // A third, rejected at the first step by the party group.
    let third = nominate(&mut o, &hongshan.name, "张华").await.unwrap();
    let r = reject(&suite, &admin(), &third.name, "党组不同意")
        .await
        .unwrap();
    assert_eq!(state(&r), pb::ConvenerState::Rejected);

    // A fourth, approved: the first convener is superseded.
    let fourth = nominate(&mut o, &hongshan.name, "李静").await.unwrap();
    agree(&suite, &admin(), &fourth.name).await.unwrap();
    approve(&suite, &leader(), &fourth.name).await.unwrap();
    let history = o
        .list_convener_appointments(pb::ListConvenerAppointmentsRequest {
            parent: hongshan.name.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.appointments.len(), 2);
    let rest = o
        .list_convener_appointments(pb::ListConvenerAppointmentsRequest {
            parent: hongshan.name.clone(),
            page_size: 2,
            page_token: history.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    let all: Vec<_> = history
        .appointments
        .iter()
        .chain(&rest.appointments)
        .collect();
    let states: Vec<_> = all
        .iter()
        .map(|a| (a.candidate_display_name.as_str(), state(a)))
        .collect();
    assert_eq!(
        states,
        [
            ("李静", pb::ConvenerState::Approved),
            ("张华", pb::ConvenerState::Rejected),
            ("王明", pb::ConvenerState::Rejected),
            ("刘强", pb::ConvenerState::Ended),
        ]
    );
    assert!(all[3].ended.as_ref().unwrap().reason.contains("superseded"));

    // Ending: the office's, with a reason; the group is left without a convener.
    let by_leader = end(&suite, &leader(), &fourth.name, "换届")
        .await
        .unwrap_err();
    assert_eq!(by_leader.code(), Code::PermissionDenied);
    let ended = end(&suite, &admin(), &fourth.name, "换届").await.unwrap();
    assert_eq!(state(&ended), pb::ConvenerState::Ended);
    let twice = end(&suite, &admin(), &fourth.name, "换届")
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    let g = o
        .get_activity_group(pb::GetActivityGroupRequest {
            name: hongshan.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .activity_group
        .unwrap();
    assert_eq!(g.convener_appointment, "");

    // Another committee's office sees none of it; a stale etag is refused.
    let elsewhere = agree(
        &suite,
        &cppcc_tests::token(Role::Admin, "zengdu"),
        &fourth.name,
    )
    .await
    .unwrap_err();
    assert_eq!(elsewhere.code(), Code::NotFound);
    let fifth = nominate(&mut o, &hongshan.name, "赵敏").await.unwrap();
    let stale = suite
        .groups(&admin())
        .agree_convener(pb::AgreeConvenerRequest {
            name: fifth.name.clone(),
            note: String::new(),
            etag: "\"99\"".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    // Agreeing does not change the group (only its convener's coming or going does).
    let get_group = || {
        let mut o = o.clone();
        let name = hongshan.name.clone();
        async move {
            o.get_activity_group(pb::GetActivityGroupRequest { name })
                .await
                .unwrap()
                .into_inner()
                .activity_group
                .unwrap()
        }
    };
    let before = get_group().await;
    agree(&suite, &admin(), &fifth.name).await.unwrap();
    assert_eq!(get_group().await.etag, before.etag);
    // A group with a nomination under way cannot be deleted.
    let busy = o
        .delete_activity_group(pb::DeleteActivityGroupRequest {
            name: hongshan.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(precondition(&busy), "IN_USE");
    assert_eq!(info(&busy, "appointment"), fifth.name);

    // Every step was audited.
    suite.seal().await;
    let steps = suite
        .audit_records(&format!("resource = \"{}\"", first.name))
        .await;
    assert_eq!(steps.len(), 4, "nominated, agreed, approved, superseded");
}

#[tokio::test]
async fn studios_keep_members_liaisons_and_activities_and_report_shortfalls() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let b = create(&mut m, member("乙委员", 2, &seed.business))
        .await
        .unwrap();
    let mut o = suite.studios(&staff());
    let studio = |name: &str, kind: pb::StudioKind, township: &str, sector: &str| pb::Studio {
        display_name: name.into(),
        kind: kind as i32,
        township: township.into(),
        sector: sector.into(),
        establish_date: day(2023, 1, 1),
        ..Default::default()
    };
    let base = o.clone();
    let create_studio = |s: pb::Studio| {
        let mut o = base.clone();
        async move {
            o.create_studio(pb::CreateStudioRequest {
                parent: SUIXIAN.into(),
                studio: Some(s),
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner().studio.unwrap())
        }
    };
    let hongshan = create_studio(studio(
        "洪山镇政协委员工作室",
        pb::StudioKind::Township,
        "洪山镇",
        "",
    ))
    .await
    .unwrap();
    let business = create_studio(studio(
        "工商联界别委员工作室",
        pb::StudioKind::Sector,
        "",
        &seed.business,
    ))
    .await
    .unwrap();
    assert_eq!(business.sector, seed.business);
    // A sector studio names a sector of this committee; a township studio a township.
    let bad = create_studio(studio("坏", pb::StudioKind::Sector, "洪山镇", ""))
        .await
        .unwrap_err();
    assert_eq!(fields(&bad), ["studio.township", "studio.sector"]);
    let bad = create_studio(pb::Studio {
        establish_date: day(2999, 1, 1),
        ..studio("坏", pb::StudioKind::Township, "", "")
    })
    .await
    .unwrap_err();
    assert_eq!(fields(&bad), ["studio.township", "studio.establish_date"]);

    // Members.
    for (s, who) in [(&hongshan, &a), (&hongshan, &b), (&business, &b)] {
        o.add_studio_member(pb::AddStudioMemberRequest {
            studio: s.name.clone(),
            member: who.name.clone(),
        })
        .await
        .unwrap();
    }
    // Adding a member twice changes nothing.
    let twice = o
        .add_studio_member(pb::AddStudioMemberRequest {
            studio: hongshan.name.clone(),
            member: a.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .studio
        .unwrap();
    assert_eq!(twice.member_count, 2);
    let stranger = o
        .add_studio_member(pb::AddStudioMemberRequest {
            studio: hongshan.name.clone(),
            member: format!("{SUIXIAN}/members/{}", Uuid::now_v7()),
        })
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::NotFound);
    let listed = o
        .list_studio_members(pb::ListStudioMembersRequest {
            parent: hongshan.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.member_display_names,
        ["乙委员", "甲委员"],
        "by surname strokes"
    );
    let removed = o
        .remove_studio_member(pb::RemoveStudioMemberRequest {
            studio: hongshan.name.clone(),
            member: b.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .studio
        .unwrap();
    assert_eq!(removed.member_count, 1);

    // Village liaisons: not members; phones masked.
    for (n, village) in ["桂花街社区", "洪山村"].iter().enumerate() {
        let l = o
            .create_studio_liaison(pb::CreateStudioLiaisonRequest {
                parent: hongshan.name.clone(),
                liaison: Some(pb::StudioLiaison {
                    display_name: format!("联络员{n}"),
                    village: (*village).into(),
                    phone: format!("1390000000{n}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .liaison
            .unwrap();
        assert_eq!(l.phone, format!("139****000{n}"));
    }
    let bad_phone = o
        .create_studio_liaison(pb::CreateStudioLiaisonRequest {
            parent: hongshan.name.clone(),
            liaison: Some(pb::StudioLiaison {
                display_name: "联络员".into(),
                village: "洪山村".into(),
                phone: "12345".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&bad_phone), ["liaison.phone"]);
    let got = o
        .get_studio(pb::GetStudioRequest {
            name: hongshan.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .studio
        .unwrap();
    assert_eq!((got.member_count, got.liaison_count), (1, 2));

    // Activities: 洪山 holds two in March 2023, the sector studio one.
    let activity = |studio: &str, d: Option<Date>, participants: Vec<String>| {
        let mut o = base.clone();
        let studio = studio.to_owned();
        async move {
            o.create_studio_activity(pb::CreateStudioActivityRequest {
                parent: studio,
                activity: Some(pb::StudioActivity {
                    title: "亮身份、解民忧".into(),
                    date: d,
                    description: "走访群众".into(),
                    participants,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
        }
    };
    activity(&hongshan.name, day(2023, 3, 5), vec![a.name.clone()])
        .await
        .unwrap();
    activity(&hongshan.name, day(2023, 3, 20), vec![])
        .await
        .unwrap();
    activity(&business.name, day(2023, 3, 8), vec![b.name.clone()])
        .await
        .unwrap();
    let future = activity(&hongshan.name, day(2999, 3, 5), vec![])
        .await
        .unwrap_err();
    assert_eq!(fields(&future), ["activity.date"]);
    let outsider = activity(
        &hongshan.name,
        day(2023, 3, 5),
        vec!["committees/zengdu/members/x".into()],
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&outsider), ["activity.participants[0]"]);
    let shortfalls = |month: i32| {
        let mut o = base.clone();
        async move {
            o.list_studio_shortfalls(pb::ListStudioShortfallsRequest {
                parent: SUIXIAN.into(),
                year: 2023,
                month,
            })
            .await
        }
    };
    let march = shortfalls(3).await.unwrap().into_inner();
    assert_eq!(march.studio_count, 2);
    let short: Vec<_> = march
        .shortfalls
        .iter()
        .map(|s| (s.display_name.as_str(), s.held, s.target))
        .collect();
    assert_eq!(short, [("工商联界别委员工作室", 1, 2)]);
    assert_eq!(
        shortfalls(4).await.unwrap().into_inner().shortfalls.len(),
        2
    );
    assert_eq!(fields(&shortfalls(13).await.unwrap_err()), ["month"]);
    let months_ahead = o
        .list_studio_shortfalls(pb::ListStudioShortfallsRequest {
            parent: SUIXIAN.into(),
            year: 2999,
            month: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&months_ahead),
        ["month"],
        "a month that has not begun"
    );
    let before_it = activity(&hongshan.name, day(2022, 12, 31), vec![])
        .await
        .unwrap_err();
    assert_eq!(
        fields(&before_it),
        ["activity.date"],
        "before the studio was set up"
    );
    // Studios set up later are not counted for months before.
    let later = create_studio(pb::Studio {
        establish_date: day(2023, 6, 1),
        ..studio(
            "厉山镇政协委员工作室",
            pb::StudioKind::Township,
            "厉山镇",
            "",
        )
    })
    .await
    .unwrap();
    assert_eq!(shortfalls(3).await.unwrap().into_inner().studio_count, 2);
    assert_eq!(shortfalls(6).await.unwrap().into_inner().studio_count, 3);
    // A monthly target of its own.
    o.update_studio(pb::UpdateStudioRequest {
        studio: Some(pb::Studio {
            name: later.name.clone(),
            monthly_target: 1,
            ..Default::default()
        }),
        update_mask: mask(&["monthly_target"]),
    })
    .await
    .unwrap();
    activity(&later.name, day(2023, 6, 2), vec![])
        .await
        .unwrap();
    let june: Vec<_> = shortfalls(6)
        .await
        .unwrap()
        .into_inner()
        .shortfalls
        .into_iter()
        .map(|s| s.display_name)
        .collect();
    assert!(
        !june.contains(&"厉山镇政协委员工作室".to_owned()),
        "{june:?}"
    );

    let page = o
        .list_studio_activities(pb::ListStudioActivitiesRequest {
            parent: hongshan.name.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.activities[0].date, day(2023, 3, 20), "newest first");
    let next = o
        .list_studio_activities(pb::ListStudioActivitiesRequest {
            parent: hongshan.name.clone(),
            page_size: 1,
            page_token: page.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.activities[0].date, day(2023, 3, 5));
    assert_eq!(
        next.activities[0].participants,
        std::slice::from_ref(&a.name)
    );

    // Members and leaders read; they do not organise.
    let denied = suite
        .studios(&leader())
        .create_studio(pb::CreateStudioRequest {
            parent: SUIXIAN.into(),
            studio: Some(studio("x", pb::StudioKind::Township, "x镇", "")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn stations_and_informants_with_phones_shown_only_to_the_network_keepers() {
    let (suite, _) = Suite::seeded().await;
    let info = cppcc_tests::token(Role::InfoCentre, "suixian");
    let mut o = suite.network(&info);
    let station = |name: &str, kind: pb::LiaisonStationKind, location: &str| pb::LiaisonStation {
        display_name: name.into(),
        kind: kind as i32,
        location: location.into(),
        ..Default::default()
    };
    let hongshan = o
        .create_liaison_station(pb::CreateLiaisonStationRequest {
            parent: SUIXIAN.into(),
            liaison_station: Some(station(
                "洪山镇社情民意联络站",
                pb::LiaisonStationKind::Township,
                "洪山镇",
            )),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .liaison_station
        .unwrap();
    let twice = o
        .create_liaison_station(pb::CreateLiaisonStationRequest {
            parent: SUIXIAN.into(),
            liaison_station: Some(station(
                "洪山镇社情民意联络站",
                pb::LiaisonStationKind::Township,
                "洪山镇",
            )),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    let bad = o
        .create_liaison_station(pb::CreateLiaisonStationRequest {
            parent: SUIXIAN.into(),
            liaison_station: Some(station("", pb::LiaisonStationKind::Unspecified, "")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&bad),
        [
            "liaison_station.display_name",
            "liaison_station.location",
            "liaison_station.kind"
        ]
    );
    // Staff do not keep the network.
    let by_staff = suite
        .network(&staff())
        .create_liaison_station(pb::CreateLiaisonStationRequest {
            parent: SUIXIAN.into(),
            liaison_station: Some(station(
                "卫健局联络站",
                pb::LiaisonStationKind::Department,
                "县卫健局",
            )),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);

    let informant = |name: &str, station: &str, phone: &str| pb::Informant {
        display_name: name.into(),
        liaison_station: station.into(),
        employer: "洪山镇人民政府".into(),
        phone: phone.into(),
        active: true,
        ..Default::default()
    };
    let created = o
        .create_informant(pb::CreateInformantRequest {
            parent: SUIXIAN.into(),
            informant: Some(informant("周信息", &hongshan.name, "13912345678")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .informant
        .unwrap();
    assert_eq!(created.phone, "139****5678");
    let nowhere = o
        .create_informant(pb::CreateInformantRequest {
            parent: SUIXIAN.into(),
            informant: Some(informant(
                "吴信息",
                &format!("{SUIXIAN}/liaisonStations/{}", Uuid::now_v7()),
                "",
            )),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&nowhere),
        ["informant.liaison_station"],
        "{nowhere:?}"
    );

    // The information centre sees the phone (audited); staff see it masked.
    let get = |token: String| {
        let name = created.name.clone();
        let suite = &suite;
        async move {
            suite
                .network(&token)
                .get_informant(pb::GetInformantRequest { name })
                .await
                .unwrap()
                .into_inner()
                .informant
                .unwrap()
        }
    };
    assert_eq!(get(info.clone()).await.phone, "13912345678");
    assert_eq!(get(staff()).await.phone, "139****5678");
    suite.seal().await;
    let reads = suite
        .audit_records(&format!(
            "resource = \"{}\" AND method = \"/cppcc.members.v1.LiaisonNetworkService/GetInformant\"",
            created.name
        ))
        .await;
    assert_eq!(reads.len(), 1, "only the unmasked read is audited");

    let station_now = o
        .get_liaison_station(pb::GetLiaisonStationRequest {
            name: hongshan.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .liaison_station
        .unwrap();
    assert_eq!(station_now.informant_count, 1);
    // The statistics count the network as it stands: stations, and the
    // active informants of stations still there.
    let network = || async {
        let stats = suite
            .evaluation(&staff())
            .get_member_statistics(pb::GetMemberStatisticsRequest {
                committee: SUIXIAN.into(),
                year: 2023,
            })
            .await
            .unwrap()
            .into_inner()
            .statistics
            .unwrap();
        (stats.liaison_stations, stats.informants)
    };
    assert_eq!(network().await, (1, 1));
    // A station with informants cannot go; an inactive informant can be filtered out.
    let busy = o
        .delete_liaison_station(pb::DeleteLiaisonStationRequest {
            name: hongshan.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition, "{busy:?}");
    // What a caller reads back (phone masked) can be sent back changed.
    let read_back = get(staff()).await;
    o.update_informant(pb::UpdateInformantRequest {
        informant: Some(pb::Informant {
            employer: "洪山镇人民政府 党政办".into(),
            ..read_back
        }),
        update_mask: None,
    })
    .await
    .unwrap();
    assert_eq!(
        get(info.clone()).await.phone,
        "13912345678",
        "the phone is left as it was"
    );
    o.update_informant(pb::UpdateInformantRequest {
        informant: Some(pb::Informant {
            name: created.name.clone(),
            active: false,
            ..Default::default()
        }),
        update_mask: mask(&["active"]),
    })
    .await
    .unwrap();
    let active = o
        .list_informants(pb::ListInformantsRequest {
            parent: SUIXIAN.into(),
            filter: "active = true".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.total_size, 0);
    assert_eq!(
        network().await,
        (1, 0),
        "an inactive informant is not counted"
    );
    let deleted = o
        .delete_informant(pb::DeleteInformantRequest {
            name: created.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .informant
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let gone = o
        .delete_liaison_station(pb::DeleteLiaisonStationRequest {
            name: hongshan.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .liaison_station
        .unwrap();
    assert!(gone.delete_time.is_some());
    assert_eq!(network().await, (0, 0));
}
