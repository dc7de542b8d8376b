//! The admin router: path and method to handler. Each handler calls one use case of
//! [`leadrelay::manage`] (or one store read) and answers with a view; every failure is
//! an [`ApiError`].

use crate::roles::{self, record, sees_integration, sees_key};
use crate::{view, Deps};
use apikit::error::ApiError;
use apikit::{found, json, json_body};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use leadrelay::access::{Need, Role};
use leadrelay::audit::Action;
use leadrelay::exchange::Transport;
use leadrelay::ids::{CampaignId, IntegrationId, KeyId};
use leadrelay::intake::{self, Encoding, IntakeError};
use leadrelay::manage::{
    self, campaigns::CampaignInput, erasure::ErasureInput, integrations::IntegrationInput,
};
use leadrelay::model::{ApiKey, KeyKind};
use leadrelay::queue::TaskQueue;
use leadrelay::store::Store;
use leadrelay::vault::Vault;
use serde_json::{json, Value};

enum Route<'a> {
    Accounts,
    Audit,
    Account,
    Keys,
    Key(&'a str),
    Campaigns,
    Campaign(&'a str),
    IngestKeys(&'a str),
    Integrations,
    Integration(&'a str),
    TestIntegration(&'a str),
    CopyIntegration(&'a str),
    Erasures,
}

/// A route's answer: its response, or why not.
type Answer = Result<Response<Body>, ApiError>;

const CAMPAIGN: &str = "this campaign";
const INTEGRATION: &str = "this integration";
const KEY: &str = "this key";

/// Serves one request. Expected failures are responses, never `Err`.
pub async fn handle<S: Store, Q: TaskQueue, V: Vault, T: Transport>(
    deps: &Deps<S, Q, V, T>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(apikit::respond(route(deps, &request).await))
}

async fn route<S: Store, Q: TaskQueue, V: Vault, T: Transport>(
    deps: &Deps<S, Q, V, T>,
    request: &Request,
) -> Answer {
    let segments = apikit::segments(request);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match parts.as_slice() {
        ["v1", "accounts"] => Route::Accounts,
        ["v1", "audit"] => Route::Audit,
        ["v1", "account"] => Route::Account,
        ["v1", "keys"] => Route::Keys,
        ["v1", "keys", id] => Route::Key(id),
        ["v1", "campaigns"] => Route::Campaigns,
        ["v1", "campaigns", id] => Route::Campaign(id),
        ["v1", "campaigns", id, "ingest-keys"] => Route::IngestKeys(id),
        ["v1", "integrations"] => Route::Integrations,
        ["v1", "integrations", id] => Route::Integration(id),
        ["v1", "integrations", id, "test"] => Route::TestIntegration(id),
        ["v1", "integrations", id, "copy"] => Route::CopyIntegration(id),
        ["v1", "erasures"] => Route::Erasures,
        _ => return Err(ApiError::not_found("this route")),
    };
    let key = apikit::caller(&deps.store, request).await?;
    let method = request.method().clone();
    apikit::authorize(&key, need(&route, &method))?;
    match (route, method) {
        (Route::Accounts, Method::POST) => {
            roles::create_account(deps, &key, json_body(request)?).await
        }
        (Route::Audit, Method::GET) => roles::audit_log(deps, &key, &apikit::query(request)).await,
        (Route::Account, Method::GET) => account(deps, &key).await,
        (Route::Keys, Method::GET) => list_keys(deps, &key).await,
        (Route::Keys, Method::POST) => roles::create_key(deps, &key, request).await,
        (Route::Key(id), Method::DELETE) => revoke_key(deps, &key, id).await,
        (Route::Campaigns, Method::GET) => list_campaigns(deps, &key).await,
        (Route::Campaigns, Method::POST) => create_campaign(deps, &key, json_body(request)?).await,
        (Route::Campaign(id), Method::GET) => get_campaign(deps, &key, id).await,
        (Route::Campaign(id), Method::PATCH) => {
            update_campaign(deps, &key, id, json_body(request)?).await
        }
        (Route::IngestKeys(id), Method::POST) => new_ingest_key(deps, &key, id).await,
        (Route::Integrations, Method::GET) => list_integrations(deps, &key).await,
        (Route::Integrations, Method::POST) => {
            create_integration(deps, &key, json_body(request)?).await
        }
        (Route::Integration(id), Method::GET) => get_integration(deps, &key, id).await,
        (Route::Integration(id), Method::PATCH) => {
            update_integration(deps, &key, id, json_body(request)?).await
        }
        (Route::Integration(id), Method::DELETE) => {
            crate::lifecycle::delete(deps, &key, id, &apikit::query(request)).await
        }
        (Route::CopyIntegration(id), Method::POST) => crate::lifecycle::copy(deps, &key, id).await,
        (Route::TestIntegration(id), Method::POST) => {
            test_integration(deps, &key, id, request).await
        }
        (Route::Erasures, Method::POST) => erase(deps, &key, json_body(request)?).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// What each route needs of its caller's key (see [`leadrelay::access`]). A route not
/// listed needs an unrestricted admin key.
fn need(route: &Route<'_>, method: &Method) -> Need {
    let read = *method == Method::GET;
    match route {
        Route::Accounts => Need::Platform,
        Route::Account
        | Route::Campaign(_)
        | Route::Campaigns
        | Route::Integration(_)
        | Route::Integrations
            if read =>
        {
            Need::READ
        }
        Route::TestIntegration(_) => Need::Role(Role::Operator),
        Route::Keys | Route::Key(_) | Route::Campaign(_) | Route::IngestKeys(_) => {
            Need::Role(Role::Admin)
        }
        _ => Need::Unrestricted(Role::Admin),
    }
}

async fn erase<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: ErasureInput,
) -> Answer {
    let report = manage::erasure::erase(&deps.store, &key.account_id, input).await?;
    let erased = report.registrations.iter().map(ToString::to_string);
    record(
        deps,
        key,
        Action::Erasure,
        "registrations".into(),
        erased.collect(),
    )
    .await;
    Ok(json(200, &json!({"erased": report})))
}

async fn account<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Answer {
    let a = found(deps.store.account(&key.account_id).await, "this account")?;
    Ok(json(
        200,
        &json!({"id": a.id, "name": a.name, "created_at": leadrelay::clock::rfc3339(a.created_at)}),
    ))
}

async fn list_keys<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Answer {
    let keys = deps.store.list_keys(&key.account_id).await?;
    let keys = keys.iter().filter(|k| sees_key(key, k));
    Ok(json(
        200,
        &json!({"items": keys.map(view::key).collect::<Vec<_>>()}),
    ))
}

async fn revoke_key<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey, id: &str) -> Answer {
    let id: KeyId = apikit::id(id, KEY)?;
    if id == key.id {
        return Err(ApiError::conflict(
            "own_key",
            "Conflict",
            "a key cannot revoke itself; use another account key",
        ));
    }
    if key.access.is_restricted() {
        let keys = deps.store.list_keys(&key.account_id).await?;
        if !keys.iter().any(|k| k.id == id && sees_key(key, k)) {
            return Err(ApiError::not_found(KEY));
        }
    }
    if deps.store.delete_key(&key.account_id, &id).await? {
        record(deps, key, Action::KeyRevoked, format!("key:{id}"), vec![]).await;
        Ok(json(200, &json!({"revoked": id})))
    } else {
        Err(ApiError::not_found(KEY))
    }
}

async fn list_campaigns<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Answer {
    let items = deps.store.list_campaigns(&key.account_id).await?;
    let items = items.iter().filter(|c| key.access.sees(&c.id));
    Ok(json(
        200,
        &json!({"items": items.map(view::campaign).collect::<Vec<_>>()}),
    ))
}

async fn create_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: CampaignInput,
) -> Answer {
    let changed = campaign_fields(&input);
    let (c, k, secret) =
        manage::campaigns::create_campaign(&deps.store, &key.account_id, input).await?;
    tracing::info!(campaign_id = %c.id, "campaign created");
    let target = format!("campaign:{}", c.id);
    record(deps, key, Action::CampaignCreated, target, changed).await;
    let mut view = view::campaign(&c);
    view["ingest_key"] = json!({"id": k.id, "key": secret.expose()});
    view["ingest_url"] = Value::from(format!("/v1/campaigns/{}/registrations", c.id));
    Ok(json(201, &view))
}

async fn get_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Answer {
    let id: CampaignId = apikit::id(id, CAMPAIGN)?;
    apikit::visible(key, &id, CAMPAIGN)?;
    let c = found(deps.store.campaign(&key.account_id, &id).await, CAMPAIGN)?;
    Ok(json(200, &view::campaign(&c)))
}

async fn update_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    input: CampaignInput,
) -> Answer {
    let id: CampaignId = apikit::id(id, CAMPAIGN)?;
    apikit::visible(key, &id, CAMPAIGN)?;
    let changed = campaign_fields(&input);
    let c = manage::campaigns::update_campaign(&deps.store, &key.account_id, &id, input).await?;
    let target = format!("campaign:{id}");
    record(deps, key, Action::CampaignChanged, target, changed).await;
    Ok(json(200, &view::campaign(&c)))
}

async fn new_ingest_key<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Answer {
    let id: CampaignId = apikit::id(id, CAMPAIGN)?;
    apikit::visible(key, &id, CAMPAIGN)?;
    found(deps.store.campaign(&key.account_id, &id).await, CAMPAIGN)?;
    let (k, secret) =
        manage::keys::issue_key(&deps.store, &key.account_id, KeyKind::Ingest, Some(&id)).await?;
    let changed = vec![format!("key:{}", k.id)];
    record(
        deps,
        key,
        Action::IngestKeyCreated,
        format!("campaign:{id}"),
        changed,
    )
    .await;
    Ok(json(201, &view::new_key(&k, &secret)))
}

async fn list_integrations<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Answer {
    let mut items = deps.store.list_integrations(&key.account_id).await?;
    if key.access.is_restricted() {
        let mut seen = Vec::new();
        for i in items {
            if sees_integration(deps, key, &i.id).await? {
                seen.push(i);
            }
        }
        items = seen;
    }
    let mut views: Vec<Value> = items.iter().map(view::integration).collect();
    crate::lifecycle::decorate(deps, key, &items, &mut views).await?;
    Ok(json(200, &json!({ "items": views })))
}

async fn create_integration<S: Store, Q, V: Vault, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: IntegrationInput,
) -> Answer {
    let (mut changed, credentials) = integration_fields(&input);
    changed.extend(credentials);
    let (i, generated) = manage::integrations::create_integration(
        &deps.store,
        &deps.vault,
        deps.egress,
        &key.account_id,
        input,
    )
    .await?;
    tracing::info!(integration_id = %i.id, provider = %i.provider, "integration created");
    let target = format!("integration:{}", i.id);
    record(deps, key, Action::IntegrationCreated, target, changed).await;
    let mut view = view::integration(&i);
    if !generated.is_empty() {
        view["generated_credentials"] = view::shown_once(&generated);
    }
    Ok(json(201, &view))
}

async fn get_integration<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Answer {
    let id: IntegrationId = apikit::id(id, INTEGRATION)?;
    if !sees_integration(deps, key, &id).await? {
        return Err(ApiError::not_found(INTEGRATION));
    }
    let i = found(
        deps.store.integration(&key.account_id, &id).await,
        INTEGRATION,
    )?;
    let breaker = deps.store.breaker(&i.id).await?;
    let mut view = [view::integration(&i)];
    crate::lifecycle::decorate(deps, key, std::slice::from_ref(&i), &mut view).await?;
    let [mut view] = view;
    view["breaker"] = view::breaker(&i, breaker.as_ref());
    Ok(json(200, &view))
}

async fn update_integration<S: Store, Q: TaskQueue, V: Vault, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    input: IntegrationInput,
) -> Answer {
    let id: IntegrationId = apikit::id(id, INTEGRATION)?;
    let (changed, credentials) = integration_fields(&input);
    let updated = manage::integrations::update_integration(
        &deps.store,
        &deps.queue,
        &deps.vault,
        deps.egress,
        &key.account_id,
        &id,
        input,
    )
    .await?;
    let target = format!("integration:{id}");
    if !changed.is_empty() {
        record(
            deps,
            key,
            Action::IntegrationChanged,
            target.clone(),
            changed,
        )
        .await;
    }
    if !credentials.is_empty() {
        record(deps, key, Action::CredentialsRotated, target, credentials).await;
    }
    let mut view = view::integration(&updated.integration);
    // The waiting deliveries are re-queued in the background, a chunk at a time.
    view["drain_started"] = Value::from(updated.drain_started);
    if !updated.generated.is_empty() {
        view["generated_credentials"] = view::shown_once(&updated.generated);
    }
    Ok(json(200, &view))
}

async fn test_integration<S: Store, Q, V: Vault, T: Transport>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    request: &Request,
) -> Answer {
    let id: IntegrationId = apikit::id(id, INTEGRATION)?;
    if !sees_integration(deps, key, &id).await? {
        return Err(ApiError::not_found(INTEGRATION));
    }
    let integration = found(
        deps.store.integration(&key.account_id, &id).await,
        INTEGRATION,
    )?;
    let body: &[u8] = request.body().as_ref();
    let data = match intake::parse(body, Encoding::Json) {
        Ok(d) => d,
        Err(IntakeError::Invalid(errors)) => return Err(ApiError::invalid(errors)),
        Err(e @ IntakeError::TooLarge(_)) => return Err(ApiError::too_large(e.to_string())),
    };
    let result =
        manage::integrations::test_integration(&deps.transport, &deps.vault, &integration, data)
            .await?;
    tracing::info!(integration_id = %integration.id, outcome = result.verdict.outcome.as_str(), "test send");
    let target = format!("integration:{id}");
    record(deps, key, Action::IntegrationTested, target, vec![]).await;
    Ok(json(
        200,
        &json!({
            "test": true,
            "stored": false,
            "verdict": result.verdict,
            "request": result.request,
            "response": result.response,
            "duration_ms": result.duration_ms,
        }),
    ))
}

