//! Roles and the audit log against the emulator: the platform key makes an account over
//! the API and its admin key works; keys stored before roles still work as admins; every
//! change is recorded and read back newest first, filtered and paged through the
//! DynamoDB store, with its TTL; a viewer cannot resend, an operator's resend is audited.

use crate::helpers::{id_of, registration, respond, Stack};
use aws_sdk_dynamodb::types::AttributeValue;
use leadrelay::audit::{self, Action, AuditQuery};
use leadrelay::keys::{generate_key, hash_key};
use leadrelay::model::KeyKind;
use leadrelay::store::AuditStore;
use leadrelay_dev::fake::{FakeServer, Recorded, Reply};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn admin_deps(
    s: &Stack,
) -> admin::Deps<
    leadrelay_aws::dynamodb::DynamoStore,
    leadrelay_aws::sqs::SqsQueue,
    leadrelay_aws::kms::KmsVault,
    leadrelay_aws::http::HttpTransport,
> {
    let policy = leadrelay::egress::EgressPolicy {
        allow_loopback: true,
        allow_http: true,
    };
    admin::Deps {
        store: s.store.clone(),
        queue: s.queue.clone(),
        vault: s.vault.clone(),
        transport: leadrelay_aws::http::HttpTransport::new(policy, Duration::from_secs(2)).unwrap(),
        egress: policy,
        audit_retention_days: 30,
    }
}

async fn admin_call(s: &Stack, key: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let req: lambda_http::Request = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(if body.is_null() {
            lambda_http::Body::Empty
        } else {
            lambda_http::Body::from(body.to_string())
        })
        .unwrap();
    respond(admin::router::handle(&admin_deps(s), req).await.unwrap())
}

/// Fails every delivery.
fn failing(_: &Recorded) -> Reply {
    Reply::json(500, json!({}))
}

fn query(account: &leadrelay::ids::AccountId) -> AuditQuery {
    AuditQuery {
        account_id: account.clone(),
        from_ms: 0,
        to_ms: u64::MAX,
        action: None,
        target: None,
        key_id: None,
        limit: 50,
        after: None,
    }
}

#[tokio::test]
async fn the_platform_key_makes_an_account_over_the_api_and_reads_no_account() {
    let s = stack!();
    let (platform, secret) = leadrelay::manage::roles::platform_key(&s.store)
        .await
        .unwrap();
    let platform_key = secret.expose();

    let (s1, made) = admin_call(
        &s,
        platform_key,
        "POST",
        "/v1/accounts",
        json!({"name": "Globex"}),
    )
    .await;
    let admin = made["key"]["key"].as_str().unwrap().to_owned();
    let (s2, account) = admin_call(&s, &admin, "GET", "/v1/account", Value::Null).await;
    let (s3, log) = admin_call(&s, &admin, "GET", "/v1/audit", Value::Null).await;
    let (s4, refused) = admin_call(&s, platform_key, "GET", "/v1/audit", Value::Null).await;
    let (s5, logs) = s
        .logs_call(
            "GET",
            "/v1/registrations/reg_0123456789abcdefghjkmnpqrs",
            platform_key,
        )
        .await;
    let (s6, _) = admin_call(
        &s,
        &admin,
        "POST",
        "/v1/accounts",
        json!({"name": "Initech"}),
    )
    .await;

    assert_eq!(s1, 201, "{made}");
    assert!(admin.starts_with("lr_ak_"));
    assert_eq!(made["key"]["role"], "admin");
    assert_eq!((s2, account["name"].as_str()), (200, Some("Globex")));
    assert_eq!(s3, 200, "{log}");
    assert_eq!(log["items"][0]["action"], "account.created");
    assert_eq!(log["items"][0]["key_id"], platform.id.as_str());
    assert_eq!(
        (s4, refused["required_role"].as_str()),
        (403, Some("admin"))
    );
    assert_eq!((s5, logs["required_role"].as_str()), (403, Some("viewer")));
    assert_eq!(s6, 403, "an account's admin key makes no accounts");
}

#[tokio::test]
async fn a_key_stored_before_roles_still_works_as_an_admin() {
    let s = stack!();
    let (account, _) = s.account().await;
    let key = generate_key(KeyKind::Account);
    let hash = hash_key(key.expose());
    let id = "key_0123456789abcdefghjkmnpqrs";
    // The document exactly as keys were written before roles: no `access`.
    let doc = json!({"id": id, "kind": "account", "account_id": account, "campaign_id": null,
                     "hash": hash, "hint": "WXYZ", "created_at": 1});
    for (pk, sk) in [
        (format!("KEYHASH#{hash}"), "KEY".to_owned()),
        (format!("ACC#{account}"), format!("KEY#{id}")),
    ] {
        s.ddb
            .put_item()
            .table_name(&s.table)
            .item("pk", AttributeValue::S(pk))
            .item("sk", AttributeValue::S(sk))
            .item("doc", AttributeValue::S(doc.to_string()))
            .send()
            .await
            .unwrap();
    }

    let (s1, keys) = admin_call(&s, key.expose(), "GET", "/v1/keys", Value::Null).await;
    let (s2, made) = admin_call(
        &s,
        key.expose(),
        "POST",
        "/v1/keys",
        json!({"role": "viewer"}),
    )
    .await;
    let (s3, _) = admin_call(&s, key.expose(), "GET", "/v1/audit", Value::Null).await;

    assert_eq!(s1, 200, "{keys}");
    let old = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(
        (old["role"].as_str(), old["campaigns"].clone()),
        (Some("admin"), json!([]))
    );
    assert_eq!((s2, made["role"].as_str()), (201, Some("viewer")));
    assert_eq!(s3, 200);
}

