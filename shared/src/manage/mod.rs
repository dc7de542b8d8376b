//! Management: accounts, keys, campaigns and integrations, as the admin API and the
//! command line change them.
//!
//! Keys are shown once, when made, and stored as hashes. Integration credentials are
//! sealed on write and never shown again: reads list their names only. Settings are
//! checked against the provider's rules and every destination URL against the egress
//! policy, so a mistake is a clear 422 at configuration time rather than a failed
//! delivery later. Updating a paused integration resumes it and starts re-queueing every
//! delivery that waited on it ([`crate::deliver::resume`]). Every change of an integration
//! is conditional on the version it read: two edits never overwrite each other.

use crate::clock;
use crate::deliver::{resume, DeliverError};
use crate::destination::{self, signature};
use crate::egress::{self, EgressPolicy};
use crate::ids::{AccountId, CampaignId, IntegrationId, KeyId, RegistrationId};
use crate::intake::FieldError;
use crate::keys::{self, Secret};
use crate::model::{
    Account, ApiKey, Attached, Campaign, Integration, IntegrationStatus, KeyKind, SealedCredentials,
};
use crate::queue::TaskQueue;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};
use leadrelay_explain::provider::Provider;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How long a replaced signing secret keeps signing.
pub const ROTATION_GRACE_S: u64 = 24 * 3600;
/// Default registration retention.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Longest retention.
pub const MAX_RETENTION_DAYS: u32 = 365;

/// Why a management call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The account has no such thing (404).
    #[error("{0} does not exist")]
    NotFound(&'static str),
    /// The input is invalid (422), every field named.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Re-queueing the waiting deliveries failed.
    #[error(transparent)]
    Resume(#[from] DeliverError),
    /// Someone else changed it since it was read (409); what to do is said.
    #[error("{0}")]
    Conflict(String),
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.into(),
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        errors.push(invalid(
            "name",
            "invalid_name",
            "name is 1 to 100 characters",
        ));
    }
}

/// Creates an account and its first account key (the command line's bootstrap).
pub async fn bootstrap<S: Store>(
    store: &S,
    name: &str,
) -> Result<(Account, ApiKey, Secret), ManageError> {
    let mut errors = Vec::new();
    check_name(name, &mut errors);
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    let account = Account {
        id: AccountId::generate(),
        name: name.trim().to_owned(),
        created_at: clock::now_ms(),
    };
    store.put_account(&account).await?;
    let (key, secret) = issue_key(store, &account.id, KeyKind::Account, None).await?;
    Ok((account, key, secret))
}

/// Makes a key of `kind` for an account (an ingest key names its campaign).
pub async fn issue_key<S: Store>(
    store: &S,
    account: &AccountId,
    kind: KeyKind,
    campaign: Option<&CampaignId>,
) -> Result<(ApiKey, Secret), ManageError> {
    let secret = keys::generate_key(kind);
    let key = ApiKey {
        id: KeyId::generate(),
        kind,
        account_id: account.clone(),
        campaign_id: campaign.cloned(),
        hash: keys::hash_key(secret.expose()),
        hint: keys::key_hint(secret.expose()),
        created_at: clock::now_ms(),
    };
    store.put_key(&key).await?;
    Ok((key, secret))
}

/// A campaign to create, or the fields of one to change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    /// Its name.
    pub name: Option<String>,
    /// The integrations its registrations go to.
    pub integration_ids: Option<Vec<String>>,
    /// Retention in days.
    pub retention_days: Option<u32>,
}

