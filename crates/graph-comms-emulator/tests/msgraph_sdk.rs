//! Microsoft's own SDK (msgraph-sdk on PyPI) drives the emulator unchanged: it places a call,
//! answers, rejects and redirects incoming calls, plays a prompt, starts and stops hold music and
//! deletes a call, with its own client and bodies (`fixtures/msgraph-sdk/generate.py drive`).
//!
//! Runs where a Python with msgraph-sdk is found: `GRAPH_COMMS_MSGRAPH_PYTHON`, else the
//! benchmark's `target/bench-venv`, else `python3`. Elsewhere the recorded bodies of the same
//! actions (`tests/corpus.rs`, module `msgraph_sdk`) cover it; under `CI=true` (where `.ci/run`
//! installs the SDK) a missing SDK fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use graph_comms_emulator::ApiVersion;
use graph_comms_emulator::PlaceCall;
use serde_json::{json, Value};

fn python_with_sdk() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("GRAPH_COMMS_MSGRAPH_PYTHON").map(PathBuf::from),
        Some(root.join("target/bench-venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import msgraph"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_drives_every_action() {
    let Some(python) = python_with_sdk() else {
        // CI installs the SDK (`.ci/run`): there, a missing SDK is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "CI=true but no Python with msgraph-sdk was found (GRAPH_COMMS_MSGRAPH_PYTHON, \
             target/bench-venv or python3)"
        );
        eprintln!(
            "msgraph-sdk not found: the recorded bodies in tests/corpus.rs cover the actions"
        );
        return;
    };
    let em = emulator().await;
    let cb = Callback::start().await;
    let incoming = |_: ()| {
        em.place_call(PlaceCall::new(&cb.url).answered_by_bot())
            .unwrap()
            .id
    };
    let (answer, reject, redirect) = (incoming(()), incoming(()), incoming(()));
    let established = em.place_call(PlaceCall::new(&cb.url)).unwrap();
    em.wait_for_deliveries(&established.id, 2, WAIT).await;
    let plan = json!({
        "callbackUri": cb.url,
        "answer": answer,
        "reject": reject,
        "redirect": redirect,
        "established": established.id,
        "participant": established.participants[0].participant_id,
    });
    let token = common::token(&em, TENANT, APP_ID, "secret").await;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msgraph-sdk/generate.py");
    let base = em.base_url(ApiVersion::V1).to_string();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .args(["drive", &base])
            .env("GRAPH_COMMS_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(plan.to_string().as_bytes())
            .expect("plan written");
        child.wait_with_output().expect("python ends")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per action"))
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "answer",
            "reject",
            "redirect",
            "playPrompt",
            "startHoldMusic",
            "stopHoldMusic",
            "delete"
        ]
    );
    // What the SDK read back from the emulator's answers.
    let created = lines[0]["id"]
        .as_str()
        .expect("the SDK read the created call's id");
    assert_eq!(lines[4]["status"], "OperationStatus.Running");
    assert!(lines[5]["id"].as_str().is_some());

    // And what each call went through, as the bot's callback saw it.
    let states = |id: &str, n: usize| {
        let em = &em;
        let id = id.to_owned();
        async move {
            em.wait_for_deliveries(&id, n, WAIT)
                .await
                .into_iter()
                .map(|r| format!("{} {}", r.change_type, r.state.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        states(created, 2).await,
        ["updated establishing", "updated established"]
    );
    assert_eq!(
        states(&answer, 3).await,
        [
            "created incoming",
            "updated establishing",
            "updated established"
        ]
    );
    assert_eq!(states(&reject, 2).await, ["created incoming", "deleted "]);
    assert_eq!(
        states(&redirect, 2).await,
        ["created incoming", "deleted terminated"]
    );
    assert_eq!(
        states(&established.id, 7).await,
        [
            "updated establishing",
            "updated established",
            "deleted ",
            "deleted ",
            "deleted ",
            "updated terminating",
            "deleted terminated"
        ]
    );
}
