//! The deployment template's invariants, checked over the parsed `infra/template.yaml`.
//!
//! Each check is a function from a parsed [`Template`] (read by
//! `leadrelay_dev::template::read`, the one reader the local setup uses too) to the list of
//! its violations (empty when it holds). `the_repository_template_keeps_every_invariant`
//! runs them all on the real template; every other test feeds one check a deliberately
//! broken copy and asserts that the break is caught, so a check that silently passes
//! everything cannot survive.
//!
//! What is checked, and why:
//! - the delivery queue's visibility timeout is at least six times the deliver function's
//!   timeout (AWS's advice for event source mappings; reliability.md #5);
//! - dead-letter redrive waits for at least five receives, to an existing queue that keeps
//!   messages longer than its source (a dead-lettered message keeps its enqueue time) and
//!   whose RedriveAllowPolicy names the source;
//! - the mapping reports partial batch failures, sets its batch size, window and maximum
//!   concurrency, and that concurrency never exceeds the function's reserved concurrency;
//! - one wave of attempts fits the deliver function's timeout;
//! - every function's environment names resources of the template, of the right type,
//!   covers every variable its `Config::from_env` requires (read from `config.rs`), and
//!   sets nothing the function never reads;
//! - every route belongs to one function on an API of the template, is that function's
//!   `ROUTES` entry and the reverse, and `dev::gateway::function_for` sends it there;
//! - the local setup (`dev::template::parse`) sees the same tables, queues and keys;
//! - runtime, architecture, cargo-lambda build, JSON logs with retention per function;
//!   the table's billing, TTL, recovery, encryption and the indexes the code queries;
//! - log readers and ingest can never open integration credentials;
//! - no function, and nothing else in the template, sets `EGRESS_ALLOW_LOOPBACK` or the
//!   local runner's marker (loopback destinations are for local runs and tests only; the
//!   functions also refuse to start with the switch under AWS Lambda);
//! - the alarms and outputs the deployment guide relies on exist.
//! - every reference names a resource or parameter (cfn-lint skips SAM inline policies),
//!   and every checkov skip names its check and gives a reason.

use leadrelay::deliver::semantics;
use leadrelay_dev::template as local;
use leadrelay_dev::template::read::{
    get, number, refs, single_ref, sub_text, text, texts, Template, DEFAULT_RETENTION_S,
    DEFAULT_TIMEOUT_S, DEFAULT_VISIBILITY_S,
};
use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

// --- what the code says ----------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// What one function's code reads from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct EnvUse {
    /// `required("X")` in `config.rs`: `Config::from_env` fails without them.
    required: BTreeSet<String>,
    /// Every upper-case name quoted in `config.rs` and `main.rs` (optional settings too).
    read: BTreeSet<String>,
}

/// The quoted SCREAMING_SNAKE names in `source`, and those passed to `required(..)`.
fn env_use(source: &str) -> EnvUse {
    let mut out = EnvUse::default();
    for (i, piece) in source.split('"').enumerate() {
        let is_name = i % 2 == 1
            && piece.len() > 1
            && piece.starts_with(|c: char| c.is_ascii_uppercase())
            && piece
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_name {
            out.read.insert(piece.to_owned());
        }
    }
    let mut rest = source;
    while let Some(at) = rest.find("required(\"") {
        let after = &rest[at + "required(\"".len()..];
        if let Some(end) = after.find('"') {
            out.required.insert(after[..end].to_owned());
        }
        rest = after;
    }
    out
}

/// What each function binary's `config.rs` and `main.rs` read.
fn env_uses(t: &Template) -> BTreeMap<String, EnvUse> {
    let mut out = BTreeMap::new();
    for binary in t.functions.iter().filter_map(|f| f.binary.clone()) {
        let dir = repo().join("functions").join(&binary).join("src");
        let config = std::fs::read_to_string(dir.join("config.rs")).unwrap_or_default();
        let main = std::fs::read_to_string(dir.join("main.rs")).unwrap_or_default();
        let mut u = env_use(&config);
        u.read.extend(env_use(&main).read);
        out.insert(binary, u);
    }
    out
}

/// Variables read by the shared code or the Lambda runtime, not by a function's own config.
const RUNTIME_VARIABLES: &[&str] = &["RUST_LOG"];

/// The resource type an environment variable must name.
const VARIABLE_TYPES: &[(&str, &str)] = &[
    ("TABLE_NAME", "AWS::DynamoDB::Table"),
    ("QUEUE_URL", "AWS::SQS::Queue"),
    ("KMS_KEY_ID", "AWS::KMS::Key"),
    ("CURSOR_SECRET", "AWS::SecretsManager::Secret"),
];

/// Each function binary's `ROUTES`; `None` for one that serves no HTTP routes.
fn declared_routes(binary: &str) -> Option<BTreeSet<(String, String)>> {
    let routes: &[(&str, &str)] = match binary {
        "ingest" => ingest::ROUTES,
        "logs" => logs::ROUTES,
        "admin" => admin::ROUTES,
        _ => return None,
    };
    Some(
        routes
            .iter()
            .map(|(m, p)| (m.to_lowercase(), (*p).to_owned()))
            .collect(),
    )
}

/// The DynamoDB indexes the store queries (`index_name("..")` in the DynamoDB store's
/// files).
fn indexes_in_code() -> BTreeSet<String> {
    let dir = repo().join("shared/aws/src/dynamodb");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no DynamoDB store code in {}",
        dir.display()
    );
    files
        .iter()
        .map(|f| read(f))
        .collect::<String>()
        .split("index_name(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect()
}

// --- the checks ------------------------------------------------------------------------

/// A queue feeding a function through a mapping stays invisible for at least six function
/// timeouts, so a slow or throttled batch is not handed out twice.
fn check_visibility(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for m in &t.mappings {
        let (Some(q), Some(f)) = (&m.queue, &m.function) else {
            continue;
        };
        let Some(function) = t.function(f) else {
            continue;
        };
        let visibility = t
            .prop(q, "VisibilityTimeout")
            .and_then(number)
            .unwrap_or(DEFAULT_VISIBILITY_S);
        if visibility < 6 * function.timeout {
            out.push(format!(
                "{q}: VisibilityTimeout {visibility} s is under 6 × {f}'s Timeout {} s",
                function.timeout
            ));
        }
    }
    out
}

