//! The circuit breaker of one integration: a destination that keeps failing with server
//! errors, timeouts or network errors is `held`, and its deliveries wait (no attempt is
//! made or counted) until one probe shows it answers again.
//!
//! - **Closed** (normal): every attempt's outcome is counted. The integration is held
//!   when `breaker_failures` attempts in a row failed (default 5), or when, in the
//!   60 s after a failure, at least 20 attempts ended and `breaker_percent` of them
//!   failed (default 50). Successes are only counted while a window is open, so a
//!   healthy integration costs no breaker write.
//! - **Held**: jobs go back to the queue until `held_until` (the first hold lasts
//!   `breaker_hold_s`, default 30 s; each hold in a row doubles it, up to 15 min), spread
//!   in proportion to the number waiting.
//! - **Half-open**: after `held_until`, the first job that claims the probe (a
//!   conditional write, so only one invocation wins) is sent; the others keep waiting.
//!   The probe's success (any answer from the provider that is not a server error)
//!   closes the breaker; its failure holds it again, twice as long. A probe that never
//!   reports (its worker crashed) lets another probe in after its lease.
//!
//! Rate limits are left to the integration's cooldown and do not count here.
//!
//! The breaker lives in its own item (`INT#<integration>` / `BREAKER`, with a version for
//! conditional writes), apart from the integration item, so counting never conflicts
//! with the integration's edits.

use crate::ids::IntegrationId;
use crate::model::Integration;
use crate::setting::SettingError;
use leadrelay_explain::verdict::Outcome;
use serde::{Deserialize, Serialize};

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Deliveries go out.
    #[default]
    Closed,
    /// Deliveries wait until `held_until`, then one probe may go.
    Held,
    /// One probe is out; the others wait for its answer.
    Probing,
}

impl BreakerState {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Held => "held",
            BreakerState::Probing => "probing",
        }
    }
}

/// One integration's breaker, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// The integration.
    pub integration_id: IntegrationId,
    /// Bumped on every write (0: never written).
    pub version: u64,
    /// Where it stands.
    pub state: BreakerState,
    /// Failures in a row, ending with the latest counted attempt.
    pub consecutive_failures: u32,
    /// When the current window opened (ms since the epoch; 0: none open).
    pub window_start: u64,
    /// Attempts counted in the window.
    pub window_total: u32,
    /// Failures among them.
    pub window_failures: u32,
    /// When the integration was held (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<u64>,
    /// Until when it is held; then one probe may go (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<u64>,
    /// Why, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Holds in a row (each doubles the hold).
    pub holds: u32,
    /// Until when the current probe's worker holds it (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_until: Option<u64>,
}

/// The breaker's thresholds for one integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures in a row that hold the integration.
    pub failures_in_row: u32,
    /// Percentage of failures in a window that holds it.
    pub percent: u32,
    /// How long a window lasts (ms).
    pub window_ms: u64,
    /// Attempts a window needs before its percentage counts.
    pub min_in_window: u32,
    /// The first hold (ms).
    pub hold_ms: u64,
    /// The longest hold (ms).
    pub max_hold_ms: u64,
}

/// Default of `breaker_failures`.
pub const DEFAULT_FAILURES: u32 = 5;
/// Default of `breaker_percent`.
pub const DEFAULT_PERCENT: u32 = 50;
/// Default of `breaker_hold_s`.
pub const DEFAULT_HOLD_S: u64 = 30;

fn setting(
    integration: &Integration,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Option<u64> {
    integration
        .settings
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .filter(|n| range.contains(n))
}

impl Policy {
    /// The integration's thresholds: its settings, else the defaults.
    pub fn of(integration: &Integration) -> Self {
        Self {
            failures_in_row: setting(integration, "breaker_failures", 1..=1000)
                .map_or(DEFAULT_FAILURES, |n| n as u32),
            percent: setting(integration, "breaker_percent", 1..=100)
                .map_or(DEFAULT_PERCENT, |n| n as u32),
            window_ms: 60_000,
            min_in_window: 20,
            hold_ms: setting(integration, "breaker_hold_s", 1..=3600).unwrap_or(DEFAULT_HOLD_S)
                * 1000,
            max_hold_ms: 15 * 60_000,
        }
    }
}

/// Checks the breaker settings when they are given.
pub fn validate(settings: &serde_json::Map<String, serde_json::Value>) -> Vec<SettingError> {
    let mut errors = Vec::new();
    for (name, max, what) in [
        (
            "breaker_failures",
            1000,
            "server errors or timeouts in a row that hold the integration",
        ),
        (
            "breaker_percent",
            100,
            "the percentage of failed attempts in a minute that holds the integration",
        ),
        (
            "breaker_hold_s",
            3600,
            "how many seconds the first hold lasts",
        ),
    ] {
        match settings.get(name) {
            None | Some(serde_json::Value::Null) => {}
            Some(v) if v.as_u64().is_some_and(|n| (1..=max).contains(&n)) => {}
            Some(_) => errors.push(SettingError::new(
                format!("settings.{name}"),
                format!("{name} is a whole number from 1 to {max}: {what}"),
            )),
        }
    }
    errors
}

/// How an attempt's outcome counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A server error, a timeout or a network failure.
    Failure,
    /// The provider answered.
    Answered,
    /// Not counted (a rate limit: the cooldown's business).
    Ignored,
}

