//! `leadrelay-dev`: the local stack's moving parts, one subcommand each.

use clap::{Parser, Subcommand};
use leadrelay_dev::providers::FakeProvider;
use leadrelay_dev::{demo, fake, gateway, pump, receiver, template};
use leadrelay_explain::provider::Provider;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "leadrelay-dev",
    about = "leadrelay's local tools (used by scripts/run-local.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the template's tables, queues and keys on the emulator; print their names
    /// as environment variables.
    Setup {
        /// Prefix of the local names.
        #[arg(long, default_value = "local")]
        prefix: String,
        /// The template.
        #[arg(long)]
        template: Option<PathBuf>,
    },
    /// Print a new webhook signing secret.
    Secret,
    /// Serve the demo's webhook receiver and its fake Mailchimp and HubSpot APIs until
    /// stopped.
    Fakes {
        /// Where the webhook receiver listens.
        #[arg(long, default_value = "127.0.0.2:8701")]
        webhook: String,
        /// The signing secret it verifies.
        #[arg(long)]
        secret: String,
        /// Where the fake Mailchimp API listens.
        #[arg(long, default_value = "127.0.0.2:8702")]
        mailchimp: String,
        /// Where the fake HubSpot API listens.
        #[arg(long, default_value = "127.0.0.2:8703")]
        hubspot: String,
    },
    /// Play the SQS event source mapping: poll the queue, invoke deliver, delete successes.
    Pump {
        /// The delivery queue.
        #[arg(long)]
        queue_url: String,
        /// The deliver function's invoke URL.
        #[arg(
            long,
            default_value = "http://127.0.0.1:9000/2015-03-31/functions/deliver/invocations"
        )]
        invoke_url: String,
        /// How long an invocation may take before the pump gives up on it (the messages
        /// stay on the queue and come back after the visibility timeout, as in AWS).
        #[arg(long, default_value_t = 60)]
        invoke_timeout_s: u64,
    },
    /// Play the reconciler's EventBridge schedule: invoke the reconcile function every
    /// `every_s` seconds with a scheduled event.
    Schedule {
        /// The reconcile function's invoke URL.
        #[arg(
            long,
            default_value = "http://127.0.0.1:9000/2015-03-31/functions/reconcile/invocations"
        )]
        invoke_url: String,
        /// Seconds between runs (the template's schedule: 60).
        #[arg(long, default_value_t = 60)]
        every_s: u64,
    },
    /// Play API Gateway: one base URL, routed to the functions behind cargo lambda watch.
    Gateway {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// cargo lambda watch's address.
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        watch: String,
        /// How long a function may take before the gateway answers 504 (API Gateway's
        /// limit is 30 s; locally more, for `cargo lambda watch` building a function on
        /// its first invocation).
        #[arg(long, default_value_t = 60)]
        timeout_s: u64,
    },
    /// Check that every function still answers: bootstrap an account, create a webhook
    /// integration and a campaign through the API, post a registration and wait until
    /// it is delivered (ingest, admin, logs and, through the pump, deliver).
    Smoke {
        /// The API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// The webhook receiver's URL.
        #[arg(long, default_value = "http://127.0.0.2:8701/hooks/leads")]
        webhook_url: String,
        /// The receiver's signing secret.
        #[arg(long)]
        secret: String,
    },
    /// Run the demo against the running stack (TABLE_NAME names the table for the
    /// account bootstrap).
    Demo {
        /// The API's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// The webhook receiver's URL.
        #[arg(long, default_value = "http://127.0.0.2:8701/hooks/leads")]
        webhook_url: String,
        /// The receiver's signing secret.
        #[arg(long)]
        secret: String,
        /// The fake Mailchimp API's base URL.
        #[arg(long, default_value = "http://127.0.0.2:8702")]
        mailchimp_url: String,
        /// The fake HubSpot API's base URL.
        #[arg(long, default_value = "http://127.0.0.2:8703")]
        hubspot_url: String,
    },
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Setup {
            prefix,
            template: path,
        } => {
            let resources = template::load(&path.unwrap_or_else(template::template_path))?;
            let config = leadrelay_aws::config::load().await;
            let created = template::create(&config, &resources, &prefix).await?;
            let get = |m: &std::collections::BTreeMap<String, String>, k: &str| {
                m.get(k).cloned().unwrap_or_default()
            };
            println!("TABLE_NAME={}", get(&created.tables, "Table"));
            println!("QUEUE_URL={}", get(&created.queues, "DeliveryQueue"));
            println!("DLQ_URL={}", get(&created.queues, "DeadLetterQueue"));
            println!("KMS_KEY_ID={}", get(&created.keys, "CredentialsKey"));
        }
        Command::Secret => println!("{}", leadrelay::destination::signature::generate_secret()),
        Command::Fakes {
            webhook,
            secret,
            mailchimp,
            hubspot,
        } => {
            let server =
                fake::FakeServer::start(&webhook, receiver::demo_handler(Some(secret))).await?;
            eprintln!("fake webhook receiver on {}", server.url());
            let mailchimp =
                FakeProvider::start(Provider::Mailchimp, &mailchimp, demo::MAILCHIMP_DEMO_KEY)
                    .await?;
            eprintln!("fake Mailchimp API on {}", mailchimp.url());
            let hubspot =
                FakeProvider::start(Provider::Hubspot, &hubspot, demo::HUBSPOT_DEMO_TOKEN).await?;
            eprintln!("fake HubSpot API on {}", hubspot.url());
            tokio::signal::ctrl_c().await?;
        }
        Command::Pump {
            queue_url,
            invoke_url,
            invoke_timeout_s,
        } => {
            let config = leadrelay_aws::config::load().await;
            let sqs = aws_sdk_sqs::Client::new(&config);
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await?;
            let queue_arn = attrs
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
                .cloned()
                .unwrap_or_default();
            // Long polls outlast the SDK's default per-call timeout.
            let long = aws_sdk_sqs::config::Builder::from(&config)
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_timeout(std::time::Duration::from_secs(30))
                        .build(),
                )
                .build();
            let p = pump::Pump {
                sqs: aws_sdk_sqs::Client::from_conf(long),
                queue_url,
                queue_arn,
                invoke_url,
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(invoke_timeout_s))
                    .build()?,
            };
            eprintln!("pump: polling the delivery queue");
            p.run().await;
        }
        Command::Schedule {
            invoke_url,
            every_s,
        } => {
            let http = reqwest::Client::new();
            let event = serde_json::json!({
                "version": "0",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {},
            });
            eprintln!("schedule: invoking reconcile every {every_s} s");
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(every_s.max(1)));
            loop {
                tick.tick().await;
                match http.post(&invoke_url).json(&event).send().await {
                    Ok(r) => eprintln!(
                        "schedule: reconcile answered {}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    ),
                    Err(e) => eprintln!("schedule: reconcile not reached: {e}"),
                }
            }
        }
        Command::Gateway {
            listen,
            watch,
            timeout_s,
        } => {
            eprintln!("gateway on http://{listen} → {watch}");
            gateway::serve(listen, watch, std::time::Duration::from_secs(timeout_s)).await?;
        }
        Command::Smoke {
            api,
            webhook_url,
            secret,
        } => {
            let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
            let config = leadrelay_aws::config::load().await;
            let store = leadrelay_aws::dynamodb::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&config),
                table,
            );
            let id = demo::smoke(&store, &api, &webhook_url, &secret).await?;
            println!("smoke: {id} delivered; ingest, admin, logs and deliver answer");
        }
        Command::Demo {
            api,
            webhook_url,
            secret,
            mailchimp_url,
            hubspot_url,
        } => {
            let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is required")?;
            let config = leadrelay_aws::config::load().await;
            let store = leadrelay_aws::dynamodb::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&config),
                table,
            );
            demo::run(
                &store,
                &demo::DemoConfig {
                    api,
                    webhook_url,
                    webhook_secret: secret,
                    extra_integrations: demo::provider_integrations(&mailchimp_url, &hubspot_url),
                },
            )
            .await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadrelay-dev: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  because: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
