//! What every destination shares: the field mapping, conditions, consent, the
//! existing-contact policy and the overridable API base URL.
//!
//! Every provider adapter reads these settings the same way, so a marketer learns them
//! once. The registration is read as [`RegistrationData::flat`] names: `email`,
//! `first_name`, `last_name`, `phone`, `consent.<purpose>` and the campaign's own field
//! names.
//!
//! # Settings
//!
//! | setting | values | default |
//! |---|---|---|
//! | `fields` | object: provider field → registration field name (`"FNAME": "first_name"`), `{"value": …}` for a static value (`"SOURCE": {"value": "winter-quiz"}`), or `null` to drop one of the provider's default mappings | each provider's defaults (its module says which) |
//! | `conditions` | list of `{"field": …, "equals": …}`, `{"field": …, "not_equals": …}`, `{"field": …, "in": [...]}`, `{"field": …, "is_set": true\|false}`; all must hold | deliver everything |
//! | `consent_field` | the registration field that says the person agreed to marketing | `consent.marketing` |
//! | `existing_contact` | `update` (create or update), `create_only` (create; an existing contact is left as it is and the attempt reads `duplicate`) | `update` |
//! | `base_url` | `https://…` replacing the provider's API origin (sandboxes, regional hosts, tests); the API's own paths are appended | the provider's |
//!
//! Mapped values are sent as they are (text, numbers, yes/no); a registration field that
//! is absent or empty is not sent at all, so it never blanks what the provider holds.
//! Conditions compare text without regard to case or surrounding blanks, and numbers
//! by value (`"8"` equals `8`).
//!
//! "Skip existing contacts" is what `create_only` does: none of these APIs can leave an
//! existing contact untouched other than by refusing a create, and that refusal is
//! recorded as a benign `duplicate`. Providers whose API only upserts (SendGrid, HubSpot
//! Forms, Campaign Monitor), or whose create call cannot carry the fields and lists
//! (Mailjet), accept `update` alone.
//!
//! [`RegistrationData::flat`]: crate::model::RegistrationData::flat

use super::{SettingError, KEPT_CREDENTIAL};
use crate::exchange::HeaderValue;
use crate::keys::Secret;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The settings every destination with a field mapping takes, read the same way by each
/// (the table above).
pub const SHARED_SETTINGS: &[&str] = &[
    "fields",
    "conditions",
    "consent_field",
    "existing_contact",
    "base_url",
    "preflight",
];

/// The headers every JSON API request carries: who we are, what we send and accept.
pub fn json_headers(content_type: &str) -> Vec<(String, HeaderValue)> {
    vec![
        (
            "user-agent".into(),
            HeaderValue::Plain(concat!("leadrelay/", env!("CARGO_PKG_VERSION")).into()),
        ),
        (
            "content-type".into(),
            HeaderValue::Plain(content_type.into()),
        ),
        ("accept".into(), HeaderValue::Plain(content_type.into())),
    ]
}

/// The headers of a form-encoded request that expects JSON back (an OAuth token request).
pub fn form_headers() -> Vec<(String, HeaderValue)> {
    let mut headers = json_headers("application/x-www-form-urlencoded");
    headers.retain(|(n, _)| n != "accept");
    headers.push((
        "accept".into(),
        HeaderValue::Plain("application/json".into()),
    ));
    headers
}

/// Whether an API version reads `vNN.N` (`v62.0`, `v9.2`).
pub fn is_api_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
}

/// A header that holds a secret (never shown in a log or an attempt record).
pub fn secret_header(name: &str, value: String) -> (String, HeaderValue) {
    (name.to_owned(), HeaderValue::Secret(Secret::new(value)))
}

/// A setting's text value.
pub fn text<'a>(settings: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str)
}

/// A required text setting, trimmed, or the error naming it.
pub fn required_text<'a>(
    settings: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<&'a str, SettingError> {
    match settings.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
        _ => Err(SettingError::new(format!("settings.{key}"), what)),
    }
}

