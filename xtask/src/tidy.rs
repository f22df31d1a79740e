//! Tidy checks over the source tree, run by `cargo test`: every `.rs` file starts with a `//!`
//! line (or a crate root with `#![doc = include_str!("../README.md")]`), has no trailing
//! whitespace and no `dbg!`; and every dependency boundary `docs/architecture.md` states holds,
//! checked over `cargo metadata`.

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
            // A crate root may open with its README as its documentation instead.
            let readme_front_page = text.starts_with("#![doc = include_str!(\"../README.md\")]");
            if !text.starts_with("//!") && !readme_front_page {
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

    /// The internal crates each crate may depend on (normal dependencies), from
    /// `docs/architecture.md`: model <- transfer <- transport/notify <- receiver/emulator/flow <-
    /// cli. The testkit and xtask are outside the layers.
    const LAYERS: &[(&str, &[&str])] = &[
        ("graph-comms-model", &[]),
        ("graph-comms-transfer", &["graph-comms-model"]),
        (
            "graph-comms-transport",
            &["graph-comms-model", "graph-comms-transfer"],
        ),
        ("graph-comms-notify", &["graph-comms-model"]),
        (
            "graph-comms-receiver",
            &["graph-comms-notify", "graph-comms-transport"],
        ),
        (
            "graph-comms-emulator",
            &[
                "graph-comms-model",
                "graph-comms-transfer",
                "graph-comms-transport",
            ],
        ),
        (
            "graph-comms-flow",
            &[
                "graph-comms-model",
                "graph-comms-transfer",
                "graph-comms-transport",
                "graph-comms-notify",
            ],
        ),
        (
            "graph-comms-cli",
            &[
                "graph-comms-model",
                "graph-comms-transfer",
                "graph-comms-transport",
                "graph-comms-notify",
                "graph-comms-receiver",
                "graph-comms-emulator",
                "graph-comms-flow",
            ],
        ),
        ("graph-comms-testkit", &[]),
        ("xtask", &["graph-comms-testkit"]),
    ];

    /// Crates that speak HTTP; notify never sends HTTP, so it names none of them.
    const HTTP_STACKS: &[&str] = &[
        "reqwest",
        "hyper",
        "hyper-util",
        "axum",
        "graph-comms-transport",
    ];

    /// What `cargo metadata --no-deps` says of the workspace at `root`.
    fn metadata(root: &Path) -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--no-deps",
                "--offline",
                "--format-version",
                "1",
            ])
            .current_dir(root)
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
    }

    /// Every stated boundary the workspace described by `metadata` breaks, one line each.
    fn boundary_violations(metadata: &serde_json::Value) -> Vec<String> {
        let mut problems = Vec::new();
        let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
        for p in &packages {
            let name = p["name"].as_str().unwrap_or_default();
            let deps: Vec<&serde_json::Value> = p["dependencies"]
                .as_array()
                .map(|d| d.iter().filter(|d| d["kind"].is_null()).collect())
                .unwrap_or_default();
            let dep_names: Vec<&str> = deps.iter().filter_map(|d| d["name"].as_str()).collect();
            match LAYERS.iter().find(|(n, _)| *n == name) {
                Some((_, allowed)) => {
                    for d in dep_names.iter().filter(|d| d.starts_with("graph-comms-")) {
                        if !allowed.contains(d) {
                            problems.push(format!("{name} depends on {d}: not a layer below it"));
                        }
                    }
                }
                None => problems.push(format!("{name}: not placed in a layer (LAYERS)")),
            }
            if name == "graph-comms-model" {
                for d in dep_names
                    .iter()
                    .filter(|d| !["serde", "serde_json"].contains(d))
                {
                    problems.push(format!(
                        "graph-comms-model depends on {d}: serde and serde_json only"
                    ));
                }
            }
            if name != "graph-comms-transport" && dep_names.contains(&"reqwest") {
                problems.push(format!(
                    "{name} names reqwest: only graph-comms-transport does"
                ));
            }
            if name == "graph-comms-notify" {
                for d in dep_names.iter().filter(|d| HTTP_STACKS.contains(d)) {
                    problems.push(format!(
                        "graph-comms-notify depends on {d}: notify never sends HTTP"
                    ));
                }
            }
            if name == "graph-comms-receiver" {
                let transport = deps.iter().find(|d| d["name"] == "graph-comms-transport");
                let forced = transport.is_some_and(|d| {
                    d["features"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|f| f == "reqwest"))
                });
                if forced {
                    problems.push(
                        "graph-comms-receiver turns on graph-comms-transport/reqwest itself: only its own `reqwest` feature may".to_owned(),
                    );
                }
                let own = p["features"]["reqwest"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == "graph-comms-transport/reqwest"));
                if !own {
                    problems.push("graph-comms-receiver has no `reqwest` feature turning on graph-comms-transport/reqwest".to_owned());
                }
            }
            // Published crates carry what crates.io shows.
            let unpublished = p["publish"].as_array().is_some_and(Vec::is_empty);
            if !unpublished {
                for field in ["description", "license", "repository", "readme"] {
                    if p[field].as_str().is_none_or(str::is_empty) {
                        problems.push(format!("{name}: published without `{field}`"));
                    }
                }
                for field in ["keywords", "categories"] {
                    if p[field].as_array().is_none_or(Vec::is_empty) {
                        problems.push(format!("{name}: published without `{field}`"));
                    }
                }
            }
        }
        problems
    }

    #[test]
    fn the_workspace_keeps_its_stated_boundaries() {
        let problems = boundary_violations(&metadata(&crate::workspace_root()));
        assert!(problems.is_empty(), "boundaries:\n{}", problems.join("\n"));
    }

    /// A fixture workspace that breaks boundaries: each broken rule is reported.
    #[test]
    fn a_broken_boundary_fails_the_check() {
        let root = std::env::temp_dir().join(format!("graph-comms-tidy-{}", std::process::id()));
        let write = |path: &str, text: &str| {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("fixture dir");
            std::fs::write(p, text).expect("fixture file");
        };
        write(
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n",
        );
        let krate = |name: &str, deps: &str, extra: &str| {
            write(&format!("crates/{name}/src/lib.rs"), "//! Fixture.\n");
            write(
                &format!("crates/{name}/Cargo.toml"),
                &format!(
                    "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n{extra}\n[dependencies]\n{deps}"
                ),
            );
        };
        krate("graph-comms-model", "serde = \"1\"\ntokio = \"1\"\n", "");
        krate(
            "graph-comms-notify",
            "graph-comms-model = { path = \"../graph-comms-model\" }\nreqwest = \"0.12\"\n",
            "",
        );
        krate("graph-comms-transport", "", "[features]\nreqwest = []\n");
        krate(
            "graph-comms-receiver",
            "graph-comms-transport = { path = \"../graph-comms-transport\", features = [\"reqwest\"] }\n",
            "",
        );
        krate(
            "graph-comms-transfer",
            "graph-comms-notify = { path = \"../graph-comms-notify\" }\n",
            "",
        );
        let problems = boundary_violations(&metadata(&root));
        let _ = std::fs::remove_dir_all(&root);
        let joined = problems.join("\n");
        for expected in [
            "graph-comms-model depends on tokio: serde and serde_json only",
            "graph-comms-notify names reqwest: only graph-comms-transport does",
            "graph-comms-notify depends on reqwest: notify never sends HTTP",
            "graph-comms-receiver turns on graph-comms-transport/reqwest itself",
            "graph-comms-receiver has no `reqwest` feature",
            "graph-comms-transfer depends on graph-comms-notify: not a layer below it",
        ] {
            assert!(joined.contains(expected), "{expected:?} not in:\n{joined}");
        }
        assert_eq!(problems.len(), 6, "{joined}");
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
