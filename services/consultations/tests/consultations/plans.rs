//! The annual plan's path, amendments, and 《建言资政》 numbering.

use super::*;

#[tokio::test]
async fn only_an_approved_plan_is_in_force_and_changes_take_the_same_path() {
    let (suite, _) = Suite::seeded(0).await;
    let (approved, _) = approved_plan(&suite).await;
    assert!(approved.in_force);
    let mut plans = suite.plans(&staff());

    // A topic added to the plan in force, without an amendment.
    let direct = plans
        .add_plan_item(pb::AddPlanItemRequest {
            plan: approved.name.clone(),
            item: Some(pb::PlanItem {
                topic: "香菇产业高质量发展".into(),
                kind: pb::ActivityKind::SpecialTopic as i32,
                lead_body: "经济委员会".into(),
                quarter: 3,
                ..Default::default()
            }),
            etag: String::new(),
        })
        .await;
    let status = assert_code(direct, Code::FailedPrecondition);
    assert!(status.message().contains("open an amendment"), "{status:?}");
    // Staff cannot approve for the party committee.
    let amendment = plans
        .amend_consultation_plan(pb::AmendConsultationPlanRequest {
            parent: format!("{SUIXIAN}/consultationPlans/2023"),
            reason: "增加香菇产业议题".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!((amendment.version, amendment.items.len()), (2, 1));
    plans
        .add_plan_item(pb::AddPlanItemRequest {
            plan: amendment.name.clone(),
            item: Some(pb::PlanItem {
                topic: "香菇产业高质量发展".into(),
                kind: pb::ActivityKind::SpecialTopic as i32,
                lead_body: "经济委员会".into(),
                quarter: 3,
                ..Default::default()
            }),
            etag: String::new(),
        })
        .await
        .unwrap();
    plans
        .submit_consultation_plan(pb::SubmitConsultationPlanRequest {
            name: amendment.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let by_staff = plans
        .decide_consultation_plan(pb::DecideConsultationPlanRequest {
            name: amendment.name.clone(),
            approve: true,
            reason: String::new(),
        })
        .await;
    assert_code(by_staff, Code::PermissionDenied);
    // Still version 1 in force until the amendment is approved.
    let in_force = plans
        .get_consultation_plan(pb::GetConsultationPlanRequest {
            name: format!("{SUIXIAN}/consultationPlans/2023/versions/-"),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(in_force.version, 1);
    let returned_without_reason = suite
        .plans(&leader())
        .decide_consultation_plan(pb::DecideConsultationPlanRequest {
            name: amendment.name.clone(),
            approve: false,
            reason: String::new(),
        })
        .await;
    assert_eq!(
        fields(&assert_code(returned_without_reason, Code::InvalidArgument)),
        ["reason"]
    );
    suite
        .plans(&leader())
        .decide_consultation_plan(pb::DecideConsultationPlanRequest {
            name: amendment.name.clone(),
            approve: true,
            reason: String::new(),
        })
        .await
        .unwrap();
    let in_force = plans
        .get_consultation_plan(pb::GetConsultationPlanRequest {
            name: format!("{SUIXIAN}/consultationPlans/2023/versions/-"),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!((in_force.version, in_force.items.len()), (2, 2));
    let old = plans
        .get_consultation_plan(pb::GetConsultationPlanRequest {
            name: approved.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(old.state, pb::PlanState::Superseded as i32);
    assert_eq!(old.steps.len(), 4, "made, submitted, approved, superseded");
}

#[tokio::test]
async fn the_committee_sets_its_deadlines_and_meetings_follow_them() {
    let (suite, _) = Suite::seeded(0).await;
    let mut activities = suite.activities(&admin());
    let name = format!("{SUIXIAN}/consultationSettings");
    let defaults = activities
        .get_consultation_settings(pb::GetConsultationSettingsRequest { name: name.clone() })
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!((defaults.result_days, defaults.report_days), (3, 7));
    let bad = activities
        .update_consultation_settings(pb::UpdateConsultationSettingsRequest {
            settings: Some(pb::ConsultationSettings {
                name: name.clone(),
                result_days: 0,
                report_days: 90,
            }),
        })
        .await;
    assert_eq!(
        fields(&assert_code(bad, Code::InvalidArgument)),
        ["settings.result_days", "settings.report_days"]
    );
    let by_staff = suite
        .activities(&staff())
        .update_consultation_settings(pb::UpdateConsultationSettingsRequest {
            settings: Some(pb::ConsultationSettings {
                name: name.clone(),
                result_days: 5,
                report_days: 10,
            }),
        })
        .await;
    assert_code(by_staff, Code::PermissionDenied);
    activities
        .update_consultation_settings(pb::UpdateConsultationSettingsRequest {
            settings: Some(pb::ConsultationSettings {
                name: name.clone(),
                result_days: 5,
                report_days: 10,
            }),
        })
        .await
        .unwrap();
    let mut staff_activities = suite.activities(&staff());
    let created = staff_activities
        .create_activity(pb::CreateActivityRequest {
            parent: SUIXIAN.into(),
            activity: Some(pb::Activity {
                kind: pb::ActivityKind::SpecialTopic as i32,
                format: pb::ActivityFormat::Meeting as i32,
                topic: "香菇产业高质量发展".into(),
                date: day(2023, 9, 1),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .activity
        .unwrap();
    let mut held = None;
    for n in 2..=4 {
        held = Some(
            staff_activities
                .take_activity_step(pb::TakeActivityStepRequest {
                    name: created.name.clone(),
                    step: n,
                    meeting_date: if n == 4 { day(2023, 8, 30) } else { None },
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .activity
                .unwrap(),
        );
    }
    let held = held.unwrap();
    assert_eq!(held.date, day(2023, 8, 30), "held two days early");
    assert_eq!(
        held.results_due_date,
        day(2023, 9, 4),
        "5 days after the meeting"
    );
}
