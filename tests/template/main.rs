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

mod broken;
mod checks;
mod code;

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

use broken::*;
use checks::*;
use code::*;

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
