//! The README's quick start, run: every command of its `## Quick start` console block against
//! a real server on the shipped example, and the explain sample of the next section, so the
//! README cannot drift from what ayadns does.
//!
//! The server runs on a unique loopback address (the README's `127.0.0.1 -p 5353` is replaced
//! by it) from a copy of `config.example.toml` in a temp folder. Each output line the README
//! shows must be found (whitespace aside) in a line of the real output; for `+short` the
//! number of lines must match too (the order of two weighted answers varies).
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `console` blocks of the section titled `title`: (command, shown output lines).
fn console_commands(readme: &str, title: &str) -> Vec<(String, Vec<String>)> {
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section `## {title}`"));
    let rest = &readme[start + 4..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_block = false;
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.contains("console");
            continue;
        }
        if !in_block {
            continue;
        }
        match line.strip_prefix("$ ") {
            Some(cmd) => out.push((cmd.to_string(), Vec::new())),
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push(line.to_string());
                }
            }
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every shown line is in a line of `actual`.
fn check_shown(cmd: &str, shown: &[String], actual: &str) {
    let lines: Vec<String> = actual.lines().map(squash).collect();
    for want in shown {
        let want = squash(want);
        assert!(
            lines.iter().any(|l| l.contains(&want)),
            "`{cmd}`: the README shows `{want}`, the real output is:\n{actual}"
        );
    }
}

fn words(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(str::to_string).collect()
}

#[test]
fn every_command_of_the_quick_start_answers_as_the_readme_shows() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = console_commands(&readme, "Quick start");
    assert!(
        commands.len() >= 6,
        "the quick start lost its commands: {commands:?}"
    );
    let kdig = find_program("kdig").unwrap_or_else(|| {
        panic!("kdig is not installed: run scripts/test-deps.sh (package knot-dnsutils)")
    });

    // The example config in a temp folder, on unique addresses, no probes (health is `initial`).
    let dir = tempfile::tempdir().unwrap();
    let dns = unique_addr();
    let admin = unique_addr();
    let root = repo().display().to_string();
    let text = std::fs::read_to_string(repo().join("config.example.toml"))
        .unwrap()
        .replace("\"127.0.0.1:5353\"", &format!("\"{dns}\""))
        .replace("\"127.0.0.1:8053\"", &format!("\"{admin}\""))
        .replace("\"zones/", &format!("\"{root}/zones/"))
        .replace("\"geoip/", &format!("\"{root}/geoip/"))
        .replace("probers = [\"us\", \"eu\", \"ap\"]", "probers = []");
    let cfg = dir.path().join("ayadns.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut server = Ayadns::start_in(dir.path(), &["serve", "--config", cfg.to_str().unwrap()]);
    server.wait_for_dns(dns, Duration::from_secs(2));
    // The example's state file lands next to its config, in data/.
    assert!(dir.path().join("data/ayadns.db").exists());

    for (cmd, shown) in &commands {
        let mut argv = words(cmd);
        assert_eq!(
            argv[0], "kdig",
            "a quick-start command this test cannot run: {cmd}"
        );
        // `@127.0.0.1 -p 5353` → the test server.
        for a in argv.iter_mut() {
            if a == "@127.0.0.1" {
                *a = format!("@{}", dns.ip());
            } else if a == "5353" {
                *a = dns.port().to_string();
            }
        }
        argv.push("+time=2".into());
        argv.push("+retry=0".into());
        let out = Command::new(&kdig).args(&argv[1..]).output().unwrap();
        let actual = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "`{cmd}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        check_shown(cmd, shown, &actual);
        if cmd.contains("+short") {
            assert_eq!(
                actual.lines().filter(|l| !l.trim().is_empty()).count(),
                shown.len(),
                "`{cmd}`: {actual}"
            );
        }
    }
    server.stop();
}

#[test]
fn the_explain_sample_is_the_whole_real_output() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = console_commands(&readme, "Why did that client get that answer?");
    assert_eq!(commands.len(), 1, "{commands:?}");
    let (cmd, shown) = &commands[0];
    let args: Vec<String> = words(
        cmd.strip_prefix("cargo run --release -- ")
            .unwrap_or_else(|| panic!("not an ayadns command: {cmd}")),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (st, out, err) = run_ayadns(Some(Path::new(&repo())), &args);
    assert!(st.success(), "{err}");
    // Unabridged: the same lines, in the same order.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        shown.iter().map(String::as_str).collect::<Vec<_>>(),
        "the README's explain sample differs from the real output"
    );
}
