//! `cargo xtask bench [--quick | --instructions]`: every benchmark of the workspace in one run,
//! and Microsoft's Python SDK on the same work, written to `docs/benchmarks.md` (with
//! `docs/benchmarks-ratios.svg`).
//!
//! - The criterion benchmarks of the model, notify and transfer crates; their medians are read back
//!   from `target/criterion/**/new/estimates.json`, and each goal is checked as the ratio that matters.
//! - The paired-run benchmarks of the transport (client vs raw reqwest) and the receiver (webhook
//!   ingest vs a bare axum handler), whose own summaries are copied into the report.
//! - `msgraph-sdk` from PyPI, installed into `target/bench-venv`, timed by `xtask/bench/msgraph_sdk.py`
//!   on the corpus notifications and the spec's example-5 transfer body.
//! - The goal ratios counted in instructions as well (callgrind over the crates' `*_cost`
//!   examples, when valgrind is installed; [`COUNTED`]); `--instructions` prints those alone.
//!
//! Adding a goal row for another bench takes two lines: the bench in [`CRITERION`] (it may print
//! `graph_comms_testkit::paired_ratio` lines after criterion, or be criterion alone), and its
//! ratio in [`GOALS`] (`Goal::ratio(what, numerator id, denominator id, goal)`): a paired ratio
//! printed under the numerator's id is taken first, else the two criterion medians are divided.
//! An absolute limit on one criterion median is one line of [`LIMITS`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Criterion benchmarks: (package, bench target).
const CRITERION: &[(&str, &str)] = &[
    ("graph-comms-model", "decode"),
    ("graph-comms-notify", "notify"),
    ("graph-comms-notify", "corpus"),
    ("graph-comms-transfer", "transfer"),
    ("graph-comms-transfer", "call_control"),
];

/// Benchmarks that measure paired runs themselves and print their summary.
const PAIRED: &[(&str, &str, &str)] = &[
    (
        "graph-comms-transport",
        "transfer_throughput",
        "Transfer POSTs: GraphCommsClient vs a raw reqwest POST",
    ),
    (
        "graph-comms-receiver",
        "ingest",
        "Webhook ingest: the receiver vs a bare axum handler",
    ),
];

/// The shared transfer store's bench: (package, bench, feature, title). It starts its own
/// `redis-server` and prints its own figures (wake-up latency, Redis vs memory; recording rate).
const STORE_BENCH: (&str, &str, &str, &str) = (
    "graph-comms-notify",
    "shared_store",
    "redis",
    "Shared transfer store: arrival-to-wake-up latency (Redis vs memory) and recording rate",
);

/// The msgraph-sdk version the comparison installs.
const MSGRAPH_SDK: &str = "msgraph-sdk==1.65.0";

/// A ratio with a goal: `numerator / denominator <= goal`.
struct Goal {
    what: &'static str,
    numerator: &'static str,
    denominator: &'static str,
    goal: f64,
}

impl Goal {
    /// A goal row: `numerator / denominator <= goal`, by criterion id (a paired ratio printed
    /// under the numerator's id is taken first).
    const fn ratio(
        what: &'static str,
        numerator: &'static str,
        denominator: &'static str,
        goal: f64,
    ) -> Self {
        Goal {
            what,
            numerator,
            denominator,
            goal,
        }
    }
}

/// The goal rows, in the report's order. The denominator of a paired-only ratio is `"(paired)"`.
#[rustfmt::skip]
const GOALS: &[Goal] = &[
    Goal::ratio("routing-only decode vs serde_json validate-only (spec notifications)", "decode_spec_notifications/routing/borrowed", "decode_spec_notifications/limit/IgnoredAny", 1.5),
    Goal::ratio("lossless model decode vs serde_json validate-only (spec notifications)", "decode_spec_notifications/lossless/CommsNotifications", "decode_spec_notifications/limit/IgnoredAny", 5.0),
    Goal::ratio("decode + classify vs serde_json validate-only (corpus notifications)", "corpus_notifications/decode_classify", "corpus_notifications/ignored_any", 1.5),
    Goal::ratio("lossless model decode vs serde_json validate-only (corpus notifications)", "corpus_notifications/lossless_model", "corpus_notifications/ignored_any", 5.0),
    Goal::ratio("transfer build + validate + serialize vs serde_json::to_vec alone (example 5)", "transfer_example5/build_validate_serialize", "transfer_example5/serde_json_to_vec_only", 2.0),
    Goal::ratio("answer: build + validate + serialize vs serde_json::to_vec alone", "call_control/answer/build_validate_serialize", "call_control/answer/serde_json_to_vec_only", 2.0),
    Goal::ratio("reject: build + validate + serialize vs serde_json::to_vec alone", "call_control/reject/build_validate_serialize", "call_control/reject/serde_json_to_vec_only", 2.5),
    Goal::ratio("redirect: build + validate + serialize vs serde_json::to_vec alone", "call_control/redirect/build_validate_serialize", "call_control/redirect/serde_json_to_vec_only", 3.0),
    Goal::ratio("create call: build + validate + serialize vs serde_json::to_vec alone", "call_control/create_call/build_validate_serialize", "call_control/create_call/serde_json_to_vec_only", 3.0),
    Goal::ratio("tracker: a final after TimedOut (late result) vs a final in time, track to final, 100 000 open", "notify_tracker/late_result_with_100k_open", "(paired)", 2.0),
];

