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

mod batch;
mod headers;
mod single;

pub use batch::{
    batch_id, batch_size, build_batch, item_failures, ItemFailure, BATCH_ITEMS, BATCH_MAX_BYTES,
};
pub use headers::{is_setting_secret, secret_header_name, take_secrets, TakenSecrets, MASK};
pub use single::build;

use super::{mapping, signature};

use crate::setting::SettingError;
use batch::validate_batch;
use headers::{validate_headers, validate_secret_url_parts};
use serde_json::{Map, Value};
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

fn text<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

/// The HTTP method a webhook is sent with (`method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum WebhookMethod {
    /// `POST` (the default).
    #[serde(rename = "POST")]
    Post,
    /// `PUT`.
    #[serde(rename = "PUT")]
    Put,
    /// `GET`: the registration goes in the query.
    #[serde(rename = "GET")]
    Get,
}

/// How a webhook's body is encoded (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// JSON (the default).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// How a webhook authenticates (`auth`), with the credentials it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// No authentication (the default).
    None,
    /// HTTP Basic with the `username` and `password` credentials.
    Basic,
    /// A Bearer `token` credential.
    Bearer,
}

/// A webhook's settings, parsed ([`Settings::parse`]): checked when the integration is
/// configured, and what the request builders read. Secret headers and URL parts stay in
/// the settings map, where [`take_secrets`] and the builders handle them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The destination URL (`url`), secret parts masked once stored.
    pub url: String,
    /// The method (`method`).
    pub method: WebhookMethod,
    /// The body encoding (`format`).
    pub format: Format,
    /// Where the JSON body nests the registration (`path`, dotted names).
    pub path: Option<String>,
    /// The authentication (`auth`).
    pub auth: Auth,
}

impl Settings {
    /// Parses webhook settings, or names every one that is missing or wrong: the typed
    /// ones, then the headers, secret URL parts, conditions and batch checks.
    pub fn parse(settings: &Map<String, Value>) -> Result<Settings, Vec<SettingError>> {
        let mut errors = Vec::new();
        let url = match settings.get("url") {
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
                Some(url.clone())
            }
            _ => {
                errors.push(SettingError::new(
                    "settings.url",
                    "a webhook needs a URL (https://…)",
                ));
                None
            }
        };
        let method = mapping::typed(settings, "method", "method must be POST, PUT or GET")
            .map_err(|e| errors.push(e))
            .ok()
            .map(|m| m.unwrap_or(WebhookMethod::Post));
        let format = mapping::typed(settings, "format", "format must be json or form")
            .map_err(|e| errors.push(e))
            .ok()
            .map(|f| f.unwrap_or(Format::Json));
        let path_error = || {
            SettingError::new(
                "settings.path",
                "path is dotted names of letters, digits, '_' or '-', such as data.lead",
            )
        };
        let path = mapping::typed::<String>(settings, "path", path_error().message)
            .and_then(|p| match p {
                Some(p)
                    if p.is_empty()
                        || !p.split('.').all(|seg| {
                            !seg.is_empty()
                                && seg
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        }) =>
                {
                    Err(path_error())
                }
                p => Ok(p),
            })
            .map_err(|e| errors.push(e))
            .ok();
        validate_headers(settings, &mut errors);
        validate_secret_url_parts(settings, &mut errors);
        let auth = match settings.get("auth") {
            None | Some(Value::Null) => Some(Auth::None),
            Some(_) => mapping::typed(settings, "auth", "auth must be none, basic or bearer")
                .map_err(|e| errors.push(e))
                .ok()
                .flatten(),
        };
        if let Err(e) = mapping::conditions(settings) {
            errors.push(e);
        }
        validate_batch(settings, &mut errors);
        match (url, method, format, path, auth) {
            (Some(url), Some(method), Some(format), Some(path), Some(auth))
                if errors.is_empty() =>
            {
                Ok(Settings {
                    url,
                    method,
                    format,
                    path,
                    auth,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Checks webhook settings (parsing them, [`Settings::parse`]) and which credentials are
/// given.
pub fn validate(
    settings: &Map<String, Value>,
    credentials: &BTreeMap<String, String>,
) -> Vec<SettingError> {
    let mut errors = Settings::parse(settings).err().unwrap_or_default();
    match settings
        .get("auth")
        .and_then(Value::as_str)
        .unwrap_or("none")
    {
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
        "bearer" if !credentials.contains_key("token") => {
            errors.push(SettingError::new(
                "credentials.token",
                "bearer authentication needs a token",
            ));
        }
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::{Built, SendContext};
    use crate::exchange::{Credentials, HeaderValue, Method, OutgoingRequest, DELIVERY_HEADER};
    use crate::keys::Secret;
    use crate::model::{Integration, Registration};
    use crate::model::{IntegrationStatus, RegistrationData};
    use leadrelay_explain::provider::Provider;
    use serde_json::json;

    pub(super) fn integration(settings: Value) -> Integration {
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

    pub(super) fn registration() -> Registration {
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

    pub(super) fn cx() -> SendContext {
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

    pub(super) fn header<'a>(r: &'a OutgoingRequest, name: &str) -> Option<&'a str> {
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
    fn a_wrong_typed_setting_is_refused_naming_it() {
        let none = BTreeMap::new();
        for (settings, field) in [
            (json!({"url": 443}), "settings.url"),
            (
                json!({"url": "https://h.io/x", "method": 1}),
                "settings.method",
            ),
            (
                json!({"url": "https://h.io/x", "format": true}),
                "settings.format",
            ),
            (
                json!({"url": "https://h.io/x", "path": ["data"]}),
                "settings.path",
            ),
            (json!({"url": "https://h.io/x", "auth": 5}), "settings.auth"),
        ] {
            let errors = crate::destination::validate(
                Provider::Webhook,
                settings.as_object().unwrap(),
                &none,
            );
            assert_eq!(
                errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
                [field],
                "{settings}"
            );
        }
        let parsed = Settings::parse(
            json!({"url": "https://h.io/x", "method": "PUT", "format": "form", "path": "data.lead", "auth": "bearer"})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            parsed,
            Settings {
                url: "https://h.io/x".into(),
                method: WebhookMethod::Put,
                format: Format::Form,
                path: Some("data.lead".into()),
                auth: Auth::Bearer,
            }
        );
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
}
