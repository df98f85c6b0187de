//! `ayadns ctl`: the admin API from the command line.
//!
//! Readable tables by default, `--json` (anywhere on the command line) for scripts: the
//! server's body as typed in [`crate::api`]. Exit codes: 0 done, 1 refused or invalid (the
//! server's message is printed), 2 server unreachable.
//!
//! Where to talk to ([`Target::resolve`]): `--server`, else the `[admin] listen` of the
//! `--config` file, else `http://127.0.0.1:8053`. The token: `--token-file`, else (with
//! `--config`) the variable named by `admin_token_env` or the first admin (else read) token of
//! `tokens_file`, else `$AYADNS_ADMIN_TOKEN`.

use crate::api;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The server and token to use.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL of the admin API.
    pub server: String,
    /// Bearer token ("" when none).
    pub token: String,
}

impl Target {
    /// Resolve from the flags (see the module doc). `Err` with a message naming the file.
    pub fn resolve(
        server: Option<String>,
        token_file: Option<&Path>,
        config: Option<&Path>,
    ) -> Result<Target, String> {
        let loaded = match config {
            Some(path) => Some(
                crate::config::Config::load(path)
                    .map_err(|d| format!("{d}"))?
                    .config,
            ),
            None => None,
        };
        let server = match (server, &loaded) {
            (Some(s), _) => s,
            (None, Some(c)) => match &c.admin.listen {
                Some(addr) => format!("http://{}", connectable(*addr.get_ref())),
                None => {
                    return Err(format!(
                        "{}: no [admin] listen: this server has no admin API",
                        config.map(|p| p.display().to_string()).unwrap_or_default()
                    ));
                }
            },
            (None, None) => "http://127.0.0.1:8053".into(),
        };
        let token = match (token_file, &loaded) {
            (Some(f), _) => std::fs::read_to_string(f)
                .map_err(|e| format!("{}: cannot read token: {e}", f.display()))?
                .trim()
                .to_string(),
            (None, Some(c)) => config_token(c)?.unwrap_or_else(env_token),
            (None, None) => env_token(),
        };
        Ok(Target { server, token })
    }
}

fn env_token() -> String {
    std::env::var("AYADNS_ADMIN_TOKEN").unwrap_or_default()
}

/// A wildcard listen address is reached on loopback.
fn connectable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// The token a config file gives: its `admin_token_env` variable, else the first admin token
/// of its `tokens_file` (else the first read token).
fn config_token(c: &crate::config::Config) -> Result<Option<String>, String> {
    if let Some(var) = &c.admin.admin_token_env
        && let Ok(v) = std::env::var(var)
        && !v.trim().is_empty()
    {
        return Ok(Some(v.trim().to_string()));
    }
    let Some(file) = &c.admin.tokens_file else {
        return Ok(None);
    };
    let path = file.get_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read tokens file: {e}", path.display()))?;
    let mut read = None;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [_, "admin", t] => return Ok(Some(t.to_string())),
            [_, "read", t] if read.is_none() => read = Some(t.to_string()),
            _ => {}
        }
    }
    Ok(read)
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Call {
    /// `status`
    Status,
    /// `drain|down|up TARGET --reason R [--for D] [--at T]`
    Override {
        /// `drain`, `down` or `up`.
        action: &'static str,
        target: String,
        reason: String,
        duration: Option<String>,
        /// When it starts (RFC 3339); none = now.
        starts_at: Option<String>,
    },
    /// `undrain ID` (any override)
    Undrain { id: String },
    /// `overrides`
    Overrides,
    /// `drill preview --fail T... [--at T]`
    DrillPreview {
        fail: Vec<String>,
        /// As of this instant (RFC 3339).
        at: Option<String>,
    },
    /// `drill start --fail T... --for D --reason R [--at T]`
    DrillStart {
        fail: Vec<String>,
        duration: String,
        reason: String,
        /// When it starts (RFC 3339); none = now.
        starts_at: Option<String>,
    },
    /// `drill stop ID`
    DrillStop { id: String },
    /// `drill show ID`: the timeline and report.
    DrillShow { id: String },
    /// `explain NAME [TYPE] --client IP`
    Explain {
        name: String,
        rtype: String,
        client: String,
    },
    /// `reload`
    Reload,
    /// `audit [--limit N] [--before ID]`
    Audit { limit: usize, before: Option<i64> },
    /// `transitions [--limit N]`
    Transitions { limit: usize },
    /// `history`
    History,
    /// `ready`
    Ready,
}

/// The outcome, as an exit code.
pub enum Exit {
    /// 0.
    Done,
    /// 1.
    Refused,
    /// 2.
    Unreachable,
}