#[tokio::test]
async fn every_change_is_audited_and_read_back_filtered_and_paged_from_the_table() {
    let s = stack!();
    let receiver = FakeServer::start("127.0.0.2:0", Arc::new(failing))
        .await
        .unwrap();
    let (account, admin) = s.account().await;
    let hook = json!({"name": "Hook", "provider": "webhook",
                      "settings": {"url": receiver.url(), "preflight": false},
                      "credentials": {"token": "canary-token-value"}});
    let (s1, integration) = admin_call(&s, &admin, "POST", "/v1/integrations", hook).await;
    assert_eq!(s1, 201, "{integration}");
    let iid = integration["id"].as_str().unwrap().to_owned();
    let (_, campaign) = admin_call(
        &s,
        &admin,
        "POST",
        "/v1/campaigns",
        json!({"name": "Quiz", "integration_ids": [iid]}),
    )
    .await;
    let cid = campaign["id"].as_str().unwrap().to_owned();
    let rotate = json!({"credentials": {"token": "second-canary-value"}});
    let (s2, _) = admin_call(
        &s,
        &admin,
        "PATCH",
        &format!("/v1/integrations/{iid}"),
        rotate,
    )
    .await;
    assert_eq!(s2, 200);
    let (_, viewer) = admin_call(&s, &admin, "POST", "/v1/keys", json!({"role": "viewer"})).await;
    let viewer = viewer["key"].as_str().unwrap().to_owned();
    let (_, operator) = admin_call(
        &s,
        &admin,
        "POST",
        "/v1/keys",
        json!({"role": "operator", "campaigns": [cid]}),
    )
    .await;
    let operator_id = operator["id"].as_str().unwrap().to_owned();
    let operator = operator["key"].as_str().unwrap().to_owned();

    // A registration whose delivery failed: a viewer may not resend it, an operator may.
    let ingest_key = campaign["ingest_key"]["key"].as_str().unwrap();
    let c = leadrelay::model::Campaign {
        id: cid.parse().unwrap(),
        account_id: account.clone(),
        name: "Quiz".into(),
        integrations: vec![],
        retention_days: 30,
        created_at: 0,
    };
    let (_, accepted) = s
        .post(&c, ingest_key, registration("ada@example.com"), None)
        .await;
    let rid = id_of(&accepted);
    let retry = format!("/v1/registrations/{rid}/deliveries/{iid}/retry");
    let (s3, refused) = s.logs_call("POST", &retry, &viewer).await;
    let (s4, _) = s.logs_call("POST", &retry, &operator).await;
    assert_eq!(
        (s3, refused["required_role"].as_str()),
        (403, Some("operator"))
    );
    assert_eq!(s4, 202);

    // Straight from the store: newest first, every action, the TTL set.
    let all = audit::read(&s.store, &query(&account)).await.unwrap();
    let mut actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "campaign.created",
            "credentials.rotated",
            "delivery.resent",
            "integration.created",
            "key.created",
            "key.created"
        ]
    );
    assert!(
        all.items.windows(2).all(|p| p[0].id > p[1].id),
        "newest first"
    );
    // Each function keeps entries for its own setting: admin's here 30 days, logs's 1.
    let days = |e: &audit::AuditEntry| (e.expires_at - e.at / 1000) / 86_400;
    assert!(all.items[1..].iter().all(|e| days(e) == 30));
    assert_eq!(days(&all.items[0]), 1);
    let resent = &all.items[0];
    assert_eq!(
        (resent.action, resent.key_id.as_str()),
        (Action::DeliveryResent, operator_id.as_str())
    );
    let text = s.scan_text().await;
    assert!(!text.contains("canary-token-value") && !text.contains("second-canary-value"));
    let rotated = all
        .items
        .iter()
        .find(|e| e.action == Action::CredentialsRotated)
        .unwrap();
    assert_eq!(rotated.changed, ["credentials.token"]);

    // Filters and pages through the store and the route.
    let store = &s.store;
    let only = |q: AuditQuery| async move { store.audit_entries(&q).await.unwrap().items };
    assert_eq!(
        only(AuditQuery {
            action: Some(Action::KeyCreated),
            ..query(&account)
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        only(AuditQuery {
            target: Some(format!("integration:{iid}")),
            ..query(&account)
        })
        .await
        .len(),
        2
    );
    let by_operator = only(AuditQuery {
        key_id: Some(operator_id.parse().unwrap()),
        ..query(&account)
    })
    .await;
    assert_eq!(by_operator.len(), 1);
    let newest = all.items[0].at;
    assert!(only(AuditQuery {
        from_ms: newest + 1,
        ..query(&account)
    })
    .await
    .is_empty());
    assert_eq!(
        only(AuditQuery {
            to_ms: newest + 1,
            ..query(&account)
        })
        .await
        .len(),
        6
    );
    let other = leadrelay::ids::AccountId::generate();
    assert!(
        only(query(&other)).await.is_empty(),
        "another account reads nothing"
    );

    let mut seen = Vec::new();
    let mut path = "/v1/audit?limit=4".to_owned();
    loop {
        let (status, page) = admin_call(&s, &admin, "GET", &path, Value::Null).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = all.items.iter().map(|e| e.id.clone()).collect();
    assert_eq!(seen, expected, "two pages, each entry once, in order");
    let (s5, filtered) = admin_call(
        &s,
        &admin,
        "GET",
        "/v1/audit?action=delivery.resent",
        Value::Null,
    )
    .await;
    assert_eq!((s5, filtered["items"].as_array().unwrap().len()), (200, 1));
    assert_eq!(
        filtered["items"][0]["target"],
        format!("delivery:{rid}/{iid}")
    );
}
