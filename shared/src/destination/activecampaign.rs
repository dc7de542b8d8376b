//! ActiveCampaign API v3: contacts.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `base_url` | the account's API URL, `https://{account}.api-us1.com` (Settings → Developer) | required |
//! | `list_ids` | ids (whole numbers) of the lists a consenting contact is subscribed to, at most [`MAX_LISTS`] | none |
//! | `fields`, `conditions`, `consent_field`, `existing_contact`, `preflight` | see [`super::mapping`]; `fields` keys are `firstName`, `lastName`, `phone`, or a custom field's numeric id (`"12"`) | `firstName` ← `first_name`, `lastName` ← `last_name`, `phone` ← `phone` |
//!
//! # Credentials
//!
//! `api_key`: the account's API key, sent in the `Api-Token` header.
//!
//! # Requests
//!
//! | policy | request | an existing contact |
//! |---|---|---|
//! | `update` | `POST /api/3/contact/sync` with `{"contact": {"email", "firstName", …, "fieldValues": [{"field", "value"}]}}` (201 created, 200 updated) | updated: the fields sent overwrite its values |
//! | `create_only` | `POST /api/3/contacts` with the same body | left as it is: ActiveCampaign answers 422 `duplicate`, read as `duplicate` |
//!
//! Custom field values go as text in `fieldValues`.
//!
//! With marketing consent, one more request per list in `list_ids` follows once the
//! contact was saved: `POST /api/3/contactLists` with
//! `{"contactList": {"list": <id>, "contact": <id>, "status": 1}}`, the contact id
//! taken from the first answer's `contact.id` ([`super::FollowUp`]). Status 1 is
//! "active" (subscribed); it also re-subscribes a contact who had unsubscribed from the
//! list, which is what a new registration with consent asks for. Without consent no
//! list is touched (nobody is unsubscribed). Every request is idempotent, so a retry
//! sends the whole sequence again; the attempt reports the last request sent and lists
//! the ones before it in `preceding`. Under `create_only` an existing contact answers
//! `duplicate` and nothing follows. Consent can also be mapped to a custom field
//! (`"7": "consent.marketing"`) for an automation to act on.

use super::mapping::{self, Existing};
use super::{Built, FollowUp, Slot, Take};
use crate::deliver::semantics::MAX_REQUESTS_PER_ATTEMPT;
use crate::exchange::{Credentials, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The settings of its own this provider takes (the table above), besides the shared
/// ones of [`super::mapping::SHARED_SETTINGS`]; any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &["list_ids"];

const DEFAULTS: &[(&str, &str)] = &[
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("phone", "phone"),
];
const POLICIES: &[Existing] = &[Existing::Update, Existing::CreateOnly];
const STANDARD: &[&str] = &["firstName", "lastName", "phone"];
const BASE_URL_REQUIRED: &str =
    "the account's API URL is required, such as https://youraccount.api-us1.com";

/// The most lists `list_ids` may name: the contact request and one subscription per
/// list must fit [`MAX_REQUESTS_PER_ATTEMPT`], whose requests share one deadline.
pub const MAX_LISTS: usize = MAX_REQUESTS_PER_ATTEMPT - 1;

fn target_problem(name: &str) -> Option<String> {
    if STANDARD.contains(&name) || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some("ActiveCampaign takes firstName, lastName, phone, or a custom field's numeric id".into())
}

/// An ActiveCampaign integration's settings, parsed ([`Settings::parse`]): checked when
/// the integration is configured, and what [`build`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The shared settings; `fields` keys are `firstName`, `lastName`, `phone` or a
    /// custom field's numeric id.
    pub common: mapping::Common,
    /// The account's API URL (`base_url`, required here), without a trailing slash.
    pub origin: String,
    /// The lists a contact with consent is subscribed to (`list_ids`), at most
    /// [`MAX_LISTS`].
    pub list_ids: Vec<u64>,
}

impl Settings {
    /// Parses ActiveCampaign settings, or names every one that is wrong.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        if matches!(settings.get("base_url"), None | Some(Value::Null)) {
            errors.push(SettingError::new("settings.base_url", BASE_URL_REQUIRED));
        }
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
        // Counted whatever the items are, so a long list of wrong ids is named twice.
        let lists = settings
            .get("list_ids")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if lists > MAX_LISTS {
            errors.push(SettingError::new(
                "settings.list_ids",
                format!(
                    "at most {MAX_LISTS} lists: each is one more request after the contact's, and one attempt sends at most {MAX_REQUESTS_PER_ATTEMPT} requests (this names {lists})"
                ),
            ));
        }
        match (common, list_ids) {
            (Some(common), Some(list_ids)) if errors.is_empty() => match common.base_url.clone() {
                Some(origin) => Ok(Settings {
                    common,
                    origin,
                    list_ids,
                }),
                None => Err(vec![SettingError::new(
                    "settings.base_url",
                    BASE_URL_REQUIRED,
                )]),
            },
            _ => Err(errors),
        }
    }
}

