//! Campaign Monitor (createsend) API v3.3: list subscribers.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_id` | the subscriber list's API id (List → Settings → API ID: 32 hexadecimal characters) | required |
//! | `consent_to_track` | whether Campaign Monitor may track the subscriber's opens and clicks: `yes`, `no`, or `unchanged` (an existing subscriber keeps its choice) | `unchanged` |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are `Name`, `MobileNumber` or a custom field's key (`website`, your own) | `Name` ← first and last name, joined |
//!
//! `base_url` defaults to `https://api.createsend.com`. Custom field values go as text;
//! Campaign Monitor keeps at most 250 characters of each. `existing_contact` can only be
//! `update` (see below).
//!
//! # Credentials
//!
//! `api_key` (Account settings → API keys), sent as HTTP Basic with the key as the user
//! name; Campaign Monitor ignores the password.
//!
//! # Request
//!
//! `POST /api/v3.3/subscribers/{list_id}.json` with `{"EmailAddress", "Name",
//! "CustomFields": [{"Key", "Value"}], "Resubscribe", "ConsentToTrack"}`; Campaign
//! Monitor answers 201 with the address.
//!
//! | policy | an existing subscriber |
//! |---|---|
//! | `update` | updated: the name and the custom fields sent overwrite its values (fields not sent keep theirs) |
//!
//! Consent decides `Resubscribe`: with consent it is `true`, so a person who had
//! unsubscribed, been deleted or bounced and now opts in again is re-added to the list;
//! without it `false`, so such a person stays off the list and Campaign Monitor refuses
//! the add with a code (206 unsubscribed, 205 deleted, 207 bounced …), read as
//! `suppressed`. A subscriber list has no place for a person who is not subscribed, so
//! a new person without consent is still added: give the integration the condition
//! `{"field": "consent.marketing", "equals": true}` to deliver only those who agreed.
//!
//! Only `update` is offered: adding a subscriber always updates an existing one, and
//! the API has no create-only call. Checking first (`GET …/subscribers/{list_id}.json?email=`)
//! would need a second request chosen by the first one's answer, which a delivery built
//! in advance cannot carry, and would race with other sign-ups.

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
pub const SETTINGS: &[&str] = &["list_id", "consent_to_track"];

const DEFAULTS: &[(&str, &str)] = &[];
const POLICIES: &[Existing] = &[Existing::Update];
const ORIGIN: &str = "https://api.createsend.com";
/// Fields of the subscriber itself; any other mapped name is a custom field's key.
const STANDARD_FIELDS: &[&str] = &["Name", "MobileNumber"];

fn target_problem(name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case("emailaddress") || name.eq_ignore_ascii_case("email") {
        return Some("EmailAddress identifies the subscriber and is always sent".into());
    }
    None
}

/// Whether Campaign Monitor may track a subscriber's opens and clicks
/// (`consent_to_track`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentToTrack {
    /// Tracking allowed.
    Yes,
    /// Tracking refused.
    No,
    /// An existing subscriber keeps its choice (the default).
    Unchanged,
}

impl ConsentToTrack {
    /// The value Campaign Monitor takes in `ConsentToTrack`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentToTrack::Yes => "Yes",
            ConsentToTrack::No => "No",
            ConsentToTrack::Unchanged => "Unchanged",
        }
    }
}

fn consent_to_track(settings: &Map<String, Value>) -> Option<ConsentToTrack> {
    match settings.get("consent_to_track") {
        None | Some(Value::Null) => Some(ConsentToTrack::Unchanged),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" => Some(ConsentToTrack::Yes),
            "no" => Some(ConsentToTrack::No),
            "unchanged" => Some(ConsentToTrack::Unchanged),
            _ => None,
        },
        Some(_) => None,
    }
}

/// A Campaign Monitor integration's settings, parsed ([`Settings::parse`]): checked when
/// the integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are `Name`, `MobileNumber` or custom field keys.
    pub common: mapping::Common,
    /// The subscriber list's API id (`list_id`), trimmed.
    pub list_id: String,
    /// Whether opens and clicks may be tracked (`consent_to_track`).
    pub consent_to_track: ConsentToTrack,
    /// Whether `fields` sets `Name` (to a source, or to `null` to send none), replacing
    /// the joined first and last name.
    pub name_mapped: bool,
}

impl Settings {
    /// Parses Campaign Monitor settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let list_id = mapping::required_text(
            settings,
            "list_id",
            "the list's API id is required (List → Settings → API ID)",
        )
        .map_err(|e| errors.push(e))
        .ok();
        let track = consent_to_track(settings);
        if track.is_none() {
            errors.push(SettingError::new(
                "settings.consent_to_track",
                "consent_to_track is yes, no or unchanged",
            ));
        }
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, target_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        match (common, list_id, track) {
            (Some(common), Some(list_id), Some(consent_to_track)) if errors.is_empty() => {
                Ok(Settings {
                    common,
                    list_id: list_id.to_owned(),
                    consent_to_track,
                    name_mapped: settings
                        .get("fields")
                        .and_then(Value::as_object)
                        .is_some_and(|f| f.contains_key("Name")),
                })
            }
            _ => Err(errors),
        }
    }
}

/// Checks Campaign Monitor settings (parsing them, [`Settings::parse`]) and which
/// credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "Campaign Monitor needs an API key (Account settings → API keys)",
        &mut errors,
    );
    errors
}

