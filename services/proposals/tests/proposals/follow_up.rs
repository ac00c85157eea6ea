//! Key proposals and their supervision, leader instructions, look-backs
//! after closing, and the year's excellent proposals.

use super::*;

/// Files, assigns, answers, rates and closes a proposal of `member`'s.
async fn closed(suite: &Suite, seed: &Seed, member: &str, title: &str) -> pb::Proposal {
    let p = submitted(suite, seed, member, title).await;
    let mut office = suite.proposals(&office_token());
    office
        .file_proposal(pb::FileProposalRequest {
            name: p.name.clone(),
            note: String::new(),
        })
        .await
        .unwrap();
    office
        .assign_proposal(pb::AssignProposalRequest {
            name: p.name.clone(),
            lead_unit: seed.units[0].clone(),
            units: vec![],
            note: String::new(),
        })
        .await
        .unwrap();
    let mut unit = suite.proposals(&unit_token(&seed.units[0]));
    let r = unit
        .draft_reply(pb::DraftReplyRequest {
            parent: p.name.clone(),
            reply: Some(pb::Reply {
                text: "已落实专项资金并完成建设。".into(),
                result_category: "A".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .reply
        .unwrap();
    unit.submit_reply(pb::SubmitReplyRequest {
        name: r.name.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    office
        .review_reply(pb::ReviewReplyRequest {
            name: r.name,
            approve: true,
            ..Default::default()
        })
        .await
        .unwrap();
    suite
        .proposals(&member_token(member))
        .rate_proposal(pb::RateProposalRequest {
            name: p.name.clone(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    office
        .close_proposal(pb::CloseProposalRequest {
            name: p.name.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap()
}

fn note(kind: pb::FollowUpKind, finding: pb::LookBackFinding) -> pb::FollowUp {
    pb::FollowUp {
        kind: kind as i32,
        date: Some(super::today()),
        leader_name: "张三".into(),
        leader_title: "县长".into(),
        text: "到现场督办，要求年内完成。".into(),
        finding: finding as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn key_proposals_are_supervised_looked_back_on_and_the_best_approved() {
    let (suite, seed) = Suite::seeded(1).await;
    let leader = cppcc_tests::token(Role::Leader, "suixian");
    let p = closed(&suite, &seed, &seed.members[0], "关于擦亮小城镇行动的建议").await;
    let mut follow = suite.follow_up(&office_token());

    // Supervision needs a key proposal.
    let not_key = suite
        .follow_up(&leader)
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(note(
                pb::FollowUpKind::Supervision,
                pb::LookBackFinding::Unspecified,
            )),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(not_key, Code::FailedPrecondition)),
        "NOT_KEY"
    );
    let by_member = suite
        .follow_up(&member_token(&seed.members[0]))
        .mark_key_proposal(pb::MarkKeyProposalRequest {
            name: p.name.clone(),
            leader_name: "张三".into(),
            leader_title: "县长".into(),
        })
        .await;
    assert_code(by_member, Code::PermissionDenied);
    let key = follow
        .mark_key_proposal(pb::MarkKeyProposalRequest {
            name: p.name.clone(),
            leader_name: "张三".into(),
            leader_title: "县长".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert!(key.key);
    assert_eq!(key.supervising_leader, "县长张三");
    let mut leader_follow = suite.follow_up(&leader);
    leader_follow
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(note(
                pb::FollowUpKind::Supervision,
                pb::LookBackFinding::Unspecified,
            )),
        })
        .await
        .unwrap();
    leader_follow
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(note(
                pb::FollowUpKind::Instruction,
                pb::LookBackFinding::Unspecified,
            )),
        })
        .await
        .unwrap();
    // A look-back needs its finding.
    let no_finding = follow
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(note(
                pb::FollowUpKind::LookBack,
                pb::LookBackFinding::Unspecified,
            )),
        })
        .await;
    assert_eq!(
        fields(&assert_code(no_finding, Code::InvalidArgument)),
        ["follow_up.finding"]
    );
    follow
        .create_follow_up(pb::CreateFollowUpRequest {
            parent: p.name.clone(),
            follow_up: Some(note(
                pb::FollowUpKind::LookBack,
                pb::LookBackFinding::PartlyKept,
            )),
        })
        .await
        .unwrap();
    let notes = follow
        .list_follow_ups(pb::ListFollowUpsRequest {
            parent: p.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .follow_ups;
    assert_eq!(notes.len(), 3);

    // Excellent: nominated, chosen by the panel, approved by the chairs' meeting.
    let nominated = follow
        .nominate_excellent_proposal(pb::NominateExcellentProposalRequest {
            parent: SUIXIAN.into(),
            nomination: Some(pb::ExcellentNomination {
                proposal: p.name.clone(),
                year: seed.year,
                nominated_by: "县农业农村局".into(),
                reason: "建议具体，成效明显".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .nomination
        .unwrap();
    let twice = follow
        .nominate_excellent_proposal(pb::NominateExcellentProposalRequest {
            parent: SUIXIAN.into(),
            nomination: Some(pb::ExcellentNomination {
                proposal: p.name.clone(),
                year: seed.year,
                nominated_by: "提案委".into(),
                reason: "再次推荐".into(),
                ..Default::default()
            }),
        })
        .await;
    assert_code(twice, Code::AlreadyExists);
    // The chairs' meeting cannot approve before the panel chose it.
    let early = suite
        .follow_up(&admin())
        .decide_excellent_nomination(pb::DecideExcellentNominationRequest {
            name: nominated.name.clone(),
            accept: true,
            reason: String::new(),
        })
        .await;
    assert_code(early, Code::PermissionDenied);
    follow
        .decide_excellent_nomination(pb::DecideExcellentNominationRequest {
            name: nominated.name.clone(),
            accept: true,
            reason: String::new(),
        })
        .await
        .unwrap();
    let approved = suite
        .follow_up(&admin())
        .decide_excellent_nomination(pb::DecideExcellentNominationRequest {
            name: nominated.name.clone(),
            accept: true,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .nomination
        .unwrap();
    assert_eq!(approved.state, pb::ExcellentState::Approved as i32);
    assert_eq!(approved.steps.len(), 3);

    let year = suite
        .assessment(&office_token())
        .get_proposal_statistics(pb::GetProposalStatisticsRequest {
            committee: SUIXIAN.into(),
            year: seed.year,
        })
        .await
        .unwrap()
        .into_inner()
        .year
        .unwrap();
    assert_eq!(
        (
            year.key_proposals,
            year.key_proposals_closed,
            year.look_backs,
            year.instructions,
            year.excellent
        ),
        (1, 1, 1, 1, 1)
    );
    // Every change is in the outbox for others to follow, in one order.
    let events: Vec<String> = sqlx::query_scalar("SELECT type FROM proposals.outbox ORDER BY seq")
        .fetch_all(&mut suite.db.admin().await)
        .await
        .unwrap();
    let changed = "cppcc.proposals.v1.ProposalChanged";
    let credited = "cppcc.events.v1.DutyPerformed";
    let noted = "cppcc.proposals.v1.FollowUp";
    // create, submit (credit), file (credit), assign, answer, settle,
    // close, mark key, and the three notes.
    assert_eq!(
        events,
        [
            changed, changed, credited, changed, credited, changed, changed, changed, changed,
            changed, noted, noted, noted
        ]
    );
}
