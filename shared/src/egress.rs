//! Safe egress: the outgoing HTTP client every delivery goes through.
//!
//! Destination URLs are chosen by customers, so any of them may aim at something inside
//! the network leadrelay runs in (the Lambda runtime API on loopback, metadata services on
//! 169.254.169.254, private ranges). The client therefore:
//!
//! - parses URLs with the WHATWG parser, so `2130706433`, `0x7f.1`, `0177.0.0.1` and
//!   `127.1` all read as 127.0.0.1, and `[::ffff:127.0.0.1]` as an IPv4-mapped address;
//! - refuses user names and passwords in URLs, and plain `http://` unless allowed;
//! - checks IP literals before sending, and resolves host names exactly once, inside the
//!   connector: every resolved address must be allowed, and the connection goes only to
//!   those checked addresses (no second lookup, so no DNS-rebinding window);
//! - follows no redirects (a 3xx is a logged failure), reads at most
//!   [`MAX_READ_BYTES`] of a body (no decompression, so no gzip bombs), and ends every
//!   attempt at one total timeout.
//!
//! [`blocked_reason`] is the address policy: IPv4 refuses the private, loopback and
//! special-purpose ranges; IPv6 is an allow-list (global unicast 2000::/3 minus its
//! tunnelling, benchmarking and documentation ranges), and an IPv4-mapped address is
//! judged as the IPv4 address inside. Loopback can be allowed for local runs and tests
//! only ([`EgressPolicy::allow_loopback`], off by default; [`loopback_allowed`] decides
//! whether the environment may turn it on).

use crate::exchange::{Exchange, Method, OutgoingRequest, Transport};
use crate::explain::{ProviderResponse, TransportErrorKind};
use crate::model::ResponseSummary;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most bytes of a response body read.
pub const MAX_READ_BYTES: usize = 64 * 1024;
/// Most bytes of a response body kept in the attempt record.
pub const MAX_KEPT_BYTES: usize = 16 * 1024;

/// What the egress guard allows beyond public HTTPS addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EgressPolicy {
    /// Allow 127.0.0.0/8 and ::1 (local runs and tests only).
    pub allow_loopback: bool,
    /// Allow `http://` URLs (local runs and tests only).
    pub allow_http: bool,
}

/// The switch that lets loopback (and plain `http://`) destinations through: local runs
/// and tests only.
pub const ALLOW_LOOPBACK_ENV: &str = "EGRESS_ALLOW_LOOPBACK";

/// The marker `scripts/run-local.sh` sets in the functions' environment, with this value,
/// when it runs them under `cargo lambda watch`. Nothing in `infra/template.yaml` sets it.
pub const LOCAL_RUNNER_ENV: &str = "LEADRELAY_LOCAL_RUNNER";

/// The value of [`LOCAL_RUNNER_ENV`] that names the local runner.
pub const LOCAL_RUNNER: &str = "cargo-lambda-watch";