async fn attached<S: Store>(
    store: &S,
    account: &AccountId,
    ids: &[String],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<Attached>, ManageError> {
    let mut out: Vec<Attached> = Vec::new();
    for (i, raw) in ids.iter().enumerate() {
        let field = format!("integration_ids[{i}]");
        let Ok(id) = raw.parse::<IntegrationId>() else {
            errors.push(invalid(&field, "invalid_id", "not an integration id"));
            continue;
        };
        if out.iter().any(|a| a.id == id) {
            errors.push(invalid(&field, "duplicate", "listed twice"));
            continue;
        }
        match store.integration(account, &id).await? {
            Some(integration) => out.push(Attached {
                id,
                provider: integration.provider,
            }),
            None => errors.push(invalid(
                &field,
                "not_found",
                "no such integration in this account",
            )),
        }
    }
    Ok(out)
}

fn check_retention(days: Option<u32>, errors: &mut Vec<FieldError>) -> u32 {
    match days {
        None => DEFAULT_RETENTION_DAYS,
        Some(d) if (1..=MAX_RETENTION_DAYS).contains(&d) => d,
        Some(_) => {
            errors.push(invalid(
                "retention_days",
                "out_of_range",
                format!("retention_days is 1 to {MAX_RETENTION_DAYS}"),
            ));
            DEFAULT_RETENTION_DAYS
        }
    }
}

/// Creates a campaign and its first ingest key.
pub async fn create_campaign<S: Store>(
    store: &S,
    account: &AccountId,
    input: CampaignInput,
) -> Result<(Campaign, ApiKey, Secret), ManageError> {
    let mut errors = Vec::new();
    let name = input.name.unwrap_or_default();
    check_name(&name, &mut errors);
    let retention_days = check_retention(input.retention_days, &mut errors);
    let integrations = attached(
        store,
        account,
        &input.integration_ids.unwrap_or_default(),
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    let campaign = Campaign {
        id: CampaignId::generate(),
        account_id: account.clone(),
        name: name.trim().to_owned(),
        integrations,
        retention_days,
        created_at: clock::now_ms(),
    };
    store.put_campaign(&campaign).await?;
    let (key, secret) = issue_key(store, account, KeyKind::Ingest, Some(&campaign.id)).await?;
    Ok((campaign, key, secret))
}

/// Changes a campaign's name, integrations or retention.
pub async fn update_campaign<S: Store>(
    store: &S,
    account: &AccountId,
    id: &CampaignId,
    input: CampaignInput,
) -> Result<Campaign, ManageError> {
    let mut campaign = store
        .campaign(account, id)
        .await?
        .ok_or(ManageError::NotFound("this campaign"))?;
    let mut errors = Vec::new();
    if let Some(name) = input.name {
        check_name(&name, &mut errors);
        campaign.name = name.trim().to_owned();
    }
    if input.retention_days.is_some() {
        campaign.retention_days = check_retention(input.retention_days, &mut errors);
    }
    if let Some(ids) = input.integration_ids {
        campaign.integrations = attached(store, account, &ids, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    store.put_campaign(&campaign).await?;
    Ok(campaign)
}

/// An integration to create, or the fields of one to change. In an update, `settings`
/// replaces the settings; `credentials` changes only the names it lists (a `null`
/// removes one). `"signing_secret": "generate"` makes a new secret, shown once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Its name.
    pub name: Option<String>,
    /// Its provider (creation only).
    pub provider: Option<Provider>,
    /// Its settings.
    pub settings: Option<Map<String, Value>>,
    /// Credentials to set or remove.
    #[serde(default)]
    pub credentials: BTreeMap<String, Option<String>>,
    /// On update, the `version` the caller read: the change is made only if the
    /// integration is still at it (409 otherwise).
    #[serde(default)]
    pub version: Option<u64>,
}

/// Settings leadrelay maintains itself; callers may not set them.
const MANAGED_SETTINGS: &[&str] = &["previous_signing_secret_until"];

fn check_settings(
    provider: Provider,
    settings: &Map<String, Value>,
    credential_names: &BTreeMap<String, String>,
    policy: EgressPolicy,
    errors: &mut Vec<FieldError>,
) {
    for managed in MANAGED_SETTINGS {
        if settings.contains_key(*managed) {
            errors.push(invalid(
                &format!("settings.{managed}"),
                "read_only",
                "this setting is maintained by leadrelay",
            ));
        }
    }
    for e in destination::validate(provider, settings, credential_names) {
        errors.push(invalid(&e.field, "invalid_setting", e.message));
    }
    for key in ["url", "base_url", "instance_url", "login_url", "org_url"] {
        if let Some(url) = settings.get(key).and_then(Value::as_str) {
            if let Err(e) = egress::check_url(url, policy) {
                let field = format!("settings.{key}");
                if !errors.iter().any(|x| x.field == field) {
                    errors.push(invalid(
                        &field,
                        "blocked_url",
                        format!("leadrelay will not send there: {e}"),
                    ));
                }
            }
        }
    }
}

/// Creates an integration. Returns it, and any secret leadrelay generated (shown once).
pub async fn create_integration<S: Store, V: Vault>(
    store: &S,
    vault: &V,
    policy: EgressPolicy,
    account: &AccountId,
    input: IntegrationInput,
) -> Result<(Integration, BTreeMap<String, Secret>), ManageError> {
    let mut errors = Vec::new();
    let name = input.name.clone().unwrap_or_default();
    check_name(&name, &mut errors);
    let Some(provider) = input.provider else {
        errors.push(invalid(
            "provider",
            "required",
            "provider is required (webhook, mailchimp, hubspot, ...)",
        ));
        return Err(ManageError::Invalid(errors));
    };
    let mut settings = input.settings.clone().unwrap_or_default();
    let (mut plain, generated) = new_credentials(&input.credentials, &mut errors);
    check_settings(provider, &settings, &plain, policy, &mut errors);
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }
    if provider == Provider::Webhook {
        let taken = take_setting_secrets(&mut settings, &Default::default())?;
        plain.extend(taken.seal);
    }
    let id = IntegrationId::generate();
    let sealed = vault.seal(account, &id, &plain).await?;
    let now = clock::now_ms();
    let integration = Integration {
        id,
        account_id: account.clone(),
        name: name.trim().to_owned(),
        provider,
        settings,
        credentials: (!sealed.values.is_empty()).then_some(sealed),
        credentials_version: 1,
        version: 1,
        status: IntegrationStatus::Active,
        created_at: now,
        updated_at: now,
        cooldown_until: None,
    };
    store.put_integration(&integration).await?;
    Ok((integration, generated))
}

/// The credentials to seal: given values, and generated ones where asked.
fn new_credentials(
    given: &BTreeMap<String, Option<String>>,
    errors: &mut Vec<FieldError>,
) -> (BTreeMap<String, String>, BTreeMap<String, Secret>) {
    let mut plain = BTreeMap::new();
    let mut generated = BTreeMap::new();
    for (name, value) in given {
        let field = format!("credentials.{name}");
        if destination::webhook::is_setting_secret(name) {
            errors.push(invalid(
                &field,
                "read_only",
                "holds a secret part of the settings: mark the header or URL part secret in the settings instead",
            ));
            continue;
        }
        if signature::is_previous_name(name) {
            errors.push(invalid(
                &field,
                "read_only",
                "set by leadrelay when signing_secret is replaced",
            ));
            continue;
        }
        match value.as_deref() {
            None => {}
            Some("") => errors.push(invalid(
                &field,
                "empty",
                "a credential cannot be empty; use null to remove it",
            )),
            Some("generate") if name == "signing_secret" => {
                let secret = signature::generate_secret();
                generated.insert(name.clone(), Secret::new(secret.clone()));
                plain.insert(name.clone(), secret);
            }
            Some(v) => {
                plain.insert(name.clone(), v.to_owned());
            }
        }
    }
    (plain, generated)
}

/// What an update did.
#[derive(Debug)]
pub struct Updated {
    /// The integration as written.
    pub integration: Integration,
    /// Whether re-queueing its waiting deliveries was started (it was resumed, or had
    /// deliveries waiting from an earlier resume that could not start).
    pub drain_started: bool,
    /// Credentials generated on request, shown once.
    pub generated: BTreeMap<String, Secret>,
}

/// How often an update is made again over a change the system made meanwhile (a pause,
/// a cooldown) before it answers 409.
const UPDATE_TRIES: usize = 3;

/// Changes an integration. A changed credential or setting resumes a paused integration
/// and starts re-queueing what waited (in the background: see [`resume`]).
///
/// The change is written only if the integration is still at the version it was made
/// from: at `input.version` when given (409 otherwise), else at the version read here. A
/// change made meanwhile to its status or cooldown (by a delivery) is not a conflict: the
/// update is made again over it; one to its name, settings or credentials is (409).
pub async fn update_integration<S: Store, Q: TaskQueue, V: Vault>(
    store: &S,
    queue: &Q,
    vault: &V,
    policy: EgressPolicy,
    account: &AccountId,
    id: &IntegrationId,
    input: IntegrationInput,
) -> Result<Updated, ManageError> {
    let conflict = |read: u64| {
        ManageError::Conflict(format!(
            "the integration was changed by someone else since version {read} was read; read it again and send the change against its current version"
        ))
    };
    let mut first: Option<Integration> = None;
    for _ in 0..UPDATE_TRIES {
        let current = store
            .integration(account, id)
            .await?
            .ok_or(ManageError::NotFound("this integration"))?;
        if let Some(expected) = input.version {
            if expected != current.version {
                return Err(conflict(expected));
            }
        }
        if let Some(first) = &first {
            if !same_configuration(first, &current) {
                return Err(conflict(first.version));
            }
        }
        let was_paused = matches!(current.status, IntegrationStatus::Paused { .. });
        let (next, generated) =
            patched(vault, policy, account, id, current.clone(), &input).await?;
        if !store.change_integration(&next).await? {
            first.get_or_insert(current);
            continue;
        }
        let drain_started = next.status == IntegrationStatus::Active
            && (was_paused || !store.paused_deliveries(&next.id, None, 1).await?.is_empty());
        if drain_started {
            resume::start(queue, &next)
                .await
                .map_err(|e| ManageError::Resume(DeliverError::Queue(e)))?;
            tracing::info!(integration_id = %next.id, version = next.version, "integration resumed: drain started");
        }
        return Ok(Updated {
            integration: next,
            drain_started,
            generated,
        });
    }
    Err(conflict(first.map_or(0, |f| f.version)))
}

/// Whether two versions of an integration are configured alike (what a marketer sets:
/// name, settings, credentials), whatever their status or cooldown.
fn same_configuration(a: &Integration, b: &Integration) -> bool {
    a.name == b.name
        && a.settings == b.settings
        && a.credentials == b.credentials
        && a.credentials_version == b.credentials_version
}

/// The next version of `integration` with `input` applied (credentials sealed), and any
/// generated secret.
async fn patched<V: Vault>(
    vault: &V,
    policy: EgressPolicy,
    account: &AccountId,
    id: &IntegrationId,
    read: Integration,
    input: &IntegrationInput,
) -> Result<(Integration, BTreeMap<String, Secret>), ManageError> {
    let mut integration = read.next_version();
    let mut errors = Vec::new();
    if input.provider.is_some_and(|p| p != integration.provider) {
        errors.push(invalid(
            "provider",
            "read_only",
            "an integration's provider cannot change; create a new integration",
        ));
    }
    if let Some(name) = &input.name {
        check_name(name, &mut errors);
    }
    let (plain, generated) = new_credentials(&input.credentials, &mut errors);
    let mut sealed = integration.credentials.clone().unwrap_or_default();
    let mut settings = match &input.settings {
        Some(s) => s.clone(),
        None => integration.settings.clone(),
    };
    for managed in MANAGED_SETTINGS {
        if let Some(v) = integration.settings.get(*managed) {
            if input
                .settings
                .as_ref()
                .is_some_and(|s| s.contains_key(*managed))
            {
                continue;
            }
            settings.insert((*managed).to_owned(), v.clone());
        }
    }
    // Names the integration will hold after the change, for the provider's checks.
    let mut names: BTreeMap<String, String> = sealed
        .values
        .keys()
        .map(|k| (k.clone(), String::new()))
        .collect();
    for (name, value) in &input.credentials {
        match value {
            None => {
                names.remove(name);
            }
            Some(_) => {
                names.insert(name.clone(), plain.get(name).cloned().unwrap_or_default());
            }
        }
    }
    let mut check_settings_map = settings.clone();
    for managed in MANAGED_SETTINGS {
        check_settings_map.remove(*managed);
    }
    // Only the values being set are checked by value; kept ones passed when they were set.
    let mut for_check = names.clone();
    for (k, v) in for_check.iter_mut() {
        if v.is_empty() {
            *v = placeholder(k);
        }
    }
    check_settings(
        integration.provider,
        &check_settings_map,
        &for_check,
        policy,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ManageError::Invalid(errors));
    }

    // Secret headers and URL parts: new values are sealed, kept ones stay, and those the
    // settings no longer mark secret are dropped.
    let mut secrets_changed = false;
    if integration.provider == Provider::Webhook {
        let names = sealed.values.keys().cloned().collect();
        let taken = take_setting_secrets(&mut settings, &names)?;
        for (name, value) in &taken.seal {
            if value.len() > crate::vault::MAX_PLAINTEXT_BYTES {
                return Err(VaultError::TooLarge(name.clone()).into());
            }
            let c = vault.seal_value(account, id, value).await?;
            sealed.values.insert(name.clone(), c);
        }
        let before = sealed.values.len();
        sealed.values.retain(|name, _| {
            !destination::webhook::is_setting_secret(name) || taken.referenced.contains(name)
        });
        secrets_changed = !taken.seal.is_empty() || sealed.values.len() != before;
    }
    let credentials_changed = !input.credentials.is_empty() || secrets_changed;
    let settings_changed = input.settings.is_some();
    for (name, value) in &input.credentials {
        match value {
            None => {
                sealed.values.remove(name);
            }
            Some(_) => {
                let Some(v) = plain.get(name) else { continue };
                if name == "signing_secret" {
                    if let Some(old) = sealed.values.get(name).cloned() {
                        signature::retire(
                            &mut sealed.values,
                            &mut settings,
                            old,
                            clock::now_ms() / 1000,
                            ROTATION_GRACE_S,
                        );
                    }
                }
                let c = vault.seal_value(account, id, v).await?;
                sealed.values.insert(name.clone(), c);
            }
        }
    }
    if let Some(name) = &input.name {
        integration.name = name.trim().to_owned();
    }
    integration.settings = settings;
    integration.credentials = (!sealed.values.is_empty()).then_some(sealed);
    if credentials_changed {
        integration.credentials_version += 1;
    }
    let was_paused = matches!(integration.status, IntegrationStatus::Paused { .. });
    if was_paused && (credentials_changed || settings_changed) {
        integration.status = IntegrationStatus::Active;
    }
    // A change (a bigger plan, another key) may lift the provider's limit: the next
    // rate-limited answer starts a new cooldown if not.
    integration.cooldown_until = None;
    integration.updated_at = clock::now_ms();
    Ok((integration, generated))
}

/// Takes the secret values out of webhook settings (see
/// [`destination::webhook::take_secrets`]); a secret to keep that was never given is a
/// 422 naming its setting.
fn take_setting_secrets(
    settings: &mut Map<String, Value>,
    sealed: &std::collections::BTreeSet<String>,
) -> Result<destination::webhook::TakenSecrets, ManageError> {
    destination::webhook::take_secrets(settings, sealed).map_err(|errors| {
        ManageError::Invalid(
            errors
                .into_iter()
                .map(|e| invalid(&e.field, "secret_missing", e.message))
                .collect(),
        )
    })
}

/// A stand-in value for a kept credential, valid for the provider's format checks.
fn placeholder(name: &str) -> String {
    match name {
        n if n == "signing_secret" || signature::is_previous_name(n) => {
            format!("{}{}", signature::SECRET_PREFIX, "A".repeat(44))
        }
        _ => destination::KEPT_CREDENTIAL.into(),
    }
}

/// What to erase: every registration of one email address, or one registration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureInput {
    /// The person's email address (any case).
    pub email: Option<String>,
    /// One registration's id.
    pub registration_id: Option<String>,
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    /// The registrations erased, oldest id first.
    pub registrations: Vec<RegistrationId>,
    /// Deliveries that were still waiting and now never will be sent.
    pub deliveries_stopped: u32,
    /// Attempt records scrubbed.
    pub attempts_scrubbed: u32,
}

