//! Delivery throughput in process: the real deliver batch handler (bounded concurrency,
//! per-message isolation, attempt claims, records, state moves) with the store and queue
//! in memory, so the figure is deliver's own cost plus HTTP, without AWS.
//!
//! Three runs over the same number of deliveries, batches of 10 as the event source
//! mapping hands them out:
//! - `no HTTP`: a transport that answers 200 at once (the pipeline alone);
//! - `loopback`: the real egress-guarded HTTP client to a fake receiver on 127.0.0.1;
//! - `loopback, 20 ms`: the same receiver answering after 20 ms, as a fast real API.
//!
//! `cargo bench -p integration-tests --bench deliver` (no emulator needed). Set
//! `DELIVERIES` to change the count (default 2,000).

#![allow(missing_docs, clippy::unwrap_used)]

use aws_lambda_events::event::sqs::SqsMessage;
use deliver::{process_batch, Deps, MessageResult};
use leadrelay::deliver::{DeliverConfig, Deliverer, Handled};
use leadrelay::egress::EgressPolicy;
use leadrelay::exchange::{Exchange, OutgoingRequest, Transport};
use leadrelay::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use leadrelay::model::{
    DeliverJob, DeliveryState, Integration, IntegrationStatus, Registration, RegistrationData,
    Task, Trigger,
};
use leadrelay::queue::memory::MemoryQueue;
use leadrelay::store::memory::MemoryStore;
use leadrelay::store::{CampaignStore, RegistrationStore};
use leadrelay::vault::InsecureTestVault;
use leadrelay_aws::http::HttpTransport;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::provider::Provider;
use serde_json::json;
use std::time::{Duration, Instant};

/// Answers 200 without any I/O.
struct Instant200;

impl Transport for Instant200 {
    async fn send(&self, _request: &OutgoingRequest) -> Exchange {
        Exchange {
            response: ProviderResponse::new(200, "{}"),
            summary: None,
            duration_ms: 0,
            blocked: None,
        }
    }
}

fn webhook(account: &AccountId, url: &str) -> Integration {
    Integration {
        id: IntegrationId::generate(),
        account_id: account.clone(),
        name: "bench hook".into(),
        provider: Provider::Webhook,
        settings: json!({"url": url}).as_object().cloned().unwrap(),
        credentials: None,
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        created_at: 0,
        updated_at: 0,
        cooldown_until: None,
    }
}

/// A store holding `n` registrations for one integration, and their jobs as SQS records.
async fn fixture(n: usize, url: &str) -> (MemoryStore, Vec<SqsMessage>) {
    let store = MemoryStore::new();
    let account = AccountId::generate();
    let integration = webhook(&account, url);
    store.put_integration(&integration).await.unwrap();
    let campaign = CampaignId::generate();
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let registration = Registration {
            id: RegistrationId::generate(),
            account_id: account.clone(),
            campaign_id: campaign.clone(),
            received_at: leadrelay::clock::now_ms(),
            data: RegistrationData {
                email: Some(format!("bench.{i}@example.com")),
                first_name: Some("Bench".into()),
                ..RegistrationData::default()
            },
            integration_ids: vec![integration.id.clone()],
            expires_at: leadrelay::clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        store.create_registration(&registration, &[]).await.unwrap();
        let job = Task::DeliverV1(DeliverJob {
            account_id: account.clone(),
            registration_id: registration.id,
            integration_id: integration.id.clone(),
            attempt: 1,
            not_before: None,
            trigger: Trigger::Automatic,
        });
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("m-{i}"));
        record.body = Some(serde_json::to_string(&job).unwrap());
        records.push(record);
    }
    (store, records)
}

async fn run<T: Transport>(label: &str, n: usize, url: &str, transport: T) {
    let (store, records) = fixture(n, url).await;
    let deps = Deps {
        deliverer: Deliverer {
            store,
            queue: MemoryQueue::new(),
            transport,
            vault: InsecureTestVault,
            config: DeliverConfig::default(),
        },
        concurrency: 10,
    };
    let started = Instant::now();
    let mut delivered = 0;
    for batch in records.chunks(10) {
        for (_, result) in process_batch(&deps, batch.to_vec(), None).await {
            if result
                == MessageResult::Done(Handled::Attempted(
                    DeliveryState::Delivered,
                    leadrelay_explain::verdict::Outcome::Delivered,
                ))
            {
                delivered += 1;
            }
        }
    }
    let took = started.elapsed();
    assert_eq!(delivered, n, "{label}: every delivery succeeds");
    println!(
        "{label:<18} {n} deliveries in {:>7.1} ms: {:>8.0} deliveries/s, {:>6.1} µs each",
        took.as_secs_f64() * 1e3,
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64
    );
}

fn main() {
    let n: usize = std::env::var("DELIVERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let policy = EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        };
        let transport = || HttpTransport::new(policy, Duration::from_secs(5)).unwrap();
        run("no HTTP", n, "https://hooks.example.com/in", Instant200).await;
        let quick = FakeServer::start("127.0.0.1:0", fake::always(Reply::json(200, json!({}))))
            .await
            .unwrap();
        run("loopback", n, &quick.url(), transport()).await;
        let slow = FakeServer::start(
            "127.0.0.1:0",
            fake::always(Reply::json(200, json!({})).after(Duration::from_millis(20))),
        )
        .await
        .unwrap();
        run("loopback, 20 ms", n, &slow.url(), transport()).await;
    });
}
