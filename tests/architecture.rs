//! The dependency direction and purity rules of ARCHITECTURE.md's code map,
//! checked over the source: a small lexer reads every `src/**/*.rs` (comments
//! and `#[cfg(test)]` items left out), resolves each `crate::…` and `super::…`
//! path to the module it names, and the tests below hold those references to
//! the map. Breaking a rule fails here, not in review; a rule the code breaks
//! on purpose is an entry in [`ALLOWANCES`] with its reason.
//!
//! The map's direction, `runtime → s3 → http`, `s3 → {sigv4, auth} → object →
//! cluster → pieces → pipeline`, with `s3` and `object` also using `meta`,
//! `config` read by most and `clock`, `entropy`, `shutdown`, `operation` and
//! `target` at the bottom, reads "may use": a module uses only those to its
//! right. `http` does not know S3: `s3` implements `http`'s handler trait.
//! Beyond the table, the files of `src/` and its top-level modules form no
//! cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What each top-level module may use besides itself, as module paths (a
/// path allows everything under it). Every module of `src/lib.rs` has a row.
const MAY_USE: &[(&str, &[&str])] = &[
    (
        "runtime",
        &[
            "http",
            "s3",
            "sigv4",
            "auth",
            "object_io",
            "pieces",
            "pipeline",
            "meta",
            "config",
            "metrics",
            "registry",
            "cluster",
            "repair",
            "node",
            "clock",
            "entropy",
            "shutdown",
            "operation",
        ],
    ),
    (
        "s3",
        &[
            "http",
            "sigv4",
            "auth",
            "object_io",
            "pieces",
            "pipeline",
            "meta",
            "config",
            "metrics",
            "registry",
            "cluster",
            "clock",
            "entropy",
            "operation",
            "target",
        ],
    ),
    // `http` does not know S3: the gateway is a `RequestHandler`. The
    // connection loop drains on the shutdown signal and dates responses; its
    // fuzz entry drives the request-target decoder over parsed heads.
    ("http", &["config", "shutdown", "clock", "target"]),
    // Pure SigV4; the brief's one possible exception is `pipeline::checksum`.
    // It canonicalises the path and query with the one request-target
    // decoder the gateway routes with, so what is signed is what is served.
    ("sigv4", &["pipeline::checksum", "target"]),
    // Access records and grants are `auth`'s alone: `meta` stores them opaque.
    ("auth", &["pipeline"]),
    // The server side of `auth`: projects, registration, revocation, on `meta`.
    (
        "registry",
        &["auth", "meta", "pipeline", "clock", "entropy"],
    ),
    // Counters named by the S3 operation enum (a pure module) and the commit
    // thread's statistics.
    ("metrics", &["meta", "operation"]),
    // It reads the monotonic clock for the encoder's stage times and the OS
    // random source for segment ids and seals.
    (
        "object_io",
        &[
            "cluster", "pieces", "pipeline", "meta", "config", "clock", "entropy",
        ],
    ),
    // The stores by id: their registry in `meta`, handles from `pieces`
    // (remote ones sign orders with the node protocol's cluster key), health
    // and placement.
    (
        "cluster",
        &["pieces", "pipeline", "meta", "config", "clock", "entropy"],
    ),
    // Audit and repair: segments from `meta`, pieces through `cluster`'s
    // stores, shares rebuilt by `pipeline`.
    (
        "repair",
        &[
            "cluster", "pieces", "pipeline", "meta", "config", "clock", "entropy",
        ],
    ),
    // `pieces::wire` is the node protocol, both sides; `pieces::remote` its
    // client.
    ("pieces", &["pipeline", "clock", "entropy"]),
    // The storage node: pieces on a LocalStore, behind `pieces::wire`; it
    // stops on the shutdown signal.
    (
        "node",
        &[
            "pieces", "pipeline", "config", "shutdown", "clock", "entropy",
        ],
    ),
    // The bottom of the map: `pipeline` never does I/O and uses nothing else
    // (not even `config`, which is built from `pieces` and `pipeline` types).
    ("pipeline", &[]),
    // The metadata contract: records name segments (`pieces::format`) and
    // pipeline types; never S3, HTTP, the runtime, objects or access records.
    // Ids of new uploads and projects come from the OS random source.
    ("meta", &["pieces", "pipeline", "entropy"]),
    // Config builds the settings of the layers below the gateway; it must not
    // reach up into the layers that read it.
    ("config", &["pieces", "pipeline"]),
    // The load generator is a client beside the server: the client signer and
    // the chunked decoder, nothing of the server.
    ("bench", &["sigv4", "http"]),
    // The process's log subscriber, set up from the serve settings.
    ("logging", &["config"]),
    // The `project` and `grant` commands: grants offline, the admin API over HTTP.
    ("cli", &["auth", "clock"]),
    // The wall and monotonic clocks, read in one place; it uses nothing.
    ("clock", &[]),
    // The OS random source, read in one place: it implements the pure
    // `pipeline::random::Entropy` and uses nothing else.
    ("entropy", &["pipeline::random"]),
    // The per-core shutdown signal every server loop watches; it uses nothing.
    ("shutdown", &[]),
    // The S3 operations as one enum, pure vocabulary; it uses nothing.
    ("operation", &[]),
    // The request target's split and its one percent-decoder, shared by
    // `http`, `sigv4` and `s3` (routing, SigV4, copy sources); it uses nothing.
    ("target", &[]),
];