/// Absolute goals: (what, criterion id, limit in nanoseconds).
const LIMITS: &[(&str, &str, f64)] = &[
    (
        "transfer build + validate + serialize, one body",
        "transfer_example5/build_validate_serialize",
        2_000.0,
    ),
    (
        "tracker: one notification applied with 100 000 transfers open",
        "notify_tracker/apply_with_100k_open",
        1_000.0,
    ),
];

/// A goal ratio also counted in instructions (callgrind): the same work as the goal row's two
/// sides, run by a cost example `low` and `high` times per side; the difference of the two
/// counts over the difference of the iterations is one iteration, start-up excluded. Instruction
/// counts do not move with the machine's load, so they show what the code changed between two
/// runs where the wall-clock ratio also moves with the machine.
struct Counted {
    /// The goal row's `what`.
    what: &'static str,
    package: &'static str,
    example: &'static str,
    /// The example's arguments for each side; `N` stands for the iteration count.
    numerator: &'static [&'static str],
    denominator: &'static [&'static str],
    iterations: (u64, u64),
    /// Counted only inside this function (callgrind's `--toggle-collect`), when the program
    /// does work of a varying cost outside it.
    collect: Option<&'static str>,
    /// The time goal as a bound on numerator ÷ denominator, for a row outside [`GOALS`].
    time_goal: Option<&'static str>,
}

impl Counted {
    /// A [`GOALS`] row, counted over the whole program.
    const fn goal(
        goal: usize,
        package: &'static str,
        example: &'static str,
        numerator: &'static [&'static str],
        denominator: &'static [&'static str],
        iterations: (u64, u64),
    ) -> Self {
        Counted {
            what: GOALS[goal].what,
            package,
            example,
            numerator,
            denominator,
            iterations,
            collect: None,
            time_goal: None,
        }
    }
}

/// The goal ratios counted in instructions (the tracker's late result has no cost example). The
/// client's and the ingest's are rates: their rows count per request what each side runs in user
/// space (the kernel's share, the same on both sides, is not counted).
#[rustfmt::skip]
const COUNTED: &[Counted] = &[
    Counted::goal(0, "graph-comms-notify", "decode_cost", &["routing", "N", "spec"], &["ignored", "N", "spec"], (200, 600)),
    Counted::goal(1, "graph-comms-notify", "decode_cost", &["lossless", "N", "spec"], &["ignored", "N", "spec"], (200, 600)),
    Counted::goal(2, "graph-comms-notify", "decode_cost", &["events", "N", "corpus"], &["ignored", "N", "corpus"], (10, 30)),
    Counted::goal(3, "graph-comms-notify", "decode_cost", &["lossless", "N", "corpus"], &["ignored", "N", "corpus"], (10, 30)),
    Counted::goal(4, "graph-comms-transfer", "control_cost", &["example5", "N"], &["example5-only", "N"], (2_000, 6_000)),
    Counted::goal(5, "graph-comms-transfer", "control_cost", &["answer", "N"], &["answer-only", "N"], (2_000, 6_000)),
    Counted::goal(6, "graph-comms-transfer", "control_cost", &["reject", "N"], &["reject-only", "N"], (2_000, 6_000)),
    Counted::goal(7, "graph-comms-transfer", "control_cost", &["redirect", "N"], &["redirect-only", "N"], (2_000, 6_000)),
    Counted::goal(8, "graph-comms-transfer", "control_cost", &["create_call", "N"], &["create_call-only", "N"], (2_000, 6_000)),
    Counted {
        what: "transfer POSTs through GraphCommsClient vs raw reqwest, per POST (the local server's share included, the same on both)",
        package: "graph-comms-transport", example: "post_cost",
        numerator: &["client", "N"], denominator: &["raw", "N"], iterations: (500, 1_500),
        collect: None, time_goal: Some("≤ 1.11× (rate ≥ 0.90)"),
    },
    Counted {
        what: "webhook ingest, reused token: the receiver vs a bare axum 202 handler, per callback over a socket (the load generator's share included, the same on both)",
        package: "graph-comms-receiver", example: "ingest_cost",
        numerator: &["receiver-http", "N"], denominator: &["bare-http", "N"], iterations: (1_000, 3_000),
        collect: Some("tokio::runtime::runtime::Runtime::block_on"), time_goal: Some("≤ 1.25× (rate ≥ 80 %)"),
    },
    Counted {
        what: "webhook ingest, reused token, graph_comms_receiver::serve: the receiver vs a bare axum 202 handler, both on that server, per callback over a socket (the load generator's share included, the same on both)",
        package: "graph-comms-receiver", example: "ingest_cost",
        numerator: &["receiver-serve", "N"], denominator: &["bare-serve", "N"], iterations: (1_000, 3_000),
        collect: Some("tokio::runtime::runtime::Runtime::block_on"), time_goal: Some("≤ 1.25× (rate ≥ 80 %)"),
    },
    Counted {
        what: "webhook ingest, fresh token per request: the receiver vs a bare axum 202 handler, per callback over a socket (each callback a full RS256 verification; the load generator's share included, the same on both)",
        package: "graph-comms-receiver", example: "ingest_cost",
        numerator: &["receiver-http", "N", "fresh"], denominator: &["bare-http", "N", "fresh"], iterations: (100, 300),
        collect: Some("tokio::runtime::runtime::Runtime::block_on"), time_goal: Some("≤ 2.5× (rate ≥ 40 %)"),
    },
];

