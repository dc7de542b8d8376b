//! Fake Mailjet Email API v3 (contacts).
//!
//! The key the fake accepts is the whole Basic pair, `api_key:secret_key`.
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /v3/REST/contactslist/{id}/managecontact` | Basic key pair; `Email`; `Action` one of `addforce`, `addnoforce`, `remove`, `unsub`; `Properties` an object | 201 `{"Count": 1, "Data": [{"ContactID", "Email", "Action", "Name", "Properties"}], "Total": 1}` (new and existing contacts alike: an existing one is updated) |
//! | `POST /v3/REST/contact` | Basic key pair; `Email` | 201 `{"Count": 1, "Data": [{"ID", "Email", "Name", …}], "Total": 1}`; 400 `MJ18` "A Contact resource with value … for Email already exists." (existing) |
//! | `PUT /v3/REST/contactdata/{id or email}` | Basic key pair; `Data` a list of `{"Name", "Value"}`; the contact exists | 200 `{"Count": 1, "Data": [{"ContactID", "Data", "ID"}], "Total": 1}`; 304 with no body when the contact already holds exactly these values |
//!
//! Refusals are `{"ErrorInfo": "", "ErrorMessage", "StatusCode"}`: 401 "API key
//! authentication/authorization failure…" (a wrong or missing pair), 403 (mode), 404
//! "Object not found" (unknown path, a list id that is not a number or starts with
//! `missing`, a contact that does not exist), 400 "Invalid json input…" (a malformed
//! body), 400 "Email … is not a valid email address" (invalid or non-ASCII), 429 "Too
//! many requests" with `Retry-After` ([`super::RETRY_AFTER_S`]), 500 "An Unexpected
//! Error occurred during API request" with an `ErrorIdentifier` (also for `locked…`).

use super::{basic_pair, decode_segment, empty, segments, Decision, State, RETRY_AFTER_S};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Value};
use std::time::Duration;

fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"ErrorInfo": "", "ErrorMessage": message, "StatusCode": status}),
    )
}

/// The refusal a decision other than `Proceed` gets, or whether the contact exists.
fn decided(state: &mut State, email: &str) -> Result<(bool, Duration), Reply> {
    match state.decide(email) {
        Decision::Proceed { exists, delay } => Ok((exists, delay)),
        Decision::Suppressed => Ok((true, Duration::ZERO)),
        Decision::Forbidden => Err(error(
            403,
            "Access denied: this API key is not allowed to use this resource",
        )),
        Decision::RateLimited => {
            Err(error(429, "Too many requests").header("retry-after", RETRY_AFTER_S.to_string()))
        }
        Decision::Locked | Decision::ServerError => Err(Reply::json(
            500,
            json!({"ErrorIdentifier": "A8EBD4F2-69F4-4DFA-9547-EB4B5EF48D93", "ErrorInfo": "",
                   "ErrorMessage": "An Unexpected Error occurred during API request", "StatusCode": "500"}),
        )),
        Decision::Invalid => Err(error(
            400,
            &format!("Email \"{email}\" is not a valid email address"),
        )),
    }
}

enum Route {
    ManageContact,
    CreateContact,
    ContactData(String),
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let route = match (r.method.as_str(), segments(r).as_slice()) {
        ("POST", ["v3", "REST", "contactslist", list, "managecontact"]) => {
            if list.parse::<u64>().is_err() {
                return error(404, "Object not found");
            }
            Route::ManageContact
        }
        ("POST", ["v3", "REST", "contact"]) => Route::CreateContact,
        ("PUT", ["v3", "REST", "contactdata", id]) => Route::ContactData(decode_segment(id)),
        _ => return error(404, "Object not found"),
    };
    if !state.key_is(basic_pair(r).as_deref()) {
        return error(
            401,
            "API key authentication/authorization failure. You may be unauthorized to access the API or your API key may be expired. Visit API keys management section to check your keys.",
        );
    }
    let Some(body) = r.json().filter(Value::is_object) else {
        return error(400, "Invalid json input: expected an object");
    };
    match route {
        Route::ManageContact => manage_contact(state, &body),
        Route::CreateContact => create_contact(state, &body),
        Route::ContactData(id) => contact_data(state, &id, &body),
    }
}

fn manage_contact(state: &mut State, body: &Value) -> Reply {
    let Some(email) = body["Email"].as_str().map(str::to_owned) else {
        return error(400, "Email is required");
    };
    let action = body["Action"].as_str().unwrap_or("");
    if !["addforce", "addnoforce", "remove", "unsub"].contains(&action) {
        return error(
            400,
            "Action must be one of addforce, addnoforce, remove, unsub",
        );
    }
    if body.get("Properties").is_some_and(|p| !p.is_object()) {
        return error(
            400,
            "Invalid json input: Properties must be an object of contact properties",
        );
    }
    let delay = match decided(state, &email) {
        Ok((_, delay)) => delay,
        Err(refusal) => return refusal,
    };
    let id = state.store(&email, body.clone());
    Reply::json(
        201,
        json!({"Count": 1, "Data": [{"ContactID": id.parse::<u64>().unwrap_or(1), "Email": email,
               "Action": action, "Name": body["Name"].as_str().unwrap_or(""),
               "Properties": body.get("Properties").cloned().unwrap_or_else(|| json!({}))}], "Total": 1}),
    )
    .after(delay)
}

fn create_contact(state: &mut State, body: &Value) -> Reply {
    let Some(email) = body["Email"].as_str().map(str::to_owned) else {
        return error(400, "Email is required");
    };
    let (exists, delay) = match decided(state, &email) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    if exists {
        return error(
            400,
            &format!("MJ18 A Contact resource with value \"{email}\" for Email already exists."),
        );
    }
    let id = state.store(&email, body.clone());
    Reply::json(
        201,
        json!({"Count": 1, "Data": [{"ID": id.parse::<u64>().unwrap_or(1), "Email": email,
               "Name": body["Name"].as_str().unwrap_or(""), "IsExcludedFromCampaigns": false,
               "CreatedAt": "2026-12-01T21:00:00Z"}], "Total": 1}),
    )
    .after(delay)
}

fn contact_data(state: &mut State, id: &str, body: &Value) -> Reply {
    let Some(values) = body["Data"].as_array().filter(|d| {
        d.iter()
            .all(|v| v["Name"].is_string() && v.get("Value").is_some())
    }) else {
        return error(
            400,
            "Invalid json input: Data must be a list of {\"Name\", \"Value\"}",
        );
    };
    let values = values.clone();
    let (exists, delay) = match decided(state, id) {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let Some(mut record) = state.contact(id).cloned().or(exists.then(|| json!({}))) else {
        return error(404, "Object not found");
    };
    if record.get("Data") == Some(&json!(values)) {
        return empty(304).after(delay);
    }
    record["Email"] = json!(id);
    record["Data"] = json!(values);
    let contact_id = state.store(id, record);
    Reply::json(
        200,
        json!({"Count": 1, "Data": [{"ContactID": contact_id.parse::<u64>().unwrap_or(1), "Data": values, "ID": contact_id.parse::<u64>().unwrap_or(1)}], "Total": 1}),
    )
    .after(delay)
}