/// Dead-letter redrive: at least five receives, to a queue of the template that keeps
/// messages longer than the source does.
fn check_redrive(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for (id, _) in t.of_kind(&["AWS::SQS::Queue"]) {
        let Some(policy) = t.prop(id, "RedrivePolicy") else {
            continue;
        };
        let count = policy.get("maxReceiveCount").and_then(number).unwrap_or(0);
        if count < 5 {
            out.push(format!("{id}: maxReceiveCount {count} is under 5"));
        }
        let Some(dlq) = policy.get("deadLetterTargetArn").and_then(single_ref) else {
            out.push(format!(
                "{id}: the dead-letter target is not a queue of the template"
            ));
            continue;
        };
        if t.kind_of(&dlq) != Some("AWS::SQS::Queue") {
            out.push(format!(
                "{id}: the dead-letter target {dlq} is not a queue of the template"
            ));
            continue;
        }
        let source = t
            .prop(id, "MessageRetentionPeriod")
            .and_then(number)
            .unwrap_or(DEFAULT_RETENTION_S);
        let target = t
            .prop(&dlq, "MessageRetentionPeriod")
            .and_then(number)
            .unwrap_or(DEFAULT_RETENTION_S);
        let allowed = t
            .prop(&dlq, "RedriveAllowPolicy")
            .and_then(|p| p.get("sourceQueueArns"))
            .and_then(Value::as_sequence);
        if let Some(arns) = allowed {
            let name = t.prop(id, "QueueName").map(sub_text).unwrap_or_default();
            let named = !name.is_empty()
                && arns
                    .iter()
                    .any(|a| sub_text(a).ends_with(&format!(":{name}")));
            if !named {
                out.push(format!(
                    "{dlq}: RedriveAllowPolicy does not name {id} (queue name {name:?})"
                ));
            }
        }
        if target <= source {
            out.push(format!(
                "{dlq}: retention {target} s is not longer than {id}'s {source} s (dead-lettered messages keep their enqueue time)"
            ));
        }
    }
    if t.of_kind(&["AWS::SQS::Queue"])
        .all(|(id, _)| t.prop(id, "RedrivePolicy").is_none())
    {
        out.push("no queue has a dead-letter queue".into());
    }
    out
}

/// Each SQS mapping reports partial batch failures, sets batch size, window and maximum
/// concurrency, and never asks for more concurrency than its function has reserved
/// (throttled receives count towards maxReceiveCount).
fn check_mappings(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    if t.mappings.is_empty() {
        out.push("no function is fed by a queue".into());
    }
    for m in &t.mappings {
        if !m.reports_batch_item_failures {
            out.push(format!(
                "{}: FunctionResponseTypes lacks ReportBatchItemFailures",
                m.id
            ));
        }
        if m.batch_size.is_none() {
            out.push(format!("{}: BatchSize is not set", m.id));
        }
        if m.window_s.is_none() {
            out.push(format!(
                "{}: MaximumBatchingWindowInSeconds is not set",
                m.id
            ));
        }
        match (&m.queue, &m.function) {
            (Some(q), Some(f))
                if t.kind_of(q) == Some("AWS::SQS::Queue") && t.function(f).is_some() => {}
            _ => out.push(format!(
                "{}: does not join a queue and a function of the template",
                m.id
            )),
        }
        let reserved = m
            .function
            .as_deref()
            .and_then(|f| t.function(f))
            .and_then(|f| f.reserved_concurrency);
        match (m.maximum_concurrency, reserved) {
            (None, _) => out.push(format!("{}: ScalingConfig.MaximumConcurrency is not set", m.id)),
            (Some(max), Some(reserved)) if max > reserved => out.push(format!(
                "{}: MaximumConcurrency {max} exceeds the function's reserved concurrency {reserved}",
                m.id
            )),
            _ => {}
        }
    }
    out
}

/// Seconds a deliver invocation keeps for the writes after its wave of attempts.
const WRITE_MARGIN_S: u64 = 15;

/// A batch's attempts, BATCH_CONCURRENCY at a time, each up to ATTEMPT_TIMEOUT_S, plus the
/// writes after them, fit the function's timeout.
fn check_batch_fits(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for m in &t.mappings {
        let Some(f) = m.function.as_deref().and_then(|f| t.function(f)) else {
            continue;
        };
        let env = |k: &str| f.env.get(k).and_then(number);
        let (Some(attempt), Some(concurrency)) =
            (env("ATTEMPT_TIMEOUT_S"), env("BATCH_CONCURRENCY"))
        else {
            out.push(format!(
                "{}: ATTEMPT_TIMEOUT_S and BATCH_CONCURRENCY must be set",
                f.id
            ));
            continue;
        };
        let waves = m.batch_size.unwrap_or(10).div_ceil(concurrency.max(1));
        let attempt = semantics::worst_case_attempt(Duration::from_secs(attempt)).as_secs();
        let needed = waves * attempt + WRITE_MARGIN_S;
        if needed > f.timeout {
            out.push(format!(
                "{}: {waves} wave(s) of {attempt} s attempts plus {WRITE_MARGIN_S} s of writes need {needed} s, over its Timeout {} s",
                f.id, f.timeout
            ));
        }
    }
    out
}

/// Every function that makes attempts (`ATTEMPT_TIMEOUT_S` set) has time for the worst
/// case of one: all [`semantics::MAX_REQUESTS_PER_ATTEMPT`] requests of the longest
/// sequence share the attempt's deadline ([`semantics::worst_case_attempt`]), and the
/// attempt is recorded after them ([`semantics::time_needed_to_start`]). A function
/// shorter than that never starts an attempt. The attempt timeout itself leaves each
/// request of a full sequence at least [`semantics::MIN_REQUEST_TIME`].
fn check_attempt_fits(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        let Some(attempt) = f.env.get("ATTEMPT_TIMEOUT_S").and_then(number) else {
            continue;
        };
        let attempt = Duration::from_secs(attempt);
        let requests = semantics::MAX_REQUESTS_PER_ATTEMPT;
        let per_request = semantics::MIN_REQUEST_TIME * requests as u32;
        if attempt < per_request {
            out.push(format!(
                "{}: ATTEMPT_TIMEOUT_S {} s leaves less than {} ms to each of {requests} requests",
                f.id,
                attempt.as_secs(),
                semantics::MIN_REQUEST_TIME.as_millis()
            ));
        }
        let needed = semantics::time_needed_to_start(attempt);
        if needed > Duration::from_secs(f.timeout) {
            out.push(format!(
                "{}: the worst case of one attempt ({requests} requests within {} s, then {} s to record it) needs {} s, over its Timeout {} s",
                f.id,
                semantics::worst_case_attempt(attempt).as_secs_f64(),
                semantics::RECORD_MARGIN.as_secs_f64(),
                needed.as_secs_f64(),
                f.timeout
            ));
        }
    }
    out
}

/// The retry schedule's default is one the deliver function accepts.
fn check_retry_schedule(t: &Template) -> Vec<String> {
    let Some(default) = t
        .parameters
        .get("RetryScheduleSeconds")
        .and_then(|p| p.get("Default"))
        .and_then(text)
    else {
        return vec!["parameter RetryScheduleSeconds has no default".into()];
    };
    match leadrelay::schedule::RetrySchedule::parse(&default) {
        Ok(_) => Vec::new(),
        Err(e) => vec![format!(
            "RetryScheduleSeconds default '{default}' is refused: {e}"
        )],
    }
}