/// A [`Counted`] ratio as measured: instructions per iteration of each side.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CountedRatio {
    what: &'static str,
    numerator: f64,
    denominator: f64,
    time_goal: Option<&'static str>,
}

/// Counts every [`COUNTED`] ratio under callgrind; an error names what is missing (valgrind, a
/// build) and the report says so instead.
fn instruction_counts(root: &Path, target: &Path) -> Result<Vec<CountedRatio>, String> {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|e| format!("valgrind not found ({e}); install it to count instructions"))?;
    let mut built = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for c in COUNTED {
        if built.insert((c.package, c.example)) {
            eprintln!("==> instructions: {} example {}", c.package, c.example);
            run_ok(
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .args([
                        "build",
                        "--release",
                        "-p",
                        c.package,
                        "--example",
                        c.example,
                    ])
                    .current_dir(root),
            )?;
        }
        let exe = target.join("release/examples").join(c.example);
        out.push(CountedRatio {
            what: c.what,
            numerator: per_iteration(&exe, c.numerator, c)?,
            denominator: per_iteration(&exe, c.denominator, c)?,
            time_goal: c.time_goal,
        });
    }
    Ok(out)
}

/// Instructions of one iteration of `exe args` (`N` replaced by the iteration count), under
/// `counted`'s iterations and collection.
fn per_iteration(exe: &Path, args: &[&str], counted: &Counted) -> Result<f64, String> {
    let (low, high) = counted.iterations;
    let count = |n: u64| -> Result<f64, String> {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "N" {
                    n.to_string()
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let out = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .args(counted.collect.map(|f| format!("--toggle-collect={f}")))
            .arg(exe)
            .args(&args)
            .output()
            .map_err(|e| format!("valgrind {}: {e}", exe.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "valgrind {} {} failed ({}): {}",
                exe.display(),
                args.join(" "),
                out.status,
                stderr.lines().rev().take(5).collect::<Vec<_>>().join(" / ")
            ));
        }
        collected(&stderr).ok_or_else(|| {
            format!(
                "valgrind {} {}: no \"Collected\" count in its output",
                exe.display(),
                args.join(" ")
            )
        })
    };
    let (a, b) = (count(low)?, count(high)?);
    Ok((b - a).max(0.0) / (high - low) as f64)
}

/// The instruction count callgrind prints at exit (`==12== Collected : 123456`).
fn collected(stderr: &str) -> Option<f64> {
    stderr.lines().find_map(|l| number_after(l, "Collected :"))
}

/// The report's section on [`COUNTED`] ratios.
fn counted_section(counted: &Result<Vec<CountedRatio>, String>) -> String {
    let mut md = String::from("## Goal ratios in instructions\n\n");
    let rows = match counted {
        Ok(rows) => rows,
        Err(e) => {
            let _ = writeln!(md, "Not counted in this run: {e}\n");
            return md;
        }
    };
    md.push_str(
        "The same two sides as the goal rows above, counted in instructions by callgrind (the \
         crates' `*_cost` examples, one iteration as the difference of two runs): \
         these do not move with the machine's load, so two runs agree on them unless the code \
         changed. The goals are set on time; an instruction ratio is no time ratio (an \
         instruction of a branchy parser and one of a copy loop do not cost the same), so this \
         table shows whether a moving time ratio comes from the code or from the machine. The \
         client's and the ingest's rows count user space only: the kernel's loopback TCP, about \
         the same on both sides, is left out, so their instruction ratio lies further from 1 \
         than their time ratio.\n\n\
         | figure | instructions per iteration | of the baseline | ratio | time goal |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let goal = match r.time_goal {
            Some(goal) => goal.to_owned(),
            None => GOALS
                .iter()
                .find(|g| g.what == r.what)
                .map_or_else(|| "—".to_owned(), |g| format!("≤ {:.1}×", g.goal)),
        };
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.2}× | {goal} |",
            r.what,
            r.numerator,
            r.denominator,
            r.numerator / r.denominator
        );
    }
    md.push('\n');
    md
}

