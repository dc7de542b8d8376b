//! The local demo: an account, integrations that fail in different ways, a campaign,
//! sample registrations (the 'æ' case among them), then each registration's log printed
//! the way a marketer reads it.
//!
//! Besides the two webhooks, `leadrelay-dev demo` attaches a Mailchimp and a HubSpot
//! integration pointed at the fakes `leadrelay-dev fakes` serves
//! ([`provider_integrations`]), so the same samples come to different ends:
//!
//! | sample | Mailchimp (condition: marketing consent; pre-flight on) | HubSpot (create only; pre-flight off) |
//! |---|---|---|
//! | lena.fischer | delivered: upsert 200, then tags 204 | delivered: created 201 |
//! | calebæhnson | not sent: pre-flight names the 'æ' | 400 `INVALID_EMAIL`, the 'æ' named from the refusal |
//! | busy.bee | 429 (10 simultaneous connections), retried, delivered | 429 `RATE_LIMIT`, retried, delivered |
//! | known.person | skipped: no marketing consent, and the log says which condition | 409 `CONFLICT`: already a contact, a benign duplicate |

use leadrelay::manage;
use leadrelay_aws::dynamodb::DynamoStore;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Where the demo talks to.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The API's base URL (the local gateway).
    pub api: String,
    /// The fake webhook receiver's URL.
    pub webhook_url: String,
    /// The receiver's signing secret.
    pub webhook_secret: String,
    /// Extra integrations to attach (provider fakes), as admin API bodies.
    pub extra_integrations: Vec<Value>,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An API call failed.
    #[error("{call}: {detail}")]
    Api {
        /// Which call.
        call: String,
        /// What came back.
        detail: String,
    },
    /// Bootstrapping the account failed.
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    /// Some deliveries neither ended nor were explained in time.
    #[error("deliveries still open after the wait: {0}")]
    Unsettled(String),
}

struct Client {
    http: reqwest::Client,
    api: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), DemoError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.map_err(|e| DemoError::Api {
            call: format!("{method} {path}"),
            detail: e.to_string(),
        })?;
        let status = r.status().as_u16();
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
        want: u16,
    ) -> Result<Value, DemoError> {
        let (status, v) = self.call(method.clone(), path, key, body).await?;
        if status != want {
            return Err(DemoError::Api {
                call: format!("{method} {path}"),
                detail: format!("{status}: {v}"),
            });
        }
        Ok(v)
    }
}

/// The API key the demo's Mailchimp integration sends and its fake accepts (not a real
/// key: the fake's own).
pub const MAILCHIMP_DEMO_KEY: &str = "d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0-us21";
/// The token the demo's HubSpot integration sends and its fake accepts.
pub const HUBSPOT_DEMO_TOKEN: &str = "pat-eu1-d3m0d3m0-d3m0-d3m0-d3m0-d3m0d3m0d3m0";

/// The demo's Mailchimp and HubSpot integrations, as admin API bodies, pointed at the
/// fakes on `mailchimp_url` and `hubspot_url` (`settings.base_url`).
pub fn provider_integrations(mailchimp_url: &str, hubspot_url: &str) -> Vec<Value> {
    vec![
        json!({"name": "Mailchimp (marketing consent only)", "provider": "mailchimp",
               "settings": {"list_id": "a1b2c3d4e5", "base_url": mailchimp_url, "tags": ["winter-quiz"],
                            "fields": {"SCORE": "quiz_score"},
                            "conditions": [{"field": "consent.marketing", "equals": true}]},
               "credentials": {"api_key": MAILCHIMP_DEMO_KEY}}),
        json!({"name": "HubSpot (create only, no pre-flight check)", "provider": "hubspot",
               "settings": {"base_url": hubspot_url, "existing_contact": "create_only", "preflight": false,
                            "fields": {"newsletter_opt_in": "consent.marketing"}},
               "credentials": {"access_token": HUBSPOT_DEMO_TOKEN}}),
    ]
}

/// The sample registrations: who they are and what each shows.
pub fn samples() -> Vec<(&'static str, Value)> {
    vec![
        (
            "delivered everywhere",
            json!({"email": "lena.fischer@example.com", "first_name": "Lena", "last_name": "Fischer", "consent": {"marketing": true}, "fields": {"quiz_score": 8}}),
        ),
        (
            "the 'æ' case",
            json!({"email": "calebæhnson@provider.com", "first_name": "Caleb", "consent": {"marketing": true}}),
        ),
        (
            "a busy receiver, then success",
            json!({"email": "busy.bee@example.com", "first_name": "Bea", "consent": {"marketing": true}}),
        ),
        (
            "an existing contact",
            json!({"email": "known.person@example.com", "consent": {"marketing": false}}),
        ),
    ]
}

