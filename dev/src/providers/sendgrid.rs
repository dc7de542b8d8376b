//! Fake SendGrid Marketing Contacts API.
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `PUT /v3/marketing/contacts` | Bearer key; `contacts[]` each with an `email` (or another identifier); `list_ids` text | 202 `{"job_id": …}` (new and existing contacts alike: the import is queued) |
//!
//! Refusals are `{"errors": [{"field", "message"}]}`: 401 "authorization required", 403
//! "access forbidden" (mode), 404 (unknown path; a list id starting `missing`), 400
//! `contacts[0].email` "email address is invalid" (invalid or non-ASCII), 429 "too many
//! requests" with `X-RateLimit-Limit/Remaining/Reset` (reset
//! [`super::RETRY_AFTER_S`] from now), 500 "internal server error" (also
//! for `locked…`).

use super::{bearer, now_s, segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

fn errors(status: u16, field: Value, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"errors": [{"field": field, "message": message}]}),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    if !(r.method == "PUT" && segments(r) == ["v3", "marketing", "contacts"]) {
        return errors(404, Value::Null, "resource not found");
    }
    if !state.key_is(bearer(r)) {
        return errors(401, Value::Null, "authorization required");
    }
    let Some(body) = r.json() else {
        return errors(400, json!(""), "invalid JSON");
    };
    if let Some(lists) = body.get("list_ids") {
        let Some(lists) = lists.as_array().filter(|l| l.iter().all(Value::is_string)) else {
            return errors(
                400,
                json!("list_ids"),
                "list_ids must be an array of strings",
            );
        };
        if let Some((i, _)) = lists
            .iter()
            .enumerate()
            .find(|(_, l)| l.as_str().is_some_and(|l| l.starts_with("missing")))
        {
            return Reply::json(
                404,
                json!({"errors": [{"field": format!("list_ids[{i}]"), "message": "list does not exist"}], "id": "f3c2b1a0"}),
            );
        }
    }
    let Some(contact) = body["contacts"].as_array().and_then(|c| c.first()) else {
        return errors(400, json!("contacts"), "at least one contact is required");
    };
    let identified = ["email", "phone_number_id", "external_id", "anonymous_id"]
        .iter()
        .any(|k| contact[*k].is_string());
    if !identified {
        return errors(
            400,
            json!("contacts[0]"),
            "contact must have at least one identifier",
        );
    }
    let email = contact["email"].as_str().unwrap_or("").to_owned();
    let delay = match state.decide(&email) {
        Decision::Proceed { delay, .. } => delay,
        Decision::Suppressed => std::time::Duration::ZERO,
        Decision::Forbidden => return errors(403, Value::Null, "access forbidden"),
        Decision::RateLimited => {
            return errors(429, Value::Null, "too many requests")
                .header("x-ratelimit-limit", "3")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", (now_s() + RETRY_AFTER_S).to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return errors(500, Value::Null, "internal server error")
        }
        Decision::Invalid => {
            return errors(400, json!("contacts[0].email"), "email address is invalid")
        }
    };
    let mut record = contact.clone();
    record["list_ids"] = body.get("list_ids").cloned().unwrap_or(json!([]));
    state.store(&email, record);
    Reply::json(
        202,
        json!({"job_id": "2387e363-4104-4225-8960-4a5758492351"}),
    )
    .after(delay)
}
