//! Evaluation rules by year, scores traced to entries, grades, ranks, the
//! four goods, the five ones and the statistics.

use super::*;

use pb::evaluation_service_client::EvaluationServiceClient;

const RULES_2023: &str = "committees/suixian/evaluationRules/2023";

/// Deeds 10 points each up to 20 a year, suggestions 5; excellent from 30,
/// qualified from 20, basically qualified from 5; the four goods need 10
/// points of deeds.
fn rules() -> pb::EvaluationRules {
    pb::EvaluationRules {
        name: RULES_2023.into(),
        kind_rules: vec![
            pb::KindRule {
                kind: DutyKind::PracticalDeed as i32,
                points: 10,
                yearly_cap: 20,
            },
            pb::KindRule {
                kind: DutyKind::Suggestion as i32,
                points: 5,
                yearly_cap: 0,
            },
        ],
        excellent_threshold: 30,
        qualified_threshold: 20,
        basic_threshold: 5,
        four_goods: vec![pb::FourGoodsRule {
            display_name: "服务发展好".into(),
            kinds: vec![DutyKind::PracticalDeed as i32],
            min_points: 10,
        }],
        ..Default::default()
    }
}

async fn set(
    e: &mut EvaluationServiceClient<Authed>,
    r: pb::EvaluationRules,
) -> Result<pb::EvaluationRules, tonic::Status> {
    e.set_evaluation_rules(pb::SetEvaluationRulesRequest { rules: Some(r) })
        .await
        .map(|r| r.into_inner().rules.unwrap())
}

async fn get_rules(e: &mut EvaluationServiceClient<Authed>, year: i32) -> pb::EvaluationRules {
    e.get_evaluation_rules(pb::GetEvaluationRulesRequest {
        name: format!("{SUIXIAN}/evaluationRules/{year}"),
    })
    .await
    .unwrap()
    .into_inner()
    .rules
    .unwrap()
}

