//! `cppcc-bench`: measurements of the members service on this machine,
//! each against a private PostgreSQL (fsync on) and the real service over
//! gRPC.
//!
//! - `creates`: CreateMember next to pgbench doing the same writes;
//! - `intake`: how many duty events a second the intake applies, catching
//!   up on a producer's backlog;
//! - `evaluation`: how long evaluating a whole committee takes, for a
//!   county (338 members) and a province-sized roll (30,000);
//! - `proposals`: the submit → file → assign path of the proposals
//!   service, proposals a second and its latency;
//! - `consultations`: GetConsultationStatistics over a province's data;
//! - `gateway`: unary calls direct, through the gateway and through nginx.
//!
//! Machines here are shared and noisy: compare figures from one run.

mod consultations;
mod creates;
mod evaluation;
mod gateway;
mod intake;
mod proposals;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::oneshot;
use uuid::Uuid;

use cppcc_cli::local::{DataDir, database};
use cppcc_cli::up::Env;
use cppcc_kit::auth::{Role, TokenRequest};
use cppcc_kit::client::{Authed, Bearer};
use cppcc_local_pg::LocalPostgres;
use cppcc_members::intake::IntakeArgs;
use cppcc_proto::common::v1::CommitteeLevel;
use cppcc_proto::members::v1 as pb;
use pb::committee_service_client::CommitteeServiceClient;
use pb::member_service_client::MemberServiceClient;

#[derive(Parser, Debug)]
#[command(
    name = "cppcc-bench",
    about = "Measures the members service on this machine"
)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// CreateMember over gRPC against pgbench doing the same writes.
    Creates(creates::Args),
    /// Duty events applied per second by the intake.
    Intake(intake::Args),
    /// Time to evaluate a whole committee.
    Evaluation(evaluation::Args),
    /// Proposals a second through submit, file and assign.
    Proposals(proposals::Args),
    /// The consultation statistics over a province's data.
    Consultations(consultations::Args),
    /// Unary calls direct, through the gateway and through nginx.
    Gateway(gateway::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().what {
        What::Creates(args) => creates::run(args).await,
        What::Intake(args) => intake::run(args).await,
        What::Evaluation(args) => evaluation::run(args).await,
        What::Proposals(args) => proposals::run(args).await,
        What::Consultations(args) => consultations::run(args).await,
        What::Gateway(args) => gateway::run(args).await,
    }
}

/// A private PostgreSQL and the members service on it (and the proposals
/// service, when a measurement needs it).
pub struct Bench {
    pub env: Env,
    dir: std::path::PathBuf,
    postgres: Option<LocalPostgres>,
    members: Option<Running>,
    proposals: Option<Running>,
    consultations: Option<Running>,
}

/// A service serving.
struct Running {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), cppcc_kit::BoxError>>,
}

impl Running {
    /// Serves `server` on a loopback port.
    async fn serve(server: cppcc_kit::server::Server) -> anyhow::Result<Running> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            stop,
            serving,
        })
    }
}

impl Bench {
    /// Starts PostgreSQL and the members service, which follows what
    /// `intake` says.
    pub async fn start(intake: IntakeArgs) -> anyhow::Result<Bench> {
        let dir = std::env::temp_dir().join(format!("cppcc-bench-{}", Uuid::new_v4().simple()));
        let data = DataDir::open(&dir)?;
        let (access, postgres) = database(&data).await?;
        let env = Env {
            access,
            keys: data.keys()?,
            today: None,
        };
        let mut bench = Bench {
            env,
            dir,
            postgres,
            members: None,
            proposals: None,
            consultations: None,
        };
        bench.start_members(intake).await?;
        Ok(bench)
    }

    /// (Re)starts the members service.
    pub async fn start_members(&mut self, intake: IntakeArgs) -> anyhow::Result<()> {
        if let Some(running) = self.members.take() {
            let _ = running.stop.send(());
            running.serving.await?.map_err(anyhow::Error::from_boxed)?;
        }
        let config = cppcc_members::Config {
            addr: "127.0.0.1:0".parse()?,
            database: self.env.database("members"),
            auth: self.env.auth(),
            pii: self.env.pii(),
            intake,
            server: self.env.server(),
            telemetry: cppcc_kit::telemetry::TelemetryArgs {
                log_format: Default::default(),
                log_filter: "warn".into(),
            },
        };
        let server = cppcc_members::server(&config)
            .await
            .map_err(anyhow::Error::from_boxed)?;
        self.members = Some(Running::serve(server).await?);
        Ok(())
    }

    /// Starts the proposals service, checking proposers with the members
    /// service.
    pub async fn start_proposals(&mut self) -> anyhow::Result<()> {
        let members = self
            .members
            .as_ref()
            .context("the members service runs")?
            .addr;
        let config = cppcc_proposals::Config {
            addr: "127.0.0.1:0".parse()?,
            members_uri: format!("http://{members}"),
            service_key: secrecy::SecretString::from(self.env.keys.jwt_private.clone()),
            service_key_id: None,
            opinions_uri: None,
            database: self.env.database("proposals"),
            auth: self.env.auth(),
            server: self.env.server(),
            telemetry: cppcc_kit::telemetry::TelemetryArgs {
                log_format: Default::default(),
                log_filter: "warn".into(),
            },
        };
        let server = cppcc_proposals::server(&config)
            .await
            .map_err(anyhow::Error::from_boxed)?;
        self.proposals = Some(Running::serve(server).await?);
        Ok(())
    }

