//! `ledger`: proves the delivery promise end to end. `ledger run [--long]` drives the
//! scenarios (load, AWS faults, provider faults, crashes) against the emulator and prints
//! one table; it exits non-zero when a registration answered 202 was lost or sent twice.
//! `ingest-server` and `deliver-worker` are the child processes it starts and kills.

mod children;
mod driver;
mod faults;
mod ledger;
mod net;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "leadrelay's ledger run")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs the scenarios and prints the table.
    Run {
        /// The long mode (about 10 minutes and more).
        #[arg(long)]
        long: bool,
        /// Only these scenarios (load, aws, provider, crashes), comma-separated.
        #[arg(long)]
        only: Option<String>,
        /// The emulator serving SQS and KMS.
        #[arg(long)]
        moto_sqs: String,
        /// The emulator serving DynamoDB.
        #[arg(long)]
        moto_ddb: String,
        /// Where the child processes' logs go.
        #[arg(long)]
        out: PathBuf,
    },
    /// The ingest handler behind a loopback HTTP server.
    IngestServer {
        /// The port on 127.0.0.1.
        #[arg(long)]
        port: u16,
        /// Ends after this many seconds.
        #[arg(long, default_value_t = 900)]
        max_secs: u64,
    },
    /// The reconcile handler on a schedule.
    ReconcileLoop {
        /// Seconds between runs.
        #[arg(long, default_value_t = 5)]
        every_s: u64,
        /// Ends after this many seconds.
        #[arg(long, default_value_t = 900)]
        max_secs: u64,
    },
    /// The deliver handler fed from the queue.
    DeliverWorker {
        /// Ends after this many seconds.
        #[arg(long, default_value_t = 900)]
        max_secs: u64,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::IngestServer { port, max_secs } => {
            children::ingest_server(port, Duration::from_secs(max_secs)).await
        }
        Cmd::ReconcileLoop { every_s, max_secs } => {
            children::reconcile_loop(Duration::from_secs(every_s), Duration::from_secs(max_secs))
                .await
        }
        Cmd::DeliverWorker { max_secs } => {
            let poll = children::PollConfig {
                pollers: 4,
                visibility: Duration::from_secs(2),
                // At least the attempt lease (ATTEMPT_TIMEOUT_S 8 + 30 s), as the queue's 360 s
                // visibility is in the stack: a job held by a dead worker's lease is not
                // received five times (and dead-lettered) before the lease ends.
                failed_visibility: Duration::from_secs(40),
                function_timeout: Duration::from_secs(60),
            };
            children::deliver_worker(poll, Duration::from_secs(max_secs)).await
        }
        Cmd::Run {
            long,
            only,
            moto_sqs,
            moto_ddb,
            out,
        } => {
            let env = driver::Env {
                moto_sqs,
                moto_ddb,
                out,
                long,
            };
            return run(&env, only.as_deref()).await;
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(env: &driver::Env, only: Option<&str>) -> std::process::ExitCode {
    if let Err(e) = std::fs::create_dir_all(&env.out) {
        eprintln!("ledger: {}: {e}", env.out.display());
        return std::process::ExitCode::FAILURE;
    }
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for s in driver::scenarios(env.long) {
        let wanted = only.is_none_or(|o| {
            o.split(',')
                .any(|w| !w.is_empty() && s.name.starts_with(w.trim()))
        });
        if !wanted {
            continue;
        }
        eprintln!(
            "ledger: scenario '{}': {} registrations/s for {} s",
            s.name, s.rate, s.secs
        );
        match driver::run(env, &s).await {
            Ok(f) => {
                eprintln!(
                    "ledger: scenario '{}' done in {:.0} s: {}",
                    s.name,
                    f.wall.as_secs_f64(),
                    // Indented lines are examples, not failures (as in the verdict below).
                    if f.failures.iter().all(|l| l.starts_with("  ")) {
                        "PASS"
                    } else {
                        "FAIL"
                    }
                );
                results.push((s, f));
            }
            Err(e) => {
                eprintln!("ledger: scenario '{}' could not run: {e}", s.name);
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    println!(
        "\nledger run ({} mode, {:.0} s)\n",
        if env.long { "long" } else { "short" },
        started.elapsed().as_secs_f64()
    );
    println!("{}", ledger::table(&results));
    let mut failed = false;
    for (s, f) in &results {
        if f.failures.is_empty() {
            continue;
        }
        println!("{}:", s.name);
        for line in &f.failures {
            failed |= !line.starts_with("  ");
            println!("  {line}");
        }
    }
    if failed {
        println!("\nledger: FAIL: a registration answered 202 was lost, stranded or sent twice (see above)");
        std::process::ExitCode::FAILURE
    } else {
        println!("\nledger: PASS: every 202 accounted for, nothing sent twice");
        std::process::ExitCode::SUCCESS
    }
}
