//! `cppcc up` and `cppcc migrate`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use anyhow::Context as _;
use secrecy::SecretString;
use tokio::sync::watch;

use cppcc_kit::BoxError;
use cppcc_kit::auth::AuthArgs;
use cppcc_kit::config::PiiArgs;
use cppcc_kit::server::{Server, ServerArgs, bind, shutdown_signal, stopped};
use cppcc_kit::telemetry::TelemetryArgs;

use crate::demo;
use crate::local::{AUDIENCE, DEV_ISSUER, DataDir, DatabaseAccess, DevKeys, database};

/// Flags of `cppcc up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Load the demo committee (随县政协, committees/suixian).
    #[arg(long)]
    demo: bool,
    /// The data folder: PostgreSQL's data and the development keys.
    #[arg(long, env = "CPPCC_DATA_DIR", default_value = ".cppcc")]
    data_dir: PathBuf,
    /// Where the gateway, the suite's one public endpoint, listens.
    #[arg(long, env = "CPPCC_GATEWAY_ADDR", default_value = "127.0.0.1:50051")]
    gateway_addr: SocketAddr,
    /// Where the gateway serves its health check and `GET /metrics` (in
    /// plain HTTP, for probes and scrapers; the public port serves neither
    /// metrics nor anything else unauthenticated but health and reflection).
    #[arg(
        long,
        env = "CPPCC_GATEWAY_ADMIN_ADDR",
        default_value = "127.0.0.1:50052"
    )]
    gateway_admin_addr: SocketAddr,
    /// Where the members service listens.
    #[arg(long, env = "CPPCC_MEMBERS_ADDR", default_value = "127.0.0.1:50061")]
    members_addr: SocketAddr,
    /// Where the proposals service listens.
    #[arg(long, env = "CPPCC_PROPOSALS_ADDR", default_value = "127.0.0.1:50063")]
    proposals_addr: SocketAddr,
    /// Where the consultations service listens.
    #[arg(
        long,
        env = "CPPCC_CONSULTATIONS_ADDR",
        default_value = "127.0.0.1:50065"
    )]
    consultations_addr: SocketAddr,
    /// Where the opinions service listens.
    #[arg(long, env = "CPPCC_OPINIONS_ADDR", default_value = "127.0.0.1:50067")]
    opinions_addr: SocketAddr,
    /// The day every service takes for today (YYYY-MM-DD), going on from
    /// there: for rehearsing a deadline or a year that has passed. Unset,
    /// today is the day in China.
    #[arg(long, env = "CPPCC_TODAY", value_parser = cppcc_kit::clock::parse_day)]
    today: Option<time::Date>,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

/// What every service started here shares.
pub struct Env {
    pub access: DatabaseAccess,
    pub keys: DevKeys,
    /// The day the services take for today, when not the system's.
    pub today: Option<time::Date>,
}

impl Env {
    /// Database settings for the service whose role is `role`.
    pub fn database(&self, role: &str) -> cppcc_kit::db::DatabaseArgs {
        cppcc_kit::db::DatabaseArgs {
            today: self.today,
            ..self.access.args(role)
        }
    }

    pub fn auth(&self) -> AuthArgs {
        AuthArgs {
            jwt_public_keys: vec![self.keys.jwt_public.clone()],
            jwt_issuer: DEV_ISSUER.to_owned(),
            jwt_audience: AUDIENCE.to_owned(),
        }
    }

    pub fn pii(&self) -> PiiArgs {
        PiiArgs {
            pii_keys: SecretString::from(self.keys.pii_keys.clone()),
            pii_active_key: self.keys.pii_active.clone(),
            pii_index_key: SecretString::from(self.keys.pii_index.clone()),
        }
    }

    pub fn server(&self) -> ServerArgs {
        // On one machine there is no load balancer to tell: stop at once.
        ServerArgs {
            shutdown_delay: std::time::Duration::ZERO,
            shutdown_grace: std::time::Duration::from_secs(10),
            audit_key: Some(SecretString::from(self.keys.audit_key.clone())),
            ..ServerArgs::default()
        }
    }

