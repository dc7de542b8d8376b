//! leadrelay's local tools: the template's resources on a local emulator, throwaway HTTP
//! servers playing webhook receivers, fake provider APIs ([`providers`]), the SQS pump
//! that plays Lambda's event source mapping, a local API gateway, and the demo. Used by
//! `scripts/run-local.sh` and by the integration tests.

pub mod demo;
pub mod fake;
pub mod gateway;
pub mod providers;
pub mod pump;
pub mod receiver;
pub mod template;
