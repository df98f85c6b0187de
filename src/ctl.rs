//! `ayadns ctl`: the admin API from the command line.
//!
//! Readable tables by default, `--json` for scripts. Exit codes: 0 done, 1 refused or
//! invalid (the server's message is printed), 2 server unreachable. The token comes from
//! `--token-file`, else the `AYADNS_ADMIN_TOKEN` environment variable.

use crate::api;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// What to do.
#[derive(Debug, Clone)]
pub enum Call {
    /// `status`
    Status,
    /// `drain TARGET --reason R [--for D]`
    Drain {
        target: String,
        reason: String,
        duration: Option<String>,
    },
    /// `undrain ID`
    Undrain { id: String },
    /// `drill preview --fail T...`
    DrillPreview { fail: Vec<String> },
    /// `drill start --fail T... --for D --reason R`
    DrillStart {
        fail: Vec<String>,
        duration: String,
        reason: String,
    },
    /// `drill stop ID`
    DrillStop { id: String },
    /// `explain NAME --client IP [--type T]`
    Explain {
        name: String,
        rtype: String,
        client: String,
    },
    /// `reload`
    Reload,
    /// `audit`
    Audit,
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

/// Run one action against `server`.
pub async fn run(server: &str, token: &str, json_out: bool, action: Call) -> Exit {
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
    let base = server.trim_end_matches('/');
    let (method, path, body) = match &action {
        Call::Status => ("GET", "/api/v1/status".to_string(), None),
        Call::Drain {
            target,
            reason,
            duration,
        } => (
            "POST",
            "/api/v1/overrides".into(),
            Some(json!(api::NewOverride {
                target: target.clone(),
                action: "drain".into(),
                reason: reason.clone(),
                expires_in: duration.clone(),
            })),
        ),
        Call::Undrain { id } => ("DELETE", format!("/api/v1/overrides/{id}"), None),
        Call::DrillPreview { fail } => (
            "POST",
            "/api/v1/drills/preview".into(),
            Some(json!(api::DrillRequest {
                fail: fail.clone(),
                reason: String::new(),
                duration: None,
            })),
        ),
        Call::DrillStart {
            fail,
            duration,
            reason,
        } => (
            "POST",
            "/api/v1/drills".into(),
            Some(json!(api::DrillRequest {
                fail: fail.clone(),
                reason: reason.clone(),
                duration: Some(duration.clone()),
            })),
        ),
        Call::DrillStop { id } => ("POST", format!("/api/v1/drills/{id}/stop"), None),
        Call::Explain {
            name,
            rtype,
            client,
        } => (
            "GET",
            format!(
                "/api/v1/explain?name={name}&type={rtype}&client={}",
                client.replace('/', "%2F")
            ),
            None,
        ),
        Call::Reload => ("POST", "/api/v1/reload".into(), None),
        Call::Audit => ("GET", "/api/v1/audit?limit=50".into(), None),
    };
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => client.get(&url),
        "DELETE" => client.delete(&url),
        _ => client.post(&url),
    }
    .bearer_auth(token);
    if let Some(b) = body {
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
    if !status.is_success() {
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
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Exit::Done;
    }
    match render(&action, v) {
        Ok(text) => {
            print!("{text}");
            Exit::Done
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
            out
        }
        Call::Drain { .. } => {
            let o: api::Override = serde_json::from_value(v)?;
            format!(
                "override {} in force: {} {} (expires {})\n",
                o.id,
                o.action.as_str(),
                o.target,
                ago(o.expires_at)
            )
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
            table(&rows)
        }
        Call::DrillStart { .. } => {
            let d: api::Drill = serde_json::from_value(v)?;
            format!("drill {} started; reverts {}\n", d.id, ago(Some(d.ends_at)))
        }
        Call::DrillStop { .. } => {
            let d: api::Drill = serde_json::from_value(v)?;
            format!("drill {} stopped\n", d.id)
        }
        Call::Explain { .. } => serde_json::from_value::<api::ExplainReply>(v)?.trace,
        Call::Reload => "reload ok: new data serving\n".into(),
        Call::Audit => {
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
            table(&rows)
        }
    })
}
