//! `cppcc`: the suite on one machine.
//!
//! - `cppcc up [--demo]`: PostgreSQL in the data folder (unless
//!   `DATABASE_URL` is set), migrations, every service on its own port;
//!   `--demo` loads 随县政协's year.
//! - `cppcc migrate`: applies every service's migrations and exits.
//! - `cppcc token --role admin --committee suixian`: a development token.
//! - `cppcc report --year 2023`: the annual report from the gateway, as a
//!   table and an Excel workbook.

use cppcc_cli::{local, report, up};

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use cppcc_kit::auth::{Role, TokenRequest};

#[derive(Parser, Debug)]
#[command(name = "cppcc", version, about = "Run and use the cppcc suite locally")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start PostgreSQL and every service, each on its own port.
    Up(up::UpArgs),
    /// Apply every service's migrations, then exit.
    Migrate {
        /// The data folder (PostgreSQL, development keys).
        #[arg(long, env = "CPPCC_DATA_DIR", default_value = ".cppcc")]
        data_dir: PathBuf,
    },
    /// Print a development token signed with the data folder's key.
    Token {
        /// The role: admin, security_admin, proposal_office, info_centre,
        /// staff, member, handling_unit, leader, upper_committee, auditor, service.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The committee id, e.g. `suixian` (`*` for the service role).
        #[arg(long)]
        committee: String,
        /// The subject (who the token is for).
        #[arg(long, default_value = "dev")]
        sub: String,
        /// For the member role: the member's resource name.
        #[arg(long)]
        member: Option<String>,
        /// For the handling-unit role: the unit's resource name.
        #[arg(long)]
        unit: Option<String>,
        /// How long the token is good for.
        #[arg(long, default_value = "12h", value_parser = cppcc_kit::config::parse_duration)]
        ttl: Duration,
        /// The data folder holding the development key.
        #[arg(long, env = "CPPCC_DATA_DIR", default_value = ".cppcc")]
        data_dir: PathBuf,
    },
    /// Print a committee's annual report from the gateway and write it as
    /// an Excel workbook.
    Report(report::ReportArgs),
}

/// Refuses a token the services would refuse.
fn check_token_request(
    role: Role,
    committee: &str,
    member: Option<&str>,
    unit: Option<&str>,
) -> anyhow::Result<()> {
    use cppcc_kit::names::{ChildName, is_committee_id};
    if committee == "*" {
        anyhow::ensure!(
            role == Role::Service,
            "only the service role acts in every committee (`*`)"
        );
    } else {
        anyhow::ensure!(
            is_committee_id(committee),
            "`{committee}` is not a committee id (lower-case letters, digits and `-`, e.g. `suixian`)"
        );
    }
    if role == Role::Member {
        let named = member.and_then(|m| ChildName::parse(m, "members"));
        anyhow::ensure!(
            named.is_some_and(|m| m.committee == committee),
            "the member role needs --member committees/{committee}/members/<id>: the member the token is for"
        );
    }
    if role == Role::HandlingUnit {
        anyhow::ensure!(
            unit.is_some(),
            "the handling_unit role needs --unit: the unit the token is for"
        );
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!(
            "`{s}` is not a role; roles: {}",
            Role::ALL.map(|r| r.as_str()).join(", ")
        )
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up(args) => up::run(args).await,
        Command::Migrate { data_dir } => up::migrate(&data_dir).await,
        Command::Report(args) => report::run(args).await,
        Command::Token {
            role,
            committee,
            sub,
            member,
            unit,
            ttl,
            data_dir,
        } => {
            check_token_request(role, &committee, member.as_deref(), unit.as_deref())?;
            // Tokens are only good if signed with the key `cppcc up` uses.
            if !data_dir.join("keys").exists() {
                anyhow::bail!(
                    "{} holds no development keys: run `cppcc up` first, or pass the folder it uses with --data-dir",
                    data_dir.display()
                );
            }
            let keys = local::DataDir::open(&data_dir)?.keys()?;
            let token = keys.issuer()?.issue(&TokenRequest {
                subject: &sub,
                role,
                committee: &committee,
                member: member.as_deref(),
                unit: unit.as_deref(),
                ttl,
            });
            println!("{token}");
            Ok(())
        }
    }
}
