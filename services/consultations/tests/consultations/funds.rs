//! The platforms' yearly budget and each platform's share of it; the
//! statistics for the year and for the term to date.

use super::*;

fn money(fen: i64) -> Option<cppcc_proto::common::v1::Money> {
    Some(cppcc_proto::common::v1::Money { fen })
}

fn fund(platform: &pb::Platform, allotted: i64, spent: i64) -> pb::UpdatePlatformFundRequest {
    pb::UpdatePlatformFundRequest {
        fund: Some(pb::PlatformFund {
            name: format!("{}/funds/2023", platform.name),
            allotted: money(allotted),
            spent: money(spent),
            ..Default::default()
        }),
    }
}

fn budget(fen: i64) -> pb::UpdatePlatformBudgetRequest {
    pb::UpdatePlatformBudgetRequest {
        budget: Some(pb::PlatformBudget {
            name: format!("{SUIXIAN}/platformBudgets/2023"),
            amount: money(fen),
            ..Default::default()
        }),
    }
}

async fn read_budget(suite: &Suite) -> pb::PlatformBudget {
    suite
        .platforms(&staff())
        .get_platform_budget(pb::GetPlatformBudgetRequest {
            name: format!("{SUIXIAN}/platformBudgets/2023"),
        })
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap()
}

async fn read_fund(suite: &Suite, platform: &pb::Platform, year: i32) -> pb::PlatformFund {
    suite
        .platforms(&staff())
        .get_platform_fund(pb::GetPlatformFundRequest {
            name: format!("{}/funds/{year}", platform.name),
        })
        .await
        .unwrap()
        .into_inner()
        .fund
        .unwrap()
}

#[tokio::test]
async fn platform_funds_stay_within_the_years_budget() {
    let (suite, _) = Suite::seeded(0).await;
    let hongshan = platform(&suite, "洪山镇政协委员协商议事室").await;
    let anju = platform(&suite, "安居镇政协委员协商议事室").await;
    let mut platforms = suite.platforms(&staff());

    // Nothing can be allotted before the year has a budget.
    let early = platforms
        .update_platform_fund(fund(&hongshan, 100, 0))
        .await;
    let status = assert_code(early, Code::FailedPrecondition);
    assert_eq!(precondition(&status), "NO_BUDGET");
    assert!(
        status.message().contains("UpdatePlatformBudget"),
        "{status:?}"
    );
    let unset = read_budget(&suite).await;
    assert_eq!(unset.amount, None, "{unset:?}");

    // 500,000 yuan for 2023.
    let set = platforms
        .update_platform_budget(budget(50_000_000))
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(set.amount, money(50_000_000));
    assert_eq!((set.allotted, set.platforms_funded), (money(0), 0));

    let first = platforms
        .update_platform_fund(fund(&hongshan, 30_000_000, 12_000_000))
        .await
        .unwrap()
        .into_inner()
        .fund
        .unwrap();
    assert_eq!(first.year, 2023);
    assert_eq!(
        (first.allotted, first.spent),
        (money(30_000_000), money(12_000_000))
    );

    // More than is left of the budget: the error says how much is left.
    let over = platforms
        .update_platform_fund(fund(&anju, 20_000_001, 0))
        .await;
    let status = assert_code(over, Code::FailedPrecondition);
    assert_eq!(precondition(&status), "OVER_BUDGET");
    assert_eq!(
        status
            .get_details_error_info()
            .and_then(|info| info.metadata.get("remaining_fen").cloned()),
        Some("20000000".to_owned()),
        "{status:?}"
    );
    // A platform's own allotment may be changed in place: what it had
    // before does not count against it.
    platforms
        .update_platform_fund(fund(&hongshan, 35_000_000, 12_000_000))
        .await
        .unwrap();
    platforms
        .update_platform_fund(fund(&anju, 15_000_000, 15_000_000))
        .await
        .unwrap();

    // Spending past the allotment is bad input.
    let overspent = platforms
        .update_platform_fund(fund(&anju, 15_000_000, 15_000_001))
        .await;
    assert_eq!(
        fields(&assert_code(overspent, Code::InvalidArgument)),
        ["fund.spent"]
    );
    let negative = platforms.update_platform_fund(fund(&anju, -1, 0)).await;
    assert_eq!(
        fields(&assert_code(negative, Code::InvalidArgument)),
        ["fund.allotted"]
    );
    // The budget cannot shrink below what is allotted.
    let shrink = platforms.update_platform_budget(budget(49_999_999)).await;
    let status = assert_code(shrink, Code::FailedPrecondition);
    assert_eq!(precondition(&status), "BUDGET_BELOW_ALLOTTED");

    // Bad names and unknown platforms.
    for name in [
        format!("{SUIXIAN}/platformBudgets/23"),
        format!("{SUIXIAN}/platformBudgets/1800"),
        format!("{SUIXIAN}/budgets/2023"),
    ] {
        let bad = platforms
            .get_platform_budget(pb::GetPlatformBudgetRequest { name: name.clone() })
            .await;
        assert_eq!(
            fields(&assert_code(bad, Code::InvalidArgument)),
            ["name"],
            "{name}"
        );
    }
    let unknown = pb::Platform {
        name: format!("{SUIXIAN}/platforms/0190a5e4-0000-7000-8000-000000000000"),
        ..Default::default()
    };
    assert_code(
        platforms.update_platform_fund(fund(&unknown, 1, 0)).await,
        Code::NotFound,
    );
    assert_code(
        platforms
            .get_platform_fund(pb::GetPlatformFundRequest {
                name: format!("{}/funds/2023", unknown.name),
            })
            .await,
        Code::NotFound,
    );
    // A member may read the budget but not set it.
    let member = cppcc_tests::token(Role::Member, "suixian");
    assert_code(
        suite
            .platforms(&member)
            .update_platform_budget(budget(60_000_000))
            .await,
        Code::PermissionDenied,
    );
    // Another committee's budget does not exist for this one's staff.
    let zengdu = cppcc_tests::token(Role::Staff, "zengdu");
    assert_code(
        suite
            .platforms(&zengdu)
            .get_platform_budget(pb::GetPlatformBudgetRequest {
                name: format!("{SUIXIAN}/platformBudgets/2023"),
            })
            .await,
        Code::NotFound,
    );

    // None of the refusals changed anything.
    let after = read_budget(&suite).await;
    assert_eq!(after.amount, money(50_000_000));
    assert_eq!(
        (after.allotted, after.spent, after.platforms_funded),
        (money(50_000_000), money(27_000_000), 2)
    );
    let anju_fund = read_fund(&suite, &anju, 2023).await;
    assert_eq!(
        (anju_fund.allotted, anju_fund.spent),
        (money(15_000_000), money(15_000_000))
    );
    // A year nothing was allotted in reads as zero.
    let other_year = read_fund(&suite, &anju, 2022).await;
    assert_eq!(
        (other_year.allotted, other_year.spent),
        (money(0), money(0))
    );

    // The statistics carry the budget.
    let stats = suite
        .results(&staff())
        .get_consultation_statistics(pb::GetConsultationStatisticsRequest {
            committee: SUIXIAN.into(),
            year: 2023,
        })
        .await
        .unwrap()
        .into_inner();
    let carried = stats.budget.unwrap();
    assert_eq!(
        (carried.amount, carried.allotted, carried.platforms_funded),
        (money(50_000_000), money(50_000_000), 2)
    );
}

