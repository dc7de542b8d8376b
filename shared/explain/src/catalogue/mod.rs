//! Every explanation and remedy leadrelay shows a marketer, in one place.
//!
//! Texts are chosen by [`Cause`] and filled in from a [`Context`]: the provider's name,
//! the field at fault, the offending value, the wait before the next try. Review wording
//! here; the classifier only decides which cause applies.

use crate::answer::TransportErrorKind;
use crate::email::EmailIssue;
use crate::provider::{AuthKind, Provider};
mod fields;
mod gateways;

pub use fields::{
    render_preflight_email, render_preflight_email_not_text, render_preflight_missing,
    render_preflight_not_single_value, render_preflight_too_long,
};

/// Why an attempt came out the way it did: the key into the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The provider stored the data.
    Delivered,
    /// The provider queued the data for processing (202, an import job).
    Accepted,
    /// A 2xx answer whose body reports that the data was not taken.
    FailedDespiteSuccessStatus,
    /// The contact already exists; nothing was lost.
    ContactExists,
    /// The provider already held exactly the values sent, so the update changed nothing
    /// (Mailjet's 304 Not Modified).
    Unchanged,
    /// The contact unsubscribed, bounced, complained, or is in a compliance state.
    Unsubscribed,
    /// The contact was permanently deleted (forgotten) at the provider, which refuses to
    /// add the address back.
    Forgotten,
    /// The person signed up but has not confirmed yet (double opt-in pending).
    Unconfirmed,
    /// The address is on a block list or looks fake to the provider.
    EmailBlocked,
    /// The form refuses addresses from this email domain (a setting of the form).
    EmailDomainBlocked,
    /// The provider temporarily refuses this address because it signed up to many lists
    /// in a short time (an anti-abuse measure).
    SignupsThrottled,
    /// The address was rejected as invalid.
    InvalidEmail,
    /// A required field was empty or missing.
    RequiredField,
    /// A value was too long for the field.
    ValueTooLong,
    /// A value is not one of the field's allowed options, or has the wrong type or format.
    InvalidValue,
    /// The field does not exist in the provider's list, form or object.
    UnknownField,
    /// Consent was missing or in a form the provider does not accept.
    ConsentMissing,
    /// A rule set up in the customer's own account (a validation rule, a plug-in, a flow)
    /// refused the record.
    BusinessRule,
    /// The key value matched several existing records, so none was updated.
    AmbiguousMatch,
    /// The request itself was malformed (bad JSON, wrong method, too large).
    MalformedRequest,
    /// The data was refused without a more precise reason.
    InvalidData,
    /// The API key or token is missing, wrong or revoked.
    BadCredentials,
    /// The token or session expired.
    ExpiredCredentials,
    /// The OAuth app the integration signs in through (Salesforce's connected app) was
    /// not accepted: its client id or secret is wrong, or the app is gone.
    AppCredentials,
    /// The credentials lack a permission or scope.
    MissingPermission,
    /// The account is disabled, suspended or under review.
    AccountDisabled,
    /// The key belongs to another data center or region than the URL.
    WrongDatacenter,
    /// The key is valid, but the account only accepts requests from listed IP addresses.
    IpNotAllowed,
    /// The account's plan, credits or storage do not allow more data.
    PlanLimit,
    /// The form is protected by a CAPTCHA, which an API submission cannot pass.
    FormCaptcha,
    /// The list, audience, form or record does not exist.
    ResourceNotFound,
    /// The URL or endpoint does not exist (or the method is not allowed there).
    EndpointNotFound,
    /// Too many requests in a short window.
    RateLimited,
    /// A daily (or longer) quota is used up.
    QuotaExhausted,
    /// A record or account was temporarily locked or being migrated.
    Locked,
    /// The provider failed while handling the request.
    ServerError,
    /// The provider is down or overloaded (502, 503, maintenance).
    Unavailable,
    /// A gateway or proxy in front of the provider timed out (504, 522, 524).
    GatewayTimeout,
    /// No answer within leadrelay's time limit.
    Timeout,
    /// The destination's name does not resolve.
    Dns,
    /// The connection was refused or could not be made.
    Connect,
    /// The secure (TLS) connection failed: certificate or handshake.
    Tls,
    /// The connection dropped mid-way, or the body could not be read.
    Reset,
    /// A redirect, which leadrelay does not follow for API calls.
    Redirect,
    /// An interim (1xx) answer with no final one.
    Informational,
    /// A value is not one of the options the field allows (a dropdown, radio or
    /// picklist value).
    NotAnOption,
    /// A value is not in the format the field expects (a phone number, a date, a number).
    InvalidFormat,
    /// A security check in front of the provider (a CDN's or web firewall's block page,
    /// such as Cloudflare's "Sorry, you have been blocked" or Akamai's "Access Denied")
    /// stopped the request before it reached the provider's API.
    SecurityCheck,
    /// The provider's CDN could not make a secure connection to the provider's own
    /// server (Cloudflare 525, 526, 527): a certificate or origin fault on their side.
    OriginCertificate,
    /// A sign-in page came back instead of an API answer: the request never reached the
    /// API as an authenticated call.
    SignInPage,
    /// A check in front of the provider that a browser passes and leadrelay cannot (a
    /// JavaScript challenge or CAPTCHA such as Cloudflare's "Just a moment..."): usually
    /// lifted after a while, unlike a firewall's outright block ([`Cause::SecurityCheck`]).
    SecurityChallenge,
    /// The provider added the person, who must still confirm by the link in its
    /// confirmation email (double opt-in): Mailchimp's member status `pending`.
    AwaitingConfirmation,
    /// Anything else.
    Unknown,
}

/// What the catalogue may mention when it fills in a text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Who answered; `None` for an unknown API.
    pub provider: Option<Provider>,
    /// The HTTP status, if any.
    pub status: Option<u16>,
    /// Its reason phrase.
    pub reason: Option<&'a str>,
    /// The field at fault, normalised.
    pub field: Option<&'a str>,
    /// The provider's own message.
    pub message: Option<&'a str>,
    /// The offending email value, when the request was known.
    pub email_issue: Option<&'a EmailIssue>,
    /// Seconds until the next try may succeed, if stated.
    pub retry_after_s: Option<u64>,
    /// How the request failed without a response.
    pub transport: Option<TransportErrorKind>,
    /// Every field the provider named, in its order (the first is `field`), normalised.
    pub fields: &'a [String],
    /// The values (or field names) the provider listed as allowed.
    pub allowed: &'a [String],
    /// The format the provider expects for the field, in words ("E.164, such as
    /// +4512345678"; "YYYY-MM-DD").
    pub format: Option<&'a str>,
    /// The permission (privilege, scope) the provider said is missing, as it named it.
    pub permission: Option<&'a str>,
}

