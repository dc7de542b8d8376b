//! Microsoft Dynamics 365 / Dataverse Web API: leads or contacts, upserted by an
//! alternate key, signed in with a Microsoft Entra ID app registration.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `org_url` | the environment's URL, `https://yourorg.crm4.dynamics.com` (Power Apps → Settings → Developer resources) | required unless `base_url` is set |
//! | `tenant_id` | the Entra ID tenant of the app registration: its Directory (tenant) ID, or a domain such as `contoso.onmicrosoft.com` | required |
//! | `client_id` | the app registration's Application (client) ID | required |
//! | `login_url` | where tokens are requested | `https://login.microsoftonline.com` |
//! | `entity` | the table's entity set name: `leads` or `contacts` | `leads` |
//! | `api_version` | `vN.N` | `v9.2` |
//! | `alternate_key` | the column that identifies a record, defined as an alternate key of the table (below) | `emailaddress1` |
//! | `opt_out_field` | the yes/no column that records the absence of marketing consent, or `null` | `donotbulkemail` |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are column logical names | `firstname` ← `first_name`, `lastname` ← `last_name`, `emailaddress1` ← `email`, `mobilephone` ← `phone`, and for leads `subject` ← `subject` |
//!
//! A lead's Topic (`subject`) is what the sales team sees first in the lead list: map it
//! to a static value (`"subject": {"value": "Winter quiz 2026"}`) when the campaign does
//! not ask for one. `base_url`, when set, replaces `org_url` as the origin of the record
//! request; the token is still requested for `org_url` when it is set.
//!
//! ## The alternate key
//!
//! Records are addressed by the value of `alternate_key`
//! (`/api/data/v9.2/contacts(emailaddress1='lena%40example.com')`), which Dataverse only
//! accepts when that column is an alternate key of the table: in Power Apps, open the
//! table (Lead or Contact) → Keys → New key, choose the column (Email for
//! `emailaddress1`), save, and wait until the key's status is Active. Until then Dataverse
//! refuses the request, and the attempt quotes its message. An alternate key also makes
//! the column unique: two leads can no longer share an address (and the key cannot be
//! created while two records share one: merge them first). The key value comes from the field
//! mapping (whatever is mapped to that column); a registration without one is not sent.
//! In the URL, a `'` in the value is doubled (OData's escape) and the whole value
//! percent-encoded. The key column is not repeated in the body: Dataverse sets it from the
//! URL on a record it creates.
//!
//! # Credentials
//!
//! `client_secret`: the Value of one of the app registration's client secrets (not its
//! Secret ID). The client id is a setting, not a credential: it is no secret to
//! Microsoft, and Entra ID repeats it in its refusals, which the log keeps. The app needs an
//! application user in the Dataverse environment (Power Platform admin center → the
//! environment → Settings → Users + permissions → Application users) with a security
//! role that may create and write leads or contacts.
//!
//! Each attempt first requests a token with the client credentials grant:
//! `POST {login_url}/{tenant_id}/oauth2/v2.0/token`, form-encoded
//! `grant_type=client_credentials&client_id=…&client_secret=…&scope={org_url}/.default`.
//! The record request then carries the answer's `access_token` as a Bearer token. Tokens
//! last about an hour; leadrelay keeps none between attempts, and never records the
//! token answer. A refused exchange (401 `invalid_client` for a wrong or expired secret,
//! 400 `unauthorized_client` for an unknown application, `invalid_request` for an unknown
//! tenant, `invalid_resource` for a scope no environment answers to) pauses the
//! integration until its settings or credentials are updated.
//!
//! # Requests
//!
//! Every record request carries `OData-Version: 4.0`, `OData-MaxVersion: 4.0`,
//! `Accept: application/json` and `Content-Type: application/json`.
//!
//! | policy | request | an existing record |
//! |---|---|---|
//! | `update` | `PATCH /api/data/{api_version}/{entity}({alternate_key}='{value}')` with the fields (204, created or updated) | updated: the fields sent overwrite its values; columns not sent keep theirs |
//! | `create_only` | the same `PATCH` with `If-None-Match: *` (204 created) | left as it is: Dataverse answers 412 "A record with matching key values already exists", read as `duplicate` |
//!
//! `create_only` does not use `POST /api/data/{api_version}/{entity}`: a POST creates a
//! second record for an address Dataverse already holds unless the table has an alternate
//! key anyway, and a POST sent again after a timed-out attempt creates a second record,
//! where the conditional PATCH reads `duplicate`.
//!
//! Consent: when the registration says yes or no, `opt_out_field` is set to the
//! opposite (`donotbulkemail: false` with consent), so a later registration with consent
//! opts the person back in to bulk email.

