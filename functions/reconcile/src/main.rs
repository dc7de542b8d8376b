//! The reconcile Lambda: builds its clients once, then serves scheduled events.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::sqs::SqsQueue;
use reconcile::config::Config;
use reconcile::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay_aws::telemetry::init();
    let config = Config::from_env()?;
    let aws = leadrelay_aws::config::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay_aws::config::dynamodb(&aws), config.table_name),
        queue: SqsQueue::new(leadrelay_aws::config::sqs(&aws), config.queue_url),
        config: config.reconcile,
    };
    run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        handler(&deps).await.map_err(Error::from)
    }))
    .await
}
