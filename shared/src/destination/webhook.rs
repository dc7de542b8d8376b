//! The customer's own webhook.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `url` | `https://…` (no `user:password@`: use `auth`) | required |
//! | `method` | `POST`, `PUT`, `GET` (GET sends the fields as query parameters) | `POST` |
//! | `format` | `json`, `form` | `json` |
//! | `path` | where the registration goes in a JSON body, dotted (`data.lead`) | the top level |
//! | `headers` | object of extra header names and values (not `Authorization`); a value `{"value": "…", "secret": true}` is sealed like a credential (below) | none |
//! | `secret_url_parts` | `{"path_segments": [3], "query": ["token"]}`: parts of `url` that are secrets (Slack/Zapier-style tokens), sealed like credentials | none |
//! | `auth` | `none`, `basic` (credentials `username`, `password`), `bearer` (credential `token`) | `none` |
//! | `preflight` | check the email before sending | `true` |
//! | `conditions` | deliver only when they hold ([`super::mapping`]) | deliver everything |
//! | `batch` | `{"max_items": n}`, n from 2 to 500: batch mode (below); JSON with POST or PUT only | single mode |
//!
//! Secret headers and URL parts ([`take_secrets`]) leave the settings when they are
//! written: their values are sealed with the credentials (`header:<name>`,
//! `url_path:<index>`, `url_query:<name>`), a secret header is stored and shown as
//! `{"secret": true}` and a secret URL part as `********`; given back that way in an
//! update, the sealed value is kept. The request carries them; its summary in attempt
//! records and its `Debug` show `…` instead ([`crate::exchange::OutgoingRequest::shown_url`]).
//! Plain headers (a text value) work as before.
//!
//! Credential `signing_secret` (`whsec_…`) turns on Standard Webhooks signatures. When it
//! is replaced, the old one keeps signing for 24 hours from then (as
//! `previous_signing_secret@<end>`, see [`super::signature`]), so receivers can switch
//! secrets without missing a delivery; two rotations within a day keep both older
//! secrets, each until its own end.
//!
//! # Body
//!
//! JSON: `{"type": "registration.created", "id", "registration_id", "campaign_id",
//! "received_at", "attempt", "data": {"email", "first_name", "last_name", "phone",
//! "consent": {...}, "fields": {...}}}`. Form and GET: the same as flat pairs
//! (`email=…&consent.marketing=true&score=12`).
//!
//! # Batch mode
//!
//! With `batch`, the registrations that reach leadrelay's delivery worker together go
//! out as one request. The interval is the queue's event source mapping's
//! `MaximumBatchingWindowInSeconds` (`infra/template.yaml`): messages gathered in that
//! window (up to the mapping's `BatchSize`) reach one invocation, and their jobs for this
//! webhook are sent together, at most `max_items` and 1 MiB of body per request
//! ([`BATCH_MAX_BYTES`]). A job that comes alone
//! (a retry, a resend) is sent as a batch of one: a batch-mode receiver always gets an
//! array.
//!
//! The body is a JSON array; each item is exactly the body single mode sends (the
//! object above, inside `path` when one is set), with its own `id`: the item's stable
//! message id, the same on every retry of that registration, to drop repeats by. The
//! request's own `webhook-id` is `msg_batch_` + the first 32 hex digits of the SHA-256
//! of the items' `<id>:<attempt>` lines, sorted: a redelivered batch of the same jobs
//! keeps it; a batch that mixes new and retried jobs has a new one. The signature is the
//! single-mode one over the whole array body, so a receiver verifies it the same way
//! ([`super::signature`]) before reading the items.
//!
//! The answer decides for every item: 2xx delivers them all, a retryable failure retries
//! each one on its own schedule (they may meet in another batch later), a permanent one
//! fails each, 401/403 pauses the integration. A 2xx answer may fail single items by
//! listing them (the rest are delivered):
//!
//! ```json
//! {"results": [{"id": "msg_…", "status": 422, "error": "email is not valid"}]}
//! ```
//!
//! Each listed item with a non-2xx `status` is judged as if it had had that answer, with
//! `error` (text, or any JSON) as the body: a 422 fails it with the receiver's message,
//! a 503 retries it; a 401 or 403 pauses the integration, as it would for the whole
//! request, so refuse single items with other statuses. Items not listed, and answers
//! of any other shape, are accepted.

use super::{mapping, signature, Built, SendContext, SettingError};
use crate::clock;
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest, DELIVERY_HEADER};
use crate::model::{Integration, Registration};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Every setting a webhook takes (the table above); any other name is refused when the
/// integration is configured.
pub const SETTINGS: &[&str] = &[
    "url",
    "method",
    "format",
    "path",
    "headers",
    "secret_url_parts",
    "auth",
    "preflight",
    "conditions",
    "batch",
];

/// Headers a customer may not set: the transport or leadrelay sets them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    DELIVERY_HEADER,
];

fn text<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

