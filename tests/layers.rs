//! The module layers of `src/`, read from ARCHITECTURE.md and checked against the imports.
//!
//! ARCHITECTURE.md holds a fenced block that starts with the line `layers:`; every following
//! line is `LAYER  module module …`, top layer first. A module is a file or folder directly
//! under `src/` (`main.rs` counts as `main`). The rules:
//! - every module of `src/` is named in exactly one layer;
//! - a module imports (`crate::x` in the library, `ayadns::x` in `main.rs`) only modules of
//!   its own layer or of a lower one;
//! - no import circle spans two modules, whatever their layers (circles inside one folder are
//!   fine: they are one module here).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(layer name, modules)`, top layer first.
fn layers() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t == "layers:" {
            inside = true;
            continue;
        }
        if inside {
            if t.starts_with("```") {
                break;
            }
            let mut words = t.split_whitespace();
            if let Some(layer) = words.next() {
                out.push((layer.to_string(), words.map(str::to_string).collect()));
            }
        }
    }
    assert!(
        !out.is_empty(),
        "ARCHITECTURE.md has no fenced block starting with `layers:`"
    );
    out
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Modules directly under `src/`, each with its files.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let src = root().join("src");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        if p.is_dir() {
            rs_files(&p, &mut files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p);
        } else {
            continue;
        }
        out.entry(name).or_insert_with(Vec::new).extend(files);
    }
    out
}

/// The code of a file without comments and string literals (so doc links and messages that
/// mention a module are not imports).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&b'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' {
            // a char literal ('x', '\n', '\'') — or a lifetime, which is left alone
            let close = if b.get(i + 1) == Some(&b'\\') {
                text[i + 2..].find('\'').map(|k| i + 2 + k)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(c) => {
                    out.push_str("' '");
                    i = c + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The top-level modules a piece of code names through `prefix` (`crate::` or `ayadns::`),
/// including inside `use crate::{a, b::c}` groups.
fn imports(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        let after = &rest[at + prefix.len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // top-level items of the group: split at depth-0 commas
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(after));
        }
    }
    out.remove("");
    out
}

#[test]
fn modules_import_only_their_layer_and_below() {
    let layers = layers();
    let mut rank: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (layer, mods)) in layers.iter().enumerate() {
        for m in mods {
            let prev = rank.insert(m.clone(), layers.len() - i);
            assert!(
                prev.is_none(),
                "ARCHITECTURE.md names `{m}` twice (again in `{layer}`)"
            );
        }
    }
    let modules = modules();
    let mut problems = Vec::new();
    for m in modules.keys() {
        if !rank.contains_key(m) {
            problems.push(format!(
                "src/{m} is in no layer of ARCHITECTURE.md's `layers:` block"
            ));
        }
    }
    for m in rank.keys() {
        if !modules.contains_key(m) {
            problems.push(format!(
                "ARCHITECTURE.md names `{m}`, which is not a module of src/"
            ));
        }
    }
    let layer_of = |m: &str| {
        rank.get(m)
            .map(|r| layers[layers.len() - r].0.clone())
            .unwrap_or_default()
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, files) in &modules {
        for f in files {
            let code = code_only(&std::fs::read_to_string(f).unwrap());
            let prefix = if m == "main" { "ayadns::" } else { "crate::" };
            for dep in imports(&code, prefix) {
                if dep == *m || !modules.contains_key(&dep) {
                    continue;
                }
                graph.entry(m.clone()).or_default().insert(dep.clone());
                if let (Some(a), Some(b)) = (rank.get(m), rank.get(&dep))
                    && b > a
                {
                    problems.push(format!(
                        "{} ({}) imports `{dep}` ({}), a higher layer",
                        f.strip_prefix(root()).unwrap().display(),
                        layer_of(m),
                        layer_of(&dep)
                    ));
                }
            }
        }
    }
    // Circles across modules: any module that reaches itself.
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if next == start {
                    let mut p = path.clone();
                    p.push(start.clone());
                    problems.push(format!("import circle: {}", p.join(" → ")));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_and_ignores_comments_and_strings() {
    let code = code_only(
        "use crate::{a::X, b, c::{d, e}};\n// crate::f\nlet s = \"crate::g\";\nlet c = '\"'; crate::h::y();\nfn f<'a>(x: &'a crate::i::T) {}",
    );
    let got: Vec<String> = imports(&code, "crate::").into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "h", "i"]);
}
