//! The logs router: path and method to handler, account checks, query parameters. The
//! decisions (what may be resent, how a summary counts) are [`leadrelay::logs`]'s; every
//! failure is an [`ApiError`].

use crate::{view, Deps};
use apikit::error::ApiError;
use apikit::json;
use apikit::problem::Problem;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use leadrelay::access::{self, Need, Role};
use leadrelay::audit::{self, Action};
use leadrelay::ids::{CampaignId, IntegrationId, RegistrationId};
use leadrelay::intake::FieldError;
use leadrelay::logs::{self, LogsError};
use leadrelay::model::{ApiKey, DeliveryState};
use leadrelay::queue::TaskQueue;
use leadrelay::store::{DeliveryQuery, Store};
use leadrelay_explain::verdict::{Class, Outcome};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Default page size of campaign lists, and the largest allowed.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;
/// The default time range of campaign queries.
const DEFAULT_RANGE: Duration = Duration::from_secs(7 * 86_400);

/// A route's answer: its response, or why not.
type Answer = Result<Response<Body>, ApiError>;

/// Serves one request. Expected failures are responses, never `Err`.
pub async fn handle<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    Ok(apikit::respond(route(deps, &request).await))
}

async fn route<S: Store, Q: TaskQueue>(deps: &Deps<S, Q>, request: &Request) -> Answer {
    let segments = apikit::segments(request);
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = match parts.as_slice() {
        ["v1", "registrations"] => Route::Find,
        ["v1", "registrations", rid] => Route::Log(rid),
        ["v1", "registrations", rid, "deliveries", iid, "retry"] => Route::Retry(rid, iid),
        ["v1", "campaigns", cid, "deliveries"] => Route::Deliveries(Some(cid)),
        ["v1", "deliveries"] => Route::Deliveries(None),
        ["v1", "campaigns", cid, "summary"] => Route::Summary(cid),
        _ => return Err(ApiError::not_found("this route")),
    };
    let expected = match route {
        Route::Retry(..) => Method::POST,
        _ => Method::GET,
    };
    if request.method() != expected {
        return Err(ApiError::method_not_allowed());
    }
    let key = apikit::caller(&deps.store, request).await?;
    let account_wide = matches!(route, Route::Deliveries(None))
        && !apikit::query(request).contains_key("campaign_id");
    let need = match route {
        Route::Retry(..) => Need::Role(Role::Operator),
        // The account's deliveries span every campaign: a key restricted to some campaigns
        // lists them one campaign at a time.
        Route::Deliveries(None) if account_wide => Need::Unrestricted(Role::Viewer),
        _ => Need::READ,
    };
    apikit::authorize(&key, need)?;
    match route {
        Route::Find => crate::find::by_email(deps, &key, &apikit::query(request)).await,
        Route::Log(rid) => registration_log(deps, &key, rid).await,
        Route::Retry(rid, iid) => retry(deps, &key, rid, iid).await,
        Route::Deliveries(cid) => deliveries(deps, &key, cid, &apikit::query(request)).await,
        Route::Summary(cid) => summary(deps, &key, cid, &apikit::query(request)).await,
    }
}

