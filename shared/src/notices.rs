//! The texts of verdicts that leadrelay decides itself, without a provider's answer: a
//! destination it will not connect to, an integration that is misconfigured or was
//! removed, a delivery waiting on paused credentials. Like the
//! [`catalogue`](leadrelay_explain::catalogue), every word a marketer reads of these is here.

use leadrelay_explain::provider::Provider;
use leadrelay_explain::verdict::{Class, Outcome, Verdict};

fn not_sent(
    outcome: Outcome,
    code: &str,
    field: Option<&str>,
    message: String,
    explanation: String,
    remedy: String,
) -> Verdict {
    Verdict {
        status: None,
        class: Class::NotSent,
        reason: None,
        outcome,
        retryable: outcome.retryable(),
        retry_after_s: None,
        provider_code: Some(code.to_owned()),
        field: field.map(str::to_owned),
        message: Some(message),
        explanation,
        remedy,
    }
}

/// The destination resolved to an address leadrelay never connects to.
pub fn blocked_address(provider: Provider, detail: &str) -> Verdict {
    not_sent(
        Outcome::Forbidden,
        "egress.blocked_address",
        Some("url"),
        format!("blocked: {detail}"),
        format!(
            "leadrelay did not send this registration: the {} URL is not one leadrelay connects to ({detail}). leadrelay only sends to public internet addresses, over https.",
            provider_noun(provider)
        ),
        "Change the integration's URL to a public https address. Deliveries wait, paused, and go out once the integration is updated.".to_owned(),
    )
}

/// The integration's settings cannot build a request.
pub fn misconfigured(provider: Provider, field: &str, problem: &str) -> Verdict {
    not_sent(
        Outcome::InvalidData,
        "integration.misconfigured",
        Some(field),
        format!("{field}: {problem}"),
        format!(
            "leadrelay could not prepare the request to {}: the integration's setting '{field}' is not usable ({problem}).",
            provider_noun(provider)
        ),
        "Fix the setting in the integration, then resend this registration from its log.".to_owned(),
    )
}

/// The integration was deleted after the registration arrived.
pub fn integration_removed() -> Verdict {
    not_sent(
        Outcome::NotFound,
        "integration.removed",
        None,
        "the integration no longer exists".to_owned(),
        "leadrelay did not send this registration: the integration it was meant for was removed from the account.".to_owned(),
        "Nothing to do if the removal was intended. Otherwise create the integration again, attach it to the campaign and resend.".to_owned(),
    )
}

/// A condition of the integration excluded the registration (test sends report it so).
pub fn skipped(provider: Provider, reason: &str) -> Verdict {
    not_sent(
        Outcome::Unexpected,
        "integration.condition_not_met",
        None,
        reason.to_owned(),
        format!(
            "leadrelay did not send this registration to {}: {reason}.",
            provider_noun(provider)
        ),
        "Nothing to do if that is intended; otherwise change the integration's conditions."
            .to_owned(),
    )
}

/// An answer was a success, but lacks a value the next request of the delivery needs
/// (the contact id for a list subscription, an access token): `answered` is the
/// verdict on that answer, `pointer` where the value was expected.
pub fn unusable_answer(provider: Provider, answered: &Verdict, pointer: &str) -> Verdict {
    let outcome = Outcome::Unexpected;
    Verdict {
        outcome,
        retryable: outcome.retryable(),
        provider_code: Some("answer.value_missing".to_owned()),
        field: None,
        message: Some(format!("the answer has no value at {pointer}")),
        explanation: format!(
            "{} answered with success, but its answer lacks what leadrelay needs for the next step of this delivery (the value at {pointer}), so the delivery stopped there.",
            provider.display_name()
        ),
        remedy: "Resend the registration from its log. If it stops at the same step again, contact leadrelay support with this log.".to_owned(),
        ..answered.clone()
    }
}

