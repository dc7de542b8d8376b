//! Every provider adapter against its fake, through the real pipeline: management
//! creates the integration (settings checked, credentials sealed), ingest accepts the
//! registration and queues its job, the deliverer builds, checks, sends through the real
//! egress-guarded HTTP client to a fake on 127.0.0.2, classifies and records.
//!
//! Per provider: a new contact, an existing one (under each existing-contact policy the
//! provider supports), an address the provider refuses, a refused key (pause, park,
//! resume, drain), a rate limit (the stated wait honoured) and a server error (retried).
//! Then the cases one provider shows best (Salesforce's and Dynamics 365's token requests
//! among them), and the canary check: no credential, nor an access token issued for one,
//! ever reaches an attempt record, the management view, a Debug print or the logs.

use leadrelay::deliver::{DeliverConfig, Deliverer, Handled};
use leadrelay::destination::{self, SendContext};
use leadrelay::egress::{EgressPolicy, HttpTransport};
use leadrelay::exchange::Credentials;
use leadrelay::ids::{AccountId, CampaignId, RegistrationId};
use leadrelay::ingest::{self, IngestRequest};
use leadrelay::keys::Secret;
use leadrelay::manage::{self, CampaignInput, IntegrationInput};
use leadrelay::model::{Attempt, DeliveryState, Integration, IntegrationStatus, Task};
use leadrelay::queue::memory::MemoryQueue;
use leadrelay::schedule::RetrySchedule;
use leadrelay::store::memory::MemoryStore;
use leadrelay::store::Store;
use leadrelay::vault::{InsecureTestVault, Vault};
use leadrelay::{Class, Outcome, Provider};
use leadrelay_dev::providers::{dynamics, FakeProvider, Mode, RETRY_AFTER_S};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Everything logged by the tests of this binary, at every level, from the first
/// [`World`] on: the canary test reads it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

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
fn capture() -> &'static Capture {
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

