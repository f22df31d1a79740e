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
/// Dropping the future stops accepting; connections already open keep being served by their
/// own tasks until they close. For a clean stop, use [`serve_with_shutdown`].
///
/// ```no_run
/// # async fn run(receiver: graph_comms_receiver::Receiver) -> graph_comms_receiver::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
/// graph_comms_receiver::serve(listener, receiver.router(), Default::default()).await
/// # }
/// ```
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions) -> Result<()> {
    serve_with_shutdown(listener, router, options, std::future::pending()).await
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets every
/// open connection finish the request it is on (idle keep-alive connections are closed), and
/// returns once all connections have closed.
///
/// ```no_run
/// # async fn run(receiver: graph_comms_receiver::Receiver) -> graph_comms_receiver::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3978").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let server = tokio::spawn(graph_comms_receiver::serve_with_shutdown(
///     listener,
///     receiver.router(),
///     Default::default(),
///     async move { let _ = stopped.await; },
/// ));
/// // ... later:
/// let _ = stop.send(());
/// # let _ = server.await;
/// # Ok(()) }
/// ```
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Reap finished connection tasks so the set stays as small as the open connections.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
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
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) || error.raw_os_error().is_some()
}
