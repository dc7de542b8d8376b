//! The admin router: path and method to handler.

use crate::Deps;
use apikit::{json, json_body, not_found, problem};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use leadrelay::deliver::test_send;
use leadrelay::destination::Transport;
use leadrelay::ids::{CampaignId, IntegrationId, KeyId, RegistrationId};
use leadrelay::intake::{self, Encoding, IntakeError};
use leadrelay::keys::Secret;
use leadrelay::manage::{self, CampaignInput, ErasureInput, IntegrationInput, ManageError};
use leadrelay::model::{ApiKey, KeyKind, Registration};
use leadrelay::problem::Problem;
use leadrelay::queue::TaskQueue;
use leadrelay::store::Store;
use leadrelay::vault::Vault;
use serde_json::{json, Value};
use std::collections::BTreeMap;

enum Route<'a> {
    Account,
    Keys,
    Key(&'a str),
    Campaigns,
    Campaign(&'a str),
    IngestKeys(&'a str),
    Integrations,
    Integration(&'a str),
    TestIntegration(&'a str),
    Erasures,
}

/// Serves one request. Expected failures are responses, never `Err`.
pub async fn handle<S: Store, Q: TaskQueue, V: Vault, T: Transport>(
    deps: &Deps<S, Q, V, T>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let segments = apikit::segments(&request);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match parts.as_slice() {
        ["v1", "account"] => Route::Account,
        ["v1", "keys"] => Route::Keys,
        ["v1", "keys", id] => Route::Key(id),
        ["v1", "campaigns"] => Route::Campaigns,
        ["v1", "campaigns", id] => Route::Campaign(id),
        ["v1", "campaigns", id, "ingest-keys"] => Route::IngestKeys(id),
        ["v1", "integrations"] => Route::Integrations,
        ["v1", "integrations", id] => Route::Integration(id),
        ["v1", "integrations", id, "test"] => Route::TestIntegration(id),
        ["v1", "erasures"] => Route::Erasures,
        _ => return Ok(not_found("this route")),
    };
    let key = match apikit::account_key(&deps.store, &request).await {
        Ok(k) => k,
        Err(e) => return Ok(e.response()),
    };
    let method = request.method().clone();
    Ok(match (route, method) {
        (Route::Account, Method::GET) => account(deps, &key).await,
        (Route::Keys, Method::GET) => list_keys(deps, &key).await,
        (Route::Keys, Method::POST) => new_account_key(deps, &key).await,
        (Route::Key(id), Method::DELETE) => revoke_key(deps, &key, id).await,
        (Route::Campaigns, Method::GET) => list_campaigns(deps, &key).await,
        (Route::Campaigns, Method::POST) => match json_body::<CampaignInput>(&request) {
            Ok(input) => create_campaign(deps, &key, input).await,
            Err(r) => r,
        },
        (Route::Campaign(id), Method::GET) => get_campaign(deps, &key, id).await,
        (Route::Campaign(id), Method::PATCH) => match json_body::<CampaignInput>(&request) {
            Ok(input) => update_campaign(deps, &key, id, input).await,
            Err(r) => r,
        },
        (Route::IngestKeys(id), Method::POST) => new_ingest_key(deps, &key, id).await,
        (Route::Integrations, Method::GET) => list_integrations(deps, &key).await,
        (Route::Integrations, Method::POST) => match json_body::<IntegrationInput>(&request) {
            Ok(input) => create_integration(deps, &key, input).await,
            Err(r) => r,
        },
        (Route::Integration(id), Method::GET) => get_integration(deps, &key, id).await,
        (Route::Integration(id), Method::PATCH) => match json_body::<IntegrationInput>(&request) {
            Ok(input) => update_integration(deps, &key, id, input).await,
            Err(r) => r,
        },
        (Route::TestIntegration(id), Method::POST) => {
            test_integration(deps, &key, id, &request).await
        }
        (Route::Erasures, Method::POST) => match json_body::<ErasureInput>(&request) {
            Ok(input) => erase(deps, &key, input).await,
            Err(r) => r,
        },
        _ => apikit::method_not_allowed(),
    })
}

fn manage_error(e: &ManageError) -> Response<Body> {
    match e {
        ManageError::NotFound(what) => not_found(what),
        ManageError::Invalid(errors) => problem(&Problem::invalid(errors.clone())),
        ManageError::Store(e) => apikit::internal(e),
        ManageError::Vault(e) => apikit::internal(e),
        ManageError::Resume(e) => apikit::internal(e),
        ManageError::Conflict(detail) => problem(&Problem::new(
            409,
            "version_conflict",
            "Conflict",
            detail.clone(),
        )),
    }
}

fn shown_once(secrets: &BTreeMap<String, Secret>) -> Value {
    secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.expose())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn erase<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: ErasureInput,
) -> Response<Body> {
    match manage::erase(&deps.store, &key.account_id, input).await {
        Ok(report) => json(200, &json!({"erased": report})),
        Err(e) => manage_error(&e),
    }
}

async fn account<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Response<Body> {
    match deps.store.account(&key.account_id).await {
        Ok(Some(a)) => json(
            200,
            &json!({"id": a.id, "name": a.name, "created_at": leadrelay::clock::rfc3339(a.created_at)}),
        ),
        Ok(None) => not_found("this account"),
        Err(e) => apikit::internal(&e),
    }
}

async fn list_keys<S: Store, Q, V, T>(deps: &Deps<S, Q, V, T>, key: &ApiKey) -> Response<Body> {
    match deps.store.list_keys(&key.account_id).await {
        Ok(keys) => json(
            200,
            &json!({"items": keys.iter().map(manage::key_view).collect::<Vec<_>>()}),
        ),
        Err(e) => apikit::internal(&e),
    }
}

async fn new_account_key<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
) -> Response<Body> {
    match manage::issue_key(&deps.store, &key.account_id, KeyKind::Account, None).await {
        Ok((k, secret)) => {
            let mut view = manage::key_view(&k);
            view["key"] = Value::from(secret.expose());
            json(201, &view)
        }
        Err(e) => manage_error(&e),
    }
}

async fn revoke_key<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Response<Body> {
    let Ok(id) = id.parse::<KeyId>() else {
        return not_found("this key");
    };
    if id == key.id {
        return problem(&Problem::new(
            409,
            "own_key",
            "Conflict",
            "a key cannot revoke itself; use another account key",
        ));
    }
    match deps.store.delete_key(&key.account_id, &id).await {
        Ok(true) => json(200, &json!({"revoked": id})),
        Ok(false) => not_found("this key"),
        Err(e) => apikit::internal(&e),
    }
}

async fn list_campaigns<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
) -> Response<Body> {
    match deps.store.list_campaigns(&key.account_id).await {
        Ok(items) => json(
            200,
            &json!({"items": items.iter().map(manage::campaign_view).collect::<Vec<_>>()}),
        ),
        Err(e) => apikit::internal(&e),
    }
}

async fn create_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: CampaignInput,
) -> Response<Body> {
    match manage::create_campaign(&deps.store, &key.account_id, input).await {
        Ok((c, k, secret)) => {
            tracing::info!(campaign_id = %c.id, "campaign created");
            let mut view = manage::campaign_view(&c);
            view["ingest_key"] = json!({"id": k.id, "key": secret.expose()});
            view["ingest_url"] = Value::from(format!("/v1/campaigns/{}/registrations", c.id));
            json(201, &view)
        }
        Err(e) => manage_error(&e),
    }
}