    /// Starts the consultations service, checking participants with the
    /// members service.
    pub async fn start_consultations(&mut self) -> anyhow::Result<()> {
        let members = self
            .members
            .as_ref()
            .context("the members service runs")?
            .addr;
        let config = cppcc_consultations::Config {
            addr: "127.0.0.1:0".parse()?,
            members_uri: format!("http://{members}"),
            service_key: secrecy::SecretString::from(self.env.keys.jwt_private.clone()),
            service_key_id: None,
            database: self.env.database("consultations"),
            auth: self.env.auth(),
            server: self.env.server(),
            telemetry: cppcc_kit::telemetry::TelemetryArgs {
                log_format: Default::default(),
                log_filter: "warn".into(),
            },
        };
        let server = cppcc_consultations::server(&config)
            .await
            .map_err(anyhow::Error::from_boxed)?;
        self.consultations = Some(Running::serve(server).await?);
        Ok(())
    }

    /// A channel to the consultations service.
    pub fn consultations_channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        let addr = self
            .consultations
            .as_ref()
            .context("the consultations service runs")?
            .addr;
        Ok(cppcc_kit::client::channel(&format!("http://{addr}"))?)
    }

    /// A channel to the proposals service.
    pub fn proposals_channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        let addr = self
            .proposals
            .as_ref()
            .context("the proposals service runs")?
            .addr;
        Ok(cppcc_kit::client::channel(&format!("http://{addr}"))?)
    }

    /// Where the members service listens.
    pub fn members_addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        Ok(self
            .members
            .as_ref()
            .context("the members service runs")?
            .addr)
    }

    /// A channel to the members service.
    pub fn channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        let addr = self
            .members
            .as_ref()
            .context("the members service runs")?
            .addr;
        Ok(cppcc_kit::client::channel(&format!("http://{addr}"))?)
    }

    /// A token for `role` in `committee`.
    pub fn bearer(&self, role: Role, committee: &str) -> anyhow::Result<Bearer> {
        Ok(Bearer::new(&self.env.keys.issuer()?.issue(&TokenRequest {
            subject: "bench",
            role,
            committee,
            member: None,
            unit: None,
            ttl: Duration::from_secs(4 * 3600),
        })))
    }

    /// Creates committee `id` with one sector; the office's client, and the
    /// sector's name.
    pub async fn committee(
        &self,
        id: &str,
    ) -> anyhow::Result<(MemberServiceClient<Authed>, String)> {
        let channel = self.channel()?;
        let admin = self.bearer(Role::Admin, id)?;
        CommitteeServiceClient::with_interceptor(channel.clone(), admin.clone())
            .create_committee(pb::CreateCommitteeRequest {
                committee_id: id.into(),
                committee: Some(pb::Committee {
                    display_name: format!("压测政协{id}"),
                    level: CommitteeLevel::County as i32,
                    current_term: 4,
                    term_start_date: Some(cppcc_proto::common::v1::Date {
                        year: 2021,
                        month: 12,
                        day: 28,
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await?;
        let mut members = MemberServiceClient::with_interceptor(channel, admin);
        let sector = members
            .create_sector(pb::CreateSectorRequest {
                parent: format!("committees/{id}"),
                sector: Some(pb::Sector {
                    display_name: "经济界".into(),
                    kind: pb::SectorKind::Field as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await?
            .into_inner()
            .sector
            .context("a sector")?
            .name;
        Ok((members, sector))
    }

    /// What the machine is, for the figures.
    pub fn machine(&self) -> String {
        format!(
            "machine: {} cores; PostgreSQL with fsync on",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        )
    }

    /// Stops the services and PostgreSQL, and removes the data.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for running in [self.proposals.take(), self.members.take()]
            .into_iter()
            .flatten()
        {
            let _ = running.stop.send(());
            running.serving.await?.map_err(anyhow::Error::from_boxed)?;
        }
        if let Some(pg) = self.postgres.take() {
            tokio::task::spawn_blocking(move || pg.stop()).await?;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

/// Creates `n` members of `sector` in committee `id`, `clients` calls at a
/// time; their names.
pub async fn create_members(
    members: &MemberServiceClient<Authed>,
    id: &str,
    sector: &str,
    n: u32,
    clients: u32,
) -> anyhow::Result<Vec<String>> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = members.clone();
        let (parent, sector) = (format!("committees/{id}"), sector.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut names = Vec::new();
            for k in (c..n).step_by(clients as usize) {
                let created = client
                    .create_member(pb::CreateMemberRequest {
                        parent: parent.clone(),
                        member: Some(cppcc_cli::demo::member_for_bench(k, &sector)),
                        request_id: String::new(),
                    })
                    .await?;
                names.push(created.into_inner().member.context("a member")?.name);
            }
            anyhow::Ok(names)
        }));
    }
    let mut all = Vec::with_capacity(n as usize);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// The `p` quantile (0..1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The median of some durations.
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