impl Context<'_> {
    /// The provider's name at the start of a sentence.
    fn who(&self) -> &'static str {
        match self.provider {
            None => "The receiving system",
            Some(Provider::Webhook) => "Your webhook",
            Some(p) => p.display_name(),
        }
    }

    fn who_lower(&self) -> &'static str {
        match self.provider {
            None => "the receiving system",
            Some(Provider::Webhook) => "your webhook",
            Some(p) => p.display_name(),
        }
    }

    /// `the "FNAME" field` or `a field`.
    fn the_field(&self) -> String {
        match self.field {
            Some(f) if is_email_field(f) => "the email address".to_owned(),
            Some(f) => format!("the \"{f}\" field"),
            None => "a field".to_owned(),
        }
    }

    /// A short, clean quote of the provider's message, or nothing when the message is
    /// markup, mojibake, ids, a data dump or jargon. Only causes whose explanation
    /// leaves something open use it; [`render`] drops it again when the explanation
    /// already says what it says.
    fn said(&self) -> String {
        match self.message.and_then(quotable) {
            Some(q) => format!("{QUOTE_OPEN}{q}{QUOTE_CLOSE}"),
            None => String::new(),
        }
    }

    /// When leadrelay's next try happens: the wait the answer states (never sooner than
    /// the schedule's first wait, never later than the longest wait honoured), or the
    /// schedule's first wait.
    fn when_retry(&self) -> String {
        match self.retry_after_s {
            Some(s) if s > MAX_HONOURED_WAIT_S => {
                format!("in about {}", human_duration(MAX_HONOURED_WAIT_S))
            }
            Some(s) if s >= FIRST_RETRY_S => format!("in {}", human_duration(s)),
            Some(0) | None => format!("in about {}", human_duration(FIRST_RETRY_S)),
            Some(s) => format!(
                "in about {} (the wait asked for was {})",
                human_duration(FIRST_RETRY_S),
                human_duration(s)
            ),
        }
    }

    fn status_text(&self) -> String {
        match (self.status, self.reason) {
            (Some(s), Some(r)) => format!("{s} {r}"),
            (Some(s), None) => s.to_string(),
            _ => "no response".to_owned(),
        }
    }

    /// Is the answer from the customer's own endpoint or an API leadrelay does not know?
    fn is_endpoint(&self) -> bool {
        matches!(self.provider, None | Some(Provider::Webhook))
    }

    /// What a resend does to the contact, as a sentence (empty when nothing is known).
    fn resend_note(&self) -> &'static str {
        match self.provider {
            Some(Provider::Webhook) => " Your webhook may receive it twice unless it skips repeats with the same webhook id.",
            Some(Provider::HubspotForms) => " HubSpot may then record the form submission twice.",
            Some(p) if p.resend_keeps_one_contact() => " Sending again is safe: leadrelay updates the contact rather than creating a second one.",
            _ => "",
        }
    }

    /// What the integration needs to be allowed to do, in words: from the permission the
    /// provider named, or what the integration does at that provider.
    fn action(&self) -> String {
        if let Some(words) = self.permission.and_then(permission_words) {
            return words;
        }
        match self.provider {
            Some(Provider::Mailchimp) => "add contacts to the audience",
            Some(Provider::Salesforce) => "create and edit the records the integration writes",
            Some(Provider::Dynamics) => "create and update leads or contacts",
            Some(Provider::Klaviyo) => "create and update profiles",
            _ => "create and update contacts",
        }
        .to_owned()
    }
}

/// The first wait of leadrelay's default retry schedule, in seconds (`RetrySchedule` in
/// the `leadrelay` crate; a test there keeps the two equal).
pub const FIRST_RETRY_S: u64 = 30;
/// The longest wait a provider may ask for that leadrelay honours, in seconds.
pub const MAX_HONOURED_WAIT_S: u64 = 6 * 3600;

/// Is this the name some provider uses for the email field? (Dataverse's primary email
/// column is `emailaddress1`.)
pub fn is_email_field(field: &str) -> bool {
    let f: String = field.chars().filter(|c| *c != '_' && *c != '-').collect();
    f.eq_ignore_ascii_case("email")
        || f.eq_ignore_ascii_case("emailaddress")
        || f.eq_ignore_ascii_case("emailaddress1")
}

/// What opens the provider's own message where an explanation quotes it.
pub const QUOTE_OPEN: &str = " It said: \"";
/// What closes it.
pub const QUOTE_CLOSE: &str = "\".";

/// The longest quote of a provider's message, in characters.
const MAX_QUOTE: usize = 120;

/// The provider's message made fit to quote: one line, its first sentences up to
/// [`MAX_QUOTE`], cut at a word; `None` when it holds nothing a marketer can use.
fn quotable(message: &str) -> Option<String> {
    // Only the opening can be quoted: read no further than a few quotes' length.
    let mut flat = String::with_capacity(message.len().min(8 * MAX_QUOTE));
    for word in message.split_whitespace() {
        if flat.len() >= 4 * MAX_QUOTE {
            break;
        }
        if !flat.is_empty() {
            flat.push(' ');
        }
        flat.push_str(word);
    }
    if flat.contains('\u{FFFD}') || has_markup(&flat) {
        return None;
    }
    let flat = before_dump(&flat);
    if flat.contains('{') || flat.contains('"') {
        return None;
    }
    let text = first_sentences(without_boilerplate(flat), MAX_QUOTE);
    let text = text.trim_end_matches(['.', ' ', ':', ';', ',']);
    let quote = if text.chars().count() > MAX_QUOTE {
        cut_at_word(text, MAX_QUOTE)
    } else {
        text.to_owned()
    };
    let useful = quote.chars().count() >= 8
        && quote.contains(' ')
        && !has_ids(&quote)
        && !is_data_dump(&quote)
        && !has_jargon(&quote);
    useful.then_some(quote)
}

