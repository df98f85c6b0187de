//! The `ayadns` command line. Everything it does lives in the library; this file only parses
//! arguments and maps results to exit codes.

use ayadns::model::Source;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// ayadns — a global server load balancer that is an authoritative DNS server.
///
/// Delegate a subdomain to ayadns and it answers for it: static records from zone files, and
/// for load-balanced names the healthiest, nearest data-center addresses for each client.
#[derive(Parser)]
#[command(name = "ayadns", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve DNS: from a config file, or (quick mode) from a folder of zone files.
    ///
    /// Examples:
    ///   ayadns serve --config config.example.toml
    ///   ayadns serve --zones zones/ --listen 127.0.0.1:5353
    ///
    /// SIGHUP reloads the config and zones (a bad reload is rejected and the old data keeps
    /// serving); SIGTERM or SIGINT stops after answers in flight are sent.
    Serve {
        /// The config file (TOML). See config.example.toml.
        #[arg(
            long,
            short,
            conflicts_with = "zones",
            required_unless_present = "zones"
        )]
        config: Option<PathBuf>,
        /// Quick mode: serve every *.zone file in this folder (origin from $ORIGIN, the SOA
        /// owner, else the file name NAME.zone).
        #[arg(long)]
        zones: Option<PathBuf>,
        /// Quick mode: address to serve on, UDP and TCP (repeatable; default 127.0.0.1:5353).
        #[arg(long, requires = "zones")]
        listen: Vec<SocketAddr>,
        /// For tests only: run a test clock that starts this far ahead of the system clock
        /// (e.g. `0s`, `1h`) and that `POST /api/v1/test/clock` moves forward.
        #[arg(long, hide = true, value_parser = humantime::parse_duration)]
        test_clock: Option<std::time::Duration>,
    },
    /// Explain the answer a client gets: its location and region, each policy step with the
    /// candidates before and after and why, and the answer with its TTL and ECS scope.
    ///
    /// Example: ayadns explain www.gslb.example.com A --client 81.2.69.0/24 --config config.example.toml
    Explain {
        /// The name asked for.
        name: String,
        /// The record type (default A).
        #[arg(default_value = "A")]
        rtype: String,
        /// The client: an address (the query's source, no ECS) or ADDRESS/PREFIX (as sent in
        /// EDNS Client Subnet by a resolver).
        #[arg(long)]
        client: String,
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run a remote prober agent for one region: probe every check target of the config from
    /// here and report the results to the servers' admin APIs.
    ///
    /// Example: ayadns probe --config ayadns.toml --region eu --report-to http://10.0.0.1:8053 --token-file agent.token
    Probe {
        /// The config file (the same as the servers').
        #[arg(long, short)]
        config: PathBuf,
        /// The region this agent probes from (listed in [health] agents on the servers).
        #[arg(long)]
        region: String,
        /// Server admin API base URLs, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        report_to: Vec<String>,
        /// A file holding the agent's token.
        #[arg(long)]
        token_file: PathBuf,
        /// For servers whose admin API speaks TLS: the CA certificate (PEM) to verify them
        /// with (https:// URLs are verified against the system's roots without it).
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Talk to a running server's admin API: status, drains, drills, explain, reload, audit.
    ///
    /// Exit codes: 0 done, 1 refused or invalid, 2 server unreachable.
    Ctl {
        /// The admin API.
        #[arg(long, default_value = "http://127.0.0.1:8053")]
        server: String,
        /// A file holding the token (else $AYADNS_ADMIN_TOKEN).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Print the server's JSON instead of tables.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// GeoIP database tools.
    Geoip {
        #[command(subcommand)]
        command: GeoipCommand,
    },
    /// Check a config file and everything it names, without serving. Exit 0 when valid, 1
    /// with every problem listed as file:line: message.
    Check {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Pools, endpoints, overrides and the active drill.
    Status,
    /// Drain a target (endpoint:NAME, pool:NAME, region:NAME): weight 0 until undrained or expired.
    Drain {
        /// The target.
        target: String,
        /// Why (recorded in the audit trail).
        #[arg(long)]
        reason: String,
        /// Expire after this long (e.g. 30m).
        #[arg(long = "for")]
        duration: Option<String>,
    },
    /// Remove an override by id.
    Undrain {
        /// The override's id.
        id: String,
    },
    /// DR drills.
    Drill {
        #[command(subcommand)]
        command: DrillCommand,
    },
    /// The decision trace for a client.
    Explain {
        /// The name.
        name: String,
        /// The client address, optionally with /PREFIX as ECS.
        #[arg(long)]
        client: String,
        /// The record type.
        #[arg(long = "type", default_value = "A")]
        rtype: String,
    },
    /// Reload the config and zones (as SIGHUP does); prints the validation result.
    Reload,
    /// The audit trail, newest first.
    Audit,
}

#[derive(Subcommand)]
enum DrillCommand {
    /// What would move, changing nothing.
    Preview {
        /// Targets to take out (repeatable).
        #[arg(long, required = true)]
        fail: Vec<String>,
    },
    /// Start a drill; it reverts by itself after --for.
    Start {
        /// Targets to take out (repeatable).
        #[arg(long, required = true)]
        fail: Vec<String>,
        /// How long (e.g. 15m).
        #[arg(long = "for", default_value = "15m")]
        duration: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Stop a drill now.
    Stop {
        /// The drill's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum GeoipCommand {
    /// Build a MaxMind-format database (nested GeoIP2-City layout) from a CSV with the columns
    /// network (or start,end), country, continent, latitude, longitude, city.
    ///
    /// Example: ayadns geoip build geoip/sample.csv -o geoip/sample.mmdb
    Build {
        /// The CSV file.
        csv: PathBuf,
        /// The database to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Look an address up in database files, as the server would.
    Lookup {
        /// The address.
        address: std::net::IpAddr,
        /// Database files, in lookup order.
        #[arg(required = true)]
        databases: Vec<PathBuf>,
    },
}

fn explain(name: &str, rtype: &str, client: &str, config: PathBuf) -> Result<String, String> {
    let question = ayadns::explain::Question::parse(name, Some(rtype), client)?;
    let (_, model) = Source::ConfigFile(config)
        .load()
        .map_err(|p| p.to_string())?;
    let snap = ayadns::snapshot::Snapshot::new(model);
    ayadns::explain::explain(&snap, &question)
}

fn probe(
    config: PathBuf,
    region: &str,
    servers: &[String],
    token_file: &std::path::Path,
    ca: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let token = std::fs::read_to_string(token_file)
        .map_err(|e| anyhow::anyhow!("{}: cannot read token: {e}", token_file.display()))?;
    let token = token.trim().to_string();
    let (config, model) = Source::ConfigFile(config)
        .load()
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    ayadns::logging::init(&config.log);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stop.cancel();
        });
        let agent = ayadns::health::agent::Agent {
            region: region.to_string(),
            servers: servers.to_vec(),
            token,
            ca: ca.map(|p| p.to_path_buf()),
        };
        ayadns::health::agent::run(&model.gslb, &config.health, &agent, shutdown).await
    })
}

fn ctl(server: &str, token_file: Option<PathBuf>, json: bool, command: CtlCommand) -> ExitCode {
    use ayadns::ctl::{Call, Exit};
    let token = match token_file {
        Some(f) => match std::fs::read_to_string(&f) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                eprintln!("{}: cannot read token: {e}", f.display());
                return ExitCode::from(1);
            }
        },
        None => std::env::var("AYADNS_ADMIN_TOKEN").unwrap_or_default(),
    };
    let action = match command {
        CtlCommand::Status => Call::Status,
        CtlCommand::Drain {
            target,
            reason,
            duration,
        } => Call::Drain {
            target,
            reason,
            duration,
        },
        CtlCommand::Undrain { id } => Call::Undrain { id },
        CtlCommand::Drill {
            command: DrillCommand::Preview { fail },
        } => Call::DrillPreview { fail },
        CtlCommand::Drill {
            command:
                DrillCommand::Start {
                    fail,
                    duration,
                    reason,
                },
        } => Call::DrillStart {
            fail,
            duration,
            reason,
        },
        CtlCommand::Drill {
            command: DrillCommand::Stop { id },
        } => Call::DrillStop { id },
        CtlCommand::Explain {
            name,
            client,
            rtype,
        } => Call::Explain {
            name,
            rtype,
            client,
        },
        CtlCommand::Reload => Call::Reload,
        CtlCommand::Audit => Call::Audit,
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(2);
    };
    match rt.block_on(ayadns::ctl::run(server, &token, json, action)) {
        Exit::Done => ExitCode::SUCCESS,
        Exit::Refused => ExitCode::from(1),
        Exit::Unreachable => ExitCode::from(2),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            zones,
            listen,
            test_clock,
        } => {
            let clock = match test_clock {
                Some(ahead) => {
                    eprintln!(
                        "warning: running a test clock ({ahead:?} ahead); never in production"
                    );
                    ayadns::clock::Clock::test(ahead)
                }
                None => ayadns::clock::Clock::system(),
            };
            let source = match (config, zones) {
                (Some(c), _) => Source::ConfigFile(c),
                (None, Some(dir)) => Source::ZonesDir { dir, listen },
                (None, None) => unreachable!("clap requires one"),
            };
            match ayadns::server::run(source, clock) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Explain {
            name,
            rtype,
            client,
            config,
        } => match explain(&name, &rtype, &client, config) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Geoip {
            command: GeoipCommand::Build { csv, output },
        } => match ayadns::geo::build_from_csv(&csv, &output) {
            Ok(report) => {
                println!("{}: {report:?}", output.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Geoip {
            command: GeoipCommand::Lookup { address, databases },
        } => match ayadns::geo::GeoDb::open(&databases) {
            Ok(db) => match db.lookup(address) {
                Some(l) => {
                    println!("{address}: {l}");
                    ExitCode::SUCCESS
                }
                None => {
                    println!("{address}: no match");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Probe {
            config,
            region,
            report_to,
            token_file,
            ca,
        } => match probe(config, &region, &report_to, &token_file, ca.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Ctl {
            server,
            token_file,
            json,
            command,
        } => ctl(&server, token_file, json, command),
        Command::Check { config } => match Source::ConfigFile(config.clone()).load() {
            Ok((_, model)) => {
                let records: usize = model.zones.iter().map(|z| z.record_count).sum();
                println!(
                    "{}: ok ({} zones, {} records)",
                    config.display(),
                    model.zones.len(),
                    records
                );
                ExitCode::SUCCESS
            }
            Err(problems) => {
                eprintln!("{problems}");
                eprintln!("{} error(s)", problems.0.len());
                ExitCode::FAILURE
            }
        },
    }
}
