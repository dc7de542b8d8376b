//! `GET /v1/registrations?email=…`: every registration of one address in the account,
//! in any case, newest first, a cursor page at a time (see [`leadrelay::logs::find`]).

use crate::router::{bad_parameters, logs_error, open_cursor};
use crate::{view, Deps};
use apikit::error::ApiError;
use apikit::json;
use lambda_http::{Body, Response};
use leadrelay::erasure::subject_hash;
use leadrelay::intake::FieldError;
use leadrelay::logs::find::{registrations_by_email, valid_email};
use leadrelay::model::ApiKey;
use leadrelay::store::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Default page size, and the largest allowed.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

fn bad(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: "invalid_parameter".into(),
        message: message.to_owned(),
    }
}

/// The registrations of the address in `email`, one page.
pub(crate) async fn by_email<S: Store, Q>(
    deps: &Deps<S, Q>,
    key: &ApiKey,
    params: &BTreeMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    if !key.access.sees_personal_data() {
        // Looking up an address tells whether that person registered: personal data.
        return Err(ApiError::forbidden(
            "personal_data",
            "this key may not see personal data, so it may not look up registrations by email address",
        ));
    }
    let mut errors = Vec::new();
    let email = params.get("email").map(String::as_str).unwrap_or_default();
    if !valid_email(email) {
        errors.push(bad(
            "email",
            "email is the address to look for, such as lena@example.com (any case)",
        ));
    }
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(bad("limit", "limit is a number from 1 to 100"));
            DEFAULT_LIMIT
        }
    };
    if !errors.is_empty() {
        return Err(bad_parameters(errors));
    }
    // Bound to the address's hash, not its text: the same person in another case pages on.
    let subject = subject_hash(email);
    let binding = [key.account_id.as_str(), "registrations", subject.as_str()];
    let start = match params.get("cursor") {
        Some(cursor) => Some(open_cursor(deps, cursor, &binding)?),
        None => None,
    };
    let page = registrations_by_email(&deps.store, &key.account_id, email, start.as_ref(), limit)
        .await
        .map_err(logs_error)?;
    let next = page.next.map(|p| deps.cursors.seal(&p, &binding));
    // A key restricted to some campaigns sees only their registrations; a page may then
    // hold fewer items than `limit` while `next_cursor` goes on.
    let items: Vec<Value> = page
        .items
        .iter()
        .filter(|f| key.access.sees(&f.registration.campaign_id))
        .map(view::found)
        .collect();
    Ok(json(200, &json!({"items": items, "next_cursor": next})))
}