/// The text before the first bracket that opens data (`[{`, `[label: …`, `{"…`), so the
/// words before a dump can still be quoted; a plain list (`[LastName, Company]`) stays.
fn before_dump(text: &str) -> &str {
    let Some(open) = text.find(['[', '{']) else {
        return text;
    };
    let inside = &text[open + 1..];
    let inside = &inside[..inside.find([']', '}']).unwrap_or(inside.len())];
    if text[open..].starts_with('{')
        || inside.contains(':')
        || inside.contains('"')
        || inside.contains('[')
        || inside.contains('{')
    {
        text[..open].trim_end_matches([':', ' ', '(', ','])
    } else {
        text
    }
}

/// The text without opening sentences that say nothing ("A validation error occurred.",
/// "Error in 'fields.email'.").
fn without_boilerplate(mut text: &str) -> &str {
    const EMPTY: [&str; 8] = [
        "a validation error occurred",
        "an error occurred",
        "bad request",
        "validation failed",
        "the request is not valid",
        "the request is invalid",
        "invalid request",
        "error in '",
    ];
    loop {
        let Some(stop) = text.find(". ") else {
            return text;
        };
        let first = text[..stop].to_lowercase();
        if !EMPTY.iter().any(|e| first.starts_with(e)) {
            return text;
        }
        text = text[stop + 2..].trim_start();
    }
}

/// Words a quote may share with its explanation without saying anything new.
const FILLER: [&str; 24] = [
    "please",
    "provide",
    "provided",
    "this",
    "that",
    "with",
    "your",
    "must",
    "should",
    "been",
    "have",
    "does",
    "were",
    "there",
    "requested",
    "resource",
    "found",
    "exist",
    "exists",
    "access",
    "forbidden",
    "denied",
    "missing",
    "required",
];

/// Does the text hold something like an HTML tag?
fn has_markup(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
        || text.contains("&lt;")
        || text.contains("&nbsp;")
}

/// Whole sentences from the start while they fit in `max` characters; the first one
/// alone when even it is longer.
fn first_sentences(text: &str, max: usize) -> &str {
    let mut end = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find(['.', '!', '?']) {
        let stop = from + i + 1;
        let at_end = stop == text.len() || text[stop..].starts_with(' ');
        if at_end {
            if text[..stop].chars().count() > max && end > 0 {
                break;
            }
            end = stop;
            if text[..stop].chars().count() > max {
                break;
            }
        }
        from = stop;
    }
    if end == 0 || text.chars().count() <= max || text[end..].trim().is_empty() {
        text
    } else {
        &text[..end]
    }
}

/// The text cut before `max` characters at the last space, marked with an ellipsis.
fn cut_at_word(text: &str, max: usize) -> String {
    let limit = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let head = &text[..limit];
    let cut = head.rfind(' ').filter(|i| *i > 0).unwrap_or(limit);
    let mut out = head[..cut]
        .trim_end_matches(['.', ',', ';', ':', ' ', '(', '-'])
        .to_owned();
    out.push('…');
    out
}

/// Does the text carry an identifier no marketer reads: a UUID, a long hex or digit run,
/// a record id, `Id=`?
fn has_ids(text: &str) -> bool {
    if text.contains("Id=") || text.contains("id=") || text.contains("ID=") {
        return true;
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|token| {
            let hex = token.chars().filter(char::is_ascii_hexdigit).count();
            let digits = token.chars().filter(char::is_ascii_digit).count();
            let alnum = token.chars().all(|c| c.is_ascii_alphanumeric());
            (token.len() >= 32 && hex + token.matches('-').count() == token.len())
                || (token.len() >= 12 && hex == token.len() && digits > 0)
                || (token.starts_with("0x") && token.len() > 4)
                || digits >= 9
                || (alnum && token.len() >= 15 && digits >= 3 && digits < token.len())
        })
}

/// Does the text read like a dump of data (`label: … display_order: 0 hidden: false`)?
fn is_data_dump(text: &str) -> bool {
    text.matches(": ").count() >= 3
        || text.matches('=').count() >= 2
        || text.contains("display_order")
        || text.contains("hidden: ")
}

/// Does the text lean on words only a developer reads?
fn has_jargon(text: &str) -> bool {
    const WORDS: [&str; 14] = [
        "sobject",
        "hutk",
        "array",
        "json",
        "exception",
        "null",
        "undefined",
        "payload",
        "deserializ",
        "odata",
        "stack trace",
        "content-type",
        "schema",
        "endpoint",
    ];
    const VERBS: [&str; 5] = ["PUT", "POST", "PATCH", "GET", "DELETE"];
    let lower = text.to_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
        || text
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| VERBS.contains(&word))
}

/// Drops the quote from an explanation when the rest of it already says it (its words
/// are there), or when the text would be too long with it.
fn without_needless_quote(explanation: String) -> String {
    let Some(open) = explanation.find(QUOTE_OPEN) else {
        return explanation;
    };
    let (rest, quote) = explanation.split_at(open);
    // Each word of four letters or more (not filler) is known when the rest of the text
    // holds its first five letters, in any case.
    let (mut count, mut known_count, mut names_a_new_thing) = (0, 0, false);
    let words = quote[QUOTE_OPEN.len()..]
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && !FILLER.iter().any(|f| f.eq_ignore_ascii_case(w)));
    for (i, word) in words.enumerate() {
        let stem = &word[..word.char_indices().nth(5).map_or(word.len(), |(at, _)| at)];
        let known = holds_ignoring_case(rest, stem);
        count += 1;
        known_count += usize::from(known);
        names_a_new_thing |= i > 0 && !known && word.chars().any(char::is_uppercase);
    }
    let says_nothing_new = count == 0
        || (known_count * 4 >= count * 3 && !names_a_new_thing)
        || count <= 2 && known_count == count;
    if says_nothing_new || explanation.chars().count() > 300 {
        rest.to_owned()
    } else {
        explanation
    }
}

/// Does `text` hold `word`, ignoring ASCII case?
fn holds_ignoring_case(text: &str, word: &str) -> bool {
    let (t, w) = (text.as_bytes(), word.as_bytes());
    !w.is_empty()
        && t.windows(w.len())
            .any(|window| window.eq_ignore_ascii_case(w))
}

