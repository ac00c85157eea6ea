//! `cppcc-bench intake`: how fast the duty-record intake is.
//!
//! - Throughput: a producer (the kit's server over a schema of its own, as
//!   every service runs it) holds a backlog of `DutyPerformed` events; the
//!   members service starts following it, and the time until its cursor
//!   reaches the last event gives the rate. Each event credits one member,
//!   so each is one entry with its audit row and its own
//!   `DutyRecordAdded` event.
//! - Latency (PERFORMANCE.md: event to duty record, p99 < 1 s under
//!   sustained writes): the producer then commits events at a steady rate;
//!   the time from each commit until the intake's cursor has passed it
//!   (its entries committed) is measured from the outside.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use cppcc_kit::auth::{Actor, TokenVerifier};
use cppcc_kit::db::{Database, Schema};
use cppcc_members::intake::{IntakeArgs, Producer};
use cppcc_proto::common::v1::{Date, DutyKind};
use cppcc_proto::events::v1 as events;

use crate::{Bench, create_members};

/// Options of `intake`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Events in the producer's backlog.
    #[arg(long, default_value_t = 50_000)]
    events: u32,
    /// Members credited, in turn.
    #[arg(long, default_value_t = 338)]
    members: u32,
    /// Events a second during the latency measurement.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// How long the latency measurement writes.
    #[arg(long, default_value = "10s", value_parser = cppcc_kit::config::parse_duration)]
    duration: Duration,
}

/// Events a producer transaction holds during the latency measurement.
const PER_CHANGE: u32 = 10;

fn event(members: &[String], n: u32) -> events::DutyPerformed {
    events::DutyPerformed {
        members: vec![members[n as usize % members.len()].clone()],
        kind: [
            DutyKind::PolicyPublicity,
            DutyKind::ProposalSubmitted,
            DutyKind::OpinionSubmitted,
        ][n as usize % 3] as i32,
        date: Some(Date {
            year: 2023,
            month: 1 + (n % 12) as i32,
            day: 1 + (n % 28) as i32,
        }),
        evidence: format!("压测事件 {n}"),
        source: format!("committees/bench/proposals/{n}"),
    }
}

/// Commits events at `rate` a second for `duration`, and measures how long
/// each transaction takes to pass the intake's cursor.
async fn latency(
    db: &Database,
    members_pool: &sqlx::PgPool,
    members: &[String],
    first: u32,
    rate: u32,
    duration: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let actor = Actor::internal("bench-producer", "/bench.Producer/Publish");
    let changes = (u64::from(rate) * duration.as_secs()).div_ceil(u64::from(PER_CHANGE)) as u32;
    let every = Duration::from_secs_f64(f64::from(PER_CHANGE) / f64::from(rate.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let emitter = {
        let (db, members) = (db.clone(), members.to_vec());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            for c in 0..changes {
                tick.tick().await;
                let mut change = db.change(&actor).await?;
                for n in 0..PER_CHANGE {
                    let e = event(&members, first + c * PER_CHANGE + n);
                    change.publish("bench", &e.source, &e);
                }
                change.commit().await?;
                let committed = Instant::now();
                // The only writer: the highest seq is this change's last.
                let seq: i64 = sqlx::query_scalar("SELECT max(seq) FROM producer.outbox")
                    .fetch_one(db.pool())
                    .await?;
                let _ = tx.send((seq, committed));
            }
            anyhow::Ok(())
        })
    };
    let mut pending = std::collections::VecDeque::new();
    let mut latencies = Vec::new();
    let mut open = true;
    while open || !pending.is_empty() {
        while let Ok(sent) = rx.try_recv() {
            pending.push_back(sent);
        }
        if open && rx.is_closed() && rx.is_empty() {
            open = false;
        }
        let cursor: Option<String> = sqlx::query_scalar(
            "SELECT cursor FROM members.intake_cursor WHERE producer = 'proposals'",
        )
        .fetch_optional(members_pool)
        .await?;
        let now = Instant::now();
        let cursor: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        while pending.front().is_some_and(|(seq, _)| *seq <= cursor) {
            let (_, committed) = pending.pop_front().expect("checked");
            latencies.push(now.saturating_duration_since(committed));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    emitter.await??;
    Ok(latencies)
}

static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut bench = Bench::start(IntakeArgs::default()).await?;
    let (client, sector) = bench.committee("bench").await?;
    let members = create_members(&client, "bench", &sector, args.members, 8).await?;

    // The producer, with its backlog written as its changes would.
    let db = Database::connect(
        Schema::new("producer"),
        &bench.env.access.args("producer"),
        &NO_MIGRATIONS,
    )
    .await
    .map_err(anyhow::Error::from_boxed)?;
    let actor = Actor::internal("bench-producer", "/bench.Producer/Publish");
    for start in (0..args.events).step_by(1000) {
        let mut change = db.change(&actor).await?;
        for n in start..(start + 1000).min(args.events) {
            let e = event(&members, n);
            change.publish("bench", &e.source, &e);
        }
        change.commit().await?;
    }
    let last: i64 = sqlx::query_scalar("SELECT max(seq) FROM producer.outbox")
        .fetch_one(db.pool())
        .await?;
    let verifier = Arc::new(TokenVerifier::from_args(&bench.env.auth())?);
    let producer = cppcc_kit::server::Server::new(db.clone(), verifier, &bench.env.server())
        .map_err(anyhow::Error::from_boxed)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let uri = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(producer.serve(listener, async move {
        let _ = stopped.await;
    }));

    println!(
        "{}; {} events in the backlog, each crediting one of {} members",
        bench.machine(),
        args.events,
        args.members
    );
    let began = Instant::now();
    bench
        .start_members(bench.env.intake(vec![Producer {
            name: "proposals".into(),
            uri,
        }]))
        .await?;
    let members_db = bench.env.database("members");
    let pool = sqlx::PgPool::connect(&members_db.database_url).await?;
    loop {
        let cursor: Option<String> = sqlx::query_scalar(
            "SELECT cursor FROM members.intake_cursor WHERE producer = 'proposals'",
        )
        .fetch_optional(&pool)
        .await?;
        if cursor.is_some_and(|c| c == last.to_string()) {
            break;
        }
        anyhow::ensure!(
            began.elapsed() < Duration::from_secs(1800),
            "the intake did not catch up in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = began.elapsed();
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM members.duty_record WHERE source_service = 'proposals'",
    )
    .fetch_one(&pool)
    .await?;
    anyhow::ensure!(
        applied == i64::from(args.events),
        "applied {applied} of {} events",
        args.events
    );
    println!(
        "intake: {} events applied in {:.2} s (connecting included): {:.0} events/s",
        applied,
        elapsed.as_secs_f64(),
        applied as f64 / elapsed.as_secs_f64()
    );

    let mut latencies =
        latency(&db, &pool, &members, args.events, args.rate, args.duration).await?;
    latencies.sort();
    let at = |p: f64| {
        latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "latency, event committed to its entries committed, {} events/s for {:?} ({} transactions of {PER_CHANGE}): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 1000 ms)",
        args.rate,
        args.duration,
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0),
    );
    pool.close().await;
    let _ = stop.send(());
    serving
        .await?
        .map_err(anyhow::Error::from_boxed)
        .context("the producer")?;
    bench.stop().await
}
