//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::process::Command;

/// One step: a description, the program and its arguments, extra environment.
struct Step {
    what: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        what: "format",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        what: "lints",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        what: "tests and doctests",
        args: &["test", "--workspace", "--no-fail-fast"],
        env: &[("INSTA_UPDATE", "no")],
    },
    Step {
        what: "both crypto backends compiled in (aws-lc chosen, installed explicitly)",
        args: &[
            "test",
            "-p",
            "graph-comms-receiver",
            "--features",
            "rust-crypto",
            "--test",
            "crypto_backend",
        ],
        env: &[],
    },
    Step {
        what: "the receiver without reqwest (a bot with its own HTTP stack)",
        args: &[
            "check",
            "-p",
            "graph-comms-receiver",
            "--no-default-features",
            "--features",
            "aws-lc",
        ],
        env: &[],
    },
    Step {
        // `--workspace` packages the crates that depend on each other against one another
        // (cargo >= 1.83). `--no-verify`: the verification would build every crate once more from
        // its archive, several minutes on two cores, for what the steps above already built and
        // tested from the same sources; the packaging itself (manifests rewritten, files listed,
        // dependencies resolvable) is what this step checks. The testkit and xtask are
        // `publish = false` and `--workspace` would package them anyway.
        what: "every published crate packages",
        args: &[
            "package",
            "--workspace",
            "--exclude",
            "graph-comms-testkit",
            "--exclude",
            "xtask",
            "--no-verify",
        ],
        env: &[],
    },
    Step {
        what: "rustdoc",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

/// Runs every step; the generated-code check comes last.
pub(crate) fn run() -> Result<(), String> {
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for step in STEPS {
        eprintln!("==> {}: cargo {}", step.what, step.args.join(" "));
        let status = Command::new(&cargo)
            .args(step.args)
            .envs(step.env.iter().copied())
            .env_remove("INSTA_FORCE_PASS")
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("{} failed ({status})", step.what));
        }
    }
    eprintln!("==> generated code: cargo xtask codegen --check");
    crate::codegen::run(true)?;
    eprintln!("==> all checks passed");
    Ok(())
}
