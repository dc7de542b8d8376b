//! Prints the length distribution of explanations and remedies over the golden fixtures,
//! and counts texts that break the text rules (quotes, replacement characters, tags).
//!
//! `cargo run -p leadrelay-explain --example texts [fixture dir]`

use leadrelay_explain::input::ExplainInput;
use serde_json::Value;
use std::path::PathBuf;

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain"),
        PathBuf::from,
    );
    let mut explanations = Vec::new();
    let mut remedies = Vec::new();
    let mut quoting = 0;
    let mut broken = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in &files {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read"))
            .expect("fixture is JSON");
        let Ok(input) = ExplainInput::from_value(fixture["input"].clone()) else {
            continue;
        };
        let v = leadrelay_explain::explain::explain(
            input.provider,
            &input.response,
            input.request.as_ref(),
        );
        for text in [&v.explanation, &v.remedy] {
            if text.contains('\u{FFFD}') || (text.contains('<') && text.contains('>')) {
                broken += 1;
            }
        }
        if v.explanation.contains("said: \"") {
            quoting += 1;
        }
        explanations.push(v.explanation.chars().count());
        remedies.push(v.remedy.chars().count());
    }
    println!("{} answers", explanations.len());
    for (name, lengths) in [
        ("explanation", &mut explanations),
        ("remedy", &mut remedies),
    ] {
        lengths.sort_unstable();
        let at = |q: f64| lengths[((lengths.len() - 1) as f64 * q).round() as usize];
        let over = lengths.iter().filter(|n| **n > 300).count();
        println!(
            "{name:<12} chars: median {}, p95 {}, max {}, over 300: {over}",
            at(0.5),
            at(0.95),
            at(1.0)
        );
    }
    println!("explanations quoting the provider: {quoting}");
    println!("texts with U+FFFD or a tag: {broken}");
}
