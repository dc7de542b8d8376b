//! The logs routes under each role: who may read and resend, what a viewer without
//! personal data reads, what a campaign-restricted key sees, and the audit entry of a
//! resend.

#![allow(clippy::unwrap_used)]

use crate::{router::handle, Deps};
use lambda_http::Body;
use leadrelay::access::{Access, Role};
use leadrelay::audit::{Action, AuditQuery};
use leadrelay::cursor::CursorSealer;
use leadrelay::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use leadrelay::manage::keys::{issue_key, issue_key_with};
use leadrelay::model::{
    Attached, Campaign, Delivery, DeliveryState, KeyKind, Registration, RegistrationData,
};
use leadrelay::queue::memory::MemoryQueue;
use leadrelay::store::memory::MemoryStore;
use leadrelay::store::{AuditStore, CampaignStore, RegistrationStore};
use leadrelay_explain::provider::Provider;
use serde_json::Value;

struct World {
    deps: Deps<MemoryStore, MemoryQueue>,
    account: AccountId,
    campaigns: [CampaignId; 2],
    integration: IntegrationId,
}

async fn world() -> World {
    let store = MemoryStore::new();
    let account = AccountId::generate();
    let integration = IntegrationId::generate();
    let campaigns = [CampaignId::generate(), CampaignId::generate()];
    for id in &campaigns {
        let campaign = Campaign {
            id: id.clone(),
            account_id: account.clone(),
            name: "Quiz".into(),
            integrations: vec![Attached {
                id: integration.clone(),
                provider: Provider::Webhook,
            }],
            retention_days: 30,
            created_at: 0,
        };
        store.put_campaign(&campaign).await.unwrap();
    }
    World {
        deps: Deps {
            store,
            queue: MemoryQueue::new(),
            cursors: CursorSealer::new("a test secret of enough length!!"),
            audit_retention_days: 7,
        },
        account,
        campaigns,
        integration,
    }
}

impl World {
    async fn key(&self, role: Role, campaigns: &[&CampaignId], personal_data: bool) -> String {
        let access = Access {
            role,
            campaigns: campaigns.iter().map(|c| (*c).clone()).collect(),
            personal_data,
        };
        let (_, secret) = issue_key_with(
            &self.deps.store,
            &self.account,
            KeyKind::Account,
            None,
            access,
        )
        .await
        .unwrap();
        secret.expose().to_owned()
    }

    /// A failed registration of campaign `c` from Lena.
    async fn registration(&self, c: usize) -> RegistrationId {
        let now = leadrelay::clock::now_ms();
        let mut fields = serde_json::Map::new();
        fields.insert("city".into(), Value::from("Lisbon"));
        let r = Registration {
            id: RegistrationId::generate(),
            account_id: self.account.clone(),
            campaign_id: self.campaigns[c].clone(),
            received_at: now,
            data: RegistrationData {
                email: Some("lena@example.com".into()),
                first_name: Some("Lena".into()),
                fields,
                ..RegistrationData::default()
            },
            integration_ids: vec![self.integration.clone()],
            expires_at: now / 1000 + 3600,
            erased_at: None,
        };
        let d = Delivery {
            registration_id: r.id.clone(),
            integration_id: self.integration.clone(),
            campaign_id: self.campaigns[c].clone(),
            provider: Provider::Webhook,
            state: DeliveryState::Failed,
            attempts: 1,
            next_attempt_at: None,
            last: None,
            received_at: now,
            updated_at: now,
            waiting: None,
        };
        assert!(self.deps.store.create_registration(&r, &[d]).await.unwrap());
        r.id
    }

    async fn call(&self, key: &str, method: &str, path: &str) -> (u16, Value) {
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::Empty)
            .unwrap();
        let r = handle(&self.deps, request).await.unwrap();
        let body = serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null);
        (r.status().as_u16(), body)
    }
}

#[tokio::test]
async fn every_logs_route_lets_in_the_roles_it_may_and_refuses_the_others_naming_the_role() {
    let w = world().await;
    let rid = w.registration(0).await;
    let (c, i) = (&w.campaigns[0], &w.integration);
    let keys = [
        w.key(Role::Admin, &[], false).await,
        w.key(Role::Operator, &[], false).await,
        w.key(Role::Viewer, &[], false).await,
        w.key(Role::Viewer, &[c], true).await,
        issue_key(
            &w.deps.store,
            &AccountId::generate(),
            KeyKind::Platform,
            None,
        )
        .await
        .unwrap()
        .1
        .expose()
        .to_owned(),
    ];
    // (method, path, what each key gets: admin, operator, viewer, restricted viewer,
    // platform; "" lets it in, a role names the one the 403 asks for)
    let table = [
        (
            "GET",
            format!("/v1/registrations/{rid}"),
            ["", "", "", "", "viewer"],
        ),
        (
            "POST",
            format!("/v1/registrations/{rid}/deliveries/{i}/retry"),
            ["", "", "operator", "operator", "operator"],
        ),
        (
            "GET",
            format!("/v1/campaigns/{c}/deliveries"),
            ["", "", "", "", "viewer"],
        ),
        (
            "GET",
            format!("/v1/campaigns/{c}/summary"),
            ["", "", "", "", "viewer"],
        ),
    ];
    for (method, path, expected) in table {
        for (key, want) in keys.iter().zip(expected) {
            let (status, body) = w.call(key, method, &path).await;
            if want.is_empty() {
                assert!(
                    status < 300,
                    "{method} {path} with {}: {status} {body}",
                    &key[..6]
                );
            } else {
                assert_eq!(status, 403, "{method} {path}: {body}");
                assert_eq!(body["code"], "forbidden");
                assert_eq!(body["required_role"], want);
            }
        }
    }
}