/// Runs every benchmark and writes the report.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let quick = args.contains(&"--quick");
    let root = crate::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if args.contains(&"--instructions") {
        // The instruction counts alone, printed: minutes, and no quiet machine needed.
        let counted = instruction_counts(&root, &target);
        print!("{}", counted_section(&counted));
        return counted.map(|_| ());
    }
    let criterion_dir = target.join("criterion");
    let _ = std::fs::remove_dir_all(&criterion_dir);
    let measurement = if quick { "1" } else { "3" };
    let args = [
        "--warm-up-time",
        "1",
        "--measurement-time",
        measurement,
        "--noplot",
    ];
    let mut printed = BTreeMap::new();
    for (package, bench) in CRITERION {
        let out = cargo_bench(&root, package, bench, &[], &args)?;
        printed.insert(format!("{package}/{bench}"), summary_lines(&out));
    }
    let mut paired = Vec::new();
    for (package, bench, title) in PAIRED {
        let out = cargo_bench(&root, package, bench, &[], &args)?;
        paired.push((
            *title,
            format!("cargo bench -p {package} --bench {bench}"),
            summary_lines(&out),
        ));
    }
    {
        let (package, bench, feature, title) = STORE_BENCH;
        let out = cargo_bench(&root, package, bench, &["--features", feature], &args)?;
        paired.push((
            title,
            format!("cargo bench -p {package} --features {feature} --bench {bench}"),
            summary_lines(&out),
        ));
    }
    let estimates = read_estimates(&criterion_dir)?;
    let python = python_sdk(&root, &target);
    let counted = instruction_counts(&root, &target);
    let report = render(&estimates, &printed, &paired, &python, &counted, quick);
    std::fs::write(root.join("docs/benchmarks.md"), report)
        .map_err(|e| format!("docs/benchmarks.md: {e}"))?;
    std::fs::write(
        root.join("docs/benchmarks-ratios.svg"),
        svg(&estimates, &paired_ratios(&printed)),
    )
    .map_err(|e| format!("docs/benchmarks-ratios.svg: {e}"))?;
    eprintln!("wrote docs/benchmarks.md and docs/benchmarks-ratios.svg");
    Ok(())
}

fn cargo_bench(
    root: &Path,
    package: &str,
    bench: &str,
    cargo_args: &[&str],
    extra: &[&str],
) -> Result<String, String> {
    eprintln!("==> cargo bench -p {package} --bench {bench}");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["bench", "-p", package, "--bench", bench])
        .args(cargo_args)
        .arg("--")
        .args(extra)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo bench -p {package} --bench {bench} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines a benchmark prints as its own summary (tables and figures), without criterion's
/// progress and statistics lines.
fn summary_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.is_empty()
                || l.starts_with(' ')
                || t.starts_with("Benchmarking")
                || t.starts_with("Found ")
                || t.starts_with("Gnuplot")
                || t.starts_with("change:")
                || t.starts_with("time:")
                || t.starts_with("thrpt:")
                || t.starts_with("No change")
                || t.starts_with("Change within")
                || t.starts_with("Performance has")
                || t.starts_with("Warning:")
                || t.contains("time:   [")
                || t.contains("thrpt:  [")
                // A table's separator row has no space, and is kept.
                || (!t.contains(' ') && !t.starts_with('|')))
        })
        .map(str::to_owned)
        .collect()
}

/// Every criterion median (nanoseconds) by benchmark id (`group/function[/parameter]`), and for
/// benchmarks with a throughput in elements, the time per element under `"{id} (per element)"`.
fn read_estimates(dir: &Path) -> Result<BTreeMap<String, f64>, String> {
    let mut out = BTreeMap::new();
    for est in graph_comms_testkit::files_with_suffix(dir, "/new/estimates.json") {
        let bench = est.with_file_name("benchmark.json");
        let (Ok(est), Ok(bench)) = (std::fs::read_to_string(est), std::fs::read_to_string(bench))
        else {
            continue;
        };
        let median = json_number(&est, "median", "point_estimate");
        if let (Some(m), Some(id)) = (median, json_string(&bench, "full_id")) {
            if let Some(n) = json_number(&bench, "throughput", "Elements").filter(|n| *n > 0.0) {
                out.insert(format!("{id} (per element)"), m / n);
            }
            out.insert(id, m);
        }
    }
    if out.is_empty() {
        return Err(format!("no criterion estimates under {}", dir.display()));
    }
    Ok(out)
}

/// `outer.inner` as a number, from a JSON text.
fn json_number(text: &str, outer: &str, inner: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get(outer)?.get(inner)?.as_f64()
}

/// `key` as a string, from a JSON text.
fn json_string(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get(key)?.as_str().map(str::to_owned)
}

