//! Admin API tokens: who may call what.
//!
//! Tokens come from the `tokens_file` named in `[admin]` — one per line, `NAME ROLE TOKEN`,
//! `#` comments — and optionally from an environment variable (`admin_token_env`), which
//! gives an admin token named `env`. Roles:
//! - `read`: GET endpoints (status, explain, audit, metrics);
//! - `admin`: everything, including mutations;
//! - `agent:REGION[,REGION…]`: only `POST /api/v1/probe-reports`, and only for the regions
//!   named (a remote prober agent speaks for its own vantage point, never for another's).
//!
//! Tokens are compared in constant time and never logged; a caller is known by the token's
//! NAME in logs and the audit trail.

use crate::diag::Diagnostic;
use std::path::Path;
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Remote prober agents: probe reports only.
    Agent,
    /// Read-only.
    Read,
    /// Everything.
    Admin,
}

/// One token.
#[derive(Clone)]
pub struct Token {
    /// Its name, for logs and audit.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// For agent tokens: the regions it may report for.
    pub regions: Vec<String>,
    secret: Vec<u8>,
}

/// The shortest token accepted, from the file or the environment.
pub const MIN_TOKEN_LEN: usize = 16;

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}, {:?})", self.name, self.role)
    }
}

/// All known tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens(Vec<Token>);

impl Tokens {
    /// Read the token file (if any) and the environment variable (if set).
    pub fn load(file: Option<&Path>, env_var: Option<&str>) -> Result<Tokens, Diagnostic> {
        let mut out = Vec::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Diagnostic::file(path, format!("cannot read tokens file: {e}")))?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let parts: Vec<&str> = line.split_whitespace().collect();
                let [name, role, secret] = parts.as_slice() else {
                    return Err(Diagnostic::at(path, i + 1, "expected NAME ROLE TOKEN"));
                };
                let (role, regions) = match role.split_once(':') {
                    None if *role == "admin" => (Role::Admin, Vec::new()),
                    None if *role == "read" => (Role::Read, Vec::new()),
                    None if *role == "agent" => {
                        return Err(Diagnostic::at(
                            path,
                            i + 1,
                            format!(
                                "agent token `{name}` must name the regions it reports for: agent:REGION[,REGION...]"
                            ),
                        ));
                    }
                    Some(("agent", list)) => {
                        let regions: Vec<String> = list
                            .split(',')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_string)
                            .collect();
                        if regions.is_empty() {
                            return Err(Diagnostic::at(
                                path,
                                i + 1,
                                format!("agent token `{name}` names no region"),
                            ));
                        }
                        (Role::Agent, regions)
                    }
                    _ => {
                        return Err(Diagnostic::at(
                            path,
                            i + 1,
                            format!("unknown role `{role}` (admin, read, agent:REGION)"),
                        ));
                    }
                };
                if secret.len() < MIN_TOKEN_LEN {
                    return Err(Diagnostic::at(
                        path,
                        i + 1,
                        format!("token `{name}` is shorter than 16 characters"),
                    ));
                }
                out.push(Token {
                    name: name.to_string(),
                    role,
                    regions,
                    secret: secret.as_bytes().to_vec(),
                });
            }
        }
        if let Some(var) = env_var
            && let Ok(secret) = std::env::var(var)
            && !secret.is_empty()
        {
            if secret.len() < MIN_TOKEN_LEN {
                return Err(Diagnostic::file(
                    format!("${var}"),
                    format!("the admin token in ${var} is shorter than {MIN_TOKEN_LEN} characters"),
                ));
            }
            out.push(Token {
                name: "env".into(),
                role: Role::Admin,
                regions: Vec::new(),
                secret: secret.into_bytes(),
            });
        }
        Ok(Tokens(out))
    }

    /// True when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The token matching `presented`, compared in constant time against every token.
    pub fn find(&self, presented: &str) -> Option<&Token> {
        let p = presented.as_bytes();
        let mut found = None;
        for t in &self.0 {
            if bool::from(t.secret.as_slice().ct_eq(p)) {
                found = Some(t);
            }
        }
        found
    }
}
