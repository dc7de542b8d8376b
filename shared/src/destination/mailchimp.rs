//! Mailchimp Marketing API v3: list (audience) members.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `list_id` | the audience id (Audience → Settings → Audience name and defaults) | required |
//! | `double_opt_in` | `true`: a new member with consent gets `pending`, and Mailchimp sends the confirmation email | `false` |
//! | `without_consent` | the status of a new member without marketing consent: `transactional` or `unsubscribed` | `transactional` |
//! | `tags` | list of tag names given to the member | none |
//! | `skip_merge_validation` | `true`: Mailchimp accepts the member even when a required merge field is missing | `false` |
//! | `data_center` | the data center (`us21`), needed only with an OAuth `access_token` | the API key's suffix |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `base_url`, `preflight` | see [`super::mapping`]; `fields` keys are merge tags | `FNAME` ← `first_name`, `LNAME` ← `last_name`, `PHONE` ← `phone` |
//!
//! # Credentials
//!
//! `api_key` (`…-us21`: the part after the last `-` is the data center, so the API is
//! `https://us21.api.mailchimp.com`), sent as HTTP Basic with the key as the password;
//! or `access_token` (OAuth), sent as a Bearer token, with the `data_center` setting.
//!
//! # Requests
//!
//! | policy | request | an existing member |
//! |---|---|---|
//! | `update` | `PUT /3.0/lists/{list_id}/members/{md5 of the lower-cased email}` with `email_address`, `status_if_new`, `merge_fields` (and `status` when consent is given) | updated: merge fields overwritten with what is sent; its status changes only to subscribe a person who consented now |
//! | `create_only` | `POST /3.0/lists/{list_id}/members` with `email_address`, `status`, `merge_fields`, `tags` | left as it is: Mailchimp answers 400 "Member Exists", read as `duplicate` |
//!
//! The upsert is idempotent: the member's id is the MD5 of the lower-cased address, so a
//! retry updates the same member. Consent sets the status: with consent, `subscribed`
//! (`pending` with `double_opt_in`); without, `without_consent`, for new members only,
//! so a registration without the box ticked never unsubscribes someone. A person in a
//! compliance state (unsubscribed, bounced) who consents again may be refused by
//! Mailchimp ("Member In Compliance State", read as `suppressed`).
//!
//! Tags: the documented body of the PUT upsert has no `tags` field (only the create,
//! `POST …/members`, takes one), so with `update` the tags go in a second request,
//! `POST /3.0/lists/{list_id}/members/{hash}/tags` with `{"tags": [{"name", "status":
//! "active"}]}` (204), sent after the upsert succeeded. Adding an active tag twice
//! changes nothing, so the pair stays safe to retry.

use super::mapping::{self, Existing};
use super::Built;
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &[
    "list_id",
    "double_opt_in",
    "without_consent",
    "tags",
    "skip_merge_validation",
    "data_center",
];

const DEFAULTS: &[(&str, &str)] = &[
    ("FNAME", "first_name"),
    ("LNAME", "last_name"),
    ("PHONE", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];

/// The data center a Mailchimp API key names (`…-us21` → `us21`).
pub fn data_center(api_key: &str) -> Option<&str> {
    let (_, dc) = api_key.rsplit_once('-')?;
    let ok = !dc.is_empty()
        && dc
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && dc.bytes().any(|b| b.is_ascii_digit());
    ok.then_some(dc)
}

/// Mailchimp's member id: the MD5 of the lower-cased address, hex.
pub fn subscriber_hash(email: &str) -> String {
    hex::encode(Md5::digest(email.trim().to_lowercase().as_bytes()))
}

fn merge_tag_problem(tag: &str) -> Option<String> {
    let ok = tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (!ok).then(|| "merge tags are letters, digits and '_', such as FNAME".to_owned())
}

/// The status a new member without marketing consent gets (`without_consent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithoutConsent {
    /// Kept for transactional email only (the default).
    Transactional,
    /// Unsubscribed.
    Unsubscribed,
}