/// Why a function refuses to start with [`ALLOW_LOOPBACK_ENV`] set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EGRESS_ALLOW_LOOPBACK=true is for local runs and tests only, and this function runs {0}: remove the variable")]
pub struct LoopbackRefused(&'static str);

/// Whether loopback destinations may be allowed, from the environment (`env` reads one
/// variable). `EGRESS_ALLOW_LOOPBACK=true` takes effect only outside AWS Lambda:
///
/// - AWS Lambda sets `AWS_EXECUTION_ENV` to `AWS_Lambda_<runtime>` and a function's
///   configuration cannot set or change it (a reserved variable): with it, the switch is
///   refused whatever else is set.
/// - Any Lambda-style runtime sets `AWS_LAMBDA_RUNTIME_API`. The local runner
///   (`cargo lambda watch`, which does not set `AWS_EXECUTION_ENV`) is recognised only
///   by both the marker [`LOCAL_RUNNER_ENV`]`=`[`LOCAL_RUNNER`] that the local script
///   sets and a runtime API on a loopback address; any other runtime is refused.
/// - Without a runtime API (tests, the command line, the dev tools) the switch holds.
///
/// A refusal is an error the function's start-up returns, so a deployed stack with the
/// variable set fails its first invocation instead of sending to loopback.
pub fn loopback_allowed(env: impl Fn(&str) -> Option<String>) -> Result<bool, LoopbackRefused> {
    if env(ALLOW_LOOPBACK_ENV).as_deref() != Some("true") {
        return Ok(false);
    }
    if env("AWS_EXECUTION_ENV").is_some_and(|v| v.starts_with("AWS_Lambda_")) {
        return Err(LoopbackRefused("in AWS Lambda"));
    }
    let Some(api) = env("AWS_LAMBDA_RUNTIME_API") else {
        return Ok(true);
    };
    let local_api = runtime_api_is_loopback(&api);
    if env(LOCAL_RUNNER_ENV).as_deref() == Some(LOCAL_RUNNER) && local_api {
        Ok(true)
    } else {
        Err(LoopbackRefused(
            "under a Lambda runtime that is not the local runner",
        ))
    }
}

/// Whether `AWS_LAMBDA_RUNTIME_API` (`host:port`, perhaps followed by a path) names a
/// loopback address.
fn runtime_api_is_loopback(api: &str) -> bool {
    let authority = api
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// [`loopback_allowed`] on this process's environment.
pub fn loopback_allowed_here() -> Result<bool, LoopbackRefused> {
    loopback_allowed(|name| std::env::var(name).ok())
}

/// Why a destination was refused before any connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not a URL at all.
    #[error("the URL is not valid: {0}")]
    InvalidUrl(String),
    /// Not `https://` (or `http://` where allowed).
    #[error("only https:// URLs are allowed")]
    Scheme,
    /// The URL holds a user name or password.
    #[error("the URL must not contain a user name or password")]
    Userinfo,
    /// The address is in a range leadrelay never connects to.
    #[error("{0}")]
    Blocked(String),
    /// The host name does not resolve.
    #[error("the host name does not resolve")]
    Unresolved,
}

/// Why an address is refused, or `None` when it may be dialled.
pub fn blocked_reason(ip: IpAddr, policy: EgressPolicy) -> Option<String> {
    let why = match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }?;
    if policy.allow_loopback && why == LOOPBACK {
        return None;
    }
    Some(format!("{ip} is {why}"))
}

const LOOPBACK: &str = "a loopback address";

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "in 0.0.0.0/8 (this network)",
        (10, _, _) => "a private address",
        (100, 64..=127, _) => "a carrier-grade NAT address",
        (127, _, _) => LOOPBACK,
        (169, 254, _) => "a link-local address (cloud metadata lives here)",
        (172, 16..=31, _) => "a private address",
        (192, 0, 0) => "reserved for protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "reserved for documentation",
        (192, 88, 99) => "a 6to4 relay address",
        (192, 168, _) => "a private address",
        (198, 18..=19, _) => "reserved for benchmarking",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

/// IPv6 is an allow-list: only global unicast (2000::/3) is dialled, minus the parts of
/// it that tunnel to other addresses or are never routed. Everything outside 2000::/3
/// (loopback, unspecified, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, discard,
/// unique local, link-local, multicast, and any range assigned later) is refused.
/// IPv4-mapped `::ffff:a.b.c.d` reaches a.b.c.d and is judged as that IPv4 address.
fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let s = ip.segments();
    if s[0] & 0xe000 != 0x2000 {
        return Some(match s {
            [0, 0, 0, 0, 0, 0, 0, 0] => "the unspecified address",
            [0, 0, 0, 0, 0, 0, 0, 1] => LOOPBACK,
            [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible address",
            [0x64, 0xff9b, ..] => "a NAT64 address",
            [0x100, 0, 0, 0, ..] => "a discard-only address",
            [x, ..] if x & 0xfe00 == 0xfc00 => "a unique local (private) address",
            [x, ..] if x & 0xffc0 == 0xfe80 => "a link-local address",
            [x, ..] if x & 0xff00 == 0xff00 => "a multicast address",
            _ => "outside the global unicast range 2000::/3",
        });
    }
    Some(match s {
        // 2001::/32 is Teredo; 2001:2::/48 is inside it too but named for what it is.
        [0x2001, 0x0002, 0, ..] => "reserved for benchmarking",
        [0x2001, 0, ..] => "a Teredo address",
        // ORCHID (2001:10::/28) and ORCHIDv2 (2001:20::/28) are identifiers, never routed.
        [0x2001, 0x10..=0x2f, ..] => "an ORCHID address",
        [0x2001, 0xdb8, ..] => "reserved for documentation",
        [0x2002, ..] => "a 6to4 address",
        [0x3fff, 0..=0x0fff, ..] => "reserved for documentation",
        _ => return None,
    })
}

