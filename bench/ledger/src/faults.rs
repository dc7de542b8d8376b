//! Fault injection on loopback: a proxy between the functions and the emulator that
//! fails DynamoDB and SQS calls, and a gate in front of each fake receiver that takes it
//! down, rate-limits it or resets its connections on command.

use crate::net::{self, In, Out, Rng};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Calls that change state (a fault *after* one of these leaves the change applied).
const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "SendMessage",
    "SendMessageBatch",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
];

/// What the AWS proxy injected.
#[derive(Debug, Default)]
pub struct AwsFaultCounts {
    /// Calls forwarded.
    pub calls: AtomicU64,
    /// Throttling answers (nothing applied).
    pub throttled: AtomicU64,
    /// 500 answers (nothing applied).
    pub errors: AtomicU64,
    /// Calls held past the SDK's attempt timeout, then dropped (nothing applied).
    pub timeouts: AtomicU64,
    /// Writes applied by the emulator, then answered 500.
    pub after_write: AtomicU64,
    /// Calls that waited for the emulator longer than the SDK's attempt timeout and were
    /// dropped unapplied (the emulator, not the functions, was saturated).
    pub saturated: AtomicU64,
    /// Per operation: calls and milliseconds the emulator took in all.
    pub timing: Mutex<std::collections::BTreeMap<String, (u64, u64)>>,
}

