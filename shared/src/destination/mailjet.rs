//! Mailjet Email API v3: contacts, contact properties and contact lists.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_id` | the contact list's numeric id (Contacts → Contact lists), which a consenting contact is subscribed to | required |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are `Name` (the contact's name) or contact properties defined in the account (`firstname`, `country`, your own) | `Name` ← first and last name, joined; no properties |
//!
//! `base_url` defaults to `https://api.mailjet.com`. Properties are not mapped by
//! default because each account defines its own: Mailjet refuses a contact carrying a
//! property the account does not have ("has no property"), and the log names it.
//! `existing_contact` can only be `update` (see below).
//!
//! # Credentials
//!
//! `api_key` and `secret_key` (Account settings → REST API keys), sent as HTTP Basic with
//! the API key as the user name and the secret key as the password.
//!
//! # Requests
//!
//! | consent | requests | an existing contact |
//! |---|---|---|
//! | given | `POST /v3/REST/contactslist/{list_id}/managecontact` with `{"Email", "Name", "Action": "addforce", "Properties": {…}}` (201) | updated: the properties sent overwrite its values, and it is subscribed to the list, again if it had unsubscribed from it (the registration is a fresh opt-in) |
//! | not given | `POST /v3/REST/contact` with `{"Email", "Name"}` (201 created; 400 `MJ18` for an existing contact, read as `duplicate`), then, when properties are mapped, `PUT /v3/REST/contactdata/{email}` with `{"Data": [{"Name", "Value"}]}` (200; 304 when it already held those values, read as `duplicate`) | updated: the properties sent overwrite its values; its name and its lists are left as they are (it is never subscribed, unsubscribed or removed). With no properties mapped there is nothing to update, and the attempt reads `duplicate` |
//!
//! A new contact without consent is created outside every list. Mailjet's actions are
//! `addforce`, `addnoforce`, `remove` and `unsub`; `addnoforce` would keep an earlier
//! unsubscription even though the person has just opted in again, so it is not used.
//!
//! Only `update` is offered: every Mailjet call that sets properties or lists
//! (`managecontact`, `contactdata`) also updates an existing contact. `POST /contact`
//! does refuse an existing address (`MJ18`), but it carries no properties and no list,
//! and the requests that would follow it are still sent after a `duplicate`, which the
//! delivery counts as a success. All requests are safe to repeat, so a retry sends the
//! sequence again.

use super::mapping::{self, Existing};
use super::Built;
use crate::exchange::{Credentials, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &["list_id"];

const DEFAULTS: &[(&str, &str)] = &[];
const POLICIES: &[Existing] = &[Existing::Update];
const ORIGIN: &str = "https://api.mailjet.com";

fn target_problem(name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("email") {
        return Some("Email identifies the contact and is always sent".into());
    }
    let ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (!ok).then(|| {
        "Name, or a contact property's name: letters, digits and '_', such as firstname".into()
    })
}

/// The contact list id: a whole number, or text holding one.
fn list_id(settings: &Map<String, Value>) -> Option<u64> {
    match settings.get("list_id")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A Mailjet integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are `Name` or contact properties.
    pub common: mapping::Common,
    /// The contact list a contact with consent is subscribed to (`list_id`).
    pub list_id: u64,
    /// Whether `fields` sets `Name` (to a source, or to `null` to send none), replacing
    /// the joined first and last name.
    pub name_mapped: bool,
}

impl Settings {
    /// Parses Mailjet settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let list_id = list_id(settings);
        if list_id.is_none() {
            errors.push(SettingError::new(
                "settings.list_id",
                "the contact list's numeric id is required (Contacts → Contact lists)",
            ));
        }
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, target_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        match (common, list_id) {
            (Some(common), Some(list_id)) if errors.is_empty() => Ok(Settings {
                common,
                list_id,
                name_mapped: settings
                    .get("fields")
                    .and_then(Value::as_object)
                    .is_some_and(|f| f.contains_key("Name")),
            }),
            _ => Err(errors),
        }
    }
}

