//! Every explanation and remedy leadrelay shows a marketer, in one place.
//!
//! Texts are chosen by [`Cause`] and filled in from a [`Context`]: the provider's name,
//! the field at fault, the offending value, the wait before the next try. Review wording
//! here; the classifier only decides which cause applies.

use crate::answer::TransportErrorKind;
use crate::email::EmailIssue;
use crate::provider::Provider;
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
            Some(Provider::Webhook) => "The webhook endpoint",
            Some(p) => p.display_name(),
        }
    }

    fn who_lower(&self) -> &'static str {
        self.provider
            .map_or("the receiving system", Provider::display_name)
    }

    /// `the "FNAME" field` or `a field`.
    fn the_field(&self) -> String {
        match self.field {
            Some(f) if is_email_field(f) => "the email address".to_owned(),
            Some(f) => format!("the \"{f}\" field"),
            None => "a field".to_owned(),
        }
    }

    /// A short quote of the provider's message, or nothing.
    fn said(&self) -> String {
        match self.message {
            Some(m) if !m.is_empty() => format!("{QUOTE_OPEN}{}{QUOTE_CLOSE}", quote(m)),
            _ => String::new(),
        }
    }

    fn when_retry(&self) -> String {
        match self.retry_after_s {
            Some(0) => "right away".to_owned(),
            Some(s) => format!("in {}", human_duration(s)),
            None => "on its retry schedule".to_owned(),
        }
    }

    fn status_text(&self) -> String {
        match (self.status, self.reason) {
            (Some(s), Some(r)) => format!("{s} {r}"),
            (Some(s), None) => s.to_string(),
            _ => "no response".to_owned(),
        }
    }
}

/// Is this the name some provider uses for the email field? (Dataverse's primary email
/// column is `emailaddress1`.)
pub fn is_email_field(field: &str) -> bool {
    let f: String = field.chars().filter(|c| *c != '_' && *c != '-').collect();
    f.eq_ignore_ascii_case("email")
        || f.eq_ignore_ascii_case("emailaddress")
        || f.eq_ignore_ascii_case("emailaddress1")
}

/// Cuts a provider message to a readable length on a character boundary.
/// What opens the provider's own message where an explanation quotes it.
pub const QUOTE_OPEN: &str = " It said: \"";
/// What closes it.
pub const QUOTE_CLOSE: &str = "\".";