/// What the Python comparison measured (its JSON line), or why it could not run.
fn python_sdk(root: &Path, target: &Path) -> Result<String, String> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("==> python3 -m venv {}", venv.display());
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    eprintln!("==> pip install {MSGRAPH_SDK}");
    run_ok(Command::new(&python).args(["-m", "pip", "install", "-q", MSGRAPH_SDK]))?;
    let files = corpus_notifications()?;
    eprintln!("==> msgraph-sdk over {} notification bodies", files.len());
    let out = Command::new(&python)
        .arg(root.join("xtask/bench/msgraph_sdk.py"))
        .args(&files)
        .output()
        .map_err(|e| format!("python: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "msgraph_sdk.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn run_ok(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

/// The valid notification bodies of the corpus (as the notify crate's corpus bench reads them).
fn corpus_notifications() -> Result<Vec<PathBuf>, String> {
    let files: Vec<PathBuf> = graph_comms_testkit::corpus_files(&crate::shared_dir()?)
        .into_iter()
        .filter(|f| f.is_valid_notification())
        .map(|f| f.path)
        .collect();
    if files.is_empty() {
        return Err("no notification bodies found in the corpus index".into());
    }
    Ok(files)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into());
    let rustc = Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}, {rustc}, measured {date}")
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn render(
    est: &BTreeMap<String, f64>,
    printed: &BTreeMap<String, Vec<String>>,
    paired: &[(&str, String, Vec<String>)],
    python: &Result<String, String>,
    counted: &Result<Vec<CountedRatio>, String>,
    quick: bool,
) -> String {
    let mut md = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        md,
        "Generated by `cargo xtask bench{}` from one run. Machine: {}.\n\nEach figure is \
         criterion's median (`--warm-up-time 1 --measurement-time {}`) unless its section says \
         otherwise; ratios compare figures of the same run. The machine is shared: compare ratios, \
         not absolute figures, across runs.\n",
        if quick { " --quick" } else { "" },
        machine(),
        if quick { 1 } else { 3 }
    );
    md.push_str("![ratios against their goals](benchmarks-ratios.svg)\n\n## Goals\n\n");
    md.push_str("| figure | measured | goal | met |\n|---|---:|---:|:---:|\n");
    let pairs = paired_ratios(printed);
    for g in GOALS {
        if let Some(p) = pairs.get(g.numerator) {
            let _ = writeln!(
                md,
                "| {} (paired: median of {} alternating batches, p10–p90 {:.2}–{:.2}×; {} / {}) | {:.2}× | ≤ {:.1}× | {} |",
                g.what,
                p.batches,
                p.p10,
                p.p90,
                fmt_ns(p.numerator_ns),
                fmt_ns(p.denominator_ns),
                p.median,
                g.goal,
                if p.median <= g.goal { "yes" } else { "**no**" }
            );
            continue;
        }
        match (est.get(g.numerator), est.get(g.denominator)) {
            (Some(n), Some(d)) => {
                let r = n / d;
                let _ = writeln!(
                    md,
                    "| {} ({} / {}) | {r:.2}× | ≤ {:.1}× | {} |",
                    g.what,
                    fmt_ns(*n),
                    fmt_ns(*d),
                    g.goal,
                    if r <= g.goal { "yes" } else { "**no**" }
                );
            }
            _ => {
                let _ = writeln!(md, "| {} | not measured | ≤ {:.1}× | — |", g.what, g.goal);
            }
        }
    }
    for (what, id, limit) in LIMITS {
        match est.get(*id) {
            Some(v) => {
                let _ = writeln!(
                    md,
                    "| {what} | {} | < {} | {} |",
                    fmt_ns(*v),
                    fmt_ns(*limit),
                    if v < limit { "yes" } else { "**no**" }
                );
            }
            None => {
                let _ = writeln!(md, "| {what} | not measured | < {} | — |", fmt_ns(*limit));
            }
        }
    }
    for row in printed_goals(printed, paired) {
        md.push_str(&row);
    }
    md.push('\n');
    md.push_str(&counted_section(counted));
    md.push_str("## Against Microsoft's Python SDK\n\n");
    match python {
        Ok(line) => {
            let parsed: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let num = |k: &str| parsed[k].as_f64();
            let sdk = parsed["sdk"].as_str().unwrap_or_default();
            let ours_decode = est.get("corpus_notifications/decode_classify (per element)");
            let _ = writeln!(
                md,
                "{sdk} (Python {}) has no type for `commsNotifications`: a bot parses the envelope \
                 with `json` and each `resourceData` with the SDK's `Call` model, which is what is \
                 timed, over {} corpus notifications (of {} bodies given, {} read). Its \
                 `TransferPostRequestBody` is built (example 5) and serialized; it validates nothing.\n",
                parsed["python"].as_str().unwrap_or_default(),
                num("notifications").unwrap_or(0.0),
                num("files_given").unwrap_or(0.0),
                num("files_read").unwrap_or(0.0),
            );
            md.push_str(
                "| work | msgraph-sdk | graph-comms | graph-comms is |\n|---|---:|---:|---:|\n",
            );
            if let (Some(theirs), Some(per)) =
                (num("decode_ns_per_notification"), ours_decode.copied())
            {
                let _ = writeln!(
                    md,
                    "| decode one notification (ours: decode + classify) | {} | {} | {:.0}× faster |",
                    fmt_ns(theirs),
                    fmt_ns(per),
                    theirs / per
                );
            }
            if let (Some(theirs), Some(ours)) = (
                num("transfer_build_serialize_ns"),
                est.get("transfer_example5/build_validate_serialize"),
            ) {
                let _ = writeln!(
                    md,
                    "| build (+ validate, ours only) + serialize a transfer body | {} | {} | {:.0}× faster |",
                    fmt_ns(theirs),
                    fmt_ns(*ours),
                    theirs / ours
                );
            }
            md.push('\n');
        }
        Err(e) => {
            let _ = writeln!(md, "Not measured in this run: {e}\n");
        }
    }
    for (title, command, lines) in paired {
        let _ = writeln!(
            md,
            "## {title}\n\n`{command}` (its own paired-run method):\n"
        );
        md.push_str(&markdown_lines(lines));
        md.push('\n');
    }
    for (bench, lines) in printed.iter().filter(|(_, l)| !l.is_empty()) {
        let _ = writeln!(md, "## Printed by `{bench}`\n");
        for l in lines {
            let _ = writeln!(md, "    {l}");
        }
        md.push('\n');
    }
    md.push_str(
        "## Notes per area\n\nHow each area measures, with instruction counts (callgrind) where the \
         shared machine's load makes wall-clock figures move, and the analysis behind each goal \
         met or missed: ",
    );
    let notes: Vec<String> = std::fs::read_dir(crate::workspace_root().join("docs/benchmarks"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|n| format!("[{}](benchmarks/{n})", n.trim_end_matches(".md")))
        .collect();
    md.push_str(&notes.join(", "));
    md.push_str(".\n\n");
    md.push_str("## Every criterion figure of the run\n\n| benchmark | median |\n|---|---:|\n");
    for (id, ns) in est {
        let _ = writeln!(md, "| `{id}` | {} |", fmt_ns(*ns));
    }
    md
}

/// Lines as Markdown: tables set apart by blank lines, other lines as list items.
fn markdown_lines(lines: &[String]) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for l in lines {
        let table = l.starts_with('|');
        if table != in_table {
            out.push('\n');
        }
        in_table = table;
        if table || l.starts_with("- ") {
            let _ = writeln!(out, "{l}");
        } else {
            let _ = writeln!(out, "- {l}");
        }
    }
    out
}

/// The number just after `key` in `line` (`"client/raw 0.941"` → 0.941), ignoring `%` and `×`.
fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    token.parse().ok()
}