/// A privilege or scope a provider named, in words: `prvCreateLead` → "create leads",
/// `crm.objects.contacts.write` → "create and update contacts", `profiles:write` →
/// "create and update profiles".
pub fn permission_words(raw: &str) -> Option<String> {
    let action = |verb: &str| match verb {
        "write" => Some("create and update"),
        "read" => Some("read"),
        _ => None,
    };
    if let Some(rest) = raw.strip_prefix("prv") {
        const VERBS: [(&str, &str); 8] = [
            ("AppendTo", "link records to"),
            ("Append", "link"),
            ("Create", "create"),
            ("Read", "read"),
            ("Write", "update"),
            ("Delete", "delete"),
            ("Assign", "assign"),
            ("Share", "share"),
        ];
        let (verb, object) = VERBS
            .iter()
            .find_map(|(v, words)| rest.strip_prefix(v).map(|o| (*words, o)))?;
        let object = object.trim_start_matches('_');
        if object.is_empty()
            || !object
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        return Some(format!(
            "{verb} {}",
            plural(&object.replace('_', " ").to_lowercase())
        ));
    }
    let parts: Vec<&str> = raw.split(['.', ':']).collect();
    if parts.len() >= 2 {
        let verb = action(parts[parts.len() - 1])?;
        let object = parts[parts.len() - 2].replace('_', " ");
        if object.is_empty() || !object.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
            return None;
        }
        return Some(format!("{verb} {object}"));
    }
    None
}

fn plural(noun: &str) -> String {
    if noun.ends_with('s') {
        noun.to_owned()
    } else if let Some(stem) = noun.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{noun}s")
    }
}

/// `45 seconds`, `1 minute 30 seconds`, `2 minutes`, `1 hour 30 minutes`, `2 days`.
pub fn human_duration(seconds: u64) -> String {
    fn unit(n: u64, word: &str) -> String {
        format!("{n} {word}{}", if n == 1 { "" } else { "s" })
    }
    fn pair(big: u64, big_word: &str, small: u64, small_word: &str) -> String {
        if small == 0 {
            unit(big, big_word)
        } else {
            format!("{} {}", unit(big, big_word), unit(small, small_word))
        }
    }
    match seconds {
        0..=59 => unit(seconds, "second"),
        60..=3599 => pair(seconds / 60, "minute", seconds % 60, "second"),
        3600..=172_799 => pair(seconds / 3600, "hour", (seconds % 3600) / 60, "minute"),
        _ => unit(seconds / 86_400, "day"),
    }
}

/// The explanation and remedy for a cause, filled in from the context.
pub fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let (explanation, remedy) = render_raw(cause, cx);
    (without_needless_quote(explanation), remedy)
}

