//! The admin routes of roles and audit: accounts made by the platform key, keys made
//! with a role and campaigns, the audit log and the entries the other routes leave in
//! it, and what a campaign-restricted key may see of the account's integrations and
//! keys.

use crate::{view, Deps};
use apikit::error::ApiError;
use apikit::json;
use apikit::problem::Problem;
use lambda_http::{Body, Request, Response};
use leadrelay::audit::{self, Action, AuditQuery};
use leadrelay::ids::{IntegrationId, KeyId};
use leadrelay::intake::FieldError;
use leadrelay::manage::roles::{self as manage_roles, KeyInput};
use leadrelay::model::{ApiKey, KeyKind};
use leadrelay::store::Store;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// A route's answer: its response, or why not.
type Answer = Result<Response<Body>, ApiError>;

/// Default page size of the audit log, and the largest allowed.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// Records what `key` did in its account; a failure to record is logged, and the change,
/// already made, stands.
pub(crate) async fn record<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    action: Action,
    target: String,
    changed: Vec<String>,
) {
    let entry = audit::entry(key, action, target, changed, deps.audit_retention_days);
    if let Err(e) = audit::record(&deps.store, &entry).await {
        tracing::error!(error = %e, action = action.as_str(), key_id = %key.id, "audit entry not recorded");
    }
}

/// The body of `POST /v1/accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountInput {
    name: String,
}

/// `POST /v1/accounts` (the platform key): an account and its first admin key, shown once.
pub(crate) async fn create_account<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: AccountInput,
) -> Answer {
    let (account, admin, secret) = manage_roles::create_account(&deps.store, &input.name).await?;
    tracing::info!(account_id = %account.id, key_id = %key.id, "account created by the platform key");
    let mut entry = audit::entry(
        key,
        Action::AccountCreated,
        format!("account:{}", account.id),
        vec![format!("key:{}", admin.id)],
        deps.audit_retention_days,
    );
    entry.account_id = account.id.clone();
    if let Err(e) = audit::record(&deps.store, &entry).await {
        tracing::error!(error = %e, "audit entry not recorded");
    }
    Ok(json(
        201,
        &json!({
            "account": {
                "id": account.id,
                "name": account.name,
                "created_at": leadrelay::clock::rfc3339(account.created_at),
            },
            "key": view::new_key(&admin, &secret),
        }),
    ))
}

/// `POST /v1/keys`: an account key with a role and campaigns (an empty body: an
/// unrestricted admin key), never with more rights than the caller's.
pub(crate) async fn create_key<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    request: &Request,
) -> Answer {
    let input: KeyInput = if request.body().as_ref().is_empty() {
        KeyInput::default()
    } else {
        apikit::json_body(request)?
    };
    let (k, secret) = manage_roles::create_key(&deps.store, key, input).await?;
    let mut changed = vec!["role".to_owned()];
    if k.access.is_restricted() {
        changed.push("campaigns".into());
    }
    if k.access.personal_data {
        changed.push("personal_data".into());
    }
    record(
        deps,
        key,
        Action::KeyCreated,
        format!("key:{}", k.id),
        changed,
    )
    .await;
    Ok(json(201, &view::new_key(&k, &secret)))
}

/// Does `key` see `k` in lists (and may revoke it)? A restricted key sees the account
/// keys it covers and the ingest keys of its campaigns.
pub(crate) fn sees_key(key: &ApiKey, k: &ApiKey) -> bool {
    match k.kind {
        KeyKind::Ingest => k.campaign_id.as_ref().is_none_or(|c| key.access.sees(c)),
        _ => key.access.covers(&k.access),
    }
}

/// May `key` see `id`? An unrestricted key sees every integration of its account; a
/// restricted key those attached to its campaigns.
pub(crate) async fn sees_integration<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &IntegrationId,
) -> Result<bool, ApiError> {
    if !key.access.is_restricted() {
        return Ok(true);
    }
    Ok(deps
        .store
        .list_campaigns(&key.account_id)
        .await?
        .iter()
        .filter(|c| key.access.sees(&c.id))
        .any(|c| c.integrations.iter().any(|a| &a.id == id)))
}

