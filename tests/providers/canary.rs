//! The canary check: no credential, nor an access token issued for one, ever reaches an
//! attempt record, the management view, a Debug print or the logs.

use crate::across::ALL;
use crate::activecampaign::ACTIVECAMPAIGN;
use crate::brevo::BREVO;
use crate::campaign_monitor::CAMPAIGN_MONITOR;
use crate::dynamics_365::DYNAMICS;
use crate::hubspot::HUBSPOT;
use crate::hubspot_forms::HUBSPOT_FORMS;
use crate::klaviyo::KLAVIYO;
use crate::mailchimp::MAILCHIMP;
use crate::mailjet::MAILJET;
use crate::salesforce::{SALESFORCE, SF_CLIENT_ID, SF_CLIENT_SECRET, SF_REFRESH};
use crate::sendgrid::SENDGRID;
use crate::world::*;
use leadrelay_dev::providers::salesforce::OAuthApp;

/// Canaries: one unique string per credential slot of every provider.
fn canary(slot: &str) -> String {
    format!(
        "CANARY{}{}",
        slot.to_ascii_uppercase().replace(['_', '-'], ""),
        "7f3a9c"
    )
}

#[tokio::test]
async fn no_credential_reaches_an_attempt_record_the_management_view_debug_output_or_the_logs() {
    // (provider, its credentials, the value the fake accepts)
    let mailchimp_key = format!("{}-us21", canary("mailchimp"));
    let klaviyo_key = format!("pk_{}", canary("klaviyo"));
    let sendgrid_key = format!("SG.{}", canary("sendgrid"));
    /// A provider, the credentials its integration holds, and the key its fake accepts.
    type Setup<'a> = (&'a Case, Vec<(&'a str, String)>, String);
    let setups: Vec<Setup> = vec![
        (
            &MAILCHIMP,
            vec![("access_token", canary("mailchimpoauth"))],
            canary("mailchimpoauth"),
        ),
        (
            &MAILCHIMP,
            vec![("api_key", mailchimp_key.clone())],
            mailchimp_key,
        ),
        (
            &HUBSPOT,
            vec![("access_token", canary("hubspot"))],
            canary("hubspot"),
        ),
        (
            &HUBSPOT_FORMS,
            vec![("access_token", canary("forms"))],
            canary("forms"),
        ),
        (
            &KLAVIYO,
            vec![("api_key", klaviyo_key.clone())],
            klaviyo_key,
        ),
        (
            &SENDGRID,
            vec![("api_key", sendgrid_key.clone())],
            sendgrid_key,
        ),
        (&BREVO, vec![("api_key", canary("brevo"))], canary("brevo")),
        (
            &ACTIVECAMPAIGN,
            vec![("api_key", canary("activecampaign"))],
            canary("activecampaign"),
        ),
        (
            &SALESFORCE,
            vec![("access_token", canary("salesforce"))],
            canary("salesforce"),
        ),
        (
            &MAILJET,
            vec![
                ("api_key", canary("mailjet")),
                ("secret_key", canary("mailjetsecret")),
            ],
            format!("{}:{}", canary("mailjet"), canary("mailjetsecret")),
        ),
        (
            &CAMPAIGN_MONITOR,
            vec![("api_key", canary("campaignmonitor"))],
            canary("campaignmonitor"),
        ),
        (
            &DYNAMICS,
            vec![("client_secret", canary("dynclientsecret"))],
            canary("dynclientsecret"),
        ),
    ];
    let mut canaries: Vec<String> = Vec::new();
    let world = World::new();
    let mut fakes = Vec::new();
    let mut integrations = Vec::new();
    for (case, credentials, accepted) in &setups {
        let fake = FakeProvider::start(case.provider, "127.0.0.2:0", accepted)
            .await
            .expect("fake");
        let pairs: Vec<(&str, &str)> = credentials.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let integration = world
            .integration(case.provider, (case.settings)(&fake.url()), &pairs)
            .await;
        canaries.extend(credentials.iter().map(|(_, v)| v.clone()));
        fakes.push(fake);
        integrations.push(integration);
    }
    // Salesforce's refresh flow: three slots, and the access tokens the fake issues.
    let sf_oauth = FakeProvider::start(Provider::Salesforce, "127.0.0.2:0", "no-static-token")
        .await
        .expect("fake");
    sf_oauth.set_oauth_app(OAuthApp {
        client_id: canary("sfclientid"),
        client_secret: Some(canary("sfclientsecret")),
        refresh_token: canary("sfrefresh"),
        token_prefix: canary("sfissued"),
    });
    let sf_integration = world
        .integration(
            Provider::Salesforce,
            json!({"login_url": sf_oauth.url(), "external_id_field": "LeadRelay_Email__c",
                   "fields": {"Company": {"value": "Private person"}}}),
            &[
                ("client_id", &canary("sfclientid")),
                ("client_secret", &canary("sfclientsecret")),
                ("refresh_token", &canary("sfrefresh")),
            ],
        )
        .await;
    canaries.extend([
        canary("sfclientid"),
        canary("sfclientsecret"),
        canary("sfrefresh"),
        canary("sfissued"),
    ]);
    integrations.push(sf_integration);
    // The webhook's four slots: basic user and password, and a signing secret.
    use base64::Engine;
    let hook = leadrelay_dev::fake::FakeServer::start(
        "127.0.0.2:0",
        leadrelay_dev::fake::always(leadrelay_dev::fake::Reply::json(
            500,
            json!({"error": "down"}),
        )),
    )
    .await
    .expect("hook");
    let signing = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(canary("signing").repeat(2).as_bytes())
    );
    let webhook = world
        .integration(
            Provider::Webhook,
            json!({"url": format!("{}/in", hook.url()), "auth": "basic"}),
            &[
                ("username", &canary("hookuser")),
                ("password", &canary("hookpass")),
                ("signing_secret", &signing),
            ],
        )
        .await;
    canaries.extend([
        canary("hookuser"),
        canary("hookpass"),
        signing.clone(),
        canary("signing"),
    ]);
    integrations.push(webhook);

    for integration in &integrations {
        let campaign = world.campaign(integration).await;
        world.register(&campaign, lena()).await;
        world
            .register(&campaign, person("error.case@example.com", true))
            .await;
        world
            .register(&campaign, person("invalid.case@example.com", true))
            .await;
    }
    world.run_queue().await;
    // Rotate every provider key to a wrong one at the fake: 401s and pauses get recorded too.
    for fake in &fakes {
        fake.set_key("rotated-at-the-provider");
    }
    // And revoke the refresh token: the token endpoint's refusal gets recorded too.
    sf_oauth.set_oauth_app(OAuthApp {
        client_id: canary("sfclientid"),
        client_secret: Some(canary("sfclientsecret")),
        refresh_token: "revoked-and-replaced".into(),
        token_prefix: canary("sfissued"),
    });
    for integration in &integrations {
        let campaign = world.campaign(integration).await;
        world.register(&campaign, lena()).await;
    }
    world.run_queue().await;

    let attempts = world.store().all_attempts();
    assert!(attempts.len() >= 4 * integrations.len());
    let records = serde_json::to_string(&attempts).expect("json");
    let mut shown = vec![records, format!("{attempts:?}")];
    for integration in &integrations {
        let stored = world.reload(integration).await;
        shown.push(admin::view::integration(&stored).to_string());
        shown.push(format!("{stored:?}"));
        let opened: Credentials = InsecureTestVault.open(&stored).await.expect("opens");
        shown.push(format!("{opened:?}"));
        let registration = world.store().all_registrations().remove(0);
        let cx = SendContext {
            message_id: "msg_x".into(),
            timestamp: 1,
            attempt: 1,
        };
        if let Ok(built) = destination::build(&stored, &opened, &registration, &cx) {
            shown.push(format!("{built:?}"));
        }
    }
    // The access tokens Entra ID issued (the fake plays it) are secrets as well.
    let dynamics_fake = fakes
        .iter()
        .find(|f| f.provider() == Provider::Dynamics)
        .expect("a Dynamics 365 fake");
    let dynamics_tokens = dynamics_fake.issued_tokens();
    assert!(!dynamics_tokens.is_empty(), "tokens were issued");
    canaries.extend(dynamics_tokens.iter().cloned());
    let logs = captured_logs();
    let ids: Vec<String> = world
        .store()
        .all_registrations()
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    assert!(
        ids.iter().any(|id| logs.contains(id.as_str())),
        "this test's deliveries were logged"
    );
    shown.push(logs.clone());

    for canary in &canaries {
        for (i, text) in shown.iter().enumerate() {
            assert!(
                !text.contains(canary.as_str()),
                "canary {canary} leaked in output #{i}"
            );
        }
    }
    // They did go out, to the providers that asked for them (inside Basic
    // authentication's base64 for Mailchimp's API key, Mailjet's key pair and Campaign
    // Monitor's key).
    for (fake, (case, _, accepted)) in fakes.iter().zip(&setups) {
        let headers: String = fake
            .requests()
            .iter()
            .map(|r| format!("{:?}", r.headers))
            .collect();
        let basic = |pair: String| base64::engine::general_purpose::STANDARD.encode(pair);
        if case.provider == Provider::Dynamics {
            // The app's credentials go in the token request's form body; the record
            // request carries the token issued for them.
            let bodies: String = fake
                .requests()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect();
            assert!(bodies.contains(&format!("&client_secret={accepted}&")));
            assert!(
                headers.contains(&format!("Bearer {}", dynamics_tokens[0])),
                "the issued token was used"
            );
            continue;
        }
        let expected = match case.provider {
            Provider::Mailchimp if accepted.ends_with("-us21") => {
                basic(format!("leadrelay:{accepted}"))
            }
            Provider::Mailjet => basic(accepted.clone()),
            Provider::CampaignMonitor => basic(format!("{accepted}:x")),
            _ => accepted.clone(),
        };
        assert!(
            headers.contains(&expected),
            "{} never received its key",
            case.provider
        );
    }
    let token_requests: Vec<String> = sf_oauth
        .requests()
        .iter()
        .filter(|r| r.path == "/services/oauth2/token")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(token_requests.len() >= 2, "exchanged, then refused");
    assert!(token_requests[0].contains(&canary("sfrefresh")));
    assert!(token_requests[0].contains(&canary("sfclientsecret")));
    let bearers: String = sf_oauth
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        bearers.contains(&format!("Bearer {}", canary("sfissued"))),
        "the issued token was used"
    );
    let sf_attempts: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.integration_id == integrations[setups.len()].id)
        .collect();
    assert!(sf_attempts
        .iter()
        .any(|a| a.verdict.outcome == Outcome::Delivered));
    assert!(sf_attempts
        .iter()
        .any(|a| a.verdict.provider_code.as_deref() == Some("invalid_grant")));
    // Every other test's keys stay out of the logs too (the capture holds the logs of
    // every test in this binary that ran so far).
    for secret in [
        SF_CLIENT_ID,
        SF_CLIENT_SECRET,
        SF_REFRESH,
        "AQ4AQIssued",
        "AQ4AQAgain",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
    for case in ALL {
        assert!(
            !logs.contains(case.key),
            "{} key in the logs",
            case.provider
        );
        assert!(
            !logs.contains(case.wrong_key),
            "{} key in the logs",
            case.provider
        );
        if let Some((_, secret)) = case.second {
            assert!(
                !logs.contains(secret),
                "{} secret in the logs",
                case.provider
            );
        }
    }
}