/// Every environment variable refers to resources or parameters of the template, the
/// well-known ones to a resource of the right type.
fn check_env_resources(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        for (name, value) in &f.env {
            for r in refs(value) {
                if !t.resources.contains_key(&r) && !t.parameters.contains_key(&r) {
                    out.push(format!(
                        "{}: {name} refers to {r}, which the template does not declare",
                        f.id
                    ));
                }
            }
            if let Some((_, kind)) = VARIABLE_TYPES.iter().find(|(v, _)| v == name) {
                match single_ref(value) {
                    Some(r) if t.kind_of(&r) == Some(kind) => {}
                    Some(r) => out.push(format!(
                        "{}: {name} names {r}, a {}, not a {kind}",
                        f.id,
                        t.kind_of(&r).unwrap_or("missing resource")
                    )),
                    None => out.push(format!(
                        "{}: {name} does not name a {kind} of the template",
                        f.id
                    )),
                }
            }
        }
    }
    out
}

/// Every variable a function's `Config::from_env` requires is set, and nothing is set that
/// the function never reads.
fn check_env_covers_config(t: &Template, uses: &BTreeMap<String, EnvUse>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        let Some(binary) = &f.binary else { continue };
        let Some(u) = uses.get(binary) else {
            out.push(format!("{}: no config.rs found for binary {binary}", f.id));
            continue;
        };
        for name in &u.required {
            if !f.env.contains_key(name) {
                out.push(format!(
                    "{}: {name} is required by {binary}'s Config::from_env but not set",
                    f.id
                ));
            }
        }
        for name in f.env.keys() {
            if !u.read.contains(name) && !RUNTIME_VARIABLES.contains(&name.as_str()) {
                out.push(format!(
                    "{}: {name} is set but {binary} never reads it",
                    f.id
                ));
            }
        }
    }
    out
}

/// Every route belongs to one function, on an HTTP API of the template, once.
fn check_routes_have_functions(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for f in &t.functions {
        for r in &f.routes {
            if r.method.is_empty() || !r.path.starts_with('/') {
                out.push(format!("{}: a route without method or path", f.id));
            }
            match &r.api {
                Some(api) if t.kind_of(api) == Some("AWS::Serverless::HttpApi") => {}
                _ => out.push(format!(
                    "{}: {} {} is not on an HttpApi of the template",
                    f.id, r.method, r.path
                )),
            }
            if f.binary.is_none() {
                out.push(format!(
                    "{}: serves {} {} but builds no binary",
                    f.id, r.method, r.path
                ));
            }
            if let Some(other) = seen.insert((r.method.clone(), r.path.clone()), f.id.clone()) {
                out.push(format!(
                    "{} {} is routed to both {other} and {}",
                    r.method, r.path, f.id
                ));
            }
        }
    }
    out
}

/// The template's routes of each function are exactly its `ROUTES`.
fn check_routes_match_code(
    t: &Template,
    declared: impl Fn(&str) -> Option<BTreeSet<(String, String)>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        let Some(binary) = &f.binary else { continue };
        let in_template: BTreeSet<(String, String)> = f
            .routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        let in_code = declared(binary).unwrap_or_default();
        for (m, p) in in_template.difference(&in_code) {
            out.push(format!(
                "{}: the template routes {m} {p} here, but {binary}::ROUTES lacks it",
                f.id
            ));
        }
        for (m, p) in in_code.difference(&in_template) {
            out.push(format!(
                "{}: {binary}::ROUTES serves {m} {p}, but the template does not route it here",
                f.id
            ));
        }
    }
    out
}

