//! Small loopback HTTP plumbing: a server that hands each request to an async closure
//! (which may also drop the connection), and a random number source.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// One request as read.
#[derive(Debug, Clone)]
pub struct In {
    /// The method.
    pub method: hyper::Method,
    /// Path and query.
    pub uri: hyper::Uri,
    /// Headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl In {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response.
pub type Out = hyper::Response<Full<Bytes>>;

/// A response with a status, headers and a body.
pub fn response(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> Out {
    let mut b = hyper::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(body.into()))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Why a connection was dropped on purpose.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

/// Serves HTTP/1.1 on `listener` until the task is aborted. `handle` answers each
/// request; `None` drops the connection without an answer (a reset, as the client sees it).
pub async fn serve<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(In) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Out>> + Send + 'static,
{
    let handle = Arc::new(handle);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let handle = handle.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let input = In {
                        method: parts.method,
                        uri: parts.uri,
                        headers: parts.headers,
                        body,
                    };
                    handle(input).await.ok_or(Dropped)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A small random source (xorshift), good enough to pick faults and moments.
#[derive(Debug)]
pub struct Rng(AtomicU64);

impl Rng {
    /// Seeded from the clock and the process id.
    pub fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Rng(AtomicU64::new(
            (t ^ (u64::from(std::process::id()) << 32)) | 1,
        ))
    }

    /// A number in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}
