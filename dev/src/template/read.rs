//! The one reader of `infra/template.yaml`: resources, parameters and outputs, the
//! functions with `Globals` merged in as SAM merges them, their routes, policies and
//! queue mappings, and what the intrinsic functions (`!Ref`, `!GetAtt`, `!Sub`, short or
//! long form) refer to. The local setup ([`super::parse`]) and the template's invariant
//! tests both read the template through it.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One resource: its type and properties.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its `Type`.
    pub kind: String,
    /// Its `Properties` (`Null` when it has none).
    pub properties: Value,
    /// Its `Metadata` (`Null` when it has none).
    pub metadata: Value,
}

/// One HTTP API route of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// Lower case, as `ROUTES` spells it.
    pub method: String,
    /// Its path, as the template writes it (`/v1/campaigns/{campaign_id}`).
    pub path: String,
    /// The logical id the event's `ApiId` refers to.
    pub api: Option<String>,
}

/// One IAM policy statement: its actions and the logical ids its resources refer to.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Its actions (`dynamodb:GetItem`).
    pub actions: Vec<String>,
    /// The logical ids its `Resource` refers to.
    pub resources: BTreeSet<String>,
}

/// One `AWS::Serverless::Function`, with the template's `Globals` applied.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its logical id.
    pub id: String,
    /// The cargo binary it is built from (`Metadata.BuildProperties.Binary`).
    pub binary: Option<String>,
    /// `Metadata.BuildMethod`.
    pub build_method: Option<String>,
    /// `Runtime`.
    pub runtime: Option<String>,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Timeout` in seconds (SAM's default when unset).
    pub timeout: u64,
    /// `ReservedConcurrentExecutions`.
    pub reserved_concurrency: Option<u64>,
    /// `Environment.Variables`, by name.
    pub env: BTreeMap<String, Value>,
    /// `LoggingConfig.LogFormat`.
    pub log_format: Option<String>,
    /// The log group `LoggingConfig.LogGroup` refers to.
    pub log_group: Option<String>,
    /// Its `HttpApi` events.
    pub routes: Vec<Route>,
    /// The `Allow` statements of its inline `Policies`.
    pub statements: Vec<Statement>,
}

/// An SQS event source mapping (a plain `AWS::Lambda::EventSourceMapping` or a SAM SQS event).
#[derive(Debug, Clone)]
pub struct QueueMapping {
    /// The mapping's logical id, or `<function>.<event>` for a SAM event.
    pub id: String,
    /// The queue it reads.
    pub queue: Option<String>,
    /// The function it feeds.
    pub function: Option<String>,
    /// `BatchSize`.
    pub batch_size: Option<u64>,
    /// `MaximumBatchingWindowInSeconds`.
    pub window_s: Option<u64>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u64>,
    /// Whether `FunctionResponseTypes` has `ReportBatchItemFailures`.
    pub reports_batch_item_failures: bool,
}

/// The template, read once for the local setup and for the invariant checks.
#[derive(Debug, Clone)]
pub struct Template {
    /// `Parameters`, by name.
    pub parameters: BTreeMap<String, Value>,
    /// `Resources`, by logical id.
    pub resources: BTreeMap<String, Resource>,
    /// `Outputs`, by name.
    pub outputs: BTreeMap<String, Value>,
    /// The `AWS::Serverless::Function`s, `Globals.Function` merged in as SAM does.
    pub functions: Vec<Function>,
    /// The SQS event source mappings, plain or SAM events.
    pub mappings: Vec<QueueMapping>,
}

/// SAM's default function timeout, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 3;
/// SQS's default visibility timeout, in seconds.
pub const DEFAULT_VISIBILITY_S: u64 = 30;
/// SQS's default retention, in seconds.
pub const DEFAULT_RETENTION_S: u64 = 345_600;

/// A scalar as text.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number, written as a number or as text (`'7'`, `" 7"`).
pub fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list of scalars, or one scalar as a list of one.
pub fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(other).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The names a `!Sub` string refers to (`${X}`, `${X.Arn}`), pseudo parameters and
/// `${!literal}` left out.
pub fn sub_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') && !name.starts_with("AWS::") {
            if let Some(id) = name.split('.').next() {
                out.push(id.to_owned());
            }
        }
        rest = &after[end + 1..];
    }
    out
}

/// The text of a plain string or of a `!Sub` string (its `${..}` left as written).
pub fn sub_text(v: &Value) -> String {
    match v {
        Value::Tagged(t) if t.tag == "Sub" => text(&t.value).unwrap_or_default(),
        other => text(other).unwrap_or_default(),
    }
}

/// The logical id the argument of a `GetAtt` names, in either form: `X.Attr` or `[X, Attr]`.
fn get_att_target(arg: &Value) -> Option<String> {
    match arg {
        Value::Sequence(s) => s.first().and_then(text),
        other => text(other)?.split('.').next().map(str::to_owned),
    }
}

/// The logical id a `!GetAtt X.Attr` / `Fn::GetAtt: [X, Attr]` (either form of the
/// argument) names, if the value is one.
pub fn get_att(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "GetAtt" => get_att_target(&t.value),
        Value::Mapping(m) if m.len() == 1 => m.get("Fn::GetAtt").and_then(get_att_target),
        _ => None,
    }
}

/// The names the argument of a `Sub` refers to: a string, or `[string, {variables}]`
/// whose own variables are not references (their values may be).
fn sub_refs(arg: &Value, out: &mut BTreeSet<String>) {
    match arg {
        Value::String(s) => out.extend(sub_names(s)),
        Value::Sequence(s) => {
            let locals: BTreeSet<String> = s
                .get(1)
                .and_then(Value::as_mapping)
                .map(|m| m.keys().filter_map(text).collect())
                .unwrap_or_default();
            if let Some(Value::String(body)) = s.first() {
                out.extend(sub_names(body).into_iter().filter(|n| !locals.contains(n)));
            }
            for x in s.iter().skip(1) {
                collect_refs(x, out);
            }
        }
        other => collect_refs(other, out),
    }
}

/// Every logical id (resource or parameter) a value refers to, at any depth.
pub fn refs(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(v, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Tagged(t) => {
            if t.tag == "Ref" {
                out.extend(text(&t.value).filter(|n| !n.starts_with("AWS::")));
            } else if t.tag == "GetAtt" {
                out.extend(get_att_target(&t.value));
            } else if t.tag == "Sub" {
                sub_refs(&t.value, out);
            } else {
                collect_refs(&t.value, out);
            }
        }
        Value::Mapping(m) => {
            if let Some(r) = m.get("Ref") {
                out.extend(text(r).filter(|n| !n.starts_with("AWS::")));
            }
            out.extend(m.get("Fn::GetAtt").and_then(get_att_target));
            if let Some(sub) = m.get("Fn::Sub") {
                sub_refs(sub, out);
            }
            for (k, x) in m {
                if k != "Ref" && k != "Fn::Sub" {
                    collect_refs(x, out);
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// The logical id a single `!Ref X` / `!GetAtt X.Attr` names, if the value is one.
pub fn single_ref(v: &Value) -> Option<String> {
    let r = refs(v);
    (r.len() == 1).then(|| r.into_iter().next()).flatten()
}

/// The value at `path` of nested mappings.
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// The `Allow` statements of a function's inline `Policies`.
pub fn statements(properties: &Value) -> Vec<Statement> {
    let mut out = Vec::new();
    for policy in properties
        .get("Policies")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let list = match policy.get("Statement") {
            Some(Value::Sequence(s)) => s.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        };
        for s in list {
            if s.get("Effect").and_then(text).as_deref() != Some("Allow") {
                continue;
            }
            out.push(Statement {
                actions: texts(s.get("Action")),
                resources: s.get("Resource").map(refs).unwrap_or_default(),
            });
        }
    }
    out
}

/// A function's properties with `Globals.Function` merged in, by SAM's rules: a map
/// merges (the resource's entries win, key by key, at every depth), a list is the
/// globals' entries followed by the resource's, and any other value is the resource's.
pub fn with_globals(globals: &Value, own: &Value) -> Value {
    match (globals, own) {
        (Value::Mapping(g), Value::Mapping(o)) => {
            let mut out = g.clone();
            for (k, v) in o {
                let merged = match g.get(k) {
                    Some(gv) => with_globals(gv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Mapping(out)
        }
        (Value::Sequence(g), Value::Sequence(o)) => {
            Value::Sequence(g.iter().chain(o).cloned().collect())
        }
        (g, Value::Null) => g.clone(),
        (_, o) => o.clone(),
    }
}

impl Template {
    /// Reads the template from its text.
    pub fn parse(yaml: &str) -> Result<Template, String> {
        let doc: Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        Template::from_value(&doc)
    }

    /// Reads the template from its YAML value.
    pub fn from_value(doc: &Value) -> Result<Template, String> {
        let resources_map = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or("the template has no Resources")?;
        let mut resources = BTreeMap::new();
        for (id, r) in resources_map {
            let id = text(id).ok_or("a resource id is not text")?;
            let kind = r
                .get("Type")
                .and_then(text)
                .ok_or(format!("{id} has no Type"))?;
            resources.insert(
                id,
                Resource {
                    kind,
                    properties: r.get("Properties").cloned().unwrap_or(Value::Null),
                    metadata: r.get("Metadata").cloned().unwrap_or(Value::Null),
                },
            );
        }
        let parameters = doc
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((text(k)?, v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let outputs = doc
            .get("Outputs")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((text(k)?, v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let globals = get(doc, &["Globals", "Function"])
            .cloned()
            .unwrap_or(Value::Null);

        let mut functions = Vec::new();
        let mut mappings = Vec::new();
        for (id, r) in &resources {
            match r.kind.as_str() {
                "AWS::Serverless::Function" => {
                    let p = &with_globals(&globals, &r.properties);
                    let env: BTreeMap<String, Value> = get(p, &["Environment", "Variables"])
                        .and_then(Value::as_mapping)
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| Some((text(k)?, v.clone())))
                        .collect();
                    let mut routes = Vec::new();
                    for (name, event) in p
                        .get("Events")
                        .and_then(Value::as_mapping)
                        .into_iter()
                        .flatten()
                    {
                        let kind = event.get("Type").and_then(text).unwrap_or_default();
                        let props = event.get("Properties").cloned().unwrap_or(Value::Null);
                        match kind.as_str() {
                            "HttpApi" => routes.push(Route {
                                method: props
                                    .get("Method")
                                    .and_then(text)
                                    .unwrap_or_default()
                                    .to_lowercase(),
                                path: props.get("Path").and_then(text).unwrap_or_default(),
                                api: props.get("ApiId").and_then(single_ref),
                            }),
                            "SQS" => mappings.push(QueueMapping {
                                id: format!("{id}.{}", text(name).unwrap_or_default()),
                                queue: props.get("Queue").and_then(single_ref),
                                function: Some(id.clone()),
                                batch_size: props.get("BatchSize").and_then(number),
                                window_s: props
                                    .get("MaximumBatchingWindowInSeconds")
                                    .and_then(number),
                                maximum_concurrency: get(
                                    &props,
                                    &["ScalingConfig", "MaximumConcurrency"],
                                )
                                .and_then(number),
                                reports_batch_item_failures: texts(
                                    props.get("FunctionResponseTypes"),
                                )
                                .iter()
                                .any(|t| t == "ReportBatchItemFailures"),
                            }),
                            _ => {}
                        }
                    }
                    functions.push(Function {
                        id: id.clone(),
                        binary: get(&r.metadata, &["BuildProperties", "Binary"]).and_then(text),
                        build_method: r.metadata.get("BuildMethod").and_then(text),
                        runtime: p.get("Runtime").and_then(text),
                        architectures: texts(p.get("Architectures")),
                        timeout: p
                            .get("Timeout")
                            .and_then(number)
                            .unwrap_or(DEFAULT_TIMEOUT_S),
                        reserved_concurrency: p
                            .get("ReservedConcurrentExecutions")
                            .and_then(number),
                        env,
                        log_format: get(p, &["LoggingConfig", "LogFormat"]).and_then(text),
                        log_group: get(p, &["LoggingConfig", "LogGroup"]).and_then(single_ref),
                        routes,
                        statements: statements(p),
                    });
                }
                "AWS::Lambda::EventSourceMapping" => {
                    let p = &r.properties;
                    mappings.push(QueueMapping {
                        id: id.clone(),
                        queue: p.get("EventSourceArn").and_then(single_ref),
                        function: p.get("FunctionName").and_then(single_ref),
                        batch_size: p.get("BatchSize").and_then(number),
                        window_s: p.get("MaximumBatchingWindowInSeconds").and_then(number),
                        maximum_concurrency: get(p, &["ScalingConfig", "MaximumConcurrency"])
                            .and_then(number),
                        reports_batch_item_failures: texts(p.get("FunctionResponseTypes"))
                            .iter()
                            .any(|t| t == "ReportBatchItemFailures"),
                    });
                }
                _ => {}
            }
        }
        Ok(Template {
            parameters,
            resources,
            outputs,
            functions,
            mappings,
        })
    }

    /// The type of a resource.
    pub fn kind_of(&self, id: &str) -> Option<&str> {
        self.resources.get(id).map(|r| r.kind.as_str())
    }

    /// One property of a resource.
    pub fn prop(&self, id: &str, key: &str) -> Option<&Value> {
        self.resources.get(id).and_then(|r| r.properties.get(key))
    }

    /// The function with this logical id.
    pub fn function(&self, id: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.id == id)
    }

    /// The resources of these types.
    pub fn of_kind<'a>(
        &'a self,
        kinds: &'a [&str],
    ) -> impl Iterator<Item = (&'a String, &'a Resource)> + 'a {
        self.resources
            .iter()
            .filter(move |(_, r)| kinds.contains(&r.kind.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(yaml: &str) -> Value {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn get_att_names_its_resource_in_every_form() {
        for form in [
            "!GetAtt D.Arn",
            "!GetAtt [D, Arn]",
            "{'Fn::GetAtt': [D, Arn]}",
            "{'Fn::GetAtt': D.Arn}",
        ] {
            assert_eq!(get_att(&value(form)).as_deref(), Some("D"), "{form}");
        }
        assert_eq!(get_att(&value("!Ref D")), None);
        assert_eq!(get_att(&value("arn:aws:sqs:eu-west-1:1:d")), None);
    }

    #[test]
    fn long_form_get_att_and_sub_are_references_too() {
        let v = value(
            "[{'Fn::GetAtt': A.Arn}, {'Fn::Sub': ['${B}-${own}', {own: {'Fn::GetAtt': [C, Arn]}}]}, {'Fn::Sub': '${D.Arn}/index/gsi1'}]",
        );

        let want: BTreeSet<String> = ["A", "B", "C", "D"].map(String::from).into();
        assert_eq!(refs(&v), want);
    }

    #[test]
    fn numbers_may_be_quoted_and_padded() {
        assert_eq!(number(&value("7")), Some(7));
        assert_eq!(number(&value("' 7'")), Some(7));
        assert_eq!(number(&value("'seven'")), None);
    }

    #[test]
    fn globals_merge_as_sam_merges_them() {
        let t = Template::parse(
            "Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Architectures: [arm64]
    ReservedConcurrentExecutions: 4
    LoggingConfig: {LogFormat: JSON}
    Environment: {Variables: {TABLE_NAME: !Ref Table, RUST_LOG: info}}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Plain: {Type: AWS::Serverless::Function}
  Own:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Architectures: [x86_64]
      LoggingConfig: {LogGroup: !Ref OwnLogs}
      Environment: {Variables: {RUST_LOG: debug, EXTRA: '1'}}
  OwnLogs: {Type: AWS::Logs::LogGroup}
",
        )
        .unwrap();

        let plain = t.function("Plain").unwrap();
        assert_eq!(plain.runtime.as_deref(), Some("provided.al2023"));
        assert_eq!(plain.timeout, 10);
        assert_eq!(plain.architectures, ["arm64"]);
        assert_eq!(plain.reserved_concurrency, Some(4));
        assert_eq!(plain.log_format.as_deref(), Some("JSON"));
        assert_eq!(
            plain.env.keys().collect::<Vec<_>>(),
            ["RUST_LOG", "TABLE_NAME"]
        );

        let own = t.function("Own").unwrap();
        assert_eq!(own.timeout, 30, "a scalar of the resource wins");
        assert_eq!(own.architectures, ["arm64", "x86_64"], "lists add up");
        assert_eq!(own.log_format.as_deref(), Some("JSON"), "maps merge");
        assert_eq!(own.log_group.as_deref(), Some("OwnLogs"));
        assert_eq!(own.env["RUST_LOG"], Value::from("debug"));
        assert_eq!(own.env.get("EXTRA"), Some(&Value::from("1")));
        assert_eq!(single_ref(&own.env["TABLE_NAME"]).as_deref(), Some("Table"));
    }

    #[test]
    fn a_resource_without_a_type_is_refused() {
        assert!(Template::parse("Resources: {A: {Properties: {}}}").is_err());
        assert!(Template::parse("Parameters: {}").is_err());
    }
}
