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
    /// Print JSON instead of text (check, explain, geoip, ctl); accepted anywhere.
    #[arg(long, global = true)]
    json: bool,
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
    ///
    /// Offline: from the config, with every endpoint up (no probes run); `ctl explain` asks a
    /// running server, with its live health.
    Explain {
        #[command(flatten)]
        question: ExplainArgs,
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
    /// Talk to a running server's admin API: status, overrides, drills, explain, reload,
    /// transitions, audit, history, readiness.
    ///
    /// The server: --server, else [admin] listen of --config, else http://127.0.0.1:8053.
    /// The token: --token-file, else from --config (its admin_token_env variable, or the first
    /// admin token of its tokens_file), else $AYADNS_ADMIN_TOKEN.
    ///
    /// Exit codes: 0 done, 1 refused or invalid (or not ready), 2 server unreachable.
    Ctl {
        /// The admin API's base URL.
        #[arg(long, global = true)]
        server: Option<String>,
        /// A file holding the token.
        #[arg(long, global = true)]
        token_file: Option<PathBuf>,
        /// The server's config file: the admin address and token are taken from it.
        #[arg(long, short, global = true)]
        config: Option<PathBuf>,
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
    /// Drain a target (endpoint:NAME, pool:NAME, region:NAME): weight 0 until removed or expired.
    Drain(OverrideArgs),
    /// Force a target down, whatever the checks say, until removed or expired.
    Down(OverrideArgs),
    /// Force a target up, whatever the checks say, until removed or expired.
    Up(OverrideArgs),
    /// The overrides in force.
    Overrides,
    /// Remove an override (drain, down or up) by id.
    #[command(visible_alias = "remove")]
    Undrain {
        /// The override's id.
        id: String,
    },
    /// DR drills.
    Drill {
        #[command(subcommand)]
        command: DrillCommand,
    },
    /// The decision trace for a client, from the live health (as `ayadns explain`, which
    /// assumes everything up).
    Explain(ExplainArgs),
    /// Reload the config and zones (as SIGHUP does); prints the validation result.
    Reload,
    /// The audit trail, newest first.
    Audit {
        /// How many entries (1–1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Only entries older than this entry id (the next page: `next_before` of --json).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        before: Option<i64>,
    },
    /// Health transitions from the state file, newest first.
    Transitions {
        /// How many (1–10000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=10000))]
        limit: u16,
    },
    /// The last hour of QPS and answers per pool, with events (failovers, drills, overrides).
    History,
    /// Readiness (GET /readyz): exit 0 when ready, 1 when not.
    Ready,
}

/// A name, a record type and a client: the same arguments for `explain` and `ctl explain`.
#[derive(clap::Args)]
struct ExplainArgs {
    /// The name asked for.
    name: String,
    /// The record type (default A).
    #[arg(default_value = "A")]
    rtype: String,
    /// The client: an address (the query's source, no ECS) or ADDRESS/PREFIX (as sent in
    /// EDNS Client Subnet by a resolver).
    #[arg(long)]
    client: String,
}

/// An override's target, reason and duration.
#[derive(clap::Args)]
struct OverrideArgs {
    /// The target: endpoint:NAME, pool:NAME or region:NAME.
    target: String,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    reason: String,
    /// Expire after this long (e.g. 30m), counted from its start; without it, until removed.
    #[arg(long = "for")]
    duration: Option<String>,
    /// Start later, at this instant (RFC 3339, e.g. 2026-12-24T02:00:00Z); without it, now.
    #[arg(long = "at")]
    starts_at: Option<String>,
}

#[derive(Subcommand)]
enum DrillCommand {
    /// What would move, changing nothing.
    Preview {
        /// Targets to take out (repeatable; may be left out with --at).
        #[arg(long, required_unless_present = "at")]
        fail: Vec<String>,
        /// As of this instant (RFC 3339): with the scheduled overrides and maintenance
        /// windows in force then.
        #[arg(long)]
        at: Option<String>,
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
        /// Start later, at this instant (RFC 3339); without it, now.
        #[arg(long = "at")]
        starts_at: Option<String>,
    },
    /// Stop a drill now (or cancel a scheduled one before its start).
    Stop {
        /// The drill's id.
        id: String,
    },
    /// A drill's timeline and report: started, first moved answer, ended, queries per pool.
    Show {
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

fn explain(q: &ExplainArgs, config: PathBuf) -> Result<String, String> {
    let question = ayadns::explain::Question::parse(&q.name, Some(&q.rtype), &q.client)?;
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

fn ctl(
    server: Option<String>,
    token_file: Option<PathBuf>,
    config: Option<PathBuf>,
    json: bool,
    command: CtlCommand,
) -> ExitCode {
    use ayadns::ctl::{Call, Exit, Target};
    let target = match Target::resolve(server, token_file.as_deref(), config.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let over = |action: &'static str, a: OverrideArgs| Call::Override {
        action,
        target: a.target,
        reason: a.reason,
        duration: a.duration,
        starts_at: a.starts_at,
    };
    let action = match command {
        CtlCommand::Status => Call::Status,
        CtlCommand::Drain(a) => over("drain", a),
        CtlCommand::Down(a) => over("down", a),
        CtlCommand::Up(a) => over("up", a),
        CtlCommand::Overrides => Call::Overrides,
        CtlCommand::Undrain { id } => Call::Undrain { id },
        CtlCommand::Drill { command } => match command {
            DrillCommand::Preview { fail, at } => Call::DrillPreview { fail, at },
            DrillCommand::Start {
                fail,
                duration,
                reason,
                starts_at,
            } => Call::DrillStart {
                fail,
                duration,
                reason,
                starts_at,
            },
            DrillCommand::Stop { id } => Call::DrillStop { id },
            DrillCommand::Show { id } => Call::DrillShow { id },
        },
        CtlCommand::Explain(q) => Call::Explain {
            name: q.name,
            rtype: q.rtype,
            client: q.client,
        },
        CtlCommand::Reload => Call::Reload,
        CtlCommand::Audit { limit, before } => Call::Audit {
            limit: limit.into(),
            before,
        },
        CtlCommand::Transitions { limit } => Call::Transitions {
            limit: limit.into(),
        },
        CtlCommand::History => Call::History,
        CtlCommand::Ready => Call::Ready,
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(2);
    };
    match rt.block_on(ayadns::ctl::run(&target, json, action)) {
        Exit::Done => ExitCode::SUCCESS,
        Exit::Refused => ExitCode::from(1),
        Exit::Unreachable => ExitCode::from(2),
    }
}

/// Print `v` as pretty JSON.
fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("cannot encode JSON: {e}"),
    }
}

fn check(config: PathBuf, json: bool) -> ExitCode {
    let result = Source::ConfigFile(config.clone()).load();
    let mut report = ayadns::api::CheckReport {
        ok: result.is_ok(),
        config: config.display().to_string(),
        zones: 0,
        records: 0,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    match &result {
        Ok((_, model)) => {
            report.zones = model.zones.len();
            report.records = model.zones.iter().map(|z| z.record_count).sum();
            report.warnings = model.warnings();
        }
        Err(problems) => {
            report.errors = problems
                .0
                .iter()
                .map(|d| ayadns::api::Problem {
                    file: d.file.display().to_string(),
                    line: d.line,
                    column: d.column,
                    message: d.message.clone(),
                })
                .collect()
        }
    }
    if json {
        print_json(&report);
    } else {
        for w in &report.warnings {
            eprintln!("{}: warning: {w}", report.config);
        }
        match &result {
            Ok(_) => println!(
                "{}: ok ({} zones, {} records)",
                report.config, report.zones, report.records
            ),
            Err(problems) => {
                eprintln!("{problems}");
                eprintln!("{} error(s)", problems.0.len());
            }
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn geoip_lookup(address: std::net::IpAddr, databases: &[PathBuf], json: bool) -> ExitCode {
    let db = match ayadns::geo::GeoDb::open(databases) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let found = db.lookup(address);
    if json {
        let l = found.as_ref();
        print_json(&ayadns::api::GeoipLookup {
            address: address.to_string(),
            found: l.is_some(),
            country: l.and_then(|l| l.country).map(|c| c.to_string()),
            continent: l.and_then(|l| l.continent).map(|c| c.to_string()),
            latitude: l.and_then(|l| l.coords).map(|c| c.0),
            longitude: l.and_then(|l| l.coords).map(|c| c.1),
            coords_source: l.and_then(|l| l.coords_source).map(|s| {
                match s {
                    ayadns::geo::CoordsSource::Database => "database",
                    ayadns::geo::CoordsSource::CountryCentre => "country_centre",
                }
                .to_string()
            }),
            city: l.and_then(|l| l.city.clone()),
            network: l.map(|l| l.network.to_string()),
            database: l.map(|l| l.database.to_string()),
        });
    } else {
        match &found {
            Some(l) => println!("{address}: {l}"),
            None => println!("{address}: no match"),
        }
    }
    if found.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn geoip_build(csv: &std::path::Path, output: &std::path::Path, json: bool) -> ExitCode {
    match ayadns::geo::build_from_csv(csv, output) {
        Ok(r) => {
            if json {
                print_json(&ayadns::api::GeoipBuilt {
                    output: r.output.display().to_string(),
                    rows: r.rows,
                    ipv4_networks: r.ipv4_networks,
                    ipv6_networks: r.ipv6_networks,
                    bytes: r.bytes,
                });
            } else {
                println!(
                    "wrote {}: {} rows read, {} IPv4 and {} IPv6 networks, {} bytes",
                    r.output.display(),
                    r.rows,
                    r.ipv4_networks,
                    r.ipv6_networks,
                    r.bytes
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
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
        Command::Explain { question, config } => match explain(&question, config) {
            Ok(trace) if json => {
                print_json(&ayadns::api::ExplainReply { trace });
                ExitCode::SUCCESS
            }
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
        } => geoip_build(&csv, &output, json),
        Command::Geoip {
            command: GeoipCommand::Lookup { address, databases },
        } => geoip_lookup(address, &databases, json),
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
            config,
            command,
        } => ctl(server, token_file, config, json, command),
        Command::Check { config } => check(config, json),
    }
}
