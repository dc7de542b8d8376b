//! Fake Salesforce REST API (Lead and Contact sObjects).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `PATCH /services/data/vNN.N/sobjects/{Lead\|Contact}/{field}/{value}` | Bearer token; a JSON object without the external id field; a new Lead needs `LastName` and `Company`, a new Contact `LastName` | 201 `{"id", "success": true, "errors": [], "created": true}` (new), 200 with `"created": false` (updated) |
//! | `POST /services/data/vNN.N/sobjects/{Lead\|Contact}` | same, the external id in the body (a field ending `__c` holding the address) | 201; 400 `DUPLICATE_VALUE` for an existing record |
//! | `POST /services/oauth2/token` | a form body: `grant_type=refresh_token`, the app's `client_id`, its `client_secret` (when the app has one), its `refresh_token` ([`OAuthApp`], set with [`super::FakeProvider::set_oauth_app`]) | 200 `{"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}`, the instance being the fake itself; 400 `{"error", "error_description"}`: `unsupported_grant_type`, `invalid_client_id`, `invalid_client`, `invalid_grant` "expired access/refresh token" |
//!
//! The record endpoints accept the fake's key and every access token it issued.
//!
//! Refusals are arrays of `{message, errorCode, fields}`: 401 `INVALID_SESSION_ID`
//! (with `WWW-Authenticate: Token`), 400 `INSUFFICIENT_ACCESS_OR_READONLY` (mode), 404
//! `NOT_FOUND` (unknown object or path), 400 `REQUIRED_FIELD_MISSING`, 400
//! `INVALID_FIELD` (the external id in a PATCH body), 400 `INVALID_EMAIL_ADDRESS`
//! (invalid or non-ASCII), 403 `REQUEST_LIMIT_EXCEEDED` with `Sforce-Limit-Info`
//! (Salesforce's rate limit; no Retry-After), 400 `UNABLE_TO_LOCK_ROW`, 500
//! `UNKNOWN_EXCEPTION`.

use super::{bearer, decode_segment, segments, Decision, State};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Map, Value};

const JSON: &str = "application/json;charset=UTF-8";

fn errors(status: u16, code: &str, message: &str, fields: &[&str]) -> Reply {
    super::json_as(
        status,
        JSON,
        &json!([{"message": message, "errorCode": code, "fields": fields}]),
    )
}

/// The connected app a fake Salesforce exchanges refresh tokens for.
#[derive(Clone)]
pub struct OAuthApp {
    /// Its consumer key.
    pub client_id: String,
    /// Its consumer secret; `None` when the app does not require it.
    pub client_secret: Option<String>,
    /// The refresh token it accepts.
    pub refresh_token: String,
    /// What every access token it issues starts with.
    pub token_prefix: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp").finish_non_exhaustive()
    }
}

fn oauth_error(error: &str, description: &str) -> Reply {
    super::json_as(
        400,
        JSON,
        &json!({"error": error, "error_description": description}),
    )
}

/// The pairs of a form body (`+` and `%XX` decoded).
pub(crate) fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let decode = |s: &str| decode_segment(&s.replace('+', " "));
            (decode(k), decode(v))
        })
        .collect()
}

