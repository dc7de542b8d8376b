//! The reconcile Lambda: builds its clients once, then serves scheduled events.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use leadrelay::queue::sqs::SqsQueue;
use leadrelay::store::dynamodb::DynamoStore;
use reconcile::config::{from_env, required};
use reconcile::{handler, Deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay::telemetry::init();
    let config = from_env()?;
    let aws = leadrelay::aws::load().await;
    let deps = Deps {
        store: DynamoStore::new(leadrelay::aws::dynamodb(&aws), required("TABLE_NAME")?),
        queue: SqsQueue::new(leadrelay::aws::sqs(&aws), required("QUEUE_URL")?),
        config,
    };
    run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        handler(&deps).await.map_err(Error::from)
    }))
    .await
}
