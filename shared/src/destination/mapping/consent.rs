//! Consent: which registration field says the person agreed to marketing, and the
//! opt-out field some providers keep.

use super::settings::text;
use crate::setting::SettingError;
use serde_json::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::super::obj;
    use super::*;
    use serde_json::json;

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
}
