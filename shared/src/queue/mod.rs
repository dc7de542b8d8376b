//! The delivery queue: [`SqsQueue`](sqs::SqsQueue) for real runs,
//! [`MemoryQueue`](memory::MemoryQueue) for unit tests.

pub mod memory;

use crate::model::Task;
use std::future::Future;
use std::time::Duration;

/// A queue failure.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue refused or failed the call.
    #[error("queue call {operation} failed")]
    Backend {
        /// Which call.
        operation: &'static str,
        /// What the queue said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Some entries of a batch were not taken.
    #[error("{failed} of {total} messages were not queued")]
    Partial {
        /// How many failed.
        failed: usize,
        /// How many were sent.
        total: usize,
        /// The index (in the batch given) of each entry that was queued.
        queued: Vec<usize>,
    },
}

/// A queue of tasks. Messages are at-least-once: consumers are idempotent.
pub trait TaskQueue: Send + Sync {
    /// Queues every task, each after its delay (at most 15 minutes), checking every
    /// entry's result. On `Err(Partial)` the ones listed as queued are on the queue.
    fn send_all(
        &self,
        tasks: &[(Task, Duration)],
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}
