//! HTTP status codes: reason phrases, and whether IANA registered them.
//!
//! The registered codes are those of the IANA "HTTP Status Code Registry"
//! (<https://www.iana.org/assignments/http-status-codes/>), with the phrases of RFC 9110
//! where it renamed one (413 "Content Too Large", 422 "Unprocessable Content"). The
//! unofficial codes are the ones CRMs, ESPs and the proxies in front of them are known to
//! answer with (nginx, Cloudflare, AWS load balancers, IIS, HubSpot); their phrases are the
//! vendors' own names, in title case.
//!
//! The class of any code is [`Class::of_status`](crate::verdict::Class::of_status): the first digit.

/// One row of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    code: u16,
    reason: &'static str,
    registered: bool,
}

const fn iana(code: u16, reason: &'static str) -> Entry {
    Entry {
        code,
        reason,
        registered: true,
    }
}

const fn unofficial(code: u16, reason: &'static str) -> Entry {
    Entry {
        code,
        reason,
        registered: false,
    }
}

/// Every code leadrelay can name, sorted by code (a test keeps it so: lookups binary-search).
static REGISTRY: &[Entry] = &[
    iana(100, "Continue"),
    iana(101, "Switching Protocols"),
    // RFC 2518 (WebDAV); RFC 4918 dropped it but the IANA entry stays.
    iana(102, "Processing"),
    // RFC 8297.
    iana(103, "Early Hints"),
    // draft-ietf-httpbis-resumable-upload, a temporary IANA registration.
    iana(104, "Upload Resumption Supported"),
    iana(200, "OK"),
    iana(201, "Created"),
    iana(202, "Accepted"),
    iana(203, "Non-Authoritative Information"),
    iana(204, "No Content"),
    iana(205, "Reset Content"),
    iana(206, "Partial Content"),
    // RFC 4918 (WebDAV).
    iana(207, "Multi-Status"),
    // RFC 5842 (WebDAV bindings).
    iana(208, "Already Reported"),
    // RFC 3229 (delta encoding).
    iana(226, "IM Used"),
    iana(300, "Multiple Choices"),
    iana(301, "Moved Permanently"),
    iana(302, "Found"),
    iana(303, "See Other"),
    iana(304, "Not Modified"),
    iana(305, "Use Proxy"),
    // RFC 9110 §15.4.7: reserved, no longer used.
    iana(306, "(Unused)"),
    iana(307, "Temporary Redirect"),
    iana(308, "Permanent Redirect"),
    iana(400, "Bad Request"),
    iana(401, "Unauthorized"),
    iana(402, "Payment Required"),
    iana(403, "Forbidden"),
    iana(404, "Not Found"),
    iana(405, "Method Not Allowed"),
    iana(406, "Not Acceptable"),
    iana(407, "Proxy Authentication Required"),
    iana(408, "Request Timeout"),
    iana(409, "Conflict"),
    iana(410, "Gone"),
    iana(411, "Length Required"),
    iana(412, "Precondition Failed"),
    iana(413, "Content Too Large"),
    iana(414, "URI Too Long"),
    iana(415, "Unsupported Media Type"),
    iana(416, "Range Not Satisfiable"),
    iana(417, "Expectation Failed"),
    // RFC 9110 §15.5.19 reserves 418 ("(Unused)") because RFC 2324's teapot is deployed;
    // the deployed name is the one people recognise in a log.
    iana(418, "I'm a teapot"),
    // Laravel: the CSRF token expired.
    unofficial(419, "Page Expired"),
    // Twitter's old rate limit (Spring's "Method Failure" is rarer).
    unofficial(420, "Enhance Your Calm"),
    iana(421, "Misdirected Request"),
    iana(422, "Unprocessable Content"),
    iana(423, "Locked"),
    iana(424, "Failed Dependency"),
    // RFC 8470.
    iana(425, "Too Early"),
    iana(426, "Upgrade Required"),
    // RFC 6585: 428, 429, 431, 511.
    iana(428, "Precondition Required"),
    iana(429, "Too Many Requests"),
    iana(431, "Request Header Fields Too Large"),
    // Microsoft IIS: the session expired.
    unofficial(440, "Login Time-out"),
    // nginx: closed the connection without a response.
    unofficial(444, "No Response"),
    // Microsoft IIS.
    unofficial(449, "Retry With"),
    // Microsoft.
    unofficial(450, "Blocked by Windows Parental Controls"),
    // RFC 7725.
    iana(451, "Unavailable For Legal Reasons"),
    // AWS Elastic Load Balancing: the client closed the connection before the idle timeout.
    unofficial(460, "Client Closed Connection"),
    // AWS Elastic Load Balancing: more than 30 addresses in X-Forwarded-For.
    unofficial(463, "Too Many Forwarded Addresses"),
    // HubSpot: the portal is being migrated between data centers; retry after the wait.
    // https://developers.hubspot.com/docs/api/error-handling
    unofficial(477, "Migration in Progress"),
    // nginx 494-497 and 499; 498 is Esri ArcGIS.
    unofficial(494, "Request Header Too Large"),
    unofficial(495, "SSL Certificate Error"),
    unofficial(496, "SSL Certificate Required"),
    unofficial(497, "HTTP Request Sent to HTTPS Port"),
    unofficial(498, "Invalid Token"),
    unofficial(499, "Client Closed Request"),
    iana(500, "Internal Server Error"),
    iana(501, "Not Implemented"),
    iana(502, "Bad Gateway"),
    iana(503, "Service Unavailable"),
    iana(504, "Gateway Timeout"),
    iana(505, "HTTP Version Not Supported"),
    // RFC 2295.
    iana(506, "Variant Also Negotiates"),
    // RFC 4918.
    iana(507, "Insufficient Storage"),
    // RFC 5842.
    iana(508, "Loop Detected"),
    // Apache and cPanel hosting.
    unofficial(509, "Bandwidth Limit Exceeded"),
    // RFC 2774, marked obsoleted (historic) by IANA but still registered.
    iana(510, "Not Extended"),
    iana(511, "Network Authentication Required"),
    // Cloudflare, in front of the origin: https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/
    unofficial(520, "Web Server Returned an Unknown Error"),
    unofficial(521, "Web Server Is Down"),
    unofficial(522, "Connection Timed Out"),
    unofficial(523, "Origin Is Unreachable"),
    unofficial(524, "A Timeout Occurred"),
    unofficial(525, "SSL Handshake Failed"),
    unofficial(526, "Invalid SSL Certificate"),
    unofficial(527, "Railgun Error"),
    // Qualys SSL Labs.
    unofficial(529, "Site is overloaded"),
    // Cloudflare answers 530 with one of its 1xxx errors in the body (often 1016, origin DNS).
    unofficial(530, "Cloudflare 1xxx Error"),
    // AWS Elastic Load Balancing: the identity provider refused the authentication.
    unofficial(561, "Unauthorized"),
    // Informal proxy codes (Microsoft network proxies).
    unofficial(598, "Network read timeout error"),
    unofficial(599, "Network Connect Timeout Error"),
];

