//! The deliver function: an SQS batch in, partial batch failures out.
//!
//! Each message is one delivery job, run by [`leadrelay::deliver::Deliverer`]. Messages
//! run concurrently (bounded), each isolated: a message that does not parse, fails, or
//! panics is reported alone in `batchItemFailures` and comes back after the visibility
//! timeout (or reaches the dead-letter queue); its neighbours are unaffected.

pub mod config;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::{FutureExt, StreamExt};
use lambda_runtime::LambdaEvent;
use leadrelay::deliver::{Deliverer, Handled};
use leadrelay::destination::Transport;
use leadrelay::model::Task;
use leadrelay::queue::TaskQueue;
use leadrelay::store::Store;
use leadrelay::vault::Vault;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

/// What the handler uses.
#[derive(Debug)]
pub struct Deps<S, Q, T, V> {
    /// The delivery pipeline.
    pub deliverer: Deliverer<S, Q, T, V>,
    /// Messages handled at once.
    pub concurrency: usize,
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageResult {
    /// Done: delete it.
    Done(Handled),
    /// Back to the queue (reported as a failure).
    Failed(String),
}

/// Handles one batch.
pub async fn handler<S, Q, T, V>(
    deps: &Deps<S, Q, T, V>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    S: Store,
    Q: TaskQueue,
    T: Transport,
    V: Vault,
{
    let deadline = deadline_of(event.context.deadline);
    tracing::info!(
        messages = event.payload.records.len(),
        remaining_ms = event
            .context
            .deadline
            .saturating_sub(leadrelay::clock::now_ms()),
        "batch received"
    );
    let results = process_batch(deps, event.payload.records, deadline).await;
    let mut response = SqsBatchResponse::default();
    for (message_id, result) in results {
        if let MessageResult::Failed(_) = result {
            response.add_failure(message_id);
        }
    }
    Ok(response)
}

/// The invocation's deadline (ms since the epoch) as an instant.
///
/// A deadline already past when the batch arrives cannot be Lambda's (it hands out the
/// batch with the whole timeout ahead); local emulators send such values, and they are
/// ignored rather than failing every message.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    let remaining = deadline_ms.checked_sub(leadrelay::clock::now_ms())?;
    (remaining > 0).then(|| Instant::now() + Duration::from_millis(remaining))
}

/// Runs every message of a batch; returns each message id with how it ended.
pub async fn process_batch<S, Q, T, V>(
    deps: &Deps<S, Q, T, V>,
    records: Vec<SqsMessage>,
    deadline: Option<Instant>,
) -> Vec<(String, MessageResult)>
where
    S: Store,
    Q: TaskQueue,
    T: Transport,
    V: Vault,
{
    futures::stream::iter(records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            let result = AssertUnwindSafe(process_message(deps, &record, deadline))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(message_id = %id, "message handler panicked");
                    MessageResult::Failed("panicked".into())
                });
            (id, result)
        })
        .buffer_unordered(deps.concurrency.max(1))
        .collect()
        .await
}

async fn process_message<S, Q, T, V>(
    deps: &Deps<S, Q, T, V>,
    record: &SqsMessage,
    deadline: Option<Instant>,
) -> MessageResult
where
    S: Store,
    Q: TaskQueue,
    T: Transport,
    V: Vault,
{
    let message_id = record.message_id.as_deref().unwrap_or("");
    let task = match record.body.as_deref().map(serde_json::from_str::<Task>) {
        Some(Ok(task)) => task,
        Some(Err(e)) => {
            // A malformed job is a pipeline failure: let it reach the dead-letter queue.
            tracing::error!(message_id, error = %e, "message is not a delivery job");
            return MessageResult::Failed("invalid message".into());
        }
        None => {
            tracing::error!(message_id, "message has no body");
            return MessageResult::Failed("empty message".into());
        }
    };
    let Task::DeliverV1(job) = task;
    match deps.deliverer.run(&job, deadline).await {
        Ok(handled) => MessageResult::Done(handled),
        Err(e) => {
            tracing::warn!(message_id, registration_id = %job.registration_id, integration_id = %job.integration_id, error = %e, "job returned to the queue");
            MessageResult::Failed(e.to_string())
        }
    }
}
