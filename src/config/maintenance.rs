//! `[[maintenance]]`: recurring maintenance windows. At every firing of `schedule` (cron
//! syntax, UTC — see [`super::schedule`]) the window opens: its target is drained (or forced
//! down) for `duration`, then put back.
//!
//! ```toml
//! [[maintenance]]
//! name = "eu-west-patching"   # default: maintenance-N (its place in the file)
//! target = "pool:eu-west"     # endpoint:NAME, pool:NAME or region:NAME, as for overrides
//! schedule = "0 2 * * SUN"    # every Sunday at 02:00 UTC
//! duration = "2h"             # 1s..=31 days, and no longer than the time between two starts
//! action = "drain"            # or "down" (default: drain)
//! reason = "weekly patching"  # shown in status and the audit trail
//! ```
//!
//! An open window is an override like an operator's (listed, shown in status, audited as
//! `maintenance start` and `maintenance end` by `system`), made by the operations tick at the
//! window's start and removed at its end; in a cluster exactly one node makes and removes it.
//! A server that starts (or a reload that adds a window) in the middle of a window opens it
//! at once, until the window's end. Its override cannot be removed through the API — change
//! the window in the config and reload: a window no longer in the config, or no longer open
//! under its new schedule, is closed by the next tick.

use super::Config;
use super::schedule::{self, Schedule};
use crate::diag::Diagnostics;
use serde::Deserialize;
use std::time::{Duration, SystemTime};
use toml::Spanned;

/// The longest a window may last.
pub const MAX_DURATION: Duration = Duration::from_secs(31 * 24 * 3600);

/// The most windows a config may have.
pub const MAX_WINDOWS: usize = 1000;

/// `[[maintenance]]` as written.
#[derive(Debug, Clone, Deserialize)]
pub struct MaintenanceConfig {
    /// Unique name; default `maintenance-N` (1-based place in the file).
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// `endpoint:NAME`, `pool:NAME` or `region:NAME`.
    pub target: Spanned<String>,
    /// Cron syntax, UTC.
    pub schedule: Spanned<String>,
    /// How long the window stays open (humantime).
    pub duration: Spanned<String>,
    /// `drain` (default) or `down`.
    #[serde(default)]
    pub action: Option<Spanned<String>>,
    /// Why (free text).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A compiled window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Its name.
    pub name: String,
    /// What it acts on (`kind:NAME`, checked against the config).
    pub target: String,
    /// `drain` or `down`.
    pub action: String,
    /// When it opens.
    pub schedule: Schedule,
    /// How long it stays open.
    pub duration: Duration,
    /// Why.
    pub reason: String,
}

impl Window {
    /// The start of the window's opening that contains `t`, if it is open at `t`.
    pub fn open_at(&self, t: SystemTime) -> Option<SystemTime> {
        let start = self.schedule.last_at_or_before(t)?;
        (t < start + self.duration).then_some(start)
    }

    /// The next start strictly after `t`.
    pub fn next_start(&self, t: SystemTime) -> Option<SystemTime> {
        self.schedule.next_after(t)
    }

    /// The id of the override of the opening that starts at `start` (the same on every node).
    pub fn override_id(&self, start: SystemTime) -> String {
        let secs = start
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("mnt-{}-{secs}", self.name)
    }
}

