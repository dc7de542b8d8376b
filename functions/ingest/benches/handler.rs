//! The ingest handler's own cost per registration, with the AWS calls replaced by the
//! in-process store and queue: decode the API Gateway request, authenticate, read and
//! validate the body, build the registration and its deliveries, queue the jobs, answer.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ingest::{handler, Deps};
use lambda_http::{Body, Request};
use leadrelay::ids::{AccountId, CampaignId, IntegrationId, KeyId};
use leadrelay::keys::{generate_key, hash_key, key_hint};
use leadrelay::model::{ApiKey, Attached, Campaign, KeyKind};
use leadrelay::queue::memory::MemoryQueue;
use leadrelay::store::memory::MemoryStore;
use leadrelay::store::{AccountStore, CampaignStore};
use leadrelay_explain::provider::Provider;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let account = AccountId::generate();
    let campaign = Campaign {
        id: CampaignId::generate(),
        account_id: account.clone(),
        name: "Quiz".into(),
        integrations: (0..3)
            .map(|_| Attached {
                id: IntegrationId::generate(),
                provider: Provider::Webhook,
            })
            .collect(),
        retention_days: 30,
        created_at: 0,
    };
    let key = generate_key(KeyKind::Ingest);
    rt.block_on(async {
        store.put_campaign(&campaign).await.unwrap();
        store
            .put_key(&ApiKey {
                id: KeyId::generate(),
                kind: KeyKind::Ingest,
                account_id: account,
                campaign_id: Some(campaign.id.clone()),
                hash: hash_key(key.expose()),
                hint: key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
    });
    let deps = Deps {
        store,
        queue: MemoryQueue::new(),
    };
    let body = r#"{"email":"lena.fischer@example.com","first_name":"Lena","last_name":"Fischer","consent":{"marketing":true,"terms":true},"fields":{"quiz_score":8,"answers":["b","c","a"],"city":"Köln"}}"#;
    let request = |idempotency: Option<String>| -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/campaigns/{}/registrations", campaign.id))
            .header("authorization", format!("Bearer {}", key.expose()))
            .header("content-type", "application/json");
        if let Some(k) = idempotency {
            b = b.header("idempotency-key", k);
        }
        b.body(Body::from(body)).unwrap()
    };

    let mut group = c.benchmark_group("ingest_handler");
    group.throughput(Throughput::Elements(1));
    group.bench_function("registration, 3 integrations", |b| {
        b.iter(|| {
            let r = rt.block_on(handler(&deps, request(None))).unwrap();
            assert_eq!(r.status(), 202);
            deps.queue.drain();
        })
    });
    let mut n = 0u64;
    group.bench_function("registration, 3 integrations, idempotency key", |b| {
        b.iter(|| {
            n += 1;
            let r = rt
                .block_on(handler(&deps, request(Some(format!("k{n}")))))
                .unwrap();
            assert_eq!(r.status(), 202);
            deps.queue.drain();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
