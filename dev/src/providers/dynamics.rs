//! Fake Dynamics 365 / Dataverse Web API (leads and contacts, each with an alternate key
//! on `emailaddress1`), with the Microsoft Entra ID token endpoint in front of it.
//!
//! The fake's key is the app registration's client secret; the application it knows is
//! [`CLIENT_ID`] in the tenant [`TENANT_ID`], and the environment it plays is itself
//! (the scope it accepts is `http://{its host}/.default`).
//!
//! | request | checks | answers |
//! |---|---|---|
//! | `POST /{tenant}/oauth2/v2.0/token` | a form body: `grant_type=client_credentials`, `client_id`, `client_secret`, `scope` | 200 `{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token"}`; 400 `unsupported_grant_type` (AADSTS70003), `invalid_request` (AADSTS90002, unknown tenant), `unauthorized_client` (AADSTS700016, unknown application), `invalid_resource` (AADSTS500011, another scope); 401 `invalid_client` (AADSTS7000215, wrong secret) |
//! | `PATCH /api/data/vN.N/{leads\|contacts}(emailaddress1='…')` | a Bearer token the fake issued; `OData-Version: 4.0`, `OData-MaxVersion: 4.0`, `Accept` and `Content-Type` `application/json`; a JSON object of known columns (custom ones carry a publisher prefix, `new_…`) | 204 with `OData-EntityId` (created or updated); with `If-None-Match: *` 412 `0x80040237` for an existing record |
//!
//! Refusals are OData errors, `{"error": {"code": "0x…", "message": "…"}}`: 401 with an
//! empty body and a `WWW-Authenticate: Bearer` challenge (a token it did not issue), 400
//! `0x80048d19` (missing OData headers; an unknown column, in Dataverse's payload-error
//! words), 400 `0x80040203` (a key other than `emailaddress1`), 404 `0x80060888` (an
//! unknown entity set or path), 403 `0x80040220` (mode `Forbidden`: the application
//! user lacks a privilege), 400 `0x80040265` (an invalid or non-ASCII address, refused
//! as an organisation's validation plug-in words it: Dataverse itself checks little of an
//! address's form), 429 `0x80072322` with `Retry-After` (service protection), 500
//! `0x80040216` (the lock and server error modes: Dataverse has no lock answer of its own).

use super::salesforce::form;
use super::{decode_segment, segments, Decision, State};
use crate::fake::{Recorded, Reply};
use serde_json::{json, Map, Value};

/// The application (client) id the fake knows.
pub const CLIENT_ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
/// The Entra ID tenant the fake knows.
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

const JSON: &str = "application/json; odata.metadata=minimal";
const COMMON: &[&str] = &[
    "firstname",
    "lastname",
    "fullname",
    "emailaddress1",
    "emailaddress2",
    "mobilephone",
    "telephone1",
    "jobtitle",
    "description",
    "donotbulkemail",
    "donotemail",
    "address1_city",
    "address1_country",
    "address1_postalcode",
];
const LEAD_ONLY: &[&str] = &["subject", "companyname", "leadsourcecode"];

fn odata_error(status: u16, code: &str, message: &str) -> Reply {
    super::json_as(
        status,
        JSON,
        &json!({"error": {"code": code, "message": message}}),
    )
    .header("odata-version", "4.0")
}