enum Route<'a> {
    Find,
    Log(&'a str),
    Retry(&'a str, &'a str),
    /// A campaign's deliveries, or the account's (none).
    Deliveries(Option<&'a str>),
    Summary(&'a str),
}

/// The answer for each way a logs call can refuse.
pub(crate) fn logs_error(e: LogsError) -> ApiError {
    match e {
        LogsError::NotFound(what) => ApiError::not_found(what),
        LogsError::Erased => ApiError::conflict(
            "registration_erased",
            "Registration erased",
            "the person's data was erased from this registration, so there is nothing left to resend",
        ),
        LogsError::Paused => ApiError::conflict(
            "integration_paused",
            "Integration paused",
            "the integration is paused after an authentication failure: update its credentials and every waiting delivery is resent",
        ),
        LogsError::QueueUnavailable(e) => {
            tracing::error!(error = %e, "resend not queued");
            ApiError::unavailable(
                "queue_unavailable",
                "the resend could not be queued; retry in a few seconds",
                2,
            )
        }
        LogsError::Store(e) => e.into(),
    }
}

async fn registration_log<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    rid: &str,
) -> Answer {
    let id: RegistrationId = apikit::id(rid, "this registration")?;
    let log = logs::registration_log(&deps.store, &key.account_id, &id)
        .await
        .map_err(logs_error)?;
    apikit::visible(key, &log.registration.campaign_id, "this registration")?;
    if !key.access.sees_personal_data() {
        return Ok(json(200, &view::registration_log(&access::mask_log(&log))));
    }
    Ok(json(200, &view::registration_log(&log)))
}

async fn retry<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    rid: &str,
    iid: &str,
) -> Answer {
    let (Ok(rid), Ok(iid)) = (rid.parse::<RegistrationId>(), iid.parse::<IntegrationId>()) else {
        return Err(ApiError::not_found("this delivery"));
    };
    if key.access.is_restricted() {
        let registration = deps.store.registration(&rid).await?;
        let campaign = registration.map(|r| r.campaign_id);
        if !campaign.is_some_and(|c| key.access.sees(&c)) {
            return Err(ApiError::not_found("this delivery"));
        }
    }
    let resent = logs::resend(&deps.store, &deps.queue, &key.account_id, &rid, &iid)
        .await
        .map_err(logs_error)?;
    let target = format!("delivery:{rid}/{iid}");
    let entry = audit::entry(
        key,
        Action::DeliveryResent,
        target,
        vec![],
        deps.audit_retention_days,
    );
    if let Err(e) = audit::record(&deps.store, &entry).await {
        tracing::error!(error = %e, "audit entry not recorded");
    }
    Ok(json(
        202,
        &json!({"queued": true, "attempt": resent.attempt, "log": format!("/v1/registrations/{rid}")}),
    ))
}

/// The query parameters of campaign and account lists, checked.
fn delivery_query(
    cid: Option<CampaignId>,
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
            campaign_id: cid,
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

async fn own_campaign<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: &str,
) -> Result<CampaignId, ApiError> {
    let id: CampaignId = apikit::id(cid, "this campaign")?;
    apikit::visible(key, &id, "this campaign")?;
    logs::own_campaign(&deps.store, &key.account_id, &id)
        .await
        .map_err(logs_error)?;
    Ok(id)
}

/// A bad query parameter: 400 (not 422), every parameter named.
pub(crate) fn bad_parameters(errors: Vec<FieldError>) -> ApiError {
    ApiError::problem(Problem {
        status: 400,
        ..Problem::invalid(errors)
    })
}

/// Opens a page cursor sealed for `bound`, or the 400 saying it does not open.
pub(crate) fn open_cursor<S, Q>(
    deps: &Deps<S, Q>,
    cursor: &str,
    bound: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    deps.cursors.open(cursor, bound).map_err(|e| {
        let mut p = Problem::new(400, "invalid_cursor", "Invalid cursor", e.to_string());
        p.errors.push(FieldError {
            field: "cursor".into(),
            code: "invalid_cursor".into(),
            message: e.to_string(),
        });
        ApiError::problem(p)
    })
}

/// A campaign's deliveries (`cid`, or the `campaign_id` parameter), or else the account's
/// across its campaigns.
async fn deliveries<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: Option<&str>,
    params: &BTreeMap<String, String>,
) -> Answer {
    let id = match cid.or(params.get("campaign_id").map(String::as_str)) {
        Some(cid) => Some(own_campaign(deps, key, cid).await?),
        None => None,
    };
    let mut query = delivery_query(id, params).map_err(bad_parameters)?;
    let bound = binding(key, &query, params);
    let bound: Vec<&str> = bound.iter().map(String::as_str).collect();
    if let Some(cursor) = params.get("cursor") {
        match open_cursor(deps, cursor, &bound) {
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
            Err(e) => return Err(e),
        }
    }
    let page = match &query.campaign_id {
        Some(_) => deps.store.campaign_deliveries(&query).await?,
        None => logs::find::account_deliveries(&deps.store, &key.account_id, &query)
            .await
            .map_err(logs_error)?,
    };
    let next = page.next.map(|mut p| {
        p.insert(RANGE_FROM.into(), query.from_ms.to_string());
        p.insert(RANGE_TO.into(), query.to_ms.to_string());
        deps.cursors.seal(&p, &bound)
    });
    let items: Vec<Value> = page.items.iter().map(view::delivery_row).collect();
    Ok(json(200, &json!({"items": items, "next_cursor": next})))
}