/// The spread an ingest ratio is printed with (`84 % (p10–p90 80–88 %; 40 pairs)`), as the
/// figure's note in the goals table: ` (paired: median of 40 alternating pairs of blocks,
/// p10–p90 80–88 %)`; nothing when the cell has none.
fn ingest_spread(cell: &str) -> String {
    let Some(inner) = cell
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
    else {
        return String::new();
    };
    let (spread, pairs) = inner.split_once(';').unwrap_or((inner, ""));
    let pairs = number_after(pairs, "")
        .map(|n| format!("median of {n:.0} alternating pairs of blocks, "))
        .unwrap_or_default();
    format!(" (paired: {pairs}{})", spread.trim())
}

/// A paired ratio as a benchmark prints it (`graph_comms_testkit::PairedRatio::line`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Paired {
    median: f64,
    p10: f64,
    p90: f64,
    batches: f64,
    numerator_ns: f64,
    denominator_ns: f64,
}

/// The paired ratios printed by the criterion benchmarks, by the numerator's criterion id:
/// `paired ratio <id>: 1.234× (p10 1.2×, p90 1.3×; 301 batches × 100 iterations; 10 ns / 8 ns)`.
fn paired_ratios(printed: &BTreeMap<String, Vec<String>>) -> BTreeMap<String, Paired> {
    let mut out = BTreeMap::new();
    for l in printed.values().flatten() {
        let Some(rest) = l.strip_prefix("paired ratio ") else {
            continue;
        };
        let Some((id, figures)) = rest.split_once(": ") else {
            continue;
        };
        let parsed = (|| {
            let (num, den) = figures.split_once(" iterations; ")?.1.split_once(" / ")?;
            Some(Paired {
                median: number_after(figures, "")?,
                p10: number_after(figures, "p10")?,
                p90: number_after(figures, "p90")?,
                batches: number_after(figures, ";")?,
                numerator_ns: number_after(num, "")?,
                denominator_ns: number_after(den, "")?,
            })
        })();
        if let Some(p) = parsed {
            out.insert(id.to_owned(), p);
        }
    }
    out
}

/// Goal rows for the figures that benchmarks print themselves (paired runs, memory, accounting).
fn printed_goals(
    printed: &BTreeMap<String, Vec<String>>,
    paired: &[(&str, String, Vec<String>)],
) -> Vec<String> {
    let mut rows = Vec::new();
    let all = || {
        printed
            .values()
            .flatten()
            .chain(paired.iter().flat_map(|(_, _, l)| l.iter()))
    };
    let met = |ok: bool| if ok { "yes" } else { "**no**" };
    if let Some(r) = all().find_map(|l| number_after(l, "client/raw")) {
        rows.push(format!(
            "| transfer POSTs through GraphCommsClient vs raw reqwest, same server (median of paired runs) | {r:.3} | ≥ 0.90 | {} |\n",
            met(r >= 0.90)
        ));
    }
    for l in all().filter(|l| l.starts_with("| reused token,") || l.starts_with("| fresh token")) {
        let cells: Vec<&str> = l
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if let [pair, rps, p99] = cells[..] {
            // A fresh token per request pays a full RS256 verification each time: its goals
            // are looser than those of a reused token, which the cache answers.
            let (min_rps, max_p99) = if pair.starts_with("fresh token") {
                (40.0, 3.0)
            } else {
                (80.0, 1.5)
            };
            if let (Some(rps_ratio), Some(p99_ratio)) =
                (number_after(rps, ""), number_after(p99, ""))
            {
                rows.push(format!(
                    "| webhook ingest, {pair}: throughput vs a bare axum 202 handler{} | {rps_ratio:.0} % | ≥ {min_rps:.0} % | {} |\n",
                    ingest_spread(rps),
                    met(rps_ratio >= min_rps)
                ));
                rows.push(format!(
                    "| webhook ingest, {pair}: p99 latency vs the bare handler{} | {p99_ratio:.2}× | ≤ {max_p99:.1}× | {} |\n",
                    ingest_spread(p99),
                    met(p99_ratio <= max_p99)
                ));
            }
        }
    }
    if let Some(lost) = all().find_map(|l| number_after(l, "; lost")) {
        rows.push(format!(
            "| webhook ingest: notifications lost (counted at both ends) | {lost:.0} | 0 | {} |\n",
            met(lost == 0.0)
        ));
    }
    if let Some(p50) = all()
        .filter(|l| l.starts_with("shared store wake-up, redis:"))
        .find_map(|l| number_after(l, "p50"))
    {
        rows.push(format!(
            "| shared store on Redis: last notification's arrival to the waiter's wake-up, p50 (loopback) | {p50:.0} µs | ≤ 1 000 µs | {} |\n",
            met(p50 <= 1_000.0)
        ));
    }
    if let Some(rate) = all()
        .filter(|l| l.starts_with("shared store recording into redis:"))
        .find_map(|l| number_after(l, "redis:"))
    {
        rows.push(format!(
            "| shared store on Redis: notifications recorded per second, one instance | {rate:.0} /s | ≥ 20 000 /s | {} |\n",
            met(rate >= 20_000.0)
        ));
    }
    if let Some(mib) = all()
        .filter(|l| l.starts_with("notify_tracker/memory"))
        .find_map(|l| number_after(l, "KiB ("))
    {
        rows.push(format!(
            "| tracker: 100 000 transfers tracked at once (process RSS growth) | {mib:.1} MiB | ≤ 100 MiB | {} |\n",
            met(mib <= 100.0)
        ));
    }
    rows
}

