//! Any line given to `leadrelay explain --jsonl` yields a verdict or an input error.
#![no_main]

use leadrelay_explain::explain::explain;
use leadrelay_explain::input::ExplainInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(input) = ExplainInput::from_json(text) {
        let _ = explain(input.provider, &input.response, input.request.as_ref());
    }
});
