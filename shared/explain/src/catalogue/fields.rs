//! The texts for a field's value: an invalid email address, a required field missing, a
//! value too long, not an allowed option, in the wrong format, or a field that does not
//! exist; and the pre-flight refusals, which say the same before anything is sent.

use super::{Cause, Context};
use crate::email::EmailIssue;
use crate::provider::Provider;
use std::fmt::Write;

/// The explanation and remedy for a field-value cause.
pub(super) fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let field = cx.the_field();
    let said = cx.said();
    match cause {
        Cause::InvalidEmail => match cx.email_issue {
            Some(issue) => (
                format!("{who} refused this registration because {issue}."),
                match issue.suggestion() {
                    Some(hint) => format!("Correct the email address in this registration and resend it. {hint}"),
                    None => "Correct the email address in this registration and resend it.".to_owned(),
                },
            ),
            None => (
                format!("{who} rejected the email address as invalid.{said}"),
                "Check the address for typos, spaces or accented letters, correct it and resend the registration.".to_owned(),
            ),
        },
        Cause::RequiredField => match cx.field {
            Some(_) => (
                format!("{who} requires {field}, and it was empty or missing.{said}"),
                format!("Make sure the campaign collects {field} and that the integration's field mapping sends it, then resend."),
            ),
            None => (
                format!("{who} refused the registration because a value it requires was empty or missing.{said}"),
                format!("Make sure the campaign collects every field {who_l} requires and that the integration's field mapping sends them, then resend."),
            ),
        },
        Cause::ValueTooLong => (
            format!("{who} refused {field} because the value is too long.{said}"),
            format!("Shorten the value, or map it to a field in {who_l} that allows longer text, then resend."),
        ),
        Cause::InvalidValue => (
            format!("{who} refused the value of {field}: it is not in a format or list of options that {who_l} accepts.{said}"),
            format!("Compare the campaign's answer options with the allowed values of {field} in {who_l}, adjust the field mapping or the options, then resend."),
        ),
        Cause::UnknownField => (
            format!("{who} does not know {field}: it does not exist in the list, form or object the integration writes to.{said}"),
            format!("Create the field in {who_l}, or remove it from the integration's field mapping, then resend."),
        ),
        Cause::NotAnOption => (
            format!("{who} refused the value of {field}: it is not one of the options the field allows.{said}"),
            format!("Compare the campaign's answer options with the allowed values of {field} in {who_l}, adjust the field mapping or the options, then resend."),
        ),
        Cause::InvalidFormat => (
            format!("{who} refused the value of {field}: it is not in the format the field expects.{said}"),
            format!("Correct the value of {field} in this registration to the format {who_l} expects, then resend."),
        ),
        _ => unreachable!("not a field cause: {cause:?}"),
    }
}

/// Who would refuse pre-flight, as a sentence: "Mailchimp would refuse it.", or, for a
/// webhook or an unknown API whose rules leadrelay cannot know, what most services do.
fn would_refuse(provider: Option<Provider>) -> String {
    match provider {
        Some(Provider::Webhook) | None => "Most email services refuse such an address.".to_owned(),
        Some(p) => format!("{} would refuse it.", p.display_name()),
    }
}

/// The explanation of a pre-flight refusal for an email issue, with its remedy.
pub fn render_preflight_email(provider: Option<Provider>, issue: &EmailIssue) -> (String, String) {
    let mut remedy = "Correct the email address in this registration and resend it.".to_owned();
    if let Some(hint) = issue.suggestion() {
        let _ = write!(remedy, " {hint}");
    }
    (
        format!("Not sent: {issue}. {}", would_refuse(provider)),
        remedy,
    )
}

/// The explanation of a pre-flight refusal for an email value that is not text at all
/// (`found`: "a number", "a list of values", ...), with its remedy.
pub fn render_preflight_email_not_text(
    provider: Option<Provider>,
    found: &str,
) -> (String, String) {
    (
        format!(
            "Not sent: the email address is {found} instead of text. {}",
            would_refuse(provider)
        ),
        "Check the integration's field mapping: the email field must receive the email address the person entered. Then resend.".to_owned(),
    )
}

/// The explanation of a pre-flight refusal for a required field that is missing or empty,
/// with its remedy. `alternatives` are other fields the provider accepts in its place.
pub fn render_preflight_missing(
    provider: Option<Provider>,
    field: &str,
    alternatives: &[&str],
) -> (String, String) {
    let cx = Context {
        provider,
        field: Some(field),
        ..Context::default()
    };
    let the_field = cx.the_field();
    let instead = if alternatives.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = alternatives.iter().map(|a| format!("\"{a}\"")).collect();
        format!(" (or {})", names.join(" or "))
    };
    (
        format!(
            "Not sent: {} requires {the_field}{instead}, and this registration has none.",
            cx.who()
        ),
        format!(
            "Make sure the campaign collects {the_field} and that the integration's field mapping sends it, then resend."
        ),
    )
}

/// The explanation of a pre-flight refusal for a value longer than the provider accepts
/// in that field, with its remedy.
pub fn render_preflight_too_long(
    provider: Option<Provider>,
    field: &str,
    chars: usize,
    max: usize,
) -> (String, String) {
    let cx = Context {
        provider,
        field: Some(field),
        ..Context::default()
    };
    (
        format!(
            "Not sent: {} is {chars} characters long, and {} accepts at most {max} there.",
            cx.the_field(),
            cx.who_lower()
        ),
        format!(
            "Shorten the value in this registration, or map it to a field in {} that allows longer text, then resend.",
            cx.who_lower()
        ),
    )
}

/// The explanation of a pre-flight refusal for a list or group of values where the
/// provider takes a single one (`found`: "a list of values", "a group of values"), with
/// its remedy.
pub fn render_preflight_not_single_value(
    provider: Option<Provider>,
    field: &str,
    found: &str,
) -> (String, String) {
    let cx = Context {
        provider,
        field: Some(field),
        ..Context::default()
    };
    let the_field = cx.the_field();
    (
        format!(
            "Not sent: {the_field} holds {found}, but {} takes a single value there (text, a number or yes/no).",
            cx.who_lower()
        ),
        format!(
            "Change the integration's field mapping so that {the_field} receives a single value (several answers can be joined into one text), then resend."
        ),
    )
}
