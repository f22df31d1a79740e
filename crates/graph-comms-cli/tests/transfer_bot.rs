//! The README's transfer bot (`examples/transfer_bot.rs`), run against the emulator: it answers
//! the call offered to it, greets the caller and transfers the call.

#[allow(dead_code)] // its `main`, which the example binary runs
#[path = "../examples/transfer_bot.rs"]
mod transfer_bot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_bot_answers_then_transfers_an_incoming_call() {
    let states = transfer_bot::against_the_emulator()
        .await
        .expect("the call ends");
    // Offered, answered (established), transferred, ended: in this order.
    let mut rest = states.as_slice();
    for state in ["incoming", "established", "transferring", "terminated"] {
        let at = rest
            .iter()
            .position(|s| s == state)
            .unwrap_or_else(|| panic!("no {state:?} (in order) in {states:?}"));
        rest = &rest[at..];
    }
}
