//! Throttling in ingest and the reconciler, and a claim written whose answer was lost,
//! against the emulator. A loopback proxy sits between the SDK and the emulator where a
//! test needs to see or break the AWS calls: it forwards each call (or answers it with an
//! injected AWS error, before or after forwarding it) and records its target.

use crate::helpers::{id_of, registration, states};
use leadrelay::clock;
use leadrelay::ids::RegistrationId;
use leadrelay::model::{Registration, RegistrationData};
use leadrelay::reconcile::{reconcile, ReconcileConfig};
use leadrelay::store::{QueryStore, RegistrationStore};
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_dev::fake::{self, FakeServer, Recorded, Reply};
use serde_json::json;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with calls of one target (`DynamoDB_20120810.TransactWriteItems`).
#[derive(Clone)]
struct Inject {
    target: &'static str,
    reply: Reply,
}

/// Forwards one recorded request to the emulator, blocking (a test-only proxy).
fn forward(r: &Recorded) -> Reply {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut head = format!("{} {} HTTP/1.1\r\nhost: {host}\r\n", r.method, r.path);
    for (name, value) in &r.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        r.body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&r.body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut headers = Vec::new();
    let mut chunked = false;
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim().to_lowercase();
            if n == "transfer-encoding" && v.contains("chunked") {
                chunked = true;
                continue;
            }
            if !matches!(
                n.as_str(),
                "content-length" | "connection" | "date" | "server"
            ) {
                headers.push((n, v.trim().to_owned()));
            }
        }
    }
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 2 + size + 2..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
        delay: Duration::ZERO,
    }
}

/// A proxy in front of the emulator: every call's target is recorded; calls of an
/// injected target get the injected answer instead.
async fn proxy(inject: Option<Inject>, seen: Arc<Mutex<Vec<String>>>) -> FakeServer {
    FakeServer::start(
        "127.0.0.1:0",
        Arc::new(move |r: &Recorded| {
            let target = r.header("x-amz-target").unwrap_or("").to_owned();
            seen.lock().unwrap().push(target.clone());
            match &inject {
                Some(i) if i.target == target => i.reply.clone(),
                _ => tokio::task::block_in_place(|| forward(r)),
            }
        }),
    )
    .await
    .unwrap()
}

/// A DynamoDB store on the stack's table whose calls go through `proxy`.
async fn store_through(proxy: &FakeServer, table: &str) -> DynamoStore {
    let aws = leadrelay_aws::config::load().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&aws)
        .endpoint_url(proxy.url())
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
}

fn aws_error(status: u16, code: &str) -> Reply {
    Reply::text(
        status,
        "application/x-amz-json-1.0",
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "injected"})
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_or_failing_table_is_a_503_with_retry_after_and_a_broken_one_a_500() {
    let s = stack!();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let (campaign, key) = s.campaign(&account, &[&hook]).await;
    let cases = [
        (
            aws_error(400, "ProvisionedThroughputExceededException"),
            503,
        ),
        (aws_error(400, "ThrottlingException"), 503),
        (aws_error(500, "InternalServerError"), 503),
        (aws_error(400, "AccessDeniedException"), 500),
    ];
    for (reply, expected) in cases {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let p = proxy(
            Some(Inject {
                target: "DynamoDB_20120810.TransactWriteItems",
                reply,
            }),
            seen.clone(),
        )
        .await;
        let deps = ingest::Deps {
            store: store_through(&p, &s.table).await,
            queue: s.queue.clone(),
        };
        let req: lambda_http::Request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/campaigns/{}/registrations", campaign.id))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(lambda_http::Body::from(
                registration("lena@example.com").to_string(),
            ))
            .unwrap();

        let r = ingest::handler(&deps, req).await.unwrap();

        assert_eq!(r.status(), expected, "{:?}", r.body());
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        if expected == 503 {
            assert_eq!(r.headers()["retry-after"], "2");
            assert_eq!(body["code"], "storage_unavailable");
        } else {
            assert!(r.headers().get("retry-after").is_none());
            assert_eq!(body["code"], "internal");
        }
        // The reads before it went through to the emulator.
        assert!(seen
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "DynamoDB_20120810.GetItem"));
    }
    assert_eq!(s.queue_depth(&s.queue_url).await, 0, "nothing was queued");
}

