//! Salesforce REST API: Leads or Contacts, upserted by an external id.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `instance_url` | the org's instance URL, `https://yourorg.my.salesforce.com` (the `instance_url` of the OAuth token answer) | required with an `access_token` (or `base_url`); with a refresh token the token answer says it |
//! | `login_url` | where refresh tokens are exchanged: `https://login.salesforce.com`, `https://test.salesforce.com` for sandboxes, or the org's My Domain | `https://login.salesforce.com` |
//! | `object` | `Lead` or `Contact` | `Lead` |
//! | `external_id_field` | the API name of a custom field marked External ID (and Unique, for `create_only`), such as `LeadRelay_Email__c` | required |
//! | `external_id_source` | the registration field whose value identifies the record, or `registration_id` (one record per registration) | `email` |
//! | `api_version` | `vNN.N` | `v62.0` |
//! | `opt_out_field` | the checkbox that records the absence of marketing consent, or `null` | `HasOptedOutOfEmail` |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are field API names | `FirstName` ← `first_name`, `LastName` ← `last_name`, `Email` ← `email`, `Phone` ← `phone`, and for Leads `Company` ← `company` |
//!
//! A Lead requires `LastName` and `Company`: map `Company` to a static value
//! (`"Company": {"value": "Private person"}`) when the campaign does not ask for one.
//! `base_url`, when set, replaces `instance_url`.
//!
//! # Credentials
//!
//! Either of:
//!
//! - `client_id` (the connected app's consumer key), `client_secret` (its consumer
//!   secret; optional when the app does not require it for the refresh token flow) and
//!   `refresh_token` (from connecting a user, or integration user, allowed to create
//!   and edit the object). Each attempt first exchanges the refresh token:
//!   `POST {login_url}/services/oauth2/token`, form-encoded
//!   `grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=…`; the record
//!   request then carries the answer's `access_token` as a Bearer token and goes to the
//!   answer's `instance_url` (unless `base_url` is set). The token is not kept between
//!   attempts, and the token answer, which holds it, is never recorded. A refused
//!   exchange (400 `invalid_grant` "expired access/refresh token" for a revoked or
//!   expired refresh token, `invalid_client_id`, `invalid_client`) pauses the
//!   integration until its credentials are updated. Refresh token rotation must be off
//!   for the connected app: leadrelay does not store a new refresh token from the
//!   answer, and the one it holds stops working once rotated.
//! - `access_token`: an OAuth access token, sent as a Bearer token. Salesforce tokens
//!   expire (within hours, by the org's session timeout); an expired one is a 401
//!   `INVALID_SESSION_ID`, which pauses the integration until a new token is set.
//!
//! With a `refresh_token` the refresh flow is used, and an `access_token` is ignored.
//!
//! # Requests
//!
//! | policy | request | an existing record |
//! |---|---|---|
//! | `update` | `PATCH /services/data/{api_version}/sobjects/{object}/{external_id_field}/{value}` with the fields (201 created, 200 or 204 updated) | updated: the fields sent overwrite its values |
//! | `create_only` | `POST /services/data/{api_version}/sobjects/{object}` with the fields and the external id | left as it is: with the external id field marked Unique, Salesforce answers 400 `DUPLICATE_VALUE`, read as `duplicate` |
//!
//! With the refresh flow the token request comes first; the attempt lists it in
//! `preceding` (or reports it, when it was refused).
//!
//! Consent: when the registration says yes or no, `opt_out_field` is set to the
//! opposite (so a later registration with consent opts the person back in).