/// A concrete path for a route's template (`{campaign_id}` → `p1`).
fn sample_path(template: &str) -> String {
    template
        .split('/')
        .enumerate()
        .map(|(i, s)| {
            if s.starts_with('{') {
                format!("p{i}")
            } else {
                s.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The local gateway sends every route of the template to the function the template does.
fn check_gateway(t: &Template, function_for: impl Fn(&str, &str) -> &'static str) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        let Some(binary) = &f.binary else { continue };
        for r in &f.routes {
            let path = sample_path(&r.path);
            let local = function_for(&r.method.to_uppercase(), &path);
            if local != binary {
                out.push(format!(
                    "{} {}: the local gateway sends it to {local}, the template to {binary}",
                    r.method, r.path
                ));
            }
        }
    }
    out
}

/// The local setup creates the same tables, queues and keys, read the same way.
fn check_local_setup(t: &Template, local: &local::Resources) -> Vec<String> {
    let mut out = Vec::new();
    let ids = |kinds: &[&str]| -> BTreeSet<String> {
        t.of_kind(kinds).map(|(id, _)| id.clone()).collect()
    };
    let pairs = [
        (
            "tables",
            ids(&[
                "AWS::DynamoDB::Table",
                "AWS::DynamoDB::GlobalTable",
                "AWS::Serverless::SimpleTable",
            ]),
            local
                .tables
                .iter()
                .map(|x| x.logical_id.clone())
                .collect::<BTreeSet<_>>(),
        ),
        (
            "queues",
            ids(&["AWS::SQS::Queue"]),
            local.queues.iter().map(|x| x.logical_id.clone()).collect(),
        ),
        (
            "keys",
            ids(&["AWS::KMS::Key"]),
            local.keys.iter().cloned().collect(),
        ),
    ];
    for (what, template, setup) in pairs {
        if template != setup {
            out.push(format!(
                "{what}: the template declares {template:?}, the local setup creates {setup:?}"
            ));
        }
    }
    for q in &local.queues {
        let visibility = t.prop(&q.logical_id, "VisibilityTimeout").and_then(number);
        let retention = t
            .prop(&q.logical_id, "MessageRetentionPeriod")
            .and_then(number);
        if (visibility, retention) != (q.visibility_timeout, q.retention) {
            out.push(format!(
                "{}: the local setup reads other visibility or retention",
                q.logical_id
            ));
        }
    }
    out
}

/// Every function runs Rust on provided.al2023/arm64, built by cargo-lambda from a binary of
/// `functions/`, logging JSON to a log group of the template with a retention.
fn check_functions(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        if f.runtime.as_deref() != Some("provided.al2023") {
            out.push(format!(
                "{}: Runtime {:?} is not provided.al2023",
                f.id, f.runtime
            ));
        }
        if f.architectures != ["arm64"] {
            out.push(format!(
                "{}: Architectures {:?} is not [arm64]",
                f.id, f.architectures
            ));
        }
        if f.build_method.as_deref() != Some("rust-cargolambda") {
            out.push(format!("{}: BuildMethod is not rust-cargolambda", f.id));
        }
        match &f.binary {
            Some(b)
                if read_or_empty(&repo().join("functions").join(b).join("Cargo.toml"))
                    .contains(&format!("name = \"{b}\"")) => {}
            other => out.push(format!(
                "{}: Binary {other:?} is not a binary of functions/",
                f.id
            )),
        }
        if f.log_format.as_deref() != Some("JSON") {
            out.push(format!("{}: LoggingConfig.LogFormat is not JSON", f.id));
        }
        match &f.log_group {
            Some(g)
                if t.kind_of(g) == Some("AWS::Logs::LogGroup")
                    && t.prop(g, "RetentionInDays").is_some() => {}
            _ => out.push(format!(
                "{}: logs to no log group of the template with a retention",
                f.id
            )),
        }
    }
    out
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The table is on demand, with TTL, point-in-time recovery, encryption, and every index
/// the store queries.
fn check_table(t: &Template, used_indexes: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let tables: Vec<&String> = t
        .of_kind(&["AWS::DynamoDB::Table"])
        .map(|(id, _)| id)
        .collect();
    if tables.len() != 1 {
        out.push(format!("expected one table, found {tables:?}"));
    }
    for id in tables {
        let p = |path: &[&str]| {
            t.resources
                .get(id)
                .and_then(|r| get(&r.properties, path))
                .and_then(text)
        };
        if p(&["BillingMode"]).as_deref() != Some("PAY_PER_REQUEST") {
            out.push(format!("{id}: not on demand (BillingMode PAY_PER_REQUEST)"));
        }
        if p(&["TimeToLiveSpecification", "Enabled"]).as_deref() != Some("true") {
            out.push(format!("{id}: TTL is not enabled"));
        }
        if p(&[
            "PointInTimeRecoverySpecification",
            "PointInTimeRecoveryEnabled",
        ])
        .as_deref()
            != Some("true")
        {
            out.push(format!("{id}: point-in-time recovery is not enabled"));
        }
        if p(&["SSESpecification", "SSEEnabled"]).as_deref() != Some("true") {
            out.push(format!("{id}: encryption with a KMS key is not enabled"));
        }
        let declared: BTreeSet<String> = t
            .prop(id, "GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|i| i.get("IndexName").and_then(text))
            .collect();
        for index in used_indexes.difference(&declared) {
            out.push(format!(
                "{id}: the store queries index {index}, which the table lacks"
            ));
        }
    }
    out
}

/// Only admin may seal credentials; deliver and admin may open them; logs and ingest can do
/// neither, and no function reads Secrets Manager.
fn check_credentials_access(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    let keys: BTreeSet<String> = t
        .of_kind(&["AWS::KMS::Key"])
        .filter(|(id, _)| {
            t.functions.iter().any(|f| {
                f.env.get("KMS_KEY_ID").and_then(single_ref).as_deref() == Some(id.as_str())
            })
        })
        .map(|(id, _)| id.clone())
        .collect();
    for f in &t.functions {
        let binary = f.binary.as_deref().unwrap_or_default();
        for s in &f.statements {
            let on_credentials = s.resources.iter().any(|r| keys.contains(r));
            for a in &s.actions {
                let a = a.to_ascii_lowercase();
                if a.starts_with("secretsmanager:") {
                    out.push(format!("{}: may call {a}", f.id));
                }
                let allowed = match binary {
                    "admin" => a == "kms:encrypt" || a == "kms:decrypt",
                    "deliver" => a == "kms:decrypt",
                    _ => false,
                };
                if on_credentials && !allowed {
                    out.push(format!("{}: may call {a} on the credentials key", f.id));
                }
                if a == "*" || a == "kms:*" || a == "dynamodb:*" || a == "sqs:*" {
                    out.push(format!("{}: grants the wildcard {a}", f.id));
                }
            }
        }
    }
    out
}

/// The alarms and outputs the deployment guide names.
fn check_alarms_and_outputs(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    let alarms: Vec<(String, BTreeSet<String>)> = t
        .of_kind(&["AWS::CloudWatch::Alarm"])
        .map(|(_, r)| {
            let metric = r
                .properties
                .get("MetricName")
                .and_then(text)
                .unwrap_or_default();
            (
                metric,
                r.properties.get("Dimensions").map(refs).unwrap_or_default(),
            )
        })
        .collect();
    let has = |metric: &str, on: &str| alarms.iter().any(|(m, d)| m == metric && d.contains(on));
    let deliver = t
        .functions
        .iter()
        .find(|f| f.binary.as_deref() == Some("deliver"))
        .map(|f| f.id.clone());
    let source = t
        .of_kind(&["AWS::SQS::Queue"])
        .find(|(id, _)| t.prop(id, "RedrivePolicy").is_some());
    let dlq = source
        .and_then(|(id, _)| t.prop(id, "RedrivePolicy"))
        .and_then(|p| p.get("deadLetterTargetArn"))
        .and_then(single_ref);
    let wanted = [
        (
            "ApproximateNumberOfMessagesVisible",
            dlq,
            "dead-letter queue depth",
        ),
        (
            "ApproximateAgeOfOldestMessage",
            source.map(|(id, _)| id.clone()),
            "age of the oldest job",
        ),
        ("Errors", deliver.clone(), "deliver errors"),
        ("Throttles", deliver, "deliver throttles"),
    ];
    for (metric, on, what) in wanted {
        if !on.as_deref().is_some_and(|on| has(metric, on)) {
            out.push(format!("no alarm on {what} ({metric})"));
        }
    }
    for output in ["ApiUrl", "TableName", "QueueUrl"] {
        if !t.outputs.contains_key(output) {
            out.push(format!("no output {output}"));
        }
    }
    out
}

/// Every `!Ref`, `!GetAtt` and `${..}` in the resources, the globals and the outputs names
/// a resource or parameter of the template. cfn-lint does not look inside a SAM function's
/// inline policies, so a misspelt queue there would only fail at deploy time.
fn check_references_resolve(t: &Template, globals: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let known = |r: &String| t.resources.contains_key(r) || t.parameters.contains_key(r);
    let places = t
        .resources
        .iter()
        .map(|(id, r)| (format!("resource {id}"), &r.properties))
        .chain(t.outputs.iter().map(|(id, v)| (format!("output {id}"), v)))
        .chain(std::iter::once(("Globals".to_owned(), globals)));
    for (place, value) in places {
        for r in refs(value).iter().filter(|r| !known(r)) {
            out.push(format!(
                "{place} refers to {r}, which the template does not declare"
            ));
        }
    }
    out
}

/// Every check skipped for checkov names the check and says why.
fn check_checkov_skips(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for (id, r) in &t.resources {
        let skips = get(&r.metadata, &["checkov", "skip"])
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten();
        for skip in skips {
            let check = skip.get("id").and_then(text).unwrap_or_default();
            let reason = skip.get("comment").and_then(text).unwrap_or_default();
            if !check.starts_with("CKV") {
                out.push(format!("{id}: a checkov skip names no check"));
            }
            if reason.split_whitespace().count() < 5 {
                out.push(format!("{id}: checkov skip {check} gives no reason"));
            }
        }
    }
    out
}

/// Variables that must never reach a deployed function: the loopback switch and the
/// marker that tells the functions they run under the local runner.
const LOCAL_ONLY_VARIABLES: &[&str] = &[
    leadrelay::egress::ALLOW_LOOPBACK_ENV,
    leadrelay::egress::LOCAL_RUNNER_ENV,
];

/// Every mapping key anywhere in `v` that is a local-only variable, with its path.
fn local_only_keys(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                let key = text(k).unwrap_or_default();
                path.push(key.clone());
                if LOCAL_ONLY_VARIABLES.contains(&key.as_str()) {
                    out.push(path.join("."));
                }
                local_only_keys(child, path, out);
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                local_only_keys(child, path, out);
                path.pop();
            }
        }
        Value::Tagged(t) => local_only_keys(&t.value, path, out),
        _ => {}
    }
}

/// No function's environment (with `Globals` applied) sets a local-only variable, and no
/// other part of the template names one as a key (a plain `AWS::Lambda::Function`, a
/// parameter, a nested default).
fn check_no_loopback_switch(t: &Template, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        for name in LOCAL_ONLY_VARIABLES {
            if f.env.contains_key(*name) {
                out.push(format!(
                    "{}: sets {name}, which is for local runs and tests only",
                    f.id
                ));
            }
        }
    }
    let mut found = Vec::new();
    local_only_keys(doc, &mut Vec::new(), &mut found);
    for at in found {
        out.push(format!(
            "{at}: a local-only variable is named in the template"
        ));
    }
    out
}

