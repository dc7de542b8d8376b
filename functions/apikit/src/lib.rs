//! What leadrelay's HTTP functions share: JSON and problem responses, path matching,
//! query strings, and account-key authentication. Transport only: decisions live in
//! the `leadrelay` crate.

pub mod config;

use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::{Body, Request, Response};
use leadrelay::keys::{self, hash_key};
use leadrelay::model::{ApiKey, KeyKind};
use leadrelay::problem::{self, Problem};
use leadrelay::store::{Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

/// A response with a JSON body.
pub fn json(status: u16, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response bodies serialize to JSON");
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .expect("a response from a valid status and header")
}

/// A problem response.
pub fn problem(p: &Problem) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, problem::CONTENT_TYPE);
    if p.status == 401 {
        builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
    }
    builder
        .body(Body::Text(p.to_json()))
        .expect("a response from a valid status and header")
}

/// A 500 for a storage or queue failure: logged here once, no detail to the caller.
pub fn internal(error: &dyn std::error::Error) -> Response<Body> {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(error = %chain, "request failed");
    problem(&Problem::internal())
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

impl AuthError {
    /// The response for it.
    pub fn response(&self) -> Response<Body> {
        match self {
            AuthError::Unauthorized => problem(&Problem::new(
                401,
                "unauthorized",
                "Unauthorized",
                "send 'Authorization: Bearer <account key>'",
            )),
            AuthError::Store(e) => internal(e),
        }
    }
}

/// The account key a request presents.
pub async fn account_key<S: Store>(store: &S, request: &Request) -> Result<ApiKey, AuthError> {
    let token = keys::bearer(header_str(request.headers(), "authorization"))
        .ok_or(AuthError::Unauthorized)?;
    if KeyKind::of_key(token) != Some(KeyKind::Account) {
        return Err(AuthError::Unauthorized);
    }
    store
        .key_by_hash(&hash_key(token))
        .await
        .map_err(AuthError::Store)?
        .filter(|k| k.kind == KeyKind::Account)
        .ok_or(AuthError::Unauthorized)
}

/// The request body as JSON, or a 400/422 problem naming what is wrong.
// The error is the response itself, built once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub fn json_body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, Response<Body>> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > 64 * 1024 {
        return Err(problem(&Problem::new(
            413,
            "too_large",
            "Body too large",
            "at most 64 KiB",
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        problem(&Problem::new(
            400,
            "invalid_json",
            "Invalid JSON",
            format!("the body is not the expected JSON: {e}"),
        ))
    })
}

/// 404 for a route or resource that does not exist (or belongs to someone else).
pub fn not_found(what: &str) -> Response<Body> {
    problem(&Problem::new(
        404,
        "not_found",
        "Not found",
        format!("{what} does not exist"),
    ))
}

/// 405 for a known path with another method.
pub fn method_not_allowed() -> Response<Body> {
    problem(&Problem::new(
        405,
        "method_not_allowed",
        "Method not allowed",
        "this path does not take that method",
    ))
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
}
