//! A throwaway HTTP server for tests and the local demo: it records every request and
//! answers with whatever its handler says (which can change mid-test).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// A header by name (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// A status with a JSON body.
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// A status with a text body of some content type.
    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// Decides the answer to a request.
pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A running fake server; it stops when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    handler: Arc<RwLock<Handler>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Starts on `bind` (`127.0.0.2:0` picks a free port).
    pub async fn start(bind: &str, handler: Handler) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler = Arc::new(RwLock::new(handler));
        let (reqs, h) = (requests.clone(), handler.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (reqs, h) = (reqs.clone(), h.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (reqs, h) = (reqs.clone(), h.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let recorded = Recorded {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                query: parts.uri.query().map(str::to_owned),
                                headers: parts
                                    .headers
                                    .iter()
                                    .filter_map(|(k, v)| {
                                        Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                                    })
                                    .collect(),
                                body,
                                at: Instant::now(),
                            };
                            let reply = {
                                let handler = h.read().unwrap_or_else(|p| p.into_inner()).clone();
                                handler(&recorded)
                            };
                            reqs.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(recorded);
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let mut builder = hyper::Response::builder().status(reply.status);
                            for (k, v) in &reply.headers {
                                builder = builder.header(k.as_str(), v.as_str());
                            }
                            Ok::<_, std::convert::Infallible>(
                                builder
                                    .body(Full::new(Bytes::from(reply.body)))
                                    .unwrap_or_else(|_| {
                                        hyper::Response::new(Full::new(Bytes::new()))
                                    }),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FakeServer {
            addr,
            requests,
            handler,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://127.0.0.2:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many requests so far.
    pub fn hits(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Replaces the handler.
    pub fn set_handler(&self, handler: Handler) {
        *self.handler.write().unwrap_or_else(|p| p.into_inner()) = handler;
    }
}

/// A handler that always gives the same reply.
pub fn always(reply: Reply) -> Handler {
    Arc::new(move |_| reply.clone())
}

/// A handler that gives each reply in turn, then the last one forever.
pub fn sequence(replies: Vec<Reply>) -> Handler {
    let next = Arc::new(Mutex::new(0usize));
    Arc::new(move |_| {
        let mut i = next.lock().unwrap_or_else(|p| p.into_inner());
        let reply = replies[(*i).min(replies.len() - 1)].clone();
        *i += 1;
        reply
    })
}
