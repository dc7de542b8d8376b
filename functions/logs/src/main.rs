//! The logs Lambda: builds its clients once, then serves API Gateway requests.

use lambda_http::{run, service_fn, Error};
use leadrelay::cursor::CursorSealer;
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::sqs::SqsQueue;
use logs::config::Config;
use logs::{router, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay_aws::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
        cursors: CursorSealer::new(config.cursor_secret.expose()),
        audit_retention_days: config.audit_retention_days,
    };
    run(service_fn(|request| router::handle(&deps, request))).await
}
