//! `cppcc-bench creates`: how fast a create is, next to what PostgreSQL
//! itself does with the same writes (PERFORMANCE.md: a create with audit,
//! outbox and request id in one transaction ≥ 0.7× pgbench at the same
//! concurrency).
//!
//! For each concurrency: CreateMember over gRPC for the given time, and
//! pgbench running the same four inserts (member row, request id, audit
//! row, event) per transaction for the same time. It prints both and the
//! ratio. Machines here are shared and noisy: compare ratios from one run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use uuid::Uuid;

use cppcc_cli::demo::member_for_bench;
use cppcc_cli::local::DatabaseAccess;
use cppcc_proto::members::v1 as pb;
use pb::member_service_client::MemberServiceClient;

use crate::{Bench, percentile};

/// Options of `creates`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent clients, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    clients: Vec<u32>,
    /// How long each measurement runs.
    #[arg(long, default_value = "10s", value_parser = cppcc_kit::config::parse_duration)]
    duration: Duration,
}

/// The same writes a CreateMember makes, as one pgbench transaction.
const PGBENCH_SCRIPT: &str = r#"
BEGIN;
INSERT INTO members.request_ids (method, request_id, fingerprint, resource)
  VALUES ('/bench', gen_random_uuid(), sha256(random()::text::bytea), 'committees/bench/members/x');
INSERT INTO members.member (id, committee_id, display_name, gender, ethnicity, birth_date_sealed, birth_year,
    id_number_sealed, id_number_index, id_number_masked, phone_sealed, phone_masked, political_affiliation,
    sector_id, employer, job_title, role, township, links, term)
  VALUES (gen_random_uuid(), 'bench', '压测委员', 1, '汉族', sha256(random()::text::bytea), 1975,
    sha256(random()::text::bytea), sha256(random()::text::bytea), '4213**********1234',
    sha256(random()::text::bytea), '138****5678', 1, :sector::uuid, '随县人民医院', '院长', 5, '洪山镇',
    '[{"kind": 1, "display_name": "大桥街村"}]', 4);
INSERT INTO members.audit_log (actor, actor_role, peer, method, outcome, committee, resource, after)
  VALUES ('bench', 'admin', '127.0.0.1:1', '/bench', 'ok', 'bench', 'committees/bench/members/x',
    jsonb_build_object('member', repeat('委员', 300)));
INSERT INTO members.outbox (actor, id, type, committee, subject, payload)
  VALUES ('bench', gen_random_uuid(), 'cppcc.members.v1.MemberCreated', 'bench', 'committees/bench/members/x',
    convert_to(repeat('x', 600), 'UTF8'));
END;
"#;

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn grpc_creates(
    members: &MemberServiceClient<cppcc_kit::client::Authed>,
    sector: &str,
    clients: u32,
    duration: Duration,
    counter: Arc<AtomicU32>,
) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = members.clone();
        let sector = sector.to_owned();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                client
                    .create_member(pb::CreateMemberRequest {
                        parent: "committees/bench".into(),
                        member: Some(member_for_bench(n, &sector)),
                        request_id: Uuid::new_v4().to_string(),
                    })
                    .await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    all.sort();
    Ok(Measured {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
    })
}

fn pgbench(
    socket: &std::path::Path,
    sector: &str,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let bin = cppcc_local_pg::bin_dir()?;
    let script = std::env::temp_dir().join(format!("cppcc-bench-{}.sql", std::process::id()));
    std::fs::write(&script, PGBENCH_SCRIPT)?;
    let out = std::process::Command::new(bin.join("pgbench"))
        .arg("-h")
        .arg(socket)
        .args(["-U", "postgres", "-n", "-r", "-M", "prepared"])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .args(["-D", &format!("sector={sector}")])
        .arg("-f")
        .arg(&script)
        .arg(cppcc_cli::local::DATABASE)
        .output()
        .context("running pgbench")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let number_after = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(label))?;
        line[label.len()..].split_whitespace().next()?.parse().ok()
    };
    let tps = number_after("tps = ").context("pgbench printed no tps")?;
    let latency_ms = number_after("latency average = ").context("pgbench printed no latency")?;
    let average = Duration::from_secs_f64(latency_ms / 1000.0);
    Ok(Measured {
        per_second: tps,
        p50: average,
        p99: Duration::ZERO,
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let bench = Bench::start(Default::default()).await?;
    let DatabaseAccess::Local { socket_dir } = bench.env.access.clone() else {
        bail!("the benchmark runs its own PostgreSQL; unset DATABASE_URL");
    };
    let (members, sector) = bench.committee("bench").await?;
    let sector_id = sector.rsplit('/').next().unwrap_or_default().to_owned();
    println!("{}; {:?} per measurement", bench.machine(), args.duration);
    let counter = Arc::new(AtomicU32::new(0));
    // Warm up: connections, prepared statements, caches.
    grpc_creates(
        &members,
        &sector,
        4,
        Duration::from_secs(1),
        counter.clone(),
    )
    .await?;
    for &clients in &args.clients {
        let grpc = grpc_creates(&members, &sector, clients, args.duration, counter.clone()).await?;
        let socket = socket_dir.clone();
        let sector_id = sector_id.clone();
        let duration = args.duration;
        let pg =
            tokio::task::spawn_blocking(move || pgbench(&socket, &sector_id, clients, duration))
                .await??;
        println!(
            "{clients:>3} clients  CreateMember over gRPC {:>7.0}/s (p50 {:.2} ms, p99 {:.2} ms)  \
             pgbench same writes {:>7.0} tps (avg {:.2} ms)  ratio {:.2} (target >= 0.70)",
            grpc.per_second,
            grpc.p50.as_secs_f64() * 1000.0,
            grpc.p99.as_secs_f64() * 1000.0,
            pg.per_second,
            pg.p50.as_secs_f64() * 1000.0,
            grpc.per_second / pg.per_second,
        );
    }
    bench.stop().await
}
