//! Throughput of the classifier over a realistic mix of provider answers: every golden
//! fixture with a body under 16 KiB (all providers, every outcome), measured three ways in
//! one run: `classify` (no text rendered), `explain` (with the explanation and remedy), and a
//! bare `serde_json::from_slice::<Value>` of the same bodies as the yardstick.
//!
//! Run: `cargo bench -p leadrelay-explain --bench explain` (`EXPLAIN_BENCH_FIXTURES=<dir>`
//! for another set of fixtures). Criterion prints time per pass
//! over the mix and elements per second; the summary at the end prints verdicts per second
//! on one core and the ratios to the JSON parse.

use criterion::{criterion_group, Criterion, Throughput};
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::explain::{classify, explain};
use leadrelay_explain::input::ExplainInput;
use leadrelay_explain::provider::Provider;
use serde_json::{Map, Value};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

type Case = (
    Option<Provider>,
    ProviderResponse,
    Option<Map<String, Value>>,
);

fn mix() -> Vec<Case> {
    // EXPLAIN_BENCH_FIXTURES names another directory of fixtures (an older set, to compare
    // engines on the same answers).
    let dir = std::env::var_os("EXPLAIN_BENCH_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain"),
        std::path::PathBuf::from,
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| {
            let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
            let input = ExplainInput::from_value(fixture.get("input")?.clone()).ok()?;
            (input.response.body.len() < 16 * 1024).then_some((
                input.provider,
                input.response,
                input.request,
            ))
        })
        .collect()
}

fn run_classify(cases: &[Case]) {
    for (p, r, req) in cases {
        black_box(classify(*p, r, req.as_ref()));
    }
}

fn run_explain(cases: &[Case]) {
    for (p, r, req) in cases {
        black_box(explain(*p, r, req.as_ref()));
    }
}

fn run_parse(cases: &[Case]) {
    for (_, r, _) in cases {
        black_box(serde_json::from_slice::<Value>(&r.body).ok());
    }
}

fn benches(c: &mut Criterion) {
    let cases = mix();
    let mut group = c.benchmark_group("explain_mix");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.bench_function("classify", |b| b.iter(|| run_classify(&cases)));
    group.bench_function("explain", |b| b.iter(|| run_explain(&cases)));
    group.bench_function("serde_json_from_slice", |b| b.iter(|| run_parse(&cases)));
    group.finish();
}

/// Passes per second over the mix, timed for about `budget`.
fn rate(cases: &[Case], budget: Duration, f: fn(&[Case])) -> f64 {
    f(cases);
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed() < budget {
        f(cases);
        passes += 1;
    }
    (passes * cases.len() as u64) as f64 / start.elapsed().as_secs_f64()
}

fn summary() {
    let cases = mix();
    let budget = Duration::from_secs(3);
    let classify = rate(&cases, budget, run_classify);
    let explain = rate(&cases, budget, run_explain);
    let parse = rate(&cases, budget, run_parse);
    println!("\nsummary over {} answers (one thread):", cases.len());
    println!("  classify (no text)       {classify:>12.0} verdicts/s");
    println!("  explain (with text)      {explain:>12.0} verdicts/s");
    println!("  serde_json::from_slice   {parse:>12.0} parses/s");
    println!("  classify / parse time    {:>12.2}x", parse / classify);
    println!("  explain / parse time     {:>12.2}x", parse / explain);
}

criterion_group! {
    name = group;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = benches
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
