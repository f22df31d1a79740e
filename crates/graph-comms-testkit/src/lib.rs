#![doc = include_str!("../README.md")]

use std::path::{Path, PathBuf};

mod keys;
mod paired;
mod redis;
pub use keys::{rsa_jwk, rsa_key};
pub use paired::{paired_ratio, percentile, spread, PairedRatio, Spread};
pub use redis::RedisServer;

/// A free loopback port: the OS picks it, and it is released for the caller (a server under
/// test, or a binary it starts) to bind.
///
/// # Panics
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("testkit lives at crates/graph-comms-testkit")
        .to_path_buf()
}

/// The `shared/` folder, or `None` (after saying why on stderr) when it is absent outside CI.
///
/// # Panics
/// Under `CI=true` when the folder is absent: CI always has it, so its absence is a failure.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GRAPH_COMMS_SHARED") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("..").join("shared"),
    };
    if dir.join("graph-payloads").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "shared corpus not found at {} (set GRAPH_COMMS_SHARED); CI must have it",
            dir.display()
        );
    }
    eprintln!(
        "skipping: shared corpus not found at {} (set GRAPH_COMMS_SHARED to run this test)",
        dir.display()
    );
    None
}

/// The fixtures folder `tests/fixtures/` at the workspace root.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests").join("fixtures")
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One `.json` body of the payload corpus (`shared/graph-payloads/`), as its `index.json` describes
/// it.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// The file.
    pub path: PathBuf,
    /// Its folder: the source document and version (e.g. `beta-call-transfer--zhcn-6534af0`).
    pub dir: String,
    /// What the block is: `request`, `response`, `notification`, ...
    pub kind: String,
    /// Whether the body is valid JSON (strict RFC 8259), when the index says.
    pub json_valid: Option<bool>,
}

impl CorpusFile {
    /// A notification body that is valid JSON.
    pub fn is_valid_notification(&self) -> bool {
        self.kind == "notification" && self.json_valid == Some(true)
    }
}

/// Every `.json` body that the corpus index under `shared` lists, in index order.
///
/// # Panics
/// When the index is missing or malformed: the corpus is fixed input, so that is a broken setup.
pub fn corpus_files(shared: &Path) -> Vec<CorpusFile> {
    let root = shared.join("graph-payloads");
    let text = std::fs::read_to_string(root.join("index.json")).expect("graph-payloads/index.json");
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json is JSON");
    let mut out = Vec::new();
    for r in index["records"].as_array().expect("index.json has records") {
        let dir = r["dir"].as_str().unwrap_or_default().to_owned();
        for f in r["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
        {
            if f.ends_with(".json") {
                out.push(CorpusFile {
                    path: root.join(&dir).join(f),
                    dir: dir.clone(),
                    kind: r["kind"].as_str().unwrap_or_default().to_owned(),
                    json_valid: r["json_valid"].as_bool(),
                });
            }
        }
    }
    out
}
