//! The driver: sets up a stack on the emulator per scenario, starts the ingest and
//! deliver processes, posts registrations at a fixed rate, injects the scenario's faults,
//! waits for the queue to drain and checks every acknowledged registration against what
//! the table and the receivers saw.

use crate::faults::{AwsProxy, Gate, GateMode};
use crate::ledger::{self, Arrival, Entry, Figures, Receivers};
use leadrelay::egress::EgressPolicy;
use leadrelay::manage::{self, campaigns::CampaignInput, integrations::IntegrationInput};
use leadrelay::model::Integration;
use leadrelay::store::QueryStore;
use leadrelay_aws::dynamodb::DynamoStore;
use leadrelay_aws::kms::KmsVault;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_dev::providers::{FakeProvider, Mode};
use leadrelay_explain::provider::Provider;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

type Error = Box<dyn std::error::Error + Send + Sync>;

const MAILCHIMP_KEY: &str = "1edge71edge71edge71edge71edge7ab-us21";
const HUBSPOT_TOKEN: &str = "pat-eu1-1edge700-0000-0000-0000-1edge7001edge";

/// Where the emulators are and where the children's logs go.
#[derive(Debug, Clone)]
pub struct Env {
    /// The emulator serving SQS and KMS.
    pub moto_sqs: String,
    /// The emulator serving DynamoDB.
    pub moto_ddb: String,
    /// Children's logs.
    pub out: PathBuf,
    /// The long mode.
    pub long: bool,
}

/// Provider faults: each receiver's trouble, from `start` s after the load began.
#[derive(Debug, Clone, Copy)]
pub struct ProviderFaults {
    /// When the trouble starts (seconds into the load).
    pub start: u64,
    /// How long the webhook receiver is down (503).
    pub down: u64,
    /// How long Mailchimp answers 429 with `Retry-After`.
    pub too_many: u64,
    /// The `Retry-After` it states.
    pub retry_after: u64,
    /// How long HubSpot takes 5 s per answer.
    pub slow: u64,
    /// How long the second webhook's connections are reset.
    pub reset: u64,
}

/// One scenario of the run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name (a column of the table).
    pub name: &'static str,
    /// Registrations per second.
    pub rate: f64,
    /// Seconds of load.
    pub secs: u64,
    /// AWS faults on.
    pub aws_faults: bool,
    /// Provider faults.
    pub provider_faults: Option<ProviderFaults>,
    /// SIGKILLs during the load.
    pub kills: u32,
    /// Longest wait for the backlog after the load.
    pub drain_limit: Duration,
}

/// The scenarios of a mode.
pub fn scenarios(long: bool) -> Vec<Scenario> {
    // Calibrated to the emulator: moto deep-copies every table on each
    // TransactWriteItems (ingest's one per registration), so its cost grows with the
    // table; these rates keep it below saturation for the whole scenario.
    let (rate, secs) = if long { (2.0, 120) } else { (4.0, 15) };
    let faults = if long {
        ProviderFaults {
            start: 10,
            down: 120,
            too_many: 60,
            retry_after: 10,
            slow: 60,
            reset: 60,
        }
    } else {
        ProviderFaults {
            start: 8,
            down: 15,
            too_many: 10,
            retry_after: 3,
            slow: 10,
            reset: 10,
        }
    };
    vec![
        Scenario {
            name: "load",
            rate,
            secs,
            aws_faults: false,
            provider_faults: None,
            kills: 0,
            drain_limit: Duration::from_secs(if long { 300 } else { 90 }),
        },
        Scenario {
            name: "aws faults",
            rate,
            secs,
            aws_faults: true,
            provider_faults: None,
            kills: 0,
            drain_limit: Duration::from_secs(if long { 300 } else { 120 }),
        },
        Scenario {
            name: "provider faults",
            rate,
            secs: if long { 150 } else { 25 },
            aws_faults: false,
            provider_faults: Some(faults),
            kills: 0,
            drain_limit: Duration::from_secs(if long { 400 } else { 150 }),
        },
        Scenario {
            name: "crashes",
            rate,
            secs: if long { 120 } else { 20 },
            aws_faults: false,
            provider_faults: None,
            kills: if long { 50 } else { 6 },
            drain_limit: Duration::from_secs(if long { 300 } else { 150 }),
        },
    ]
}

