//! The ingest function: `POST /v1/campaigns/{campaign_id}/registrations`.
//!
//! Decodes the API Gateway request, hands it to [`leadrelay::ingest`], and maps the result:
//! 202 with the registration id and its log link once every delivery job is queued, or a
//! problem body naming what to fix.

pub mod config;

use apikit::error::ApiError;
use apikit::header_str;
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use leadrelay::ingest::{self, IngestError, IngestRequest};
use leadrelay::queue::TaskQueue;
use leadrelay::store::Store;
use serde_json::json;

/// The routes this function serves, as the OpenAPI document names them.
pub const ROUTES: &[(&str, &str)] = &[("post", "/v1/campaigns/{campaign_id}/registrations")];

/// What the handler uses: storage and the queue.
#[derive(Debug)]
pub struct Deps<S, Q> {
    /// Storage.
    pub store: S,
    /// The delivery queue.
    pub queue: Q,
}

/// Handles one request. Expected failures are responses, never `Err`.
pub async fn handler<S: Store, Q: TaskQueue>(
    deps: &Deps<S, Q>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let segments = apikit::segments(&request);
    let campaign_id = match segments.as_slice() {
        [v1, campaigns, id, registrations]
            if v1 == "v1" && campaigns == "campaigns" && registrations == "registrations" =>
        {
            id.clone()
        }
        _ => return Ok(ApiError::not_found("this route").into_response()),
    };
    if request.method() != Method::POST {
        return Ok(ApiError::method_not_allowed().into_response());
    }
    let headers = request.headers();
    let input = IngestRequest {
        campaign_id: &campaign_id,
        authorization: header_str(headers, "authorization"),
        content_type: header_str(headers, "content-type"),
        idempotency_key: header_str(headers, "idempotency-key"),
        from_leadrelay: ingest::sent_by_leadrelay(|name| headers.contains_key(name)),
        body: request.body().as_ref(),
    };
    Ok(
        match ingest::ingest(&deps.store, &deps.queue, input).await {
            Ok(accepted) => {
                let log = format!("/v1/registrations/{}", accepted.registration_id);
                tracing::info!(registration_id = %accepted.registration_id, deliveries = accepted.deliveries, replayed = accepted.replayed, "registration accepted");
                let mut response = apikit::json(
                    202,
                    &json!({
                        "registration_id": accepted.registration_id,
                        "status": "accepted",
                        "deliveries": accepted.deliveries,
                        "replayed": accepted.replayed,
                        "log": log,
                        "warnings": accepted.warnings,
                    }),
                );
                if let Ok(v) = log.parse() {
                    response.headers_mut().insert(header::LOCATION, v);
                }
                response
            }
            Err(e) => error_response(&e),
        },
    )
}