/// Check and compile every `[[maintenance]]` of `config`; problems name file:line.
pub fn compile(config: &Config, problems: &mut Diagnostics) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    if config.maintenance.len() > MAX_WINDOWS {
        problems.push(config.diag_at(
            config.maintenance[MAX_WINDOWS].target.span(),
            format!("more than {MAX_WINDOWS} [[maintenance]] windows"),
        ));
        return out;
    }
    for (i, m) in config.maintenance.iter().enumerate() {
        let mut ok = true;
        let mut bad = |span: std::ops::Range<usize>, msg: String| {
            ok = false;
            problems.push(config.diag_at(span, msg));
        };
        let name = match &m.name {
            Some(n) => {
                let s = n.get_ref().trim().to_string();
                if s.is_empty()
                    || s.len() > 64
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    bad(
                        n.span(),
                        format!("maintenance name `{s}`: 1 to 64 letters, digits, `-`, `_` or `.`"),
                    );
                }
                if out.iter().any(|w| w.name == s) {
                    bad(
                        n.span(),
                        format!("maintenance window `{s}` is defined twice"),
                    );
                }
                s
            }
            None => format!("maintenance-{}", i + 1),
        };
        let target = m.target.get_ref().trim().to_string();
        if let Err(why) = check_target(config, &target) {
            bad(m.target.span(), format!("maintenance `{name}`: {why}"));
        }
        let action = match &m.action {
            None => "drain".to_string(),
            Some(a) => match a.get_ref().as_str() {
                "drain" | "down" => a.get_ref().clone(),
                other => {
                    bad(
                        a.span(),
                        format!("maintenance `{name}`: action `{other}` is not drain or down"),
                    );
                    String::new()
                }
            },
        };
        let duration = match humantime::parse_duration(m.duration.get_ref()) {
            Ok(d) if d.is_zero() || d > MAX_DURATION => {
                bad(
                    m.duration.span(),
                    format!("maintenance `{name}`: duration must be between 1s and 31 days"),
                );
                Duration::ZERO
            }
            Ok(d) => d,
            Err(e) => {
                bad(
                    m.duration.span(),
                    format!(
                        "maintenance `{name}`: invalid duration `{}`: {e} (try \"2h\")",
                        m.duration.get_ref()
                    ),
                );
                Duration::ZERO
            }
        };
        let schedule = match Schedule::parse(m.schedule.get_ref()) {
            Ok(s) => {
                if let Some(gap) = s.shortest_gap(schedule::gap_from(), 1000)
                    && !duration.is_zero()
                    && duration > gap
                {
                    bad(
                        m.duration.span(),
                        format!(
                            "maintenance `{name}`: duration {} is longer than the time between two starts of `{}` ({}): windows would overlap",
                            humantime::format_duration(duration),
                            s.as_str(),
                            humantime::format_duration(gap)
                        ),
                    );
                }
                Some(s)
            }
            Err(why) => {
                bad(m.schedule.span(), format!("maintenance `{name}`: {why}"));
                None
            }
        };
        if let (true, Some(schedule)) = (ok, schedule) {
            out.push(Window {
                name,
                target,
                action,
                schedule,
                duration,
                reason: m.reason.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// Does `target` name something the config defines?
fn check_target(config: &Config, target: &str) -> Result<(), String> {
    let (kind, name) = target.split_once(':').ok_or_else(|| {
        format!("target `{target}` is not endpoint:NAME, pool:NAME or region:NAME")
    })?;
    let known = match kind {
        "endpoint" => config
            .pools
            .iter()
            .flat_map(|p| &p.endpoints)
            .any(|e| e.name.get_ref() == name),
        "pool" => config.pools.iter().any(|p| p.name.get_ref() == name),
        "region" => config.regions.iter().any(|r| r.name.get_ref() == name),
        _ => {
            return Err(format!(
                "target `{target}` is not endpoint:NAME, pool:NAME or region:NAME"
            ));
        }
    };
    if known {
        Ok(())
    } else {
        Err(format!("unknown {kind} `{name}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[[region]]\nname = \"eu\"\nlocation = [50.0, 8.0]\ndefault = true\n\n[[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"192.0.2.1\"]\n\n";

    fn problems(extra: &str) -> (Vec<Window>, Vec<String>) {
        let text = format!("{BASE}{extra}");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let mut loaded = Config::parse(&text, file.path()).unwrap();
        loaded.config.source = Some(file.path().to_path_buf());
        let mut p = Diagnostics::default();
        let w = compile(&loaded.config, &mut p);
        (
            w,
            p.0.iter()
                .map(|d| format!("{}: {}", d.line.unwrap_or(0), d.message))
                .collect(),
        )
    }

    #[test]
    fn a_window_compiles_and_opens_at_its_instants() {
        let (w, p) = problems(
            "[[maintenance]]\ntarget = \"pool:eu-west\"\nschedule = \"0 2 * * SUN\"\nduration = \"2h\"\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let w = &w[0];
        assert_eq!(w.name, "maintenance-1");
        assert_eq!(w.action, "drain");
        let at = |s: &str| humantime::parse_rfc3339(s).unwrap();
        assert_eq!(
            w.open_at(at("2026-12-27T03:59:59Z")),
            Some(at("2026-12-27T02:00:00Z"))
        );
        assert_eq!(w.open_at(at("2026-12-27T04:00:00Z")), None);
        assert_eq!(w.open_at(at("2026-12-27T01:59:59Z")), None);
        assert_eq!(
            w.next_start(at("2026-12-24T00:00:00Z")),
            Some(at("2026-12-27T02:00:00Z"))
        );
        assert_eq!(
            w.override_id(at("2026-12-27T02:00:00Z")),
            "mnt-maintenance-1-1798336800"
        );
    }

    #[test]
    fn bad_windows_are_refused_with_their_lines() {
        let (w, p) = problems(
            "[[maintenance]]\ntarget = \"pool:nowhere\"\nschedule = \"0 2 * * SUN\"\nduration = \"2h\"\n\n\
             [[maintenance]]\ntarget = \"pool:eu-west\"\nschedule = \"99 * * * *\"\nduration = \"1m\"\n\n\
             [[maintenance]]\ntarget = \"pool:eu-west\"\nschedule = \"*/10 * * * *\"\nduration = \"11m\"\n\n\
             [[maintenance]]\ntarget = \"region:eu\"\nschedule = \"0 * * * *\"\nduration = \"40d\"\naction = \"up\"\n",
        );
        assert!(w.is_empty());
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(
            p[0].starts_with("14: ") && p[0].contains("unknown pool `nowhere`"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("20: ") && p[1].contains("not a cron schedule"),
            "{p:?}"
        );
        assert!(
            p[2].starts_with("26: ") && p[2].contains("longer than the time between two starts"),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("31: ") && m.contains("between 1s and")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("32: ") && m.contains("action `up`")),
            "{p:?}"
        );
    }
}
