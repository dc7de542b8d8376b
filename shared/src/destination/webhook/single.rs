//! Single mode: one registration, one request.

use super::headers::{destination_url, finish_headers};
use super::{Format, Settings, WebhookMethod};
use crate::clock;
use crate::destination::{Built, SendContext};
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest};
use crate::model::{Integration, Registration};
use crate::setting::first_error;
use crate::setting::SettingError;
use serde_json::{json, Map, Value};

/// The registration as the webhook body carries it.
pub(super) fn payload(registration: &Registration, cx: &SendContext) -> Map<String, Value> {
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
pub(super) fn pairs(registration: &Registration, cx: &SendContext) -> Vec<(String, String)> {
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

pub(super) fn nest(path: Option<&str>, body: Map<String, Value>) -> Map<String, Value> {
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
    let parsed = Settings::parse(s).map_err(first_error)?;
    let (url, secret_segments) = destination_url(s, credentials)?;
    let method = match parsed.method {
        WebhookMethod::Get => Method::Get,
        WebhookMethod::Put => Method::Put,
        WebhookMethod::Post => Method::Post,
    };
    let form = parsed.format == Format::Form;
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
        let body = Value::Object(nest(parsed.path.as_deref(), payload(registration, cx)));
        (url, body.to_string().into_bytes())
    };

    let signed_body: &[u8] = if method == Method::Get { b"" } else { &body };
    finish_headers(
        s,
        parsed.auth,
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
