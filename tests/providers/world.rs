//! The shared world of the provider suite: one pipeline with in-memory storage and queue
//! and the real HTTP client, the expectations per provider ([`Case`]), and the scenarios
//! every provider runs through ([`provider_tests!`]).

pub(crate) use leadrelay::deliver::{DeliverConfig, Deliverer, Handled};
pub(crate) use leadrelay::destination::{self, SendContext};
pub(crate) use leadrelay::egress::EgressPolicy;
pub(crate) use leadrelay::exchange::Credentials;
pub(crate) use leadrelay::ids::{AccountId, CampaignId, RegistrationId};
pub(crate) use leadrelay::ingest::{self, IngestRequest};
pub(crate) use leadrelay::keys::Secret;
pub(crate) use leadrelay::manage::{
    self, campaigns::CampaignInput, integrations::IntegrationInput,
};
pub(crate) use leadrelay::model::{Attempt, DeliveryState, Integration, IntegrationStatus, Task};
pub(crate) use leadrelay::queue::memory::MemoryQueue;
pub(crate) use leadrelay::schedule::RetrySchedule;
pub(crate) use leadrelay::store::memory::MemoryStore;
pub(crate) use leadrelay::store::{CampaignStore, RegistrationStore};
pub(crate) use leadrelay::vault::{InsecureTestVault, Vault};
pub(crate) use leadrelay_aws::http::HttpTransport;
pub(crate) use leadrelay_dev::providers::{dynamics, FakeProvider, Mode, RETRY_AFTER_S};
pub(crate) use leadrelay_explain::provider::Provider;
pub(crate) use leadrelay_explain::verdict::{Class, Outcome};
pub(crate) use serde_json::{json, Value};
pub(crate) use std::collections::BTreeMap;
pub(crate) use std::sync::{Arc, Mutex, OnceLock};
pub(crate) use std::time::Duration;

/// Everything logged by the tests of this binary, at every level, from the first
/// [`World`] on: the canary test reads it.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once, for the whole binary (a per-test one would
/// race with other threads over tracing's per-callsite interest cache).
pub(crate) fn capture() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Capture::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

