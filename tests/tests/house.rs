//! The house rules of the two services (`cloud/src`, `outlet-edge/src`), read from the code:
//!
//! - Every top-level module is a room: `app` (with the crate root: the only code that names every
//!   domain), `infra` (the foundations: imports no other room), `events` (the outbox: imports only
//!   `infra`), and the domains.
//! - No room imports `app`; the rooms' imports have no circle.
//! - Inside a domain, `store.rs` and `rules.rs` never import the domain's `http`, `rules.rs` is pure
//!   (no store, no SQL), and no file of handlers (`http.rs`, or any with a `#[utoipa::path]`)
//!   holds SQL.
//! - Domains record events only as protocol's types (`NewEvent::of`, `sealed`, `record_event`).
//! - Every folder's `mod.rs` opens with a `//!` doc; no source file is over 600 lines.
//!
//! Imports are every `crate::…` path in the code (in `use` lines and inline), comments aside.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What marks SQL run from a file: sqlx's queries, rusqlite's statements.
const SQL: [&str; 6] =
    ["sqlx::query", ".prepare(", ".prepare_cached(", ".query_row(", ".execute(\"", ".execute_batch("];

/// Longest a source file may be.
const MAX_LINES: usize = 600;

/// One source file: its path under `src`, and its text.
struct Source {
    path: PathBuf,
    text: String,
}

fn sources(src: &Path) -> Vec<Source> {
    let mut out = vec![];
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                out.push(Source { path: p.strip_prefix(src).unwrap().to_path_buf(), text });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The room a file belongs to: its first path component (`lib.rs` and `main.rs` are `app`).
fn room_of(path: &Path) -> String {
    let first = path.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => "app".into(),
        Some(stem) => stem.into(),
        None => first,
    }
}

/// The code of a file without its comments (line comments, doc comments) and string literals'
/// contents, so that a path in a doc or a message is not an import.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
                kept.push('"');
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The rooms a file's code names through `crate::…`, including every name of a
/// `use crate::{a, b::c}` group.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::` in a macro, or `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            let mut depth = 0;
            let mut name = String::new();
            let mut at_start = true;
            for c in group[..end].chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() {
                        out.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                }
            }
            if !name.is_empty() {
                out.insert(name);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Every breach of the house rules in the crate whose sources are `files`.
fn breaches(files: &[Source]) -> Vec<String> {
    let rooms: BTreeSet<String> = files.iter().map(|f| room_of(&f.path)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut out = vec![];
    for f in files {
        let path = f.path.display().to_string();
        let room = room_of(&f.path);
        let lines = f.text.lines().count();
        if lines > MAX_LINES {
            out.push(format!("{path}: {lines} lines (at most {MAX_LINES})"));
        }
        if f.path.file_name().is_some_and(|n| n == "mod.rs") && !f.text.trim_start().starts_with("//!") {
            out.push(format!("{path}: a folder's mod.rs opens with a //! doc"));
        }
        let code = code(&f.text);
        for to in imports(&code) {
            if !rooms.contains(&to) || to == room {
                continue; // a macro or item at the crate root (`crate::Error`), or the room itself
            }
            match (room.as_str(), to.as_str()) {
                (_, "app") if room != "app" => out.push(format!("{path}: imports app (only app names every domain)")),
                ("infra", _) => out.push(format!("{path}: infra imports {to} (infra imports no other room)")),
                ("events", t) if t != "infra" => {
                    out.push(format!("{path}: events imports {to} (events imports only infra)"))
                }
                _ => {}
            }
            if room != "app" {
                graph.entry(room.clone()).or_default().insert(to);
            }
        }
        // Inside a domain: one-way layers.
        let name = f.path.file_name().unwrap().to_string_lossy();
        let own =
            |part: &str| code.contains(&format!("super::{part}")) || code.contains(&format!("crate::{room}::{part}"));
        if (name == "store.rs" || name == "rules.rs") && own("http") {
            out.push(format!("{path}: imports the domain's http (http -> rules/store, never back)"));
        }
        if name == "rules.rs" {
            if own("store") {
                out.push(format!("{path}: rules import the store (rules are pure)"));
            }
            if ["sqlx", "rusqlite", "tokio::"].iter().any(|s| code.contains(s)) {
                out.push(format!("{path}: rules do I/O (rules are pure)"));
            }
        }
        if !["app", "infra", "events"].contains(&room.as_str())
            && ["NewEvent::new(", "NewEvent::about(", "events::record("].iter().any(|s| code.contains(s))
        {
            out.push(format!("{path}: an untyped event (domains record protocol's event types)"));
        }
        let handlers = name == "http.rs" || code.contains("#[utoipa::path");
        if handlers && SQL.iter().any(|s| code.contains(s)) {
            out.push(format!("{path}: SQL in a handler file (SQL lives in store.rs)"));
        }
    }
    if let Some(cycle) = circle(&graph) {
        out.push(format!("import circle: {}", cycle.join(" -> ")));
    }
    out
}

/// A circle in `graph`, if there is one, as the rooms along it (the first repeated at the end).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        path.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == m).unwrap();
                    let mut c = path[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut vec![])
        {
            return Some(c);
        }
    }
    None
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name).join("src")
}

