//! Fake Klaviyo API (JSON:API).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /api/profile-import` | `Authorization: Klaviyo-API-Key <key>`; a `revision` header; `data.type` `profile` with an `email`, `phone_number` or `external_id` | 201 the profile (new), 200 (updated) |
//! | `POST /api/profiles` | same | 201; 409 `duplicate_profile` for an existing one |
//! | `POST /api/profile-subscription-bulk-create-jobs` | same auth; `data.type` `profile-subscription-bulk-create-job`, `attributes.profiles.data[]` | 202, no body; 404 for a list id starting `missing` |
//!
//! Refusals are JSON:API `errors[{id, status, code, title, detail, source}]`: 401
//! `not_authenticated`, 403 `permission_denied` (mode), 404 `not_found`, 400 `invalid`
//! (invalid or non-ASCII email, pointer `/data/attributes/email`; a missing revision
//! header), 429 `throttled` with `Retry-After` and `RateLimit-*` headers
//! ([`super::RETRY_AFTER_S`]), 500 an HTML page (also for `locked…`).
//! Klaviyo has no compliance refusal here: suppressed profiles are skipped by the job.

use super::{json_as, segments, text_at, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";

fn error(status: u16, code: &str, title: &str, detail: &str, source: Value) -> Reply {
    json_as(
        status,
        JSONAPI,
        &json!({"errors": [{"id": "bf03a1c2-7d44-4b7e-9a1e-2f6c5d8e9a01", "status": status, "code": code,
                            "title": title, "detail": detail, "source": source, "links": {}, "meta": {}}]}),
    )
}

enum Route {
    Import,
    Create,
    Subscribe,
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let route = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["api", "profile-import"]) => Route::Import,
        ("POST", ["api", "profiles"]) => Route::Create,
        ("POST", ["api", "profile-subscription-bulk-create-jobs"]) => Route::Subscribe,
        _ => {
            return error(
                404,
                "not_found",
                "Not found.",
                "The requested resource does not exist.",
                json!({"pointer": "/data/"}),
            )
        }
    };
    let key = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Klaviyo-API-Key "));
    if !state.key_is(key) {
        return error(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
            "Missing or invalid private key.",
            json!({"pointer": "/data/"}),
        );
    }
    if r.header("revision").is_none() {
        return error(
            400,
            "invalid",
            "Invalid input.",
            "Missing `revision` header.",
            json!({"parameter": "revision"}),
        );
    }
    let Some(body) = r.json() else {
        return error(
            400,
            "invalid",
            "Invalid input.",
            "The request body is not valid JSON.",
            json!({"pointer": "/data/"}),
        );
    };
    let email = match route {
        Route::Subscribe => {
            if body["data"]["type"] != "profile-subscription-bulk-create-job" {
                return error(
                    400,
                    "invalid",
                    "Invalid input.",
                    "'type' must be 'profile-subscription-bulk-create-job'.",
                    json!({"pointer": "/data/type"}),
                );
            }
            if text_at(&body, &["data", "relationships", "list", "data", "id"])
                .is_some_and(|l| l.starts_with("missing"))
            {
                return error(
                    404,
                    "not_found",
                    "Not found.",
                    "A list with id missing does not exist.",
                    json!({"parameter": "id"}),
                );
            }
            match text_at(
                &body,
                &[
                    "data",
                    "attributes",
                    "profiles",
                    "data",
                    "0",
                    "attributes",
                    "email",
                ],
            ) {
                Some(e) => e.to_owned(),
                None => {
                    return error(
                        400,
                        "invalid",
                        "Invalid input.",
                        "At least one profile is required.",
                        json!({"pointer": "/data/attributes/profiles"}),
                    )
                }
            }
        }
        Route::Import | Route::Create => {
            if body["data"]["type"] != "profile" {
                return error(
                    400,
                    "invalid",
                    "Invalid input.",
                    "'type' must be 'profile'.",
                    json!({"pointer": "/data/type"}),
                );
            }
            let a = &body["data"]["attributes"];
            if !["email", "phone_number", "external_id"]
                .iter()
                .any(|k| a[*k].is_string())
            {
                return error(
                    400,
                    "invalid",
                    "Invalid input.",
                    "One of email, phone_number or external_id is required.",
                    json!({"pointer": "/data/attributes"}),
                );
            }
            a["email"].as_str().unwrap_or("").to_owned()
        }
    };
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (state.contact(&email).is_some(), std::time::Duration::ZERO),
        Decision::Forbidden => {
            return error(403, "permission_denied", "You do not have permission to perform this action.", "This API key is missing required scopes.", json!({"pointer": "/data/"}))
        }
        Decision::RateLimited => {
            let wait = RETRY_AFTER_S.to_string();
            return error(
                429,
                "throttled",
                "Request was throttled.",
                &format!("Request was throttled. Expected available in {RETRY_AFTER_S} seconds."),
                json!({"pointer": "/data/"}),
            )
            .header("retry-after", wait.clone())
            .header("ratelimit-limit", "75")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", wait);
        }
        Decision::Locked | Decision::ServerError => {
            return Reply::text(500, "text/html", "<!DOCTYPE html><html><head><title>Internal Server Error</title></head><body><p>Internal Server Error</p></body></html>")
        }
        Decision::Invalid => {
            return error(400, "invalid", "Invalid input.", "Invalid email address", json!({"pointer": "/data/attributes/email"}))
        }
    };
    match route {
        Route::Subscribe => {
            let mut record = state
                .contact(&email)
                .cloned()
                .unwrap_or_else(|| json!({"email": email}));
            record["subscribed"] = json!(true);
            state.store(&email, record);
            super::empty(202).after(delay)
        }
        Route::Create if exists => {
            let id = state
                .contact(&email)
                .and_then(|c| c["_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            json_as(
                409,
                JSONAPI,
                &json!({"errors": [{"id": "bf03a1c2-7d44-4b7e-9a1e-2f6c5d8e9a01", "status": 409, "code": "duplicate_profile",
                                    "title": "Conflict.", "detail": "A profile already exists with one of these identifiers.",
                                    "source": {"pointer": "/data/attributes"}, "links": {},
                                    "meta": {"duplicate_profile_id": format!("01HW3K7Q2R8T5V9X{id}")}}]}),
            )
        }
        Route::Import | Route::Create => {
            let attributes = body["data"]["attributes"].clone();
            let id = state.store(&email, attributes.clone());
            let profile = json!({"data": {"type": "profile", "id": format!("01HW3K7Q2R8T5V9X{id}"), "attributes": attributes}});
            json_as(if exists { 200 } else { 201 }, JSONAPI, &profile).after(delay)
        }
    }
}
