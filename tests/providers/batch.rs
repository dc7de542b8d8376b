//! Batch mode: the jobs of one queue batch for a batch-mode webhook go out as one signed
//! array, through the real HTTP client to the demo receiver, which verifies signatures
//! with its own implementation of the scheme and reports failed items in a 2xx answer.

use crate::world::*;
use leadrelay::model::DeliverJob;
use leadrelay_dev::fake::{self, FakeServer, Recorded, Reply};
use leadrelay_dev::receiver;

fn now_s() -> u64 {
    leadrelay::clock::now_ms() / 1000
}

impl World {
    /// Runs every queued job as one queue batch, as the deliver function does.
    async fn run_queue_together(&self) -> Vec<Handled> {
        let jobs = self.queued_now();
        self.run_together(jobs).await
    }

    /// Drains the queue; the jobs as if their time had come.
    fn queued_now(&self) -> Vec<DeliverJob> {
        self.deliverer
            .queue
            .drain()
            .into_iter()
            .filter_map(|(t, _)| t.as_deliver().cloned())
            .map(|mut job| {
                job.not_before = None;
                job
            })
            .collect()
    }

    async fn run_together(&self, jobs: Vec<DeliverJob>) -> Vec<Handled> {
        let keyed = jobs.into_iter().enumerate().collect();
        let mut results = self.deliverer.run_all(keyed, None, 4).await;
        results.sort_by_key(|(k, _)| *k);
        results
            .into_iter()
            .map(|(_, r)| r.expect("job runs"))
            .collect()
    }
}

async fn hook(world: &World, server: &FakeServer, secret: &str, batch: bool) -> Integration {
    let mut settings = json!({"url": format!("{}/in", server.url()), "preflight": false});
    if batch {
        settings["batch"] = json!({"max_items": 100});
    }
    world
        .integration(Provider::Webhook, settings, &[("signing_secret", secret)])
        .await
}

/// A batch-mode webhook on the demo receiver, and a campaign for it.
async fn setup() -> (World, FakeServer, Integration, (CampaignId, Secret), String) {
    let world = World::new();
    let secret = leadrelay::destination::signature::generate_secret();
    let server = FakeServer::start("127.0.0.2:0", receiver::demo_handler(Some(secret.clone())))
        .await
        .expect("receiver");
    let integration = hook(&world, &server, &secret, true).await;
    let campaign = world.campaign(&integration).await;
    (world, server, integration, campaign, secret)
}

fn items(request: &Recorded) -> Vec<Value> {
    request
        .json()
        .and_then(|b| b.as_array().cloned())
        .expect("an array body")
}

