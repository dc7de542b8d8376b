//! What the code says: the settings each function reads, the indexes the store queries, the attempt budget.

use super::*;

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// What one function's code reads from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvUse {
    /// `required("X")` in `config.rs`: `Config::from_env` fails without them.
    pub(crate) required: BTreeSet<String>,
    /// Every upper-case name quoted in `config.rs` and `main.rs` (optional settings too).
    pub(crate) read: BTreeSet<String>,
}

/// The quoted SCREAMING_SNAKE names in `source`, and those passed to `required(..)`.
pub(crate) fn env_use(source: &str) -> EnvUse {
    let mut out = EnvUse::default();
    for (i, piece) in source.split('"').enumerate() {
        let is_name = i % 2 == 1
            && piece.len() > 1
            && piece.starts_with(|c: char| c.is_ascii_uppercase())
            && piece
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_name {
            out.read.insert(piece.to_owned());
        }
    }
    let mut rest = source;
    while let Some(at) = rest.find("required(\"") {
        let after = &rest[at + "required(\"".len()..];
        if let Some(end) = after.find('"') {
            out.required.insert(after[..end].to_owned());
        }
        rest = after;
    }
    out
}

/// What each function binary's `config.rs` and `main.rs` read.
pub(crate) fn env_uses(t: &Template) -> BTreeMap<String, EnvUse> {
    let mut out = BTreeMap::new();
    for binary in t.functions.iter().filter_map(|f| f.binary.clone()) {
        let dir = repo().join("functions").join(&binary).join("src");
        let config = std::fs::read_to_string(dir.join("config.rs")).unwrap_or_default();
        let main = std::fs::read_to_string(dir.join("main.rs")).unwrap_or_default();
        let mut u = env_use(&config);
        u.read.extend(env_use(&main).read);
        out.insert(binary, u);
    }
    out
}

/// Variables read by the shared code or the Lambda runtime, not by a function's own config.
pub(crate) const RUNTIME_VARIABLES: &[&str] = &["RUST_LOG"];

/// The resource type an environment variable must name.
pub(crate) const VARIABLE_TYPES: &[(&str, &str)] = &[
    ("TABLE_NAME", "AWS::DynamoDB::Table"),
    ("QUEUE_URL", "AWS::SQS::Queue"),
    ("KMS_KEY_ID", "AWS::KMS::Key"),
    ("CURSOR_SECRET", "AWS::SecretsManager::Secret"),
];

/// Each function binary's `ROUTES`; `None` for one that serves no HTTP routes.
pub(crate) fn declared_routes(binary: &str) -> Option<BTreeSet<(String, String)>> {
    let routes: &[(&str, &str)] = match binary {
        "ingest" => ingest::ROUTES,
        "logs" => logs::ROUTES,
        "admin" => admin::ROUTES,
        _ => return None,
    };
    Some(
        routes
            .iter()
            .map(|(m, p)| (m.to_lowercase(), (*p).to_owned()))
            .collect(),
    )
}

/// The DynamoDB indexes the store queries (`index_name("..")` in the DynamoDB store's
/// files).
pub(crate) fn indexes_in_code() -> BTreeSet<String> {
    let dir = repo().join("shared/aws/src/dynamodb");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no DynamoDB store code in {}",
        dir.display()
    );
    files
        .iter()
        .map(|f| read(f))
        .collect::<String>()
        .split("index_name(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect()
}
