//! The admin Lambda: builds its clients once, then serves API Gateway requests.

use admin::config::Config;
use admin::{router, Deps};
use lambda_http::{run, service_fn, Error};
use leadrelay::egress::HttpTransport;
use leadrelay::queue::sqs::SqsQueue;
use leadrelay::store::dynamodb::DynamoStore;
use leadrelay::vault::KmsVault;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay::aws::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay::aws::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay::aws::sqs(&aws), config.queue_url),
        vault: KmsVault::new(leadrelay::aws::kms(&aws), config.kms_key_id),
        transport: HttpTransport::new(config.egress, config.attempt_timeout)?,
        egress: config.egress,
    };
    run(service_fn(|request| router::handle(&deps, request))).await
}
