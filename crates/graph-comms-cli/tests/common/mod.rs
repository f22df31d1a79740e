//! Runs the `graph-comms` binary as a user would: arguments, standard input, environment.

use std::io::Write;
use std::process::{Command, Stdio};

/// Variables a test never inherits from the machine running it (credentials, tokens).
const SCRUBBED: [&str; 7] = [
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_AUTHORITY_HOST",
    "GRAPH_COMMS_TOKEN",
    "RUST_LOG",
];

/// Runs `graph-comms ARGS` with `stdin` and `env` (and none of [`SCRUBBED`] inherited);
/// returns (exit code, stdout, stderr).
pub(crate) fn graph_comms(
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_graph-comms"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().expect("the binary starts");
    // A command that fails before reading stdin closes it: a broken pipe here is not an error.
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("the binary ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
