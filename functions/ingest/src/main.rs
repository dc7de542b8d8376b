//! The ingest Lambda: builds its clients once, then serves API Gateway requests.

use ingest::config::Config;
use ingest::{handler, Deps};
use lambda_http::{run, service_fn, Error};
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::sqs::SqsQueue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay_aws::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
    };
    run(service_fn(|request| handler(&deps, request))).await
}