async fn get_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Response<Body> {
    let Ok(id) = id.parse::<CampaignId>() else {
        return not_found("this campaign");
    };
    match deps.store.campaign(&key.account_id, &id).await {
        Ok(Some(c)) => json(200, &manage::campaign_view(&c)),
        Ok(None) => not_found("this campaign"),
        Err(e) => apikit::internal(&e),
    }
}

async fn update_campaign<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    input: CampaignInput,
) -> Response<Body> {
    let Ok(id) = id.parse::<CampaignId>() else {
        return not_found("this campaign");
    };
    match manage::update_campaign(&deps.store, &key.account_id, &id, input).await {
        Ok(c) => json(200, &manage::campaign_view(&c)),
        Err(e) => manage_error(&e),
    }
}

async fn new_ingest_key<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Response<Body> {
    let Ok(id) = id.parse::<CampaignId>() else {
        return not_found("this campaign");
    };
    match deps.store.campaign(&key.account_id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found("this campaign"),
        Err(e) => return apikit::internal(&e),
    }
    match manage::issue_key(&deps.store, &key.account_id, KeyKind::Ingest, Some(&id)).await {
        Ok((k, secret)) => {
            let mut view = manage::key_view(&k);
            view["key"] = Value::from(secret.expose());
            json(201, &view)
        }
        Err(e) => manage_error(&e),
    }
}

