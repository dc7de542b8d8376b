//! The texts for a field's value: an invalid email address, a required field missing, a
//! value too long, not an allowed option, in the wrong format, or a field that does not
//! exist; and the pre-flight refusals, which say the same before anything is sent.

use super::{Cause, Context};
use crate::email::EmailIssue;
use crate::explain::field;
use crate::provider::Provider;
use std::fmt::Write;

/// The explanation and remedy for a field-value cause.
pub(super) fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let (mut explanation, remedy) = render_first(cause, cx);
    // Every field the provider named: the text is about the first, the others are named.
    let one_text_names_all = matches!(cause, Cause::RequiredField | Cause::UnknownField);
    if !one_text_names_all && cx.fields.len() > 1 {
        let others = &cx.fields[1..];
        let noun = if others.len() == 1 { "field" } else { "fields" };
        let _ = write!(
            explanation,
            " It also refused the {} {noun}.",
            quoted_names(others)
        );
    }
    (explanation, remedy)
}

/// The explanation and remedy about the first field at fault.
fn render_first(cause: Cause, cx: &Context<'_>) -> (String, String) {
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
        Cause::RequiredField => required(cx),
        // Without a field, a 413 is about the whole request, not one value.
        Cause::ValueTooLong if cx.field.is_none() && cx.status == Some(413) => (
            format!("{who} refused the registration because the request as a whole was larger than it accepts ({}).", cx.status_text()),
            match cx.provider {
                Some(Provider::Webhook) | None => "Ask whoever runs the endpoint to accept larger requests, or send fewer or shorter fields (the field mapping), then resend.".to_owned(),
                Some(_) => "Send fewer or shorter fields (remove long answers from the integration's field mapping), then resend.".to_owned(),
            },
        ),
        Cause::ValueTooLong => match cx.message.and_then(field::max_length) {
            Some(max) => (
                format!("{who} refused {field} because the value is too long: it takes at most {max} characters."),
                format!("Shorten the value to {max} characters or fewer, or map it to a field in {who_l} that allows longer text, then resend."),
            ),
            None => (
                format!("{who} refused {field} because the value is too long.{said}"),
                format!("Shorten the value, or map it to a field in {who_l} that allows longer text, then resend."),
            ),
        },
        Cause::InvalidValue => (
            match cx.field {
                Some(_) => format!("{who} refused the value of {field} as not valid.{said}"),
                None => format!("{who} refused a value in this registration as not valid.{said}"),
            },
            format!("Check what {who_l} accepts in {field}, correct the value or the integration's field mapping, then resend."),
        ),
        Cause::UnknownField => unknown_field(cx),
        Cause::NotAnOption => not_an_option(cx),
        Cause::InvalidFormat => invalid_format(cx),
        _ => unreachable!("not a field cause: {cause:?}"),
    }
}

/// How many names or values a text lists before it says "and N more".
const LISTED_IN_TEXT: usize = 4;
/// The room a list of allowed values may take in a text, in characters.
const LIST_BUDGET: usize = 110;

/// `"LastName"`, `"LastName" and "Company"`, `"A", "B", "C" and 4 more`.
fn quoted_names(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(LISTED_IN_TEXT)
        .map(|n| format!("\"{}\"", short(n, 40)))
        .collect();
    let more = names.len().saturating_sub(shown.len());
    match (shown.as_slice(), more) {
        ([], _) => String::new(),
        ([one], 0) => one.clone(),
        (all, 0) => {
            let (last, rest) = all.split_last().unwrap_or((&all[0], &[]));
            format!("{} and {last}", rest.join(", "))
        }
        (all, n) => format!("{} and {n} more", all.join(", ")),
    }
}

/// The allowed values as a marketer reads them: `a, b, c`, cut to [`LIST_BUDGET`] with
/// "and 12 more".
fn value_list(values: &[String]) -> String {
    // Values that hold commas themselves ("5,000 - 10,000") are separated by semicolons.
    let separator = if values.iter().any(|v| v.contains(',')) {
        "; "
    } else {
        ", "
    };
    let mut out = String::new();
    let mut shown = 0;
    for v in values {
        let v = short(v, 40);
        if shown > 0 && out.chars().count() + v.chars().count() + 2 > LIST_BUDGET {
            break;
        }
        if shown > 0 {
            out.push_str(separator);
        }
        out.push_str(&v);
        shown += 1;
    }
    let more = values.len() - shown;
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out
}

