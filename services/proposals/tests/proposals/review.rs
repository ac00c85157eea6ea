//! The office's review — serial numbers under concurrent filing, merging,
//! conversion — and the refusals of bad input.

use super::*;

#[tokio::test]
async fn fifty_concurrent_filings_get_fifty_gapless_serials() {
    let (suite, seed) = Suite::seeded(5).await;
    let mut names = Vec::new();
    for i in 0..50 {
        let member = &seed.members[i % seed.members.len()];
        names.push(
            submitted(&suite, &seed, member, &format!("关于第{i}件民生实事的建议"))
                .await
                .name,
        );
    }
    let filings = names.iter().map(|name| {
        let mut office = suite.proposals(&office_token());
        let name = name.clone();
        tokio::spawn(async move {
            office
                .file_proposal(pb::FileProposalRequest {
                    name,
                    note: String::new(),
                })
                .await
                .map(|r| r.into_inner().proposal.unwrap().serial)
        })
    });
    let mut serials: Vec<i32> = futures_join(filings).await;
    serials.sort();
    assert_eq!(serials, (1..=50).collect::<Vec<_>>());
    let sessions = suite
        .office(&office_token())
        .list_sessions(pb::ListSessionsRequest {
            parent: SUIXIAN.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .sessions;
    assert_eq!(sessions[0].filed_count, 50);
}

async fn futures_join<I>(tasks: I) -> Vec<i32>
where
    I: IntoIterator<Item = tokio::task::JoinHandle<Result<i32, tonic::Status>>>,
{
    let mut out = Vec::new();
    for t in tasks.into_iter().collect::<Vec<_>>() {
        out.push(t.await.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn merged_proposals_are_handled_together_and_each_gets_its_own_reply() {
    let (suite, seed) = Suite::seeded(2).await;
    let mut office = suite.proposals(&office_token());
    let main = submitted(
        &suite,
        &seed,
        &seed.members[0],
        "关于推进淮河国家湿地公园建设的建议",
    )
    .await;
    let other = submitted(&suite, &seed, &seed.members[1], "加快淮河湿地公园建设").await;
    // Not into itself, not into one not filed.
    let itself = office
        .merge_proposal(pb::MergeProposalRequest {
            name: other.name.clone(),
            merge_with: other.name.clone(),
            note: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(itself, Code::InvalidArgument)),
        ["merge_with"]
    );
    let unfiled = office
        .merge_proposal(pb::MergeProposalRequest {
            name: other.name.clone(),
            merge_with: main.name.clone(),
            note: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(unfiled, Code::FailedPrecondition)),
        "STATE"
    );
    let elsewhere = office
        .merge_proposal(pb::MergeProposalRequest {
            name: other.name.clone(),
            merge_with: main.name.replace("suixian", "zengdu"),
            note: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(elsewhere, Code::InvalidArgument)),
        ["merge_with"]
    );

    office
        .file_proposal(pb::FileProposalRequest {
            name: main.name.clone(),
            note: String::new(),
        })
        .await
        .unwrap();
    // Merged while the main one waits: it waits too, and is not assigned on its own.
    let early = submitted(&suite, &seed, &seed.members[1], "淮河湿地公园生态保护").await;
    office
        .merge_proposal(pb::MergeProposalRequest {
            name: early.name.clone(),
            merge_with: main.name.clone(),
            note: String::new(),
        })
        .await
        .unwrap();
    let alone = office
        .assign_proposal(pb::AssignProposalRequest {
            name: early.name.clone(),
            lead_unit: seed.units[0].clone(),
            units: vec![],
            note: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(alone, Code::FailedPrecondition)),
        "MERGED"
    );
    office
        .assign_proposal(pb::AssignProposalRequest {
            name: main.name.clone(),
            lead_unit: seed.units[1].clone(),
            units: vec![],
            note: String::new(),
        })
        .await
        .unwrap();
    let followed = office
        .get_proposal(pb::GetProposalRequest {
            name: early.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(followed.state, pb::ProposalState::Assigned as i32);
    assert_eq!(followed.assignments[0].unit, seed.units[1]);
    let merged = office
        .merge_proposal(pb::MergeProposalRequest {
            name: other.name.clone(),
            merge_with: main.name.clone(),
            note: "内容相近".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(merged.merged_with, main.name);
    assert_eq!(merged.serial, 3);
    assert_eq!(
        merged.state,
        pb::ProposalState::Assigned as i32,
        "handled by the same units at once"
    );
    assert_eq!(merged.assignments[0].unit, seed.units[1]);
    // The unit answers each separately.
    let unit = suite.proposals(&unit_token(&seed.units[1]));
    for p in [&main.name, &merged.name] {
        let r = unit
            .clone()
            .draft_reply(pb::DraftReplyRequest {
                parent: p.clone(),
                reply: Some(pb::Reply {
                    text: "湿地公园建设规划已报批。".into(),
                    result_category: "A".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .reply
            .unwrap();
        assert!(r.name.starts_with(p.as_str()));
    }
    // Similar proposals find each other, Chinese by character pairs.
    let similar = suite
        .proposals(&member_token(&seed.members[0]))
        .find_similar_proposals(pb::FindSimilarProposalsRequest {
            parent: SUIXIAN.into(),
            title: "淮河湿地公园".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(similar.len(), 3, "{similar:?}");
    assert!(similar[0].similarity >= similar[1].similarity);
}

#[tokio::test]
async fn bad_input_is_refused_precisely_and_changes_nothing() {
    let (suite, seed) = Suite::seeded(3).await;
    let mut office = suite.proposals(&office_token());
    let mut mine = suite.proposals(&member_token(&seed.members[0]));

    // A draft with an empty title and no category.
    let bad = mine
        .create_proposal(pb::CreateProposalRequest {
            parent: SUIXIAN.into(),
            proposal: Some(pb::Proposal {
                category: 0,
                title: String::new(),
                ..draft(&seed.session, "x")
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(
        fields(&assert_code(bad, Code::InvalidArgument)),
        ["proposal.title", "proposal.category"]
    );

    // A co-signer who is not a member, and one who resigned.
    let made = mine
        .create_proposal(pb::CreateProposalRequest {
            parent: SUIXIAN.into(),
            proposal: Some(draft(&seed.session, "关于中药材产业发展的建议")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    let stranger = mine
        .invite_cosigners(pb::InviteCosignersRequest {
            name: made.name.clone(),
            members: vec![format!(
                "{SUIXIAN}/members/0190a5e4-0000-7000-8000-000000000000"
            )],
            etag: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(stranger, Code::InvalidArgument)),
        ["members[0]"]
    );
    suite
        .registry()
        .change_member_status(mpb::ChangeMemberStatusRequest {
            name: seed.members[2].clone(),
            status: mpb::MemberStatus::Resigned as i32,
            reason: "辞去委员".into(),
            effective_date: None,
            etag: String::new(),
        })
        .await
        .unwrap();
    let resigned = mine
        .invite_cosigners(pb::InviteCosignersRequest {
            name: made.name.clone(),
            members: vec![seed.members[2].clone()],
            etag: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(resigned, Code::FailedPrecondition)),
        "MEMBER_NOT_IN_OFFICE"
    );
    let unchanged = office
        .get_proposal(pb::GetProposalRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(unchanged.etag, made.etag, "nothing changed");
    assert_eq!(unchanged.kind, pb::ProposalKind::Individual as i32);

    // A draft withdrawn before submission stays its proposer's.
    let withdrawn = mine
        .create_proposal(pb::CreateProposalRequest {
            parent: SUIXIAN.into(),
            proposal: Some(draft(&seed.session, "关于曾随一体化发展的建议")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    mine.withdraw_proposal(pb::WithdrawProposalRequest {
        name: withdrawn.name.clone(),
        reason: "再斟酌".into(),
    })
    .await
    .unwrap();
    let peek = suite
        .proposals(&member_token(&seed.members[1]))
        .get_proposal(pb::GetProposalRequest {
            name: withdrawn.name.clone(),
        })
        .await;
    assert_code(peek, Code::NotFound);

    // Another member can neither see nor submit the draft.
    let other = suite
        .proposals(&member_token(&seed.members[1]))
        .submit_proposal(pb::SubmitProposalRequest {
            name: made.name.clone(),
            etag: String::new(),
        })
        .await;
    assert_code(other, Code::NotFound);
    // A stale etag.
    let stale = mine
        .submit_proposal(pb::SubmitProposalRequest {
            name: made.name.clone(),
            etag: "\"99\"".into(),
        })
        .await;
    assert_code(stale, Code::Aborted);

    // Not filed, for a statutory reason, and only then converted with consent.
    mine.submit_proposal(pb::SubmitProposalRequest {
        name: made.name.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let no_reason = office
        .reject_proposal(pb::RejectProposalRequest {
            name: made.name.clone(),
            reason: 0,
            note: "x".into(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(no_reason, Code::InvalidArgument)),
        ["reason"]
    );
    let by_member = mine
        .reject_proposal(pb::RejectProposalRequest {
            name: made.name.clone(),
            reason: pb::NotFiledReason::NoSuggestion as i32,
            note: "建议不具体".into(),
        })
        .await;
    assert_code(by_member, Code::PermissionDenied);
    office
        .reject_proposal(pb::RejectProposalRequest {
            name: made.name.clone(),
            reason: pb::NotFiledReason::NoSuggestion as i32,
            note: "建议不具体".into(),
        })
        .await
        .unwrap();
    let no_consent = office
        .convert_proposal(pb::ConvertProposalRequest {
            name: made.name.clone(),
            proposer_consented: false,
            note: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(no_consent, Code::InvalidArgument)),
        ["proposer_consented"]
    );
    let converted = office
        .convert_proposal(pb::ConvertProposalRequest {
            name: made.name.clone(),
            proposer_consented: true,
            note: "转为社情民意信息".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(converted.state, pb::ProposalState::Converted as i32);
    assert_eq!(
        converted.conversion.unwrap().state,
        pb::ConversionState::Pending as i32
    );
    // Handed to the opinions service, which credits the proposer with it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let report = loop {
        let p = mine
            .get_proposal(pb::GetProposalRequest {
                name: made.name.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .proposal
            .unwrap();
        let c = p.conversion.unwrap();
        if c.state == pb::ConversionState::Delivered as i32 {
            break c.opinion_report;
        }
        assert!(tokio::time::Instant::now() < deadline, "{c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let taken = cppcc_proto::opinions::v1::opinion_report_service_client::OpinionReportServiceClient::with_interceptor(
        suite.opinions.channel(),
        Bearer::new(&cppcc_tests::token(Role::InfoCentre, "suixian")),
    )
    .get_opinion_report(cppcc_proto::opinions::v1::GetOpinionReportRequest { name: report })
    .await
    .unwrap()
    .into_inner()
    .report
    .unwrap();
    assert_eq!(taken.source_proposal, made.name);
    assert_eq!(taken.member, made.proposers[0].member);
    assert_eq!(taken.title, made.title);
    let assign_converted = office
        .assign_proposal(pb::AssignProposalRequest {
            name: made.name.clone(),
            lead_unit: seed.units[0].clone(),
            units: vec![],
            note: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(assign_converted, Code::FailedPrecondition)),
        "STATE"
    );

    // Replying by a unit not assigned; a category the committee does not define.
    let p = submitted(
        &suite,
        &seed,
        &seed.members[0],
        "关于石材产业复工复产的建议",
    )
    .await;
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
    let not_assigned = suite
        .proposals(&unit_token(&seed.units[1]))
        .draft_reply(pb::DraftReplyRequest {
            parent: p.name.clone(),
            reply: Some(pb::Reply {
                text: "本局已研究办理此提案。".into(),
                result_category: "A".into(),
                ..Default::default()
            }),
        })
        .await;
    assert_code(not_assigned, Code::NotFound);
    let bad_category = suite
        .proposals(&unit_token(&seed.units[0]))
        .draft_reply(pb::DraftReplyRequest {
            parent: p.name.clone(),
            reply: Some(pb::Reply {
                text: "本局已研究办理此提案。".into(),
                result_category: "Z".into(),
                ..Default::default()
            }),
        })
        .await;
    let status = assert_code(bad_category, Code::InvalidArgument);
    assert_eq!(fields(&status), ["reply.result_category"]);
    assert!(status.message().contains("A, B, C"), "{status:?}");
    // Rating before any reply.
    let early = mine
        .rate_proposal(pb::RateProposalRequest {
            name: p.name.clone(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        })
        .await;
    assert_eq!(
        precondition(&assert_code(early, Code::FailedPrecondition)),
        "STATE"
    );

    // Another committee's caller is told it does not exist.
    let foreign = suite
        .proposals(&cppcc_tests::token(Role::ProposalOffice, "zengdu"))
        .get_proposal(pb::GetProposalRequest {
            name: p.name.clone(),
        })
        .await;
    assert_code(foreign, Code::NotFound);

    // What is overdue: nothing yet; judged three months on, the unit's reply.
    let due = p.reply_due_date;
    let later = Date {
        year: seed.year + 1,
        month: 12,
        day: 31,
    };
    let overdue = suite
        .proposals(&office_token())
        .list_overdue(pb::ListOverdueRequest {
            parent: SUIXIAN.into(),
            unit: String::new(),
            as_of_date: Some(later),
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(overdue.len(), 1, "{overdue:?} {due:?}");
    assert_eq!(overdue[0].unit, seed.units[0]);
    assert_eq!(overdue[0].kind, pb::OverdueKind::Reply as i32);
    let none_now = suite
        .proposals(&unit_token(&seed.units[0]))
        .list_overdue(pb::ListOverdueRequest {
            parent: SUIXIAN.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(none_now.is_empty());
}
