//! Reading Campaign Monitor (createsend) API v3 answers.
//!
//! Errors are `{"Code": <number>, "Message": "..."}`; the number, written as text, is the
//! identifier. Adding a subscriber is refused with 400 and a code that says why: 1 for an
//! invalid address, 204 to 208 for an address in the suppression list, deleted,
//! unsubscribed, bounced or still unconfirmed. 50 and 100 are credentials, 120 to 122
//! OAuth tokens (<https://www.campaignmonitor.com/api/v3-3/getting-started/#response-status-codes>).

use super::body::Body;
use super::extracted::Extracted;
use crate::catalogue::Cause;
use crate::verdict::Outcome;

/// What a Campaign Monitor answer says beyond its status.
pub(crate) fn extract(status: u16, body: &Body<'_>) -> Extracted {
    if (200..300).contains(&status) {
        return Extracted::default();
    }
    let code = body.str_at(&["Code"]);
    let mut found = Extracted {
        message: body.message_at(&["Message"]),
        ..Extracted::default()
    };
    let meaning = code.as_deref().and_then(by_code);
    if meaning == Some((Outcome::InvalidData, Cause::InvalidEmail)) {
        found.field = Some("EmailAddress".to_owned());
    }
    found.decide(meaning);
    found.code = code;
    found
}

fn by_code(code: &str) -> Option<(Outcome, Cause)> {
    let meaning = match code {
        "1" => (Outcome::InvalidData, Cause::InvalidEmail),
        "50" | "100" | "120" | "122" => (Outcome::Unauthorized, Cause::BadCredentials),
        "121" => (Outcome::Unauthorized, Cause::ExpiredCredentials),
        "101" | "102" => (Outcome::NotFound, Cause::ResourceNotFound),
        "204" | "206" | "207" => (Outcome::Suppressed, Cause::Unsubscribed),
        "205" => (Outcome::Suppressed, Cause::Forgotten),
        "208" => (Outcome::Suppressed, Cause::Unconfirmed),
        _ => return None,
    };
    Some(meaning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Extracted {
        extract(status, &Body::parse(body.as_bytes()))
    }

    #[test]
    fn the_numeric_code_is_given_as_text() {
        let e = read(400, r#"{"Code":1,"Message":"Invalid Email Address"}"#);
        assert_eq!(e.code.as_deref(), Some("1"));
        assert_eq!(e.field.as_deref(), Some("EmailAddress"));
        assert_eq!(e.cause, Some(Cause::InvalidEmail));
    }

    #[test]
    fn suppressed_states_are_suppressed() {
        for (code, cause) in [
            ("204", Cause::Unsubscribed),
            ("205", Cause::Forgotten),
            ("206", Cause::Unsubscribed),
            ("207", Cause::Unsubscribed),
            ("208", Cause::Unconfirmed),
        ] {
            let e = read(400, &format!(r#"{{"Code":{code},"Message":"x"}}"#));
            assert_eq!(
                (e.outcome, e.cause),
                (Some(Outcome::Suppressed), Some(cause)),
                "{code}"
            );
        }
    }

    #[test]
    fn credentials_codes_are_unauthorized() {
        let e = read(
            401,
            r#"{"Code":50,"Message":"Must supply a valid HTTP Basic Authorization header"}"#,
        );
        assert_eq!(e.outcome, Some(Outcome::Unauthorized));
        let e = read(401, r#"{"Code":121,"Message":"Expired OAuth Token"}"#);
        assert_eq!(e.cause, Some(Cause::ExpiredCredentials));
    }
}
