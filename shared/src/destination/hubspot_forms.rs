//! HubSpot Forms: submissions to a HubSpot form (v3 integration API).
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `portal_id` | the HubSpot account id (digits) | required |
//! | `form_guid` | the form's id (from the form editor's URL) | required |
//! | `page_uri`, `page_name` | the page the submission is attributed to | none |
//! | `consent_text` | the processing-consent text of a GDPR form; when set, `legalConsentOptions` is sent | none |
//! | `processing_consent_field` | the registration field that says the person agreed to processing | `consent_field` |
//! | `subscription_type_id` | the subscription type (a number) marketing consent subscribes to | none |
//! | `communication_text` | the text of that subscription checkbox | `consent_text` |
//! | `fields`, `conditions`, `consent_field`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are the form's field names | `email` ← `email`, `firstname` ← `first_name`, `lastname` ← `last_name`, `phone` ← `phone` |
//!
//! `base_url` defaults to `https://api.hsforms.com`. `existing_contact` can only be
//! `update`: a form submission always creates the contact or updates the one with the
//! same email.
//!
//! # Credentials
//!
//! None needed: `POST /submissions/v3/integration/submit/{portal_id}/{form_guid}` is
//! unauthenticated (50 requests per 10 seconds). With `access_token` (a private app
//! token with the `forms` scope), the authenticated
//! `POST /submissions/v3/integration/secure/submit/{portal_id}/{form_guid}` is used
//! instead, with higher limits.
//!
//! # Body
//!
//! `{"submittedAt": "<ms>", "fields": [{"objectTypeId": "0-1", "name", "value"}], "context":
//! {"pageUri", "pageName"}, "legalConsentOptions": {"consent": {"consentToProcess", "text",
//! "communications": [{"value", "subscriptionTypeId", "text"}]}}}`. Values are text.
//! `consentToProcess` is the processing consent; the communication's `value` is the
//! marketing consent. A form that requires processing consent refuses a submission
//! without it (`MISSING_PROCESSING_CONSENT`), and the log says so.

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
pub const SETTINGS: &[&str] = &[
    "portal_id",
    "form_guid",
    "page_uri",
    "page_name",
    "consent_text",
    "processing_consent_field",
    "subscription_type_id",
    "communication_text",
];