use super::mapping::{self, Existing};
use super::{Built, FollowUp, Slot, Take};
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &[
    "org_url",
    "tenant_id",
    "client_id",
    "login_url",
    "entity",
    "api_version",
    "alternate_key",
    "opt_out_field",
];

const LEAD: &[(&str, &str)] = &[
    ("firstname", "first_name"),
    ("lastname", "last_name"),
    ("emailaddress1", "email"),
    ("mobilephone", "phone"),
    ("subject", "subject"),
];
const CONTACT: &[(&str, &str)] = &[
    ("firstname", "first_name"),
    ("lastname", "last_name"),
    ("emailaddress1", "email"),
    ("mobilephone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
/// The Web API version used when the integration names none.
pub const DEFAULT_API_VERSION: &str = "v9.2";
/// Where tokens are requested when the integration names no `login_url`.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
const DEFAULT_KEY: &str = "emailaddress1";
const DEFAULT_OPT_OUT: &str = "donotbulkemail";

fn defaults(settings: &Map<String, Value>) -> &'static [(&'static str, &'static str)] {
    match mapping::text(settings, "entity") {
        Some("contacts") => CONTACT,
        _ => LEAD,
    }
}

/// Whether a column's logical name reads as one: lower-case letters, digits and `_`,
/// starting with a letter.
fn logical_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn field_problem(name: &str) -> Option<String> {
    (!logical_name_ok(name)).then(|| {
        "column logical names are lower-case letters, digits and '_', such as new_favouritecolour"
            .into()
    })
}

/// A tenant id as Entra ID accepts it in the token URL: a GUID or a domain name.
fn tenant_ok(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= 253
        && tenant
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// A Dynamics 365 integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are column logical names.
    pub common: mapping::Common,
    /// The environment URL (`org_url`), trimmed, without a trailing slash.
    pub org_url: Option<String>,
    /// Where tokens are requested (`login_url`, else [`DEFAULT_LOGIN_URL`]), without a
    /// trailing slash.
    pub login_url: String,
    /// The app registration's client id (`client_id`), trimmed.
    pub client_id: String,
    /// The directory (tenant) id (`tenant_id`), trimmed.
    pub tenant_id: String,
    /// The table written: `leads` or `contacts` (`entity`).
    pub entity: String,
    /// The Web API version, such as `v9.2` (`api_version`).
    pub api_version: String,
    /// The column whose alternate key identifies the record (`alternate_key`).
    pub alternate_key: String,
    /// The yes/no column set to the opposite of consent, `None` for none
    /// (`opt_out_field`).
    pub opt_out_field: Option<String>,
}

impl Settings {
    /// Parses Dynamics 365 settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        mapping::check_url_setting(
            settings,
            "org_url",
            settings.get("base_url").is_none(),
            &mut errors,
        );
        mapping::check_url_setting(settings, "login_url", false, &mut errors);
        if mapping::text(settings, "client_id").is_none_or(|c| c.trim().is_empty()) {
            errors.push(SettingError::new(
                "settings.client_id",
                "the Application (client) ID of the app registration is required",
            ));
        }
        if !mapping::text(settings, "tenant_id").is_some_and(|t| tenant_ok(t.trim())) {
            errors.push(SettingError::new(
                "settings.tenant_id",
                "the Directory (tenant) ID of the app registration is required, such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or contoso.onmicrosoft.com",
            ));
        }
        if let Some(v) = settings.get("entity") {
            if !matches!(v.as_str(), Some("leads" | "contacts")) {
                errors.push(SettingError::new(
                    "settings.entity",
                    "entity is leads or contacts",
                ));
            }
        }
        if let Some(v) = settings.get("api_version") {
            if !v.as_str().is_some_and(mapping::is_api_version) {
                errors.push(SettingError::new(
                    "settings.api_version",
                    "api_version is such as v9.2",
                ));
            }
        }
        if let Some(v) = settings.get("alternate_key") {
            if !v.as_str().is_some_and(logical_name_ok) {
                errors.push(SettingError::new(
                    "settings.alternate_key",
                    "alternate_key is the logical name of a column with an alternate key, such as emailaddress1",
                ));
            }
        }
        mapping::check_opt_out_field(
            settings,
            logical_name_ok,
            "opt_out_field is a yes/no column's logical name, or null",
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
            org_url: url("org_url"),
            login_url: url("login_url")
                .unwrap_or_else(|| DEFAULT_LOGIN_URL.trim_end_matches('/').to_owned()),
            client_id: text_or("client_id", "").trim().to_owned(),
            tenant_id: text_or("tenant_id", "").trim().to_owned(),
            entity: text_or("entity", "leads"),
            api_version: text_or("api_version", DEFAULT_API_VERSION),
            alternate_key: text_or("alternate_key", DEFAULT_KEY),
            opt_out_field: match settings.get("opt_out_field") {
                Some(Value::Null) => None,
                Some(Value::String(f)) => Some(f.clone()),
                _ => Some(DEFAULT_OPT_OUT.to_owned()),
            },
        })
    }
}

