//! The logs router: path and method to handler, account checks, query parameters.

use crate::{view, Deps};
use apikit::{json, not_found, problem};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use leadrelay::ids::{CampaignId, IntegrationId, RegistrationId};
use leadrelay::intake::FieldError;
use leadrelay::model::{ApiKey, DeliverJob, DeliveryState, Task, Trigger};
use leadrelay::problem::Problem;
use leadrelay::queue::TaskQueue;
use leadrelay::store::{DeliveryQuery, Store};
use leadrelay_explain::verdict::{Class, Outcome};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Default page size of campaign lists, and the largest allowed.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;
/// A summary reads at most this many deliveries.
const SUMMARY_CAP: usize = 20_000;
/// The default time range of campaign queries.
const DEFAULT_RANGE: Duration = Duration::from_secs(7 * 86_400);

/// Serves one request. Expected failures are responses, never `Err`.
pub async fn handle<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let segments = apikit::segments(&request);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match parts.as_slice() {
        ["v1", "registrations", rid] => Route::Log(rid),
        ["v1", "registrations", rid, "deliveries", iid, "retry"] => Route::Retry(rid, iid),
        ["v1", "campaigns", cid, "deliveries"] => Route::Deliveries(cid),
        ["v1", "campaigns", cid, "summary"] => Route::Summary(cid),
        _ => return Ok(not_found("this route")),
    };
    let expected = match route {
        Route::Retry(..) => Method::POST,
        _ => Method::GET,
    };
    if request.method() != expected {
        return Ok(apikit::method_not_allowed());
    }
    let key = match apikit::account_key(&deps.store, &request).await {
        Ok(k) => k,
        Err(e) => return Ok(e.response()),
    };
    Ok(match route {
        Route::Log(rid) => registration_log(deps, &key, rid).await,
        Route::Retry(rid, iid) => retry(deps, &key, rid, iid).await,
        Route::Deliveries(cid) => deliveries(deps, &key, cid, &apikit::query(&request)).await,
        Route::Summary(cid) => summary(deps, &key, cid, &apikit::query(&request)).await,
    })
}

enum Route<'a> {
    Log(&'a str),
    Retry(&'a str, &'a str),
    Deliveries(&'a str),
    Summary(&'a str),
}

async fn registration_log<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    rid: &str,
) -> Response<Body> {
    let Ok(id) = rid.parse::<RegistrationId>() else {
        return not_found("this registration");
    };
    match deps.store.registration_log(&id).await {
        Ok(Some(log)) if log.registration.account_id == key.account_id => {
            json(200, &view::registration_log(&log))
        }
        Ok(_) => not_found("this registration"),
        Err(e) => apikit::internal(&e),
    }
}

async fn retry<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    rid: &str,
    iid: &str,
) -> Response<Body> {
    let (Ok(rid), Ok(iid)) = (rid.parse::<RegistrationId>(), iid.parse::<IntegrationId>()) else {
        return not_found("this delivery");
    };
    let registration = match deps.store.registration(&rid).await {
        Ok(Some(r)) if r.account_id == key.account_id => r,
        Ok(_) => return not_found("this delivery"),
        Err(e) => return apikit::internal(&e),
    };
    let delivery = match deps.store.delivery(&rid, &iid).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found("this delivery"),
        Err(e) => return apikit::internal(&e),
    };
    if registration.erased_at.is_some() {
        return problem(&Problem::new(
            409,
            "registration_erased",
            "Registration erased",
            "the person's data was erased from this registration, so there is nothing left to resend",
        ));
    }
    if delivery.state == DeliveryState::Paused {
        return problem(&Problem::new(
            409,
            "integration_paused",
            "Integration paused",
            "the integration is paused after an authentication failure: update its credentials and every waiting delivery is resent",
        ));
    }
    let job = DeliverJob {
        account_id: registration.account_id.clone(),
        registration_id: rid.clone(),
        integration_id: iid.clone(),
        attempt: delivery.attempts + 1,
        not_before: None,
        trigger: Trigger::Manual,
    };
    let attempt = job.attempt;
    match deps
        .queue
        .send_all(&[(Task::DeliverV1(job), Duration::ZERO)])
        .await
    {
        Ok(()) => {
            tracing::info!(registration_id = %rid, integration_id = %iid, attempt, "resend queued");
            json(
                202,
                &json!({"queued": true, "attempt": attempt, "log": format!("/v1/registrations/{rid}")}),
            )
        }
        Err(e) => {
            let mut r = problem(&Problem::new(
                503,
                "queue_unavailable",
                "Try again",
                "the resend could not be queued; retry in a few seconds",
            ));
            tracing::error!(error = %e, "resend not queued");
            r.headers_mut().insert(
                "retry-after",
                lambda_http::http::HeaderValue::from_static("2"),
            );
            r
        }
    }
}

