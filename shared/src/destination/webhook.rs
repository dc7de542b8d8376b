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
//! | `headers` | object of extra header names and values (not secrets, not `Authorization`) | none |
//! | `auth` | `none`, `basic` (credentials `username`, `password`), `bearer` (credential `token`) | `none` |
//! | `preflight` | check the email before sending | `true` |
//! | `conditions` | deliver only when they hold ([`super::mapping`]) | deliver everything |
//! | `batch` | `{"max_items": n}`, n from 2 to 500: batch mode (below); JSON with POST or PUT only | single mode |
//!
//! Credential `signing_secret` (`whsec_…`) turns on Standard Webhooks signatures. When it
//! is replaced, the old one becomes `previous_signing_secret` and keeps signing until the
//! setting `previous_signing_secret_until` (seconds since the epoch, set by leadrelay to
//! 24 hours later), so receivers can switch secrets without missing a delivery.
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

use super::{
    mapping, signature, Built, Credentials, HeaderValue, Method, OutgoingRequest, SendContext,
    SettingError,
};
use crate::clock;
use crate::model::{Integration, Registration};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The header a delivery carries so that leadrelay's own ingest can refuse it (a webhook
/// pointed back at leadrelay would loop).
pub const DELIVERY_HEADER: &str = "x-leadrelay-delivery";

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
    match settings.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (name, value) in headers {
                let field = format!("settings.headers.{name}");
                let valid_name = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !valid_name {
                    errors.push(SettingError::new(&field, "not a valid header name"));
                } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    errors.push(SettingError::new(
                        &field,
                        "this header is set by leadrelay; use 'auth' and the credentials for authentication",
                    ));
                } else if !value
                    .as_str()
                    .is_some_and(|v| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
                {
                    errors.push(SettingError::new(
                        &field,
                        "header values are one line of text",
                    ));
                }
            }
        }
        Some(_) => errors.push(SettingError::new(
            "settings.headers",
            "headers is an object of names and values",
        )),
    }
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
    if let Some(reason) = mapping::unmet(s, &registration.data.flat())? {
        return Ok(Built::Skip { reason });
    }
    let url = text(s, "url")
        .ok_or_else(|| SettingError::new("settings.url", "the webhook has no URL"))?
        .to_owned();
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
    let url = text(s, "url")
        .ok_or_else(|| SettingError::new("settings.url", "the webhook has no URL"))?
        .to_owned();
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
    let previous_until = s
        .get("previous_signing_secret_until")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if let Some(previous) = credentials.get("previous_signing_secret") {
        if previous_until > timestamp {
            if let Ok(bytes) = signature::secret_bytes(previous.expose()) {
                secrets.push(bytes);
            }
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
            if let Some(v) = value.as_str() {
                headers.push((name.to_ascii_lowercase(), HeaderValue::Plain(v.to_owned())));
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

    #[test]
    fn a_condition_that_does_not_hold_skips_the_webhook() {
        let built = build(
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
