//! An activity through all eight steps: participants credited, the
//! overdue list before and after, the result's feedback closing the loop.

use super::*;
use cppcc_proto::common::v1::DutyKind;

async fn step(suite: &Suite, name: &str, n: i32) -> Result<pb::Activity, tonic::Status> {
    suite
        .activities(&staff())
        .take_activity_step(pb::TakeActivityStepRequest {
            name: name.into(),
            step: n,
            documents: vec![format!("第{n}步材料.docx")],
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().activity.unwrap())
}

async fn overdue(suite: &Suite, as_of: Option<Date>) -> Vec<String> {
    suite
        .activities(&staff())
        .list_overdue_activities(pb::ListOverdueActivitiesRequest {
            parent: SUIXIAN.into(),
            as_of_date: as_of,
        })
        .await
        .unwrap()
        .into_inner()
        .activities
        .into_iter()
        .map(|a| a.activity)
        .collect()
}

#[tokio::test]
async fn a_research_inspection_goes_through_the_eight_steps_and_credits_its_members() {
    let (suite, members) = Suite::seeded(3).await;
    let (_, item) = approved_plan(&suite).await;
    let hall = platform(&suite, "洪山镇政协委员协商议事室").await;
    assert!(hall.five_haves.unwrap().compliant);
    let mut activities = suite.activities(&staff());

    let created = activities
        .create_activity(pb::CreateActivityRequest {
            parent: SUIXIAN.into(),
            activity: Some(pb::Activity {
                kind: pb::ActivityKind::ResearchInspection as i32,
                format: pb::ActivityFormat::SiteVisit as i32,
                topic: "全县油茶产业高质量发展".into(),
                platform: hall.name.clone(),
                plan_item: item.clone(),
                date: day(2023, 5, 10),
                official_count: 6,
                resident_count: 20,
                ..Default::default()
            }),
            participants: vec![members[0].clone(), members[1].clone()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    assert_eq!(created.step, 1, "the topic is set with it");
    let name = created.name.clone();

    // Out of order: the meeting before the plan and the research.
    let early = step(&suite, &name, 4).await;
    let status = assert_code(early, Code::FailedPrecondition);
    assert_eq!(precondition(&status), "STEP");
    assert!(
        status
            .message()
            .contains("the next step is 2 (制定协商方案)"),
        "{status:?}"
    );
    // A result before the meeting.
    let premature = suite
        .results(&staff())
        .create_consultation_result(pb::CreateConsultationResultRequest {
            parent: SUIXIAN.into(),
            result: Some(pb::ConsultationResult {
                activity: name.clone(),
                kind: pb::ResultKind::Report as i32,
                title: "关于全县油茶产业高质量发展的调研报告".into(),
                recipients: vec!["县委".into(), "县政府".into()],
                send_date: day(2023, 5, 14),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(premature, Code::FailedPrecondition)),
        "BEFORE_MEETING"
    );

    step(&suite, &name, 2).await.unwrap();
    step(&suite, &name, 3).await.unwrap();
    assert!(
        overdue(&suite, day(2023, 6, 1)).await.is_empty(),
        "nothing due before the meeting"
    );
    let held = step(&suite, &name, 4).await.unwrap();
    // A research report is due within 7 days of the research.
    assert_eq!(held.results_due_date, day(2023, 5, 17));
    assert!(overdue(&suite, day(2023, 5, 17)).await.is_empty());
    assert_eq!(overdue(&suite, day(2023, 5, 18)).await, vec![name.clone()]);
    // Someone who joins after the meeting is credited too.
    suite
        .activities(&staff())
        .add_participants(pb::AddParticipantsRequest {
            name: name.clone(),
            members: vec![members[2].clone()],
        })
        .await
        .unwrap();

    // One recorded by mistake is taken off: the credit is withdrawn.
    suite
        .activities(&staff())
        .remove_participants(pb::RemoveParticipantsRequest {
            name: name.clone(),
            members: vec![members[2].clone()],
            reason: "误录".into(),
        })
        .await
        .unwrap();
    let (credited, withdrawn) = (&members[..2], &members[2]);

    // Opinions and problems, one solved; a retried opinion counts once.
    for _ in 0..2 {
        activities
            .add_opinion(pb::AddOpinionRequest {
                parent: name.clone(),
                opinion: Some(pb::Opinion {
                    text: "建议扩大油茶低产林改造面积".into(),
                    source: "种植大户".into(),
                    ..Default::default()
                }),
                request_id: "0190a5e4-0000-7000-8000-00000000b001".into(),
            })
            .await
            .unwrap();
    }
    let problem = activities
        .add_problem(pb::AddProblemRequest {
            parent: name.clone(),
            problem: Some(pb::Problem {
                description: "油茶加工厂用电容量不足".into(),
                owner: "国网随县供电公司".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .problem
        .unwrap();
    let unsolved = activities
        .update_problem_status(pb::UpdateProblemStatusRequest {
            name: problem.name.clone(),
            status: pb::ProblemStatus::Solved as i32,
            resolution: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(unsolved, Code::InvalidArgument)),
        ["resolution"]
    );
    activities
        .update_problem_status(pb::UpdateProblemStatusRequest {
            name: problem.name.clone(),
            status: pb::ProblemStatus::Solved as i32,
            resolution: "已增容至800千伏安".into(),
        })
        .await
        .unwrap();

    // Results: no results step without a result; then feedback closes the loop.
    assert_eq!(
        precondition(&assert_code(
            step(&suite, &name, 5).await,
            Code::FailedPrecondition
        )),
        "NO_RESULTS"
    );
    let mut results = suite.results(&staff());
    let report = results
        .create_consultation_result(pb::CreateConsultationResultRequest {
            parent: SUIXIAN.into(),
            result: Some(pb::ConsultationResult {
                activity: name.clone(),
                kind: pb::ResultKind::Report as i32,
                title: "关于全县油茶产业高质量发展的调研报告".into(),
                text: "一、基本情况……二、存在问题……三、对策建议……".into(),
                recipients: vec!["县委".into(), "县政府".into()],
                send_date: day(2023, 5, 16),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    step(&suite, &name, 5).await.unwrap();
    assert!(
        overdue(&suite, None).await.is_empty(),
        "the report went out"
    );
    assert_eq!(
        overdue(&suite, day(2023, 6, 1)).await,
        vec![name.clone()],
        "judged on an earlier day, it was overdue then"
    );
    suite
        .results(&leader())
        .add_result_instruction(pb::AddResultInstructionRequest {
            name: report.name.clone(),
            instruction: Some(cppcc_proto::common::v1::LeaderInstruction {
                leader_name: "张三".into(),
                leader_title: "县委书记".into(),
                text: "请县林业局牵头研究落实。".into(),
                date: day(2023, 5, 20),
            }),
        })
        .await
        .unwrap();
    step(&suite, &name, 6).await.unwrap();
    assert_eq!(
        precondition(&assert_code(
            step(&suite, &name, 7).await,
            Code::FailedPrecondition
        )),
        "FEEDBACK_MISSING"
    );
    results
        .record_result_feedback(pb::RecordResultFeedbackRequest {
            name: report.name.clone(),
            adoption: pb::Adoption::Adopted as i32,
            actions: "县政府出台油茶产业扶持政策".into(),
        })
        .await
        .unwrap();
    step(&suite, &name, 7).await.unwrap();
    let archived = step(&suite, &name, 8).await.unwrap();
    assert!(archived.archived);
    assert_eq!(archived.steps.len(), 8);
    assert_eq!(archived.steps[3].title, "召开协商会议");
    assert_eq!(
        (
            archived.opinion_count,
            archived.problem_count,
            archived.solved_count
        ),
        (1, 1, 1)
    );

    // Frozen: nothing more.
    let after = activities
        .add_opinion(pb::AddOpinionRequest {
            parent: name.clone(),
            opinion: Some(pb::Opinion {
                text: "再补充一条意见".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(after, Code::FailedPrecondition)),
        "ARCHIVED"
    );
    assert_eq!(
        precondition(&assert_code(
            step(&suite, &name, 8).await,
            Code::FailedPrecondition
        )),
        "ARCHIVED"
    );
    let late_feedback = results
        .record_result_feedback(pb::RecordResultFeedbackRequest {
            name: report.name.clone(),
            adoption: pb::Adoption::Partly as i32,
            actions: "改为部分采纳".into(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(late_feedback, Code::FailedPrecondition)),
        "ARCHIVED"
    );

    // Collected in 《建言资政》, numbered per year; a retry numbers nothing
    // new, and a result goes into one issue only.
    let issue = |title: &str, request_id: &str| pb::CreatePublicationRequest {
        parent: SUIXIAN.into(),
        publication: Some(pb::Publication {
            year: 2023,
            title: title.into(),
            results: vec![report.name.clone()],
            issue_date: day(2023, 6, 1),
            ..Default::default()
        }),
        request_id: request_id.into(),
    };
    let retry = "0190a5e4-0000-7000-8000-00000000a001";
    for _ in 0..2 {
        let first = results
            .create_publication(issue("建言资政第1期", retry))
            .await
            .unwrap()
            .into_inner()
            .publication
            .unwrap();
        assert_eq!(first.number, 1);
        assert_eq!(first.name, format!("{SUIXIAN}/publications/2023-1"));
    }
    let again = results.create_publication(issue("建言资政第2期", "")).await;
    assert_eq!(
        precondition(&assert_code(again, Code::FailedPrecondition)),
        "PUBLISHED"
    );
    let wrong_year = results
        .create_publication(pb::CreatePublicationRequest {
            parent: SUIXIAN.into(),
            publication: Some(pb::Publication {
                year: 2023,
                title: "建言资政".into(),
                results: vec![report.name.clone()],
                issue_date: day(2024, 1, 5),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(wrong_year, Code::InvalidArgument)),
        ["publication.issue_date"]
    );

    // The plan's topic is carried out; the year's figures.
    let progress = suite
        .plans(&staff())
        .get_plan_progress(pb::GetPlanProgressRequest {
            parent: format!("{SUIXIAN}/consultationPlans/2023"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(progress.completion, 1.0);
    let stats = suite
        .results(&staff())
        .get_consultation_statistics(pb::GetConsultationStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((stats.platforms, stats.platforms_compliant), (1, 1));
    assert_eq!(stats.plan_completion, 1.0);
    assert_eq!(stats.term_start_date, day(2021, 12, 28));
    assert_eq!(stats.term, stats.year, "nothing before 2023");
    let stats = stats.year.unwrap();
    assert_eq!(stats.member_participations, 2);
    assert_eq!(stats.members_taking_part, 2);
    assert_eq!(stats.participations, 2 + 6 + 20);
    assert_eq!(
        (stats.opinions, stats.problems, stats.problems_solved),
        (1, 1, 1)
    );
    assert_eq!(
        (stats.reports, stats.results_adopted, stats.instructions),
        (1, 1, 1)
    );
    assert_eq!(stats.publications, 1);

    // Every participant has a 调研视察 entry for it in their duty record.
    for member in credited {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let records = suite
                .duty()
                .list_duty_records(mpb::ListDutyRecordsRequest {
                    parent: member.clone(),
                    filter: "source_service = \"consultations\"".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .duty_records;
            if let [record] = records.as_slice() {
                assert_eq!(record.kind, DutyKind::ResearchInspection as i32);
                assert_eq!(record.source, name);
                assert_eq!(record.date, day(2023, 5, 10));
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{member}: {records:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The one taken off: credited, then the credit reversed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let records = suite
            .duty()
            .list_duty_records(mpb::ListDutyRecordsRequest {
                parent: withdrawn.clone(),
                filter: "source_service = \"consultations\"".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .duty_records;
        if records.len() == 2 {
            assert!(
                records.iter().any(|r| !r.reverses.is_empty()),
                "{records:?}"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{records:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn bad_participants_and_platforms_are_refused_and_change_nothing() {
    let (suite, members) = Suite::seeded(2).await;
    let mut activities = suite.activities(&staff());
    let activity = |platform: &str, participants: Vec<String>| pb::CreateActivityRequest {
        parent: SUIXIAN.into(),
        activity: Some(pb::Activity {
            kind: pb::ActivityKind::Frontline as i32,
            format: pb::ActivityFormat::VillageEveningTalk as i32,
            topic: "美丽乡村建设".into(),
            platform: platform.into(),
            date: day(2023, 7, 2),
            ..Default::default()
        }),
        participants,
        request_id: String::new(),
    };
    let foreign = activities
        .create_activity(activity(
            "committees/zengdu/platforms/0190a5e4-0000-7000-8000-000000000000",
            vec![],
        ))
        .await;
    assert_eq!(
        fields(&assert_code(foreign, Code::InvalidArgument)),
        ["activity.platform"]
    );
    let stranger = activities
        .create_activity(activity(
            "",
            vec![format!(
                "{SUIXIAN}/members/0190a5e4-0000-7000-8000-000000000000"
            )],
        ))
        .await;
    assert_eq!(
        fields(&assert_code(stranger, Code::InvalidArgument)),
        ["participants[0]"]
    );
    suite
        .registry()
        .change_member_status(mpb::ChangeMemberStatusRequest {
            name: members[1].clone(),
            status: mpb::MemberStatus::Resigned as i32,
            reason: "辞去委员".into(),
            effective_date: None,
            etag: String::new(),
        })
        .await
        .unwrap();
    let resigned = activities
        .create_activity(activity("", vec![members[1].clone()]))
        .await;
    assert_eq!(
        precondition(&assert_code(resigned, Code::FailedPrecondition)),
        "MEMBER_NOT_IN_OFFICE"
    );
    let none = activities
        .list_activities(pb::ListActivitiesRequest {
            parent: SUIXIAN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(none.total_size, 0, "nothing was written");
    // A member may read but not record.
    let member = cppcc_tests::token(Role::Member, "suixian");
    let denied = suite
        .activities(&member)
        .create_activity(activity("", vec![]))
        .await;
    assert_code(denied, Code::PermissionDenied);
}

/// Platforms page with the kit's tokens, by level then name: the pages
/// together are the list, each platform once; another list's token is
/// refused.
#[tokio::test]
async fn platforms_page_by_level_and_name() {
    let (suite, _) = Suite::seeded(1).await;
    for name in ["五号平台", "一号平台", "三号平台", "二号平台", "四号平台"] {
        platform(&suite, name).await;
    }
    let mut platforms = suite.platforms(&staff());
    let list = |page_size: i32, page_token: String, level: i32| pb::ListPlatformsRequest {
        parent: SUIXIAN.into(),
        level,
        page_size,
        page_token,
    };
    let whole = platforms
        .list_platforms(list(0, String::new(), 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.platforms.len(), 5);
    assert!(whole.next_page_token.is_empty());
    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let page = platforms
            .list_platforms(list(2, token.clone(), 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 5);
        sizes.push(page.platforms.len());
        paged.extend(page.platforms.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        if first_token.is_empty() {
            first_token = page.next_page_token.clone();
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes, [2, 2, 1]);
    let names: Vec<String> = whole.platforms.into_iter().map(|p| p.name).collect();
    assert_eq!(paged, names, "the pages together are the list, each once");
    let other_level = assert_code(
        platforms
            .list_platforms(list(2, first_token, pb::PlatformLevel::Township as i32))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&other_level), ["page_token"]);
}
