//! Fake provider APIs, for the tests and the local demo: each checks requests the way
//! the real API does (path, method, authentication header and scheme, required body
//! keys) and answers with the provider's documented statuses and bodies
//! (`reference/providers.md`, and the explain fixtures the engine is tested against).
//!
//! Each fake keeps the contacts it was sent, so a second upsert of the same address is
//! an update and a second create is refused as a duplicate, as on the real service.
//!
//! # Choosing a behaviour
//!
//! A test picks a behaviour in one of two ways.
//!
//! By the email's local part (the first matching prefix wins):
//!
//! | local part | answer |
//! |---|---|
//! | non-ASCII (`calebæhnson@…`), or starts with `invalid` | the provider's invalid-email refusal |
//! | starts with `exists` or `known` | the contact already exists: an upsert updates it, a create is refused as a duplicate |
//! | starts with `suppressed` | the provider's compliance / suppressed refusal, where it has one (Mailchimp, HubSpot Forms, Campaign Monitor); elsewhere as `exists` |
//! | starts with `ratelimit` | the provider's rate-limit answer, every time |
//! | starts with `busy` | the rate-limit answer the first time for that address, then normal |
//! | starts with `locked` | the provider's lock or conflict answer, where it has one (HubSpot 423, Salesforce `UNABLE_TO_LOCK_ROW`); elsewhere (Dynamics 365 too) its 5xx |
//! | starts with `error` | the provider's 5xx |
//! | starts with `slow` | normal, after [`SLOW`] |
//!
//! Or for every request, with [`FakeProvider::set_mode`] ([`Mode`]). A wrong or missing
//! key always gets the provider's documented refusal (mostly 401), whatever the mode;
//! [`FakeProvider::set_key`] changes the key the fake accepts (for Mailjet, whose
//! Basic authentication carries two keys, the whole `api_key:secret_key` pair; for
//! Dynamics 365, the app registration's client secret). Lists, audiences and
//! forms whose id starts with `missing` (or is all zeros, for HubSpot forms) do not
//! exist.
//!
//! Where a provider states a wait on its rate-limit answer (Klaviyo, SendGrid, Brevo,
//! ActiveCampaign, Mailjet, Campaign Monitor, Dynamics 365: `Retry-After` or its reset header), the
//! fakes state [`RETRY_AFTER_S`];
//! Mailchimp, HubSpot and Salesforce document none, and their fakes send none.

pub mod activecampaign;
pub mod brevo;
pub mod campaign_monitor;
pub mod dynamics;
pub mod hubspot;
pub mod hubspot_forms;
pub mod klaviyo;
pub mod mailchimp;
pub mod mailjet;
pub mod salesforce;
pub mod sendgrid;

use crate::fake::{FakeServer, Handler, Recorded, Reply};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use leadrelay_explain::provider::Provider;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The wait the fakes state on a rate-limit answer, where their provider states one.
pub const RETRY_AFTER_S: u64 = 90;
/// How long a `slow…` address waits for its answer.
pub const SLOW: Duration = Duration::from_secs(3);

/// A behaviour for every request of one fake (the email triggers apply under `Normal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer by the request (and the email's trigger).
    #[default]
    Normal,
    /// The key is valid but lacks a permission or scope (HubSpot `MISSING_SCOPES`,
    /// Klaviyo `permission_denied`, ...).
    Forbidden,
    /// The rate-limit answer.
    RateLimited,
    /// The lock or conflict answer (or the 5xx, where the provider has none).
    Locked,
    /// The provider's 5xx.
    ServerError,
    /// Normal answers, after this long.
    Slow(Duration),
}

/// What one request meets, once the mode and the email's trigger are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Forbidden,
    RateLimited,
    Locked,
    ServerError,
    Invalid,
    Suppressed,
    Proceed { exists: bool, delay: Duration },
}

/// A fake's state: what it accepts and what it holds.
#[derive(Debug, Default)]
pub struct State {
    mode: Mode,
    key: String,
    contacts: BTreeMap<String, Value>,
    tries: BTreeMap<String, u32>,
    next_id: u64,
    oauth: Option<salesforce::OAuthApp>,
    issued: Vec<String>,
}

