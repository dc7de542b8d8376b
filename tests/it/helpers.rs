//! The test stack: a fresh table, queues and key per test on the local emulator (created
//! from `infra/template.yaml`), the real function handlers wired to them, fake receivers
//! on 127.0.0.2, and an in-process stand-in for Lambda's SQS event source mapping.

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use lambda_http::{Body, Request};
use leadrelay::cursor::CursorSealer;
use leadrelay::deliver::{DeliverConfig, Deliverer};
use leadrelay::egress::EgressPolicy;
use leadrelay::ids::AccountId;
use leadrelay::manage::{self, campaigns::CampaignInput, integrations::IntegrationInput};
use leadrelay::model::{Campaign, Integration};
use leadrelay::schedule::RetrySchedule;
use leadrelay::vault::CachedVault;
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::http::HttpTransport;
use leadrelay_aws::kms::KmsVault;
use leadrelay_aws::sqs::SqsQueue;
use leadrelay_dev::template;
use leadrelay_explain::provider::Provider;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The deliver dependencies the tests use: real storage, queue, KMS and HTTP.
pub type DeliverDeps = deliver::Deps<DynamoStore, SqsQueue, HttpTransport, CachedVault<KmsVault>>;

/// Everything one test runs against.
pub struct Stack {
    pub store: DynamoStore,
    pub queue: SqsQueue,
    pub sqs: aws_sdk_sqs::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub vault: KmsVault,
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub queue_arn: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether the emulator answers; under `CI=true` a missing one fails the test.
pub async fn emulator_up() -> bool {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let up = !endpoint.is_empty()
        && reqwest::Client::new()
            .get(format!("{endpoint}/moto-api/"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the local emulator is not running (AWS_ENDPOINT_URL={endpoint:?}); scripts/test.sh starts it"
        );
        eprintln!(
            "SKIPPED: no local emulator at AWS_ENDPOINT_URL; run the tests with scripts/test.sh"
        );
    }
    up
}

impl Stack {
    /// A fresh stack, or `None` (outside CI only) when the emulator is missing.
    pub async fn new() -> Option<Stack> {
        if !emulator_up().await {
            return None;
        }
        let aws = leadrelay_aws::config::load().await;
        let clients = (
            aws_sdk_dynamodb::Client::new(&aws),
            aws_sdk_sqs::Client::new(&aws),
            aws_sdk_kms::Client::new(&aws),
        );
        Some(Stack::with_clients(&aws, clients).await)
    }

    /// A fresh stack whose functions use these clients (a benchmark counts their calls).
    pub async fn with_clients(
        aws: &aws_config::SdkConfig,
        (ddb, sqs, kms): (
            aws_sdk_dynamodb::Client,
            aws_sdk_sqs::Client,
            aws_sdk_kms::Client,
        ),
    ) -> Stack {
        let prefix = format!(
            "it{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let resources = template::load(&template::template_path()).expect("the template parses");
        let created = template::create(aws, &resources, &prefix)
            .await
            .expect("resources are created on the emulator");
        let queue_url = created.queues["DeliveryQueue"].clone();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let queue_arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        let table = created.tables["Table"].clone();
        Stack {
            store: DynamoStore::new(ddb.clone(), table.clone()),
            queue: SqsQueue::new(sqs.clone(), queue_url.clone()),
            vault: KmsVault::new(kms, created.keys["CredentialsKey"].clone()),
            sqs,
            ddb,
            table,
            dlq_url: created.queues["DeadLetterQueue"].clone(),
            queue_url,
            queue_arn,
        }
    }

    pub fn ingest_deps(&self) -> ingest::Deps<DynamoStore, SqsQueue> {
        ingest::Deps {
            store: self.store.clone(),
            queue: self.queue.clone(),
        }
    }

    pub fn logs_deps(&self) -> logs::Deps<DynamoStore, SqsQueue> {
        logs::Deps {
            store: self.store.clone(),
            queue: self.queue.clone(),
            cursors: CursorSealer::new("test-cursor-secret"),
            audit_retention_days: 1,
        }
    }

    /// Deliver with a schedule (seconds, comma-separated) and an attempt timeout.
    pub fn deliver_deps(&self, schedule: &str, timeout: Duration) -> DeliverDeps {
        let policy = EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        };
        deliver::Deps {
            deliverer: Deliverer {
                store: self.store.clone(),
                queue: self.queue.clone(),
                transport: HttpTransport::new(policy, timeout).expect("client"),
                // As in the deliver function: opened credentials are kept for a while.
                vault: CachedVault::new(self.vault.clone(), Duration::from_secs(300)),
                config: DeliverConfig {
                    schedule: RetrySchedule::parse(schedule).expect("schedule"),
                    attempt_timeout: timeout,
                },
            },
            concurrency: 10,
        }
    }

    /// A new account and its key.
    pub async fn account(&self) -> (AccountId, String) {
        let (account, _, key) = manage::keys::bootstrap(&self.store, "Test account")
            .await
            .unwrap();
        (account.id, key.expose().to_owned())
    }

