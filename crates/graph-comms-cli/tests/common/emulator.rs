//! The emulator as the CLI's process tests start it: on its own runtime (the test thread stays
//! synchronous), for one bot app id, retrying early deliveries quickly (the binary under test
//! starts listening only once it runs).

use std::time::Duration;

use graph_comms_emulator::{DeliveryPolicy, Emulator, EmulatorConfig};

/// Starts the emulator for the bot `app`; the runtime must live as long as the test.
pub(crate) fn start(app: &str) -> (tokio::runtime::Runtime, Emulator) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let config = EmulatorConfig::default()
        .with_bot_app_id(app)
        .with_delivery(DeliveryPolicy::new(40, Duration::from_millis(25)));
    let emulator = rt
        .block_on(Emulator::start(config))
        .expect("the emulator starts");
    (rt, emulator)
}