#[tokio::test]
async fn rules_are_versioned_by_year_and_checked() {
    let (suite, _) = Suite::seeded().await;
    let mut e = suite.evaluation(&admin());
    let builtin = get_rules(&mut e, 2023).await;
    assert_eq!(builtin.name, "default");
    assert!(builtin.excellent_threshold > builtin.qualified_threshold);

    let by_staff = set(&mut suite.evaluation(&staff()), rules())
        .await
        .unwrap_err();
    assert_eq!(by_staff.code(), Code::PermissionDenied);
    let overlap = set(
        &mut e,
        pb::EvaluationRules {
            qualified_threshold: 30,
            ..rules()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(overlap.code(), Code::InvalidArgument);
    assert_eq!(fields(&overlap), ["rules.excellent_threshold"]);
    assert!(
        overlap.get_details_bad_request().unwrap().field_violations[0]
            .description
            .contains("overlap")
    );
    let twice = set(
        &mut e,
        pb::EvaluationRules {
            kind_rules: [rules().kind_rules, rules().kind_rules].concat(),
            ..rules()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        fields(&twice),
        ["rules.kind_rules[2].kind", "rules.kind_rules[3].kind"]
    );
    let bad_name = set(
        &mut e,
        pb::EvaluationRules {
            name: "committees/suixian/evaluationRules/next".into(),
            ..rules()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&bad_name), ["rules.name"]);

    let first = set(&mut e, rules()).await.unwrap();
    assert_eq!(first.name, RULES_2023);
    // The rules of 2023 hold for later years until newer ones exist, not for earlier ones.
    assert_eq!(get_rules(&mut e, 2025).await.name, RULES_2023);
    assert_eq!(get_rules(&mut e, 2022).await.name, "default");
    let stale = set(
        &mut e,
        pb::EvaluationRules {
            etag: "\"7\"".into(),
            ..rules()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let second = set(
        &mut e,
        pb::EvaluationRules {
            etag: first.etag.clone(),
            basic_threshold: 10,
            ..rules()
        },
    )
    .await
    .unwrap();
    assert_ne!(second.etag, first.etag);
    assert_eq!(get_rules(&mut e, 2024).await.basic_threshold, 10);
    // Other committees' rules are not there for 随县's office.
    let foreign = suite
        .evaluation(&admin())
        .get_evaluation_rules(pb::GetEvaluationRulesRequest {
            name: "committees/zengdu/evaluationRules/2023".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);

    // A city system reads the statistics of the committees below its own,
    // not of those above or beside it.
    create_committee(&suite, "xiaolin", SUIXIAN, &admin())
        .await
        .unwrap();
    let statistics = |token: String, committee: &str| {
        let suite = &suite;
        let committee = committee.to_owned();
        async move {
            suite
                .evaluation(&token)
                .get_member_statistics(pb::GetMemberStatisticsRequest {
                    committee,
                    year: 2023,
                })
                .await
        }
    };
    let upper = cppcc_tests::token(Role::UpperCommittee, "suixian");
    statistics(upper.clone(), "committees/xiaolin")
        .await
        .unwrap();
    let below = cppcc_tests::token(Role::UpperCommittee, "xiaolin");
    let above = statistics(below, SUIXIAN).await.unwrap_err();
    assert_eq!(above.code(), Code::NotFound);
    let beside = statistics(
        cppcc_tests::token(Role::UpperCommittee, "zengdu"),
        "committees/xiaolin",
    )
    .await
    .unwrap_err();
    assert_eq!(beside.code(), Code::NotFound);
    // It reads; it does not write.
    let write = set(&mut suite.evaluation(&upper), rules())
        .await
        .unwrap_err();
    assert_eq!(write.code(), Code::PermissionDenied);
    // Years to come have no statistics yet.
    let next_year = time::OffsetDateTime::now_utc().year() + 2;
    let ahead = suite
        .evaluation(&admin())
        .get_member_statistics(pb::GetMemberStatisticsRequest {
            committee: SUIXIAN.into(),
            year: next_year,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&ahead), ["year"]);
}

#[tokio::test]
async fn scores_trace_to_entries_and_rank_within_sector_and_committee() {
    let (suite, seed) = Suite::seeded().await;
    let mut m = suite.members(&admin());
    let a = create(&mut m, member("甲委员", 1, &seed.party))
        .await
        .unwrap();
    let b = create(&mut m, member("乙委员", 2, &seed.party))
        .await
        .unwrap();
    let c = create(&mut m, member("丙委员", 3, &seed.business))
        .await
        .unwrap();
    let left = create(&mut m, member("丁委员", 4, &seed.business))
        .await
        .unwrap();
    suite
        .committees(&admin())
        .update_committee(pb::UpdateCommitteeRequest {
            committee: Some(pb::Committee {
                name: SUIXIAN.into(),
                term_start_date: day(2021, 12, 20),
                ..Default::default()
            }),
            update_mask: mask(&["term_start_date"]),
        })
        .await
        .unwrap();
    let mut e = suite.evaluation(&admin());
    set(&mut e, rules()).await.unwrap();

    let d = suite.duty(&staff());
    let add = |who: &pb::Member, kind: DutyKind, date: Option<Date>| {
        let mut d = d.clone();
        let parent = who.name.clone();
        async move {
            d.create_duty_record(pb::CreateDutyRecordRequest {
                parent,
                duty_record: Some(pb::DutyRecord {
                    kind: kind as i32,
                    date,
                    evidence: "记录".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .duty_record
            .unwrap()
        }
    };
    // 甲: three deeds (30, capped at 20) and two suggestions (10): 30, excellent, four goods.
    let mut a_deeds = Vec::new();
    for m in [3, 4, 5] {
        a_deeds.push(add(&a, DutyKind::PracticalDeed, day(2023, m, 1)).await.name);
    }
    for m in [6, 7] {
        add(&a, DutyKind::Suggestion, day(2023, m, 1)).await;
    }
    // …and a deed of 2022, which 2023 does not count.
    add(&a, DutyKind::PracticalDeed, day(2022, 5, 1)).await;
    // 乙: one deed (10) and a suggestion reversed: 10, basically qualified.
    add(&b, DutyKind::PracticalDeed, day(2023, 3, 1)).await;
    let wrong = add(&b, DutyKind::Suggestion, day(2023, 3, 2)).await;
    d.clone()
        .reverse_duty_record(pb::ReverseDutyRecordRequest {
            name: wrong.name.clone(),
            reason: "录错了".into(),
        })
        .await
        .unwrap();
    // 丙: two deeds (20): qualified. 丁: a deed, then leaves office in 2023.
    add(&c, DutyKind::PracticalDeed, day(2023, 3, 1)).await;
    add(&c, DutyKind::PracticalDeed, day(2023, 4, 1)).await;
    add(&left, DutyKind::Training, day(2023, 1, 9)).await;
    m.change_member_status(pb::ChangeMemberStatusRequest {
        name: left.name.clone(),
        status: pb::MemberStatus::Resigned as i32,
        reason: "调离".into(),
        effective_date: day(2023, 2, 1),
        etag: String::new(),
    })
    .await
    .unwrap();

    let evaluation = |token: String, member: String, year: i32| {
        let suite = &suite;
        async move {
            suite
                .evaluation(&token)
                .get_member_evaluation(pb::GetMemberEvaluationRequest { member, year })
                .await
                .map(|r| r.into_inner().evaluation.unwrap())
        }
    };
    let ea = evaluation(admin(), a.name.clone(), 2023).await.unwrap();
    assert_eq!((ea.score, ea.grade()), (30, pb::Grade::Excellent));
    assert_eq!((ea.committee_rank, ea.sector_rank), (1, 1));
    assert!(ea.four_goods);
    assert_eq!(ea.rules, RULES_2023);
    let deeds = &ea.lines[0];
    assert_eq!(deeds.kind, DutyKind::PracticalDeed as i32);
    assert_eq!(
        (
            deeds.entries,
            deeds.points_each,
            deeds.raw_points,
            deeds.points
        ),
        (3, 10, 30, 20)
    );
    assert_eq!(
        deeds.duty_records, a_deeds,
        "each point traces to its entries"
    );
    assert_eq!(ea.lines[1].points, 10);
    // Every score is the sum of its lines, every line the entries it names.
    for who in [&a, &b, &c, &left] {
        let ev = evaluation(admin(), who.name.clone(), 2023).await.unwrap();
        assert_eq!(ev.score, ev.lines.iter().map(|l| l.points).sum::<i32>());
        for l in &ev.lines {
            assert_eq!(l.entries as usize, l.duty_records.len());
        }
    }
    let eb = evaluation(admin(), b.name.clone(), 2023).await.unwrap();
    assert_eq!((eb.score, eb.grade()), (10, pb::Grade::Basic));
    assert_eq!(
        eb.lines.len(),
        1,
        "the reversed suggestion and its reversal count for nothing"
    );
    assert_eq!((eb.committee_rank, eb.sector_rank), (3, 2));
    let ec = evaluation(admin(), c.name.clone(), 2023).await.unwrap();
    assert_eq!(
        (ec.score, ec.grade(), ec.committee_rank, ec.sector_rank),
        (20, pb::Grade::Qualified, 2, 1)
    );
    // 丁 served in 2023 until February: evaluated, unqualified, last.
    let el = evaluation(admin(), left.name.clone(), 2023).await.unwrap();
    assert_eq!(
        (el.score, el.grade(), el.committee_rank),
        (0, pb::Grade::Unqualified, 4)
    );
    let after = evaluation(admin(), left.name.clone(), 2024)
        .await
        .unwrap_err();
    assert_eq!(precondition(&after), "NOT_IN_OFFICE");
    // 2022 uses the built-in rules; only 甲's old deed counts.
    let old = evaluation(admin(), a.name.clone(), 2022).await.unwrap();
    assert_eq!(old.rules, "default");
    assert_eq!(old.lines[0].entries, 1);
    let bad_year = evaluation(admin(), a.name.clone(), 23).await.unwrap_err();
    assert_eq!(fields(&bad_year), ["year"]);

    // The whole committee, highest first, page by page; filters.
    let list = |sector: &str, grade: pb::Grade, four_goods_only: bool, page_token: String| {
        let mut e = e.clone();
        let sector = sector.to_owned();
        async move {
            e.list_member_evaluations(pb::ListMemberEvaluationsRequest {
                parent: SUIXIAN.into(),
                year: 2023,
                page_size: 2,
                page_token,
                sector,
                grade: grade as i32,
                four_goods_only,
            })
            .await
            .map(|r| r.into_inner())
        }
    };
    let first = list("", pb::Grade::Unspecified, false, String::new())
        .await
        .unwrap();
    // Entries arriving between pages (乙 would move up to 丙's place) do not
    // make the second page repeat or skip anyone: it is computed as the
    // data stood for the first.
    for m in [6, 7, 8] {
        add(&b, DutyKind::PracticalDeed, day(2023, m, 1)).await;
    }
    let second = list(
        "",
        pb::Grade::Unspecified,
        false,
        first.next_page_token.clone(),
    )
    .await
    .unwrap();
    assert_eq!(first.total_size, 4);
    let order: Vec<_> = first
        .evaluations
        .iter()
        .chain(&second.evaluations)
        .map(|e| (e.member_display_name.as_str(), e.score))
        .collect();
    assert_eq!(
        order,
        [
            ("甲委员", 30),
            ("丙委员", 20),
            ("乙委员", 10),
            ("丁委员", 0)
        ]
    );
    assert!(
        first.evaluations[0].lines.is_empty(),
        "lists leave the lines to GetMemberEvaluation"
    );
    assert!(second.next_page_token.is_empty());
    let party = list(&seed.party, pb::Grade::Unspecified, false, String::new())
        .await
        .unwrap();
    assert_eq!(party.total_size, 2);
    let qualified = list("", pb::Grade::Qualified, false, String::new())
        .await
        .unwrap();
    let names: Vec<_> = qualified
        .evaluations
        .iter()
        .map(|e| e.member_display_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["乙委员", "丙委员"],
        "乙's new deeds count now; equal scores by strokes"
    );
    let four_goods = list("", pb::Grade::Unspecified, true, String::new())
        .await
        .unwrap();
    assert_eq!(four_goods.total_size, 1);
    assert_eq!(four_goods.evaluations[0].member, a.name);
    let mixed = list(
        &seed.party,
        pb::Grade::Unspecified,
        false,
        first.next_page_token.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        fields(&mixed),
        ["page_token"],
        "a token belongs to its own query"
    );

    // A member sees its own evaluation only.
    let own = member_token(Some(&a.name));
    evaluation(own.clone(), a.name.clone(), 2023).await.unwrap();
    let others = evaluation(own.clone(), b.name.clone(), 2023)
        .await
        .unwrap_err();
    assert_eq!(others.code(), Code::NotFound);
    let ranking = suite
        .evaluation(&own)
        .list_member_evaluations(pb::ListMemberEvaluationsRequest {
            parent: SUIXIAN.into(),
            year: 2023,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(ranking.code(), Code::PermissionDenied);

    // Five ones: 甲 adds a proposal, an opinion report and friends made.
    for kind in [
        DutyKind::ProposalSubmitted,
        DutyKind::OpinionSubmitted,
        DutyKind::FriendsMade,
    ] {
        add(&a, kind, day(2023, 8, 1)).await;
    }
    let five = e
        .get_five_ones(pb::GetFiveOnesRequest {
            member: a.name.clone(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .five_ones
        .unwrap();
    assert!(
        five.complete
            && five.proposal
            && five.opinion
            && five.suggestion
            && five.friends
            && five.practical_deed
    );
    let five_b = e
        .get_five_ones(pb::GetFiveOnesRequest {
            member: b.name.clone(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .five_ones
        .unwrap();
    assert!(
        five_b.practical_deed && !five_b.suggestion && !five_b.complete,
        "{five_b:?}"
    );
    let missing = e
        .list_five_ones(pb::ListFiveOnesRequest {
            parent: SUIXIAN.into(),
            year: 2023,
            incomplete_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((missing.members, missing.complete), (4, 1));
    let names: Vec<_> = missing
        .five_ones
        .iter()
        .map(|f| f.member_display_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["乙委员", "丁委员", "丙委员"],
        "by surname strokes: 乙 1, 丁 2, 丙 5"
    );

    // Statistics: the roll as it is, entries for the year and the term.
    add(&c, DutyKind::PracticalDeed, day(2021, 12, 25)).await;
    add(&c, DutyKind::PracticalDeed, day(2021, 12, 1)).await;
    let stats = e
        .get_member_statistics(pb::GetMemberStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    // 丁 served in 2023 until February: a member of the year, resigned now.
    assert_eq!(
        (stats.members, stats.term, stats.special_committees),
        (4, 4, 1)
    );
    let sectors: Vec<_> = stats
        .by_sector
        .iter()
        .map(|s| (s.label.as_str(), s.count))
        .collect();
    assert_eq!(
        sectors,
        [("中共", 2), ("工商联", 2)],
        "in the sectors' order"
    );
    let resigned = stats
        .by_status
        .iter()
        .find(|s| s.label == "MEMBER_STATUS_RESIGNED")
        .unwrap();
    assert_eq!(resigned.count, 1);
    let count_of = |counts: &[pb::KindCount], kind: DutyKind| {
        counts
            .iter()
            .find(|k| k.kind == kind as i32)
            .map_or(0, |k| k.count)
    };
    assert_eq!(count_of(&stats.year_entries, DutyKind::PracticalDeed), 9);
    // The term began 2021-12-20: the 2022 deed and one of 2021 count, not the earlier one.
    assert_eq!(count_of(&stats.term_entries, DutyKind::PracticalDeed), 11);
    assert_eq!(
        count_of(&stats.year_entries, DutyKind::Suggestion),
        2,
        "reversed entries do not count"
    );
    assert_eq!(count_of(&stats.year_members, DutyKind::PracticalDeed), 3);
    assert_eq!(stats.five_ones_complete, 1);
}