async fn list_integrations<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
) -> Response<Body> {
    match deps.store.list_integrations(&key.account_id).await {
        Ok(items) => json(
            200,
            &json!({"items": items.iter().map(manage::integration_view).collect::<Vec<_>>()}),
        ),
        Err(e) => apikit::internal(&e),
    }
}

async fn create_integration<S: Store, Q, V: Vault, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    input: IntegrationInput,
) -> Response<Body> {
    match manage::create_integration(
        &deps.store,
        &deps.vault,
        deps.egress,
        &key.account_id,
        input,
    )
    .await
    {
        Ok((i, generated)) => {
            tracing::info!(integration_id = %i.id, provider = %i.provider, "integration created");
            let mut view = manage::integration_view(&i);
            if !generated.is_empty() {
                view["generated_credentials"] = shown_once(&generated);
            }
            json(201, &view)
        }
        Err(e) => manage_error(&e),
    }
}

async fn get_integration<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Response<Body> {
    let Ok(id) = id.parse::<IntegrationId>() else {
        return not_found("this integration");
    };
    match deps.store.integration(&key.account_id, &id).await {
        Ok(Some(i)) => match deps.store.breaker(&i.id).await {
            Ok(breaker) => {
                let mut view = manage::integration_view(&i);
                view["breaker"] = manage::breaker_view(&i, breaker.as_ref());
                json(200, &view)
            }
            Err(e) => apikit::internal(&e),
        },
        Ok(None) => not_found("this integration"),
        Err(e) => apikit::internal(&e),
    }
}

async fn update_integration<S: Store, Q: TaskQueue, V: Vault, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    input: IntegrationInput,
) -> Response<Body> {
    let Ok(id) = id.parse::<IntegrationId>() else {
        return not_found("this integration");
    };
    match manage::update_integration(
        &deps.store,
        &deps.queue,
        &deps.vault,
        deps.egress,
        &key.account_id,
        &id,
        input,
    )
    .await
    {
        Ok(updated) => {
            let mut view = manage::integration_view(&updated.integration);
            // The waiting deliveries are re-queued in the background, a chunk at a time.
            view["drain_started"] = Value::from(updated.drain_started);
            if !updated.generated.is_empty() {
                view["generated_credentials"] = shown_once(&updated.generated);
            }
            json(200, &view)
        }
        Err(e) => manage_error(&e),
    }
}

async fn test_integration<S: Store, Q, V: Vault, T: Transport>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    request: &Request,
) -> Response<Body> {
    let Ok(id) = id.parse::<IntegrationId>() else {
        return not_found("this integration");
    };
    let integration = match deps.store.integration(&key.account_id, &id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found("this integration"),
        Err(e) => return apikit::internal(&e),
    };
    let body: &[u8] = request.body().as_ref();
    let data = match intake::parse(body, Encoding::Json) {
        Ok(d) => d,
        Err(IntakeError::Invalid(errors)) => return problem(&Problem::invalid(errors)),
        Err(e @ IntakeError::TooLarge(_)) => {
            return problem(&Problem::new(
                413,
                "too_large",
                "Body too large",
                e.to_string(),
            ))
        }
    };
    let now = leadrelay::clock::now_ms();
    let registration = Registration {
        id: RegistrationId::generate(),
        account_id: key.account_id.clone(),
        campaign_id: CampaignId::generate(),
        received_at: now,
        data,
        integration_ids: vec![integration.id.clone()],
        expires_at: now / 1000 + 60,
        erased_at: None,
    };
    match test_send(&deps.transport, &deps.vault, &integration, &registration).await {
        Ok(result) => {
            tracing::info!(integration_id = %integration.id, outcome = result.verdict.outcome.as_str(), "test send");
            json(
                200,
                &json!({
                    "test": true,
                    "stored": false,
                    "verdict": result.verdict,
                    "request": result.request,
                    "response": result.response,
                    "duration_ms": result.duration_ms,
                }),
            )
        }
        Err(e) => apikit::internal(&e),
    }
}
