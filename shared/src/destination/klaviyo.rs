//! Klaviyo (JSON:API): profiles and email marketing consent.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_id` | the list a consenting person is subscribed to | none: consent is recorded without a list |
//! | `revision` | the API revision header (`YYYY-MM-DD`) | `2025-01-15` |
//! | `custom_source` | the source stored on consent records | `leadrelay` |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are profile attributes (`first_name`, `organization`, `location.city`, …) or, for any other name, custom properties | `first_name` ← `first_name`, `last_name` ← `last_name` |
//!
//! `base_url` defaults to `https://a.klaviyo.com`. `phone_number` is not mapped by
//! default: Klaviyo takes only E.164 numbers (`+4930…`) and refuses the whole profile
//! otherwise; map it when the campaign collects numbers in that form.
//!
//! # Credentials
//!
//! `api_key`: a private API key (`pk_…`) with the `profiles:write` scope, and
//! `subscriptions:write` and `lists:write` for consent, sent as
//! `Authorization: Klaviyo-API-Key pk_…`.
//!
//! # Requests
//!
//! | policy | request | an existing profile |
//! |---|---|---|
//! | `update` | `POST /api/profile-import` with `{"data": {"type": "profile", "attributes": {…}}}` (201 created, 200 updated) | updated: the attributes and properties sent overwrite its values |
//! | `create_only` | `POST /api/profiles` with the same body | left as it is: Klaviyo answers 409 `duplicate_profile`, read as `duplicate` |
//!
//! With marketing consent, a second request follows once the first succeeded (an
//! existing profile too): `POST /api/profile-subscription-bulk-create-jobs` subscribing
//! the email to marketing (and to `list_id`), which Klaviyo answers 202, so the attempt
//! reads `accepted`. Without consent nothing is subscribed or unsubscribed. Both calls
//! are idempotent, so a retry sends the pair again; the attempt record lists the first in
//! `preceding`.

use super::mapping::{self, Existing};
use super::Built;
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &["list_id", "revision", "custom_source"];

const DEFAULTS: &[(&str, &str)] = &[("first_name", "first_name"), ("last_name", "last_name")];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
const ORIGIN: &str = "https://a.klaviyo.com";
/// The API revision sent when the integration names none.
pub const DEFAULT_REVISION: &str = "2025-01-15";

/// Profile attributes Klaviyo knows by name; any other mapped name is a custom property.
const ATTRIBUTES: &[&str] = &[
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
];
const LOCATION: &[&str] = &[
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
];

fn target_problem(name: &str) -> Option<String> {
    if name == "email" {
        return Some("email identifies the profile and is always sent".into());
    }
    match name.strip_prefix("location.") {
        Some(part) if !LOCATION.contains(&part) => {
            Some(format!("location takes {}", LOCATION.join(", ")))
        }
        _ => None,
    }
}

fn valid_revision(r: &str) -> bool {
    let b = r.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// A Klaviyo integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are profile attributes, `location.…`, or
    /// custom properties.
    pub common: mapping::Common,
    /// The list a consenting profile is subscribed to (`list_id`).
    pub list_id: Option<String>,
    /// The API revision sent (`revision`, else [`DEFAULT_REVISION`]).
    pub revision: String,
    /// The source a subscription is recorded with (`custom_source`, else `leadrelay`).
    pub custom_source: String,
}

