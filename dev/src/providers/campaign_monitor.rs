//! Fake Campaign Monitor (createsend) API v3.3 (subscribers).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /api/v3.3/subscribers/{listid}.json` | Basic with the API key as the user name (any password); `EmailAddress`; `ConsentToTrack` one of `Yes`, `No`, `Unchanged`; `Resubscribe` yes/no when present; `CustomFields` a list of `{"Key", "Value"}` | 201 with the address as a JSON string (new and existing subscribers alike: an existing one is updated) |
//!
//! Refusals are `{"Code", "Message"}`: 401 Code 50 "Must supply a valid HTTP Basic
//! Authorization header" (none given), 401 Code 100 "Invalid API Key" (a wrong key), 403
//! (mode; Campaign Monitor documents no code for it, so none is sent), 404 (unknown
//! path), 400 Code 101 "Invalid ListID" (a list id starting `missing`), 400 Code 1
//! "Please provide a valid email address." (invalid or non-ASCII), 400 Code 204 "In
//! Suppression List" (`suppressed…`), 400 Code 400 for a malformed body (wording ours),
//! 429 Code 429 "Rate limit exceeded" with `X-RateLimit-Limit/Remaining/Reset` (reset
//! as a delta, [`super::RETRY_AFTER_S`] seconds), 500 (also for `locked…`).

use super::{basic_user, segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

fn error(status: u16, code: u16, message: &str) -> Reply {
    Reply::text(
        status,
        "application/json; charset=utf-8",
        json!({"Code": code, "Message": message}).to_string(),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let list = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["api", "v3.3", "subscribers", file]) if file.ends_with(".json") => {
            file.trim_end_matches(".json").to_owned()
        }
        _ => return error(404, 404, "Not Found"),
    };
    let Some(user) = basic_user(r) else {
        return error(
            401,
            50,
            "Must supply a valid HTTP Basic Authorization header",
        );
    };
    if !state.key_is(Some(&user)) {
        return error(401, 100, "Invalid API Key");
    }
    if list.is_empty() || list.starts_with("missing") {
        return error(400, 101, "Invalid ListID");
    }
    let Some(body) = r.json().filter(Value::is_object) else {
        return error(400, 400, "The request body could not be read as JSON");
    };
    let Some(email) = body["EmailAddress"].as_str().map(str::to_owned) else {
        return error(400, 1, "Please provide a valid email address.");
    };
    let track = body["ConsentToTrack"].as_str().unwrap_or("");
    if !["Yes", "No", "Unchanged"].contains(&track) {
        return error(400, 400, "ConsentToTrack is required: Yes, No or Unchanged");
    }
    let fields_ok = body.get("CustomFields").is_none_or(|f| {
        f.as_array()
            .is_some_and(|f| f.iter().all(|c| c["Key"].is_string()))
    });
    let resubscribe_ok = body.get("Resubscribe").is_none_or(Value::is_boolean);
    if !fields_ok || !resubscribe_ok {
        return error(
            400,
            400,
            "CustomFields must be a list of {\"Key\", \"Value\"} and Resubscribe true or false",
        );
    }
    let delay = match state.decide(&email) {
        Decision::Proceed { delay, .. } => delay,
        Decision::Suppressed => return error(400, 204, "In Suppression List"),
        Decision::Forbidden => {
            return Reply::text(
                403,
                "application/json; charset=utf-8",
                json!({"Message": "You do not have permission to access this resource"})
                    .to_string(),
            )
        }
        Decision::RateLimited => {
            return error(429, 429, "Rate limit exceeded")
                .header("x-ratelimit-limit", "1000")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return Reply::text(
                500,
                "application/json; charset=utf-8",
                json!({"Message": "An error has occurred."}).to_string(),
            )
        }
        Decision::Invalid => return error(400, 1, "Please provide a valid email address."),
    };
    state.store(&email, body.clone());
    Reply::text(
        201,
        "application/json; charset=utf-8",
        Value::String(email).to_string(),
    )
    .after(delay)
}