/// A value cut to `max` characters on a character boundary, marked with an ellipsis.
fn short(value: &str, max: usize) -> String {
    let one_line: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max).collect();
    cut.push('…');
    cut
}

/// The fields the provider named: `cx.fields`, or the one field.
fn named_fields(cx: &Context<'_>) -> Vec<String> {
    if cx.fields.is_empty() {
        cx.field.iter().map(|f| (*f).to_owned()).collect()
    } else {
        cx.fields.to_vec()
    }
}

/// A required field (or several) was empty or missing: every one the provider named.
fn required(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let names = named_fields(cx);
    match names.as_slice() {
        [] => (
            format!("{who} refused the registration because a value it requires was empty or missing.{}", cx.said()),
            format!("Make sure the campaign collects every field {who_l} requires and that the integration's field mapping sends them, then resend."),
        ),
        [_] => {
            let field = cx.the_field();
            (
                format!("{who} requires {field}, and this registration had no value for it."),
                format!("Make sure the campaign collects {field} and that the integration's field mapping sends it, then resend."),
            )
        }
        several if several.len() <= LISTED_IN_TEXT => (
            format!("{who} requires the {} fields, and this registration had no value for them.", quoted_names(several)),
            "Make sure the campaign collects these fields and that the integration's field mapping sends them, then resend.".to_owned(),
        ),
        many => (
            format!("{who} requires {} fields that this registration had no value for, among them {}.", many.len(), quoted_names(&many[..LISTED_IN_TEXT])),
            format!("Compare the integration's field mapping with the required fields in {who_l}: the campaign must collect them and the mapping send them. Then resend."),
        ),
    }
}

/// A field the provider does not have: named, with the close spelling when there is one.
fn unknown_field(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let names = named_fields(cx);
    let Some(first) = names.first() else {
        return (
            format!("{who} refused the registration because the integration sends a field it does not have.{}", cx.said()),
            format!("Check the integration's field mapping against the fields in {who_l}: correct or remove the field it does not know, then resend."),
        );
    };
    let listed: Vec<&str> = cx.allowed.iter().map(String::as_str).collect();
    let candidates = if listed.is_empty() {
        field::known_fields(cx.provider)
    } else {
        &listed[..]
    };
    let suggestion = field::closest(first, candidates);
    let where_ = if cx.provider == Some(Provider::HubspotForms) {
        "The HubSpot form".to_owned()
    } else {
        who.to_owned()
    };
    let explanation = match (names.len(), suggestion) {
        (1, Some(s)) => format!("{where_} has no field called \"{}\"; it has one called \"{s}\", which is probably what was meant.", short(first, 60)),
        (1, None) => format!("{where_} has no field called \"{}\", so it refused the registration.", short(first, 60)),
        _ => format!("{where_} has no fields called {}, so it refused the registration.", quoted_names(&names)),
    };
    let remedy = match suggestion {
        Some(s) if names.len() == 1 => format!("In the integration's field mapping, change \"{}\" to \"{s}\", then resend.", short(first, 60)),
        _ if cx.provider == Some(Provider::HubspotForms) => "Add the field to the form in HubSpot, or remove it from the integration's field mapping, then resend.".to_owned(),
        _ if !listed.is_empty() => format!("In the integration's field mapping, use one of the fields {who_l} lists ({}) or remove the field, then resend.", value_list(cx.allowed)),
        _ if names.len() > 1 => format!("Correct the names in the integration's field mapping or remove the fields; to keep them, create the fields in {who_l} first. Then resend."),
        _ => format!("Correct the name in the integration's field mapping or remove the field; to keep it, create the field in {who_l} first. Then resend."),
    };
    (explanation, remedy)
}

/// The value that was refused, as `"Maybe later" for the "x" field` or `the value of the
/// "x" field`.
fn refused(cx: &Context<'_>) -> String {
    let field = cx.the_field();
    match cx.message.and_then(field::refused_value) {
        Some(value) if cx.field.is_some() => format!("\"{}\" for {field}", short(&value, 40)),
        Some(value) => format!("the value \"{}\"", short(&value, 40)),
        None => format!("the value of {field}"),
    }
}

