//! Any status, provider, header value and body must yield a verdict without panicking.
#![no_main]

use leadrelay_explain::answer::ProviderResponse;
use leadrelay_explain::explain::explain;
use leadrelay_explain::provider::Provider;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [p, s1, s2, h, rest @ ..] = data else { return };
    let provider = Provider::ALL.get(usize::from(*p) % (Provider::ALL.len() + 1)).copied();
    let status = 100 + u16::from_le_bytes([*s1, *s2]) % 900;
    let split = usize::from(*h).min(rest.len());
    let (header, body) = rest.split_at(split);
    let response = ProviderResponse::new(status, body.to_vec())
        .with_header("Retry-After", String::from_utf8_lossy(header))
        .with_header("X-RateLimit-Reset", String::from_utf8_lossy(header))
        .with_header("Date", "Wed, 25 Nov 2026 10:00:00 GMT");
    let verdict = explain(provider, &response, None);
    assert_eq!(verdict.retryable, verdict.outcome.retryable());
});
