//! The [`TaskQueue`] on SQS: batches of ten, every entry's result checked.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use leadrelay::model::Task;
use leadrelay::queue::{QueueError, TaskQueue};
use std::time::Duration;

/// The SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// A queue at `url`, through `client`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(e: E) -> QueueError {
    QueueError::Backend {
        operation: "send_message_batch",
        source: Box::new(e),
    }
}

impl TaskQueue for SqsQueue {
    async fn send_all(&self, tasks: &[(Task, Duration)]) -> Result<(), QueueError> {
        let mut queued = Vec::with_capacity(tasks.len());
        for (chunk_no, chunk) in tasks.chunks(10).enumerate() {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, (task, delay)) in chunk.iter().enumerate() {
                let body = serde_json::to_string(task).expect("tasks serialize to JSON");
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        // Rounded up: a job must never arrive before it is due.
                        .delay_seconds(delay.as_millis().div_ceil(1000).min(900) as i32)
                        .build()
                        .map_err(backend)?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) if queued.is_empty() => return Err(backend(e)),
                Err(_) => break,
            };
            for ok in out.successful() {
                if let Ok(i) = ok.id().parse::<usize>() {
                    queued.push(chunk_no * 10 + i);
                }
            }
        }
        if queued.len() == tasks.len() {
            Ok(())
        } else {
            queued.sort_unstable();
            Err(QueueError::Partial {
                failed: tasks.len() - queued.len(),
                total: tasks.len(),
                queued,
            })
        }
    }
}
