//! The tables, queues and keys of `infra/template.yaml`, created on a local emulator.
//!
//! The template is the one source of truth: this module takes the `AWS::DynamoDB::Table`,
//! `AWS::SQS::Queue` and `AWS::KMS::Key` resources from it (key schema, indexes, TTL,
//! visibility, retention, redrive), as the one reader of the template ([`read`]) sees
//! them, and creates them under local names (`<prefix>-<LogicalId>`). Nothing here
//! restates the template's definitions.

pub mod read;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use read::{get_att, number, text, Template};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Why the template could not be read or its resources created.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the YAML expected.
    #[error("the template is not valid: {0}")]
    Invalid(String),
    /// An AWS call failed.
    #[error("creating {resource}")]
    Create {
        /// The logical id.
        resource: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// `(name, HASH|RANGE)` pairs of a key schema.
pub type KeySchema = Vec<(String, String)>;

/// One DynamoDB table of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Its logical id.
    pub logical_id: String,
    /// `(name, type)` of each key attribute.
    pub attributes: Vec<(String, String)>,
    /// `(name, HASH|RANGE)`.
    pub key_schema: KeySchema,
    /// Its global secondary indexes.
    pub indexes: Vec<IndexSpec>,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

/// One global secondary index of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// Its name.
    pub name: String,
    /// `(name, HASH|RANGE)`.
    pub key_schema: KeySchema,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
}

/// One SQS queue of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    /// Its logical id.
    pub logical_id: String,
    /// Visibility timeout in seconds.
    pub visibility_timeout: Option<u64>,
    /// Retention in seconds.
    pub retention: Option<u64>,
    /// The dead-letter queue's logical id and the receive count before moving there.
    pub redrive: Option<(String, u64)>,
}

/// The resources local runs need.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    /// Tables.
    pub tables: Vec<TableSpec>,
    /// Queues, dead-letter targets before their sources.
    pub queues: Vec<QueueSpec>,
    /// KMS keys, by logical id.
    pub keys: Vec<String>,
}

fn invalid(what: impl Into<String>) -> TemplateError {
    TemplateError::Invalid(what.into())
}