    /// A webhook integration to `url` with extra settings and credentials.
    pub async fn webhook(
        &self,
        account: &AccountId,
        url: &str,
        settings: Value,
        credentials: &[(&str, &str)],
    ) -> Integration {
        let mut s = settings.as_object().cloned().unwrap_or_default();
        s.insert("url".into(), Value::from(url));
        let input = IntegrationInput {
            name: Some("Test hook".into()),
            provider: Some(Provider::Webhook),
            settings: Some(s),
            credentials: credentials
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
                .collect(),
            version: None,
        };
        let policy = EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        };
        manage::integrations::create_integration(&self.store, &self.vault, policy, account, input)
            .await
            .unwrap()
            .0
    }

    /// A campaign delivering to `integrations`, and its ingest key.
    pub async fn campaign(
        &self,
        account: &AccountId,
        integrations: &[&Integration],
    ) -> (Campaign, String) {
        let (c, _, key) = manage::campaigns::create_campaign(
            &self.store,
            account,
            CampaignInput {
                name: Some("Test campaign".into()),
                integration_ids: Some(integrations.iter().map(|i| i.id.to_string()).collect()),
                retention_days: None,
            },
        )
        .await
        .unwrap();
        (c, key.expose().to_owned())
    }

    /// Posts a registration through the ingest handler.
    pub async fn post(
        &self,
        campaign: &Campaign,
        key: &str,
        body: Value,
        idempotency_key: Option<&str>,
    ) -> (u16, Value) {
        let mut req = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/campaigns/{}/registrations", campaign.id))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json");
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let req: Request = req.body(Body::from(body.to_string())).unwrap();
        respond(ingest::handler(&self.ingest_deps(), req).await.unwrap())
    }

    /// A logs API call.
    pub async fn logs_call(&self, method: &str, path: &str, key: &str) -> (u16, Value) {
        let req: Request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::Empty)
            .unwrap();
        respond(logs::router::handle(&self.logs_deps(), req).await.unwrap())
    }

    /// A registration's log.
    pub async fn log(&self, key: &str, registration_id: &str) -> Value {
        let (status, v) = self
            .logs_call("GET", &format!("/v1/registrations/{registration_id}"), key)
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Receives up to ten messages (waiting up to `wait`), as Lambda's event records.
    pub async fn receive(&self, wait: Duration) -> Vec<SqsMessage> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        out.messages
            .unwrap_or_default()
            .iter()
            .map(|m| {
                serde_json::from_value(leadrelay_dev::pump::record(m, &self.queue_arn))
                    .expect("an SQS record")
            })
            .collect()
    }

    /// Deletes messages that were handled.
    pub async fn delete(&self, messages: &[&SqsMessage]) {
        if messages.is_empty() {
            return;
        }
        let entries = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .unwrap()
            })
            .collect();
        self.sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("delete");
    }

    /// One round of the event source mapping: receive, run deliver's batch handler,
    /// delete what it did not report as failed. Returns (handled, failed).
    pub async fn pump(&self, deps: &DeliverDeps) -> (usize, usize) {
        let messages = self.receive(Duration::from_secs(1)).await;
        if messages.is_empty() {
            return (0, 0);
        }
        let results = deliver::process_batch(deps, messages.clone(), None).await;
        let failed: Vec<String> = results
            .iter()
            .filter(|(_, r)| matches!(r, deliver::MessageResult::Failed(_)))
            .map(|(id, _)| id.clone())
            .collect();
        let done: Vec<&SqsMessage> = messages
            .iter()
            .filter(|m| !failed.contains(m.message_id.as_ref().unwrap()))
            .collect();
        self.delete(&done).await;
        (messages.len(), failed.len())
    }

    /// Pumps until every listed registration's deliveries are terminal (or paused), or
    /// `timeout` passes; returns the final logs.
    pub async fn settle(
        &self,
        deps: &DeliverDeps,
        key: &str,
        registrations: &[String],
        timeout: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            self.pump(deps).await;
            let mut logs = Vec::new();
            let mut settled = true;
            for id in registrations {
                let log = self.log(key, id).await;
                settled &= log["deliveries"].as_array().unwrap().iter().all(|d| {
                    matches!(
                        d["state"].as_str(),
                        Some(
                            "delivered"
                                | "failed"
                                | "exhausted"
                                | "paused"
                                | "skipped"
                                | "erased"
                                | "superseded"
                        )
                    )
                });
                logs.push(log);
            }
            if settled || Instant::now() > deadline {
                return logs;
            }
        }
    }

    /// Messages in the queue: visible, in flight and delayed.
    pub async fn queue_depth(&self, url: &str) -> usize {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("queue attributes");
        out.attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
            .unwrap_or(0)
    }

    /// Every item of the table (tests only: the product never scans).
    pub async fn scan_text(&self) -> String {
        let mut out = String::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items() {
                out.push_str(&format!("{item:?}\n"));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }
}

/// A handler's response as (status, JSON body).
pub fn respond(r: lambda_http::Response<Body>) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: &[u8] = r.body().as_ref();
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// The deliveries of a log by state.
pub fn states(log: &Value) -> Vec<String> {
    log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["state"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The attempts of a log's first delivery.
pub fn attempts(log: &Value) -> Vec<Value> {
    log["deliveries"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A registration body.
pub fn registration(email: &str) -> Value {
    json!({"email": email, "first_name": "Test", "consent": {"marketing": true}})
}

/// The id in a 202 answer.
pub fn id_of(v: &Value) -> String {
    v["registration_id"]
        .as_str()
        .expect("a registration id")
        .to_owned()
}

/// Counts by key.
pub fn tally<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.to_owned()).or_default() += 1;
    }
    m
}