use super::mapping::{self, Existing};
use super::{Built, FollowUp, Slot, Take};
use crate::exchange::{Credentials, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &[
    "instance_url",
    "login_url",
    "object",
    "external_id_field",
    "external_id_source",
    "api_version",
    "opt_out_field",
];

const LEAD: &[(&str, &str)] = &[
    ("FirstName", "first_name"),
    ("LastName", "last_name"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Company", "company"),
];
const CONTACT: &[(&str, &str)] = &[
    ("FirstName", "first_name"),
    ("LastName", "last_name"),
    ("Email", "email"),
    ("Phone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
/// The API version used when the integration names none.
pub const DEFAULT_API_VERSION: &str = "v62.0";
const TOKEN_PATH: &str = "/services/oauth2/token";
/// Where refresh tokens are exchanged when the integration names no `login_url`.
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";

fn defaults(settings: &Map<String, Value>) -> &'static [(&'static str, &'static str)] {
    match mapping::text(settings, "object") {
        Some("Contact") => CONTACT,
        _ => LEAD,
    }
}

fn api_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn field_problem(name: &str) -> Option<String> {
    (!api_name_ok(name))
        .then(|| "field API names are letters, digits and '_', such as Favourite_Colour__c".into())
}

/// A Salesforce integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are field API names.
    pub common: mapping::Common,
    /// The org's instance URL (`instance_url`), trimmed, without a trailing slash.
    pub instance_url: Option<String>,
    /// Where refresh tokens are exchanged (`login_url`, else [`DEFAULT_LOGIN_URL`]),
    /// without a trailing slash.
    pub login_url: String,
    /// The object written: `Lead` or `Contact` (`object`).
    pub object: String,
    /// The API name of the External ID field (`external_id_field`), trimmed.
    pub external_id_field: String,
    /// The registration field whose value identifies the record, or `registration_id`
    /// (`external_id_source`).
    pub external_id_source: String,
    /// The API version, such as `v62.0` (`api_version`).
    pub api_version: String,
    /// The checkbox set to the opposite of consent, `None` for none (`opt_out_field`).
    pub opt_out_field: Option<String>,
}

impl Settings {
    /// Parses Salesforce settings, or names every one that is wrong; `instance_url` may
    /// be absent (a refresh token's answer, or `base_url`, gives the instance).
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        Settings::parse_requiring(settings, false)
    }

    /// Parses Salesforce settings as [`Settings::parse`] does, with `instance_url`
    /// required when `instance_url_required`.
    pub fn parse_requiring(
        settings: &Map<String, Value>,
        instance_url_required: bool,
    ) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        mapping::check_url_setting(settings, "instance_url", instance_url_required, &mut errors);
        mapping::check_url_setting(settings, "login_url", false, &mut errors);
        if let Some(v) = settings.get("object") {
            if !matches!(v.as_str(), Some("Lead" | "Contact")) {
                errors.push(SettingError::new(
                    "settings.object",
                    "object is Lead or Contact",
                ));
            }
        }
        match mapping::text(settings, "external_id_field") {
            Some(f) if api_name_ok(f) => {}
            _ => errors.push(SettingError::new(
                "settings.external_id_field",
                "the API name of an External ID field is required, such as LeadRelay_Email__c",
            )),
        }
        if settings
            .get("external_id_source")
            .is_some_and(|v| v.as_str().is_none_or(|s| s.trim().is_empty()))
        {
            errors.push(SettingError::new(
                "settings.external_id_source",
                "external_id_source names a registration field, or registration_id",
            ));
        }
        if let Some(v) = settings.get("api_version") {
            if !v.as_str().is_some_and(mapping::is_api_version) {
                errors.push(SettingError::new(
                    "settings.api_version",
                    "api_version is such as v62.0",
                ));
            }
        }
        mapping::check_opt_out_field(
            settings,
            api_name_ok,
            "opt_out_field is a checkbox field's API name, or null",
            &mut errors,
        );
        let common = mapping::Common::parse(settings, defaults(settings), POLICIES, field_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        let (Some(common), true) = (common, errors.is_empty()) else {
            return Err(errors);
        };
        let url = |key: &str| {
            mapping::text(settings, key)
                .map(|u| u.trim().trim_end_matches('/'))
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
        };
        let text_or =
            |key: &str, default: &str| mapping::text(settings, key).unwrap_or(default).to_owned();
        Ok(Settings {
            common,
            instance_url: url("instance_url"),
            login_url: url("login_url")
                .unwrap_or_else(|| DEFAULT_LOGIN_URL.trim_end_matches('/').to_owned()),
            object: text_or("object", "Lead"),
            external_id_field: text_or("external_id_field", "").trim().to_owned(),
            external_id_source: text_or("external_id_source", "email"),
            api_version: text_or("api_version", DEFAULT_API_VERSION),
            opt_out_field: match settings.get("opt_out_field") {
                Some(Value::Null) => None,
                Some(Value::String(f)) => Some(f.clone()),
                _ => Some("HasOptedOutOfEmail".to_owned()),
            },
        })
    }
}

/// Checks Salesforce settings (parsing them, [`Settings::parse_requiring`]: the
/// instance URL is required unless a refresh token or `base_url` gives it) and which
/// credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let refresh = credentials.contains_key("refresh_token");
    let mut errors =
        Settings::parse_requiring(settings, !refresh && settings.get("base_url").is_none())
            .err()
            .unwrap_or_default();
    if refresh {
        mapping::require_credential(
            credentials,
            "client_id",
            "the refresh token flow needs the connected app's consumer key",
            &mut errors,
        );
    } else if credentials.contains_key("client_id") || credentials.contains_key("client_secret") {
        mapping::require_credential(
            credentials,
            "refresh_token",
            "a connected app's consumer key and secret work with a refresh token",
            &mut errors,
        );
    } else {
        mapping::require_credential(
            credentials,
            "access_token",
            "Salesforce needs a connected app's client_id, client_secret and refresh_token, or an OAuth access token",
            &mut errors,
        );
    }
    errors
}