fn pairs(list: Option<&Value>, a: &str, b: &str) -> Vec<(String, String)> {
    list.and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| Some((text(i.get(a)?)?, text(i.get(b)?)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the resources from a template's text.
pub fn parse(yaml: &str) -> Result<Resources, TemplateError> {
    resources(&Template::parse(yaml).map_err(invalid)?)
}

/// The resources local runs need, from the read template.
pub fn resources(template: &Template) -> Result<Resources, TemplateError> {
    let mut out = Resources::default();
    for (id, resource) in &template.resources {
        let id = id.clone();
        let props = Some(&resource.properties).filter(|p| !p.is_null());
        match resource.kind.as_str() {
            "AWS::DynamoDB::Table" => {
                let props = props.ok_or_else(|| invalid(format!("{id} has no Properties")))?;
                let indexes = props
                    .get("GlobalSecondaryIndexes")
                    .and_then(Value::as_sequence)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| {
                                Some(IndexSpec {
                                    name: text(i.get("IndexName")?)?,
                                    key_schema: pairs(
                                        i.get("KeySchema"),
                                        "AttributeName",
                                        "KeyType",
                                    ),
                                    projection: i
                                        .get("Projection")
                                        .and_then(|p| p.get("ProjectionType"))
                                        .and_then(text)
                                        .unwrap_or_else(|| "ALL".into()),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let ttl = props.get("TimeToLiveSpecification").and_then(|t| {
                    (t.get("Enabled").and_then(Value::as_bool) == Some(true))
                        .then(|| t.get("AttributeName").and_then(text))
                        .flatten()
                });
                out.tables.push(TableSpec {
                    logical_id: id,
                    attributes: pairs(
                        props.get("AttributeDefinitions"),
                        "AttributeName",
                        "AttributeType",
                    ),
                    key_schema: pairs(props.get("KeySchema"), "AttributeName", "KeyType"),
                    indexes,
                    ttl_attribute: ttl,
                });
            }
            "AWS::SQS::Queue" => {
                let get = |k: &str| props.and_then(|p| p.get(k));
                let redrive = get("RedrivePolicy").and_then(|r| {
                    Some((
                        get_att(r.get("deadLetterTargetArn")?)?,
                        r.get("maxReceiveCount").and_then(number)?,
                    ))
                });
                out.queues.push(QueueSpec {
                    logical_id: id,
                    visibility_timeout: get("VisibilityTimeout").and_then(number),
                    retention: get("MessageRetentionPeriod").and_then(number),
                    redrive,
                });
            }
            "AWS::KMS::Key" => out.keys.push(id),
            _ => {}
        }
    }
    // Dead-letter queues first: their ARNs go into their sources' redrive policies.
    out.queues.sort_by_key(|q| q.redrive.is_some());
    Ok(out)
}

/// Reads the resources from a template file.
pub fn load(path: &Path) -> Result<Resources, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// What was created, by logical id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    /// Table names.
    pub tables: BTreeMap<String, String>,
    /// Queue URLs.
    pub queues: BTreeMap<String, String>,
    /// KMS key ids.
    pub keys: BTreeMap<String, String>,
}

fn create_err<E: std::error::Error + Send + Sync + 'static>(
    resource: &str,
) -> impl FnOnce(E) -> TemplateError + '_ {
    move |e| TemplateError::Create {
        resource: resource.to_owned(),
        source: Box::new(e),
    }
}

/// Creates every resource under `<prefix>-<LogicalId>`; existing tables and queues are
/// kept (creation is idempotent), keys are made anew.
pub async fn create(
    config: &aws_config::SdkConfig,
    resources: &Resources,
    prefix: &str,
) -> Result<Created, TemplateError> {
    let ddb = aws_sdk_dynamodb::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let kms = aws_sdk_kms::Client::new(config);
    let mut created = Created::default();
    for t in &resources.tables {
        let name = format!("{prefix}-{}", t.logical_id);
        let exists = ddb.describe_table().table_name(&name).send().await.is_ok();
        if !exists {
            let mut req = ddb
                .create_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest);
            for (attr, kind) in &t.attributes {
                req = req.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(attr)
                        .attribute_type(ScalarAttributeType::from(kind.as_str()))
                        .build()
                        .map_err(create_err(&t.logical_id))?,
                );
            }
            let schema =
                |pairs: &[(String, String)]| -> Result<Vec<KeySchemaElement>, TemplateError> {
                    pairs
                        .iter()
                        .map(|(a, k)| {
                            KeySchemaElement::builder()
                                .attribute_name(a)
                                .key_type(KeyType::from(k.as_str()))
                                .build()
                                .map_err(create_err(&t.logical_id))
                        })
                        .collect()
                };
            req = req.set_key_schema(Some(schema(&t.key_schema)?));
            for index in &t.indexes {
                req = req.global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(&index.name)
                        .set_key_schema(Some(schema(&index.key_schema)?))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::from(index.projection.as_str()))
                                .build(),
                        )
                        .build()
                        .map_err(create_err(&t.logical_id))?,
                );
            }
            req.send().await.map_err(create_err(&t.logical_id))?;
            if let Some(attr) = &t.ttl_attribute {
                ddb.update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .attribute_name(attr)
                            .enabled(true)
                            .build()
                            .map_err(create_err(&t.logical_id))?,
                    )
                    .send()
                    .await
                    .map_err(create_err(&t.logical_id))?;
            }
        }
        created.tables.insert(t.logical_id.clone(), name);
    }
    let mut arns: BTreeMap<String, String> = BTreeMap::new();
    for q in &resources.queues {
        let name = format!("{prefix}-{}", q.logical_id);
        let mut req = sqs.create_queue().queue_name(&name);
        if let Some(v) = q.visibility_timeout {
            req = req.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(r) = q.retention {
            req = req.attributes(QueueAttributeName::MessageRetentionPeriod, r.to_string());
        }
        if let Some((target, count)) = &q.redrive {
            let arn = arns.get(target).ok_or_else(|| {
                invalid(format!(
                    "{} sends to {target}, which is not a queue of the template",
                    q.logical_id
                ))
            })?;
            req = req.attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": count})
                    .to_string(),
            );
        }
        let url = req
            .send()
            .await
            .map_err(create_err(&q.logical_id))?
            .queue_url
            .ok_or_else(|| invalid("CreateQueue returned no URL"))?;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(create_err(&q.logical_id))?;
        if let Some(arn) = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        {
            arns.insert(q.logical_id.clone(), arn.clone());
        }
        created.queues.insert(q.logical_id.clone(), url);
    }
    for k in &resources.keys {
        let out = kms
            .create_key()
            .description(format!("{prefix} {k}"))
            .send()
            .await
            .map_err(create_err(k))?;
        let id = out
            .key_metadata
            .map(|m| m.key_id)
            .ok_or_else(|| invalid("CreateKey returned no key"))?;
        created.keys.insert(k.clone(), id);
    }
    Ok(created)
}

/// The repository's template.
pub fn template_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_declares_what_the_functions_use() {
        let r = load(&template_path()).unwrap();

        let table = &r.tables[0];
        assert_eq!(r.tables.len(), 1);
        assert_eq!(
            table.key_schema,
            [("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
        );
        let index_names: Vec<&str> = table.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(index_names, ["gsi1", "gsi2", "gsi3"]);
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
        let queues: Vec<&str> = r.queues.iter().map(|q| q.logical_id.as_str()).collect();
        assert_eq!(queues, ["DeadLetterQueue", "DeliveryQueue"]);
        assert_eq!(r.queues[1].redrive, Some(("DeadLetterQueue".into(), 5)));
        assert!(r.keys.contains(&"CredentialsKey".to_owned()));
    }

    #[test]
    fn long_form_intrinsics_are_read_too() {
        let r = parse(
            "Resources:\n  D: {Type: AWS::SQS::Queue}\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {deadLetterTargetArn: {'Fn::GetAtt': [D, Arn]}, maxReceiveCount: '7'}\n",
        )
        .unwrap();
        assert_eq!(r.queues[1].redrive, Some(("D".into(), 7)));
        assert!(parse("nope: [").is_err());
    }

    #[test]
    fn every_form_of_the_dead_letter_target_is_read() {
        for target in ["!GetAtt D.Arn", "!GetAtt [D, Arn]", "{'Fn::GetAtt': D.Arn}"] {
            let r = parse(&format!(
                "Resources:\n  D: {{Type: AWS::SQS::Queue}}\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {{deadLetterTargetArn: {target}, maxReceiveCount: ' 5'}}\n"
            ))
            .unwrap();
            let queues: Vec<&str> = r.queues.iter().map(|q| q.logical_id.as_str()).collect();
            assert_eq!(queues, ["D", "Q"], "{target}");
            assert_eq!(r.queues[1].redrive, Some(("D".into(), 5)), "{target}");
        }
    }
}