fn captured_logs() -> String {
    String::from_utf8_lossy(&capture().0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

const LOCAL: EgressPolicy = EgressPolicy {
    allow_loopback: true,
    allow_http: true,
};

/// One pipeline with in-memory storage and queue and the real HTTP client.
struct World {
    deliverer: Deliverer<MemoryStore, MemoryQueue, HttpTransport, InsecureTestVault>,
    account: AccountId,
}

impl World {
    fn new() -> World {
        World::with_timeout(Duration::from_secs(5))
    }

    fn with_timeout(timeout: Duration) -> World {
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

    fn store(&self) -> &MemoryStore {
        &self.deliverer.store
    }

    async fn integration(
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
        match manage::create_integration(
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
    async fn campaign(&self, integration: &Integration) -> (CampaignId, Secret) {
        let (campaign, _, key) = manage::create_campaign(
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
    async fn register(&self, campaign: &(CampaignId, Secret), body: Value) -> RegistrationId {
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
    async fn run_queue(&self) -> Vec<Handled> {
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
    async fn queued(&self) -> Vec<leadrelay::model::DeliverJob> {
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

    fn attempts(&self, registration: &RegistrationId) -> Vec<Attempt> {
        let mut a: Vec<Attempt> = self
            .store()
            .all_attempts()
            .into_iter()
            .filter(|a| &a.registration_id == registration)
            .collect();
        a.sort_by_key(|a| a.number);
        a
    }

    async fn state(
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
    async fn set_credential(
        &self,
        integration: &Integration,
        name: &str,
        value: &str,
    ) -> (Integration, usize) {
        let updated = manage::update_integration(
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

    async fn reload(&self, integration: &Integration) -> Integration {
        self.store()
            .integration(&self.account, &integration.id)
            .await
            .expect("store")
            .expect("integration exists")
    }
}

/// What a provider's fake and adapter are expected to come to.
struct Case {
    provider: Provider,
    /// The credential's name and the key the fake accepts.
    credential: &'static str,
    key: &'static str,
    /// A key the fake refuses (in the provider's format).
    wrong_key: &'static str,
    /// A second credential that goes with the key, by name and value (Mailjet's
    /// `secret_key`): the fake accepts the pair `key:second`.
    second: Option<(&'static str, &'static str)>,
    settings: fn(&str) -> Value,
    /// A new contact with consent.
    success: Outcome,
    /// The provider code of an existing contact under `create_only`, when the provider
    /// offers that policy.
    duplicate_code: Option<&'static str>,
    /// An existing contact under `update`.
    updated: Outcome,
    /// The provider code and field of an invalid address.
    invalid_code: Option<&'static str>,
    invalid_field: &'static str,
    /// What a refused key reads as.
    auth_outcome: Outcome,
    auth_code: Option<&'static str>,
    /// Whether the provider states a wait on its rate-limit answer.
    states_wait: bool,
    rate_code: Option<&'static str>,
    rate_status: u16,
    server_code: Option<&'static str>,
    server_status: u16,
}

impl Case {
    /// What the fake accepts: the key, or the key and the secret key as a Basic pair.
    fn accepted(&self) -> String {
        match self.second {
            Some((_, secret)) => format!("{}:{secret}", self.key),
            None => self.key.to_owned(),
        }
    }

    /// The integration's credentials with `key` in the key's slot.
    fn credentials<'a>(&'a self, key: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut out = vec![(self.credential, key)];
        out.extend(self.second);
        out
    }
}

fn lena() -> Value {
    json!({"email": "lena.fischer@example.com", "first_name": "Lena", "last_name": "Fischer",
           "consent": {"marketing": true}, "fields": {"quiz_score": 8}})
}

fn person(email: &str, consent: bool) -> Value {
    json!({"email": email, "first_name": "Sam", "last_name": "Example", "consent": {"marketing": consent}})
}

const MAILCHIMP: Case = Case {
    provider: Provider::Mailchimp,
    credential: "api_key",
    key: "5f1e0c6a9b8d7e6f5a4b3c2d1e0f9a8b-us21",
    second: None,
    wrong_key: "00000000000000000000000000000000-us21",
    settings: |url| json!({"list_id": "a1b2c3", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("Member Exists"),
    updated: Outcome::Delivered,
    invalid_code: Some("Invalid Resource"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("API Key Invalid"),
    states_wait: false,
    rate_code: Some("Too Many Requests"),
    rate_status: 429,
    server_code: Some("Internal Server Error"),
    server_status: 500,
};

const HUBSPOT: Case = Case {
    provider: Provider::Hubspot,
    credential: "access_token",
    key: "pat-eu1-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b8",
    second: None,
    wrong_key: "pat-eu1-00000000-0000-0000-0000-000000000000",
    settings: |url| json!({"base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("CONFLICT"),
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_AUTHENTICATION"),
    states_wait: false,
    rate_code: Some("RATE_LIMIT"),
    rate_status: 429,
    server_code: None,
    server_status: 502,
};

const HUBSPOT_FORMS: Case = Case {
    provider: Provider::HubspotForms,
    credential: "access_token",
    key: "pat-na1-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4",
    second: None,
    wrong_key: "pat-na1-00000000-0000-0000-0000-000000000000",
    settings: |url| json!({"portal_id": "62515", "form_guid": "6b1c0e4a-2f3d-4e5a-9b8c-7d6e5f4a3b2c", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_AUTHENTICATION"),
    states_wait: false,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 502,
};

const KLAVIYO: Case = Case {
    provider: Provider::Klaviyo,
    credential: "api_key",
    key: "pk_3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a",
    second: None,
    wrong_key: "pk_00000000000000000000000000000000",
    settings: |url| json!({"list_id": "Y6nRLr", "base_url": url}),
    success: Outcome::Accepted,
    duplicate_code: Some("duplicate_profile"),
    updated: Outcome::Delivered,
    invalid_code: Some("invalid"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("not_authenticated"),
    states_wait: true,
    rate_code: Some("throttled"),
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

const SENDGRID: Case = Case {
    provider: Provider::Sendgrid,
    credential: "api_key",
    key: "SG.dGVzdGtleQ.c2VjcmV0LXBhcnQtb2YtdGhlLWtleQ",
    second: None,
    wrong_key: "SG.d3Jvbmc.d3Jvbmc",
    settings: |url| json!({"list_ids": ["8a1b2c3d"], "base_url": url}),
    success: Outcome::Accepted,
    duplicate_code: None,
    updated: Outcome::Accepted,
    invalid_code: None,
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: None,
    states_wait: true,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

const BREVO: Case = Case {
    provider: Provider::Brevo,
    credential: "api_key",
    key: "xkeysib-6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d-Q1w2E3r4",
    second: None,
    wrong_key: "xkeysib-00000000000000000000000000000000-00000000",
    settings: |url| json!({"list_ids": [7], "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("duplicate_parameter"),
    updated: Outcome::Delivered,
    invalid_code: Some("invalid_parameter"),
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("unauthorized"),
    states_wait: true,
    rate_code: Some("too_many_requests"),
    rate_status: 429,
    server_code: Some("internal_error"),
    server_status: 500,
};

const ACTIVECAMPAIGN: Case = Case {
    provider: Provider::Activecampaign,
    credential: "api_key",
    key: "7c6b5a4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1",
    second: None,
    wrong_key: "0000000000000000000000000000000000000000000000000000000000000000000000000",
    settings: |url| json!({"base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: Some("duplicate"),
    updated: Outcome::Delivered,
    invalid_code: Some("email_invalid"),
    invalid_field: "email",
    auth_outcome: Outcome::Forbidden,
    auth_code: None,
    states_wait: true,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

const SALESFORCE: Case = Case {
    provider: Provider::Salesforce,
    credential: "access_token",
    key: "00D5g000004XyZ1!AQ4AQFq8ZkVdbS3e7rN0pW2mYx5tQ9uL",
    second: None,
    wrong_key: "00D5g000004XyZ1!EXPIRED",
    settings: |url| {
        json!({"base_url": url, "external_id_field": "LeadRelay_Email__c",
               "fields": {"Company": {"value": "Private person"}}})
    },
    success: Outcome::Delivered,
    duplicate_code: Some("DUPLICATE_VALUE"),
    updated: Outcome::Delivered,
    invalid_code: Some("INVALID_EMAIL_ADDRESS"),
    invalid_field: "Email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("INVALID_SESSION_ID"),
    states_wait: false,
    rate_code: Some("REQUEST_LIMIT_EXCEEDED"),
    rate_status: 403,
    server_code: Some("UNKNOWN_EXCEPTION"),
    server_status: 500,
};

const MAILJET: Case = Case {
    provider: Provider::Mailjet,
    credential: "api_key",
    key: "3e1f5a7c9b2d4f6a8c0e2b4d6f8a0c1e",
    wrong_key: "00000000000000000000000000000000",
    second: Some(("secret_key", "9d7b5f3a1c8e6d4b2a0f9e7c5a3d1b8f")),
    // A static property, so that a contact without consent gets its properties updated.
    settings: |url| json!({"list_id": 10457, "base_url": url, "fields": {"source": {"value": "quiz"}}}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: None,
    invalid_field: "email",
    auth_outcome: Outcome::Unauthorized,
    auth_code: None,
    states_wait: true,
    rate_code: None,
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

const CAMPAIGN_MONITOR: Case = Case {
    provider: Provider::CampaignMonitor,
    credential: "api_key",
    key: "d41c8e2a6f0b4d9e8c7a5b3f1e2d4c6a8b0f9e7d5c3a1b2e",
    wrong_key: "000000000000000000000000000000000000000000000000",
    second: None,
    settings: |url| json!({"list_id": "a58ee1d3039b8bec838e6d1482a8a965", "base_url": url}),
    success: Outcome::Delivered,
    duplicate_code: None,
    updated: Outcome::Delivered,
    invalid_code: Some("1"),
    invalid_field: "EmailAddress",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("100"),
    states_wait: true,
    rate_code: Some("429"),
    rate_status: 429,
    server_code: None,
    server_status: 500,
};

const DYNAMICS: Case = Case {
    provider: Provider::Dynamics,
    credential: "client_secret",
    key: "Qx8~7sT.uV2wX-yZ3aB4cD5eF6gH7iJ8kL9mN0o",
    wrong_key: "Zz0~0zZ.zZ0zZ-zZ0zZ0zZ0zZ0zZ0zZ0zZ0zZ0",
    second: None,
    settings: |url| {
        json!({"org_url": url, "login_url": url, "tenant_id": dynamics::TENANT_ID,
               "client_id": dynamics::CLIENT_ID})
    },
    success: Outcome::Delivered,
    duplicate_code: Some("0x80040237"),
    updated: Outcome::Delivered,
    invalid_code: Some("0x80040265"),
    invalid_field: "emailaddress1",
    auth_outcome: Outcome::Unauthorized,
    auth_code: Some("invalid_client"),
    states_wait: true,
    rate_code: Some("0x80072322"),
    rate_status: 429,
    server_code: Some("0x80040216"),
    server_status: 500,
};

/// A world, a fake and an integration pointed at it.
async fn setup(case: &Case, extra: Value) -> (World, FakeProvider, Integration) {
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

async fn success(case: &Case) {
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

async fn existing(case: &Case) {
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

async fn invalid(case: &Case) {
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

async fn auth(case: &Case) {
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

async fn rate_limit(case: &Case) {
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

async fn server_error(case: &Case) {
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

macro_rules! provider_tests {
    ($name:ident, $case:expr) => {
        mod $name {
            use super::*;

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
        }
    };
}

provider_tests!(mailchimp, MAILCHIMP);
provider_tests!(hubspot, HUBSPOT);
provider_tests!(hubspot_forms, HUBSPOT_FORMS);
provider_tests!(klaviyo, KLAVIYO);
provider_tests!(sendgrid, SENDGRID);
provider_tests!(brevo, BREVO);
provider_tests!(activecampaign, ACTIVECAMPAIGN);
provider_tests!(salesforce, SALESFORCE);
provider_tests!(mailjet, MAILJET);
provider_tests!(campaign_monitor, CAMPAIGN_MONITOR);
provider_tests!(dynamics_365, DYNAMICS);

const ALL: [&Case; 11] = [
    &MAILCHIMP,
    &HUBSPOT,
    &HUBSPOT_FORMS,
    &KLAVIYO,
    &SENDGRID,
    &BREVO,
    &ACTIVECAMPAIGN,
    &SALESFORCE,
    &MAILJET,
    &CAMPAIGN_MONITOR,
    &DYNAMICS,
];

#[tokio::test]
async fn the_ae_case_is_caught_before_sending_for_every_provider() {
    for case in ALL {
        let (world, fake, integration) = setup(case, json!({})).await;
        let campaign = world.campaign(&integration).await;

        let id = world
            .register(&campaign, json!({"email": "calebæhnson@provider.com", "first_name": "Caleb", "last_name": "Hanson", "consent": {"marketing": true}}))
            .await;
        world.run_queue().await;

        let v = &world.attempts(&id)[0].verdict;
        assert_eq!(v.class, Class::NotSent, "{}: {v:?}", case.provider);
        assert_eq!(
            v.provider_code.as_deref(),
            Some("preflight.email_non_ascii")
        );
        assert!(
            v.explanation.contains("'æ' at position 6"),
            "{}",
            v.explanation
        );
        assert_eq!(fake.hits(), 0, "{}: nothing left", case.provider);
        assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
    }
}

#[tokio::test]
async fn without_preflight_the_providers_refusal_still_names_the_character() {
    let (world, fake, integration) = setup(&HUBSPOT, json!({"preflight": false})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(
            &campaign,
            json!({"email": "calebæhnson@provider.com", "first_name": "Caleb"}),
        )
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(fake.hits(), 1);
    assert_eq!(v.status, Some(400));
    assert_eq!(v.provider_code.as_deref(), Some("INVALID_EMAIL"));
    assert_eq!(v.field.as_deref(), Some("email"));
    assert!(
        v.explanation.contains("'æ' at position 6"),
        "{}",
        v.explanation
    );
}

#[tokio::test]
async fn mailchimp_tags_go_in_a_second_request_after_the_upsert() {
    let (world, fake, integration) = setup(&MAILCHIMP, json!({"tags": ["winter-quiz"]})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(requests[1].method, "POST");
    assert!(requests[1].path.ends_with("/tags"), "{}", requests[1].path);
    let attempt = world.attempts(&id).remove(0);
    assert_eq!(attempt.preceding.len(), 1);
    assert_eq!(attempt.preceding[0].status, Some(200));
    assert_eq!(attempt.verdict.status, Some(204));
    assert_eq!(attempt.verdict.outcome, Outcome::Delivered);
    assert!(attempt.request.expect("sent").url.ends_with("/tags"));
}

#[tokio::test]
async fn mailchimp_members_are_keyed_by_the_md5_of_the_address_and_basic_auth_carries_the_key() {
    let (world, fake, integration) = setup(&MAILCHIMP, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world.run_queue().await;

    let r = &fake.requests()[0];
    let hash = leadrelay::destination::mailchimp::subscriber_hash("lena.fischer@example.com");
    assert_eq!(r.path, format!("/3.0/lists/a1b2c3/members/{hash}"));
    assert!(r
        .header("authorization")
        .is_some_and(|a| a.starts_with("Basic ")));
    let body = r.json().expect("json");
    assert_eq!(body["status_if_new"], "subscribed");
    assert_eq!(body["merge_fields"]["FNAME"], "Lena");
}

#[tokio::test]
async fn mailchimp_a_person_in_a_compliance_state_is_suppressed() {
    let (world, _fake, integration) = setup(&MAILCHIMP, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("suppressed.person@example.com", true))
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::Suppressed, "{v:?}");
    assert_eq!(
        v.provider_code.as_deref(),
        Some("Member In Compliance State")
    );
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
}

#[tokio::test]
async fn a_condition_skips_the_delivery_and_the_log_says_why() {
    let (world, fake, integration) = setup(
        &MAILCHIMP,
        json!({"conditions": [{"field": "consent.marketing", "equals": true}]}),
    )
    .await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    let handled = world.run_queue().await;

    assert_eq!(handled, [Handled::Skipped]);
    assert_eq!(fake.hits(), 0);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Skipped);
    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.class, Class::NotSent);
    assert_eq!(
        v.provider_code.as_deref(),
        Some("integration.condition_not_met")
    );
    assert!(
        v.explanation.contains("'consent.marketing' is not true"),
        "{}",
        v.explanation
    );
}

#[tokio::test]
async fn klaviyo_subscribes_only_with_consent_and_lists_the_import_before_the_job() {
    let (world, fake, integration) = setup(&KLAVIYO, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let with = world.register(&campaign, lena()).await;
    let without = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    world.run_queue().await;

    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/profile-import",
            "/api/profile-subscription-bulk-create-jobs",
            "/api/profile-import"
        ]
    );
    let job = fake.requests()[1].json().expect("json");
    assert_eq!(job["data"]["relationships"]["list"]["data"]["id"], "Y6nRLr");
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.header("revision").is_some()));
    let a = world.attempts(&with).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Accepted);
    assert_eq!(a.verdict.status, Some(202));
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(a.preceding[0].status, Some(201));
    assert!(a.preceding[0].request.url.ends_with("/api/profile-import"));
    let b = world.attempts(&without).remove(0);
    assert_eq!(b.verdict.outcome, Outcome::Delivered);
    assert!(b.preceding.is_empty());
}

#[tokio::test]
async fn klaviyo_a_failed_subscription_retries_the_pair() {
    let (world, fake, integration) = setup(&KLAVIYO, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("busy.bee@example.com", true))
        .await;
    world.run_queue().await;
    // The import met the busy trigger: nothing further was sent.
    assert_eq!(fake.hits(), 1);
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(fake.hits(), 3);
    assert_eq!(world.attempts(&id)[1].verdict.outcome, Outcome::Accepted);
}

#[tokio::test]
async fn sendgrid_reads_its_queued_import_as_accepted_not_delivered() {
    let (world, fake, integration) = setup(&SENDGRID, json!({})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.status, Some(202));
    assert_eq!(a.verdict.outcome, Outcome::Accepted);
    let body = fake.requests()[0].json().expect("json");
    assert_eq!(body["list_ids"], json!(["8a1b2c3d"]));
    assert_eq!(body["contacts"][0]["email"], "lena.fischer@example.com");
}

#[tokio::test]
async fn a_lock_at_hubspot_or_salesforce_is_a_retryable_conflict() {
    for (case, code) in [(&HUBSPOT, "LOCKED"), (&SALESFORCE, "UNABLE_TO_LOCK_ROW")] {
        let (world, _fake, integration) = setup(case, json!({})).await;
        let campaign = world.campaign(&integration).await;

        let id = world
            .register(&campaign, person("locked.row@example.com", true))
            .await;
        world.run_queue().await;

        let v = &world.attempts(&id)[0].verdict;
        assert_eq!(v.outcome, Outcome::Conflict, "{}: {v:?}", case.provider);
        assert_eq!(v.provider_code.as_deref(), Some(code));
        assert!(v.retryable);
        assert_eq!(
            world.state(&id, &integration).await,
            DeliveryState::Retrying
        );
    }
}

#[tokio::test]
async fn a_slow_provider_times_out_and_is_retried() {
    let world = World::with_timeout(Duration::from_secs(1));
    let fake = FakeProvider::start(Provider::Brevo, "127.0.0.2:0", BREVO.key)
        .await
        .expect("fake starts");
    fake.set_mode(Mode::Slow(Duration::from_millis(2500)));
    let integration = world
        .integration(
            Provider::Brevo,
            (BREVO.settings)(&fake.url()),
            &[("api_key", BREVO.key)],
        )
        .await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::Timeout, "{v:?}");
    assert_eq!(v.class, Class::Network);
    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Retrying
    );
}

#[tokio::test]
async fn hubspot_forms_without_processing_consent_is_refused_by_the_form() {
    let (world, _fake, integration) = setup(
        &HUBSPOT_FORMS,
        json!({"consent_text": "I agree to allow Acme to store and process my personal data.", "subscription_type_id": 999}),
    )
    .await;
    let campaign = world.campaign(&integration).await;

    let id = world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    world.run_queue().await;

    let v = &world.attempts(&id)[0].verdict;
    assert_eq!(v.outcome, Outcome::InvalidData, "{v:?}");
    assert_eq!(
        v.provider_code.as_deref(),
        Some("MISSING_PROCESSING_CONSENT")
    );
}

#[tokio::test]
async fn salesforce_upserts_the_lead_by_its_external_id_in_the_url() {
    let (world, fake, integration) = setup(&SALESFORCE, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world.register(&campaign, lena()).await;
    let handled = world.run_queue().await;

    assert_eq!(handled.len(), 2);
    let r = &fake.requests()[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(
        r.path,
        "/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/lena.fischer%40example.com"
    );
    assert_eq!(
        fake.contact_count(),
        1,
        "the second registration updated the same lead"
    );
    let body = r.json().expect("json");
    assert_eq!(body["Company"], "Private person");
    assert_eq!(body["HasOptedOutOfEmail"], false);
}

#[tokio::test]
async fn mailjet_subscribes_with_consent_and_without_it_sets_properties_off_the_list() {
    let (world, fake, integration) =
        setup(&MAILJET, json!({"fields": {"quiz_score": "quiz_score"}})).await;
    let campaign = world.campaign(&integration).await;

    let with = world.register(&campaign, lena()).await;
    let without = world
        .register(
            &campaign,
            json!({"email": "known.person@example.com", "first_name": "Kim",
                                    "consent": {"marketing": false}, "fields": {"quiz_score": 3}}),
        )
        .await;
    world.run_queue().await;

    let requests = fake.requests();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/v3/REST/contactslist/10457/managecontact"),
            ("POST", "/v3/REST/contact"),
            ("PUT", "/v3/REST/contactdata/known.person%40example.com"),
        ]
    );
    let subscribed = requests[0].json().expect("json");
    assert_eq!(subscribed["Action"], "addforce");
    assert_eq!(subscribed["Properties"]["quiz_score"], 8);
    assert_eq!(
        requests[2].json().expect("json")["Data"],
        json!([{"Name": "quiz_score", "Value": 3}])
    );
    assert_eq!(world.attempts(&with)[0].verdict.status, Some(201));
    let b = world.attempts(&without).remove(0);
    assert_eq!(b.verdict.outcome, Outcome::Delivered, "{:?}", b.verdict);
    assert_eq!(b.verdict.status, Some(200));
    assert_eq!(b.preceding.len(), 1);
    assert_eq!(b.preceding[0].outcome, Outcome::Duplicate);
    assert_eq!(b.preceding[0].status, Some(400));

    let again = world
        .register(
            &campaign,
            json!({"email": "known.person@example.com", "first_name": "Kim",
                                    "consent": {"marketing": false}, "fields": {"quiz_score": 3}}),
        )
        .await;
    world.run_queue().await;

    let c = world.attempts(&again).remove(0);
    assert_eq!(c.verdict.outcome, Outcome::Duplicate, "{:?}", c.verdict);
    assert_eq!(c.verdict.status, Some(304));
    assert!(c.verdict.explanation.contains("already held these values"));
    assert_eq!(
        world.state(&again, &integration).await,
        DeliveryState::Delivered
    );
}

#[tokio::test]
async fn campaign_monitor_resubscribes_only_with_consent_and_a_suppressed_address_stays_off() {
    let (world, fake, integration) = setup(&CAMPAIGN_MONITOR, json!({})).await;
    let campaign = world.campaign(&integration).await;

    world.register(&campaign, lena()).await;
    world
        .register(&campaign, person("no.consent@example.com", false))
        .await;
    let suppressed = world
        .register(&campaign, person("suppressed.person@example.com", true))
        .await;
    world.run_queue().await;

    let bodies: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| r.json().expect("json"))
        .collect();
    assert_eq!(bodies[0]["Resubscribe"], true);
    assert_eq!(bodies[0]["Name"], "Lena Fischer");
    assert_eq!(bodies[1]["Resubscribe"], false);
    assert!(bodies.iter().all(|b| b["ConsentToTrack"] == "Unchanged"));
    let v = &world.attempts(&suppressed)[0].verdict;
    assert_eq!(v.outcome, Outcome::Suppressed, "{v:?}");
    assert_eq!(v.provider_code.as_deref(), Some("204"));
    assert!(!v.retryable);
    assert_eq!(
        world.state(&suppressed, &integration).await,
        DeliveryState::Failed
    );
}

#[tokio::test]
async fn activecampaign_subscribes_a_consenting_contact_to_its_lists_and_no_one_else() {
    let (world, fake, integration) = setup(&ACTIVECAMPAIGN, json!({"list_ids": [3, 8]})).await;
    let campaign = world.campaign(&integration).await;

    let lena = world.register(&campaign, lena()).await;
    let sam = world
        .register(&campaign, person("sam.example@example.com", false))
        .await;
    world.run_queue().await;

    assert_eq!(
        world.state(&lena, &integration).await,
        DeliveryState::Delivered
    );
    let a = world.attempts(&lena).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    let steps: Vec<&str> = a.preceding.iter().map(|p| p.request.url.as_str()).collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[0].ends_with("/api/3/contact/sync"));
    assert!(steps[1].ends_with("/api/3/contactLists"));
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/api/3/contactLists")));
    let held = fake.contact("lena.fischer@example.com").expect("held");
    assert_eq!(held["lists"], json!({"3": "1", "8": "1"}));
    let subscriptions: Vec<Value> = fake
        .requests()
        .iter()
        .filter(|r| r.path == "/api/3/contactLists")
        .map(|r| r.json().expect("json")["contactList"].clone())
        .collect();
    assert_eq!(subscriptions.len(), 2);
    assert_eq!(
        subscriptions[0]["contact"],
        json!(held["_id"].as_str().unwrap().parse::<u64>().unwrap())
    );
    assert_eq!(subscriptions[0]["status"], 1);

    assert_eq!(
        world.state(&sam, &integration).await,
        DeliveryState::Delivered
    );
    assert!(world.attempts(&sam)[0].preceding.is_empty());
    let sam_held = fake.contact("sam.example@example.com").expect("held");
    assert!(sam_held.get("lists").is_none(), "{sam_held}");
    assert_eq!(
        fake.hits(),
        4,
        "a sync and two subscriptions, then one sync"
    );
}

#[tokio::test]
async fn activecampaign_a_list_that_does_not_exist_fails_at_its_step_after_the_ones_that_passed() {
    let (world, fake, integration) = setup(&ACTIVECAMPAIGN, json!({"list_ids": [3, 950, 8]})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::NotFound, "{:?}", a.verdict);
    assert_eq!(a.verdict.status, Some(404));
    assert_eq!(a.preceding.len(), 2, "the sync and list 3 passed");
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/api/3/contactLists")));
    assert!(a
        .response
        .as_ref()
        .is_some_and(|r| r.body_excerpt.contains("List with id 950")));
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Failed);
    assert_eq!(fake.hits(), 3, "list 8 was not tried");
    assert_eq!(
        fake.contact("lena.fischer@example.com").expect("held")["lists"],
        json!({"3": "1"})
    );
}

use leadrelay_dev::providers::salesforce::OAuthApp;

const SF_CLIENT_ID: &str = "3MVG9lKcPoNINVBIPJjdw1J9LLM82HnFVVX19KY1uA5mu0QqEWhqKpoW3svG3X";
const SF_CLIENT_SECRET: &str = "1955279925675241571";
const SF_REFRESH: &str = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrfbNUb0A.e2dHnOp0MwaTJFnsbOGi";

fn sf_app(refresh_token: &str, token_prefix: &str) -> OAuthApp {
    OAuthApp {
        client_id: SF_CLIENT_ID.into(),
        client_secret: Some(SF_CLIENT_SECRET.into()),
        refresh_token: refresh_token.into(),
        token_prefix: token_prefix.into(),
    }
}

/// A world, a Salesforce fake that exchanges `SF_REFRESH`, and an integration in the
/// refresh flow whose instance comes from the token answer.
async fn salesforce_refresh(refresh_token: &str) -> (World, FakeProvider, Integration) {
    let world = World::new();
    let fake = FakeProvider::start(Provider::Salesforce, "127.0.0.2:0", "no-static-token")
        .await
        .expect("fake starts");
    fake.set_oauth_app(sf_app(SF_REFRESH, "00D5g000004XyZ1!AQ4AQIssued"));
    let integration = world
        .integration(
            Provider::Salesforce,
            json!({"login_url": fake.url(), "external_id_field": "LeadRelay_Email__c",
                   "fields": {"Company": {"value": "Private person"}}}),
            &[
                ("client_id", SF_CLIENT_ID),
                ("client_secret", SF_CLIENT_SECRET),
                ("refresh_token", refresh_token),
            ],
        )
        .await;
    (world, fake, integration)
}

#[tokio::test]
async fn salesforce_exchanges_the_refresh_token_and_upserts_with_the_issued_token() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    assert_eq!(
        world.state(&id, &integration).await,
        DeliveryState::Delivered
    );
    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(
        a.preceding[0].request.url,
        format!("{}/services/oauth2/token", fake.url())
    );
    assert_eq!(a.preceding[0].status, Some(200));
    let record = a.request.as_ref().expect("sent");
    assert_eq!(
        record.url,
        format!(
            "{}/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/lena.fischer%40example.com",
            fake.url()
        )
    );
    let requests = fake.requests();
    let token = &requests[0];
    assert_eq!(token.method, "POST");
    let form = String::from_utf8_lossy(&token.body).into_owned();
    assert!(
        form.starts_with("grant_type=refresh_token&client_id=3MVG9"),
        "{form}"
    );
    assert!(form.contains("&client_secret=1955279925675241571&refresh_token=5Aep861"));
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {}", issued[0]).as_str())
    );
    assert!(fake.contact("lena.fischer@example.com").is_some());
    let recorded = serde_json::to_string(&a).expect("json");
    for secret in [issued[0].as_str(), SF_REFRESH, SF_CLIENT_SECRET] {
        assert!(!recorded.contains(secret), "{secret} in the attempt");
    }

    // One token request per attempt: a second registration exchanges again.
    world
        .register(&campaign, person("second.person@example.com", true))
        .await;
    world.run_queue().await;
    assert_eq!(fake.issued_tokens().len(), 2);
}

#[tokio::test]
async fn salesforce_a_revoked_refresh_token_pauses_and_reconnecting_drains() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    // The user revoked leadrelay's access in Salesforce, then connected again: a new
    // refresh token, which the integration does not hold yet.
    let reconnected = "5Aep861ReconnectedAfterRevocation000000000000000000000000000000";
    fake.set_oauth_app(sf_app(reconnected, "00D5g000004XyZ1!AQ4AQAgain"));

    let first = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&first).remove(0);
    let v = &a.verdict;
    assert_eq!(v.outcome, Outcome::Unauthorized, "{v:?}");
    assert_eq!(
        (v.status, v.provider_code.as_deref()),
        (Some(400), Some("invalid_grant"))
    );
    assert!(v.remedy.contains("Reconnect Salesforce"), "{}", v.remedy);
    assert!(
        a.preceding.is_empty(),
        "the token request is the one that failed"
    );
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/services/oauth2/token")));
    assert!(a
        .response
        .as_ref()
        .is_some_and(|r| r.body_excerpt.contains("expired access/refresh token")));
    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Paused
    );
    let paused = world.reload(&integration).await;
    assert!(matches!(
        paused.status,
        IntegrationStatus::Paused {
            outcome: Outcome::Unauthorized,
            ..
        }
    ));

    let second = world
        .register(&campaign, person("second.person@example.com", true))
        .await;
    assert_eq!(world.run_queue().await, [Handled::Parked]);
    assert_eq!(fake.hits(), 1, "a parked delivery sends nothing");

    let (resumed, drained) = world
        .set_credential(&integration, "refresh_token", reconnected)
        .await;
    assert_eq!(resumed.status, IntegrationStatus::Active);
    assert_eq!(drained, 2);
    world.run_queue().await;

    for id in [&first, &second] {
        assert_eq!(
            world.state(id, &integration).await,
            DeliveryState::Delivered
        );
        let last = world.attempts(id).pop().expect("an attempt");
        assert_eq!(last.trigger, leadrelay::model::Trigger::Resumed);
        assert_eq!(last.preceding.len(), 1, "a token request, then the record");
    }
}

#[tokio::test]
async fn a_test_send_runs_the_same_follow_ups_and_stores_nothing() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    world.register(&campaign, lena()).await;
    let registration = world.store().all_registrations().remove(0);
    let stored = world.reload(&integration).await;

    let result = leadrelay::deliver::test_send(
        &world.deliverer.transport,
        &InsecureTestVault,
        &stored,
        &registration,
    )
    .await
    .expect("opens");

    assert_eq!(
        result.verdict.outcome,
        Outcome::Delivered,
        "{:?}",
        result.verdict
    );
    assert_eq!(result.preceding.len(), 1);
    assert!(result.preceding[0]
        .request
        .url
        .ends_with("/services/oauth2/token"));
    assert!(result
        .request
        .as_ref()
        .is_some_and(|r| r.url.contains("/sobjects/Lead/")));
    assert_eq!(fake.issued_tokens().len(), 1);
    assert!(world.store().all_attempts().is_empty());
}

#[tokio::test]
async fn salesforce_a_refused_connected_app_pauses_with_the_app_in_the_remedy() {
    let (world, fake, integration) = salesforce_refresh(SF_REFRESH).await;
    let campaign = world.campaign(&integration).await;
    fake.set_oauth_app(OAuthApp {
        client_id: "3MVG9SomeOtherApp".into(),
        ..sf_app(SF_REFRESH, "x")
    });

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let v = world.attempts(&id).remove(0).verdict;
    assert_eq!(
        (v.outcome, v.provider_code.as_deref()),
        (Outcome::Unauthorized, Some("invalid_client_id"))
    );
    assert!(v.remedy.contains("connected app"), "{}", v.remedy);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
}

/// A world, a Dynamics 365 fake and an integration with the fake's app registration.
async fn dynamics_setup(extra: Value) -> (World, FakeProvider, Integration) {
    setup(&DYNAMICS, extra).await
}

#[tokio::test]
async fn dynamics_requests_a_token_with_client_credentials_and_upserts_the_lead_by_its_email_key() {
    let (world, fake, integration) =
        dynamics_setup(json!({"fields": {"subject": {"value": "Winter quiz"}}})).await;
    let campaign = world.campaign(&integration).await;

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    assert_eq!(a.verdict.outcome, Outcome::Delivered, "{:?}", a.verdict);
    assert_eq!(a.verdict.status, Some(204));
    assert_eq!(a.preceding.len(), 1);
    assert_eq!(
        a.preceding[0].request.url,
        format!("{}/{}/oauth2/v2.0/token", fake.url(), dynamics::TENANT_ID)
    );
    assert_eq!(
        a.request.as_ref().map(|r| r.url.clone()),
        Some(format!(
            "{}/api/data/v9.2/leads(emailaddress1='lena.fischer%40example.com')",
            fake.url()
        ))
    );
    let requests = fake.requests();
    let form = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert_eq!(
        form,
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            dynamics::CLIENT_ID,
            DYNAMICS.key,
            fake.url().replace(':', "%3A").replace('/', "%2F") + "%2F.default"
        )
    );
    let record = &requests[1];
    let issued = fake.issued_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        record.header("authorization"),
        Some(format!("Bearer {}", issued[0]).as_str())
    );
    assert_eq!(record.header("if-none-match"), None);
    assert_eq!(
        record.json(),
        Some(
            json!({"firstname": "Lena", "lastname": "Fischer", "subject": "Winter quiz",
                    "donotbulkemail": false})
        )
    );
    let held = fake.contact("lena.fischer@example.com").expect("created");
    assert_eq!(held["emailaddress1"], "lena.fischer@example.com");
    let recorded = serde_json::to_string(&a).expect("json");
    for secret in [issued[0].as_str(), DYNAMICS.key] {
        assert!(!recorded.contains(secret), "{secret} in the attempt");
    }

    // One token per attempt; the second registration, without consent, opts out.
    let second = world
        .register(&campaign, person("second.person@example.com", false))
        .await;
    world.run_queue().await;
    assert_eq!(fake.issued_tokens().len(), 2);
    assert_eq!(
        world.state(&second, &integration).await,
        DeliveryState::Delivered
    );
    assert_eq!(
        fake.contact("second.person@example.com").expect("created")["donotbulkemail"],
        true
    );
}

#[tokio::test]
async fn dynamics_a_refused_client_secret_pauses_with_the_app_registration_in_the_remedy() {
    let (world, fake, integration) = dynamics_setup(json!({"entity": "contacts"})).await;
    let campaign = world.campaign(&integration).await;
    // The secret expired in Entra ID, and an administrator created a new one.
    let renewed = "Rn9~2bC.dE3fG-hI4jK5lM6nO7pQ8rS9tU0vW1x";
    fake.set_key(renewed);

    let first = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&first).remove(0);
    let v = &a.verdict;
    assert_eq!(
        (v.outcome, v.status, v.provider_code.as_deref()),
        (Outcome::Unauthorized, Some(401), Some("invalid_client"))
    );
    assert!(
        v.message
            .as_deref()
            .is_some_and(|m| m.starts_with("AADSTS7000215") && !m.contains("Trace ID")),
        "{v:?}"
    );
    assert!(v.remedy.contains("Certificates & secrets"), "{}", v.remedy);
    assert!(
        a.preceding.is_empty(),
        "the token request is the one refused"
    );
    assert!(a
        .request
        .as_ref()
        .is_some_and(|r| r.url.ends_with("/oauth2/v2.0/token")));
    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Paused
    );

    // The standard case shows the park and the drain; here: the new secret's Value,
    // pasted into client_secret, is what Entra ID takes.
    world
        .set_credential(&integration, "client_secret", renewed)
        .await;
    world.run_queue().await;

    assert_eq!(
        world.state(&first, &integration).await,
        DeliveryState::Delivered
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/api/data/v9.2/contacts(emailaddress1='lena.fischer%40example.com')"));
}

#[tokio::test]
async fn dynamics_an_unknown_application_tenant_or_environment_is_refused_by_entra_id_and_pauses() {
    for (extra, code) in [
        (
            json!({"client_id": "11111111-2222-4333-8444-555555555555"}),
            "unauthorized_client",
        ),
        (
            json!({"tenant_id": "contoso.onmicrosoft.com"}),
            "invalid_request",
        ),
        (
            json!({"org_url": "https://contoso.crm4.dynamics.com", "base_url": "http://127.0.0.2:1"}),
            "invalid_resource",
        ),
    ] {
        let (world, _fake, integration) = dynamics_setup(extra).await;
        let campaign = world.campaign(&integration).await;

        let id = world.register(&campaign, lena()).await;
        world.run_queue().await;

        let v = world.attempts(&id).remove(0).verdict;
        assert_eq!(
            (v.outcome, v.status, v.provider_code.as_deref()),
            (Outcome::Unauthorized, Some(400), Some(code))
        );
        assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
    }
}

#[tokio::test]
async fn dynamics_an_application_user_without_the_privilege_pauses_with_the_security_role_in_the_remedy(
) {
    let (world, fake, integration) = dynamics_setup(json!({})).await;
    let campaign = world.campaign(&integration).await;
    fake.set_mode(Mode::Forbidden);

    let id = world.register(&campaign, lena()).await;
    world.run_queue().await;

    let a = world.attempts(&id).remove(0);
    let v = &a.verdict;
    assert_eq!(
        (v.outcome, v.status, v.provider_code.as_deref()),
        (Outcome::Forbidden, Some(403), Some("0x80040220"))
    );
    assert_eq!(
        a.preceding.len(),
        1,
        "the token was issued; the record was refused"
    );
    assert!(v.remedy.contains("security role"), "{}", v.remedy);
    assert_eq!(world.state(&id, &integration).await, DeliveryState::Paused);
}

/// Canaries: one unique string per credential slot of every provider.
fn canary(slot: &str) -> String {
    format!(
        "CANARY{}{}",
        slot.to_ascii_uppercase().replace(['_', '-'], ""),
        "7f3a9c"
    )
}

#[tokio::test]
async fn no_credential_reaches_an_attempt_record_the_management_view_debug_output_or_the_logs() {
    // (provider, its credentials, the value the fake accepts)
    let mailchimp_key = format!("{}-us21", canary("mailchimp"));
    let klaviyo_key = format!("pk_{}", canary("klaviyo"));
    let sendgrid_key = format!("SG.{}", canary("sendgrid"));
    /// A provider, the credentials its integration holds, and the key its fake accepts.
    type Setup<'a> = (&'a Case, Vec<(&'a str, String)>, String);
    let setups: Vec<Setup> = vec![
        (
            &MAILCHIMP,
            vec![("access_token", canary("mailchimpoauth"))],
            canary("mailchimpoauth"),
        ),
        (
            &MAILCHIMP,
            vec![("api_key", mailchimp_key.clone())],
            mailchimp_key,
        ),
        (
            &HUBSPOT,
            vec![("access_token", canary("hubspot"))],
            canary("hubspot"),
        ),
        (
            &HUBSPOT_FORMS,
            vec![("access_token", canary("forms"))],
            canary("forms"),
        ),
        (
            &KLAVIYO,
            vec![("api_key", klaviyo_key.clone())],
            klaviyo_key,
        ),
        (
            &SENDGRID,
            vec![("api_key", sendgrid_key.clone())],
            sendgrid_key,
        ),
        (&BREVO, vec![("api_key", canary("brevo"))], canary("brevo")),
        (
            &ACTIVECAMPAIGN,
            vec![("api_key", canary("activecampaign"))],
            canary("activecampaign"),
        ),
        (
            &SALESFORCE,
            vec![("access_token", canary("salesforce"))],
            canary("salesforce"),
        ),
        (
            &MAILJET,
            vec![
                ("api_key", canary("mailjet")),
                ("secret_key", canary("mailjetsecret")),
            ],
            format!("{}:{}", canary("mailjet"), canary("mailjetsecret")),
        ),
        (
            &CAMPAIGN_MONITOR,
            vec![("api_key", canary("campaignmonitor"))],
            canary("campaignmonitor"),
        ),
        (
            &DYNAMICS,
            vec![("client_secret", canary("dynclientsecret"))],
            canary("dynclientsecret"),
        ),
    ];
    let mut canaries: Vec<String> = Vec::new();
    let world = World::new();
    let mut fakes = Vec::new();
    let mut integrations = Vec::new();
    for (case, credentials, accepted) in &setups {
        let fake = FakeProvider::start(case.provider, "127.0.0.2:0", accepted)
            .await
            .expect("fake");
        let pairs: Vec<(&str, &str)> = credentials.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let integration = world
            .integration(case.provider, (case.settings)(&fake.url()), &pairs)
            .await;
        canaries.extend(credentials.iter().map(|(_, v)| v.clone()));
        fakes.push(fake);
        integrations.push(integration);
    }
    // Salesforce's refresh flow: three slots, and the access tokens the fake issues.
    let sf_oauth = FakeProvider::start(Provider::Salesforce, "127.0.0.2:0", "no-static-token")
        .await
        .expect("fake");
    sf_oauth.set_oauth_app(OAuthApp {
        client_id: canary("sfclientid"),
        client_secret: Some(canary("sfclientsecret")),
        refresh_token: canary("sfrefresh"),
        token_prefix: canary("sfissued"),
    });
    let sf_integration = world
        .integration(
            Provider::Salesforce,
            json!({"login_url": sf_oauth.url(), "external_id_field": "LeadRelay_Email__c",
                   "fields": {"Company": {"value": "Private person"}}}),
            &[
                ("client_id", &canary("sfclientid")),
                ("client_secret", &canary("sfclientsecret")),
                ("refresh_token", &canary("sfrefresh")),
            ],
        )
        .await;
    canaries.extend([
        canary("sfclientid"),
        canary("sfclientsecret"),
        canary("sfrefresh"),
        canary("sfissued"),
    ]);
    integrations.push(sf_integration);
    // The webhook's four slots: basic user and password, and a signing secret.
    use base64::Engine;
    let hook = leadrelay_dev::fake::FakeServer::start(
        "127.0.0.2:0",
        leadrelay_dev::fake::always(leadrelay_dev::fake::Reply::json(
            500,
            json!({"error": "down"}),
        )),
    )
    .await
    .expect("hook");
    let signing = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(canary("signing").repeat(2).as_bytes())
    );
    let webhook = world
        .integration(
            Provider::Webhook,
            json!({"url": format!("{}/in", hook.url()), "auth": "basic"}),
            &[
                ("username", &canary("hookuser")),
                ("password", &canary("hookpass")),
                ("signing_secret", &signing),
            ],
        )
        .await;
    canaries.extend([
        canary("hookuser"),
        canary("hookpass"),
        signing.clone(),
        canary("signing"),
    ]);
    integrations.push(webhook);

    for integration in &integrations {
        let campaign = world.campaign(integration).await;
        world.register(&campaign, lena()).await;
        world
            .register(&campaign, person("error.case@example.com", true))
            .await;
        world
            .register(&campaign, person("invalid.case@example.com", true))
            .await;
    }
    world.run_queue().await;
    // Rotate every provider key to a wrong one at the fake: 401s and pauses get recorded too.
    for fake in &fakes {
        fake.set_key("rotated-at-the-provider");
    }
    // And revoke the refresh token: the token endpoint's refusal gets recorded too.
    sf_oauth.set_oauth_app(OAuthApp {
        client_id: canary("sfclientid"),
        client_secret: Some(canary("sfclientsecret")),
        refresh_token: "revoked-and-replaced".into(),
        token_prefix: canary("sfissued"),
    });
    for integration in &integrations {
        let campaign = world.campaign(integration).await;
        world.register(&campaign, lena()).await;
    }
    world.run_queue().await;

    let attempts = world.store().all_attempts();
    assert!(attempts.len() >= 4 * integrations.len());
    let records = serde_json::to_string(&attempts).expect("json");
    let mut shown = vec![records, format!("{attempts:?}")];
    for integration in &integrations {
        let stored = world.reload(integration).await;
        shown.push(manage::integration_view(&stored).to_string());
        shown.push(format!("{stored:?}"));
        let opened: Credentials = InsecureTestVault.open(&stored).await.expect("opens");
        shown.push(format!("{opened:?}"));
        let registration = world.store().all_registrations().remove(0);
        let cx = SendContext {
            message_id: "msg_x".into(),
            timestamp: 1,
            attempt: 1,
        };
        if let Ok(built) = destination::build(&stored, &opened, &registration, &cx) {
            shown.push(format!("{built:?}"));
        }
    }
    // The access tokens Entra ID issued (the fake plays it) are secrets as well.
    let dynamics_fake = fakes
        .iter()
        .find(|f| f.provider() == Provider::Dynamics)
        .expect("a Dynamics 365 fake");
    let dynamics_tokens = dynamics_fake.issued_tokens();
    assert!(!dynamics_tokens.is_empty(), "tokens were issued");
    canaries.extend(dynamics_tokens.iter().cloned());
    let logs = captured_logs();
    let ids: Vec<String> = world
        .store()
        .all_registrations()
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert!(
        ids.iter().any(|id| logs.contains(id.as_str())),
        "this test's deliveries were logged"
    );
    shown.push(logs.clone());

    for canary in &canaries {
        for (i, text) in shown.iter().enumerate() {
            assert!(
                !text.contains(canary.as_str()),
                "canary {canary} leaked in output #{i}"
            );
        }
    }
    // They did go out, to the providers that asked for them (inside Basic
    // authentication's base64 for Mailchimp's API key, Mailjet's key pair and Campaign
    // Monitor's key).
    for (fake, (case, _, accepted)) in fakes.iter().zip(&setups) {
        let headers: String = fake
            .requests()
            .iter()
            .map(|r| format!("{:?}", r.headers))
            .collect();
        let basic = |pair: String| base64::engine::general_purpose::STANDARD.encode(pair);
        if case.provider == Provider::Dynamics {
            // The app's credentials go in the token request's form body; the record
            // request carries the token issued for them.
            let bodies: String = fake
                .requests()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect();
            assert!(bodies.contains(&format!("&client_secret={accepted}&")));
            assert!(
                headers.contains(&format!("Bearer {}", dynamics_tokens[0])),
                "the issued token was used"
            );
            continue;
        }
        let expected = match case.provider {
            Provider::Mailchimp if accepted.ends_with("-us21") => {
                basic(format!("leadrelay:{accepted}"))
            }
            Provider::Mailjet => basic(accepted.clone()),
            Provider::CampaignMonitor => basic(format!("{accepted}:x")),
            _ => accepted.clone(),
        };
        assert!(
            headers.contains(&expected),
            "{} never received its key",
            case.provider
        );
    }
    let token_requests: Vec<String> = sf_oauth
        .requests()
        .iter()
        .filter(|r| r.path == "/services/oauth2/token")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(token_requests.len() >= 2, "exchanged, then refused");
    assert!(token_requests[0].contains(&canary("sfrefresh")));
    assert!(token_requests[0].contains(&canary("sfclientsecret")));
    let bearers: String = sf_oauth
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        bearers.contains(&format!("Bearer {}", canary("sfissued"))),
        "the issued token was used"
    );
    let sf_attempts: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.integration_id == integrations[setups.len()].id)
        .collect();
    assert!(sf_attempts
        .iter()
        .any(|a| a.verdict.outcome == Outcome::Delivered));
    assert!(sf_attempts
        .iter()
        .any(|a| a.verdict.provider_code.as_deref() == Some("invalid_grant")));
    // Every other test's keys stay out of the logs too (the capture holds the logs of
    // every test in this binary that ran so far).
    for secret in [
        SF_CLIENT_ID,
        SF_CLIENT_SECRET,
        SF_REFRESH,
        "AQ4AQIssued",
        "AQ4AQAgain",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    for case in ALL {
        assert!(
            !logs.contains(case.key),
            "{} key in the logs",
            case.provider
        );
        assert!(
            !logs.contains(case.wrong_key),
            "{} key in the logs",
            case.provider
        );
        if let Some((_, secret)) = case.second {
            assert!(
                !logs.contains(secret),
                "{} secret in the logs",
                case.provider
            );
        }
    }
}

#[tokio::test]
async fn the_demo_samples_come_to_different_ends_at_mailchimp_and_hubspot() {
    use leadrelay_dev::demo;
    let world = World::new();
    let mailchimp =
        FakeProvider::start(Provider::Mailchimp, "127.0.0.2:0", demo::MAILCHIMP_DEMO_KEY)
            .await
            .expect("fake");
    let hubspot = FakeProvider::start(Provider::Hubspot, "127.0.0.2:0", demo::HUBSPOT_DEMO_TOKEN)
        .await
        .expect("fake");
    let mut integrations = Vec::new();
    for body in demo::provider_integrations(&mailchimp.url(), &hubspot.url()) {
        let input: IntegrationInput = serde_json::from_value(body).expect("an admin API body");
        let (integration, _) = manage::create_integration(
            world.store(),
            &InsecureTestVault,
            LOCAL,
            &world.account,
            input,
        )
        .await
        .expect("the demo's settings pass the checks");
        integrations.push(integration);
    }
    let (campaign, _, key) = manage::create_campaign(
        world.store(),
        &world.account,
        CampaignInput {
            name: Some("Winter quiz".into()),
            integration_ids: Some(integrations.iter().map(|i| i.id.to_string()).collect()),
            retention_days: None,
        },
    )
    .await
    .expect("campaign");
    let campaign = (campaign.id, key);
    let mut ids = Vec::new();
    for (_, body) in demo::samples() {
        ids.push(world.register(&campaign, body).await);
    }

    world.run_queue().await;
    world.run_queue().await;

    let [lena, caleb, busy, known] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let (mc, hs) = (&integrations[0], &integrations[1]);
    let last = |id: &RegistrationId, integration: &Integration| {
        world
            .attempts(id)
            .into_iter()
            .rfind(|a| a.integration_id == integration.id)
            .expect("an attempt")
    };
    assert_eq!(world.state(lena, mc).await, DeliveryState::Delivered);
    assert_eq!(
        last(lena, mc).preceding.len(),
        1,
        "the upsert, then the tags"
    );
    assert_eq!(world.state(lena, hs).await, DeliveryState::Delivered);

    let c = last(caleb, mc).verdict;
    assert_eq!(
        (c.class, c.provider_code.as_deref()),
        (Class::NotSent, Some("preflight.email_non_ascii"))
    );
    let c = last(caleb, hs).verdict;
    assert_eq!(
        (c.status, c.provider_code.as_deref()),
        (Some(400), Some("INVALID_EMAIL"))
    );
    assert!(
        c.explanation.contains("'æ' at position 6"),
        "{}",
        c.explanation
    );

    for integration in [mc, hs] {
        let attempts: Vec<Outcome> = world
            .attempts(busy)
            .into_iter()
            .filter(|a| a.integration_id == integration.id)
            .map(|a| a.verdict.outcome)
            .collect();
        assert_eq!(attempts[0], Outcome::RateLimited);
        assert_eq!(
            world.state(busy, integration).await,
            DeliveryState::Delivered
        );
    }

    assert_eq!(world.state(known, mc).await, DeliveryState::Skipped);
    assert_eq!(
        last(known, mc).verdict.provider_code.as_deref(),
        Some("integration.condition_not_met")
    );
    let k = last(known, hs).verdict;
    assert_eq!(
        (k.outcome, k.provider_code.as_deref()),
        (Outcome::Duplicate, Some("CONFLICT"))
    );
}

// Batch mode: the jobs of one queue batch for a batch-mode webhook go out as one signed
// array, through the real HTTP client to the demo receiver, which verifies signatures
// with its own implementation of the scheme and reports failed items in a 2xx answer.
mod batch {
    use super::*;
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
    async fn an_item_the_receiver_refuses_in_a_2xx_fails_alone_and_the_engine_names_the_character()
    {
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
        let (campaign, _, key) = manage::create_campaign(
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

            let refused = manage::create_integration(
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
}
