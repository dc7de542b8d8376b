//! Integrations: created, changed (credentials sealed, settings checked, a paused one
//! resumed) and tried with a test send. Credentials are sealed on write and never read
//! back here; a replaced signing secret keeps signing for [`ROTATION_GRACE_S`].

use super::{check_name, invalid, ManageError};
use crate::clock;
use crate::deliver::{resume, DeliverError};
use crate::destination::{self, signature};
use crate::egress::{self, EgressPolicy};
use crate::ids::{AccountId, CampaignId, IntegrationId, RegistrationId};
use crate::intake::FieldError;
use crate::keys::Secret;
use crate::model::{Integration, IntegrationStatus};
use crate::queue::TaskQueue;
use crate::store::Store;
use crate::vault::{Vault, VaultError};
use leadrelay_explain::provider::Provider;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How long a replaced signing secret keeps signing.
pub const ROTATION_GRACE_S: u64 = 24 * 3600;

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

/// Sends one test registration with `data` through the account's `integration` now and
/// returns the verdict, storing nothing: how an integration is tried before it goes live.
pub async fn test_integration<T: crate::exchange::Transport, V: Vault>(
    transport: &T,
    vault: &V,
    integration: &Integration,
    data: crate::model::RegistrationData,
) -> Result<crate::deliver::test_send::TestResult, ManageError> {
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
    Ok(crate::deliver::test_send::test_send(transport, vault, integration, &registration).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manage::test_support::webhook;
    use crate::model::SealedCredentials;
    use crate::queue::memory::MemoryQueue;
    use crate::store::memory::MemoryStore;
    use crate::store::CampaignStore;
    use crate::vault::InsecureTestVault;
    use serde_json::json;

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
        let stored = format!(
            "{} {:?}",
            serde_json::to_string(&integration).unwrap(),
            integration
        );
        assert!(!stored.contains(&first));
        assert_eq!(
            integration
                .credentials
                .as_ref()
                .map(SealedCredentials::names),
            Some(vec!["signing_secret".to_owned()])
        );

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
        assert!(rotated.credentials.as_ref().unwrap().names().contains(name));
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
        let written = format!("{} {:?}", serde_json::to_string(&stored).unwrap(), stored);
        assert!(secrets.iter().all(|s| !written.contains(s.as_str())));
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
        for canary in ["pathcanary", "headercanary"] {
            assert!(!stored.contains(canary), "{canary} stored in plain");
        }
        assert!(created
            .credentials
            .as_ref()
            .unwrap()
            .names()
            .contains(&"url_path:3".to_owned()));
        let opened = vault.open(&created).await.unwrap();
        assert_eq!(opened.get("url_path:3").unwrap().expose(), "pathcanary");
        assert_eq!(
            opened.get("header:x-api-key").unwrap().expose(),
            "headercanary"
        );

        // The settings as read (and as the admin view shows them), sent back: every secret
        // is kept.
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
            update(Value::Object(created.settings.clone())),
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
}
