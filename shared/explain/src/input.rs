//! The JSON input of `leadrelay explain` (see `docs/explain.md`), parsed at the edge.

use crate::answer::{ProviderResponse, TransportError};
use crate::provider::Provider;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

/// One question to the engine: what a provider answered, and optionally what was sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainInput {
    /// Who answered; `None` for an unknown API.
    pub provider: Option<Provider>,
    /// The answer.
    pub response: ProviderResponse,
    /// The data that was sent (field name → value), when known.
    pub request: Option<Map<String, Value>>,
}

/// Why an input could not be used; the message names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    headers: Option<Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    error: Option<TransportError>,
    #[serde(default)]
    request: Option<Map<String, Value>>,
}

impl ExplainInput {
    /// Parses one JSON object of the contract's input shape.
    pub fn from_json(text: &str) -> Result<ExplainInput, InputError> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|e| InputError(describe_json_error(&e)))?;
        ExplainInput::from_raw(raw)
    }

    /// Parses an already-decoded JSON value of the contract's input shape.
    pub fn from_value(value: Value) -> Result<ExplainInput, InputError> {
        let raw: Raw =
            serde_json::from_value(value).map_err(|e| InputError(describe_json_error(&e)))?;
        ExplainInput::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<ExplainInput, InputError> {
        let provider = match raw.provider.as_deref() {
            None | Some("") => None,
            Some(name) => Some(
                name.parse::<Provider>()
                    .map_err(|e| InputError(format!("provider: {e}")))?,
            ),
        };
        let status = match raw.status {
            None => None,
            Some(s @ 100..=999) => Some(u16::try_from(s).map_err(|_| InputError("status: out of range".into()))?),
            Some(s) => {
                return Err(InputError(format!(
                    "status: {s} is not an HTTP status (expected 100-999, or null when no response came back)"
                )))
            }
        };
        if status.is_none() && raw.error.is_none() {
            return Err(InputError(
                "status is null but error is missing: give the HTTP status, or an error {\"kind\": \"timeout\"|\"connect\"|\"dns\"|\"tls\"|\"reset\"|\"body\"}".into(),
            ));
        }
        let headers = match raw.headers {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| header_value(&k, v).map(|v| (k, v)))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(InputError(
                    "headers: expected an object of name → value".into(),
                ))
            }
        };
        let body = match (raw.body, raw.body_base64) {
            (None | Some(Value::Null), Some(encoded)) => {
                decode_base64(&encoded).ok_or_else(|| {
                    InputError(
                        "body_base64: not valid base64 (the standard alphabet, padding optional)"
                            .into(),
                    )
                })?
            }
            (Some(_), Some(_)) => {
                return Err(InputError(
                    "body and body_base64 are both given: give the body once".into(),
                ))
            }
            (body, None) => match body {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => s.into_bytes(),
                // A body given as JSON rather than as text: accept it as its serialisation.
                Some(v @ (Value::Object(_) | Value::Array(_))) => v.to_string().into_bytes(),
                Some(_) => {
                    return Err(InputError(
                        "body: expected the raw response body as a string".into(),
                    ))
                }
            },
        };
        Ok(ExplainInput {
            provider,
            response: ProviderResponse {
                status,
                headers,
                body,
                error: if status.is_none() { raw.error } else { None },
            },
            request: raw.request,
        })
    }
}

fn header_value(name: &str, v: Value) -> Result<String, InputError> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(items) => Ok(items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", ")),
        _ => Err(InputError(format!("headers.{name}: expected a string"))),
    }
}

/// Decodes standard base64 (RFC 4648 §4), with or without padding, ignoring whitespace:
/// the body's bytes exactly as they arrived, for a body that is not UTF-8.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let digits = digits
        .strip_suffix(b"==")
        .or_else(|| digits.strip_suffix(b"="))
        .unwrap_or(&digits);
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            bits |= sextet(c)? << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        format!(
            "{text} (expected keys: provider, status, headers, body, body_base64, error, request)"
        )
    } else if e.is_syntax() || e.is_eof() {
        format!("input is not valid JSON: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::TransportErrorKind;

    #[test]
    fn the_contract_example_parses() {
        let input = ExplainInput::from_json(
            r#"{"provider":"mailchimp","status":400,"headers":{"Retry-After":"30"},"body":"{}","error":null}"#,
        )
        .unwrap();
        assert_eq!(input.provider, Some(Provider::Mailchimp));
        assert_eq!(input.response.status, Some(400));
        assert_eq!(
            input.response.headers,
            vec![("Retry-After".to_owned(), "30".to_owned())]
        );
    }

    #[test]
    fn no_response_needs_an_error_kind() {
        let input = ExplainInput::from_json(
            r#"{"status":null,"error":{"kind":"timeout","message":"10s"}}"#,
        )
        .unwrap();
        assert_eq!(
            input.response.error.map(|e| e.kind),
            Some(TransportErrorKind::Timeout)
        );
        let err = ExplainInput::from_json(r#"{"status":null}"#).unwrap_err();
        assert!(err.0.contains("error"), "{err}");
    }

    #[test]
    fn a_body_in_base64_carries_bytes_that_are_not_utf8() {
        // "refus\xe9" in ISO-8859-1, and the same without padding or with a line break.
        for encoded in ["cmVmdXPp", "cmVm\ndXPp", "YQ==", "YQ"] {
            let input = ExplainInput::from_json(&format!(
                r#"{{"status":400,"body_base64":"{}"}}"#,
                encoded.replace('\n', "\\n")
            ))
            .unwrap();
            let want: &[u8] = if encoded.starts_with('Y') {
                b"a"
            } else {
                b"refus\xe9"
            };
            assert_eq!(input.response.body, want, "{encoded}");
        }
        for bad in [
            r#"{"status":400,"body_base64":"cmVmd*Pp"}"#,
            r#"{"status":400,"body_base64":"cmVmd"}"#,
            r#"{"status":400,"body":"x","body_base64":"eA=="}"#,
        ] {
            let err = ExplainInput::from_json(bad).unwrap_err();
            assert!(err.0.contains("body"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_inputs_name_the_key() {
        for (text, key) in [
            (r#"{"provider":"mailchump","status":400}"#, "provider"),
            (r#"{"status":42}"#, "status"),
            (r#"{"status":400,"headers":[1]}"#, "headers"),
            (r#"{"status":400,"body":5}"#, "body"),
            (r#"{"status":400,"bogus":1}"#, "bogus"),
            (r#"{"status":400"#, "JSON"),
            (r#"{"status":null,"error":{"kind":"lost"}}"#, "lost"),
        ] {
            let err = ExplainInput::from_json(text).unwrap_err();
            assert!(err.0.contains(key), "{text}: {err}");
        }
    }
}
