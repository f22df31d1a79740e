//! Every transfer request body of Microsoft's own documentation (the shared payload corpus, all
//! versions found): it reads as a body, or fails as broken JSON with its position; nothing is lost
//! on a round trip; and what the validator says about each is snapshot-tested.

use graph_comms_testkit::{files_with_suffix, shared_dir};
use graph_comms_transfer::{validate_json, CallContext, Error};
use serde_json::Value;

#[test]
fn documented_transfer_requests() {
    let Some(shared) = shared_dir() else { return };
    let root = shared.join("graph-payloads");
    let files: Vec<_> = files_with_suffix(&root, "-request.json")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("call-transfer"))
        .collect();
    assert!(
        files.len() >= 20,
        "the corpus holds the transfer requests of every version"
    );
    // The bot of the documented PSTN examples is an application instance; the call kind of each
    // example is a peer call except example 5, a group call.
    let mut summary = String::new();
    for path in &files {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(path).expect("a corpus file is readable");
        let ctx = if name.contains("ex5") {
            CallContext::group()
        } else {
            CallContext::peer()
        }
        .with_application_instance(true);
        summary.push_str(&format!("{name}\n"));
        match validate_json(&bytes, &ctx) {
            Ok((body, report)) => {
                let input: Value = serde_json::from_slice(&bytes).expect("it parsed once");
                let output = serde_json::to_value(&body).expect("serializes");
                assert_eq!(output, input, "{name}: the round trip loses nothing");
                for v in report.violations() {
                    summary.push_str(&format!("  {v}\n"));
                }
            }
            Err(e @ Error::Json { .. }) => summary.push_str(&format!("  ! {e}\n")),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    insta::assert_snapshot!(summary);
}