impl WithoutConsent {
    fn status(self) -> &'static str {
        match self {
            WithoutConsent::Transactional => "transactional",
            WithoutConsent::Unsubscribed => "unsubscribed",
        }
    }
}

/// A Mailchimp integration's settings, parsed ([`Settings::parse`]): checked when the
/// integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The audience id (`list_id`), trimmed.
    pub list_id: String,
    /// The shared settings; `fields` keys are merge tags.
    pub common: mapping::Common,
    /// A new member with consent gets `pending` (`double_opt_in`).
    pub double_opt_in: bool,
    /// The status of a new member without consent (`without_consent`).
    pub without_consent: WithoutConsent,
    /// Tags given to the member (`tags`).
    pub tags: Vec<String>,
    /// Mailchimp accepts a member whose required merge field is missing
    /// (`skip_merge_validation`).
    pub skip_merge_validation: bool,
    /// The data center (`data_center`), for an OAuth access token.
    pub data_center: Option<String>,
}

impl Settings {
    /// Parses Mailchimp settings, or names every one that is missing or wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let list_id =
            mapping::required_text(settings, "list_id", "the audience id (list_id) is required")
                .map_err(|e| errors.push(e))
                .ok();
        let common = mapping::Common::parse(settings, DEFAULTS, POLICIES, merge_tag_problem)
            .map_err(|e| errors.extend(e))
            .ok();
        let mut flag = |key: &str| {
            mapping::typed::<bool>(settings, key, format!("{key} is true or false"))
                .map_err(|e| errors.push(e))
                .ok()
                .map(Option::unwrap_or_default)
        };
        let double_opt_in = flag("double_opt_in");
        let skip_merge_validation = flag("skip_merge_validation");
        let without_consent = mapping::typed::<WithoutConsent>(
            settings,
            "without_consent",
            "without_consent is transactional or unsubscribed",
        )
        .map_err(|e| errors.push(e))
        .ok()
        .map(|w| w.unwrap_or(WithoutConsent::Transactional));
        let tags = mapping::text_list(settings, "tags")
            .map_err(|e| errors.push(e))
            .ok();
        let data_center =
            mapping::typed::<String>(settings, "data_center", "data_center is such as us21")
                .and_then(|dc| match dc {
                    Some(dc) if data_center(&format!("x-{dc}")).is_none() => Err(
                        SettingError::new("settings.data_center", "data_center is such as us21"),
                    ),
                    dc => Ok(dc),
                })
                .map_err(|e| errors.push(e))
                .ok();
        match (
            list_id,
            common,
            double_opt_in,
            skip_merge_validation,
            without_consent,
            tags,
            data_center,
        ) {
            (
                Some(list_id),
                Some(common),
                Some(double_opt_in),
                Some(skip_merge_validation),
                Some(without_consent),
                Some(tags),
                Some(data_center),
            ) if errors.is_empty() => Ok(Settings {
                list_id: list_id.to_owned(),
                common,
                double_opt_in,
                without_consent,
                tags,
                skip_merge_validation,
                data_center,
            }),
            _ => Err(errors),
        }
    }
}

/// Checks Mailchimp settings (parsing them, [`Settings::parse`]) and which credentials
/// are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    let has_dc_setting = settings.get("data_center").is_some();
    match (
        credentials.contains_key("api_key"),
        credentials.contains_key("access_token"),
    ) {
        (false, false) => errors.push(SettingError::new(
            "credentials.api_key",
            "Mailchimp needs an API key (Account → Extras → API keys)",
        )),
        (true, true) => errors.push(SettingError::new(
            "credentials.access_token",
            "give either an API key or an OAuth access token, not both",
        )),
        (true, false) => {
            let needs_dc = !has_dc_setting && settings.get("base_url").is_none();
            if let Some(key) = mapping::new_credential(credentials, "api_key") {
                if needs_dc && data_center(key).is_none() {
                    errors.push(SettingError::new(
                        "credentials.api_key",
                        "a Mailchimp API key ends in its data center, such as -us21; copy the whole key",
                    ));
                }
            }
        }
        (false, true) => {
            if !has_dc_setting && settings.get("base_url").is_none() {
                errors.push(SettingError::new(
                    "settings.data_center",
                    "with an OAuth access token, set data_center (the token's server prefix, such as us21)",
                ));
            }
        }
    }
    errors
}

