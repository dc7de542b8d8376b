//! A webhook's headers and secret URL parts: the headers a customer may set, the
//! ones sealed like credentials (and the URL path segments and query values that are),
//! and the headers every webhook request ends with (ids, signatures, authentication).

use super::text;
use crate::destination::signature;
use crate::exchange::{Credentials, HeaderValue, DELIVERY_HEADER};
use crate::setting::SettingError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Headers a customer may not set: the transport or leadrelay sets them.
pub(super) const RESERVED_HEADERS: &[&str] = &[
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

pub(super) fn validate_headers(settings: &Map<String, Value>, errors: &mut Vec<SettingError>) {
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
pub(super) struct SecretUrlParts {
    /// Path segments by index (0 is the first after the host).
    path_segments: Vec<usize>,
    /// Query parameters by name, whose values are secret.
    query: Vec<String>,
}

/// The setting's selectors, or why it is unreadable (field, message).
pub(super) fn secret_url_parts(
    settings: &Map<String, Value>,
) -> Result<SecretUrlParts, SettingError> {
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
pub(super) struct UrlParts {
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

pub(super) fn validate_secret_url_parts(
    settings: &Map<String, Value>,
    errors: &mut Vec<SettingError>,
) {
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
pub(super) fn secret_path_name(index: usize) -> String {
    format!("url_path:{index}")
}

/// The credential name of a secret query parameter's value.
pub(super) fn secret_query_name(name: &str) -> String {
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
pub(super) fn destination_url(
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

/// Adds the headers every webhook request carries: the Standard Webhooks id, timestamp
/// and signature (over `signed_body`), leadrelay's loop guard, authentication and the
/// customer's own headers.
pub(super) fn finish_headers(
    s: &Map<String, Value>,
    auth: super::Auth,
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
    match auth {
        super::Auth::Basic => {
            let user = credentials.get("username").map_or("", |v| v.expose());
            let pass = credentials.get("password").map_or("", |v| v.expose());
            let token = STANDARD.encode(format!("{user}:{pass}"));
            headers.push((
                "authorization".into(),
                HeaderValue::Secret(crate::keys::Secret::new(format!("Basic {token}"))),
            ));
        }
        super::Auth::Bearer => {
            let token = credentials.get("token").map_or("", |v| v.expose());
            headers.push((
                "authorization".into(),
                HeaderValue::Secret(crate::keys::Secret::new(format!("Bearer {token}"))),
            ));
        }
        super::Auth::None => {}
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
    use super::super::tests::{cx, header, integration, registration};
    use super::super::{build, build_batch, validate};
    use super::*;
    use crate::destination::Built;
    use crate::keys::Secret;
    use serde_json::json;

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
}
