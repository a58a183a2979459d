//! The accept loop against real sockets on loopback, with limits small enough to reach and
//! timeouts short enough to wait for. Every wait is for a condition, under a deadline.

use super::*;
use axum::routing::get;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, timeout_at, Instant};

/// Ample on a loaded two-core machine, and still far short of "never".
const DEADLINE: Duration = Duration::from_secs(20);
/// Between two tries of something that becomes true when the server has caught up.
const POLL: Duration = Duration::from_millis(20);

fn limits(max_connections: usize, idle_timeout: Duration) -> WebSettings {
    WebSettings {
        listen: ([127, 0, 0, 1], 0).into(),
        hosts: Vec::new(),
        max_connections,
        idle_timeout,
        request_timeout: Duration::from_secs(5),
    }
}

struct Server {
    addr: SocketAddr,
    cancel: CancellationToken,
    serving: JoinHandle<()>,
}

/// A one-route page (`GET /` says "here") served by the accept loop on a free loopback port.
async fn start(limits: WebSettings) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router = Router::new().route("/", get(|| async { "here" }));
    let cancel = CancellationToken::new();
    let serving = tokio::spawn({
        let cancel = cancel.clone();
        async move { serve(listener, router, &limits, cancel).await }
    });
    Server { addr, cancel, serving }
}

impl Server {
    async fn stop(self) {
        self.cancel.cancel();
        timeout(DEADLINE, self.serving).await.expect("serving stops when cancelled").expect("no panic");
    }
}

/// Whether the server closes `stream` (end of stream or reset) within `within`; anything it
/// sends first (an error status) is read past.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A keep-alive connection that has had one request answered: accepted and served for sure.
async fn served_once(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("send");
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !response.ends_with(b"here") {
        let n = timeout(DEADLINE, stream.read(&mut buf)).await.expect("an answer in time").expect("read");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..n]);
    }
    stream
}

/// One request on a new connection: its status line, if it was answered.
async fn fetch(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    timeout(DEADLINE, stream.read_to_end(&mut response)).await.ok()?.ok()?;
    String::from_utf8_lossy(&response).lines().next().map(str::to_string)
}

/// Whether a fresh request is answered 200 within `within`; a slot frees only once the
/// server has seen a connection end, so the first tries may be closed unanswered.
async fn answered_within(addr: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if fetch(addr).await.is_some_and(|status| status.contains(" 200 ")) {
            return true;
        }
        sleep(POLL).await;
    }
    false
}

#[tokio::test]
async fn idle_connections_are_closed_and_a_fresh_request_is_still_answered() {
    // Given the page serving 32 connections at most, closing those idle for half a second
    let server = start(limits(32, Duration::from_millis(500))).await;
    // When 200 clients connect and send nothing (the 3,000-connection attack, scaled down)
    let mut idle = Vec::with_capacity(200);
    for _ in 0..200 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Then the server closes every one of them: those beyond its limit as they arrive, the
    // others once idle for the timeout
    for (i, stream) in idle.iter_mut().enumerate() {
        assert!(closed_by_server(stream, DEADLINE).await, "connection {i} is still open");
    }
    // And a fresh request is answered
    assert!(answered_within(server.addr, DEADLINE).await, "the page no longer answers");
    server.stop().await;
}

#[tokio::test]
async fn a_connection_beyond_the_limit_is_closed_at_once_and_served_once_a_slot_frees() {
    // Given the page serving 4 connections at most, with a timeout no test waits for
    let server = start(limits(4, Duration::from_secs(300))).await;
    // And four browsers holding keep-alive connections it has answered
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(served_once(server.addr).await);
    }
    // When a fifth connects
    let mut fifth = TcpStream::connect(server.addr).await.expect("the kernel accepts it");
    // Then the server closes it straight away, not after any timeout
    assert!(closed_by_server(&mut fifth, Duration::from_secs(10)).await, "a fifth connection is held");
    // When one of the four goes away
    drop(held.pop());
    // Then a new connection is served again
    assert!(answered_within(server.addr, DEADLINE).await, "the freed slot is not reused");
    server.stop().await;
}

#[tokio::test]
async fn a_header_trickled_too_slowly_is_cut_off() {
    // Given the page allowing 300 ms for a request's header
    let server = start(limits(8, Duration::from_millis(300))).await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("send");
    // When the client keeps sending its header a byte every 50 ms, never finishing it
    let deadline = Instant::now() + DEADLINE;
    let (mut from_server, mut to_server) = slow.split();
    let mut buf = [0u8; 512];
    let closed = loop {
        tokio::select! {
            read = from_server.read(&mut buf) => match read {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue,
            },
            () = sleep(Duration::from_millis(50)) => {
                if to_server.write_all(b"a").await.is_err() {
                    break true;
                }
            }
            () = sleep_until(deadline) => break false,
        }
    };
    // Then the server closes it although bytes keep coming
    assert!(closed, "a trickled header holds its connection");
    server.stop().await;
}

#[tokio::test]
async fn a_keep_alive_connection_left_idle_after_its_answer_is_closed() {
    // Given the page closing connections idle for 300 ms
    let server = start(limits(8, Duration::from_millis(300))).await;
    // When a browser's request is answered and it leaves the connection open
    let mut idle = served_once(server.addr).await;
    // Then the server closes it
    assert!(closed_by_server(&mut idle, DEADLINE).await, "an idle keep-alive connection is held");
    server.stop().await;
}

#[tokio::test]
async fn serving_stops_when_cancelled_with_connections_still_open() {
    // Given the page with a connection that sent nothing and one answered and kept alive
    let server = start(limits(8, Duration::from_secs(300))).await;
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut kept = served_once(server.addr).await;
    // When the agent stops
    server.stop().await;
    // Then serving ended (`stop` waited for it) and both connections are closed
    assert!(closed_by_server(&mut silent, DEADLINE).await);
    assert!(closed_by_server(&mut kept, DEADLINE).await);
}