/// Checks that a credential is given; `what` says what it is for.
pub fn require_credential(
    credentials: &BTreeMap<String, String>,
    name: &str,
    what: &str,
    errors: &mut Vec<SettingError>,
) {
    if !credentials.contains_key(name) {
        errors.push(SettingError::new(format!("credentials.{name}"), what));
    }
}

/// A credential's value when it is being set now (a kept one reads as `None`: it passed
/// its checks when it was set).
pub fn new_credential<'a>(
    credentials: &'a BTreeMap<String, String>,
    name: &str,
) -> Option<&'a str> {
    credentials
        .get(name)
        .map(String::as_str)
        .filter(|v| *v != KEPT_CREDENTIAL)
}

/// Where a provider field's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A registration field, by its flat name.
    Field(String),
    /// The same value for every registration.
    Static(Value),
}

/// An integration's field mapping: provider field → source, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldMap {
    entries: Vec<(String, Source)>,
}

impl FieldMap {
    /// The provider's defaults (`(provider field, registration field)`), changed by the
    /// integration's `fields` setting.
    pub fn from_settings(
        settings: &Map<String, Value>,
        defaults: &[(&str, &str)],
    ) -> Result<FieldMap, SettingError> {
        let mut entries: Vec<(String, Source)> = defaults
            .iter()
            .map(|(to, from)| ((*to).to_owned(), Source::Field((*from).to_owned())))
            .collect();
        match settings.get("fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(fields)) => {
                for (to, spec) in fields {
                    let field = format!("settings.fields.{to}");
                    if to.trim().is_empty() {
                        return Err(SettingError::new(field, "a provider field name is empty"));
                    }
                    let source = match spec {
                        Value::Null => None,
                        Value::String(from) if !from.trim().is_empty() => {
                            Some(Source::Field(from.trim().to_owned()))
                        }
                        Value::Object(o) if o.len() == 1 && o.contains_key("value") => {
                            Some(Source::Static(o["value"].clone()))
                        }
                        _ => {
                            return Err(SettingError::new(
                                field,
                                "a mapping is a registration field name, {\"value\": …} for a static value, or null",
                            ))
                        }
                    };
                    entries.retain(|(t, _)| t != to);
                    if let Some(source) = source {
                        entries.push((to.clone(), source));
                    }
                }
            }
            Some(_) => {
                return Err(SettingError::new(
                    "settings.fields",
                    "fields is an object of provider field names and their sources",
                ))
            }
        }
        Ok(FieldMap { entries })
    }

    /// The provider fields this mapping fills, in order.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(t, _)| t.as_str())
    }

    /// The provider's fields for one registration; absent and empty sources are left out.
    pub fn apply(&self, flat: &Map<String, Value>) -> Vec<(String, Value)> {
        self.entries
            .iter()
            .filter_map(|(to, source)| {
                let value = match source {
                    Source::Static(v) => v.clone(),
                    Source::Field(from) => flat.get(from).filter(|v| !is_blank(v))?.clone(),
                };
                Some((to.clone(), value))
            })
            .collect()
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A yes/no value as text (`"true"`/`"false"`), for providers whose fields take text;
/// other values unchanged.
pub fn bool_as_text(value: Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        other => other,
    }
}

/// A value as one line of text (lists joined with `;`, HubSpot's multi-value form).
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(as_text).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// What one condition tests.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    IsSet(bool),
}

/// One condition of an integration: deliver only when it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    field: String,
    test: Test,
}

impl Condition {
    fn holds(&self, flat: &Map<String, Value>) -> bool {
        let value = flat.get(&self.field).filter(|v| !is_blank(v));
        match &self.test {
            Test::IsSet(want) => value.is_some() == *want,
            Test::Equals(expected) => value.is_some_and(|v| same(v, expected)),
            Test::NotEquals(expected) => !value.is_some_and(|v| same(v, expected)),
            Test::In(options) => value.is_some_and(|v| options.iter().any(|o| same(v, o))),
        }
    }

