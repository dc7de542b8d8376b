//! The JSON the logs API answers with: stored records with times in RFC 3339, a one-line
//! headline per delivery for the marketer, and a campaign's summary.

use leadrelay::clock::rfc3339;
use leadrelay::logs::{headline, Summary};
use leadrelay::model::{Attempt, Delivery};
use leadrelay::store::RegistrationLog;
use serde_json::{json, Value};

fn time(ms: Option<u64>) -> Value {
    ms.map_or(Value::Null, |t| Value::from(rfc3339(t)))
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

/// A registration found by its address: its campaign, when, and where each delivery
/// stands (the address itself is not repeated).
pub fn found(f: &leadrelay::logs::find::Found) -> Value {
    let r = &f.registration;
    json!({
        "registration_id": r.id,
        "campaign_id": r.campaign_id,
        "received_at": rfc3339(r.received_at),
        "deliveries": f.deliveries.iter().map(|(d, latest)| json!({
            "integration_id": d.integration_id,
            "provider": d.provider,
            "state": d.state,
            "attempts": d.attempts,
            "outcome": d.last.as_ref().map(|l| l.outcome),
            "last_attempt_at": time(d.last.as_ref().map(|l| l.at)),
            "headline": headline(d, latest.as_ref()),
        })).collect::<Vec<_>>(),
        "log": format!("/v1/registrations/{}", r.id),
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

/// A campaign's summary.
pub fn summary(campaign_id: &str, s: &Summary) -> Value {
    let integrations: Vec<Value> = s
        .integrations
        .iter()
        .map(|c| json!({"integration_id": c.integration_id, "provider": c.provider, "states": c.states, "outcomes": c.outcomes}))
        .collect();
    let top: Vec<Value> = s
        .top_causes
        .iter()
        .map(|c| json!({"provider": c.provider, "outcome": c.outcome, "provider_code": c.provider_code, "count": c.count}))
        .collect();
    json!({
        "campaign_id": campaign_id,
        "from": rfc3339(s.from_ms),
        "to": rfc3339(s.to_ms),
        "deliveries": s.deliveries,
        "truncated": s.truncated,
        "integrations": integrations,
        "top_causes": top,
    })
}
