//! Destinations: how a registration becomes a request to one provider, and what an
//! integration's settings and credentials must hold for that.
//!
//! Each provider has a module that checks its settings (at configuration time, so a
//! mistake is a clear 422, not a failed delivery) and builds the request. Every provider
//! parses its settings into a typed `Settings` (parse, don't validate): the same parse is
//! the 422 at configuration time and what `build` reads, with the shared mapping settings
//! as [`mapping::Common`]; a wrong-typed value is refused naming it. Each also lists the
//! settings it takes (`SETTINGS`): a name it does not take, a typo included, is refused
//! naming it ([`unknown_settings`]) instead of being stored and ignored. Everything here
//! is pure: sending is [`crate::exchange::Transport`]'s job, judging the answer the
//! engine's.
//! [`mapping`] holds what every provider shares: field mapping, conditions, consent, the
//! existing-contact policy and the overridable base URL.
//!
//! A delivery may take several requests ([`Built::Send`]'s `then`); one that needs a
//! value of an earlier answer is a [`FollowUp`] that names it, and the deliverer fills
//! it in from that answer just before sending ([`FollowUp::resolve`], pure as well).
//!
//! # Providers
//!
//! | provider | endpoint (update / create only) | auth |
//! |---|---|---|
//! | [`mailchimp`] | `PUT /3.0/lists/{list}/members/{md5}` / `POST /3.0/lists/{list}/members`; tags `POST …/members/{md5}/tags` | Basic, API key as password |
//! | [`hubspot`] | `POST /crm/v3/objects/contacts/batch/upsert` / `POST /crm/v3/objects/contacts` | Bearer private-app token |
//! | [`hubspot_forms`] | `POST /submissions/v3/integration/submit/{portal}/{form}` (or `…/secure/submit/…`) | none, or Bearer |
//! | [`klaviyo`] | `POST /api/profile-import` / `POST /api/profiles`; with consent `POST /api/profile-subscription-bulk-create-jobs` | `Klaviyo-API-Key` |
//! | [`sendgrid`] | `PUT /v3/marketing/contacts` | Bearer |
//! | [`brevo`] | `POST /v3/contacts` with `updateEnabled` true / false | `api-key` |
//! | [`activecampaign`] | `POST /api/3/contact/sync` / `POST /api/3/contacts`; lists `POST /api/3/contactLists` | `Api-Token` |
//! | [`mailjet`] | with consent `POST /v3/REST/contactslist/{list}/managecontact` (`addforce`); without, `POST /v3/REST/contact`, then `PUT /v3/REST/contactdata/{email}` when properties are mapped; update only | Basic, API key : secret key |
//! | [`campaign_monitor`] | `POST /api/v3.3/subscribers/{list}.json`; update only | Basic, API key as user name |
//! | [`salesforce`] | `PATCH /services/data/vNN.N/sobjects/{object}/{field}/{value}` / `POST …/sobjects/{object}`, after `POST /services/oauth2/token` with a refresh token | Bearer OAuth token |
//! | [`dynamics`] | `PATCH /api/data/v9.2/{leads\|contacts}({alternate_key}='{value}')` / the same with `If-None-Match: *`, after `POST /{tenant}/oauth2/v2.0/token` with client credentials at Microsoft Entra ID | Bearer OAuth token |
//! | [`webhook`] | the customer's URL | none, Basic or Bearer; Standard Webhooks signatures |

pub mod activecampaign;
pub mod brevo;
pub mod campaign_monitor;
pub mod dynamics;
pub mod hubspot;
pub mod hubspot_forms;
pub mod klaviyo;
pub mod mailchimp;
pub mod mailjet;
pub mod mapping;
pub mod salesforce;
pub mod sendgrid;
pub mod signature;
#[cfg(test)]
mod testkit;
pub mod webhook;

use crate::exchange::{Credentials, HeaderValue, OutgoingRequest};
use crate::keys::Secret;
use crate::model::{Integration, Registration};
use crate::setting::SettingError;
use leadrelay_explain::provider::Provider;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a credential being kept (not changed) reads as when settings are checked: its
/// name is known, its value is not (it passed the checks when it was set).
pub const KEPT_CREDENTIAL: &str = "kept";

