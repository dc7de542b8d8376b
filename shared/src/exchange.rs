//! The exchange ports: what a delivery hands to the outside world and what comes back.
//!
//! Both sides import these downward. Destinations (the domain) build an
//! [`OutgoingRequest`]; the guarded HTTP egress (an adapter) implements [`Transport`]
//! and answers with an [`Exchange`]; the credential vault (an adapter) opens an
//! integration's sealed secrets into [`Credentials`]. [`DELIVERY_HEADER`] marks every
//! delivery so that leadrelay's own ingest can refuse one pointed back at it.
//!
//! The answer itself, [`ProviderResponse`], and why none came
//! ([`leadrelay_explain::answer::TransportErrorKind`]) are the classification engine's types.

use crate::keys::Secret;
use crate::model::{RequestSummary, ResponseSummary};
use leadrelay_explain::answer::ProviderResponse;
use std::collections::BTreeMap;
use std::future::Future;

/// The header a delivery carries so that leadrelay's own ingest can refuse it (a webhook
/// pointed back at leadrelay would loop).
pub const DELIVERY_HEADER: &str = "x-leadrelay-delivery";

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

/// A request ready to send. Its `Debug` shows the URL as [`redact_url`] leaves it and
/// the body's size only: a body may carry secrets (an OAuth refresh token).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The method.
    pub method: Method,
    /// The full URL (it may hold a secret in its query, e.g. a token parameter).
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, HeaderValue)>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
    /// Indexes of the URL's path segments that are secrets (0 is the first after the
    /// host: a Slack- or Zapier-style token in the path). They are hidden, like query
    /// values, wherever the request is shown ([`OutgoingRequest::summary`], `Debug`).
    pub secret_segments: Vec<usize>,
}

impl std::fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingRequest")
            .field("method", &self.method)
            .field("url", &self.shown_url())
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl OutgoingRequest {
    /// What the log may keep of the request: method, URL without userinfo or query
    /// values, and the body's size.
    pub fn summary(&self) -> RequestSummary {
        RequestSummary {
            method: self.method.as_str().to_owned(),
            url: self.shown_url(),
            body_bytes: self.body.len() as u64,
            batch: None,
        }
    }
}

impl OutgoingRequest {
    /// The URL as logs and records may show it: [`redact_url`], and each secret path
    /// segment replaced by `…`.
    pub fn shown_url(&self) -> String {
        let shown = redact_url(&self.url);
        if self.secret_segments.is_empty() {
            return shown;
        }
        redact_segments(&shown, &self.secret_segments)
    }
}

/// `url` with the path segments at `indexes` (0 is the first after the host) replaced
/// by `…`.
pub fn redact_segments(url: &str, indexes: &[usize]) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    let Some(slash) = url[after_scheme..end].find('/').map(|i| after_scheme + i) else {
        return url.to_owned();
    };
    let segments: Vec<&str> = url[slash + 1..end]
        .split('/')
        .enumerate()
        .map(|(i, seg)| if indexes.contains(&i) { "…" } else { seg })
        .collect();
    format!("{}/{}{}", &url[..slash], segments.join("/"), &url[end..])
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

/// An integration's secrets, by name, opened for one delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials(pub BTreeMap<String, Secret>);

/// The outcome of a send: the answer (or why none came), bounded, with its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The answer as the engine reads it (body capped).
    pub response: ProviderResponse,
    /// What the log keeps of it.
    pub summary: Option<ResponseSummary>,
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

    #[test]
    fn a_request_debug_prints_neither_its_body_nor_query_values() {
        let r = OutgoingRequest {
            method: Method::Post,
            url: "https://login.salesforce.com/services/oauth2/token?x=secretq".into(),
            headers: Vec::new(),
            body: b"refresh_token=secretbody".to_vec(),
            secret_segments: Vec::new(),
        };
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("body_bytes: 24"));
    }
}