/// Checks webhook settings and which credentials are given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Vec::new();
    match settings.get("url") {
        Some(Value::String(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                errors.push(SettingError::new(
                    "settings.url",
                    "the URL must start with https://",
                ));
            } else if url
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', '?', '#']).next())
                .is_some_and(|authority| authority.contains('@'))
            {
                errors.push(SettingError::new(
                    "settings.url",
                    "the URL must not contain a user name or password: set 'auth' and the credentials instead",
                ));
            } else if url.len() > 2048 {
                errors.push(SettingError::new(
                    "settings.url",
                    "the URL is longer than 2048 characters",
                ));
            }
        }
        _ => errors.push(SettingError::new(
            "settings.url",
            "a webhook needs a URL (https://…)",
        )),
    }
    if let Some(m) = settings.get("method") {
        if !matches!(m.as_str(), Some("POST" | "PUT" | "GET")) {
            errors.push(SettingError::new(
                "settings.method",
                "method must be POST, PUT or GET",
            ));
        }
    }
    if let Some(f) = settings.get("format") {
        if !matches!(f.as_str(), Some("json" | "form")) {
            errors.push(SettingError::new(
                "settings.format",
                "format must be json or form",
            ));
        }
    }
    if let Some(p) = settings.get("path") {
        let ok = p.as_str().is_some_and(|p| {
            !p.is_empty()
                && p.split('.').all(|seg| {
                    !seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
        });
        if !ok {
            errors.push(SettingError::new(
                "settings.path",
                "path is dotted names of letters, digits, '_' or '-', such as data.lead",
            ));
        }
    }
    validate_headers(settings, &mut errors);
    validate_secret_url_parts(settings, &mut errors);
    match text(settings, "auth").unwrap_or("none") {
        "none" => {}
        "basic" => {
            for name in ["username", "password"] {
                if !credentials.contains_key(name) {
                    errors.push(SettingError::new(
                        format!("credentials.{name}"),
                        "basic authentication needs a username and a password",
                    ));
                }
            }
        }
        "bearer" => {
            if !credentials.contains_key("token") {
                errors.push(SettingError::new(
                    "credentials.token",
                    "bearer authentication needs a token",
                ));
            }
        }
        _ => errors.push(SettingError::new(
            "settings.auth",
            "auth must be none, basic or bearer",
        )),
    }
    if let Err(e) = mapping::conditions(settings) {
        errors.push(e);
    }
    validate_batch(settings, &mut errors);
    if let Some(secret) = credentials.get("signing_secret") {
        if signature::secret_bytes(secret).is_err() {
            errors.push(SettingError::new(
                "credentials.signing_secret",
                signature::BadSecret.to_string(),
            ));
        }
    }
    errors
}

fn validate_headers(settings: &Map<String, Value>, errors: &mut Vec<SettingError>) {
    let headers = match settings.get("headers") {
        None | Some(Value::Null) => return,
        Some(Value::Object(headers)) => headers,
        Some(_) => {
            errors.push(SettingError::new(
                "settings.headers",
                "headers is an object of names and values",
            ));
            return;
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in headers {
        let field = format!("settings.headers.{name}");
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            errors.push(SettingError::new(&field, "not a valid header name"));
            continue;
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            errors.push(SettingError::new(
                &field,
                "this header is set by leadrelay; use 'auth' and the credentials for authentication",
            ));
            continue;
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            errors.push(SettingError::new(
                &field,
                "this header is given twice (names are case-insensitive)",
            ));
            continue;
        }
        let one_line = |v: &str| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        let ok = match value {
            Value::String(v) => one_line(v),
            Value::Object(o) => {
                o.get("secret") == Some(&Value::Bool(true))
                    && o.keys().all(|k| k == "secret" || k == "value")
                    && match o.get("value") {
                        None => true,
                        Some(Value::String(v)) => !v.is_empty() && one_line(v),
                        Some(_) => false,
                    }
            }
            _ => false,
        };
        if !ok {
            errors.push(SettingError::new(
                &field,
                "a header value is one line of text, or {\"value\": \"…\", \"secret\": true} to keep it sealed like a credential",
            ));
        }
    }
}

/// Which parts of the webhook URL are secret (setting `secret_url_parts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SecretUrlParts {
    /// Path segments by index (0 is the first after the host).
    path_segments: Vec<usize>,
    /// Query parameters by name, whose values are secret.
    query: Vec<String>,
}

/// The setting's selectors, or why it is unreadable (field, message).
fn secret_url_parts(settings: &Map<String, Value>) -> Result<SecretUrlParts, SettingError> {
    let mut out = SecretUrlParts::default();
    let Some(value) = settings.get("secret_url_parts") else {
        return Ok(out);
    };
    let shape = || {
        SettingError::new(
            "settings.secret_url_parts",
            "secret_url_parts is {\"path_segments\": [indexes from 0], \"query\": [parameter names]}",
        )
    };
    let obj = value.as_object().ok_or_else(shape)?;
    if obj.keys().any(|k| k != "path_segments" && k != "query") {
        return Err(shape());
    }
    if let Some(list) = obj.get("path_segments") {
        for (i, v) in list.as_array().ok_or_else(shape)?.iter().enumerate() {
            let n = v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    SettingError::new(
                        format!("settings.secret_url_parts.path_segments[{i}]"),
                        "a path segment is named by its index, 0 for the first after the host",
                    )
                })?;
            if !out.path_segments.contains(&n) {
                out.path_segments.push(n);
            }
        }
    }
    if let Some(list) = obj.get("query") {
        for (i, v) in list.as_array().ok_or_else(shape)?.iter().enumerate() {
            let name = v.as_str().filter(|n| !n.is_empty()).ok_or_else(|| {
                SettingError::new(
                    format!("settings.secret_url_parts.query[{i}]"),
                    "a query parameter is named by its name, such as \"token\"",
                )
            })?;
            if !out.query.iter().any(|q| q == name) {
                out.query.push(name.to_owned());
            }
        }
    }
    Ok(out)
}

/// A URL taken apart where secrets may sit: path segments and query pairs, as written
/// (nothing decoded).
struct UrlParts {
    /// `scheme://authority`.
    head: String,
    /// The path's segments after the first `/` (none for an empty path).
    segments: Vec<String>,
    /// The query's pairs, when there is a query: name and value (if it has `=`).
    query: Option<Vec<(String, Option<String>)>>,
    /// `#…`, if any.
    fragment: String,
}

impl UrlParts {
    fn parse(url: &str) -> UrlParts {
        let (rest, fragment) = match url.find('#') {
            Some(i) => (&url[..i], url[i..].to_owned()),
            None => (url, String::new()),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (
                r,
                Some(
                    q.split('&')
                        .map(|kv| match kv.split_once('=') {
                            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                            None => (kv.to_owned(), None),
                        })
                        .collect(),
                ),
            ),
            None => (rest, None),
        };
        let after_scheme = rest.find("://").map_or(0, |i| i + 3);
        let (head, path) = match rest[after_scheme..].find('/') {
            Some(i) => rest.split_at(after_scheme + i),
            None => (rest, ""),
        };
        let segments = match path.strip_prefix('/') {
            Some(p) => p.split('/').map(str::to_owned).collect(),
            None => Vec::new(),
        };
        UrlParts {
            head: head.to_owned(),
            segments,
            query,
            fragment,
        }
    }