impl Credentials {
    /// A secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }

    /// A secret by name, or the error naming it as missing (`what`: "the API key").
    pub fn require(&self, name: &str, what: &str) -> Result<&Secret, SettingError> {
        self.get(name).ok_or_else(|| {
            SettingError::new(format!("credentials.{name}"), format!("{what} is missing"))
        })
    }
}

/// Ids and times a request carries so that retries are recognisable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContext {
    /// Stable per registration × integration: the receiver's idempotency key.
    pub message_id: String,
    /// This attempt's time (seconds since the epoch).
    pub timestamp: u64,
    /// This attempt's number.
    pub attempt: u32,
}

/// A request sent after the first one of a delivery, once every answer before it was a
/// success. Most are complete when built; some need a value that only an earlier answer
/// holds (ActiveCampaign's list subscription needs the contact id of the contact sync's
/// answer; a Salesforce record request needs the access token and instance URL of the
/// OAuth token answer, a Dynamics 365 one the access token of Entra ID's answer). Those name it in `takes`, and [`FollowUp::resolve`] fills it in:
/// building stays pure, and the deliverer, which holds the answers, resolves each
/// follow-up just before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// The request, complete but for what `takes` fills in.
    pub request: OutgoingRequest,
    /// Values of earlier answers this request needs, and where they go.
    pub takes: Vec<Take>,
}

impl From<OutgoingRequest> for FollowUp {
    fn from(request: OutgoingRequest) -> Self {
        FollowUp {
            request,
            takes: Vec::new(),
        }
    }
}

/// One value a follow-up takes from an earlier answer of the same attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    /// Which answer: 0 is the first request's, 1 the first follow-up's, and so on; it
    /// must come before the follow-up that takes it.
    pub answer: usize,
    /// Where the value is in that answer's JSON body, as a JSON pointer (`/contact/id`).
    pub pointer: &'static str,
    /// Where it goes in the request.
    pub into: Slot,
}

/// Where a taken value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Replaces the value at this JSON pointer of the (JSON) body.
    Body(&'static str),
    /// The same, as a number: ActiveCampaign answers ids as text (`"113"`) and documents
    /// them as numbers in requests.
    BodyNumber(&'static str),
    /// Replaces the URL's origin (`scheme://host[:port]`); the value must be such an
    /// origin (`https://acme.my.salesforce.com`).
    Origin,
    /// A header whose value is `prefix` then the value, kept secret: an access token.
    /// The answer it came from is never kept in an attempt record.
    SecretHeader {
        /// The header's name.
        name: &'static str,
        /// What precedes the value (`Bearer `).
        prefix: &'static str,
    },
}

/// Why a follow-up could not be completed from the answers before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("answer {answer} has no usable value at {pointer}")]
pub struct Unresolved {
    /// Which answer lacked the value.
    pub answer: usize,
    /// Where the value was expected.
    pub pointer: &'static str,
}

impl FollowUp {
    /// Whether some of this follow-up's values are secrets, taken from `answer` (that
    /// answer's body must then never be kept).
    pub fn takes_secret_from(&self, answer: usize) -> bool {
        self.takes
            .iter()
            .any(|t| t.answer == answer && matches!(t.into, Slot::SecretHeader { .. }))
    }

    /// The request, completed from the bodies of the answers before it (`answers[0]` is
    /// the first request's).
    pub fn resolve(&self, answers: &[&[u8]]) -> Result<OutgoingRequest, Unresolved> {
        let mut request = self.request.clone();
        if self.takes.is_empty() {
            return Ok(request);
        }
        let mut body: Option<Value> = None;
        for take in &self.takes {
            let missing = Unresolved {
                answer: take.answer,
                pointer: take.pointer,
            };
            let value = answers
                .get(take.answer)
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .and_then(|v| v.pointer(take.pointer).cloned())
                .filter(|v| match v {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Number(_) => true,
                    _ => false,
                })
                .ok_or_else(|| missing.clone())?;
            match &take.into {
                Slot::Body(at) => {
                    put(&mut body, &request.body, at, value).ok_or(missing)?;
                }
                Slot::BodyNumber(at) => {
                    let number = match &value {
                        Value::Number(_) => Some(value.clone()),
                        Value::String(s) => s.trim().parse::<u64>().ok().map(Value::from),
                        _ => None,
                    };
                    number
                        .and_then(|n| put(&mut body, &request.body, at, n))
                        .ok_or(missing)?;
                }
                Slot::Origin => {
                    let origin = value.as_str().and_then(origin_of).ok_or(missing)?;
                    request.url = with_origin(&request.url, &origin);
                }
                Slot::SecretHeader { name, prefix } => {
                    let token = value.as_str().ok_or(missing)?;
                    let header = (
                        (*name).to_owned(),
                        HeaderValue::Secret(Secret::new(format!("{prefix}{}", token.trim()))),
                    );
                    match request.headers.iter_mut().find(|(n, _)| n == name) {
                        Some(existing) => *existing = header,
                        None => request.headers.push(header),
                    }
                }
            }
        }
        if let Some(doc) = body {
            request.body = doc.to_string().into_bytes();
        }
        Ok(request)
    }
}

/// Sets the value at `at` of a JSON body (parsed from `raw` on first use).
fn put(body: &mut Option<Value>, raw: &[u8], at: &str, value: Value) -> Option<()> {
    let doc = match body {
        Some(doc) => doc,
        None => body.insert(serde_json::from_slice(raw).ok()?),
    };
    *doc.pointer_mut(at)? = value;
    Some(())
}

/// `https://host[:port]` out of an answer's URL value, when it is one and has nothing
/// else (no user name, path, query or fragment): an answer cannot point a request at
/// a path of its choosing.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let clean = !rest.is_empty() && !rest.contains(['/', '@', '?', '#', ' ']);
    clean.then(|| url.to_owned())
}