    /// The members service's intake: it follows `producers`, signing its
    /// tokens with the suite's key.
    pub fn intake(
        &self,
        producers: Vec<cppcc_members::intake::Producer>,
    ) -> cppcc_members::intake::IntakeArgs {
        cppcc_members::intake::IntakeArgs {
            follow: producers,
            service_key: Some(SecretString::from(self.keys.jwt_private.clone())),
            service_key_id: None,
        }
    }
}

type Build = Pin<Box<dyn Future<Output = Result<Server, BoxError>>>>;

/// One service of the suite: its name, its address flag and the address
/// it is to listen on.
struct Port {
    name: &'static str,
    flag: &'static str,
    addr: SocketAddr,
}

/// Every service's port.
fn ports(args: &UpArgs) -> Vec<Port> {
    vec![
        Port {
            name: "members",
            flag: "--members-addr / CPPCC_MEMBERS_ADDR",
            addr: args.members_addr,
        },
        Port {
            name: "proposals",
            flag: "--proposals-addr / CPPCC_PROPOSALS_ADDR",
            addr: args.proposals_addr,
        },
        Port {
            name: "consultations",
            flag: "--consultations-addr / CPPCC_CONSULTATIONS_ADDR",
            addr: args.consultations_addr,
        },
        Port {
            name: "opinions",
            flag: "--opinions-addr / CPPCC_OPINIONS_ADDR",
            addr: args.opinions_addr,
        },
    ]
}

/// One service of the suite: its name and how to build it.
struct Service {
    name: &'static str,
    build: Build,
}

/// The gateway in front of every service (`addresses`: where each listens).
fn gateway(
    env: &Env,
    addresses: &[(&str, SocketAddr)],
) -> Result<cppcc_gateway::server::Gateway, anyhow::Error> {
    use clap::Parser as _;
    let mut config = cppcc_gateway::config::Config::try_parse_from(["cppcc-gateway"])?;
    config.routes = addresses
        .iter()
        .map(|(name, addr)| format!("cppcc.{name}.v1=http://{addr}"))
        .collect();
    config.auth = env.auth();
    // One machine, no load balancer to tell: stop at once.
    config.shutdown_delay = std::time::Duration::ZERO;
    config.shutdown_grace = std::time::Duration::from_secs(10);
    config.build().map_err(anyhow::Error::from_boxed)
}

/// Every service, each told where the others listen (`addresses`: the
/// ports bound, by service name).
fn services(args: &UpArgs, env: &Env, addresses: &[(&str, SocketAddr)]) -> Vec<Service> {
    let uri = |name: &str| {
        let addr = addresses
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
            .expect("every service has a port");
        format!("http://{addr}")
    };
    let members = cppcc_members::Config {
        addr: args.members_addr,
        database: env.database("members"),
        auth: env.auth(),
        pii: env.pii(),
        // Duty records follow the services whose events credit members.
        intake: env.intake(
            ["proposals", "consultations", "opinions"]
                .into_iter()
                .map(|name| cppcc_members::intake::Producer {
                    name: name.into(),
                    uri: uri(name),
                })
                .collect(),
        ),
        server: env.server(),
        telemetry: args.telemetry.clone(),
    };
    let proposals = cppcc_proposals::Config {
        addr: args.proposals_addr,
        members_uri: uri("members"),
        service_key: SecretString::from(env.keys.jwt_private.clone()),
        service_key_id: None,
        // Proposals turned into opinion reports are handed over there.
        opinions_uri: Some(uri("opinions")),
        database: env.database("proposals"),
        auth: env.auth(),
        server: env.server(),
        telemetry: args.telemetry.clone(),
    };
    let consultations = cppcc_consultations::Config {
        addr: args.consultations_addr,
        members_uri: uri("members"),
        service_key: SecretString::from(env.keys.jwt_private.clone()),
        service_key_id: None,
        database: env.database("consultations"),
        auth: env.auth(),
        server: env.server(),
        telemetry: args.telemetry.clone(),
    };
    // Both committees of the demo (随县 and its parent 随州) are served here.
    let opinions = cppcc_opinions::Config {
        addr: args.opinions_addr,
        members_uri: uri("members"),
        remotes: Vec::new(),
        service_key: SecretString::from(env.keys.jwt_private.clone()),
        service_key_id: None,
        database: env.database("opinions"),
        auth: env.auth(),
        server: env.server(),
        telemetry: args.telemetry.clone(),
    };
    vec![
        Service {
            name: "members",
            build: Box::pin(async move { cppcc_members::server(&members).await }),
        },
        Service {
            name: "proposals",
            build: Box::pin(async move { cppcc_proposals::server(&proposals).await }),
        },
        Service {
            name: "consultations",
            build: Box::pin(async move { cppcc_consultations::server(&consultations).await }),
        },
        Service {
            name: "opinions",
            build: Box::pin(async move { cppcc_opinions::server(&opinions).await }),
        },
    ]
}

