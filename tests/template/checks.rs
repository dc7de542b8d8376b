//! The checks: each invariant of the template against the code, as a function that returns what breaks it.

use super::*;

/// A queue feeding a function through a mapping stays invisible for at least six function
/// timeouts, so a slow or throttled batch is not handed out twice.
pub(crate) fn check_visibility(t: &Template) -> Vec<String> {
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
pub(crate) fn check_redrive(t: &Template) -> Vec<String> {
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
pub(crate) fn check_mappings(t: &Template) -> Vec<String> {
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
pub(crate) const WRITE_MARGIN_S: u64 = 15;

/// A batch's attempts, BATCH_CONCURRENCY at a time, each up to ATTEMPT_TIMEOUT_S, plus the
/// writes after them, fit the function's timeout.
pub(crate) fn check_batch_fits(t: &Template) -> Vec<String> {
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
pub(crate) fn check_attempt_fits(t: &Template) -> Vec<String> {
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
pub(crate) fn check_retry_schedule(t: &Template) -> Vec<String> {
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
pub(crate) fn check_env_resources(t: &Template) -> Vec<String> {
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
pub(crate) fn check_env_covers_config(
    t: &Template,
    uses: &BTreeMap<String, EnvUse>,
) -> Vec<String> {
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
pub(crate) fn check_routes_have_functions(t: &Template) -> Vec<String> {
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
pub(crate) fn check_routes_match_code(
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
pub(crate) fn sample_path(template: &str) -> String {
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
pub(crate) fn check_gateway(
    t: &Template,
    function_for: impl Fn(&str, &str) -> &'static str,
) -> Vec<String> {
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
pub(crate) fn check_local_setup(t: &Template, local: &local::Resources) -> Vec<String> {
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
pub(crate) fn check_functions(t: &Template) -> Vec<String> {
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

pub(crate) fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The table is on demand, with TTL, point-in-time recovery, encryption, and every index
/// the store queries.
pub(crate) fn check_table(t: &Template, used_indexes: &BTreeSet<String>) -> Vec<String> {
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
pub(crate) fn check_credentials_access(t: &Template) -> Vec<String> {
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
pub(crate) fn check_alarms_and_outputs(t: &Template) -> Vec<String> {
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
pub(crate) fn check_references_resolve(t: &Template, globals: &Value) -> Vec<String> {
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
pub(crate) fn check_checkov_skips(t: &Template) -> Vec<String> {
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
pub(crate) const LOCAL_ONLY_VARIABLES: &[&str] = &[
    leadrelay::egress::ALLOW_LOOPBACK_ENV,
    leadrelay::egress::LOCAL_RUNNER_ENV,
];

/// Every mapping key anywhere in `v` that is a local-only variable, with its path.
pub(crate) fn local_only_keys(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
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
pub(crate) fn check_no_loopback_switch(t: &Template, doc: &Value) -> Vec<String> {
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
pub(crate) fn check_reconciler(t: &Template) -> Vec<String> {
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

pub(crate) fn all_violations(
    t: &Template,
    doc: &Value,
    local_setup: &local::Resources,
) -> Vec<String> {
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
