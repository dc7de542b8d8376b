//! End-to-end throughput through the emulator, and the AWS calls one registration costs.
//!
//! Posts registrations through the real ingest handler (one webhook integration, a fake
//! receiver answering 200), pumps the queue into the real deliver handler until every
//! one is delivered, and counts every AWS request the functions made, by operation.
//! Needs the emulator: `scripts/bench-e2e.sh` starts it and runs this.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../it/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use helpers::{id_of, registration, Stack};
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts requests by their `X-Amz-Target` (`DynamoDB_20120810.PutItem`, ...).
#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Counter {
    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "Counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown")
            .to_owned();
        *self.0.lock().unwrap().entry(target).or_default() += 1;
        Ok(())
    }
}

fn report(phase: &str, calls: &BTreeMap<String, u64>, n: u64) {
    let total: u64 = calls.values().sum();
    println!(
        "{phase}: {:.2} AWS calls per registration",
        total as f64 / n as f64
    );
    for (op, count) in calls {
        println!("  {op:<45} {:.2}", *count as f64 / n as f64);
    }
}

#[tokio::main]
async fn main() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .try_init();
    if !helpers::emulator_up().await {
        println!("e2e: no emulator; run scripts/bench-e2e.sh");
        return;
    }
    let n: usize = std::env::var("E2E_REGISTRATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let aws = leadrelay_aws::config::load().await;
    let counter = Counter::default();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&aws)
            .interceptor(counter.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&aws)
            .interceptor(counter.clone())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&aws)
            .interceptor(counter.clone())
            .build(),
    );
    let s = Stack::with_clients(&aws, (ddb, sqs, kms)).await;
    let receiver = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(200, json!({"ok": true}))),
    )
    .await
    .unwrap();
    let (account, _) = s.account().await;
    let secret = leadrelay::destination::signature::generate_secret();
    let hook = s
        .webhook(
            &account,
            &receiver.url(),
            json!({}),
            &[("signing_secret", &secret)],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    counter.take();

    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    // One post at a time: moto copies a whole table for every transaction and races when
    // other writes hit that table meanwhile ("dictionary changed size during iteration");
    // DynamoDB has no such limit, so this measures the emulator, not the design.
    for chunk in (0..n).collect::<Vec<_>>().chunks(1) {
        let posts = chunk.iter().map(|i| {
            let (s, campaign, ingest_key) = (&s, &campaign, &ingest_key);
            async move {
                let idem = format!("bench-{i}");
                s.post(
                    campaign,
                    ingest_key,
                    registration(&format!("lead{i}@example.com")),
                    Some(&idem),
                )
                .await
            }
        });
        for (status, v) in futures::future::join_all(posts).await {
            assert_eq!(status, 202, "{v}");
            ids.push(id_of(&v));
        }
    }
    let ingest_time = started.elapsed();
    let ingest_calls = counter.take();

    let deliver_started = Instant::now();
    loop {
        let (handled, _) = s.pump(&deps).await;
        if handled == 0 && receiver.hits() >= n {
            break;
        }
    }
    let total = started.elapsed();
    let deliver_time = deliver_started.elapsed();
    let mut deliver_calls = counter.take();
    // The pump's own receive and delete are the event source mapping's, not the function's.
    let pump_ops: BTreeMap<String, u64> = deliver_calls
        .iter()
        .filter(|(op, _)| op.ends_with("ReceiveMessage") || op.ends_with("DeleteMessageBatch"))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    deliver_calls.retain(|op, _| !pump_ops.contains_key(op));

    let delivered = ids.len();
    println!("e2e through moto on this machine, {delivered} registrations, one webhook integration each:");
    println!(
        "  ingest   {:>8.1} registrations/s ({:.1} ms each, one at a time)",
        n as f64 / ingest_time.as_secs_f64(),
        ingest_time.as_secs_f64() * 1000.0 / n as f64
    );
    println!(
        "  deliver  {:>8.1} deliveries/s",
        n as f64 / deliver_time.as_secs_f64()
    );
    println!(
        "  overall  {:>8.1} registrations/s, post to delivered",
        n as f64 / total.as_secs_f64()
    );
    report("ingest", &ingest_calls, n as u64);
    report(
        "deliver (one successful delivery)",
        &deliver_calls,
        n as u64,
    );
    report(
        "event source mapping (Lambda's, not billed as API calls by us)",
        &pump_ops,
        n as u64,
    );
    let both: u64 = ingest_calls.values().sum::<u64>() + deliver_calls.values().sum::<u64>();
    println!(
        "total: {:.2} AWS calls per registration (ingest + one delivery)",
        both as f64 / n as f64
    );
}
