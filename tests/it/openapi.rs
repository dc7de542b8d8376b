//! The OpenAPI document (`infra/openapi.yaml`) and the code agree: every route a function
//! serves is documented, and every documented route is served.

use std::collections::BTreeSet;

fn documented() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/openapi.yaml");
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if matches!(method, "get" | "post" | "put" | "patch" | "delete") {
                out.insert((method.to_owned(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    out
}

fn served() -> BTreeSet<(String, String)> {
    [ingest::ROUTES, logs::ROUTES, admin::ROUTES]
        .iter()
        .flat_map(|routes| routes.iter())
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let documented = documented();
    let served = served();

    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();

    assert!(
        undocumented.is_empty(),
        "served but not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in openapi.yaml but served by no function: {unserved:?}"
    );
    assert_eq!(served.len(), 26);
}

#[tokio::test]
async fn every_documented_route_reaches_its_handler_rather_than_a_404() {
    use lambda_http::{Body, Request};
    let store = leadrelay::store::memory::MemoryStore::new();
    let queue = leadrelay::queue::memory::MemoryQueue::new();
    let logs_deps = logs::Deps {
        store,
        queue,
        cursors: leadrelay::cursor::CursorSealer::new("k"),
        audit_retention_days: 1,
    };
    let admin_deps = admin::Deps {
        store: leadrelay::store::memory::MemoryStore::new(),
        queue: leadrelay::queue::memory::MemoryQueue::new(),
        vault: leadrelay::vault::InsecureTestVault,
        transport: leadrelay_aws::http::HttpTransport::new(
            leadrelay::egress::EgressPolicy::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap(),
        egress: leadrelay::egress::EgressPolicy::default(),
        audit_retention_days: 1,
    };
    let ingest_deps = ingest::Deps {
        store: leadrelay::store::memory::MemoryStore::new(),
        queue: leadrelay::queue::memory::MemoryQueue::new(),
    };
    for (method, path) in documented() {
        let concrete = path
            .replace("{campaign_id}", "cmp_0123456789abcdefghjkmnpqrs")
            .replace("{registration_id}", "reg_0123456789abcdefghjkmnpqrs")
            .replace("{integration_id}", "int_0123456789abcdefghjkmnpqrs")
            .replace("{key_id}", "key_0123456789abcdefghjkmnpqrs");
        let request = || -> Request {
            lambda_http::http::Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::Empty)
                .unwrap()
        };
        let status = if ingest::ROUTES.contains(&(method.as_str(), path.as_str())) {
            ingest::handler(&ingest_deps, request())
                .await
                .unwrap()
                .status()
        } else if logs::ROUTES.contains(&(method.as_str(), path.as_str())) {
            logs::router::handle(&logs_deps, request())
                .await
                .unwrap()
                .status()
        } else {
            admin::router::handle(&admin_deps, request())
                .await
                .unwrap()
                .status()
        };
        // Without a key every route must ask for one: a 404 or 405 would mean the router
        // does not know the documented route.
        assert_eq!(status, 401, "{method} {path}");
    }
}