/// Checks Mailjet settings (parsing them, [`Settings::parse`]) and which credentials
/// are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "Mailjet needs the API key (Account settings → REST API keys)",
        &mut errors,
    );
    mapping::require_credential(
        credentials,
        "secret_key",
        "Mailjet needs the secret key that goes with the API key",
        &mut errors,
    );
    errors
}

/// The contact's name: the `Name` mapping when the integration sets one (or drops it with
/// `null`), else the registration's first and last name.
fn contact_name(
    name_mapped: bool,
    mapped: Option<Value>,
    flat: &Map<String, Value>,
) -> Option<String> {
    if name_mapped {
        return mapped.map(|v| mapping::as_text(&v));
    }
    let parts: Vec<String> = ["first_name", "last_name"]
        .iter()
        .filter_map(|k| flat.get(*k).map(mapping::as_text))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Builds the Mailjet request(s) for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let list = s.list_id;
    let key = credentials.require("api_key", "the API key")?;
    let secret = credentials.require("secret_key", "the secret key")?;
    let mut mapped_name = None;
    let mut properties = Map::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if name == "Name" {
            mapped_name = Some(value);
        } else {
            properties.insert(name, value);
        }
    }
    let email = registration.data.email.clone().unwrap_or_default();
    let mut data = Map::new();
    data.insert("Email".into(), json!(email));
    if let Some(name) = contact_name(s.name_mapped, mapped_name, &flat) {
        data.insert("Name".into(), json!(name));
    }

    let token = STANDARD.encode(format!("{}:{}", key.expose(), secret.expose()));
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header(
        "authorization",
        format!("Basic {token}"),
    ));
    let origin = format!("{}/v3/REST", s.common.origin(ORIGIN));
    let request = |method, url: String, body: &Value| OutgoingRequest {
        method,
        url,
        headers: headers.clone(),
        body: mapping::json_body(body),
        secret_segments: Vec::new(),
    };

    let (first, then) = if mapping::consent_in(&s.common.consent_field, &flat) == Some(true) {
        let mut body = data.clone();
        body.insert("Action".into(), json!("addforce"));
        body.insert("Properties".into(), Value::Object(properties.clone()));
        let url = format!("{origin}/contactslist/{list}/managecontact");
        (request(Method::Post, url, &Value::Object(body)), Vec::new())
    } else {
        let create = request(
            Method::Post,
            format!("{origin}/contact"),
            &Value::Object(data.clone()),
        );
        let mut then = Vec::new();
        if !properties.is_empty() {
            let values: Vec<Value> = properties
                .iter()
                .map(|(name, value)| json!({"Name": name, "Value": value}))
                .collect();
            then.push(request(
                Method::Put,
                format!("{origin}/contactdata/{}", mapping::path_segment(&email)),
                &json!({ "Data": values }),
            ));
        }
        (create, then)
    };
    if !properties.is_empty() {
        data.insert("Properties".into(), Value::Object(properties));
    }
    Ok(Built::Send {
        request: first,
        data,
        then: then.into_iter().map(Into::into).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;

    fn build_with(
        settings: Value,
        consent: bool,
    ) -> (OutgoingRequest, Vec<OutgoingRequest>, Map<String, Value>) {
        sent(
            build(
                &integration(Provider::Mailjet, settings),
                &creds(&[("api_key", "mj-public"), ("secret_key", "mj-private")]),
                &registration(consent),
            )
            .unwrap(),
        )
    }

    #[test]
    fn with_consent_the_contact_is_force_added_to_the_list_with_its_properties() {
        let (r, then, data) = build_with(
            json!({"list_id": 10_457, "fields": {"quiz_score": "quiz_score", "country": "country"}}),
            true,
        );

        assert!(then.is_empty());
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            "https://api.mailjet.com/v3/REST/contactslist/10457/managecontact"
        );
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Basic {}", STANDARD.encode("mj-public:mj-private")).as_str())
        );
        assert_eq!(
            body(&r),
            json!({
                "Email": "Lena.Fischer@example.com",
                "Name": "Lena Fischer",
                "Action": "addforce",
                "Properties": {"quiz_score": 8, "country": "DE"}
            })
        );
        assert_eq!(data["Email"], "Lena.Fischer@example.com");
        assert_eq!(data["Properties"]["quiz_score"], 8);
        assert!(!format!("{r:?}").contains("mj-private"));
    }

    #[test]
    fn without_consent_the_contact_is_created_outside_the_list_then_its_properties_set() {
        let (r, then, _) = build_with(
            json!({"list_id": "10457", "fields": {"quiz_score": "quiz_score"}, "base_url": "http://127.0.0.2:9/"}),
            false,
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "http://127.0.0.2:9/v3/REST/contact");
        assert_eq!(
            body(&r),
            json!({"Email": "Lena.Fischer@example.com", "Name": "Lena Fischer"})
        );
        assert_eq!(then.len(), 1);
        assert_eq!(then[0].method, Method::Put);
        assert_eq!(
            then[0].url,
            "http://127.0.0.2:9/v3/REST/contactdata/Lena.Fischer%40example.com"
        );
        assert_eq!(
            body(&then[0]),
            json!({"Data": [{"Name": "quiz_score", "Value": 8}]})
        );
        assert!(!String::from_utf8_lossy(&r.body).contains("Action"));
    }

    #[test]
    fn without_consent_or_properties_only_the_contact_is_created() {
        let (r, then, _) = build_with(json!({"list_id": 10_457}), false);
        assert!(r.url.ends_with("/v3/REST/contact"));
        assert!(then.is_empty());
    }

    #[test]
    fn a_name_mapping_replaces_the_joined_name_and_null_drops_it() {
        let (r, _, _) = build_with(
            json!({"list_id": 1, "fields": {"Name": {"value": "Quiz player"}}}),
            true,
        );
        assert_eq!(body(&r)["Name"], "Quiz player");
        let (r, _, data) = build_with(json!({"list_id": 1, "fields": {"Name": null}}), true);
        assert!(body(&r).get("Name").is_none());
        assert!(data.get("Name").is_none());
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"list_id": true}), "settings.list_id"),
            (json!({"list_id": [10457]}), "settings.list_id"),
            (json!({"list_id": -1}), "settings.list_id"),
            (
                json!({"list_id": 1, "consent_field": 3}),
                "settings.consent_field",
            ),
            (json!({"list_id": 1, "fields": ["Name"]}), "settings.fields"),
        ] {
            let errors = super::super::validate(
                Provider::Mailjet,
                settings.as_object().unwrap(),
                &names(&[("api_key", "k"), ("secret_key", "s")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed = Settings::parse(&settings(json!({"list_id": " 10457 "}))).unwrap();
        assert_eq!(parsed.list_id, 10_457);
        assert!(!parsed.name_mapped);
        let parsed = Settings::parse(&settings(json!({"list_id": 1, "fields": {"Name": null}})));
        assert!(parsed.unwrap().name_mapped);
    }

    #[test]
    fn settings_and_both_keys_are_checked_by_name_and_create_only_is_refused() {
        let errors = validate(
            &settings(
                json!({"list_id": "main", "fields": {"first name": "first_name"}, "existing_contact": "create_only"}),
            ),
            &names(&[("api_key", "k")]),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.list_id",
                "settings.fields.first name",
                "settings.existing_contact",
                "credentials.secret_key"
            ]
        );
        assert!(validate(
            &settings(json!({"list_id": 10457})),
            &names(&[("api_key", "k"), ("secret_key", "s")])
        )
        .is_empty());
    }
}