/// A bar chart of each ratio against its goal.
fn svg(est: &BTreeMap<String, f64>, pairs: &BTreeMap<String, Paired>) -> String {
    let rows: Vec<(&str, f64, f64)> = GOALS
        .iter()
        .filter_map(|g| {
            let ratio = match pairs.get(g.numerator) {
                Some(p) => p.median,
                None => est.get(g.numerator)? / est.get(g.denominator)?,
            };
            Some((g.what, ratio, g.goal))
        })
        .collect();
    let max = rows.iter().map(|(_, r, g)| r.max(*g)).fold(1.0, f64::max) * 1.1;
    let (left, width, bar, gap) = (520.0, 360.0, 22.0, 14.0);
    let height = 40.0 + rows.len() as f64 * (bar + gap);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        left + width + 80.0
    );
    let _ = writeln!(s, "<text x=\"10\" y=\"18\" font-weight=\"bold\">ratio to the baseline (bar) and goal (line); shorter is better</text>");
    for (i, (what, ratio, goal)) in rows.iter().enumerate() {
        let y = 32.0 + i as f64 * (bar + gap);
        let w = ratio / max * width;
        let gx = left + goal / max * width;
        let color = if ratio <= goal { "#3a7d44" } else { "#b5452f" };
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\">{}</text>",
            y + 15.0,
            what.replace('&', "&amp;").replace('<', "&lt;")
        );
        let _ = writeln!(
            s,
            "<rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{color}\"/>"
        );
        let _ = writeln!(s, "<line x1=\"{gx:.1}\" x2=\"{gx:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"black\" stroke-width=\"2\"/>", y - 3.0, y + bar + 3.0);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{ratio:.2}× (goal {goal}×)</text>",
            left + w.max(gx - left) + 6.0,
            y + 15.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_callgrind_counts_and_renders_them_against_the_goals() {
        let stderr = "==41== Callgrind, a call-graph generating cache profiler\n==41== \n==41== Events    : Ir\n==41== Collected : 123456789\n==41== \n==41== I   refs:      123,456,789\n";
        assert_eq!(super::collected(stderr), Some(123_456_789.0));
        assert_eq!(super::collected("==41== error\n"), None);
        let rows = vec![
            super::CountedRatio {
                what: super::GOALS[0].what,
                numerator: 3_000.0,
                denominator: 2_000.0,
                time_goal: None,
            },
            super::CountedRatio {
                what: "a rate",
                numerator: 1_000.0,
                denominator: 800.0,
                time_goal: Some("≤ 1.25× (rate ≥ 80 %)"),
            },
        ];
        let md = super::counted_section(&Ok(rows));
        assert!(
            md.contains(&format!(
                "| {} | 3000 | 2000 | 1.50× | ≤ 1.5× |",
                super::GOALS[0].what
            )),
            "{md}"
        );
        assert!(
            md.contains("| a rate | 1000 | 800 | 1.25× | ≤ 1.25× (rate ≥ 80 %) |"),
            "{md}"
        );
        let missing = super::counted_section(&Err("valgrind not found".into()));
        assert!(
            missing.contains("Not counted in this run: valgrind not found"),
            "{missing}"
        );
        for c in super::COUNTED {
            assert!(
                c.time_goal.is_some() || super::GOALS.iter().any(|g| g.what == c.what),
                "{}",
                c.what
            );
            assert!(c.iterations.0 < c.iterations.1, "{}", c.what);
        }
    }

    #[test]
    fn reads_criterion_files() {
        let est = r#"{"mean":{"point_estimate":12.5},"median":{"confidence_interval":{"lower_bound":1.0},"point_estimate":10.25,"standard_error":0.1}}"#;
        assert_eq!(
            super::json_number(est, "median", "point_estimate"),
            Some(10.25)
        );
        let bench = r#"{"group_id":"g","function_id":"f","full_id":"g/f/p","directory_name":"g/f/p","throughput":{"Elements":259}}"#;
        assert_eq!(
            super::json_string(bench, "full_id").as_deref(),
            Some("g/f/p")
        );
        assert_eq!(
            super::json_number(bench, "throughput", "Elements"),
            Some(259.0)
        );
    }

    #[test]
    fn reads_the_shared_store_figures() {
        let paired = vec![(
            "s",
            "c".to_owned(),
            vec![
                "shared store wake-up, memory: p50 20.1 µs, p99 40.2 µs (400 transfers)".to_owned(),
                "shared store wake-up, redis: p50 310.4 µs, p99 900.0 µs (400 transfers)"
                    .to_owned(),
                "shared store recording into redis: 18000 notifications/s (4000 transfers)"
                    .to_owned(),
            ],
        )];
        let rows = super::printed_goals(&Default::default(), &paired);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(
            rows[0].contains("| 310 µs | ≤ 1 000 µs | yes |"),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].contains("| 18000 /s | ≥ 20 000 /s | **no** |"),
            "{}",
            rows[1]
        );
    }

    #[test]
    fn reads_printed_figures() {
        assert_eq!(
            super::number_after("client/raw 0.941", "client/raw"),
            Some(0.941)
        );
        assert_eq!(super::number_after("| 82 % |", "| "), Some(82.0));
        let printed = std::collections::BTreeMap::from([(
            "n/b".to_owned(),
            vec!["notify_tracker/memory: 100000 open transfers: RSS +64704 KiB (63.2 MiB, 662 bytes)".to_owned()],
        )]);
        let paired = vec![(
            "t",
            "c".to_owned(),
            vec![
                "| reused token, axum::serve | 92 % | 3.70× |".to_owned(),
                "| fresh token per request, axum::serve | 45 % (p10–p90 34–66 %; 64 pairs) | 1.96× (p10–p90 1.43–4.09×; 64 pairs) |".to_owned(),
                "accounting: sent 10; lost 0".to_owned(),
            ],
        )];
        let rows = super::printed_goals(&printed, &paired);
        assert_eq!(rows.len(), 6, "{rows:?}");
        assert!(
            rows[0].contains("handler | 92 % | ≥ 80 % | yes |"),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].contains("handler | 3.70× | ≤ 1.5× | **no** |"),
            "{}",
            rows[1]
        );
        // The spread goes with the figure; the goal is the looser one of fresh tokens.
        assert!(
            rows[2].contains("handler (paired: median of 64 alternating pairs of blocks, p10–p90 34–66 %) | 45 % | ≥ 40 % | yes |"),
            "{}",
            rows[2]
        );
        assert!(
            rows[3].contains("(paired: median of 64 alternating pairs of blocks, p10–p90 1.43–4.09×) | 1.96× | ≤ 3.0× | yes |"),
            "{}",
            rows[3]
        );
        assert!(rows[4].contains("| 0 | 0 | yes |"), "{}", rows[4]);
        assert!(
            rows[5].contains("| 63.2 MiB | ≤ 100 MiB | yes |"),
            "{}",
            rows[5]
        );
    }

    #[test]
    fn reads_paired_ratios() {
        let printed = std::collections::BTreeMap::from([(
            "m/decode".to_owned(),
            vec![
                "paired ratio g/routing: 1.234× (p10 1.200×, p90 1.300×; 301 batches × 57 iterations; 4100 ns / 3323 ns)".to_owned(),
                "paired ratio broken".to_owned(),
            ],
        )]);
        let pairs = super::paired_ratios(&printed);
        assert_eq!(pairs.len(), 1, "{pairs:?}");
        let p = pairs["g/routing"];
        assert_eq!(
            (
                p.median,
                p.p10,
                p.p90,
                p.batches,
                p.numerator_ns,
                p.denominator_ns
            ),
            (1.234, 1.2, 1.3, 301.0, 4100.0, 3323.0)
        );
    }

    #[test]
    fn fresh_tokens_have_their_own_goals() {
        let paired = vec![(
            "t",
            "c".to_owned(),
            vec!["| fresh token per request, axum::serve | 45 % | 2.50× |".to_owned()],
        )];
        let rows = super::printed_goals(&Default::default(), &paired);
        assert!(rows[0].contains("| 45 % | ≥ 40 % | yes |"), "{}", rows[0]);
        assert!(rows[1].contains("| 2.50× | ≤ 3.0× | yes |"), "{}", rows[1]);
    }

    #[test]
    fn keeps_summaries_and_drops_criterion_noise() {
        let out = "Benchmarking a/b\nBenchmarking a/b: Warming up\na/b                     time:   [1 ns 2 ns 3 ns]\n                        change: [-1% +0% +1%]\n| x | y |\n|---|---|\n| 1 | 2 |\nmedian of 5 paired runs: ratio 1.02\nFound 3 outliers among 100 measurements (3.00%)\n  3 (3.00%) high mild\n";
        assert_eq!(
            super::summary_lines(out),
            [
                "| x | y |",
                "|---|---|",
                "| 1 | 2 |",
                "median of 5 paired runs: ratio 1.02"
            ]
        );
    }
}
