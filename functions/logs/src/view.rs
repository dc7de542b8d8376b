//! The JSON the logs API answers with: stored records with times in RFC 3339 and a one-line
//! summary per delivery for the marketer.

use leadrelay::clock::rfc3339;
use leadrelay::model::{Attempt, Delivery, DeliveryState};
use leadrelay::store::RegistrationLog;
use serde_json::{json, Value};

fn time(ms: Option<u64>) -> Value {
    ms.map_or(Value::Null, |t| Value::from(rfc3339(t)))
}

/// One line saying where a delivery stands: while its job waits with no attempt made
/// (a held integration, a cooldown), the note saying so.
pub fn headline(d: &Delivery, latest: Option<&Attempt>) -> String {
    let provider = d.provider.display_name();
    if let (DeliveryState::Pending | DeliveryState::Retrying, Some(w)) = (d.state, &d.waiting) {
        return w.note.clone();
    }
    match (d.state, latest) {
        (DeliveryState::Pending, _) => format!("Queued for {provider}; not tried yet."),
        (DeliveryState::Skipped, _) => {
            format!("Not sent to {provider}: a condition of the integration excludes it.")
        }
        (DeliveryState::Erased, _) => {
            format!("Never sent to {provider}: the person's data was erased while it waited.")
        }
        (DeliveryState::Superseded, _) => format!(
            "Not sent to {provider}: a newer registration of the same person had already been delivered there."
        ),
        (DeliveryState::Paused, _) => leadrelay::notices::waiting_on_pause(d.provider),
        (state, Some(a)) => {
            let status = a
                .verdict
                .status
                .map_or_else(|| a.verdict.class.as_str().to_owned(), |s| s.to_string());
            let what = match state {
                DeliveryState::Delivered => "delivered",
                DeliveryState::Retrying => "will retry",
                DeliveryState::Failed => "failed",
                DeliveryState::Exhausted => "gave up after every retry",
                _ => state.as_str(),
            };
            let next = match (state, d.next_attempt_at) {
                (DeliveryState::Retrying, Some(t)) => {
                    format!(", next try at {}", leadrelay::clock::clock_time(t))
                }
                _ => String::new(),
            };
            format!(
                "{provider}: {what} ({status}, {}) after {} attempt{}{next}.",
                a.verdict.outcome.as_str().replace('_', " "),
                d.attempts,
                if d.attempts == 1 { "" } else { "s" }
            )
        }
        (state, None) => format!("{provider}: {}.", state.as_str()),
    }
}

/// An attempt as the API shows it.
pub fn attempt(a: &Attempt) -> Value {
    json!({
        "number": a.number,
        "trigger": a.trigger,
        "started_at": rfc3339(a.started_at),
        "duration_ms": a.duration_ms,
        "preceding": a.preceding,
        "request": a.request,
        "response": a.response,
        "verdict": a.verdict,
        "delivery_state": a.delivery_state,
        "next_attempt_at": time(a.next_attempt_at),
    })
}

/// A delivery row of a campaign list.
pub fn delivery_row(d: &Delivery) -> Value {
    json!({
        "registration_id": d.registration_id,
        "integration_id": d.integration_id,
        "provider": d.provider,
        "state": d.state,
        "attempts": d.attempts,
        "received_at": rfc3339(d.received_at),
        "next_attempt_at": time(d.next_attempt_at),
        "last": d.last.as_ref().map(|l| json!({
            "number": l.number,
            "at": rfc3339(l.at),
            "status": l.status,
            "class": l.class,
            "outcome": l.outcome,
            "provider_code": l.provider_code,
        })),
        "log": format!("/v1/registrations/{}", d.registration_id),
    })
}

/// The whole log of a registration.
pub fn registration_log(log: &RegistrationLog) -> Value {
    let r = &log.registration;
    let deliveries: Vec<Value> = log
        .deliveries
        .iter()
        .map(|d| {
            let attempts: Vec<&Attempt> = log
                .attempts
                .iter()
                .filter(|a| a.integration_id == d.integration_id)
                .collect();
            let latest = attempts.iter().max_by_key(|a| a.number).copied();
            json!({
                "integration_id": d.integration_id,
                "provider": d.provider,
                "state": d.state,
                "attempt_count": d.attempts,
                "next_attempt_at": time(d.next_attempt_at),
                "waiting": d.waiting.as_ref().map(|w| json!({
                    "kind": w.kind,
                    "until": rfc3339(w.until),
                    "note": w.note,
                })),
                "headline": headline(d, latest),
                "attempts": attempts.iter().map(|a| attempt(a)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "registration": {
            "id": r.id,
            "campaign_id": r.campaign_id,
            "received_at": rfc3339(r.received_at),
            "expires_at": rfc3339(r.expires_at * 1000),
            "data": r.data,
            "erased_at": time(r.erased_at),
        },
        "deliveries": deliveries,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use leadrelay::model::{WaitKind, WaitNote};
    use leadrelay_explain::provider::Provider;

    fn delivery(state: DeliveryState, waiting: Option<WaitNote>) -> Delivery {
        Delivery {
            registration_id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            integration_id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            provider: Provider::Webhook,
            state,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: 1,
            updated_at: 1,
            waiting,
        }
    }

    #[test]
    fn a_waiting_delivery_headlines_its_wait_note() {
        let note = WaitNote {
            kind: WaitKind::Cooldown,
            until: 5_000,
            note: "Waiting, not failed: the webhook asked leadrelay to slow down.".into(),
        };

        let waiting = delivery(DeliveryState::Pending, Some(note.clone()));
        let plain = delivery(DeliveryState::Pending, None);
        let paused = delivery(DeliveryState::Paused, Some(note.clone()));

        assert_eq!(headline(&waiting, None), note.note);
        assert_eq!(
            headline(&plain, None),
            "Queued for the webhook endpoint; not tried yet."
        );
        assert_eq!(
            headline(&paused, None),
            leadrelay::notices::waiting_on_pause(Provider::Webhook),
            "a pause says why it waits"
        );
    }
}
