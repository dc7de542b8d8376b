//! Safe egress through the whole pipeline: blocked destinations are refused before any
//! connection, with an injected resolver, and never dialled; redirects are not followed.
//! Only loopback is ever dialled here.

use crate::helpers::{attempts, id_of, registration, states};
use leadrelay::egress::EgressPolicy;
use leadrelay::exchange::{HeaderValue, Method, OutgoingRequest, Transport};
use leadrelay::manage::{self, integrations::IntegrationInput};
use leadrelay_aws::http::{HttpTransport, Lookup, LookupFuture};
use leadrelay_dev::fake::{self, FakeServer, Reply};
use leadrelay_explain::provider::Provider;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A resolver that answers from a script, one answer per call (the last repeats), and
/// counts its calls.
struct Scripted {
    answers: Mutex<Vec<Vec<IpAddr>>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(
                answers
                    .iter()
                    .map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect())
                    .collect(),
            ),
            calls: AtomicUsize::new(0),
        })
    }
}

impl Lookup for Scripted {
    fn lookup(&self, _host: &str) -> LookupFuture {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answers = self.answers.lock().unwrap();
        let answer = answers[n.min(answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

fn policy() -> EgressPolicy {
    EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    }
}

fn get(url: String) -> OutgoingRequest {
    OutgoingRequest {
        method: Method::Post,
        url,
        headers: vec![(
            "content-type".into(),
            HeaderValue::Plain("application/json".into()),
        )],
        body: b"{}".to_vec(),
        secret_segments: Vec::new(),
    }
}

#[tokio::test]
async fn a_name_is_resolved_once_and_the_connection_goes_to_the_checked_address() {
    let server = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let lookup = Scripted::new(&[&["127.0.0.2"], &["169.254.169.254"]]);
    let t = HttpTransport::with_lookup(policy(), Duration::from_secs(5), lookup.clone()).unwrap();

    let e = t
        .send(&get(format!(
            "http://hooks.example.test:{}/in",
            server.addr().port()
        )))
        .await;

    assert_eq!(e.response.status, Some(200));
    assert_eq!(
        lookup.calls.load(Ordering::SeqCst),
        1,
        "one lookup, no second one to rebind"
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_mixed_answer_is_refused_whole_and_nothing_is_dialled() {
    let decoy = FakeServer::start("127.0.0.2:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    for answer in [
        &["127.0.0.2", "10.0.0.1"][..],
        &["127.0.0.2", "fd00:ec2::254"],
        &["169.254.169.254"],
        &["::ffff:192.168.1.1"],
    ] {
        let lookup = Scripted::new(&[answer]);
        let t = HttpTransport::with_lookup(policy(), Duration::from_secs(5), lookup).unwrap();

        let e = t
            .send(&get(format!(
                "http://hooks.example.test:{}/in",
                decoy.addr().port()
            )))
            .await;

        assert!(e.blocked.is_some(), "{answer:?} must be blocked");
        assert_eq!(e.response.status, None);
    }
    assert_eq!(
        decoy.hits(),
        0,
        "not even the allowed address of a mixed answer was dialled"
    );
}

#[tokio::test]
async fn literal_spellings_of_internal_addresses_are_refused_at_configuration() {
    let store = leadrelay::store::memory::MemoryStore::new();
    let account = leadrelay::ids::AccountId::generate();
    for url in [
        "https://2130706433/",
        "https://0x7f.1/",
        "https://0177.0.0.1/",
        "https://127.1/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://user:pw@hooks.example.com/",
        "https://hooks.example.com@10.0.0.1/",
        "http://hooks.example.com/",
    ] {
        let input = IntegrationInput {
            name: Some("x".into()),
            provider: Some(Provider::Webhook),
            settings: json!({"url": url}).as_object().cloned(),
            credentials: BTreeMap::new(),
            version: None,
        };

        let err = manage::integrations::create_integration(
            &store,
            &leadrelay::vault::InsecureTestVault,
            EgressPolicy::default(),
            &account,
            input,
        )
        .await;

        match err {
            Err(manage::ManageError::Invalid(errors)) => {
                assert_eq!(errors[0].field, "settings.url", "{url}")
            }
            other => panic!("{url} was accepted: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_blocked_destination_pauses_the_integration_with_an_explanation() {
    let s = stack!();
    let (account, key) = s.account().await;
    let hook = s
        .webhook(
            &account,
            "http://hooks.example.test:8080/in",
            json!({}),
            &[],
        )
        .await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let mut deps = s.deliver_deps("1", Duration::from_secs(5));
    deps.deliverer.transport = HttpTransport::with_lookup(
        EgressPolicy {
            allow_loopback: false,
            allow_http: true,
        },
        Duration::from_secs(5),
        Scripted::new(&[&["169.254.169.254"]]),
    )
    .unwrap();
    deps.deliverer.config.attempt_timeout = Duration::from_secs(5);

    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("a@example.com"), None)
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;

    assert_eq!(states(&logs[0]), ["paused"]);
    let v = &attempts(&logs[0])[0]["verdict"];
    assert_eq!(v["class"], "not_sent");
    assert_eq!(v["provider_code"], "egress.blocked_address");
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("169.254.169.254"),
        "{v}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_logged_as_a_failure() {
    let s = stack!();
    let decoy = FakeServer::start("127.0.0.1:0", fake::always(Reply::json(200, json!({}))))
        .await
        .unwrap();
    let server = FakeServer::start(
        "127.0.0.2:0",
        fake::always(
            Reply::json(302, json!({})).header("location", format!("{}/internal", decoy.url())),
        ),
    )
    .await
    .unwrap();
    let (account, key) = s.account().await;
    let hook = s.webhook(&account, &server.url(), json!({}), &[]).await;
    let (campaign, ingest_key) = s.campaign(&account, &[&hook]).await;
    let deps = s.deliver_deps("1", Duration::from_secs(5));

    let (_, accepted) = s
        .post(&campaign, &ingest_key, registration("a@example.com"), None)
        .await;
    let logs = s
        .settle(&deps, &key, &[id_of(&accepted)], Duration::from_secs(20))
        .await;

    let a = &attempts(&logs[0])[0];
    assert_eq!(a["verdict"]["class"], "3xx");
    assert_eq!(a["verdict"]["retryable"], false);
    assert_eq!(
        a["response"]["headers"]["location"],
        format!("{}/internal", decoy.url())
    );
    assert_eq!(decoy.hits(), 0);
    assert_eq!(states(&logs[0]), ["failed"]);
}