/// Checks ActiveCampaign settings (parsing them, [`Settings::parse`]) and which
/// credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    mapping::require_credential(
        credentials,
        "api_key",
        "ActiveCampaign needs the account's API key (Settings → Developer)",
        &mut errors,
    );
    errors
}

/// Builds the ActiveCampaign request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
) -> Result<Built, SettingError> {
    let s = Settings::parse(&integration.settings).map_err(crate::setting::first_error)?;
    let flat = registration.data.flat();
    let policy = s.common.existing;
    let origin = &s.origin;
    let key = credentials.require("api_key", "the API key")?;
    let mut contact = Map::new();
    if let Some(email) = &registration.data.email {
        contact.insert("email".into(), json!(email));
    }
    let mut values = Vec::new();
    for (name, value) in s.common.fields.apply(&flat) {
        if STANDARD.contains(&name.as_str()) {
            contact.insert(name, Value::String(mapping::as_text(&value)));
        } else {
            values.push(json!({"field": name, "value": mapping::as_text(&value)}));
        }
    }
    if !values.is_empty() {
        contact.insert("fieldValues".into(), Value::Array(values));
    }
    let path = match policy {
        Existing::Update => "contact/sync",
        Existing::CreateOnly => "contacts",
    };
    let mut headers = mapping::json_headers("application/json");
    headers.push(mapping::secret_header("api-token", key.expose().to_owned()));
    let mut then = Vec::new();
    if mapping::consent_in(&s.common.consent_field, &flat) == Some(true) {
        for &list in &s.list_ids {
            then.push(FollowUp {
                request: OutgoingRequest {
                    method: Method::Post,
                    url: format!("{origin}/api/3/contactLists"),
                    headers: headers.clone(),
                    body: mapping::json_body(
                        &json!({"contactList": {"list": list, "contact": null, "status": 1}}),
                    ),
                    secret_segments: Vec::new(),
                },
                takes: vec![Take {
                    answer: 0,
                    pointer: "/contact/id",
                    into: Slot::BodyNumber("/contactList/contact"),
                }],
            });
        }
    }
    Ok(Built::Send {
        request: OutgoingRequest {
            method: Method::Post,
            url: format!("{origin}/api/3/{path}"),
            headers,
            body: mapping::json_body(&json!({"contact": contact})),
            secret_segments: Vec::new(),
        },
        data: contact,
        then,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use leadrelay_explain::provider::Provider;

    fn build_with(settings: Value) -> OutgoingRequest {
        let (r, then, data) = sent(
            build(
                &integration(Provider::Activecampaign, settings),
                &creds(&[("api_key", "ac-secret")]),
                &lena(),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
        assert_eq!(data["email"], "Lena.Fischer@example.com");
        r
    }

    #[test]
    fn a_contact_sync_posts_to_the_account_url_with_the_api_token() {
        let r = build_with(
            json!({"base_url": "https://acme.api-us1.com/", "fields": {"7": "consent.marketing", "12": "quiz_score"}}),
        );

        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "https://acme.api-us1.com/api/3/contact/sync");
        assert_eq!(header(&r, "api-token"), Some("ac-secret"));
        assert_eq!(
            body(&r),
            json!({"contact": {
                "email": "Lena.Fischer@example.com", "firstName": "Lena", "lastName": "Fischer", "phone": "+49 30 1234567",
                "fieldValues": [{"field": "12", "value": "8"}, {"field": "7", "value": "true"}]
            }})
        );
        assert!(!format!("{r:?}").contains("ac-secret"));
    }

    #[test]
    fn a_consenting_contact_is_subscribed_to_each_list_with_the_id_of_the_first_answer() {
        let (first, then, _) = sent_with_takes(
            build(
                &integration(
                    Provider::Activecampaign,
                    json!({"base_url": "https://acme.api-us1.com", "list_ids": [3, 8]}),
                ),
                &creds(&[("api_key", "ac-secret")]),
                &lena(),
            )
            .unwrap(),
        );
        let answer = br#"{"fieldValues": [], "contact": {"email": "lena.fischer@example.com", "id": "113"}}"#;

        let resolved: Vec<OutgoingRequest> = then
            .iter()
            .map(|f| f.resolve(&[answer.as_slice()]).unwrap())
            .collect();

        assert_eq!(first.url, "https://acme.api-us1.com/api/3/contact/sync");
        assert_eq!(resolved.len(), 2);
        assert_eq!(resolved[0].method, Method::Post);
        assert_eq!(
            resolved[0].url,
            "https://acme.api-us1.com/api/3/contactLists"
        );
        assert_eq!(
            body(&resolved[0]),
            json!({"contactList": {"list": 3, "contact": 113, "status": 1}})
        );
        assert_eq!(body(&resolved[1])["contactList"]["list"], 8);
        assert_eq!(header(&resolved[1], "api-token"), Some("ac-secret"));
        assert!(!then[0].takes_secret_from(0), "a contact id is no secret");
        assert_eq!(
            then[0].resolve(&[br#"{"contact": {}}"#.as_slice()]),
            Err(super::super::Unresolved {
                answer: 0,
                pointer: "/contact/id"
            })
        );
    }

    #[test]
    fn without_consent_no_list_is_touched() {
        let (_, then, _) = sent(
            build(
                &integration(
                    Provider::Activecampaign,
                    json!({"base_url": "https://acme.api-us1.com", "list_ids": [3]}),
                ),
                &creds(&[("api_key", "ac-secret")]),
                &registration(false),
            )
            .unwrap(),
        );
        assert!(then.is_empty());
    }

    #[test]
    fn create_only_posts_to_contacts() {
        let r = build_with(
            json!({"base_url": "https://acme.api-us1.com", "existing_contact": "create_only"}),
        );
        assert_eq!(r.url, "https://acme.api-us1.com/api/3/contacts");
    }

    #[test]
    fn settings_and_credentials_are_checked_by_name() {
        let errors = validate(
            &settings(json!({"fields": {"score": "quiz_score"}, "list_ids": ["newsletter"]})),
            &BTreeMap::new(),
        );
        assert_eq!(
            fields_of(&errors),
            [
                "settings.base_url",
                "settings.fields.score",
                "settings.list_ids",
                "credentials.api_key"
            ]
        );
        assert!(validate(
            &settings(json!({"base_url": "https://a.api-us1.com", "list_ids": [3, 8]})),
            &names(&[("api_key", "k")])
        )
        .is_empty());
    }

    #[test]
    fn a_wrong_typed_setting_is_refused_naming_it() {
        for (settings, field) in [
            (
                json!({"base_url": "https://a.api-us1.com", "list_ids": ["3"]}),
                "settings.list_ids",
            ),
            (
                json!({"base_url": "https://a.api-us1.com", "list_ids": [3.5]}),
                "settings.list_ids",
            ),
            (
                json!({"base_url": "https://a.api-us1.com", "list_ids": 3}),
                "settings.list_ids",
            ),
            (json!({"base_url": 7}), "settings.base_url"),
            (json!({"base_url": null}), "settings.base_url"),
            (
                json!({"base_url": "https://a.api-us1.com", "existing_contact": 1}),
                "settings.existing_contact",
            ),
        ] {
            let errors = super::super::validate(
                Provider::Activecampaign,
                settings.as_object().unwrap(),
                &names(&[("api_key", "k")]),
            );
            assert_eq!(fields_of(&errors), [field], "{settings}");
        }
        let parsed = Settings::parse(&settings(
            json!({"base_url": " https://a.api-us1.com/ ", "list_ids": [3, 8]}),
        ))
        .unwrap();
        assert_eq!(parsed.origin, "https://a.api-us1.com");
        assert_eq!(parsed.list_ids, [3, 8]);
    }

    #[test]
    fn more_lists_than_one_attempt_can_subscribe_are_refused_by_name() {
        let ok = |n: u64| {
            validate(
                &settings(
                    json!({"base_url": "https://a.api-us1.com", "list_ids": (1..=n).collect::<Vec<_>>()}),
                ),
                &names(&[("api_key", "k")]),
            )
        };
        assert!(ok(MAX_LISTS as u64).is_empty());
        let errors = ok(MAX_LISTS as u64 + 1);
        assert_eq!(fields_of(&errors), ["settings.list_ids"]);
        assert!(errors[0]
            .message
            .contains(&format!("at most {MAX_LISTS} lists")));
        // The sequence a consenting contact gets at the limit fits one attempt.
        let (_, then, _) = sent(
            build(
                &integration(
                    Provider::Activecampaign,
                    json!({"base_url": "https://a.api-us1.com", "list_ids": (1..=MAX_LISTS as u64).collect::<Vec<_>>()}),
                ),
                &creds(&[("api_key", "k")]),
                &lena(),
            )
            .unwrap(),
        );
        assert_eq!(1 + then.len(), MAX_REQUESTS_PER_ATTEMPT);
    }
}
