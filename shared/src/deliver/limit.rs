//! How many requests go to one integration at once, across every deliver invocation.
//!
//! Each integration has `max_concurrency` lease slots (setting `max_concurrency`, else the
//! provider's default below). A job claims a free slot (one whose lease ended counts as
//! free, so a crashed worker never keeps one) with one conditional write before it claims
//! its attempt, holds it while it sends, and releases it after. A job that finds every
//! slot taken goes back to the queue after a short random delay
//! ([`no_slot_delay`]): no attempt is claimed, made, recorded or counted.
//!
//! Slots live in the table as `INT#<integration>` / `SLOT#<nnn>` items (holder, lease end,
//! TTL), apart from the integration item, so they never conflict with its edits.
//!
//! A batch-mode webhook sends one request per batch and takes no slot.
//!
//! # Defaults, by provider, and where they come from
//!
//! | provider | default | documented limit |
//! |---|---|---|
//! | Mailchimp | 10 | "each user account is permitted up to 10 simultaneous connections" (Marketing API, Fundamentals: API limits) |
//! | HubSpot | 10 | 100 (Free/Starter) to 190 (Pro/Enterprise) requests per 10 s per private app (Usage guidelines); no connection limit, so 10 keeps well under the window with ~1 s per request |
//! | HubSpot Forms | 5 | 50 submissions per 10 s (Forms API, unauthenticated submissions) |
//! | Klaviyo | 10 | per-endpoint burst of 75 and steady 700 per minute for profile import and subscriptions (API reference, rate limits) |
//! | SendGrid | 5 | per-endpoint request rates, answered with `X-RateLimit-Limit/Remaining/Reset` and 429 (v3 API, rate limits); no connection limit published, 5 is conservative |
//! | Brevo | 10 | per-endpoint request rates by plan, 429 beyond (API rate limits); no connection limit published |
//! | ActiveCampaign | 5 | 5 requests per second per account (API overview, rate limits) |
//! | Salesforce | 10 | 25 concurrent long-running requests per org (API request limits and allocations); 10 leaves room for the org's other integrations |
//! | Mailjet | 5 | request rates by plan, 429 beyond; no connection limit published, 5 is conservative |
//! | Campaign Monitor | 5 | rate limited per API key with `X-RateLimit-*` headers (API rate limiting); no published concurrency, 5 is conservative |
//! | Dynamics 365 | 20 | service protection: 52 concurrent requests per user (Dataverse API limits) |
//! | Webhook | 10 | the customer's own server: no published limit, so a modest default; raise it in the setting |
//!
//! A setting of 1 to 100 replaces the default.

use crate::model::Integration;
use crate::setting::SettingError;
use leadrelay_explain::provider::Provider;
use std::time::Duration;

/// The setting that replaces the provider's default.
pub const SETTING: &str = "max_concurrency";

/// The largest `max_concurrency` accepted.
pub const MAX_SETTING: u64 = 100;

/// The provider's default limit of simultaneous requests (see the table above).
pub fn default_max_concurrency(provider: Provider) -> u32 {
    match provider {
        Provider::Mailchimp => 10,
        Provider::Hubspot => 10,
        Provider::HubspotForms => 5,
        Provider::Klaviyo => 10,
        Provider::Sendgrid => 5,
        Provider::Brevo => 10,
        Provider::Activecampaign => 5,
        Provider::Salesforce => 10,
        Provider::Mailjet => 5,
        Provider::CampaignMonitor => 5,
        Provider::Dynamics => 20,
        Provider::Webhook => 10,
    }
}

/// How many requests may go to this integration at once.
pub fn max_concurrency(integration: &Integration) -> u32 {
    integration
        .settings
        .get(SETTING)
        .and_then(serde_json::Value::as_u64)
        .filter(|n| (1..=MAX_SETTING).contains(n))
        .map_or_else(
            || default_max_concurrency(integration.provider),
            |n| n as u32,
        )
}

/// Checks `max_concurrency` when it is given.
pub fn validate(settings: &serde_json::Map<String, serde_json::Value>) -> Vec<SettingError> {
    match settings.get(SETTING) {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(v) if v.as_u64().is_some_and(|n| (1..=MAX_SETTING).contains(&n)) => Vec::new(),
        Some(_) => vec![SettingError::new(
            format!("settings.{SETTING}"),
            format!("{SETTING} is a whole number from 1 to {MAX_SETTING}: how many requests leadrelay sends to this integration at once"),
        )],
    }
}

/// A claimed slot: which one, and the worker that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The slot's number, below the limit.
    pub number: u32,
    /// Who holds it (random per claim, so a release never frees another's slot).
    pub holder: String,
}

