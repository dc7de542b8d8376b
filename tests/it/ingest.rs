//! Ingest against the emulator: idempotency under concurrency, bad input, queue failures.

use crate::helpers::{id_of, registration};
use leadrelay::ingest::{self, IngestError, IngestRequest};
use leadrelay::model::Task;
use leadrelay::queue::{QueueError, TaskQueue};
use leadrelay::store::RegistrationStore;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_posts_with_one_key_make_one_registration_and_one_job_per_integration() {
    let s = stack!();
    let (account, _) = s.account().await;
    let a = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let b = s
        .webhook(&account, "http://127.0.0.2:9/b", json!({}), &[])
        .await;
    let (campaign, key) = s.campaign(&account, &[&a, &b]).await;

    let body = registration("lena@example.com");
    let posts = (0..50).map(|_| s.post(&campaign, &key, body.clone(), Some("order-7")));
    let answers = futures::future::join_all(posts).await;

    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, v)| {
            assert_eq!(*status, 202, "{v}");
            id_of(v)
        })
        .collect();
    assert_eq!(ids.len(), 1, "one registration id for one key");
    let mut jobs = Vec::new();
    loop {
        let batch = s.receive(Duration::from_secs(1)).await;
        if batch.is_empty() {
            break;
        }
        s.delete(&batch.iter().collect::<Vec<_>>()).await;
        jobs.extend(batch);
    }
    let mut per_integration: Vec<String> = jobs
        .iter()
        .map(
            |m| match serde_json::from_str::<Task>(m.body.as_deref().unwrap()).unwrap() {
                Task::DeliverV1(j) => j.integration_id.to_string(),
                Task::DrainV1(_) => panic!("no drain is queued here"),
            },
        )
        .collect();
    per_integration.sort();
    let mut expected = vec![a.id.to_string(), b.id.to_string()];
    expected.sort();
    assert_eq!(per_integration, expected, "exactly one job per integration");
}

#[tokio::test]
async fn bad_input_is_a_problem_naming_each_field_and_nothing_is_stored_or_queued() {
    let s = stack!();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let (campaign, key) = s.campaign(&account, &[&hook]).await;

    let (status, problem) = s
        .post(
            &campaign,
            &key,
            json!({"email": "lena.example.com", "consent": "true", "fields": {"x": {"deep": 1}}}),
            None,
        )
        .await;

    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    // json! sorts keys, so the body reads consent, email, fields.
    assert_eq!(fields, ["consent.marketing", "email", "fields.x"]);
    assert_eq!(s.queue_depth(&s.queue_url).await, 0);
    assert!(
        !s.scan_text().await.contains("REG#"),
        "no registration item was written"
    );
}

/// A queue in front of SQS that refuses the first `n` sends, as a failing SQS would.
struct FlakyQueue<Q> {
    inner: Q,
    refuse: AtomicUsize,
}

impl<Q: TaskQueue> TaskQueue for FlakyQueue<Q> {
    async fn send_all(&self, tasks: &[(Task, Duration)]) -> Result<(), QueueError> {
        if self.refuse.load(Ordering::SeqCst) > 0 {
            self.refuse.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueError::Backend {
                operation: "send_message_batch",
                source: "injected: ServiceUnavailable".into(),
            });
        }
        self.inner.send_all(tasks).await
    }
}

#[tokio::test]
async fn a_queue_failure_is_a_503_and_the_retry_with_the_same_key_loses_nothing() {
    let s = stack!();
    let receiver = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(200, json!({"ok": true}))),
    )
    .await
    .unwrap();
    let (account, key_a) = s.account().await;
    let hook = s.webhook(&account, &receiver.url(), json!({}), &[]).await;
    let (campaign, key) = s.campaign(&account, &[&hook]).await;
    let flaky = FlakyQueue {
        inner: s.queue.clone(),
        refuse: AtomicUsize::new(1),
    };
    let body = registration("lena@example.com").to_string();
    let request = |k| IngestRequest {
        campaign_id: campaign.id.as_str(),
        authorization: Some(k),
        content_type: Some("application/json"),
        idempotency_key: Some("retry-me"),
        from_leadrelay: false,
        body: body.as_bytes(),
    };
    let auth = format!("Bearer {key}");

    let first = ingest::ingest(&s.store, &flaky, request(&auth)).await;
    let second = ingest::ingest(&s.store, &flaky, request(&auth))
        .await
        .unwrap();

    let err = first.unwrap_err();
    assert!(matches!(err, IngestError::QueueUnavailable(_)));
    let response = ::ingest::error_response(&err);
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let logs = s
        .settle(
            &deps,
            &key_a,
            &[second.registration_id.to_string()],
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(crate::helpers::states(&logs[0]), ["delivered"]);
    assert_eq!(receiver.hits(), 1);
    let stored = s.store.registration(&second.registration_id).await.unwrap();
    assert!(stored.is_some());
}
