//! Canary secrets: planted in every credential slot, and in every setting marked secret
//! (a custom header's value, a URL path segment, a URL query value), they must never
//! appear in the table (outside ciphertext), attempt records, API output, Debug output
//! or logs.

use crate::helpers::{id_of, registration, respond};
use lambda_http::{Body, Request};
use leadrelay::egress::EgressPolicy;
use leadrelay_dev::fake::{self, FakeServer, Reply};
use serde_json::json;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Everything the test binary logs, for the canary check.
static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Mutex::default)
            .lock()
            .unwrap()
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(|| Capture)
        .try_init();
}

#[tokio::test]
async fn canary_secrets_appear_nowhere_but_in_ciphertext() {
    capture_logs();
    let s = stack!();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::sequence(vec![
            Reply::json(401, json!({"error": "invalid_token"}))
                .header("set-cookie", "sid=canary-cookie-5521"),
            Reply::json(200, json!({})),
        ]),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let signing = format!("whsec_{}", base64_of("canary-signing-secret-7731!!"));
    let canaries = [
        "canary-user-1093",
        "canary-pass-2284",
        "canary-token-3375",
        signing.as_str(),
        "canary-query-4466",
    ];
    let basic = s
        .webhook(
            &account,
            &format!("{}/in?token=canary-query-4466", server.url()),
            json!({"auth": "basic"}),
            &[
                ("username", canaries[0]),
                ("password", canaries[1]),
                ("signing_secret", canaries[3]),
            ],
        )
        .await;
    let bearer = s
        .webhook(
            &account,
            &server.url(),
            json!({"auth": "bearer"}),
            &[("token", canaries[2])],
        )
        .await;
    // A Slack/Zapier-style hook: the token in the path, a key in the query and a header
    // marked secret. None of them may show anywhere, not even in the settings.
    let hook = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let setting_canaries = [
        "canary-path-6657",
        "canary-qsecret-7788",
        "canary-header-8899",
    ];
    let sealed_settings = s
        .webhook(
            &account,
            &format!(
                "{}/services/T000/{}?key={}&team=growth",
                hook.url(),
                setting_canaries[0],
                setting_canaries[1]
            ),
            json!({
                "secret_url_parts": {"path_segments": [2], "query": ["key"]},
                "headers": {"X-Api-Key": {"value": setting_canaries[2], "secret": true}},
            }),
            &[],
        )
        .await;
    let (campaign, ingest_key) = s
        .campaign(&account, &[&basic, &bearer, &sealed_settings])
        .await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("a@example.com"), None)
        .await;
    s.settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;
    let admin = admin::Deps {
        store: s.store.clone(),
        queue: s.queue.clone(),
        vault: s.vault.clone(),
        transport: leadrelay_aws::http::HttpTransport::new(
            EgressPolicy {
                allow_loopback: true,
                allow_http: true,
            },
            Duration::from_secs(5),
        )
        .unwrap(),
        egress: EgressPolicy {
            allow_loopback: true,
            allow_http: true,
        },
        audit_retention_days: 1,
    };
    let call = |method: &str, path: String, body: Body| -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .body(body)
            .unwrap()
    };
    let (_, listed) = respond(
        admin::router::handle(&admin, call("GET", "/v1/integrations".into(), Body::Empty))
            .await
            .unwrap(),
    );
    let (status, tested) = respond(
        admin::router::handle(
            &admin,
            call(
                "POST",
                format!("/v1/integrations/{}/test", bearer.id),
                Body::from(registration("t@example.com").to_string()),
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(status, 200, "{tested}");
    let (status, tested_hook) = respond(
        admin::router::handle(
            &admin,
            call(
                "POST",
                format!("/v1/integrations/{}/test", sealed_settings.id),
                Body::from(registration("t2@example.com").to_string()),
            ),
        )
        .await
        .unwrap(),
    );
    assert_eq!(status, 200, "{tested_hook}");
    assert_eq!(
        tested_hook["verdict"]["outcome"], "delivered",
        "{tested_hook}"
    );
    let (_, shown) = respond(
        admin::router::handle(
            &admin,
            call(
                "GET",
                format!("/v1/integrations/{}", sealed_settings.id),
                Body::Empty,
            ),
        )
        .await
        .unwrap(),
    );

    let table = s.scan_text().await;
    let log = s.log(&key, &id_of(&accepted)).await.to_string();
    let logs =
        String::from_utf8_lossy(&LOGS.get_or_init(Mutex::default).lock().unwrap()).into_owned();
    let debug = format!("{basic:?} {bearer:?}");
    for canary in canaries.iter().chain(["canary-cookie-5521"].iter()) {
        let in_table_outside_settings =
            table.matches(canary).count() > usize::from(*canary == "canary-query-4466");
        assert!(!in_table_outside_settings, "{canary} is in the table");
        assert!(!log.contains(canary), "{canary} is in the registration log");
        assert!(
            !listed.to_string().contains(canary) || *canary == "canary-query-4466",
            "{canary} is in the integration list"
        );
        assert!(
            !tested.to_string().contains(canary) || *canary == "canary-query-4466",
            "{canary} is in the test-send answer"
        );
        assert!(!logs.contains(canary), "{canary} is in the logs");
        // The URL is a setting the customer chose and sees again; only its query value
        // must stay out of attempts and logs.
        assert!(
            !debug.contains(canary) || *canary == "canary-query-4466",
            "{canary} is in Debug output"
        );
    }
    let debug = format!("{debug} {sealed_settings:?}");
    let tested = format!("{tested} {tested_hook}");
    let views = format!("{listed} {shown}");
    for canary in setting_canaries {
        assert!(!table.contains(canary), "{canary} is in the table");
        assert!(!log.contains(canary), "{canary} is in the registration log");
        assert!(
            !views.contains(canary),
            "{canary} is in an integration view"
        );
        assert!(
            !tested.contains(canary),
            "{canary} is in the test-send answer"
        );
        assert!(!logs.contains(canary), "{canary} is in the logs");
        assert!(!debug.contains(canary), "{canary} is in Debug output");
    }
    assert_eq!(shown["credentials"]["header:x-api-key"], "********");
    assert!(
        log.contains("/services/T000/…?key=…&team=…"),
        "the attempt shows the URL without its secrets: {log}"
    );
    // Both the delivery and the test send reached the hook with the real values.
    let hook_requests = hook.requests();
    assert_eq!(hook_requests.len(), 2);
    for r in &hook_requests {
        assert_eq!(r.path, format!("/services/T000/{}", setting_canaries[0]));
        assert_eq!(
            r.query.as_deref(),
            Some(format!("key={}&team=growth", setting_canaries[1]).as_str())
        );
        assert_eq!(r.header("x-api-key"), Some(setting_canaries[2]));
    }
    assert!(listed.to_string().contains("\"password\":\"********\""));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some("Bearer canary-token-3375")),
        "the token was sent"
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}
