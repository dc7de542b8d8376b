//! The local stand-in for Lambda's SQS event source mapping: receive a batch, invoke the
//! deliver function with it as an SQS event, delete what it did not report as failed.
//!
//! Locally, a message reported as failed is made visible again after a few seconds
//! instead of the queue's full visibility timeout, so the demo does not stall; in AWS the
//! event source mapping leaves it to the timeout.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Value};
use std::time::Duration;

/// Where the pump reads and whom it invokes.
#[derive(Debug, Clone)]
pub struct Pump {
    /// The SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue.
    pub queue_url: String,
    /// The queue's ARN (carried in each record, as Lambda does).
    pub queue_arn: String,
    /// The function's invoke URL (`cargo lambda watch`:
    /// `http://127.0.0.1:9000/2015-03-31/functions/deliver/invocations`).
    pub invoke_url: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

/// Why a round failed (the messages stay on the queue).
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// SQS failed.
    #[error("sqs: {0}")]
    Sqs(String),
    /// The function could not be invoked or answered nonsense.
    #[error("invoking deliver: {0}")]
    Invoke(String),
}

/// An SQS event record for a message, in Lambda's shape.
pub fn record(m: &Message, queue_arn: &str) -> Value {
    let attrs: serde_json::Map<String, Value> = m
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), Value::from(v.as_str())))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "messageId": m.message_id(),
        "receiptHandle": m.receipt_handle(),
        "body": m.body(),
        "attributes": attrs,
        "messageAttributes": {},
        "md5OfBody": m.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    })
}

impl Pump {
    /// One round: receive up to ten messages (waiting up to `wait`), invoke, delete the
    /// successes. Returns how many messages were handled and how many failed.
    pub async fn round(&self, wait: Duration) -> Result<(usize, usize), PumpError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| PumpError::Sqs(e.to_string()))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok((0, 0));
        }
        let event = json!({"Records": messages.iter().map(|m| record(m, &self.queue_arn)).collect::<Vec<_>>()});
        let response = self
            .http
            .post(&self.invoke_url)
            .json(&event)
            .send()
            .await
            .map_err(|e| PumpError::Invoke(e.to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| PumpError::Invoke(e.to_string()))?;
        if !status.is_success() || body.get("errorType").is_some() {
            return Err(PumpError::Invoke(format!("{status}: {body}")));
        }
        let failed: Vec<String> = body["batchItemFailures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut entries = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let id = m.message_id().unwrap_or_default();
            let handle = m.receipt_handle().unwrap_or_default();
            if failed.iter().any(|f| f == id) {
                let _ = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(3)
                    .send()
                    .await;
                continue;
            }
            if let Ok(e) = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
            {
                entries.push(e);
            }
        }
        if !entries.is_empty() {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| PumpError::Sqs(e.to_string()))?;
        }
        Ok((messages.len(), failed.len()))
    }

    /// Runs rounds until the process ends.
    pub async fn run(&self) {
        loop {
            match self.round(Duration::from_secs(2)).await {
                Ok((0, _)) => {}
                Ok((n, failed)) => {
                    eprintln!("pump: {n} job(s) delivered to deliver, {failed} returned")
                }
                Err(e) => {
                    eprintln!("pump: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