/// The response for each way ingest can refuse (mapped by [`ApiError`]).
pub fn error_response(e: &IngestError) -> Response<Body> {
    let response = ApiError::from(e).into_response();
    debug_assert!(response.status() != StatusCode::OK);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrelay::ids::{AccountId, CampaignId, IntegrationId, KeyId};
    use leadrelay::keys::{generate_key, hash_key, key_hint};
    use leadrelay::model::{ApiKey, Attached, Campaign, KeyKind};
    use leadrelay::queue::memory::MemoryQueue;
    use leadrelay::store::memory::MemoryStore;
    use leadrelay::store::{AccountStore, CampaignStore};
    use leadrelay_explain::provider::Provider;
    use serde_json::Value;

    async fn deps(integrations: usize) -> (Deps<MemoryStore, MemoryQueue>, CampaignId, String) {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let campaign = Campaign {
            id: CampaignId::generate(),
            account_id: account.clone(),
            name: "Quiz".into(),
            integrations: (0..integrations)
                .map(|_| Attached {
                    id: IntegrationId::generate(),
                    provider: Provider::Webhook,
                })
                .collect(),
            retention_days: 30,
            created_at: 0,
        };
        store.put_campaign(&campaign).await.unwrap();
        let key = generate_key(KeyKind::Ingest);
        store
            .put_key(&ApiKey {
                id: KeyId::generate(),
                kind: KeyKind::Ingest,
                account_id: account,
                campaign_id: Some(campaign.id.clone()),
                hash: hash_key(key.expose()),
                hint: key_hint(key.expose()),
                created_at: 0,
                access: Default::default(),
            })
            .await
            .unwrap();
        let deps = Deps {
            store,
            queue: MemoryQueue::new(),
        };
        (deps, campaign.id, key.expose().to_owned())
    }

    fn event(name: &str, campaign: &CampaignId, key: &str) -> Request {
        let text = std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .replace("{campaign_id}", campaign.as_str())
            .replace("{ingest_key}", key);
        lambda_http::request::from_str(&text).unwrap()
    }

    async fn body(r: Response<Body>) -> Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[tokio::test]
    async fn a_valid_registration_gets_202_with_its_log_link() {
        let (deps, campaign, key) = deps(0).await;

        let r = handler(&deps, event("registration.json", &campaign, &key))
            .await
            .unwrap();

        assert_eq!(r.status(), 202);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let b = body(r).await;
        assert_eq!(
            location,
            format!(
                "/v1/registrations/{}",
                b["registration_id"].as_str().unwrap()
            )
        );
        assert_eq!(b["warnings"][0]["code"], "email_non_ascii");
    }

    #[tokio::test]
    async fn form_posts_are_read_too() {
        let (deps, campaign, key) = deps(0).await;

        let r = handler(&deps, event("registration-form.json", &campaign, &key))
            .await
            .unwrap();

        assert_eq!(r.status(), 202);
        let stored = deps.store.all_registrations();
        assert_eq!(stored[0].data.consent.get("marketing"), Some(&true));
    }

    #[tokio::test]
    async fn bad_input_is_a_problem_naming_each_field() {
        let (deps, campaign, key) = deps(0).await;

        let r = handler(&deps, event("registration-invalid.json", &campaign, &key))
            .await
            .unwrap();

        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let b = body(r).await;
        let fields: Vec<&str> = b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["email", "consent.marketing"]);
        assert!(deps.store.all_registrations().is_empty());
    }

    #[tokio::test]
    async fn a_missing_key_is_401_and_an_unknown_route_404() {
        let (deps, campaign, _) = deps(0).await;

        let r = handler(&deps, event("registration.json", &campaign, "lr_ik_wrong"))
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");

        let mut req = event("registration.json", &campaign, "x");
        *req.uri_mut() = "/v1/nothing".parse().unwrap();
        assert_eq!(handler(&deps, req).await.unwrap().status(), 404);
    }

    #[tokio::test]
    async fn a_throttled_store_is_503_with_retry_after_and_a_problem_body() {
        for operation in ["key_by_hash", "campaign", "create_registration"] {
            let (deps, campaign, key) = deps(1).await;
            deps.store.throttle(operation);

            let r = handler(&deps, event("registration.json", &campaign, &key))
                .await
                .unwrap();

            assert_eq!(r.status(), 503, "{operation}");
            assert_eq!(r.headers()["retry-after"], "2", "{operation}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            let b = body(r).await;
            assert_eq!(b["code"], "storage_unavailable", "{operation}");
            assert!(deps.queue.is_empty(), "{operation}");
        }
    }

    #[tokio::test]
    async fn a_store_failure_that_will_not_heal_stays_a_500_without_retry_after() {
        let (deps, campaign, key) = deps(1).await;
        deps.store.fail("create_registration");

        let r = handler(&deps, event("registration.json", &campaign, &key))
            .await
            .unwrap();

        assert_eq!(r.status(), 500);
        assert!(r.headers().get("retry-after").is_none());
        assert_eq!(body(r).await["code"], "internal");
    }

    #[tokio::test]
    async fn a_queue_failure_is_503_with_retry_after() {
        let (deps, campaign, key) = deps(1).await;
        deps.queue.refuse_next(1);

        let r = handler(&deps, event("registration.json", &campaign, &key))
            .await
            .unwrap();

        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
        assert!(deps.store.all_registrations().is_empty());
    }
}
