//! The local stand-in for API Gateway: one base URL whose routes go to the function that
//! serves them (behind `cargo lambda watch`, each function has its own URL prefix), as the
//! template's HttpApi routes do in AWS.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Which function serves a method and path, as the template routes them.
pub fn function_for(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, parts.as_slice()) {
        ("POST", ["v1", "campaigns", _, "registrations"]) => "ingest",
        (_, ["v1", "registrations", ..]) => "logs",
        (_, ["v1", "campaigns", _, "deliveries" | "summary"]) => "logs",
        (_, ["v1", "deliveries"]) => "logs",
        _ => "admin",
    }
}

/// Serves on `listen`, forwarding to `watch` (`http://127.0.0.1:9000`). A function that
/// has not answered within `timeout` gets a 504, as API Gateway answers an integration
/// that outlasts its timeout.
///
/// The limit is kept here, per invocation, and not as `cargo lambda watch --timeout`:
/// that flag puts its timeout on every route of the emulator, the runtime API included,
/// so an idle function's long poll (`GET .../runtime/invocation/next`) is answered 408
/// without a request id after the timeout and `lambda_runtime` panics on it.
pub async fn serve(listen: SocketAddr, watch: String, timeout: Duration) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let (client, watch) = (client.clone(), watch.clone());
        tokio::spawn(async move {
            let service =
                service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (client, watch) = (client.clone(), watch.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let function = function_for(parts.method.as_str(), parts.uri.path());
                        let target = format!(
                            "{watch}/lambda-url/{function}{}",
                            parts.uri.path_and_query().map_or("/", |p| p.as_str())
                        );
                        let mut out = client
                            .request(parts.method.clone(), target)
                            .body(body.to_vec());
                        for (k, v) in &parts.headers {
                            if k != "host" {
                                out = out.header(k, v);
                            }
                        }
                        let response =
                            match out.send().await {
                                Ok(r) => {
                                    let mut builder = hyper::Response::builder().status(r.status());
                                    for (k, v) in r.headers() {
                                        builder = builder.header(k, v);
                                    }
                                    let bytes = r.bytes().await.unwrap_or_default();
                                    builder.body(Full::new(bytes))
                                }
                                Err(e) if e.is_timeout() => hyper::Response::builder()
                                    .status(504)
                                    .body(Full::new(Bytes::from(format!(
                                        "gateway: {function} did not answer within {} s",
                                        timeout.as_secs()
                                    )))),
                                Err(e) => hyper::Response::builder().status(502).body(Full::new(
                                    Bytes::from(format!("gateway: {function} unreachable: {e}")),
                                )),
                            };
                        Ok::<_, std::convert::Infallible>(
                            response
                                .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))),
                        )
                    }
                });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_go_where_the_template_sends_them() {
        assert_eq!(
            function_for("POST", "/v1/campaigns/c/registrations"),
            "ingest"
        );
        assert_eq!(function_for("GET", "/v1/registrations/r"), "logs");
        assert_eq!(
            function_for("POST", "/v1/registrations/r/deliveries/i/retry"),
            "logs"
        );
        assert_eq!(function_for("GET", "/v1/campaigns/c/summary"), "logs");
        assert_eq!(function_for("GET", "/v1/campaigns/c"), "admin");
        assert_eq!(function_for("POST", "/v1/integrations"), "admin");
    }
}