/// Runs the demo against a running local stack; returns the printed logs' registration
/// ids and whether every delivery ended as expected (delivered or explained).
pub async fn run(store: &DynamoStore, config: &DemoConfig) -> Result<Vec<String>, DemoError> {
    let client = Client {
        http: reqwest::Client::new(),
        api: config.api.trim_end_matches('/').to_owned(),
    };
    let (account, _, key) = manage::keys::bootstrap(store, "Demo Agency")
        .await
        .map_err(|e| DemoError::Bootstrap(e.to_string()))?;
    let key = key.expose().to_owned();
    println!(
        "account {} with account key {}…{}",
        account.id,
        &key[..10],
        &key[key.len() - 4..]
    );

    let mut integrations = vec![
        json!({"name": "Webhook (checked before sending)", "provider": "webhook",
               "settings": {"url": config.webhook_url, "auth": "none"},
               "credentials": {"signing_secret": config.webhook_secret}}),
        json!({"name": "Webhook (no pre-flight check)", "provider": "webhook",
               "settings": {"url": config.webhook_url, "preflight": false},
               "credentials": {"signing_secret": config.webhook_secret}}),
    ];
    integrations.extend(config.extra_integrations.iter().cloned());
    let mut ids = Vec::new();
    let mut names = std::collections::BTreeMap::new();
    for body in integrations {
        let v = client
            .expect(
                reqwest::Method::POST,
                "/v1/integrations",
                &key,
                Some(body),
                201,
            )
            .await?;
        let id = v["id"].as_str().unwrap_or_default().to_owned();
        names.insert(
            id.clone(),
            v["name"].as_str().unwrap_or_default().to_owned(),
        );
        ids.push(id);
    }
    let campaign = client
        .expect(
            reqwest::Method::POST,
            "/v1/campaigns",
            &key,
            Some(json!({"name": "Winter quiz", "integration_ids": ids})),
            201,
        )
        .await?;
    let campaign_id = campaign["id"].as_str().unwrap_or_default().to_owned();
    let ingest_key = campaign["ingest_key"]["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("campaign {campaign_id} with {} integrations\n", ids.len());

    let (status, refused) = client
        .call(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{campaign_id}/registrations"),
            &ingest_key,
            Some(json!({"email": "not-an-address", "consent": {"marketing": "yes"}})),
        )
        .await?;
    println!(
        "a bad registration is refused at the door: {status} {}",
        refused["detail"].as_str().unwrap_or("")
    );
    for e in refused["errors"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            e["field"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        );
    }
    println!();

    let mut accepted = Vec::new();
    for (about, body) in samples() {
        let v = client
            .expect(
                reqwest::Method::POST,
                &format!("/v1/campaigns/{campaign_id}/registrations"),
                &ingest_key,
                Some(body),
                202,
            )
            .await?;
        let id = v["registration_id"].as_str().unwrap_or_default().to_owned();
        println!("posted {id} ({about}): 202");
        for w in v["warnings"].as_array().into_iter().flatten() {
            println!(
                "  warning on {}: {}",
                w["field"].as_str().unwrap_or(""),
                w["message"].as_str().unwrap_or("")
            );
        }
        accepted.push(id);
    }

    println!("\nwaiting for deliveries to settle…");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut logs = Vec::new();
    for id in &accepted {
        let log = loop {
            let v = client
                .expect(
                    reqwest::Method::GET,
                    &format!("/v1/registrations/{id}"),
                    &key,
                    None,
                    200,
                )
                .await?;
            let settled = v["deliveries"].as_array().is_some_and(|ds| {
                ds.iter().all(|d| {
                    matches!(
                        d["state"].as_str(),
                        Some("delivered" | "failed" | "exhausted" | "paused" | "skipped")
                    )
                })
            });
            if settled || Instant::now() > deadline {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        logs.push(log);
    }
    println!();
    for log in &logs {
        print!("{}", render(log, &names));
    }
    let open: Vec<String> = logs
        .iter()
        .flat_map(|log| {
            let id = s(&log["registration"]["id"]).to_owned();
            log["deliveries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| !is_settled(d))
                .map(move |d| format!("{id}/{} ({})", s(&d["integration_id"]), s(&d["state"])))
                .collect::<Vec<_>>()
        })
        .collect();
    if !open.is_empty() {
        return Err(DemoError::Unsettled(open.join(", ")));
    }
    Ok(accepted)
}

/// Checks that every function of a running stack answers: bootstraps an account, creates
/// a webhook integration and a campaign (admin), posts one registration (ingest) and
/// reads its log (logs) until the delivery (deliver, through the pump) is `delivered`.
/// Each call has its own time limit, so a stack whose functions died fails here with
/// the call that hung instead of waiting forever. Returns the registration id.
pub async fn smoke(
    store: &DynamoStore,
    api: &str,
    webhook_url: &str,
    webhook_secret: &str,
) -> Result<String, DemoError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| DemoError::Api {
            call: "client".to_owned(),
            detail: e.to_string(),
        })?;
    let client = Client {
        http,
        api: api.trim_end_matches('/').to_owned(),
    };
    let (_, _, key) = manage::keys::bootstrap(store, "Smoke check")
        .await
        .map_err(|e| DemoError::Bootstrap(e.to_string()))?;
    let key = key.expose().to_owned();
    let integration = client
        .expect(
            reqwest::Method::POST,
            "/v1/integrations",
            &key,
            Some(json!({"name": "Smoke webhook", "provider": "webhook",
                        "settings": {"url": webhook_url, "auth": "none"},
                        "credentials": {"signing_secret": webhook_secret}})),
            201,
        )
        .await?;
    let campaign = client
        .expect(
            reqwest::Method::POST,
            "/v1/campaigns",
            &key,
            Some(json!({"name": "Smoke", "integration_ids": [s(&integration["id"])]})),
            201,
        )
        .await?;
    let campaign_id = s(&campaign["id"]).to_owned();
    let ingest_key = s(&campaign["ingest_key"]["key"]).to_owned();
    let posted = client
        .expect(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{campaign_id}/registrations"),
            &ingest_key,
            Some(json!({"email": "smoke.check@example.com", "consent": {"marketing": true}})),
            202,
        )
        .await?;
    let id = s(&posted["registration_id"]).to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let log = client
            .expect(
                reqwest::Method::GET,
                &format!("/v1/registrations/{id}"),
                &key,
                None,
                200,
            )
            .await?;
        let states: Vec<&str> = log["deliveries"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| s(&d["state"]))
            .collect();
        if !states.is_empty() && states.iter().all(|st| *st == "delivered") {
            return Ok(id);
        }
        if Instant::now() > deadline {
            return Err(DemoError::Unsettled(format!("{id}: {}", states.join(", "))));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Whether a delivery ended, or waits with an explanation (paused), so the demo can show it.
fn is_settled(d: &Value) -> bool {
    matches!(
        d["state"].as_str(),
        Some("delivered" | "failed" | "exhausted" | "paused" | "skipped")
    )
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A registration's log as text for a marketer.
pub fn render(log: &Value, names: &std::collections::BTreeMap<String, String>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let r = &log["registration"];
    let _ = writeln!(
        out,
        "━━ registration {} · {} · received {}",
        s(&r["id"]),
        s(&r["data"]["email"]),
        s(&r["received_at"])
    );
    for d in log["deliveries"].as_array().into_iter().flatten() {
        let name = names
            .get(s(&d["integration_id"]))
            .map_or(s(&d["provider"]), String::as_str);
        let _ = writeln!(out, "  ▸ {name}: {}", s(&d["headline"]));
        for a in d["attempts"].as_array().into_iter().flatten() {
            let v = &a["verdict"];
            let status = match v["status"].as_u64() {
                Some(code) => format!("{code} {}", s(&v["reason"])),
                None if s(&v["provider_code"]) == "integration.condition_not_met" => {
                    "not sent (a condition excludes it)".to_owned()
                }
                None if s(&v["class"]) == "not_sent" => {
                    "not sent (checked before sending)".to_owned()
                }
                None => "no response".to_owned(),
            };
            let retry = if v["retryable"].as_bool() == Some(true) {
                "will retry"
            } else {
                "not retried"
            };
            let _ = writeln!(
                out,
                "    attempt {} ({}) · {status} · class {} · {} · {retry}",
                a["number"],
                s(&a["trigger"]),
                s(&v["class"]),
                s(&v["outcome"]).replace('_', " ")
            );
            if let Some(code) = v["provider_code"].as_str() {
                let _ = writeln!(out, "      provider code   {code}");
            }
            if let Some(field) = v["field"].as_str() {
                let _ = writeln!(out, "      field           {field}");
            }
            if let Some(m) = v["message"].as_str() {
                let _ = writeln!(out, "      provider said   {m}");
            }
            let _ = writeln!(out, "      what happened   {}", s(&v["explanation"]));
            let _ = writeln!(out, "      what to do      {}", s(&v["remedy"]));
        }
    }
    out.push('\n');
    out
}
