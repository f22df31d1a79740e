//! A small HTTP/1.1 server loop with the timeouts a public webhook needs.
//!
//! `axum::serve` sets no header-read timeout, so a client that trickles its headers holds a
//! connection forever. [`serve`] runs any [`Router`] (the receiver's, merged into the bot's own)
//! with hyper's header-read timeout and `TCP_NODELAY`; the body timeout is the receiver's own.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::error::Result;

/// Options of [`serve`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Time allowed to receive a request's headers (default 10 s); the connection is closed after.
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until the task is dropped or accepting fails fatally.
///
/// ```no_run
/// # async fn run(receiver: graph_comms_receiver::Receiver) -> graph_comms_receiver::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
/// graph_comms_receiver::serve(listener, receiver.router(), Default::default()).await
/// # }
/// ```
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions) -> Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) if is_transient(&error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "set_nodelay failed");
        }
        let service = TowerToHyperService::new(router.clone());
        let timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || error.raw_os_error().is_some()
}
