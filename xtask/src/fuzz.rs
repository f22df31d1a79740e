//! `cargo xtask fuzz --seconds N [--report]`: runs every cargo-fuzz target for N seconds with the
//! spec's payloads as seed corpus, fails on any crash, and with `--report` writes the execution
//! counts to `docs/fuzzing.md`.
//!
//! Needs `cargo-fuzz` (`cargo install cargo-fuzz`). Targets build with `--sanitizer none` so that
//! a stable toolchain runs them; libFuzzer's coverage guidance is unaffected.

use std::fmt::Write as _;
use std::process::Command;

/// A fuzz target and the fixture folder that seeds it.
const TARGETS: &[(&str, &str)] = &[
    ("notify_decode", "tests/fixtures/spec/notifications"),
    ("transfer_validate", "tests/fixtures/spec/requests"),
    ("receiver_request", "tests/fixtures/spec/notifications"),
];

struct Run {
    target: &'static str,
    executions: u64,
    seconds: u64,
}

/// Runs the targets; `Err` names the first target that crashed.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let mut seconds = 10u64;
    let mut report = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds takes a whole number")?;
            }
            "--report" => report = true,
            other => return Err(format!("unknown fuzz argument {other:?}")),
        }
    }
    let root = crate::workspace_root();
    let fuzz = root.join("fuzz");
    let mut runs = Vec::new();
    for (target, seeds) in TARGETS {
        let corpus = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
        eprintln!("==> fuzz {target} for {seconds} s");
        let out = Command::new("cargo")
            .args(["fuzz", "run", "--sanitizer", "none", "-O", target])
            .arg(&corpus)
            .arg(root.join(seeds))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .current_dir(&fuzz)
            .output()
            .map_err(|e| format!("cannot run cargo fuzz (cargo install cargo-fuzz): {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("fuzz target {target} failed:\n{}", tail.join("\n")));
        }
        let executions = stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
        let took = stat(&log, "stat::elapsed_seconds:").unwrap_or(seconds);
        eprintln!("    {executions} executions in {took} s, no crash");
        runs.push(Run {
            target,
            executions,
            seconds: took,
        });
    }
    if report {
        write_report(&runs, seconds)?;
    }
    Ok(())
}

fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines()
        .rev()
        .filter_map(|l| l.trim().strip_prefix(key))
        .find_map(|v| v.trim().parse().ok())
}

fn write_report(runs: &[Run], seconds: u64) -> Result<(), String> {
    let total: u64 = runs.iter().map(|r| r.executions).sum();
    let mut md = String::from("# Fuzzing\n\n");
    let _ = writeln!(
        md,
        "Command: `cargo xtask fuzz --seconds {seconds} --report` (cargo-fuzz, libFuzzer, \
         `--sanitizer none -O`), on the machine described in `docs/benchmarks.md`. Seed corpus: the \
         spec's payloads in `tests/fixtures/spec/`. Goals: at least 1 million executions per \
         target and 10 million in total, no crash.\n"
    );
    md.push_str("| target | what it drives | executions | seconds | executions/s | crashes |\n");
    md.push_str("|---|---|---:|---:|---:|---:|\n");
    for r in runs {
        let what = match r.target {
            "notify_decode" => "routing decode, classifier, tracker; lossless model round trip",
            "transfer_validate" => {
                "transfer body parse, validation against four call kinds, round trip"
            }
            _ => "the receiver's request handling (auth, limits, decode), called directly",
        };
        let _ = writeln!(
            md,
            "| `{}` | {what} | {} | {} | {} | 0 |",
            r.target,
            r.executions,
            r.seconds,
            r.executions / r.seconds.max(1)
        );
    }
    let _ = writeln!(md, "| **total** | | **{total}** | | | **0** |\n");
    md.push_str(
        "Crashes found while building the targets became regression tests: a float in an unknown \
         member did not survive a round trip exactly (`transfer_validate`; fixed by serde_json's \
         `float_roundtrip`, test `large_floats_in_unknown_members_round_trip_exactly` in \
         `crates/graph-comms-model/tests/spec.rs`); and invalid UTF-8 inside a member the routing \
         decode skips was accepted by the receiver (`receiver_request`; the routing decode now checks \
         the whole body, tests `routing_decode_refuses_invalid_utf8_anywhere` and \
         `invalid_utf8_anywhere_is_refused`).\n",
    );
    let path = crate::workspace_root().join("docs/fuzzing.md");
    std::fs::write(&path, md).map_err(|e| format!("{}: {e}", path.display()))
}