/// `GET /v1/audit`: the account's entries, newest first, filtered by `action`, `target`,
/// `key_id`, `from` and `to`, `limit` per page, `cursor` for the next.
pub(crate) async fn audit_log<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    params: &BTreeMap<String, String>,
) -> Answer {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            code: "invalid_parameter".into(),
            message,
        });
    };
    let mut time = |name: &str| -> Option<u64> {
        let text = params.get(name)?;
        let parsed = leadrelay::clock::parse_rfc3339(text);
        if parsed.is_none() {
            bad(
                name,
                format!("'{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z"),
            );
        }
        parsed
    };
    let from_ms = time("from").unwrap_or(0);
    let to_ms = time("to").unwrap_or(u64::MAX);
    let action = params.get("action").and_then(|a| {
        let parsed = Action::parse(a);
        if parsed.is_none() {
            bad("action", format!("unknown action '{a}'"));
        }
        parsed
    });
    let key_id = params.get("key_id").and_then(|k| {
        let parsed = k.parse::<KeyId>().ok();
        if parsed.is_none() {
            bad("key_id", "not a key id".into());
        }
        parsed
    });
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            bad("limit", format!("limit is a number from 1 to {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    };
    let after = params.get("cursor").and_then(|c| {
        if audit::is_entry_id(c) {
            Some(c.clone())
        } else {
            bad("cursor", "not a cursor of this list".into());
            None
        }
    });
    if from_ms >= to_ms {
        bad("from", "'from' must be before 'to'".into());
    }
    if !errors.is_empty() {
        return Err(ApiError::problem(Problem {
            status: 400,
            ..Problem::invalid(errors)
        }));
    }
    let query = AuditQuery {
        account_id: key.account_id.clone(),
        from_ms,
        to_ms,
        action,
        target: params.get("target").cloned(),
        key_id,
        limit,
        after,
    };
    let page = audit::read(&deps.store, &query).await?;
    let items: Vec<_> = page.items.iter().map(view::audit_entry).collect();
    let next = page.next.and_then(|mut p| p.remove("after"));
    Ok(json(200, &json!({"items": items, "next_cursor": next})))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::router::handle;
    use leadrelay::egress::EgressPolicy;
    use leadrelay::exchange::{Exchange, OutgoingRequest, Transport};
    use leadrelay::manage::keys::bootstrap;
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::vault::InsecureTestVault;
    use leadrelay_explain::answer::ProviderResponse;
    use serde_json::Value;

    /// Answers every request 200.
    struct Accepting;

    impl Transport for Accepting {
        async fn send(&self, _: &OutgoingRequest) -> Exchange {
            Exchange {
                response: ProviderResponse::new(200, "{}"),
                summary: None,
                duration_ms: 1,
                blocked: None,
            }
        }
    }

    struct World {
        deps: Deps<MemoryStore, MemoryQueue, InsecureTestVault, Accepting>,
        admin: String,
        campaign: String,
        integration: String,
    }

    async fn call(w: &World, key: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(if body.is_null() {
                Body::Empty
            } else {
                Body::Text(body.to_string())
            })
            .unwrap();
        let r = handle(&w.deps, request).await.unwrap();
        let body = serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null);
        (r.status().as_u16(), body)
    }

    /// An account with an admin key, an integration and a campaign delivering to it.
    async fn world() -> World {
        let store = MemoryStore::new();
        let (_, _, admin) = bootstrap(&store, "Acme").await.unwrap();
        let mut w = World {
            deps: Deps {
                store,
                queue: MemoryQueue::new(),
                vault: InsecureTestVault,
                transport: Accepting,
                egress: EgressPolicy::default(),
                audit_retention_days: 30,
            },
            admin: admin.expose().to_owned(),
            campaign: String::new(),
            integration: String::new(),
        };
        let hook = json!({"name": "Hook", "provider": "webhook", "settings": {"url": "https://hooks.example.com/in"}});
        let (_, i) = call(&w, &w.admin, "POST", "/v1/integrations", hook).await;
        w.integration = i["id"].as_str().unwrap().to_owned();
        let campaign = json!({"name": "Quiz", "integration_ids": [w.integration]});
        let (_, c) = call(&w, &w.admin, "POST", "/v1/campaigns", campaign).await;
        w.campaign = c["id"].as_str().unwrap().to_owned();
        w
    }

    async fn key_of(w: &World, body: Value) -> String {
        let (status, made) = call(w, &w.admin, "POST", "/v1/keys", body).await;
        assert_eq!(status, 201, "{made}");
        made["key"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn every_admin_route_lets_in_the_roles_it_may_and_refuses_the_others_naming_the_role() {
        let w = world().await;
        let operator = key_of(&w, json!({"role": "operator"})).await;
        let viewer = key_of(&w, json!({"role": "viewer"})).await;
        let restricted = key_of(&w, json!({"campaigns": [w.campaign]})).await;
        let platform = leadrelay::manage::roles::platform_key(&w.deps.store)
            .await
            .unwrap()
            .1
            .expose()
            .to_owned();
        let (c, i) = (&w.campaign, &w.integration);
        let key = "key_0123456789abcdefghjkmnpqrs";
        // (method, path, body, what each key gets: admin, restricted admin, operator,
        // viewer, platform; "" lets it in, a role names the one the 403 asks for)
        let table: Vec<(&str, String, Value, [&str; 5])> = vec![
            (
                "GET",
                "/v1/account".into(),
                Value::Null,
                ["", "", "", "", "viewer"],
            ),
            (
                "GET",
                "/v1/keys".into(),
                Value::Null,
                ["", "", "admin", "admin", "admin"],
            ),
            (
                "POST",
                "/v1/keys".into(),
                json!({"role": "viewer", "campaigns": [c]}),
                ["", "", "admin", "admin", "admin"],
            ),
            (
                "DELETE",
                format!("/v1/keys/{key}"),
                Value::Null,
                ["", "", "admin", "admin", "admin"],
            ),
            (
                "GET",
                "/v1/campaigns".into(),
                Value::Null,
                ["", "", "", "", "viewer"],
            ),
            (
                "POST",
                "/v1/campaigns".into(),
                json!({"name": "New"}),
                ["", "admin", "admin", "admin", "admin"],
            ),
            (
                "GET",
                format!("/v1/campaigns/{c}"),
                Value::Null,
                ["", "", "", "", "viewer"],
            ),
            (
                "PATCH",
                format!("/v1/campaigns/{c}"),
                json!({"retention_days": 40}),
                ["", "", "admin", "admin", "admin"],
            ),
            (
                "POST",
                format!("/v1/campaigns/{c}/ingest-keys"),
                Value::Null,
                ["", "", "admin", "admin", "admin"],
            ),
            (
                "GET",
                "/v1/integrations".into(),
                Value::Null,
                ["", "", "", "", "viewer"],
            ),
            (
                "POST",
                "/v1/integrations".into(),
                json!({"name": "H2", "provider": "webhook", "settings": {"url": "https://hooks.example.com/2"}}),
                ["", "admin", "admin", "admin", "admin"],
            ),
            (
                "GET",
                format!("/v1/integrations/{i}"),
                Value::Null,
                ["", "", "", "", "viewer"],
            ),
            (
                "PATCH",
                format!("/v1/integrations/{i}"),
                json!({"name": "Renamed"}),
                ["", "admin", "admin", "admin", "admin"],
            ),
            (
                "POST",
                format!("/v1/integrations/{i}/test"),
                json!({"email": "a@example.com"}),
                ["", "", "", "operator", "operator"],
            ),
            (
                "POST",
                "/v1/erasures".into(),
                json!({"email": "nobody@example.com"}),
                ["", "admin", "admin", "admin", "admin"],
            ),
            (
                "GET",
                "/v1/audit".into(),
                Value::Null,
                ["", "admin", "admin", "admin", "admin"],
            ),
            (
                "POST",
                "/v1/accounts".into(),
                json!({"name": "Globex"}),
                ["platform", "platform", "platform", "platform", ""],
            ),
        ];
        let keys = [&w.admin, &restricted, &operator, &viewer, &platform];
        for (method, path, body, expected) in table {
            for (caller, want) in keys.iter().zip(expected) {
                let (status, answer) = call(&w, caller, method, &path, body.clone()).await;
                if want.is_empty() {
                    assert!(
                        ![401, 403, 405].contains(&status)
                            && answer["detail"] != "this route does not exist",
                        "{method} {path} with {}: {status} {answer}",
                        &caller[..6]
                    );
                } else {
                    assert_eq!(status, 403, "{method} {path}: {answer}");
                    assert_eq!(answer["code"], "forbidden");
                    assert_eq!(answer["required_role"], want, "{method} {path}: {answer}");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_restricted_key_sees_only_its_campaigns_and_their_integrations() {
        let w = world().await;
        let (_, other) = call(
            &w,
            &w.admin,
            "POST",
            "/v1/campaigns",
            json!({"name": "Other"}),
        )
        .await;
        let other = other["id"].as_str().unwrap();
        let (_, lone) = call(&w, &w.admin, "POST", "/v1/integrations", json!({"name": "Lone", "provider": "webhook", "settings": {"url": "https://hooks.example.com/l"}})).await;
        let lone = lone["id"].as_str().unwrap();
        let restricted = key_of(&w, json!({"role": "operator", "campaigns": [w.campaign]})).await;

        let (s1, list) = call(&w, &restricted, "GET", "/v1/campaigns", Value::Null).await;
        let (s2, _) = call(
            &w,
            &restricted,
            "GET",
            &format!("/v1/campaigns/{other}"),
            Value::Null,
        )
        .await;
        let (s3, integrations) =
            call(&w, &restricted, "GET", "/v1/integrations", Value::Null).await;
        let (s4, _) = call(
            &w,
            &restricted,
            "GET",
            &format!("/v1/integrations/{lone}"),
            Value::Null,
        )
        .await;
        let (s5, _) = call(
            &w,
            &restricted,
            "GET",
            &format!("/v1/integrations/{}", w.integration),
            Value::Null,
        )
        .await;

        assert_eq!((s1, list["items"].as_array().unwrap().len()), (200, 1));
        assert_eq!(list["items"][0]["id"], w.campaign.as_str());
        assert_eq!(s2, 404, "another campaign reads as absent");
        assert_eq!(
            (s3, integrations["items"].as_array().unwrap().len()),
            (200, 1)
        );
        assert_eq!((s4, s5), (404, 200));
    }

    #[tokio::test]
    async fn keys_are_made_with_roles_never_above_their_maker_and_every_change_is_audited() {
        let w = world().await;
        let restricted_admin = key_of(&w, json!({"campaigns": [w.campaign]})).await;

        let (s1, wider) = call(
            &w,
            &restricted_admin,
            "POST",
            "/v1/keys",
            json!({"role": "viewer"}),
        )
        .await;
        let (s2, narrow) = call(
            &w,
            &restricted_admin,
            "POST",
            "/v1/keys",
            json!({"role": "viewer", "campaigns": [w.campaign], "personal_data": true}),
        )
        .await;
        let (s3, bad) = call(&w, &w.admin, "POST", "/v1/keys", json!({"role": "owner"})).await;
        let (s4, listed) = call(&w, &restricted_admin, "GET", "/v1/keys", Value::Null).await;
        let patch = json!({"settings": {"url": "https://hooks.example.com/new"}, "credentials": {"token": "s3cr3t-value"}});
        let (s5, _) = call(
            &w,
            &w.admin,
            "PATCH",
            &format!("/v1/integrations/{}", w.integration),
            patch,
        )
        .await;
        let (s6, log) = call(&w, &w.admin, "GET", "/v1/audit", Value::Null).await;
        let (s7, rotated) = call(
            &w,
            &w.admin,
            "GET",
            "/v1/audit?action=credentials.rotated",
            Value::Null,
        )
        .await;
        let (s8, page) = call(&w, &w.admin, "GET", "/v1/audit?limit=2", Value::Null).await;
        let cursor = page["next_cursor"].as_str().unwrap();
        let (s9, rest) = call(
            &w,
            &w.admin,
            "GET",
            &format!("/v1/audit?limit=50&cursor={cursor}"),
            Value::Null,
        )
        .await;
        let (s10, invalid) = call(
            &w,
            &w.admin,
            "GET",
            "/v1/audit?action=nope&cursor=x",
            Value::Null,
        )
        .await;

        assert_eq!(
            (s1, wider["code"].as_str()),
            (403, Some("exceeds_own_rights"))
        );
        assert_eq!((s2, narrow["role"].as_str()), (201, Some("viewer")));
        assert_eq!(narrow["campaigns"][0], w.campaign.as_str());
        assert_eq!(narrow["personal_data"], true);
        assert_eq!(s3, 400, "{bad}");
        assert_eq!(s4, 200);
        let listed = listed["items"].as_array().unwrap();
        assert_eq!(
            listed.len(),
            3,
            "itself, the viewer, the campaign's ingest key: {listed:?}"
        );
        assert!(
            !listed
                .iter()
                .any(|k| k["role"] == "admin" && k["campaigns"] == json!([])),
            "the unrestricted admin is not shown to a restricted one: {listed:?}"
        );
        assert_eq!(s5, 200);
        assert_eq!(s6, 200);
        let items = log["items"].as_array().unwrap();
        // Entries of one millisecond may come in either order: compare them sorted.
        let mut actions: Vec<&str> = items
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        actions.sort_unstable();
        assert_eq!(
            actions,
            [
                "campaign.created",
                "credentials.rotated",
                "integration.changed",
                "integration.created",
                "key.created",
                "key.created",
            ]
        );
        let ids: Vec<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert!(ids.windows(2).all(|p| p[0] > p[1]), "newest first: {ids:?}");
        assert!(
            !log.to_string().contains("s3cr3t-value"),
            "no secret in the log"
        );
        let changed = items
            .iter()
            .find(|e| e["action"] == "integration.changed")
            .unwrap();
        assert_eq!(changed["changed"], json!(["settings.url"]));
        assert!(items
            .iter()
            .all(|e| e["key_id"].as_str().unwrap().starts_with("key_")));
        assert_eq!((s7, rotated["items"].as_array().unwrap().len()), (200, 1));
        assert_eq!(rotated["items"][0]["changed"], json!(["credentials.token"]));
        assert_eq!(
            rotated["items"][0]["target"],
            format!("integration:{}", w.integration)
        );
        assert_eq!((s8, page["items"].as_array().unwrap().len()), (200, 2));
        assert_eq!((s9, rest["items"].as_array().unwrap().len()), (200, 4));
        assert!(rest["next_cursor"].is_null());
        assert_eq!(s10, 400);
        let fields: Vec<&str> = invalid["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["action", "cursor"]);
    }

    #[tokio::test]
    async fn the_platform_key_makes_an_account_whose_admin_key_works_and_reads_nothing_else() {
        let w = world().await;
        let (platform_key, platform) = leadrelay::manage::roles::platform_key(&w.deps.store)
            .await
            .unwrap();

        let (s1, made) = call(
            &w,
            platform.expose(),
            "POST",
            "/v1/accounts",
            json!({"name": "Globex"}),
        )
        .await;
        let admin = made["key"]["key"].as_str().unwrap();
        let (s2, account) = call(&w, admin, "GET", "/v1/account", Value::Null).await;
        let (s3, audit) = call(&w, admin, "GET", "/v1/audit", Value::Null).await;
        let (s4, _) = call(
            &w,
            platform.expose(),
            "POST",
            "/v1/accounts",
            json!({"name": ""}),
        )
        .await;
        let (s5, campaigns) =
            call(&w, platform.expose(), "GET", "/v1/campaigns", Value::Null).await;

        assert_eq!(s1, 201, "{made}");
        assert_eq!(made["key"]["role"], "admin");
        assert_eq!((s2, account["name"].as_str()), (200, Some("Globex")));
        assert_eq!(account["id"], made["account"]["id"]);
        assert_eq!(s3, 200);
        assert_eq!(audit["items"][0]["action"], "account.created");
        assert_eq!(audit["items"][0]["key_id"], platform_key.id.as_str());
        assert_eq!(s4, 422);
        assert_eq!(
            (s5, campaigns["required_role"].as_str()),
            (403, Some("viewer"))
        );
    }
}