impl State {
    /// Whether `given` is the key this fake accepts.
    pub(crate) fn key_is(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| !self.key.is_empty() && g == self.key)
    }

    /// What a request about `email` meets.
    pub(crate) fn decide(&mut self, email: &str) -> Decision {
        match self.mode {
            Mode::Forbidden => return Decision::Forbidden,
            Mode::RateLimited => return Decision::RateLimited,
            Mode::Locked => return Decision::Locked,
            Mode::ServerError => return Decision::ServerError,
            Mode::Normal | Mode::Slow(_) => {}
        }
        let key = email.trim().to_lowercase();
        let local = key.split('@').next().unwrap_or("");
        let tries = {
            let n = self.tries.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        if !local.is_ascii() || local.starts_with("invalid") {
            return Decision::Invalid;
        }
        if local.starts_with("suppressed") {
            return Decision::Suppressed;
        }
        if local.starts_with("ratelimit") || (local.starts_with("busy") && tries == 1) {
            return Decision::RateLimited;
        }
        if local.starts_with("locked") {
            return Decision::Locked;
        }
        if local.starts_with("error") {
            return Decision::ServerError;
        }
        let delay = match self.mode {
            Mode::Slow(d) => d,
            _ if local.starts_with("slow") => SLOW,
            _ => Duration::ZERO,
        };
        let exists = self.contacts.contains_key(&key)
            || local.starts_with("exists")
            || local.starts_with("known");
        Decision::Proceed { exists, delay }
    }

    /// Keeps what was sent about `email`; returns its id.
    pub(crate) fn store(&mut self, email: &str, record: Value) -> String {
        let key = email.trim().to_lowercase();
        let id = match self
            .contacts
            .get(&key)
            .and_then(|r| r.get("_id"))
            .and_then(Value::as_str)
        {
            Some(id) => id.to_owned(),
            None => {
                self.next_id += 1;
                format!("{}", 37_765_128_950 + self.next_id)
            }
        };
        let mut record = record;
        if let Value::Object(m) = &mut record {
            m.insert("_id".into(), Value::from(id.clone()));
        }
        self.contacts.insert(key, record);
        id
    }

    /// What the fake holds about `email`.
    pub(crate) fn contact(&self, email: &str) -> Option<&Value> {
        self.contacts.get(&email.trim().to_lowercase())
    }
}

/// A running fake provider; it stops when dropped.
pub struct FakeProvider {
    server: FakeServer,
    state: Arc<Mutex<State>>,
    provider: Provider,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("provider", &self.provider)
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

/// The providers that have a fake.
pub const FAKED: [Provider; 11] = [
    Provider::Mailchimp,
    Provider::Hubspot,
    Provider::HubspotForms,
    Provider::Klaviyo,
    Provider::Sendgrid,
    Provider::Brevo,
    Provider::Activecampaign,
    Provider::Salesforce,
    Provider::Mailjet,
    Provider::CampaignMonitor,
    Provider::Dynamics,
];

/// The handler of one provider's fake over a shared state.
pub fn handler(provider: Provider, state: Arc<Mutex<State>>) -> Option<Handler> {
    let answer: fn(&mut State, &Recorded) -> Reply = match provider {
        Provider::Mailchimp => mailchimp::answer,
        Provider::Hubspot => hubspot::answer,
        Provider::HubspotForms => hubspot_forms::answer,
        Provider::Klaviyo => klaviyo::answer,
        Provider::Sendgrid => sendgrid::answer,
        Provider::Brevo => brevo::answer,
        Provider::Activecampaign => activecampaign::answer,
        Provider::Salesforce => salesforce::answer,
        Provider::Mailjet => mailjet::answer,
        Provider::CampaignMonitor => campaign_monitor::answer,
        Provider::Dynamics => dynamics::answer,
        Provider::Webhook => return None,
    };
    Some(Arc::new(move |r: &Recorded| {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        answer(&mut state, r)
    }))
}

impl FakeProvider {
    /// Starts `provider`'s fake on `bind` (`127.0.0.2:0` picks a free port), accepting
    /// `key` (the API key or token the integration must send).
    pub async fn start(provider: Provider, bind: &str, key: &str) -> std::io::Result<FakeProvider> {
        let state = Arc::new(Mutex::new(State {
            key: key.to_owned(),
            ..State::default()
        }));
        let handler = handler(provider, state.clone()).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("no fake for {provider}"),
            )
        })?;
        let server = FakeServer::start(bind, handler).await?;
        Ok(FakeProvider {
            server,
            state,
            provider,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its base URL (`http://127.0.0.2:PORT`), for the integration's `base_url`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The provider it plays.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }

    /// How many requests so far.
    pub fn hits(&self) -> usize {
        self.server.hits()
    }

    /// Sets the behaviour for every following request.
    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    /// Changes the key the fake accepts (a rotated key at the provider).
    pub fn set_key(&self, key: &str) {
        self.state().key = key.to_owned();
    }

    /// Sets the OAuth app whose refresh token the fake exchanges for access tokens
    /// (Salesforce's `/services/oauth2/token`), and revokes the access tokens it issued
    /// before: how a test revokes a refresh token, or connects anew.
    pub fn set_oauth_app(&self, app: salesforce::OAuthApp) {
        let mut state = self.state();
        state.oauth = Some(app);
        state.issued.clear();
    }

    /// The access tokens the fake issued and still accepts (Salesforce's and Dynamics
    /// 365's).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state().issued.clone()
    }

    /// What the fake holds about `email` (as last sent), if anything.
    pub fn contact(&self, email: &str) -> Option<Value> {
        self.state().contact(email).cloned()
    }

    /// How many contacts it holds.
    pub fn contact_count(&self) -> usize {
        self.state().contacts.len()
    }
}

