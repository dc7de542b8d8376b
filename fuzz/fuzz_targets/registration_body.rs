//! Any bytes posted as a registration, as JSON or as a form, are read without panicking
//! into either a registration within the limits or errors that each name a field, the
//! same way every time.
#![no_main]

use leadrelay::intake::{self, Encoding, IntakeError, MAX_BODY_BYTES, MAX_FIELDS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [how, body @ ..] = data else { return };
    let encoding = if how & 1 == 0 {
        Encoding::Json
    } else {
        Encoding::Form
    };
    let first = intake::parse(body, encoding);
    assert_eq!(first, intake::parse(body, encoding), "not deterministic");
    match first {
        Ok(registration) => {
            assert!(body.len() <= MAX_BODY_BYTES);
            assert!(registration.fields.len() <= MAX_FIELDS);
            let _ = intake::to_json(&registration);
        }
        Err(IntakeError::TooLarge(n)) => assert!(n > MAX_BODY_BYTES && n == body.len()),
        Err(IntakeError::Invalid(errors)) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| !e.field.is_empty() && !e.message.is_empty()));
        }
    }
});
