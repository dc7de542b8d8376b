//! leadrelay's shared library: the domain and use cases (intake, delivery, logs, management,
//! erasure), the stores and queue behind them, and the destinations that speak each
//! provider's API.
//!
//! What a provider's answer means is not decided here: the classification engine is its own
//! crate, `leadrelay_explain`, which this one depends on for every verdict it records.

pub mod access;
pub mod audit;
pub mod clock;
pub mod cursor;
pub mod deliver;
pub mod destination;
pub mod egress;
pub mod erasure;
pub mod exchange;
pub mod ids;
pub mod ingest;
pub mod intake;
pub mod keys;
pub mod logs;
pub mod manage;
pub mod model;
pub mod notices;
pub mod queue;
pub mod reconcile;
pub mod schedule;
pub mod setting;
pub mod store;
pub mod vault;