fn entra_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    let stamp = "Trace ID: 0d6a3c1e-5f2b-4e7a-9c8d-1b2a3c4d5e6f\r\nCorrelation ID: 7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b\r\nTimestamp: 2026-12-01 22:41:07Z";
    super::json_as(
        status,
        "application/json; charset=utf-8",
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\n{stamp}"),
            "error_codes": [code],
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client credentials grant.
fn token(state: &mut State, r: &Recorded, tenant: &str) -> Reply {
    let fields = form(&r.body);
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let form_type = r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form_type || get("grant_type") != Some("client_credentials") {
        return entra_error(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if tenant != TENANT_ID {
        return entra_error(400, "invalid_request", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."));
    }
    let given_id = get("client_id").unwrap_or("");
    if given_id != CLIENT_ID {
        return entra_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{given_id}' was not found in the directory 'Contoso'."));
    }
    if !state.key_is(get("client_secret")) {
        return entra_error(401, "invalid_client", 7000215, &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."));
    }
    let environment = format!("http://{}", r.header("host").unwrap_or("127.0.0.2"));
    let scope = get("scope").unwrap_or("");
    if scope != format!("{environment}/.default") {
        let resource = scope.trim_end_matches("/.default");
        return entra_error(400, "invalid_resource", 500011, &format!("The resource principal named {resource} was not found in the tenant named Contoso."));
    }
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.ZHluYW1pY3M.{nonce:x}{}",
        state.issued.len() + 1
    );
    state.issued.push(access_token.clone());
    super::json_as(
        200,
        "application/json; charset=utf-8",
        &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                "access_token": access_token}),
    )
}

/// `leads(emailaddress1='x%40y')` → (`leads`, `emailaddress1`, `x@y`).
fn addressed(segment: &str) -> Option<(&str, &str, String)> {
    let (entity, rest) = segment.split_once('(')?;
    let (key, literal) = rest.strip_suffix(')')?.split_once('=')?;
    let value = decode_segment(literal);
    let text = value.strip_prefix('\'')?.strip_suffix('\'')?;
    Some((entity, key, text.replace("''", "'")))
}

/// Answers one request.
pub fn answer(state: &mut State, r: &Recorded) -> Reply {
    let path = segments(r);
    if let ("POST", [tenant, "oauth2", "v2.0", "token"]) = (r.method.as_str(), path.as_slice()) {
        return token(state, r, tenant);
    }
    let not_found = |what: &str| {
        odata_error(
            404,
            "0x80060888",
            &format!("Resource not found for the segment '{what}'."),
        )
    };
    let ("PATCH", ["api", "data", v, target]) = (r.method.as_str(), path.as_slice()) else {
        return not_found(path.last().copied().unwrap_or(""));
    };
    if !v.starts_with('v') {
        return not_found(v);
    }
    let issued = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| state.issued.iter().any(|i| i == t));
    if !issued {
        let host = r.header("host").unwrap_or("127.0.0.2");
        return super::empty(401).header(
            "www-authenticate",
            format!("Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}/oauth2/authorize, resource_id=http://{host}/"),
        );
    }
    let odata = r.header("odata-version") == Some("4.0")
        && r.header("odata-maxversion") == Some("4.0")
        && r.header("accept")
            .is_some_and(|a| a.contains("application/json"))
        && r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
    if !odata {
        return odata_error(400, "0x80048d19", "The request needs the headers OData-Version: 4.0, OData-MaxVersion: 4.0, Accept: application/json and Content-Type: application/json.");
    }
    let Some((entity, key, email)) = addressed(target) else {
        return not_found(target);
    };
    let columns: Vec<&str> = match entity {
        "leads" => COMMON.iter().chain(LEAD_ONLY).copied().collect(),
        "contacts" => COMMON.to_vec(),
        _ => return not_found(entity),
    };
    let table = entity.trim_end_matches('s');
    if key != "emailaddress1" {
        return odata_error(
            400,
            "0x80040203",
            &format!("'{key}' is not an alternate key of the {table} table."),
        );
    }
    let Some(Value::Object(record)) = r.json() else {
        return odata_error(
            400,
            "0x80048d19",
            "Error identified in Payload provided by the user: the body is not a JSON object.",
        );
    };
    if let Some(unknown) = record.keys().find(|k| {
        !columns.contains(&k.as_str()) && k.split_once('_').is_none_or(|(p, _)| p.len() < 2)
    }) {
        return odata_error(400, "0x80048d19", &format!("Error identified in Payload provided by the user for Entity :'{entity}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: The property '{unknown}' does not exist on type 'Microsoft.Dynamics.CRM.{table}'. Make sure to only use property names that are defined by the type or mark the type as open type."));
    }
    let (exists, delay) = match state.decide(&email) {
        Decision::Proceed { exists, delay } => (exists, delay),
        Decision::Suppressed => (true, std::time::Duration::ZERO),
        Decision::Forbidden => {
            return odata_error(403, "0x80040220", &format!("Principal user (Id=2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901, type=8, roleCount=1, privilegeCount=812, accessMode=4), is missing prvWrite{} privilege (Id=4d5e6f70-8192-43a4-b5c6-d7e8f9012345) on OTC=4 for entity '{table}'.", if table == "lead" { "Lead" } else { "Contact" }))
        }
        Decision::RateLimited => {
            return odata_error(
                429,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            )
            .header("retry-after", super::RETRY_AFTER_S.to_string())
        }
        Decision::Locked | Decision::ServerError => {
            return odata_error(500, "0x80040216", "An unexpected error occurred.")
        }
        Decision::Invalid => {
            return odata_error(
                400,
                "0x80040265",
                &format!("emailaddress1: '{email}' is not a valid email address."),
            )
        }
    };
    if exists && r.header("if-none-match") == Some("*") {
        return odata_error(
            412,
            "0x80040237",
            "A record with matching key values already exists.",
        );
    }
    let mut stored: Map<String, Value> = state
        .contact(&email)
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    stored.extend(record);
    stored.insert("emailaddress1".into(), Value::from(email.clone()));
    let id = state.store(&email, Value::Object(stored));
    let host = r.header("host").unwrap_or("127.0.0.2");
    super::empty(204)
        .header("odata-version", "4.0")
        .header(
            "odata-entityid",
            format!("http://{host}/api/data/{v}/{entity}(6f1c0e4a-2f3d-4e5a-9b8c-{id:0>12})"),
        )
        .after(delay)
}