pub(crate) fn captured_logs() -> String {
    String::from_utf8_lossy(&capture().0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

pub(crate) const LOCAL: EgressPolicy = EgressPolicy {
    allow_loopback: true,
    allow_http: true,
};

/// One pipeline with in-memory storage and queue and the real HTTP client.
pub(crate) struct World {
    pub(crate) deliverer: Deliverer<MemoryStore, MemoryQueue, HttpTransport, InsecureTestVault>,
    pub(crate) account: AccountId,
}

impl World {
    pub(crate) fn new() -> World {
        World::with_timeout(Duration::from_secs(5))
    }

    pub(crate) fn with_timeout(timeout: Duration) -> World {
        capture();
        let schedule = RetrySchedule {
            delays: vec![Duration::from_secs(1); 5],
            jitter_percent: 0,
            max_retry_after: Duration::from_secs(3600),
        };
        World {
            deliverer: Deliverer {
                store: MemoryStore::new(),
                queue: MemoryQueue::new(),
                transport: HttpTransport::new(LOCAL, timeout).expect("client builds"),
                vault: InsecureTestVault,
                config: DeliverConfig {
                    schedule,
                    attempt_timeout: timeout,
                },
            },
            account: AccountId::generate(),
        }
    }

    pub(crate) fn store(&self) -> &MemoryStore {
        &self.deliverer.store
    }

    pub(crate) async fn integration(
        &self,
        provider: Provider,
        settings: Value,
        credentials: &[(&str, &str)],
    ) -> Integration {
        let input = IntegrationInput {
            name: Some(format!("{provider} test")),
            provider: Some(provider),
            settings: settings.as_object().cloned(),
            credentials: credentials
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
                .collect(),
            version: None,
        };
        match manage::integrations::create_integration(
            self.store(),
            &InsecureTestVault,
            LOCAL,
            &self.account,
            input,
        )
        .await
        {
            Ok((integration, _)) => integration,
            Err(manage::ManageError::Invalid(errors)) => panic!("invalid integration: {errors:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// A campaign delivering to `integration`, and its ingest key.
    pub(crate) async fn campaign(&self, integration: &Integration) -> (CampaignId, Secret) {
        let (campaign, _, key) = manage::campaigns::create_campaign(
            self.store(),
            &self.account,
            CampaignInput {
                name: Some("Winter quiz".into()),
                integration_ids: Some(vec![integration.id.to_string()]),
                retention_days: None,
            },
        )
        .await
        .expect("campaign");
        (campaign.id, key)
    }

    /// Posts one submission (its own `Idempotency-Key`: the same person may register
    /// twice with the same data here, which without a key would be one registration).
    pub(crate) async fn register(
        &self,
        campaign: &(CampaignId, Secret),
        body: Value,
    ) -> RegistrationId {
        let authorization = format!("Bearer {}", campaign.1.expose());
        let body = body.to_string();
        let key = RegistrationId::generate().to_string();
        ingest::ingest(
            self.store(),
            &self.deliverer.queue,
            IngestRequest {
                campaign_id: campaign.0.as_str(),
                authorization: Some(&authorization),
                content_type: Some("application/json"),
                idempotency_key: Some(&key),
                from_leadrelay: false,
                body: body.as_bytes(),
            },
        )
        .await
        .expect("accepted")
        .registration_id
    }

    /// Runs every queued job once (retries as if their time had come), in order.
    pub(crate) async fn run_queue(&self) -> Vec<Handled> {
        let mut out = Vec::new();
        for (task, _) in self.deliverer.queue.drain() {
            let Task::DeliverV1(mut job) = task else {
                panic!("not a delivery job")
            };
            // Every job runs as if its time had come, and with it the end of any
            // cooldown a rate limit started.
            job.not_before = None;
            let cooling = self
                .store()
                .integration(&job.account_id, &job.integration_id)
                .await
                .expect("the store answers")
                .filter(|i| i.cooldown_until.is_some());
            if let Some(mut integration) = cooling {
                integration.cooldown_until = None;
                self.store()
                    .put_integration(&integration)
                    .await
                    .expect("the store answers");
            }
            out.push(self.deliverer.run(&job, None).await.expect("job runs"));
        }
        out
    }

    /// The queued jobs, without running them.
    pub(crate) async fn queued(&self) -> Vec<leadrelay::model::DeliverJob> {
        use leadrelay::queue::TaskQueue;
        let tasks = self.deliverer.queue.drain();
        self.deliverer
            .queue
            .send_all(&tasks)
            .await
            .expect("the memory queue takes them back");
        tasks
            .into_iter()
            .filter_map(|(t, _)| t.as_deliver().cloned())
            .collect()
    }

    pub(crate) fn attempts(&self, registration: &RegistrationId) -> Vec<Attempt> {
        let mut a: Vec<Attempt> = self
            .store()
            .all_attempts()
            .into_iter()
            .filter(|a| &a.registration_id == registration)
            .collect();
        a.sort_by_key(|a| a.number);
        a
    }

    pub(crate) async fn state(
        &self,
        registration: &RegistrationId,
        integration: &Integration,
    ) -> DeliveryState {
        self.store()
            .delivery(registration, &integration.id)
            .await
            .expect("store")
            .expect("delivery exists")
            .state
    }

    /// Sets one credential of `integration` through management, as a marketer fixing
    /// it would, and runs the drain it starts: returns the integration and how many
    /// parked deliveries were queued.
    pub(crate) async fn set_credential(
        &self,
        integration: &Integration,
        name: &str,
        value: &str,
    ) -> (Integration, usize) {
        let updated = manage::integrations::update_integration(
            self.store(),
            &self.deliverer.queue,
            &InsecureTestVault,
            LOCAL,
            &self.account,
            &integration.id,
            IntegrationInput {
                credentials: BTreeMap::from([(name.to_owned(), Some(value.to_owned()))]),
                ..IntegrationInput::default()
            },
        )
        .await
        .expect("update");
        let mut drained = 0;
        loop {
            use leadrelay::queue::TaskQueue;
            let (drains, jobs): (Vec<_>, Vec<_>) = self
                .deliverer
                .queue
                .drain()
                .into_iter()
                .partition(|(t, _)| matches!(t, Task::DrainV1(_)));
            self.deliverer
                .queue
                .send_all(&jobs)
                .await
                .expect("the memory queue takes them back");
            if drains.is_empty() {
                break;
            }
            for (task, _) in drains {
                let Task::DrainV1(job) = task else { continue };
                drained += match self.deliverer.drain(&job, None).await.expect("drains") {
                    leadrelay::deliver::resume::Drained::Continued(n)
                    | leadrelay::deliver::resume::Drained::Finished(n) => n,
                    leadrelay::deliver::resume::Drained::Stopped => 0,
                };
            }
        }
        (updated.integration, drained)
    }

    pub(crate) async fn reload(&self, integration: &Integration) -> Integration {
        self.store()
            .integration(&self.account, &integration.id)
            .await
            .expect("store")
            .expect("integration exists")
    }
}

/// What a provider's fake and adapter are expected to come to.
pub(crate) struct Case {
    pub(crate) provider: Provider,
    /// The credential's name and the key the fake accepts.
    pub(crate) credential: &'static str,
    pub(crate) key: &'static str,
    /// A key the fake refuses (in the provider's format).
    pub(crate) wrong_key: &'static str,
    /// A second credential that goes with the key, by name and value (Mailjet's
    /// `secret_key`): the fake accepts the pair `key:second`.
    pub(crate) second: Option<(&'static str, &'static str)>,
    pub(crate) settings: fn(&str) -> Value,
    /// A new contact with consent.
    pub(crate) success: Outcome,
    /// The provider code of an existing contact under `create_only`, when the provider
    /// offers that policy.
    pub(crate) duplicate_code: Option<&'static str>,
    /// An existing contact under `update`.
    pub(crate) updated: Outcome,
    /// The provider code and field of an invalid address.
    pub(crate) invalid_code: Option<&'static str>,
    pub(crate) invalid_field: &'static str,
    /// What a refused key reads as.
    pub(crate) auth_outcome: Outcome,
    pub(crate) auth_code: Option<&'static str>,
    /// Whether the provider states a wait on its rate-limit answer.
    pub(crate) states_wait: bool,
    pub(crate) rate_code: Option<&'static str>,
    pub(crate) rate_status: u16,
    pub(crate) server_code: Option<&'static str>,
    pub(crate) server_status: u16,
}

impl Case {
    /// What the fake accepts: the key, or the key and the secret key as a Basic pair.
    pub(crate) fn accepted(&self) -> String {
        match self.second {
            Some((_, secret)) => format!("{}:{secret}", self.key),
            None => self.key.to_owned(),
        }
    }

    /// The integration's credentials with `key` in the key's slot.
    pub(crate) fn credentials<'a>(&'a self, key: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut out = vec![(self.credential, key)];
        out.extend(self.second);
        out
    }
}

pub(crate) fn lena() -> Value {
    json!({"email": "lena.fischer@example.com", "first_name": "Lena", "last_name": "Fischer",
           "consent": {"marketing": true}, "fields": {"quiz_score": 8}})
}

pub(crate) fn person(email: &str, consent: bool) -> Value {
    json!({"email": email, "first_name": "Sam", "last_name": "Example", "consent": {"marketing": consent}})
}

/// A world, a fake and an integration pointed at it.
pub(crate) async fn setup(case: &Case, extra: Value) -> (World, FakeProvider, Integration) {
    let world = World::new();
    let fake = FakeProvider::start(case.provider, "127.0.0.2:0", &case.accepted())
        .await
        .expect("fake starts");
    let mut settings = (case.settings)(&fake.url());
    if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
        s.extend(e);
    }
    let integration = world
        .integration(case.provider, settings, &case.credentials(case.key))
        .await;
    (world, fake, integration)
}

pub(crate) async fn success(case: &Case) {
    let (world, fake, integration) = setup(case, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    let handled = world.run_queue().await;

    assert_eq!(
        handled,
        [Handled::Attempted(DeliveryState::Delivered, case.success)]
    );
    let attempts = world.attempts(&id);
    let v = &attempts[0].verdict;
    assert_eq!(v.outcome, case.success, "{v:?}");
    assert_eq!(v.class, Class::Success);
    assert!(!v.retryable);
    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    assert!(
        fake.contact("lena.fischer@example.com").is_some(),
        "the fake holds the contact"
    );
    assert!(attempts[0]
        .request
        .as_ref()
        .is_some_and(|r| r.url.starts_with(&fake.url())));
}

pub(crate) async fn existing(case: &Case) {
    let (world, fake, integration) = setup(case, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let updated = world
        .register(&campaign, person("known.person@example.com", false))
        .await;
    world.run_queue().await;

    let v = &world.attempts(&updated)[0].verdict;
    assert_eq!(v.outcome, case.updated, "{v:?}");
    assert_eq!(
        world.state(&updated, &integration).await,
        DeliveryState::Delivered
    );
    assert!(fake.contact("known.person@example.com").is_some());

    let Some(code) = case.duplicate_code else {
        return;
    };
    let create_only = world
        .integration(
            case.provider,
            {
                let mut s = (case.settings)(&fake.url());
                s["existing_contact"] = json!("create_only");
                s
            },
            &case.credentials(case.key),
        )
        .await;
    let campaign = world.campaign(&create_only).await;
    let hits = fake.hits();

    let duplicate = world
        .register(&campaign, person("known.person@example.com", false))
        .await;
    world.run_queue().await;

    let attempts = world.attempts(&duplicate);
    let v = &attempts[0].verdict;
    assert_eq!(v.outcome, Outcome::Duplicate, "{v:?}");
    assert_eq!(v.provider_code.as_deref(), Some(code));
    assert!(!v.retryable);
    assert_eq!(
        world.state(&duplicate, &create_only).await,
        DeliveryState::Delivered
    );
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        fake.hits(),
        hits + 1 + attempts[0].preceding.len(),
        "one attempt, its record request refused (after a token request, where there is one)"
    );
}

pub(crate) async fn invalid(case: &Case) {
    let (world, fake, integration) = setup(case, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("invalid.address@example.com", true))
        .await;
    world.run_queue().await;

    let attempts = world.attempts(&id);
    let v = &attempts[0].verdict;
    assert_eq!(v.outcome, Outcome::InvalidData, "{v:?}");
    assert_eq!(v.class, Class::ClientError);
    assert_eq!(v.provider_code.as_deref(), case.invalid_code);
    assert_eq!(v.field.as_deref(), Some(case.invalid_field));
    assert!(!v.retryable);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
    assert!(
        world.queued().await.is_empty(),
        "a permanent refusal is not retried"
    );
    assert_eq!(fake.hits(), 1 + attempts[0].preceding.len());
}

pub(crate) async fn auth(case: &Case) {
    let world = World::new();
    let fake = FakeProvider::start(case.provider, "127.0.0.2:0", &case.accepted())
        .await
        .expect("fake starts");
    let integration = world
        .integration(
            case.provider,
            (case.settings)(&fake.url()),
            &case.credentials(case.wrong_key),
        )
        .await;
    let campaign = world.campaign(&integration).await;

    let first = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let v = &world.attempts(&first)[0].verdict;
    assert_eq!(v.outcome, case.auth_outcome, "{v:?}");
    assert_eq!(v.provider_code.as_deref(), case.auth_code);
    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Paused
    );
    let paused = world.reload(&integration).await;
    assert!(
        matches!(paused.status, IntegrationStatus::Paused { outcome, .. } if outcome == case.auth_outcome)
    );

    let second = world
        .register(&campaign, person("second.person@example.com", true))
        .await;
    assert_eq!(world.run_queue().await, [Handled::Parked]);
    assert_eq!(
        world.state(&second, &integration).await,
        DeliveryState::Paused
    );
    assert_eq!(fake.hits(), 1, "a parked delivery sends nothing");

    let (resumed, drained) = world
        .set_credential(&integration, case.credential, case.key)
        .await;
    assert_eq!(resumed.status, IntegrationStatus::Active);
    assert_eq!(drained, 2);
    let handled = world.run_queue().await;

    assert_eq!(handled.len(), 2);
    for id in [&first, &second] {
        assert_eq!(
            world.state(id, &integration).await,
            DeliveryState::Delivered
        );
        let last = world.attempts(id).pop().expect("an attempt");
        assert_eq!(last.trigger, leadrelay::model::Trigger::Resumed);
        assert!(last.verdict.outcome.is_success(), "{:?}", last.verdict);
    }
    assert_eq!(world.attempts(&first).len(), 2);
    assert_eq!(world.attempts(&second).len(), 1);
}

pub(crate) async fn rate_limit(case: &Case) {
    let (world, fake, integration) = setup(case, json!({})).await;
    let campaign = world.campaign(&integration).await;
    fake.set_mode(Mode::RateLimited);

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let attempt = world.attempts(&id).remove(0);
    let v = &attempt.verdict;
    assert_eq!(v.outcome, Outcome::RateLimited, "{v:?}");
    assert_eq!(v.status, Some(case.rate_status));
    assert_eq!(v.provider_code.as_deref(), case.rate_code);
    assert!(v.retryable);
    assert_eq!(attempt.delivery_state, DeliveryState::Retrying);
    let waited = attempt.next_attempt_at.expect("a retry is scheduled") - attempt.started_at;
    if case.states_wait {
        let stated = v.retry_after_s.expect("the stated wait is read");
        assert!(
            (RETRY_AFTER_S - 5..=RETRY_AFTER_S).contains(&stated),
            "{stated}"
        );
        assert!(
            waited >= stated * 1000,
            "waited {waited} ms for a stated {stated} s"
        );
    } else {
        assert_eq!(v.retry_after_s, None);
        assert!((1000..RETRY_AFTER_S * 1000).contains(&waited), "{waited}");
    }
    let queued = world.queued().await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].attempt, 2);
    assert_eq!(queued[0].not_before, attempt.next_attempt_at);
    let cooling = world
        .store()
        .integration(&integration.account_id, &integration.id)
        .await
        .expect("the store answers")
        .expect("the integration");
    assert_eq!(
        cooling.cooldown_until, attempt.next_attempt_at,
        "its other deliveries wait for the retry"
    );

    fake.set_mode(Mode::Normal);
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(world.attempts(&id)[1].verdict.outcome, case.success);
}

pub(crate) async fn server_error(case: &Case) {
    let (world, fake, integration) = setup(case, json!({})).await;
    let campaign = world.campaign(&integration).await;
    fake.set_mode(Mode::ServerError);

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let attempt = world.attempts(&id).remove(0);
    assert_eq!(
        attempt.verdict.outcome,
        Outcome::ServerError,
        "{:?}",
        attempt.verdict
    );
    assert_eq!(attempt.verdict.class, Class::ServerError);
    assert_eq!(attempt.verdict.status, Some(case.server_status));
    assert_eq!(attempt.verdict.provider_code.as_deref(), case.server_code);
    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Retrying
    );

    fake.set_mode(Mode::Normal);
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(world.attempts(&id).len(), 2);
}

/// The scenarios every provider runs through, as tests of the module that names its
/// [`Case`] (so `mailchimp::a_new_contact_is_delivered`).
macro_rules! provider_tests {
    ($case:expr) => {
        #[tokio::test]
        async fn a_new_contact_is_delivered() {
            success(&$case).await
        }

        #[tokio::test]
        async fn an_existing_contact_is_updated_or_with_create_only_a_benign_duplicate() {
            existing(&$case).await
        }

        #[tokio::test]
        async fn an_address_the_provider_refuses_fails_on_the_email_field() {
            invalid(&$case).await
        }

        #[tokio::test]
        async fn a_refused_key_pauses_the_integration_and_new_credentials_drain_it() {
            auth(&$case).await
        }

        #[tokio::test]
        async fn a_rate_limit_is_retried_after_the_stated_wait() {
            rate_limit(&$case).await
        }

        #[tokio::test]
        async fn a_server_error_is_retried_and_then_delivered() {
            server_error(&$case).await
        }
    };
}