/// Modules ARCHITECTURE.md calls pure (sans-IO): they use no I/O crate or
/// std I/O module and only other pure modules. A path covers its submodules.
/// Randomness and time come in as arguments (`pipeline::random::Entropy`,
/// `now` values, the encoder's `Monotonic`), never from the OS.
const PURE: &[&str] = &[
    "pipeline",
    "operation",
    "sigv4",
    "s3::route",
    "s3::error",
    "s3::names",
    "s3::bucket_config::family",
    "s3::bucket_config::tagging",
    "s3::bucket_config::encryption",
    "s3::versioning",
    "s3::lock",
    "meta::version",
    "s3::xml",
    "s3::fuzz",
    "http::head",
    "http::framing",
    "http::chunked",
    "http::aws_chunked",
    "http::response",
    "http::fuzz",
    "pieces::format",
    "pieces::wire::protocol",
    "bench::hist",
    "bench::content",
    "bench::body",
    "cluster::placement",
    "target",
    "auth",
    "pieces::wire::order",
];

/// Crates and std modules that do I/O (or run the reactor); a pure module
/// names none of them. The OS random source and the clocks count: a pure
/// module that read them would give other answers on every run. The rule
/// matches the paths a module names (`use` trees and qualified paths), so
/// `std::time` covers `Instant`, `SystemTime` and `UNIX_EPOCH` in a signature
/// as well as in a call; `core::time::Duration`, the same type without the
/// clocks, is the spelling a pure module uses for an interval.
const IO_PATHS: &[&str] = &[
    "glommio",
    "redb",
    "libc",
    "rustls",
    "tokio",
    "crossbeam_channel",
    "futures_channel",
    "signal_hook",
    "std::fs",
    "std::net",
    "std::thread",
    "std::process",
    "std::os",
    "std::env",
    "getrandom",
    "std::time",
];

/// Rules the code breaks on purpose: (file, module path it uses, why).
/// An allowance nothing needs any more fails the test, so this list stays true.
const ALLOWANCES: &[(&str, &str, &str)] = &[];

/// String literals naming an S3 error code outside `s3/error.rs`: (file,
/// code, why).
const CODE_ALLOWANCES: &[(&str, &str, &str)] = &[(
    "src/http/conn.rs",
    "InternalError",
    "the last-resort 500 body when a handler never answered; http may not use s3",
)];

// ---------------------------------------------------------------------------
// The rules.

#[test]
fn every_module_has_a_row_and_every_listed_module_exists() {
    let source = Source::load();
    let top: BTreeSet<&str> = source
        .modules
        .iter()
        .filter(|m| m.len() == 1)
        .map(|m| m[0].as_str())
        .collect();
    let rows: BTreeSet<&str> = MAY_USE.iter().map(|(m, _)| *m).collect();
    assert_eq!(top, rows, "src/lib.rs modules and MAY_USE rows differ");
    let listed = MAY_USE
        .iter()
        .flat_map(|(_, uses)| uses.iter())
        .chain(PURE)
        .chain(ALLOWANCES.iter().map(|(_, module, _)| module));
    for module in listed {
        assert!(
            source.modules.contains(&split(module)),
            "{module} is not a module of src/"
        );
    }
}

#[test]
fn modules_use_only_what_the_map_allows() {
    let source = Source::load();
    let mut violations = Vec::new();
    let mut used_allowances = BTreeSet::new();
    // The crate root only declares the modules.
    for file in source.files.iter().filter(|f| !f.module.is_empty()) {
        let own = &file.module[0];
        let allowed = MAY_USE
            .iter()
            .find(|(m, _)| m == own)
            .map(|(_, uses)| *uses)
            .unwrap_or_default();
        for (target, line) in &file.uses {
            if &target[0] == own || allowed.iter().any(|a| starts_with(target, a)) {
                continue;
            }
            let allowance = ALLOWANCES
                .iter()
                .position(|(f, m, _)| *f == file.path && starts_with(target, m));
            match allowance {
                Some(index) => {
                    used_allowances.insert(index);
                }
                None => violations.push(format!(
                    "{}:{line}: {} uses {}, outside what MAY_USE allows it ({allowed:?})",
                    file.path,
                    own,
                    target.join("::")
                )),
            }
        }
    }
    for (index, (file, module, _)) in ALLOWANCES.iter().enumerate() {
        if !used_allowances.contains(&index) {
            violations.push(format!("allowance ({file}, {module}) is no longer needed"));
        }
    }
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
}

