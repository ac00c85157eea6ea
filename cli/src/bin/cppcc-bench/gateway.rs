//! `cppcc-bench gateway`: what the gateway costs a unary call, next to
//! nginx's `grpc_pass` on the same machine and load (PERFORMANCE.md: the
//! gateway's throughput at least nginx's).
//!
//! One members service on the private PostgreSQL, and three ways to it:
//! direct, through `cppcc-gateway` (its own process, built next to this
//! binary: token checked, policy, limits, metrics, trace, balancing), and
//! through Debian's nginx (`grpc_pass` with upstream keepalive, its own
//! processes, and no cap on requests per connection: nginx's default of
//! 1000 would end connections under load). The two proxies get the same
//! threads: `--proxy-threads` gateway worker threads and nginx worker
//! processes, one by default, since on a two-core machine the other core is
//! busy with the service, PostgreSQL and the clients, and a second proxy
//! thread mostly adds wake-ups across cores. For each concurrency, every way is
//! driven by the same clients making `CommitteeService/GetCommittee` calls
//! (a read of one row) for the same time; the calls a second and the p50
//! and p99 latency, and the ratios to nginx and to direct.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

use cppcc_kit::auth::Role;
use cppcc_kit::client::Bearer;
use cppcc_proto::members::v1 as pb;
use pb::committee_service_client::CommitteeServiceClient;

use crate::{Bench, percentile};

/// Options of `gateway`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Concurrent clients, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    clients: Vec<u32>,
    /// HTTP/2 connections the clients share, to each way in.
    #[arg(long, default_value_t = 4)]
    connections: u32,
    /// How long each measurement runs (after a second's warm-up).
    #[arg(long, default_value = "10s", value_parser = cppcc_kit::config::parse_duration)]
    duration: Duration,
    /// The nginx binary.
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx: PathBuf,
    /// Worker threads of the gateway, and worker processes of nginx, the
    /// same for both; 0 for one per core (nginx's `auto`, tokio's default).
    #[arg(long, default_value_t = 1)]
    proxy_threads: usize,
}

struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failed: u64,
}

