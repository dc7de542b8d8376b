//! Resuming a paused integration: the backlog drains through the queue in chunks, and a
//! queue failure half way only delays it; edits and pauses never overwrite each other.

use crate::helpers::DeliverDeps;
use leadrelay::egress::EgressPolicy;
use leadrelay::manage::{self, integrations::IntegrationInput};
use leadrelay::model::{Delivery, DeliveryState, IntegrationStatus, Registration, Task};
use leadrelay::queue::{QueueError, TaskQueue};
use leadrelay::store::{CampaignStore, RegistrationStore};
use leadrelay_aws::sqs::SqsQueue;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// SQS that fails once, after taking `fail_at` messages: the rest of that call is lost.
#[derive(Debug, Clone)]
struct FlakyQueue {
    inner: SqsQueue,
    sent: std::sync::Arc<AtomicUsize>,
    failed: std::sync::Arc<AtomicBool>,
    fail_at: usize,
}

impl TaskQueue for FlakyQueue {
    async fn send_all(&self, tasks: &[(Task, Duration)]) -> Result<(), QueueError> {
        let before = self.sent.load(Ordering::SeqCst);
        if !self.failed.load(Ordering::SeqCst) && before + tasks.len() > self.fail_at {
            self.failed.store(true, Ordering::SeqCst);
            let take = self.fail_at.saturating_sub(before);
            self.inner.send_all(&tasks[..take]).await?;
            self.sent.fetch_add(take, Ordering::SeqCst);
            return Err(QueueError::Partial {
                failed: tasks.len() - take,
                total: tasks.len(),
                queued: (0..take).collect(),
            });
        }
        self.inner.send_all(tasks).await?;
        self.sent.fetch_add(tasks.len(), Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_resumed_backlog_is_delivered_despite_a_queue_failure_half_way() {
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(200, json!({"ok": true}))),
    )
    .await
    .unwrap();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, &format!("{}/old", server.url()), json!({}), &[])
        .await;
    let (campaign, _) = s.campaign(&account, &[&hook]).await;
    let mut paused = hook.clone();
    paused.status = IntegrationStatus::Paused {
        since: 1,
        outcome: leadrelay_explain::verdict::Outcome::Unauthorized,
        explanation: "refused".into(),
        remedy: "fix it".into(),
    };
    s.store.put_integration(&paused).await.unwrap();
    let now = leadrelay::clock::now_ms();
    let mut ids = Vec::new();
    for n in 0..300 {
        let registration = Registration {
            id: leadrelay::ids::RegistrationId::generate(),
            account_id: account.clone(),
            campaign_id: campaign.id.clone(),
            received_at: now,
            data: leadrelay::model::RegistrationData {
                email: Some(format!("p{n}@example.com")),
                ..Default::default()
            },
            integration_ids: vec![hook.id.clone()],
            expires_at: now / 1000 + 3600,
            erased_at: None,
        };
        let parked = Delivery {
            registration_id: registration.id.clone(),
            integration_id: hook.id.clone(),
            campaign_id: campaign.id.clone(),
            provider: leadrelay_explain::provider::Provider::Webhook,
            state: DeliveryState::Paused,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: now,
            updated_at: now,
            waiting: None,
        };
        // Setting up 300 rows on the emulator beside the suite's other tests: moto can
        // answer 500 or time out under concurrent writes (its own fault), so a retryable
        // failure of the setup is tried again; a write that landed reads as existing.
        let mut tries = 0;
        loop {
            match s
                .store
                .create_registration(&registration, std::slice::from_ref(&parked))
                .await
            {
                Ok(_) => break,
                Err(e) if e.is_retryable() && tries < 5 => tries += 1,
                Err(e) => panic!("setting up registration {n}: {e}"),
            }
        }
        ids.push(registration.id);
    }
    let queue = FlakyQueue {
        inner: s.queue.clone(),
        sent: Default::default(),
        failed: Default::default(),
        fail_at: 150,
    };
    let plain: DeliverDeps = s.deliver_deps("1", Duration::from_secs(5));
    let deps = deliver::Deps {
        deliverer: leadrelay::deliver::Deliverer {
            store: plain.deliverer.store,
            queue: queue.clone(),
            transport: plain.deliverer.transport,
            vault: plain.deliverer.vault,
            config: plain.deliverer.config,
        },
        concurrency: 10,
    };
    let policy = EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    };
    let fix = || IntegrationInput {
        settings: json!({"url": format!("{}/fixed", server.url())})
            .as_object()
            .cloned(),
        ..IntegrationInput::default()
    };
    let update = |input| {
        manage::integrations::update_integration(
            &s.store, &queue, &s.vault, policy, &account, &hook.id, input,
        )
    };
    if update(fix()).await.is_err() {
        // As a client would after a failed call: send the change again.
        update(fix()).await.expect("the second try is made");
    }

    // The event source mapping, with a short visibility timeout's worth of patience.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut failed = 0;
    let mut delivered = 0;
    while Instant::now() < deadline {
        let messages = s.receive(Duration::from_secs(1)).await;
        if !messages.is_empty() {
            let results = deliver::process_batch(&deps, messages.clone(), None).await;
            let mut done = Vec::new();
            for (m, (_, r)) in messages.iter().zip(&results) {
                if matches!(r, deliver::MessageResult::Failed(_)) {
                    failed += 1;
                    // Comes back at once rather than after the visibility timeout.
                    s.sqs
                        .change_message_visibility()
                        .queue_url(&s.queue_url)
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                } else {
                    done.push(m);
                }
            }
            s.delete(&done).await;
            continue;
        }
        delivered = 0;
        for id in &ids {
            let d = s.store.delivery(id, &hook.id).await.unwrap().unwrap();
            delivered += usize::from(d.state == DeliveryState::Delivered);
        }
        if delivered == ids.len() {
            break;
        }
    }

    assert!(
        queue.failed.load(Ordering::SeqCst),
        "the failure was injected"
    );
    assert_eq!(delivered, 300, "every parked delivery was delivered");
    assert_eq!(server.hits(), 300, "each one sent once");
    let _ = failed;
}

#[tokio::test]
async fn a_write_from_an_old_version_of_an_integration_is_refused() {
    let s = stack!();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/in", json!({}), &[])
        .await;
    let mut first = hook.next_version();
    first.name = "first".into();
    let mut second = hook.next_version();
    second.name = "second".into();

    assert!(s.store.change_integration(&first).await.unwrap());
    assert!(!s.store.change_integration(&second).await.unwrap());
    assert!(!s.store.cool_integration(&hook, 1).await.unwrap());
    let stored = s
        .store
        .integration(&account, &hook.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "first");
    assert_eq!(stored.version, hook.version + 1);
    assert!(s.store.cool_integration(&stored, 1).await.unwrap());
}
