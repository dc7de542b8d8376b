//! The ingest Lambda: builds its clients once, then serves API Gateway requests.

use ingest::config::Config;
use ingest::{handler, Deps};
use lambda_http::{run, service_fn, Error};
use leadrelay::queue::sqs::SqsQueue;
use leadrelay::store::dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay::aws::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay::aws::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay::aws::sqs(&aws), config.queue_url),
    };
    run(service_fn(|request| handler(&deps, request))).await
}