fn render_raw(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let field = cx.the_field();
    // Only the causes whose explanation leaves something open quote the provider.
    let said = match cause {
        Cause::ConsentMissing
        | Cause::BusinessRule
        | Cause::InvalidData
        | Cause::AppCredentials
        | Cause::MissingPermission
        | Cause::AccountDisabled
        | Cause::PlanLimit
        | Cause::ResourceNotFound
        | Cause::Unknown => cx.said(),
        _ => String::new(),
    };
    let retry = cx.when_retry();
    let status = cx.status_text();
    let auto = format!("Nothing to do: leadrelay tries again {retry}.");
    let then_sent = "Deliveries that waited are then sent again.";
    match cause {
        Cause::Delivered => (format!("{who} accepted the registration."), "Nothing to do.".to_owned()),
        Cause::Accepted => (
            if cx.is_endpoint() {
                format!("{who} accepted the registration for processing later.")
            } else {
                format!("{who} accepted the registration for processing; it usually appears there within a few minutes.")
            },
            if cx.is_endpoint() {
                "Nothing to do.".to_owned()
            } else {
                format!("Nothing to do. If the contact is not in {who_l} after an hour, contact leadrelay support with this log.")
            },
        ),
        Cause::FailedDespiteSuccessStatus
        | Cause::SecurityCheck
        | Cause::OriginCertificate
        | Cause::SignInPage
        | Cause::SecurityChallenge
        | Cause::AwaitingConfirmation => gateways::render(cause, cx),
        Cause::ContactExists => (
            format!("{who} already has this contact, so it was not created again. Nothing was lost."),
            "Nothing to do. To have new answers update the existing contact, set the integration's existing-contact policy to \"update\".".to_owned(),
        ),
        Cause::Unchanged => (
            format!("{who} already held these values for the contact, so nothing needed to change. Nothing was lost."),
            "Nothing to do.".to_owned(),
        ),
        Cause::Unsubscribed => (
            format!("{who} did not take the contact because this person unsubscribed, bounced or reported spam there, so it may not email them."),
            format!("Nothing to fix in leadrelay: the person must subscribe again themselves, for example through a {who_l} signup form. Resending will not help."),
        ),
        Cause::Forgotten => (
            format!("{who} did not take the contact because this address was permanently deleted there (a privacy request or someone in your account), and it will not add it back."),
            format!("Do not resend. The person must sign up again themselves, for example through a {who_l} signup form."),
        ),
        Cause::Unconfirmed => (
            format!("{who} already has this person waiting to confirm their subscription (double opt-in), so it did not add them again."),
            "Nothing to do: the contact becomes active once the person clicks the link in the confirmation email.".to_owned(),
        ),
        Cause::EmailDomainBlocked => (
            format!("{who} refused the address because the form is set to block addresses from this email domain (for example free email services)."),
            format!("If such addresses are welcome, remove the domain from the form's blocked email domains in {who_l}, then resend."),
        ),
        Cause::SignupsThrottled => (
            format!("{who} is holding back this one address for now because it was signed up to many lists very recently. This is about this person, not your account."),
            format!("Nothing to do: leadrelay tries again {retry}. If it still fails, the person can sign up again later."),
        ),
        Cause::EmailBlocked => (
            format!("{who} refused the email address as fake, disposable or blocked."),
            "Check the address with the person if you can and resend a corrected one; otherwise nothing to do.".to_owned(),
        ),
        Cause::InvalidEmail
        | Cause::RequiredField
        | Cause::ValueTooLong
        | Cause::InvalidValue
        | Cause::UnknownField
        | Cause::NotAnOption
        | Cause::InvalidFormat => fields::render(cause, cx),
        Cause::ConsentMissing => (
            format!("{who} refused the registration because consent was missing or not in the form it expects.{said}"),
            "Check that the campaign asks for consent and that the integration's consent mapping sends it, then resend.".to_owned(),
        ),
        Cause::BusinessRule => (
            format!("A rule set up in your {who_l} account ({}) refused this registration.{said}", match cx.provider {
                Some(Provider::Salesforce) => "a validation rule or flow",
                Some(Provider::Dynamics) => "a plug-in or workflow",
                _ => "a validation rule or automation",
            }),
            format!("Ask your {who_l} admin about this rule, or change what the campaign collects so it passes, then resend."),
        ),
        Cause::AmbiguousMatch => (
            format!("{who} found several existing records for this contact, so it did not know which to update, and nothing was saved."),
            format!("Merge the duplicate records in {who_l}, then resend the registration."),
        ),
        Cause::MalformedRequest => {
            if cx.is_endpoint() {
                (
                    format!("{who} could not read the request leadrelay sent ({status}). leadrelay sends the registration as JSON."),
                    format!("Make sure {who_l} accepts JSON. If it does, contact leadrelay support with this log."),
                )
            } else {
                (
                    format!("{who} could not read the request leadrelay sent ({status}). This is a fault on leadrelay's side, not in your settings."),
                    "Contact leadrelay support with this log; nothing in your settings needs to change.".to_owned(),
                )
            }
        }
        Cause::InvalidData => match cx.field {
            Some(_) => (
                format!("{who} refused the value of {field} ({status}).{said}"),
                format!("Check {field} in this registration against what {who_l} accepts, correct it and resend."),
            ),
            None => (
                format!("{who} refused the data in this registration ({status}).{said}"),
                format!("Check this registration's data against what {who_l} accepts, correct it and resend."),
            ),
        },
        Cause::BadCredentials => bad_credentials(cx),
        Cause::ExpiredCredentials => match cx.provider.map(Provider::auth_kind) {
            Some(AuthKind::SignIn) => (
                format!("{who}'s sign-in for leadrelay has expired or was revoked."),
                format!("Reconnect {who_l} in the integration settings. {then_sent}"),
            ),
            Some(AuthKind::EntraApp) => (
                format!("{who} refused the app's sign-in because it has expired."),
                "Resend: leadrelay signs in afresh for each delivery. If it happens again, check that the app's client secret in Microsoft Entra has not expired.".to_owned(),
            ),
            // Keys do not expire; an access token from an OAuth sign-in does.
            Some(AuthKind::ApiKey | AuthKind::AppToken) => (
                format!("{who} says the access token of this integration has expired."),
                format!("Reconnect {who_l} in the integration settings, or paste a current {} from {who_l}{}. {then_sent}",
                    if cx.provider.map(Provider::auth_kind) == Some(AuthKind::AppToken) { "private app token" } else { "API key" },
                    cx.provider.and_then(Provider::key_location).map(|l| format!(" ({l})")).unwrap_or_default()),
            ),
            Some(AuthKind::Endpoint) | None => (
                format!("{who} says the credentials leadrelay sends have expired ({status})."),
                format!("Enter current credentials for {who_l} in the integration settings, then resend."),
            ),
        },
        Cause::AppCredentials if cx.provider == Some(Provider::Dynamics) => entra_app(cx),
        Cause::AppCredentials => (
            format!("{who} did not accept the app this integration signs in through: its ID or secret is wrong, or the app was deleted or blocked.{said}"),
            match cx.provider {
                // Dynamics 365 signs in through Microsoft Entra ID, where the app lives.
                Some(Provider::Dynamics) => format!("In the Microsoft Entra admin center (App registrations → the app), create a new client secret and paste its value into the integration settings; check the client and tenant IDs match too. {then_sent}"),
                _ => format!("In {who_l} Setup → App Manager → the connected app, copy its consumer key and consumer secret into the integration settings, then reconnect {who_l}. {then_sent}"),
            },
        ),
        Cause::MissingPermission => missing_permission(cx, &said),
        Cause::AccountDisabled => (
            format!("The {who_l} account is disabled, suspended or under review, so it takes no data.{said}"),
            format!("Sign in to {who_l} and sort out the account's status, then resend."),
        ),
        Cause::WrongDatacenter => (
            format!("The API key belongs to a different {who_l} data center than the one leadrelay called."),
            format!("Paste the API key again exactly as {who_l} shows it, including the part after the dash (such as -us21)."),
        ),
        Cause::IpNotAllowed => (
            format!("{who} accepted the API key but only takes requests from listed IP addresses, and leadrelay's are not on the list."),
            format!("In {who_l}'s security settings, add leadrelay's IP addresses to the authorised list (or turn the restriction off), then resend."),
        ),
        Cause::PlanLimit => (
            format!("The {who_l} account has no room for this contact under its plan: its contact allowance, credits or storage are used up.{said}"),
            format!("Upgrade the plan, add credits or free up space in {who_l}, then resend."),
        ),
        Cause::FormCaptcha => (
            format!("{who} refused the submission because the form has a CAPTCHA (a spam check only a person in a browser can pass)."),
            format!("Turn off the CAPTCHA on this form in {who_l}, or use a form without one, then resend."),
        ),
        Cause::ResourceNotFound => not_found(cx, &said),
        Cause::EndpointNotFound => endpoint_not_found(cx),
        Cause::RateLimited => (
            if cx.is_endpoint() {
                format!("{who} is getting too many requests right now and asked leadrelay to slow down.")
            } else {
                format!("{who} is getting too many requests from your account right now and asked leadrelay to slow down.")
            },
            auto,
        ),
        Cause::QuotaExhausted => quota(cx, &retry),
        Cause::Locked => (
            if cx.is_endpoint() {
                format!("{who} answered that what leadrelay writes to is temporarily locked ({status}).")
            } else {
                format!("{who} had the record or account temporarily locked (for example while it was being updated).")
            },
            auto,
        ),
        Cause::ServerError => (
            format!("{who} had an internal error while handling the registration ({status}). The fault is on {}'s side.", if cx.is_endpoint() { "the receiver" } else { who_l }),
            if cx.is_endpoint() {
                format!("{auto} If it keeps failing, check {who_l}'s logs.")
            } else {
                format!("{auto} If it keeps failing, check {who_l}'s status page.")
            },
        ),
        Cause::Unavailable => (
            format!("{who} is unavailable or overloaded at the moment ({status})."),
            if cx.is_endpoint() {
                format!("{auto} If it lasts, check that {who_l} is running.")
            } else {
                format!("{auto} If it lasts, check {who_l}'s status page.")
            },
        ),
        Cause::GatewayTimeout => (
            format!("A gateway in front of {who_l} gave up waiting for it ({status}). The data may or may not have arrived."),
            format!("{auto}{}", cx.resend_note()),
        ),
        Cause::Timeout => (
            format!("{who} did not answer within leadrelay's time limit. The data may or may not have arrived."),
            format!("{auto}{}", cx.resend_note()),
        ),
        Cause::Dns => (
            format!("leadrelay could not find {who_l} on the internet: its host name does not resolve."),
            if cx.is_endpoint() || matches!(cx.provider, Some(Provider::Activecampaign | Provider::Dynamics)) {
                format!("Check the {} in the integration settings for typos. leadrelay tries again {retry} in case this is temporary.", match cx.provider {
                    Some(Provider::Activecampaign) => "account URL",
                    Some(Provider::Dynamics) => "environment URL",
                    _ => "URL",
                })
            } else {
                auto
            },
        ),
        Cause::Connect => (
            format!("leadrelay could not connect to {who_l}: the connection was refused or not answered."),
            if cx.is_endpoint() {
                format!("{auto} If it lasts, check that the URL in the integration settings is right and the server is running.")
            } else {
                format!("{auto} If it lasts, check {who_l}'s status page.")
            },
        ),
        Cause::Tls => (
            format!("The secure connection to {who_l} failed: its certificate was not accepted or the handshake broke off."),
            if cx.is_endpoint() {
                format!("Check the endpoint's HTTPS certificate (expired, self-signed or for another name). leadrelay tries again {retry}.")
            } else {
                format!("{auto} If it lasts, check {who_l}'s status page.")
            },
        ),
        Cause::Reset => (
            format!("The connection to {who_l} broke off before a complete answer came back. The data may or may not have arrived."),
            format!("{auto}{}", cx.resend_note()),
        ),
        Cause::Redirect => (
            format!("{who} answered with a redirect ({status}); leadrelay does not follow redirects when delivering data."),
            if cx.is_endpoint() {
                "Update the URL in the integration settings to the final address (often https:// instead of http://, or a new path), then resend.".to_owned()
            } else {
                "Check the URL in the integration settings; if it is right, contact leadrelay support with this log.".to_owned()
            },
        ),
        Cause::Informational => (
            format!("{who} sent only an interim answer ({status}) and no final one."),
            "Resend the registration. If it happens again, contact leadrelay support with this log.".to_owned(),
        ),
        Cause::Unknown => (
            format!("{who} answered {status}, an answer leadrelay does not recognise.{said}"),
            "Resend the registration; if the same answer comes back, contact leadrelay support with this log.".to_owned(),
        ),
    }
}