    /// Why a registration does not meet it, in words (no personal data: the condition's
    /// own terms only).
    fn unmet(&self) -> String {
        let f = &self.field;
        match &self.test {
            Test::IsSet(true) => {
                format!("'{f}' is not set, and the integration delivers only when it is")
            }
            Test::IsSet(false) => {
                format!("'{f}' is set, and the integration delivers only when it is not")
            }
            Test::Equals(v) => format!(
                "'{f}' is not {}, and the integration delivers only when it is",
                shown(v)
            ),
            Test::NotEquals(v) => format!(
                "'{f}' is {}, and the integration delivers only when it is not",
                shown(v)
            ),
            Test::In(options) => format!(
                "'{f}' is none of {}, and the integration delivers only when it is one of them",
                options.iter().map(shown).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// Compares a registration's value with a condition's: text without regard to case and
/// blanks, numbers by value, yes/no as `true`/`false`.
fn same(value: &Value, expected: &Value) -> bool {
    if let (Some(a), Some(b)) = (number(value), number(expected)) {
        return a == b;
    }
    norm(value) == norm(expected)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn norm(v: &Value) -> String {
    as_text(v).trim().to_lowercase()
}

/// The integration's conditions, or the error naming the one that is malformed.
pub fn conditions(settings: &Map<String, Value>) -> Result<Vec<Condition>, SettingError> {
    let items = match settings.get("conditions") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(SettingError::new(
            "settings.conditions",
            "conditions is a list such as [{\"field\": \"consent.marketing\", \"equals\": true}]",
        )),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("settings.conditions[{i}]");
        let Some(o) = item.as_object() else {
            return Err(SettingError::new(
                at,
                "a condition is an object with 'field' and one test",
            ));
        };
        let field = match o.get("field") {
            Some(Value::String(f)) if !f.trim().is_empty() => f.trim().to_owned(),
            _ => {
                return Err(SettingError::new(
                    format!("{at}.field"),
                    "a condition names a registration field",
                ))
            }
        };
        let tests: Vec<&String> = o.keys().filter(|k| k.as_str() != "field").collect();
        let test = match (tests.as_slice(), tests.first().map(|k| &o[k.as_str()])) {
            ([k], Some(v)) if k.as_str() == "equals" => Test::Equals(v.clone()),
            ([k], Some(v)) if k.as_str() == "not_equals" => Test::NotEquals(v.clone()),
            ([k], Some(Value::Array(options))) if k.as_str() == "in" && !options.is_empty() => {
                Test::In(options.clone())
            }
            ([k], Some(Value::Bool(b))) if k.as_str() == "is_set" => Test::IsSet(*b),
            _ => {
                return Err(SettingError::new(
                    at,
                    "a condition has exactly one of: equals, not_equals, in (a list), is_set (true or false)",
                ))
            }
        };
        out.push(Condition { field, test });
    }
    Ok(out)
}

/// Why the registration does not meet the integration's conditions, if it does not.
pub fn unmet(
    settings: &Map<String, Value>,
    flat: &Map<String, Value>,
) -> Result<Option<String>, SettingError> {
    Ok(conditions(settings)?
        .iter()
        .find(|c| !c.holds(flat))
        .map(Condition::unmet))
}

/// The registration field that carries marketing consent.
pub fn consent_field(settings: &Map<String, Value>) -> &str {
    text(settings, "consent_field")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or("consent.marketing")
}

/// Whether the person agreed to marketing: `Some(true)`, `Some(false)`, or `None` when
/// the registration does not say.
pub fn consent(settings: &Map<String, Value>, flat: &Map<String, Value>) -> Option<bool> {
    consent_in(consent_field(settings), flat)
}

/// Whether a yes/no registration field says yes (`Some(true)`), no, or nothing.
pub fn consent_in(field: &str, flat: &Map<String, Value>) -> Option<bool> {
    match flat.get(field)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Sets the field that records the absence of marketing consent (`opt_out_field`, or
/// the provider's `default` when the setting is absent; `null` for none) to the opposite
/// of the registration's consent, when the registration says yes or no: a later
/// registration with consent opts the person back in.
pub fn set_opt_out(
    record: &mut Map<String, Value>,
    settings: &Map<String, Value>,
    flat: &Map<String, Value>,
    default: &str,
) {
    let field = match settings.get("opt_out_field") {
        Some(Value::Null) => return,
        Some(Value::String(f)) => f.as_str(),
        _ => default,
    };
    if let Some(given) = consent(settings, flat) {
        record.insert(field.to_owned(), Value::Bool(!given));
    }
}

/// Checks `opt_out_field`: absent, `null`, or a field name `name_ok` accepts; `what`
/// says what it must be.
pub fn check_opt_out_field(
    settings: &Map<String, Value>,
    name_ok: impl Fn(&str) -> bool,
    what: &str,
    errors: &mut Vec<SettingError>,
) {
    match settings.get("opt_out_field") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if name_ok(f) => {}
        Some(_) => errors.push(SettingError::new("settings.opt_out_field", what)),
    }
}

/// What to do when the contact already exists at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Create or update (the provider's upsert).
    Update,
    /// Create only: an existing contact is left as it is, and the attempt reads
    /// `duplicate`.
    CreateOnly,
}

impl Existing {
    fn name(self) -> &'static str {
        match self {
            Existing::Update => "update",
            Existing::CreateOnly => "create_only",
        }
    }
}

/// The integration's existing-contact policy, among those its provider supports.
pub fn existing(
    settings: &Map<String, Value>,
    supported: &[Existing],
) -> Result<Existing, SettingError> {
    let wanted = match settings.get("existing_contact") {
        None | Some(Value::Null) => return Ok(Existing::Update),
        Some(Value::String(s)) => match s.as_str() {
            "update" => Existing::Update,
            "create_only" => Existing::CreateOnly,
            _ => return Err(policy_error(supported)),
        },
        Some(_) => return Err(policy_error(supported)),
    };
    if supported.contains(&wanted) {
        Ok(wanted)
    } else {
        Err(policy_error(supported))
    }
}

fn policy_error(supported: &[Existing]) -> SettingError {
    let names: Vec<&str> = supported.iter().map(|p| p.name()).collect();
    let message = if names.len() == 1 {
        format!(
            "this provider's API always creates or updates, so existing_contact can only be {}",
            names[0]
        )
    } else {
        format!("existing_contact must be one of: {}", names.join(", "))
    };
    SettingError::new("settings.existing_contact", message)
}

/// The API origin: `settings.base_url` when set, else the provider's, without a trailing
/// slash.
pub fn base_url(settings: &Map<String, Value>, default: &str) -> String {
    text(settings, "base_url")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned()
}

/// Checks a URL setting's shape (egress rules are checked by the caller): `https://`
/// (or `http://`, which only a local egress policy lets through), a host, no user name
/// or password, no query or fragment.
pub fn check_url_setting(
    settings: &Map<String, Value>,
    key: &str,
    required: bool,
    errors: &mut Vec<SettingError>,
) {
    let field = format!("settings.{key}");
    let url = match settings.get(key) {
        None | Some(Value::Null) if !required => return,
        Some(Value::String(u)) if !u.trim().is_empty() => u.trim(),
        _ => {
            errors.push(SettingError::new(
                field,
                "a URL such as https://api.example.com is required",
            ));
            return;
        }
    };
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        errors.push(SettingError::new(field, "the URL must start with https://"));
        return;
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        errors.push(SettingError::new(field, "the URL has no host"));
    } else if authority.contains('@') {
        errors.push(SettingError::new(
            field,
            "the URL must not contain a user name or password: credentials go in the credentials",
        ));
    } else if url.contains(['?', '#']) {
        errors.push(SettingError::new(
            field,
            "the URL must not have a query or fragment",
        ));
    } else if url.len() > 2048 {
        errors.push(SettingError::new(
            field,
            "the URL is longer than 2048 characters",
        ));
    }
}

/// Checks the settings every destination shares: `fields` (each provider field passed to
/// `check_target`, which says what is wrong with a name), `conditions`,
/// `consent_field`, `existing_contact` against `policies`, `base_url` and `preflight`.
pub fn validate_common(
    settings: &Map<String, Value>,
    defaults: &[(&str, &str)],
    policies: &[Existing],
    check_target: impl Fn(&str) -> Option<String>,
    errors: &mut Vec<SettingError>,
) {
    match FieldMap::from_settings(settings, defaults) {
        Ok(map) => {
            if let Some(Value::Object(given)) = settings.get("fields") {
                for target in map.targets().filter(|t| given.contains_key(*t)) {
                    if let Some(problem) = check_target(target) {
                        errors.push(SettingError::new(
                            format!("settings.fields.{target}"),
                            problem,
                        ));
                    }
                }
            }
        }
        Err(e) => errors.push(e),
    }
    if let Err(e) = conditions(settings) {
        errors.push(e);
    }
    if let Some(v) = settings.get("consent_field") {
        if v.as_str().is_none_or(|s| s.trim().is_empty()) {
            errors.push(SettingError::new(
                "settings.consent_field",
                "consent_field names a registration field, such as consent.marketing",
            ));
        }
    }
    if let Err(e) = existing(settings, policies) {
        errors.push(e);
    }
    check_url_setting(settings, "base_url", false, errors);
    if let Some(v) = settings.get("preflight") {
        if !v.is_boolean() {
            errors.push(SettingError::new(
                "settings.preflight",
                "preflight is true or false",
            ));
        }
    }
}

/// Checks that a setting, when present, is a list of ids (text or whole numbers).
pub fn check_id_list(
    settings: &Map<String, Value>,
    key: &str,
    numeric: bool,
    errors: &mut Vec<SettingError>,
) {
    match settings.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items))
            if items.iter().all(|v| {
                if numeric {
                    v.as_u64().is_some()
                } else {
                    v.as_str().is_some_and(|s| !s.trim().is_empty())
                }
            }) => {}
        Some(_) => errors.push(SettingError::new(
            format!("settings.{key}"),
            if numeric {
                format!("{key} is a list of whole numbers, such as [2, 7]")
            } else {
                format!("{key} is a list of ids, such as [\"a1b2c3\"]")
            },
        )),
    }
}