    fn to_url(&self) -> String {
        let mut out = self.head.clone();
        if !self.segments.is_empty() {
            out.push('/');
            out.push_str(&self.segments.join("/"));
        }
        if let Some(query) = &self.query {
            out.push('?');
            let pairs: Vec<String> = query
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        out.push_str(&self.fragment);
        out
    }

    fn query_value(&mut self, name: &str) -> Option<&mut String> {
        self.query
            .as_mut()?
            .iter_mut()
            .find(|(k, _)| k == name)?
            .1
            .as_mut()
    }
}

fn validate_secret_url_parts(settings: &Map<String, Value>, errors: &mut Vec<SettingError>) {
    let parts = match secret_url_parts(settings) {
        Ok(p) => p,
        Err(e) => return errors.push(e),
    };
    let Some(url) = text(settings, "url") else {
        return;
    };
    let mut url = UrlParts::parse(url);
    for (i, n) in parts.path_segments.iter().enumerate() {
        if url.segments.get(*n).is_none_or(|s| s.is_empty()) {
            errors.push(SettingError::new(
                format!("settings.secret_url_parts.path_segments[{i}]"),
                format!("the URL has no path segment {n} (0 is the first after the host)"),
            ));
        }
    }
    for (i, name) in parts.query.iter().enumerate() {
        if url.query_value(name).is_none_or(|v| v.is_empty()) {
            errors.push(SettingError::new(
                format!("settings.secret_url_parts.query[{i}]"),
                format!("the URL's query has no value for '{name}'"),
            ));
        }
    }
}

/// What a secret part of the settings shows instead of its value, in settings as stored
/// and as the API shows them. Given back in an update, it keeps the sealed value.
pub const MASK: &str = "********";

/// The credential name of a secret header's value (lower-case header name).
pub fn secret_header_name(header: &str) -> String {
    format!("header:{}", header.to_ascii_lowercase())
}

/// The credential name of a secret path segment's value.
fn secret_path_name(index: usize) -> String {
    format!("url_path:{index}")
}

/// The credential name of a secret query parameter's value.
fn secret_query_name(name: &str) -> String {
    format!("url_query:{name}")
}

/// Whether a credential name holds a secret taken out of the settings (callers may not
/// set these directly: they mark the setting secret instead).
pub fn is_setting_secret(name: &str) -> bool {
    ["header:", "url_path:", "url_query:"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// What [`take_secrets`] took out of the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TakenSecrets {
    /// New values to seal, by credential name.
    pub seal: BTreeMap<String, String>,
    /// Every credential name the settings now refer to (sealed above, or kept).
    pub referenced: std::collections::BTreeSet<String>,
}

/// Takes the secret values out of (valid) webhook settings, to be sealed like
/// credentials: a header `{"value": v, "secret": true}` becomes `{"secret": true}`, and
/// each URL part `secret_url_parts` names is replaced by [`MASK`]. A secret header
/// without a value, or a URL part that reads [`MASK`], keeps the value sealed before,
/// which `sealed` (the names already sealed) must hold.
pub fn take_secrets(
    settings: &mut Map<String, Value>,
    sealed: &std::collections::BTreeSet<String>,
) -> Result<TakenSecrets, Vec<SettingError>> {
    let mut out = TakenSecrets::default();
    let mut errors = Vec::new();
    let keep = |name: String, field: String, out: &mut TakenSecrets, errors: &mut Vec<_>| {
        if sealed.contains(&name) {
            out.referenced.insert(name);
        } else {
            errors.push(SettingError::new(
                field,
                "no value is stored for this secret yet: give its value",
            ));
        }
    };
    if let Some(Value::Object(headers)) = settings.get_mut("headers") {
        for (header, value) in headers.iter_mut() {
            let Value::Object(o) = value else { continue };
            let name = secret_header_name(header);
            match o.remove("value") {
                Some(Value::String(v)) if v != MASK => {
                    out.seal.insert(name.clone(), v);
                    out.referenced.insert(name);
                }
                _ => keep(
                    name,
                    format!("settings.headers.{header}"),
                    &mut out,
                    &mut errors,
                ),
            }
        }
    }
    let parts = secret_url_parts(settings).map_err(|e| vec![e])?;
    if !(parts.path_segments.is_empty() && parts.query.is_empty()) {
        if let Some(Value::String(url)) = settings.get_mut("url") {
            let mut parsed = UrlParts::parse(url);
            for (i, n) in parts.path_segments.iter().enumerate() {
                let name = secret_path_name(*n);
                let field = format!("settings.secret_url_parts.path_segments[{i}]");
                match parsed.segments.get_mut(*n) {
                    Some(seg) if seg != MASK && !seg.is_empty() => {
                        out.seal
                            .insert(name.clone(), std::mem::replace(seg, MASK.into()));
                        out.referenced.insert(name);
                    }
                    Some(_) => keep(name, field, &mut out, &mut errors),
                    None => errors.push(SettingError::new(field, "the URL has no such segment")),
                }
            }
            for (i, q) in parts.query.iter().enumerate() {
                let name = secret_query_name(q);
                let field = format!("settings.secret_url_parts.query[{i}]");
                match parsed.query_value(q) {
                    Some(v) if v != MASK && !v.is_empty() => {
                        out.seal
                            .insert(name.clone(), std::mem::replace(v, MASK.into()));
                        out.referenced.insert(name);
                    }
                    Some(_) => keep(name, field, &mut out, &mut errors),
                    None => errors.push(SettingError::new(
                        field,
                        "the URL's query has no such value",
                    )),
                }
            }
            *url = parsed.to_url();
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The URL to send to, with its secret parts filled in from the credentials, and the
/// indexes of its secret path segments (hidden wherever the request is shown).
fn destination_url(
    settings: &Map<String, Value>,
    credentials: &Credentials,
) -> Result<(String, Vec<usize>), SettingError> {
    let url = text(settings, "url")
        .ok_or_else(|| SettingError::new("settings.url", "the webhook has no URL"))?;
    let parts = secret_url_parts(settings)?;
    if parts.path_segments.is_empty() && parts.query.is_empty() {
        return Ok((url.to_owned(), Vec::new()));
    }
    let mut parsed = UrlParts::parse(url);
    let missing = |name: String| {
        SettingError::new(
            format!("credentials.{name}"),
            "the sealed value of a secret part of the URL is missing: give the URL again",
        )
    };
    for n in &parts.path_segments {
        let name = secret_path_name(*n);
        let value = credentials
            .get(&name)
            .ok_or_else(|| missing(name.clone()))?;
        let seg = parsed
            .segments
            .get_mut(*n)
            .ok_or_else(|| missing(name.clone()))?;
        *seg = value.expose().to_owned();
    }
    for q in &parts.query {
        let name = secret_query_name(q);
        let value = credentials
            .get(&name)
            .ok_or_else(|| missing(name.clone()))?;
        let slot = parsed.query_value(q).ok_or_else(|| missing(name.clone()))?;
        *slot = value.expose().to_owned();
    }
    Ok((parsed.to_url(), parts.path_segments))
}

/// The registration as the webhook body carries it.
fn payload(registration: &Registration, cx: &SendContext) -> Map<String, Value> {
    let d = &registration.data;
    let mut data = Map::new();
    for (k, v) in [
        ("email", &d.email),
        ("first_name", &d.first_name),
        ("last_name", &d.last_name),
        ("phone", &d.phone),
    ] {
        if let Some(v) = v {
            data.insert(k.into(), Value::from(v.as_str()));
        }
    }
    data.insert("consent".into(), json!(d.consent));
    data.insert("fields".into(), Value::Object(d.fields.clone()));
    let mut body = Map::new();
    body.insert("type".into(), json!("registration.created"));
    body.insert("id".into(), json!(cx.message_id));
    body.insert("registration_id".into(), json!(registration.id));
    body.insert("campaign_id".into(), json!(registration.campaign_id));
    body.insert(
        "received_at".into(),
        json!(clock::rfc3339(registration.received_at)),
    );
    if let Some(at) = d.submitted_at {
        body.insert("submitted_at".into(), json!(clock::rfc3339(at)));
    }
    body.insert("attempt".into(), json!(cx.attempt));
    body.insert("data".into(), Value::Object(data));
    body
}

/// The flat pairs of a form or GET delivery.
fn pairs(registration: &Registration, cx: &SendContext) -> Vec<(String, String)> {
    let mut out = vec![
        ("id".to_owned(), cx.message_id.clone()),
        ("registration_id".to_owned(), registration.id.to_string()),
        (
            "campaign_id".to_owned(),
            registration.campaign_id.to_string(),
        ),
        (
            "received_at".to_owned(),
            clock::rfc3339(registration.received_at),
        ),
    ];
    for (k, v) in registration.data.flat() {
        let text = match v {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        out.push((k, text));
    }
    out
}

fn nest(path: Option<&str>, body: Map<String, Value>) -> Map<String, Value> {
    let Some(path) = path else {
        return body;
    };
    let mut value = Value::Object(body);
    for seg in path.rsplit('.') {
        let mut m = Map::new();
        m.insert(seg.to_owned(), value);
        value = Value::Object(m);
    }
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Builds the webhook request.
pub fn build(
    integration: &Integration,
    credentials: &Credentials,
    registration: &Registration,
    cx: &SendContext,
) -> Result<Built, SettingError> {
    let s = &integration.settings;
    let (url, secret_segments) = destination_url(s, credentials)?;
    let method = match text(s, "method").unwrap_or("POST") {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        _ => Method::Post,
    };
    let form = text(s, "format") == Some("form");
    let mut headers: Vec<(String, HeaderValue)> = vec![(
        "user-agent".into(),
        HeaderValue::Plain(concat!("leadrelay/", env!("CARGO_PKG_VERSION")).into()),
    )];

    let (url, body) = if method == Method::Get {
        let query = serde_urlencoded::to_string(pairs(registration, cx)).unwrap_or_default();
        let sep = if url.contains('?') { '&' } else { '?' };
        (format!("{url}{sep}{query}"), Vec::new())
    } else if form {
        headers.push((
            "content-type".into(),
            HeaderValue::Plain("application/x-www-form-urlencoded".into()),
        ));
        let body = serde_urlencoded::to_string(pairs(registration, cx)).unwrap_or_default();
        (url, body.into_bytes())
    } else {
        headers.push((
            "content-type".into(),
            HeaderValue::Plain("application/json".into()),
        ));
        let body = Value::Object(nest(text(s, "path"), payload(registration, cx)));
        (url, body.to_string().into_bytes())
    };

    let signed_body: &[u8] = if method == Method::Get { b"" } else { &body };
    finish_headers(
        s,
        credentials,
        &mut headers,
        &cx.message_id,
        cx.timestamp,
        signed_body,
    )?;
    Ok(Built::Send {
        request: OutgoingRequest {
            method,
            url,
            headers,
            body,
            secret_segments,
        },
        data: registration.data.flat(),
        then: Vec::new(),
    })
}

/// The fewest and most registrations one batch request may carry (`batch.max_items`).
pub const BATCH_ITEMS: std::ops::RangeInclusive<u64> = 2..=500;

/// The most bytes one batch request's body carries: the items that reach one invocation
/// together go out in as many requests as keep each body within this (and within
/// `max_items`); a single item larger than this goes alone.
pub const BATCH_MAX_BYTES: usize = 1024 * 1024;

/// The most registrations a batch-mode webhook takes in one request, or `None` in single
/// mode (setting `batch: {"max_items": n}`).
pub fn batch_size(integration: &Integration) -> Option<usize> {
    if integration.provider != crate::Provider::Webhook {
        return None;
    }
    let n = integration
        .settings
        .get("batch")?
        .get("max_items")?
        .as_u64()?;
    BATCH_ITEMS
        .contains(&n)
        .then(|| usize::try_from(n).unwrap_or(usize::MAX))
}

fn validate_batch(settings: &Map<String, Value>, errors: &mut Vec<SettingError>) {
    let Some(batch) = settings.get("batch") else {
        return;
    };
    let Some(batch) = batch.as_object() else {
        errors.push(SettingError::new(
            "settings.batch",
            "batch is an object such as {\"max_items\": 100}",
        ));
        return;
    };
    let max = batch.get("max_items").and_then(Value::as_u64);
    if !max.is_some_and(|n| BATCH_ITEMS.contains(&n)) {
        errors.push(SettingError::new(
            "settings.batch.max_items",
            format!(
                "max_items is a whole number from {} to {}",
                BATCH_ITEMS.start(),
                BATCH_ITEMS.end()
            ),
        ));
    }
    if let Some(other) = batch.keys().find(|k| *k != "max_items") {
        errors.push(SettingError::new(
            format!("settings.batch.{other}"),
            "a batch has only max_items",
        ));
    }
    if text(settings, "method") == Some("GET") {
        errors.push(SettingError::new(
            "settings.method",
            "a batch is a JSON array in the body: use POST or PUT, not GET",
        ));
    }
    if text(settings, "format") == Some("form") {
        errors.push(SettingError::new(
            "settings.format",
            "a batch is a JSON array: form encoding cannot carry it",
        ));
    }
}

/// The `webhook-id` of a batch request: the same for the same jobs (each item's message
/// id with its attempt number), in any order, so a receiver drops a repeated batch.
pub fn batch_id<'a>(members: impl IntoIterator<Item = (&'a str, u32)>) -> String {
    use sha2::{Digest, Sha256};
    let mut keys: Vec<String> = members
        .into_iter()
        .map(|(id, attempt)| format!("{id}:{attempt}"))
        .collect();
    keys.sort();
    let mut h = Sha256::new();
    for key in &keys {
        h.update(key.as_bytes());
        h.update(b"\n");
    }
    format!("msg_batch_{}", &hex::encode(h.finalize())[..32])
}

/// Builds one batch request: a signed JSON array of `items`, each the body a single
/// request would carry.
pub fn build_batch(
    integration: &Integration,
    credentials: &Credentials,
    items: Vec<Value>,
    id: &str,
    timestamp: u64,
) -> Result<OutgoingRequest, SettingError> {
    let s = &integration.settings;
    let (url, secret_segments) = destination_url(s, credentials)?;
    let method = match text(s, "method").unwrap_or("POST") {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        _ => {
            return Err(SettingError::new(
                "settings.method",
                "a batch is sent with POST or PUT",
            ))
        }
    };
    if text(s, "format") == Some("form") {
        return Err(SettingError::new(
            "settings.format",
            "a batch is a JSON array: form encoding cannot carry it",
        ));
    }
    let body = Value::Array(items).to_string().into_bytes();
    let mut headers: Vec<(String, HeaderValue)> = vec![
        (
            "user-agent".into(),
            HeaderValue::Plain(concat!("leadrelay/", env!("CARGO_PKG_VERSION")).into()),
        ),
        (
            "content-type".into(),
            HeaderValue::Plain("application/json".into()),
        ),
    ];
    finish_headers(s, credentials, &mut headers, id, timestamp, &body)?;
    Ok(OutgoingRequest {
        method,
        url,
        headers,
        body,
        secret_segments,
    })
}

/// One item a receiver reported as failed in a 2xx answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    /// The status the receiver gives this item.
    pub status: u16,
    /// Its error, as the body the engine explains (text, or JSON as sent).
    pub error: Vec<u8>,
}

/// The failed items of a 2xx answer to a batch, by item id: the optional contract
/// `{"results": [{"id": "<item id>", "status": 422, "error": "..."}]}`. Items not listed,
/// or listed with a 2xx status, were accepted; an answer of another shape accepts all.
pub fn item_failures(body: &[u8]) -> BTreeMap<String, ItemFailure> {
    let mut out = BTreeMap::new();
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
        return out;
    };
    let Some(Value::Array(results)) = answer.get("results") else {
        return out;
    };
    for result in results {
        let (Some(id), Some(status)) = (
            result.get("id").and_then(Value::as_str),
            result.get("status").and_then(Value::as_u64),
        ) else {
            continue;
        };
        let Ok(status) = u16::try_from(status) else {
            continue;
        };
        if (200..300).contains(&status) {
            continue;
        }
        let error = match result.get("error") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(other) => other.to_string().into_bytes(),
        };
        out.insert(id.to_owned(), ItemFailure { status, error });
    }
    out
}

/// Adds the headers every webhook request carries: the Standard Webhooks id, timestamp
/// and signature (over `signed_body`), leadrelay's loop guard, authentication and the
/// customer's own headers.
fn finish_headers(
    s: &Map<String, Value>,
    credentials: &Credentials,
    headers: &mut Vec<(String, HeaderValue)>,
    id: &str,
    timestamp: u64,
    signed_body: &[u8],
) -> Result<(), SettingError> {
    headers.push(("webhook-id".into(), HeaderValue::Plain(id.to_owned())));
    headers.push((
        "webhook-timestamp".into(),
        HeaderValue::Plain(timestamp.to_string()),
    ));
    headers.push((DELIVERY_HEADER.into(), HeaderValue::Plain(id.to_owned())));
    let mut secrets = Vec::new();
    if let Some(current) = credentials.get("signing_secret") {
        secrets.push(
            signature::secret_bytes(current.expose())
                .map_err(|e| SettingError::new("credentials.signing_secret", e.to_string()))?,
        );
    }
    let legacy_until = s
        .get(signature::LEGACY_PREVIOUS_UNTIL)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let previous = signature::signing_previous(
        credentials.0.keys().map(String::as_str),
        legacy_until,
        timestamp,
    );
    for (_, name) in previous {
        if let Some(Ok(bytes)) = credentials
            .get(name)
            .map(|v| signature::secret_bytes(v.expose()))
        {
            secrets.push(bytes);
        }
    }
    if !secrets.is_empty() {
        headers.push((
            "webhook-signature".into(),
            HeaderValue::Plain(signature::header(&secrets, id, timestamp, signed_body)),
        ));
    }
    match text(s, "auth").unwrap_or("none") {
        "basic" => {
            let user = credentials.get("username").map_or("", |v| v.expose());
            let pass = credentials.get("password").map_or("", |v| v.expose());
            let token = STANDARD.encode(format!("{user}:{pass}"));
            headers.push((
                "authorization".into(),
                HeaderValue::Secret(crate::keys::Secret::new(format!("Basic {token}"))),
            ));
        }
        "bearer" => {
            let token = credentials.get("token").map_or("", |v| v.expose());
            headers.push((
                "authorization".into(),
                HeaderValue::Secret(crate::keys::Secret::new(format!("Bearer {token}"))),
            ));
        }
        _ => {}
    }
    if let Some(Value::Object(extra)) = s.get("headers") {
        for (name, value) in extra {
            match value {
                Value::String(v) => {
                    headers.push((name.to_ascii_lowercase(), HeaderValue::Plain(v.to_owned())));
                }
                Value::Object(_) => {
                    let key = secret_header_name(name);
                    let v = credentials.get(&key).ok_or_else(|| {
                        SettingError::new(
                            format!("settings.headers.{name}"),
                            "the sealed value of this secret header is missing: give it again",
                        )
                    })?;
                    headers.push((name.to_ascii_lowercase(), HeaderValue::Secret(v.clone())));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Secret;
    use crate::model::{IntegrationStatus, RegistrationData};
    use crate::Provider;

    fn integration(settings: Value) -> Integration {
        Integration {
            id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            name: "hook".into(),
            provider: Provider::Webhook,
            settings: settings.as_object().cloned().unwrap_or_default(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            created_at: 0,
            updated_at: 0,
            cooldown_until: None,
        }
    }

    fn registration() -> Registration {
        let mut data = RegistrationData {
            email: Some("lena@example.com".into()),
            ..RegistrationData::default()
        };
        data.consent.insert("marketing".into(), true);
        data.fields.insert("score".into(), json!(12));
        Registration {
            id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            received_at: 1_764_613_200_000,
            data,
            integration_ids: vec![],
            expires_at: 0,
            erased_at: None,
        }
    }

    fn cx() -> SendContext {
        SendContext {
            message_id: "msg_abc".into(),
            timestamp: 1_764_613_200,
            attempt: 2,
        }
    }

    fn request(settings: Value, creds: &[(&str, &str)]) -> OutgoingRequest {
        request_with(settings, creds)
    }

    fn request_with(settings: Value, creds: &[(&str, &str)]) -> OutgoingRequest {
        let creds = Credentials(
            creds
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect(),
        );
        match build(&integration(settings), &creds, &registration(), &cx()).unwrap() {
            Built::Send { request, .. } => request,
            Built::Skip { .. } => panic!("skipped"),
        }
    }

    fn header<'a>(r: &'a OutgoingRequest, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose())
    }

    #[test]
    fn a_json_webhook_carries_the_registration_and_stable_ids() {
        let r = request(
            json!({"url": "https://hooks.example.com/in", "path": "lead"}),
            &[],
        );

        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(r.method, Method::Post);
        assert_eq!(body["lead"]["data"]["email"], "lena@example.com");
        assert_eq!(body["lead"]["data"]["consent"]["marketing"], true);
        assert_eq!(body["lead"]["id"], "msg_abc");
        assert_eq!(header(&r, "webhook-id"), Some("msg_abc"));
        assert_eq!(header(&r, DELIVERY_HEADER), Some("msg_abc"));
        assert_eq!(header(&r, "webhook-signature"), None);
    }

    #[test]
    fn get_and_form_webhooks_send_flat_pairs() {
        let r = request(
            json!({"url": "https://h.example.com/in?src=quiz", "method": "GET"}),
            &[],
        );
        assert!(r
            .url
            .starts_with("https://h.example.com/in?src=quiz&id=msg_abc"));
        assert!(r.url.contains("email=lena%40example.com"), "{}", r.url);
        assert!(r.url.contains("consent.marketing=true"));
        assert!(r.body.is_empty());

        let r = request(
            json!({"url": "https://h.example.com/in", "format": "form"}),
            &[],
        );
        let text = String::from_utf8(r.body.clone()).unwrap();
        assert!(text.contains("score=12"), "{text}");
        assert_eq!(
            header(&r, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }

    #[test]
    fn auth_goes_into_a_secret_header_and_custom_headers_follow() {
        let r = request(
            json!({"url": "https://h.example.com", "auth": "basic", "headers": {"X-Team": "growth"}}),
            &[("username", "u"), ("password", "p")],
        );
        let auth = r
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap();
        assert!(matches!(auth.1, HeaderValue::Secret(_)));
        assert_eq!(auth.1.expose(), "Basic dTpw");
        assert_eq!(header(&r, "x-team"), Some("growth"));
        assert!(!format!("{:?}", r.headers).contains("dTpw"));
    }

    #[test]
    fn a_signing_secret_signs_and_a_rotated_one_signs_too_until_its_time() {
        let new = signature::generate_secret();
        let old = signature::generate_secret();
        let until = cx().timestamp + 10;
        let r = request(
            json!({"url": "https://h.example.com", "previous_signing_secret_until": until}),
            &[("signing_secret", &new), ("previous_signing_secret", &old)],
        );
        let sig = header(&r, "webhook-signature").unwrap();
        let expected_new = signature::sign(
            &signature::secret_bytes(&new).unwrap(),
            "msg_abc",
            cx().timestamp,
            &r.body,
        );
        let expected_old = signature::sign(
            &signature::secret_bytes(&old).unwrap(),
            "msg_abc",
            cx().timestamp,
            &r.body,
        );
        assert_eq!(sig, format!("{expected_new} {expected_old}"));

        let past = (cx().timestamp - 1).to_string();
        let r = request(
            json!({"url": "https://h.example.com"}),
            &[
                ("signing_secret", &new),
                ("previous_signing_secret", &old),
                ("previous_signing_secret_until", &past),
            ],
        );
        assert_eq!(
            header(&r, "webhook-signature").unwrap().split(' ').count(),
            1
        );
    }

    /// How many signature entries a request built at `timestamp` carries, and which of
    /// `secrets` verify one of them.
    fn verifying(
        settings: &Map<String, Value>,
        creds: &BTreeMap<String, String>,
        timestamp: u64,
        secrets: &[&str],
    ) -> (usize, Vec<String>) {
        let creds = Credentials(
            creds
                .iter()
                .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
                .collect(),
        );
        let cx = SendContext { timestamp, ..cx() };
        let i = integration(Value::Object(settings.clone()));
        let Built::Send { request, .. } = build(&i, &creds, &registration(), &cx).unwrap() else {
            panic!("skipped")
        };
        let header = header(&request, "webhook-signature").unwrap().to_owned();
        let entries: Vec<&str> = header.split(' ').collect();
        let ok = secrets
            .iter()
            .filter(|s| {
                let sig = signature::sign(
                    &signature::secret_bytes(s).unwrap(),
                    "msg_abc",
                    timestamp,
                    &request.body,
                );
                entries.contains(&sig.as_str())
            })
            .map(|s| (*s).to_owned())
            .collect();
        (entries.len(), ok)
    }

    #[test]
    fn rotating_twice_within_a_day_keeps_each_old_secret_until_its_own_end() {
        const DAY: u64 = 24 * 3600;
        let [a, b, c, d] = std::array::from_fn(|_| signature::generate_secret());
        let t0 = 1_764_600_000;
        let mut settings = json!({"url": "https://h.example.com"})
            .as_object()
            .cloned()
            .unwrap();
        let mut creds = BTreeMap::from([("signing_secret".to_owned(), a.clone())]);
        let rotate = |creds: &mut BTreeMap<String, String>,
                      settings: &mut Map<String, Value>,
                      new: &str,
                      at| {
            let old = creds.insert("signing_secret".into(), new.to_owned());
            signature::retire(creds, settings, old.unwrap(), at, DAY);
        };
        // a is replaced at t0, b an hour later.
        rotate(&mut creds, &mut settings, &b, t0);
        rotate(&mut creds, &mut settings, &c, t0 + 3600);
        let all = [a.as_str(), b.as_str(), c.as_str()];
        let v = |at| verifying(&settings, &creds, at, &all);

        assert_eq!(v(t0 + 3601), (3, vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(v(t0 + DAY - 1), (3, vec![a.clone(), b.clone(), c.clone()]));
        assert_eq!(v(t0 + DAY), (2, vec![b.clone(), c.clone()]), "a's end");
        assert_eq!(v(t0 + 3600 + DAY - 1), (2, vec![b.clone(), c.clone()]));
        assert_eq!(v(t0 + 3600 + DAY), (1, vec![c.clone()]), "b's end");

        // The next rotation after a's end drops it from storage.
        rotate(&mut creds, &mut settings, &d, t0 + DAY + 5);
        assert!(!creds.values().any(|v| *v == a), "{creds:?}");
        assert!(creds.values().any(|v| *v == b));
        assert_eq!(creds.len(), 3, "d, b and c: {:?}", creds.keys());
    }

    #[test]
    fn replaced_secrets_are_bounded_and_the_old_one_slot_scheme_still_signs() {
        let t0 = 1_764_600_000;
        let mut creds = BTreeMap::from([
            ("signing_secret".to_owned(), "s0".to_owned()),
            (signature::LEGACY_PREVIOUS.to_owned(), "legacy".to_owned()),
        ]);
        let mut settings = Map::new();
        settings.insert(signature::LEGACY_PREVIOUS_UNTIL.into(), json!(t0 + 100));
        // Many rotations in one second: the newest MAX_PREVIOUS_SECRETS are kept.
        for i in 1..=10 {
            let old = creds
                .insert("signing_secret".into(), format!("s{i}"))
                .unwrap();
            signature::retire(&mut creds, &mut settings, old, t0, 3600);
        }
        let previous: Vec<&String> = creds
            .iter()
            .filter(|(k, _)| k.starts_with(signature::PREVIOUS_PREFIX))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(previous.len(), signature::MAX_PREVIOUS_SECRETS);
        assert!(
            !previous.iter().any(|v| *v == "legacy" || *v == "s0"),
            "{previous:?}"
        );
        assert!(settings.get(signature::LEGACY_PREVIOUS_UNTIL).is_none());

        // An integration stored before the scheme: its one previous secret signs until
        // the setting's end.
        let (new, old) = (signature::generate_secret(), signature::generate_secret());
        let mut settings = json!({"url": "https://h.example.com"})
            .as_object()
            .cloned()
            .unwrap();
        settings.insert(signature::LEGACY_PREVIOUS_UNTIL.into(), json!(t0 + 10));
        let creds = BTreeMap::from([
            ("signing_secret".to_owned(), new.clone()),
            (signature::LEGACY_PREVIOUS.to_owned(), old.clone()),
        ]);
        let both = [new.as_str(), old.as_str()];
        assert_eq!(
            verifying(&settings, &creds, t0 + 9, &both),
            (2, vec![new.clone(), old.clone()])
        );
        assert_eq!(
            verifying(&settings, &creds, t0 + 10, &both),
            (1, vec![new.clone()])
        );
    }

    /// Settings as `take_secrets` leaves them, the sealed values as opened credentials.
    fn taken(settings: Value) -> (Map<String, Value>, Credentials) {
        let mut settings = settings.as_object().cloned().unwrap();
        assert!(validate(&settings, &BTreeMap::new()).is_empty());
        let taken = take_secrets(&mut settings, &Default::default()).unwrap();
        let creds = Credentials(
            taken
                .seal
                .into_iter()
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        );
        (settings, creds)
    }

    #[test]
    fn secret_headers_and_url_parts_leave_the_settings_and_are_hidden_where_shown() {
        let (settings, creds) = taken(json!({
            "url": "https://hooks.slack.com/services/T000/B000/XXXXsecretpath?token=qsecret&team=growth",
            "secret_url_parts": {"path_segments": [3], "query": ["token"]},
            "headers": {"X-Api-Key": {"value": "hsecret", "secret": true}, "X-Team": "growth"},
        }));

        let stored = Value::Object(settings.clone()).to_string();
        for secret in ["XXXXsecretpath", "qsecret", "hsecret"] {
            assert!(!stored.contains(secret), "{secret} in {stored}");
        }
        assert_eq!(
            settings["url"],
            "https://hooks.slack.com/services/T000/B000/********?token=********&team=growth"
        );
        assert_eq!(settings["headers"]["X-Api-Key"], json!({"secret": true}));
        let names: Vec<&str> = creds.0.keys().map(String::as_str).collect();
        assert_eq!(names, ["header:x-api-key", "url_path:3", "url_query:token"]);
        assert!(names.iter().all(|n| is_setting_secret(n)));

        let i = integration(Value::Object(settings.clone()));
        let Built::Send { request, .. } = build(&i, &creds, &registration(), &cx()).unwrap() else {
            panic!("skipped")
        };
        assert_eq!(
            request.url,
            "https://hooks.slack.com/services/T000/B000/XXXXsecretpath?token=qsecret&team=growth"
        );
        let key = request
            .headers
            .iter()
            .find(|(n, _)| n == "x-api-key")
            .unwrap();
        assert_eq!(key.1, HeaderValue::Secret(Secret::new("hsecret")));
        assert_eq!(header(&request, "x-team"), Some("growth"));
        let shown = format!("{request:?} {:?}", request.summary());
        for secret in ["XXXXsecretpath", "qsecret", "hsecret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(
            request.summary().url,
            "https://hooks.slack.com/services/T000/B000/…?token=…&team=…"
        );

        // Batch mode sends to the same URL and hides the same parts.
        let mut batch = settings.clone();
        batch.insert("batch".into(), json!({"max_items": 10}));
        let r = build_batch(
            &integration(Value::Object(batch)),
            &creds,
            vec![],
            "msg_batch_1",
            1,
        )
        .unwrap();
        assert_eq!(r.url, request.url);
        assert!(!r.summary().url.contains("XXXXsecretpath"));
    }

    #[test]
    fn a_masked_secret_keeps_the_sealed_value_only_when_there_is_one() {
        let stored = json!({
            "url": "https://hooks.zapier.com/hooks/catch/123/********/",
            "secret_url_parts": {"path_segments": [3]},
            "headers": {"X-Api-Key": {"secret": true}},
        });
        let sealed: std::collections::BTreeSet<String> =
            ["url_path:3".to_owned(), "header:x-api-key".to_owned()].into();
        let mut settings = stored.as_object().cloned().unwrap();
        assert!(validate(&settings, &BTreeMap::new()).is_empty());

        let kept = take_secrets(&mut settings, &sealed).unwrap();

        assert!(kept.seal.is_empty());
        assert_eq!(kept.referenced, sealed);
        assert_eq!(Value::Object(settings.clone()), stored);
        let errors = take_secrets(&mut settings, &Default::default()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.headers.X-Api-Key",
                "settings.secret_url_parts.path_segments[0]"
            ]
        );
        // Without its sealed value the request is not built.
        let err = build(
            &integration(stored),
            &Credentials::default(),
            &registration(),
            &cx(),
        )
        .unwrap_err();
        assert_eq!(err.field, "credentials.url_path:3");
    }

    #[test]
    fn secret_settings_are_checked_by_name() {
        let none = BTreeMap::new();
        let fields = |settings: Value| -> Vec<String> {
            validate(settings.as_object().unwrap(), &none)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(
                json!({"url": "https://h.io/a/b", "secret_url_parts": {"path_segments": [2], "query": ["token"]}})
            ),
            [
                "settings.secret_url_parts.path_segments[0]",
                "settings.secret_url_parts.query[0]"
            ]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/a", "secret_url_parts": {"segments": [0]}})),
            ["settings.secret_url_parts"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/a", "secret_url_parts": {"path_segments": [-1]}})),
            ["settings.secret_url_parts.path_segments[0]"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/a", "headers": {
                "X-A": {"value": "v", "secret": false},
                "X-B": {"value": "two\nlines", "secret": true},
                "X-C": {"value": 5, "secret": true},
                "x-d": "1", "X-D": "2"
            }})),
            [
                "settings.headers.X-A",
                "settings.headers.X-B",
                "settings.headers.X-C",
                "settings.headers.x-d"
            ]
        );
        assert!(fields(json!({"url": "https://h.io/a/b?t=1", "secret_url_parts": {"path_segments": [1], "query": ["t"]},
                             "headers": {"X-K": {"value": "v", "secret": true}, "X-L": {"secret": true}}}))
        .is_empty());
    }

    #[test]
    fn a_condition_that_does_not_hold_skips_the_webhook() {
        let built = super::super::build(
            &integration(json!({"url": "https://h.example.com", "conditions": [{"field": "score", "equals": 20}]})),
            &Credentials::default(),
            &registration(),
            &cx(),
        )
        .unwrap();

        let Built::Skip { reason } = built else {
            panic!("sent")
        };
        assert!(reason.contains("'score' is not 20"), "{reason}");
    }

    #[test]
    fn settings_are_checked_by_name() {
        let none = BTreeMap::new();
        let errors = validate(
            json!({"url": "ftp://x", "method": "DELETE", "headers": {"Authorization": "x"}, "auth": "bearer"})
                .as_object()
                .unwrap(),
            &none,
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.url",
                "settings.method",
                "settings.headers.Authorization",
                "credentials.token"
            ]
        );
        let errors = validate(
            json!({"url": "https://u:p@h.io/x"}).as_object().unwrap(),
            &none,
        );
        assert!(errors[0].message.contains("user name"));
        assert!(validate(json!({"url": "https://h.io/x"}).as_object().unwrap(), &none).is_empty());
    }

    #[test]
    fn batch_settings_are_checked_and_refuse_get_and_form() {
        let none = BTreeMap::new();
        let fields = |settings: Value| -> Vec<String> {
            validate(settings.as_object().unwrap(), &none)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };

        assert!(fields(json!({"url": "https://h.io/x", "batch": {"max_items": 100}})).is_empty());
        assert!(fields(
            json!({"url": "https://h.io/x", "method": "PUT", "batch": {"max_items": 2}})
        )
        .is_empty());
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "batch": {"max_items": 1}})),
            ["settings.batch.max_items"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "batch": {"max_items": 501}})),
            ["settings.batch.max_items"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "batch": {"max_items": "100", "window": 5}})),
            ["settings.batch.max_items", "settings.batch.window"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "batch": true})),
            ["settings.batch"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "method": "GET", "batch": {"max_items": 10}})),
            ["settings.method"]
        );
        assert_eq!(
            fields(json!({"url": "https://h.io/x", "format": "form", "batch": {"max_items": 10}})),
            ["settings.format"]
        );
    }

    #[test]
    fn batch_size_is_only_for_a_webhook_with_a_valid_batch_setting() {
        let mut i = integration(json!({"url": "https://h.io/x", "batch": {"max_items": 50}}));
        assert_eq!(batch_size(&i), Some(50));
        i.provider = Provider::Klaviyo;
        assert_eq!(batch_size(&i), None);
        assert_eq!(
            batch_size(&integration(json!({"url": "https://h.io/x"}))),
            None
        );
        assert_eq!(
            batch_size(&integration(
                json!({"url": "https://h.io/x", "batch": {"max_items": 900}})
            )),
            None
        );
    }

    #[test]
    fn a_batch_id_depends_on_the_items_and_attempts_not_their_order() {
        let a = batch_id([("msg_a", 1), ("msg_b", 2)]);

        assert_eq!(a, batch_id([("msg_b", 2), ("msg_a", 1)]));
        assert!(a.starts_with("msg_batch_") && a.len() == "msg_batch_".len() + 32);
        assert_ne!(a, batch_id([("msg_a", 1), ("msg_b", 3)]));
        assert_ne!(a, batch_id([("msg_a", 1)]));
    }

    #[test]
    fn a_batch_is_a_signed_json_array_with_the_batch_id_and_the_same_auth() {
        let secret = signature::generate_secret();
        let creds = Credentials(
            [("signing_secret", secret.as_str()), ("token", "t0k")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect(),
        );
        let i = integration(
            json!({"url": "https://h.example.com/in", "auth": "bearer", "headers": {"X-Team": "growth"}, "batch": {"max_items": 10}}),
        );
        let items = vec![json!({"id": "msg_a"}), json!({"id": "msg_b"})];

        let r = build_batch(&i, &creds, items, "msg_batch_1", 1_764_613_200).unwrap();

        assert_eq!(r.method, Method::Post);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!([{"id": "msg_a"}, {"id": "msg_b"}]));
        assert_eq!(header(&r, "webhook-id"), Some("msg_batch_1"));
        assert_eq!(header(&r, DELIVERY_HEADER), Some("msg_batch_1"));
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(header(&r, "authorization"), Some("Bearer t0k"));
        assert_eq!(header(&r, "x-team"), Some("growth"));
        let expected = signature::sign(
            &signature::secret_bytes(&secret).unwrap(),
            "msg_batch_1",
            1_764_613_200,
            &r.body,
        );
        assert_eq!(header(&r, "webhook-signature"), Some(expected.as_str()));
        let get = integration(json!({"url": "https://h.example.com/in", "method": "GET"}));
        assert_eq!(
            build_batch(&get, &creds, vec![], "msg_batch_1", 0)
                .unwrap_err()
                .field,
            "settings.method"
        );
    }

    #[test]
    fn item_failures_list_only_non_2xx_results_with_their_error_as_the_body() {
        let body = json!({"results": [
            {"id": "msg_a", "status": 422, "error": "email is not valid"},
            {"id": "msg_b", "status": 200},
            {"id": "msg_c", "status": 503, "error": {"code": "busy"}},
            {"status": 400},
            {"id": "msg_d", "status": 70000}
        ]})
        .to_string();

        let failures = item_failures(body.as_bytes());

        assert_eq!(failures.len(), 2);
        assert_eq!(failures["msg_a"].status, 422);
        assert_eq!(failures["msg_a"].error, b"email is not valid");
        assert_eq!(failures["msg_c"].error, br#"{"code":"busy"}"#);
        assert!(item_failures(b"ok").is_empty());
        assert!(item_failures(br#"{"results": "all fine"}"#).is_empty());
        assert!(item_failures(br#"[{"id": "msg_a", "status": 422}]"#).is_empty());
    }
}