/// `url` with its origin replaced by `origin`.
fn with_origin(url: &str, origin: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path = url[after_scheme..]
        .find('/')
        .map_or("", |i| &url[after_scheme + i..]);
    format!("{origin}{path}")
}

/// What building a request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    /// Send this; `data` is the outgoing data as the provider sees it, for pre-flight and
    /// for pointing at values in the engine's explanation.
    Send {
        /// The request.
        request: OutgoingRequest,
        /// The data in the provider's field names.
        data: Map<String, Value>,
        /// Requests that complete the delivery, sent in order after `request`, each only
        /// when the one before succeeded (Klaviyo's subscription job after its profile
        /// import, Mailchimp's tags after the member upsert, ActiveCampaign's list
        /// subscriptions with the contact id of the first answer, Salesforce's and Dynamics 365's
        /// record requests with the access token of their OAuth answers). Every request is
        /// idempotent, so a retry sends the whole sequence again. Usually empty.
        then: Vec<FollowUp>,
    },
    /// A condition of the integration says not to deliver this registration.
    Skip {
        /// Why, in words.
        reason: String,
    },
}

/// Checks an integration's settings and credential names for its provider: every setting
/// must be one the provider takes ([`unknown_settings`]), and each must hold a value it
/// can use.
pub fn validate(
    provider: Provider,
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = unknown_settings(provider, settings);
    errors.extend(crate::deliver::limit::validate(settings));
    errors.extend(crate::deliver::breaker::validate(settings));
    errors.extend(validate_provider(provider, settings, credentials));
    errors
}

/// Settings every integration takes, whatever its provider: how many requests go out at
/// once, the breaker, and the one leadrelay maintains itself for signing-secret rotation
/// (which the configuration refuses from callers on its own terms).
const DELIVERY_SETTINGS: &[&str] = &[
    crate::deliver::limit::SETTING,
    "breaker_failures",
    "breaker_percent",
    "breaker_hold_s",
    signature::LEGACY_PREVIOUS_UNTIL,
];