fn origin(settings: &Settings, credentials: &Credentials) -> Result<String, SettingError> {
    if let Some(base) = &settings.common.base_url {
        return Ok(base.clone());
    }
    let dc = match &settings.data_center {
        Some(dc) => dc.clone(),
        None => credentials
            .get("api_key")
            .and_then(|k| data_center(k.expose()))
            .map(str::to_owned)
            .ok_or_else(|| {
                SettingError::new(
                    "credentials.api_key",
                    "the API key does not end in a data center such as -us21",
                )
            })?,
    };
    Ok(format!("https://{dc}.api.mailchimp.com"))
}

fn auth(credentials: &Credentials) -> Result<(String, HeaderValue), SettingError> {
    if let Some(token) = credentials.get("access_token") {
        return Ok(mapping::secret_header(
            "authorization",
            format!("Bearer {}", token.expose()),
        ));
    }
    let key = credentials.require("api_key", "the API key")?;
    // Mailchimp ignores the user name of Basic authentication; the key is the password.
    let token = STANDARD.encode(format!("leadrelay:{}", key.expose()));
    Ok(mapping::secret_header(
        "authorization",
        format!("Basic {token}"),
    ))
}

/// Builds the Mailchimp request(s) for one registration, from its parsed settings.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let merge_fields: Map<String, Value> = s
        .common
        .fields
        .apply(&flat)
        .into_iter()
        .map(|(k, v)| (k, mapping::bool_as_text(v)))
        .collect();
    let email = registration.data.email.clone().unwrap_or_default();
    let double_opt_in = s.double_opt_in;
    let consented = mapping::consent_in(&s.common.consent_field, &flat) == Some(true);
    let status = match (consented, double_opt_in) {
        (true, false) => "subscribed",
        (true, true) => "pending",
        (false, _) => s.without_consent.status(),
    };
    let tags = &s.tags;
    let origin = origin(&s, credentials)?;
    let list = format!("{origin}/3.0/lists/{}", mapping::path_segment(&s.list_id));
    let query = if s.skip_merge_validation {
        "?skip_merge_validation=true"
    } else {
        ""
    };
    let mut headers = mapping::json_headers("application/json");
    headers.push(auth(credentials)?);
    let hash = subscriber_hash(&email);

    let mut data = Map::new();
    data.insert("email_address".into(), json!(email));
    data.insert("merge_fields".into(), Value::Object(merge_fields.clone()));

    let mut member = Map::new();
    member.insert("email_address".into(), json!(email));
    let (method, url, then) = match s.common.existing {
        Existing::Update => {
            member.insert("status_if_new".into(), json!(status));
            if consented && !double_opt_in {
                member.insert("status".into(), json!(status));
            }
            let mut then = Vec::new();
            if !tags.is_empty() {
                let tag_body = json!({"tags": tags.iter().map(|t| json!({"name": t, "status": "active"})).collect::<Vec<_>>()});
                then.push(
                    OutgoingRequest {
                        method: Method::Post,
                        url: format!("{list}/members/{hash}/tags"),
                        headers: headers.clone(),
                        body: mapping::json_body(&tag_body),
                        secret_segments: Vec::new(),
                    }
                    .into(),
                );
            }
            (Method::Put, format!("{list}/members/{hash}{query}"), then)
        }
        Existing::CreateOnly => {
            member.insert("status".into(), json!(status));
            if !tags.is_empty() {
                member.insert("tags".into(), json!(tags));
            }
            (Method::Post, format!("{list}/members{query}"), Vec::new())
        }
    };
    member.insert("merge_fields".into(), Value::Object(merge_fields));
    Ok(Built::Send {
        request: OutgoingRequest {
            method,
            url,
            headers,
            body: mapping::json_body(&Value::Object(member)),
            secret_segments: Vec::new(),
        },
        data,
        then,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;

    const KEY: &str = "0123456789abcdef0123456789abcdef-us21";

    fn build_with(
        settings: Value,
        consent: bool,
    ) -> (OutgoingRequest, Vec<OutgoingRequest>, Map<String, Value>) {
        sent(
            build(
                &integration(Provider::Mailchimp, settings),
                &creds(&[("api_key", KEY)]),
                &registration(consent),
            )
            .unwrap(),
        )
    }

    #[test]
    fn an_upsert_puts_the_member_by_the_md5_of_the_lowercased_email() {
        let (r, then, data) = build_with(json!({"list_id": "a1b2c3"}), true);

        assert_eq!(r.method, Method::Put);
        assert_eq!(
            r.url,
            format!(
                "https://us21.api.mailchimp.com/3.0/lists/a1b2c3/members/{}",
                subscriber_hash("lena.fischer@example.com")
            )
        );
        assert_eq!(
            subscriber_hash(" Lena.Fischer@EXAMPLE.com"),
            "af3c08883b529bd87a87b6ac9179366f"
        );
        let b = body(&r);
        assert_eq!(b["email_address"], "Lena.Fischer@example.com");
        assert_eq!(b["status_if_new"], "subscribed");
        assert_eq!(b["status"], "subscribed");
        assert_eq!(
            b["merge_fields"],
            json!({"FNAME": "Lena", "LNAME": "Fischer", "PHONE": "+49 30 1234567"})
        );
        assert!(then.is_empty());
        assert_eq!(data["email_address"], "Lena.Fischer@example.com");
    }

    #[test]
    fn the_api_key_is_the_basic_password_and_never_shows_in_debug() {
        let (r, _, _) = build_with(json!({"list_id": "a1b2c3"}), true);

        let auth = header(&r, "authorization").unwrap();
        let decoded = STANDARD
            .decode(auth.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            format!("leadrelay:{KEY}")
        );
        assert!(!format!("{r:?}").contains("0123456789abcdef"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
    }

    #[test]
    fn without_consent_a_new_member_is_transactional_and_an_existing_one_keeps_its_status() {
        let (r, _, _) = build_with(json!({"list_id": "a1b2c3"}), false);
        let b = body(&r);
        assert_eq!(b["status_if_new"], "transactional");
        assert!(b.get("status").is_none());

        let (r, _, _) = build_with(
            json!({"list_id": "a1b2c3", "without_consent": "unsubscribed"}),
            false,
        );
        assert_eq!(body(&r)["status_if_new"], "unsubscribed");
    }

    #[test]
    fn double_opt_in_makes_new_members_pending_without_touching_existing_ones() {
        let (r, _, _) = build_with(json!({"list_id": "a1b2c3", "double_opt_in": true}), true);
        let b = body(&r);
        assert_eq!(b["status_if_new"], "pending");
        assert!(b.get("status").is_none());
    }

    #[test]
    fn tags_follow_the_upsert_in_a_second_request() {
        let (r, then, _) = build_with(json!({"list_id": "a1b2c3", "tags": ["winter-quiz"]}), true);

        assert!(body(&r).get("tags").is_none());
        assert_eq!(then.len(), 1);
        assert_eq!(then[0].method, Method::Post);
        assert_eq!(then[0].url, format!("{}/tags", r.url));
        assert_eq!(
            body(&then[0]),
            json!({"tags": [{"name": "winter-quiz", "status": "active"}]})
        );
        assert!(header(&then[0], "authorization")
            .unwrap()
            .starts_with("Basic "));
    }

    #[test]
    fn create_only_posts_the_member_with_its_tags() {
        let (r, then, _) = build_with(
            json!({"list_id": "a1b2c3", "existing_contact": "create_only", "tags": ["vip"], "skip_merge_validation": true}),
            true,
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            "https://us21.api.mailchimp.com/3.0/lists/a1b2c3/members?skip_merge_validation=true"
        );
        let b = body(&r);
        assert_eq!(b["status"], "subscribed");
        assert_eq!(b["tags"], json!(["vip"]));
        assert!(then.is_empty());
    }

    #[test]
    fn a_base_url_replaces_the_data_center_host() {
        let (r, _, _) = build_with(
            json!({"list_id": "L1", "base_url": "http://127.0.0.2:8702/"}),
            true,
        );
        assert!(
            r.url
                .starts_with("http://127.0.0.2:8702/3.0/lists/L1/members/"),
            "{}",
            r.url
        );
    }

    #[test]
    fn an_oauth_token_is_a_bearer_with_the_data_center_setting() {
        let built = build(
            &integration(
                Provider::Mailchimp,
                json!({"list_id": "L1", "data_center": "us6"}),
            ),
            &creds(&[("access_token", "tok")]),
            &lena(),
        )
        .unwrap();
        let (r, _, _) = sent(built);
        assert!(r.url.starts_with("https://us6.api.mailchimp.com/"));
        assert_eq!(header(&r, "authorization"), Some("Bearer tok"));
    }

    #[test]
    fn mapped_fields_and_conditions_apply() {
        let (r, _, _) = build_with(
            json!({"list_id": "L1", "fields": {"SCORE": "quiz_score", "OPTIN": "consent.marketing", "PHONE": null, "SRC": {"value": "quiz"}}}),
            true,
        );
        assert_eq!(
            body(&r)["merge_fields"],
            json!({"FNAME": "Lena", "LNAME": "Fischer", "SCORE": 8, "OPTIN": "true", "SRC": "quiz"})
        );

        let built = super::super::build(
            &integration(Provider::Mailchimp, json!({"list_id": "L1", "conditions": [{"field": "consent.marketing", "equals": true}]})),
            &creds(&[("api_key", KEY)]),
            &registration(false),
            &super::super::SendContext { message_id: "msg_1".into(), timestamp: 1, attempt: 1 },
        )
        .unwrap();
        assert!(matches!(built, Built::Skip { .. }));
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (json!({"list_id": 42}), "settings.list_id"),
            (
                json!({"list_id": "L1", "double_opt_in": "true"}),
                "settings.double_opt_in",
            ),
            (json!({"list_id": "L1", "tags": [7]}), "settings.tags"),
            (
                json!({"list_id": "L1", "data_center": 21}),
                "settings.data_center",
            ),
            (
                json!({"list_id": "L1", "without_consent": null}),
                "settings.without_consent",
            ),
        ] {
            let errors = super::super::validate(
                Provider::Mailchimp,
                &settings.as_object().cloned().unwrap(),
                &names(&[("api_key", KEY)]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
            assert!(Settings::parse(&settings.as_object().cloned().unwrap()).is_err());
        }
        let parsed = Settings::parse(&settings(
            json!({"list_id": " L1 ", "tags": ["vip"], "without_consent": "unsubscribed"}),
        ))
        .unwrap();
        assert_eq!(parsed.list_id, "L1");
        assert_eq!(parsed.tags, ["vip"]);
        assert_eq!(parsed.without_consent, WithoutConsent::Unsubscribed);
        assert!(!parsed.double_opt_in);
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(
                json!({"double_opt_in": "yes", "without_consent": "cleaned", "tags": "vip", "fields": {"FIRST NAME": "first_name"}}),
            ),
            &names(&[("api_key", "nodatacenter")]),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.list_id",
                "settings.fields.FIRST NAME",
                "settings.double_opt_in",
                "settings.without_consent",
                "settings.tags",
                "credentials.api_key"
            ]
        );
        assert_eq!(
            fields_of(&validate(
                &settings(json!({"list_id": "L1"})),
                &BTreeMap::new()
            )),
            ["credentials.api_key"]
        );
        assert_eq!(
            fields_of(&validate(
                &settings(json!({"list_id": "L1"})),
                &names(&[("access_token", "t")])
            )),
            ["settings.data_center"]
        );
        assert!(validate(
            &settings(json!({"list_id": "L1"})),
            &names(&[("api_key", KEY)])
        )
        .is_empty());
        assert!(validate(
            &settings(json!({"list_id": "L1"})),
            &names(&[("api_key", super::super::KEPT_CREDENTIAL)])
        )
        .is_empty());
    }
}