fn body<T: Serialize>(v: T) -> Option<Value> {
    serde_json::to_value(v).ok()
}

/// Percent-encode a query parameter value.
fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Run one action against `target`.
pub async fn run(target: &Target, json_out: bool, action: Call) -> Exit {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Unreachable;
        }
    };
    let base = target.server.trim_end_matches('/');
    let (method, path, payload) = match &action {
        Call::Status => ("GET", "/api/v1/status".to_string(), None),
        Call::Override {
            action,
            target,
            reason,
            duration,
            starts_at,
        } => (
            "POST",
            "/api/v1/overrides".into(),
            body(api::NewOverride {
                target: target.clone(),
                action: (*action).into(),
                reason: reason.clone(),
                expires_in: duration.clone(),
                starts_at: starts_at.clone(),
            }),
        ),
        Call::Undrain { id } => ("DELETE", format!("/api/v1/overrides/{}", q(id)), None),
        Call::Overrides => ("GET", "/api/v1/overrides".into(), None),
        Call::DrillPreview { fail, at } => (
            "POST",
            "/api/v1/drills/preview".into(),
            body(api::DrillRequest {
                fail: fail.clone(),
                reason: String::new(),
                duration: None,
                starts_at: None,
                at: at.clone(),
            }),
        ),
        Call::DrillStart {
            fail,
            duration,
            reason,
            starts_at,
        } => (
            "POST",
            "/api/v1/drills".into(),
            body(api::DrillRequest {
                fail: fail.clone(),
                reason: reason.clone(),
                duration: Some(duration.clone()),
                starts_at: starts_at.clone(),
                at: None,
            }),
        ),
        Call::DrillStop { id } => ("POST", format!("/api/v1/drills/{}/stop", q(id)), None),
        Call::DrillShow { id } => ("GET", format!("/api/v1/drills/{}", q(id)), None),
        Call::Explain {
            name,
            rtype,
            client,
        } => (
            "GET",
            format!(
                "/api/v1/explain?name={}&type={}&client={}",
                q(name),
                q(rtype),
                q(client)
            ),
            None,
        ),
        Call::Reload => ("POST", "/api/v1/reload".into(), None),
        Call::Audit { limit, before } => {
            let page = before.map(|b| format!("&before={b}")).unwrap_or_default();
            ("GET", format!("/api/v1/audit?limit={limit}{page}"), None)
        }
        Call::Transitions { limit } => ("GET", format!("/api/v1/transitions?limit={limit}"), None),
        Call::History => ("GET", "/api/v1/history".into(), None),
        Call::Ready => ("GET", "/readyz".into(), None),
    };
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => client.get(&url),
        "DELETE" => client.delete(&url),
        _ => client.post(&url),
    };
    if !target.token.is_empty() {
        req = req.bearer_auth(&target.token);
    }
    if let Some(b) = payload {
        req = req.json(&b);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot reach {base}: {e}");
            return Exit::Unreachable;
        }
    };
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    // Not ready is an answer, not a refusal of the call: shown, exit 1.
    let not_ready = matches!(action, Call::Ready) && status.as_u16() == 503;
    if !status.is_success() && !not_ready {
        match serde_json::from_value::<api::ReloadReply>(v.clone()) {
            Ok(r) => {
                eprintln!("{status}: reload rejected");
                for e in r.errors {
                    eprintln!("  {e}");
                }
            }
            Err(_) => match serde_json::from_value::<api::ApiError>(v.clone()) {
                Ok(e) => eprintln!("{status}: {}", e.error),
                Err(_) => eprintln!("{status}: {v}"),
            },
        }
        return Exit::Refused;
    }
    let done = if not_ready { Exit::Refused } else { Exit::Done };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return done;
    }
    match render(&action, v) {
        Ok(text) => {
            print!("{text}");
            done
        }
        Err(e) => {
            eprintln!("the server's answer is not what this ctl expects: {e}");
            Exit::Refused
        }
    }
}

fn ago(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    let now = SystemTime::now();
    let d = match t.duration_since(now) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    if d >= 0.0 {
        format!("in {:.0}s", d)
    } else {
        format!("{:.0}s ago", -d)
    }
}

/// A table: rows of cells, padded to the widest cell of each column.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// The `[[notify]]` webhooks: counters, when each last delivered, its last error.
fn webhooks(list: &[api::WebhookStatus]) -> String {
    let mut rows = vec![vec![
        "WEBHOOK".into(),
        "DELIVERED".into(),
        "FAILED".into(),
        "DROPPED".into(),
        "QUEUED".into(),
        "LAST SUCCESS".into(),
        "LAST ERROR".into(),
    ]];
    for h in list {
        rows.push(vec![
            h.name.clone(),
            h.delivered.to_string(),
            h.failed.to_string(),
            h.dropped.to_string(),
            h.queued.to_string(),
            ago(h.last_success),
            opt(&h.last_error),
        ]);
    }
    table(&rows)
}

