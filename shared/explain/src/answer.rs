//! What came back from one request: the engine's input from the wire, and its vocabulary
//! for a request that got no response.
//!
//! Both [`explain`](crate::explain), which reads them, and [`catalogue`](crate::catalogue),
//! which words a failure without a response, import these types from here; this module
//! imports nothing of the engine.

use serde::{Deserialize, Serialize};

/// What came back from one request: a response, or the reason none came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderResponse {
    /// The HTTP status, or `None` when no response came back.
    pub status: Option<u16>,
    /// Response headers as received; names in any case.
    pub headers: Vec<(String, String)>,
    /// The raw body (possibly truncated by the caller's read cap).
    pub body: Vec<u8>,
    /// Why no response came back, when `status` is `None`.
    pub error: Option<TransportError>,
}

impl ProviderResponse {
    /// A response with a status and a body, no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: Some(status),
            body: body.into(),
            ..Self::default()
        }
    }

    /// No response: the request failed in transport.
    pub fn failed(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            error: Some(TransportError {
                kind,
                message: Some(message.into()),
            }),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportError {
    /// The kind of failure.
    pub kind: TransportErrorKind,
    /// The client's own description, if any (kept out of explanations: it is technical).
    #[serde(default)]
    pub message: Option<String>,
}

/// The kinds of failure without a response, as `docs/explain.md` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    /// No response within the time limit.
    Timeout,
    /// The connection was refused or could not be made.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The connection was reset or closed early.
    Reset,
    /// The response started but its body could not be read.
    Body,
}
