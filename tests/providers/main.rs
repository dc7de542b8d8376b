//! Every provider adapter against its fake, through the real pipeline: management
//! creates the integration (settings checked, credentials sealed), ingest accepts the
//! registration and queues its job, the deliverer builds, checks, sends through the real
//! egress-guarded HTTP client to a fake on 127.0.0.2, classifies and records.
//!
//! Per provider (one module each): a new contact, an existing one (under each
//! existing-contact policy the provider supports), an address the provider refuses, a
//! refused key (pause, park, resume, drain), a rate limit (the stated wait honoured) and a
//! server error (retried), then the cases that provider shows best (Salesforce's and
//! Dynamics 365's token requests among them). [`world`] holds the pipeline and the shared
//! scenarios; [`across`] the cases every provider shares; [`canary`] checks that no
//! credential, nor an access token issued for one, ever reaches an attempt record, the
//! management view, a Debug print or the logs; [`batch`] sends batch-mode webhooks.

#[macro_use]
mod world;

mod activecampaign;
mod brevo;
mod campaign_monitor;
mod dynamics_365;
mod hubspot;
mod hubspot_forms;
mod klaviyo;
mod mailchimp;
mod mailjet;
mod salesforce;
mod sendgrid;

mod across;
mod batch;
mod canary;
mod demo;
