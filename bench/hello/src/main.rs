//! A hello-world Lambda on the same runtime crate, profile and cargo-lambda build as the
//! functions, with no AWS clients: the baseline `bench/coldstart.py` measures them against.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "hello": event.payload }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
