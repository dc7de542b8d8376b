//! The readable form of a verdict, for a person at a terminal.

use leadrelay_explain::verdict::{Class, Verdict};
use std::fmt::Write;

/// Renders a verdict as a short block of labelled lines.
pub fn render(v: &Verdict) -> String {
    let mut out = String::new();
    let head = match (v.status, v.reason.as_deref()) {
        (Some(s), Some(r)) => format!("{s} {r}"),
        (Some(s), None) => s.to_string(),
        (None, _) if v.class == Class::NotSent => "not sent".to_owned(),
        (None, _) => "no response".to_owned(),
    };
    let retry = match (v.retryable, v.retry_after_s) {
        (true, Some(s)) => format!("retried after {s} s"),
        (true, None) => "retried automatically".to_owned(),
        (false, _) => "not retried".to_owned(),
    };
    let _ = writeln!(
        out,
        "{head} ({}) · {} · {retry}",
        v.class.as_str(),
        v.outcome.as_str().replace('_', " ")
    );
    if let Some(code) = &v.provider_code {
        let _ = writeln!(out, "provider code  {code}");
    }
    if let Some(field) = &v.field {
        let _ = writeln!(out, "field          {field}");
    }
    if let Some(message) = &v.message {
        let _ = writeln!(out, "provider said  {message}");
    }
    let _ = writeln!(out, "what happened  {}", v.explanation);
    let _ = writeln!(out, "what to do     {}", v.remedy);
    out
}
