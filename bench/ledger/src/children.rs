//! The processes the driver starts: the ingest handler behind a loopback HTTP server,
//! the deliver handler fed by an SQS poller (Lambda's event source mapping, played as
//! `dev/src/pump.rs` does), both killed and restarted in the crash scenario, and the
//! reconcile handler run every few seconds (the stack's EventBridge schedule, scaled to
//! the run). They read their configuration from the environment exactly as the
//! functions do, and end by themselves when the driver is gone or their time is up.

use crate::net::{self, In};
use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};
use leadrelay::deliver::{DeliverConfig, Deliverer};
use leadrelay::vault::CachedVault;
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::http::HttpTransport;
use leadrelay_aws::kms::KmsVault;
use leadrelay_aws::sqs::SqsQueue;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Ends the process when its parent is gone or `max` has passed.
fn watch_parent(max: Duration) {
    let parent = std::os::unix::process::parent_id();
    let started = Instant::now();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent || started.elapsed() > max {
                std::process::exit(0);
            }
        }
    });
}

/// The ingest function's handler behind `127.0.0.1:port`.
pub async fn ingest_server(port: u16, max: Duration) -> Result<(), Error> {
    watch_parent(max);
    leadrelay_aws::telemetry::init();
    let config = ingest::config::Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = Arc::new(ingest::Deps {
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    net::serve(listener, move |req: In| {
        let deps = deps.clone();
        async move {
            let mut b = lambda_http::http::Request::builder()
                .method(req.method.as_str())
                .uri(req.uri.to_string());
            for (k, v) in &req.headers {
                b = b.header(k.as_str(), v.as_bytes());
            }
            let request: lambda_http::Request =
                b.body(lambda_http::Body::from(req.body.to_vec())).ok()?;
            Some(match ingest::handler(&deps, request).await {
                Ok(r) => {
                    let headers: Vec<(&str, String)> = r
                        .headers()
                        .iter()
                        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?.to_owned())))
                        .collect();
                    let body: &[u8] = r.body().as_ref();
                    net::response(r.status().as_u16(), &headers, body.to_vec())
                }
                Err(e) => net::response(500, &[], e.to_string()),
            })
        }
    })
    .await;
    Ok(())
}

/// How the deliver worker polls.
#[derive(Debug, Clone, Copy)]
pub struct PollConfig {
    /// Pollers running at once (Lambda's concurrency).
    pub pollers: usize,
    /// Visibility of a received message; kept up while its batch runs (a live
    /// invocation's messages never reappear), so a killed worker's come back after it.
    pub visibility: Duration,
    /// Visibility of a message reported as failed (Lambda leaves it to the queue's
    /// timeout; scaled down here).
    pub failed_visibility: Duration,
    /// The invocation's time limit (the function's timeout).
    pub function_timeout: Duration,
}

/// Deliver's handler, fed from the queue in `QUEUE_URL` by `pollers` loops.
pub async fn deliver_worker(poll: PollConfig, max: Duration) -> Result<(), Error> {
    watch_parent(max);
    leadrelay_aws::telemetry::init();
    let config = deliver::config::Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let sqs = leadrelay_aws::config::sqs(&aws);
    let queue_url = config.queue_url.clone();
    let queue_arn = std::env::var("QUEUE_ARN").unwrap_or_default();
    let deps = Arc::new(deliver::Deps {
        deliverer: Deliverer {
            store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
            queue: SqsQueue::new(sqs.clone(), config.queue_url),
            transport: HttpTransport::new(config.egress, config.attempt_timeout)?,
            vault: CachedVault::new(
                KmsVault::new(
                    leadrelay_aws::config::kms(&aws),
                    std::env::var("KMS_KEY_ID").unwrap_or_default(),
                ),
                config.credentials_cache,
            ),
            config: DeliverConfig {
                schedule: config.schedule,
                attempt_timeout: config.attempt_timeout,
            },
        },
        concurrency: config.concurrency,
    });
    // Pollers run concurrently on this task (the handler's futures are not `Send`
    // for every lifetime, so they are not spawned).
    let pollers = (0..poll.pollers.max(1)).map(|_| {
        let (deps, sqs, url, arn) = (&deps, &sqs, &queue_url, &queue_arn);
        async move {
            loop {
                if let Err(e) = round(deps, sqs, url, arn, poll).await {
                    eprintln!("deliver-worker: {e}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    });
    futures::future::join_all(pollers).await;
    Ok(())
}

type DeliverDeps = deliver::Deps<DynamoStore, SqsQueue, HttpTransport, CachedVault<KmsVault>>;

/// One receive → handler → delete round.
async fn round(
    deps: &DeliverDeps,
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    arn: &str,
    poll: PollConfig,
) -> Result<(), Error> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .visibility_timeout(poll.visibility.as_secs() as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(());
    }
    let handles: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            (
                m.message_id().unwrap_or_default().to_owned(),
                m.receipt_handle().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let records: Vec<SqsMessage> = messages
        .iter()
        .filter_map(|m| serde_json::from_value(leadrelay_dev::pump::record(m, arn)).ok())
        .collect();
    // Keep the batch invisible while it runs, as a live invocation's is.
    let keep = {
        let (sqs, url, handles) = (sqs.clone(), url.to_owned(), handles.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll.visibility / 2).await;
                let _ = change_visibility(&sqs, &url, &handles, poll.visibility).await;
            }
        })
    };
    let deadline = Instant::now() + poll.function_timeout;
    let results = deliver::process_batch(deps, records, Some(deadline)).await;
    keep.abort();
    let failed: Vec<&String> = results
        .iter()
        .filter(|(_, r)| matches!(r, deliver::MessageResult::Failed(_)))
        .map(|(id, _)| id)
        .collect();
    let (bad, good): (Vec<_>, Vec<_>) = handles
        .into_iter()
        .partition(|(id, _)| failed.contains(&id));
    if !good.is_empty() {
        let entries = good
            .iter()
            .enumerate()
            .filter_map(|(i, (_, h))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .ok()
            })
            .collect();
        sqs.delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    if !bad.is_empty() {
        change_visibility(sqs, url, &bad, poll.failed_visibility).await?;
    }
    Ok(())
}

async fn change_visibility(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    handles: &[(String, String)],
    visibility: Duration,
) -> Result<(), Error> {
    let entries = handles
        .iter()
        .enumerate()
        .filter_map(|(i, (_, h))| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(h)
                .visibility_timeout(visibility.as_secs() as i32)
                .build()
                .ok()
        })
        .collect();
    sqs.change_message_visibility_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await?;
    Ok(())
}

/// The reconcile function's handler, run every `every` (the stack's one-minute
/// EventBridge schedule, scaled down with the run's timings); `RECONCILE_SLACK_S` sets
/// how overdue a delivery must be, as in the stack.
pub async fn reconcile_loop(every: Duration, max: Duration) -> Result<(), Error> {
    watch_parent(max);
    leadrelay_aws::telemetry::init();
    let table = std::env::var("TABLE_NAME")?;
    let queue_url = std::env::var("QUEUE_URL")?;
    let config = reconcile::config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = reconcile::Deps {
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), table),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), queue_url),
        config,
    };
    loop {
        match reconcile::handler(&deps).await {
            Ok(done) if done["requeued"].as_u64().unwrap_or(0) > 0 => {
                eprintln!("reconcile: {done}");
            }
            Ok(_) => {}
            // As a failed scheduled invocation: the next run tries again.
            Err(e) => eprintln!("reconcile: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
