//! The field mapping: which provider field gets which registration value.

use crate::setting::SettingError;
use serde_json::{Map, Value};

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

pub(super) fn is_blank(value: &Value) -> bool {
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

#[cfg(test)]
mod tests {
    use super::super::obj;
    use super::*;
    use serde_json::json;

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
}
