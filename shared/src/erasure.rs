//! Erasure of a person's data: what an erased registration keeps and what it loses.
//!
//! A person (or the customer on their behalf) asks for their data to be erased. Every
//! registration of the account with that email address (or one registration by id) is
//! rewritten in place:
//!
//! | item | kept | removed |
//! |---|---|---|
//! | registration | id, campaign, times, integrations, consent answers and their time (evidence of consent) | email, names, phone, every custom field |
//! | delivery | state, attempts, outcome of the latest one | nothing; one still waiting (pending, retrying, paused) ends `erased`: it will never be sent |
//! | attempt | status, class, outcome, provider code, field, timing, the request's method and host | the response body excerpt, the request's path (it can hold a hash of the address), and the person's values wherever the provider's message or the explanation quoted them |
//!
//! So the log still reads "delivered to Mailchimp, 200" or "refused: email, invalid
//! data", and nothing in it leads back to the person. The lookup from an address to its
//! registrations goes through a hash of the address ([`subject_hash`]), never the address.

use crate::ids::RegistrationId;
use crate::model::{Attempt, Delivery, DeliveryState, Registration, RegistrationData};
use crate::store::{AttemptSlot, ErasureStore, Recorded, RegistrationStore, StoreError};
use leadrelay_explain::catalogue::{QUOTE_CLOSE, QUOTE_OPEN};
use serde_json::Value;

/// What replaces a removed value in the text that quoted it.
pub const REDACTED: &str = "[erased]";

/// The key under which a registration is found by its email address: SHA-256 of the
/// trimmed, lower-cased address, hex. Case does not tell two people apart here, so an
/// erasure asked for `Lena@Example.com` reaches `lena@example.com` too.
pub fn subject_hash(email: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

/// The personal values a registration holds, longest first, as they could be quoted in
/// a provider's message: the email (also lower-cased), names, phone and every text
/// answer of two characters or more.
pub fn personal_values(data: &RegistrationData) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    let mut add = |v: &str| {
        let v = v.trim();
        if v.chars().count() >= 2 && !values.iter().any(|known| known == v) {
            values.push(v.to_owned());
        }
    };
    if let Some(email) = &data.email {
        add(email);
        add(&email.to_lowercase());
    }
    for v in [&data.first_name, &data.last_name, &data.phone]
        .into_iter()
        .flatten()
    {
        add(v);
    }
    for v in data.fields.values() {
        match v {
            Value::String(s) => add(s),
            Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {}
        }
    }
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
}

/// `text` with every whole-word occurrence of each value replaced by [`REDACTED`]. A
/// match inside a longer word is left alone ("Al" is not removed from "Also").
pub fn redact(text: &str, values: &[String]) -> String {
    let mut out = text.to_owned();
    for value in values {
        out = replace_words(&out, value);
    }
    out
}

fn is_word_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn replace_words(text: &str, value: &str) -> String {
    if value.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(value) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + value.len()..].chars().next();
        let first = value.chars().next();
        let last = value.chars().next_back();
        // A boundary is needed only where the value itself starts or ends with a word
        // character: "+49 30" can follow a digit-free colon directly.
        let joined_before = is_word_char(first) && is_word_char(before);
        let joined_after = is_word_char(last) && is_word_char(after);
        let bounded = !(joined_before || joined_after);
        out.push_str(&rest[..i]);
        if bounded {
            out.push_str(REDACTED);
        } else {
            out.push_str(value);
        }
        rest = &rest[i + value.len()..];
    }
    out.push_str(rest);
    out
}

/// Erases a registration's personal data in place; returns the values it held, for
/// [`erase_attempt`]. Consent answers and the submission time stay as evidence.
pub fn erase_registration(registration: &mut Registration, at_ms: u64) -> Vec<String> {
    let values = personal_values(&registration.data);
    let data = std::mem::take(&mut registration.data);
    registration.data = RegistrationData {
        consent: data.consent,
        submitted_at: data.submitted_at,
        ..RegistrationData::default()
    };
    registration.erased_at.get_or_insert(at_ms);
    values
}