/// Seconds between two reconciler runs (the stack runs it every minute).
const RECONCILE_EVERY_S: u64 = 5;

/// How long past its due time a waiting delivery must be before the reconciler queues it
/// again. The stack's 900 s is its queue's visibility timeout plus the deliver
/// function's timeout, with room; the run's failed-message visibility is 40 s and a
/// batch rarely runs 20 s, so 60 s is the same rule scaled down. A job re-queued early
/// is harmless (the attempt's claim lets one send through) and the ledger would show it
/// if it were not.
const RECONCILE_SLACK_S: u64 = 60;

/// The retry schedule of the run: long enough to outlast the longest outage.
fn schedule(long: bool) -> &'static str {
    if long {
        "2,4,8,16,32,64,128"
    } else {
        "1,2,4,8,16,32"
    }
}

/// The stack of one scenario: table, queues and key on the emulator.
struct Stack {
    store: DynamoStore,
    vault: KmsVault,
    sqs: aws_sdk_sqs::Client,
    ddb: aws_sdk_dynamodb::Client,
    table: String,
    queue_url: String,
    queue_arn: String,
    dlq_url: String,
    key_id: String,
}

async fn sdk(
    endpoint_sqs: &str,
    endpoint_ddb: &str,
) -> (aws_config::SdkConfig, aws_config::SdkConfig) {
    let base = leadrelay_aws::config::load().await;
    let sqs = base.to_builder().endpoint_url(endpoint_sqs).build();
    let ddb = base.to_builder().endpoint_url(endpoint_ddb).build();
    (sqs, ddb)
}

impl Stack {
    async fn create(env: &Env, prefix: &str) -> Result<Stack, Error> {
        let (sqs_cfg, ddb_cfg) = sdk(&env.moto_sqs, &env.moto_ddb).await;
        let resources = leadrelay_dev::template::load(&leadrelay_dev::template::template_path())?;
        // Tables on the DynamoDB emulator, queues and keys on the other.
        let on_ddb = leadrelay_dev::template::create(&ddb_cfg, &resources, prefix).await?;
        let on_sqs = leadrelay_dev::template::create(&sqs_cfg, &resources, prefix).await?;
        let sqs = aws_sdk_sqs::Client::new(&sqs_cfg);
        let ddb = aws_sdk_dynamodb::Client::new(&ddb_cfg);
        let kms = aws_sdk_kms::Client::new(&sqs_cfg);
        let queue_url = on_sqs.queues["DeliveryQueue"].clone();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let table = on_ddb.tables["Table"].clone();
        let key_id = on_sqs.keys["CredentialsKey"].clone();
        Ok(Stack {
            store: DynamoStore::new(ddb.clone(), table.clone()),
            vault: KmsVault::new(kms, key_id.clone()),
            sqs,
            ddb,
            table,
            dlq_url: on_sqs.queues["DeadLetterQueue"].clone(),
            queue_url,
            queue_arn,
            key_id,
        })
    }

    /// Visible + in flight + delayed messages.
    async fn depth(&self, url: &str) -> Option<usize> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .ok()?;
        Some(
            out.attributes()
                .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
                .unwrap_or(0),
        )
    }

    /// The bodies of the messages in the dead-letter queue (a peek: they come back).
    async fn dlq_bodies(&self) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..20 {
            let Ok(r) = self
                .sqs
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
            else {
                break;
            };
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            out.extend(msgs.iter().filter_map(|m| m.body().map(str::to_owned)));
        }
        out
    }

    /// The registration ids stored in the table (a scan: the harness only).
    async fn stored_registrations(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let Ok(page) = self
                .ddb
                .scan()
                .table_name(&self.table)
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await
            else {
                return ids;
            };
            for item in page.items() {
                let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                if let (Some(pk), Some(sk)) = (s("pk"), s("sk")) {
                    if sk == "REG" {
                        if let Some(id) = pk.strip_prefix("REG#") {
                            ids.push(id.to_owned());
                        }
                    }
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return ids;
            }
        }
    }
}

/// A child process the driver can kill and start again.
struct Proc {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Proc {
    fn start(&mut self) -> Result<(), Error> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(std::env::current_exe()?)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it is still running.
    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs one scenario and returns its figures.
pub async fn run(env: &Env, s: &Scenario) -> Result<Figures, Error> {
    let started = Instant::now();
    let clock0 = (Instant::now(), now_ms());
    let prefix = format!("ledger{}-{}", std::process::id(), s.name.replace(' ', "-"));
    let stack = Stack::create(env, &prefix).await?;
    let policy = EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    };