/// `POST /services/oauth2/token`: the refresh token flow.
fn token(state: &mut State, r: &Recorded) -> Reply {
    let fields = form(&r.body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let form_type = r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form_type || get("grant_type") != Some("refresh_token") {
        return oauth_error("unsupported_grant_type", "grant type not supported");
    }
    let Some(app) = state.oauth.clone() else {
        return oauth_error("invalid_client_id", "client identifier invalid");
    };
    if get("client_id") != Some(app.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if app
        .client_secret
        .as_deref()
        .is_some_and(|secret| get("client_secret") != Some(secret))
    {
        return oauth_error("invalid_client", "invalid client credentials");
    }
    if get("refresh_token") != Some(app.refresh_token.as_str()) {
        return oauth_error("invalid_grant", "expired access/refresh token");
    }
    let access_token = format!("{}{}", app.token_prefix, state.issued.len() + 1);
    state.issued.push(access_token.clone());
    let instance = format!("http://{}", r.header("host").unwrap_or("127.0.0.2"));
    super::json_as(
        200,
        JSON,
        &json!({
            "access_token": access_token,
            "instance_url": instance,
            "id": "https://login.salesforce.com/id/00D5g000004XyZ1EAI/0055g00000ABcdEAAT",
            "token_type": "Bearer",
            "issued_at": super::now_s().saturating_mul(1000).to_string(),
            "signature": "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg="
        }),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let path = segments(r);
    if let ("POST", ["services", "oauth2", "token"]) = (r.method.as_str(), path.as_slice()) {
        return token(state, r);
    }
    let (object, upsert_key) = match (r.method.as_str(), path.as_slice()) {
        ("PATCH", ["services", "data", v, "sobjects", object, field, value])
            if v.starts_with('v') =>
        {
            (*object, Some(((*field).to_owned(), decode_segment(value))))
        }
        ("POST", ["services", "data", v, "sobjects", object]) if v.starts_with('v') => {
            (*object, None)
        }
        _ => {
            return errors(
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                &[],
            )
        }
    };
    let issued = bearer(r).is_some_and(|t| state.issued.iter().any(|i| i == t));
    if !issued && !state.key_is(bearer(r)) {
        return errors(401, "INVALID_SESSION_ID", "Session expired or invalid", &[])
            .header("www-authenticate", "Token");
    }
    if !matches!(object, "Lead" | "Contact") {
        return errors(
            404,
            "NOT_FOUND",
            "The requested resource does not exist",
            &[],
        );
    }
    let Some(Value::Object(record)) = r.json() else {
        return errors(
            400,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object",
            &[],
        );
    };
    if let Some((field, _)) = &upsert_key {
        if record.contains_key(field) {
            return errors(
                400,
                "INVALID_FIELD",
                &format!("The external id field {field} must not be set in the request body when it is in the URL"),
                &[field],
            );
        }
    }
    let key = match &upsert_key {
        Some((_, value)) => value.clone(),
        None => record
            .iter()
            .find(|(k, v)| k.ends_with("__c") && v.as_str().is_some_and(|s| s.contains('@')))
            .or_else(|| record.get_key_value("Email"))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
            .to_owned(),
    };
    let email = record
        .get("Email")
        .and_then(Value::as_str)
        .map_or_else(|| key.clone(), str::to_owned);
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists || state.contact(&key).is_some(), delay),
        Decision::Suppressed => (true, std::time::Duration::ZERO),
        Decision::Forbidden => {
            return errors(400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", &[])
        }
        Decision::RateLimited => {
            return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", &[])
                .header("sforce-limit-info", "api-usage=100012/100000")
        }
        Decision::Locked => {
            return errors(
                400,
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record or 1 records: 00Q5g00000AbCdEAAV",
                &[],
            )
        }
        Decision::ServerError => {
            return errors(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1907365443-46218 (-1247301463)",
                &[],
            )
        }
        Decision::Invalid => {
            return errors(400, "INVALID_EMAIL_ADDRESS", &format!("Email: invalid email address: {email}"), &["Email"])
        }
    };
    if exists && upsert_key.is_none() {
        let id = state
            .contact(&key)
            .and_then(|c| c["_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return errors(
            400,
            "DUPLICATE_VALUE",
            &format!("duplicate value found: external id duplicates value on record with id: {id}"),
            &[],
        );
    }
    if !exists {
        let required: &[&str] = if object == "Lead" {
            &["LastName", "Company"]
        } else {
            &["LastName"]
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|f| {
                record
                    .get(*f)
                    .and_then(Value::as_str)
                    .is_none_or(|v| v.trim().is_empty())
            })
            .collect();
        if !missing.is_empty() {
            return errors(
                400,
                "REQUIRED_FIELD_MISSING",
                &format!("Required fields are missing: [{}]", missing.join(", ")),
                &missing,
            );
        }
    }
    let mut stored: Map<String, Value> = state
        .contact(&key)
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    stored.extend(record);
    let id = state.store(&key, Value::Object(stored));
    let sf_id = format!("00Q5g0000{id}");
    super::json_as(
        if exists { 200 } else { 201 },
        JSON,
        &json!({"id": sf_id, "success": true, "errors": [], "created": !exists}),
    )
    .after(delay)
}