/// Every check on one template, with what the code says.
/// The reconciler runs on a schedule, waits longer than a queued job can take to arrive
/// before it re-queues (the queue's visibility timeout plus deliver's timeout), queries
/// only the waiting index, and no function may scan the table.
fn check_reconciler(t: &Template) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.functions {
        for s in &f.statements {
            if s.actions
                .iter()
                .any(|a| a == "dynamodb:Scan" || a == "dynamodb:*")
            {
                out.push(format!("{}: may scan the table ({:?})", f.id, s.actions));
            }
        }
    }
    let Some(f) = t
        .functions
        .iter()
        .find(|f| f.binary.as_deref() == Some("reconcile"))
    else {
        out.push("no reconcile function: stranded deliveries would wait forever".into());
        return out;
    };
    let scheduled = t
        .resources
        .get(&f.id)
        .and_then(|r| r.properties.get("Events"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .any(|(_, e)| {
            matches!(
                e.get("Type").and_then(text).as_deref(),
                Some("Schedule" | "ScheduleV2")
            )
        });
    if !scheduled {
        out.push(format!("{}: has no Schedule event", f.id));
    }
    let raw_statements: Vec<Value> = t
        .resources
        .get(&f.id)
        .and_then(|r| r.properties.get("Policies"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .flat_map(|p| match p.get("Statement") {
            Some(Value::Sequence(s)) => s.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        })
        .collect();
    for s in raw_statements {
        if !texts(s.get("Action")).iter().any(|a| a == "dynamodb:Query") {
            continue;
        }
        let resources: Vec<String> = match s.get("Resource") {
            Some(Value::Sequence(list)) => list.iter().map(sub_text).collect(),
            Some(one) => vec![sub_text(one)],
            None => Vec::new(),
        };
        if !resources.iter().all(|r| r.ends_with("/index/gsi3")) {
            out.push(format!(
                "{}: may Query more than the waiting index gsi3 ({resources:?})",
                f.id
            ));
        }
    }
    let slack = f.env.get("RECONCILE_SLACK_S").and_then(number).unwrap_or(
        leadrelay::reconcile::ReconcileConfig::default()
            .slack
            .as_secs(),
    );
    for m in &t.mappings {
        let (Some(q), Some(d)) = (&m.queue, &m.function) else {
            continue;
        };
        let visibility = t
            .prop(q, "VisibilityTimeout")
            .and_then(number)
            .unwrap_or(DEFAULT_VISIBILITY_S);
        let timeout = t.function(d).map_or(DEFAULT_TIMEOUT_S, |f| f.timeout);
        if slack <= visibility + timeout {
            out.push(format!(
                "{}: RECONCILE_SLACK_S {slack} s is not over {q}'s VisibilityTimeout {visibility} s + {d}'s Timeout {timeout} s: merely queued jobs would be queued again",
                f.id
            ));
        }
    }
    out
}

fn all_violations(t: &Template, doc: &Value, local_setup: &local::Resources) -> Vec<String> {
    let uses = env_uses(t);
    let globals = doc.get("Globals").cloned().unwrap_or(Value::Null);
    [
        check_references_resolve(t, &globals),
        check_checkov_skips(t),
        check_visibility(t),
        check_redrive(t),
        check_mappings(t),
        check_batch_fits(t),
        check_attempt_fits(t),
        check_retry_schedule(t),
        check_env_resources(t),
        check_env_covers_config(t, &uses),
        check_routes_have_functions(t),
        check_routes_match_code(t, declared_routes),
        check_gateway(t, leadrelay_dev::gateway::function_for),
        check_local_setup(t, local_setup),
        check_functions(t),
        check_table(t, &indexes_in_code()),
        check_credentials_access(t),
        check_alarms_and_outputs(t),
        check_no_loopback_switch(t, doc),
        check_reconciler(t),
    ]
    .concat()
}

// --- helpers for the broken copies -----------------------------------------------------

fn repository_yaml() -> String {
    read(&local::template_path())
}

fn repository_doc() -> Value {
    serde_yaml::from_str(&repository_yaml()).expect("the template is YAML")
}

fn parsed(doc: &Value) -> Template {
    Template::from_value(doc).expect("the template reads")
}

/// The value at `path`, created as needed, for a broken copy to change.
fn at<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Value {
    path.iter().fold(doc, |v, k| {
        if !v.is_mapping() {
            *v = Value::Mapping(Mapping::new());
        }
        let m = v.as_mapping_mut().expect("a mapping");
        m.entry(Value::from(*k)).or_insert(Value::Null)
    })
}

fn remove(doc: &mut Value, path: &[&str], key: &str) {
    if let Some(m) = at(doc, path).as_mapping_mut() {
        m.remove(key);
    }
}

fn tagged(tag: &str, value: &str) -> Value {
    Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
        tag: serde_yaml::value::Tag::new(tag),
        value: Value::from(value),
    }))
}

fn assert_caught(violations: &[String], needle: &str) {
    assert!(
        violations.iter().any(|v| v.contains(needle)),
        "expected a violation containing {needle:?}, got {violations:#?}"
    );
}

// --- the tests -------------------------------------------------------------------------

#[test]
fn the_repository_template_keeps_every_invariant() {
    let yaml = repository_yaml();
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();
    let t = parsed(&doc);
    let setup = local::parse(&yaml).unwrap();

    let violations = all_violations(&t, &doc, &setup);

    assert!(
        violations.is_empty(),
        "template invariants broken:\n{}",
        violations.join("\n")
    );
    assert_eq!(
        t.functions.len(),
        5,
        "ingest, deliver, logs, admin, reconcile"
    );
    assert_eq!(t.mappings.len(), 1, "deliver's queue mapping");
}

#[test]
fn a_reconciler_slack_shorter_than_a_queued_job_can_take_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "ReconcileFunction",
            "Properties",
            "Environment",
            "Variables",
            "RECONCILE_SLACK_S",
        ],
    ) = "400".into();

    assert_caught(
        &check_reconciler(&parsed(&doc)),
        "RECONCILE_SLACK_S 400 s is not over DeliveryQueue's VisibilityTimeout 360 s + DeliverFunction's Timeout 60 s",
    );
}