/// A process stopped (and waited for) when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let gateway_bin = sibling("cppcc-gateway")?;
    if !args.nginx.exists() {
        bail!(
            "{} is missing: install Debian's nginx (apt-get install -y nginx-light) or pass --nginx",
            args.nginx.display()
        );
    }
    let bench = Bench::start(Default::default()).await?;
    bench.committee("bench").await?;
    let members = bench.members_addr()?;
    let work = std::env::temp_dir().join(format!("cppcc-bench-gw-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;

    let gateway_addr = free_port().await?;
    let _gateway = start_gateway(
        &gateway_bin,
        &bench,
        gateway_addr,
        members,
        args.proxy_threads,
    )
    .await?;
    let nginx_addr = free_port().await?;
    let _nginx = start_nginx(&args.nginx, &work, nginx_addr, members, args.proxy_threads).await?;

    let bearer = bench.bearer(Role::Staff, "bench")?;
    let ways = [
        ("direct", members),
        ("gateway", gateway_addr),
        ("nginx", nginx_addr),
    ];
    for (name, addr) in ways {
        wait_answering(addr, &bearer)
            .await
            .with_context(|| format!("{name} at {addr} does not answer"))?;
    }
    println!("{}", bench.machine());
    let threads = match args.proxy_threads {
        0 => "one per core".to_owned(),
        n => n.to_string(),
    };
    println!(
        "GetCommittee, {} connections per way, {:?} each; proxy threads (gateway, nginx): {threads}",
        args.connections, args.duration
    );
    println!(
        "{:>7}  {:<8} {:>10} {:>9} {:>9} {:>7}",
        "clients", "way", "calls/s", "p50 ms", "p99 ms", "failed"
    );
    for &clients in &args.clients {
        let mut results = Vec::new();
        for (name, addr) in ways {
            let m = drive(addr, &bearer, clients, args.connections, args.duration).await?;
            println!(
                "{clients:>7}  {name:<8} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                m.per_second,
                ms(m.p50),
                ms(m.p99),
                m.failed
            );
            results.push(m);
        }
        let [direct, gateway, nginx] = &results[..] else {
            unreachable!("three ways")
        };
        println!(
            "{clients:>7}  gateway/nginx throughput {:.2}, gateway/direct {:.2}, nginx/direct {:.2}",
            gateway.per_second / nginx.per_second,
            gateway.per_second / direct.per_second,
            nginx.per_second / direct.per_second
        );
    }
    drop(_nginx);
    drop(_gateway);
    let _ = std::fs::remove_dir_all(&work);
    bench.stop().await
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A binary built next to this one.
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release --bin {name}`",
            path.display()
        );
    }
    Ok(path)
}

async fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(listener.local_addr()?)
}

async fn start_gateway(
    bin: &Path,
    bench: &Bench,
    addr: SocketAddr,
    members: SocketAddr,
    threads: usize,
) -> anyhow::Result<Process> {
    let auth = bench.env.auth();
    let mut command = Command::new(bin);
    if threads > 0 {
        command.arg("--worker-threads").arg(threads.to_string());
    }
    let child = command
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--route")
        .arg(format!("cppcc.members.v1=http://{members}"))
        // The load is one caller: no per-caller limit in the way.
        .args(["--rate-limit", "1000000", "--rate-burst", "1000000"])
        .args(["--caller-concurrency", "100000", "--log-filter", "warn"])
        .env("CPPCC_JWT_PUBLIC_KEYS", auth.jwt_public_keys.join(","))
        .env("CPPCC_JWT_ISSUER", &auth.jwt_issuer)
        .env("CPPCC_JWT_AUDIENCE", &auth.jwt_audience)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting cppcc-gateway")?;
    Ok(Process(child))
}

async fn start_nginx(
    bin: &Path,
    work: &Path,
    addr: SocketAddr,
    members: SocketAddr,
    workers: usize,
) -> anyhow::Result<Process> {
    let dir = work.display();
    let workers = match workers {
        0 => "auto".to_owned(),
        n => n.to_string(),
    };
    let conf = format!(
        "daemon off;\n\
         worker_processes {workers};\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
           access_log off;\n\
           keepalive_requests 100000000;\n\
           keepalive_timeout 300s;\n\
           client_body_temp_path {dir}/body;\n\
           proxy_temp_path {dir}/proxy;\n\
           fastcgi_temp_path {dir}/fastcgi;\n\
           uwsgi_temp_path {dir}/uwsgi;\n\
           scgi_temp_path {dir}/scgi;\n\
           upstream members {{ server {members}; keepalive 64; keepalive_requests 100000000; }}\n\
           server {{\n\
             listen {addr} http2;\n\
             http2_max_concurrent_streams 1024;\n\
             location / {{ grpc_pass grpc://members; }}\n\
           }}\n\
         }}\n"
    );
    let path = work.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(work)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting nginx")?;
    Ok(Process(child))
}

/// Calls until one answers, for up to ten seconds.
async fn wait_answering(addr: SocketAddr, bearer: &Bearer) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let channel = cppcc_kit::client::channel(&format!("http://{addr}"))?;
        let mut client = CommitteeServiceClient::with_interceptor(channel, bearer.clone());
        match client.get_committee(request()).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > until => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn request() -> pb::GetCommitteeRequest {
    pb::GetCommitteeRequest {
        name: "committees/bench".into(),
    }
}

/// `clients` loops of calls to `addr` over `connections` connections, for
/// `duration` after a second's warm-up.
async fn drive(
    addr: SocketAddr,
    bearer: &Bearer,
    clients: u32,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        // One connection each: `connect` rather than a lazy balance.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(channel);
    }
    let warm = Instant::now() + Duration::from_secs(1);
    let end = warm + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let channel = channels[c as usize % channels.len()].clone();
        let mut client = CommitteeServiceClient::with_interceptor(channel, bearer.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let answer = client.get_committee(request()).await;
                if began >= warm {
                    match answer {
                        Ok(_) => latencies.push(began.elapsed()),
                        Err(status) => {
                            if failed == 0 && c == 0 {
                                eprintln!("first failure at {addr}: {status:?}");
                            }
                            failed += 1;
                        }
                    }
                }
            }
            (latencies, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await?;
        all.extend(l);
        failed += f;
    }
    all.sort();
    Ok(Measured {
        per_second: all.len() as f64 / duration.as_secs_f64(),
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        failed,
    })
}