impl Settings {
    /// Parses Klaviyo settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, target_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        if settings
            .get("list_id")
            .is_some_and(|v| v.as_str().is_none_or(str::is_empty))
        {
            errors.push(SettingError::new(
                "settings.list_id",
                "list_id is a Klaviyo list id, such as Y6nRLr",
            ));
        }
        if let Some(v) = settings.get("revision") {
            if !v.as_str().is_some_and(valid_revision) {
                errors.push(SettingError::new(
                    "settings.revision",
                    "revision is a date such as 2025-01-15",
                ));
            }
        }
        if settings
            .get("custom_source")
            .is_some_and(|v| !v.is_string())
        {
            errors.push(SettingError::new(
                "settings.custom_source",
                "custom_source is text",
            ));
        }
        let (Some(common), true) = (common, errors.is_empty()) else {
            return Err(errors);
        };
        let text_or =
            |key: &str, default: &str| mapping::text(settings, key).unwrap_or(default).to_owned();
        Ok(Settings {
            common,
            list_id: mapping::text(settings, "list_id").map(str::to_owned),
            revision: text_or("revision", DEFAULT_REVISION),
            custom_source: text_or("custom_source", "leadrelay"),
        })
    }
}

/// Checks Klaviyo settings (parsing them, [`Settings::parse`]) and which credentials are
/// given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "Klaviyo needs a private API key (Settings → API keys)",
        &mut errors,
    );
    if mapping::new_credential(credentials, "api_key").is_some_and(|k| !k.starts_with("pk_")) {
        errors.push(SettingError::new(
            "credentials.api_key",
            "Klaviyo private API keys start with pk_ (the 6-character public key cannot write profiles)",
        ));
    }
    errors
}

fn headers(s: &Settings, key: &str) -> Vec<(String, HeaderValue)> {
    let mut headers = mapping::json_headers("application/vnd.api+json");
    headers.push(("revision".into(), HeaderValue::Plain(s.revision.clone())));
    headers.push(mapping::secret_header(
        "authorization",
        format!("Klaviyo-API-Key {key}"),
    ));
    headers
}

