//! A joint proposal from draft to closed, through reassignment, an
//! unsatisfied rating and a second reply; and the proposers' duty records.

use super::*;
use cppcc_proto::common::v1::DutyKind;

async fn state(p: &mut ProposalServiceClient<Authed>, name: &str) -> pb::Proposal {
    p.get_proposal(pb::GetProposalRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap()
}

fn reply(text: &str, category: &str) -> pb::Reply {
    pb::Reply {
        text: text.into(),
        result_category: category.into(),
        contacted_proposers: true,
        contact_date: Some(super::today()),
        ..Default::default()
    }
}

/// Drafts, countersigns and submits a reply: the lead unit `lead`, the
/// co-handler `co`.
async fn answered(suite: &Suite, proposal: &str, lead: &str, co: &str, text: &str) -> pb::Reply {
    let drafted = suite
        .proposals(&unit_token(lead))
        .draft_reply(pb::DraftReplyRequest {
            parent: proposal.into(),
            reply: Some(reply(text, "B")),
        })
        .await
        .unwrap()
        .into_inner()
        .reply
        .unwrap();
    // The lead cannot submit before the co-handler countersigned.
    let early = suite
        .proposals(&unit_token(lead))
        .submit_reply(pb::SubmitReplyRequest {
            name: drafted.name.clone(),
            etag: String::new(),
        })
        .await;
    let status = assert_code(early, Code::FailedPrecondition);
    assert_eq!(precondition(&status), "COUNTERSIGNATURES");
    suite
        .proposals(&unit_token(co))
        .countersign_reply(pb::CountersignReplyRequest {
            name: drafted.name.clone(),
            opinion: "同意主办单位意见，林业局负责油茶林地部分。".into(),
            unit: String::new(),
        })
        .await
        .unwrap();
    suite
        .proposals(&unit_token(lead))
        .submit_reply(pb::SubmitReplyRequest {
            name: drafted.name,
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .reply
        .unwrap()
}

#[tokio::test]
async fn a_joint_proposal_goes_from_draft_to_closed_and_its_proposers_are_credited() {
    let (suite, seed) = Suite::seeded(3).await;
    let [lead, cosigner, decliner] = [&seed.members[0], &seed.members[1], &seed.members[2]];
    let [agri, forestry, finance] = [&seed.units[0], &seed.units[1], &seed.units[2]];
    let mut mine = suite.proposals(&member_token(lead));
    let mut office = suite.proposals(&office_token());

    // Draft, invite two co-signers; one signs, one declines.
    let made = mine
        .create_proposal(pb::CreateProposalRequest {
            parent: SUIXIAN.into(),
            proposal: Some(draft(&seed.session, "关于加快油茶产业高质量发展的建议")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(made.state, pb::ProposalState::Draft as i32);
    let invited = mine
        .invite_cosigners(pb::InviteCosignersRequest {
            name: made.name.clone(),
            members: vec![cosigner.clone(), decliner.clone()],
            etag: made.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(invited.kind, pb::ProposalKind::Joint as i32);
    assert_eq!(invited.proposers.len(), 3);
    // Others do not see the draft.
    let hidden = suite
        .proposals(&member_token(&seed.members[2]))
        .get_proposal(pb::GetProposalRequest {
            name: made.name.clone(),
        })
        .await;
    assert!(hidden.is_ok(), "an invited co-signer sees the draft");
    let early = mine
        .submit_proposal(pb::SubmitProposalRequest {
            name: made.name.clone(),
            etag: String::new(),
        })
        .await;
    assert_eq!(
        precondition(&assert_code(early, Code::FailedPrecondition)),
        "COSIGNERS_PENDING"
    );
    suite
        .proposals(&member_token(cosigner))
        .sign_proposal(pb::SignProposalRequest {
            name: made.name.clone(),
            decline: false,
        })
        .await
        .unwrap();
    suite
        .proposals(&member_token(decliner))
        .sign_proposal(pb::SignProposalRequest {
            name: made.name.clone(),
            decline: true,
        })
        .await
        .unwrap();
    // Another member may not submit it.
    let foreign = suite
        .proposals(&member_token(cosigner))
        .submit_proposal(pb::SubmitProposalRequest {
            name: made.name.clone(),
            etag: String::new(),
        })
        .await;
    assert_code(foreign, Code::PermissionDenied);
    let submitted = mine
        .submit_proposal(pb::SubmitProposalRequest {
            name: made.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(submitted.state, pb::ProposalState::Submitted as i32);
    assert_eq!(
        submitted.proposers.len(),
        2,
        "the one who declined is not on it"
    );

    // Filed with the session's first number, then assigned.
    let filed = office
        .file_proposal(pb::FileProposalRequest {
            name: made.name.clone(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(filed.serial, 1);
    let twice = office
        .file_proposal(pb::FileProposalRequest {
            name: made.name.clone(),
            note: String::new(),
        })
        .await;
    let status = assert_code(twice, Code::FailedPrecondition);
    assert!(
        status.message().contains("PROPOSAL_STATE_FILED"),
        "{status:?}"
    );
    let assigned = office
        .assign_proposal(pb::AssignProposalRequest {
            name: made.name.clone(),
            lead_unit: agri.clone(),
            units: vec![forestry.clone()],
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(assigned.state, pb::ProposalState::Assigned as i32);
    assert_eq!(assigned.handling_round, 1);
    assert!(assigned.reply_due_date.is_some());

    // The lead unit asks to be relieved; the office reassigns to the finance bureau.
    let asked = suite
        .proposals(&unit_token(agri))
        .create_handling_request(pb::CreateHandlingRequestRequest {
            parent: made.name.clone(),
            request: Some(pb::HandlingRequest {
                kind: pb::HandlingRequestKind::Reassignment as i32,
                reason: "资金扶持政策不属本局职能".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .request
        .unwrap();
    // A unit cannot reassign by itself: only the office decides.
    let by_itself = suite
        .proposals(&unit_token(agri))
        .decide_handling_request(pb::DecideHandlingRequestRequest {
            name: asked.name.clone(),
            grant: true,
            lead_unit: finance.clone(),
            ..Default::default()
        })
        .await;
    assert_code(by_itself, Code::PermissionDenied);
    let decided = office
        .decide_handling_request(pb::DecideHandlingRequestRequest {
            name: asked.name.clone(),
            grant: true,
            lead_unit: finance.clone(),
            units: vec![forestry.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let reassigned = decided.proposal.unwrap();
    assert_eq!(reassigned.handling_round, 2);
    assert_eq!(reassigned.assignments[0].unit, *finance);
    // The unit relieved no longer sees it.
    let gone = suite
        .proposals(&unit_token(agri))
        .get_proposal(pb::GetProposalRequest {
            name: made.name.clone(),
        })
        .await;
    assert_code(gone, Code::NotFound);
    // Nor may it reply.
    let not_assigned = suite
        .proposals(&unit_token(agri))
        .draft_reply(pb::DraftReplyRequest {
            parent: made.name.clone(),
            reply: Some(reply("本局答复如下，已研究办理。", "A")),
        })
        .await;
    assert_code(not_assigned, Code::NotFound);

    // First reply: drafted by the lead, countersigned, submitted, approved
    // with the category changed.
    let first = answered(
        &suite,
        &made.name,
        finance,
        forestry,
        "县财政局会同县林业局答复：拟设立油茶产业发展专项资金。",
    )
    .await;
    assert!(first.on_time);
    let reviewed = office
        .review_reply(pb::ReviewReplyRequest {
            name: first.name.clone(),
            approve: true,
            result_category: "C".into(),
            reason: "资金尚未落实，列为留作参考".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reviewed.reply.unwrap().reviewed_category, "C");
    let replied = reviewed.proposal.unwrap();
    assert_eq!(replied.state, pb::ProposalState::Replied as i32);
    assert_eq!(replied.result_category, "C");

    // The lead is satisfied, the co-signer is not: handled once more.
    let rated = mine
        .rate_proposal(pb::RateProposalRequest {
            name: made.name.clone(),
            satisfaction: pb::Satisfaction::BasicallySatisfied as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(rated.state, pb::ProposalState::Replied as i32);
    let outsider = suite
        .proposals(&member_token(decliner))
        .rate_proposal(pb::RateProposalRequest {
            name: made.name.clone(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        })
        .await;
    assert_code(outsider, Code::PermissionDenied);
    let again = suite
        .proposals(&member_token(cosigner))
        .rate_proposal(pb::RateProposalRequest {
            name: made.name.clone(),
            satisfaction: pb::Satisfaction::Unsatisfied as i32,
            comment: "资金问题没有解决".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(again.state, pb::ProposalState::Assigned as i32);
    assert_eq!(again.handling_round, 3);

    // Second reply, approved as B; both satisfied; closed.
    let second = answered(
        &suite,
        &made.name,
        finance,
        forestry,
        "县财政局再次答复：专项资金已列入明年预算。",
    )
    .await;
    office
        .review_reply(pb::ReviewReplyRequest {
            name: second.name,
            approve: true,
            ..Default::default()
        })
        .await
        .unwrap();
    for member in [lead, cosigner] {
        suite
            .proposals(&member_token(member))
            .rate_proposal(pb::RateProposalRequest {
                name: made.name.clone(),
                satisfaction: pb::Satisfaction::Satisfied as i32,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(
        state(&mut office, &made.name).await.state,
        pb::ProposalState::Rated as i32
    );
    let closed = office
        .close_proposal(pb::CloseProposalRequest {
            name: made.name.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(closed.state, pb::ProposalState::Closed as i32);
    assert_eq!(closed.result_category, "B");

    // Every step is on record, with who took it.
    let steps: Vec<String> = office
        .list_transitions(pb::ListTransitionsRequest {
            parent: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .transitions
        .into_iter()
        .map(|t| t.step)
        .collect();
    assert_eq!(
        steps,
        [
            "create", "edit", "edit", "edit", "submit", "file", "assign", "reassign", "answer",
            "rate", "rehandle", "answer", "rate", "settle", "close"
        ]
    );
    let replies = mine
        .list_replies(pb::ListRepliesRequest {
            parent: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .replies;
    assert_eq!(replies.len(), 2, "the proposer sees both approved replies");

    // The proposers who signed are credited with submitting and filing.
    for (member, expected) in [(lead, 2), (cosigner, 2), (decliner, 0)] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let records = suite
                .duty()
                .list_duty_records(mpb::ListDutyRecordsRequest {
                    parent: member.clone(),
                    filter: "source_service = \"proposals\"".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .duty_records;
            if records.len() == expected {
                let kinds: Vec<i32> = records.iter().map(|r| r.kind).collect();
                if expected == 2 {
                    assert_eq!(
                        kinds,
                        [
                            DutyKind::ProposalSubmitted as i32,
                            DutyKind::ProposalFiled as i32
                        ]
                    );
                    assert_eq!(records[0].source, made.name);
                }
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{member}: {records:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Proposals page as every list does (the kit's tokens): pages of the size
/// asked for that together are the whole list, each proposal once; a token
/// is good only for the list and the caller it came from.
#[tokio::test]
async fn proposals_page_with_tokens_bound_to_their_list() {
    let (suite, seed) = Suite::seeded(2).await;
    for i in 0..5 {
        submitted(
            &suite,
            &seed,
            &seed.members[i % 2],
            &format!("关于第{i}件事的建议"),
        )
        .await;
    }
    let mut office = suite.proposals(&office_token());
    let list = |page_size: i32, page_token: String, member: &str| pb::ListProposalsRequest {
        parent: SUIXIAN.into(),
        page_size,
        page_token,
        member: member.into(),
        ..Default::default()
    };
    let whole = office
        .list_proposals(list(0, String::new(), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.proposals.len(), 5);
    assert_eq!(whole.total_size, 5);
    assert!(whole.next_page_token.is_empty());
    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let page = office
            .list_proposals(list(2, token.clone(), ""))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 5, "every page says how many in all");
        sizes.push(page.proposals.len());
        paged.extend(page.proposals.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        if first_token.is_empty() {
            first_token = page.next_page_token.clone();
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes, [2, 2, 1]);
    let names: Vec<String> = whole.proposals.into_iter().map(|p| p.name).collect();
    assert_eq!(paged, names, "the pages together are the list, each once");

    // The token of another list (one member's proposals), or of another caller.
    let other_list = assert_code(
        office
            .list_proposals(list(2, first_token.clone(), &seed.members[0]))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&other_list), ["page_token"]);
    let other_caller = assert_code(
        suite
            .proposals(&admin())
            .list_proposals(list(2, first_token, ""))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&other_caller), ["page_token"]);
}
