//! Helpers for the broken copies of the template that the tests feed to the checks.

use super::*;

pub(crate) fn repository_yaml() -> String {
    read(&local::template_path())
}

pub(crate) fn repository_doc() -> Value {
    serde_yaml::from_str(&repository_yaml()).expect("the template is YAML")
}

pub(crate) fn parsed(doc: &Value) -> Template {
    Template::from_value(doc).expect("the template reads")
}

/// The value at `path`, created as needed, for a broken copy to change.
pub(crate) fn at<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Value {
    path.iter().fold(doc, |v, k| {
        if !v.is_mapping() {
            *v = Value::Mapping(Mapping::new());
        }
        let m = v.as_mapping_mut().expect("a mapping");
        m.entry(Value::from(*k)).or_insert(Value::Null)
    })
}

pub(crate) fn remove(doc: &mut Value, path: &[&str], key: &str) {
    if let Some(m) = at(doc, path).as_mapping_mut() {
        m.remove(key);
    }
}

pub(crate) fn tagged(tag: &str, value: &str) -> Value {
    Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
        tag: serde_yaml::value::Tag::new(tag),
        value: Value::from(value),
    }))
}

pub(crate) fn assert_caught(violations: &[String], needle: &str) {
    assert!(
        violations.iter().any(|v| v.contains(needle)),
        "expected a violation containing {needle:?}, got {violations:#?}"
    );
}
