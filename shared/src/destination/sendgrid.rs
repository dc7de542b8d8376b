//! SendGrid Marketing Contacts.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_ids` | list ids a consenting contact is added to | none |
//! | `fields`, `conditions`, `consent_field`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are reserved fields (`first_name`, `city`, `phone_number`, …) or custom field ids (`e1_T`) | `first_name` ← `first_name`, `last_name` ← `last_name` |
//!
//! `base_url` defaults to `https://api.sendgrid.com`. `existing_contact` can only be
//! `update`: the contacts API only upserts.
//!
//! # Credentials
//!
//! `api_key` (`SG.…`) with the Marketing scope, sent as a Bearer token.
//!
//! # Request
//!
//! `PUT /v3/marketing/contacts` with `{"list_ids": [...], "contacts": [{"email", …,
//! "custom_fields": {…}}]}`. An existing contact (same email) is updated with the fields
//! sent; fields left out keep their values. SendGrid queues the change and answers 202
//! with a `job_id`, which the log records as `accepted`, not `delivered`: the import
//! itself may still fail later. Consent decides the lists: with consent the contact is
//! added to `list_ids`, without it the contact is upserted into All Contacts only (and
//! never removed from a list).

use super::mapping::{self, Existing};
use super::Built;
use crate::exchange::{Credentials, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &["list_ids"];

const DEFAULTS: &[(&str, &str)] = &[("first_name", "first_name"), ("last_name", "last_name")];
const POLICIES: &[Existing] = &[Existing::Update];
const ORIGIN: &str = "https://api.sendgrid.com";

/// SendGrid's reserved contact fields; any other mapped name is a custom field id.
const RESERVED: &[&str] = &[
    "address_line_1",
    "address_line_2",
    "alternate_emails",
    "city",
    "country",
    "first_name",
    "last_name",
    "postal_code",
    "state_province_region",
    "phone_number",
    "whatsapp",
    "line",
    "facebook",
    "unique_name",
    "external_id",
    "anonymous_id",
    "phone_number_id",
];

fn target_problem(name: &str) -> Option<String> {
    (name == "email").then(|| "email identifies the contact and is always sent".into())
}

/// A SendGrid integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are reserved fields or custom field ids.
    pub common: mapping::Common,
    /// The lists a contact with consent joins (`list_ids`).
    pub list_ids: Vec<String>,
}

impl Settings {
    /// Parses SendGrid settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, target_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        let list_ids = mapping::text_list(settings, "list_ids")
            .map_err(|e| errors.push(e))
            .ok();
        match (common, list_ids) {
            (Some(common), Some(list_ids)) if errors.is_empty() => {
                Ok(Settings { common, list_ids })
            }
            _ => Err(errors),
        }
    }
}

/// Checks SendGrid settings (parsing them, [`Settings::parse`]) and which credentials
/// are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "SendGrid needs an API key with the Marketing scope (Settings → API Keys)",
        &mut errors,
    );
    if mapping::new_credential(credentials, "api_key").is_some_and(|k| !k.starts_with("SG.")) {
        errors.push(SettingError::new(
            "credentials.api_key",
            "SendGrid API keys start with SG.",
        ));
    }
    errors
}

/// Builds the SendGrid request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let key = credentials.require("api_key", "the API key")?;
    let mut contact = Map::new();
    if let Some(email) = &registration.data.email {
        contact.insert("email".into(), json!(email));
    }
    let mut custom = Map::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if RESERVED.contains(&name.as_str()) {
            contact.insert(name, value);
        } else {
            custom.insert(name, mapping::bool_as_text(value));
        }
    }
    if !custom.is_empty() {
        contact.insert("custom_fields".into(), Value::Object(custom));
    }
    let mut body = Map::new();
    if mapping::consent_in(&s.common.consent_field, &flat) == Some(true) && !s.list_ids.is_empty() {
        body.insert("list_ids".into(), json!(s.list_ids));
    }
    body.insert("contacts".into(), json!([contact]));
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header(
        "authorization",
        format!("Bearer {}", key.expose()),
    ));
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Put,
            url: format!("{}/v3/marketing/contacts", s.common.origin(ORIGIN)),
            headers,
            body: mapping::json_body(&Value::Object(body)),
            secret_segments: Vec::new(),
        },
        data: contact,
        then: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;

    fn build_with(settings: Value, consent: bool) -> OutgoingRequest {
        let (r, then, data) = sent(
            build(
                &integration(Provider::Sendgrid, settings),
                &creds(&[("api_key", "SG.secret")]),
                &registration(consent),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        r
    }

    #[test]
    fn contacts_are_put_with_a_bearer_key_and_custom_fields_by_id() {
        let r = build_with(
            json!({"list_ids": ["8a1b2c3d"], "fields": {"e1_N": "quiz_score", "country": "country"}}),
            true,
        );

        assert_eq!(r.method, Method::Put);
        assert_eq!(r.url, "https://api.sendgrid.com/v3/marketing/contacts");
        assert_eq!(header(&r, "authorization"), Some("Bearer SG.secret"));
        assert_eq!(
            body(&r),
            json!({"list_ids": ["8a1b2c3d"], "contacts": [{
                "email": "Lena.Fischer@example.com", "first_name": "Lena", "last_name": "Fischer",
                "country": "DE", "custom_fields": {"e1_N": 8}
            }]})
        );
    }

    #[test]
    fn without_consent_the_contact_joins_no_list() {
        let r = build_with(
            json!({"list_ids": ["8a1b2c3d"], "base_url": "http://127.0.0.2:1"}),
            false,
        );
        assert!(body(&r).get("list_ids").is_none());
        assert_eq!(r.url, "http://127.0.0.2:1/v3/marketing/contacts");
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"list_ids": [7]}), "settings.list_ids"),
            (json!({"preflight": "yes"}), "settings.preflight"),
            (json!({"consent_field": 1}), "settings.consent_field"),
        ] {
            let errors = super::super::validate(
                Provider::Sendgrid,
                settings.as_object().unwrap(),
                &names(&[("api_key", "SG.x")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed = Settings::parse(&settings(json!({"list_ids": ["a"]}))).unwrap();
        assert_eq!(parsed.list_ids, ["a"]);
        assert_eq!(parsed.common.consent_field, "consent.marketing");
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(json!({"list_ids": "x", "existing_contact": "create_only"})),
            &names(&[("api_key", "nope")]),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.existing_contact",
                "settings.list_ids",
                "credentials.api_key"
            ]
        );
        assert!(validate(&Map::new(), &names(&[("api_key", "SG.x")])).is_empty());
    }
}
