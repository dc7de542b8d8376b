//! From a provider's answer to a verdict: the classification engine.
//!
//! [`classify`] reads the answer (status, headers, body, or the transport error) and decides
//! the outcome, retry timing, provider code, field and message: pure, total, and cheap.
//! [`explain`] adds the plain-language explanation and remedy from the [`catalogue`].
//!
//! Each provider has a module that knows its error shapes; `generic` reads everything
//! else (webhooks and unknown APIs) and fills what a provider module left open.

mod body;
mod extracted;
pub(crate) mod field;
mod generic;
mod retry;

mod activecampaign;
mod brevo;
mod campaign_monitor;
mod dynamics;
mod hubspot;
mod hubspot_forms;
mod klaviyo;
mod mailchimp;
mod mailjet;
mod salesforce;
mod sendgrid;

use crate::answer::{ProviderResponse, TransportError, TransportErrorKind};
use crate::catalogue::{self, Cause, Context};
use crate::email::{self, EmailIssue, EmailRules};
use crate::provider::Provider;
use crate::status;
use crate::verdict::{Class, Outcome, Verdict};
use body::{contains_ci, Body};
use extracted::Extracted;
use retry::Headers;
use serde_json::{Map, Value};
use std::time::SystemTime;

/// The classification of one answer, before any text is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The HTTP status, or `None` without a response.
    pub status: Option<u16>,
    /// The status class.
    pub class: Class,
    /// The reason phrase of the status.
    pub reason: Option<&'static str>,
    /// What the attempt came to.
    pub outcome: Outcome,
    /// Seconds to wait, when the answer states it.
    pub retry_after_s: Option<u64>,
    /// The provider's own error identifier.
    pub provider_code: Option<String>,
    /// The field at fault, normalised.
    pub field: Option<String>,
    /// The provider's own message.
    pub message: Option<String>,
    /// The catalogue entry that explains it.
    pub cause: Cause,
    /// What is wrong with the email value that was sent, when it is known.
    pub email_issue: Option<EmailIssue>,
    /// How the request failed without a response.
    pub transport: Option<TransportErrorKind>,
    /// Every field at fault, normalised, in the provider's order (the first is `field`).
    pub fields: Vec<String>,
    /// The values (or field names) the provider listed as allowed.
    pub allowed: Vec<String>,
    /// The format the provider expects for the field, in words.
    pub format: Option<String>,
    /// The permission (privilege, scope) the provider said is missing.
    pub permission: Option<String>,
    /// The provider's message had characters lost before it arrived (replacement signs,
    /// dropped from `message`): its words may be broken, so it is never quoted.
    pub message_damaged: bool,
}

impl Diagnosis {
    /// Renders the explanation and remedy and returns the full verdict.
    pub fn into_verdict(self, provider: Option<Provider>) -> Verdict {
        let cx = Context {
            provider,
            status: self.status,
            reason: self.reason,
            field: self.field.as_deref(),
            message: self.message.as_deref().filter(|_| !self.message_damaged),
            email_issue: self.email_issue.as_ref(),
            retry_after_s: self.retry_after_s,
            transport: self.transport,
            fields: &self.fields,
            allowed: &self.allowed,
            format: self.format.as_deref(),
            permission: self.permission.as_deref(),
        };
        let (explanation, remedy) = catalogue::render(self.cause, &cx);
        Verdict {
            status: self.status,
            class: self.class,
            reason: self.reason.map(str::to_owned),
            outcome: self.outcome,
            retryable: self.outcome.retryable(),
            retry_after_s: self.retry_after_s,
            provider_code: self.provider_code,
            field: self.field,
            message: self.message,
            explanation,
            remedy,
        }
    }
}

/// Explains one delivery outcome.
///
/// Reads the provider's own error code, message and field out of the body when it can;
/// otherwise falls back to the status class. `request` is the data that was sent, when
/// known: with it, a refused email address is checked and the offending character named.
pub fn explain(
    provider: Option<Provider>,
    response: &ProviderResponse,
    request: Option<&Map<String, Value>>,
) -> Verdict {
    classify(provider, response, request).into_verdict(provider)
}