/// Removes from an attempt what could identify the person: the body excerpt, the
/// request paths and the values quoted in the provider's message and the explanation.
pub fn erase_attempt(attempt: &mut Attempt, values: &[String]) {
    if let Some(response) = &mut attempt.response {
        response.body_excerpt.clear();
    }
    if let Some(request) = &mut attempt.request {
        request.url = origin(&request.url);
    }
    for step in &mut attempt.preceding {
        step.request.url = origin(&step.request.url);
    }
    let v = &mut attempt.verdict;
    v.message = v.message.as_deref().map(|m| redact(m, values));
    // leadrelay's own wording is left alone but for the provider's message it quotes
    // and any address (a name like "Will" must not garble "Will retry").
    let addresses: Vec<String> = values.iter().filter(|v| v.contains('@')).cloned().collect();
    for text in [&mut v.explanation, &mut v.remedy] {
        *text = redact(&redact_quoted(text, values), &addresses);
    }
}

/// `text` with the values redacted inside the provider message it quotes, if any.
fn redact_quoted(text: &str, values: &[String]) -> String {
    let Some(open) = text.find(QUOTE_OPEN) else {
        return text.to_owned();
    };
    let start = open + QUOTE_OPEN.len();
    let Some(len) = text[start..].rfind(QUOTE_CLOSE) else {
        return text.to_owned();
    };
    let end = start + len;
    format!(
        "{}{}{}",
        &text[..start],
        redact(&text[start..end], values),
        &text[end..]
    )
}

/// Stops a delivery that is still waiting (pending, retrying or paused): it ends
/// `erased` (without its wait note) and is never sent. True when it changed.
pub fn stop_delivery(delivery: &mut Delivery, at_ms: u64) -> bool {
    if delivery.state.is_terminal() {
        return false;
    }
    delivery.state = DeliveryState::Erased;
    delivery.next_attempt_at = None;
    delivery.waiting = None;
    delivery.updated_at = at_ms;
    true
}

/// A URL cut to its scheme and host, with a marker where the path was.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let cut = if rest.len() > host.len() { "/…" } else { "" };
    if scheme.is_empty() {
        format!("{host}{cut}")
    } else {
        format!("{scheme}://{host}{cut}")
    }
}

/// What erasing one registration changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Deliveries that were still waiting and now never will be sent.
    pub deliveries_stopped: u32,
    /// Attempts whose records were scrubbed.
    pub attempts_scrubbed: u32,
}

/// How many times a delivery that keeps moving on is read again before erasure leaves it
/// (its own writes refuse an erased registration anyway).
const STOP_TRIES: usize = 5;

/// Erases the person's data from a registration, its deliveries and its attempts, as the
/// table at the top says, and forgets its address; `None` when there is no such
/// registration. Erasing twice changes nothing more; an erasure cut short is finished by
/// running it again.
///
/// The order is what keeps it safe while deliveries run: the registration first (from
/// then on deliver refuses to send it), then every attempt (a claim in flight is marked,
/// so its result is recorded scrubbed: [`record_attempt`]), every waiting delivery
/// (stopped with one conditional write over the state it was read in), and the address
/// last, so that an erasure by address that failed half way still finds the registration.
pub async fn erase<S: RegistrationStore + ErasureStore>(
    store: &S,
    id: &RegistrationId,
    at_ms: u64,
) -> Result<Option<Erased>, StoreError> {
    let Some(log) = store.registration_log(id).await? else {
        return Ok(None);
    };
    let original = log.registration;
    let mut registration = original.clone();
    let values = erase_registration(&mut registration, at_ms);
    store.put_erased_registration(&registration).await?;

    let mut erased = Erased::default();
    for slot in store.attempt_slots(id).await? {
        let mut attempt = match slot {
            AttemptSlot::Recorded(attempt) => *attempt,
            AttemptSlot::InFlight {
                integration_id,
                number,
            } => {
                if store.mark_claim_erased(id, &integration_id, number).await? {
                    continue;
                }
                // It was recorded meanwhile: scrub what was recorded.
                let recorded = store
                    .attempt_slots(id)
                    .await?
                    .into_iter()
                    .find_map(|s| match s {
                        AttemptSlot::Recorded(a)
                            if a.integration_id == integration_id && a.number == number =>
                        {
                            Some(*a)
                        }
                        _ => None,
                    });
                match recorded {
                    Some(attempt) => attempt,
                    None => continue,
                }
            }
        };
        erase_attempt(&mut attempt, &values);
        store.put_scrubbed_attempt(&attempt).await?;
        erased.attempts_scrubbed += 1;
    }

    for mut seen in log.deliveries {
        for _ in 0..STOP_TRIES {
            let mut stopped = seen.clone();
            if !stop_delivery(&mut stopped, at_ms) {
                break;
            }
            if store
                .put_stopped_delivery(&seen, &stopped, registration.expires_at)
                .await?
            {
                erased.deliveries_stopped += 1;
                break;
            }
            match store.delivery(id, &seen.integration_id).await? {
                Some(fresh) => seen = fresh,
                None => break,
            }
        }
    }

    store.forget_subject(&original).await?;
    Ok(Some(erased))
}