/// The setting names `provider` takes: its own, then the shared mapping ones when it has a
/// field mapping (every provider but the webhook), then [`DELIVERY_SETTINGS`].
pub fn accepted_settings(provider: Provider) -> Vec<&'static str> {
    let (own, mapped) = match provider {
        Provider::Webhook => (webhook::SETTINGS, false),
        Provider::Mailchimp => (mailchimp::SETTINGS, true),
        Provider::Hubspot => (hubspot::SETTINGS, true),
        Provider::HubspotForms => (hubspot_forms::SETTINGS, true),
        Provider::Klaviyo => (klaviyo::SETTINGS, true),
        Provider::Sendgrid => (sendgrid::SETTINGS, true),
        Provider::Brevo => (brevo::SETTINGS, true),
        Provider::Activecampaign => (activecampaign::SETTINGS, true),
        Provider::Salesforce => (salesforce::SETTINGS, true),
        Provider::Mailjet => (mailjet::SETTINGS, true),
        Provider::CampaignMonitor => (campaign_monitor::SETTINGS, true),
        Provider::Dynamics => (dynamics::SETTINGS, true),
    };
    let shared: &[&str] = if mapped {
        mapping::SHARED_SETTINGS
    } else {
        &[]
    };
    let mut names: Vec<&'static str> = Vec::new();
    for name in own.iter().chain(shared).chain(DELIVERY_SETTINGS) {
        if !names.contains(name) {
            names.push(name);
        }
    }
    names
}

/// One error per setting `provider` does not take, naming it: a typo is told the setting
/// it is closest to, any other name the settings there are. An unknown setting would
/// otherwise be stored and silently ignored at every delivery.
pub fn unknown_settings(provider: Provider, settings: &Map<String, Value>) -> Vec<SettingError> {
    let accepted = accepted_settings(provider);
    let offered: Vec<&str> = accepted
        .iter()
        .copied()
        .filter(|n| *n != signature::LEGACY_PREVIOUS_UNTIL)
        .collect();
    settings
        .keys()
        .filter(|key| !accepted.contains(&key.as_str()))
        .map(|key| {
            let closest = offered
                .iter()
                .map(|n| (edit_distance(key, n), *n))
                .min()
                .filter(|(d, _)| *d <= 2 && *d < key.chars().count().max(2));
            let message = match closest {
                Some((_, name)) => {
                    format!("{provider} has no setting '{key}': did you mean '{name}'?")
                }
                None => format!(
                    "{provider} has no setting '{key}'; its settings are {}",
                    offered.join(", ")
                ),
            };
            SettingError::new(format!("settings.{key}"), message)
        })
        .collect()
}

/// How many single-character insertions, deletions or substitutions turn `a` into `b`
/// (Levenshtein distance; case counts, `List_id` is one from `list_id`).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn validate_provider(
    provider: Provider,
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    match provider {
        Provider::Webhook => webhook::validate(settings, credentials),
        Provider::Mailchimp => mailchimp::validate(settings, credentials),
        Provider::Hubspot => hubspot::validate(settings, credentials),
        Provider::HubspotForms => hubspot_forms::validate(settings, credentials),
        Provider::Klaviyo => klaviyo::validate(settings, credentials),
        Provider::Sendgrid => sendgrid::validate(settings, credentials),
        Provider::Brevo => brevo::validate(settings, credentials),
        Provider::Activecampaign => activecampaign::validate(settings, credentials),
        Provider::Salesforce => salesforce::validate(settings, credentials),
        Provider::Mailjet => mailjet::validate(settings, credentials),
        Provider::CampaignMonitor => campaign_monitor::validate(settings, credentials),
        Provider::Dynamics => dynamics::validate(settings, credentials),
    }
}

