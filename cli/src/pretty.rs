//! The readable form of a verdict, for a person at a terminal.

use leadrelay_explain::catalogue::{QUOTE_CLOSE, QUOTE_OPEN};
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
    let explanation = match &v.message {
        Some(_) => without_quote(&v.explanation),
        None => &v.explanation,
    };
    let _ = writeln!(out, "what happened  {explanation}");
    let _ = writeln!(out, "what to do     {}", v.remedy);
    out
}

/// The explanation without its closing quote of the provider's message, which the
/// "provider said" line already shows whole.
fn without_quote(explanation: &str) -> &str {
    match explanation.find(QUOTE_OPEN) {
        Some(open) if explanation.ends_with(QUOTE_CLOSE) => &explanation[..open],
        _ => explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrelay_explain::verdict::Outcome;

    #[test]
    fn the_providers_message_is_shown_once() {
        let v = Verdict {
            status: Some(400),
            class: Class::ClientError,
            reason: Some("Bad Request".to_owned()),
            outcome: Outcome::InvalidData,
            retryable: false,
            retry_after_s: None,
            provider_code: None,
            field: None,
            message: Some("Leads from Denmark need a VAT number".to_owned()),
            explanation: format!(
                "A rule in your account refused this registration.{QUOTE_OPEN}Leads from Denmark need a VAT number{QUOTE_CLOSE}"
            ),
            remedy: "Ask your admin.".to_owned(),
        };
        let text = render(&v);
        assert_eq!(text.matches("VAT number").count(), 1, "{text}");
        assert!(
            text.contains("what happened  A rule in your account refused this registration.\n"),
            "{text}"
        );
    }
}
