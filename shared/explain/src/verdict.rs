//! The verdict: what one delivery attempt came to, in the words of `docs/explain.md`.
//!
//! Every wire form here is pinned by a test: these values are stored in attempt records
//! and returned by the logs API, so renaming one is a data migration.

use serde::{Deserialize, Serialize};

/// The class of an attempt: the first digit of the status, or how it failed without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Class {
    /// 100-199: an interim answer; a final one never came.
    #[serde(rename = "1xx")]
    Informational,
    /// 200-299: the provider took the request.
    #[serde(rename = "2xx")]
    Success,
    /// 300-399: a redirect, which leadrelay never follows on an API call.
    #[serde(rename = "3xx")]
    Redirection,
    /// 400-499: the provider refused the request.
    #[serde(rename = "4xx")]
    ClientError,
    /// 500-599 (and anything above): the provider, or a proxy in front of it, failed.
    #[serde(rename = "5xx")]
    ServerError,
    /// No response came back: timeout, DNS, connection, TLS, reset.
    #[serde(rename = "network")]
    Network,
    /// Refused by leadrelay's own pre-flight check: the request never left.
    #[serde(rename = "not_sent")]
    NotSent,
}

impl Class {
    /// The class of an HTTP status code. Codes outside 100-599 get the class of their
    /// first digit, clamped: below 200 is `1xx`, 600 and above is `5xx`.
    pub fn of_status(status: u16) -> Class {
        match status {
            0..=199 => Class::Informational,
            200..=299 => Class::Success,
            300..=399 => Class::Redirection,
            400..=499 => Class::ClientError,
            _ => Class::ServerError,
        }
    }

    /// The wire form: `2xx`, `network`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Informational => "1xx",
            Class::Success => "2xx",
            Class::Redirection => "3xx",
            Class::ClientError => "4xx",
            Class::ServerError => "5xx",
            Class::Network => "network",
            Class::NotSent => "not_sent",
        }
    }
}

/// What an attempt came to, for the marketer: the outcome table of `docs/explain.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx: the provider took the data.
    Delivered,
    /// 202 or an asynchronous job: taken for later processing, not yet confirmed.
    Accepted,
    /// The contact already exists; benign.
    Duplicate,
    /// The contact is unsubscribed, bounced, in a compliance state, or forgotten.
    Suppressed,
    /// The data itself was refused: bad email, missing required field, bad option.
    InvalidData,
    /// Credentials missing, invalid or expired.
    Unauthorized,
    /// Credentials valid but lacking permission or scope, wrong account or data center.
    Forbidden,
    /// The list, form, audience or endpoint does not exist.
    NotFound,
    /// Too many requests, whatever the status.
    RateLimited,
    /// A transient lock or state conflict.
    Conflict,
    /// 5xx from the provider or a proxy in front of it.
    ServerError,
    /// No response within the time limit.
    Timeout,
    /// DNS, connection refused, TLS, connection reset.
    NetworkError,
    /// Anything else: 3xx on an API call, 1xx, unknown.
    Unexpected,
}

impl Outcome {
    /// Every outcome, in the order of the contract's table.
    pub const ALL: [Outcome; 14] = [
        Outcome::Delivered,
        Outcome::Accepted,
        Outcome::Duplicate,
        Outcome::Suppressed,
        Outcome::InvalidData,
        Outcome::Unauthorized,
        Outcome::Forbidden,
        Outcome::NotFound,
        Outcome::RateLimited,
        Outcome::Conflict,
        Outcome::ServerError,
        Outcome::Timeout,
        Outcome::NetworkError,
        Outcome::Unexpected,
    ];

