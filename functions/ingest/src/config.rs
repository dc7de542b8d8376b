//! Configuration from the environment, read once at start.

/// What the ingest function needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table.
    pub table_name: String,
    /// The delivery queue.
    pub queue_url: String,
}

/// A missing or unusable setting.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is required")]
pub struct ConfigError(pub &'static str);

fn required(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError(name))
}

impl Config {
    /// Reads `TABLE_NAME` and `QUEUE_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            queue_url: required("QUEUE_URL")?,
        })
    }
}