    // Receivers, each behind a gate.
    let hook_backend = FakeServer::start(
        "127.0.0.1:0",
        fake::always(Reply::json(200, json!({"ok": true})).after(Duration::from_millis(5))),
    )
    .await?;
    let hook_gate = Gate::start(&hook_backend.url()).await?;
    let mailchimp = FakeProvider::start(Provider::Mailchimp, "127.0.0.1:0", MAILCHIMP_KEY).await?;
    let mailchimp_gate = Gate::start(&mailchimp.url()).await?;
    let hubspot = FakeProvider::start(Provider::Hubspot, "127.0.0.1:0", HUBSPOT_TOKEN).await?;
    let hubspot_gate = Gate::start(&hubspot.url()).await?;
    let reset_backend = FakeServer::start(
        "127.0.0.1:0",
        fake::always(Reply::json(200, json!({"ok": true})).after(Duration::from_millis(5))),
    )
    .await?;
    let reset_gate = Gate::start(&reset_backend.url()).await?;

    let (account, _, _) = manage::keys::bootstrap(&stack.store, "Ledger").await?;
    let account = account.id;
    let create = |name: &str, provider: Provider, settings: Value, creds: &[(&str, &str)]| {
        let input = IntegrationInput {
            name: Some(name.to_owned()),
            provider: Some(provider),
            settings: settings.as_object().cloned(),
            credentials: creds
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
                .collect(),
            version: None,
        };
        let (store, vault, account) = (&stack.store, &stack.vault, &account);
        async move {
            manage::integrations::create_integration(store, vault, policy, account, input)
                .await
                .map(|(i, _)| i)
        }
    };
    let secret = leadrelay::destination::signature::generate_secret();
    let mut integrations: Vec<(Integration, &'static str)> = vec![
        (
            create(
                "Webhook",
                Provider::Webhook,
                json!({"url": format!("{}/in", hook_gate.url)}),
                &[("signing_secret", secret.as_str())],
            )
            .await?,
            "webhook",
        ),
        (
            create(
                "Mailchimp",
                Provider::Mailchimp,
                json!({"list_id": "a1b2c3d4e5", "base_url": mailchimp_gate.url}),
                &[("api_key", MAILCHIMP_KEY)],
            )
            .await?,
            "mailchimp",
        ),
        (
            create(
                "HubSpot",
                Provider::Hubspot,
                json!({"base_url": hubspot_gate.url}),
                &[("access_token", HUBSPOT_TOKEN)],
            )
            .await?,
            "hubspot",
        ),
    ];
    if s.provider_faults.is_some() {
        integrations.push((
            create(
                "Webhook (resets)",
                Provider::Webhook,
                json!({"url": format!("{}/in", reset_gate.url)}),
                &[("signing_secret", secret.as_str())],
            )
            .await?,
            "webhook 2",
        ));
    }
    let (campaign, _, ingest_key) = manage::campaigns::create_campaign(
        &stack.store,
        &account,
        CampaignInput {
            name: Some("Ledger run".into()),
            integration_ids: Some(integrations.iter().map(|(i, _)| i.id.to_string()).collect()),
            retention_days: None,
        },
    )
    .await?;
    let ingest_key = ingest_key.expose().to_owned();

