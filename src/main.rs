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
    },
    /// Check a config file and everything it names, without serving. Exit 0 when valid, 1
    /// with every problem listed as file:line: message.
    Check {
        /// The config file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            zones,
            listen,
        } => {
            let source = match (config, zones) {
                (Some(c), _) => Source::ConfigFile(c),
                (None, Some(dir)) => Source::ZonesDir { dir, listen },
                (None, None) => unreachable!("clap requires one"),
            };
            match ayadns::server::run(source) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
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