#[tokio::test]
async fn registrations_of_one_queue_batch_arrive_as_one_signed_array() {
    let (world, server, integration, campaign, secret) = setup().await;
    let mut ids = Vec::new();
    for email in ["ana@example.com", "ben@example.com", "cleo@example.com"] {
        ids.push(world.register(&campaign, person(email, true)).await);
    }

    let handled = world.run_queue_together().await;

    assert!(
        handled
            .iter()
            .all(|h| matches!(h, Handled::Attempted(DeliveryState::Delivered, _))),
        "{handled:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(receiver::verify(&requests[0], &secret, now_s()), Ok(()));
    let items = items(&requests[0]);
    let emails: Vec<&str> = items
        .iter()
        .map(|i| i["data"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["ana@example.com", "ben@example.com", "cleo@example.com"]
    );
    for (id, item) in ids.iter().zip(&items) {
        assert_eq!(item["registration_id"], id.as_str());
        assert_eq!(item["type"], "registration.created");
        assert_eq!(
            world.state(id, &integration).await,
            DeliveryState::Delivered
        );
        let attempts = world.attempts(id);
        let note = attempts[0]
            .request
            .as_ref()
            .unwrap()
            .batch
            .clone()
            .expect("batch note");
        assert_eq!(note.items, 3);
        assert_eq!(note.item_id, item["id"].as_str().unwrap());
        assert_eq!(Some(note.id.as_str()), requests[0].header("webhook-id"));
    }
}

#[tokio::test]
async fn a_server_error_retries_every_registration_and_the_retry_delivers_them() {
    let (world, server, integration, campaign, secret) = setup().await;
    let verifying = receiver::demo_handler(Some(secret.clone()));
    server.set_handler(fake::sequence(vec![
        Reply::json(503, json!({"error": "down"})),
        Reply::json(200, json!({})),
    ]));
    let a = world
        .register(&campaign, person("ana@example.com", true))
        .await;
    let b = world
        .register(&campaign, person("ben@example.com", true))
        .await;

    let first = world.run_queue_together().await;
    server.set_handler(verifying);
    let second = world.run_queue_together().await;

    assert!(
        first.iter().all(|h| matches!(
            h,
            Handled::Attempted(DeliveryState::Retrying, Outcome::ServerError)
        )),
        "{first:?}"
    );
    assert!(
        second
            .iter()
            .all(|h| matches!(h, Handled::Attempted(DeliveryState::Delivered, _))),
        "{second:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(items(&requests[1]).len(), 2);
    assert_eq!(receiver::verify(&requests[1], &secret, now_s()), Ok(()));
    assert_ne!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_eq!(
        items(&requests[0])[0]["id"],
        items(&requests[1])[0]["id"],
        "item ids are stable"
    );
    for id in [&a, &b] {
        let attempts = world.attempts(id);
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0].verdict.status, Some(503));
        assert_eq!(
            world.state(id, &integration).await,
            DeliveryState::Delivered
        );
    }
}

#[tokio::test]
async fn an_item_the_receiver_refuses_in_a_2xx_fails_alone_and_the_engine_names_the_character() {
    let (world, server, integration, campaign, _) = setup().await;
    let ok = world
        .register(&campaign, person("ana@example.com", true))
        .await;
    let bad = world
        .register(&campaign, person("calebæhnson@provider.com", true))
        .await;
    let busy = world
        .register(&campaign, person("busy.ben@example.com", true))
        .await;

    let first = world.run_queue_together().await;
    let retried = world.run_queue_together().await;

    assert_eq!(server.hits(), 2);
    assert_eq!(
        world.state(&ok, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(world.state(&bad, &integration).await, DeliveryState::Failed);
    assert_eq!(
        world.state(&busy, &integration).await,
        DeliveryState::Delivered
    );
    assert!(
        matches!(first[2], Handled::Attempted(DeliveryState::Retrying, _)),
        "{first:?}"
    );
    assert_eq!(retried.len(), 1, "only the busy item came back");
    let refused = &world.attempts(&bad)[0].verdict;
    assert_eq!(refused.status, Some(422));
    assert_eq!(refused.field.as_deref(), Some("email"));
    assert!(refused.explanation.contains('æ'), "{}", refused.explanation);
    assert_eq!(world.attempts(&ok).len(), 1);
}

#[tokio::test]
async fn the_same_queue_batch_delivered_twice_sends_once_and_records_no_duplicate() {
    let (world, server, _, campaign, _) = setup().await;
    world
        .register(&campaign, person("ana@example.com", true))
        .await;
    world
        .register(&campaign, person("ben@example.com", true))
        .await;
    let jobs = world.queued_now();

    world.run_together(jobs.clone()).await;
    let again = world.run_together(jobs).await;

    assert_eq!(again, [Handled::AlreadyDone, Handled::AlreadyDone]);
    assert_eq!(server.hits(), 1);
    assert_eq!(world.store().all_attempts().len(), 2);
    assert!(world.deliverer.queue.is_empty());
}

#[tokio::test]
async fn a_mixed_batch_sends_an_array_to_the_batch_webhook_and_an_object_to_the_other() {
    let (world, batch_server, batch_hook, _, secret) = setup().await;
    let single_server =
        FakeServer::start("127.0.0.2:0", receiver::demo_handler(Some(secret.clone())))
            .await
            .expect("receiver");
    let single_hook = hook(&world, &single_server, &secret, false).await;
    let (campaign, _, key) = manage::campaigns::create_campaign(
        world.store(),
        &world.account,
        CampaignInput {
            name: Some("Both".into()),
            integration_ids: Some(vec![batch_hook.id.to_string(), single_hook.id.to_string()]),
            retention_days: None,
        },
    )
    .await
    .expect("campaign");
    let campaign = (campaign.id, key);
    let a = world
        .register(&campaign, person("ana@example.com", true))
        .await;
    let b = world
        .register(&campaign, person("ben@example.com", true))
        .await;

    let handled = world.run_queue_together().await;

    assert_eq!(handled.len(), 4);
    assert_eq!(batch_server.hits(), 1);
    assert_eq!(items(&batch_server.requests()[0]).len(), 2);
    let singles = single_server.requests();
    assert_eq!(singles.len(), 2);
    for r in singles.iter().chain(&batch_server.requests()) {
        assert_eq!(receiver::verify(r, &secret, now_s()), Ok(()));
    }
    assert!(singles
        .iter()
        .all(|r| r.json().is_some_and(|b| b.is_object())));
    for id in [&a, &b] {
        assert_eq!(world.state(id, &batch_hook).await, DeliveryState::Delivered);
        assert_eq!(
            world.state(id, &single_hook).await,
            DeliveryState::Delivered
        );
        let attempts = world.attempts(id);
        assert_eq!(
            attempts
                .iter()
                .filter(|a| a.request.as_ref().unwrap().batch.is_some())
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn a_batch_setting_with_get_or_form_is_refused_at_configuration() {
    let world = World::new();
    for extra in [
        json!({"method": "GET"}),
        json!({"format": "form"}),
        json!({"max_items": 501}),
    ] {
        let mut settings =
            json!({"url": "https://hooks.example.com/in", "batch": {"max_items": 10}});
        for (k, v) in extra.as_object().unwrap() {
            if k == "max_items" {
                settings["batch"]["max_items"] = v.clone();
            } else {
                settings[k] = v.clone();
            }
        }
        let input = IntegrationInput {
            name: Some("hook".into()),
            provider: Some(Provider::Webhook),
            settings: settings.as_object().cloned(),
            credentials: BTreeMap::new(),
            version: None,
        };

        let refused = manage::integrations::create_integration(
            world.store(),
            &InsecureTestVault,
            LOCAL,
            &world.account,
            input,
        )
        .await;

        assert!(
            matches!(refused, Err(manage::ManageError::Invalid(_))),
            "{extra}"
        );
    }
}
