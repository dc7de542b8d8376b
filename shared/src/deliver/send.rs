//! Sending an attempt's requests in order: the first one built, then each follow-up
//! while the answers are successes, completed from the answers before it, all within the
//! attempt's one deadline.

use super::semantics;
use crate::destination::FollowUp;
use crate::exchange::{Exchange, OutgoingRequest, Transport};
use crate::model::{Integration, RequestSummary, ResponseSummary, Step};
use crate::notices;
use leadrelay_explain::verdict::Verdict;
use std::time::Instant;

/// What sending a built request, and the requests that complete it, came to.
pub(super) struct Sent {
    /// The verdict on the last request sent.
    pub(super) verdict: Verdict,
    /// That request.
    pub(super) request: RequestSummary,
    /// Its answer.
    pub(super) response: Option<ResponseSummary>,
    /// How long every request took together, in milliseconds.
    pub(super) duration_ms: u64,
    /// Whether leadrelay refused to connect.
    pub(super) blocked: bool,
    /// The requests before it, each of which succeeded.
    pub(super) preceding: Vec<Step>,
}

/// Sends `first`, then each of `then` while the answers are successes, completing each
/// follow-up from the answers before it; the verdict is the first failure's, or the last
/// success's. An answer a follow-up takes a secret from (an OAuth token answer) is never
/// kept: its body stays out of the attempt record even when it is the last one.
///
/// Every request gets at most what is left until `deadline` (the attempt's, shared by
/// all its requests); a follow-up with less than [`semantics::MIN_REQUEST_TIME`] left is
/// not started, and the attempt ends as timed out.
pub(super) async fn send_sequence<T: Transport>(
    transport: &T,
    integration: &Integration,
    first: &OutgoingRequest,
    then: &[FollowUp],
    data: &serde_json::Map<String, serde_json::Value>,
    deadline: Instant,
) -> Sent {
    let provider = integration.provider;
    let budget_s = deadline
        .saturating_duration_since(Instant::now())
        .as_secs_f64()
        .ceil() as u64;
    let mut preceding = Vec::new();
    let mut total_ms = 0;
    // Bodies of the successful answers so far, for the follow-ups that take from them.
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let mut current = first.clone();
    let mut rest = then.iter();
    loop {
        let index = answers.len();
        let secret_answer = then.iter().any(|f| f.takes_secret_from(index));
        let Exchange {
            response,
            mut summary,
            duration_ms,
            blocked,
        } = semantics::send_within(transport, &current, deadline).await;
        total_ms += duration_ms;
        let mut verdict = match &blocked {
            Some(detail) => notices::blocked_address(provider, detail),
            None => leadrelay_explain::explain::explain(Some(provider), &response, Some(data)),
        };
        if secret_answer && verdict.outcome.is_success() {
            if let Some(s) = summary.as_mut() {
                s.body_excerpt.clear();
                s.body_truncated = false;
            }
        }
        if blocked.is_none() && verdict.outcome.is_success() {
            if let Some(next) = rest.next() {
                answers.push(response.body);
                let bodies: Vec<&[u8]> = answers.iter().map(Vec::as_slice).collect();
                match next.resolve(&bodies) {
                    Ok(request) => {
                        if deadline.saturating_duration_since(Instant::now())
                            < semantics::MIN_REQUEST_TIME
                        {
                            // Reported on the last request sent; the rest never left.
                            tracing::warn!(integration_id = %integration.id, provider = %provider, sent = index + 1, "attempt out of time before its next request");
                            return Sent {
                                verdict: notices::out_of_time(provider, index + 1, budget_s),
                                request: current.summary(),
                                response: summary,
                                duration_ms: total_ms,
                                blocked: false,
                                preceding,
                            };
                        }
                        preceding.push(Step {
                            request: current.summary(),
                            status: verdict.status,
                            outcome: verdict.outcome,
                            duration_ms,
                        });
                        current = request;
                        continue;
                    }
                    Err(missing) => {
                        tracing::warn!(integration_id = %integration.id, provider = %provider, step = index + 1, pointer = missing.pointer, "answer lacks a value the next request needs");
                        verdict = notices::unusable_answer(provider, &verdict, missing.pointer);
                    }
                }
            }
        }
        return Sent {
            verdict,
            request: current.summary(),
            response: summary,
            duration_ms: total_ms,
            blocked: blocked.is_some(),
            preceding,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{request, Scripted};
    use super::*;
    use crate::destination;
    use crate::model::IntegrationStatus;
    use leadrelay_explain::answer::ProviderResponse;
    use leadrelay_explain::provider::Provider;
    use leadrelay_explain::verdict::Outcome;
    use std::sync::Mutex;
    use std::time::Duration;

    fn klaviyo() -> Integration {
        Integration {
            id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
            name: "k".into(),
            provider: Provider::Klaviyo,
            settings: serde_json::Map::new(),
            credentials: None,
            credentials_version: 1,
            version: 1,
            status: IntegrationStatus::Active,
            created_at: 0,
            updated_at: 0,
            cooldown_until: None,
        }
    }

    async fn run(statuses: Vec<u16>) -> (Sent, Vec<String>) {
        let transport = Scripted {
            statuses: Mutex::new(statuses),
            urls: Mutex::new(Vec::new()),
        };
        let sent = send_sequence(
            &transport,
            &klaviyo(),
            &request("https://a.example/import"),
            &[request("https://a.example/subscribe").into()],
            &serde_json::Map::new(),
            Instant::now() + Duration::from_secs(30),
        )
        .await;
        let urls = transport.urls.into_inner().unwrap();
        (sent, urls)
    }

    #[tokio::test]
    async fn a_follow_up_is_sent_after_a_success_and_reports_the_attempt() {
        let (sent, urls) = run(vec![201, 202]).await;

        assert_eq!(
            urls,
            ["https://a.example/import", "https://a.example/subscribe"]
        );
        assert_eq!(sent.verdict.outcome, Outcome::Accepted);
        assert_eq!(sent.request.url, "https://a.example/subscribe");
        assert_eq!(sent.preceding.len(), 1);
        assert_eq!(sent.preceding[0].status, Some(201));
        assert_eq!(sent.preceding[0].outcome, Outcome::Delivered);
        assert_eq!(sent.duration_ms, 10);
    }

    #[tokio::test]
    async fn a_failed_first_request_stops_the_sequence() {
        let (sent, urls) = run(vec![429]).await;

        assert_eq!(urls, ["https://a.example/import"]);
        assert_eq!(sent.verdict.outcome, Outcome::RateLimited);
        assert!(sent.preceding.is_empty());
    }

    #[tokio::test]
    async fn a_failed_follow_up_is_the_verdict_and_the_success_before_it_is_kept() {
        let (sent, _) = run(vec![200, 403]).await;

        assert_eq!(sent.verdict.outcome, Outcome::Forbidden);
        assert_eq!(sent.request.url, "https://a.example/subscribe");
        assert_eq!(sent.preceding[0].request.url, "https://a.example/import");
    }

    /// Answers every request with the same body, summarised as the real client does.
    struct Answering(&'static str);

    impl Transport for Answering {
        async fn send(&self, _: &OutgoingRequest) -> Exchange {
            Exchange {
                response: ProviderResponse::new(200, self.0),
                summary: Some(ResponseSummary {
                    status: 200,
                    headers: Default::default(),
                    body_excerpt: self.0.to_owned(),
                    body_truncated: false,
                }),
                duration_ms: 5,
                blocked: None,
            }
        }
    }

    fn needs_token() -> FollowUp {
        FollowUp {
            request: request("https://acme.my.salesforce.com/services/data/v62.0/sobjects/Lead"),
            takes: vec![
                destination::Take {
                    answer: 0,
                    pointer: "/access_token",
                    into: destination::Slot::SecretHeader {
                        name: "authorization",
                        prefix: "Bearer ",
                    },
                },
                destination::Take {
                    answer: 0,
                    pointer: "/instance_url",
                    into: destination::Slot::Origin,
                },
            ],
        }
    }

    #[tokio::test]
    async fn an_answer_without_the_value_the_next_step_needs_stops_there_and_a_secret_answer_is_not_kept(
    ) {
        let transport = Answering(r#"{"access_token": "00Dx!SECRET", "token_type": "Bearer"}"#);

        let sent = send_sequence(
            &transport,
            &klaviyo(),
            &request("https://login.salesforce.com/services/oauth2/token"),
            &[needs_token()],
            &serde_json::Map::new(),
            Instant::now() + Duration::from_secs(30),
        )
        .await;

        assert_eq!(sent.verdict.outcome, Outcome::Unexpected);
        assert_eq!(sent.verdict.status, Some(200));
        assert_eq!(
            sent.verdict.provider_code.as_deref(),
            Some("answer.value_missing")
        );
        assert!(sent.verdict.explanation.contains("/instance_url"));
        assert_eq!(
            sent.request.url,
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert!(sent.preceding.is_empty());
        let kept = sent.response.expect("a summary");
        assert_eq!(kept.status, 200);
        assert!(kept.body_excerpt.is_empty(), "{}", kept.body_excerpt);
    }
}