/// A value that is not one of the field's options: the allowed values, listed.
fn not_an_option(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let field = cx.the_field();
    let what = refused(cx);
    if cx.allowed.is_empty() {
        return (
            format!("{who} refused {what}: it is not one of the options the field allows."),
            format!("Compare the campaign's answer options with the options of {field} in {who_l}, make them match (or map each answer to an option), then resend."),
        );
    }
    (
        format!("{who} refused {what}: it is not one of the field's options. Allowed values: {}.", value_list(cx.allowed)),
        "Make the campaign's answer options match these values, or map each answer to one of them in the integration's field mapping, then resend.".to_owned(),
    )
}

/// A value in the wrong format: the format the provider expects, in words.
fn invalid_format(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let what = refused(cx);
    let value_known = cx.message.and_then(field::refused_value).is_some();
    let format = cx
        .format
        .or_else(|| cx.field.and_then(|f| field::usual_format(cx.provider, f)));
    match format {
        Some(format) => (
            format!("{who} refused {what}: it expects {format}."),
            "Correct the value in this registration to that format and resend. If the campaign asks for it in another form, change the question or the field mapping to match.".to_owned(),
        ),
        None => (
            format!(
                "{who} refused {what}: it is not the kind of value the field takes (for example text where a number or date is expected).{}",
                if value_known || cx.field.is_some() {
                    String::new()
                } else {
                    cx.said()
                }
            ),
            format!("Correct the value in this registration to the format {who_l} expects for this field, then resend."),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn names_are_joined_and_long_lists_cut() {
        assert_eq!(quoted_names(&strings(&["LastName"])), "\"LastName\"");
        assert_eq!(
            quoted_names(&strings(&["LastName", "Company"])),
            "\"LastName\" and \"Company\""
        );
        assert_eq!(
            quoted_names(&strings(&["a", "b", "c", "d", "e", "f"])),
            "\"a\", \"b\", \"c\", \"d\" and 2 more"
        );
    }

    #[test]
    fn allowed_values_fit_their_budget_and_say_how_many_are_left() {
        assert_eq!(value_list(&strings(&["yes", "no"])), "yes, no");
        let many: Vec<String> = (0..40).map(|i| format!("option_{i:02}")).collect();
        let listed = value_list(&many);
        assert!(listed.ends_with(" more"), "{listed}");
        assert!(listed.chars().count() <= LIST_BUDGET + 20, "{listed}");
        assert_eq!(
            value_list(&strings(&["5,000 - 10,000", "10,000+"])),
            "5,000 - 10,000; 10,000+"
        );
    }

    #[test]
    fn an_unknown_field_gets_the_close_spelling_and_a_mapping_remedy() {
        let fields = strings(&["emailadress1"]);
        let cx = Context {
            provider: Some(Provider::Dynamics),
            field: Some("emailadress1"),
            fields: &fields,
            ..Context::default()
        };
        let (explanation, remedy) = render(Cause::UnknownField, &cx);
        assert!(explanation.contains("\"emailaddress1\""), "{explanation}");
        assert_eq!(
            remedy,
            "In the integration's field mapping, change \"emailadress1\" to \"emailaddress1\", then resend."
        );
    }

    #[test]
    fn an_option_dump_is_never_shown_only_the_values() {
        let allowed = strings(&["yes", "no"]);
        let fields = strings(&["newsletter_opt_in"]);
        let cx = Context {
            provider: Some(Provider::Hubspot),
            field: Some("newsletter_opt_in"),
            fields: &fields,
            allowed: &allowed,
            message: Some("Maybe was not one of the allowed options: [label: \"Yes\"\nvalue: \"yes\"\ndisplay_order: 0\nhidden: false\n]"),
            ..Context::default()
        };
        let (explanation, _) = render(Cause::NotAnOption, &cx);
        assert_eq!(
            explanation,
            "HubSpot refused \"Maybe\" for the \"newsletter_opt_in\" field: it is not one of the field's options. Allowed values: yes, no."
        );
    }

    #[test]
    fn a_format_error_says_the_format_even_when_the_answer_does_not() {
        let cx = Context {
            provider: Some(Provider::Klaviyo),
            field: Some("phone_number"),
            ..Context::default()
        };
        let (explanation, _) = render(Cause::InvalidFormat, &cx);
        assert!(explanation.contains("+4512345678"), "{explanation}");
        assert!(explanation.chars().count() <= 300);
    }
}
