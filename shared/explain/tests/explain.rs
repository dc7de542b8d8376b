//! Golden tests: every file in `tests/fixtures/explain/` is one provider answer (input in
//! the shape of `docs/explain.md`, plus the optional `request`) and the verdict it must get.
//!
//! `expect` lists verdict keys that must match exactly (`null` means must be null); the
//! keys `outcome`, `class`, `retryable`, `retry_after_s`, `provider_code` and `field` are
//! required so every fixture pins the whole classification. `explanation_contains` and
//! `remedy_contains` list phrases the rendered texts must include, `explanation_excludes`
//! and `remedy_excludes` phrases they must not (compared ignoring case). Adding a case is
//! adding a file.

use leadrelay_explain::input::ExplainInput;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

const REQUIRED: [&str; 6] = [
    "outcome",
    "class",
    "retryable",
    "retry_after_s",
    "provider_code",
    "field",
];

fn fixture_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let fixture: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let input = fixture.get("input").cloned().ok_or("no \"input\"")?;
    let expect = fixture
        .get("expect")
        .and_then(Value::as_object)
        .ok_or("no \"expect\" object")?;
    for key in REQUIRED {
        if !expect.contains_key(key) {
            return Err(format!("expect lacks required key {key:?}"));
        }
    }
    let input = ExplainInput::from_value(input).map_err(|e| format!("bad input: {e}"))?;

    let verdict = leadrelay_explain::explain::explain(
        input.provider,
        &input.response,
        input.request.as_ref(),
    );

    let got = serde_json::to_value(&verdict).map_err(|e| e.to_string())?;
    let got = got.as_object().ok_or("verdict is not an object")?;
    let mut problems = Vec::new();
    for (key, want) in expect {
        match key.as_str() {
            "explanation_excludes" | "remedy_excludes" => {
                let text_key = key.trim_end_matches("_excludes");
                let text = got
                    .get(text_key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_lowercase();
                for phrase in want
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if text.contains(&phrase.to_lowercase()) {
                        problems.push(format!("{text_key} contains {phrase:?}: {text:?}"));
                    }
                }
            }
            "explanation_contains" | "remedy_contains" => {
                let text_key = key.trim_end_matches("_contains");
                let text = got
                    .get(text_key)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                for phrase in want
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if !text.contains(phrase) {
                        problems.push(format!("{text_key} lacks {phrase:?}: {text:?}"));
                    }
                }
            }
            _ => match got.get(key) {
                Some(value) if value == want => {}
                Some(value) => problems.push(format!("{key}: want {want}, got {value}")),
                None => problems.push(format!("{key}: not a verdict key")),
            },
        }
    }
    consistency(got, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

/// What must hold for every verdict, whatever the fixture says.
fn consistency(got: &Map<String, Value>, problems: &mut Vec<String>) {
    for key in ["explanation", "remedy"] {
        let text = got.get(key).and_then(Value::as_str).unwrap_or_default();
        if text.trim().is_empty() {
            problems.push(format!("{key} is empty"));
        }
        if text.contains('{') && text.contains("\":") {
            problems.push(format!("{key} shows raw JSON: {text:?}"));
        }
    }
}

#[test]
fn every_fixture_gets_its_expected_verdict() {
    let files = fixture_files();
    let mut failures = Vec::new();
    for path in &files {
        if let Err(why) = check(path) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            failures.push(format!("{name}:\n    {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_cover_every_provider_and_outcome() {
    let mut providers = std::collections::BTreeSet::new();
    let mut outcomes = std::collections::BTreeSet::new();
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("json");
        let provider = fixture["input"]["provider"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        providers.insert(provider);
        if let Some(o) = fixture["expect"]["outcome"].as_str() {
            outcomes.insert(o.to_owned());
        }
    }
    for p in leadrelay_explain::provider::Provider::ALL {
        assert!(
            providers.contains(p.as_str()),
            "no fixture for provider {p}"
        );
    }
    assert!(
        providers.contains("unknown"),
        "no fixture for an unknown API"
    );
    for o in leadrelay_explain::verdict::Outcome::ALL {
        assert!(
            outcomes.contains(o.as_str()),
            "no fixture with outcome {}",
            o.as_str()
        );
    }
}

/// One refusal per provider, padded past the size up to which bodies are parsed as JSON
/// (1 MiB): such bodies are read from their opening, and must come to the same verdict.
#[test]
fn bodies_too_big_to_parse_are_read_from_their_opening_for_every_provider() {
    const PADDED: [&str; 11] = [
        "mailchimp-400-member-exists",
        "hubspot-409-contact-exists",
        "hubspot-forms-400-invalid-email",
        "klaviyo-409-duplicate-profile",
        "sendgrid-400-invalid-email",
        "brevo-400-duplicate-email",
        "activecampaign-422-email-invalid",
        "salesforce-403-request-limit-exceeded",
        "mailjet-400-mj18-contact-exists",
        "campaign-monitor-400-unsubscribed",
        "dynamics-429-service-protection",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain");
    let padding = format!(",\"padding\":\"{}\"}}", "p".repeat(1 << 20));
    for name in PADDED {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("fixture");
        let fixture: Value = serde_json::from_str(&text).expect("json");
        let input = ExplainInput::from_value(fixture["input"].clone()).expect("input");
        let mut padded = input.response.clone();
        let body = String::from_utf8(padded.body.clone()).expect("utf-8 body");
        let close = body.rfind('}').expect("a JSON object in the body");
        padded.body = format!("{}{}{}", &body[..close], padding, &body[close + 1..]).into_bytes();
        assert!(padded.body.len() > 1 << 20, "{name}: not padded past 1 MiB");

        let whole = leadrelay_explain::explain::explain(input.provider, &input.response, None);
        let opening = leadrelay_explain::explain::explain(input.provider, &padded, None);

        assert_eq!(
            (opening.outcome, &opening.provider_code, &opening.field),
            (whole.outcome, &whole.provider_code, &whole.field),
            "{name}"
        );
        assert!(
            opening.message.is_none_or(|m| m.chars().count() <= 1001),
            "{name}"
        );
    }
}

/// Every fixture's body cut short at many points (as a read cap or a dropped connection
/// would) still gets a consistent verdict whose texts show no raw JSON.
#[test]
fn every_fixture_cut_short_anywhere_still_gets_a_clean_verdict() {
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("json");
        let input = ExplainInput::from_value(fixture["input"].clone()).expect("input");
        let body = &input.response.body;
        let step = (body.len() / 48).max(1);
        for cut in (0..body.len()).step_by(step) {
            let mut response = input.response.clone();
            response.body.truncate(cut);

            let verdict = leadrelay_explain::explain::explain(
                input.provider,
                &response,
                input.request.as_ref(),
            );

            let got = serde_json::to_value(&verdict).expect("verdict serialises");
            let mut problems = Vec::new();
            consistency(got.as_object().expect("object"), &mut problems);
            assert!(
                problems.is_empty(),
                "{} cut at {cut}: {problems:?}",
                path.display()
            );
            assert_eq!(verdict.retryable, verdict.outcome.retryable());
        }
    }
}

/// What a marketer reads must be short and clean whatever the provider sent: at most 300
/// characters each, no replacement character from a body in another charset, no HTML tag,
/// no raw JSON, no sentence said twice.
#[test]
fn every_text_keeps_the_text_rules() {
    let mut failures = Vec::new();
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("json");
        let input = ExplainInput::from_value(fixture["input"].clone()).expect("input");
        let verdict = leadrelay_explain::explain::explain(
            input.provider,
            &input.response,
            input.request.as_ref(),
        );
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        for (key, text) in [
            ("explanation", &verdict.explanation),
            ("remedy", &verdict.remedy),
        ] {
            for problem in text_problems(text) {
                failures.push(format!(
                    "{}: {key} {problem}: {text:?}",
                    name.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} texts break the rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The ways a text can break the text rules.
fn text_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let chars = text.chars().count();
    if chars > 300 {
        problems.push(format!("is {chars} characters long"));
    }
    if text.contains('\u{FFFD}') {
        problems.push("holds U+FFFD".to_owned());
    }
    let bytes = text.as_bytes();
    if bytes.windows(2).enumerate().any(|(i, w)| {
        w[0] == b'<'
            && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!')
            && text[i..].contains('>')
    }) {
        problems.push("holds an HTML tag".to_owned());
    }
    if (text.contains('{') || text.contains('[')) && text.contains("\":") {
        problems.push("holds raw JSON".to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    for sentence in text
        .split_terminator(". ")
        .map(str::trim)
        .filter(|s| s.len() > 12)
    {
        if !seen.insert(sentence.trim_end_matches('.').to_lowercase()) {
            problems.push(format!("repeats {sentence:?}"));
        }
    }
    problems
}

/// A marketer reading a retryable verdict learns when leadrelay tries again: the stated
/// wait, the schedule's first wait, or when the provider's limit resets.
#[test]
fn every_retryable_verdict_says_when_leadrelay_tries_again() {
    let mut silent = Vec::new();
    for path in fixture_files() {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("json");
        let input = ExplainInput::from_value(fixture["input"].clone()).expect("input");
        let verdict = leadrelay_explain::explain::explain(
            input.provider,
            &input.response,
            input.request.as_ref(),
        );
        let says_when = ["tries again in ", "keeps trying, and deliveries go through"]
            .iter()
            .any(|p| verdict.remedy.contains(p));
        if verdict.retryable && !says_when {
            silent.push(format!("{}: {:?}", path.display(), verdict.remedy));
        }
    }
    assert!(silent.is_empty(), "{}", silent.join("\n"));
}

#[test]
fn the_text_rules_catch_what_they_name() {
    assert!(text_problems("Mailchimp refused it. Correct the address and resend.").is_empty());
    assert_eq!(text_problems(&"a".repeat(301)).len(), 1);
    assert_eq!(text_problems("It said: \"caf\u{FFFD}\".").len(), 1);
    assert_eq!(
        text_problems("It said: \"<title>Just a moment</title>\".").len(),
        1
    );
    assert!(text_problems("a < b and c > d").is_empty());
    assert_eq!(text_problems("It said: {\"error\": 1}").len(), 1);
    assert_eq!(
        text_problems("Nothing was lost here. Nothing was lost here.").len(),
        1
    );
}