#[test]
fn an_unscheduled_or_scanning_reconciler_is_caught() {
    let mut doc = repository_doc();
    remove(
        &mut doc,
        &["Resources", "ReconcileFunction", "Properties"],
        "Events",
    );
    *at(
        &mut doc,
        &["Resources", "ReconcileFunction", "Properties", "Policies"],
    ) = serde_yaml::from_str(
        "[{Statement: [{Effect: Allow, Action: [dynamodb:Scan, dynamodb:Query], Resource: '*'}]}]",
    )
    .unwrap();

    let v = check_reconciler(&parsed(&doc));

    assert_caught(&v, "ReconcileFunction: has no Schedule event");
    assert_caught(&v, "ReconcileFunction: may scan the table");
    assert_caught(&v, "may Query more than the waiting index gsi3");
}

#[test]
fn a_visibility_timeout_under_six_function_timeouts_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliveryQueue",
            "Properties",
            "VisibilityTimeout",
        ],
    ) = 300.into();
    *at(
        &mut doc,
        &["Resources", "DeliverFunction", "Properties", "Timeout"],
    ) = 60.into();

    let v = check_visibility(&parsed(&doc));

    assert_caught(
        &v,
        "DeliveryQueue: VisibilityTimeout 300 s is under 6 × DeliverFunction's Timeout 60 s",
    );
}

#[test]
fn a_longer_function_timeout_alone_breaks_visibility_too() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &["Resources", "DeliverFunction", "Properties", "Timeout"],
    ) = 61.into();

    assert_caught(&check_visibility(&parsed(&doc)), "under 6 ×");
}

#[test]
fn fewer_than_five_receives_before_the_dead_letter_queue_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliveryQueue",
            "Properties",
            "RedrivePolicy",
            "maxReceiveCount",
        ],
    ) = 3.into();

    assert_caught(
        &check_redrive(&parsed(&doc)),
        "maxReceiveCount 3 is under 5",
    );
}

#[test]
fn a_dead_letter_queue_that_forgets_sooner_than_its_source_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeadLetterQueue",
            "Properties",
            "MessageRetentionPeriod",
        ],
    ) = 86_400.into();

    assert_caught(
        &check_redrive(&parsed(&doc)),
        "DeadLetterQueue: retention 86400 s is not longer",
    );
}

#[test]
fn equal_retentions_are_not_enough() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeadLetterQueue",
            "Properties",
            "MessageRetentionPeriod",
        ],
    ) = 345_600.into();

    assert_caught(&check_redrive(&parsed(&doc)), "is not longer");
}

#[test]
fn a_renamed_source_queue_the_dead_letter_queue_no_longer_allows_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &["Resources", "DeliveryQueue", "Properties", "QueueName"],
    ) = tagged("Sub", "leadrelay-${Stage}-jobs");

    assert_caught(
        &check_redrive(&parsed(&doc)),
        "DeadLetterQueue: RedriveAllowPolicy does not name DeliveryQueue",
    );
}

#[test]
fn a_dead_letter_target_outside_the_template_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliveryQueue",
            "Properties",
            "RedrivePolicy",
            "deadLetterTargetArn",
        ],
    ) = tagged("GetAtt", "Table.Arn");

    assert_caught(
        &check_redrive(&parsed(&doc)),
        "dead-letter target Table is not a queue",
    );
}

#[test]
fn a_mapping_without_partial_failures_or_with_too_much_concurrency_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverJobs",
            "Properties",
            "FunctionResponseTypes",
        ],
    ) = Value::Sequence(Vec::new());
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverJobs",
            "Properties",
            "ScalingConfig",
            "MaximumConcurrency",
        ],
    ) = 50.into();
    remove(
        &mut doc,
        &["Resources", "DeliverJobs", "Properties"],
        "BatchSize",
    );

    let v = check_mappings(&parsed(&doc));

    assert_caught(&v, "lacks ReportBatchItemFailures");
    assert_caught(
        &v,
        "MaximumConcurrency 50 exceeds the function's reserved concurrency 20",
    );
    assert_caught(&v, "BatchSize is not set");
}

#[test]
fn a_sam_sqs_event_is_read_as_a_mapping_too() {
    let doc: Value = serde_yaml::from_str(
        "Resources:\n  Q: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: 30}}\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: 10\n      Events:\n        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: 5}}\n",
    )
    .unwrap();

    let t = parsed(&doc);

    assert_caught(
        &check_visibility(&t),
        "Q: VisibilityTimeout 30 s is under 6 × F's Timeout 10 s",
    );
    assert_caught(
        &check_mappings(&t),
        "F.Jobs: FunctionResponseTypes lacks ReportBatchItemFailures",
    );
}

#[test]
fn attempts_that_outlast_the_function_timeout_are_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverFunction",
            "Properties",
            "Environment",
            "Variables",
            "ATTEMPT_TIMEOUT_S",
        ],
    ) = "30".into();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverFunction",
            "Properties",
            "Environment",
            "Variables",
            "BATCH_CONCURRENCY",
        ],
    ) = "5".into();

    assert_caught(
        &check_batch_fits(&parsed(&doc)),
        "2 wave(s) of 30 s attempts",
    );
}

#[test]
fn a_deliver_timeout_shorter_than_the_worst_attempt_is_caught() {
    let mut doc = repository_doc();
    let attempt = parsed(&doc)
        .function("DeliverFunction")
        .and_then(|f| f.env.get("ATTEMPT_TIMEOUT_S").and_then(number))
        .expect("DeliverFunction sets ATTEMPT_TIMEOUT_S");
    let needed = semantics::time_needed_to_start(Duration::from_secs(attempt));
    let short = needed.as_secs().saturating_sub(1).max(1);
    *at(
        &mut doc,
        &["Resources", "DeliverFunction", "Properties", "Timeout"],
    ) = short.into();

    assert_caught(
        &check_attempt_fits(&parsed(&doc)),
        &format!(
            "DeliverFunction: the worst case of one attempt ({} requests within {attempt} s",
            semantics::MAX_REQUESTS_PER_ATTEMPT
        ),
    );
    assert_caught(
        &check_attempt_fits(&parsed(&doc)),
        &format!("over its Timeout {short} s"),
    );

    // Just long enough passes this check (the batch check asks for more).
    *at(
        &mut doc,
        &["Resources", "DeliverFunction", "Properties", "Timeout"],
    ) = needed.as_secs().into();
    assert_eq!(check_attempt_fits(&parsed(&doc)), Vec::<String>::new());
}

#[test]
fn an_attempt_timeout_too_short_for_a_full_sequence_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverFunction",
            "Properties",
            "Environment",
            "Variables",
            "ATTEMPT_TIMEOUT_S",
        ],
    ) = "1".into();

    assert_caught(
        &check_attempt_fits(&parsed(&doc)),
        &format!(
            "DeliverFunction: ATTEMPT_TIMEOUT_S 1 s leaves less than {} ms to each of {} requests",
            semantics::MIN_REQUEST_TIME.as_millis(),
            semantics::MAX_REQUESTS_PER_ATTEMPT
        ),
    );
}

