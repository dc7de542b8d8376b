//! An in-memory [`TaskQueue`] for unit tests, with failures on demand.

use super::{QueueError, TaskQueue};
use crate::model::Task;
use std::sync::Mutex;
use std::time::Duration;

/// The in-memory queue: a list of what was sent.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    sent: Mutex<Vec<(Task, Duration)>>,
    /// How many of the next entries to refuse.
    refuse: Mutex<usize>,
    /// After this many more entries are taken, refuse this many.
    refuse_later: Mutex<Option<(usize, usize)>>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses the next `n` entries sent.
    pub fn refuse_next(&self, n: usize) {
        *self.refuse.lock().unwrap_or_else(|p| p.into_inner()) = n;
    }

    /// Takes the next `accepted` entries, then refuses `n` (a failure half way through).
    pub fn refuse_after(&self, accepted: usize, n: usize) {
        *self.refuse_later.lock().unwrap_or_else(|p| p.into_inner()) = Some((accepted, n));
    }

    /// Takes everything sent so far.
    pub fn drain(&self) -> Vec<(Task, Duration)> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// How many messages were sent so far.
    pub fn len(&self) -> usize {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TaskQueue for MemoryQueue {
    async fn send_all(&self, tasks: &[(Task, Duration)]) -> Result<(), QueueError> {
        let mut refuse = self.refuse.lock().unwrap_or_else(|p| p.into_inner());
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut queued = Vec::new();
        let mut later = self.refuse_later.lock().unwrap_or_else(|p| p.into_inner());
        for (i, t) in tasks.iter().enumerate() {
            if let Some((accepted, n)) = later.as_mut() {
                if *accepted == 0 {
                    *refuse += *n;
                    *later = None;
                } else {
                    *accepted -= 1;
                }
            }
            if *refuse > 0 {
                *refuse -= 1;
            } else {
                sent.push(t.clone());
                queued.push(i);
            }
        }
        if queued.len() == tasks.len() {
            Ok(())
        } else {
            Err(QueueError::Partial {
                failed: tasks.len() - queued.len(),
                total: tasks.len(),
                queued,
            })
        }
    }
}
