//! HubSpot CRM v3: contacts.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are contact property internal names (lower case) | `firstname` ← `first_name`, `lastname` ← `last_name`, `phone` ← `phone` |
//!
//! `base_url` defaults to `https://api.hubapi.com`.
//!
//! # Credentials
//!
//! `access_token`: a private app's access token (`pat-…`) with the
//! `crm.objects.contacts.write` scope, sent as a Bearer token.
//!
//! # Requests
//!
//! | policy | request | an existing contact |
//! |---|---|---|
//! | `update` | `POST /crm/v3/objects/contacts/batch/upsert` with one input `{"idProperty": "email", "id": <email>, "properties": {…}}` | updated: the properties sent overwrite its values (HubSpot answers 200 with `"new": false`) |
//! | `create_only` | `POST /crm/v3/objects/contacts` with `{"properties": {…}}` | left as it is: HubSpot answers 409 "Contact already exists", read as `duplicate` |
//!
//! The email is always sent as the `email` property too; a registration without one
//! (a phone number only) is not sent under `update`, and the log says why. Values go as text (yes/no as
//! `true`/`false`, lists as HubSpot's `;`-separated multi-select form). HubSpot keeps
//! subscription status outside contact properties (the communication preferences API),
//! so consent is delivered by mapping it to a property of your own, such as
//! `"newsletter_opt_in": "consent.marketing"`.

use super::mapping::{self, Existing};
use super::Built;
use crate::exchange::{Credentials, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes: none, only the shared ones of
/// [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the integration
/// is configured.
pub const SETTINGS: &[&str] = &[];

const DEFAULTS: &[(&str, &str)] = &[
    ("firstname", "first_name"),
    ("lastname", "last_name"),
    ("phone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
const ORIGIN: &str = "https://api.hubapi.com";

/// What is wrong with a HubSpot property name, if anything.
pub(crate) fn property_problem(name: &str) -> Option<String> {
    if name == "email" {
        return Some(
            "email identifies the contact and is always sent; map other properties".into(),
        );
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (!ok).then(|| "property internal names are lower-case letters, digits and '_', such as newsletter_opt_in".into())
}

/// A value as HubSpot's properties take it: text, numbers as they are.
pub(crate) fn property_value(value: Value) -> Value {
    match value {
        Value::Number(_) | Value::String(_) => value,
        other => Value::String(mapping::as_text(&other)),
    }
}

/// A HubSpot integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads. HubSpot takes only the shared
/// settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are contact property names.
    pub common: mapping::Common,
}

impl Settings {
    /// Parses HubSpot settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, property_problem)?;
        Ok(Settings { common })
    }
}

/// Checks HubSpot settings and which credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "access_token",
        "HubSpot needs a private app access token (Settings → Integrations → Private apps)",
        &mut errors,
    );
    errors
}

/// Builds the HubSpot request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let token = credentials.require("access_token", "the access token")?;
    let email = registration.data.email.clone().unwrap_or_default();
    if email.is_empty() && policy == Existing::Update {
        // The upsert finds the contact by email; without one there is nothing to find
        // it by, and a create would add a new contact on every retry.
        return Ok(Built::Skip {
            reason: "the registration has no email address, which HubSpot's upsert needs to find the contact".into(),
        });
    }
    let mut properties = Map::new();
    if !email.is_empty() {
        properties.insert("email".into(), json!(email));
    }
    for (k, v) in s.common.fields.apply(&flat) {
        properties.insert(k, property_value(v));
    }
    let origin = s.common.origin(ORIGIN);
    let (url, body) = match policy {
        Existing::Update => (
            format!("{origin}/crm/v3/objects/contacts/batch/upsert"),
            json!({"inputs": [{"idProperty": "email", "id": email, "properties": properties}]}),
        ),
        Existing::CreateOnly => (
            format!("{origin}/crm/v3/objects/contacts"),
            json!({"properties": properties}),
        ),
    };
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header(
        "authorization",
        format!("Bearer {}", token.expose()),
    ));
    let mut data = Map::new();
    data.insert("email".into(), json!(email));
    data.insert("properties".into(), Value::Object(properties));
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url,
            headers,
            body: mapping::json_body(&body),
            secret_segments: Vec::new(),
        },
        data,
        then: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;

    fn build_with(settings: Value) -> (OutgoingRequest, Map<String, Value>) {
        let (r, then, data) = sent(
            build(
                &integration(Provider::Hubspot, settings),
                &creds(&[("access_token", "pat-eu1-secret")]),
                &lena(),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        (r, data)
    }

    #[test]
    fn an_upsert_posts_one_input_identified_by_email() {
        let (r, data) = build_with(json!({}));

        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"
        );
        assert_eq!(header(&r, "authorization"), Some("Bearer pat-eu1-secret"));
        assert_eq!(
            body(&r),
            json!({"inputs": [{"idProperty": "email", "id": "Lena.Fischer@example.com", "properties": {
                "email": "Lena.Fischer@example.com", "firstname": "Lena", "lastname": "Fischer", "phone": "+49 30 1234567"
            }}]})
        );
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        assert_eq!(data["properties"]["firstname"], "Lena");
        assert!(!format!("{r:?}").contains("pat-eu1-secret"));
    }

    #[test]
    fn create_only_posts_the_contact_and_consent_maps_to_a_property() {
        let (r, _) = build_with(json!({
            "existing_contact": "create_only",
            "base_url": "http://127.0.0.2:8703",
            "fields": {"newsletter_opt_in": "consent.marketing", "quiz_score": "quiz_score"}
        }));

        assert_eq!(r.url, "http://127.0.0.2:8703/crm/v3/objects/contacts");
        let b = body(&r);
        assert_eq!(b["properties"]["newsletter_opt_in"], "true");
        assert_eq!(b["properties"]["quiz_score"], 8);
        assert!(b.get("inputs").is_none());
    }

    #[test]
    fn a_registration_without_email_is_not_upserted() {
        let mut phone_only = lena();
        phone_only.data.email = None;

        let built = build(
            &integration(Provider::Hubspot, json!({})),
            &creds(&[("access_token", "pat")]),
            &phone_only,
        )
        .unwrap();

        assert!(matches!(built, Built::Skip { reason } if reason.contains("no email address")));
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"base_url": 8080}), "settings.base_url"),
            (json!({"fields": ["firstname"]}), "settings.fields"),
            (json!({"preflight": 0}), "settings.preflight"),
        ] {
            let errors = super::super::validate(
                Provider::Hubspot,
                settings.as_object().unwrap(),
                &names(&[("access_token", "pat")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed =
            Settings::parse(&settings(json!({"base_url": "http://127.0.0.2:9/"}))).unwrap();
        assert_eq!(parsed.common.origin(ORIGIN), "http://127.0.0.2:9");
        assert_eq!(parsed.common.existing, Existing::Update);
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(
                json!({"fields": {"Email": "email", "email": "email"}, "existing_contact": "merge"}),
            ),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.fields.Email",
                "settings.fields.email",
                "settings.existing_contact",
                "credentials.access_token"
            ]
        );
        assert!(validate(&Map::new(), &names(&[("access_token", "pat")])).is_empty());
    }
}