/// The query parameters of campaign lists, checked.
fn delivery_query(
    cid: CampaignId,
    q: &BTreeMap<String, String>,
) -> Result<DeliveryQuery, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            code: "invalid_parameter".into(),
            message,
        })
    };
    let now = leadrelay::clock::now_ms();
    let time = |name: &str, bad: &mut dyn FnMut(&str, String)| -> Option<u64> {
        let text = q.get(name)?;
        let parsed = leadrelay::clock::parse_rfc3339(text);
        if parsed.is_none() {
            bad(
                name,
                format!("'{name}' must be an RFC 3339 time such as 2026-12-01T00:00:00Z"),
            );
        }
        parsed
    };
    let to = time("to", &mut bad).unwrap_or(now + 1);
    let from = time("from", &mut bad)
        .unwrap_or_else(|| to.saturating_sub(DEFAULT_RANGE.as_millis() as u64));
    let outcome = q.get("outcome").and_then(|o| {
        let found = Outcome::ALL.into_iter().find(|x| x.as_str() == o);
        if found.is_none() {
            bad("outcome", format!("unknown outcome '{o}'"));
        }
        found
    });
    let class = q.get("class").and_then(|c| {
        let found = [
            Class::Informational,
            Class::Success,
            Class::Redirection,
            Class::ClientError,
            Class::ServerError,
            Class::Network,
            Class::NotSent,
        ]
        .into_iter()
        .find(|x| x.as_str() == c);
        if found.is_none() {
            bad(
                "class",
                format!("unknown class '{c}' (1xx, 2xx, 3xx, 4xx, 5xx, network, not_sent)"),
            );
        }
        found
    });
    let state = q.get("state").and_then(|s| {
        let found = DeliveryState::ALL.into_iter().find(|x| x.as_str() == s);
        if found.is_none() {
            bad("state", format!("unknown state '{s}'"));
        }
        found
    });
    let integration_id = q.get("integration_id").and_then(|i| {
        let parsed = i.parse::<IntegrationId>().ok();
        if parsed.is_none() {
            bad("integration_id", "not an integration id".into());
        }
        parsed
    });
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            bad("limit", format!("limit is a number from 1 to {MAX_LIMIT}"));
            DEFAULT_LIMIT
        }
    };
    let newest_first = match q.get("order").map(String::as_str) {
        None | Some("newest") => true,
        Some("oldest") => false,
        Some(_) => {
            bad("order", "order is newest or oldest".into());
            true
        }
    };
    if from >= to {
        bad("from", "'from' must be before 'to'".into());
    }
    if errors.is_empty() {
        Ok(DeliveryQuery {
            campaign_id: Some(cid),
            from_ms: from,
            to_ms: to,
            outcome,
            class,
            state,
            integration_id,
            newest_first,
            limit,
            start: None,
        })
    } else {
        Err(errors)
    }
}

/// What a cursor is bound to: the account, the campaign and every filter.
///
/// The filters are bound as the caller wrote them (a default time range moves with the
/// clock); the effective range travels inside the sealed cursor instead, so every page
/// of one listing covers the same times.
fn binding(key: &ApiKey, q: &DeliveryQuery, params: &BTreeMap<String, String>) -> Vec<String> {
    let filters: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "cursor")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vec![
        key.account_id.to_string(),
        q.campaign_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        filters.join("&"),
    ]
}

/// Position keys that carry the listing's time range inside a cursor.
const RANGE_FROM: &str = "_from";
const RANGE_TO: &str = "_to";

// The error is the response itself, built once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
async fn own_campaign<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: &str,
) -> Result<CampaignId, Response<Body>> {
    let Ok(id) = cid.parse::<CampaignId>() else {
        return Err(not_found("this campaign"));
    };
    match deps.store.campaign(&key.account_id, &id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(not_found("this campaign")),
        Err(e) => Err(apikit::internal(&e)),
    }
}