/// The AWS fault proxy.
#[derive(Debug)]
pub struct AwsProxy {
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Whether faults are injected now.
    pub enabled: Arc<AtomicBool>,
    /// What it did.
    pub counts: Arc<AwsFaultCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AwsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The operation a request names: `X-Amz-Target` (JSON protocols) or `Action=` (query).
fn operation(req: &In) -> (String, String) {
    if let Some(t) = req.header("x-amz-target") {
        let (service, op) = t.split_once('.').unwrap_or(("", t));
        return (service.to_owned(), op.to_owned());
    }
    let body = String::from_utf8_lossy(&req.body);
    let op = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("unknown");
    ("AmazonSQS".to_owned(), op.to_owned())
}

fn aws_error(status: u16, service: &str, code: &str) -> Out {
    let namespace = if service.starts_with("DynamoDB") {
        "com.amazonaws.dynamodb.v20120810"
    } else {
        "com.amazonaws.sqs"
    };
    net::response(
        status,
        &[
            ("content-type", "application/x-amz-json-1.0".to_owned()),
            ("x-amzn-query-error", format!("{code};Sender")),
        ],
        serde_json::json!({"__type": format!("{namespace}#{code}"), "message": "injected by the ledger's fault proxy"}).to_string(),
    )
}

impl AwsProxy {
    /// Starts a proxy to `upstream`: with faults on, `fail` of the calls fail before the
    /// emulator sees them (throttling, 500 or a timeout, in equal parts) and
    /// `fail_after_write` of the writes fail after it applied them.
    ///
    /// With `serial`, one call reaches the emulator at a time: moto iterates a table
    /// while concurrent writes change it ("dictionary changed size during iteration")
    /// and answers 500, a fault of the emulator that DynamoDB does not have.
    pub async fn start(
        upstream: &str,
        fail: f64,
        fail_after_write: f64,
        serial: bool,
    ) -> std::io::Result<AwsProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let enabled = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(AwsFaultCounts::default());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let rng = Arc::new(Rng::new());
        let one = Arc::new(tokio::sync::Mutex::new(()));
        let (on, c, upstream) = (enabled.clone(), counts.clone(), upstream.to_owned());
        let task = tokio::spawn(net::serve(listener, move |req: In| {
            let (on, c, client, rng, upstream, one) = (
                on.clone(),
                c.clone(),
                client.clone(),
                rng.clone(),
                upstream.clone(),
                one.clone(),
            );
            async move {
                c.calls.fetch_add(1, Ordering::Relaxed);
                let (service, op) = operation(&req);
                let roll = rng.unit();
                let faulty = on.load(Ordering::Relaxed);
                if faulty && roll < fail {
                    let kind = rng.unit();
                    if kind < 1.0 / 3.0 {
                        c.throttled.fetch_add(1, Ordering::Relaxed);
                        let code = if service.starts_with("DynamoDB") {
                            "ProvisionedThroughputExceededException"
                        } else {
                            "ThrottlingException"
                        };
                        return Some(aws_error(400, &service, code));
                    } else if kind < 2.0 / 3.0 {
                        c.errors.fetch_add(1, Ordering::Relaxed);
                        return Some(aws_error(500, &service, "InternalFailure"));
                    }
                    c.timeouts.fetch_add(1, Ordering::Relaxed);
                    // Longer than the SDK's 3 s attempt timeout: the client gives up first.
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    return None;
                }
                let after =
                    faulty && roll < fail + fail_after_write && WRITES.contains(&op.as_str());
                let mut forward = client.request(
                    reqwest::Method::from_bytes(req.method.as_str().as_bytes()).ok()?,
                    format!(
                        "{upstream}{}",
                        req.uri.path_and_query().map_or("/", |p| p.as_str())
                    ),
                );
                for (k, v) in &req.headers {
                    if k != "host" && k != "content-length" {
                        forward = forward.header(k.as_str(), v.as_bytes());
                    }
                }
                let queued = Instant::now();
                let guard = if serial { Some(one.lock().await) } else { None };
                if queued.elapsed() > Duration::from_millis(2900) {
                    // The SDK gave up on it already; applying it now only adds load.
                    c.saturated.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                let t = Instant::now();
                let answer = forward.body(req.body.clone()).send().await.ok()?;
                let status = answer.status().as_u16();
                let headers: Vec<(String, String)> = answer
                    .headers()
                    .iter()
                    .filter(|(k, _)| *k != "content-length" && *k != "transfer-encoding")
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect();
                let body = answer.bytes().await.ok()?;
                drop(guard);
                {
                    let mut timing = c.timing.lock().unwrap_or_else(|p| p.into_inner());
                    let e = timing.entry(op.clone()).or_default();
                    e.0 += 1;
                    e.1 += t.elapsed().as_millis() as u64;
                }
                if after {
                    c.after_write.fetch_add(1, Ordering::Relaxed);
                    return Some(aws_error(500, &service, "InternalFailure"));
                }
                let headers: Vec<(&str, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                Some(net::response(status, &headers, body))
            }
        }));
        Ok(AwsProxy {
            url,
            enabled,
            counts,
            task,
        })
    }
}

/// What a gate does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    /// Pass it to the receiver.
    Pass,
    /// Answer 503: the receiver is down.
    Down,
    /// Answer 429 with `Retry-After` of this many seconds.
    TooMany(u64),
    /// Drop the connection without an answer.
    Reset,
}

impl GateMode {
    fn code(self) -> (u8, u64) {
        match self {
            GateMode::Pass => (0, 0),
            GateMode::Down => (1, 0),
            GateMode::TooMany(s) => (2, s),
            GateMode::Reset => (3, 0),
        }
    }
}

/// A gate in front of one receiver; it records when each request arrived.
#[derive(Debug)]
pub struct Gate {
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub url: String,
    mode: Arc<(AtomicU8, AtomicU64)>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gate {
    /// Starts a gate forwarding to `backend` (`http://127.0.0.1:PORT`).
    pub async fn start(backend: &str) -> std::io::Result<Gate> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let mode = Arc::new((AtomicU8::new(0), AtomicU64::new(0)));
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(std::io::Error::other)?;
        let (m, a, backend) = (mode.clone(), arrivals.clone(), backend.to_owned());
        let task = tokio::spawn(net::serve(listener, move |req: In| {
            let (m, a, client, backend) = (m.clone(), a.clone(), client.clone(), backend.clone());
            async move {
                a.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Instant::now());
                match m.0.load(Ordering::Relaxed) {
                    1 => {
                        return Some(net::response(
                            503,
                            &[("content-type", "text/plain".to_owned())],
                            "down",
                        ))
                    }
                    2 => {
                        return Some(net::response(
                            429,
                            &[
                                ("content-type", "application/json".to_owned()),
                                ("retry-after", m.1.load(Ordering::Relaxed).to_string()),
                            ],
                            r#"{"error":"too many requests"}"#,
                        ))
                    }
                    3 => return None,
                    _ => {}
                }
                let mut forward = client.request(
                    reqwest::Method::from_bytes(req.method.as_str().as_bytes()).ok()?,
                    format!(
                        "{backend}{}",
                        req.uri.path_and_query().map_or("/", |p| p.as_str())
                    ),
                );
                for (k, v) in &req.headers {
                    if k != "host" && k != "content-length" {
                        forward = forward.header(k.as_str(), v.as_bytes());
                    }
                }
                let answer = forward.body(req.body.clone()).send().await.ok()?;
                let status = answer.status().as_u16();
                let headers: Vec<(String, String)> = answer
                    .headers()
                    .iter()
                    .filter(|(k, _)| *k != "content-length" && *k != "transfer-encoding")
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect();
                let body = answer.bytes().await.ok()?;
                let headers: Vec<(&str, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                Some(net::response(status, &headers, body))
            }
        }));
        Ok(Gate {
            url,
            mode,
            arrivals,
            task,
        })
    }

    /// Changes what the gate does from now on.
    pub fn set(&self, mode: GateMode) {
        let (code, secs) = mode.code();
        self.mode.1.store(secs, Ordering::Relaxed);
        self.mode.0.store(code, Ordering::Relaxed);
    }

    /// When each request arrived.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