fn assert_house(name: &str) {
    let files = sources(&crate_src(name));
    assert!(files.len() > 10, "{name}: found only {} source files", files.len());
    let found = breaches(&files);
    assert!(found.is_empty(), "{name} breaks the house rules:\n{}", found.join("\n"));
}

#[test]
fn the_cloud_keeps_the_house_rules() {
    assert_house("cloud");
}

#[test]
fn the_edge_keeps_the_house_rules() {
    assert_house("outlet-edge");
}

fn src(path: &str, text: &str) -> Source {
    Source { path: PathBuf::from(path), text: text.to_owned() }
}

#[test]
fn the_rules_catch_each_kind_of_breach() {
    let ok = [
        src("lib.rs", "//! root\nuse crate::app::run;\n"),
        src("app/mod.rs", "//! app\nuse crate::{ordering, infra::db};\n"),
        src("infra/mod.rs", "//! infra\n"),
        src("events/mod.rs", "//! events\nuse crate::infra::db::Db;\n"),
        src("ordering/mod.rs", "//! ordering\n"),
        src("ordering/http.rs", "use super::store;\nuse crate::catalog::latest; // crate::app in a comment\n"),
        src("ordering/queue.rs", "#[utoipa::path(get)]\nasync fn list() { store::list().await }\n"),
        src("ordering/store.rs", "fn f() { sqlx::query(\"crate::app\"); }\n"),
        src("catalog/mod.rs", "//! catalog\nuse crate::events::record;\n"),
    ];
    assert_eq!(breaches(&ok), Vec::<String>::new());

    let bad = [
        src("app/mod.rs", "//! app\n"),
        src("infra/mod.rs", "//! infra\nuse crate::ordering::Order;\n"),
        src("events/mod.rs", "//! events\nfn f() { crate::catalog::latest(); }\n"),
        src("ordering/mod.rs", "no doc\nuse crate::app::state::AppState;\n"),
        src("ordering/http.rs", "use crate::catalog::Latest;\nfn f() { sqlx::query(\"SELECT 1\"); }\n"),
        src("ordering/store.rs", "use super::http::Basket;\n"),
        src("ordering/rules.rs", "use super::store;\nfn f() { tokio::spawn(async {}); }\n"),
        src("catalog/mod.rs", "//! catalog\nuse crate::{ordering::Order, infra};\n"),
        src("catalog/big.rs", &"x\n".repeat(601)),
        src("catalog/queue.rs", "#[utoipa::path(get)]\nasync fn list() { conn.execute(\"DELETE\", []) }\n"),
        src("catalog/publish.rs", "fn f() { events::record(tx, Topic::Catalog, \"c\", \"catalog.published\", &v); }\n"),
    ];
    let found = breaches(&bad);
    for expected in [
        "infra/mod.rs: infra imports ordering",
        "events/mod.rs: events imports catalog",
        "ordering/mod.rs: a folder's mod.rs opens with a //! doc",
        "ordering/mod.rs: imports app",
        "ordering/http.rs: SQL in a handler file",
        "ordering/store.rs: imports the domain's http",
        "ordering/rules.rs: rules import the store",
        "ordering/rules.rs: rules do I/O",
        "catalog/big.rs: 601 lines",
        "catalog/queue.rs: SQL in a handler file",
        "catalog/publish.rs: an untyped event",
        "import circle:",
    ] {
        assert!(found.iter().any(|f| f.starts_with(expected)), "missed {expected:?} in {found:#?}");
    }
}
