//! The outgoing HTTP client every delivery goes through, guarded by the egress policy of
//! [`leadrelay::egress`]: host names are resolved exactly once, inside the connector, and
//! every resolved address must pass [`blocked_reason`]; the connection goes only to those
//! checked addresses (no second lookup, so no DNS-rebinding window). No redirects are
//! followed, at most [`MAX_READ_BYTES`] of a body is read (no decompression), and every
//! attempt ends at one total timeout.

use leadrelay::egress::{
    blocked_reason, check_url, excerpt, headers_of_interest, EgressError, EgressPolicy,
    MAX_KEPT_BYTES, MAX_READ_BYTES,
};
use leadrelay::exchange::{Exchange, Method, OutgoingRequest, Transport};
use leadrelay::model::ResponseSummary;
use leadrelay_explain::answer::{ProviderResponse, TransportErrorKind};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A boxed lookup future.
pub type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves host names. The system resolver in production; tests inject their own.
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = format!("{host}:0");
        Box::pin(async move {
            Ok(tokio::net::lookup_host(host)
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The error a refused resolution carries through the HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("blocked: {0}")]
struct BlockedAtResolve(String);

/// The error an unresolvable name carries through the HTTP client.
#[derive(Debug, thiserror::Error)]
#[error("the host name does not resolve")]
struct NotResolved;

struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    policy: EgressPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.lookup.clone();
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = lookup.lookup(&host).await.map_err(|_| NotResolved)?;
            if addrs.is_empty() {
                return Err(Box::new(NotResolved) as Box<dyn std::error::Error + Send + Sync>);
            }
            // Every answer must pass: a mixed answer set is a rebinding attempt.
            if let Some(why) = addrs.iter().find_map(|ip| blocked_reason(*ip, policy)) {
                return Err(
                    Box::new(BlockedAtResolve(why)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            let sockets: Vec<SocketAddr> =
                addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(sockets.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The delivery HTTP client.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    policy: EgressPolicy,
    timeout: Duration,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP client could not be built")]
pub struct BuildError(#[source] reqwest::Error);

impl HttpTransport {
    /// A client with the system resolver.
    pub fn new(policy: EgressPolicy, timeout: Duration) -> Result<Self, BuildError> {
        Self::with_lookup(policy, timeout, Arc::new(SystemLookup))
    }

    /// A client with an injected resolver (tests).
    pub fn with_lookup(
        policy: EgressPolicy,
        timeout: Duration,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { lookup, policy }))
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .no_proxy()
            .build()
            .map_err(BuildError)?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    async fn exchange(
        &self,
        request: &OutgoingRequest,
    ) -> Result<(ProviderResponse, ResponseSummary), Failure> {
        let url = check_url(&request.url, self.policy).map_err(|e| match e {
            EgressError::Blocked(why) => Failure::Blocked(why),
            other => Failure::Blocked(other.to_string()),
        })?;
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.expose());
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let mut response = builder.send().await.map_err(Failure::from_reqwest)?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_READ_BYTES - body.len();
                    if chunk.len() >= room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = chunk.len() > room
                            || response
                                .content_length()
                                .is_some_and(|l| l as usize > MAX_READ_BYTES);
                        if body.len() >= MAX_READ_BYTES {
                            truncated = true;
                            break;
                        }
                    } else {
                        body.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Headers came; the body broke off. Judge what arrived.
                    tracing::debug!(error = %e, "response body cut short");
                    truncated = true;
                    break;
                }
            }
        }
        let summary = ResponseSummary {
            status,
            headers: headers_of_interest(&headers),
            body_excerpt: excerpt(&body),
            body_truncated: truncated || body.len() > MAX_KEPT_BYTES,
        };
        Ok((
            ProviderResponse {
                status: Some(status),
                headers,
                body,
                error: None,
            },
            summary,
        ))
    }
}

enum Failure {
    Blocked(String),
    Transport(TransportErrorKind, String),
}

impl Failure {
    fn from_reqwest(e: reqwest::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut text = String::new();
        while let Some(err) = source {
            if let Some(b) = err.downcast_ref::<BlockedAtResolve>() {
                return Failure::Blocked(b.0.clone());
            }
            if err.downcast_ref::<NotResolved>().is_some() {
                return Failure::Transport(
                    TransportErrorKind::Dns,
                    "the host name does not resolve".into(),
                );
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                match io.kind() {
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof => {
                        return Failure::Transport(
                            TransportErrorKind::Reset,
                            "the connection was reset".into(),
                        );
                    }
                    K::TimedOut => {
                        return Failure::Transport(
                            TransportErrorKind::Timeout,
                            "the connection timed out".into(),
                        );
                    }
                    _ => {}
                }
            }
            text.push_str(&err.to_string().to_ascii_lowercase());
            text.push(' ');
            source = err.source();
        }
        let kind = if e.is_timeout() {
            TransportErrorKind::Timeout
        } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake")
        {
            TransportErrorKind::Tls
        } else if e.is_connect() {
            TransportErrorKind::Connect
        } else if e.is_body() || e.is_decode() {
            TransportErrorKind::Body
        } else {
            TransportErrorKind::Reset
        };
        // The client's text can hold the URL (and so a token in its query): keep only
        // the kind's own words.
        Failure::Transport(kind, format!("{kind:?}").to_ascii_lowercase())
    }
}

impl Transport for HttpTransport {
    async fn send(&self, request: &OutgoingRequest) -> Exchange {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.exchange(request)).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(Ok((response, summary))) => Exchange {
                response,
                summary: Some(summary),
                duration_ms,
                blocked: None,
            },
            Ok(Err(Failure::Blocked(why))) => Exchange {
                response: ProviderResponse::failed(TransportErrorKind::Connect, "blocked"),
                summary: None,
                duration_ms,
                blocked: Some(why),
            },
            Ok(Err(Failure::Transport(kind, message))) => Exchange {
                response: ProviderResponse::failed(kind, message),
                summary: None,
                duration_ms,
                blocked: None,
            },
            Err(_) => Exchange {
                response: ProviderResponse::failed(
                    TransportErrorKind::Timeout,
                    format!("no complete answer within {} s", self.timeout.as_secs()),
                ),
                summary: None,
                duration_ms,
                blocked: None,
            },
        }
    }
}
