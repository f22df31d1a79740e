//! Tidy checks over the source tree, run by `cargo test`: every `.rs` file starts with a `//!`
//! line, has no trailing whitespace and no `dbg!`; the model crate depends on serde and
//! serde_json only.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            if p.is_dir() {
                if name != "target"
                    && !name.starts_with('.')
                    && name != "corpus"
                    && name != "artifacts"
                {
                    rust_files(&p, out);
                }
            } else if name.ends_with(".rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn source_files_are_tidy() {
        let root = crate::workspace_root();
        let mut files = Vec::new();
        for top in ["crates", "xtask", "fuzz", "tests"] {
            rust_files(&root.join(top), &mut files);
        }
        assert!(files.len() > 10, "found only {} files", files.len());
        let dbg = concat!("dbg", "!(");
        let mut problems = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let rel = f.strip_prefix(&root).unwrap_or(f).display().to_string();
            if !text.starts_with("//!") {
                problems.push(format!("{rel}: does not start with a `//!` line"));
            }
            for (i, line) in text.lines().enumerate() {
                if line.ends_with(' ') || line.ends_with('\t') {
                    problems.push(format!("{rel}:{}: trailing whitespace", i + 1));
                }
                if line.contains(dbg) {
                    problems.push(format!("{rel}:{}: dbg! left in", i + 1));
                }
            }
        }
        assert!(problems.is_empty(), "tidy:\n{}", problems.join("\n"));
    }

    #[test]
    fn model_depends_on_serde_only() {
        let manifest = crate::workspace_root().join("crates/graph-comms-model/Cargo.toml");
        let text = std::fs::read_to_string(manifest).unwrap();
        let deps = text
            .split("[dependencies]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .unwrap_or_default();
        let names: Vec<&str> = deps
            .lines()
            .filter_map(|l| l.split(['.', '=', ' ']).next())
            .filter(|n| !n.is_empty() && !n.starts_with('#'))
            .collect();
        assert_eq!(
            names,
            ["serde", "serde_json"],
            "graph-comms-model dependencies"
        );
    }

    /// The README opens with exactly two commands (the demo, the tests), and CI runs both.
    #[test]
    fn readme_commands_are_what_ci_runs() {
        let root = crate::workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let block = readme
            .split("```sh\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("README opens with a sh code block");
        let commands: Vec<&str> = block
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(commands.len(), 2, "README's first block: {commands:?}");
        assert!(
            readme.find("```sh").unwrap() < readme.find("\n## ").unwrap(),
            "the commands come before any section"
        );
        let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
        for command in commands {
            assert!(
                ci.lines().any(|l| l.trim() == command),
                ".ci/run does not run the README's `{command}`"
            );
        }
    }

    /// The README's library tour is the code that `examples/tour.rs` compiles and runs.
    #[test]
    fn readme_tour_is_the_compiled_example() {
        let root = crate::workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let example =
            std::fs::read_to_string(root.join("crates/graph-comms-cli/examples/tour.rs")).unwrap();
        let tour = example
            .split("// --- tour ---\n")
            .nth(1)
            .and_then(|t| t.split("// --- end of tour ---").next())
            .expect("tour markers in examples/tour.rs");
        assert!(
            tour.lines().count() <= 26,
            "the tour grew past 20-odd lines"
        );
        assert!(
            readme.contains(tour),
            "README.md does not show examples/tour.rs's tour"
        );
    }

    /// The README's "Build a transfer bot" is the code that `examples/transfer_bot.rs` compiles.
    #[test]
    fn readme_transfer_bot_is_the_compiled_example() {
        let root = crate::workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let example =
            std::fs::read_to_string(root.join("crates/graph-comms-cli/examples/transfer_bot.rs"))
                .unwrap();
        let bot = example
            .split("// --- bot ---\n")
            .nth(1)
            .and_then(|t| t.split("// --- end of bot ---").next())
            .expect("bot markers in examples/transfer_bot.rs");
        assert!(
            readme.contains(bot),
            "README.md does not show examples/transfer_bot.rs's bot"
        );
    }
}
