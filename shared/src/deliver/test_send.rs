//! The test send: one registration through an integration now, judged as an attempt
//! would be, with nothing stored.

use super::batch;
use super::send::send_sequence;
use crate::clock;
use crate::destination::{self, Built, SendContext};
use crate::exchange::Transport;
use crate::model::{Integration, Registration, Step};
use crate::notices;
use crate::vault::{Vault, VaultError};
use leadrelay_explain::preflight;
use leadrelay_explain::verdict::Verdict;
use std::time::{Duration, Instant};

/// The time a test send's requests get together (the admin function's timeout is 30 s).
const TEST_SEND_BUDGET: Duration = Duration::from_secs(20);

/// What a test send came to: the verdict, and what was sent and received.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The verdict, as a real attempt would record it.
    pub verdict: Verdict,
    /// Requests sent, and answered with success, before `request`.
    pub preceding: Vec<Step>,
    /// What was sent, if anything was.
    pub request: Option<crate::model::RequestSummary>,
    /// What came back, if anything did.
    pub response: Option<crate::model::ResponseSummary>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// Sends one test registration through an integration now and returns the verdict,
/// storing nothing: how an integration is tried before it goes live.
pub async fn test_send<T: Transport, V: Vault>(
    transport: &T,
    vault: &V,
    integration: &Integration,
    registration: &Registration,
) -> Result<TestResult, VaultError> {
    let credentials = vault.open(integration).await?;
    let cx = SendContext {
        message_id: format!("msg_test_{}", registration.id),
        timestamp: clock::now_ms() / 1000,
        attempt: 1,
    };
    let (request, data, then) =
        match destination::build(integration, &credentials, registration, &cx) {
            Ok(Built::Send {
                request,
                data,
                then,
            }) => (request, data, then),
            Ok(Built::Skip { reason }) => {
                let verdict = notices::skipped(integration.provider, &reason);
                return Ok(TestResult {
                    verdict,
                    preceding: Vec::new(),
                    request: None,
                    response: None,
                    duration_ms: 0,
                });
            }
            Err(e) => {
                let verdict = notices::misconfigured(integration.provider, &e.field, &e.message);
                return Ok(TestResult {
                    verdict,
                    preceding: Vec::new(),
                    request: None,
                    response: None,
                    duration_ms: 0,
                });
            }
        };
    if destination::preflight_enabled(integration) {
        if let Err(verdict) = preflight::preflight(Some(integration.provider), &data) {
            return Ok(TestResult {
                verdict,
                preceding: Vec::new(),
                request: None,
                response: None,
                duration_ms: 0,
            });
        }
    }
    let request = match batch::as_batch_of_one(integration, &credentials, request, &cx) {
        Ok(request) => request,
        Err(e) => {
            return Ok(TestResult {
                verdict: notices::misconfigured(integration.provider, &e.field, &e.message),
                preceding: Vec::new(),
                request: None,
                response: None,
                duration_ms: 0,
            })
        }
    };
    let deadline = Instant::now() + TEST_SEND_BUDGET;
    let sent = send_sequence(transport, integration, &request, &then, &data, deadline).await;
    Ok(TestResult {
        verdict: sent.verdict,
        preceding: sent.preceding,
        request: Some(sent.request),
        response: sent.response,
        duration_ms: sent.duration_ms,
    })
}
