//! Every subcommand explains itself: `--help` with examples, completions for the shells.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_graph-comms"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in [
        &["validate"][..],
        &["transfer"],
        &["notify", "parse"],
        &["call"],
        &["call", "create"],
        &["call", "answer"],
        &["call", "reject"],
        &["call", "redirect"],
        &["call", "hangup"],
        &["call", "get"],
        &["listen"],
        &["emulate"],
        &["demo"],
        &["completions"],
    ] {
        let mut args = sub.to_vec();
        args.push("--help");
        let (code, out) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        assert!(
            out.contains("Example"),
            "{args:?} --help has no examples:\n{out}"
        );
        assert!(
            out.contains(&format!("graph-comms {}", sub.join(" "))),
            "{args:?}:\n{out}"
        );
    }
}

#[test]
fn completions_are_generated_for_bash() {
    let (code, out) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("complete -F _graph__comms"), "{out}");
    for sub in [
        "validate", "transfer", "notify", "listen", "emulate", "demo", "call", "create", "answer",
        "reject", "redirect", "hangup",
    ] {
        assert!(out.contains(sub), "completions lack {sub}");
    }
}
