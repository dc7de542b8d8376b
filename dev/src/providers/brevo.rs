//! Fake Brevo contacts API.
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /v3/contacts` | `api-key` header; an `email`, `SMS` attribute or `ext_id`; `listIds` numbers | 201 `{"id"}` (new); 204 (existing, `updateEnabled: true`); 400 `duplicate_parameter` (existing, `updateEnabled` false or absent) |
//!
//! Refusals are `{"code", "message"}`: 401 `unauthorized` "Key not found", 403
//! `permission_denied` (mode), 404 `document_not_found` (unknown path), 400
//! `missing_parameter` (no identifier), 400 `invalid_parameter` "Invalid email address"
//! (invalid or non-ASCII), 429 `too_many_requests` with `x-sib-ratelimit-*` (reset in
//! [`super::RETRY_AFTER_S`] seconds), 500 (also for `locked…`).

use super::{empty, segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({"code": code, "message": message}))
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    if !(r.method == "POST" && segments(r) == ["v3", "contacts"]) {
        return error(
            404,
            "document_not_found",
            "The requested resource does not exist",
        );
    }
    if !state.key_is(r.header("api-key")) {
        return error(401, "unauthorized", "Key not found");
    }
    let Some(body) = r.json() else {
        return error(400, "bad_request", "Malformed JSON body");
    };
    let email = body["email"].as_str().map(str::to_owned);
    let identified =
        email.is_some() || body["ext_id"].is_string() || body["attributes"]["SMS"].is_string();
    if !identified {
        return error(400, "missing_parameter", "email or SMS is required");
    }
    if body
        .get("listIds")
        .is_some_and(|l| !l.as_array().is_some_and(|l| l.iter().all(Value::is_u64)))
    {
        return error(
            400,
            "invalid_parameter",
            "listIds should be an array of integers",
        );
    }
    let email = email.unwrap_or_default();
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (true, std::time::Duration::ZERO),
        Decision::Forbidden => {
            return error(
                403,
                "permission_denied",
                "Your API key does not have the permission to perform this action",
            )
        }
        Decision::RateLimited => {
            return error(
                429,
                "too_many_requests",
                "The expected rate limit is exceeded.",
            )
            .header("x-sib-ratelimit-limit", "10")
            .header("x-sib-ratelimit-remaining", "0")
            .header("x-sib-ratelimit-reset", RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return error(500, "internal_error", "Internal server error")
        }
        Decision::Invalid => return error(400, "invalid_parameter", "Invalid email address"),
    };
    let update = body["updateEnabled"].as_bool().unwrap_or(false);
    if exists && !update {
        return Reply::json(
            400,
            json!({"code": "duplicate_parameter",
                   "message": "Unable to create contact, email is already associated with another Contact",
                   "metadata": {"duplicate_identifiers": ["email"]}}),
        );
    }
    let id = state.store(&email, body.clone());
    if exists {
        empty(204).after(delay)
    } else {
        Reply::json(201, json!({"id": id.parse::<u64>().unwrap_or(21)})).after(delay)
    }
}
