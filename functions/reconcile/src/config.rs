//! Configuration from the environment, read once at start.

pub use apikit::config::ConfigError;
use apikit::config::{number, number_in, required};
use leadrelay::reconcile::ReconcileConfig;
use std::time::Duration;

/// What the reconcile function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue (re-queued deliveries).
    pub queue_url: String,
    /// How it looks for stranded deliveries.
    pub reconcile: ReconcileConfig,
}

impl Config {
    /// Reads `TABLE_NAME`, `QUEUE_URL` and the tunables of [`from_env`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
            reconcile: from_env()?,
        })
    }
}

/// The tunables from the environment: `RECONCILE_SLACK_S` (seconds, default 900) and
/// `RECONCILE_PAGE` (at least 1, default 200).
pub fn from_env() -> Result<ReconcileConfig, ConfigError> {
    let mut config = ReconcileConfig::default();
    config.slack = Duration::from_secs(number("RECONCILE_SLACK_S", config.slack.as_secs())?);
    config.page = number_in("RECONCILE_PAGE", config.page as u64, 1..)? as usize;
    Ok(config)
}
