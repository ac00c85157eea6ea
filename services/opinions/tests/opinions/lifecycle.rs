//! One deployment: review, bulletins, handling, instructions, forwarding
//! to a parent served here, quotas, proposals turned into reports, the
//! statistics, and bad input.

use super::*;

#[tokio::test]
async fn a_report_is_reviewed_published_handled_and_instructed() {
    let (d, county) = Deployment::county(2, vec![]).await;
    let member = &county.members[0];
    // The member reports in its own name.
    let own = cppcc_tests::token_with(cppcc_kit::auth::TokenRequest {
        subject: "委员0",
        role: Role::Member,
        committee: "suixian",
        member: Some(member),
        unit: None,
        ttl: Duration::from_secs(600),
    });
    let made = d
        .reports(&own)
        .create_opinion_report(pb::CreateOpinionReportRequest {
            parent: SUIXIAN.into(),
            report: Some(member_report(member, "关于探索乡村合作公司的建议")),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(made.contributor_display_name, "委员0");
    assert_eq!(made.status, pb::OpinionReportStatus::Submitted as i32);
    d.credited(member, DutyKind::OpinionSubmitted, &made.name)
        .await;
    // Reporting for someone else is refused.
    let status = assert_code(
        d.reports(&own)
            .create_opinion_report(pb::CreateOpinionReportRequest {
                parent: SUIXIAN.into(),
                report: Some(member_report(&county.members[1], "关于代他人反映的意见")),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    assert!(status.message().contains("own name"), "{status:?}");

    let mut reports = d.reports(&centre());
    reports
        .start_opinion_review(pb::StartOpinionReviewRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap();
    let edited = reports
        .edit_opinion_report(pb::EditOpinionReportRequest {
            name: made.name.clone(),
            title: "关于探索发展乡村合作公司的建议".into(),
            content: "建议以村集体为主体试点乡村合作公司，县里出台收益分配和风险防控办法。".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(edited.edited);
    assert_eq!(edited.original_title, "关于探索乡村合作公司的建议");
    assert_eq!(edited.title, "关于探索发展乡村合作公司的建议");
    let accepted = reports
        .accept_opinion_report(pb::AcceptOpinionReportRequest {
            name: made.name.clone(),
            date: day(2023, 3, 8),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(accepted.review_state, pb::ReviewState::Accepted as i32);
    assert_eq!(accepted.status, pb::OpinionReportStatus::Accepted as i32);
    d.credited(member, DutyKind::OpinionAdopted, &made.name)
        .await;

    // Accepting twice: refused, with the state, and nothing changes.
    let status = assert_code(
        reports
            .accept_opinion_report(pb::AcceptOpinionReportRequest {
                name: made.name.clone(),
                title: "另一个标题的建议".into(),
                content: "另一段足够长的正文内容，用来确认没有被写入。".into(),
                ..Default::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(precondition(&status), "ALREADY_REVIEWED");
    assert_eq!(
        status.get_details_error_info().unwrap().metadata["current_state"],
        "REVIEW_STATE_ACCEPTED"
    );
    let again = reports
        .get_opinion_report(pb::GetOpinionReportRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(again, accepted);

    // Bulletins, numbered per year and kind.
    let issue = |kind: pb::BulletinKind, title: &str| {
        let mut bulletins = d.bulletins(&centre());
        let request = pb::CreateBulletinRequest {
            parent: SUIXIAN.into(),
            bulletin: Some(pb::Bulletin {
                kind: kind as i32,
                title: title.into(),
                issue_date: day(2023, 3, 20),
                reports: vec![made.name.clone()],
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move {
            bulletins
                .create_bulletin(request)
                .await
                .unwrap()
                .into_inner()
                .bulletin
                .unwrap()
        }
    };
    let first = issue(pb::BulletinKind::Regular, "社情民意简报").await;
    let second = issue(pb::BulletinKind::Regular, "社情民意简报").await;
    let special = issue(pb::BulletinKind::Special, "社情民意专刊").await;
    assert_eq!((first.number, second.number, special.number), (1, 2, 1));
    assert_eq!(first.year, 2023);

    // Sent to a unit; feedback from a unit it was not sent to is refused.
    let unit = format!("{SUIXIAN}/units/{}", uuid::Uuid::new_v4());
    let other_unit = format!("{SUIXIAN}/units/{}", uuid::Uuid::new_v4());
    let sent = reports
        .send_opinion_report_to_units(pb::SendOpinionReportToUnitsRequest {
            name: made.name.clone(),
            units: vec![pb::UnitRef {
                unit: unit.clone(),
                display_name: "随县农业农村局".into(),
            }],
            date: day(2023, 3, 21),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(sent.status, pb::OpinionReportStatus::InProgress as i32);
    let status = assert_code(
        reports
            .record_handling_feedback(pb::RecordHandlingFeedbackRequest {
                name: made.name.clone(),
                unit: other_unit.clone(),
                feedback: "已研究落实。".into(),
                date: day(2023, 4, 1),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(precondition(&status), "NOT_SENT_TO_UNIT");
    assert!(status.message().contains("随县农业农村局"), "{status:?}");
    // A unit not sent it cannot even see it.
    let stranger = cppcc_tests::token_with(cppcc_kit::auth::TokenRequest {
        subject: "其他单位",
        role: Role::HandlingUnit,
        committee: "suixian",
        member: None,
        unit: Some(&other_unit),
        ttl: Duration::from_secs(600),
    });
    assert_code(
        d.reports(&stranger)
            .get_opinion_report(pb::GetOpinionReportRequest {
                name: made.name.clone(),
            })
            .await,
        Code::NotFound,
    );
    // Closing before the unit answers is refused.
    let handling = sent.handlings[0].name.clone();
    let status = assert_code(
        reports
            .close_handling(pb::CloseHandlingRequest {
                name: handling.clone(),
                date: day(2023, 3, 25),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(precondition(&status), "NO_FEEDBACK");
    let the_unit = cppcc_tests::token_with(cppcc_kit::auth::TokenRequest {
        subject: "农业农村局",
        role: Role::HandlingUnit,
        committee: "suixian",
        member: None,
        unit: Some(&unit),
        ttl: Duration::from_secs(600),
    });
    let answered = d
        .reports(&the_unit)
        .record_handling_feedback(pb::RecordHandlingFeedbackRequest {
            name: made.name.clone(),
            unit: String::new(),
            feedback: "已在三个村开展试点。".into(),
            date: day(2023, 4, 10),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(
        answered.handlings[0].state,
        pb::HandlingState::Answered as i32
    );
    reports
        .record_handling_follow_up(pb::RecordHandlingFollowUpRequest {
            name: handling.clone(),
            note: "跟踪督办：试点村收益分配办法已印发。".into(),
            date: day(2023, 5, 10),
        })
        .await
        .unwrap();
    let closed = reports
        .close_handling(pb::CloseHandlingRequest {
            name: handling.clone(),
            date: day(2023, 5, 12),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(closed.handlings[0].state, pb::HandlingState::Closed as i32);
    assert_eq!(closed.handlings[0].follow_ups.len(), 1);
    assert_eq!(closed.status, pb::OpinionReportStatus::Concluded as i32);

    // A leader's instruction, credited to the member.
    let instructed = d
        .reports(&leader())
        .add_opinion_instruction(pb::AddOpinionInstructionRequest {
            name: made.name.clone(),
            instruction: Some(cppcc_proto::common::v1::LeaderInstruction {
                leader_name: "王书记".into(),
                leader_title: "县委书记".into(),
                text: "请县农业农村局研究吸纳。".into(),
                date: day(2023, 3, 15),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(instructed.instructions.len(), 1);
    d.credited(
        member,
        DutyKind::OpinionInstructed,
        &format!("{}#instruction-1", made.name),
    )
    .await;

    let stats = reports
        .get_opinion_statistics(pb::GetOpinionStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    let y = stats.year_figures.unwrap();
    assert_eq!(
        (
            y.submitted,
            y.submitted_by_members,
            y.accepted,
            y.published,
            y.bulletin_issues
        ),
        (1, 1, 1, 1, 3)
    );
    assert_eq!(
        (
            y.instructions,
            y.member_contributors,
            y.sent_for_handling,
            y.handlings_closed
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(y.by_category[0].category, pb::OpinionCategory::Rural as i32);
}

#[tokio::test]
async fn forwarding_to_a_parent_served_here_and_its_decision() {
    let (d, county) = Deployment::county(2, vec![]).await;
    let member = &county.members[0];
    let mut reports = d.reports(&centre());
    // Not yet accepted: refused.
    let draft = reports
        .create_opinion_report(pb::CreateOpinionReportRequest {
            parent: SUIXIAN.into(),
            report: Some(member_report(member, "关于全域旅游发展的建议")),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let status = assert_code(
        reports
            .forward_opinion_report(pb::ForwardOpinionReportRequest {
                name: draft.name.clone(),
                target: SUIZHOU.into(),
                date: None,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(precondition(&status), "NOT_ACCEPTED");
    let report = accepted(&d, member, "关于美丽乡村建设的建议").await;
    // Not the parent: refused.
    let status = assert_code(
        reports
            .forward_opinion_report(pb::ForwardOpinionReportRequest {
                name: report.name.clone(),
                target: "committees/hubei".into(),
                date: None,
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&status), ["target"]);
    assert!(
        status.message().contains("committees/suizhou"),
        "{status:?}"
    );
    let unchanged = reports
        .get_opinion_report(pb::GetOpinionReportRequest {
            name: report.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(unchanged.forwards.is_empty());

    let forwarded = reports
        .forward_opinion_report(pb::ForwardOpinionReportRequest {
            name: report.name.clone(),
            target: SUIZHOU.into(),
            date: day(2023, 3, 10),
        })
        .await
        .unwrap()
        .into_inner();
    let forward = forwarded.forward.unwrap();
    assert_eq!(forward.state, pb::ForwardState::Delivered as i32);
    assert_code(
        reports
            .forward_opinion_report(pb::ForwardOpinionReportRequest {
                name: report.name.clone(),
                target: SUIZHOU.into(),
                date: day(2023, 3, 10),
            })
            .await,
        Code::AlreadyExists,
    );
    let inbox = d
        .inbox(&city_centre())
        .list_inbox_reports(pb::ListInboxReportsRequest {
            parent: SUIZHOU.into(),
            state: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].forward, forward.name);
    assert_eq!(inbox[0].title, "关于美丽乡村建设的建议");
    // Deciding where it was not received: not found, nothing changes.
    let elsewhere = inbox[0].name.replace(SUIZHOU, SUIXIAN);
    assert_code(
        d.inbox(&centre())
            .decide_inbox_report(pb::DecideInboxReportRequest {
                name: elsewhere,
                adopted: true,
                note: String::new(),
                date: None,
            })
            .await,
        Code::NotFound,
    );
    // Another committee's system cannot record a decision on it.
    let other = cppcc_tests::token(Role::UpperCommittee, "hubei");
    let status = assert_code(
        d.reports(&other)
            .record_upward_decision(pb::RecordUpwardDecisionRequest {
                name: forward.name.clone(),
                decided_by: "committees/hubei".into(),
                adopted: true,
                note: String::new(),
                date: day(2023, 3, 20),
            })
            .await,
        Code::PermissionDenied,
    );
    assert!(
        status.message().contains("committees/suizhou"),
        "{status:?}"
    );

    let decided = d
        .inbox(&city_centre())
        .decide_inbox_report(pb::DecideInboxReportRequest {
            name: inbox[0].name.clone(),
            adopted: true,
            note: "刊发于《随州政协信息》".into(),
            date: day(2023, 3, 20),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(decided.state, pb::InboxState::Adopted as i32);
    assert!(decided.decision_delivered);
    let status = assert_code(
        d.inbox(&city_centre())
            .decide_inbox_report(pb::DecideInboxReportRequest {
                name: inbox[0].name.clone(),
                adopted: false,
                note: String::new(),
                date: None,
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(precondition(&status), "ALREADY_DECIDED");
    let seen = reports
        .get_opinion_report(pb::GetOpinionReportRequest {
            name: report.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(seen.forwards[0].state, pb::ForwardState::Adopted as i32);
    assert_eq!(seen.forwards[0].decision_date, day(2023, 3, 20));
    assert_eq!(seen.status, pb::OpinionReportStatus::Concluded as i32);
    d.credited(member, DutyKind::OpinionAdoptedUpward, &forward.name)
        .await;

    let stats = reports
        .get_opinion_statistics(pb::GetOpinionStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    let y = stats.year_figures.unwrap();
    assert_eq!(
        (y.submitted, y.accepted, y.forwarded, y.adopted_upward),
        (2, 1, 1, 1)
    );
    assert!((y.adoption_rate - 1.0).abs() < 1e-9);
    assert_eq!(stats.term_start_date, day(2021, 12, 28));
}

#[tokio::test]
async fn bad_contributors_are_refused_and_nothing_is_written() {
    let (d, county) = Deployment::county(1, vec![]).await;
    let mut reports = d.reports(&centre());
    let informant_report = |informant: &str, station: &str| pb::CreateOpinionReportRequest {
        parent: SUIXIAN.into(),
        report: Some(pb::OpinionReport {
            title: "关于集镇农贸市场改造的意见".into(),
            content: "群众反映集镇市场破损严重，商贩占道经营，存在安全隐患。".into(),
            category: pb::OpinionCategory::Livelihood as i32,
            informant: informant.into(),
            liaison_station: station.into(),
            submit_date: day(2023, 4, 2),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // An informant of another committee.
    let foreign = format!("committees/zengdu/informants/{}", uuid::Uuid::new_v4());
    let status = assert_code(
        reports
            .create_opinion_report(informant_report(&foreign, ""))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&status), ["report.informant"]);
    // Another committee's station.
    let station = format!("committees/zengdu/liaisonStations/{}", uuid::Uuid::new_v4());
    let status = assert_code(
        reports
            .create_opinion_report(informant_report(&county.informant, &station))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&status), ["report.liaison_station"]);
    // A station of ours that is not the informant's.
    let ours = format!("{SUIXIAN}/liaisonStations/{}", uuid::Uuid::new_v4());
    let status = assert_code(
        reports
            .create_opinion_report(informant_report(&county.informant, &ours))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&status), ["report.liaison_station"]);
    // No contributor, or two.
    let mut two = informant_report(&county.informant, "");
    two.report.as_mut().unwrap().member = county.members[0].clone();
    let status = assert_code(
        reports.create_opinion_report(two).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&status), ["report.member"]);
    let listed = reports
        .list_opinion_reports(pb::ListOpinionReportsRequest {
            parent: SUIXIAN.into(),
            year: 2023,
            review_state: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .reports;
    assert!(listed.is_empty(), "{listed:?}");

    // The informant's own station is taken from the registry.
    let made = reports
        .create_opinion_report(informant_report(&county.informant, ""))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(made.liaison_station, county.station);
    assert_eq!(made.contributor_kind, pb::ContributorKind::Informant as i32);
    let stats = reports
        .get_opinion_statistics(pb::GetOpinionStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap()
        .year_figures
        .unwrap();
    assert_eq!(stats.submitted_by_informants, 1);
    assert_eq!(stats.by_station[0].liaison_station, county.station);
    assert_eq!(stats.member_contributors, 0);
}

#[tokio::test]
async fn staff_quota_and_proposals_turned_into_reports() {
    let (d, county) = Deployment::county(1, vec![]).await;
    let mut quota = d.quota(&centre());
    let mut staff = Vec::new();
    for (name, unit) in [("张干事", "办公室"), ("刘干事", "提案委员会")] {
        staff.push(
            quota
                .create_opinion_staff(pb::CreateOpinionStaffRequest {
                    parent: SUIXIAN.into(),
                    staff: Some(pb::OpinionStaff {
                        display_name: name.into(),
                        unit: unit.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .staff
                .unwrap(),
        );
    }
    d.reports(&cppcc_tests::token(Role::Staff, "suixian"))
        .create_opinion_report(pb::CreateOpinionReportRequest {
            parent: SUIXIAN.into(),
            report: Some(pb::OpinionReport {
                title: "关于机关食堂节约粮食的建议".into(),
                content: "建议在机关食堂推行按需取餐，减少浪费。".into(),
                category: pb::OpinionCategory::Other as i32,
                staff: staff[0].name.clone(),
                submit_date: day(2023, 3, 9),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let march = quota
        .get_quota_compliance(pb::GetQuotaComplianceRequest {
            committee: SUIXIAN.into(),
            year: 2023,
            month: 3,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((march.quota, march.met, march.entries.len()), (1, 1, 2));
    let met: Vec<_> = march
        .entries
        .iter()
        .filter(|e| e.met)
        .map(|e| e.staff.clone().unwrap().display_name)
        .collect();
    assert_eq!(met, ["张干事"]);
    let april = quota
        .get_quota_compliance(pb::GetQuotaComplianceRequest {
            committee: SUIXIAN.into(),
            year: 2023,
            month: 4,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(april.met, 0);
    assert_code(
        quota
            .get_quota_compliance(pb::GetQuotaComplianceRequest {
                committee: SUIXIAN.into(),
                year: 2023,
                month: 13,
            })
            .await,
        Code::InvalidArgument,
    );

    // A proposal turned into a report: the same report however often it
    // arrives, credited to the proposer once.
    let proposal = format!("{SUIXIAN}/proposals/{}", uuid::Uuid::new_v4());
    let service = cppcc_tests::token(Role::Service, "suixian");
    let import = || pb::ImportConvertedProposalRequest {
        parent: SUIXIAN.into(),
        proposal: proposal.clone(),
        member: county.members[0].clone(),
        title: "关于加快城乡供水一体化的提案".into(),
        content: "建议统筹城乡供水工程建设。".into(),
        date: day(2023, 2, 20),
    };
    let first = d
        .reports(&service)
        .import_converted_proposal(import())
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let second = d
        .reports(&service)
        .import_converted_proposal(import())
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(first.name, second.name);
    assert_eq!(first.source_proposal, proposal);
    assert_eq!(first.review_state, pb::ReviewState::Submitted as i32);
    let n = d
        .credited(&county.members[0], DutyKind::OpinionSubmitted, &first.name)
        .await;
    assert_eq!(n, 1);
}

/// The reports page as every list does (the kit's tokens): pages of the
/// size asked for, oldest first, together the whole list, each once; a
/// token is good only for the list it came from.
#[tokio::test]
async fn reports_page_with_tokens_bound_to_their_list() {
    let (d, county) = Deployment::county(1, vec![]).await;
    let mut reports = d.reports(&centre());
    let mut made = Vec::new();
    for (i, day_of_month) in [9, 3, 5, 3, 7].into_iter().enumerate() {
        let mut report = member_report(&county.members[0], &format!("关于第{i}件事的建议"));
        report.submit_date = day(2023, 3, day_of_month);
        made.push(
            reports
                .create_opinion_report(pb::CreateOpinionReportRequest {
                    parent: SUIXIAN.into(),
                    report: Some(report),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .report
                .unwrap(),
        );
    }
    let list = |page_size: i32, page_token: String, year: i32| pb::ListOpinionReportsRequest {
        parent: SUIXIAN.into(),
        year,
        page_size,
        page_token,
        ..Default::default()
    };
    let whole = reports
        .list_opinion_reports(list(0, String::new(), 2023))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.reports.len(), 5);
    assert!(whole.next_page_token.is_empty());
    let days: Vec<i32> = whole
        .reports
        .iter()
        .map(|r| r.submit_date.as_ref().unwrap().day)
        .collect();
    assert_eq!(days, [3, 3, 5, 7, 9], "oldest first");

    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    let mut second_token = String::new();
    loop {
        let page = reports
            .list_opinion_reports(list(2, token.clone(), 2023))
            .await
            .unwrap()
            .into_inner();
        sizes.push(page.reports.len());
        paged.extend(page.reports.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        if second_token.is_empty() {
            second_token = page.next_page_token.clone();
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes, [2, 2, 1]);
    let names: Vec<String> = whole.reports.into_iter().map(|r| r.name).collect();
    assert_eq!(paged, names, "the pages together are the list, each once");

    // A token from another list, or no token at all.
    let other_year = assert_code(
        reports
            .list_opinion_reports(list(2, second_token, 2024))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&other_year), ["page_token"]);
    let garbage = assert_code(
        reports
            .list_opinion_reports(list(2, "not-a-token".into(), 2023))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&garbage), ["page_token"]);
    let negative = assert_code(
        reports
            .list_opinion_reports(list(-1, String::new(), 2023))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&negative), ["page_size"]);
}