/// The fields a campaign input sets, for the audit log.
fn campaign_fields(input: &CampaignInput) -> Vec<String> {
    [
        ("name", input.name.is_some()),
        ("integration_ids", input.integration_ids.is_some()),
        ("retention_days", input.retention_days.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name.to_owned())
    .collect()
}

/// The fields an integration input sets, for the audit log: its name, provider and
/// settings (`settings.<name>`), then its credentials (`credentials.<name>`). Names
/// only: never a value.
fn integration_fields(input: &IntegrationInput) -> (Vec<String>, Vec<String>) {
    let mut fields = Vec::new();
    if input.name.is_some() {
        fields.push("name".to_owned());
    }
    if input.provider.is_some() {
        fields.push("provider".to_owned());
    }
    for name in input.settings.iter().flat_map(|s| s.keys()) {
        fields.push(format!("settings.{name}"));
    }
    let credentials = input.credentials.keys().map(|n| format!("credentials.{n}"));
    (fields, credentials.collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use leadrelay::egress::EgressPolicy;
    use leadrelay::exchange::{Exchange, OutgoingRequest};
    use leadrelay::ids::AccountId;
    use leadrelay::keys::{generate_key, hash_key, key_hint};
    use leadrelay::model::Account;
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::store::AccountStore;
    use leadrelay::vault::InsecureTestVault;
    use leadrelay_explain::answer::ProviderResponse;

    /// Answers every request 200 with an empty JSON object.
    struct Accepting;

    impl Transport for Accepting {
        async fn send(&self, _: &OutgoingRequest) -> Exchange {
            Exchange {
                response: ProviderResponse::new(200, "{}"),
                summary: None,
                duration_ms: 3,
                blocked: None,
            }
        }
    }

    type TestDeps = Deps<MemoryStore, MemoryQueue, InsecureTestVault, Accepting>;

    struct World {
        deps: TestDeps,
        key: String,
        key_id: KeyId,
    }

    async fn world() -> World {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        store
            .put_account(&Account {
                id: account.clone(),
                name: "Acme".into(),
                created_at: 0,
            })
            .await
            .unwrap();
        let key = generate_key(KeyKind::Account);
        let key_id = KeyId::generate();
        store
            .put_key(&ApiKey {
                id: key_id.clone(),
                kind: KeyKind::Account,
                account_id: account,
                campaign_id: None,
                hash: hash_key(key.expose()),
                hint: key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
        World {
            deps: Deps {
                store,
                queue: MemoryQueue::new(),
                vault: InsecureTestVault,
                transport: Accepting,
                egress: EgressPolicy::default(),
                audit_retention_days: 1,
            },
            key: key.expose().to_owned(),
            key_id,
        }
    }

    impl World {
        async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
            let request = lambda_http::http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {}", self.key))
                .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
                .unwrap();
            let r = handle(&self.deps, request).await.unwrap();
            let body = serde_json::from_slice(r.body().as_ref()).unwrap_or(Value::Null);
            (r.status().as_u16(), body)
        }

        async fn integration(&self) -> Value {
            let (status, body) = self
                .call(
                    "POST",
                    "/v1/integrations",
                    Some(json!({"name": "Hook", "provider": "webhook", "settings": {"url": "https://hooks.example.com/in"}})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body
        }
    }

    #[tokio::test]
    async fn an_integration_in_use_is_deleted_only_by_force_and_lists_its_campaigns() {
        let w = world().await;
        let hook = w.integration().await;
        let id = hook["id"].as_str().unwrap().to_owned();
        let (_, quiz) = w
            .call(
                "POST",
                "/v1/campaigns",
                Some(json!({"name": "Quiz", "integration_ids": [id]})),
            )
            .await;

        let (s1, read) = w.call("GET", &format!("/v1/integrations/{id}"), None).await;
        let (s2, list) = w.call("GET", "/v1/integrations", None).await;
        let (s3, refused) = w
            .call("DELETE", &format!("/v1/integrations/{id}"), None)
            .await;
        let (s4, _) = w
            .call(
                "DELETE",
                &format!("/v1/integrations/{id}?force=maybe"),
                None,
            )
            .await;
        let (s5, deleted) = w
            .call("DELETE", &format!("/v1/integrations/{id}?force=true"), None)
            .await;
        let (s6, campaign) = w
            .call(
                "GET",
                &format!("/v1/campaigns/{}", quiz["id"].as_str().unwrap()),
                None,
            )
            .await;
        let (s7, _) = w.call("GET", &format!("/v1/integrations/{id}"), None).await;
        let (s8, _) = w
            .call("DELETE", &format!("/v1/integrations/{id}"), None)
            .await;

        assert_eq!(s1, 200);
        assert_eq!(read["campaign_count"], 1);
        assert_eq!(read["campaigns"][0]["id"], quiz["id"]);
        assert_eq!(read["campaigns"][0]["name"], "Quiz");
        assert_eq!(read["health"]["state"], "active");
        assert_eq!(read["health"]["delivered"], 0);
        assert_eq!(read["breaker"]["state"], "closed");
        assert_eq!(s2, 200);
        assert_eq!(list["items"][0]["campaign_count"], 1);
        assert_eq!(list["items"][0]["health"]["failed"], 0);
        assert_eq!(
            (s3, refused["code"].as_str()),
            (409, Some("integration_in_use"))
        );
        assert_eq!(refused["campaigns"][0]["id"], quiz["id"]);
        assert_eq!(s4, 400);
        assert_eq!(s5, 200);
        assert_eq!(deleted["detached_from"][0], quiz["id"]);
        assert_eq!(
            (s6, campaign["integration_ids"].as_array().map(Vec::len)),
            (200, Some(0))
        );
        assert_eq!((s7, s8), (404, 404));
        let (_, audit) = w
            .call("GET", "/v1/audit?action=integration.deleted", None)
            .await;
        assert_eq!(audit["items"][0]["target"], format!("integration:{id}"));
        assert_eq!(
            audit["items"][0]["changed"][0],
            format!("campaign:{}", quiz["id"].as_str().unwrap())
        );
    }

    #[tokio::test]
    async fn a_copy_is_a_new_integration_with_the_same_settings() {
        let w = world().await;
        let hook = w.integration().await;
        let id = hook["id"].as_str().unwrap();

        let (s1, copy) = w
            .call("POST", &format!("/v1/integrations/{id}/copy"), None)
            .await;
        let (s2, _) = w
            .call("GET", &format!("/v1/integrations/{id}/copy"), None)
            .await;
        let (s3, _) = w
            .call(
                "POST",
                &format!("/v1/integrations/{}/copy", IntegrationId::generate()),
                None,
            )
            .await;
        let (_, list) = w.call("GET", "/v1/integrations", None).await;

        assert_eq!(s1, 201, "{copy}");
        assert_ne!(copy["id"], hook["id"]);
        assert_eq!(copy["name"], "Hook (copy)");
        assert_eq!(copy["settings"], hook["settings"]);
        assert_eq!(copy["copied_from"], hook["id"]);
        assert_eq!(copy["campaign_count"], 0);
        assert_eq!((s2, s3), (405, 404));
        let (_, audit) = w
            .call("GET", "/v1/audit?action=integration.copied", None)
            .await;
        let copy_id = copy["id"].as_str().unwrap();
        assert_eq!(
            audit["items"][0]["target"],
            format!("integration:{copy_id}")
        );
        assert_eq!(audit["items"][0]["changed"][0], format!("integration:{id}"));
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn the_account_and_its_keys_are_shown_and_a_key_never_revokes_itself() {
        let w = world().await;

        let (s1, account) = w.call("GET", "/v1/account", None).await;
        let (s2, made) = w.call("POST", "/v1/keys", None).await;
        let (s3, list) = w.call("GET", "/v1/keys", None).await;
        let (s4, own) = w
            .call("DELETE", &format!("/v1/keys/{}", w.key_id), None)
            .await;
        let made_id = made["id"].as_str().unwrap().to_owned();
        let (s5, revoked) = w.call("DELETE", &format!("/v1/keys/{made_id}"), None).await;
        let (s6, _) = w.call("DELETE", &format!("/v1/keys/{made_id}"), None).await;
        let (s7, _) = w.call("DELETE", "/v1/keys/not-a-key", None).await;

        assert_eq!((s1, account["name"].as_str()), (200, Some("Acme")));
        assert_eq!(s2, 201);
        assert!(made["key"].as_str().unwrap().starts_with("lr_ak_"));
        assert_eq!(s3, 200);
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        assert!(
            list["items"][0].get("key").is_none(),
            "lists never show a key"
        );
        assert_eq!((s4, own["code"].as_str()), (409, Some("own_key")));
        assert_eq!(
            (s5, revoked["revoked"].as_str()),
            (200, Some(made_id.as_str()))
        );
        assert_eq!((s6, s7), (404, 404));
    }

    #[tokio::test]
    async fn campaigns_are_made_read_changed_and_checked() {
        let w = world().await;

        let (s1, made) = w
            .call("POST", "/v1/campaigns", Some(json!({"name": "Quiz"})))
            .await;
        let id = made["id"].as_str().unwrap().to_owned();
        let (s2, read) = w.call("GET", &format!("/v1/campaigns/{id}"), None).await;
        let (s3, changed) = w
            .call(
                "PATCH",
                &format!("/v1/campaigns/{id}"),
                Some(json!({"retention_days": 60})),
            )
            .await;
        let (s4, invalid) = w
            .call(
                "PATCH",
                &format!("/v1/campaigns/{id}"),
                Some(json!({"retention_days": 9999})),
            )
            .await;
        let (s5, ingest) = w
            .call("POST", &format!("/v1/campaigns/{id}/ingest-keys"), None)
            .await;
        let (s6, list) = w.call("GET", "/v1/campaigns", None).await;
        let unknown = leadrelay::ids::CampaignId::generate();
        let (s7, missing) = w
            .call("GET", &format!("/v1/campaigns/{unknown}"), None)
            .await;
        let (s8, _) = w
            .call(
                "POST",
                &format!("/v1/campaigns/{unknown}/ingest-keys"),
                None,
            )
            .await;

        assert_eq!(s1, 201);
        assert!(made["ingest_key"]["key"]
            .as_str()
            .unwrap()
            .starts_with("lr_ik_"));
        assert_eq!(
            made["ingest_url"],
            format!("/v1/campaigns/{id}/registrations")
        );
        assert_eq!((s2, read["name"].as_str()), (200, Some("Quiz")));
        assert_eq!((s3, changed["retention_days"].as_u64()), (200, Some(60)));
        assert_eq!((s4, invalid["code"].as_str()), (422, Some("invalid_field")));
        assert_eq!(invalid["errors"][0]["field"], "retention_days");
        assert_eq!((s5, ingest["kind"].as_str()), (201, Some("ingest")));
        assert_eq!(ingest["campaign_id"], id.as_str());
        assert_eq!((s6, list["items"].as_array().unwrap().len()), (200, 1));
        assert_eq!(
            (s7, missing["detail"].as_str()),
            (404, Some("this campaign does not exist"))
        );
        assert_eq!(s8, 404);
    }

    #[tokio::test]
    async fn integrations_are_masked_versioned_and_tested_without_storing() {
        let w = world().await;
        let made = w.integration().await;
        let id = made["id"].as_str().unwrap().to_owned();

        let (s1, read) = w.call("GET", &format!("/v1/integrations/{id}"), None).await;
        let (s2, stale) = w
            .call(
                "PATCH",
                &format!("/v1/integrations/{id}"),
                Some(json!({"name": "Renamed", "version": 99})),
            )
            .await;
        let (s3, renamed) = w
            .call(
                "PATCH",
                &format!("/v1/integrations/{id}"),
                Some(json!({"name": "Renamed", "version": read["version"]})),
            )
            .await;
        let (s4, list) = w.call("GET", "/v1/integrations", None).await;
        let (s5, tested) = w
            .call(
                "POST",
                &format!("/v1/integrations/{id}/test"),
                Some(json!({"email": "a@example.com", "consent": {"marketing": true}})),
            )
            .await;
        let (s6, invalid) = w
            .call(
                "POST",
                &format!("/v1/integrations/{id}/test"),
                Some(json!({"email": "not an address"})),
            )
            .await;
        let (s7, _) = w
            .call(
                "GET",
                "/v1/integrations/int_0123456789abcdefghjkmnpqrs",
                None,
            )
            .await;

        assert_eq!(s1, 200);
        assert_eq!(read["breaker"]["state"], "closed");
        assert_eq!(read["status"]["state"], "active");
        assert_eq!(
            (s2, stale["code"].as_str()),
            (409, Some("version_conflict"))
        );
        assert_eq!((s3, renamed["name"].as_str()), (200, Some("Renamed")));
        assert_eq!(renamed["drain_started"], false);
        assert_eq!((s4, list["items"].as_array().unwrap().len()), (200, 1));
        assert_eq!(s5, 200, "{tested}");
        assert_eq!(
            (tested["test"].as_bool(), tested["stored"].as_bool()),
            (Some(true), Some(false))
        );
        assert_eq!(tested["verdict"]["outcome"], "delivered");
        assert!(
            w.deps.store.all_registrations().is_empty(),
            "a test stores nothing"
        );
        assert_eq!((s6, invalid["code"].as_str()), (422, Some("invalid_field")));
        assert_eq!(s7, 404);
    }

    #[tokio::test]
    async fn bad_requests_are_named_problems() {
        let w = world().await;

        let (s1, json_error) = w
            .call("POST", "/v1/campaigns", Some(Value::from("not an object")))
            .await;
        let (s2, _) = w.call("PUT", "/v1/campaigns", None).await;
        let (s3, route) = w.call("GET", "/v1/nothing", None).await;
        let (s4, invalid) = w
            .call(
                "POST",
                "/v1/integrations",
                Some(json!({"name": "Hook", "provider": "webhook", "settings": {"url": "https://169.254.169.254/latest"}})),
            )
            .await;
        let (s5, erase) = w.call("POST", "/v1/erasures", Some(json!({}))).await;

        assert_eq!(
            (s1, json_error["code"].as_str()),
            (400, Some("invalid_json"))
        );
        assert_eq!(s2, 405);
        assert_eq!(
            (s3, route["detail"].as_str()),
            (404, Some("this route does not exist"))
        );
        assert_eq!((s4, invalid["code"].as_str()), (422, Some("invalid_field")));
        assert_eq!(
            (s5, erase["errors"][0]["field"].as_str()),
            (422, Some("email"))
        );
    }
}
