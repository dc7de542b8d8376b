//! The JSON the admin API answers with: keys (never the key itself, except once when
//! made), campaigns, integrations (credentials masked) with their breaker.

use leadrelay::clock;
use leadrelay::deliver::breaker::{Breaker, BreakerState};
use leadrelay::keys::Secret;
use leadrelay::model::{ApiKey, Campaign, Integration};
use serde_json::{json, Value};
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
    json!({
        "id": k.id,
        "kind": k.kind,
        "campaign_id": k.campaign_id,
        "hint": format!("…{}", k.hint),
        "created_at": clock::rfc3339(k.created_at),
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
