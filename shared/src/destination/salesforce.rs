//! Salesforce REST API: Leads or Contacts, upserted by an external id.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `instance_url` | the org's instance URL, `https://yourorg.my.salesforce.com` (the `instance_url` of the OAuth token answer) | required (or `base_url`) |
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
//! `access_token`: an OAuth access token of a user (or integration user) allowed to
//! create and edit the object, sent as a Bearer token. Salesforce tokens expire; an
//! expired one is a 401 `INVALID_SESSION_ID`, which pauses the integration until a new
//! token is set.
//!
//! # Requests
//!
//! | policy | request | an existing record |
//! |---|---|---|
//! | `update` | `PATCH /services/data/{api_version}/sobjects/{object}/{external_id_field}/{value}` with the fields (201 created, 200 or 204 updated) | updated: the fields sent overwrite its values |
//! | `create_only` | `POST /services/data/{api_version}/sobjects/{object}` with the fields and the external id | left as it is: with the external id field marked Unique, Salesforce answers 400 `DUPLICATE_VALUE`, read as `duplicate` |
//!
//! Consent: when the registration says yes or no, `opt_out_field` is set to the
//! opposite (so a later registration with consent opts the person back in).

use super::mapping::{self, Existing, FieldMap};
use super::{Built, Credentials, Method, OutgoingRequest, SettingError};
use crate::model::{Integration, Registration};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

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

fn valid_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
}

/// Checks Salesforce settings and which credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Vec::new();
    mapping::check_url_setting(
        settings,
        "instance_url",
        settings.get("base_url").is_none(),
        &mut errors,
    );
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
        if !v.as_str().is_some_and(valid_version) {
            errors.push(SettingError::new(
                "settings.api_version",
                "api_version is such as v62.0",
            ));
        }
    }
    match settings.get("opt_out_field") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if api_name_ok(f) => {}
        Some(_) => errors.push(SettingError::new(
            "settings.opt_out_field",
            "opt_out_field is a checkbox field's API name, or null",
        )),
    }
    mapping::validate_common(
        settings,
        defaults(settings),
        POLICIES,
        field_problem,
        &mut errors,
    );
    mapping::require_credential(
        credentials,
        "access_token",
        "Salesforce needs an OAuth access token",
        &mut errors,
    );
    errors
}

/// Builds the Salesforce request for one registration.
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
    let origin = match mapping::text(s, "base_url") {
        Some(_) => mapping::base_url(s, ""),
        None => mapping::required_text(s, "instance_url", "the instance URL is required")?
            .trim_end_matches('/')
            .to_owned(),
    };
    let object = mapping::text(s, "object").unwrap_or("Lead");
    let id_field =
        mapping::required_text(s, "external_id_field", "the external id field is required")?;
    let source = mapping::text(s, "external_id_source").unwrap_or("email");
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
    let version = mapping::text(s, "api_version").unwrap_or(DEFAULT_API_VERSION);
    let token = credentials.get("access_token").ok_or_else(|| {
        SettingError::new("credentials.access_token", "the access token is missing")
    })?;
    let mut record: Map<String, Value> = FieldMap::from_settings(s, defaults(s))?
        .apply(&flat)
        .into_iter()
        .collect();
    let opt_out = match s.get("opt_out_field") {
        Some(Value::Null) => None,
        Some(Value::String(f)) => Some(f.as_str()),
        _ => Some("HasOptedOutOfEmail"),
    };
    if let (Some(field), Some(given)) = (opt_out, mapping::consent(s, &flat)) {
        record.insert(field.to_owned(), json!(!given));
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
    headers.push(mapping::secret_header(
        "authorization",
        format!("Bearer {}", token.expose()),
    ));
    Ok(Built::Send {
        request: OutgoingRequest {
            method,
            url,
            headers,
            body: mapping::json_body(&Value::Object(record.clone())),
        },
        data: record,
        then: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::Provider;

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
}
