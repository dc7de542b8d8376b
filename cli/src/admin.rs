//! `leadrelay admin`: what must happen before any account key exists.

use leadrelay::manage;
use leadrelay_aws::dynamodb::DynamoStore;
use std::future::Future;
use std::process::ExitCode;

/// Runs `work` on the store of the table named by `TABLE_NAME`, or says what is missing.
fn with_store<F, Fut>(work: F) -> ExitCode
where
    F: FnOnce(DynamoStore) -> Fut,
    Fut: Future<Output = ExitCode>,
{
    let Some(table) = std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()) else {
        eprintln!(
            "leadrelay admin bootstrap: set TABLE_NAME to the stack's table (output TableName)"
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("leadrelay admin bootstrap: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let config = leadrelay_aws::config::load().await;
        work(DynamoStore::new(
            leadrelay_aws::config::dynamodb(&config),
            table,
        ))
        .await
    })
}

/// What a failed bootstrap prints, and its exit code.
fn failed(e: &manage::ManageError) -> ExitCode {
    if let manage::ManageError::Invalid(errors) = e {
        for e in errors {
            eprintln!("leadrelay admin bootstrap: {}: {}", e.field, e.message);
        }
        return ExitCode::from(2);
    }
    eprintln!("leadrelay admin bootstrap: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        eprintln!("  because: {s}");
        source = s.source();
    }
    ExitCode::from(1)
}

/// Creates an account and its first account key (an admin key) in the table named by
/// `TABLE_NAME`.
pub fn bootstrap(account_name: &str) -> ExitCode {
    with_store(|store| async move {
        match manage::keys::bootstrap(&store, account_name).await {
            Ok((account, key, secret)) => {
                println!("account      {} ({})", account.id, account.name);
                println!("key id       {}", key.id);
                println!("account key  {}", secret.expose());
                eprintln!("Keep the account key now: it is stored only as a hash and cannot be shown again.");
                ExitCode::SUCCESS
            }
            Err(e) => failed(&e),
        }
    })
}

/// Creates the platform key, which creates accounts over the API (`POST /v1/accounts`)
/// and reads no account's data, in the table named by `TABLE_NAME`.
pub fn bootstrap_platform() -> ExitCode {
    with_store(|store| async move {
        match manage::roles::platform_key(&store).await {
            Ok((key, secret)) => {
                println!("key id        {}", key.id);
                println!("platform key  {}", secret.expose());
                eprintln!("Keep the platform key now: it is stored only as a hash and cannot be shown again.");
                ExitCode::SUCCESS
            }
            Err(e) => failed(&e),
        }
    })
}
