//! `cppcc-bench evaluation`: how long evaluating a whole committee takes.
//! For each size, a committee with that many members and a year of duty
//! records each (entered in batches, as an office would); then
//! ListMemberEvaluations (which scores and ranks every member),
//! GetMemberEvaluation (one member, traced to entries, ranked in the
//! whole) and GetMemberStatistics, each timed several times.
//!
//! A province is many committees, each evaluated on its own; a single
//! committee of the province's size is the hardest case of it.

use std::time::{Duration, Instant};

use cppcc_kit::auth::Role;
use cppcc_proto::common::v1::{Date, DutyKind};
use cppcc_proto::members::v1 as pb;
use pb::duty_record_service_client::DutyRecordServiceClient;
use pb::evaluation_service_client::EvaluationServiceClient;

use crate::{Bench, create_members, median};

/// Options of `evaluation`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Committee sizes, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "338,30000")]
    members: Vec<u32>,
    /// Duty-record entries per member in the year.
    #[arg(long, default_value_t = 8)]
    entries: u32,
    /// Times each call is measured.
    #[arg(long, default_value_t = 5)]
    repeat: u32,
}

const KINDS: [DutyKind; 8] = [
    DutyKind::PolicyPublicity,
    DutyKind::ResearchInspection,
    DutyKind::ConsultationGrassroots,
    DutyKind::OpinionSubmitted,
    DutyKind::PracticalDeed,
    DutyKind::Suggestion,
    DutyKind::FriendsMade,
    DutyKind::MeetingAttended,
];

async fn timed<F, Fut, T>(repeat: u32, mut call: F) -> anyhow::Result<(Duration, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let began = Instant::now();
        last = Some(call().await?);
        times.push(began.elapsed());
    }
    Ok((median(times), last.expect("at least one call")))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let bench = Bench::start(Default::default()).await?;
    println!(
        "{}; {} entries per member; median of {} calls",
        bench.machine(),
        args.entries,
        args.repeat
    );
    for &size in &args.members {
        let id = format!("eval{size}");
        let (client, sector) = bench.committee(&id).await?;
        let loading = Instant::now();
        let members = create_members(&client, &id, &sector, size, 16).await?;
        let mut requests = Vec::with_capacity((size * args.entries) as usize);
        for (m, member) in members.iter().enumerate() {
            for k in 0..args.entries as usize {
                requests.push(pb::CreateDutyRecordRequest {
                    parent: member.clone(),
                    duty_record: Some(pb::DutyRecord {
                        kind: KINDS[(m + k) % KINDS.len()] as i32,
                        date: Some(Date {
                            year: 2023,
                            month: 1 + ((m + k) % 12) as i32,
                            day: 1 + ((m * 7 + k) % 28) as i32,
                        }),
                        evidence: "压测履职记录".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                });
            }
        }
        let staff = DutyRecordServiceClient::with_interceptor(
            bench.channel()?,
            bench.bearer(Role::Staff, &id)?,
        );
        let parent = format!("committees/{id}");
        let chunks: Vec<Vec<pb::CreateDutyRecordRequest>> =
            requests.chunks(1000).map(<[_]>::to_vec).collect();
        let mut tasks = Vec::new();
        for lane in 0..2 {
            let mine: Vec<_> = chunks.iter().skip(lane).step_by(2).cloned().collect();
            let (mut staff, parent) = (staff.clone(), parent.clone());
            tasks.push(tokio::spawn(async move {
                for requests in mine {
                    staff
                        .batch_create_duty_records(pb::BatchCreateDutyRecordsRequest {
                            parent: format!("{parent}/members/-"),
                            requests,
                            request_id: String::new(),
                        })
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        println!(
            "{size} members, {} entries loaded in {:.1} s",
            requests.len(),
            loading.elapsed().as_secs_f64()
        );

        let e = EvaluationServiceClient::with_interceptor(
            bench.channel()?,
            bench.bearer(Role::Staff, &id)?,
        );
        let (list_time, listed) = timed(args.repeat, || {
            let mut e = e.clone();
            let parent = parent.clone();
            async move {
                Ok(e.list_member_evaluations(pb::ListMemberEvaluationsRequest {
                    parent,
                    year: 2023,
                    page_size: 1000,
                    ..Default::default()
                })
                .await?
                .into_inner())
            }
        })
        .await?;
        anyhow::ensure!(
            listed.total_size as u32 == size,
            "evaluated {} of {size}",
            listed.total_size
        );
        let top = listed
            .evaluations
            .first()
            .map(|e| e.member.clone())
            .unwrap_or_default();
        let (one_time, one) = timed(args.repeat, || {
            let mut e = e.clone();
            let member = top.clone();
            async move {
                Ok(
                    e.get_member_evaluation(pb::GetMemberEvaluationRequest { member, year: 2023 })
                        .await?
                        .into_inner(),
                )
            }
        })
        .await?;
        let lines = one.evaluation.map(|e| e.lines.len()).unwrap_or_default();
        let (stats_time, _) = timed(args.repeat, || {
            let mut e = e.clone();
            let committee = parent.clone();
            async move {
                Ok(e.get_member_statistics(pb::GetMemberStatisticsRequest {
                    committee,
                    year: 2023,
                })
                .await?
                .into_inner())
            }
        })
        .await?;
        println!(
            "{size:>6} members: ListMemberEvaluations (all scored and ranked, first 1000 returned) {:.1} ms; \
             GetMemberEvaluation (one member, {lines} lines traced) {:.1} ms; GetMemberStatistics {:.1} ms",
            list_time.as_secs_f64() * 1000.0,
            one_time.as_secs_f64() * 1000.0,
            stats_time.as_secs_f64() * 1000.0,
        );
    }
    bench.stop().await
}