/// Classifies one answer without rendering text: the fast path for counting and routing.
pub fn classify(
    provider: Option<Provider>,
    response: &ProviderResponse,
    request: Option<&Map<String, Value>>,
) -> Diagnosis {
    classify_at(provider, response, request, SystemTime::now())
}

fn extract(provider: Option<Provider>, status: u16, body: &Body<'_>) -> Extracted {
    let specific = match provider {
        Some(Provider::Mailchimp) => mailchimp::extract(status, body),
        Some(Provider::Hubspot) => hubspot::extract(status, body),
        Some(Provider::HubspotForms) => hubspot_forms::extract(status, body),
        Some(Provider::Klaviyo) => klaviyo::extract(status, body),
        Some(Provider::Sendgrid) => sendgrid::extract(status, body),
        Some(Provider::Brevo) => brevo::extract(status, body),
        Some(Provider::Activecampaign) => activecampaign::extract(status, body),
        Some(Provider::Salesforce) => salesforce::extract(status, body),
        Some(Provider::Mailjet) => mailjet::extract(status, body),
        Some(Provider::CampaignMonitor) => campaign_monitor::extract(status, body),
        Some(Provider::Dynamics) => dynamics::extract(status, body),
        Some(Provider::Webhook) | None => Extracted::default(),
    };
    let generic = generic::extract(status, body, &specific);
    let mut found = specific.or(generic);
    generic::decide_by_keywords(status, &mut found);
    found
}

/// The outcome a status means on its own, before any body is read.
pub(crate) fn status_outcome(status: u16) -> Outcome {
    match status {
        202 => Outcome::Accepted,
        200..=299 => Outcome::Delivered,
        401 | 407 => Outcome::Unauthorized,
        403 => Outcome::Forbidden,
        404 | 405 | 410 | 501 => Outcome::NotFound,
        408 | 499 | 598 | 599 => Outcome::Timeout,
        409 => Outcome::Duplicate,
        423 | 425 | 477 => Outcome::Conflict,
        429 => Outcome::RateLimited,
        400..=499 => Outcome::InvalidData,
        500..=999 => Outcome::ServerError,
        _ => Outcome::Unexpected,
    }
}

/// The catalogue entry an outcome points at when the body named nothing more precise.
fn default_cause(outcome: Outcome, status: u16, field: Option<&str>) -> Cause {
    match outcome {
        Outcome::Delivered => Cause::Delivered,
        Outcome::Accepted => Cause::Accepted,
        Outcome::Duplicate => Cause::ContactExists,
        Outcome::Suppressed => Cause::Unsubscribed,
        Outcome::InvalidData => match (status, field) {
            (_, Some(f)) if catalogue::is_email_field(f) => Cause::InvalidEmail,
            (413 | 414 | 431, _) => Cause::ValueTooLong,
            (411 | 415 | 417, _) => Cause::MalformedRequest,
            _ => Cause::InvalidData,
        },
        Outcome::Unauthorized => Cause::BadCredentials,
        Outcome::Forbidden => Cause::MissingPermission,
        Outcome::NotFound => match status {
            405 | 501 => Cause::EndpointNotFound,
            _ => Cause::ResourceNotFound,
        },
        Outcome::RateLimited => Cause::RateLimited,
        Outcome::Conflict => Cause::Locked,
        Outcome::ServerError => match status {
            502 | 503 | 520 | 521 | 523 | 530 => Cause::Unavailable,
            525..=527 => Cause::OriginCertificate,
            504 | 522 | 524 => Cause::GatewayTimeout,
            _ => Cause::ServerError,
        },
        Outcome::Timeout => Cause::Timeout,
        Outcome::NetworkError => Cause::Connect,
        Outcome::Unexpected => match status {
            100..=199 => Cause::Informational,
            300..=399 => Cause::Redirect,
            _ => Cause::Unknown,
        },
    }
}

