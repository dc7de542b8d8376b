//! Fake ActiveCampaign API v3 (contacts).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /api/3/contact/sync` | `Api-Token` header; `contact.email` | 201 `{"contact": {…, "id"}}` (new), 200 (updated) |
//! | `POST /api/3/contacts` | same | 201; 422 `duplicate` "Email address already exists in the system." |
//! | `POST /api/3/contactLists` | same header; `contactList.list` a list that exists (ids under [`MISSING_LISTS`]), `contactList.contact` the id of a contact it holds, `contactList.status` 1 or 2 | 200 `{"contacts": [...], "contactList": {"contact", "list", "status", "id"}}`; 404 "No Result found for List with id …" / "… for Contact with id …"; 422 `status_invalid` |
//!
//! The fake keeps each contact's list memberships under `lists` (list id → status, as
//! text), across later syncs of the contact.
//!
//! Refusals: 403 `{"message": "You do not have permission to access this resource"}`
//! (a wrong or missing token, and the forbidden mode: ActiveCampaign answers a bad token
//! so), 404 `{"message": "No Result found for …"}` (unknown path), 422
//! `errors[{title, detail, code, source.pointer}]`: `field_missing` (no email),
//! `email_invalid` (invalid or non-ASCII); 429 "Too Many Requests" with `Retry-After`
//! ([`super::RETRY_AFTER_S`]; the API allows 5 requests a second), 500
//! (also for `locked…`).

use super::{segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};

fn errors(status: u16, title: &str, code: &str) -> Reply {
    Reply::json(
        status,
        json!({"errors": [{"title": title, "detail": "", "code": code, "source": {"pointer": "/data/attributes/email"}}]}),
    )
}

/// List ids from this one on do not exist at the fake.
pub const MISSING_LISTS: u64 = 900;

fn forbidden() -> Reply {
    Reply::json(
        403,
        json!({"message": "You do not have permission to access this resource"}),
    )
}

fn not_found(what: &str, id: &Value) -> Reply {
    let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
    Reply::json(
        404,
        json!({"message": format!("No Result found for {what} with id {id}")}),
    )
}

/// A number sent as a number or as text (ActiveCampaign takes both).
fn whole(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `POST /api/3/contactLists`: subscribes (1) or unsubscribes (2) a contact.
fn contact_list(state: &mut State, r: &Recorded) -> Reply {
    if !state.key_is(r.header("api-token")) {
        return forbidden();
    }
    let Some(body) = r.json() else {
        return Reply::json(
            400,
            json!({"message": "The request body is not valid JSON"}),
        );
    };
    let link = &body["contactList"];
    let (list, contact, status) = (&link["list"], &link["contact"], &link["status"]);
    if !whole(list).is_some_and(|l| l > 0 && l < MISSING_LISTS) {
        return not_found("List", list);
    }
    let Some(email) = whole(contact).and_then(|id| {
        state
            .contacts
            .iter()
            .find(|(_, c)| c["_id"].as_str() == Some(id.to_string().as_str()))
            .map(|(email, _)| email.clone())
    }) else {
        return not_found("Contact", contact);
    };
    let Some(status) = whole(status).filter(|s| matches!(s, 1 | 2)) else {
        return errors(
            422,
            "The status must be 1 (active) or 2 (unsubscribed).",
            "status_invalid",
        );
    };
    match state.decide(&email) {
        Decision::Forbidden => return forbidden(),
        Decision::RateLimited => {
            return Reply::json(429, json!({"message": "Too Many Requests"}))
                .header("retry-after", RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return Reply::json(500, json!({"message": "An unexpected error occurred"}))
        }
        Decision::Proceed { .. } | Decision::Suppressed | Decision::Invalid => {}
    }
    let (list, status) = (
        whole(list).unwrap_or_default().to_string(),
        status.to_string(),
    );
    let record = state.contacts.get_mut(&email).expect("found above");
    if !record["lists"].is_object() {
        record["lists"] = json!({});
    }
    record["lists"][&list] = json!(status);
    let id = record["_id"].clone();
    let mut shown = record.clone();
    if let Value::Object(m) = &mut shown {
        m.remove("_id");
        m.remove("lists");
        m.insert("id".into(), id.clone());
    }
    Reply::json(
        200,
        json!({"contacts": [shown], "contactList": {"contact": id, "list": list, "status": status, "id": "19"}}),
    )
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let sync = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["api", "3", "contact", "sync"]) => true,
        ("POST", ["api", "3", "contacts"]) => false,
        ("POST", ["api", "3", "contactLists"]) => return contact_list(state, r),
        _ => {
            return Reply::json(
                404,
                json!({"message": format!("No Result found for route {}", r.path)}),
            )
        }
    };
    if !state.key_is(r.header("api-token")) {
        return forbidden();
    }
    let Some(body) = r.json() else {
        return Reply::json(
            400,
            json!({"message": "The request body is not valid JSON"}),
        );
    };
    let Some(email) = body["contact"]["email"].as_str().map(str::to_owned) else {
        return errors(422, "The contact email was not provided.", "field_missing");
    };
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (true, std::time::Duration::ZERO),
        Decision::Forbidden => return forbidden(),
        Decision::RateLimited => {
            return Reply::json(429, json!({"message": "Too Many Requests"}))
                .header("retry-after", RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return Reply::json(500, json!({"message": "An unexpected error occurred"}))
        }
        Decision::Invalid => {
            return Reply::json(
                422,
                json!({"errors": [{"title": "Contact Email Address is not valid.", "detail": "", "code": "email_invalid",
                                   "error": "must_be_valid_email_address", "source": {"pointer": "/data/attributes/email"}}]}),
            )
        }
    };
    if exists && !sync {
        return errors(
            422,
            "Email address already exists in the system.",
            "duplicate",
        );
    }
    let mut contact = body["contact"].clone();
    let mut record = contact.clone();
    if let Some(lists) = state.contact(&email).map(|c| c["lists"].clone()) {
        if lists.is_object() {
            record["lists"] = lists;
        }
    }
    let id = state.store(&email, record);
    contact["id"] = json!(id);
    contact["cdate"] = json!("2026-05-04T04:12:31-05:00");
    Reply::json(if exists { 200 } else { 201 }, json!({"contact": contact})).after(delay)
}
