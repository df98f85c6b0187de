//! `ayadns ctl`: the admin API from the command line.
//!
//! Readable tables by default, `--json` for scripts. Exit codes: 0 done, 1 refused or
//! invalid (the server's message is printed), 2 server unreachable. The token comes from
//! `--token-file`, else the `AYADNS_ADMIN_TOKEN` environment variable.

use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// What to do.
#[derive(Debug, Clone)]
pub enum Action {
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
pub async fn run(server: &str, token: &str, json_out: bool, action: Action) -> Exit {
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
        Action::Status => ("GET", "/api/v1/status".to_string(), None),
        Action::Drain {
            target,
            reason,
            duration,
        } => (
            "POST",
            "/api/v1/overrides".into(),
            Some(
                json!({ "target": target, "action": "drain", "reason": reason, "expires_in": duration }),
            ),
        ),
        Action::Undrain { id } => ("DELETE", format!("/api/v1/overrides/{id}"), None),
        Action::DrillPreview { fail } => (
            "POST",
            "/api/v1/drills/preview".into(),
            Some(json!({ "fail": fail })),
        ),
        Action::DrillStart {
            fail,
            duration,
            reason,
        } => (
            "POST",
            "/api/v1/drills".into(),
            Some(json!({ "fail": fail, "duration": duration, "reason": reason })),
        ),
        Action::DrillStop { id } => ("POST", format!("/api/v1/drills/{id}/stop"), None),
        Action::Explain {
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
        Action::Reload => ("POST", "/api/v1/reload".into(), None),
        Action::Audit => ("GET", "/api/v1/audit?limit=50".into(), None),
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
        let msg = v["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        eprintln!("{status}: {msg}");
        if let Some(errs) = v["errors"].as_array() {
            for e in errs {
                eprintln!("  {}", e.as_str().unwrap_or_default());
            }
        }
        return Exit::Refused;
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print!("{}", render(&action, &v));
    }
    Exit::Done
}

fn ago(v: &Value) -> String {
    let Some(t) = v.as_f64() else {
        return "-".into();
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let d = t - now;
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

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn render(action: &Action, v: &Value) -> String {
    match action {
        Action::Status => {
            let mut rows = vec![vec![
                "POOL".into(),
                "REGION".into(),
                "UP".into(),
                "LATENCY (ms by region)".into(),
            ]];
            for p in v["pools"].as_array().into_iter().flatten() {
                let lat: Vec<String> = p["latency_ms"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(r, ms)| format!("{r}={:.1}", ms.as_f64().unwrap_or(0.0)))
                    .collect();
                rows.push(vec![
                    s(&p["name"]),
                    s(&p["region"]),
                    format!("{}/{}", p["endpoints_up"], p["endpoints"]),
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
            for e in v["endpoints"].as_array().into_iter().flatten() {
                erows.push(vec![
                    s(&e["name"]),
                    s(&e["pool"]),
                    s(&e["up"]),
                    s(&e["weight"]),
                ]);
            }
            out.push('\n');
            out.push_str(&table(&erows));
            let overrides = v["overrides"].as_array().cloned().unwrap_or_default();
            out.push_str(&format!("\noverrides in force: {}\n", overrides.len()));
            for o in &overrides {
                out.push_str(&format!(
                    "  {} {} {} ({}; expires {})\n",
                    s(&o["id"]),
                    s(&o["action"]),
                    s(&o["target"]),
                    s(&o["reason"]),
                    ago(&o["expires_at"])
                ));
            }
            match v["drill"].as_object() {
                Some(d) => out.push_str(&format!(
                    "drill: {} fail {} (ends {})\n",
                    s(&d["id"]),
                    s(&d["fail"]),
                    ago(&d["ends_at"])
                )),
                None => out.push_str("drill: none\n"),
            }
            out
        }
        Action::Drain { .. } => format!(
            "override {} in force: {} {} (expires {})\n",
            s(&v["id"]),
            s(&v["action"]),
            s(&v["target"]),
            ago(&v["expires_at"])
        ),
        Action::Undrain { .. } => format!("removed {}\n", s(&v["removed"]["id"])),
        Action::DrillPreview { .. } => {
            let mut rows = vec![vec![
                "SERVICE".into(),
                "REGION".into(),
                "NOW".into(),
                "DURING DRILL".into(),
            ]];
            for r in v["regions"].as_array().into_iter().flatten() {
                rows.push(vec![
                    s(&r["service"]),
                    s(&r["region"]),
                    s(&r["now"]),
                    s(&r["during"]),
                ]);
            }
            table(&rows)
        }
        Action::DrillStart { .. } => format!(
            "drill {} started; reverts {}\n",
            s(&v["id"]),
            ago(&v["ends_at"])
        ),
        Action::DrillStop { .. } => format!("drill {} stopped\n", s(&v["id"])),
        Action::Explain { .. } => s(&v["trace"]),
        Action::Reload => "reload ok: new data serving\n".into(),
        Action::Audit => {
            let mut rows = vec![vec![
                "WHEN".into(),
                "TOKEN".into(),
                "SOURCE".into(),
                "REQUEST".into(),
                "STATUS".into(),
            ]];
            for a in v["audit"].as_array().into_iter().flatten() {
                rows.push(vec![
                    ago(&a["at"]),
                    s(&a["token"]),
                    s(&a["source"]),
                    format!("{} {}", s(&a["method"]), s(&a["path"])),
                    s(&a["status"]),
                ]);
            }
            table(&rows)
        }
    }
}