fn quote(message: &str) -> String {
    const MAX: usize = 200;
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = one_line.trim_end_matches('.');
    if trimmed.chars().count() <= MAX {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(MAX).collect();
    cut.push('…');
    cut
}

/// `45 seconds`, `2 minutes`, `1 hour 30 minutes`, `2 days`.
pub fn human_duration(seconds: u64) -> String {
    fn unit(n: u64, word: &str) -> String {
        format!("{n} {word}{}", if n == 1 { "" } else { "s" })
    }
    match seconds {
        0..=89 => unit(seconds, "second"),
        90..=5399 => unit(seconds.div_ceil(60), "minute"),
        5400..=172_799 => {
            let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
            if m == 0 {
                unit(h, "hour")
            } else {
                format!("{} {}", unit(h, "hour"), unit(m, "minute"))
            }
        }
        _ => unit(seconds / 86_400, "day"),
    }
}

/// The explanation and remedy for a cause, filled in from the context.
pub fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let field = cx.the_field();
    let said = cx.said();
    let retry = cx.when_retry();
    let auto = format!("Nothing to do: leadrelay tries again automatically {retry}.");
    match cause {
        Cause::Delivered => (
            format!("{who} accepted the registration."),
            "Nothing to do.".to_owned(),
        ),
        Cause::Accepted => (
            format!("{who} accepted the registration for processing; it normally appears there within a few minutes."),
            format!("Nothing to do. If the contact is still missing in {who_l} after an hour, check {who_l}'s import or activity log."),
        ),
        Cause::FailedDespiteSuccessStatus
        | Cause::SecurityCheck
        | Cause::OriginCertificate
        | Cause::SignInPage
        | Cause::SecurityChallenge
        | Cause::AwaitingConfirmation => gateways::render(cause, cx),
        Cause::ContactExists => (
            format!("{who} already has this contact, so it was not created again. Nothing was lost.{said}"),
            "Nothing to do. To have new answers update the existing contact, set the integration's existing-contact policy to \"update\".".to_owned(),
        ),
        Cause::Unchanged => (
            format!("{who} already held these values for the contact, so nothing needed to change. Nothing was lost."),
            "Nothing to do.".to_owned(),
        ),
        Cause::Unsubscribed => (
            format!("{who} refused the contact because it is unsubscribed, bounced or otherwise blocked from receiving email there (a compliance state).{said}"),
            format!("Nothing to fix in leadrelay. The person must re-subscribe themselves (for example through a {who_l} signup form); resending will not change this."),
        ),
        Cause::Forgotten => (
            format!("{who} refused the contact because this address was permanently deleted there (by a privacy request or by someone in your account), and it does not allow adding it back.{said}"),
            format!("Do not resend. The person must sign up again themselves (for example through a {who_l} signup form) before {who_l} will accept the address."),
        ),
        Cause::Unconfirmed => (
            format!("{who} already has this person waiting to confirm their subscription (double opt-in), so it did not add them again.{said}"),
            "Nothing to do: once the person clicks the link in the confirmation email, the contact becomes active. If confirmation is not wanted for this campaign, turn double opt-in off for the list.".to_owned(),
        ),
        Cause::EmailDomainBlocked => (
            format!("{who} refused the email address because the form is set to block addresses from this email domain (for example free email providers).{said}"),
            format!("If such addresses should be accepted, remove the domain from the form's blocked email domains in {who_l}, then resend."),
        ),
        Cause::SignupsThrottled => (
            format!("{who} is temporarily refusing this address because it was signed up to many lists in a short time, which it treats as possible abuse.{said}"),
            format!("Nothing to do now: leadrelay tries again {retry}. If it still fails, ask the person to sign up again later."),
        ),
        Cause::EmailBlocked => (
            format!("{who} refused the email address as fake, disposable or blocked.{said}"),
            "Check the address with the person if you can; a corrected address can be resent. Otherwise no action is needed.".to_owned(),
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
            format!("A rule set up in your {who_l} account (a validation rule or automation) refused this registration.{said}"),
            format!("Ask your {who_l} administrator about this rule, or change what the campaign collects so the data satisfies it, then resend."),
        ),
        Cause::AmbiguousMatch => (
            format!("{who} found several existing records for this contact, so it did not know which one to update, and nothing was saved.{said}"),
            format!("Merge the duplicate records in {who_l} (or choose a matching field that is unique), then resend the registration."),
        ),
        Cause::MalformedRequest => (
            format!("{who} could not read the request leadrelay sent ({}).{said}", cx.status_text()),
            "Check the integration's settings (list, field mapping, request format). If they look right, contact leadrelay support with this log.".to_owned(),
        ),
        Cause::InvalidData => (
            match cx.field {
                Some(_) => format!("{who} refused the value of {field} ({}).{said}", cx.status_text()),
                None => format!("{who} refused the data in this registration ({}).{said}", cx.status_text()),
            },
            match cx.field {
                Some(_) => format!("Check {field} in this registration against what {who_l} accepts, correct it and resend."),
                None => format!("Check this registration's data against what {who_l} accepts, correct it and resend."),
            },
        ),
        Cause::BadCredentials => (
            format!("{who} did not accept the API key or token of this integration: it is missing, wrong or revoked."),
            match cx.provider {
                // The token came from Entra ID moments before, so the environment refused it.
                Some(Provider::Dynamics) => "Check that the integration's org_url is the URL of the Dynamics 365 environment, and that the app registration has an enabled application user there (Power Platform admin center → the environment → Settings → Application users), then save the integration. Deliveries that waited are then sent again.".to_owned(),
                _ => format!("Open the integration settings, paste a valid API key from {who_l}, and save. Deliveries that waited are then sent again."),
            },
        ),
        Cause::ExpiredCredentials => (
            format!("The connection to {who_l} has expired: its access token or session is no longer valid."),
            format!("Reconnect {who_l} in the integration settings. Deliveries that waited are then sent again."),
        ),
        Cause::AppCredentials => (
            format!("{who} did not accept the app this integration signs in through: its client id (consumer key) or client secret is wrong, or the app was deleted or blocked.{said}"),
            match cx.provider {
                // Dynamics 365 signs in through Microsoft Entra ID, where the app lives.
                Some(Provider::Dynamics) => "In the Microsoft Entra admin center, open App registrations → the app the integration uses: check that its Application (client) ID is the integration's client_id and its Directory (tenant) ID the integration's tenant_id; under Certificates & secrets, create a new client secret and paste its Value (not its Secret ID) into client_secret, and save. Also check that the app has an application user with a security role in the Dynamics 365 environment (Power Platform admin center → the environment → Settings → Application users). Deliveries that waited are then sent again.".to_owned(),
                _ => format!("In {who_l}, open the app the integration uses (for Salesforce: Setup → App Manager → the connected app), copy its consumer key and consumer secret into the integration's client_id and client_secret, and save; if the app was deleted, create it again and reconnect {who_l}. Deliveries that waited are then sent again."),
            },
        ),
        Cause::MissingPermission => (
            format!("{who} accepted the credentials but they lack the permission this action needs.{said}"),
            match cx.provider {
                Some(Provider::Dynamics) => "In the Power Platform admin center, open the environment → Settings → Users + permissions → Application users, and give the integration's application user a security role that may create and write leads or contacts (or add the application user if it is missing), then resend.".to_owned(),
                _ => format!("In {who_l}, give the API key or app the missing permission (scope), or use a key with more rights, then update the integration."),
            },
        ),
        Cause::AccountDisabled => (
            format!("The {who_l} account is disabled, suspended or under review, so it accepts no data.{said}"),
            format!("Sign in to {who_l} and resolve the account status; deliveries can then be resent."),
        ),
        Cause::WrongDatacenter => (
            format!("The API key belongs to a different {who_l} data center or region than the one leadrelay called."),
            "Re-enter the API key in the integration settings exactly as shown by the provider (including the part after the dash).".to_owned(),
        ),
        Cause::IpNotAllowed => (
            format!("{who} accepted the API key but refused the request because it came from an IP address that is not on the account's list of authorised addresses."),
            format!("In {who_l}'s security settings, add the IP addresses leadrelay sends from to the authorised list (or switch the restriction off), then resend."),
        ),
        Cause::PlanLimit => (
            format!("The {who_l} account has no room for this data under its current plan: its credits, contact allowance or storage are used up.{said}"),
            format!("Add credits, upgrade the plan or free up space in {who_l}, then resend the registration."),
        ),
        Cause::FormCaptcha => (
            format!("{who} refused the submission because the form is protected by a CAPTCHA (a spam check that only a person in a browser can pass)."),
            format!("Turn off the CAPTCHA on this form in {who_l}, or point the integration at a form without one, then resend."),
        ),
        Cause::ResourceNotFound => (
            format!("{who} could not find the list, audience, form or record the integration points at.{said}"),
            format!("Check the list or form id in the integration settings against {who_l}; it may have been deleted or renamed. Then resend."),
        ),
        Cause::EndpointNotFound => (
            format!("The address leadrelay called does not exist at {who_l} ({}).", cx.status_text()),
            "Check the URL (or account subdomain) in the integration settings, then resend.".to_owned(),
        ),
        Cause::RateLimited => (
            format!("{who} is receiving too many requests from this account right now and asked leadrelay to slow down."),
            auto,
        ),
        Cause::QuotaExhausted => (
            format!("This account has used up its {who_l} API allowance for now (a daily or plan limit).{said}"),
            format!("Nothing to do if it can wait: leadrelay tries again {retry}. If this happens often, raise the API limit in {who_l} or reduce other tools using the same account."),
        ),
        Cause::Locked => (
            format!("{who} had the record or account temporarily locked (for example during an update or migration)."),
            auto,
        ),
        Cause::ServerError => (
            format!("{who} had an internal error while handling the registration ({}). This is on the provider's side.", cx.status_text()),
            format!("{auto} If it keeps failing, check {who_l}'s status page."),
        ),
        Cause::Unavailable => (
            format!("{who} is unavailable or overloaded at the moment ({}).", cx.status_text()),
            format!("{auto} If it lasts, check {who_l}'s status page."),
        ),
        Cause::GatewayTimeout => (
            format!("A gateway in front of {who_l} gave up waiting for it ({}). The data may or may not have arrived.", cx.status_text()),
            format!("{auto} Sending again is safe: leadrelay updates the contact rather than creating a second one."),
        ),
        Cause::Timeout => (
            format!("{who} did not answer within leadrelay's time limit. The data may or may not have arrived."),
            format!("{auto} If it keeps timing out, check that {who_l} is reachable and responds quickly."),
        ),
        Cause::Dns => (
            format!("leadrelay could not find the address of {who_l}: its host name does not resolve."),
            "Check the URL or account name in the integration settings for typos. leadrelay tries again in case this is temporary.".to_owned(),
        ),
        Cause::Connect => (
            format!("leadrelay could not connect to {who_l}: the connection was refused or not answered."),
            format!("{auto} If it persists, check that the URL in the integration settings is right and the server is running."),
        ),
        Cause::Tls => (
            format!("The secure connection to {who_l} failed: its certificate was not accepted or the handshake broke off."),
            "If this is your own webhook, check its HTTPS certificate (expired, self-signed or for another name). leadrelay tries again in case this is temporary.".to_owned(),
        ),
        Cause::Reset => (
            format!("The connection to {who_l} broke off before a complete answer came back. The data may or may not have arrived."),
            auto,
        ),
        Cause::Redirect => (
            format!("{who} answered with a redirect ({}); leadrelay does not follow redirects when delivering data.", cx.status_text()),
            "Update the URL in the integration settings to the final address (often https:// instead of http://, or a new path), then resend.".to_owned(),
        ),
        Cause::Informational => (
            format!("{who} sent only an interim answer ({}) and no final one.", cx.status_text()),
            "Resend the registration. If it happens again, contact the provider or leadrelay support with this log.".to_owned(),
        ),
        Cause::Unknown => (
            format!("{who} answered {}, which leadrelay could not interpret further.{said}", cx.status_text()),
            "Check the integration settings and the provider's documentation for this status, then resend. Contact leadrelay support with this log if it persists.".to_owned(),
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
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3600), "60 minutes");
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
    fn long_messages_are_cut_and_flattened() {
        let cx = Context {
            message: Some(&"word \n".repeat(100)),
            ..Context::default()
        };
        let said = cx.said();
        assert!(said.ends_with("…\"."), "{said}");
        assert!(!said.contains('\n'));
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
            "Nothing to do: leadrelay tries again automatically in 56 seconds."
        );
    }
}