/// Builds the Campaign Monitor request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let key = credentials.require("api_key", "the API key")?;
    let mut subscriber = Map::new();
    if let Some(email) = &registration.data.email {
        subscriber.insert("EmailAddress".into(), json!(email));
    }
    if !s.name_mapped {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|k| flat.get(*k).map(mapping::as_text))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        if !parts.is_empty() {
            subscriber.insert("Name".into(), json!(parts.join(" ")));
        }
    }
    let mut custom = Vec::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if STANDARD_FIELDS.contains(&name.as_str()) {
            subscriber.insert(name, Value::String(mapping::as_text(&value)));
        } else {
            custom.push(json!({"Key": name, "Value": mapping::as_text(&value)}));
        }
    }
    let data = {
        let mut d = subscriber.clone();
        if !custom.is_empty() {
            d.insert("CustomFields".into(), Value::Array(custom.clone()));
        }
        d
    };
    subscriber.insert("CustomFields".into(), Value::Array(custom));
    subscriber.insert(
        "Resubscribe".into(),
        json!(mapping::consent_in(&s.common.consent_field, &flat) == Some(true)),
    );
    subscriber.insert("ConsentToTrack".into(), json!(s.consent_to_track.as_str()));
    // Campaign Monitor reads the key from the user name and ignores the password.
    let token = STANDARD.encode(format!("{}:x", key.expose()));
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header(
        "authorization",
        format!("Basic {token}"),
    ));
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url: format!(
                "{}/api/v3.3/subscribers/{}.json",
                s.common.origin(ORIGIN),
                mapping::path_segment(&s.list_id)
            ),
            headers,
            body: mapping::json_body(&Value::Object(subscriber)),
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

    const LIST: &str = "a58ee1d3039b8bec838e6d1482a8a965";

    fn build_with(settings: Value, consent: bool) -> (OutgoingRequest, Map<String, Value>) {
        let (r, then, data) = sent(
            build(
                &integration(Provider::CampaignMonitor, settings),
                &creds(&[("api_key", "cm-secret-key")]),
                &registration(consent),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        (r, data)
    }

    #[test]
    fn a_subscriber_is_posted_to_the_list_with_the_key_as_basic_user() {
        let (r, data) = build_with(
            json!({"list_id": LIST, "consent_to_track": "yes", "fields": {"quiz_score": "quiz_score", "MobileNumber": "phone"}}),
            true,
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            format!("https://api.createsend.com/api/v3.3/subscribers/{LIST}.json")
        );
        assert_eq!(
            header(&r, "authorization"),
            Some(format!("Basic {}", STANDARD.encode("cm-secret-key:x")).as_str())
        );
        assert_eq!(
            body(&r),
            json!({
                "EmailAddress": "Lena.Fischer@example.com",
                "Name": "Lena Fischer",
                "MobileNumber": "+49 30 1234567",
                "CustomFields": [{"Key": "quiz_score", "Value": "8"}],
                "Resubscribe": true,
                "ConsentToTrack": "Yes"
            })
        );
        assert_eq!(data["EmailAddress"], "Lena.Fischer@example.com");
        assert!(data.get("Resubscribe").is_none());
        assert!(!format!("{r:?}").contains("cm-secret-key"));
    }

    #[test]
    fn without_consent_a_past_unsubscribe_stands_and_tracking_is_left_unchanged() {
        let (r, _) = build_with(
            json!({"list_id": LIST, "fields": {"Name": "first_name"}, "base_url": "http://127.0.0.2:9"}),
            false,
        );
        let b = body(&r);
        assert_eq!(b["Resubscribe"], false);
        assert_eq!(b["ConsentToTrack"], "Unchanged");
        assert_eq!(b["Name"], "Lena");
        assert_eq!(b["CustomFields"], json!([]));
        assert!(r
            .url
            .starts_with("http://127.0.0.2:9/api/v3.3/subscribers/"));
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"list_id": 42}), "settings.list_id"),
            (json!({"list_id": "  "}), "settings.list_id"),
            (
                json!({"list_id": LIST, "consent_to_track": true}),
                "settings.consent_to_track",
            ),
            (
                json!({"list_id": LIST, "preflight": "yes"}),
                "settings.preflight",
            ),
        ] {
            let errors = super::super::validate(
                Provider::CampaignMonitor,
                settings.as_object().unwrap(),
                &names(&[("api_key", "k")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed = Settings::parse(&settings(
            json!({"list_id": format!(" {LIST} "), "consent_to_track": " No "}),
        ))
        .unwrap();
        assert_eq!(parsed.list_id, LIST);
        assert_eq!(parsed.consent_to_track, ConsentToTrack::No);
        assert!(!parsed.name_mapped);
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name_and_create_only_is_refused() {
        let errors = validate(
            &settings(
                json!({"consent_to_track": "maybe", "fields": {"EmailAddress": "email"}, "existing_contact": "create_only"}),
            ),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.list_id",
                "settings.consent_to_track",
                "settings.fields.EmailAddress",
                "settings.existing_contact",
                "credentials.api_key"
            ]
        );
        assert!(validate(
            &settings(json!({"list_id": LIST})),
            &names(&[("api_key", "k")])
        )
        .is_empty());
    }
}