    // The functions, behind the fault proxy.
    let proxy_sqs = AwsProxy::start(&env.moto_sqs, 0.05, 0.01, false).await?;
    let proxy_ddb = AwsProxy::start(&env.moto_ddb, 0.05, 0.01, true).await?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let child_env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", env.moto_sqs.clone()),
        ("AWS_ENDPOINT_URL_KMS", env.moto_sqs.clone()),
        ("AWS_ENDPOINT_URL_SQS", proxy_sqs.url.clone()),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy_ddb.url.clone()),
        ("TABLE_NAME", stack.table.clone()),
        ("QUEUE_URL", stack.queue_url.clone()),
        ("QUEUE_ARN", stack.queue_arn.clone()),
        ("KMS_KEY_ID", stack.key_id.clone()),
        ("RETRY_SCHEDULE_S", schedule(env.long).to_owned()),
        ("ATTEMPT_TIMEOUT_S", "8".to_owned()),
        ("BATCH_CONCURRENCY", "10".to_owned()),
        ("EGRESS_ALLOW_LOOPBACK", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let max = (s.secs + s.drain_limit.as_secs() + 120).to_string();
    let tag = s.name.replace(' ', "-");
    let mut ingest_proc = Proc {
        name: "ingest",
        args: vec![
            "ingest-server".into(),
            "--port".into(),
            port.to_string(),
            "--max-secs".into(),
            max.clone(),
        ],
        env: child_env.clone(),
        log: env.out.join(format!("{tag}-ingest.log")),
        child: None,
        starts: 0,
    };
    let mut reconcile_env = child_env.clone();
    reconcile_env.push(("RECONCILE_SLACK_S".into(), RECONCILE_SLACK_S.to_string()));
    let mut deliver_proc = Proc {
        name: "deliver",
        args: vec!["deliver-worker".into(), "--max-secs".into(), max.clone()],
        env: child_env,
        log: env.out.join(format!("{tag}-deliver.log")),
        child: None,
        starts: 0,
    };
    let mut reconcile_proc = Proc {
        name: "reconcile",
        args: vec![
            "reconcile-loop".into(),
            "--every-s".into(),
            RECONCILE_EVERY_S.to_string(),
            "--max-secs".into(),
            max.clone(),
        ],
        env: reconcile_env,
        log: env.out.join(format!("{tag}-reconcile.log")),
        child: None,
        starts: 0,
    };
    ingest_proc.start()?;
    deliver_proc.start()?;
    reconcile_proc.start()?;
    let ingest_url = format!("http://127.0.0.1:{port}");
    wait_for(&ingest_url).await?;
    if s.aws_faults {
        proxy_sqs
            .enabled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        proxy_ddb
            .enabled
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    // The load, with the scenario's trouble alongside.
    let ledger: Arc<Mutex<Vec<Entry>>> = Arc::default();
    let stats: Arc<Mutex<ledger::PostStats>> = Arc::default();
    let load_started = Instant::now();
    let load = tokio::spawn(post_load(
        ingest_url.clone(),
        campaign.id.to_string(),
        ingest_key.clone(),
        s.rate,
        s.secs,
        format!("{}{}", std::process::id(), tag),
        ledger.clone(),
        stats.clone(),
    ));
    let mut windows = Vec::new();
    let mut kills = (0u32, 0u32);
    if let Some(f) = s.provider_faults {
        let at = |secs: u64| load_started + Duration::from_secs(secs);
        tokio::time::sleep_until(at(f.start).into()).await;
        hook_gate.set(GateMode::Down);
        mailchimp_gate.set(GateMode::TooMany(f.retry_after));
        hubspot.set_mode(Mode::Slow(Duration::from_secs(5)));
        reset_gate.set(GateMode::Reset);
        let fault_start = Instant::now();
        let mut ends = vec![
            (f.down, "webhook"),
            (f.too_many, "mailchimp"),
            (f.slow, "hubspot"),
            (f.reset, "webhook 2"),
        ];
        ends.sort();
        for (secs, which) in ends {
            tokio::time::sleep_until((fault_start + Duration::from_secs(secs)).into()).await;
            match which {
                "webhook" => hook_gate.set(GateMode::Pass),
                "mailchimp" => mailchimp_gate.set(GateMode::Pass),
                "hubspot" => hubspot.set_mode(Mode::Normal),
                _ => reset_gate.set(GateMode::Pass),
            }
            windows.push((which, fault_start, Instant::now()));
        }
    }
    if s.kills > 0 {
        let rng = crate::net::Rng::new();
        let mut moments: Vec<f64> = (0..s.kills)
            .map(|_| 1.0 + rng.unit() * (s.secs as f64 - 1.0))
            .collect();
        moments.sort_by(f64::total_cmp);
        for m in moments {
            tokio::time::sleep_until((load_started + Duration::from_secs_f64(m)).into()).await;
            let p = if rng.unit() < 0.6 {
                kills.0 += 1;
                &mut deliver_proc
            } else {
                kills.1 += 1;
                &mut ingest_proc
            };
            p.kill();
            tokio::time::sleep(Duration::from_millis(100 + (rng.unit() * 400.0) as u64)).await;
            p.start()?;
            eprintln!("ledger: {}: killed and restarted {}", s.name, p.name);
        }
    }
    let posting = load.await??;
    let load_ended = Instant::now();

    // The drain: until the queue has been empty three times in a row and no waiting
    // delivery is past its due time (one stranded by a crash waits for the reconciler).
    let mut empty = 0;
    let mut drained_at = None;
    while load_ended.elapsed() < s.drain_limit {
        if !deliver_proc.running() {
            deliver_proc.start()?;
        }
        if !reconcile_proc.running() {
            reconcile_proc.start()?;
        }
        let depth = stack.depth(&stack.queue_url).await;
        let overdue = match depth {
            Some(0) => stack
                .store
                .overdue_deliveries(now_ms(), 1)
                .await
                .map_or(1, |w| w.len()),
            _ => 0,
        };
        match depth {
            Some(0) if overdue == 0 => {
                empty += 1;
                if empty == 1 {
                    drained_at = Some(Instant::now());
                }
                if empty >= 3 {
                    break;
                }
            }
            _ => {
                empty = 0;
                drained_at = None;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let queue_left = stack.depth(&stack.queue_url).await.unwrap_or(usize::MAX);
    proxy_sqs
        .enabled
        .store(false, std::sync::atomic::Ordering::Relaxed);
    proxy_ddb
        .enabled
        .store(false, std::sync::atomic::Ordering::Relaxed);
    deliver_proc.kill();
    ingest_proc.kill();
    reconcile_proc.kill();
    let drain = drained_at.map(|t| t.saturating_duration_since(load_ended));

    // The receivers' view.
    let to_ms = |at: Instant| clock0.1 + at.saturating_duration_since(clock0.0).as_millis() as u64;
    let mut receivers = Receivers::default();
    for (integration, label) in &integrations {
        let arrivals: Vec<Arrival> = match *label {
            "webhook" => hook_backend.requests(),
            "webhook 2" => reset_backend.requests(),
            "mailchimp" => mailchimp.requests(),
            _ => hubspot.requests(),
        }
        .iter()
        .filter_map(|r| {
            let body = r.json()?;
            let email = match *label {
                "mailchimp" => {
                    if r.method != "PUT" {
                        return None;
                    }
                    body["email_address"].as_str()?.to_owned()
                }
                "hubspot" => body["inputs"][0]["id"]
                    .as_str()
                    .or_else(|| body["properties"]["email"].as_str())?
                    .to_owned(),
                _ => body["data"]["email"].as_str()?.to_owned(),
            };
            Some(Arrival {
                email: email.to_lowercase(),
                at_ms: to_ms(r.at),
                key: r.header("webhook-id").map(str::to_owned),
            })
        })
        .collect();
        let gate = match *label {
            "webhook" => &hook_gate,
            "webhook 2" => &reset_gate,
            "mailchimp" => &mailchimp_gate,
            _ => &hubspot_gate,
        };
        receivers.add(integration.id.to_string(), label, arrivals, gate.arrivals());
    }

    let entries = ledger.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let stored = stack.stored_registrations().await;
    let dlq = stack.dlq_bodies().await;
    let stats = stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut figures = ledger::check(
        &stack.store,
        s,
        &entries,
        &stored,
        &receivers,
        queue_left,
        dlq,
    )
    .await;
    // The emulator's transactions cost in proportion to every table it holds: drop
    // this one so the next scenario starts as cheaply as this one did.
    let _ = stack
        .ddb
        .delete_table()
        .table_name(&stack.table)
        .send()
        .await;
    figures.posts = stats;
    figures.load_secs = posting.as_secs_f64();
    figures.drain = drain;
    figures.kills = kills;
    figures.aws_faults = [&proxy_sqs, &proxy_ddb]
        .iter()
        .map(|p| {
            use std::sync::atomic::Ordering::Relaxed;
            let c = &p.counts;
            [
                c.calls.load(Relaxed),
                c.throttled.load(Relaxed),
                c.errors.load(Relaxed),
                c.timeouts.load(Relaxed),
                c.after_write.load(Relaxed),
                c.saturated.load(Relaxed),
            ]
        })
        .fold([0; 6], |a, b| std::array::from_fn(|i| a[i] + b[i]));
    let mut timing = String::new();
    for p in [&proxy_sqs, &proxy_ddb] {
        for (op, (n, ms)) in p
            .counts
            .timing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            timing.push_str(&format!(
                "{op}\t{n}\t{:.1} ms\n",
                *ms as f64 / (*n).max(1) as f64
            ));
        }
    }
    let _ = std::fs::write(env.out.join(format!("{tag}-emulator-timing.tsv")), timing);
    // Without crashes or faults after a write, every request a receiver got falls inside
    // a recorded attempt's time: one outside any is a send the log does not show.
    if s.kills == 0 && !s.aws_faults && figures.unrecorded_sends > 0 {
        figures.failures.insert(
            0,
            format!(
                "{} requests reached a receiver outside any recorded attempt's time",
                figures.unrecorded_sends
            ),
        );
    }
    let mean = entries.len() as f64 / posting.as_secs_f64().max(1.0);
    figures.bursts = windows
        .iter()
        .map(|(which, from, to)| receivers.burst(which, mean, *from, *to))
        .collect();
    for b in &figures.bursts {
        if b.ratio() > 2.0 {
            figures.failures.insert(
                0,
                format!(
                    "retry burst at {} after its trouble: {:.1}/s over {} s, {:.1}× the mean {:.1}/s",
                    b.receiver,
                    b.peak,
                    ledger::BURST_WINDOW_S,
                    b.ratio(),
                    b.mean
                ),
            );
        }
    }
    figures.wall = started.elapsed();
    Ok(figures)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn wait_for(url: &str) -> Result<(), Error> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    for _ in 0..200 {
        if client.get(format!("{url}/health")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the ingest server did not start".into())
}

/// Posts `rate` registrations a second for `secs` seconds (open loop: a slow answer does
/// not slow the rate), each retried as a careful client would until it gets a 202 or a
/// minute passes (backing off 0.5, 1, 2, 4, 8 s, or the `Retry-After`). Every other registration carries an `Idempotency-Key`.
#[allow(clippy::too_many_arguments)]
async fn post_load(
    url: String,
    campaign: String,
    key: String,
    rate: f64,
    secs: u64,
    tag: String,
    ledger: Arc<Mutex<Vec<Entry>>>,
    stats: Arc<Mutex<ledger::PostStats>>,
) -> Result<Duration, Error> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()?;
    let total = (rate * secs as f64).round() as u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut tasks = Vec::with_capacity(total as usize);
    let started = Instant::now();
    for n in 0..total {
        tick.tick().await;
        let (client, url, campaign, key, tag, ledger, stats) = (
            client.clone(),
            url.clone(),
            campaign.clone(),
            key.clone(),
            tag.clone(),
            ledger.clone(),
            stats.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let email = format!("lead-{tag}-{n}@example.com");
            let idem = (n % 2 == 0).then(|| format!("{tag}-{n}"));
            let body =
                json!({"email": email, "first_name": "Lena", "consent": {"marketing": true}});
            let first = Instant::now();
            let mut backoff = Duration::from_millis(500);
            while first.elapsed() < Duration::from_secs(60) {
                let t = Instant::now();
                let mut req = client
                    .post(format!("{url}/v1/campaigns/{campaign}/registrations"))
                    .bearer_auth(&key)
                    .json(&body);
                if let Some(k) = &idem {
                    req = req.header("idempotency-key", k);
                }
                let wait = match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let retry_after = r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                        *st.statuses.entry(status).or_default() += 1;
                        if status == 202 {
                            st.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                            drop(st);
                            if let Some(id) = v["registration_id"].as_str() {
                                ledger
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(Entry {
                                        email: email.clone(),
                                        registration_id: id.to_owned(),
                                        keyed: idem.is_some(),
                                    });
                            }
                            return;
                        }
                        if (400..500).contains(&status) && status != 409 && status != 429 {
                            st.gave_up += 1;
                            return;
                        }
                        backoff.max(Duration::from_secs(retry_after.unwrap_or(0).min(10)))
                    }
                    Err(_) => {
                        stats
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .connection_errors += 1;
                        backoff
                    }
                };
                tokio::time::sleep(wait).await;
                // Exponential backoff, as a careful client retries.
                backoff = (backoff * 2).min(Duration::from_secs(8));
            }
            stats.lock().unwrap_or_else(|p| p.into_inner()).gave_up += 1;
        }));
    }
    // The posting time: first request to last, plus one interval.
    let posting = started.elapsed() + Duration::from_secs_f64(1.0 / rate);
    for t in tasks {
        let _ = t.await;
    }
    Ok(posting)
}