/// Checks Dynamics 365 settings (parsing them, [`Settings::parse`]) and which
/// credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "client_secret",
        "a client secret of the app registration is required (its Value, not its Secret ID)",
        &mut errors,
    );
    errors
}

/// The token request of the client credentials grant, for `resource`'s scope.
fn token_request(
    settings: &Settings,
    credentials: &Credentials,
    resource: &str,
) -> Result<OutgoingRequest, SettingError> {
    let client_id = settings.client_id.as_str();
    let client_secret = credentials.require("client_secret", "the client secret")?;
    let tenant = settings.tenant_id.as_str();
    let login = &settings.login_url;
    let scope = format!("{resource}/.default");
    Ok(OutgoingRequest {
        method: Method::Post,
        url: format!(
            "{login}/{}/oauth2/v2.0/token",
            mapping::path_segment(tenant)
        ),
        headers: mapping::form_headers(),
        body: mapping::form_body(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("scope", &scope),
        ]),
        secret_segments: Vec::new(),
    })
}

/// An alternate key's value as an OData literal in the URL: text quoted with `'` doubled,
/// then percent-encoded; numbers as they are.
fn key_literal(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => format!(
            "'{}'",
            mapping::path_segment(&mapping::as_text(other).replace('\'', "''"))
        ),
    }
}