/// An earlier run of this attempt claimed it and ended without recording a result (the
/// function stopped, or storage failed after the send): the request may or may not have
/// reached the provider. `message_id` is the delivery's stable `webhook-id` /
/// idempotency key; `repeat_safe` says whether the provider's call is an upsert that a
/// repeat cannot duplicate, in which case the next attempt sends it again.
pub fn outcome_unknown(provider: Provider, message_id: &str, repeat_safe: bool) -> Verdict {
    let outcome = Outcome::Unexpected;
    let noun = provider_noun(provider);
    let (explanation, remedy) = if repeat_safe {
        (
            format!(
                "leadrelay started sending this registration to {noun}, but the attempt stopped before its answer was recorded, so it is not known whether {noun} received it. {noun} updates a contact in place, so sending it again cannot create a duplicate: leadrelay sends it again."
            ),
            "Nothing to do: the next attempt sends the same data again.".to_owned(),
        )
    } else {
        (
            format!(
                "leadrelay started sending this registration to the {noun}, but the attempt stopped before its answer was recorded, so it is not known whether the {noun} received it. A {noun} cannot tell a repeat from a new registration unless it checks the id, so leadrelay does not send it again by itself."
            ),
            format!(
                "Check whether the receiving system has the message with id {message_id}. If it does not, resend this registration from its log: the resend carries the same id, so a receiver that drops repeated ids stays correct either way."
            ),
        )
    };
    Verdict {
        status: None,
        class: Class::Network,
        reason: None,
        outcome,
        retryable: repeat_safe,
        retry_after_s: None,
        provider_code: Some("attempt.outcome_unknown".to_owned()),
        field: None,
        message: Some(format!("no answer was recorded for message {message_id}")),
        explanation,
        remedy,
    }
}

/// A newer registration of the same person was delivered to this integration already:
/// this older one is not sent, so it cannot overwrite it (a consent withdrawn since,
/// changed details).
pub fn superseded(provider: Provider, newer_received_at: u64) -> Verdict {
    not_sent(
        Outcome::Unexpected,
        "order.superseded",
        None,
        format!(
            "a newer registration of this person, received {}, was already delivered",
            crate::clock::rfc3339(newer_received_at)
        ),
        format!(
            "leadrelay did not send this registration to {}: the same person registered again later (received {}) and that newer registration was delivered there already. Sending this older one now would overwrite the newer details, such as a consent given or withdrawn since.",
            provider_noun(provider),
            crate::clock::rfc3339(newer_received_at)
        ),
        "Nothing to do: the newer registration holds the person's current details. Resend this one only if the older details are the right ones.".to_owned(),
    )
}

/// The attempt's time ran out before every request of it was sent (a slow provider on
/// an earlier step); `sent` requests went out and succeeded.
pub fn out_of_time(provider: Provider, sent: usize, budget_s: u64) -> Verdict {
    let outcome = Outcome::Timeout;
    Verdict {
        status: None,
        class: Class::Network,
        reason: None,
        outcome,
        retryable: outcome.retryable(),
        retry_after_s: None,
        provider_code: Some("attempt.out_of_time".to_owned()),
        field: None,
        message: Some(format!(
            "the attempt's {budget_s} s ran out after {sent} request(s)"
        )),
        explanation: format!(
            "{} answered too slowly: the attempt's time ({budget_s} s for all of its requests) ran out after {sent} of them, before the rest could be sent.",
            provider.display_name()
        ),
        remedy: "Nothing to do: leadrelay tries again automatically. If it keeps happening, check the provider's status page.".to_owned(),
    }
}

/// Why a delivery waits: the integration is paused.
pub fn waiting_on_pause(provider: Provider) -> String {
    format!(
        "Waiting: the {} integration is paused until its credentials or settings are fixed; this registration goes out as soon as it is updated.",
        provider_noun(provider)
    )
}

/// The remedy stored on a paused integration.
pub fn pause_remedy(provider: Provider, outcome: Outcome) -> String {
    match outcome {
        Outcome::Unauthorized => format!(
            "Update the {} credentials (API key or token) in the integration's settings. Deliveries are paused, not lost: they go out as soon as the integration is updated.",
            provider.display_name()
        ),
        _ => format!(
            "Check the integration's settings and the permissions of its {} credentials. Deliveries are paused, not lost: they go out as soon as the integration is updated.",
            provider.display_name()
        ),
    }
}

