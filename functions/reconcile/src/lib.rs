//! The reconcile function: run by an EventBridge schedule, it re-queues deliveries that
//! are overdue in `pending`, `retrying` or (on an active integration) `paused`, as
//! [`leadrelay::reconcile`] describes. The event's content is ignored.

pub mod config;

use leadrelay::queue::TaskQueue;
use leadrelay::reconcile::{self, ReconcileConfig};
use leadrelay::store::Store;

/// What the handler uses.
#[derive(Debug)]
pub struct Deps<S, Q> {
    /// Storage.
    pub store: S,
    /// The delivery queue.
    pub queue: Q,
    /// Slack, page size, paused recheck.
    pub config: ReconcileConfig,
}

/// One scheduled run: what it did, as JSON (also logged).
pub async fn handler<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
) -> Result<serde_json::Value, reconcile::ReconcileError> {
    let done = reconcile::reconcile(
        &deps.store,
        &deps.queue,
        &deps.config,
        leadrelay::clock::now_ms(),
    )
    .await?;
    tracing::info!(
        examined = done.examined,
        requeued = done.requeued,
        still_paused = done.still_paused,
        moved_on = done.moved_on,
        more = done.more,
        "reconciled"
    );
    Ok(serde_json::json!({
        "examined": done.examined,
        "requeued": done.requeued,
        "still_paused": done.still_paused,
        "moved_on": done.moved_on,
        "more": done.more,
    }))
}
