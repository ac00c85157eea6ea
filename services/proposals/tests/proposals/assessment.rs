//! The rule table, the ranking of units with each score's breakdown, and
//! the statistics.

use super::*;

#[tokio::test]
async fn units_are_ranked_with_every_score_broken_down_and_statistics_add_up() {
    let (suite, seed) = Suite::seeded(2).await;
    let mut office = suite.proposals(&office_token());
    let mut assessment = suite.assessment(&office_token());

    // A table not summing to 100 is refused and changes nothing.
    let mut items = vec![
        pb::AssessmentItem {
            code: "on_time".into(),
            label: "按时答复".into(),
            points: 50,
            measure: pb::AssessmentMeasure::OnTimeReplies as i32,
        },
        pb::AssessmentItem {
            code: "satisfaction".into(),
            label: "满意度".into(),
            points: 30,
            measure: pb::AssessmentMeasure::Satisfaction as i32,
        },
        pb::AssessmentItem {
            code: "quality".into(),
            label: "答复质量".into(),
            points: 30,
            measure: pb::AssessmentMeasure::Entered as i32,
        },
    ];
    let bad = assessment
        .set_assessment_rules(pb::SetAssessmentRulesRequest {
            parent: SUIXIAN.into(),
            rules: Some(pb::AssessmentRules {
                year: seed.year,
                items: items.clone(),
                ..Default::default()
            }),
        })
        .await;
    let status = assert_code(bad, Code::InvalidArgument);
    assert!(status.message().contains("not 110"), "{status:?}");
    items[2].points = 20;
    assessment
        .set_assessment_rules(pb::SetAssessmentRulesRequest {
            parent: SUIXIAN.into(),
            rules: Some(pb::AssessmentRules {
                year: seed.year,
                items,
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    // Two proposals: the first answered on time and rated satisfied.
    let a = submitted(
        &suite,
        &seed,
        &seed.members[0],
        "关于香菇产业高质量发展的建议",
    )
    .await;
    let b = submitted(&suite, &seed, &seed.members[1], "关于公共卫生补短板的建议").await;
    for (p, unit) in [(&a, &seed.units[0]), (&b, &seed.units[1])] {
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
                lead_unit: unit.clone(),
                units: vec![],
                note: String::new(),
            })
            .await
            .unwrap();
    }
    let unit = suite.proposals(&unit_token(&seed.units[0]));
    let r = unit
        .clone()
        .draft_reply(pb::DraftReplyRequest {
            parent: a.name.clone(),
            reply: Some(pb::Reply {
                text: "香菇产业园已列入规划。".into(),
                result_category: "A".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .reply
        .unwrap();
    unit.clone()
        .submit_reply(pb::SubmitReplyRequest {
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
        .proposals(&member_token(&seed.members[0]))
        .rate_proposal(pb::RateProposalRequest {
            name: a.name.clone(),
            satisfaction: pb::Satisfaction::Satisfied as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    // An entered score outside its points is refused; within, kept.
    let over = assessment
        .score_unit(pb::ScoreUnitRequest {
            parent: SUIXIAN.into(),
            unit: seed.units[0].clone(),
            year: seed.year,
            code: "quality".into(),
            score: 25.0,
            note: String::new(),
        })
        .await;
    assert_eq!(fields(&assert_code(over, Code::InvalidArgument)), ["score"]);
    let computed = assessment
        .score_unit(pb::ScoreUnitRequest {
            parent: SUIXIAN.into(),
            unit: seed.units[0].clone(),
            year: seed.year,
            code: "on_time".into(),
            score: 5.0,
            note: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(computed, Code::InvalidArgument)),
        ["code"]
    );
    assessment
        .score_unit(pb::ScoreUnitRequest {
            parent: SUIXIAN.into(),
            unit: seed.units[0].clone(),
            year: seed.year,
            code: "quality".into(),
            score: 18.0,
            note: "答复规范".into(),
        })
        .await
        .unwrap();

    let ranking = assessment
        .list_unit_assessments(pb::ListUnitAssessmentsRequest {
            parent: SUIXIAN.into(),
            year: seed.year,
        })
        .await
        .unwrap()
        .into_inner()
        .assessments;
    assert_eq!(ranking.len(), 2);
    let first = &ranking[0];
    assert_eq!(first.unit, seed.units[0]);
    assert_eq!(first.rank, 1);
    assert_eq!(first.total, 98.0);
    let parts: Vec<(&str, f64)> = first
        .items
        .iter()
        .map(|i| (i.code.as_str(), i.score))
        .collect();
    assert_eq!(
        parts,
        [("on_time", 50.0), ("satisfaction", 30.0), ("quality", 18.0)]
    );
    assert_eq!(first.items[0].basis, "1 of 1 replies due, on time");
    assert_eq!(
        first.total,
        first.items.iter().map(|i| i.score).sum::<f64>()
    );
    assert_eq!(ranking[1].total, 0.0);
    assert_eq!(ranking[1].items[2].basis, "not scored yet");

    // Members evaluate units; the statistics count what happened.
    let evaluated = assessment
        .evaluate_unit(pb::EvaluateUnitRequest {
            parent: SUIXIAN.into(),
            unit: seed.units[0].clone(),
            year: seed.year,
            score: 90,
            member: seed.members[1].clone(),
            comment: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((evaluated.evaluations, evaluated.mean_score), (1, 90.0));
    let stats = assessment
        .get_proposal_statistics(pb::GetProposalStatisticsRequest {
            committee: SUIXIAN.into(),
            year: seed.year,
        })
        .await
        .unwrap()
        .into_inner();
    let year = stats.year.unwrap();
    assert_eq!((year.submitted, year.filed, year.filing_rate), (2, 2, 1.0));
    assert_eq!(year.on_time_reply_rate, 1.0);
    assert_eq!(year.favourable_share, 1.0);
    assert_eq!(year.satisfaction_rate, 1.0);
    assert_eq!(year.distinct_proposers, 2);
    let states: Vec<(String, i32)> = year
        .by_state
        .iter()
        .map(|c| (c.label.clone(), c.count))
        .collect();
    assert_eq!(
        states,
        [
            ("PROPOSAL_STATE_ASSIGNED".to_owned(), 1),
            ("PROPOSAL_STATE_RATED".to_owned(), 1)
        ]
    );
    assert_eq!(stats.term.unwrap().submitted, 2);
}