/// Why Microsoft Entra ID refused the app Dynamics 365 signs in through, by the `AADSTS`
/// number its message opens with, and what to do in the Entra admin center.
fn entra_app(cx: &Context<'_>) -> (String, String) {
    const SECRET: &str = "In the Microsoft Entra admin center, open App registrations → the app → Certificates & secrets, create a new client secret and paste its Value into the integration settings.";
    let message = cx.message.unwrap_or_default();
    let code = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|t| t.starts_with("AADSTS"))
        .unwrap_or_default();
    let (why, remedy) = match code.trim_start_matches("AADSTS") {
        "7000215" => ("the client secret is wrong (perhaps the secret's ID was pasted instead of its value)", SECRET),
        "7000222" => ("the client secret has expired", SECRET),
        "700016" => ("no app with the integration's client ID exists in that directory (tenant)", "In the Microsoft Entra admin center (App registrations), check the app's Application (client) ID and Directory (tenant) ID, and copy both into the integration settings."),
        "90002" | "900023" => ("the directory (tenant) was not found", "Copy the Directory (tenant) ID from the Microsoft Entra admin center (App registrations → the app) into the integration settings."),
        "500011" => ("no Dynamics 365 environment answers to the environment URL", "Check the environment URL in the integration settings against the Power Platform admin center (the environment → Environment URL)."),
        _ => ("its client ID or secret is wrong, or the app was deleted or blocked", "In the Microsoft Entra admin center (App registrations → the app), check the client and tenant IDs and create a new client secret; paste them into the integration settings."),
    };
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    };
    (
        format!("Microsoft Entra ID refused the sign-in of the app that connects leadrelay to Dynamics 365: {why}{code}."),
        format!("{remedy} Deliveries that waited are then sent again."),
    )
}

/// "Create a new API key in Mailchimp (Profile → Extras → API keys) and paste it …".
fn new_key_remedy(cx: &Context<'_>) -> String {
    let who_l = cx.who_lower();
    let place = cx
        .provider
        .and_then(Provider::key_location)
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    match cx.provider {
        Some(p) if p.auth_kind() == AuthKind::AppToken => format!(
            "Copy the private app's access token from {who_l}{place} into the integration settings and save. Deliveries that waited are then sent again."
        ),
        Some(Provider::Mailjet) => format!(
            "Copy the API key and secret key from {who_l}{place} into the integration settings and save. Deliveries that waited are then sent again."
        ),
        _ => format!(
            "Create a new API key in {who_l}{place}, paste it into the integration settings and save. Deliveries that waited are then sent again."
        ),
    }
}

