//! Helpers for the adapters' unit tests.

use super::{Built, FollowUp};
use crate::exchange::{Credentials, OutgoingRequest};
use crate::keys::Secret;
use crate::model::{Integration, IntegrationStatus, Registration, RegistrationData};
use leadrelay_explain::provider::Provider;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub(crate) fn integration(provider: Provider, settings: Value) -> Integration {
    Integration {
        id: "int_0123456789abcdefghjkmnpqrs".parse().unwrap(),
        account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
        name: "test".into(),
        provider,
        settings: settings.as_object().cloned().unwrap_or_default(),
        credentials: None,
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        created_at: 0,
        updated_at: 0,
        cooldown_until: None,
    }
}

/// Lena, with marketing consent and a quiz score.
pub(crate) fn lena() -> Registration {
    registration(true)
}

pub(crate) fn registration(consent: bool) -> Registration {
    let mut data = RegistrationData {
        email: Some("Lena.Fischer@example.com".into()),
        first_name: Some("Lena".into()),
        last_name: Some("Fischer".into()),
        phone: Some("+49 30 1234567".into()),
        ..RegistrationData::default()
    };
    data.consent.insert("marketing".into(), consent);
    data.fields.insert("quiz_score".into(), json!(8));
    data.fields.insert("country".into(), json!("DE"));
    Registration {
        id: "reg_0123456789abcdefghjkmnpqrs".parse().unwrap(),
        account_id: "acc_0123456789abcdefghjkmnpqrs".parse().unwrap(),
        campaign_id: "cmp_0123456789abcdefghjkmnpqrs".parse().unwrap(),
        received_at: 1_764_613_200_000,
        data,
        integration_ids: vec![],
        expires_at: 0,
        erased_at: None,
    }
}

pub(crate) fn creds(pairs: &[(&str, &str)]) -> Credentials {
    Credentials(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
            .collect(),
    )
}

pub(crate) fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn settings(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The requests of a built delivery: the first, then the rest (as built, before any
/// value of an answer is filled in); and the data.
pub(crate) fn sent(built: Built) -> (OutgoingRequest, Vec<OutgoingRequest>, Map<String, Value>) {
    let (request, then, data) = sent_with_takes(built);
    (request, then.into_iter().map(|f| f.request).collect(), data)
}

/// The requests of a built delivery, the follow-ups with what they take from answers.
pub(crate) fn sent_with_takes(
    built: Built,
) -> (OutgoingRequest, Vec<FollowUp>, Map<String, Value>) {
    match built {
        Built::Send {
            request,
            data,
            then,
        } => (request, then, data),
        Built::Skip { reason } => panic!("skipped: {reason}"),
    }
}

pub(crate) fn header<'a>(r: &'a OutgoingRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.expose())
}

pub(crate) fn body(r: &OutgoingRequest) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

pub(crate) fn fields_of(errors: &[crate::setting::SettingError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}
