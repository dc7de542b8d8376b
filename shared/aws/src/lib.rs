//! leadrelay's adapters: where the domain's ports meet AWS and the network.
//!
//! The domain crate (`leadrelay`) defines what it needs as traits: a store per aggregate
//! ([`leadrelay::store`]), a task queue ([`leadrelay::queue::TaskQueue`]), a vault
//! ([`leadrelay::vault::Vault`]) and a transport ([`leadrelay::exchange::Transport`]).
//! This crate implements them on DynamoDB ([`dynamodb`]), SQS ([`sqs`]), KMS ([`kms`]) and
//! a guarded HTTP client ([`http`]), and sets up the AWS clients ([`config`]) and the
//! JSON logs ([`telemetry`]). Imports go one way: this crate uses the domain, never the
//! reverse; the functions wire the two together.

pub mod config;
pub mod dynamodb;
pub mod http;
pub mod kms;
pub mod sqs;
pub mod telemetry;