#[test]
fn pure_modules_do_no_io_and_use_only_pure_modules() {
    let source = Source::load();
    let mut violations = Vec::new();
    for file in source.files.iter().filter(|f| is_pure(&f.module)) {
        for (target, line) in &file.uses {
            let module = source.owning_module(target);
            if !is_pure(&module) {
                violations.push(format!(
                    "{}:{line}: pure module {} uses {} (module {}, not pure)",
                    file.path,
                    file.module.join("::"),
                    target.join("::"),
                    module.join("::")
                ));
            }
        }
        for (path, line) in &file.external {
            if let Some(io) = io_path(path) {
                violations.push(format!(
                    "{}:{line}: pure module {} uses {} ({io} does I/O)",
                    file.path,
                    file.module.join("::"),
                    path.join("::")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
}

/// "Only `s3/error.rs` knows S3 error codes": no other file spells a code
/// in a string literal (tests aside). Other files name codes only through
/// `S3ErrorCode`, which only `s3` uses.
#[test]
fn only_s3_error_knows_s3_error_codes() {
    let source = Source::load();
    let codes = error_codes();
    assert!(codes.len() > 30 && codes.contains("NoSuchKey"), "{codes:?}");
    let mut violations = Vec::new();
    let mut used_allowances = BTreeSet::new();
    for file in &source.files {
        if file.path == "src/s3/error.rs" {
            continue;
        }
        for (literal, line) in &file.strings {
            for word in words(literal).filter(|w| codes.contains(*w)) {
                let allowance = CODE_ALLOWANCES
                    .iter()
                    .position(|(f, code, _)| *f == file.path && *code == word);
                match allowance {
                    Some(index) => {
                        used_allowances.insert(index);
                    }
                    None => violations.push(format!(
                        "{}:{line}: the S3 error code {word} is spelled outside s3/error.rs",
                        file.path
                    )),
                }
            }
        }
        let knows_the_type = file
            .idents
            .iter()
            .any(|(id, _)| id == "S3ErrorCode" || id == "S3Error");
        if knows_the_type && file.module.first().map(String::as_str) != Some("s3") {
            violations.push(format!(
                "{} uses S3Error outside s3: only s3 (its map.rs) turns errors into S3 errors",
                file.path
            ));
        }
    }
    for (index, (file, code, _)) in CODE_ALLOWANCES.iter().enumerate() {
        if !used_allowances.contains(&index) {
            violations.push(format!(
                "code allowance ({file}, {code}) is no longer needed"
            ));
        }
    }
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
}

/// No two files of `src/` depend on each other, directly or around a loop:
/// a helper several files share lives below all of them, never in one of
/// them. An edge is a `crate::`, `super::`, `self::` or child-module path to
/// an item, followed through `pub use` to the file that defines it.
#[test]
fn files_form_no_cycle() {
    let source = Source::load();
    let mut graph = Graph::default();
    for file in &source.files {
        for (target, line) in &file.uses {
            let to = source.file_defining(target);
            if to != file.path {
                graph.edge(
                    &file.path,
                    to,
                    format!("{}:{line} uses {}", file.path, target.join("::")),
                );
            }
        }
    }
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "files that depend on each other:\n{}",
        cycles.join("\n")
    );
}

/// Nor do the top-level modules: the direction of ARCHITECTURE.md's map is
/// a direction, not only a list of what each module may use.
#[test]
fn modules_form_no_cycle() {
    let source = Source::load();
    let mut graph = Graph::default();
    for file in source.files.iter().filter(|f| !f.module.is_empty()) {
        for (target, line) in &file.uses {
            let to = source.owning_module(&source.resolve(target));
            if to[0] != file.module[0] {
                let why = format!("{}:{line} uses {}", file.path, target.join("::"));
                graph.edge(&file.module[0], &to[0], why);
            }
        }
    }
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "modules that depend on each other:\n{}",
        cycles.join("\n")
    );
}

/// A directed graph with, for each edge, the first reference that made it.
#[derive(Default)]
struct Graph {
    edges: BTreeMap<String, BTreeMap<String, String>>,
}

impl Graph {
    fn edge(&mut self, from: &str, to: &str, why: String) {
        self.edges.entry(to.to_string()).or_default();
        self.edges
            .entry(from.to_string())
            .or_default()
            .entry(to.to_string())
            .or_insert(why);
    }

    /// Each strongly connected component of more than one node, as its
    /// members and the edges between them (Tarjan's algorithm).
    fn cycles(&self) -> Vec<String> {
        let nodes: Vec<&String> = self.edges.keys().collect();
        let index_of: BTreeMap<&String, usize> =
            nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let successors: Vec<Vec<usize>> = nodes
            .iter()
            .map(|n| self.edges[*n].keys().map(|m| index_of[m]).collect())
            .collect();
        let mut tarjan = Tarjan::new(nodes.len());
        for v in 0..nodes.len() {
            if tarjan.index[v].is_none() {
                tarjan.visit(v, &successors);
            }
        }
        tarjan
            .components
            .iter()
            .filter(|c| c.len() > 1)
            .map(|component| {
                let members: BTreeSet<&String> = component.iter().map(|&v| nodes[v]).collect();
                let mut text = format!(
                    "{} form a cycle:",
                    members
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for from in &members {
                    for (to, why) in &self.edges[*from] {
                        if members.contains(to) {
                            text.push_str(&format!("\n    {from} → {to}: {why}"));
                        }
                    }
                }
                text
            })
            .collect()
    }
}

struct Tarjan {
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(n: usize) -> Self {
        Tarjan {
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            components: Vec::new(),
        }
    }

    fn visit(&mut self, v: usize, successors: &[Vec<usize>]) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &successors[v] {
            match self.index[w] {
                None => {
                    self.visit(w, successors);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(index) if self.on_stack[w] => self.low[v] = self.low[v].min(index),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            loop {
                let w = self.stack.pop().expect("v is on the stack");
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

/// The cycle checks see through re-exports and relative child paths.
#[test]
fn the_graph_follows_reexports_and_finds_cycles() {
    let mut graph = Graph::default();
    graph.edge("a", "b", "a uses b".into());
    graph.edge("b", "c", "b uses c".into());
    graph.edge("c", "a", "c uses a".into());
    graph.edge("c", "d", "c uses d".into());
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].starts_with("a, b, c form a cycle"), "{cycles:?}");
    assert!(!cycles[0].contains("→ d"), "{cycles:?}");

    let parent = scan(
        "src/m/mod.rs",
        &split("m"),
        "mod child; mod types; pub use types::*; pub(crate) use child::Thing as Alias; fn f() { child::go(); }",
    );
    let child = scan(
        "src/m/child.rs",
        &split("m::child"),
        "pub struct Thing; fn go() { super::Record::new(); }",
    );
    let types = scan("src/m/types.rs", &split("m::types"), "pub struct Record;");
    let mut source = Source {
        files: vec![parent, child, types],
        modules: [split("m"), split("m::child"), split("m::types")].into(),
        file_of: BTreeMap::new(),
        reexports: BTreeMap::new(),
        globs: BTreeMap::new(),
        defined: BTreeSet::new(),
    };
    source.link();
    assert_eq!(
        source.file_defining(&split("m::Record::new")),
        "src/m/types.rs"
    );
    assert_eq!(source.file_defining(&split("m::Alias")), "src/m/child.rs");
    let parent_uses: Vec<String> = source.files[0]
        .uses
        .iter()
        .map(|(p, _)| p.join("::"))
        .collect();
    assert!(
        parent_uses.contains(&"m::child::go".to_string()),
        "{parent_uses:?}"
    );
}

/// The most lines a function of `src/` may span, test code aside: a function
/// that fits on a screen is read whole.
const FUNCTION_LINES_MAX: usize = 100;

/// Functions longer than [`FUNCTION_LINES_MAX`] that are still to be split:
/// (file, function). One that has been split fails the test until its entry
/// goes, so this list only shrinks.
const LONG_FUNCTIONS: &[(&str, &str)] = &[];

#[test]
fn functions_fit_on_a_screen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = BTreeSet::new();
    // The files `Source` keeps: test modules' files left out.
    for file in Source::load().files {
        let text = fs::read_to_string(root.join(&file.path)).expect("source file");
        let (tokens, _) = strip_test_items(lex(&text));
        for (name, lines) in function_lengths(&tokens) {
            if lines > FUNCTION_LINES_MAX {
                long.insert((file.path.clone(), name, lines));
            }
        }
    }
    let mut violations = Vec::new();
    for (file, name, lines) in &long {
        if !LONG_FUNCTIONS.contains(&(file.as_str(), name.as_str())) {
            violations.push(format!(
                "{file}: fn {name} is {lines} lines (at most {FUNCTION_LINES_MAX})"
            ));
        }
    }
    for (file, name) in LONG_FUNCTIONS {
        if !long.iter().any(|(f, n, _)| f == file && n == name) {
            violations.push(format!(
                "{file}: fn {name} fits now; drop it from LONG_FUNCTIONS"
            ));
        }
    }
    assert!(violations.is_empty(), "\n{}", violations.join("\n"));
}

#[test]
fn function_lengths_count_from_fn_to_the_closing_brace() {
    let text = "fn a() {}\nfn b<T: Into<u8>>(x: T) -> Result<(), ()>\nwhere\n    T: Copy,\n{\n    Ok(())\n}\ntrait T { fn c(&self); }\n#[cfg(test)]\nfn d() {\n}\n";
    let (tokens, _) = strip_test_items(lex(text));
    assert_eq!(
        function_lengths(&tokens),
        [("a".to_string(), 1), ("b".to_string(), 6)]
    );
}

/// Each function with a body: its name and the lines from `fn` to its
/// closing brace.
fn function_lengths(tokens: &[(Tok, usize)]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let (Tok::Ident(keyword), start) = &tokens[i] else {
            continue;
        };
        let Some((Tok::Ident(name), _)) = tokens.get(i + 1) else {
            continue;
        };
        if keyword != "fn" {
            continue;
        }
        // The body is the first brace outside the signature's brackets.
        let mut j = i + 2;
        let mut depth = 0i32;
        while j < tokens.len() {
            match &tokens[j].0 {
                Tok::Punct('(' | '[' | '<') => depth += 1,
                Tok::Punct(')' | ']' | '>') => depth -= 1,
                Tok::Punct(';') if depth <= 0 => break,
                Tok::Punct('{') if depth <= 0 => {
                    let end = skip_group(tokens, j);
                    out.push((name.clone(), tokens[end - 1].1 - start + 1));
                    break;
                }
                _ => {}
            }
            j += 1;
        }
    }
    out
}

/// The module graph as the scanner sees it, for reading alongside
/// ARCHITECTURE.md: `cargo test --test architecture -- --ignored --nocapture`.
#[test]
#[ignore]
fn print_module_graph() {
    let source = Source::load();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source.files.iter().filter(|f| !f.module.is_empty()) {
        for (target, _) in &file.uses {
            if target[0] != file.module[0] {
                let module = source.owning_module(target).join("::");
                edges
                    .entry(file.module.join("::"))
                    .or_default()
                    .insert(module);
            }
        }
    }
    for (from, to) in edges {
        println!("{from} → {}", to.into_iter().collect::<Vec<_>>().join(", "));
    }
}

/// The clocks and the OS random source are I/O wherever a pure module names
/// them, in a call or in a signature; an interval is not.
#[test]
fn clocks_and_randomness_count_as_io() {
    let text = "use std::time::{Instant, SystemTime};
        use core::time::Duration;
        fn f(now: std::time::SystemTime, d: Duration) -> u64 {
            getrandom::fill(&mut [0u8; 4]).unwrap();
            std::time::Instant::now().elapsed().as_secs()
        }";
    let file = scan("src/pipeline/x.rs", &split("pipeline::x"), text);
    let io: Vec<String> = file
        .external
        .iter()
        .filter(|(path, _)| io_path(path).is_some())
        .map(|(path, _)| path.join("::"))
        .collect();
    assert_eq!(
        io,
        [
            "std::time::Instant",
            "std::time::SystemTime",
            "std::time::SystemTime",
            "getrandom::fill",
            "std::time::Instant::now",
        ]
        .map(String::from)
    );
}

/// The lexer and path resolution this file relies on, on known inputs.
#[test]
fn the_scanner_reads_paths_strings_and_skips_tests() {
    let text = r##"
        //! Mentions crate::runtime in a comment.
        use crate::{pipeline::{checksum, layout::Layout as L}, meta};
        use super::super::names;
        /* crate::object_io /* nested */ */
        #[serde(with = "crate::meta::codec::erasure")]
        struct S<'a>(&'a str, char);
        mod inner { use super::sibling::X; }
        fn f() { let _ = (crate::pieces::format::SegmentId::random(), '"', r#"NoSuchKey "q""#); }
        #[cfg(test)]
        mod tests { use crate::runtime::Core; const X: &str = "AccessDenied"; }
        #[cfg(test)]
        mod more;
        fn g() -> glommio::Task<()> { std::fs::read("x"); }
    "##;
    let file = scan("src/s3/xml/request.rs", &split("s3::xml::request"), text);
    let uses: Vec<String> = file.uses.iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(
        uses,
        [
            "pipeline::checksum",
            "pipeline::layout::Layout",
            "meta",
            "s3::names",
            "meta::codec::erasure",
            "s3::xml::request::sibling::X",
            "pieces::format::SegmentId::random",
        ]
        .map(String::from)
    );
    let strings: Vec<&str> = file.strings.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        strings,
        ["crate::meta::codec::erasure", "NoSuchKey \"q\"", "x"]
    );
    let external: Vec<String> = file.external.iter().map(|(p, _)| p.join("::")).collect();
    assert!(
        external.contains(&"glommio::Task".to_string()),
        "{external:?}"
    );
    assert!(
        external.contains(&"std::fs::read".to_string()),
        "{external:?}"
    );
    assert_eq!(file.test_modules, ["more"]);
}

// ---------------------------------------------------------------------------
// The source tree.

struct Source {
    files: Vec<File>,
    /// Every module: from files, and inline `mod name { … }` blocks.
    modules: BTreeSet<Vec<String>>,
    /// The file each module is written in.
    file_of: BTreeMap<Vec<String>, String>,
    /// (module, name) → the path `pub use` gives that name.
    reexports: BTreeMap<(Vec<String>, String), Vec<String>>,
    /// Module → the modules it re-exports whole (`pub use x::*`).
    globs: BTreeMap<Vec<String>, Vec<Vec<String>>>,
    defined: BTreeSet<(Vec<String>, String)>,
}

struct File {
    /// Relative to the crate root, `/`-separated.
    path: String,
    module: Vec<String>,
    /// `crate::` and `super::` paths, resolved to absolute paths, with lines.
    uses: Vec<(Vec<String>, usize)>,
    /// Paths rooted in anything else (`std::fs::File`, `glommio::…`).
    external: Vec<(Vec<String>, usize)>,
    strings: Vec<(String, usize)>,
    idents: Vec<(String, usize)>,
    /// `#[cfg(test)] mod name;` declarations: their files are test code.
    test_modules: Vec<String>,
    inline_modules: Vec<Vec<String>>,
    /// Paths rooted in neither `crate`, `super` nor `self`, with the module
    /// they appear in: a child module's name (`order::Order` in `node`) makes
    /// one a use, resolved once every module is known.
    relative: Vec<(Vec<String>, Vec<String>, usize)>,
    /// `pub use` items: what another module reaches through this one.
    reexports: Vec<Reexport>,
    /// Items defined here (functions, types, constants), by module.
    defined: Vec<(Vec<String>, String)>,
}

/// `pub use path as name;` in `module`.
struct Reexport {
    module: Vec<String>,
    name: String,
    path: Vec<String>,
    /// Rooted in `crate`, `super` or `self`; else relative to `module`.
    rooted: bool,
}

/// Keywords whose next identifier names an item defined where they stand.
const ITEM_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod",
];

/// Whether the path root at `i` follows `pub use` (or `pub(crate) use`).
fn is_reexport(tokens: &[(Tok, usize)], i: usize) -> bool {
    if i < 2 || !is_ident(tokens, i - 1, "use") {
        return false;
    }
    is_ident(tokens, i - 2, "pub")
        || (is_punct(tokens, i - 2, ')') && i >= 5 && is_ident(tokens, i - 5, "pub"))
}

impl Source {
    fn load() -> Source {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        collect_rs(&root.join("src"), &mut paths);
        paths.sort();
        let mut files: Vec<File> = paths
            .iter()
            .filter(|path| !path.ends_with("main.rs"))
            .map(|path| {
                let relative = path.strip_prefix(root).unwrap();
                let relative = relative.to_string_lossy().replace('\\', "/");
                let module = module_of(&relative);
                let text = fs::read_to_string(path).expect("source file");
                scan(&relative, &module, &text)
            })
            .collect();
        // Files of `#[cfg(test)] mod x;` are test code, like inline test modules.
        let test_files: BTreeSet<Vec<String>> = files
            .iter()
            .flat_map(|f| {
                f.test_modules.iter().map(|name| {
                    let mut module = f.module.clone();
                    module.push(name.clone());
                    module
                })
            })
            .collect();
        files.retain(|f| !test_files.contains(&f.module));
        let mut modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
        modules.extend(files.iter().flat_map(|f| f.inline_modules.iter().cloned()));
        let mut source = Source {
            files,
            modules,
            file_of: BTreeMap::new(),
            reexports: BTreeMap::new(),
            globs: BTreeMap::new(),
            defined: BTreeSet::new(),
        };
        source.link();
        source
    }

    /// Resolves relative paths now that every module is known, and gathers
    /// what path resolution needs: files, re-exports, defined items.
    fn link(&mut self) {
        for file in &mut self.files {
            let relative = std::mem::take(&mut file.relative);
            for (here, path, line) in relative {
                let mut child = here.clone();
                child.push(path[0].clone());
                if self.modules.contains(&child) {
                    file.uses.push(([here, path].concat(), line));
                }
            }
            self.file_of.insert(file.module.clone(), file.path.clone());
            for inline in &file.inline_modules {
                self.file_of.insert(inline.clone(), file.path.clone());
            }
            self.defined.extend(file.defined.iter().cloned());
            for reexport in &file.reexports {
                let path = if reexport.rooted {
                    reexport.path.clone()
                } else {
                    [reexport.module.clone(), reexport.path.clone()].concat()
                };
                if !reexport.rooted && !self.modules.contains(&path[..reexport.module.len() + 1]) {
                    continue; // a re-export from another crate
                }
                if reexport.name == "*" {
                    self.globs
                        .entry(reexport.module.clone())
                        .or_default()
                        .push(path);
                } else {
                    self.reexports
                        .insert((reexport.module.clone(), reexport.name.clone()), path);
                }
            }
        }
    }

    /// Where `path` really leads: through `pub use` re-exports (named or
    /// glob) to the module that defines the item.
    fn resolve(&self, path: &[String]) -> Vec<String> {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let module = self.owning_module(&path);
            let Some(name) = path.get(module.len()) else {
                break;
            };
            let key = (module.clone(), name.clone());
            let target = if let Some(target) = self.reexports.get(&key) {
                target.clone()
            } else if self.defined.contains(&key) {
                break;
            } else {
                let from_glob = self.globs.get(&module).into_iter().flatten().find(|glob| {
                    let key = ((*glob).clone(), name.clone());
                    self.defined.contains(&key) || self.reexports.contains_key(&key)
                });
                match from_glob {
                    Some(glob) => [glob.clone(), vec![name.clone()]].concat(),
                    None => break,
                }
            };
            let next = [target, path[module.len() + 1..].to_vec()].concat();
            if next == path {
                break;
            }
            path = next;
        }
        path
    }

    /// The file that defines what `path` names.
    fn file_defining(&self, path: &[String]) -> &str {
        let module = self.owning_module(&self.resolve(path));
        (0..=module.len())
            .rev()
            .find_map(|n| self.file_of.get(&module[..n]))
            .map_or("src/lib.rs", String::as_str)
    }

    /// The longest prefix of `path` that is a module: what `path` names or
    /// the module it is an item of.
    fn owning_module(&self, path: &[String]) -> Vec<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|prefix| self.modules.contains(prefix))
            .unwrap_or_else(|| path[..1].to_vec())
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/s3/xml/request.rs` → `s3::xml::request`; `src/http/mod.rs` → `http`;
/// `src/lib.rs` → the crate root (empty).
fn module_of(path: &str) -> Vec<String> {
    let inner = path
        .strip_prefix("src/")
        .unwrap()
        .strip_suffix(".rs")
        .unwrap();
    let mut module: Vec<String> = inner.split('/').map(String::from).collect();
    if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
        module.pop();
    }
    module
}

fn split(path: &str) -> Vec<String> {
    path.split("::").map(String::from).collect()
}

fn starts_with(path: &[String], prefix: &str) -> bool {
    let prefix = split(prefix);
    path.len() >= prefix.len() && path[..prefix.len()] == prefix[..]
}

/// The entry of [`IO_PATHS`] that `path` is under, if any.
fn io_path(path: &[String]) -> Option<&'static str> {
    IO_PATHS.iter().copied().find(|io| starts_with(path, io))
}

fn is_pure(module: &[String]) -> bool {
    PURE.iter().any(|p| starts_with(module, p))
}

/// The codes of `error_table!` in `src/s3/error.rs`: each row's identifier.
fn error_codes() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/s3/error.rs");
    let text = fs::read_to_string(path).expect("src/s3/error.rs");
    let table = text
        .split("error_table! {")
        .nth(1)
        .expect("the error_table! invocation");
    let table = &table[..table.find("\n}").expect("its end")];
    table
        .lines()
        .filter_map(|line| line.trim().split_once(" =>"))
        .map(|(code, _)| code.to_string())
        .collect()
}

/// The identifier-like words of a string.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

// ---------------------------------------------------------------------------
// The scanner: a lexer good enough for paths, strings and test items.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    Str(String),
    /// Numbers, char literals and lifetimes: nothing to check in them.
    Other,
}

fn lex(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let start_line = line;
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= chars.len() {
                    break;
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' || ((c == 'b' || c == 'c') && at(i + 1) == '"') {
            i += if c == '"' { 1 } else { 2 };
            let mut s = String::new();
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    s.push(chars[i]);
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                s.push(at(i));
                i += 1;
            }
            i += 1;
            tokens.push((Tok::Str(s), start_line));
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"…", r#"…"#, br#"…"#, cr"…".
            while chars[i] != '"' {
                i += 1;
            }
            i += 1;
            let mut s = String::new();
            loop {
                if i >= chars.len() {
                    break;
                }
                if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                line += usize::from(chars[i] == '\n');
                s.push(chars[i]);
                i += 1;
            }
            tokens.push((Tok::Str(s), start_line));
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let q = if c == '\'' { i } else { i + 1 };
            if at(q + 1) == '\\' {
                // An escaped char literal: past the escaped character, up to
                // the closing quote.
                i = q + 3;
                while at(i) != '\'' && i < chars.len() {
                    i += 1;
                }
                i += 1;
            } else if at(q + 2) == '\'' {
                i = q + 3;
            } else {
                // A lifetime or label.
                i = q + 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
            tokens.push((Tok::Other, start_line));
        } else if c.is_alphabetic() || c == '_' {
            if c == 'r' && at(i + 1) == '#' {
                i += 2; // r#ident
            }
            let begin = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let ident: String = chars[begin..i].iter().collect();
            tokens.push((Tok::Ident(ident), start_line));
        } else if c.is_ascii_digit() {
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            tokens.push((Tok::Other, start_line));
        } else {
            tokens.push((Tok::Punct(c), start_line));
            i += 1;
        }
    }
    tokens
}

/// `Some(number of #)` if a raw string starts at `i`.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(chars.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some(hashes)
}

fn is_punct(tokens: &[(Tok, usize)], i: usize, c: char) -> bool {
    matches!(tokens.get(i), Some((Tok::Punct(p), _)) if *p == c)
}

fn is_ident(tokens: &[(Tok, usize)], i: usize, name: &str) -> bool {
    matches!(tokens.get(i), Some((Tok::Ident(id), _)) if id == name)
}

fn is_path_sep(tokens: &[(Tok, usize)], i: usize) -> bool {
    is_punct(tokens, i, ':') && is_punct(tokens, i + 1, ':')
}

/// The index just past the bracketed group opening at `i`.
fn skip_group(tokens: &[(Tok, usize)], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < tokens.len() {
        match &tokens[i].0 {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Removes `#[cfg(test)]` items (attribute included); returns the names of
/// test modules declared without a body.
fn strip_test_items(tokens: Vec<(Tok, usize)>) -> (Vec<(Tok, usize)>, Vec<String>) {
    let cfg_test = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    let (mut kept, mut test_modules) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < tokens.len() {
        let is_cfg_test = tokens.len() >= i + cfg_test.len()
            && tokens[i..i + cfg_test.len()]
                .iter()
                .map(|(t, _)| t)
                .eq(cfg_test.iter());
        if !is_cfg_test {
            kept.push(tokens[i].clone());
            i += 1;
            continue;
        }
        i += cfg_test.len();
        while is_punct(&tokens, i, '#') {
            i = skip_group(&tokens, i + 1); // further attributes
        }
        let mut depth = 0i32;
        let item_start = i;
        while i < tokens.len() {
            match &tokens[i].0 {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']') => depth -= 1,
                Tok::Punct('{') if depth == 0 => {
                    i = skip_group(&tokens, i);
                    break;
                }
                Tok::Punct(';') if depth == 0 => {
                    if is_ident(&tokens, i - 2, "mod") {
                        if let (Tok::Ident(name), _) = &tokens[i - 1] {
                            test_modules.push(name.clone());
                        }
                    }
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        debug_assert!(i > item_start);
    }
    (kept, test_modules)
}

/// One path of a use tree and the name it is bound to (`*` for a glob).
struct Leaf {
    path: Vec<String>,
    name: String,
}

/// Parses a path or use tree at `i` under `prefix`, pushing every full
/// path and the name it binds; returns the index just past it.
fn use_leaves(tokens: &[(Tok, usize)], i: usize, prefix: &[String], out: &mut Vec<Leaf>) -> usize {
    let bound = |path: Vec<String>, at: usize, out: &mut Vec<Leaf>| {
        let name = match tokens.get(at + 2) {
            Some((Tok::Ident(alias), _)) if is_ident(tokens, at + 1, "as") => alias.clone(),
            _ => path.last().cloned().unwrap_or_default(),
        };
        out.push(Leaf { path, name });
    };
    match tokens.get(i) {
        Some((Tok::Punct('{'), _)) => {
            let end = skip_group(tokens, i);
            let mut j = i + 1;
            while j < end - 1 {
                j = use_leaves(tokens, j, prefix, out);
                // On to the next entry, past an `as` rename.
                while j < end - 1 && !is_punct(tokens, j, ',') {
                    j += 1;
                }
                j += 1;
            }
            end
        }
        Some((Tok::Ident(name), _)) if name == "self" => {
            bound(prefix.to_vec(), i, out);
            i + 1
        }
        Some((Tok::Ident(name), _)) => {
            let mut path = prefix.to_vec();
            path.push(name.clone());
            if is_path_sep(tokens, i + 1) && !is_punct(tokens, i + 3, '<') {
                use_leaves(tokens, i + 3, &path, out)
            } else {
                bound(path, i, out);
                i + 1
            }
        }
        // `*`, or a turbofish.
        _ => {
            let name = if is_punct(tokens, i, '*') { "*" } else { "" };
            out.push(Leaf {
                path: prefix.to_vec(),
                name: name.to_string(),
            });
            i + 1
        }
    }
}

/// The module path inside `inline` modules of a file's `module`.
fn inner_module(module: &[String], inline: &[(String, usize)]) -> Vec<String> {
    let mut m = module.to_vec();
    m.extend(inline.iter().map(|(name, _)| name.clone()));
    m
}

fn scan(path: &str, module: &[String], text: &str) -> File {
    let (tokens, test_modules) = strip_test_items(lex(text));
    let mut file = File {
        path: path.to_string(),
        module: module.to_vec(),
        uses: Vec::new(),
        external: Vec::new(),
        strings: Vec::new(),
        idents: Vec::new(),
        test_modules,
        inline_modules: Vec::new(),
        relative: Vec::new(),
        reexports: Vec::new(),
        defined: Vec::new(),
    };
    // Inline modules: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        let line = *line;
        match token {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(id) if id == "mod" && is_punct(&tokens, i + 2, '{') => {
                if let (Tok::Ident(name), _) = &tokens[i + 1] {
                    inline.push((name.clone(), depth + 1));
                    file.inline_modules.push(inner_module(module, &inline));
                }
            }
            Tok::Str(s) => {
                file.strings.push((s.clone(), line));
                if let Some(rest) = s.strip_prefix("crate::") {
                    file.uses.push((split(rest), line));
                }
            }
            Tok::Ident(id) if is_path_sep(&tokens, i + 1) && id != "Self" => {
                // A path root (later segments are skipped with the tree).
                let here = inner_module(module, &inline);
                let reexport = is_reexport(&tokens, i);
                let mut found = Vec::new();
                let (end, rooted) = match id.as_str() {
                    "crate" => (use_leaves(&tokens, i + 3, &[], &mut found), true),
                    "self" => (use_leaves(&tokens, i + 3, &here, &mut found), true),
                    "super" => {
                        let mut base = here.clone();
                        let mut j = i;
                        while is_ident(&tokens, j, "super") && is_path_sep(&tokens, j + 1) {
                            base.pop();
                            j += 3;
                        }
                        (use_leaves(&tokens, j, &base, &mut found), true)
                    }
                    _ => (use_leaves(&tokens, i, &[], &mut found), false),
                };
                if reexport {
                    file.reexports.extend(found.iter().map(|leaf| Reexport {
                        module: here.clone(),
                        name: leaf.name.clone(),
                        path: leaf.path.clone(),
                        rooted,
                    }));
                }
                for leaf in found {
                    if rooted {
                        file.uses.push((leaf.path, line));
                    } else {
                        file.relative.push((here.clone(), leaf.path.clone(), line));
                        file.external.push((leaf.path, line));
                    }
                }
                // Idents of the path still count as idents (S3Error and the like).
                for (t, l) in &tokens[i..end] {
                    if let Tok::Ident(id) = t {
                        file.idents.push((id.clone(), *l));
                    }
                }
                i = end;
                continue;
            }
            Tok::Ident(id) if ITEM_KEYWORDS.contains(&id.as_str()) => {
                if let Some((Tok::Ident(name), _)) = tokens.get(i + 1) {
                    let here = inner_module(module, &inline);
                    file.defined.push((here, name.clone()));
                }
                file.idents.push((id.clone(), line));
            }
            Tok::Ident(id) => file.idents.push((id.clone(), line)),
            _ => {}
        }
        i += 1;
    }
    file
}
