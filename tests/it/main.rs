//! End-to-end tests: ingest → SQS → deliver → DynamoDB → logs against the local emulator
//! (moto, started by `scripts/test.sh`) and throwaway HTTP receivers on 127.0.0.2.
//! Every test makes its own table, queues and key from `infra/template.yaml`.

// A test binary: helpers panic on unexpected failures, which is what a test wants.
#![allow(missing_docs, clippy::unwrap_used)]

/// A fresh stack, or return from the test when the emulator is missing (outside CI).
macro_rules! stack {
    () => {
        match crate::helpers::Stack::new().await {
            Some(s) => s,
            None => return,
        }
    };
}

mod audit;
mod delivery;
mod egress;
mod erasure;
mod find;
mod helpers;
mod ingest;
mod limit;
mod logs;
mod openapi;
mod reconcile;
mod resume;
mod secrets;
mod store_semantics;
