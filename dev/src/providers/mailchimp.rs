//! Fake Mailchimp Marketing API v3 (list members).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `PUT /3.0/lists/{list}/members/{hash}` | Basic auth with the key as password (or Bearer); `email_address`; the hash is the MD5 of the lower-cased address; `status_if_new` for a new member | 200 the member (created or updated) |
//! | `POST /3.0/lists/{list}/members` | same; `email_address` and `status` | 200 the member; 400 "Member Exists" for an existing one |
//! | `POST /3.0/lists/{list}/members/{hash}/tags` | same; `tags[{name, status}]` | 204; 404 for an unknown member |
//!
//! Refusals are `application/problem+json`: 401 "API Key Missing" / "API Key Invalid",
//! 403 "Forbidden" (mode), 404 "Resource Not Found" (unknown path, or a list id starting
//! `missing`), 400 "Invalid Resource" ("Please provide a valid email address."), 400
//! "Member In Compliance State" (a `suppressed…` address asked to subscribe), 429 "Too
//! Many Requests" (10 simultaneous connections; no Retry-After, as Mailchimp sends
//! none), 500 "Internal Server Error" (also for `locked…`: Mailchimp has no lock answer).

use super::{basic_password, bearer, empty, json_as, segments, Decision, State};
use crate::fake::{Recorded, Reply};
use leadrelay::destination::mailchimp::subscriber_hash;
use serde_json::json;
use std::time::Duration;

const PROBLEM: &str = "application/problem+json; charset=utf-8";
const DOCS: &str = "https://mailchimp.com/developer/marketing/docs/errors/";

fn problem(status: u16, title: &str, detail: &str) -> Reply {
    json_as(
        status,
        PROBLEM,
        &json!({"type": DOCS, "title": title, "status": status, "detail": detail,
                "instance": "3f0c9a4e-8b1d-4e52-a7c6-1d2e3f4a5b6c"}),
    )
}

enum Route<'a> {
    Upsert { list: &'a str, hash: &'a str },
    Create { list: &'a str },
    Tags { list: &'a str, hash: &'a str },
}

fn route(r: &Recorded) -> Option<Route<'_>> {
    match (r.method.as_str(), segments(r).as_slice()) {
        ("PUT", ["3.0", "lists", list, "members", hash]) => Some(Route::Upsert { list, hash }),
        ("POST", ["3.0", "lists", list, "members"]) => Some(Route::Create { list }),
        ("POST", ["3.0", "lists", list, "members", hash, "tags"]) => {
            Some(Route::Tags { list, hash })
        }
        _ => None,
    }
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let Some(route) = route(r) else {
        return problem(
            404,
            "Resource Not Found",
            "The requested resource could not be found.",
        );
    };
    let given = basic_password(r).or_else(|| bearer(r).map(str::to_owned));
    if given.is_none() {
        return problem(
            401,
            "API Key Missing",
            "Your request did not include an API key.",
        );
    }
    if !state.key_is(given.as_deref()) {
        return problem(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        );
    }
    let list = match &route {
        Route::Upsert { list, .. } | Route::Create { list } | Route::Tags { list, .. } => *list,
    };
    if list.starts_with("missing") {
        return problem(
            404,
            "Resource Not Found",
            "The requested resource could not be found.",
        );
    }
    let Some(body) = r.json() else {
        return problem(
            400,
            "JSON Parse Error",
            "We encountered an unspecified JSON parsing error.",
        );
    };
    if let Route::Tags { hash, .. } = route {
        let known = state.contacts.values().any(|c| c["id"] == *hash);
        if !known {
            return problem(
                404,
                "Resource Not Found",
                "The requested resource could not be found.",
            );
        }
        let ok = body["tags"].as_array().is_some_and(|tags| {
            !tags.is_empty()
                && tags
                    .iter()
                    .all(|t| t["name"].is_string() && t["status"].is_string())
        });
        if !ok {
            return problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated.",
            );
        }
        return empty(204);
    }
    let Some(email) = body["email_address"].as_str().map(str::to_owned) else {
        return problem(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated: email_address is required.",
        );
    };
    if let Route::Upsert { hash, .. } = route {
        if subscriber_hash(&email) != hash {
            return problem(
                400,
                "Invalid Resource",
                "The subscriber hash in the URL does not match the email address in the body.",
            );
        }
    }
    let requested = match route {
        Route::Create { .. } => body["status"].as_str(),
        _ => body["status"].as_str().or(body["status_if_new"].as_str()),
    };
    let Some(requested) = requested.map(str::to_owned) else {
        return problem(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated: status is required.",
        );
    };
    if !matches!(
        requested.as_str(),
        "subscribed" | "unsubscribed" | "cleaned" | "pending" | "transactional"
    ) {
        return problem(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated: status is not allowed.",
        );
    }
    let subscribing = matches!(requested.as_str(), "subscribed" | "pending");
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        // Mailchimp refuses only to subscribe a person in a compliance state.
        Decision::Suppressed if !subscribing => (true, Duration::ZERO),
        Decision::Suppressed => {
            return problem(
                400,
                "Member In Compliance State",
                &format!("{email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."),
            )
        }
        Decision::Forbidden => {
            return problem(403, "Forbidden", "You don't have permission to access this resource.")
        }
        Decision::RateLimited => {
            return problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
        }
        Decision::Locked | Decision::ServerError => {
            return problem(
                500,
                "Internal Server Error",
                "An unexpected internal error has occurred. Please contact Support for more information.",
            )
        }
        Decision::Invalid => return problem(400, "Invalid Resource", "Please provide a valid email address."),
    };
    if exists && matches!(route, Route::Create { .. }) {
        return problem(
            400,
            "Member Exists",
            &format!("{email} is already a list member. Use PUT to insert or update list members."),
        );
    }
    let previous = state.contact(&email).cloned();
    let status = match (&previous, body["status"].as_str()) {
        (_, Some(s)) => s.to_owned(),
        (Some(p), None) => p["status"].as_str().unwrap_or("subscribed").to_owned(),
        (None, None) if exists => "subscribed".to_owned(),
        (None, None) => requested.clone(),
    };
    let member = json!({
        "id": subscriber_hash(&email),
        "email_address": email,
        "status": status,
        "merge_fields": body.get("merge_fields").cloned().unwrap_or_else(|| json!({})),
        "list_id": list,
    });
    state.store(&email, member.clone());
    Reply::json(200, member).after(delay)
}
