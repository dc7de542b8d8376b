//! The texts for answers that are not what they seem: a success status over a refusal, a
//! security check or sign-in page in front of the provider, a CDN that cannot reach the
//! provider's own server.

use super::{Cause, Context};

/// The explanation and remedy for a cause read from what stood in front of the provider,
/// or from a body contradicting its status.
pub(super) fn render(cause: Cause, cx: &Context<'_>) -> (String, String) {
    let who = cx.who();
    let who_l = cx.who_lower();
    let said = cx.said();
    match cause {
        Cause::FailedDespiteSuccessStatus => (
            format!("{who} answered with success ({}), but its reply says the registration was not taken.{said}", cx.status_text()),
            format!("Check the integration's list and field settings in {who_l}, then resend the registration."),
        ),
        Cause::SecurityCheck => (
            format!("A security check in front of {who_l} (bot protection or a firewall) stopped the request before it reached {who_l}. This is not about the API key."),
            format!("leadrelay tries again in case the check was temporary. If it keeps happening, ask {who_l} to allow leadrelay's requests through its bot protection."),
        ),
        Cause::OriginCertificate => (
            format!("The network in front of {who_l} could not make a secure connection to {who_l}'s own server ({}). This is on their side.", cx.status_text()),
            format!("Nothing to do: leadrelay tries again {}. If it lasts, tell {who_l} their server's certificate is failing.", cx.when_retry()),
        ),
        Cause::SignInPage => (
            format!("{who} answered with a sign-in page instead of an API answer, so the registration was not stored."),
            format!("Reconnect {who_l} in the integration settings, then resend."),
        ),
        _ => unreachable!("not a gateway cause: {cause:?}"),
    }
}
