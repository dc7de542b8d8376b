//! Error bodies of the HTTP APIs: RFC 9457 problem details (`application/problem+json`)
//! with a stable `code` and, for invalid input, every field at fault.

use leadrelay::intake::FieldError;
use serde::Serialize;

/// A problem details body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, in words.
    pub detail: String,
    /// A stable code to branch on (`invalid_field`, `unauthorized`, ...).
    pub code: String,
    /// Each field at fault, for invalid input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a 403 of a key's role: the role the route needs (`operator`, `admin`,
    /// `platform`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_role: Option<String>,
}

/// The media type of problem bodies.
pub const CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    /// A problem of `code` with `status`.
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("https://leadrelay.dev/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
            required_role: None,
        }
    }

    /// Invalid input: 422 with every field named.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid field(s): {}", fields.join(", "));
        Problem {
            errors,
            ..Problem::new(422, "invalid_field", "Invalid input", detail)
        }
    }

    /// An internal failure: 500 with no details (they go to the log).
    pub fn internal() -> Self {
        Problem::new(
            500,
            "internal",
            "Internal error",
            "something failed on our side; retry later",
        )
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("problems serialize to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_lists_each_field() {
        let p = Problem::invalid(vec![FieldError {
            field: "email".into(),
            code: "invalid_email".into(),
            message: "x".into(),
        }]);
        let v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "invalid_field");
        assert_eq!(v["errors"][0]["field"], "email");
        assert_eq!(v["type"], "https://leadrelay.dev/problems/invalid-field");
        assert!(Problem::internal()
            .to_json()
            .contains("\"code\":\"internal\""));
    }
}