async fn deliveries<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: &str,
    params: &BTreeMap<String, String>,
) -> Response<Body> {
    let id = match own_campaign(deps, key, cid).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut query = match delivery_query(id, params) {
        Ok(q) => q,
        Err(errors) => {
            return problem(&Problem {
                status: 400,
                ..Problem::invalid(errors)
            })
        }
    };
    let bound = binding(key, &query, params);
    let bound: Vec<&str> = bound.iter().map(String::as_str).collect();
    if let Some(cursor) = params.get("cursor") {
        match deps.cursors.open(cursor, &bound) {
            Ok(mut position) => {
                let range = (
                    position.remove(RANGE_FROM).and_then(|t| t.parse().ok()),
                    position.remove(RANGE_TO).and_then(|t| t.parse().ok()),
                );
                if let (Some(from), Some(to)) = range {
                    query.from_ms = from;
                    query.to_ms = to;
                }
                query.start = Some(position);
            }
            Err(e) => {
                let mut p = Problem::new(400, "invalid_cursor", "Invalid cursor", e.to_string());
                p.errors.push(FieldError {
                    field: "cursor".into(),
                    code: "invalid_cursor".into(),
                    message: e.to_string(),
                });
                return problem(&p);
            }
        }
    }
    match deps.store.campaign_deliveries(&query).await {
        Ok(page) => {
            let next = page.next.map(|mut p| {
                p.insert(RANGE_FROM.into(), query.from_ms.to_string());
                p.insert(RANGE_TO.into(), query.to_ms.to_string());
                deps.cursors.seal(&p, &bound)
            });
            let items: Vec<Value> = page.items.iter().map(view::delivery_row).collect();
            json(200, &json!({"items": items, "next_cursor": next}))
        }
        Err(e) => apikit::internal(&e),
    }
}

/// Counts of one integration's deliveries in a summary.
#[derive(Default)]
struct Counts {
    provider: &'static str,
    states: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<&'static str, u64>,
}

async fn summary<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: &str,
    params: &BTreeMap<String, String>,
) -> Response<Body> {
    let id = match own_campaign(deps, key, cid).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let mut params = params.clone();
    params.remove("limit");
    let mut query = match delivery_query(id, &params) {
        Ok(q) => q,
        Err(errors) => {
            return problem(&Problem {
                status: 400,
                ..Problem::invalid(errors)
            })
        }
    };
    query.limit = 1000;
    let mut by_integration: BTreeMap<String, Counts> = BTreeMap::new();
    let mut causes: HashMap<(String, &'static str, Option<String>), u64> = HashMap::new();
    let mut read = 0usize;
    let mut truncated = false;
    loop {
        let page = match deps.store.campaign_deliveries(&query).await {
            Ok(p) => p,
            Err(e) => return apikit::internal(&e),
        };
        for d in &page.items {
            read += 1;
            let entry = by_integration
                .entry(d.integration_id.to_string())
                .or_insert_with(|| Counts {
                    provider: d.provider.as_str(),
                    ..Counts::default()
                });
            *entry.states.entry(d.state.as_str()).or_default() += 1;
            if let Some(last) = &d.last {
                *entry.outcomes.entry(last.outcome.as_str()).or_default() += 1;
                if !last.outcome.is_success() {
                    *causes
                        .entry((
                            d.provider.as_str().to_owned(),
                            last.outcome.as_str(),
                            last.provider_code.clone(),
                        ))
                        .or_default() += 1;
                }
            }
        }
        match page.next {
            Some(next) if read < SUMMARY_CAP => query.start = Some(next),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    let mut top: Vec<_> = causes.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top: Vec<Value> = top
        .into_iter()
        .take(10)
        .map(|((provider, outcome, code), count)| json!({"provider": provider, "outcome": outcome, "provider_code": code, "count": count}))
        .collect();
    let integrations: Vec<Value> = by_integration
        .into_iter()
        .map(|(id, c)| json!({"integration_id": id, "provider": c.provider, "states": c.states, "outcomes": c.outcomes}))
        .collect();
    json(
        200,
        &json!({
            "campaign_id": cid,
            "from": leadrelay::clock::rfc3339(query.from_ms),
            "to": leadrelay::clock::rfc3339(query.to_ms),
            "deliveries": read,
            "truncated": truncated,
            "integrations": integrations,
            "top_causes": top,
        }),
    )
}
