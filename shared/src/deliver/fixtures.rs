//! What the tests of the pipeline, the send sequence and the pause share: a scripted
//! provider, a bare request, and a webhook integration with a registration to deliver.

use super::{DeliverConfig, Deliverer};
use crate::clock;
use crate::exchange::{Exchange, Method, OutgoingRequest, Transport};
use crate::ids::{AccountId, CampaignId, RegistrationId};
use crate::model::{
    DeliverJob, Integration, IntegrationStatus, Registration, RegistrationData, Trigger,
};
use crate::queue::memory::MemoryQueue;
use crate::schedule::RetrySchedule;
use crate::store::memory::MemoryStore;
use crate::store::{CampaignStore, RegistrationStore};
use crate::vault::InsecureTestVault;
use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::provider::Provider;
use std::sync::Mutex;
use std::time::Duration;

/// Answers each request with the next status in turn, and records the URLs.
pub(super) struct Scripted {
    pub(super) statuses: Mutex<Vec<u16>>,
    pub(super) urls: Mutex<Vec<String>>,
}

impl Transport for Scripted {
    async fn send(&self, request: &OutgoingRequest) -> Exchange {
        self.urls.lock().unwrap().push(request.url.clone());
        let status = self.statuses.lock().unwrap().remove(0);
        Exchange {
            response: ProviderResponse::new(status, ""),
            summary: None,
            duration_ms: 5,
            blocked: None,
        }
    }
}

/// A bare POST to `url`.
pub(super) fn request(url: &str) -> OutgoingRequest {
    OutgoingRequest {
        method: Method::Post,
        url: url.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        secret_segments: Vec::new(),
    }
}

fn webhook(account: &AccountId) -> Integration {
    Integration {
        id: crate::ids::IntegrationId::generate(),
        account_id: account.clone(),
        name: "hook".into(),
        provider: Provider::Webhook,
        settings: serde_json::json!({"url": "https://hooks.example.com/in"})
            .as_object()
            .cloned()
            .unwrap(),
        credentials: None,
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        created_at: 0,
        updated_at: 0,
        cooldown_until: None,
    }
}

/// A webhook answering `statuses` in turn, one registration for it, and its first job,
/// retried on `schedule`.
pub(super) async fn setup(
    statuses: Vec<u16>,
    schedule: &str,
) -> (
    Deliverer<MemoryStore, MemoryQueue, Scripted, InsecureTestVault>,
    DeliverJob,
) {
    let store = MemoryStore::new();
    let account = AccountId::generate();
    let integration = webhook(&account);
    let registration = Registration {
        id: RegistrationId::generate(),
        account_id: account.clone(),
        campaign_id: CampaignId::generate(),
        received_at: clock::now_ms(),
        data: RegistrationData {
            email: Some("lena@example.com".into()),
            ..RegistrationData::default()
        },
        integration_ids: vec![integration.id.clone()],
        expires_at: clock::now_ms() / 1000 + 3600,
        erased_at: None,
    };
    store.put_integration(&integration).await.unwrap();
    store.create_registration(&registration, &[]).await.unwrap();
    let job = DeliverJob {
        account_id: account,
        registration_id: registration.id.clone(),
        integration_id: integration.id.clone(),
        attempt: 1,
        not_before: None,
        trigger: Trigger::Automatic,
    };
    let d = Deliverer {
        store,
        queue: MemoryQueue::new(),
        transport: Scripted {
            statuses: Mutex::new(statuses),
            urls: Mutex::new(Vec::new()),
        },
        vault: InsecureTestVault,
        config: DeliverConfig {
            schedule: RetrySchedule::parse(schedule).unwrap(),
            attempt_timeout: Duration::from_secs(5),
        },
    };
    (d, job)
}

/// A second registration to the same integration as `job`'s.
pub(super) async fn another(
    d: &Deliverer<MemoryStore, MemoryQueue, Scripted, InsecureTestVault>,
    job: &DeliverJob,
) -> DeliverJob {
    let first = d
        .store
        .registration(&job.registration_id)
        .await
        .unwrap()
        .unwrap();
    let second = Registration {
        id: RegistrationId::generate(),
        ..first
    };
    d.store.create_registration(&second, &[]).await.unwrap();
    DeliverJob {
        registration_id: second.id,
        ..job.clone()
    }
}
