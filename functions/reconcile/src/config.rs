//! Configuration from the environment, read once at start.

use leadrelay::reconcile::ReconcileConfig;
use std::time::Duration;

/// A required variable, or an error naming it.
pub fn required(name: &'static str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("environment variable {name} is required"))
}

/// The configuration from the environment: `RECONCILE_SLACK_S` (default 900) and
/// `RECONCILE_PAGE` (default 200).
pub fn from_env() -> Result<ReconcileConfig, String> {
    let mut config = ReconcileConfig::default();
    if let Ok(v) = std::env::var("RECONCILE_SLACK_S") {
        let s: u64 = v
            .parse()
            .map_err(|_| format!("RECONCILE_SLACK_S is not a number of seconds: {v:?}"))?;
        config.slack = Duration::from_secs(s);
    }
    if let Ok(v) = std::env::var("RECONCILE_PAGE") {
        config.page = v
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("RECONCILE_PAGE is not a positive number: {v:?}"))?;
    }
    Ok(config)
}