#[test]
fn a_retry_schedule_default_deliver_refuses_is_caught() {
    let mut doc = repository_doc();
    *at(&mut doc, &["Parameters", "RetryScheduleSeconds", "Default"]) = "30,soon".into();

    assert_caught(
        &check_retry_schedule(&parsed(&doc)),
        "RetryScheduleSeconds default '30,soon' is refused",
    );
}

#[test]
fn an_environment_naming_a_missing_or_wrong_resource_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Globals",
            "Function",
            "Environment",
            "Variables",
            "QUEUE_URL",
        ],
    ) = tagged("Ref", "Table");
    *at(
        &mut doc,
        &[
            "Resources",
            "AdminFunction",
            "Properties",
            "Environment",
            "Variables",
            "KMS_KEY_ID",
        ],
    ) = tagged("Ref", "SealingKey");

    let v = check_env_resources(&parsed(&doc));

    assert_caught(
        &v,
        "IngestFunction: QUEUE_URL names Table, a AWS::DynamoDB::Table, not a AWS::SQS::Queue",
    );
    assert_caught(
        &v,
        "AdminFunction: KMS_KEY_ID refers to SealingKey, which the template does not declare",
    );
}

#[test]
fn a_secret_reference_to_a_missing_secret_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Environment",
            "Variables",
            "CURSOR_SECRET",
        ],
    ) = tagged(
        "Sub",
        "{{resolve:secretsmanager:${PageSecret}:SecretString}}",
    );

    assert_caught(
        &check_env_resources(&parsed(&doc)),
        "CURSOR_SECRET refers to PageSecret",
    );
}

#[test]
fn a_variable_config_requires_but_the_template_drops_is_caught() {
    let mut doc = repository_doc();
    remove(
        &mut doc,
        &["Globals", "Function", "Environment", "Variables"],
        "TABLE_NAME",
    );
    remove(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Environment",
            "Variables",
        ],
        "CURSOR_SECRET",
    );
    let t = parsed(&doc);

    let v = check_env_covers_config(&t, &env_uses(&t));

    for f in [
        "IngestFunction",
        "DeliverFunction",
        "LogsFunction",
        "AdminFunction",
    ] {
        assert_caught(&v, &format!("{f}: TABLE_NAME is required by"));
    }
    assert_caught(
        &v,
        "LogsFunction: CURSOR_SECRET is required by logs's Config::from_env but not set",
    );
}

#[test]
fn a_variable_no_function_reads_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverFunction",
            "Properties",
            "Environment",
            "Variables",
            "ATTEMPT_TIMEOUT",
        ],
    ) = "15".into();
    let t = parsed(&doc);

    assert_caught(
        &check_env_covers_config(&t, &env_uses(&t)),
        "DeliverFunction: ATTEMPT_TIMEOUT is set but deliver never reads it",
    );
}

#[test]
fn a_loopback_switch_in_a_function_or_in_globals_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "DeliverFunction",
            "Properties",
            "Environment",
            "Variables",
            "EGRESS_ALLOW_LOOPBACK",
        ],
    ) = "true".into();
    let t = parsed(&doc);
    let violations = check_no_loopback_switch(&t, &doc);
    assert_caught(
        &violations,
        "DeliverFunction: sets EGRESS_ALLOW_LOOPBACK, which is for local runs and tests only",
    );
    assert_caught(
        &all_violations(&t, &doc, &local::parse(&repository_yaml()).unwrap()),
        "DeliverFunction: sets EGRESS_ALLOW_LOOPBACK",
    );

    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Globals",
            "Function",
            "Environment",
            "Variables",
            "LEADRELAY_LOCAL_RUNNER",
        ],
    ) = "cargo-lambda-watch".into();
    let t = parsed(&doc);
    let violations = check_no_loopback_switch(&t, &doc);
    assert_caught(&violations, "AdminFunction: sets LEADRELAY_LOCAL_RUNNER");
    assert_caught(
        &violations,
        "Globals.Function.Environment.Variables.LEADRELAY_LOCAL_RUNNER",
    );

    // Outside any function's environment: a parameter named after the switch.
    let mut doc = repository_doc();
    *at(&mut doc, &["Parameters", "EGRESS_ALLOW_LOOPBACK", "Type"]) = "String".into();
    assert_caught(
        &check_no_loopback_switch(&parsed(&doc), &doc),
        "Parameters.EGRESS_ALLOW_LOOPBACK",
    );
}

#[test]
fn required_variables_are_read_from_config_sources() {
    let source = r#"let t = required("TABLE_NAME")?; let x = number("ATTEMPT_TIMEOUT_S", 15); let n = "not a name";"#;

    let u = env_use(source);

    assert_eq!(u.required, BTreeSet::from(["TABLE_NAME".to_owned()]));
    assert_eq!(
        u.read,
        BTreeSet::from(["TABLE_NAME".to_owned(), "ATTEMPT_TIMEOUT_S".to_owned()])
    );
    let uses = env_uses(&parsed(&repository_doc()));
    assert!(uses["logs"].required.contains("CURSOR_SECRET"));
    assert!(uses["admin"].required.contains("KMS_KEY_ID"));
    assert!(
        uses["deliver"].read.contains("KMS_KEY_ID"),
        "read in main.rs"
    );
}

#[test]
fn a_route_on_a_missing_api_or_routed_twice_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Events",
            "GetRegistration",
            "Properties",
            "ApiId",
        ],
    ) = tagged("Ref", "OtherApi");
    let copy = at(
        &mut doc,
        &[
            "Resources",
            "AdminFunction",
            "Properties",
            "Events",
            "GetAccount",
        ],
    )
    .clone();
    *at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Events",
            "GetAccount",
        ],
    ) = copy;

    let v = check_routes_have_functions(&parsed(&doc));

    assert_caught(
        &v,
        "LogsFunction: get /v1/registrations/{registration_id} is not on an HttpApi",
    );
    assert_caught(&v, "get /v1/account is routed to both");
}

#[test]
fn a_template_route_the_code_does_not_serve_and_the_reverse_are_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Events",
            "GetRegistration",
            "Properties",
            "Path",
        ],
    ) = "/v1/registration/{registration_id}".into();

    let v = check_routes_match_code(&parsed(&doc), declared_routes);

    assert_caught(&v, "the template routes get /v1/registration/{registration_id} here, but logs::ROUTES lacks it");
    assert_caught(&v, "logs::ROUTES serves get /v1/registrations/{registration_id}, but the template does not route it here");
}

#[test]
fn a_route_moved_to_another_function_is_caught_by_routes_and_by_the_gateway() {
    let mut doc = repository_doc();
    let moved = at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Properties",
            "Events",
            "CampaignSummary",
        ],
    )
    .clone();
    remove(
        &mut doc,
        &["Resources", "LogsFunction", "Properties", "Events"],
        "CampaignSummary",
    );
    *at(
        &mut doc,
        &[
            "Resources",
            "AdminFunction",
            "Properties",
            "Events",
            "CampaignSummary",
        ],
    ) = moved;
    let t = parsed(&doc);

    assert_caught(
        &check_routes_match_code(&t, declared_routes),
        "AdminFunction: the template routes get /v1/campaigns/{campaign_id}/summary here, but admin::ROUTES lacks it",
    );
    assert_caught(
        &check_gateway(&t, leadrelay_dev::gateway::function_for),
        "get /v1/campaigns/{campaign_id}/summary: the local gateway sends it to logs, the template to admin",
    );
}

