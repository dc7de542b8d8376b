//! AWS SDK configuration shared by every binary: the standard chain (so
//! `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS` point local runs at the emulator)
//! with timeouts on every call, which the SDK does not set by default.

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// The SDK configuration: region, credentials and endpoints from the environment; each
/// call ends after 10 s in all and each try after 3 s.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(3))
                .connect_timeout(Duration::from_secs(2))
                .build(),
        )
        .load()
        .await
}

/// A DynamoDB client.
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// An SQS client.
pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

/// A KMS client.
pub fn kms(config: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(config)
}

/// Whether a failed AWS call may succeed if tried again later: the same judgement the
/// SDK's own retry classifiers make (its lists of throttling and transient error codes,
/// server errors and 429, timeouts, connection failures), applied after the SDK's own
/// retries gave up. A caller that gets `true` should be told "503, retry after a while";
/// `false` (access denied, a missing table, a malformed request) is a fault of ours.
pub trait Retryable {
    /// Might the same call succeed later?
    fn is_retryable(&self) -> bool;
}

impl<E> Retryable
    for aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    fn is_retryable(&self) -> bool {
        use aws_sdk_dynamodb::error::SdkError;
        match self {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            // Connection refused or reset, DNS, an I/O or timeout failure on the wire; a
            // "user" failure (a bad endpoint or client setting) will not heal by itself.
            SdkError::DispatchFailure(f) => !f.is_user(),
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                status >= 500
                    || status == 429
                    || ctx.err().code().is_some_and(|code| {
                        aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code)
                            || aws_runtime::retries::classifiers::TRANSIENT_ERRORS.contains(&code)
                    })
            }
            // ConstructionFailure and anything newer: a request we could not even build.
            _ => false,
        }
    }
}

impl Retryable for aws_sdk_dynamodb::error::BuildError {
    fn is_retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::Retryable;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::{ConnectorError, SdkError};
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    type E = SdkError<PutItemError, HttpResponse>;

    // Service errors (throttling, 5xx, access denied) need a wire answer: they are tested
    // through a loopback proxy in front of the emulator (tests/it/reconcile.rs).
    #[test]
    fn timeouts_and_broken_connections_are_retryable_and_a_request_we_could_not_build_is_not() {
        assert!(E::timeout_error("attempt timed out").is_retryable());
        assert!(E::dispatch_failure(ConnectorError::io("connection reset".into())).is_retryable());
        assert!(
            E::dispatch_failure(ConnectorError::timeout("connect timed out".into())).is_retryable()
        );
        assert!(!E::dispatch_failure(ConnectorError::user("bad endpoint".into())).is_retryable());
        assert!(!E::construction_failure("no table name").is_retryable());
    }
}
