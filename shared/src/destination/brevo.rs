//! Brevo (formerly Sendinblue): contacts.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_ids` | list ids (numbers) a consenting contact is added to | none |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are contact attributes (`FIRSTNAME`, `SMS`, your own), or `ext_id` | `FIRSTNAME` ← `first_name`, `LASTNAME` ← `last_name` |
//!
//! `base_url` defaults to `https://api.brevo.com`. `SMS` is not mapped by default: Brevo
//! takes only numbers with their country code (`+4930…`) and refuses the contact
//! otherwise.
//!
//! # Credentials
//!
//! `api_key` (`xkeysib-…`), sent in the `api-key` header.
//!
//! # Requests
//!
//! | policy | request | an existing contact |
//! |---|---|---|
//! | `update` | `POST /v3/contacts` with `"updateEnabled": true` (201 created, 204 updated) | updated: the attributes sent overwrite its values, and it joins the lists |
//! | `create_only` | `POST /v3/contacts` with `"updateEnabled": false` | left as it is: Brevo answers 400 `duplicate_parameter`, read as `duplicate` |
//!
//! Consent decides the lists: with consent the contact is added to `list_ids`; without
//! it the contact is created or updated outside them (and never removed from a list).
//! Double opt-in goes through a different endpoint (`/v3/contacts/doubleOptinConfirmation`
//! with a template) and is not offered here.

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

const DEFAULTS: &[(&str, &str)] = &[("FIRSTNAME", "first_name"), ("LASTNAME", "last_name")];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
const ORIGIN: &str = "https://api.brevo.com";

fn target_problem(name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("email") {
        return Some("email identifies the contact and is always sent".into());
    }
    let ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (!ok).then(|| "attribute names are letters, digits and '_', such as FIRSTNAME".into())
}

/// A Brevo integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are contact attributes.
    pub common: mapping::Common,
    /// The lists a contact with consent joins (`list_ids`).
    pub list_ids: Vec<u64>,
}

impl Settings {
    /// Parses Brevo settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, target_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        let list_ids = match settings.get("list_ids") {
            Some(Value::Null) => Ok(None),
            _ => mapping::typed::<Vec<u64>>(
                settings,
                "list_ids",
                "list_ids is a list of whole numbers, such as [2, 7]",
            ),
        }
        .map_err(|e| errors.push(e))
        .ok()
        .map(Option::unwrap_or_default);
        match (common, list_ids) {
            (Some(common), Some(list_ids)) if errors.is_empty() => {
                Ok(Settings { common, list_ids })
            }
            _ => Err(errors),
        }
    }
}

/// Checks Brevo settings (parsing them, [`Settings::parse`]) and which credentials are
/// given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "Brevo needs an API key (SMTP & API → API keys)",
        &mut errors,
    );
    errors
}

/// Builds the Brevo request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let key = credentials.require("api_key", "the API key")?;
    let mut body = Map::new();
    if let Some(email) = &registration.data.email {
        body.insert("email".into(), json!(email));
    }
    let mut attributes = Map::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if name == "ext_id" {
            body.insert(name, Value::String(mapping::as_text(&value)));
        } else {
            attributes.insert(name, value);
        }
    }
    if !attributes.is_empty() {
        body.insert("attributes".into(), Value::Object(attributes));
    }
    if mapping::consent_in(&s.common.consent_field, &flat) == Some(true) && !s.list_ids.is_empty() {
        body.insert("listIds".into(), json!(s.list_ids));
    }
    body.insert("updateEnabled".into(), json!(policy == Existing::Update));
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header("api-key", key.expose().to_owned()));
    let mut data = body.clone();
    data.remove("updateEnabled");
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url: format!("{}/v3/contacts", s.common.origin(ORIGIN)),
            headers,
            body: mapping::json_body(&Value::Object(body)),
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

    fn build_with(settings: Value, consent: bool) -> OutgoingRequest {
        let (r, then, data) = sent(
            build(
                &integration(Provider::Brevo, settings),
                &creds(&[("api_key", "xkeysib-secret")]),
                &registration(consent),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        r
    }

    #[test]
    fn a_contact_is_posted_with_update_enabled_and_the_api_key_header() {
        let r = build_with(
            json!({"list_ids": [7], "fields": {"QUIZ_SCORE": "quiz_score", "ext_id": "quiz_score"}}),
            true,
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://api.brevo.com/v3/contacts");
        assert_eq!(header(&r, "api-key"), Some("xkeysib-secret"));
        assert_eq!(header(&r, "authorization"), None);
        assert_eq!(
            body(&r),
            json!({
                "email": "Lena.Fischer@example.com",
                "ext_id": "8",
                "attributes": {"FIRSTNAME": "Lena", "LASTNAME": "Fischer", "QUIZ_SCORE": 8},
                "listIds": [7],
                "updateEnabled": true
            })
        );
        assert!(!format!("{r:?}").contains("xkeysib-secret"));
    }

    #[test]
    fn create_only_turns_update_off_and_no_consent_joins_no_list() {
        let r = build_with(
            json!({"list_ids": [7], "existing_contact": "create_only"}),
            false,
        );
        let b = body(&r);
        assert_eq!(b["updateEnabled"], false);
        assert!(b.get("listIds").is_none());
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"list_ids": ["2"]}), "settings.list_ids"),
            (json!({"list_ids": [2.5]}), "settings.list_ids"),
            (json!({"existing_contact": 1}), "settings.existing_contact"),
        ] {
            let errors = super::super::validate(
                Provider::Brevo,
                settings.as_object().unwrap(),
                &names(&[("api_key", "xkeysib-1")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed = Settings::parse(&settings(json!({"list_ids": [2, 7]}))).unwrap();
        assert_eq!(parsed.list_ids, [2, 7]);
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(json!({"list_ids": ["seven"], "fields": {"FIRST NAME": "first_name"}})),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.fields.FIRST NAME",
                "settings.list_ids",
                "credentials.api_key"
            ]
        );
        assert!(validate(&Map::new(), &names(&[("api_key", "k")])).is_empty());
    }
}