fn render(action: &Call, v: Value) -> Result<String, serde_json::Error> {
    Ok(match action {
        Call::Status => {
            let st: api::Status = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "POOL".into(),
                "REGION".into(),
                "UP".into(),
                "LATENCY (ms by region)".into(),
            ]];
            for p in &st.pools {
                let lat: Vec<String> = p
                    .latency_ms
                    .iter()
                    .map(|(r, ms)| format!("{r}={ms:.1}"))
                    .collect();
                rows.push(vec![
                    p.name.clone(),
                    p.region.clone(),
                    format!("{}/{}", p.endpoints_up, p.endpoints),
                    lat.join(" "),
                ]);
            }
            let mut out = table(&rows);
            for p in &st.pools {
                if let Some(a) = p.ramp_admitted {
                    out.push_str(&format!(
                        "{}: ramping back, {:.0} % of its clients admitted\n",
                        p.name,
                        a * 100.0
                    ));
                }
                if let Some(a) = p.capacity_admitted {
                    out.push_str(&format!(
                        "{}: over capacity, {:.0} % of its clients admitted\n",
                        p.name,
                        a * 100.0
                    ));
                }
            }
            let mut erows = vec![vec![
                "ENDPOINT".into(),
                "POOL".into(),
                "UP".into(),
                "WEIGHT".into(),
            ]];
            for e in &st.endpoints {
                erows.push(vec![
                    e.name.clone(),
                    e.pool.clone(),
                    e.up.to_string(),
                    e.weight.to_string(),
                ]);
            }
            out.push('\n');
            out.push_str(&table(&erows));
            out.push_str(&format!("\noverrides in force: {}\n", st.overrides.len()));
            for o in &st.overrides {
                out.push_str(&format!(
                    "  {} {} {} ({}; expires {})\n",
                    o.id,
                    o.action.as_str(),
                    o.target,
                    o.reason,
                    ago(o.expires_at)
                ));
            }
            match &st.drill {
                Some(d) => {
                    let fail: Vec<String> = d.fail.iter().map(|t| t.to_string()).collect();
                    out.push_str(&format!(
                        "drill: {} fail {} (ends {})\n",
                        d.id,
                        fail.join(" "),
                        ago(Some(d.ends_at))
                    ))
                }
                None => out.push_str("drill: none\n"),
            }
            out.push_str(&scheduled(&st.scheduled));
            if let Some(c) = &st.cluster {
                out.push_str(&format!(
                    "\ncluster: this node {} ({}), {}, view at revision {}\n",
                    c.node,
                    c.region,
                    if c.connected {
                        "connected to etcd"
                    } else {
                        "NOT connected to etcd: serving the last known state"
                    },
                    c.revision
                ));
                let mut rows = vec![vec![
                    "NODE".into(),
                    "REGION".into(),
                    "APPLIED".into(),
                    "LAG".into(),
                    "VOTES".into(),
                    "NEWEST VOTE".into(),
                ]];
                for n in &c.nodes {
                    rows.push(vec![
                        n.node.clone(),
                        n.region.clone(),
                        n.control_revision.to_string(),
                        n.lag.to_string(),
                        n.votes.to_string(),
                        n.newest_vote_age_s
                            .map_or("-".into(), |a| format!("{a:.0}s ago")),
                    ]);
                }
                out.push_str(&table(&rows));
            }
            if !st.notify.is_empty() {
                out.push('\n');
                out.push_str(&webhooks(&st.notify));
            }
            out
        }
        Call::Override { .. } => {
            let o: api::Override = serde_json::from_value(v)?;
            if o.scheduled {
                format!(
                    "override {} scheduled: {} {} (starts {}, expires {})\n",
                    o.id,
                    o.action.as_str(),
                    o.target,
                    ago(o.starts_at),
                    ago(o.expires_at)
                )
            } else {
                format!(
                    "override {} in force: {} {} (expires {})\n",
                    o.id,
                    o.action.as_str(),
                    o.target,
                    ago(o.expires_at)
                )
            }
        }
        Call::Undrain { .. } => {
            let r: api::Removed = serde_json::from_value(v)?;
            format!("removed {}\n", r.removed.id)
        }
        Call::DrillPreview { .. } => {
            let p: api::Preview = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "SERVICE".into(),
                "REGION".into(),
                "NOW".into(),
                "DURING DRILL".into(),
            ]];
            for r in &p.regions {
                rows.push(vec![
                    r.service.clone(),
                    r.region.clone(),
                    opt(&r.now),
                    opt(&r.during),
                ]);
            }
            let mut out = table(&rows);
            if !p.loads.is_empty() {
                let mut loads = vec![vec![
                    "POOL".into(),
                    "EXPECTED QPS".into(),
                    "CAPACITY".into(),
                    "HEADROOM".into(),
                ]];
                for l in &p.loads {
                    loads.push(vec![
                        l.pool.clone(),
                        format!("{:.1}", l.expected_qps),
                        l.capacity.map_or("-".into(), |c| format!("{c:.0}")),
                        if l.ok {
                            "ok".into()
                        } else {
                            format!("UNDER {}x", l.headroom)
                        },
                    ]);
                }
                out.push('\n');
                out.push_str(&table(&loads));
            }
            for w in &p.warnings {
                out.push_str(&format!("warning: {w}\n"));
            }
            out
        }
        Call::DrillStart { .. } => {
            let d: api::Drill = serde_json::from_value(v)?;
            if d.scheduled {
                format!(
                    "drill {} scheduled: starts {}; reverts {}\n",
                    d.id,
                    ago(Some(d.started_at)),
                    ago(Some(d.ends_at))
                )
            } else {
                format!("drill {} started; reverts {}\n", d.id, ago(Some(d.ends_at)))
            }
        }
        Call::DrillStop { .. } => {
            let d: api::Drill = serde_json::from_value(v)?;
            format!("drill {} stopped\n", d.id)
        }
        Call::Explain { .. } => serde_json::from_value::<api::ExplainReply>(v)?.trace,
        Call::Reload => "reload ok: new data serving\n".into(),
        Call::Overrides => {
            let l: api::OverrideList = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "ID".into(),
                "ACTION".into(),
                "TARGET".into(),
                "STARTS".into(),
                "EXPIRES".into(),
                "BY".into(),
                "REASON".into(),
            ]];
            for o in &l.overrides {
                rows.push(vec![
                    o.id.clone(),
                    o.action.as_str().into(),
                    o.target.to_string(),
                    if o.scheduled {
                        ago(o.starts_at)
                    } else {
                        "started".into()
                    },
                    ago(o.expires_at),
                    o.created_by.clone(),
                    o.reason.clone(),
                ]);
            }
            table(&rows)
        }
        Call::DrillShow { .. } => {
            let d: api::Drill = serde_json::from_value(v)?;
            let fail: Vec<String> = d.fail.iter().map(|t| t.to_string()).collect();
            let mut out = format!(
                "drill {} ({}) by {}: fail {}\n",
                d.id,
                d.reason,
                d.created_by,
                fail.join(" ")
            );
            out.push_str(&format!("  started      {}\n", ago(Some(d.started_at))));
            out.push_str(&format!(
                "  first moved  {}\n",
                d.first_moved_at.map_or("not yet".into(), |t| ago(Some(t)))
            ));
            match d.ended_at {
                Some(t) => out.push_str(&format!("  ended        {}\n", ago(Some(t)))),
                None => out.push_str(&format!("  ends         {}\n", ago(Some(d.ends_at)))),
            }
            let mut rows = vec![vec!["SERVICE".into(), "POOL".into(), "QUERIES".into()]];
            for (svc, pools) in &d.queries {
                for (pool, n) in pools {
                    rows.push(vec![svc.clone(), pool.clone(), n.to_string()]);
                }
            }
            out.push_str("queries during the drill:\n");
            out.push_str(&table(&rows));
            let r = &d.report;
            out.push_str(&format!(
                "last moved    {}\nanswers from a drilled pool ({}): {}\n",
                r.last_moved_at.map_or("-".into(), |t| ago(Some(t))),
                if r.drilled_pools.is_empty() {
                    "-".into()
                } else {
                    r.drilled_pools.join(" ")
                },
                r.drilled_answers
            ));
            let mut rows = vec![vec![
                "SERVICE".into(),
                "POOL".into(),
                "PREDICTED".into(),
                "OBSERVED".into(),
            ]];
            for (svc, pools) in &r.predicted {
                let observed = r.observed.get(svc);
                let mut names: Vec<&String> = pools.keys().collect();
                if let Some(o) = observed {
                    names.extend(o.keys().filter(|k| !pools.contains_key(*k)));
                }
                for pool in names {
                    let pct =
                        |v: Option<&f64>| v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0));
                    rows.push(vec![
                        svc.clone(),
                        pool.clone(),
                        pct(pools.get(pool)),
                        pct(observed.and_then(|o| o.get(pool))),
                    ]);
                }
            }
            out.push_str("predicted and observed shares:\n");
            out.push_str(&table(&rows));
            out
        }
        Call::Transitions { .. } => {
            let l: api::TransitionList = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "WHEN".into(),
                "ENDPOINT".into(),
                "REGION".into(),
                "CHANGE".into(),
                "WHY".into(),
            ]];
            for t in &l.transitions {
                let word = |up: bool| if up { "up" } else { "down" };
                rows.push(vec![
                    ago(Some(t.at)),
                    t.endpoint.clone(),
                    t.region.clone(),
                    format!("{} -> {}", word(t.from_up), word(t.to_up)),
                    t.reason.clone(),
                ]);
            }
            table(&rows)
        }
        Call::History => {
            let h: api::History = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "WHEN".into(),
                "QPS".into(),
                "ANSWERS/S BY POOL".into(),
            ]];
            for s in &h.samples {
                let pools: Vec<String> = s
                    .pool_answers
                    .iter()
                    .map(|(p, r)| format!("{p}={r:.1}"))
                    .collect();
                rows.push(vec![
                    ago(Some(s.at)),
                    format!("{:.1}", s.qps),
                    pools.join(" "),
                ]);
            }
            let mut out = table(&rows);
            for e in &h.events {
                out.push_str(&format!(
                    "event {} {}: {}\n",
                    ago(Some(e.at)),
                    e.kind,
                    e.text
                ));
            }
            out
        }
        Call::Ready => {
            let r: api::Readiness = serde_json::from_value(v)?;
            let mut out = format!("{}\n", if r.ready { "ready" } else { "not ready" });
            for c in &r.checks {
                let mark = if c.ok { "ok  " } else { "FAIL" };
                out.push_str(&format!("  {mark} {}: {}\n", c.name, c.detail));
            }
            out
        }
        Call::Audit { .. } => {
            let a: api::AuditList = serde_json::from_value(v)?;
            let mut rows = vec![vec![
                "WHEN".into(),
                "TOKEN".into(),
                "SOURCE".into(),
                "REQUEST".into(),
                "STATUS".into(),
            ]];
            for e in &a.audit {
                rows.push(vec![
                    ago(Some(e.at)),
                    e.token.clone(),
                    e.source.clone(),
                    format!("{} {}", e.method, e.path),
                    e.status.to_string(),
                ]);
            }
            let mut out = table(&rows);
            if let Some(b) = a.next_before {
                out.push_str(&format!("older entries: ayadns ctl audit --before {b}\n"));
            }
            out
        }
    })
}