fn bad_credentials(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let status = cx.status_text();
    match cx.provider.map(Provider::auth_kind) {
        Some(AuthKind::ApiKey) => (
            format!("{who} did not accept the API key of this integration: it is wrong, or it was deleted or turned off."),
            new_key_remedy(cx),
        ),
        Some(AuthKind::AppToken) => (
            format!("{who} did not accept the private app's access token: it is wrong, was rotated, or the app was deleted."),
            new_key_remedy(cx),
        ),
        Some(AuthKind::SignIn) => (
            format!("{who} no longer accepts leadrelay's sign-in: it was revoked or expired, or the user lost access."),
            format!("Reconnect {who_l} in the integration settings, signing in as a user who may create and edit the records. Deliveries that waited are then sent again."),
        ),
        // The token came from Microsoft Entra ID moments before, so the environment refused it.
        Some(AuthKind::EntraApp) => (
            format!("{who} refused the app's sign-in for this environment."),
            "Check the environment URL in the integration settings, and that the app has an application user there (Power Platform admin center → the environment → Settings → Application users). Deliveries that waited are then sent again.".to_owned(),
        ),
        Some(AuthKind::Endpoint) | None => (
            format!("{who} refused the credentials leadrelay sent ({status})."),
            format!("Enter the user name and password or token {who_l} expects in the integration settings and save. Deliveries that waited are then sent again."),
        ),
    }
}

fn missing_permission(cx: &Context<'_>, said: &str) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let action = cx.action();
    let named = cx.permission.is_some_and(|p| permission_words(p).is_some());
    let raw = match cx.permission {
        Some(p) if named && p.starts_with("prv") && p.len() <= 60 => format!(" (privilege {p})"),
        Some(p) if named && p.len() <= 60 => format!(" (scope {p})"),
        _ => String::new(),
    };
    let said = if named { "" } else { said };
    match cx.provider.map(Provider::auth_kind) {
        Some(AuthKind::EntraApp) => (
            format!("{who} let the app sign in, but its application user is not allowed to {action}.{said}"),
            format!("Ask your {who_l} admin to give the app's application user a security role that may {action}{raw}, in the Power Platform admin center → the environment → Application users. Then resend."),
        ),
        Some(AuthKind::SignIn) => (
            format!("{who} accepted leadrelay's sign-in, but the connected user is not allowed to {action}.{said}"),
            format!("Ask your {who_l} admin to allow the connected user to {action}{raw}, or reconnect as a user who may, then resend."),
        ),
        Some(AuthKind::AppToken) => (
            format!("{who} accepted the private app's token, but the app is not allowed to {action}.{said}"),
            format!("Ask your {who_l} admin to allow the private app to {action}{raw}, then resend."),
        ),
        Some(AuthKind::ApiKey) => (
            format!("{who} accepted the API key, but the key is not allowed to {action}.{said}"),
            format!("Ask your {who_l} admin to allow the API key to {action}{raw}, or use a key with more rights, then update the integration."),
        ),
        Some(AuthKind::Endpoint) | None => (
            format!("{who} refused the request ({}): the credentials leadrelay sends are not allowed there.{said}", cx.status_text()),
            format!("Check the credentials in the integration settings against what {who_l} expects and save. Deliveries that waited are then sent again."),
        ),
    }
}

fn not_found(cx: &Context<'_>, said: &str) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    match cx.provider {
        Some(Provider::Webhook) | None => (
            if cx.status == Some(410) {
                format!("{who}'s address is gone ({}): the endpoint was switched off or removed.", cx.status_text())
            } else {
                format!("{who}'s address was not found ({}): the URL is wrong, or the endpoint was switched off or removed.", cx.status_text())
            },
            "Check the URL in the integration settings (or switch the endpoint back on), then resend.".to_owned(),
        ),
        Some(Provider::Hubspot | Provider::Salesforce | Provider::Dynamics) => (
            format!("{who} could not find the record or the kind of record (object) the integration writes to; it may have been deleted or renamed.{said}"),
            "Check the object (such as Lead or Contact) in the integration settings. If it is right, resend; if the same answer comes back, contact leadrelay support with this log.".to_owned(),
        ),
        Some(p) => {
            let target = p.target();
            (
                format!("{who} could not find the {target} the integration writes to; it may have been deleted.{said}"),
                format!("Check that the {target} chosen in the integration settings still exists in {who_l}, then resend."),
            )
        }
    }
}

fn endpoint_not_found(cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let status = cx.status_text();
    match cx.provider {
        Some(Provider::Webhook) | None => (
            format!("{who}'s URL does not take this request ({status}): the path is wrong, or it does not accept deliveries there."),
            "Check the URL in the integration settings (the whole path), then resend.".to_owned(),
        ),
        Some(Provider::Activecampaign) => (
            format!("The address leadrelay called does not exist at {who_l} ({status})."),
            "Check the account URL in the integration settings (as shown in ActiveCampaign under Settings → Developer), then resend.".to_owned(),
        ),
        Some(Provider::Dynamics) => (
            format!("The address leadrelay called does not exist at {who_l} ({status})."),
            "Check the environment URL in the integration settings, then resend.".to_owned(),
        ),
        Some(_) => (
            format!("The address leadrelay called does not exist at {who_l} ({status})."),
            "Check the URL in the integration settings if you changed it; otherwise contact leadrelay support with this log.".to_owned(),
        ),
    }
}