/// Erases a person's data from the account's registrations (see [`crate::erasure`]):
/// by email address, every registration with it, or one registration by id. Another
/// account's registration is never touched (its id reads as unknown).
pub async fn erase<S: Store>(
    store: &S,
    account: &AccountId,
    input: ErasureInput,
) -> Result<ErasureReport, ManageError> {
    let ids = match (input.email.as_deref(), input.registration_id.as_deref()) {
        (Some(email), None) => {
            if !email.contains('@') || email.trim().len() > 320 {
                return Err(ManageError::Invalid(vec![invalid(
                    "email",
                    "invalid_email",
                    "email is the address whose registrations are erased, such as lena@example.com",
                )]));
            }
            let subject = crate::erasure::subject_hash(email);
            store.subject_registrations(account, &subject).await?
        }
        (None, Some(raw)) => {
            let Ok(id) = raw.parse::<RegistrationId>() else {
                return Err(ManageError::Invalid(vec![invalid(
                    "registration_id",
                    "invalid_id",
                    "not a registration id",
                )]));
            };
            match store.registration(&id).await? {
                Some(r) if &r.account_id == account => vec![id],
                _ => return Err(ManageError::NotFound("this registration")),
            }
        }
        _ => {
            return Err(ManageError::Invalid(vec![invalid(
                "email",
                "one_of",
                "give either email or registration_id",
            )]))
        }
    };
    let mut report = ErasureReport::default();
    let now = clock::now_ms();
    for id in ids {
        if let Some(erased) = crate::erasure::erase(store, &id, now).await? {
            report.deliveries_stopped += erased.deliveries_stopped;
            report.attempts_scrubbed += erased.attempts_scrubbed;
            report.registrations.push(id);
        }
    }
    tracing::info!(
        account_id = %account,
        registrations = report.registrations.len(),
        deliveries_stopped = report.deliveries_stopped,
        "erasure done"
    );
    Ok(report)
}

