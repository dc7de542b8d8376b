//! Reading a function's configuration from the environment, once at start: one helper
//! and one error for every function's `config.rs`.
//!
//! A variable that is set but empty counts as absent. A number that does not parse, or
//! lies outside its range, is an error naming the variable, never a silent default.

use std::ops::{Bound, RangeBounds};

/// A missing, unreadable or refused setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Required and absent (or empty).
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// Present and unreadable: the variable and why.
    #[error("environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
    /// Readable but refused where the function runs (`EGRESS_ALLOW_LOOPBACK` under AWS
    /// Lambda, for one).
    #[error(transparent)]
    Refused(Box<dyn std::error::Error + Send + Sync>),
}

impl ConfigError {
    /// A refusal, kept with its own message.
    pub fn refused(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ConfigError::Refused(Box::new(e))
    }
}

/// An environment to read settings from: the process's, or any lookup (tests).
#[derive(Debug, Clone, Copy)]
pub struct Env<F> {
    lookup: F,
}

/// The process's environment.
pub fn process() -> Env<fn(&str) -> Option<String>> {
    Env {
        lookup: |name| std::env::var(name).ok(),
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The environment `lookup` reads one variable of.
    pub fn from_fn(lookup: F) -> Self {
        Env { lookup }
    }

    /// The variable, or `None` when it is absent or empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// The variable, or [`ConfigError::Missing`] when it is absent or empty.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// A whole number, `default` when absent or empty, [`ConfigError::Invalid`] when it
    /// does not parse.
    pub fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        self.number_in(name, default, ..)
    }

    /// A whole number within `range`, `default` when absent or empty,
    /// [`ConfigError::Invalid`] when it does not parse or lies outside the range.
    pub fn number_in(
        &self,
        name: &'static str,
        default: u64,
        range: impl RangeBounds<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(text) = self.optional(name) else {
            return Ok(default);
        };
        let n: u64 = text
            .parse()
            .map_err(|_| ConfigError::Invalid(name, format!("{text:?} is not a whole number")))?;
        if range.contains(&n) {
            Ok(n)
        } else {
            Err(ConfigError::Invalid(
                name,
                format!("{n} is not {}", describe(&range)),
            ))
        }
    }
}

/// A range in words: "at least 1", "from 1 to 100", "at most 9".
fn describe(range: &impl RangeBounds<u64>) -> String {
    let low = match range.start_bound() {
        Bound::Included(n) => Some(*n),
        Bound::Excluded(n) => Some(n.saturating_add(1)),
        Bound::Unbounded => None,
    };
    let high = match range.end_bound() {
        Bound::Included(n) => Some(*n),
        Bound::Excluded(n) => Some(n.saturating_sub(1)),
        Bound::Unbounded => None,
    };
    match (low, high) {
        (Some(l), Some(h)) => format!("from {l} to {h}"),
        (Some(l), None) => format!("at least {l}"),
        (None, Some(h)) => format!("at most {h}"),
        (None, None) => "a whole number".to_owned(),
    }
}

/// [`Env::required`] on the process's environment.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    process().required(name)
}

/// [`Env::optional`] on the process's environment.
pub fn optional(name: &str) -> Option<String> {
    process().optional(name)
}

/// [`Env::number`] on the process's environment.
pub fn number(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    process().number(name, default)
}

/// [`Env::number_in`] on the process's environment.
pub fn number_in(
    name: &'static str,
    default: u64,
    range: impl RangeBounds<u64>,
) -> Result<u64, ConfigError> {
    process().number_in(name, default, range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(vars: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |name: &str| vars.get(name).cloned())
    }

    #[test]
    fn a_missing_or_empty_required_variable_is_named() {
        let e = env(&[("TABLE_NAME", "t"), ("QUEUE_URL", "")]);

        assert_eq!(e.required("TABLE_NAME").unwrap(), "t");
        for name in ["QUEUE_URL", "KMS_KEY_ID"] {
            let err = e.required(name).unwrap_err();
            assert!(matches!(err, ConfigError::Missing(n) if n == name));
            assert_eq!(
                err.to_string(),
                format!("environment variable {name} is required")
            );
        }
        assert_eq!(e.optional("QUEUE_URL"), None, "empty counts as absent");
    }

    #[test]
    fn an_absent_or_empty_number_takes_its_default() {
        let e = env(&[("ATTEMPT_TIMEOUT_S", "")]);

        assert_eq!(e.number("ATTEMPT_TIMEOUT_S", 15).unwrap(), 15);
        assert_eq!(e.number("BATCH_CONCURRENCY", 10).unwrap(), 10);
        assert_eq!(env(&[("N", "42")]).number("N", 1).unwrap(), 42);
    }

    #[test]
    fn a_non_numeric_number_is_an_error_naming_the_variable() {
        for bad in ["abc", "-1", "1.5", "15s"] {
            let err = env(&[("ATTEMPT_TIMEOUT_S", bad)])
                .number("ATTEMPT_TIMEOUT_S", 15)
                .unwrap_err();
            assert!(matches!(err, ConfigError::Invalid("ATTEMPT_TIMEOUT_S", _)));
            let text = err.to_string();
            assert!(
                text.contains("ATTEMPT_TIMEOUT_S") && text.contains(bad),
                "{text}"
            );
        }
    }

    #[test]
    fn a_number_out_of_range_is_an_error_saying_the_range() {
        let e = env(&[("RECONCILE_PAGE", "0"), ("C", "101")]);

        let err = e.number_in("RECONCILE_PAGE", 200, 1..).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable RECONCILE_PAGE is not valid: 0 is not at least 1"
        );
        let err = e.number_in("C", 10, 1..=100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable C is not valid: 101 is not from 1 to 100"
        );
        assert_eq!(e.number_in("ABSENT", 200, 1..).unwrap(), 200);
        assert_eq!(
            env(&[("C", "100")]).number_in("C", 10, 1..=100).unwrap(),
            100
        );
    }

    #[test]
    fn a_refusal_keeps_its_own_message() {
        let err = ConfigError::refused(std::io::Error::other("not here"));
        assert_eq!(err.to_string(), "not here");
    }
}
