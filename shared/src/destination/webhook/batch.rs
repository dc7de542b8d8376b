//! Batch mode: the registrations that reach the delivery worker together, in one request.

use super::headers::{destination_url, finish_headers};
use super::{text, Format, Settings, WebhookMethod};
use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest};
use crate::model::Integration;
use crate::setting::first_error;
use crate::setting::SettingError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The fewest and most registrations one batch request may carry (`batch.max_items`).
pub const BATCH_ITEMS: std::ops::RangeInclusive<u64> = 2..=500;

/// The most bytes one batch request's body carries: the items that reach one invocation
/// together go out in as many requests as keep each body within this (and within
/// `max_items`); a single item larger than this goes alone.
pub const BATCH_MAX_BYTES: usize = 1024 * 1024;

/// The most registrations a batch-mode webhook takes in one request, or `None` in single
/// mode (setting `batch: {"max_items": n}`).
pub fn batch_size(integration: &Integration) -> Option<usize> {
    if integration.provider != leadrelay_explain::provider::Provider::Webhook {
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

pub(super) fn validate_batch(settings: &Map<String, Value>, errors: &mut Vec<SettingError>) {
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
    let parsed = Settings::parse(s).map_err(first_error)?;
    let (url, secret_segments) = destination_url(s, credentials)?;
    let method = match parsed.method {
        WebhookMethod::Post => Method::Post,
        WebhookMethod::Put => Method::Put,
        WebhookMethod::Get => {
            return Err(SettingError::new(
                "settings.method",
                "a batch is sent with POST or PUT",
            ))
        }
    };
    if parsed.format == Format::Form {
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
    finish_headers(
        s,
        parsed.auth,
        credentials,
        &mut headers,
        id,
        timestamp,
        &body,
    )?;
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

#[cfg(test)]
mod tests {
    use super::super::tests::{header, integration};
    use super::super::validate;
    use super::*;
    use crate::destination::signature;
    use crate::exchange::DELIVERY_HEADER;
    use crate::keys::Secret;
    use leadrelay_explain::provider::Provider;
    use serde_json::json;

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
