//! Properties of the classifier over arbitrary answers: it never panics, and every verdict
//! is consistent with the contract's tables whatever the status, headers and body.

use leadrelay_explain::answer::{ProviderResponse, TransportError, TransportErrorKind};
use leadrelay_explain::explain::explain;
use leadrelay_explain::provider::Provider;
use leadrelay_explain::verdict::{Class, Outcome};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn provider() -> impl Strategy<Value = Option<Provider>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(Provider::ALL.to_vec()).prop_map(Some)
    ]
}

/// Keys the extractors look for, so generated JSON reaches deep into every reader.
const KEYS: [&str; 24] = [
    "errors",
    "error",
    "code",
    "message",
    "title",
    "detail",
    "field",
    "fields",
    "category",
    "errorCode",
    "errorType",
    "status",
    "source",
    "pointer",
    "ErrorMessage",
    "Code",
    "Message",
    "metadata",
    "duplicate_identifiers",
    "retry_after",
    "success",
    "name",
    "validationResults",
    "policyName",
];

const WORDS: [&str; 14] = [
    "Member Exists",
    "already exists",
    "rate limit",
    "Invalid email address",
    "MJ18 dup",
    "Error in 'fields.email'. Invalid",
    "REQUEST_LIMIT_EXCEEDED",
    "DAILY",
    "duplicate_parameter",
    "/data/attributes/email",
    "Expected available in 3 seconds.",
    "UTF-8",
    "0x80040237",
    "",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        proptest::sample::select(WORDS.to_vec()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS.to_vec()), inner), 0..6)
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // Truncated JSON: a valid document cut anywhere, even inside a character.
        (json_value(), any::<proptest::sample::Index>()).prop_map(|(v, i)| {
            let bytes = v.to_string().into_bytes();
            let cut = i.index(bytes.len() + 1);
            bytes[..cut].to_vec()
        }),
        proptest::collection::vec(any::<u8>(), 0..512),
        ".{0,300}".prop_map(String::into_bytes),
        "<html><title>.{0,30}</title>.{0,60}".prop_map(String::into_bytes),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("Retry-After".to_owned()),
        Just("retry-after".to_owned()),
        Just("Date".to_owned()),
        Just("X-RateLimit-Reset".to_owned()),
        Just("RateLimit-Reset".to_owned()),
        Just("x-sib-ratelimit-reset".to_owned()),
        "[A-Za-z-]{1,20}",
    ];
    let value = prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        Just("1e400".to_owned()),
        Just("-3.5".to_owned()),
        ".{0,40}",
    ];
    proptest::collection::vec((name, value), 0..5)
}

fn response() -> impl Strategy<Value = ProviderResponse> {
    let transport = proptest::sample::select(vec![
        TransportErrorKind::Timeout,
        TransportErrorKind::Connect,
        TransportErrorKind::Dns,
        TransportErrorKind::Tls,
        TransportErrorKind::Reset,
        TransportErrorKind::Body,
    ]);
    (
        proptest::option::weighted(0.9, 100u16..=999),
        headers(),
        body(),
        transport,
    )
        .prop_map(|(status, headers, body, kind)| ProviderResponse {
            status,
            headers,
            body,
            error: status.is_none().then_some(TransportError {
                kind,
                message: None,
            }),
        })
}

fn request() -> impl Strategy<Value = Option<Map<String, Value>>> {
    proptest::option::of(
        prop_oneof![".{0,40}", Just("calebæhnson@provider.com".to_owned())].prop_map(|email| {
            json!({"email": email})
                .as_object()
                .cloned()
                .unwrap_or_default()
        }),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_answer_gets_a_consistent_verdict(p in provider(), r in response(), req in request()) {
        let v = explain(p, &r, req.as_ref());

        prop_assert_eq!(v.retryable, v.outcome.retryable());
        match r.status {
            Some(s) => {
                prop_assert_eq!(v.class, Class::of_status(s));
                prop_assert_eq!(v.status, Some(s));
            }
            None => {
                prop_assert_eq!(v.class, Class::Network);
                prop_assert!(matches!(v.outcome, Outcome::Timeout | Outcome::NetworkError));
                prop_assert!(v.reason.is_none());
            }
        }
        if v.outcome.is_success() {
            prop_assert_eq!(v.retry_after_s, None);
        }
        if matches!(v.outcome, Outcome::Delivered | Outcome::Accepted) {
            prop_assert_eq!(v.class, Class::Success);
        }
        prop_assert!(!v.explanation.trim().is_empty());
        prop_assert!(!v.remedy.trim().is_empty());
        if let Some(field) = &v.field {
            prop_assert!(!field.is_empty());
            prop_assert!(!field.contains('/') && !field.contains('['), "field not normalised: {}", field);
        }
    }

    #[test]
    fn the_verdict_does_not_depend_on_header_name_case(p in provider(), r in response()) {
        let mut upper = r.clone();
        for (name, _) in &mut upper.headers {
            *name = name.to_ascii_uppercase();
        }

        let (a, b) = (explain(p, &r, None), explain(p, &upper, None));

        prop_assert_eq!(a.outcome, b.outcome);
        prop_assert_eq!(a.provider_code, b.provider_code);
        if r.headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("date")) {
            prop_assert_eq!(a.retry_after_s, b.retry_after_s);
        }
    }
}

#[test]
fn huge_bodies_are_classified_without_reading_them_whole() {
    let mut body = br#"{"errors":[{"code":"invalid","detail":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 8 << 20));
    body.extend(br#""}]}"#);
    let r = ProviderResponse {
        status: Some(400),
        body,
        ..ProviderResponse::default()
    };

    let v = explain(Some(Provider::Klaviyo), &r, None);

    assert_eq!(v.outcome, Outcome::InvalidData);
    assert!(v.message.as_deref().is_none_or(|m| m.len() < 10_000));
}
