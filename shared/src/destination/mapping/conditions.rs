//! Conditions: when an integration delivers a registration, and why it does not.

use super::fields::{as_text, is_blank};
use crate::setting::SettingError;
use serde_json::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::super::obj;
    use super::*;
    use serde_json::json;

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
}
