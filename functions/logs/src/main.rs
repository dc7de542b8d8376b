//! The logs Lambda: builds its clients once, then serves API Gateway requests.

use lambda_http::{run, service_fn, Error};
use leadrelay::cursor::CursorSealer;
use leadrelay::queue::sqs::SqsQueue;
use leadrelay::store::dynamodb::DynamoStore;
use logs::config::Config;
use logs::{router, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay::aws::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay::aws::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay::aws::sqs(&aws), config.queue_url),
        cursors: CursorSealer::new(config.cursor_secret.expose()),
    };
    run(service_fn(|request| router::handle(&deps, request))).await
}