/// `cppcc up`.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _telemetry =
        cppcc_kit::telemetry::init("cppcc", &args.telemetry).map_err(anyhow::Error::from_boxed)?;
    // The ports first: a port taken is said before anything else starts.
    let gateway_listener = bind(args.gateway_addr, "--gateway-addr / CPPCC_GATEWAY_ADDR").await?;
    let admin_listener = bind(
        args.gateway_admin_addr,
        "--gateway-admin-addr / CPPCC_GATEWAY_ADMIN_ADDR",
    )
    .await?;
    let mut listeners = Vec::new();
    for port in ports(&args) {
        listeners.push((port.name, bind(port.addr, port.flag).await?));
    }
    let data = DataDir::open(&args.data_dir)?;
    let keys = data.keys()?;
    let (access, postgres) = database(&data).await.context("starting PostgreSQL")?;
    let env = Env {
        access,
        keys,
        today: args.today,
    };
    let (stop, stopping) = watch::channel(false);
    let mut running = Vec::new();
    let bound: Vec<(&str, SocketAddr)> = listeners
        .iter()
        .map(|(name, l)| Ok((*name, l.local_addr()?)))
        .collect::<std::io::Result<_>>()?;
    let mut addresses = Vec::new();
    for service in services(&args, &env, &bound) {
        let server = service
            .build
            .await
            .map_err(anyhow::Error::from_boxed)
            .with_context(|| format!("starting the {} service", service.name))?;
        let at = listeners
            .iter()
            .position(|(name, _)| *name == service.name)
            .expect("every service has a port");
        let (_, listener) = listeners.swap_remove(at);
        let addr = listener.local_addr()?;
        addresses.push((service.name, addr));
        let mut stop = stopping.clone();
        running.push(tokio::spawn(
            server.serve(listener, async move { stopped(&mut stop).await }),
        ));
    }
    let address = |service: &str| {
        addresses
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, addr)| *addr)
            .expect("every service is part of the suite")
    };
    let (members, proposals, consultations, opinions) = (
        address("members"),
        address("proposals"),
        address("consultations"),
        address("opinions"),
    );

    let gateway_addr = gateway_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let gateway = gateway(&env, &addresses)
        .context("starting the gateway")?
        .with_admin_listener(admin_listener);
    let mut stop_gateway = stopping.clone();
    running.push(tokio::spawn(gateway.serve(gateway_listener, async move {
        stopped(&mut stop_gateway).await
    })));

    println!("cppcc is up; data in {}", data.root().display());
    println!("  {:<12} {gateway_addr}", "gateway");
    for (name, addr) in &addresses {
        println!("  {name:<12} {addr}");
    }
    println!("  {:<12} http://{admin_addr}/metrics", "metrics");
    if args.demo {
        let loaded = demo::load(
            &format!("http://{members}"),
            &format!("http://{proposals}"),
            &format!("http://{consultations}"),
            &format!("http://{opinions}"),
            &env.keys.issuer()?,
        )
        .await
        .context("loading the demo committee")?;
        match loaded {
            demo::Loaded::Already => {
                println!("demo: 随县政协 (committees/suixian) already loaded");
            }
            demo::Loaded::Now {
                members,
                proposals,
                consultations,
                opinions,
            } => {
                let registry = if members {
                    format!(
                        "{} members, their organisation and two years of duty records",
                        demo::MEMBERS
                    )
                } else {
                    "its members were there already".to_owned()
                };
                let consultations = consultations
                    .map_or("its consultations were there already".to_owned(), |c| {
                        c.to_string()
                    });
                let opinions = opinions
                    .map_or("its opinion reports were there already".to_owned(), |o| {
                        o.to_string()
                    });
                println!(
                    "demo: 随县政协 (committees/suixian) loaded: {registry}; {proposals}; {consultations}; {opinions}"
                );
            }
        }
    }
    println!(
        "\ntry it (everything through the gateway):\n  \
         TOKEN=$(cargo run -q --release --bin cppcc -- token --role admin --committee suixian --data-dir {data})\n  \
         buf curl --protocol grpc --http2-prior-knowledge --list-services http://{gateway_addr}\n  \
         buf curl --protocol grpc --http2-prior-knowledge -H \"authorization: Bearer $TOKEN\" \\\n    \
         -d '{{\"parent\": \"committees/suixian\", \"page_size\": 5}}' \\\n    \
         http://{gateway_addr}/cppcc.members.v1.MemberService/ListMembers\n  \
         curl -s -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' \\\n    \
         -d '{{\"committee\": \"committees/suixian\", \"year\": 2023}}' \\\n    \
         http://{gateway_addr}/cppcc.opinions.v1.OpinionReportService/GetOpinionStatistics\n  \
         cargo run -q --release --bin cppcc -- report --year 2023 --gateway http://{gateway_addr} --data-dir {data}\n\n\
         Ctrl-C stops everything.",
        data = data.root().display()
    );

    shutdown_signal().await;
    let _ = stop.send(true);
    for task in running {
        task.await?.map_err(anyhow::Error::from_boxed)?;
    }
    if let Some(pg) = postgres {
        tokio::task::spawn_blocking(move || pg.stop()).await?;
    }
    println!("stopped");
    Ok(())
}

