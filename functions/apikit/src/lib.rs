//! What leadrelay's HTTP functions share: JSON and problem responses,
//! [`ApiError`](error::ApiError) (every refusal mapped to its problem once), path
//! matching, query strings, key authentication and role checks ([`caller`],
//! [`authorize`], [`visible`]) and the configuration helper.
//! Transport only: decisions live in the `leadrelay` crate.

pub mod config;
pub mod error;
pub mod problem;

use error::ApiError;
use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use leadrelay::access::{self, Need};
use leadrelay::ids::CampaignId;
use leadrelay::keys::{self, hash_key};
use leadrelay::model::{ApiKey, KeyKind};
use leadrelay::store::{Store, StoreError};
use problem::Problem;
use serde::Serialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// A response with a JSON body.
pub fn json(status: u16, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies serialize to JSON");
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .expect("a response from a valid status and header")
}

/// The response of a route: its own, or its error's problem.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// An id from the path, or a 404 for `what` when it is not one (a malformed id names
/// nothing that exists).
pub fn id<I: FromStr>(text: &str, what: &str) -> Result<I, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// What a store lookup found, a 404 for `what` when nothing, or a 500 when storage
/// failed.
pub fn found<T>(lookup: Result<Option<T>, StoreError>, what: &str) -> Result<T, ApiError> {
    lookup?.ok_or_else(|| ApiError::not_found(what))
}

/// The path's segments after an optional stage or function-URL prefix, so `/v1/...`
/// matches behind API Gateway and behind `cargo lambda watch` alike.
pub fn segments(request: &Request) -> Vec<String> {
    let path = request.uri().path();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = parts.iter().position(|s| *s == "v1").unwrap_or(parts.len());
    parts[start..].iter().map(|s| (*s).to_owned()).collect()
}

/// The query string's parameters (the last of a repeated name wins).
pub fn query(request: &Request) -> BTreeMap<String, String> {
    request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// A header as text.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Why a caller is not let in.
#[derive(Debug)]
pub enum AuthError {
    /// No key or not a valid account key.
    Unauthorized,
    /// Storage failed.
    Store(StoreError),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => ApiError::unauthorized(),
            AuthError::Store(e) => e.into(),
        }
    }
}

/// The account or platform key a request presents (ingest keys are not callers of
/// these APIs); what it may do is [`authorize`]'s to say.
pub async fn caller<S: Store>(store: &S, request: &Request) -> Result<ApiKey, AuthError> {
    let token = keys::bearer(header_str(request.headers(), "authorization"))
        .ok_or(AuthError::Unauthorized)?;
    let kind = KeyKind::of_key(token).filter(|k| *k != KeyKind::Ingest);
    let kind = kind.ok_or(AuthError::Unauthorized)?;
    store
        .key_by_hash(&hash_key(token))
        .await
        .map_err(AuthError::Store)?
        .filter(|k| k.kind == kind)
        .ok_or(AuthError::Unauthorized)
}

/// Lets `key` call a route that needs `need`, or refuses it: 403 naming the role needed.
pub fn authorize(key: &ApiKey, need: Need) -> Result<(), ApiError> {
    access::authorize(key, need).map_err(ApiError::refused)
}

/// That a campaign-restricted key may see `campaign`: a 404 for `what` otherwise, as if
/// it did not exist.
pub fn visible(key: &ApiKey, campaign: &CampaignId, what: &str) -> Result<(), ApiError> {
    if key.access.sees(campaign) {
        Ok(())
    } else {
        Err(ApiError::not_found(what))
    }
}

/// The request body as JSON, or a 400/413 problem naming what is wrong.
pub fn json_body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > 64 * 1024 {
        return Err(ApiError::too_large("at most 64 KiB"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::problem(Problem::new(
            400,
            "invalid_json",
            "Invalid JSON",
            format!("the body is not the expected JSON: {e}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_skip_stage_and_function_url_prefixes() {
        let r = Request::new(Body::Empty);
        let mut r = r;
        *r.uri_mut() = "/lambda-url/logs/v1/registrations/reg_1?x=1"
            .parse()
            .unwrap();
        assert_eq!(segments(&r), ["v1", "registrations", "reg_1"]);
        *r.uri_mut() = "/v1/campaigns/c/deliveries?outcome=failed&limit=5"
            .parse()
            .unwrap();
        assert_eq!(segments(&r), ["v1", "campaigns", "c", "deliveries"]);
        assert_eq!(query(&r).get("limit").map(String::as_str), Some("5"));
    }

    #[tokio::test]
    async fn callers_are_account_or_platform_keys_and_a_refusal_names_the_role() {
        use leadrelay::access::Role;
        use leadrelay::ids::AccountId;
        use leadrelay::manage::keys::issue_key;
        use leadrelay::store::memory::MemoryStore;
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let mut keys = Vec::new();
        for kind in [KeyKind::Account, KeyKind::Platform, KeyKind::Ingest] {
            let made = issue_key(&store, &account, kind, None).await.unwrap();
            keys.push(made);
        }
        let request = |token: &str| {
            let mut r = Request::new(Body::Empty);
            r.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            r
        };
        let presented = |i: usize| request(keys[i].1.expose());

        let account_key = caller(&store, &presented(0)).await.unwrap();
        let platform = caller(&store, &presented(1)).await.unwrap();
        let ingest = caller(&store, &presented(2)).await;
        let unknown = caller(&store, &request("lr_ak_unknown")).await;
        let refused = authorize(&platform, Need::Role(Role::Operator)).unwrap_err();

        assert_eq!(account_key.id, keys[0].0.id);
        assert_eq!(platform.kind, KeyKind::Platform);
        assert!(matches!(ingest, Err(AuthError::Unauthorized)));
        assert!(matches!(unknown, Err(AuthError::Unauthorized)));
        assert!(authorize(&account_key, Need::Unrestricted(Role::Admin)).is_ok());
        let r = refused.into_response();
        let body: serde_json::Value = serde_json::from_slice(r.body().as_ref()).unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(
            (body["code"].as_str(), body["required_role"].as_str()),
            (Some("forbidden"), Some("operator"))
        );
    }

    #[test]
    fn a_malformed_id_or_an_absent_record_is_a_404_and_a_store_failure_a_500() {
        let bad: Result<leadrelay::ids::CampaignId, _> = id("nope", "this campaign");
        assert_eq!(bad.unwrap_err().status(), 404);
        assert_eq!(found(Ok(Some(3)), "x").unwrap(), 3);
        assert_eq!(found::<u8>(Ok(None), "x").unwrap_err().status(), 404);
        let failed = StoreError::Corrupt {
            pk: "p".into(),
            sk: "s".into(),
            reason: "r".into(),
        };
        assert_eq!(found::<u8>(Err(failed), "x").unwrap_err().status(), 500);
    }
}