/// The password of HTTP Basic authentication.
pub(crate) fn basic_password(r: &Recorded) -> Option<String> {
    basic_pair(r)?.split_once(':').map(|(_, p)| p.to_owned())
}

/// The decoded `user:password` pair of HTTP Basic authentication.
pub(crate) fn basic_pair(r: &Recorded) -> Option<String> {
    let encoded = r.header("authorization")?.strip_prefix("Basic ")?;
    String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()
}

/// The user name of HTTP Basic authentication.
pub(crate) fn basic_user(r: &Recorded) -> Option<String> {
    basic_pair(r)?.split_once(':').map(|(u, _)| u.to_owned())
}

/// The token of Bearer authentication.
pub(crate) fn bearer(r: &Recorded) -> Option<&str> {
    r.header("authorization")?.strip_prefix("Bearer ")
}

/// A path split into its segments.
pub(crate) fn segments(r: &Recorded) -> Vec<&str> {
    r.path.trim_matches('/').split('/').collect()
}

/// Decodes a percent-encoded path segment.
pub(crate) fn decode_segment(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON reply with a content type of the provider's choosing.
pub(crate) fn json_as(status: u16, content_type: &str, body: &Value) -> Reply {
    Reply::text(status, content_type, body.to_string())
}

/// A reply with no body (204, or a 202 without one).
pub(crate) fn empty(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: Vec::new(),
        delay: Duration::ZERO,
    }
}

/// A text value at a JSON path.
pub(crate) fn text_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(*p)?,
        };
    }
    cur.as_str()
}

/// The current time in seconds since the epoch (for reset headers).
pub(crate) fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_read_the_local_part_and_busy_passes_the_second_time() {
        let mut s = State::default();
        assert_eq!(s.decide("calebæhnson@provider.com"), Decision::Invalid);
        assert_eq!(s.decide("invalid.x@example.com"), Decision::Invalid);
        assert_eq!(s.decide("busy.bee@example.com"), Decision::RateLimited);
        assert_eq!(
            s.decide("busy.bee@example.com"),
            Decision::Proceed {
                exists: false,
                delay: Duration::ZERO
            }
        );
        assert_eq!(
            s.decide("known.person@example.com"),
            Decision::Proceed {
                exists: true,
                delay: Duration::ZERO
            }
        );
        assert_eq!(
            s.decide("slow.sam@example.com"),
            Decision::Proceed {
                exists: false,
                delay: SLOW
            }
        );
        s.store("Lena@Example.com", serde_json::json!({}));
        assert_eq!(
            s.decide("lena@example.com"),
            Decision::Proceed {
                exists: true,
                delay: Duration::ZERO
            }
        );
        s.mode = Mode::ServerError;
        assert_eq!(s.decide("lena@example.com"), Decision::ServerError);
    }

    #[test]
    fn percent_encoded_segments_decode() {
        assert_eq!(decode_segment("lena%40example.com"), "lena@example.com");
        assert_eq!(decode_segment("a%2"), "a%2");
    }
}