/// Builds the Klaviyo request(s) for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let key = credentials.require("api_key", "the private API key")?;
    let mut attributes = Map::new();
    if let Some(email) = &registration.data.email {
        attributes.insert("email".into(), json!(email));
    }
    let mut location = Map::new();
    let mut properties = Map::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if let Some(part) = name.strip_prefix("location.") {
            location.insert(part.to_owned(), value);
        } else if let Some(custom) = name.strip_prefix("properties.") {
            properties.insert(custom.to_owned(), value);
        } else if ATTRIBUTES.contains(&name.as_str()) {
            attributes.insert(name, value);
        } else {
            properties.insert(name, value);
        }
    }
    if !location.is_empty() {
        attributes.insert("location".into(), Value::Object(location));
    }
    if !properties.is_empty() {
        attributes.insert("properties".into(), Value::Object(properties));
    }
    let origin = s.common.origin(ORIGIN);
    let headers = headers(&s, key.expose());
    let path = match policy {
        Existing::Update => "profile-import",
        Existing::CreateOnly => "profiles",
    };
    let profile = json!({"data": {"type": "profile", "attributes": attributes}});
    let mut then = Vec::new();
    if mapping::consent_in(&s.common.consent_field, &flat) == Some(true) {
        if let Some(email) = &registration.data.email {
            let mut job = json!({"data": {
                "type": "profile-subscription-bulk-create-job",
                "attributes": {
                    "custom_source": s.custom_source,
                    "profiles": {"data": [{
                        "type": "profile",
                        "attributes": {
                            "email": email,
                            "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}
                        }
                    }]}
                }
            }});
            if let Some(list) = &s.list_id {
                job["data"]["relationships"] =
                    json!({"list": {"data": {"type": "list", "id": list}}});
            }
            then.push(
                OutgoingRequest {
                    method: Method::Post,
                    url: format!("{origin}/api/profile-subscription-bulk-create-jobs"),
                    headers: headers.clone(),
                    body: mapping::json_body(&job),
                    secret_segments: Vec::new(),
                }
                .into(),
            );
        }
    }
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url: format!("{origin}/api/{path}"),
            headers,
            body: mapping::json_body(&profile),
            secret_segments: Vec::new(),
        },
        data: attributes,
        then,
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
                &integration(Provider::Klaviyo, settings),
                &creds(&[("api_key", "pk_live_secret")]),
                &registration(consent),
            )
            .unwrap(),
        )
    }

    #[test]
    fn a_profile_import_carries_the_json_api_body_key_and_revision() {
        let (r, then, data) = build_with(
            json!({"fields": {"quiz_score": "quiz_score", "location.country": "country"}}),
            false,
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://a.klaviyo.com/api/profile-import");
        assert_eq!(
            header(&r, "authorization"),
            Some("Klaviyo-API-Key pk_live_secret")
        );
        assert_eq!(header(&r, "revision"), Some(DEFAULT_REVISION));
        assert_eq!(header(&r, "content-type"), Some("application/vnd.api+json"));
        assert_eq!(
            body(&r),
            json!({"data": {"type": "profile", "attributes": {
                "email": "Lena.Fischer@example.com", "first_name": "Lena", "last_name": "Fischer",
                "location": {"country": "DE"}, "properties": {"quiz_score": 8}
            }}})
        );
        assert!(then.is_empty(), "no consent, no subscription");
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        assert!(!format!("{r:?}").contains("pk_live_secret"));
    }

    #[test]
    fn consent_adds_the_subscription_job_after_the_import() {
        let (_, then, _) = build_with(
            json!({"list_id": "Y6nRLr", "custom_source": "Winter quiz"}),
            true,
        );

        assert_eq!(then.len(), 1);
        let job = &then[0];
        assert_eq!(
            job.url,
            "https://a.klaviyo.com/api/profile-subscription-bulk-create-jobs"
        );
        assert_eq!(header(job, "revision"), Some(DEFAULT_REVISION));
        let b = body(job);
        assert_eq!(b["data"]["type"], "profile-subscription-bulk-create-job");
        assert_eq!(b["data"]["attributes"]["custom_source"], "Winter quiz");
        assert_eq!(
            b["data"]["attributes"]["profiles"]["data"][0]["attributes"],
            json!({"email": "Lena.Fischer@example.com", "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}})
        );
        assert_eq!(
            b["data"]["relationships"]["list"]["data"],
            json!({"type": "list", "id": "Y6nRLr"})
        );
    }

    #[test]
    fn create_only_creates_the_profile_and_a_base_url_replaces_the_host() {
        let (r, _, _) = build_with(
            json!({"existing_contact": "create_only", "base_url": "http://127.0.0.2:1", "revision": "2024-10-15"}),
            false,
        );
        assert_eq!(r.url, "http://127.0.0.2:1/api/profiles");
        assert_eq!(header(&r, "revision"), Some("2024-10-15"));
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (wrong, field) in [
            (json!({"list_id": 7}), "settings.list_id"),
            (json!({"revision": 20250115}), "settings.revision"),
            (json!({"custom_source": ["quiz"]}), "settings.custom_source"),
            (json!({"existing_contact": 1}), "settings.existing_contact"),
        ] {
            let errors = super::super::validate(
                Provider::Klaviyo,
                wrong.as_object().unwrap(),
                &names(&[("api_key", "pk_1")]),
            );
            assert_eq!(fields_of(&errors), [field], "{wrong}");
        }
        let parsed = Settings::parse(&settings(json!({"list_id": "Y6nRLr"}))).unwrap();
        assert_eq!(parsed.list_id.as_deref(), Some("Y6nRLr"));
        assert_eq!(parsed.revision, DEFAULT_REVISION);
        assert_eq!(parsed.custom_source, "leadrelay");
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(
                json!({"revision": "latest", "fields": {"location.planet": "x"}, "list_id": 5}),
            ),
            &names(&[("api_key", "ABC123")]),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.fields.location.planet",
                "settings.list_id",
                "settings.revision",
                "credentials.api_key"
            ]
        );
        assert_eq!(
            fields_of(&validate(&Map::new(), &BTreeMap::new())),
            ["credentials.api_key"]
        );
        assert!(validate(&Map::new(), &names(&[("api_key", "pk_x")])).is_empty());
    }
}
