//! Reading a submitted registration: JSON or form-encoded, validated and normalised into
//! [`RegistrationData`], or every problem named by field.
//!
//! # The input
//!
//! | key | type | notes |
//! |---|---|---|
//! | `email` | text | normalised (trimmed, domain lower-cased); RFC 5321/5322 syntax, internationalised local parts accepted here (each integration's own rules are checked before sending) |
//! | `first_name`, `last_name`, `phone` | text | one line, at most 256 characters |
//! | `consent` | yes/no, or an object of yes/no by purpose | JSON `true`/`false` only: `"true"` or `1` is refused, so consent is never guessed; `consent: true` means `{"marketing": true}` |
//! | `fields` | object | the campaign's answers: text, numbers, yes/no, or lists of those |
//! | `submitted_at` | RFC 3339 text | when the person submitted it |
//! | any other key | text, number, yes/no | kept as a custom field |
//!
//! At least one of `email` and `phone` is required. Keys repeated in one object are
//! refused (which one was meant?). Form-encoded bodies carry the same keys as text
//! (`consent.marketing=on`, `fields[score]=12`); there, consent reads `true/on/yes/1` and
//! `false/off/no/0`.

use crate::model::RegistrationData;
use leadrelay_explain::email::{self, EmailRules};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest one-line text (names, phone), in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest custom text value, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most custom fields in one registration.
pub const MAX_FIELDS: usize = 100;
/// Longest field name.
pub const MAX_KEY_CHARS: usize = 64;
/// Most values in one list answer.
pub const MAX_LIST_ITEMS: usize = 50;

/// One problem with the input, named by the field it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field, as the caller wrote it (`email`, `consent.marketing`, `fields.score`), or
    /// `body` for the document as a whole.
    pub field: String,
    /// A stable code (`invalid_email`, `not_boolean`, `too_long`, ...).
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

impl Encoding {
    /// The encoding a `Content-Type` names, if it is one this API reads. A missing type is
    /// read as JSON.
    pub fn from_content_type(content_type: Option<&str>) -> Option<Encoding> {
        let Some(ct) = content_type else {
            return Some(Encoding::Json);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "" => Some(Encoding::Json),
            e if e.ends_with("+json") => Some(Encoding::Json),
            "application/x-www-form-urlencoded" => Some(Encoding::Form),
            _ => None,
        }
    }
}

/// Why a body could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Larger than [`MAX_BODY_BYTES`].
    #[error("the body is {0} bytes; at most {MAX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    /// The fields are there but some are wrong.
    #[error("{} field(s) are invalid", .0.len())]
    Invalid(Vec<FieldError>),
}

/// An object's entries in order, repeated keys included (serde_json's map would keep
/// only the last).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A value on its way in: JSON keeps its types; a form gives only text.
#[derive(Debug, Clone)]
enum Raw {
    Json(Value),
    Form(String),
}

/// Reads and validates a registration body.
pub fn parse(body: &[u8], encoding: Encoding) -> Result<RegistrationData, IntakeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IntakeError::TooLarge(body.len()));
    }
    let entries = match encoding {
        Encoding::Json => json_entries(body)?,
        Encoding::Form => form_entries(body)?,
    };
    let mut reader = Reader::default();
    reader.read(entries);
    reader.finish()
}

fn json_entries(body: &[u8]) -> Result<Vec<(String, Raw)>, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        invalid(
            "body",
            "not_utf8",
            format!("the body is not UTF-8 text (byte {})", e.valid_up_to() + 1),
        )
    })?;
    if text.trim().is_empty() {
        return Err(invalid(
            "body",
            "empty",
            "the body is empty; send a JSON object",
        ));
    }
    let entries: Entries = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_data() {
            "the body must be a JSON object".to_owned()
        } else {
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        };
        invalid("body", "invalid_json", what)
    })?;
    Ok(entries
        .0
        .into_iter()
        .map(|(k, v)| (k, Raw::Json(v)))
        .collect())
}