fn entry(status: u16) -> Option<&'static Entry> {
    REGISTRY
        .binary_search_by_key(&status, |e| e.code)
        .ok()
        .and_then(|i| REGISTRY.get(i))
}

/// The registered reason phrase of a status, or the well-known one of an unofficial code;
/// `None` for codes nobody names.
pub fn reason(status: u16) -> Option<&'static str> {
    entry(status).map(|e| e.reason)
}

/// Is the status in the IANA registry (including the reserved 306 and 418)? `false` for
/// unofficial codes such as 499 or 520, and for codes nobody names.
pub fn is_registered(status: u16) -> bool {
    entry(status).is_some_and(|e| e.registered)
}

/// Every code with a name, in ascending order, with its reason phrase.
pub fn known() -> impl Iterator<Item = (u16, &'static str)> {
    REGISTRY.iter().map(|e| (e.code, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Class;

    #[test]
    fn the_registry_is_sorted_without_duplicates() {
        for pair in REGISTRY.windows(2) {
            assert!(pair[0].code < pair[1].code, "{:?}", pair);
        }
    }

    #[test]
    fn every_iana_code_is_registered_with_its_rfc_9110_phrase() {
        let iana_codes: Vec<u16> = (100..=104)
            .chain(200..=208)
            .chain([226])
            .chain(300..=308)
            .chain(400..=418)
            .chain(421..=426)
            .chain([428, 429, 431, 451])
            .chain(500..=508)
            .chain([510, 511])
            .collect();
        for code in &iana_codes {
            assert!(is_registered(*code), "{code}");
            assert!(reason(*code).is_some(), "{code}");
        }
        let registered: Vec<u16> = REGISTRY
            .iter()
            .filter(|e| e.registered)
            .map(|e| e.code)
            .collect();
        assert_eq!(registered, iana_codes);
    }

    #[test]
    fn phrases_follow_rfc_9110() {
        for (code, phrase) in [
            (200, "OK"),
            (306, "(Unused)"),
            (308, "Permanent Redirect"),
            (400, "Bad Request"),
            (413, "Content Too Large"),
            (416, "Range Not Satisfiable"),
            (418, "I'm a teapot"),
            (421, "Misdirected Request"),
            (422, "Unprocessable Content"),
            (425, "Too Early"),
            (429, "Too Many Requests"),
            (451, "Unavailable For Legal Reasons"),
            (503, "Service Unavailable"),
            (511, "Network Authentication Required"),
        ] {
            assert_eq!(reason(code), Some(phrase), "{code}");
        }
    }

    #[test]
    fn well_known_unofficial_codes_have_names_but_no_registration() {
        for (code, phrase) in [
            (419, "Page Expired"),
            (420, "Enhance Your Calm"),
            (440, "Login Time-out"),
            (444, "No Response"),
            (449, "Retry With"),
            (450, "Blocked by Windows Parental Controls"),
            (460, "Client Closed Connection"),
            (463, "Too Many Forwarded Addresses"),
            (477, "Migration in Progress"),
            (494, "Request Header Too Large"),
            (495, "SSL Certificate Error"),
            (496, "SSL Certificate Required"),
            (497, "HTTP Request Sent to HTTPS Port"),
            (498, "Invalid Token"),
            (499, "Client Closed Request"),
            (509, "Bandwidth Limit Exceeded"),
            (520, "Web Server Returned an Unknown Error"),
            (521, "Web Server Is Down"),
            (522, "Connection Timed Out"),
            (523, "Origin Is Unreachable"),
            (524, "A Timeout Occurred"),
            (525, "SSL Handshake Failed"),
            (526, "Invalid SSL Certificate"),
            (527, "Railgun Error"),
            (529, "Site is overloaded"),
            (530, "Cloudflare 1xxx Error"),
            (561, "Unauthorized"),
            (598, "Network read timeout error"),
            (599, "Network Connect Timeout Error"),
        ] {
            assert_eq!(reason(code), Some(phrase), "{code}");
            assert!(!is_registered(code), "{code}");
        }
    }

    #[test]
    fn unnamed_codes_have_no_reason() {
        for code in [
            0,
            99,
            105,
            209,
            299,
            309,
            427,
            430,
            432,
            512,
            600,
            999,
            u16::MAX,
        ] {
            assert_eq!(reason(code), None, "{code}");
            assert!(!is_registered(code), "{code}");
        }
    }

    #[test]
    fn every_named_code_has_the_class_of_its_first_digit() {
        for code in 100..=599u16 {
            let Some(phrase) = reason(code) else { continue };
            let expected = match code / 100 {
                1 => Class::Informational,
                2 => Class::Success,
                3 => Class::Redirection,
                4 => Class::ClientError,
                _ => Class::ServerError,
            };
            assert_eq!(Class::of_status(code), expected, "{code} {phrase}");
            assert!(!phrase.is_empty() && phrase.trim() == phrase, "{code}");
        }
        assert!(known().all(|(code, _)| (100..=599).contains(&code)));
    }
}