async fn summary<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    cid: &str,
    params: &BTreeMap<String, String>,
) -> Answer {
    let id = own_campaign(deps, key, cid).await?;
    let mut params = params.clone();
    params.remove("limit");
    let query = delivery_query(Some(id), &params).map_err(bad_parameters)?;
    let summary = logs::summary(&deps.store, query).await?;
    Ok(json(200, &view::summary(cid, &summary)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use leadrelay::cursor::CursorSealer;
    use leadrelay::ids::{AccountId, KeyId};
    use leadrelay::keys::{generate_key, hash_key, key_hint};
    use leadrelay::model::{
        Attached, Campaign, Delivery, KeyKind, Registration, RegistrationData, Task, Trigger,
    };
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::store::{AccountStore, CampaignStore, RegistrationStore};
    use leadrelay_explain::provider::Provider;

    struct World {
        deps: Deps<MemoryStore, MemoryQueue>,
        key: String,
        account: AccountId,
        campaign: CampaignId,
        integration: IntegrationId,
    }

    async fn account_key(store: &MemoryStore, account: &AccountId) -> String {
        let key = generate_key(KeyKind::Account);
        store
            .put_key(&ApiKey {
                id: KeyId::generate(),
                kind: KeyKind::Account,
                account_id: account.clone(),
                campaign_id: None,
                hash: hash_key(key.expose()),
                hint: key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
        key.expose().to_owned()
    }

    async fn world() -> World {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let integration = IntegrationId::generate();
        let campaign = Campaign {
            id: CampaignId::generate(),
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
        let key = account_key(&store, &account).await;
        World {
            deps: Deps {
                store,
                queue: MemoryQueue::new(),
                cursors: CursorSealer::new("a test secret of enough length!!"),
                audit_retention_days: 1,
            },
            key,
            account,
            campaign: campaign.id,
            integration,
        }
    }

    impl World {
        /// A registration of this campaign with one delivery in `state`.
        async fn registration(&self, state: DeliveryState, erased: bool) -> RegistrationId {
            let now = leadrelay::clock::now_ms();
            let r = Registration {
                id: RegistrationId::generate(),
                account_id: self.account.clone(),
                campaign_id: self.campaign.clone(),
                received_at: now,
                data: RegistrationData {
                    email: Some("a@example.com".into()),
                    ..RegistrationData::default()
                },
                integration_ids: vec![self.integration.clone()],
                expires_at: now / 1000 + 3600,
                erased_at: erased.then_some(now),
            };
            let d = Delivery {
                registration_id: r.id.clone(),
                integration_id: self.integration.clone(),
                campaign_id: self.campaign.clone(),
                provider: Provider::Webhook,
                state,
                attempts: 2,
                next_attempt_at: None,
                last: None,
                received_at: now,
                updated_at: now,
                waiting: None,
            };
            assert!(self.deps.store.create_registration(&r, &[d]).await.unwrap());
            r.id
        }

        async fn call(&self, method: &str, path: &str) -> (u16, Value) {
            self.call_as(method, path, &self.key).await
        }

        async fn call_as(&self, method: &str, path: &str, key: &str) -> (u16, Value) {
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
    async fn a_registrations_log_is_shown_to_its_account_only() {
        let w = world().await;
        let rid = w.registration(DeliveryState::Pending, false).await;
        let other = account_key(&w.deps.store, &AccountId::generate()).await;

        let (status, body) = w.call("GET", &format!("/v1/registrations/{rid}")).await;
        let (foreign, _) = w
            .call_as("GET", &format!("/v1/registrations/{rid}"), &other)
            .await;
        let (malformed, problem) = w.call("GET", "/v1/registrations/nope").await;
        let (anonymous, _) = w
            .call_as("GET", &format!("/v1/registrations/{rid}"), "lr_ak_nobody")
            .await;

        assert_eq!(status, 200);
        assert_eq!(body["registration"]["id"], rid.as_str());
        assert_eq!(body["deliveries"][0]["state"], "pending");
        assert_eq!(
            body["deliveries"][0]["headline"],
            "Queued for the webhook endpoint; not tried yet."
        );
        assert_eq!((foreign, malformed, anonymous), (404, 404, 401));
        assert_eq!(problem["detail"], "this registration does not exist");
    }

    #[tokio::test]
    async fn a_resend_is_queued_as_the_next_manual_attempt() {
        let w = world().await;
        let rid = w.registration(DeliveryState::Failed, false).await;

        let (status, body) = w
            .call(
                "POST",
                &format!("/v1/registrations/{rid}/deliveries/{}/retry", w.integration),
            )
            .await;

        assert_eq!(status, 202);
        assert_eq!(body["queued"], true);
        assert_eq!(body["attempt"], 3);
        assert_eq!(body["log"], format!("/v1/registrations/{rid}"));
        let queued = w.deps.queue.drain();
        assert_eq!(queued.len(), 1);
        let Task::DeliverV1(job) = &queued[0].0 else {
            panic!("a deliver job: {queued:?}")
        };
        assert_eq!((job.attempt, job.trigger), (3, Trigger::Manual));
    }

    #[tokio::test]
    async fn a_resend_is_refused_when_erased_paused_unknown_or_the_queue_fails() {
        let w = world().await;
        let erased = w.registration(DeliveryState::Failed, true).await;
        let paused = w.registration(DeliveryState::Paused, false).await;
        let fine = w.registration(DeliveryState::Failed, false).await;
        let retry = |rid: &RegistrationId, iid: &IntegrationId| {
            format!("/v1/registrations/{rid}/deliveries/{iid}/retry")
        };

        let (s1, b1) = w.call("POST", &retry(&erased, &w.integration)).await;
        let (s2, b2) = w.call("POST", &retry(&paused, &w.integration)).await;
        let (s3, b3) = w
            .call("POST", &retry(&fine, &IntegrationId::generate()))
            .await;
        let (s4, _) = w.call("GET", &retry(&fine, &w.integration)).await;
        w.deps.queue.refuse_next(1);
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(retry(&fine, &w.integration))
            .header("authorization", format!("Bearer {}", w.key))
            .body(Body::Empty)
            .unwrap();
        let refused = handle(&w.deps, request).await.unwrap();

        assert_eq!(
            (s1, b1["code"].as_str()),
            (409, Some("registration_erased"))
        );
        assert_eq!((s2, b2["code"].as_str()), (409, Some("integration_paused")));
        assert_eq!(
            (s3, b3["detail"].as_str()),
            (404, Some("this delivery does not exist"))
        );
        assert_eq!(s4, 405);
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()["retry-after"], "2");
        assert!(w.deps.queue.is_empty(), "nothing queued by a refusal");
    }

    #[tokio::test]
    async fn campaign_lists_and_summaries_count_the_campaigns_deliveries() {
        let w = world().await;
        w.registration(DeliveryState::Failed, false).await;
        w.registration(DeliveryState::Delivered, false).await;
        w.registration(DeliveryState::Delivered, false).await;
        let cid = &w.campaign;

        let (s1, list) = w
            .call("GET", &format!("/v1/campaigns/{cid}/deliveries"))
            .await;
        let (s2, page) = w
            .call("GET", &format!("/v1/campaigns/{cid}/deliveries?limit=2"))
            .await;
        let (s3, summary) = w.call("GET", &format!("/v1/campaigns/{cid}/summary")).await;
        let (s4, bad) = w
            .call(
                "GET",
                &format!("/v1/campaigns/{cid}/deliveries?limit=0&order=up"),
            )
            .await;
        let (s5, _) = w
            .call(
                "GET",
                &format!("/v1/campaigns/{}/summary", CampaignId::generate()),
            )
            .await;
        let (s6, cursor) = w
            .call(
                "GET",
                &format!("/v1/campaigns/{cid}/deliveries?cursor=forged"),
            )
            .await;

        assert_eq!((s1, list["items"].as_array().unwrap().len()), (200, 3));
        assert_eq!(list["next_cursor"], Value::Null);
        assert_eq!((s2, page["items"].as_array().unwrap().len()), (200, 2));
        assert!(page["next_cursor"].is_string());
        assert_eq!(s3, 200);
        assert_eq!(summary["deliveries"], 3);
        assert_eq!(summary["truncated"], false);
        assert_eq!(summary["campaign_id"], cid.as_str());
        let states = &summary["integrations"][0]["states"];
        assert_eq!(
            (states["delivered"].as_u64(), states["failed"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(s4, 400, "a bad parameter is a 400");
        assert_eq!(bad["code"], "invalid_field");
        let fields: Vec<&str> = bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["limit", "order"]);
        assert_eq!(s5, 404);
        assert_eq!((s6, cursor["code"].as_str()), (400, Some("invalid_cursor")));
    }

    #[tokio::test]
    async fn registrations_are_found_by_address_in_any_case_page_by_page() {
        let w = world().await;
        let mut made = Vec::new();
        for _ in 0..3 {
            made.push(w.registration(DeliveryState::Delivered, false).await);
            std::thread::sleep(Duration::from_millis(2));
        }
        let other = account_key(&w.deps.store, &AccountId::generate()).await;

        let (s1, one) = w
            .call("GET", "/v1/registrations?email=A%40Example.COM&limit=2")
            .await;
        let cursor = one["next_cursor"].as_str().unwrap().to_owned();
        let (s2, two) = w
            .call(
                "GET",
                &format!("/v1/registrations?email=a%40example.com&limit=2&cursor={cursor}"),
            )
            .await;
        let (s3, foreign) = w
            .call_as("GET", "/v1/registrations?email=a%40example.com", &other)
            .await;
        let (s4, bad) = w.call("GET", "/v1/registrations?email=nobody").await;
        let (s5, _) = w
            .call(
                "GET",
                &format!("/v1/registrations?email=b%40example.com&cursor={cursor}"),
            )
            .await;

        let ids = |v: &Value| -> Vec<String> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["registration_id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!((s1, s2, s3), (200, 200, 200));
        assert_eq!(ids(&one), [made[2].to_string(), made[1].to_string()]);
        assert_eq!(ids(&two), [made[0].to_string()]);
        assert_eq!(two["next_cursor"], Value::Null);
        assert_eq!(one["items"][0]["campaign_id"], w.campaign.as_str());
        assert_eq!(one["items"][0]["deliveries"][0]["state"], "delivered");
        assert!(
            !one.to_string().contains("example.com"),
            "the address is not echoed"
        );
        assert_eq!(foreign["items"].as_array().unwrap().len(), 0);
        assert_eq!(
            (s4, bad["errors"][0]["field"].as_str()),
            (400, Some("email"))
        );
        assert_eq!(s5, 400, "a cursor of another address does not open");
    }

    #[tokio::test]
    async fn the_accounts_deliveries_span_its_campaigns_with_the_same_filters() {
        let w = world().await;
        let second = Campaign {
            id: CampaignId::generate(),
            account_id: w.account.clone(),
            name: "Contest".into(),
            integrations: Vec::new(),
            retention_days: 30,
            created_at: 0,
        };
        w.deps.store.put_campaign(&second).await.unwrap();
        w.registration(DeliveryState::Failed, false).await;
        w.registration(DeliveryState::Delivered, false).await;
        let now = leadrelay::clock::now_ms();
        let r = Registration {
            id: RegistrationId::generate(),
            account_id: w.account.clone(),
            campaign_id: second.id.clone(),
            received_at: now,
            data: RegistrationData::default(),
            integration_ids: vec![w.integration.clone()],
            expires_at: now / 1000 + 3600,
            erased_at: None,
        };
        let d = Delivery {
            registration_id: r.id.clone(),
            integration_id: w.integration.clone(),
            campaign_id: second.id.clone(),
            provider: Provider::Webhook,
            state: DeliveryState::Delivered,
            attempts: 1,
            next_attempt_at: None,
            last: None,
            received_at: now,
            updated_at: now,
            waiting: None,
        };
        assert!(w.deps.store.create_registration(&r, &[d]).await.unwrap());
        let other = account_key(&w.deps.store, &AccountId::generate()).await;

        let (s1, all) = w.call("GET", "/v1/deliveries").await;
        let (s2, page) = w.call("GET", "/v1/deliveries?limit=2&order=oldest").await;
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let (s3, rest) = w
            .call(
                "GET",
                &format!("/v1/deliveries?limit=2&order=oldest&cursor={cursor}"),
            )
            .await;
        let (s4, delivered) = w.call("GET", "/v1/deliveries?state=delivered").await;
        let (s5, one) = w
            .call("GET", &format!("/v1/deliveries?campaign_id={}", second.id))
            .await;
        let (s6, _) = w
            .call(
                "GET",
                &format!("/v1/deliveries?campaign_id={}", CampaignId::generate()),
            )
            .await;
        let (s7, foreign) = w.call_as("GET", "/v1/deliveries", &other).await;

        let count = |v: &Value| v["items"].as_array().unwrap().len();
        assert_eq!((s1, count(&all)), (200, 3));
        assert_eq!((s2, count(&page), s3, count(&rest)), (200, 2, 200, 1));
        assert_eq!((s4, count(&delivered)), (200, 2));
        assert_eq!((s5, count(&one)), (200, 1));
        assert_eq!(one["items"][0]["registration_id"], r.id.as_str());
        assert_eq!(s6, 404, "another campaign is not found");
        assert_eq!((s7, count(&foreign)), (200, 0));
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_404_before_any_key_is_asked() {
        let w = world().await;
        let (status, body) = w.call_as("GET", "/v1/nothing", "").await;
        assert_eq!(
            (status, body["detail"].as_str()),
            (404, Some("this route does not exist"))
        );
    }
}
