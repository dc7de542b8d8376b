//! `leadrelay`: the command line. `leadrelay explain` classifies one delivery outcome per
//! `docs/explain.md`: JSON in on stdin, a verdict out on stdout.

#[cfg(feature = "admin")]
mod admin;
mod pretty;

use clap::{Parser, Subcommand};
use leadrelay_explain::input::ExplainInput;
use leadrelay_explain::verdict::Verdict;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;

const EXPLAIN_EXAMPLE: &str = r#"Example:
  $ echo '{"provider": "sendgrid", "status": 400,
           "body": "{\"errors\":[{\"field\":\"contacts[0].email\",\"message\":\"invalid email\"}]}",
           "request": {"email": "calebæhnson@provider.com"}}' | leadrelay explain --pretty
  400 Bad Request (4xx) · invalid data · not retried
  field          email
  provider said  invalid email
  what happened  SendGrid refused this registration because the email address has 'æ' at position 6; only ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- are accepted before the @.
  what to do     Correct the email address in this registration and resend it. In email addresses 'æ' is usually written as 'ae'; check the exact spelling with the person if you can.

With --json (the default when stdout is not a terminal) the same verdict is one JSON
object with the keys of docs/explain.md.

Input keys: provider (mailchimp, hubspot, hubspot_forms, klaviyo, sendgrid, brevo,
activecampaign, salesforce, mailjet, campaign_monitor, dynamics, webhook, or null),
status (or null when no response came back), headers, body (raw text), error
({"kind": "timeout"|"connect"|"dns"|"tls"|"reset"|"body"} when status is null), and
optionally request (the fields that were sent, to check the values)."#;

/// leadrelay: delivers campaign registrations to CRMs and explains every outcome.
#[derive(Parser)]
#[command(name = "leadrelay", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify and explain one delivery outcome read as JSON on stdin.
    #[command(after_help = EXPLAIN_EXAMPLE)]
    Explain {
        /// Read one JSON object per line and write one verdict per line, flushing each.
        #[arg(long)]
        jsonl: bool,
        /// Write a readable form instead of JSON (the default when stdout is a terminal).
        #[arg(long)]
        pretty: bool,
        /// Write JSON even when stdout is a terminal.
        #[arg(long, conflicts_with = "pretty")]
        json: bool,
    },
    /// Administer a deployment directly in its table (with your AWS credentials).
    #[cfg(feature = "admin")]
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[cfg(feature = "admin")]
#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account and its first account key (an admin key, shown once), or with
    /// --platform the platform key, which creates accounts over the API (POST
    /// /v1/accounts) and reads none. The table comes from TABLE_NAME (the stack's
    /// TableName output); credentials and region from the usual AWS environment.
    #[command(
        after_help = "Examples:\n  TABLE_NAME=leadrelay-prod leadrelay admin bootstrap --account-name \"Acme\"\n  TABLE_NAME=leadrelay-prod leadrelay admin bootstrap --platform"
    )]
    Bootstrap {
        /// The account's name.
        #[arg(
            long,
            required_unless_present = "platform",
            conflicts_with = "platform"
        )]
        account_name: Option<String>,
        /// Make the platform key instead of an account.
        #[arg(long)]
        platform: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "admin")]
        Command::Admin {
            command:
                AdminCommand::Bootstrap {
                    account_name,
                    platform,
                },
        } => match account_name {
            Some(name) if !platform => admin::bootstrap(&name),
            _ => admin::bootstrap_platform(),
        },
        Command::Explain {
            jsonl,
            pretty,
            json,
        } => {
            let pretty = pretty || (!json && io::stdout().is_terminal());
            let result = if jsonl {
                explain_lines(pretty)
            } else {
                explain_one(pretty)
            };
            match result {
                Ok(code) => code,
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("leadrelay explain: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn verdict_of(text: &str) -> Result<Verdict, leadrelay_explain::input::InputError> {
    let input = ExplainInput::from_json(text)?;
    Ok(leadrelay_explain::explain::explain(
        input.provider,
        &input.response,
        input.request.as_ref(),
    ))
}

fn write_verdict(out: &mut impl Write, verdict: &Verdict, pretty: bool) -> io::Result<()> {
    if pretty {
        out.write_all(pretty::render(verdict).as_bytes())
    } else {
        serde_json::to_writer(&mut *out, verdict).map_err(io::Error::other)?;
        out.write_all(b"\n")
    }
}

fn explain_one(pretty: bool) -> io::Result<ExitCode> {
    let mut raw = Vec::new();
    io::stdin().lock().read_to_end(&mut raw)?;
    let Ok(text) = std::str::from_utf8(&raw) else {
        eprintln!("leadrelay explain: input is not UTF-8 text; expected one JSON object");
        return Ok(ExitCode::from(2));
    };
    if text.trim().is_empty() {
        eprintln!("leadrelay explain: no input on stdin; expected one JSON object (see --help)");
        return Ok(ExitCode::from(2));
    }
    match verdict_of(text) {
        Ok(verdict) => {
            let mut out = io::stdout().lock();
            write_verdict(&mut out, &verdict, pretty)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("leadrelay explain: unusable input: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn explain_lines(pretty: bool) -> io::Result<ExitCode> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let verdict = std::str::from_utf8(&line)
            .map_err(|_| "line is not UTF-8 text".to_owned())
            .and_then(|text| {
                if text.trim().is_empty() {
                    Err("empty line; expected one JSON object".to_owned())
                } else {
                    verdict_of(text).map_err(|e| e.to_string())
                }
            });
        match verdict {
            Ok(v) => write_verdict(&mut out, &v, pretty)?,
            Err(message) => {
                serde_json::to_writer(&mut out, &serde_json::json!({ "error": message }))
                    .map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