/// Builds the Dynamics 365 requests for one registration: the token request, then the
/// record request completed with its access token.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let org = s.org_url.as_deref();
    let origin = match (&s.common.base_url, org) {
        (Some(base), _) => base.clone(),
        (None, Some(org)) => org.to_owned(),
        (None, None) => {
            return Err(SettingError::new(
                "settings.base_url",
                "the environment URL (org_url) is required",
            ))
        }
    };
    let token = token_request(&s, credentials, org.unwrap_or(&origin))?;
    let entity = s.entity.as_str();
    let version = s.api_version.as_str();
    let key = s.alternate_key.as_str();
    let mut data: Map<String, Value> = s.common.fields.apply(&flat).into_iter().collect();
    if let (Some(field), Some(given)) = (
        &s.opt_out_field,
        mapping::consent_in(&s.common.consent_field, &flat),
    ) {
        data.insert(field.clone(), Value::Bool(!given));
    }
    let key_value = data.get(key).cloned().ok_or_else(|| {
        SettingError::new(
            format!("settings.fields.{key}"),
            format!("this registration has no value for '{key}', the alternate key that identifies the record"),
        )
    })?;
    let mut record = data.clone();
    record.remove(key);
    let mut headers = mapping::json_headers("application/json");
    for (name, value) in [("odata-version", "4.0"), ("odata-maxversion", "4.0")] {
        headers.push((name.into(), HeaderValue::Plain(value.into())));
    }
    if policy == Existing::CreateOnly {
        headers.push(("if-none-match".into(), HeaderValue::Plain("*".into())));
    }
    let request = OutgoingRequest {
        method: Method::Patch,
        url: format!(
            "{origin}/api/data/{version}/{entity}({key}={})",
            key_literal(&key_value)
        ),
        headers,
        body: mapping::json_body(&Value::Object(record)),
        secret_segments: Vec::new(),
    };
    Ok(Built::Send {
        request: token,
        data,
        then: vec![FollowUp {
            request,
            takes: vec![Take {
                answer: 0,
                pointer: "/access_token",
                into: Slot::SecretHeader {
                    name: "authorization",
                    prefix: "Bearer ",
                },
            }],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;
    use serde_json::json;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn built(
        mut settings: Value,
        registration: &Registration,
    ) -> (OutgoingRequest, Vec<FollowUp>, Map<String, Value>) {
        settings["client_id"] = json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        sent_with_takes(
            build(
                &integration(Provider::Dynamics, settings),
                &creds(&[("client_secret", "Qx8~secret.Value+/=")]),
                registration,
            )
            .unwrap(),
        )
    }

    fn resolved(follow_up: &FollowUp) -> OutgoingRequest {
        follow_up
            .resolve(&[
                br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0.issued"}"#
                    .as_slice(),
            ])
            .unwrap()
    }

    #[test]
    fn a_token_is_requested_for_the_environment_and_the_lead_upserted_by_its_email_key() {
        let (token, then, data) = built(
            json!({"org_url": "https://contoso.crm4.dynamics.com/", "tenant_id": TENANT,
                   "fields": {"subject": {"value": "Winter quiz"}}}),
            &lena(),
        );

        assert_eq!(token.method, Method::Post);
        assert_eq!(
            token.url,
            format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(
            header(&token, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(header(&token, "accept"), Some("application/json"));
        assert_eq!(
            String::from_utf8(token.body.clone()).unwrap(),
            "grant_type=client_credentials&client_id=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0&client_secret=Qx8~secret.Value%2B%2F%3D&scope=https%3A%2F%2Fcontoso.crm4.dynamics.com%2F.default"
        );
        assert!(!format!("{token:?}").contains("secret.Value"));
        assert_eq!(then.len(), 1);
        assert!(then[0].takes_secret_from(0));
        assert_eq!(header(&then[0].request, "authorization"), None);

        let record = resolved(&then[0]);

        assert_eq!(record.method, Method::Patch);
        assert_eq!(
            record.url,
            "https://contoso.crm4.dynamics.com/api/data/v9.2/leads(emailaddress1='Lena.Fischer%40example.com')"
        );
        assert_eq!(header(&record, "authorization"), Some("Bearer eyJ0.issued"));
        assert_eq!(header(&record, "odata-version"), Some("4.0"));
        assert_eq!(header(&record, "odata-maxversion"), Some("4.0"));
        assert_eq!(header(&record, "accept"), Some("application/json"));
        assert_eq!(header(&record, "content-type"), Some("application/json"));
        assert_eq!(header(&record, "if-none-match"), None);
        assert_eq!(
            body(&record),
            json!({"firstname": "Lena", "lastname": "Fischer", "mobilephone": "+49 30 1234567",
                   "subject": "Winter quiz", "donotbulkemail": false})
        );
        assert_eq!(
            data["emailaddress1"], "Lena.Fischer@example.com",
            "pre-flight and the engine read the address"
        );
    }

    #[test]
    fn create_only_sends_the_same_patch_on_the_condition_that_no_record_matches() {
        let mut r = registration(false);
        r.data.email = Some("o'brien+quiz@example.com".into());

        let (token, then, _) = built(
            json!({"base_url": "http://127.0.0.2:9", "tenant_id": "contoso.onmicrosoft.com",
                   "login_url": "http://127.0.0.2:9/", "entity": "contacts",
                   "existing_contact": "create_only", "api_version": "v9.1"}),
            &r,
        );
        let record = resolved(&then[0]);

        assert_eq!(
            token.url,
            "http://127.0.0.2:9/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert!(String::from_utf8(token.body)
            .unwrap()
            .ends_with("&scope=http%3A%2F%2F127.0.0.2%3A9%2F.default"));
        assert_eq!(
            record.url,
            "http://127.0.0.2:9/api/data/v9.1/contacts(emailaddress1='o%27%27brien%2Bquiz%40example.com')"
        );
        assert_eq!(header(&record, "if-none-match"), Some("*"));
        let b = body(&record);
        assert_eq!(b["donotbulkemail"], true, "no consent: opted out");
        assert!(b.get("subject").is_none());
    }

    #[test]
    fn base_url_moves_the_records_but_the_token_stays_for_the_environment() {
        let (token, then, _) = built(
            json!({"org_url": "https://contoso.crm.dynamics.com", "base_url": "http://127.0.0.2:7",
                   "tenant_id": TENANT, "opt_out_field": null}),
            &lena(),
        );

        assert!(String::from_utf8(token.body)
            .unwrap()
            .ends_with("scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2F.default"));
        let record = resolved(&then[0]);
        assert!(record
            .url
            .starts_with("http://127.0.0.2:7/api/data/v9.2/leads("));
        assert!(body(&record).get("donotbulkemail").is_none());
    }

    #[test]
    fn a_custom_alternate_key_takes_its_value_from_the_mapping() {
        let mut r = lena();
        r.data.fields.insert("member_no".into(), json!(4711));

        let (_, then, _) = built(
            json!({"org_url": "https://contoso.crm.dynamics.com", "tenant_id": TENANT,
                   "alternate_key": "new_memberno", "fields": {"new_memberno": "member_no"}}),
            &r,
        );
        let record = resolved(&then[0]);

        assert!(
            record.url.ends_with("/leads(new_memberno=4711)"),
            "{}",
            record.url
        );
        assert_eq!(body(&record)["emailaddress1"], "Lena.Fischer@example.com");
        assert!(body(&record).get("new_memberno").is_none());
    }

    #[test]
    fn a_registration_without_the_key_value_names_the_mapping() {
        let mut r = lena();
        r.data.email = None;

        let err = build(
            &integration(
                Provider::Dynamics,
                json!({"org_url": "https://contoso.crm.dynamics.com", "tenant_id": TENANT, "client_id": "c"}),
            ),
            &creds(&[("client_secret", "s")]),
            &r,
        )
        .unwrap_err();

        assert_eq!(err.field, "settings.fields.emailaddress1");
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (wrong, field) in [
            (json!({"client_id": 7}), "settings.client_id"),
            (
                json!({"tenant_id": ["contoso.onmicrosoft.com"]}),
                "settings.tenant_id",
            ),
            (json!({"entity": 1}), "settings.entity"),
            (json!({"alternate_key": false}), "settings.alternate_key"),
            (json!({"org_url": 443}), "settings.org_url"),
            (json!({"existing_contact": 1}), "settings.existing_contact"),
        ] {
            let mut given = settings(json!({"org_url": "https://contoso.crm4.dynamics.com",
                                            "tenant_id": TENANT, "client_id": "c"}));
            given.extend(settings(wrong.clone()));
            let errors = super::super::validate(
                Provider::Dynamics,
                &given,
                &names(&[("client_secret", "s")]),
            );
            assert_eq!(fields_of(&errors), [field], "{wrong}");
        }
        let parsed = Settings::parse(&settings(json!({
            "org_url": "https://contoso.crm4.dynamics.com/", "tenant_id": " contoso.onmicrosoft.com ",
            "client_id": " c ", "opt_out_field": null
        })))
        .unwrap();
        assert_eq!(
            parsed.org_url.as_deref(),
            Some("https://contoso.crm4.dynamics.com")
        );
        assert_eq!(parsed.tenant_id, "contoso.onmicrosoft.com");
        assert_eq!(parsed.client_id, "c");
        assert_eq!(parsed.entity, "leads");
        assert_eq!(parsed.alternate_key, DEFAULT_KEY);
        assert_eq!(parsed.opt_out_field, None);
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(
                json!({"entity": "accounts", "api_version": "9.2", "tenant_id": "a/b",
                             "alternate_key": "EmailAddress1", "opt_out_field": 1,
                             "login_url": "login.microsoftonline.com",
                             "fields": {"FirstName": "first_name"}}),
            ),
            &BTreeMap::new(),
        );

        assert_eq!(
            fields_of(&errors),
            [
                "settings.org_url",
                "settings.login_url",
                "settings.client_id",
                "settings.tenant_id",
                "settings.entity",
                "settings.api_version",
                "settings.alternate_key",
                "settings.opt_out_field",
                "settings.fields.FirstName",
                "credentials.client_secret"
            ]
        );
        assert!(validate(
            &settings(json!({"org_url": "https://contoso.crm4.dynamics.com", "tenant_id": TENANT,
                             "client_id": "c", "entity": "contacts", "existing_contact": "create_only"})),
            &names(&[("client_secret", "s")])
        )
        .is_empty());
        assert!(validate(
            &settings(
                json!({"base_url": "http://127.0.0.2:9", "tenant_id": TENANT, "client_id": "c"})
            ),
            &names(&[("client_secret", "s")])
        )
        .is_empty());
    }
}
