//! Fixtures the management tests share.

use super::integrations::IntegrationInput;
use leadrelay_explain::provider::Provider;
use serde_json::json;
use std::collections::BTreeMap;

/// A webhook integration named "Hook" that posts to `url`, with no credentials.
pub(super) fn webhook(url: &str) -> IntegrationInput {
    IntegrationInput {
        name: Some("Hook".into()),
        provider: Some(Provider::Webhook),
        settings: json!({"url": url}).as_object().cloned(),
        credentials: BTreeMap::new(),
        version: None,
    }
}