fn provider_noun(provider: Provider) -> String {
    match provider {
        Provider::Webhook => "webhook".to_owned(),
        p => p.display_name().to_owned(),
    }
}

/// Why a circuit breaker held an integration: `failures` failed attempts ending with
/// `outcome` (a server error, a timeout or a network failure).
pub fn breaker_reason(provider: Provider, failures: u32, outcome: Outcome) -> String {
    let what = match outcome {
        Outcome::Timeout => "did not answer in time",
        Outcome::NetworkError => "could not be reached",
        _ => "answered with server errors",
    };
    format!(
        "{} {what} {failures} times, so leadrelay stopped sending to it for a while instead of spending the deliveries' retries on an outage.",
        capitalised(&provider_noun(provider))
    )
}

/// What a delivery held by its integration's circuit breaker says: why, and when it
/// goes out (`due`, ms since the epoch).
pub fn breaker_held(
    provider: Provider,
    breaker: &crate::deliver::breaker::Breaker,
    due: u64,
) -> String {
    let why = breaker.reason.clone().unwrap_or_else(|| {
        format!(
            "{} has been failing.",
            capitalised(&provider_noun(provider))
        )
    });
    format!(
        "Waiting, not failed: {why} leadrelay tries one delivery after {} and sends this one again at {} once that works. Waiting does not use up any of its retries.",
        breaker.held_until.map_or_else(|| "a short pause".to_owned(), crate::clock::rfc3339),
        crate::clock::rfc3339(due)
    )
}

/// What a delivery waiting for its integration's cooldown says: the provider asked
/// leadrelay to slow down until `until`, and this delivery goes out at `due` (both ms
/// since the epoch).
pub fn cooldown_wait(provider: Provider, until: u64, due: u64) -> String {
    let who = match provider {
        Provider::Webhook => "the webhook",
        p => p.display_name(),
    };
    format!(
        "Waiting, not failed: {who} asked leadrelay to slow down, so deliveries to it wait until {} instead of meeting the same limit again. leadrelay sends this one at {}. Waiting does not use up any of its retries.",
        crate::clock::rfc3339(until),
        crate::clock::rfc3339(due)
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_decided_verdicts_are_not_sent_and_keep_the_outcome_table() {
        let v = blocked_address(Provider::Webhook, "10.0.0.8 is a private address");
        assert_eq!(v.class, Class::NotSent);
        assert_eq!(v.outcome, Outcome::Forbidden);
        assert!(!v.retryable);
        assert!(v.explanation.contains("10.0.0.8"));
        let v = misconfigured(Provider::Webhook, "settings.url", "missing");
        assert_eq!(v.field.as_deref(), Some("settings.url"));
        assert!(!integration_removed().retryable);
        let ok = leadrelay_explain::explain::explain(
            Some(Provider::Salesforce),
            &leadrelay_explain::answer::ProviderResponse::new(200, "{}"),
            None,
        );
        let v = unusable_answer(Provider::Salesforce, &ok, "/access_token");
        assert_eq!((v.status, v.class), (Some(200), Class::Success));
        assert_eq!(v.outcome, Outcome::Unexpected);
        assert!(!v.outcome.is_success());
        assert!(v.explanation.contains("/access_token"));
    }

    #[test]
    fn a_cooldown_wait_says_until_when_and_that_no_retry_is_used() {
        let text = cooldown_wait(Provider::Mailchimp, 1_764_613_200_000, 1_764_613_260_000);
        assert!(
            text.starts_with("Waiting, not failed: Mailchimp asked"),
            "{text}"
        );
        assert!(text.contains("until 2025-12-01T18:20:00"), "{text}");
        assert!(text.contains("at 2025-12-01T18:21:00"), "{text}");
        assert!(
            text.contains("does not use up any of its retries"),
            "{text}"
        );
    }
}
