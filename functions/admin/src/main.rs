//! The admin Lambda: builds its clients once, then serves API Gateway requests.

use admin::config::Config;
use admin::{router, Deps};
use lambda_http::{run, service_fn, Error};
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
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
        vault: KmsVault::new(leadrelay_aws::config::kms(&aws), config.kms_key_id),
        transport: HttpTransport::new(config.egress, config.attempt_timeout)?,
        egress: config.egress,
        audit_retention_days: config.audit_retention_days,
    };
    run(service_fn(|request| router::handle(&deps, request))).await
}