    /// Will an automatic retry of the same request plausibly succeed?
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Outcome::RateLimited
                | Outcome::Conflict
                | Outcome::ServerError
                | Outcome::Timeout
                | Outcome::NetworkError
        )
    }

    /// Did the provider take the data (now or for later processing), or does it already
    /// hold it? Such outcomes are not failures.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Delivered | Outcome::Accepted | Outcome::Duplicate
        )
    }

    /// The wire form: `delivered`, `rate_limited`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Suppressed => "suppressed",
            Outcome::InvalidData => "invalid_data",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Forbidden => "forbidden",
            Outcome::NotFound => "not_found",
            Outcome::RateLimited => "rate_limited",
            Outcome::Conflict => "conflict",
            Outcome::ServerError => "server_error",
            Outcome::Timeout => "timeout",
            Outcome::NetworkError => "network_error",
            Outcome::Unexpected => "unexpected",
        }
    }
}

/// The classification of one attempt, with its plain-language explanation and remedy.
///
/// Field names and values are those of `docs/explain.md`; stored attempt records use them too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The HTTP status, or `None` when no response came back (or nothing was sent).
    pub status: Option<u16>,
    /// The status class, `network` without a response, `not_sent` for a pre-flight refusal.
    pub class: Class,
    /// The registered reason phrase (or the well-known one for unofficial codes).
    pub reason: Option<String>,
    /// What the attempt came to.
    pub outcome: Outcome,
    /// Will an automatic retry plausibly succeed? Always `outcome.retryable()`.
    pub retryable: bool,
    /// Seconds to wait before retrying, when the response states it.
    pub retry_after_s: Option<u64>,
    /// The provider's own error identifier, exactly as written in the body.
    pub provider_code: Option<String>,
    /// The input field the error is about, normalised to its last path segment.
    pub field: Option<String>,
    /// The provider's own human-readable message.
    pub message: Option<String>,
    /// Plain language, for a marketer: what happened.
    pub explanation: String,
    /// Plain language: what to do about it.
    pub remedy: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_wire_forms_are_pinned() {
        let wire: Vec<String> = Outcome::ALL
            .iter()
            .map(|o| serde_json::to_string(o).expect("serialising a unit enum"))
            .collect();
        assert_eq!(
            wire,
            [
                "\"delivered\"",
                "\"accepted\"",
                "\"duplicate\"",
                "\"suppressed\"",
                "\"invalid_data\"",
                "\"unauthorized\"",
                "\"forbidden\"",
                "\"not_found\"",
                "\"rate_limited\"",
                "\"conflict\"",
                "\"server_error\"",
                "\"timeout\"",
                "\"network_error\"",
                "\"unexpected\""
            ]
        );
        for o in Outcome::ALL {
            assert_eq!(
                format!("\"{}\"", o.as_str()),
                serde_json::to_string(&o).unwrap()
            );
        }
    }

    #[test]
    fn class_wire_forms_are_pinned() {
        for (c, s) in [
            (Class::Informational, "1xx"),
            (Class::Success, "2xx"),
            (Class::Redirection, "3xx"),
            (Class::ClientError, "4xx"),
            (Class::ServerError, "5xx"),
            (Class::Network, "network"),
            (Class::NotSent, "not_sent"),
        ] {
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{s}\""));
            assert_eq!(c.as_str(), s);
        }
    }

    #[test]
    fn only_transient_outcomes_are_retryable() {
        let retryable: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| o.retryable()).collect();
        assert_eq!(
            retryable,
            [
                Outcome::RateLimited,
                Outcome::Conflict,
                Outcome::ServerError,
                Outcome::Timeout,
                Outcome::NetworkError
            ]
        );
    }

    #[test]
    fn status_classes_follow_the_first_digit() {
        assert_eq!(Class::of_status(100), Class::Informational);
        assert_eq!(Class::of_status(204), Class::Success);
        assert_eq!(Class::of_status(308), Class::Redirection);
        assert_eq!(Class::of_status(499), Class::ClientError);
        assert_eq!(Class::of_status(599), Class::ServerError);
        assert_eq!(Class::of_status(999), Class::ServerError);
        assert_eq!(Class::of_status(42), Class::Informational);
    }
}