/// The token request of the refresh flow, when the credentials hold a refresh token.
fn token_request(
    settings: &Settings,
    credentials: &Credentials,
) -> Result<Option<OutgoingRequest>, SettingError> {
    let Some(refresh) = credentials.get("refresh_token") else {
        return Ok(None);
    };
    let client_id = credentials.require("client_id", "the consumer key")?;
    let login = &settings.login_url;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id.expose()),
    ];
    if let Some(secret) = credentials.get("client_secret") {
        form.push(("client_secret", secret.expose()));
    }
    form.push(("refresh_token", refresh.expose()));
    Ok(Some(OutgoingRequest {
        method: Method::Post,
        url: format!("{login}{TOKEN_PATH}"),
        headers: mapping::form_headers(),
        body: mapping::form_body(&form),
        secret_segments: Vec::new(),
    }))
}

/// Builds the Salesforce request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let token_request = token_request(&s, credentials)?;
    let base_url = s.common.base_url.is_some();
    let origin = match (base_url, &token_request) {
        (true, _) => s.common.origin(""),
        // A stand-in: the token answer's instance_url replaces it before the request
        // goes out (and without one the request is never sent).
        (false, Some(_)) => DEFAULT_LOGIN_URL.to_owned(),
        (false, None) => s.instance_url.clone().ok_or_else(|| {
            SettingError::new("settings.instance_url", "the instance URL is required")
        })?,
    };
    let object = s.object.as_str();
    let id_field = s.external_id_field.as_str();
    let source = s.external_id_source.as_str();
    let id_value = if source == "registration_id" {
        registration.id.to_string()
    } else {
        flat.get(source)
            .map(mapping::as_text)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                SettingError::new(
                    "settings.external_id_source",
                    format!(
                        "this registration has no value in '{source}', which identifies the record"
                    ),
                )
            })?
    };
    let version = &s.api_version;
    let token = match &token_request {
        Some(_) => None,
        None => Some(credentials.require("access_token", "the access token")?),
    };
    let mut record: Map<String, Value> = s.common.fields.apply(&flat).into_iter().collect();
    if let (Some(field), Some(given)) = (
        &s.opt_out_field,
        mapping::consent_in(&s.common.consent_field, &flat),
    ) {
        record.insert(field.clone(), Value::Bool(!given));
    }
    let objects = format!(
        "{origin}/services/data/{version}/sobjects/{}",
        mapping::path_segment(object)
    );
    let (method, url) = match policy {
        Existing::Update => {
            // The external id travels in the URL; Salesforce refuses it in the body too.
            record.remove(id_field);
            (
                Method::Patch,
                format!(
                    "{objects}/{}/{}",
                    mapping::path_segment(id_field),
                    mapping::path_segment(&id_value)
                ),
            )
        }
        Existing::CreateOnly => {
            record.insert(id_field.to_owned(), json!(id_value));
            (Method::Post, objects)
        }
    };
    let mut headers = mapping::json_headers("application/json");
    if let Some(token) = token {
        headers.push(mapping::secret_header(
            "authorization",
            format!("Bearer {}", token.expose()),
        ));
    }
    let request = OutgoingRequest {
        method,
        url,
        headers,
        body: mapping::json_body(&Value::Object(record.clone())),
        secret_segments: Vec::new(),
    };
    let Some(token_request) = token_request else {
        return Ok(Built::Send {
            request,
            data: record,
            then: Vec::new(),
        });
    };
    let mut takes = vec![Take {
        answer: 0,
        pointer: "/access_token",
        into: Slot::SecretHeader {
            name: "authorization",
            prefix: "Bearer ",
        },
    }];
    if !base_url {
        takes.push(Take {
            answer: 0,
            pointer: "/instance_url",
            into: Slot::Origin,
        });
    }
    Ok(Built::Send {
        request: token_request,
        data: record,
        then: vec![FollowUp { request, takes }],
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
                &integration(Provider::Salesforce, settings),
                &creds(&[("access_token", "00Dxx!secret")]),
                &lena(),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        (r, data)
    }

    #[test]
    fn an_upsert_patches_the_lead_by_its_external_id() {
        let (r, data) = build_with(json!({
            "instance_url": "https://acme.my.salesforce.com",
            "external_id_field": "LeadRelay_Email__c",
            "fields": {"Company": {"value": "Private person"}, "LeadRelay_Email__c": "email"}
        }));

        assert_eq!(r.method, Method::Patch);
        assert_eq!(
            r.url,
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/Lena.Fischer%40example.com"
        );
        assert_eq!(header(&r, "authorization"), Some("Bearer 00Dxx!secret"));
        assert_eq!(
            body(&r),
            json!({"FirstName": "Lena", "LastName": "Fischer", "Email": "Lena.Fischer@example.com",
                   "Phone": "+49 30 1234567", "Company": "Private person", "HasOptedOutOfEmail": false})
        );
        assert_eq!(data["LastName"], "Fischer");
        assert!(!format!("{r:?}").contains("secret"));
    }

    fn refresh_flow(settings: Value, client_secret: bool) -> (OutgoingRequest, Vec<FollowUp>) {
        let mut pairs = vec![
            ("client_id", "3MVG9consumer"),
            ("refresh_token", "5Aep861refresh+/="),
        ];
        if client_secret {
            pairs.push(("client_secret", "1955279925675241571"));
        }
        let (token, then, data) = sent_with_takes(
            build(
                &integration(Provider::Salesforce, settings),
                &creds(&pairs),
                &lena(),
            )
            .unwrap(),
        );
        assert_eq!(data["LastName"], "Fischer", "pre-flight reads the record");
        (token, then)
    }

    #[test]
    fn a_refresh_token_is_exchanged_first_and_the_record_goes_to_the_answers_instance() {
        let (token, then) = refresh_flow(
            json!({"external_id_field": "LeadRelay_Email__c", "login_url": "https://test.salesforce.com/"}),
            true,
        );

        assert_eq!(token.method, Method::Post);
        assert_eq!(
            token.url,
            "https://test.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            header(&token, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&token, "accept"), Some("application/json"));
        assert_eq!(
            String::from_utf8(token.body.clone()).unwrap(),
            "grant_type=refresh_token&client_id=3MVG9consumer&client_secret=1955279925675241571&refresh_token=5Aep861refresh%2B%2F%3D"
        );
        assert!(!format!("{token:?}").contains("refresh%2B"));
        assert_eq!(then.len(), 1);
        assert!(then[0].takes_secret_from(0));
        assert_eq!(header(&then[0].request, "authorization"), None);
        let answer = br#"{"access_token": "00D5g!issued", "instance_url": "https://acme.my.salesforce.com", "token_type": "Bearer"}"#;
        let record = then[0].resolve(&[answer.as_slice()]).unwrap();
        assert_eq!(record.method, Method::Patch);
        assert_eq!(
            record.url,
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Lead/LeadRelay_Email__c/Lena.Fischer%40example.com"
        );
        assert_eq!(
            header(&record, "authorization"),
            Some("Bearer 00D5g!issued")
        );
        assert_eq!(body(&record)["LastName"], "Fischer");
    }

    #[test]
    fn base_url_overrides_the_answers_instance_and_the_secret_is_optional() {
        let (token, then) = refresh_flow(
            json!({"external_id_field": "X__c", "base_url": "http://127.0.0.2:9"}),
            false,
        );

        assert_eq!(
            token.url,
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert!(!String::from_utf8(token.body)
            .unwrap()
            .contains("client_secret"));
        let answer = br#"{"access_token": "t", "instance_url": "https://acme.my.salesforce.com"}"#;
        let record = then[0].resolve(&[answer.as_slice()]).unwrap();
        assert!(record.url.starts_with("http://127.0.0.2:9/services/data/"));
    }

    #[test]
    fn create_only_posts_a_contact_with_its_external_id() {
        let (r, _) = build_with(json!({
            "base_url": "http://127.0.0.2:1",
            "object": "Contact",
            "external_id_field": "Registration__c",
            "external_id_source": "registration_id",
            "existing_contact": "create_only",
            "api_version": "v60.0",
            "opt_out_field": null
        }));

        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            "http://127.0.0.2:1/services/data/v60.0/sobjects/Contact"
        );
        let b = body(&r);
        assert_eq!(b["Registration__c"], "reg_0123456789abcdefghjkmnpqrs");
        assert!(b.get("Company").is_none());
        assert!(b.get("HasOptedOutOfEmail").is_none());
    }

    #[test]
    fn a_registration_without_the_external_id_value_names_the_setting() {
        let err = build(
            &integration(Provider::Salesforce, json!({"instance_url": "https://a.my.salesforce.com", "external_id_field": "X__c", "external_id_source": "member_no"})),
            &creds(&[("access_token", "t")]),
            &lena(),
        )
        .unwrap_err();
        assert_eq!(err.field, "settings.external_id_source");
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(json!({"object": "Account", "api_version": "62", "opt_out_field": 1})),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.instance_url",
                "settings.object",
                "settings.external_id_field",
                "settings.api_version",
                "settings.opt_out_field",
                "credentials.access_token"
            ]
        );
        assert!(validate(
            &settings(
                json!({"instance_url": "https://a.my.salesforce.com", "external_id_field": "X__c"})
            ),
            &names(&[("access_token", "t")])
        )
        .is_empty());
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (wrong, field) in [
            (json!({"object": 1}), "settings.object"),
            (
                json!({"external_id_source": 5}),
                "settings.external_id_source",
            ),
            (json!({"api_version": 62}), "settings.api_version"),
            (json!({"login_url": true}), "settings.login_url"),
            (json!({"existing_contact": 1}), "settings.existing_contact"),
        ] {
            let mut given = settings(
                json!({"instance_url": "https://a.my.salesforce.com", "external_id_field": "X__c"}),
            );
            given.extend(settings(wrong.clone()));
            let errors = super::super::validate(
                Provider::Salesforce,
                &given,
                &names(&[("access_token", "t")]),
            );
            assert_eq!(fields_of(&errors), [field], "{wrong}");
        }
        let parsed = Settings::parse(&settings(json!({
            "external_id_field": "X__c", "object": "Contact", "login_url": "https://test.salesforce.com/",
            "opt_out_field": null
        })))
        .unwrap();
        assert_eq!(parsed.external_id_field, "X__c");
        assert_eq!(parsed.object, "Contact");
        assert_eq!(parsed.login_url, "https://test.salesforce.com");
        assert_eq!(parsed.instance_url, None);
        assert_eq!(parsed.opt_out_field, None);
        assert_eq!(parsed.api_version, DEFAULT_API_VERSION);
    }

    #[test]
    fn the_refresh_flow_needs_the_consumer_key_and_no_instance_url() {
        let s = settings(json!({"external_id_field": "X__c"}));
        assert!(validate(
            &s,
            &names(&[
                ("client_id", "c"),
                ("client_secret", "s"),
                ("refresh_token", "r")
            ])
        )
        .is_empty());
        assert_eq!(
            fields_of(&validate(&s, &names(&[("refresh_token", "r")]))),
            ["credentials.client_id"]
        );
        assert_eq!(
            fields_of(&validate(
                &settings(
                    json!({"external_id_field": "X__c", "instance_url": "https://a.my.salesforce.com"})
                ),
                &names(&[("client_id", "c"), ("client_secret", "s")])
            )),
            ["credentials.refresh_token"]
        );
        assert_eq!(
            fields_of(&validate(
                &settings(
                    json!({"external_id_field": "X__c", "login_url": "login.salesforce.com"})
                ),
                &names(&[("client_id", "c"), ("refresh_token", "r")])
            )),
            ["settings.login_url"]
        );
    }
}