/// How an outcome counts for the breaker.
pub fn kind(outcome: Outcome) -> Kind {
    match outcome {
        Outcome::ServerError | Outcome::Timeout | Outcome::NetworkError => Kind::Failure,
        Outcome::RateLimited => Kind::Ignored,
        _ => Kind::Answered,
    }
}

/// What a job may do, by the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Send.
    Pass,
    /// The hold is over: the job may claim the probe.
    MayProbe,
    /// Wait until then.
    Wait(u64),
}

/// What recording an outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The integration is held now.
    Held,
    /// The breaker closed.
    Released,
}

impl Breaker {
    /// A closed breaker never written.
    pub fn new(integration_id: IntegrationId) -> Self {
        Self {
            integration_id,
            version: 0,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            window_start: 0,
            window_total: 0,
            window_failures: 0,
            held_since: None,
            held_until: None,
            reason: None,
            holds: 0,
            probe_until: None,
        }
    }

    /// What a job arriving at `now` may do.
    pub fn gate(&self, now: u64) -> Gate {
        match self.state {
            BreakerState::Closed => Gate::Pass,
            BreakerState::Held => match self.held_until {
                Some(until) if until > now => Gate::Wait(until),
                _ => Gate::MayProbe,
            },
            BreakerState::Probing => match self.probe_until {
                Some(until) if until > now => Gate::Wait(until),
                _ => Gate::MayProbe,
            },
        }
    }

    /// Takes the probe until `lease_until` (the caller writes it conditionally).
    pub fn claim_probe(&mut self, lease_until: u64) {
        self.state = BreakerState::Probing;
        self.probe_until = Some(lease_until);
    }

    /// Counts an attempt's outcome at `now`; `probe` when it was the probe. Returns
    /// whether anything changed (and so needs writing), and a transition if one happened.
    pub fn record(
        &mut self,
        kind: Kind,
        probe: bool,
        now: u64,
        policy: &Policy,
        reason: impl FnOnce(u32) -> String,
    ) -> (bool, Option<Change>) {
        if kind == Kind::Ignored {
            return (false, None);
        }
        let window_open = self.window_start != 0 && now < self.window_start + policy.window_ms;
        if probe {
            return match kind {
                Kind::Failure => {
                    self.hold(now, policy, reason(self.consecutive_failures + 1));
                    self.consecutive_failures += 1;
                    (true, Some(Change::Held))
                }
                _ => {
                    *self = Self {
                        version: self.version,
                        ..Self::new(self.integration_id.clone())
                    };
                    (true, Some(Change::Released))
                }
            };
        }
        match kind {
            Kind::Answered => {
                if self.consecutive_failures == 0 && !window_open {
                    return (false, None);
                }
                self.consecutive_failures = 0;
                if window_open {
                    self.window_total += 1;
                } else {
                    self.window_start = 0;
                    self.window_total = 0;
                    self.window_failures = 0;
                }
                (true, None)
            }
            Kind::Failure => {
                self.consecutive_failures += 1;
                if !window_open {
                    self.window_start = now;
                    self.window_total = 0;
                    self.window_failures = 0;
                }
                self.window_total += 1;
                self.window_failures += 1;
                let in_row = self.consecutive_failures >= policy.failures_in_row;
                let share = self.window_total >= policy.min_in_window
                    && u64::from(self.window_failures) * 100
                        >= u64::from(policy.percent) * u64::from(self.window_total);
                if self.state == BreakerState::Closed && (in_row || share) {
                    let failures = if in_row {
                        self.consecutive_failures
                    } else {
                        self.window_failures
                    };
                    self.hold(now, policy, reason(failures));
                    return (true, Some(Change::Held));
                }
                (true, None)
            }
            Kind::Ignored => (false, None),
        }
    }