fn quota(cx: &Context<'_>, retry: &str) -> (String, String) {
    let who_l = cx.who_lower();
    match (cx.provider, cx.retry_after_s) {
        (Some(Provider::Hubspot), None) => (
            "This HubSpot account has used up its daily API limit.".to_owned(),
            "Nothing to do: leadrelay keeps trying, and deliveries go through after HubSpot's daily limit resets at midnight (the account's time zone).".to_owned(),
        ),
        (Some(Provider::Salesforce), None) => (
            "This Salesforce org has used up the API requests it may make in 24 hours.".to_owned(),
            "Nothing to do: leadrelay keeps trying, and deliveries go through once the org's requests over the last 24 hours fall under its limit.".to_owned(),
        ),
        _ => (
            format!("This account has used up its {who_l} API allowance for now (a daily or plan limit)."),
            format!("Nothing to do if it can wait: leadrelay tries again {retry}. If it happens often, raise the API limit in {who_l} or use it less from other tools."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "1 minute 30 seconds");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(5400), "1 hour 30 minutes");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(200_000), "2 days");
    }

    #[test]
    fn email_field_names_are_recognised() {
        for f in [
            "email",
            "Email",
            "email_address",
            "EmailAddress",
            "EMAIL",
            "emailaddress1",
        ] {
            assert!(is_email_field(f), "{f}");
        }
        assert!(!is_email_field("FNAME"));
        assert!(
            !is_email_field("emailaddress2"),
            "a second address is no identifier"
        );
    }

    #[test]
    fn long_messages_are_cut_at_a_word_and_flattened() {
        let cx = Context {
            message: Some(&"words \n".repeat(100)),
            ..Context::default()
        };
        let said = cx.said();
        assert!(said.ends_with("words…\"."), "{said}");
        assert!(!said.contains('\n'));
        assert!(said.chars().count() <= MAX_QUOTE + QUOTE_OPEN.len() + 3);
    }

    #[test]
    fn quotes_stop_at_a_sentence() {
        let q = quotable("The list is archived. Contact support with request 12345678901234 and this trace for help with the list settings, please.");
        assert_eq!(q.as_deref(), Some("The list is archived"));
    }

    #[test]
    fn markup_mojibake_ids_dumps_and_jargon_are_not_quoted() {
        for message in [
            "<title>Just a moment...</title>",
            "Caf\u{FFFD} list refused",
            "Principal user (Id=d7cc3f9a-5b7b-e811-a95b-000d3a1087a0, type=8) is missing prvCreateLead privilege",
            "Request failed for 5e1c4f2a-9b8d-4c3e-8f7a-1b2c3d4e5f60 on the contact list",
            "label: Yes value: yes display_order: 0 hidden: false",
            "Use PUT to insert or update list members",
            "The 'errors' array holds the problems",
            "INVALID_EMAIL",
        ] {
            assert_eq!(quotable(message), None, "{message}");
        }
    }

    #[test]
    fn a_quote_the_explanation_already_says_is_dropped() {
        let text = format!("Mailchimp rejected the email address as invalid.{QUOTE_OPEN}Invalid email address{QUOTE_CLOSE}");
        assert_eq!(
            without_needless_quote(text),
            "Mailchimp rejected the email address as invalid."
        );
        let text = format!("A rule in your Salesforce account refused this registration.{QUOTE_OPEN}Leads from Denmark need a VAT number{QUOTE_CLOSE}");
        assert!(without_needless_quote(text.clone()) == text);
    }

    #[test]
    fn permissions_are_said_in_words() {
        assert_eq!(
            permission_words("prvCreateLead").as_deref(),
            Some("create leads")
        );
        assert_eq!(
            permission_words("prvWriteContact").as_deref(),
            Some("update contacts")
        );
        assert_eq!(
            permission_words("crm.objects.contacts.write").as_deref(),
            Some("create and update contacts")
        );
        assert_eq!(
            permission_words("profiles:write").as_deref(),
            Some("create and update profiles")
        );
        assert_eq!(permission_words("forms"), None);
    }

    #[test]
    fn rate_limit_remedy_names_the_wait() {
        let cx = Context {
            provider: Some(Provider::Klaviyo),
            retry_after_s: Some(56),
            ..Context::default()
        };
        let (explanation, remedy) = render(Cause::RateLimited, &cx);
        assert!(explanation.starts_with("Klaviyo "), "{explanation}");
        assert_eq!(
            remedy,
            "Nothing to do: leadrelay tries again in 56 seconds."
        );
    }

    #[test]
    fn without_a_stated_wait_the_schedule_says_when() {
        let cx = Context {
            provider: Some(Provider::Mailchimp),
            ..Context::default()
        };
        let (_, remedy) = render(Cause::ServerError, &cx);
        assert!(remedy.contains("in about 30 seconds"), "{remedy}");
        let short = Context {
            retry_after_s: Some(5),
            ..cx
        };
        assert!(render(Cause::RateLimited, &short)
            .1
            .contains("in about 30 seconds"));
    }

    #[test]
    fn resending_is_called_safe_only_where_leadrelay_updates_the_contact() {
        for p in Provider::ALL {
            let cx = Context {
                provider: Some(p),
                ..Context::default()
            };
            let (_, remedy) = render(Cause::Timeout, &cx);
            assert_eq!(
                remedy.contains("Sending again is safe"),
                p.resend_keeps_one_contact(),
                "{p}: {remedy}"
            );
        }
    }

    #[test]
    fn every_cause_keeps_its_texts_short_for_every_provider() {
        let causes = [
            Cause::Delivered,
            Cause::Accepted,
            Cause::ContactExists,
            Cause::Unchanged,
            Cause::Unsubscribed,
            Cause::Forgotten,
            Cause::Unconfirmed,
            Cause::EmailBlocked,
            Cause::EmailDomainBlocked,
            Cause::SignupsThrottled,
            Cause::ConsentMissing,
            Cause::BusinessRule,
            Cause::AmbiguousMatch,
            Cause::MalformedRequest,
            Cause::InvalidData,
            Cause::BadCredentials,
            Cause::ExpiredCredentials,
            Cause::AppCredentials,
            Cause::MissingPermission,
            Cause::AccountDisabled,
            Cause::WrongDatacenter,
            Cause::IpNotAllowed,
            Cause::PlanLimit,
            Cause::FormCaptcha,
            Cause::ResourceNotFound,
            Cause::EndpointNotFound,
            Cause::RateLimited,
            Cause::QuotaExhausted,
            Cause::Locked,
            Cause::ServerError,
            Cause::Unavailable,
            Cause::GatewayTimeout,
            Cause::Timeout,
            Cause::Dns,
            Cause::Connect,
            Cause::Tls,
            Cause::Reset,
            Cause::Redirect,
            Cause::Informational,
            Cause::Unknown,
        ];
        let message = "This is a long provider message that goes on and on about the problem it found with the registration, more than anyone needs to read";
        let providers = Provider::ALL.into_iter().map(Some).chain([None]);
        for provider in providers {
            for cause in causes {
                let cx = Context {
                    provider,
                    status: Some(400),
                    reason: Some("Bad Request"),
                    message: Some(message),
                    field: Some("company_size"),
                    permission: Some("crm.objects.contacts.write"),
                    ..Context::default()
                };
                let (explanation, remedy) = render(cause, &cx);
                for text in [&explanation, &remedy] {
                    assert!(
                        text.chars().count() <= 300,
                        "{provider:?} {cause:?}: {text}"
                    );
                    for raw in [
                        "org_url",
                        "client_id",
                        "client_secret",
                        "tenant_id",
                        "the webhook endpoint's",
                    ] {
                        assert!(!text.contains(raw), "{provider:?} {cause:?}: {text}");
                    }
                }
            }
        }
    }
}
