//! When to try again: the retry schedule, with jitter and the provider's stated wait.
//!
//! Pure arithmetic. The default schedule waits 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h,
//! 8 h and 8 h between attempts (about 23.7 h in all, ten attempts); each wait is
//! stretched by up to +20 % at random so failures that happened together do not come
//! back together. A wait the provider states (`retry_after_s`) is honoured when it is
//! longer than the schedule's, up to [`RetrySchedule::max_retry_after`].

use std::time::Duration;

/// The longest delay an SQS message can carry; longer waits hop through the queue.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

/// A retry schedule: the waits after each failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after attempt 1, 2, ...; its length is the number of retries.
    pub delays: Vec<Duration>,
    /// The largest random stretch of a wait, in percent.
    pub jitter_percent: u32,
    /// The longest provider-stated wait honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

/// Why a schedule text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry schedule '{0}' is not a comma-separated list of seconds, such as 30,120,600")]
pub struct ScheduleError(pub String);

impl Default for RetrySchedule {
    fn default() -> Self {
        let secs = [30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800];
        RetrySchedule {
            delays: secs.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter_percent: 20,
            max_retry_after: Duration::from_secs(6 * 3600),
        }
    }
}

impl RetrySchedule {
    /// Reads `30,120,600`: the waits in seconds. An empty text means no retries.
    pub fn parse(text: &str) -> Result<RetrySchedule, ScheduleError> {
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| ScheduleError(text.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RetrySchedule {
            delays,
            ..RetrySchedule::default()
        })
    }

    /// The most attempts a delivery gets (the first plus one per wait).
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// The whole span of the schedule without jitter.
    pub fn total(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// The wait after `attempt` (1-based) failed, or `None` when the schedule is spent.
    ///
    /// `retry_after_s` is the provider's stated wait; `unit` is a random number in
    /// `[0, 1)` that picks the jitter (pass a fixed one in tests).
    pub fn delay(&self, attempt: u32, retry_after_s: Option<u64>, unit: f64) -> Option<Duration> {
        let base = *self.delays.get(attempt.checked_sub(1)? as usize)?;
        let stated = retry_after_s
            .map(Duration::from_secs)
            .map(|d| d.min(self.max_retry_after))
            .unwrap_or_default();
        let wait = base.max(stated);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let stretch = wait.as_secs_f64() * f64::from(self.jitter_percent) / 100.0 * unit;
        Some(wait + Duration::from_secs_f64(stretch))
    }
}

/// A random number in `[0, 1)` for jitter, from the OS random source.
pub fn jitter_unit() -> f64 {
    let mut b = [0u8; 8];
    crate::ids::random_bytes(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The delay to put on a queue message for a job due in `remaining`: the whole wait if
/// it fits in one SQS delay, else the longest one (the job hops again when it arrives).
pub fn queue_delay(remaining: Duration) -> Duration {
    remaining.min(MAX_QUEUE_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn explanations_name_the_schedules_real_waits() {
        let s = RetrySchedule::default();
        assert_eq!(
            s.delays[0].as_secs(),
            leadrelay_explain::catalogue::FIRST_RETRY_S
        );
        assert_eq!(
            s.max_retry_after.as_secs(),
            leadrelay_explain::catalogue::MAX_HONOURED_WAIT_S
        );
    }

    #[test]
    fn the_default_schedule_spans_about_a_day() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 10);
        let hours = s.total().as_secs_f64() / 3600.0;
        assert!((20.0..=26.0).contains(&hours), "{hours}");
    }

    #[test]
    fn delays_follow_the_schedule_and_stop_at_its_end() {
        let s = RetrySchedule::parse("1, 2,3").unwrap();
        assert_eq!(s.delay(1, None, 0.0), Some(Duration::from_secs(1)));
        assert_eq!(s.delay(3, None, 0.0), Some(Duration::from_secs(3)));
        assert_eq!(s.delay(4, None, 0.0), None);
        assert_eq!(s.delay(0, None, 0.0), None);
        assert!(RetrySchedule::parse("1,x").is_err());
        assert_eq!(RetrySchedule::parse("").unwrap().max_attempts(), 1);
    }

    #[test]
    fn a_longer_stated_wait_is_honoured_within_bounds() {
        let s = RetrySchedule::default();
        assert_eq!(s.delay(1, Some(90), 0.0), Some(Duration::from_secs(90)));
        assert_eq!(s.delay(1, Some(5), 0.0), Some(Duration::from_secs(30)));
        assert_eq!(
            s.delay(1, Some(10 * 86_400), 0.0),
            Some(s.max_retry_after),
            "a wait of days is cut to the bound"
        );
    }

    #[test]
    fn jitter_only_ever_stretches() {
        let s = RetrySchedule::default();
        assert_eq!(s.delay(1, None, 0.999_999).map(|d| d.as_secs()), Some(35));
        assert_eq!(s.delay(1, None, f64::NAN), Some(Duration::from_secs(30)));
    }

    #[test]
    fn queue_delays_hop_at_fifteen_minutes() {
        assert_eq!(
            queue_delay(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        assert_eq!(queue_delay(Duration::from_secs(7200)), MAX_QUEUE_DELAY);
    }

    proptest! {
        #[test]
        fn delays_are_bounded_and_never_shorter_than_the_schedule(
            attempt in 1u32..12, stated in proptest::option::of(0u64..1_000_000), unit in 0.0f64..1.0
        ) {
            let s = RetrySchedule::default();
            if let Some(d) = s.delay(attempt, stated, unit) {
                let base = s.delays[(attempt - 1) as usize];
                prop_assert!(d >= base);
                prop_assert!(d <= base.max(s.max_retry_after).mul_f64(1.2) + Duration::from_millis(1));
            } else {
                prop_assert!(attempt >= s.max_attempts());
            }
        }

        #[test]
        fn jitter_units_stay_in_range(_i in 0..100u8) {
            let u = jitter_unit();
            prop_assert!((0.0..1.0).contains(&u));
        }
    }
}
