//! The texts for answers that are not what they seem: a success status over a refusal, a
//! security check or sign-in page in front of the provider, a CDN that cannot reach the
//! provider's own server, a contact added but still to confirm.

use super::{Cause, Context};
use crate::provider::Provider;

/// Who to ask about what stands in front of the answering system: the provider's support,
/// or whoever runs a webhook or an unknown API.
fn owner(cx: &Context<'_>) -> String {
    match cx.provider {
        None => "whoever runs the receiving system".to_owned(),
        Some(Provider::Webhook) => "whoever runs the webhook's server".to_owned(),
        Some(p) => format!("{} support", p.display_name()),
    }
}

/// What a security check or CDN stands in front of, mid-sentence.
fn target(cx: &Context<'_>) -> &'static str {
    match cx.provider {
        None => "the receiving system",
        Some(Provider::Webhook) => "the webhook",
        Some(p) => p.display_name(),
    }
}

/// The server behind the CDN: "HubSpot's own server", "the webhook's own server".
fn own_server(cx: &Context<'_>) -> String {
    match cx.provider {
        None => "the receiving system's own server".to_owned(),
        Some(Provider::Webhook) => "the webhook's own server".to_owned(),
        Some(p) => format!("{}'s own server", p.display_name()),
    }
}

/// The explanation and remedy for a cause read from what stood in front of the provider,
/// or from a body contradicting its status.
pub(super) fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let said = cx.said();
    let owner = owner(cx);
    match cause {
        Cause::FailedDespiteSuccessStatus => (
            format!("{who} answered with success ({}), but its reply says the registration was not taken.{said}", cx.status_text()),
            match cx.provider {
                Some(Provider::Webhook) | None => format!("Ask {owner} why it refused the registration, then resend it."),
                Some(_) => format!("Check the integration's list and field settings in {who_l}, then resend the registration."),
            },
        ),
        Cause::SecurityCheck => (
            format!("A firewall in front of {} blocked leadrelay's request before it got through. This is a security filter on their side, not a problem with the API key.", target(cx)),
            format!("Ask {owner} to let leadrelay's requests through their firewall, then resend. A new key will not help. If only some registrations are blocked, something in their data may trip the filter."),
        ),
        Cause::SecurityChallenge => (
            format!("A bot check in front of {} (an \"are you human?\" page) stopped the request before it got through. Such checks are usually temporary. This is not about the API key.", target(cx)),
            format!("Nothing to do for now: leadrelay tries again {}. If it keeps happening, ask {owner} to let leadrelay's requests past their bot protection.", cx.when_retry()),
        ),
        Cause::OriginCertificate => (
            {
                let (front, server) = (target(cx), own_server(cx));
                let status = cx.status_text();
                match cx.status {
                    Some(526) => format!("Cloudflare, which sits in front of {front}, found the security certificate of {server} invalid ({status}). This is on their side, not in your settings."),
                    Some(527) => format!("Cloudflare, which sits in front of {front}, lost its connection to {server} ({status}). This is on their side, not in your settings."),
                    _ => format!("Cloudflare, which sits in front of {front}, could not make a secure connection to {server} ({status}). This is on their side, not in your settings."),
                }
            },
            match cx.status {
                Some(527) => format!("Nothing to do: leadrelay tries again {}. If it lasts, tell {owner} that Cloudflare cannot reach their server.", cx.when_retry()),
                _ => format!("Nothing to do: leadrelay tries again {}. If it lasts, tell {owner} that their server's security certificate is failing.", cx.when_retry()),
            },
        ),
        Cause::SignInPage => match cx.provider {
            None | Some(Provider::Webhook) => (
                format!("{who} answered with a sign-in page instead of taking the data, so the registration was not stored."),
                "Check the URL in the integration settings: it should be the address that receives data, not a page behind a login. Then resend.".to_owned(),
            ),
            Some(_) => (
                format!("{who} answered with a sign-in page instead of taking the data, so the registration was not stored. leadrelay's connection to {who} is not signed in."),
                format!("Reconnect {who} in the integration settings (sign in again), then resend."),
            ),
        },
        Cause::AwaitingConfirmation => (
            format!("{who} added the person, but they must confirm first: {who} sent them a confirmation email (double opt-in), and they get no marketing email until they click its link."),
            "Nothing to do. If new contacts should be subscribed straight away, turn off double opt-in in the integration settings, but only where your consent text allows it.".to_owned(),
        ),
        _ => unreachable!("not a gateway cause: {cause:?}"),
    }
}