/// A registration stored with its pending deliveries, as ingest writes it, whose jobs were
/// never queued (the process died between the two writes).
async fn stranded(
    s: &crate::helpers::Stack,
    campaign: &leadrelay::model::Campaign,
) -> Registration {
    let now = clock::now_ms();
    let registration = Registration {
        id: RegistrationId::generate(),
        account_id: campaign.account_id.clone(),
        campaign_id: campaign.id.clone(),
        received_at: now,
        integration_ids: campaign.integrations.iter().map(|a| a.id.clone()).collect(),
        expires_at: now / 1000 + 86_400,
        data: RegistrationData {
            email: Some("stranded@example.com".into()),
            ..RegistrationData::default()
        },
        erased_at: None,
    };
    let deliveries = leadrelay::ingest::pending_deliveries(campaign, &registration);
    assert!(s
        .store
        .create_registration(&registration, &deliveries)
        .await
        .unwrap());
    registration
}

/// A run as it would happen once the slack has passed.
fn later() -> u64 {
    clock::now_ms() + ReconcileConfig::default().slack.as_millis() as u64 + 1_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_written_with_no_job_is_delivered_after_the_reconciler_runs() {
    let s = stack!();
    let receiver = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(200, json!({"ok": true}))),
    )
    .await
    .unwrap();
    let (account, account_key) = s.account().await;
    let hook = s.webhook(&account, &receiver.url(), json!({}), &[]).await;
    let (campaign, _) = s.campaign(&account, &[&hook]).await;
    let r = stranded(&s, &campaign).await;
    let config = ReconcileConfig::default();

    let too_soon = reconcile(&s.store, &s.queue, &config, clock::now_ms())
        .await
        .unwrap();
    assert_eq!((too_soon.examined, too_soon.requeued), (0, 0));
    assert_eq!(s.queue_depth(&s.queue_url).await, 0, "no job: stranded");
    let run = reconcile(&s.store, &s.queue, &config, later())
        .await
        .unwrap();
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let logs = s
        .settle(
            &deps,
            &account_key,
            &[r.id.to_string()],
            Duration::from_secs(20),
        )
        .await;

    assert_eq!(run.requeued, 1);
    assert_eq!(states(&logs[0]), ["delivered"]);
    assert_eq!(receiver.hits(), 1);
    let after = reconcile(&s.store, &s.queue, &config, later())
        .await
        .unwrap();
    assert_eq!(after.examined, 0, "a delivered delivery leaves the index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_job_is_queued_is_not_sent_twice_when_the_reconciler_queues_it_again() {
    let s = stack!();
    let receiver = FakeServer::start(
        "127.0.0.2:0",
        fake::always(Reply::json(200, json!({"ok": true}))),
    )
    .await
    .unwrap();
    let (account, account_key) = s.account().await;
    let hook = s.webhook(&account, &receiver.url(), json!({}), &[]).await;
    let (campaign, key) = s.campaign(&account, &[&hook]).await;
    let (status, v) = s
        .post(&campaign, &key, registration("lena@example.com"), None)
        .await;
    assert_eq!(status, 202, "{v}");
    let config = ReconcileConfig::default();

    // As if its job were slow to arrive: the reconciler queues a second one.
    let run = reconcile(&s.store, &s.queue, &config, later())
        .await
        .unwrap();
    assert_eq!(run.requeued, 1);
    assert_eq!(s.queue_depth(&s.queue_url).await, 2);
    let deps = s.deliver_deps("1", Duration::from_secs(5));
    let logs = s
        .settle(&deps, &account_key, &[id_of(&v)], Duration::from_secs(20))
        .await;
    for _ in 0..3 {
        s.pump(&deps).await;
    }

    assert_eq!(states(&logs[0]), ["delivered"]);
    assert_eq!(receiver.hits(), 1, "sent once");
    let id: RegistrationId = id_of(&v).parse().unwrap();
    let log = s.store.registration_log(&id).await.unwrap().unwrap();
    assert_eq!(
        log.attempts.len(),
        1,
        "one attempt recorded: {:?}",
        log.attempts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_reads_with_queries_only_never_a_scan() {
    let s = stack!();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let (campaign, _) = s.campaign(&account, &[&hook]).await;
    for _ in 0..3 {
        stranded(&s, &campaign).await;
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let p = proxy(None, seen.clone()).await;
    let store = store_through(&p, &s.table).await;

    let run = reconcile(&store, &s.queue, &ReconcileConfig::default(), later())
        .await
        .unwrap();

    assert_eq!(run.requeued, 3);
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|t| t == "DynamoDB_20120810.Query"),
        "{seen:?}"
    );
    let reads: Vec<&String> = seen
        .iter()
        .filter(|t| !t.ends_with(".GetItem") && !t.ends_with(".UpdateItem"))
        .filter(|t| !t.ends_with(".Query"))
        .collect();
    assert!(
        reads.is_empty(),
        "only Query, GetItem, UpdateItem: {reads:?}"
    );
    assert!(!seen.iter().any(|t| t.ends_with(".Scan")));
}

#[tokio::test]
async fn a_campaign_spread_over_its_index_shards_pages_in_order_both_ways() {
    let s = stack!();
    let (account, _) = s.account().await;
    let a = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let b = s
        .webhook(&account, "http://127.0.0.2:9/b", json!({}), &[])
        .await;
    let (campaign, _) = s.campaign(&account, &[&a, &b]).await;
    let mut registrations = Vec::new();
    for _ in 0..20 {
        registrations.push(stranded(&s, &campaign).await);
    }
    let partitions: std::collections::BTreeSet<String> = registrations
        .iter()
        .map(|r| leadrelay::store::gsi1_partition(&campaign.id, &r.id))
        .collect();
    assert!(partitions.len() > 4, "spread over {partitions:?}");
    let mut expected: Vec<String> = registrations
        .iter()
        .flat_map(|r| {
            r.integration_ids
                .iter()
                .map(|i| leadrelay::store::gsi1_sort_key(r.received_at, &r.id, i))
        })
        .collect();
    expected.sort();

    for newest_first in [false, true] {
        let mut query = leadrelay::store::DeliveryQuery {
            campaign_id: Some(campaign.id.clone()),
            from_ms: 0,
            to_ms: clock::now_ms() + 1,
            newest_first,
            limit: 7,
            ..Default::default()
        };
        let mut seen = Vec::new();
        for _ in 0..20 {
            let page = s.store.campaign_deliveries(&query).await.unwrap();
            assert!(page.items.len() <= 7);
            seen.extend(page.items.iter().map(|d| {
                leadrelay::store::gsi1_sort_key(
                    d.received_at,
                    &d.registration_id,
                    &d.integration_id,
                )
            }));
            match page.next {
                Some(next) => query.start = Some(next),
                None => break,
            }
        }
        let mut want = expected.clone();
        if newest_first {
            want.reverse();
        }
        assert_eq!(seen, want, "newest_first {newest_first}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_written_whose_answer_was_lost_is_still_this_workers_claim() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let s = stack!();
    let (account, _) = s.account().await;
    let hook = s
        .webhook(&account, "http://127.0.0.2:9/a", json!({}), &[])
        .await;
    let (campaign, _) = s.campaign(&account, &[&hook]).await;
    let registration = stranded(&s, &campaign).await;

    // The first claim is written by the emulator, then answered 500 (as a dropped
    // answer would be); the SDK sends the same request again.
    let claims = Arc::new(AtomicUsize::new(0));
    let counted = claims.clone();
    let p = FakeServer::start(
        "127.0.0.1:0",
        Arc::new(move |r: &Recorded| {
            let reply = tokio::task::block_in_place(|| forward(r));
            let is_claim = r.header("x-amz-target") == Some("DynamoDB_20120810.PutItem")
                && String::from_utf8_lossy(&r.body).contains("lease_until");
            if is_claim && counted.fetch_add(1, Ordering::SeqCst) == 0 {
                return aws_error(500, "InternalServerError");
            }
            reply
        }),
    )
    .await
    .unwrap();
    let store = store_through(&p, &s.table).await;
    let now = clock::now_ms();
    let claim = store
        .claim_attempt(&registration, &hook.id, 1, now + 60_000, now)
        .await
        .unwrap();

    assert_eq!(
        claims.load(Ordering::SeqCst),
        2,
        "the SDK retried the claim"
    );
    assert!(
        matches!(claim, leadrelay::store::AttemptClaim::Claimed),
        "its own claim, not another worker's: {claim:?}"
    );
    // Another worker still finds it held.
    let other = s
        .store
        .claim_attempt(&registration, &hook.id, 1, now + 60_000, now)
        .await
        .unwrap();
    assert!(matches!(other, leadrelay::store::AttemptClaim::InProgress));
}