fn classify_transport(error: Option<&TransportError>) -> Diagnosis {
    let kind = error.map(|e| e.kind);
    let (outcome, cause) = match kind {
        Some(TransportErrorKind::Timeout) => (Outcome::Timeout, Cause::Timeout),
        Some(TransportErrorKind::Dns) => (Outcome::NetworkError, Cause::Dns),
        Some(TransportErrorKind::Tls) => (Outcome::NetworkError, Cause::Tls),
        Some(TransportErrorKind::Reset | TransportErrorKind::Body) => {
            (Outcome::NetworkError, Cause::Reset)
        }
        Some(TransportErrorKind::Connect) | None => (Outcome::NetworkError, Cause::Connect),
    };
    Diagnosis {
        status: None,
        class: Class::Network,
        reason: None,
        outcome,
        retry_after_s: None,
        provider_code: None,
        field: None,
        message: None,
        cause,
        email_issue: None,
        transport: kind,
        fields: Vec::new(),
        allowed: Vec::new(),
        format: None,
        permission: None,
        message_damaged: false,
    }
}

/// [`classify`] with an explicit clock, for `Retry-After` dates without a `Date` header.
pub(crate) fn classify_at(
    provider: Option<Provider>,
    response: &ProviderResponse,
    request: Option<&Map<String, Value>>,
    now: SystemTime,
) -> Diagnosis {
    let Some(status) = response.status else {
        return classify_transport(response.error.as_ref());
    };
    let headers = Headers(&response.headers);
    let body = Body::parse_typed(&response.body, headers.get("content-type"));
    // A security check or sign-in page in front of the provider speaks for no provider.
    let found = generic::in_front(status, &headers, &body)
        .unwrap_or_else(|| extract(provider, status, &body));

    let mut outcome = found.outcome.unwrap_or_else(|| status_outcome(status));
    let mut field = found.field.as_deref().and_then(field::normalise);

    let retry_after_s = if outcome.is_success() {
        None
    } else {
        retry::retry_after_header(&headers, now)
            .or_else(|| {
                (outcome == Outcome::RateLimited)
                    .then(|| retry::reset_headers(&headers, now))
                    .flatten()
            })
            .or(found.retry_after_s)
            .or_else(|| retry::from_body(&body, found.message.as_deref()))
    };

    let email_issue = request
        .and_then(|req| email_value_issue(provider, outcome, field.as_deref(), &found, req))
        .or_else(|| quoted_email_issue(provider, outcome, field.as_deref(), &found));
    let mut cause = found.cause;
    if email_issue.is_some() {
        if !matches!(outcome, Outcome::InvalidData) {
            outcome = Outcome::InvalidData;
        }
        field.get_or_insert_with(|| "email".to_owned());
        cause = Some(Cause::InvalidEmail);
    }
    let cause = cause.unwrap_or_else(|| default_cause(outcome, status, field.as_deref()));
    if cause == Cause::InvalidEmail {
        // A refusal of the address is about the email field, named or not.
        field.get_or_insert_with(|| "email".to_owned());
    }

    let field = field.map(|f| bounded(f, MAX_CODE_CHARS));
    let mut fields: Vec<String> = field.iter().cloned().collect();
    for more in &found.more_fields {
        if let Some(f) = field::normalise(more) {
            let f = bounded(f, MAX_CODE_CHARS);
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
    }
    let message_damaged = found
        .message
        .as_deref()
        .is_some_and(|m| m.contains('\u{FFFD}'));
    Diagnosis {
        status: Some(status),
        class: Class::of_status(status),
        reason: status::reason(status),
        outcome,
        retry_after_s,
        provider_code: found.code.map(|c| bounded(c, MAX_CODE_CHARS)),
        field,
        message: found
            .message
            .map(|m| bounded(body::without_replacement(m), MAX_MESSAGE_CHARS)),
        cause,
        email_issue,
        transport: None,
        fields,
        allowed: found.allowed,
        format: found.format,
        permission: found.permission,
        message_damaged,
    }
}

/// Longest provider message kept in a verdict; longer ones are cut with an ellipsis.
const MAX_MESSAGE_CHARS: usize = 1000;
/// Longest provider code or field name kept in a verdict.
const MAX_CODE_CHARS: usize = 120;

/// Cuts a string to `max` characters, marking the cut, so a verdict stays small whatever
/// the provider sent.
fn bounded(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some((end, _)) => {
            let mut cut = s[..end].to_owned();
            cut.push('…');
            cut
        }
    }
}

