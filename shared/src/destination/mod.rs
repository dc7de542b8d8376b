//! Destinations: how a registration becomes a request to one provider, and what an
//! integration's settings and credentials must hold for that.
//!
//! Each provider has a module that validates its settings (at configuration time, so a
//! mistake is a clear 422, not a failed delivery) and builds the request. Everything
//! here is pure: sending is [`Transport`]'s job, judging the answer the engine's.
//! [`mapping`] holds what every provider shares: field mapping, conditions, consent, the
//! existing-contact policy and the overridable base URL.
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
//! | [`activecampaign`] | `POST /api/3/contact/sync` / `POST /api/3/contacts` | `Api-Token` |
//! | [`mailjet`] | with consent `POST /v3/REST/contactslist/{list}/managecontact` (`addforce`); without, `POST /v3/REST/contact`, then `PUT /v3/REST/contactdata/{email}` when properties are mapped; update only | Basic, API key : secret key |
//! | [`campaign_monitor`] | `POST /api/v3.3/subscribers/{list}.json`; update only | Basic, API key as user name |
//! | [`salesforce`] | `PATCH /services/data/vNN.N/sobjects/{object}/{field}/{value}` / `POST …/sobjects/{object}` | Bearer OAuth token |
//! | [`webhook`] | the customer's URL | none, Basic or Bearer; Standard Webhooks signatures |

pub mod activecampaign;
pub mod brevo;
pub mod campaign_monitor;
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

use crate::keys::Secret;
use crate::model::{Integration, Registration, RequestSummary};
use crate::{Provider, ProviderResponse};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;

/// An HTTP method a destination uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
}

impl Method {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// A header value, plain or secret (secrets never reach a log or an attempt record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// May be shown.
    Plain(String),
    /// Must not be shown.
    Secret(Secret),
}

impl HeaderValue {
    /// The value to put on the wire.
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(s) => s,
            HeaderValue::Secret(s) => s.expose(),
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The method.
    pub method: Method,
    /// The full URL (it may hold a secret in its query, e.g. a token parameter).
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
}

impl OutgoingRequest {
    /// What the log may keep of the request: method, URL without userinfo or query
    /// values, and the body's size.
    pub fn summary(&self) -> RequestSummary {
        RequestSummary {
            method: self.method.as_str().to_owned(),
            url: redact_url(&self.url),
            body_bytes: self.body.len() as u64,
        }
    }
}

/// A URL with any `user:password@` removed and query values replaced, so tokens in URLs
/// never reach the log: `https://u:p@x.io/a?token=1&b=2` → `https://x.io/a?token=…&b=…`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("", url),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = path.split('#').next().unwrap_or("");
    let redacted_path = match path.split_once('?') {
        Some((p, query)) => {
            let params: Vec<String> = query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| format!("{}=…", kv.split('=').next().unwrap_or("")))
                .collect();
            format!("{p}?{}", params.join("&"))
        }
        None => path.to_owned(),
    };
    if scheme.is_empty() {
        format!("{host}{redacted_path}")
    } else {
        format!("{scheme}://{host}{redacted_path}")
    }
}

/// What a credential being kept (not changed) reads as when settings are checked: its
/// name is known, its value is not (it passed the checks when it was set).
pub const KEPT_CREDENTIAL: &str = "kept";

/// An integration's secrets, by name, opened for one delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials(pub BTreeMap<String, Secret>);

impl Credentials {
    /// A secret by name.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name)
    }
}

/// The outcome of a send: the answer (or why none came), bounded, with its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The answer as the engine reads it (body capped).
    pub response: ProviderResponse,
    /// What the log keeps of it.
    pub summary: Option<crate::model::ResponseSummary>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Set when leadrelay itself refused to connect (the address is not allowed).
    pub blocked: Option<String>,
}

/// Sends requests. The real one guards egress and caps bodies; tests pass fakes.
pub trait Transport: Send + Sync {
    /// Sends one request and reads its answer.
    fn send(&self, request: &OutgoingRequest) -> impl Future<Output = Exchange> + Send;
}

/// A setting that is missing or wrong, named for the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingError {
    /// The setting's path (`settings.url`, `credentials.api_key`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl SettingError {
    /// A problem with one setting.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
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
        /// import, Mailchimp's tags after the member upsert). Every request is
        /// idempotent, so a retry sends the whole sequence again. Usually empty.
        then: Vec<OutgoingRequest>,
    },
    /// A condition of the integration says not to deliver this registration.
    Skip {
        /// Why, in words.
        reason: String,
    },
}

/// Checks an integration's settings and credential names for its provider.
pub fn validate(
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
        Provider::Dynamics => vec![SettingError::new(
            "provider",
            format!(
                "{} integrations are not available yet",
                Provider::Dynamics.display_name()
            ),
        )],
    }
}

/// Builds the request for one registration.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
    cx: &SendContext,
) -> Result<Built, SettingError> {
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
        Provider::Dynamics => Err(SettingError::new(
            "provider",
            format!(
                "{} integrations are not available yet",
                Provider::Dynamics.display_name()
            ),
        )),
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

    #[test]
    fn urls_lose_userinfo_and_query_values_in_the_log() {
        assert_eq!(
            redact_url("https://user:pw@hooks.example.com/in?token=abc&x=1#frag"),
            "https://hooks.example.com/in?token=…&x=…"
        );
        assert_eq!(redact_url("https://a.io"), "https://a.io");
        assert_eq!(redact_url("https://a.io/p@q"), "https://a.io/p@q");
    }
}