/// A random holder name for one claim.
pub fn holder() -> String {
    let mut b = [0u8; 12];
    crate::ids::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Picks a slot to claim among `taken` (slot number, lease end) with `limit` slots: the
/// first free one from a random start, so workers spread over the slots; `None` when
/// every slot below the limit is held by a live lease.
pub fn pick_free(limit: u32, taken: &[(u32, u64)], now: u64) -> Option<u32> {
    let start = (crate::schedule::jitter_unit() * f64::from(limit)) as u32;
    (0..limit)
        .map(|i| (start + i) % limit)
        .find(|n| !taken.iter().any(|(s, until)| s == n && *until >= now))
}

/// How long a job that found no free slot waits before it comes back: 1 s and a random
/// part that grows with the limit's scarcity (up to 5 s), so the waiting jobs do not all
/// return together.
pub fn no_slot_delay(limit: u32) -> Duration {
    let spread_ms = (4000.0 / f64::from(limit.max(1)).sqrt()).max(1000.0);
    Duration::from_millis(1000 + (spread_ms * crate::schedule::jitter_unit()) as u64)
}

/// How much slower than they joined the waiting jobs leave: a line that gathered for a
/// minute leaves over a minute and a half. New jobs keep arriving at their own pace after
/// the trouble, so the receiver sees the backlog at two thirds of that pace on top of it:
/// under twice its usual rate, and the backlog still shrinks.
const PACE_STRETCH: f64 = 1.5;

/// When the job at `place` in the line waiting for `until` should come back. Jobs leave
/// in the order they joined, at whichever is slower: `limit` per second (the rate the
/// concurrency limit lets through when a request takes about a second), or the pace at
/// which they joined (the job that joined `joined_after` ms after the line's first
/// leaves [`PACE_STRETCH`] times that long after `until`). Each gets up to a second of
/// random spread. So a receiver that was down or throttled gets its backlog back spread
/// in proportion to how long it gathered, not all within the same seconds.
pub fn spread_after(until: u64, place: u64, limit: u32, joined_after: u64) -> u64 {
    let per_s = u64::from(limit.max(1));
    let by_limit = place.saturating_sub(1) * 1000 / per_s;
    let by_pace = (joined_after as f64 * PACE_STRETCH) as u64;
    until + by_limit.max(by_pace) + (1000.0 * crate::schedule::jitter_unit()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_replaces_the_default_and_bad_values_are_refused() {
        let mut i = Integration {
            id: crate::ids::IntegrationId::generate(),
            account_id: crate::ids::AccountId::generate(),
            name: "m".into(),
            provider: Provider::Mailchimp,
            settings: serde_json::Map::new(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: crate::model::IntegrationStatus::Active,
            created_at: 0,
            updated_at: 0,
            cooldown_until: None,
        };
        assert_eq!(max_concurrency(&i), 10);
        i.settings.insert(SETTING.into(), 3.into());
        assert_eq!(max_concurrency(&i), 3);
        assert!(validate(&i.settings).is_empty());
        for bad in [
            serde_json::json!(0),
            serde_json::json!(101),
            serde_json::json!("5"),
        ] {
            i.settings.insert(SETTING.into(), bad);
            let errors = validate(&i.settings);
            assert_eq!(errors[0].field, "settings.max_concurrency");
        }
    }

    #[test]
    fn a_slot_held_by_a_live_lease_is_not_picked_and_an_expired_one_is() {
        let taken = [(0, 2000), (1, 500)];
        for _ in 0..50 {
            assert_eq!(pick_free(2, &taken, 1000), Some(1));
        }
        assert_eq!(pick_free(2, &[(0, 2000), (1, 2000)], 1000), None);
    }

    #[test]
    fn waiting_jobs_are_spread_in_proportion_to_the_backlog() {
        let until = 1_000_000;
        let first = spread_after(until, 1, 10, 0);
        let thousandth = spread_after(until, 1000, 10, 0);
        assert!((until..until + 1000).contains(&first));
        assert!(thousandth >= until + 99_900, "{thousandth}");
    }

    #[test]
    fn waiting_jobs_leave_slower_than_they_joined() {
        let until = 1_000_000;
        // 60 jobs joined over 60 s (one a second): far below a limit of 10 a second, so
        // the pace decides, and they leave over 90 s in the order they joined.
        let leaving: Vec<u64> = (0..60u64)
            .map(|i| spread_after(until, i + 1, 10, i * 1000))
            .collect();
        assert!((until..until + 1000).contains(&leaving[0]));
        assert!(leaving[59] >= until + 88_500, "{}", leaving[59]);
        // In any 10 s after `until`, at most 8 of them (one every 1.5 s, plus jitter):
        // under the one a second they came at.
        for from in (until..until + 90_000).step_by(1000) {
            let within = leaving
                .iter()
                .filter(|t| (from..from + 10_000).contains(*t))
                .count();
            assert!(within <= 8, "{within} between {from} and {}", from + 10_000);
        }
        // A burst that joined within one second is limited by the concurrency limit.
        let last = spread_after(until, 100, 10, 900);
        assert!(last >= until + 9_900, "{last}");
    }
}