/// What `ctl status` says about what is scheduled.
fn scheduled(s: &api::Scheduled) -> String {
    let at = |t: Option<SystemTime>| {
        t.map_or("-".to_string(), |t| {
            format!(
                "{} ({})",
                humantime::format_rfc3339_seconds(t),
                ago(Some(t))
            )
        })
    };
    let mut out = String::new();
    if s.overrides.is_empty()
        && s.drills.is_empty()
        && s.maintenance.is_empty()
        && s.weights.is_empty()
    {
        out.push_str("scheduled: nothing\n");
        return out;
    }
    out.push_str("\nscheduled:\n");
    for o in &s.overrides {
        out.push_str(&format!(
            "  override {} {} {} at {} ({})\n",
            o.id,
            o.action.as_str(),
            o.target,
            at(o.starts_at),
            o.reason
        ));
    }
    for d in &s.drills {
        let fail: Vec<String> = d.fail.iter().map(|t| t.to_string()).collect();
        out.push_str(&format!(
            "  drill {} fail {} at {} ({})\n",
            d.id,
            fail.join(" "),
            at(Some(d.started_at)),
            d.reason
        ));
    }
    for w in &s.maintenance {
        let open = w
            .open_until
            .map(|u| format!("OPEN until {}; ", humantime::format_rfc3339_seconds(u)))
            .unwrap_or_default();
        out.push_str(&format!(
            "  maintenance {} {} {} \"{}\" for {}: {open}next {}\n",
            w.name,
            w.action,
            w.target,
            w.schedule,
            humantime::format_duration(Duration::from_secs(w.duration_s)),
            at(w.next_start)
        ));
    }
    for w in &s.weights {
        let next = match (w.next_at, w.next_weight) {
            (Some(t), Some(n)) => format!("{n} at {}", at(Some(t))),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "  weight {} now {} (configured {}), next {next}\n",
            w.endpoint, w.weight, w.configured
        ));
    }
    out
}
