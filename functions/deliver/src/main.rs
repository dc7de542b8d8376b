//! The deliver Lambda: builds its clients once, then serves SQS batches.

// The whole pipeline is one future of nested async calls (batch, job, attempt, record);
// its type is deeper than the compiler's default query depth when it lays it out.
#![recursion_limit = "256"]

use deliver::config::Config;
use deliver::{handler, Deps};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use leadrelay::deliver::{DeliverConfig, Deliverer};
use leadrelay::vault::CachedVault;
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::http::HttpTransport;
use leadrelay_aws::kms::KmsVault;
use leadrelay_aws::sqs::SqsQueue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay_aws::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = Deps {
        deliverer: Deliverer {
            store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
            queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
            transport: HttpTransport::new(config.egress, config.attempt_timeout)?,
            vault: CachedVault::new(
                KmsVault::new(leadrelay_aws::config::kms(&aws), config.kms_key_id),
                config.credentials_cache,
            ),
            config: DeliverConfig {
                schedule: config.schedule,
                attempt_timeout: config.attempt_timeout,
            },
        },
        concurrency: config.concurrency,
    };
    run(service_fn(|event: LambdaEvent<_>| handler(&deps, event))).await
}