#[tokio::test]
async fn the_term_figures_add_up_every_year_since_the_term_began() {
    let (suite, members) = Suite::seeded(2).await;
    let mut activities = suite.activities(&staff());
    // Held (step 4) once before the term began (28 December 2021), once in
    // 2022, twice in 2023.
    for (date, who) in [
        (day(2021, 6, 1), &members[0]),
        (day(2022, 7, 2), &members[0]),
        (day(2023, 7, 2), &members[0]),
        (day(2023, 8, 9), &members[1]),
    ] {
        let created = activities
            .create_activity(pb::CreateActivityRequest {
                parent: SUIXIAN.into(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::Frontline as i32,
                    format: pb::ActivityFormat::BenchMeeting as i32,
                    topic: "人居环境整治".into(),
                    date,
                    resident_count: 10,
                    ..Default::default()
                }),
                participants: vec![who.clone()],
                request_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .activity
            .unwrap();
        for step in 2..=4 {
            activities
                .take_activity_step(pb::TakeActivityStepRequest {
                    name: created.name.clone(),
                    step,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }
    let stats = |year| {
        let mut results = suite.results(&staff());
        async move {
            results
                .get_consultation_statistics(pb::GetConsultationStatisticsRequest {
                    committee: SUIXIAN.into(),
                    year,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let frontline = |figures: &pb::ConsultationFigures| {
        figures
            .activities_by_kind
            .iter()
            .find(|k| k.label == "ACTIVITY_KIND_FRONTLINE")
            .map_or(0, |k| k.count)
    };

    let in_2023 = stats(2023).await;
    assert_eq!(in_2023.term_start_date, day(2021, 12, 28));
    let (year, term) = (in_2023.year.unwrap(), in_2023.term.unwrap());
    assert_eq!(frontline(&year), 2);
    assert_eq!(
        (year.member_participations, year.members_taking_part),
        (2, 2)
    );
    assert_eq!(year.participations, 2 + 20);
    assert_eq!(frontline(&term), 3, "2022 and 2023, not 2021");
    assert_eq!(
        (term.member_participations, term.members_taking_part),
        (3, 2)
    );
    assert_eq!(term.participations, 3 + 30);

    // 2022's term figures stop at the end of 2022.
    let in_2022 = stats(2022).await;
    let (year, term) = (in_2022.year.unwrap(), in_2022.term.unwrap());
    assert_eq!((frontline(&year), frontline(&term)), (1, 1));

    // The year the term began: the term figures start on its first day.
    let in_2021 = stats(2021).await;
    let (year, term) = (in_2021.year.unwrap(), in_2021.term.unwrap());
    assert_eq!((frontline(&year), frontline(&term)), (1, 0));
    // A year before it: this term has no figures there, the year's are given.
    let in_2020 = stats(2020).await;
    assert_eq!(in_2020.term_start_date, day(2020, 1, 1));
    assert_eq!(in_2020.term, in_2020.year);
}