fn form_entries(body: &[u8]) -> Result<Vec<(String, Raw)>, IntakeError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        invalid(
            "body",
            "invalid_form",
            "the body is not valid form data (application/x-www-form-urlencoded)",
        )
    })?;
    Ok(pairs
        .into_iter()
        .map(|(k, v)| (form_key(&k), Raw::Form(v)))
        .collect())
}

/// `fields[score]` → `fields.score`; `consent[marketing]` → `consent.marketing`.
fn form_key(key: &str) -> String {
    match key.split_once('[') {
        Some((head, rest)) if rest.ends_with(']') => {
            format!("{head}.{}", &rest[..rest.len() - 1])
        }
        _ => key.to_owned(),
    }
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> IntakeError {
    IntakeError::Invalid(vec![FieldError::new(field, code, message)])
}

#[derive(Default)]
struct Reader {
    data: RegistrationData,
    errors: Vec<FieldError>,
    seen: std::collections::BTreeSet<String>,
}

impl Reader {
    fn error(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    fn read(&mut self, entries: Vec<(String, Raw)>) {
        for (key, value) in entries {
            if key.is_empty() {
                // Nothing to name the field by (nor to tell two of them apart): say where
                // it is instead (found by fuzzing).
                self.error(
                    "body",
                    "invalid_name",
                    format!(
                        "a field has an empty name: use 1 to {MAX_KEY_CHARS} letters, digits, '_' or '-'"
                    ),
                );
                continue;
            }
            let (head, sub) = match key.split_once('.') {
                Some((h, s)) if h == "consent" || h == "fields" => (h.to_owned(), Some(s)),
                _ => (key.clone(), None),
            };
            if !self.seen.insert(key.clone()) {
                self.error(
                    &key,
                    "duplicate_key",
                    format!("'{key}' is given more than once; send it once"),
                );
                continue;
            }
            match (head.as_str(), sub) {
                ("email", None) => self.email(value),
                ("first_name" | "last_name" | "phone", None) => self.line(&head, value),
                ("consent", None) => self.consent_root(value),
                ("consent", Some(purpose)) => self.consent(purpose, value),
                ("fields", None) => self.fields_root(value),
                ("fields", Some(name)) => self.custom(&key, name, value),
                ("submitted_at", None) => self.submitted_at(value),
                (_, _) => self.custom(&key, &key, value),
            }
        }
    }

    fn text(&mut self, field: &str, value: Raw) -> Option<String> {
        match value {
            Raw::Form(s) | Raw::Json(Value::String(s)) => Some(s),
            Raw::Json(Value::Null) => None,
            Raw::Json(other) => {
                self.error(
                    field,
                    "not_text",
                    format!("'{field}' must be text, not {}", kind(&other)),
                );
                None
            }
        }
    }

    fn email(&mut self, value: Raw) {
        let Some(raw) = self.text("email", value) else {
            return;
        };
        if raw.trim().is_empty() {
            return;
        }
        let address = email::normalise(&raw);
        // Internationalised addresses (RFC 6531) are valid mail; whether a provider takes
        // them is checked per integration before sending, and reported as a warning.
        let rules = EmailRules {
            ascii_local_part: false,
            ..EmailRules::DEFAULT
        };
        match email::check(&address, &rules) {
            Ok(()) => self.data.email = Some(address),
            Err(issue) => {
                let hint = issue
                    .suggestion()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                self.error("email", "invalid_email", format!("{issue}{hint}"));
            }
        }
    }

    fn line(&mut self, field: &str, value: Raw) {
        let Some(text) = self.text(field, value) else {
            return;
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if let Some(why) = unsafe_characters(text, false) {
            self.error(field, "invalid_characters", format!("'{field}' {why}"));
            return;
        }
        if text.chars().count() > MAX_NAME_CHARS {
            self.error(
                field,
                "too_long",
                format!("'{field}' is longer than {MAX_NAME_CHARS} characters"),
            );
            return;
        }
        let slot = match field {
            "first_name" => &mut self.data.first_name,
            "last_name" => &mut self.data.last_name,
            _ => &mut self.data.phone,
        };
        *slot = Some(text.to_owned());
    }

    fn consent_root(&mut self, value: Raw) {
        match value {
            Raw::Json(Value::Object(map)) => {
                for (purpose, v) in map {
                    self.consent(&purpose, Raw::Json(v));
                }
            }
            other => self.consent("marketing", other),
        }
    }

    fn consent(&mut self, purpose: &str, value: Raw) {
        let field = format!("consent.{purpose}");
        if !valid_key(purpose) {
            self.error(&field, "invalid_name", key_rule(&field));
            return;
        }
        let given = match &value {
            Raw::Json(Value::Bool(b)) => Some(*b),
            Raw::Form(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Some(true),
                "false" | "off" | "no" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match given {
            Some(b) => {
                self.data.consent.insert(purpose.to_owned(), b);
            }
            None => {
                let got = match value {
                    Raw::Json(v) => kind(&v).to_owned(),
                    Raw::Form(s) => format!("'{}'", truncate(&s, 20)),
                };
                self.error(
                    &field,
                    "not_boolean",
                    format!("'{field}' must be true or false, not {got}: consent is never guessed"),
                );
            }
        }
    }

    fn fields_root(&mut self, value: Raw) {
        match value {
            Raw::Json(Value::Object(map)) => {
                for (k, v) in map {
                    self.custom(&format!("fields.{k}"), &k, Raw::Json(v));
                }
            }
            Raw::Json(Value::Null) => {}
            Raw::Json(other) => self.error(
                "fields",
                "not_object",
                format!(
                    "'fields' must be an object of answers, not {}",
                    kind(&other)
                ),
            ),
            Raw::Form(_) => self.error(
                "fields",
                "not_object",
                "'fields' must be sent as fields[name]=value",
            ),
        }
    }

    fn custom(&mut self, field: &str, name: &str, value: Raw) {
        if !valid_key(name) {
            self.error(field, "invalid_name", key_rule(field));
            return;
        }
        if self.data.fields.len() >= MAX_FIELDS {
            self.error(
                field,
                "too_many_fields",
                format!("at most {MAX_FIELDS} custom fields are accepted"),
            );
            return;
        }
        let value = match value {
            Raw::Form(s) => Value::String(s),
            Raw::Json(v) => v,
        };
        let checked = match value {
            Value::Array(items) => {
                if items.len() > MAX_LIST_ITEMS {
                    self.error(
                        field,
                        "too_many_values",
                        format!("'{field}' has more than {MAX_LIST_ITEMS} values"),
                    );
                    return;
                }
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.scalar(field, item) {
                        Some(v) => out.push(v),
                        None => return,
                    }
                }
                Value::Array(out)
            }
            other => match self.scalar(field, other) {
                Some(v) => v,
                None => return,
            },
        };
        if self.data.fields.insert(name.to_owned(), checked).is_some() {
            self.error(
                field,
                "duplicate_key",
                format!("'{name}' is given more than once; send it once"),
            );
        }
    }

    fn scalar(&mut self, field: &str, value: Value) -> Option<Value> {
        match value {
            Value::String(s) => {
                if let Some(why) = unsafe_characters(&s, true) {
                    self.error(field, "invalid_characters", format!("'{field}' {why}"));
                    return None;
                }
                if s.chars().count() > MAX_TEXT_CHARS {
                    self.error(
                        field,
                        "too_long",
                        format!("'{field}' is longer than {MAX_TEXT_CHARS} characters"),
                    );
                    return None;
                }
                Some(Value::String(s))
            }
            v @ (Value::Number(_) | Value::Bool(_) | Value::Null) => Some(v),
            other => {
                self.error(
                    field,
                    "not_scalar",
                    format!(
                        "'{field}' must be text, a number or yes/no, not {}",
                        kind(&other)
                    ),
                );
                None
            }
        }
    }

    fn submitted_at(&mut self, value: Raw) {
        let Some(text) = self.text("submitted_at", value) else {
            return;
        };
        match crate::clock::parse_rfc3339(text.trim()) {
            Some(ms) => self.data.submitted_at = Some(ms),
            None => self.error(
                "submitted_at",
                "invalid_time",
                "'submitted_at' must be an RFC 3339 time such as 2026-12-01T18:20:00Z",
            ),
        }
    }

    fn finish(mut self) -> Result<RegistrationData, IntakeError> {
        if self.errors.is_empty() && self.data.email.is_none() && self.data.phone.is_none() {
            self.error(
                "email",
                "required",
                "an email address (or a phone number) is required",
            );
        }
        if self.errors.is_empty() {
            Ok(self.data)
        } else {
            Err(IntakeError::Invalid(self.errors))
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "yes/no",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars().count() <= MAX_KEY_CHARS
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

fn key_rule(field: &str) -> String {
    format!(
        "'{}' is not a usable field name: use 1 to {MAX_KEY_CHARS} letters, digits, '_' or '-'",
        truncate(field, 80)
    )
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Control characters a person cannot have typed: NUL and other C0 controls (line breaks
/// only where `multiline`), and the bidirectional overrides that make text read other
/// than it is stored.
fn unsafe_characters(s: &str, multiline: bool) -> Option<String> {
    s.chars().enumerate().find_map(|(i, c)| {
        let bad = match c {
            '\n' | '\r' | '\t' => !multiline,
            c if c.is_control() => true,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
            _ => false,
        };
        bad.then(|| {
            format!(
                "has an invisible control character (U+{:04X}) at position {}",
                c as u32,
                i + 1
            )
        })
    })
}

/// The consent flags in a form a provider mapping reads (`true` when any purpose given).
pub fn any_consent(consent: &BTreeMap<String, bool>) -> bool {
    consent.values().any(|v| *v)
}

/// The fields as a JSON object, for echoing back.
pub fn to_json(data: &RegistrationData) -> Map<String, Value> {
    match serde_json::to_value(data) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn errors(body: &str, enc: Encoding) -> Vec<FieldError> {
        match parse(body.as_bytes(), enc) {
            Err(IntakeError::Invalid(e)) => e,
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn a_field_with_an_empty_name_is_named_by_where_it_is() {
        // Found by the registration_body fuzz target: the form bodies "=\0\0" and
        // "=F&==\n\0\n\0" (two empty names: the second was a duplicate of "").
        for (body, enc) in [
            ("=\0\0", Encoding::Form),
            ("email=a%40b.io&=x", Encoding::Form),
            ("=F&==\n\0\n\0", Encoding::Form),
            (r#"{"email": "a@b.io", "": 1}"#, Encoding::Json),
        ] {
            let e = errors(body, enc);
            assert!(!e.is_empty());
            for e in &e {
                assert_eq!(
                    (e.field.as_str(), e.code.as_str()),
                    ("body", "invalid_name"),
                    "{body:?}"
                );
                assert!(e.message.contains("empty name"), "{}", e.message);
            }
        }
    }

    #[test]
    fn a_full_json_registration_is_normalised() {
        let data = parse(
            br#"{"email":"  Lena@Example.COM ","first_name":"Lena","consent":{"marketing":true},
                "fields":{"score":12,"answers":["a","b"]},"color":"blue","submitted_at":"2026-12-01T10:00:00Z"}"#,
            Encoding::Json,
        )
        .unwrap();

        assert_eq!(data.email.as_deref(), Some("Lena@example.com"));
        assert_eq!(data.first_name.as_deref(), Some("Lena"));
        assert_eq!(data.consent.get("marketing"), Some(&true));
        assert_eq!(data.fields["score"], 12);
        assert_eq!(data.fields["answers"][1], "b");
        assert_eq!(data.fields["color"], "blue");
        assert!(data.submitted_at.is_some());
    }

    #[test]
    fn the_seed_address_is_accepted_at_intake() {
        let data = parse(
            r#"{"email":"calebæhnson@provider.com"}"#.as_bytes(),
            Encoding::Json,
        )
        .unwrap();
        assert_eq!(data.email.as_deref(), Some("calebæhnson@provider.com"));
    }

    #[test]
    fn consent_must_be_a_real_boolean() {
        for bad in [r#""true""#, "1", "null", r#"{"marketing":"yes"}"#] {
            let e = errors(
                &format!(r#"{{"email":"a@b.co","consent":{bad}}}"#),
                Encoding::Json,
            );
            assert_eq!(e[0].field, "consent.marketing", "{bad}");
            assert_eq!(e[0].code, "not_boolean");
        }
        let ok = parse(br#"{"email":"a@b.co","consent":false}"#, Encoding::Json).unwrap();
        assert_eq!(ok.consent.get("marketing"), Some(&false));
    }

    #[test]
    fn form_bodies_read_checkboxes_and_bracketed_keys() {
        let data = parse(
            b"email=a%40b.co&consent%5Bmarketing%5D=on&fields%5Bscore%5D=12&last_name=O%27Neil",
            Encoding::Form,
        )
        .unwrap();
        assert_eq!(data.consent.get("marketing"), Some(&true));
        assert_eq!(data.fields["score"], "12");
        assert_eq!(data.last_name.as_deref(), Some("O'Neil"));
        let e = errors("email=a%40b.co&consent=maybe", Encoding::Form);
        assert_eq!(e[0].field, "consent.marketing");
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = errors(
            r#"{"email":"not-an-address","first_name":["x"],"fields":{"deep":{"a":1}},"bad key":1}"#,
            Encoding::Json,
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "first_name", "fields.deep", "bad key"]);
        assert_eq!(e[0].code, "invalid_email");
    }

    #[test]
    fn repeated_keys_are_refused() {
        let e = errors(r#"{"email":"a@b.co","email":"c@d.co"}"#, Encoding::Json);
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("email", "duplicate_key")
        );
    }

    #[test]
    fn controls_and_bidi_overrides_are_refused_in_names() {
        let e = errors(
            "{\"email\":\"a@b.co\",\"first_name\":\"Ann\\u0000\"}",
            Encoding::Json,
        );
        assert_eq!(e[0].code, "invalid_characters");
        let e = errors(
            "{\"email\":\"a@b.co\",\"last_name\":\"\u{202e}nna\"}",
            Encoding::Json,
        );
        assert_eq!(e[0].field, "last_name");
        let ok = parse(
            "{\"email\":\"a@b.co\",\"comment\":\"two\\nlines\"}".as_bytes(),
            Encoding::Json,
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn an_email_or_phone_is_required_and_bodies_are_bounded() {
        let e = errors(r#"{"first_name":"Ann"}"#, Encoding::Json);
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("email", "required")
        );
        assert!(parse(br#"{"phone":"+49 30 1234"}"#, Encoding::Json).is_ok());
        let big = format!(
            r#"{{"email":"a@b.co","x":"{}"}}"#,
            "y".repeat(MAX_BODY_BYTES)
        );
        assert!(matches!(
            parse(big.as_bytes(), Encoding::Json),
            Err(IntakeError::TooLarge(_))
        ));
        let e = errors("[1,2]", Encoding::Json);
        assert_eq!(
            (e[0].field.as_str(), e[0].code.as_str()),
            ("body", "invalid_json")
        );
        let e = errors("{\"email\":", Encoding::Json);
        assert!(e[0].message.contains("not valid JSON"), "{}", e[0].message);
    }

    #[test]
    fn content_types_choose_the_reader() {
        assert_eq!(Encoding::from_content_type(None), Some(Encoding::Json));
        assert_eq!(
            Encoding::from_content_type(Some("application/x-www-form-urlencoded; charset=utf-8")),
            Some(Encoding::Form)
        );
        assert_eq!(
            Encoding::from_content_type(Some("application/vnd.api+json")),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type(Some("text/plain")), None);
    }

    proptest! {
        #[test]
        fn any_body_is_read_or_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&body, Encoding::Json);
            let _ = parse(&body, Encoding::Form);
        }

        #[test]
        fn accepted_emails_are_stored_normalised(local in "[a-z0-9._%+-]{1,20}", domain in "[A-Za-z]{1,10}\\.[A-Za-z]{2,4}") {
            let body = serde_json::json!({"email": format!(" {local}@{domain} ")}).to_string();
            if let Ok(data) = parse(body.as_bytes(), Encoding::Json) {
                let stored = data.email.unwrap();
                prop_assert_eq!(leadrelay_explain::email::normalise(&stored), stored.clone());
            }
        }
    }
}
