//! `leadrelay explain` as a user runs it: stdin in, stdout and exit status out.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadrelay"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the leadrelay binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child
        .wait_with_output()
        .expect("the leadrelay binary finishes")
}

const SEED: &str = r#"{"provider":"sendgrid","status":400,"headers":{"Content-Type":"application/json"},"body":"{\"errors\":[{\"field\":\"contacts[0].email\",\"message\":\"invalid email\"}]}","request":{"email":"calebæhnson@provider.com"}}"#;

#[test]
fn one_object_in_gives_one_verdict_out() {
    let out = run(&["explain"], SEED);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(verdict["outcome"], "invalid_data");
    assert_eq!(verdict["class"], "4xx");
    assert_eq!(verdict["field"], "email");
    let explanation = verdict["explanation"].as_str().expect("explanation");
    assert!(explanation.contains("'æ' at position 6"), "{explanation}");
}

#[test]
fn the_verdict_has_exactly_the_contract_keys() {
    let out = run(&["explain"], SEED);

    let verdict: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let mut keys: Vec<&str> = verdict
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "class",
            "explanation",
            "field",
            "message",
            "outcome",
            "provider_code",
            "reason",
            "remedy",
            "retry_after_s",
            "retryable",
            "status"
        ]
    );
}

#[test]
fn unusable_input_exits_2_with_a_message() {
    for (input, phrase) in [
        ("", "no input"),
        ("{\"status\": 400", "not valid JSON"),
        (
            "{\"provider\": \"mailchump\", \"status\": 400}",
            "unknown provider",
        ),
        ("{\"status\": null}", "error"),
    ] {
        let out = run(&["explain"], input);

        assert_eq!(out.status.code(), Some(2), "{input}");
        assert!(out.stdout.is_empty(), "{input}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(phrase), "{input}: {stderr}");
    }
}

#[test]
fn jsonl_answers_every_line_in_order_and_goes_on_after_bad_lines() {
    let input = format!(
        "{SEED}\nnot json\n{}\n\n{}\n",
        r#"{"status":null,"error":{"kind":"timeout"}}"#,
        r#"{"provider":"mailchimp","status":429,"headers":{"Retry-After":"7"},"body":""}"#
    );

    let out = run(&["explain", "--jsonl"], &input);

    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["outcome"], "invalid_data");
    assert!(lines[1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("JSON")));
    assert_eq!(lines[2]["outcome"], "timeout");
    assert_eq!(lines[2]["class"], "network");
    assert!(lines[3]["error"].is_string());
    assert_eq!(lines[4]["outcome"], "rate_limited");
    assert_eq!(lines[4]["retry_after_s"], 7);
}

#[test]
fn pretty_output_is_labelled_text() {
    let out = run(&["explain", "--pretty"], SEED);

    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.starts_with("400 Bad Request (4xx) · invalid data · not retried"),
        "{text}"
    );
    assert!(text.contains("what to do"), "{text}");
}

#[test]
fn help_shows_an_example() {
    let out = run(&["explain", "--help"], "");

    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.contains("Example:") && text.contains("calebæhnson@provider.com"),
        "{text}"
    );
}

/// The README's `leadrelay explain` example, run as written: every command's output must
/// be exactly what the README shows under it, so the README cannot drift.
#[test]
fn the_readme_example_reproduces_exactly() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let section = &readme[readme
        .find("### `leadrelay explain`")
        .expect("the README's leadrelay explain section")..];
    let block = section
        .split("```console\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a console block");
    let mut commands: Vec<(&str, String)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => commands.push((command, String::new())),
            None => {
                let (_, output) = commands.last_mut().expect("output follows a command");
                output.push_str(line);
                output.push('\n');
            }
        }
    }
    let (cat, input) = &commands[0];
    assert_eq!(*cat, "cat answer.json");
    assert!(commands.len() >= 3, "the example shows both forms");
    for (command, want) in &commands[1..] {
        let args: Vec<&str> = command
            .strip_prefix("leadrelay ")
            .and_then(|c| c.strip_suffix(" < answer.json"))
            .expect("a leadrelay command reading answer.json")
            .split(' ')
            .collect();
        let out = run(&args, input);

        assert!(out.status.success(), "{command}");
        assert_eq!(
            String::from_utf8(out.stdout).expect("utf-8"),
            *want,
            "{command}"
        );
    }
}

/// The example in `leadrelay explain --help` is the command's real output.
#[test]
fn the_help_example_reproduces_exactly() {
    let help = String::from_utf8(run(&["explain", "--help"], "").stdout).expect("utf-8");
    let open = "  $ echo '";
    let start = help.find(open).expect("an example in --help") + open.len();
    let (input, rest) = help[start..]
        .split_once("' | leadrelay explain --pretty\n")
        .expect("the example pipes into leadrelay explain --pretty");
    let want: String = rest
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("  ").expect("indented output")))
        .collect();

    let out = run(&["explain", "--pretty"], input);

    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), want);
}