/// Parses and checks a destination URL; IP literals are checked here, host names when
/// they are resolved. Used at configuration time (a clear 422) and before every send.
pub fn check_url(raw: &str, policy: EgressPolicy) -> Result<url::Url, EgressError> {
    let url = url::Url::parse(raw).map_err(|e| EgressError::InvalidUrl(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(EgressError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EgressError::Userinfo);
    }
    match url.host() {
        None => return Err(EgressError::InvalidUrl("it has no host".into())),
        Some(url::Host::Ipv4(ip)) => {
            if let Some(why) = blocked_reason(IpAddr::V4(ip), policy) {
                return Err(EgressError::Blocked(why));
            }
        }
        Some(url::Host::Ipv6(ip)) => {
            if let Some(why) = blocked_reason(IpAddr::V6(ip), policy) {
                return Err(EgressError::Blocked(why));
            }
        }
        Some(url::Host::Domain(d)) => {
            let local_name = d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost");
            if local_name && !policy.allow_loopback {
                return Err(EgressError::Blocked(format!("{d} is {LOOPBACK}")));
            }
        }
    }
    Ok(url)
}

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

/// Response headers worth keeping in the log: what explains a wait or a refusal. Never
/// cookies or authentication headers.
pub fn headers_of_interest(headers: &[(String, String)]) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.to_ascii_lowercase();
            matches!(
                n.as_str(),
                "retry-after" | "content-type" | "location" | "date" | "sforce-limit-info"
            ) || n.starts_with("x-ratelimit-")
                || n.starts_with("ratelimit")
                || n.starts_with("x-sib-ratelimit-")
                || n.starts_with("x-hubspot-ratelimit-")
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.chars().take(200).collect()))
        .collect()
}

