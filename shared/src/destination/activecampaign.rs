//! ActiveCampaign API v3: contacts.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `base_url` | the account's API URL, `https://{account}.api-us1.com` (Settings → Developer) | required |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `preflight` | see [`super::mapping`]; `fields` keys are `firstName`, `lastName`, `phone`, or a custom field's numeric id (`"12"`) | `firstName` ← `first_name`, `lastName` ← `last_name`, `phone` ← `phone` |
//!
//! # Credentials
//!
//! `api_key`: the account's API key, sent in the `Api-Token` header.
//!
//! # Requests
//!
//! | policy | request | an existing contact |
//! |---|---|---|
//! | `update` | `POST /api/3/contact/sync` with `{"contact": {"email", "firstName", …, "fieldValues": [{"field", "value"}]}}` (201 created, 200 updated) | updated: the fields sent overwrite its values |
//! | `create_only` | `POST /api/3/contacts` with the same body | left as it is: ActiveCampaign answers 422 `duplicate`, read as `duplicate` |
//!
//! Custom field values go as text in `fieldValues`. List subscriptions need the
//! contact's id from the first answer (`POST /api/3/contactLists`), which a request
//! built in advance cannot carry; consent is therefore delivered by mapping it to a
//! custom field (`"7": "consent.marketing"`), which an automation can act on.

use super::mapping::{self, Existing, FieldMap};
use super::{Built, Credentials, Method, OutgoingRequest, SettingError};
use crate::model::{Integration, Registration};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const DEFAULTS: &[(&str, &str)] = &[
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("phone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
const STANDARD: &[&str] = &["firstName", "lastName", "phone"];

fn target_problem(name: &str) -> Option<String> {
    if STANDARD.contains(&name) || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some("ActiveCampaign takes firstName, lastName, phone, or a custom field's numeric id".into())
}

/// Checks ActiveCampaign settings and which credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Vec::new();
    if settings.get("base_url").is_none() {
        errors.push(SettingError::new(
            "settings.base_url",
            "the account's API URL is required, such as https://youraccount.api-us1.com",
        ));
    }
    mapping::validate_common(settings, DEFAULTS, POLICIES, target_problem, &mut errors);
    mapping::require_credential(
        credentials,
        "api_key",
        "ActiveCampaign needs the account's API key (Settings → Developer)",
        &mut errors,
    );
    errors
}

/// Builds the ActiveCampaign request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = &integration.settings;
    let flat = registration.data.flat();
    if let Some(reason) = mapping::unmet(s, &flat)? {
        return Ok(Built::Skip { reason });
    }
    let policy = mapping::existing(s, POLICIES)?;
    let origin = mapping::required_text(s, "base_url", "the account's API URL is required")?
        .trim_end_matches('/')
        .to_owned();
    let key = credentials
        .get("api_key")
        .ok_or_else(|| SettingError::new("credentials.api_key", "the API key is missing"))?;
    let mut contact = Map::new();
    if let Some(email) = &registration.data.email {
        contact.insert("email".into(), json!(email));
    }
    let mut values = Vec::new();
    for (name, value) in FieldMap::from_settings(s, DEFAULTS)?.apply(&flat) {
        if STANDARD.contains(&name.as_str()) {
            contact.insert(name, Value::String(mapping::as_text(&value)));
        } else {
            values.push(json!({"field": name, "value": mapping::as_text(&value)}));
        }
    }
    if !values.is_empty() {
        contact.insert("fieldValues".into(), Value::Array(values));
    }
    let path = match policy {
        Existing::Update => "contact/sync",
        Existing::CreateOnly => "contacts",
    };
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header("api-token", key.expose().to_owned()));
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url: format!("{origin}/api/3/{path}"),
            headers,
            body: mapping::json_body(&json!({"contact": contact})),
        },
        data: contact,
        then: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::Provider;

    fn build_with(settings: Value) -> OutgoingRequest {
        let (r, then, data) = sent(
            build(
                &integration(Provider::Activecampaign, settings),
                &creds(&[("api_key", "ac-secret")]),
                &lena(),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        r
    }

    #[test]
    fn a_contact_sync_posts_to_the_account_url_with_the_api_token() {
        let r = build_with(
            json!({"base_url": "https://acme.api-us1.com/", "fields": {"7": "consent.marketing", "12": "quiz_score"}}),
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://acme.api-us1.com/api/3/contact/sync");
        assert_eq!(header(&r, "api-token"), Some("ac-secret"));
        assert_eq!(
            body(&r),
            json!({"contact": {
                "email": "Lena.Fischer@example.com", "firstName": "Lena", "lastName": "Fischer", "phone": "+49 30 1234567",
                "fieldValues": [{"field": "12", "value": "8"}, {"field": "7", "value": "true"}]
            }})
        );
        assert!(!format!("{r:?}").contains("ac-secret"));
    }

    #[test]
    fn create_only_posts_to_contacts() {
        let r = build_with(
            json!({"base_url": "https://acme.api-us1.com", "existing_contact": "create_only"}),
        );
        assert_eq!(r.url, "https://acme.api-us1.com/api/3/contacts");
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(json!({"fields": {"score": "quiz_score"}})),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.base_url",
                "settings.fields.score",
                "credentials.api_key"
            ]
        );
        assert!(validate(
            &settings(json!({"base_url": "https://a.api-us1.com"})),
            &names(&[("api_key", "k")])
        )
        .is_empty());
    }
}
