//! The page's accept loop, in place of `axum::serve`, which holds every connection it accepts
//! for as long as the client likes: 3,000 idle ones took the agent past the unit's 64 MiB. Here
//! at most `max_connections` are served at once and any beyond are closed as they arrive; a
//! connection waiting for, or trickling, a request's header is closed after `idle_timeout`
//! (hyper runs its header timer from when the connection opens or has answered, so that is
//! also the keep-alive idle time); a request takes at most `request_timeout`, its body
//! included; and a header may not exceed one small buffer.

use super::hosts::Reached;
use crate::config::WebSettings;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// A request's line and headers: a browser's, cookie included, fit with room to spare; hyper's
/// default (about 400 KiB a connection) would let 64 connections hold 25 MiB.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// After a failed accept (out of file descriptors), a pause before the next, so the loop does
/// not spin while nothing can be accepted.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` until `cancel`, then lets each open connection finish the
/// request it is answering (within `request_timeout`) and returns.
pub async fn serve(listener: TcpListener, router: Router, limits: &WebSettings, cancel: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let mut full = false;
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "the local page cannot accept a connection");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_PAUSE) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !full {
                tracing::warn!(
                    limit = limits.max_connections,
                    "the local page has as many connections as it serves; closing new ones until one ends"
                );
            }
            full = true;
            drop(stream);
            continue;
        };
        full = false;
        connections.spawn(connection(stream, slot, router.clone(), limits.clone(), cancel.clone()));
    }
    connections.close();
    connections.wait().await;
}

/// One client's connection, holding its `slot` until it closes.
async fn connection(
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
    router: Router,
    limits: WebSettings,
    cancel: CancellationToken,
) {
    let reached = stream.local_addr().ok().map(Reached);
    let request_timeout = limits.request_timeout;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        if let Some(reached) = reached {
            request.extensions_mut().insert(reached);
        }
        let answer = router.clone().oneshot(request);
        async move {
            match tokio::time::timeout(request_timeout, answer).await {
                Ok(answered) => answered,
                Err(_) => Ok::<_, Infallible>(too_slow()),
            }
        }
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.idle_timeout).max_buf_size(MAX_HEAD_BYTES);
    let served = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let ended = tokio::select! {
        ended = served.as_mut() => ended,
        () = cancel.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = ended {
        // Timeouts and clients that hang up are the normal end of an idle connection.
        tracing::debug!(error = %e, "a connection to the local page ended");
    }
    drop(slot);
}

/// A request that outlasted its time; the connection closes after it, its body half read.
fn too_slow() -> Response {
    let mut response = (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response();
    super::headers::add(response.headers_mut());
    response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests;