/// `cppcc migrate`: every service's migrations, then exit.
pub async fn migrate(data_dir: &Path) -> anyhow::Result<()> {
    let data = DataDir::open(data_dir)?;
    let (access, postgres) = database(&data).await.context("starting PostgreSQL")?;
    cppcc_kit::db::Database::connect(
        cppcc_members::SCHEMA,
        &access.args("members"),
        &cppcc_members::MIGRATIONS,
    )
    .await
    .map_err(anyhow::Error::from_boxed)?;
    println!("migrated: members");
    cppcc_kit::db::Database::connect(
        cppcc_proposals::SCHEMA,
        &access.args("proposals"),
        &cppcc_proposals::MIGRATIONS,
    )
    .await
    .map_err(anyhow::Error::from_boxed)?;
    println!("migrated: proposals");
    cppcc_kit::db::Database::connect(
        cppcc_consultations::SCHEMA,
        &access.args("consultations"),
        &cppcc_consultations::MIGRATIONS,
    )
    .await
    .map_err(anyhow::Error::from_boxed)?;
    println!("migrated: consultations");
    cppcc_kit::db::Database::connect(
        cppcc_opinions::SCHEMA,
        &access.args("opinions"),
        &cppcc_opinions::MIGRATIONS,
    )
    .await
    .map_err(anyhow::Error::from_boxed)?;
    println!("migrated: opinions");
    if let Some(pg) = postgres {
        tokio::task::spawn_blocking(move || pg.stop()).await?;
    }
    Ok(())
}