#[tokio::test]
async fn a_viewer_reads_the_log_masked_unless_granted_personal_data() {
    let w = world().await;
    let rid = w.registration(0).await;
    let path = format!("/v1/registrations/{rid}");
    let viewer = w.key(Role::Viewer, &[], false).await;
    let granted = w.key(Role::Viewer, &[], true).await;
    let operator = w.key(Role::Operator, &[], false).await;

    let (_, masked) = w.call(&viewer, "GET", &path).await;
    let (_, shown) = w.call(&granted, "GET", &path).await;
    let (_, operated) = w.call(&operator, "GET", &path).await;

    let data = &masked["registration"]["data"];
    assert_eq!(data["email"], "[masked]");
    assert_eq!(data["first_name"], "[masked]");
    assert_eq!(data["city"], Value::Null, "custom fields sit under fields");
    assert_eq!(data["fields"]["city"], "[masked]");
    let text = masked.to_string();
    assert!(!text.contains("lena") && !text.contains("Lisbon"), "{text}");
    assert_eq!(
        masked["deliveries"][0]["state"], "failed",
        "status lines stay"
    );
    assert_eq!(shown["registration"]["data"]["email"], "lena@example.com");
    assert_eq!(operated["registration"]["data"]["first_name"], "Lena");
}

#[tokio::test]
async fn a_restricted_key_finds_nothing_outside_its_campaigns_and_a_resend_is_audited() {
    let w = world().await;
    let mine = w.registration(0).await;
    let theirs = w.registration(1).await;
    let (c0, c1, i) = (&w.campaigns[0], &w.campaigns[1], &w.integration);
    let operator = w.key(Role::Operator, &[c0], false).await;

    let (s1, _) = w
        .call(&operator, "GET", &format!("/v1/registrations/{mine}"))
        .await;
    let (s2, absent) = w
        .call(&operator, "GET", &format!("/v1/registrations/{theirs}"))
        .await;
    let (s3, _) = w
        .call(&operator, "GET", &format!("/v1/campaigns/{c1}/deliveries"))
        .await;
    let (s4, _) = w
        .call(&operator, "GET", &format!("/v1/campaigns/{c1}/summary"))
        .await;
    let (s5, _) = w
        .call(
            &operator,
            "POST",
            &format!("/v1/registrations/{theirs}/deliveries/{i}/retry"),
        )
        .await;
    let (s6, _) = w
        .call(
            &operator,
            "POST",
            &format!("/v1/registrations/{mine}/deliveries/{i}/retry"),
        )
        .await;

    assert_eq!(s1, 200);
    assert_eq!(
        (s2, absent["detail"].as_str()),
        (404, Some("this registration does not exist"))
    );
    assert_eq!((s3, s4, s5), (404, 404, 404));
    assert_eq!(s6, 202);
    let log = w
        .deps
        .store
        .audit_entries(&AuditQuery {
            account_id: w.account.clone(),
            from_ms: 0,
            to_ms: u64::MAX,
            action: None,
            target: None,
            key_id: None,
            limit: 10,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1, "only the resend made is recorded");
    let entry = &log.items[0];
    assert_eq!(entry.action, Action::DeliveryResent);
    assert_eq!(entry.target, format!("delivery:{mine}/{i}"));
    assert!(entry.expires_at >= entry.at / 1000 + 7 * 86_400);
}

#[tokio::test]
async fn the_account_wide_views_keep_to_a_keys_campaigns_and_personal_data() {
    let w = world().await;
    let mine = w.registration(0).await;
    let theirs = w.registration(1).await;
    let c0 = &w.campaigns[0];
    let admin = w.key(Role::Admin, &[], true).await;
    let restricted = w.key(Role::Admin, &[c0], true).await;
    let masked = w.key(Role::Viewer, &[], false).await;
    let find = "/v1/registrations?email=LENA%40example.com";

    let (s1, all) = w.call(&admin, "GET", find).await;
    let (s2, some) = w.call(&restricted, "GET", find).await;
    let (s3, refused) = w.call(&masked, "GET", find).await;
    let (s4, _) = w.call(&restricted, "GET", "/v1/deliveries").await;
    let (s5, own) = w
        .call(
            &restricted,
            "GET",
            &format!("/v1/deliveries?campaign_id={c0}"),
        )
        .await;
    let (s6, _) = w.call(&admin, "GET", "/v1/deliveries").await;

    let ids = |v: &Value| -> Vec<String> {
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let mut ids: Vec<String> = items
            .iter()
            .map(|i| i["registration_id"].as_str().unwrap_or("?").to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![mine.to_string(), theirs.to_string()];
    both.sort();
    assert_eq!((s1, ids(&all)), (200, both));
    assert_eq!((s2, ids(&some)), (200, vec![mine.to_string()]));
    assert_eq!((s3, refused["code"].as_str()), (403, Some("personal_data")));
    assert_eq!(
        s4, 403,
        "a restricted key lists deliveries one campaign at a time"
    );
    assert_eq!((s5, ids(&own)), (200, vec![mine.to_string()]));
    assert_eq!(s6, 200);
}
