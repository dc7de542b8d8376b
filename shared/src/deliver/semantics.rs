//! What may be repeated, and how long an attempt may take: the rules the crash windows
//! of `docs/delivery-semantics.md` rest on.
//!
//! # Repeating a send whose outcome is unknown
//!
//! An attempt is claimed just before its request is built and sent. A claim whose lease
//! ended with no recorded result means the request may have reached the provider. The
//! job that finds it records the attempt as *outcome unknown* and then, by provider:
//!
//! | provider | its call | after an unknown outcome |
//! |---|---|---|
//! | Mailchimp, HubSpot CRM, Klaviyo, SendGrid, Brevo, ActiveCampaign, Mailjet, Campaign Monitor, Dynamics 365 | an upsert keyed by the address, or a create that answers "exists" on a repeat | sent again as the next attempt |
//! | Salesforce with `existing_contact: update` | PATCH by external id (upsert) | sent again |
//! | Salesforce with `existing_contact: create_only` | POST creates a record each time | not sent again: `failed`, explained |
//! | HubSpot Forms | each submission is a new one | not sent again: `failed`, explained |
//! | webhook (single or batch mode) | the receiver may not drop repeated `webhook-id`s | not sent again: `failed`, explained |
//!
//! Every request of a delivery carries the same id wherever the provider takes one: the
//! `webhook-id` of a webhook is the same on every attempt, so a manual resend after an
//! unknown outcome is recognisable by the receiver.
//!
//! # One deadline per attempt
//!
//! All the requests of one attempt (a token request, the record, list subscriptions)
//! share one deadline: the attempt's timeout from its start, and never later than the
//! invocation's end less [`RECORD_MARGIN`]. Each request gets what is left of it, at
//! most. A follow-up for which no time is left is not started: the attempt is recorded
//! as timed out (retryable), so a slow provider costs one attempt, not the batch.

use crate::exchange::{Exchange, OutgoingRequest, Transport};
use crate::model::Integration;
use leadrelay_explain::answer::{ProviderResponse, TransportErrorKind};
use leadrelay_explain::provider::Provider;
use std::time::{Duration, Instant};

/// The most requests one attempt may send (the first and its follow-ups): an
/// integration whose settings would need more is refused at configuration and, if
/// stored before the limit, its deliveries fail as misconfigured without sending.
pub const MAX_REQUESTS_PER_ATTEMPT: usize = 6;

/// Time kept after an attempt's requests for recording it and queueing what follows.
pub const RECORD_MARGIN: Duration = Duration::from_secs(3);

/// A follow-up is not started with less than this left of the attempt's time.
pub const MIN_REQUEST_TIME: Duration = Duration::from_millis(500);

/// The longest an attempt can run, whatever its number of requests, for an attempt
/// timeout of `attempt_timeout`: the requests share that one deadline.
pub fn worst_case_attempt(attempt_timeout: Duration) -> Duration {
    attempt_timeout
}

/// How long an invocation must still have for an attempt to start: the worst case of
/// the attempt, and the writes after it.
pub fn time_needed_to_start(attempt_timeout: Duration) -> Duration {
    worst_case_attempt(attempt_timeout) + RECORD_MARGIN
}

/// Whether sending this integration's request a second time cannot leave the provider
/// with two of it (see the module's table).
pub fn repeat_is_safe(integration: &Integration) -> bool {
    match integration.provider {
        Provider::Webhook | Provider::HubspotForms => false,
        Provider::Salesforce => {
            integration
                .settings
                .get("existing_contact")
                .and_then(|v| v.as_str())
                != Some("create_only")
        }
        _ => true,
    }
}

/// Sends `request`, giving it at most until `deadline`; a request cut off there reads
/// as a timeout.
pub async fn send_within<T: Transport>(
    transport: &T,
    request: &OutgoingRequest,
    deadline: Instant,
) -> Exchange {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, transport.send(request)).await {
        Ok(exchange) => exchange,
        Err(_) => Exchange {
            response: ProviderResponse::failed(
                TransportErrorKind::Timeout,
                format!(
                    "no complete answer within the {} s left of the attempt",
                    left.as_secs()
                ),
            ),
            summary: None,
            duration_ms: left.as_millis() as u64,
            blocked: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IntegrationStatus;
    use serde_json::json;

    fn integration(provider: Provider, settings: serde_json::Value) -> Integration {
        Integration {
            id: crate::ids::IntegrationId::generate(),
            account_id: crate::ids::AccountId::generate(),
            name: "i".into(),
            provider,
            settings: settings.as_object().cloned().unwrap(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            created_at: 0,
            updated_at: 0,
            cooldown_until: None,
        }
    }

    #[test]
    fn only_upserts_are_repeated_after_an_unknown_outcome() {
        assert!(!repeat_is_safe(&integration(Provider::Webhook, json!({}))));
        assert!(!repeat_is_safe(&integration(
            Provider::HubspotForms,
            json!({})
        )));
        assert!(repeat_is_safe(&integration(Provider::Mailchimp, json!({}))));
        assert!(repeat_is_safe(&integration(
            Provider::Salesforce,
            json!({})
        )));
        assert!(!repeat_is_safe(&integration(
            Provider::Salesforce,
            json!({"existing_contact": "create_only"})
        )));
    }
}
