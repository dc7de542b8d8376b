//! The settings every destination reads alike: text and id-list settings, credentials
//! being set, the existing-contact policy, the API base URL, and the check of all the
//! shared ones ([`validate_common`]).

use super::conditions::conditions;
use super::fields::FieldMap;
use crate::destination::KEPT_CREDENTIAL;
use crate::setting::SettingError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The settings every destination with a field mapping takes, read the same way by each
/// (the table of [`super`]).
pub const SHARED_SETTINGS: &[&str] = &[
    "fields",
    "conditions",
    "consent_field",
    "existing_contact",
    "base_url",
    "preflight",
];

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

/// The shared settings of an integration with a field mapping, parsed ([`Common::parse`]):
/// what every provider module reads instead of the settings' names.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    /// The field mapping, the provider's defaults changed by `fields`.
    pub fields: FieldMap,
    /// The registration field that carries marketing consent (`consent_field`).
    pub consent_field: String,
    /// The existing-contact policy, one the provider supports.
    pub existing: Existing,
    /// The API origin replacing the provider's (`base_url`), trimmed, without a
    /// trailing slash.
    pub base_url: Option<String>,
}

impl Common {
    /// Parses the shared settings, or names every one that is wrong, in the order of
    /// [`validate_common`] (whose checks these are).
    pub fn parse(
        settings: &Map<String, Value>,
        defaults: &[(&str, &str)],
        policies: &[Existing],
        check_target: impl Fn(&str) -> Option<String>,
    ) -> Result<Common, Vec<SettingError>> {
        let mut errors = Vec::new();
        validate_common(settings, defaults, policies, check_target, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let one = |e: SettingError| vec![e];
        Ok(Common {
            fields: FieldMap::from_settings(settings, defaults).map_err(one)?,
            consent_field: super::consent_field(settings).to_owned(),
            existing: existing(settings, policies).map_err(one)?,
            base_url: text(settings, "base_url")
                .map(|u| u.trim().trim_end_matches('/'))
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
        })
    }

    /// The API origin: `base_url` when set, else `default`, without a trailing slash.
    pub fn origin(&self, default: &str) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| default.trim_end_matches('/').to_owned())
    }
}

/// A setting parsed as `T`, `None` when absent, or the error naming it with `message`
/// when its value (`null` included) is not a `T` (a number where text is expected, say).
pub fn typed<T: serde::de::DeserializeOwned>(
    settings: &Map<String, Value>,
    key: &str,
    message: impl Into<String>,
) -> Result<Option<T>, SettingError> {
    match settings.get(key) {
        None => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(|_| SettingError::new(format!("settings.{key}"), message)),
    }
}

/// A list of ids setting (text, none blank) parsed, empty when absent or null, or the
/// error of [`check_id_list`].
pub fn text_list(settings: &Map<String, Value>, key: &str) -> Result<Vec<String>, SettingError> {
    if settings.get(key).is_some_and(Value::is_null) {
        return Ok(Vec::new());
    }
    let message = format!("{key} is a list of ids, such as [\"a1b2c3\"]");
    let list: Vec<String> = typed(settings, key, message.clone())?.unwrap_or_default();
    if list.iter().any(|s| s.trim().is_empty()) {
        return Err(SettingError::new(format!("settings.{key}"), message));
    }
    Ok(list)
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

#[cfg(test)]
mod tests {
    use super::super::obj;
    use super::*;
    use serde_json::json;

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
}