/// When a refusal is about the email address (or plausibly so), checks the value that was
/// sent and returns what is wrong with it.
fn email_value_issue(
    provider: Option<Provider>,
    outcome: Outcome,
    field: Option<&str>,
    found: &Extracted,
    request: &Map<String, Value>,
) -> Option<EmailIssue> {
    if outcome != Outcome::InvalidData && outcome != Outcome::Unexpected {
        return None;
    }
    let about_email = match field {
        Some(f) => catalogue::is_email_field(f),
        None => {
            let mentions = |s: &Option<String>| {
                s.as_deref().is_some_and(|t| {
                    ["email", "utf", "charset", "character", "ascii", "encoding"]
                        .iter()
                        .any(|w| contains_ci(t, w))
                })
            };
            mentions(&found.message) || mentions(&found.code) || found.code.is_none()
        }
    };
    if !about_email {
        return None;
    }
    let value = request
        .iter()
        .find(|(k, _)| catalogue::is_email_field(k))
        .and_then(|(_, v)| v.as_str())?;
    email::check(value, &EmailRules::for_provider(provider)).err()
}

/// When the request is not known but the provider's own message quotes the address it
/// refused ("calebæhnson@provider.com is not a valid email"), checks that address.
fn quoted_email_issue(
    provider: Option<Provider>,
    outcome: Outcome,
    field: Option<&str>,
    found: &Extracted,
) -> Option<EmailIssue> {
    let about_a_value = matches!(
        found.cause,
        None | Some(
            Cause::InvalidEmail | Cause::InvalidData | Cause::InvalidValue | Cause::InvalidFormat
        )
    );
    if outcome != Outcome::InvalidData
        || !about_a_value
        || field.is_some_and(|f| !catalogue::is_email_field(f))
    {
        return None;
    }
    let message = found.message.as_deref()?;
    email::issue_in_message(message, &EmailRules::for_provider(provider)).map(|(_, issue)| issue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_response_is_network_class() {
        let d = classify(
            None,
            &ProviderResponse::failed(TransportErrorKind::Dns, "nx"),
            None,
        );
        assert_eq!(
            (d.class, d.outcome, d.cause),
            (Class::Network, Outcome::NetworkError, Cause::Dns)
        );
        let d = classify(None, &ProviderResponse::default(), None);
        assert_eq!(d.outcome, Outcome::NetworkError);
    }

    #[test]
    fn timeouts_are_their_own_outcome() {
        let d = classify(
            None,
            &ProviderResponse::failed(TransportErrorKind::Timeout, "10s"),
            None,
        );
        assert_eq!(d.outcome, Outcome::Timeout);
        assert!(d.outcome.retryable());
    }

    #[test]
    fn success_statuses_ignore_retry_after() {
        let r = ProviderResponse::new(200, "").with_header("Retry-After", "30");
        assert_eq!(classify(None, &r, None).retry_after_s, None);
    }

    #[test]
    fn the_seed_case_names_the_character_and_its_position() {
        let r = ProviderResponse::new(
            422,
            r#"{"message":"The email must be a valid email address in the UTF-8 charset"}"#,
        );
        let mut req = Map::new();
        req.insert("email".into(), Value::from("calebæhnson@provider.com"));

        let v = explain(None, &r, Some(&req));

        assert_eq!(v.outcome, Outcome::InvalidData);
        assert_eq!(v.field.as_deref(), Some("email"));
        assert!(
            v.explanation.contains("'æ' at position 6"),
            "{}",
            v.explanation
        );
    }
}
