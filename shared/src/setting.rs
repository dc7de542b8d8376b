//! A setting that is missing or wrong: what every check of an integration's settings
//! (destinations, delivery limits, the circuit breaker) reports, named for the caller.

/// A setting that is missing or wrong, named for the caller.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingError {
    /// The setting's path (`settings.url`, `credentials.api_key`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl SettingError {
    /// A problem with one setting.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The first of the errors a provider's settings parse came to: what building a request
/// from stored settings reports (they were all checked when the integration was
/// configured, so there is at most one in practice).
pub(crate) fn first_error(errors: Vec<SettingError>) -> SettingError {
    errors
        .into_iter()
        .next()
        .unwrap_or_else(|| SettingError::new("settings", "the settings could not be read"))
}