/// The opening of a body as text, at most [`MAX_KEPT_BYTES`], cut at a character edge.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_KEPT_BYTES)]);
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(raw: &str) -> bool {
        matches!(
            check_url(raw, EgressPolicy::default()),
            Err(EgressError::Blocked(_))
        )
    }

    #[test]
    fn every_spelling_of_loopback_is_blocked() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://0x7f000001/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://localhost/",
            "https://app.localhost/",
        ] {
            assert!(blocked(url), "{url}");
        }
    }

    #[test]
    fn private_metadata_and_special_ranges_are_blocked() {
        for url in [
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://192.0.2.10/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:7f00:1::]/",
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "https://[ff02::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::127.0.0.1]/",
        ] {
            assert!(blocked(url), "{url}");
        }
    }

    /// IPv6 is an allow-list: one row per range, the address and whether it may be dialled.
    #[test]
    fn ipv6_outside_global_unicast_and_its_tunnels_is_refused() {
        let table: &[(&str, bool)] = &[
            // The two reported bypasses.
            ("::ffff:0:7f00:1", false), // IPv4-translated 127.0.0.1 (::ffff:0:0/96)
            ("2001:2::1", false),       // benchmarking 2001:2::/48
            // Outside 2000::/3.
            ("::", false),
            ("::1", false),
            ("::7f00:1", false),         // IPv4-compatible ::127.0.0.1
            ("::808:808", false),        // IPv4-compatible ::8.8.8.8
            ("64:ff9b::7f00:1", false),  // NAT64 of 127.0.0.1
            ("64:ff9b::808:808", false), // NAT64 of a public address: still not dialled
            ("64:ff9b:1::1", false),     // local-use NAT64 64:ff9b:1::/48
            ("100::1", false),           // discard-only
            ("1fff:ffff::1", false),     // just below 2000::/3
            ("4000::1", false),          // just above 3fff::/16, outside 2000::/3
            ("5f00::1", false),          // SRv6 SIDs
            ("fc00::1", false),
            ("fd00:ec2::254", false), // the EC2 metadata service's IPv6 address
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
            // Inside 2000::/3 but tunnelled, reserved or never routed.
            ("2001::1", false),             // Teredo 2001::/32
            ("2001:0:ffff:ffff::1", false), // Teredo, last of the /32
            ("2001:2:0:ffff::1", false),    // benchmarking, last of the /48
            ("2001:db8::1", false),
            ("2001:db8:ffff:ffff::1", false),
            ("2001:10::1", false), // ORCHID
            ("2002::1", false),    // 6to4
            ("2002:7f00:1::", false),
            ("2002:ffff:ffff::1", false),
            ("3fff::1", false), // documentation 3fff::/20
            ("3fff:fff:ffff::1", false),
            ("::ffff:127.0.0.1", false), // IPv4-mapped: judged as IPv4
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            // Global unicast.
            ("2000::1", true),
            ("2001:1::1", true),   // next to Teredo
            ("2001:2:1::1", true), // next to the benchmarking /48
            ("2001:db9::1", true), // next to documentation
            ("2003::1", true),     // next to 6to4
            ("2606:4700::1111", true),
            ("2a00:1450:4001::1", true),
            ("3fff:1000::1", true), // next to 3fff::/20
            ("3fff:ffff::1", true),
            ("::ffff:8.8.8.8", true), // IPv4-mapped public address
        ];
        for (ip, allowed) in table {
            let parsed: Ipv6Addr = ip.parse().unwrap();
            let why = blocked_reason(IpAddr::V6(parsed), EgressPolicy::default());
            assert_eq!(why.is_none(), *allowed, "{ip}: {why:?}");
            let url = format!("https://[{ip}]/hook");
            assert_eq!(
                check_url(&url, EgressPolicy::default()).is_ok(),
                *allowed,
                "{url}"
            );
        }
    }

    #[test]
    fn allowing_loopback_allows_only_loopback_in_ipv6_too() {
        let p = EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        };
        for (ip, allowed) in [
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:0:7f00:1", false),
            ("64:ff9b::7f00:1", false),
            ("::7f00:1", false),
            ("2001:2::1", false),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(blocked_reason(parsed, p).is_none(), allowed, "{ip}");
        }
    }

    #[test]
    fn public_addresses_and_names_pass_the_url_check() {
        for url in [
            "https://93.184.215.14/",
            "https://[2606:4700::1111]/",
            "https://hooks.example.com/x",
        ] {
            assert!(check_url(url, EgressPolicy::default()).is_ok(), "{url}");
        }
        assert!(blocked_reason("8.8.8.8".parse().unwrap(), EgressPolicy::default()).is_none());
        assert!(
            blocked_reason("::ffff:8.8.8.8".parse().unwrap(), EgressPolicy::default()).is_none()
        );
    }

    #[test]
    fn userinfo_and_plain_http_are_refused() {
        let p = EgressPolicy::default();
        assert_eq!(
            check_url("https://u:p@hooks.example.com/", p),
            Err(EgressError::Userinfo)
        );
        assert_eq!(
            check_url("https://u@hooks.example.com/", p),
            Err(EgressError::Userinfo)
        );
        assert_eq!(
            check_url("http://hooks.example.com/", p),
            Err(EgressError::Scheme)
        );
        assert_eq!(check_url("file:///etc/passwd", p), Err(EgressError::Scheme));
        // The authority ends at the first '@'-free slash: this host is 127.0.0.1.
        assert!(matches!(
            check_url("https://hooks.example.com@127.0.0.1/", p),
            Err(EgressError::Userinfo)
        ));
    }

    #[test]
    fn loopback_is_allowed_only_when_asked_and_nothing_else_is() {
        let p = EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        };
        assert!(check_url("http://127.0.0.2:8080/", p).is_ok());
        assert!(check_url("http://[::1]:8080/", p).is_ok());
        assert!(matches!(
            check_url("http://10.1.2.3/", p),
            Err(EgressError::Blocked(_))
        ));
        assert!(matches!(
            check_url("http://169.254.169.254/", p),
            Err(EgressError::Blocked(_))
        ));
    }

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn loopback_is_never_allowed_under_aws_lambda_and_only_by_the_local_runner() {
        let on = (ALLOW_LOOPBACK_ENV, "true");
        let marker = (LOCAL_RUNNER_ENV, LOCAL_RUNNER);
        let aws = ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023");
        // In AWS the runtime API is on loopback too: only the reserved variable tells.
        let aws_api = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        let watch_api = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9000/.rt");
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<bool, ()>);
        let cases: &[Case] = &[
            (&[], Ok(false)),
            (&[(ALLOW_LOOPBACK_ENV, "1")], Ok(false)),
            (&[on], Ok(true)),                    // tests, the command line
            (&[on, watch_api, marker], Ok(true)), // scripts/run-local.sh
            (
                &[on, ("AWS_LAMBDA_RUNTIME_API", "[::1]:9000"), marker],
                Ok(true),
            ),
            (
                &[on, ("AWS_LAMBDA_RUNTIME_API", "localhost:9000"), marker],
                Ok(true),
            ),
            // Deployed: refused, marker or not.
            (&[on, aws_api, aws], Err(())),
            (&[on, aws_api, aws, marker], Err(())),
            (&[on, aws], Err(())),
            // Another runtime, or the runner without the marker: refused.
            (&[on, watch_api], Err(())),
            (
                &[on, ("AWS_LAMBDA_RUNTIME_API", "10.0.0.5:9001"), marker],
                Err(()),
            ),
            (
                &[
                    on,
                    ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9000"),
                    (LOCAL_RUNNER_ENV, "yes"),
                ],
                Err(()),
            ),
            // Without the switch nothing is refused: a deployed function starts.
            (&[aws_api, aws], Ok(false)),
            (&[aws_api, aws, (ALLOW_LOOPBACK_ENV, "false")], Ok(false)),
        ];
        for (vars, expected) in cases {
            let got = loopback_allowed(env_of(vars)).map_err(|_| ());
            assert_eq!(&got, expected, "{vars:?}");
        }
        let refused = loopback_allowed(env_of(&[on, aws_api, aws])).unwrap_err();
        assert!(refused.to_string().contains("EGRESS_ALLOW_LOOPBACK"));
    }

    #[test]
    fn kept_headers_exclude_cookies_and_auth() {
        let kept = headers_of_interest(&[
            ("Retry-After".into(), "30".into()),
            ("Set-Cookie".into(), "sid=secret".into()),
            ("WWW-Authenticate".into(), "Bearer".into()),
            ("X-RateLimit-Reset".into(), "1".into()),
        ]);
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["retry-after", "x-ratelimit-reset"]
        );
    }

    mod spellings {
        use super::*;
        use proptest::prelude::*;

        /// Ways the WHATWG parser accepts to write one IPv4 address.
        fn spellings(ip: Ipv4Addr) -> Vec<String> {
            let [a, b, c, d] = ip.octets();
            let n = u32::from(ip);
            vec![
                format!("{a}.{b}.{c}.{d}"),
                format!("{n}"),
                format!("0x{n:x}"),
                format!("0{n:o}"),
                format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
                format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
                format!(
                    "{a}.{}",
                    (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)
                ),
                format!("{a}.{b}.{}", (u32::from(c) << 8) | u32::from(d)),
                format!("[::ffff:{a}.{b}.{c}.{d}]"),
                format!("[::ffff:{:x}:{:x}]", n >> 16, n & 0xffff),
            ]
        }

        fn blocked_v4() -> impl Strategy<Value = Ipv4Addr> {
            prop_oneof![
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(127, b, c, d)),
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(10, b, c, d)),
                any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(192, 168, c, d)),
                any::<[u8; 2]>().prop_map(|[c, d]| Ipv4Addr::new(169, 254, c, d)),
                (16u8..32, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(172, b, c, d)),
                (64u8..128, any::<[u8; 2]>()).prop_map(|(b, [c, d])| Ipv4Addr::new(100, b, c, d)),
                any::<[u8; 3]>().prop_map(|[b, c, d]| Ipv4Addr::new(0, b, c, d)),
            ]
        }

        proptest! {
            #[test]
            fn every_spelling_of_a_blocked_ipv4_address_is_blocked(ip in blocked_v4()) {
                for host in spellings(ip) {
                    let url = format!("https://{host}/hook");
                    prop_assert!(
                        matches!(check_url(&url, EgressPolicy::default()), Err(EgressError::Blocked(_))),
                        "{} passed", url
                    );
                }
            }

            #[test]
            fn public_addresses_pass_in_every_spelling(ip in any::<u32>().prop_map(Ipv4Addr::from)) {
                prop_assume!(v4_reason(ip).is_none());
                for host in spellings(ip) {
                    let url = format!("https://{host}/hook");
                    prop_assert!(check_url(&url, EgressPolicy::default()).is_ok(), "{} refused", url);
                }
            }
        }
    }
}
