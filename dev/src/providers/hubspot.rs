//! Fake HubSpot CRM v3 (contacts).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /crm/v3/objects/contacts/batch/upsert` | Bearer token; `inputs[]` of `{idProperty: "email", id, properties}` | 200 `{"status": "COMPLETE", "results": [{"id", "properties", "new"}]}` |
//! | `POST /crm/v3/objects/contacts` | Bearer token; `properties.email` | 201 the contact; 409 `CONFLICT` "Contact already exists. Existing ID: …" |
//!
//! Refusals are HubSpot's error JSON (`status`, `message`, `correlationId`, `category`):
//! 401 `INVALID_AUTHENTICATION`, 403 `MISSING_SCOPES` (mode), 404 `OBJECT_NOT_FOUND`
//! (unknown path), 400 `VALIDATION_ERROR` with the nested `INVALID_EMAIL` list (invalid
//! or non-ASCII addresses), 423 `LOCKED`, 429 `RATE_LIMIT` (`TEN_SECONDLY_ROLLING`, with
//! the `X-HubSpot-RateLimit-*` headers and no Retry-After), 502 (an HTML gateway page,
//! HubSpot's processing-limit answer). HubSpot has no compliance refusal on contacts:
//! `suppressed…` addresses are stored like any other.

use super::{bearer, json_as, segments, Decision, State};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

const JSON: &str = "application/json;charset=utf-8";
const CORRELATION: &str = "1b7c2f0e-9d3a-4c8e-b1f2-6a5d4e3c2b1a";

pub(crate) fn error(status: u16, category: &str, message: &str) -> Reply {
    json_as(
        status,
        JSON,
        &json!({"status": "error", "message": message, "correlationId": CORRELATION, "category": category}),
    )
}

pub(crate) fn unauthorized() -> Reply {
    error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

pub(crate) fn missing_scopes(scope: &str) -> Reply {
    json_as(
        403,
        JSON,
        &json!({"status": "error",
                "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "correlationId": CORRELATION, "category": "MISSING_SCOPES",
                "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": [scope]}}]}),
    )
}

pub(crate) fn rate_limited() -> Reply {
    json_as(
        429,
        JSON,
        &json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT", "correlationId": CORRELATION, "policyName": "TEN_SECONDLY_ROLLING"}),
    )
    .header("x-hubspot-ratelimit-max", "190")
    .header("x-hubspot-ratelimit-remaining", "0")
    .header("x-hubspot-ratelimit-interval-milliseconds", "10000")
}

pub(crate) fn bad_gateway() -> Reply {
    Reply::text(
        502,
        "text/html",
        "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><p>cloudflare</p></body></html>",
    )
}

fn invalid_email(email: &str) -> Reply {
    let inner = json!([{"isValid": false, "message": format!("Email address {email} is invalid"),
                        "error": "INVALID_EMAIL", "name": "email"}]);
    error(
        400,
        "VALIDATION_ERROR",
        &format!("Property values were not valid: {inner}"),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let upsert = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["crm", "v3", "objects", "contacts", "batch", "upsert"]) => true,
        ("POST", ["crm", "v3", "objects", "contacts"]) => false,
        _ => return error(404, "OBJECT_NOT_FOUND", "resource not found"),
    };
    if !state.key_is(bearer(r)) {
        return unauthorized();
    }
    let Some(body) = r.json() else {
        return error(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON on line 1, column 1: Cannot build, input is not JSON",
        );
    };
    let (email, properties) = if upsert {
        let Some(input) = body["inputs"].as_array().and_then(|i| i.first()) else {
            return error(
                400,
                "VALIDATION_ERROR",
                "Invalid input JSON: inputs is required",
            );
        };
        if input["idProperty"] != "email"
            || !input["id"].is_string()
            || !input["properties"].is_object()
        {
            return error(
                400,
                "VALIDATION_ERROR",
                "Invalid input JSON: each input needs idProperty, id and properties",
            );
        }
        (
            input["id"].as_str().unwrap_or("").to_owned(),
            input["properties"].clone(),
        )
    } else {
        let Some(props) = body["properties"].as_object() else {
            return error(
                400,
                "VALIDATION_ERROR",
                "Invalid input JSON: properties is required",
            );
        };
        (
            props
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            body["properties"].clone(),
        )
    };
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (state.contact(&email).is_some(), std::time::Duration::ZERO),
        Decision::Forbidden => return missing_scopes("crm.objects.contacts.write"),
        Decision::RateLimited => return rate_limited(),
        Decision::Locked => {
            return error(423, "LOCKED", "Object is locked, please try again later.")
        }
        Decision::ServerError => return bad_gateway(),
        Decision::Invalid => return invalid_email(&email),
    };
    if exists && !upsert {
        let id = state
            .contact(&email)
            .and_then(|c| c["_id"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "37765128953".into());
        return error(
            409,
            "CONFLICT",
            &format!("Contact already exists. Existing ID: {id}"),
        );
    }
    let id = state.store(&email, json!({"properties": properties}));
    let now = "2026-05-04T09:12:31.512Z";
    let reply = if upsert {
        Reply::json(
            200,
            json!({"status": "COMPLETE", "results": [{"id": id, "properties": properties, "new": !exists,
                   "createdAt": now, "updatedAt": now, "archived": false}],
                   "startedAt": now, "completedAt": now}),
        )
    } else {
        Reply::json(
            201,
            json!({"id": id, "properties": properties, "createdAt": now, "archived": false}),
        )
    };
    reply.after(delay)
}
