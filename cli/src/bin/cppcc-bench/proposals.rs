//! `cppcc-bench proposals`: the write path every proposal takes through
//! the office — SubmitProposal (by its member), FileProposal (a serial
//! number under the session's lock) and AssignProposal (a lead and a
//! co-handling unit) — as proposals a second and the latency of the whole
//! path, at each concurrency. Drafts are written first and not timed; the
//! proposers are checked with the members service on submission, as in
//! production.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::Bearer;
use cppcc_proto::proposals::v1 as pb;
use pb::proposal_office_service_client::ProposalOfficeServiceClient;
use pb::proposal_service_client::ProposalServiceClient;

use crate::{Bench, create_members, percentile};

/// Options of `proposals`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent clients, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,16")]
    clients: Vec<u32>,
    /// Proposals taken through the path at each concurrency.
    #[arg(long, default_value_t = 1000)]
    proposals: u32,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut bench = Bench::start(Default::default()).await?;
    bench.start_proposals().await?;
    let (members_client, sector) = bench.committee("bench").await?;
    let members = create_members(&members_client, "bench", &sector, 50, 8).await?;
    let channel = bench.proposals_channel()?;
    let office_bearer = bench.bearer(Role::ProposalOffice, "bench")?;
    let mut office =
        ProposalOfficeServiceClient::with_interceptor(channel.clone(), office_bearer.clone());
    let session = office
        .create_session(pb::CreateSessionRequest {
            parent: "committees/bench".into(),
            session: Some(pb::Session {
                display_name: "压测第一次会议".into(),
                term: 1,
                year: 2023,
                open_date: Some(cppcc_proto::common::v1::Date {
                    year: 2023,
                    month: 1,
                    day: 10,
                }),
                close_date: Some(cppcc_proto::common::v1::Date {
                    year: 2023,
                    month: 1,
                    day: 13,
                }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .session
        .context("a session")?
        .name;
    let mut units = Vec::new();
    for name in ["县财政局", "县农业农村局"] {
        units.push(
            office
                .create_handling_unit(pb::CreateHandlingUnitRequest {
                    parent: "committees/bench".into(),
                    unit: Some(pb::HandlingUnit {
                        display_name: name.into(),
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner()
                .unit
                .context("a unit")?
                .name,
        );
    }
    let issuer = bench.env.keys.issuer()?;
    let member_bearers: Vec<Bearer> = members
        .iter()
        .map(|m| {
            Bearer::new(&issuer.issue(&TokenRequest {
                subject: m,
                role: Role::Member,
                committee: "bench",
                member: Some(m),
                unit: None,
                ttl: Duration::from_secs(4 * 3600),
            }))
        })
        .collect();
    println!(
        "{}; {} proposals per concurrency",
        bench.machine(),
        args.proposals
    );
    for (round, &clients) in args.clients.iter().enumerate() {
        // Drafts first, untimed.
        let mut drafts = Vec::new();
        for n in 0..args.proposals {
            let who = (n as usize) % members.len();
            let mut p = ProposalServiceClient::with_interceptor(
                channel.clone(),
                member_bearers[who].clone(),
            );
            let made = p
                .create_proposal(pb::CreateProposalRequest {
                    parent: "committees/bench".into(),
                    proposal: Some(pb::Proposal {
                        session: session.clone(),
                        title: format!("关于香菇产业第{round}-{n}项措施的建议"),
                        reason: "香菇产业精深加工不足。".into(),
                        suggestions: "建设精深加工园区。".into(),
                        category: pb::ProposalCategory::Economy as i32,
                        kind: pb::ProposalKind::Individual as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .proposal
                .context("a draft")?;
            drafts.push((made.name, who));
        }
        let queue = std::sync::Arc::new(std::sync::Mutex::new(drafts));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let queue = queue.clone();
            let channel = channel.clone();
            let bearers = member_bearers.clone();
            let office_bearer = office_bearer.clone();
            let (lead, co) = (units[0].clone(), units[1].clone());
            tasks.push(tokio::spawn(async move {
                let mut office =
                    ProposalServiceClient::with_interceptor(channel.clone(), office_bearer);
                let mut times = Vec::new();
                loop {
                    let Some((name, who)) = queue.lock().expect("queue").pop() else {
                        break;
                    };
                    let began = Instant::now();
                    ProposalServiceClient::with_interceptor(channel.clone(), bearers[who].clone())
                        .submit_proposal(pb::SubmitProposalRequest {
                            name: name.clone(),
                            etag: String::new(),
                        })
                        .await?;
                    office
                        .file_proposal(pb::FileProposalRequest {
                            name: name.clone(),
                            note: String::new(),
                        })
                        .await?;
                    office
                        .assign_proposal(pb::AssignProposalRequest {
                            name,
                            lead_unit: lead.clone(),
                            units: vec![co.clone()],
                            note: String::new(),
                        })
                        .await?;
                    times.push(began.elapsed());
                }
                anyhow::Ok(times)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        let elapsed = start.elapsed();
        all.sort();
        println!(
            "{clients:>3} clients  submit → file → assign  {:>6.0} proposals/s  path p50 {:.1} ms, p99 {:.1} ms",
            all.len() as f64 / elapsed.as_secs_f64(),
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.99)),
        );
    }
    bench.stop().await
}