/// Records an ended attempt over its claim; when an erasure reached the claim while the
/// attempt was in flight, the attempt is recorded scrubbed of the registration's
/// personal values instead, as erasure leaves attempts, and [`Recorded::Erased`] says so.
pub async fn record_attempt<S: RegistrationStore + ErasureStore>(
    store: &S,
    attempt: &Attempt,
    registration: &Registration,
) -> Result<Recorded, StoreError> {
    match store
        .record_attempt(attempt, registration.expires_at)
        .await?
    {
        Recorded::Erased => {
            let mut scrubbed = attempt.clone();
            erase_attempt(&mut scrubbed, &personal_values(&registration.data));
            Ok(
                if store
                    .record_scrubbed_attempt(&scrubbed, registration.expires_at)
                    .await?
                {
                    Recorded::Erased
                } else {
                    Recorded::AlreadyRecorded
                },
            )
        }
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
    use crate::model::{RequestSummary, ResponseSummary, Trigger};
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::{Class, Outcome, Verdict};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn registration() -> Registration {
        let mut fields = serde_json::Map::new();
        fields.insert("city".into(), json!("Lübeck"));
        fields.insert("score".into(), json!(42));
        fields.insert("colours".into(), json!(["teal", "x"]));
        Registration {
            id: RegistrationId::generate(),
            account_id: AccountId::generate(),
            campaign_id: CampaignId::generate(),
            received_at: 1_000,
            data: RegistrationData {
                email: Some("Lena.Berg@example.com".into()),
                first_name: Some("Al".into()),
                last_name: Some("Berg".into()),
                phone: Some("+49 30 1234".into()),
                consent: BTreeMap::from([("marketing".into(), true)]),
                fields,
                submitted_at: Some(900),
            },
            integration_ids: vec![IntegrationId::generate()],
            expires_at: 10,
            erased_at: None,
        }
    }

    #[test]
    fn the_subject_hash_ignores_case_and_surrounding_space() {
        assert_eq!(
            subject_hash(" Lena.Berg@Example.com "),
            subject_hash("lena.berg@example.com")
        );
        assert_ne!(
            subject_hash("lena.berg@example.com"),
            subject_hash("lena.berg@example.org")
        );
        assert_eq!(subject_hash("a@b.c").len(), 64);
    }

    #[test]
    fn an_erased_registration_keeps_consent_and_times_only() {
        let mut r = registration();
        let values = erase_registration(&mut r, 5_000);
        assert_eq!(r.erased_at, Some(5_000));
        assert_eq!(r.data.email, None);
        assert_eq!(r.data.first_name, None);
        assert_eq!(r.data.phone, None);
        assert!(r.data.fields.is_empty());
        assert_eq!(r.data.consent.get("marketing"), Some(&true));
        assert_eq!(r.data.submitted_at, Some(900));
        for v in [
            "Lena.Berg@example.com",
            "lena.berg@example.com",
            "Al",
            "Berg",
            "+49 30 1234",
            "Lübeck",
            "teal",
        ] {
            assert!(values.iter().any(|x| x == v), "{v} is a personal value");
        }
        assert!(!values.iter().any(|x| x == "x"), "one letter is too short");
        assert!(
            !values.iter().any(|x| x == "Lena.Berg"),
            "a local part alone is a word"
        );
        // Longest first, so an address is removed before the name inside it.
        assert!(values.windows(2).all(|w| w[0].len() >= w[1].len()));
        // A second erasure keeps the first time.
        erase_registration(&mut r, 9_000);
        assert_eq!(r.erased_at, Some(5_000));
    }

    #[test]
    fn redaction_takes_whole_words_only() {
        let values = personal_values(&registration().data);
        let text =
            "Lena.Berg@example.com is already a list member. Also: Al Berg, +49 30 1234, Bergen.";
        assert_eq!(
            redact(text, &values),
            "[erased] is already a list member. Also: [erased] [erased], [erased], Bergen."
        );
        assert_eq!(redact("lena.berg@example.com", &values), "[erased]");
        assert_eq!(redact("nothing personal", &values), "nothing personal");
    }

    #[test]
    fn an_erased_attempt_keeps_its_status_line() {
        let r = registration();
        let mut attempt = Attempt {
            registration_id: r.id.clone(),
            integration_id: r.integration_ids[0].clone(),
            number: 1,
            trigger: Trigger::Automatic,
            started_at: 2_000,
            duration_ms: 80,
            preceding: Vec::new(),
            request: Some(RequestSummary {
                method: "PUT".into(),
                url: "https://us21.api.mailchimp.com/3.0/lists/abc/members/5d41402abc4b2a76".into(),
                body_bytes: 120,
                batch: None,
            }),
            response: Some(ResponseSummary {
                status: 400,
                headers: BTreeMap::new(),
                body_excerpt: r#"{"detail":"Lena.Berg@example.com looks fake"}"#.into(),
                body_truncated: false,
            }),
            verdict: Verdict {
                status: Some(400),
                class: Class::ClientError,
                reason: Some("Bad Request".into()),
                outcome: Outcome::InvalidData,
                retryable: false,
                retry_after_s: None,
                provider_code: Some("Invalid Resource".into()),
                field: Some("email".into()),
                message: Some("Lena.Berg@example.com looks fake".into()),
                explanation: "Al, Mailchimp refused the address. It said: \"Berg: Lena.Berg@example.com looks fake\".".into(),
                remedy: "Correct Lena.Berg@example.com and resend.".into(),
            },
            delivery_state: DeliveryState::Failed,
            next_attempt_at: None,
            integration_version: None,
        };
        let values = personal_values(&r.data);
        erase_attempt(&mut attempt, &values);
        let response = attempt.response.as_ref().unwrap();
        assert_eq!(response.status, 400);
        assert!(response.body_excerpt.is_empty());
        assert_eq!(
            attempt.request.as_ref().unwrap().url,
            "https://us21.api.mailchimp.com/…"
        );
        let v = &attempt.verdict;
        assert_eq!(v.message.as_deref(), Some("[erased] looks fake"));
        assert_eq!(
            v.explanation,
            "Al, Mailchimp refused the address. It said: \"[erased]: [erased] looks fake\".",
            "the quoted message loses every value, leadrelay's own words only the address"
        );
        assert_eq!(v.remedy, "Correct [erased] and resend.");
        assert_eq!(v.outcome, Outcome::InvalidData);
        assert_eq!(v.field.as_deref(), Some("email"));
        assert_eq!(v.provider_code.as_deref(), Some("Invalid Resource"));
        assert_eq!(Provider::Mailchimp.display_name(), "Mailchimp");
    }

    #[test]
    fn only_waiting_deliveries_are_stopped() {
        let r = registration();
        let mut d = Delivery {
            registration_id: r.id.clone(),
            integration_id: r.integration_ids[0].clone(),
            campaign_id: r.campaign_id.clone(),
            provider: Provider::Webhook,
            state: DeliveryState::Retrying,
            attempts: 1,
            next_attempt_at: Some(3_000),
            last: None,
            received_at: 1_000,
            updated_at: 2_000,
            waiting: Some(crate::model::WaitNote {
                kind: crate::model::WaitKind::Held,
                until: 3_500,
                note: "Waiting, not failed".into(),
            }),
        };
        assert!(stop_delivery(&mut d, 4_000));
        assert_eq!(d.state, DeliveryState::Erased);
        assert_eq!(d.next_attempt_at, None);
        assert_eq!(d.waiting, None, "an erased delivery waits for nothing");
        assert_eq!(d.updated_at, 4_000);
        assert!(!stop_delivery(&mut d, 5_000), "once is enough");
        let mut done = Delivery {
            state: DeliveryState::Delivered,
            ..d.clone()
        };
        assert!(!stop_delivery(&mut done, 4_000));
        assert_eq!(done.state, DeliveryState::Delivered);
        for state in [DeliveryState::Pending, DeliveryState::Paused] {
            let mut waiting = Delivery { state, ..d.clone() };
            assert!(stop_delivery(&mut waiting, 4_000), "{state:?}");
        }
    }

    #[test]
    fn origins_keep_scheme_and_host() {
        assert_eq!(origin("https://a.io/x/y?z=1"), "https://a.io/…");
        assert_eq!(origin("https://a.io"), "https://a.io");
        assert_eq!(origin("a.io/x"), "a.io/…");
    }
}
