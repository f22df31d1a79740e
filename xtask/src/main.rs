//! Project automation: `cargo xtask codegen [--check]`, `cargo xtask ci`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod ci;
mod codegen;
mod csdl;
mod fuzz;
mod tidy;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  codegen [--check]   generate crates/graph-comms-model/src/generated/ from Graph's CSDL
                      (--check: fail when the committed output is stale)
  ci                  run what CI runs: fmt, clippy, tests, doctests, rustdoc, codegen --check
  bench [--quick]     every benchmark in one run, and msgraph-sdk on the same work;
                      writes docs/benchmarks.md and docs/benchmarks-ratios.svg
  bench --instructions
                      the goal ratios counted in instructions (valgrind), printed
  fuzz [--seconds N] [--report]
                      run every cargo-fuzz target N seconds (default 10); --report writes
                      docs/fuzzing.md";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(false),
        ["codegen", "--check"] => codegen::run(true),
        ["ci"] => ci::run(),
        ["bench", rest @ ..] => bench::run(rest),
        ["fuzz", rest @ ..] => fuzz::run(rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `shared/` folder: `GRAPH_COMMS_SHARED`, else `<workspace>/../shared`.
pub(crate) fn shared_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("GRAPH_COMMS_SHARED") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("..").join("shared"),
    };
    if dir.join("graph-metadata").is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "Graph's metadata not found at {}/graph-metadata (set GRAPH_COMMS_SHARED)",
            dir.display()
        ))
    }
}