/// Builds the request for one registration, or says why the integration's conditions
/// skip it (checked here once, before any provider reads the registration).
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
    cx: &SendContext,
) -> Result<Built, SettingError> {
    if let Some(reason) = mapping::unmet(&integration.settings, &registration.data.flat())? {
        return Ok(Built::Skip { reason });
    }
    match integration.provider {
        Provider::Webhook => webhook::build(integration, credentials, registration, cx),
        Provider::Mailchimp => mailchimp::build(integration, credentials, registration),
        Provider::Hubspot => hubspot::build(integration, credentials, registration),
        Provider::HubspotForms => hubspot_forms::build(integration, credentials, registration),
        Provider::Klaviyo => klaviyo::build(integration, credentials, registration),
        Provider::Sendgrid => sendgrid::build(integration, credentials, registration),
        Provider::Brevo => brevo::build(integration, credentials, registration),
        Provider::Activecampaign => activecampaign::build(integration, credentials, registration),
        Provider::Salesforce => salesforce::build(integration, credentials, registration),
        Provider::Mailjet => mailjet::build(integration, credentials, registration),
        Provider::CampaignMonitor => {
            campaign_monitor::build(integration, credentials, registration)
        }
        Provider::Dynamics => dynamics::build(integration, credentials, registration),
    }
}

/// The message id of a registration × integration: stable across retries, free of `.`
/// (Standard Webhooks forbids it in ids).
pub fn message_id(registration: &Registration, integration: &Integration) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(registration.id.as_str().as_bytes());
    h.update(b"/");
    h.update(integration.id.as_str().as_bytes());
    format!("msg_{}", &hex::encode(h.finalize())[..32])
}

