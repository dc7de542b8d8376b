//! The crate layout holds: each layer depends only on the layers below it (its
//! `Cargo.toml` and its imports), and nothing imports through a crate root.
//!
//! ```text
//! functions/*, cli          the edges: Lambda handlers, routers, views, the command line
//! functions/apikit          what the HTTP edges share
//! shared/aws                leadrelay-aws: adapters (DynamoDB, SQS, KMS, HTTP, telemetry)
//! shared                    leadrelay: domain, use cases and the ports adapters implement
//! shared/explain            leadrelay-explain: the classification engine, no I/O
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The names in a manifest's `[dependencies]` table (normal dependencies only).
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
            names.insert(name.to_owned());
        }
    }
    names
}

fn manifest(crate_dir: &str) -> String {
    let path = repo().join(crate_dir).join("Cargo.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under a directory, with its text.
fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join(dir), &mut out);
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// The lines of a source that are code (not comments or doc comments).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim_start()))
        .filter(|(_, l)| !l.starts_with("//"))
}

/// The dependencies a crate may not have, and the first it has of them.
fn forbidden(crate_dir: &str, banned: &[&str]) -> Vec<String> {
    let deps = dependencies(&manifest(crate_dir));
    deps.into_iter()
        .filter(|d| {
            banned
                .iter()
                .any(|b| d == b || (b.ends_with('*') && d.starts_with(&b[..b.len() - 1])))
        })
        .collect()
}

#[test]
fn the_engine_depends_on_serde_httpdate_and_encoding_rs_only() {
    let deps = dependencies(&manifest("shared/explain"));
    // encoding_rs decodes bodies sent in other charsets (pure tables, no I/O).
    let allowed: BTreeSet<String> = ["serde", "serde_json", "httpdate", "encoding_rs"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let extra: Vec<_> = deps.difference(&allowed).collect();
    assert!(
        extra.is_empty(),
        "the engine must stay free of I/O: {extra:?}"
    );
}

#[test]
fn the_domain_depends_on_no_sdk_no_http_client_and_no_adapter() {
    let banned = [
        "aws-*",
        "aws_*",
        "reqwest",
        "hyper*",
        "lambda_*",
        "tracing-subscriber",
        "leadrelay-aws",
    ];
    assert_eq!(forbidden("shared", &banned), Vec::<String>::new());
}

#[test]
fn manifests_are_read_as_written() {
    // The reader the checks above rely on: a table's names, not its neighbours'.
    let m = "[package]\nname = \"x\"\n[dependencies]\nserde.workspace = true\nurl = { workspace = true }\n# note\n[dev-dependencies]\nproptest = \"1\"\n";
    assert_eq!(
        dependencies(m),
        ["serde", "url"].into_iter().map(str::to_owned).collect()
    );
    assert_eq!(
        forbidden("shared/aws", &["aws-sdk-*"]).len(),
        3,
        "the adapters use the DynamoDB, SQS and KMS SDKs"
    );
}

#[test]
fn imports_go_down_the_layers_only() {
    let rules: [(&str, &[&str]); 3] = [
        (
            "shared/explain/src",
            &["leadrelay::", "leadrelay_aws::", "tokio::"],
        ),
        (
            "shared/src",
            &[
                "leadrelay_aws::",
                "aws_sdk_",
                "aws_config::",
                "reqwest::",
                "lambda_http::",
            ],
        ),
        ("shared/aws/src", &["apikit::", "lambda_http::"]),
    ];
    let mut found = Vec::new();
    for (dir, banned) in rules {
        for (path, text) in sources(dir) {
            for (n, line) in code_lines(&text) {
                for b in banned {
                    if line.contains(b) {
                        found.push(format!("{}:{n}: {b}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn nothing_imports_through_a_crate_root() {
    // `leadrelay::Provider` would be an item re-exported at a root; every path names its
    // module (`leadrelay_explain::provider::Provider`).
    let roots = [
        "crate::",
        "leadrelay::",
        "leadrelay_explain::",
        "leadrelay_aws::",
    ];
    let mut found = Vec::new();
    for dir in [
        "shared",
        "functions",
        "cli/src",
        "dev/src",
        "tests",
        "bench/ledger/src",
    ] {
        for (path, text) in sources(dir) {
            for (n, line) in code_lines(&text) {
                for root in roots {
                    let mut rest = line;
                    while let Some(at) = rest.find(root) {
                        let after = &rest[at + root.len()..];
                        let before_ok = at == 0
                            || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                        if before_ok && after.starts_with(|c: char| c.is_ascii_uppercase()) {
                            found.push(format!("{}:{n}: {}", path.display(), line.trim()));
                        }
                        rest = after;
                    }
                }
            }
            let is_root = path.ends_with("src/lib.rs");
            if is_root && code_lines(&text).any(|(_, l)| l.starts_with("pub use")) {
                found.push(format!("{}: re-exports at the root", path.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports through a crate root:\n{}",
        found.join("\n")
    );
}