/// A list setting's values (empty when absent).
pub fn id_list(settings: &Map<String, Value>, key: &str) -> Vec<Value> {
    settings
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Encodes one URL path segment (RFC 3986 unreserved characters stay as they are).
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `application/x-www-form-urlencoded` body (every byte but RFC 3986's unreserved
/// ones percent-encoded, which form decoders read alike).
pub fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", path_segment(k), path_segment(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The JSON body of a request, as bytes.
pub fn json_body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_mapping_extends_the_defaults_and_null_drops_one() {
        let settings = obj(
            json!({"fields": {"SCORE": "quiz_score", "PHONE": null, "SRC": {"value": "quiz"}, "FNAME": "nickname"}}),
        );
        let map =
            FieldMap::from_settings(&settings, &[("FNAME", "first_name"), ("PHONE", "phone")])
                .unwrap();
        let flat = obj(
            json!({"first_name": "Lena", "nickname": "Lenny", "phone": "+49", "quiz_score": 8, "empty": " "}),
        );

        let out = map.apply(&flat);

        assert_eq!(
            out,
            vec![
                ("FNAME".to_owned(), json!("Lenny")),
                ("SCORE".to_owned(), json!(8)),
                ("SRC".to_owned(), json!("quiz")),
            ]
        );
    }

    #[test]
    fn absent_and_blank_values_are_not_sent() {
        let map = FieldMap::from_settings(&Map::new(), &[("FNAME", "first_name"), ("X", "empty")])
            .unwrap();
        assert!(map.apply(&obj(json!({"empty": "  "}))).is_empty());
    }

    #[test]
    fn malformed_mappings_name_the_field() {
        let err = FieldMap::from_settings(&obj(json!({"fields": {"FNAME": 3}})), &[]).unwrap_err();
        assert_eq!(err.field, "settings.fields.FNAME");
        let err = FieldMap::from_settings(&obj(json!({"fields": []})), &[]).unwrap_err();
        assert_eq!(err.field, "settings.fields");
    }

    #[test]
    fn conditions_compare_loosely_and_explain_without_personal_data() {
        let settings = obj(json!({"conditions": [
            {"field": "consent.marketing", "equals": true},
            {"field": "country", "in": ["DE", "AT"]},
            {"field": "score", "equals": "8"},
            {"field": "coupon", "is_set": false}
        ]}));
        let ok = obj(json!({"consent.marketing": true, "country": " de ", "score": 8}));
        assert_eq!(unmet(&settings, &ok).unwrap(), None);

        let refused = obj(json!({"consent.marketing": false, "country": "DE", "score": 8}));
        let reason = unmet(&settings, &refused).unwrap().unwrap();
        assert_eq!(
            reason,
            "'consent.marketing' is not true, and the integration delivers only when it is"
        );

        let foreign = obj(json!({"consent.marketing": true, "country": "FR", "score": 8}));
        let reason = unmet(&settings, &foreign).unwrap().unwrap();
        assert!(reason.contains("none of 'DE', 'AT'"), "{reason}");
        assert!(!reason.contains("FR"));

        let couponed =
            obj(json!({"consent.marketing": true, "country": "AT", "score": 8, "coupon": "X"}));
        assert!(unmet(&settings, &couponed)
            .unwrap()
            .unwrap()
            .contains("'coupon' is set"));
    }

    #[test]
    fn malformed_conditions_name_their_position() {
        let err = conditions(&obj(json!({"conditions": [{"field": "a", "equals": 1}, {"field": "b", "equals": 1, "in": [1]}]}))).unwrap_err();
        assert_eq!(err.field, "settings.conditions[1]");
        let err = conditions(&obj(json!({"conditions": [{"equals": 1}]}))).unwrap_err();
        assert_eq!(err.field, "settings.conditions[0].field");
        let err = conditions(&obj(
            json!({"conditions": [{"field": "a", "is_set": "yes"}]}),
        ))
        .unwrap_err();
        assert_eq!(err.field, "settings.conditions[0]");
    }

    #[test]
    fn consent_reads_the_configured_field() {
        let flat = obj(json!({"consent.marketing": true, "newsletter": "no"}));
        assert_eq!(consent(&Map::new(), &flat), Some(true));
        assert_eq!(
            consent(&obj(json!({"consent_field": "newsletter"})), &flat),
            Some(false)
        );
        assert_eq!(
            consent(&obj(json!({"consent_field": "other"})), &flat),
            None
        );
    }

    #[test]
    fn the_existing_contact_policy_is_checked_against_the_provider() {
        let both = [Existing::Update, Existing::CreateOnly];
        assert_eq!(existing(&Map::new(), &both), Ok(Existing::Update));
        assert_eq!(
            existing(&obj(json!({"existing_contact": "create_only"})), &both),
            Ok(Existing::CreateOnly)
        );
        let err = existing(
            &obj(json!({"existing_contact": "create_only"})),
            &[Existing::Update],
        )
        .unwrap_err();
        assert_eq!(err.field, "settings.existing_contact");
        assert!(
            err.message.contains("always creates or updates"),
            "{}",
            err.message
        );
        let err = existing(&obj(json!({"existing_contact": "skip"})), &both).unwrap_err();
        assert!(err.message.contains("update, create_only"));
    }

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        let mut errors = Vec::new();
        check_url_setting(
            &obj(json!({"base_url": "https://u:p@x.io"})),
            "base_url",
            false,
            &mut errors,
        );
        check_url_setting(
            &obj(json!({"base_url": "ftp://x.io"})),
            "base_url",
            false,
            &mut errors,
        );
        check_url_setting(
            &obj(json!({"base_url": "https://x.io/?a=1"})),
            "base_url",
            false,
            &mut errors,
        );
        check_url_setting(&Map::new(), "instance_url", true, &mut errors);
        check_url_setting(&Map::new(), "base_url", false, &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.base_url",
                "settings.base_url",
                "settings.base_url",
                "settings.instance_url"
            ]
        );
        assert_eq!(
            base_url(
                &obj(json!({"base_url": "http://127.0.0.2:9/"})),
                "https://a.io"
            ),
            "http://127.0.0.2:9"
        );
        assert_eq!(base_url(&Map::new(), "https://a.io"), "https://a.io");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("lena+1@example.com"), "lena%2B1%40example.com");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }
}
