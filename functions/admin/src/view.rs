//! The JSON the admin API answers with: keys (never the key itself, except once when
//! made), campaigns, integrations (credentials masked) with their breaker.

use leadrelay::audit::AuditEntry;
use leadrelay::clock;
use leadrelay::deliver::breaker::{Breaker, BreakerState};
use leadrelay::keys::Secret;
use leadrelay::model::{
    ApiKey, Campaign, Integration, IntegrationStatus, KeyKind, SealedCredentials,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// An integration's concurrency limit and circuit breaker as the management view shows
/// them: `state` (`closed`, `held`, `probing`), since and until when, and why.
pub fn breaker(i: &Integration, breaker: Option<&Breaker>) -> Value {
    let closed = Breaker::new(i.id.clone());
    let b = breaker.unwrap_or(&closed);
    let held = b.state != BreakerState::Closed;
    json!({
        "state": b.state.as_str(),
        "since": b.held_since.filter(|_| held).map(clock::rfc3339),
        "until": b.held_until.filter(|_| held).map(clock::rfc3339),
        "reason": b.reason.as_ref().filter(|_| held),
        "consecutive_failures": b.consecutive_failures,
        "max_concurrency": leadrelay::deliver::limit::max_concurrency(i),
    })
}

/// An integration as the API shows it: credentials masked, status explained.
pub fn integration(i: &Integration) -> Value {
    let credentials: Map<String, Value> = i
        .credentials
        .as_ref()
        .map(SealedCredentials::names)
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n, Value::from("********")))
        .collect();
    let status = match &i.status {
        IntegrationStatus::Active => json!({"state": "active"}),
        IntegrationStatus::Paused {
            since,
            outcome,
            explanation,
            remedy,
        } => json!({
            "state": "paused",
            "since": clock::rfc3339(*since),
            "outcome": outcome,
            "explanation": explanation,
            "remedy": remedy,
        }),
    };
    json!({
        "id": i.id,
        "name": i.name,
        "provider": i.provider,
        "settings": i.settings,
        "credentials": credentials,
        "status": status,
        "version": i.version,
        "cooldown_until": i
            .cooldown_until
            .filter(|t| *t > clock::now_ms())
            .map(clock::rfc3339),
        "created_at": clock::rfc3339(i.created_at),
        "updated_at": clock::rfc3339(i.updated_at),
    })
}

/// A campaign as the API shows it.
pub fn campaign(c: &Campaign) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "integration_ids": c.integrations.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        "retention_days": c.retention_days,
        "created_at": clock::rfc3339(c.created_at),
    })
}

/// A key as lists show it (never the key itself).
pub fn key(k: &ApiKey) -> Value {
    let mut view = json!({
        "id": k.id,
        "kind": k.kind,
        "campaign_id": k.campaign_id,
        "hint": format!("…{}", k.hint),
        "created_at": clock::rfc3339(k.created_at),
    });
    if k.kind == KeyKind::Account {
        view["role"] = json!(k.access.role);
        view["campaigns"] = json!(k.access.campaigns);
        view["personal_data"] = Value::from(k.access.sees_personal_data());
    }
    view
}

/// An audit entry as `GET /v1/audit` shows it.
pub fn audit_entry(e: &AuditEntry) -> Value {
    json!({
        "id": e.id,
        "at": clock::rfc3339(e.at),
        "key_id": e.key_id,
        "action": e.action,
        "target": e.target,
        "changed": e.changed,
    })
}

/// A key just made: the list view and, this once, the key itself.
pub fn new_key(k: &ApiKey, secret: &Secret) -> Value {
    let mut view = key(k);
    view["key"] = Value::from(secret.expose());
    view
}

/// Credentials generated for the caller (a signing secret), shown this once.
pub fn shown_once(secrets: &BTreeMap<String, Secret>) -> Value {
    secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.expose())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrelay::destination::signature::PREVIOUS_PREFIX;
    use leadrelay::egress::EgressPolicy;
    use leadrelay::ids::AccountId;
    use leadrelay::manage::integrations::{
        create_integration, update_integration, IntegrationInput, Updated,
    };
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::vault::InsecureTestVault;
    use leadrelay_explain::provider::Provider;

    /// Every credential name shown masked, nothing else under `credentials`, no secret
    /// anywhere, and the settings shown as stored (so sent back they keep every secret).
    fn assert_masked(i: &Integration, secrets: &[String]) {
        let view = integration(i);
        let names = i.credentials.as_ref().unwrap().names();
        let shown = view["credentials"].as_object().unwrap();
        assert_eq!(shown.len(), names.len(), "{view}");
        for name in &names {
            assert_eq!(shown[name.as_str()], "********", "{name}");
        }
        assert_eq!(view["settings"], Value::Object(i.settings.clone()));
        let text = view.to_string();
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "{secret} shown");
        }
    }

    #[tokio::test]
    async fn an_integration_view_masks_every_credential_through_two_rotations() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let vault = InsecureTestVault;
        let account = AccountId::generate();
        let input = IntegrationInput {
            name: Some("Slack".into()),
            provider: Some(Provider::Webhook),
            settings: json!({
                "url": "https://hooks.slack.com/services/T000/B000/pathcanary",
                "secret_url_parts": {"path_segments": [3]},
                "headers": {"X-Api-Key": {"value": "headercanary", "secret": true}},
            })
            .as_object()
            .cloned(),
            credentials: BTreeMap::from([(
                "signing_secret".to_owned(),
                Some("generate".to_owned()),
            )]),
            version: None,
        };
        let (created, generated) =
            create_integration(&store, &vault, EgressPolicy::default(), &account, input)
                .await
                .unwrap();
        let mut secrets = vec![
            "pathcanary".to_owned(),
            "headercanary".to_owned(),
            generated["signing_secret"].expose().to_owned(),
        ];
        assert_masked(&created, &secrets);
        assert!(integration(&created)["credentials"]
            .as_object()
            .unwrap()
            .contains_key("url_path:3"));

        let mut rotated = created;
        for _ in 0..2 {
            let patch = IntegrationInput {
                credentials: BTreeMap::from([(
                    "signing_secret".to_owned(),
                    Some("generate".to_owned()),
                )]),
                ..IntegrationInput::default()
            };
            let Updated {
                integration,
                generated,
                ..
            } = update_integration(
                &store,
                &queue,
                &vault,
                EgressPolicy::default(),
                &account,
                &rotated.id,
                patch,
            )
            .await
            .unwrap();
            secrets.push(generated["signing_secret"].expose().to_owned());
            rotated = integration;
            assert_masked(&rotated, &secrets);
        }
        let previous = rotated.credentials.as_ref().unwrap().names();
        assert_eq!(
            previous
                .iter()
                .filter(|n| n.starts_with(PREVIOUS_PREFIX))
                .count(),
            2,
            "{previous:?}"
        );
    }
}