/// Sends one test registration with `data` through the account's `integration` now and
/// returns the verdict, storing nothing: how an integration is tried before it goes live.
pub async fn test_integration<T: crate::exchange::Transport, V: Vault>(
    transport: &T,
    vault: &V,
    integration: &Integration,
    data: crate::model::RegistrationData,
) -> Result<crate::deliver::TestResult, ManageError> {
    let now = clock::now_ms();
    let registration = crate::model::Registration {
        id: RegistrationId::generate(),
        account_id: integration.account_id.clone(),
        campaign_id: CampaignId::generate(),
        received_at: now,
        data,
        integration_ids: vec![integration.id.clone()],
        expires_at: now / 1000 + 60,
        erased_at: None,
    };
    Ok(crate::deliver::test_send(transport, vault, integration, &registration).await?)
}

/// An integration as the API shows it: credentials masked, status explained.
pub fn integration_view(i: &Integration) -> Value {
    let credentials: Map<String, Value> = i
        .credentials
        .as_ref()
        .map(SealedCredentials::names)
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n, Value::from("********")))
        .collect();
    let status = match &i.status {
        IntegrationStatus::Active => json!({"state": "active"}),
        IntegrationStatus::Paused {
            since,
            outcome,
            explanation,
            remedy,
        } => json!({
            "state": "paused",
            "since": clock::rfc3339(*since),
            "outcome": outcome,
            "explanation": explanation,
            "remedy": remedy,
        }),
    };
    json!({
        "id": i.id,
        "name": i.name,
        "provider": i.provider,
        "settings": i.settings,
        "credentials": credentials,
        "status": status,
        "version": i.version,
        "cooldown_until": i
            .cooldown_until
            .filter(|t| *t > clock::now_ms())
            .map(clock::rfc3339),
        "created_at": clock::rfc3339(i.created_at),
        "updated_at": clock::rfc3339(i.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::memory::MemoryQueue;
    use crate::store::memory::MemoryStore;
    use crate::store::{AccountStore, CampaignStore, RegistrationStore};
    use crate::vault::InsecureTestVault;

    fn webhook(url: &str) -> IntegrationInput {
        IntegrationInput {
            name: Some("Hook".into()),
            provider: Some(Provider::Webhook),
            settings: json!({"url": url}).as_object().cloned(),
            credentials: BTreeMap::new(),
            version: None,
        }
    }

    #[tokio::test]
    async fn private_destinations_are_refused_at_configuration() {
        let store = MemoryStore::new();
        let account = AccountId::generate();

        let err = create_integration(
            &store,
            &InsecureTestVault,
            EgressPolicy::default(),
            &account,
            webhook("https://169.254.169.254/latest"),
        )
        .await
        .unwrap_err();

        let ManageError::Invalid(errors) = err else {
            panic!()
        };
        assert_eq!(errors[0].field, "settings.url");
        assert_eq!(errors[0].code, "blocked_url");
        assert!(
            errors[0].message.contains("link-local"),
            "{}",
            errors[0].message
        );
    }

    #[tokio::test]
    async fn a_dynamics_environment_or_login_url_on_a_private_address_is_refused() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let input = IntegrationInput {
            name: Some("Dynamics".into()),
            provider: Some(Provider::Dynamics),
            settings: json!({"org_url": "https://10.0.0.7", "login_url": "https://127.0.0.1:8443",
                             "tenant_id": "contoso.onmicrosoft.com", "client_id": "c"})
            .as_object()
            .cloned(),
            credentials: BTreeMap::from([("client_secret".to_owned(), Some("s".to_owned()))]),
            version: None,
        };

        let err = create_integration(
            &store,
            &InsecureTestVault,
            EgressPolicy::default(),
            &account,
            input,
        )
        .await
        .unwrap_err();

        let ManageError::Invalid(errors) = err else {
            panic!()
        };
        let blocked: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            blocked,
            [
                ("settings.login_url", "blocked_url"),
                ("settings.org_url", "blocked_url")
            ]
        );
    }

    #[tokio::test]
    async fn an_unknown_or_misspelt_setting_is_refused_naming_it() {
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let mut input = webhook("https://hooks.example.com/in");
        if let Some(settings) = input.settings.as_mut() {
            settings.insert("methd".into(), json!("PUT"));
        }

        let err = create_integration(
            &store,
            &InsecureTestVault,
            EgressPolicy::default(),
            &account,
            input,
        )
        .await
        .unwrap_err();

        let ManageError::Invalid(errors) = err else {
            panic!()
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "settings.methd");
        assert_eq!(errors[0].code, "invalid_setting");
        assert!(errors[0].message.contains("did you mean 'method'"));
    }

    #[tokio::test]
    async fn credentials_are_sealed_masked_and_rotated_with_a_grace_period() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let vault = InsecureTestVault;
        let account = AccountId::generate();
        let mut input = webhook("https://hooks.example.com/in");
        input
            .credentials
            .insert("signing_secret".into(), Some("generate".into()));

        let (integration, generated) =
            create_integration(&store, &vault, EgressPolicy::default(), &account, input)
                .await
                .unwrap();
        let first = generated["signing_secret"].expose().to_owned();
        let view = integration_view(&integration).to_string();
        assert!(!view.contains(&first));
        assert!(view.contains("\"signing_secret\":\"********\""));

        let patch = IntegrationInput {
            credentials: BTreeMap::from([(
                "signing_secret".to_owned(),
                Some("generate".to_owned()),
            )]),
            ..IntegrationInput::default()
        };
        let Updated {
            integration: rotated,
            generated,
            ..
        } = update_integration(
            &store,
            &queue,
            &vault,
            EgressPolicy::default(),
            &account,
            &integration.id,
            patch,
        )
        .await
        .unwrap();

        let opened = vault.open(&rotated).await.unwrap();
        let (name, previous) = opened
            .0
            .iter()
            .find(|(n, _)| n.starts_with(signature::PREVIOUS_PREFIX))
            .unwrap();
        assert_eq!(previous.expose(), first);
        assert_eq!(
            opened.get("signing_secret").unwrap().expose(),
            generated["signing_secret"].expose()
        );
        let until = signature::previous_until(name).unwrap();
        assert!(until > clock::now_ms() / 1000 + ROTATION_GRACE_S - 60);
        assert!(integration_view(&rotated)
            .to_string()
            .contains(&format!("\"{name}\":\"********\"")));
        assert_eq!(rotated.credentials_version, 2);
    }

    #[tokio::test]
    async fn two_rotations_within_a_day_keep_both_older_secrets_signing() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let vault = InsecureTestVault;
        let account = AccountId::generate();
        let mut input = webhook("https://hooks.example.com/in");
        input
            .credentials
            .insert("signing_secret".into(), Some("generate".into()));
        let (integration, generated) =
            create_integration(&store, &vault, EgressPolicy::default(), &account, input)
                .await
                .unwrap();
        let mut secrets = vec![generated["signing_secret"].expose().to_owned()];
        for _ in 0..2 {
            let patch = IntegrationInput {
                credentials: BTreeMap::from([(
                    "signing_secret".to_owned(),
                    Some("generate".to_owned()),
                )]),
                ..IntegrationInput::default()
            };
            let Updated { generated, .. } = update_integration(
                &store,
                &queue,
                &vault,
                EgressPolicy::default(),
                &account,
                &integration.id,
                patch,
            )
            .await
            .unwrap();
            secrets.push(generated["signing_secret"].expose().to_owned());
        }

        let stored = store
            .integration(&account, &integration.id)
            .await
            .unwrap()
            .unwrap();
        let creds = vault.open(&stored).await.unwrap();
        let registration = crate::model::Registration {
            id: RegistrationId::generate(),
            account_id: account.clone(),
            campaign_id: CampaignId::generate(),
            received_at: clock::now_ms(),
            data: Default::default(),
            integration_ids: vec![stored.id.clone()],
            expires_at: 0,
            erased_at: None,
        };
        let cx = destination::SendContext {
            message_id: "msg_1".into(),
            timestamp: clock::now_ms() / 1000,
            attempt: 1,
        };
        let destination::Built::Send { request, .. } =
            destination::build(&stored, &creds, &registration, &cx).unwrap()
        else {
            panic!("skipped")
        };
        let header = request
            .headers
            .iter()
            .find(|(n, _)| n == "webhook-signature")
            .unwrap()
            .1
            .expose()
            .to_owned();
        let entries: Vec<&str> = header.split(' ').collect();
        for (i, secret) in secrets.iter().enumerate() {
            let sig = signature::sign(
                &signature::secret_bytes(secret).unwrap(),
                "msg_1",
                cx.timestamp,
                &request.body,
            );
            assert!(entries.contains(&sig.as_str()), "secret {i} does not sign");
        }
        assert_eq!(entries.len(), 3);
        let view = integration_view(&stored).to_string();
        assert!(secrets.iter().all(|s| !view.contains(s.as_str())));
    }

    #[tokio::test]
    async fn secret_headers_and_url_parts_are_sealed_kept_when_masked_and_dropped_when_unmarked() {
        let store = MemoryStore::new();
        let queue = MemoryQueue::new();
        let vault = InsecureTestVault;
        let account = AccountId::generate();
        let input = IntegrationInput {
            name: Some("Slack".into()),
            provider: Some(Provider::Webhook),
            settings: json!({
                "url": "https://hooks.slack.com/services/T000/B000/pathcanary",
                "secret_url_parts": {"path_segments": [3]},
                "headers": {"X-Api-Key": {"value": "headercanary", "secret": true}},
            })
            .as_object()
            .cloned(),
            credentials: BTreeMap::new(),
            version: None,
        };
        let (created, _) =
            create_integration(&store, &vault, EgressPolicy::default(), &account, input)
                .await
                .unwrap();
        let stored = format!("{} {:?}", serde_json::to_string(&created).unwrap(), created);
        let view = integration_view(&created);
        for canary in ["pathcanary", "headercanary"] {
            assert!(!stored.contains(canary), "{canary} stored in plain");
            assert!(!view.to_string().contains(canary), "{canary} shown");
        }
        assert_eq!(view["credentials"]["url_path:3"], "********");
        let opened = vault.open(&created).await.unwrap();
        assert_eq!(opened.get("url_path:3").unwrap().expose(), "pathcanary");
        assert_eq!(
            opened.get("header:x-api-key").unwrap().expose(),
            "headercanary"
        );

        // The settings as the view shows them, sent back: every secret is kept.
        let update = |settings: Value| IntegrationInput {
            settings: settings.as_object().cloned(),
            ..IntegrationInput::default()
        };
        let Updated {
            integration: kept, ..
        } = update_integration(
            &store,
            &queue,
            &vault,
            EgressPolicy::default(),
            &account,
            &created.id,
            update(view["settings"].clone()),
        )
        .await
        .unwrap();
        assert_eq!(vault.open(&kept).await.unwrap(), opened);
        assert_eq!(kept.credentials_version, created.credentials_version);

        // The header made plain and a new path token: one sealed value goes, one changes.
        let Updated {
            integration: changed,
            ..
        } = update_integration(
            &store,
            &queue,
            &vault,
            EgressPolicy::default(),
            &account,
            &created.id,
            update(json!({
                "url": "https://hooks.slack.com/services/T000/B000/newcanary",
                "secret_url_parts": {"path_segments": [3]},
                "headers": {"X-Api-Key": "now-plain"},
            })),
        )
        .await
        .unwrap();
        let opened = vault.open(&changed).await.unwrap();
        assert_eq!(opened.get("url_path:3").unwrap().expose(), "newcanary");
        assert!(opened.get("header:x-api-key").is_none());
        assert!(changed.credentials_version > kept.credentials_version);

        // A masked secret with nothing sealed, and a credential named like one: 422s.
        let err = update_integration(
            &store,
            &queue,
            &vault,
            EgressPolicy::default(),
            &account,
            &created.id,
            IntegrationInput {
                settings:
                    json!({"url": "https://h.example.com/a", "headers": {"X-B": {"secret": true}}})
                        .as_object()
                        .cloned(),
                credentials: BTreeMap::from([("url_path:0".to_owned(), Some("x".to_owned()))]),
                ..IntegrationInput::default()
            },
        )
        .await
        .unwrap_err();
        let ManageError::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["credentials.url_path:0"]);
        let err = update_integration(
            &store,
            &queue,
            &vault,
            EgressPolicy::default(),
            &account,
            &created.id,
            update(json!({"url": "https://h.example.com/a", "headers": {"X-B": {"secret": true}}})),
        )
        .await
        .unwrap_err();
        let ManageError::Invalid(errors) = err else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].field, "settings.headers.X-B");
        assert_eq!(errors[0].code, "secret_missing");
    }

    #[tokio::test]
    async fn campaigns_attach_only_their_own_accounts_integrations() {
        let store = MemoryStore::new();
        let mine = AccountId::generate();
        let theirs = AccountId::generate();
        let (foreign, _) = create_integration(
            &store,
            &InsecureTestVault,
            EgressPolicy::default(),
            &theirs,
            webhook("https://h.example.com"),
        )
        .await
        .unwrap();

        let err = create_campaign(
            &store,
            &mine,
            CampaignInput {
                name: Some("Quiz".into()),
                integration_ids: Some(vec![foreign.id.to_string()]),
                retention_days: Some(0),
            },
        )
        .await
        .unwrap_err();

        let ManageError::Invalid(errors) = err else {
            panic!()
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["retention_days", "integration_ids[0]"]);
    }

    #[tokio::test]
    async fn bootstrap_makes_an_account_and_a_working_key() {
        let store = MemoryStore::new();
        let (account, key, secret) = bootstrap(&store, "Acme").await.unwrap();
        let found = store
            .key_by_hash(&keys::hash_key(secret.expose()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.account_id, account.id);
        assert_eq!(found.id, key.id);
        assert_eq!(found.kind, KeyKind::Account);
    }

    #[tokio::test]
    async fn erasure_in_memory_stops_waiting_deliveries_and_finds_by_address() {
        use crate::model::{Delivery, DeliveryState, Registration, RegistrationData};
        let store = MemoryStore::new();
        let account = AccountId::generate();
        let stranger = AccountId::generate();
        let (a, b) = (IntegrationId::generate(), IntegrationId::generate());
        let registration = |who: &AccountId, email: &str| Registration {
            id: RegistrationId::generate(),
            account_id: who.clone(),
            campaign_id: CampaignId::generate(),
            received_at: 1,
            data: RegistrationData {
                email: Some(email.into()),
                first_name: Some("Ingrid".into()),
                ..RegistrationData::default()
            },
            integration_ids: vec![a.clone(), b.clone()],
            expires_at: clock::now_ms() / 1000 + 3600,
            erased_at: None,
        };
        let delivery = |r: &Registration, i: &IntegrationId, state| Delivery {
            registration_id: r.id.clone(),
            integration_id: i.clone(),
            campaign_id: r.campaign_id.clone(),
            provider: Provider::Webhook,
            state,
            attempts: 0,
            next_attempt_at: None,
            last: None,
            received_at: 1,
            updated_at: 1,
            waiting: None,
        };
        let mine = registration(&account, "ingrid@example.com");
        let theirs = registration(&stranger, "ingrid@example.com");
        for r in [&mine, &theirs] {
            let ds = [
                delivery(r, &a, DeliveryState::Delivered),
                delivery(r, &b, DeliveryState::Retrying),
            ];
            store.create_registration(r, &ds).await.unwrap();
        }

        let input = ErasureInput {
            email: Some("Ingrid@Example.com".into()),
            registration_id: None,
        };
        let report = erase(&store, &account, input).await.unwrap();

        assert_eq!(report.registrations, vec![mine.id.clone()]);
        assert_eq!(report.deliveries_stopped, 1);
        let erased = store.registration(&mine.id).await.unwrap().unwrap();
        assert!(erased.erased_at.is_some());
        assert_eq!(erased.data.email, None);
        let states = [
            store.delivery(&mine.id, &a).await.unwrap().unwrap().state,
            store.delivery(&mine.id, &b).await.unwrap().unwrap().state,
        ];
        assert_eq!(states, [DeliveryState::Delivered, DeliveryState::Erased]);
        let untouched = store.registration(&theirs.id).await.unwrap().unwrap();
        assert_eq!(untouched.data.first_name.as_deref(), Some("Ingrid"));
        let by_foreign_id = ErasureInput {
            email: None,
            registration_id: Some(theirs.id.to_string()),
        };
        assert!(matches!(
            erase(&store, &account, by_foreign_id).await,
            Err(ManageError::NotFound(_))
        ));
        let again = ErasureInput {
            email: Some("ingrid@example.com".into()),
            registration_id: None,
        };
        assert!(erase(&store, &account, again)
            .await
            .unwrap()
            .registrations
            .is_empty());
    }
}