    fn hold(&mut self, now: u64, policy: &Policy, reason: String) {
        self.holds += 1;
        let factor = 1u64 << (self.holds - 1).min(16);
        let wait = policy
            .hold_ms
            .saturating_mul(factor)
            .min(policy.max_hold_ms);
        self.state = BreakerState::Held;
        self.held_since = Some(self.held_since.filter(|_| self.holds > 1).unwrap_or(now));
        self.held_until = Some(now + wait);
        self.reason = Some(reason);
        self.probe_until = None;
        self.window_start = 0;
        self.window_total = 0;
        self.window_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            failures_in_row: 3,
            percent: 50,
            window_ms: 60_000,
            min_in_window: 10,
            hold_ms: 30_000,
            max_hold_ms: 900_000,
        }
    }

    fn why(n: u32) -> String {
        format!("{n} failures")
    }

    #[test]
    fn opens_after_n_failures_in_a_row_and_an_answer_resets_the_count() {
        let mut b = Breaker::new(IntegrationId::generate());
        let p = policy();
        assert_eq!(b.record(Kind::Failure, false, 1000, &p, why), (true, None));
        assert_eq!(b.record(Kind::Failure, false, 1001, &p, why), (true, None));
        assert_eq!(b.record(Kind::Answered, false, 1002, &p, why), (true, None));
        assert_eq!(b.consecutive_failures, 0);
        b.record(Kind::Failure, false, 1003, &p, why);
        b.record(Kind::Failure, false, 1004, &p, why);
        assert_eq!(b.gate(1004), Gate::Pass);
        let (_, change) = b.record(Kind::Failure, false, 1005, &p, why);
        assert_eq!(change, Some(Change::Held));
        assert_eq!(b.state, BreakerState::Held);
        assert_eq!(b.held_since, Some(1005));
        assert_eq!(b.held_until, Some(31_005));
        assert_eq!(b.reason.as_deref(), Some("3 failures"));
        assert_eq!(b.gate(2000), Gate::Wait(31_005));
        assert_eq!(b.gate(31_005), Gate::MayProbe);
    }

    #[test]
    fn opens_above_the_percentage_in_a_window() {
        let mut b = Breaker::new(IntegrationId::generate());
        let p = policy();
        let mut now = 1000;
        let mut changes = Vec::new();
        for i in 0..20 {
            now += 10;
            let kind = if i % 2 == 0 {
                Kind::Failure
            } else {
                Kind::Answered
            };
            changes.push(b.record(kind, false, now, &p, why).1);
        }
        let first = changes.iter().position(Option::is_some).expect("held");
        assert_eq!(
            first, 10,
            "the 11th attempt makes the window count (10 of them)"
        );
        assert_eq!(b.state, BreakerState::Held);
    }

    #[test]
    fn a_healthy_integration_costs_no_write_and_rate_limits_do_not_count() {
        let mut b = Breaker::new(IntegrationId::generate());
        let p = policy();
        assert_eq!(b.record(Kind::Answered, false, 1, &p, why), (false, None));
        assert_eq!(b.record(Kind::Ignored, false, 2, &p, why), (false, None));
    }

    #[test]
    fn the_probe_releases_on_success_and_holds_twice_as_long_on_failure() {
        let mut b = Breaker::new(IntegrationId::generate());
        let p = policy();
        for t in 0..3 {
            b.record(Kind::Failure, false, 1000 + t, &p, why);
        }
        b.claim_probe(40_000);
        assert_eq!(
            b.gate(35_000),
            Gate::Wait(40_000),
            "others wait for the probe"
        );
        assert_eq!(
            b.gate(40_001),
            Gate::MayProbe,
            "a lost probe lets another in"
        );
        let (_, change) = b.record(Kind::Failure, true, 36_000, &p, why);
        assert_eq!(change, Some(Change::Held));
        assert_eq!(b.held_until, Some(36_000 + 60_000));
        assert_eq!(b.held_since, Some(1002), "held since the first hold");
        b.claim_probe(100_000);
        let (_, change) = b.record(Kind::Answered, true, 97_000, &p, why);
        assert_eq!(change, Some(Change::Released));
        assert_eq!(b.state, BreakerState::Closed);
        assert_eq!(b.holds, 0);
        assert_eq!(b.gate(97_001), Gate::Pass);
    }
}