/// Whether pre-flight checks run before sending (setting `preflight`, default on).
pub fn preflight_enabled(integration: &Integration) -> bool {
    integration
        .settings
        .get("preflight")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Method;

    fn map(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn refused(provider: Provider, settings: serde_json::Value) -> Vec<SettingError> {
        let settings = map(settings);
        validate(provider, &settings, &BTreeMap::new())
            .into_iter()
            .filter(|e| e.message.contains("has no setting"))
            .collect()
    }

    #[test]
    fn an_unknown_setting_is_refused_naming_it_for_every_provider() {
        for provider in Provider::ALL {
            let errors = refused(provider, serde_json::json!({"colour": "blue"}));
            assert_eq!(
                errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
                ["settings.colour"],
                "{provider}"
            );
            assert!(
                errors[0].message.contains("'colour'"),
                "{}",
                errors[0].message
            );
        }
    }

    #[test]
    fn a_typo_is_refused_naming_it_and_the_setting_it_is_closest_to() {
        for (provider, settings, typo, meant) in [
            (
                Provider::Webhook,
                serde_json::json!({"url": "https://h.io", "methd": "PUT"}),
                "methd",
                "method",
            ),
            (
                Provider::Mailchimp,
                serde_json::json!({"lst_id": "a1b2c3"}),
                "lst_id",
                "list_id",
            ),
            (
                Provider::Hubspot,
                serde_json::json!({"condtions": []}),
                "condtions",
                "conditions",
            ),
            (
                Provider::HubspotForms,
                serde_json::json!({"portal_id": "1", "form_guid": "f", "page_url": "https://x.io"}),
                "page_url",
                "page_uri",
            ),
            (
                Provider::Klaviyo,
                serde_json::json!({"List_id": "Xy"}),
                "List_id",
                "list_id",
            ),
            (
                Provider::Sendgrid,
                serde_json::json!({"list_id": ["a"]}),
                "list_id",
                "list_ids",
            ),
            (
                Provider::Brevo,
                serde_json::json!({"consentfield": "newsletter"}),
                "consentfield",
                "consent_field",
            ),
            (
                Provider::Activecampaign,
                serde_json::json!({"base_uri": "https://a.api-us1.com"}),
                "base_uri",
                "base_url",
            ),
            (
                Provider::Salesforce,
                serde_json::json!({"external_id_feild": "Email__c"}),
                "external_id_feild",
                "external_id_field",
            ),
            (
                Provider::Mailjet,
                serde_json::json!({"max_concurency": 2}),
                "max_concurency",
                "max_concurrency",
            ),
            (
                Provider::CampaignMonitor,
                serde_json::json!({"existing_contacts": "update"}),
                "existing_contacts",
                "existing_contact",
            ),
            (
                Provider::Dynamics,
                serde_json::json!({"tennant_id": "contoso.onmicrosoft.com"}),
                "tennant_id",
                "tenant_id",
            ),
        ] {
            let errors = refused(provider, settings);
            assert_eq!(errors.len(), 1, "{provider}: {errors:?}");
            assert_eq!(errors[0].field, format!("settings.{typo}"));
            assert!(
                errors[0]
                    .message
                    .contains(&format!("did you mean '{meant}'")),
                "{provider}: {}",
                errors[0].message
            );
        }
    }

    #[test]
    fn every_setting_a_provider_documents_and_the_delivery_settings_are_accepted() {
        for provider in Provider::ALL {
            let mut all = Map::new();
            for name in accepted_settings(provider) {
                all.insert(name.to_owned(), Value::Null);
            }
            assert!(unknown_settings(provider, &all).is_empty(), "{provider}");
            for name in [
                "max_concurrency",
                "breaker_failures",
                "breaker_percent",
                "breaker_hold_s",
            ] {
                assert!(
                    accepted_settings(provider).contains(&name),
                    "{provider}: {name}"
                );
            }
        }
        assert!(!accepted_settings(Provider::Webhook).contains(&"fields"));
        assert!(accepted_settings(Provider::Mailchimp).contains(&"fields"));
    }

    #[test]
    fn a_name_far_from_every_setting_is_told_the_settings_there_are() {
        let errors = refused(Provider::Sendgrid, serde_json::json!({"colour": "blue"}));
        assert_eq!(
            errors[0].message,
            "sendgrid has no setting 'colour'; its settings are list_ids, fields, conditions, \
             consent_field, existing_contact, base_url, preflight, max_concurrency, \
             breaker_failures, breaker_percent, breaker_hold_s"
        );
        assert_eq!(edit_distance("lst_id", "list_id"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    fn record_request() -> FollowUp {
        FollowUp {
            request: OutgoingRequest {
                method: Method::Patch,
                url: "https://login.salesforce.com/services/data/v62.0/sobjects/Lead/X__c/1".into(),
                headers: vec![(
                    "accept".into(),
                    HeaderValue::Plain("application/json".into()),
                )],
                body: b"{}".to_vec(),
                secret_segments: Vec::new(),
            },
            takes: vec![
                Take {
                    answer: 0,
                    pointer: "/access_token",
                    into: Slot::SecretHeader {
                        name: "authorization",
                        prefix: "Bearer ",
                    },
                },
                Take {
                    answer: 0,
                    pointer: "/instance_url",
                    into: Slot::Origin,
                },
            ],
        }
    }

    #[test]
    fn a_follow_up_takes_its_token_and_origin_from_the_answer_and_keeps_the_token_secret() {
        let answer = br#"{"access_token": "00Dx!issued", "instance_url": "https://acme.my.salesforce.com/"}"#;

        let r = record_request().resolve(&[answer.as_slice()]).unwrap();

        assert_eq!(
            r.url,
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Lead/X__c/1"
        );
        let auth = r
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap();
        assert_eq!(auth.1.expose(), "Bearer 00Dx!issued");
        assert!(matches!(auth.1, HeaderValue::Secret(_)));
        assert!(!format!("{r:?}").contains("issued"));
        assert!(record_request().takes_secret_from(0));
        assert!(!record_request().takes_secret_from(1));
    }

    #[test]
    fn an_answer_without_the_value_or_with_a_url_that_is_more_than_an_origin_is_unresolved() {
        let f = record_request();
        for answer in [
            r#"{"instance_url": "https://acme.my.salesforce.com"}"#,
            r#"{"access_token": "", "instance_url": "https://acme.my.salesforce.com"}"#,
            r#"{"access_token": "t", "instance_url": "https://evil.example/steal?x="}"#,
            r#"{"access_token": "t", "instance_url": "ftp://acme"}"#,
            "not json",
        ] {
            assert!(f.resolve(&[answer.as_bytes()]).is_err(), "{answer}");
        }
        assert_eq!(
            f.resolve(&[]),
            Err(Unresolved {
                answer: 0,
                pointer: "/access_token"
            })
        );
    }
}
