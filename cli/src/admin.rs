//! `leadrelay admin`: what must happen before any account key exists.

use leadrelay::manage;
use leadrelay_aws::dynamodb::DynamoStore;
use std::process::ExitCode;

/// Creates an account and its first account key in the table named by `TABLE_NAME`.
pub fn bootstrap(account_name: &str) -> ExitCode {
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
        let store = DynamoStore::new(leadrelay_aws::config::dynamodb(&config), table);
        match manage::keys::bootstrap(&store, account_name).await {
            Ok((account, key, secret)) => {
                println!("account      {} ({})", account.id, account.name);
                println!("key id       {}", key.id);
                println!("account key  {}", secret.expose());
                eprintln!("Keep the account key now: it is stored only as a hash and cannot be shown again.");
                ExitCode::SUCCESS
            }
            Err(manage::ManageError::Invalid(errors)) => {
                for e in errors {
                    eprintln!("leadrelay admin bootstrap: {}: {}", e.field, e.message);
                }
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("leadrelay admin bootstrap: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    eprintln!("  because: {s}");
                    source = s.source();
                }
                ExitCode::from(1)
            }
        }
    })
}