#[test]
fn a_gateway_that_routes_differently_is_caught() {
    let t = parsed(&repository_doc());
    let everything_to_admin = |_: &str, _: &str| "admin";

    let v = check_gateway(&t, everything_to_admin);

    assert_caught(&v, "post /v1/campaigns/{campaign_id}/registrations: the local gateway sends it to admin, the template to ingest");
}

#[test]
fn a_table_the_local_setup_would_not_create_is_caught() {
    let mut doc = repository_doc();
    *at(&mut doc, &["Resources", "ArchiveTable"]) =
        serde_yaml::from_str("{Type: AWS::DynamoDB::GlobalTable, Properties: {}}").unwrap();
    let yaml = serde_yaml::to_string(&doc).unwrap();

    let v = check_local_setup(&parsed(&doc), &local::parse(&yaml).unwrap());

    assert_caught(
        &v,
        "tables: the template declares {\"ArchiveTable\", \"Table\"}, the local setup creates {\"Table\"}",
    );
}

#[test]
fn a_local_setup_missing_a_queue_is_caught() {
    let t = parsed(&repository_doc());
    let mut setup = local::parse(&repository_yaml()).unwrap();
    setup.queues.retain(|q| q.logical_id != "DeadLetterQueue");

    assert_caught(
        &check_local_setup(&t, &setup),
        "queues: the template declares",
    );
}

#[test]
fn a_function_off_the_runtime_or_without_json_logs_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &["Resources", "IngestFunction", "Properties", "Runtime"],
    ) = "provided.al2".into();
    *at(
        &mut doc,
        &["Resources", "IngestFunction", "Properties", "Architectures"],
    ) = Value::Sequence(vec!["x86_64".into()]);
    *at(
        &mut doc,
        &[
            "Resources",
            "LogsFunction",
            "Metadata",
            "BuildProperties",
            "Binary",
        ],
    ) = "log".into();
    remove(
        &mut doc,
        &["Resources", "AdminFunction", "Properties", "LoggingConfig"],
        "LogFormat",
    );
    remove(
        &mut doc,
        &["Resources", "DeliverLogs", "Properties"],
        "RetentionInDays",
    );

    let v = check_functions(&parsed(&doc));

    assert_caught(&v, "IngestFunction: Runtime Some(\"provided.al2\")");
    // SAM adds a function's list to the list in Globals: arm64 and x86_64, which AWS refuses.
    assert_caught(&v, "IngestFunction: Architectures [\"arm64\", \"x86_64\"]");
    assert_caught(
        &v,
        "LogsFunction: Binary Some(\"log\") is not a binary of functions/",
    );
    assert_caught(&v, "AdminFunction: LoggingConfig.LogFormat is not JSON");
    assert_caught(
        &v,
        "DeliverFunction: logs to no log group of the template with a retention",
    );
}

#[test]
fn a_table_missing_an_index_the_store_queries_or_its_protections_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &["Resources", "Table", "Properties", "GlobalSecondaryIndexes"],
    ) = Value::Sequence(Vec::new());
    *at(
        &mut doc,
        &["Resources", "Table", "Properties", "BillingMode"],
    ) = "PROVISIONED".into();
    remove(
        &mut doc,
        &["Resources", "Table", "Properties"],
        "PointInTimeRecoverySpecification",
    );

    let v = check_table(&parsed(&doc), &indexes_in_code());

    assert_caught(&v, "the store queries index gsi1");
    assert_caught(&v, "the store queries index gsi2");
    assert_caught(&v, "not on demand");
    assert_caught(&v, "point-in-time recovery is not enabled");
}

#[test]
fn log_readers_that_could_open_credentials_are_caught() {
    let mut doc = repository_doc();
    let statements = at(
        &mut doc,
        &["Resources", "LogsFunction", "Properties", "Policies"],
    )
    .as_sequence_mut()
    .and_then(|p| p.first_mut())
    .and_then(|p| p.get_mut("Statement"))
    .and_then(Value::as_sequence_mut)
    .expect("logs has a policy statement list");
    let grant: Value = serde_yaml::from_str(
        "{Effect: Allow, Action: [kms:Decrypt, secretsmanager:GetSecretValue], Resource: !GetAtt CredentialsKey.Arn}",
    )
    .unwrap();
    statements.push(grant);

    let v = check_credentials_access(&parsed(&doc));

    assert_caught(
        &v,
        "LogsFunction: may call kms:decrypt on the credentials key",
    );
    assert_caught(&v, "LogsFunction: may call secretsmanager:getsecretvalue");
}

#[test]
fn a_missing_alarm_or_output_is_caught() {
    let mut doc = repository_doc();
    remove(&mut doc, &["Resources"], "DeadLetterAlarm");
    remove(&mut doc, &["Resources"], "DeliverThrottlesAlarm");
    remove(&mut doc, &["Outputs"], "ApiUrl");

    let v = check_alarms_and_outputs(&parsed(&doc));

    assert_caught(&v, "no alarm on dead-letter queue depth");
    assert_caught(&v, "no alarm on deliver throttles");
    assert_caught(&v, "no output ApiUrl");
}

#[test]
fn a_misspelt_reference_inside_a_function_policy_is_caught() {
    let yaml = repository_yaml().replacen(
        "Resource: !GetAtt DeliveryQueue.Arn",
        "Resource: !GetAtt DeliveryQueu.Arn",
        1,
    );
    let doc: Value = serde_yaml::from_str(&yaml).unwrap();

    let v = check_references_resolve(&parsed(&doc), &Value::Null);

    assert_caught(
        &v,
        "resource IngestFunction refers to DeliveryQueu, which the template does not declare",
    );
}

#[test]
fn a_checkov_skip_without_a_reason_is_caught() {
    let mut doc = repository_doc();
    *at(
        &mut doc,
        &["Resources", "IngestFunction", "Metadata", "checkov", "skip"],
    ) = serde_yaml::from_str("[{id: CKV_AWS_117}]").unwrap();

    assert_caught(
        &check_checkov_skips(&parsed(&doc)),
        "IngestFunction: checkov skip CKV_AWS_117 gives no reason",
    );
}

#[test]
fn references_are_found_in_every_intrinsic_form() {
    let v: Value = serde_yaml::from_str(
        "[!Ref A, !GetAtt B.Arn, !Sub 'x-${C}-${D.Arn}-${AWS::Region}-${!Lit}', {Ref: E}, {'Fn::GetAtt': [F, Arn]}, !Sub ['${G}-${local}', {local: !Ref H}], !Ref AWS::NoValue]",
    )
    .unwrap();

    let r = refs(&v);

    let want: BTreeSet<String> = ["A", "B", "C", "D", "E", "F", "G", "H"]
        .map(String::from)
        .into();
    assert_eq!(r, want);
}