const DEFAULTS: &[(&str, &str)] = &[
    ("email", "email"),
    ("firstname", "first_name"),
    ("lastname", "last_name"),
    ("phone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update];
const ORIGIN: &str = "https://api.hsforms.com";

fn field_problem(name: &str) -> Option<String> {
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (!ok).then(|| "form field names are letters, digits, '_' or '-', such as lastname".into())
}

/// A HubSpot Forms integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are the form's field names.
    pub common: mapping::Common,
    /// The HubSpot account id, digits (`portal_id`, text or a number).
    pub portal_id: String,
    /// The form's id (`form_guid`).
    pub form_guid: String,
    /// The page the submission is attributed to (`page_uri`).
    pub page_uri: Option<String>,
    /// The page's name (`page_name`).
    pub page_name: Option<String>,
    /// The processing-consent text of a GDPR form (`consent_text`).
    pub consent_text: Option<String>,
    /// The registration field that says the person agreed to processing
    /// (`processing_consent_field`; `consent_field` when absent).
    pub processing_consent_field: Option<String>,
    /// The subscription type marketing consent subscribes to (`subscription_type_id`).
    pub subscription_type_id: Option<u64>,
    /// The text of that subscription checkbox (`communication_text`).
    pub communication_text: Option<String>,
}

impl Settings {
    /// Parses HubSpot Forms settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        match settings.get("portal_id") {
            Some(Value::String(p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {}
            Some(Value::Number(n)) if n.is_u64() => {}
            _ => errors.push(SettingError::new(
                "settings.portal_id",
                "the HubSpot account id (portal_id, digits) is required",
            )),
        }
        match mapping::text(settings, "form_guid") {
            Some(g) if !g.is_empty() && g.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') => {}
            _ => errors.push(SettingError::new(
                "settings.form_guid",
                "the form's id (form_guid, such as 6b1c0e4a-2f3d-4e5a-9b8c-7d6e5f4a3b2c) is required",
            )),
        }
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, field_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        for key in [
            "page_uri",
            "page_name",
            "consent_text",
            "communication_text",
            "processing_consent_field",
        ] {
            if settings.get(key).is_some_and(|v| !v.is_string()) {
                errors.push(SettingError::new(
                    format!("settings.{key}"),
                    format!("{key} is text"),
                ));
            }
        }
        if settings
            .get("subscription_type_id")
            .is_some_and(|v| v.as_u64().is_none())
        {
            errors.push(SettingError::new(
                "settings.subscription_type_id",
                "subscription_type_id is a number",
            ));
        }
        if settings.get("subscription_type_id").is_some() && settings.get("consent_text").is_none()
        {
            errors.push(SettingError::new(
                "settings.consent_text",
                "a subscription needs the form's consent text (consent_text)",
            ));
        }
        let (Some(common), true) = (common, errors.is_empty()) else {
            return Err(errors);
        };
        let text = |key: &str| mapping::text(settings, key).map(str::to_owned);
        Ok(Settings {
            common,
            portal_id: match settings.get("portal_id") {
                Some(Value::Number(n)) => n.to_string(),
                _ => text("portal_id").unwrap_or_default(),
            },
            form_guid: text("form_guid").unwrap_or_default().trim().to_owned(),
            page_uri: text("page_uri"),
            page_name: text("page_name"),
            consent_text: text("consent_text"),
            processing_consent_field: text("processing_consent_field"),
            subscription_type_id: settings.get("subscription_type_id").and_then(Value::as_u64),
            communication_text: text("communication_text"),
        })
    }
}

/// Checks HubSpot Forms settings (parsing them, [`Settings::parse`]).
pub fn validate(
    settings: &Map<String, Value>,
    _credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    Settings::parse(settings).err().unwrap_or_default()
}

/// Builds the form submission for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let portal = &s.portal_id;
    let form = &s.form_guid;
    let fields: Vec<Value> = s
        .common
        .fields
        .apply(&flat)
        .into_iter()
        .map(
            |(name, v)| json!({"objectTypeId": "0-1", "name": name, "value": mapping::as_text(&v)}),
        )
        .collect();
    let submitted = registration
        .data
        .submitted_at
        .unwrap_or(registration.received_at);
    let mut body = Map::new();
    body.insert("submittedAt".into(), json!(submitted.to_string()));
    body.insert("fields".into(), Value::Array(fields.clone()));
    let mut context = Map::new();
    if let Some(uri) = &s.page_uri {
        context.insert("pageUri".into(), json!(uri));
    }
    if let Some(name) = &s.page_name {
        context.insert("pageName".into(), json!(name));
    }
    if !context.is_empty() {
        body.insert("context".into(), Value::Object(context));
    }
    if let Some(text) = &s.consent_text {
        let processing_field = s
            .processing_consent_field
            .as_deref()
            .unwrap_or(&s.common.consent_field);
        let to_process = mapping::consent_in(processing_field, &flat) == Some(true);
        let mut consent = Map::new();
        consent.insert("consentToProcess".into(), json!(to_process));
        consent.insert("text".into(), json!(text));
        if let Some(id) = s.subscription_type_id {
            let communication_text = s.communication_text.as_ref().unwrap_or(text);
            consent.insert(
                "communications".into(),
                json!([{
                    "value": mapping::consent_in(&s.common.consent_field, &flat) == Some(true),
                    "subscriptionTypeId": id,
                    "text": communication_text
                }]),
            );
        }
        body.insert("legalConsentOptions".into(), json!({"consent": consent}));
    }
    let origin = s.common.origin(ORIGIN);
    let mut headers = mapping::json_headers("application/json");
    let path = match credentials.get("access_token") {
        Some(token) => {
            headers.push(mapping::secret_header(
                "authorization",
                format!("Bearer {}", token.expose()),
            ));
            "secure/submit"
        }
        None => "submit",
    };
    let url = format!(
        "{origin}/submissions/v3/integration/{path}/{}/{}",
        mapping::path_segment(portal),
        mapping::path_segment(form)
    );
    let mut data = Map::new();
    if let Some(email) = &registration.data.email {
        data.insert("email".into(), json!(email));
    }
    data.insert("fields".into(), Value::Array(fields));
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url,
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

    const FORM: &str = "6b1c0e4a-2f3d-4e5a-9b8c-7d6e5f4a3b2c";

    #[test]
    fn a_submission_posts_the_fields_to_the_form_without_auth() {
        let (r, then, data) = sent(
            build(
                &integration(Provider::HubspotForms, json!({"portal_id": "62515", "form_guid": FORM, "page_uri": "https://quiz.example.com"})),
                &Credentials::default(),
                &lena(),
            )
            .unwrap(),
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            format!("https://api.hsforms.com/submissions/v3/integration/submit/62515/{FORM}")
        );
        assert_eq!(header(&r, "authorization"), None);
        let b = body(&r);
        assert_eq!(b["submittedAt"], "1764613200000");
        assert_eq!(
            b["fields"][0],
            json!({"objectTypeId": "0-1", "name": "email", "value": "Lena.Fischer@example.com"})
        );
        assert_eq!(b["fields"][2]["name"], "lastname");
        assert_eq!(b["context"]["pageUri"], "https://quiz.example.com");
        assert!(b.get("legalConsentOptions").is_none());
        assert!(then.is_empty());
        assert_eq!(data["email"], "Lena.Fischer@example.com");
    }

    #[test]
    fn consent_becomes_legal_consent_options() {
        let (r, _, _) = sent(
            build(
                &integration(Provider::HubspotForms, json!({
                    "portal_id": 62515, "form_guid": FORM,
                    "consent_text": "I agree to allow Acme to store and process my personal data.",
                    "subscription_type_id": 999, "communication_text": "I agree to receive marketing email."
                })),
                &Credentials::default(),
                &registration(true),
            )
            .unwrap(),
        );

        assert_eq!(
            body(&r)["legalConsentOptions"],
            json!({"consent": {
                "consentToProcess": true,
                "text": "I agree to allow Acme to store and process my personal data.",
                "communications": [{"value": true, "subscriptionTypeId": 999, "text": "I agree to receive marketing email."}]
            }})
        );
    }

    #[test]
    fn a_token_switches_to_the_secure_endpoint() {
        let (r, _, _) = sent(
            build(
                &integration(
                    Provider::HubspotForms,
                    json!({"portal_id": "1", "form_guid": FORM, "base_url": "http://127.0.0.2:9"}),
                ),
                &creds(&[("access_token", "pat-x")]),
                &lena(),
            )
            .unwrap(),
        );
        assert_eq!(
            r.url,
            format!("http://127.0.0.2:9/submissions/v3/integration/secure/submit/1/{FORM}")
        );
        assert_eq!(header(&r, "authorization"), Some("Bearer pat-x"));
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (wrong, field) in [
            (json!({"portal_id": 1.5}), "settings.portal_id"),
            (json!({"form_guid": 6}), "settings.form_guid"),
            (json!({"page_uri": 1}), "settings.page_uri"),
            (
                json!({"processing_consent_field": true}),
                "settings.processing_consent_field",
            ),
            (
                json!({"consent_text": "x", "subscription_type_id": "999"}),
                "settings.subscription_type_id",
            ),
        ] {
            let mut given = settings(json!({"portal_id": "1", "form_guid": FORM}));
            given.extend(settings(wrong.clone()));
            let errors = super::super::validate(Provider::HubspotForms, &given, &BTreeMap::new());
            assert_eq!(fields_of(&errors), [field], "{wrong}");
        }
        let parsed = Settings::parse(&settings(
            json!({"portal_id": 62515, "form_guid": FORM, "subscription_type_id": 9, "consent_text": "ok"}),
        ))
        .unwrap();
        assert_eq!(parsed.portal_id, "62515");
        assert_eq!(parsed.subscription_type_id, Some(9));
        assert_eq!(parsed.processing_consent_field, None);
    }

    #[test]
    fn settings_are_checked_by_name() {
        let errors = validate(
            &settings(
                json!({"portal_id": "abc", "existing_contact": "create_only", "subscription_type_id": "x"}),
            ),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.portal_id",
                "settings.form_guid",
                "settings.existing_contact",
                "settings.subscription_type_id",
                "settings.consent_text"
            ]
        );
        assert!(validate(
            &settings(json!({"portal_id": "1", "form_guid": FORM})),
            &BTreeMap::new()
        )
        .is_empty());
    }
}
