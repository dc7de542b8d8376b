//! Integrations beyond create and change: removal (`DELETE`, refused with the campaigns
//! named while any use it, unless `?force=true`), copies, and what the integration views
//! add: the campaigns using each one and its health (see
//! [`leadrelay::manage::lifecycle`] and [`leadrelay::manage::health`]).

use crate::roles::record;
use crate::{view, Deps};
use apikit::error::ApiError;
use apikit::json;
use apikit::problem::{self, Problem};
use lambda_http::http::header;
use lambda_http::{Body, Response};
use leadrelay::audit::Action;
use leadrelay::clock;
use leadrelay::ids::IntegrationId;
use leadrelay::manage::health::{health, Health};
use leadrelay::manage::lifecycle::{
    campaigns_using, copy_integration, delete_integration, Removal,
};
use leadrelay::model::{ApiKey, Campaign, Integration};
use leadrelay::store::Store;
use leadrelay::vault::Vault;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const INTEGRATION: &str = "this integration";

/// A campaign as a reference in another view.
fn campaign_ref(c: &Campaign) -> Value {
    json!({"id": c.id, "name": c.name})
}

/// Health as the integration view shows it.
fn health_view(h: &Health) -> Value {
    json!({
        "state": h.state.as_str(),
        "window": {"from": clock::rfc3339(h.from_ms), "hours": 24},
        "delivered": h.delivered,
        "failed": h.failed,
        "last_success_at": h.last_success.map(clock::rfc3339),
        "last_failure": h.last_failure.as_ref().map(|f| json!({
            "at": clock::rfc3339(f.at),
            "status": f.status,
            "class": f.class,
            "outcome": f.outcome,
            "provider_code": f.provider_code,
            "explanation": f.explanation,
            "log": format!("/v1/registrations/{}", f.registration_id),
        })),
        "truncated": h.truncated,
    })
}

/// Adds `campaigns`, `campaign_count` and `health` to each integration's view, in the
/// order given: one read of the account's campaigns and one health read for them all.
pub(crate) async fn decorate<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    integrations: &[Integration],
    views: &mut [Value],
) -> Result<(), ApiError> {
    let campaigns = deps.store.list_campaigns(&key.account_id).await?;
    let healths = health(&deps.store, &key.account_id, integrations, clock::now_ms()).await?;
    for (i, view) in integrations.iter().zip(views.iter_mut()) {
        // A key restricted to some campaigns sees only those among the users.
        let mut using = campaigns_using(&campaigns, &i.id);
        using.retain(|c| key.access.sees(&c.id));
        view["campaigns"] = Value::from(using.iter().map(|c| campaign_ref(c)).collect::<Vec<_>>());
        view["campaign_count"] = Value::from(using.len());
        if let Some(h) = healths.get(&i.id) {
            view["health"] = health_view(h);
        }
    }
    Ok(())
}

/// `DELETE /v1/integrations/{id}`: 200 when removed (with the campaigns it was detached
/// from), 409 naming the campaigns that use it unless `force=true`.
pub(crate) async fn delete<S: Store, Q, V, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
    params: &BTreeMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let id: IntegrationId = apikit::id(id, INTEGRATION)?;
    let force = match params.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::problem(Problem {
                status: 400,
                ..Problem::invalid(vec![leadrelay::intake::FieldError {
                    field: "force".into(),
                    code: "invalid_parameter".into(),
                    message: "force is true or false".into(),
                }])
            }))
        }
    };
    match delete_integration(&deps.store, &key.account_id, &id, force).await? {
        Removal::Removed { detached } => {
            let changed = detached.iter().map(|c| format!("campaign:{c}")).collect();
            record(
                deps,
                key,
                Action::IntegrationDeleted,
                format!("integration:{id}"),
                changed,
            )
            .await;
            Ok(json(
                200,
                &json!({"deleted": id, "detached_from": detached}),
            ))
        }
        Removal::InUse(campaigns) => {
            let p = Problem::new(
                409,
                "integration_in_use",
                "Integration in use",
                format!(
                    "{} campaign(s) deliver to this integration: remove it from them first, or delete with ?force=true to detach it from them",
                    campaigns.len()
                ),
            );
            let mut body = serde_json::to_value(&p).expect("problems serialize to JSON");
            body["campaigns"] = campaigns.iter().map(campaign_ref).collect();
            let mut response = json(409, &body);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(problem::CONTENT_TYPE),
            );
            Ok(response)
        }
    }
}

/// `POST /v1/integrations/{id}/copy`: 201 with the copy's view.
pub(crate) async fn copy<S: Store, Q, V: Vault, T>(
    deps: &Deps<S, Q, V, T>,
    key: &ApiKey,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let id: IntegrationId = apikit::id(id, INTEGRATION)?;
    let copy = copy_integration(&deps.store, &deps.vault, &key.account_id, &id).await?;
    let target = format!("integration:{}", copy.id);
    record(
        deps,
        key,
        Action::IntegrationCopied,
        target,
        vec![format!("integration:{id}")],
    )
    .await;
    let mut view = [view::integration(&copy)];
    decorate(deps, key, std::slice::from_ref(&copy), &mut view).await?;
    let [mut view] = view;
    view["copied_from"] = Value::from(id.to_string());
    Ok(json(201, &view))
}
