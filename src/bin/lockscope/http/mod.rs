//! The HTTP/1.1 server of `serve --metrics`: one thread and non-blocking sockets (mio), so no
//! client can hold up another's scrape, whatever it does.
//!
//! Every connection is a small state machine ([`Conn`]) driven by readiness events: it reads a
//! request head (at most [`MAX_HEAD`] bytes), answers it, and writes the answer whole before it
//! reads the next request, so a client that pipelines requests and never reads costs one answer
//! and its own socket buffers. Deadlines close a connection that has not sent a whole request
//! head within [`REQUEST_TIMEOUT`] (idle keep-alive connections and slow heads alike), or not
//! taken its answer within [`RESPONSE_TIMEOUT`]. At most [`MAX_CONNECTIONS`] are open: a new one
//! closes the longest-waiting connection that has never completed a request (then any other).
//! A connection answers at most [`TURN`] requests before the others get theirs.
//!
//! Only what one GET endpoint needs: no request bodies (a request with one is answered, then the
//! connection closed), no chunked or compressed answers, no `Expect`, no upgrades.

mod parse;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parse::{Parse, parse};

/// Open connections at most. Each costs a descriptor, up to [`MAX_HEAD`] bytes of input and
/// the answer being written; Prometheus needs one.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// The longest request head (request line and headers): longer is answered 431.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// From a connection's start or its previous answer to a whole request head: a slow or idle
/// client is closed after this.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// To write one answer: Prometheus's default scrape timeout; a client that does not read is
/// closed after this.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests on one connection, then it is closed (bounded keep-alive).
pub(crate) const MAX_REQUESTS: u32 = 100;
/// Requests a connection answers in a row before the others get their turn.
const TURN: usize = 4;
/// How soon to try `accept` again after it failed (out of descriptors, say).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// A request's head, as far as the endpoint needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    /// Case-sensitive, as HTTP's methods are.
    pub method: &'a str,
    /// As sent: `/metrics?x=1`, `*`, `http://host/metrics`.
    pub target: &'a str,
    /// Whether the connection may carry another request after this one: HTTP/1.1 without
    /// `Connection: close`, and no body (bodies are never read).
    pub keep_alive: bool,
}

/// An answer: its status, `Content-Type` and body (left out for `HEAD`, its length kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    /// Shared: one encoding of the metrics can answer many requests.
    pub body: Arc<str>,
    /// `Allow: GET, HEAD` (a 405's).
    pub allow_get_head: bool,
}

const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Arc<str>>) -> Self {
        Response {
            status,
            content_type,
            body: body.into(),
            allow_get_head: false,
        }
    }

    pub(crate) fn text(status: u16, body: impl Into<Arc<str>>) -> Self {
        Response::new(status, PLAIN_TEXT, body)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// An answer on the wire: its head's bytes, then its body, shared with other answers (a
/// client that never reads holds a head, not a copy of the metrics).
#[derive(Default)]
struct Output {
    head: Vec<u8>,
    body: Option<Arc<str>>,
}

impl Output {
    fn len(&self) -> usize {
        self.head.len() + self.body.as_ref().map_or(0, |b| b.len())
    }

    /// What is left to write after the first `written` bytes.
    fn rest(&self, written: usize) -> [IoSlice<'_>; 2] {
        let body = self.body.as_deref().unwrap_or("").as_bytes();
        let head = self.head.get(written..).unwrap_or(&[]);
        let body = body
            .get(written.saturating_sub(self.head.len())..)
            .unwrap_or(&[]);
        [IoSlice::new(head), IoSlice::new(body)]
    }
}

/// `response` on the wire; without its body for a `HEAD` request.
fn encode(response: &Response, head_only: bool, keep_alive: bool) -> Output {
    let body = response.body.as_bytes();
    let mut out = Vec::with_capacity(200);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    // RFC 9110 §6.6.1: an origin server with a clock sends Date.
    if let Ok(date) = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
    {
        let _ = write!(out, "Date: {date}\r\n");
    }
    let _ = write!(
        out,
        "Content-Type: {}\r\nContent-Length: {}\r\n",
        response.content_type,
        body.len()
    );
    if response.allow_get_head {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Output {
        head: out,
        body: (!head_only).then(|| response.body.clone()),
    }
}

// ---- One connection --------------------------------------------------------------------------

/// What a connection needs next.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Readiness: it stopped at a read or write that would block.
    Wait,
    /// Another turn: it stopped after [`TURN`] answers with more to do.
    More,
    /// It is done: drop it.
    Close,
}

/// The answer to a request, given the request.
pub(crate) type Handler<'h> = dyn Fn(&Request) -> Response + 'h;

struct Conn<S> {
    stream: S,
    /// Received bytes not yet answered: at most [`MAX_HEAD`].
    input: Vec<u8>,
    /// The answer being written, and how much of it is.
    output: Output,
    written: usize,
    close_when_written: bool,
    /// The client closed its side: answer what is whole, then close.
    eof: bool,
    /// When the current wait for a request head, or the current answer, started.
    since: Instant,
    served: u32,
}

impl<S: Read + Write> Conn<S> {
    fn new(stream: S, now: Instant) -> Self {
        Conn {
            stream,
            input: Vec::new(),
            output: Output::default(),
            written: 0,
            close_when_written: false,
            eof: false,
            since: now,
            served: 0,
        }
    }

    fn writing(&self) -> bool {
        self.written < self.output.len()
    }

    fn deadline(&self) -> Instant {
        self.since
            + if self.writing() {
                RESPONSE_TIMEOUT
            } else {
                REQUEST_TIMEOUT
            }
    }

    /// Whether to close this one first to make room: connections that never completed a
    /// request (idle, slow or garbage), the longest waiting first; then the others.
    fn eviction_key(&self) -> (bool, Instant) {
        (self.served > 0, self.since)
    }

    /// Reads, answers and writes as far as the socket allows, answering at most [`TURN`]
    /// requests.
    fn work(&mut self, handler: &Handler) -> Next {
        let mut answered = 0;
        loop {
            // The answer under way is written before anything more is read: a client that
            // pipelines and never reads fills its own buffers, not ours.
            while self.writing() {
                match self.stream.write_vectored(&self.output.rest(self.written)) {
                    Ok(0) => return Next::Close,
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            if self.output.len() > 0 {
                self.output = Output::default();
                self.written = 0;
                if self.close_when_written {
                    return Next::Close;
                }
                self.since = Instant::now();
            }
            if answered == TURN {
                return Next::More;
            }
            match parse(&self.input) {
                Parse::Request { request, len } => {
                    self.served += 1;
                    let keep_alive = request.keep_alive && self.served < MAX_REQUESTS;
                    let response = handler(&request);
                    self.output = encode(&response, request.method == "HEAD", keep_alive);
                    self.close_when_written = !keep_alive;
                    self.input.drain(..len);
                }
                Parse::Bad(status) => {
                    let response = Response::text(status, format!("{}\n", reason(status)));
                    self.output = encode(&response, false, false);
                    self.close_when_written = true;
                    self.input = Vec::new();
                }
                Parse::Incomplete if self.eof => return Next::Close,
                Parse::Incomplete => match self.read() {
                    Ok(true) => continue,
                    Ok(false) => return Next::Wait,
                    Err(_) => return Next::Close,
                },
            }
            answered += 1;
            self.since = Instant::now();
        }
    }

    /// Reads what fits under [`MAX_HEAD`]: false when it would block.
    fn read(&mut self) -> io::Result<bool> {
        let len = self.input.len();
        self.input.resize(MAX_HEAD, 0);
        let read = self.stream.read(&mut self.input[len..]);
        let n = match read {
            Ok(0) => {
                self.eof = true;
                0
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                self.input.truncate(len);
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        self.input.truncate(len + n);
        Ok(true)
    }
}

// ---- The server ------------------------------------------------------------------------------

/// A bound listener, served by [`Server::run`] until [`Stopper::stop`].
pub(crate) struct Server {
    poll: Poll,
    listener: TcpListener,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

/// Stops a running [`Server`] from another thread.
#[derive(Clone)]
pub(crate) struct Stopper {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // A failed wake leaves the server running; the process is about to exit anyway.
        let _ = self.waker.wake();
    }
}

impl Server {
    /// Listens on `addr` (`HOST:PORT`).
    pub(crate) fn bind(addr: &str) -> io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            poll,
            listener,
            addr,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn stopper(&self) -> Stopper {
        Stopper {
            stop: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Serves until stopped; an error is of the poll itself (the server cannot go on).
    pub(crate) fn run(mut self, handler: &Handler) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut conns: HashMap<Token, Conn<TcpStream>> = HashMap::new();
        let mut next_token = 2usize;
        // Connections with more to do without waiting for readiness (their turn ended).
        let mut again: Vec<Token> = Vec::new();
        let mut retry_accept: Option<Instant> = None;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let now = Instant::now();
            let timeout = if again.is_empty() {
                conns
                    .values()
                    .map(Conn::deadline)
                    .chain(retry_accept)
                    .min()
                    .map(|at| at.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let mut ready = std::mem::take(&mut again);
            let mut accept = retry_accept.is_some_and(|at| at <= Instant::now());
            for event in events.iter() {
                match event.token() {
                    LISTENER => accept = true,
                    WAKER => {}
                    token => ready.push(token),
                }
            }
            if accept {
                retry_accept = None;
                loop {
                    match self.listener.accept() {
                        Ok((mut stream, _)) => {
                            if conns.len() >= MAX_CONNECTIONS {
                                self.evict(&mut conns);
                            }
                            let token = Token(next_token);
                            next_token = next_token.wrapping_add(1).max(2);
                            // Small answers go out at once; a failure only costs latency.
                            let _ = stream.set_nodelay(true);
                            if self
                                .poll
                                .registry()
                                .register(
                                    &mut stream,
                                    token,
                                    Interest::READABLE | Interest::WRITABLE,
                                )
                                .is_ok()
                            {
                                conns.insert(token, Conn::new(stream, Instant::now()));
                                ready.push(token);
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e)
                            if matches!(
                                e.kind(),
                                ErrorKind::Interrupted
                                    | ErrorKind::ConnectionAborted
                                    | ErrorKind::ConnectionReset
                            ) => {}
                        Err(_) => {
                            // Out of descriptors or memory: make room, try again shortly
                            // (the listener's readiness will not be reported again).
                            self.evict(&mut conns);
                            retry_accept = Some(Instant::now() + ACCEPT_RETRY);
                            break;
                        }
                    }
                }
            }
            ready.sort_unstable();
            ready.dedup();
            for token in ready {
                let Some(conn) = conns.get_mut(&token) else {
                    continue;
                };
                match conn.work(handler) {
                    Next::Wait => {}
                    Next::More => again.push(token),
                    Next::Close => self.close(&mut conns, token),
                }
            }
            let now = Instant::now();
            let expired: Vec<Token> = conns
                .iter()
                .filter(|(_, c)| c.deadline() <= now)
                .map(|(t, _)| *t)
                .collect();
            for token in expired {
                self.close(&mut conns, token);
            }
        }
    }

    fn close(&self, conns: &mut HashMap<Token, Conn<TcpStream>>, token: Token) {
        if let Some(mut conn) = conns.remove(&token) {
            // Closing the socket deregisters it too; this keeps mio's bookkeeping exact.
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }

    fn evict(&self, conns: &mut HashMap<Token, Conn<TcpStream>>) {
        if let Some(token) = conns
            .iter()
            .min_by_key(|(_, c)| c.eviction_key())
            .map(|(t, _)| *t)
        {
            self.close(conns, token);
        }
    }
}

/// Fuzzing with proptest, bounded for CI: `PROPTEST_CASES=N` runs N cases per property.
/// (proptest is a Unix-only dev-dependency: the Windows test build runs under Wine.)
#[cfg(all(test, unix))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use std::collections::VecDeque;

    /// `default` cases, or `PROPTEST_CASES` (as tests/common/proptest_config.rs, which the
    /// binary's unit tests cannot reach).
    fn config(default: u32) -> Config {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default);
        Config {
            cases,
            ..Config::default()
        }
    }

    /// A client on the other end of a [`Conn`]: it sends `input` in the given chunk sizes,
    /// then closes its side; reads and writes block now and then, as sockets do.
    struct Peer {
        input: VecDeque<u8>,
        chunks: Vec<usize>,
        calls: usize,
        received: Vec<u8>,
    }

    impl Peer {
        fn new(input: &[u8], chunks: Vec<usize>) -> Peer {
            Peer {
                input: input.iter().copied().collect(),
                chunks,
                calls: 0,
                received: Vec::new(),
            }
        }

        /// The size of this call's chunk, or None to block.
        fn next_chunk(&mut self) -> Option<usize> {
            self.calls += 1;
            let n = self.chunks[self.calls % self.chunks.len()];
            (n > 0).then_some(n)
        }
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(n) = self.next_chunk() else {
                return Err(ErrorKind::WouldBlock.into());
            };
            let n = n.min(buf.len()).min(self.input.len());
            for (slot, byte) in buf.iter_mut().zip(self.input.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let Some(n) = self.next_chunk() else {
                return Err(ErrorKind::WouldBlock.into());
            };
            let n = n.min(buf.len());
            self.received.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        /// Gathers across the slices, as a socket does (the head and body of an answer).
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let Some(n) = self.next_chunk() else {
                return Err(ErrorKind::WouldBlock.into());
            };
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            let n = n.min(all.len());
            self.received.extend_from_slice(&all[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Long enough that bodies are written in pieces too.
    const METRICS: &str = "lockscope_lock_held{dir=\"/x\"} 1\nlockscope_lock_held{dir=\"/y\"} 0\n\
                           lockscope_lock_held{dir=\"/z\"} 0\nlockscope_probe_errors_total 0\n";

    /// Runs a connection to its close: the bytes it wrote. Every call to `work` makes progress
    /// or waits, so a bounded number of calls must reach the close.
    fn converse(input: &[u8], chunks: Vec<usize>) -> Result<Vec<u8>, TestCaseError> {
        let handler =
            |request: &Request| crate::commands::serve::answer(request, || METRICS.into());
        let mut conn = Conn::new(Peer::new(input, chunks), Instant::now());
        for _ in 0..100_000 {
            if conn.work(&handler) == Next::Close {
                return Ok(conn.stream.received);
            }
        }
        Err(TestCaseError::fail("the connection never closed"))
    }

    /// Splits what a connection wrote into answers: (status, head, body). A `HEAD`'s answer has
    /// a Content-Length and no body: told apart by what follows it (the next status line).
    fn answers(mut out: &[u8]) -> Result<Vec<(u16, String, Vec<u8>)>, TestCaseError> {
        let mut answers = Vec::new();
        while !out.is_empty() {
            let text = String::from_utf8_lossy(out);
            let end = text
                .find("\r\n\r\n")
                .ok_or_else(|| TestCaseError::fail(format!("no head end: {text:.200}")))?;
            let head = text[..end].to_string();
            prop_assert!(head.starts_with("HTTP/1.1 "), "{}", head);
            let status: u16 = head[9..12]
                .parse()
                .map_err(|_| TestCaseError::fail(head.clone()))?;
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| TestCaseError::fail(format!("no Content-Length: {head}")))?;
            let rest = &out[end + 4..];
            let body_follows = rest.len() >= length && !rest.starts_with(b"HTTP/1.1 ");
            let length = if body_follows || length == 0 {
                length
            } else {
                0
            };
            prop_assert!(rest.len() >= length, "a short body after {}", head);
            answers.push((status, head, rest[..length].to_vec()));
            out = &rest[length..];
        }
        Ok(answers)
    }

    fn chunks() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(
            prop_oneof![1 => Just(0usize), 4 => 1usize..64, 1 => 64usize..9000],
            1..8,
        )
        .prop_filter("some progress", |c| c.iter().any(|&n| n > 0))
    }

    const PIECES: &[&str] = &[
        "GET",
        "HEAD",
        "POST",
        "get",
        " ",
        "/metrics",
        "/",
        "/x?y",
        "*",
        " HTTP/1.1",
        " HTTP/1.0",
        " HTTP/3.0",
        "\r\n",
        "\n",
        "\r",
        "Host: x",
        "Connection: close",
        "Content-Length: 2",
        "Content-Length: x",
        "Transfer-Encoding: chunked",
        ":",
        "\u{0}",
        "\u{e9}",
    ];

    fn pieces() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(PIECES), 0..60)
            .prop_map(|p| p.concat().into_bytes())
    }

    /// A well-formed request, and what it must get: (bytes, status, has a body, closes).
    fn request() -> impl Strategy<Value = (Vec<u8>, u16, bool, bool)> {
        (
            prop::sample::select(&["GET", "HEAD", "POST", "DELETE"][..]),
            prop::sample::select(&["/metrics", "/metrics?a=b", "/", "/other"][..]),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(method, path, http10, close, crlf)| {
                let eol = if crlf { "\r\n" } else { "\n" };
                let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
                let connection = if close { "Connection: close" } else { "X-A: b" };
                let bytes =
                    format!("{method} {path} {version}{eol}Host: x{eol}{connection}{eol}{eol}");
                let status = match (method, path.split('?').next()) {
                    ("GET" | "HEAD", Some("/metrics" | "/")) => 200,
                    ("GET" | "HEAD", _) => 404,
                    _ => 405,
                };
                (
                    bytes.into_bytes(),
                    status,
                    method != "HEAD",
                    http10 || close,
                )
            })
    }

    proptest! {
        #![proptest_config(config(1000))]

        /// Any bytes, delivered in any pieces: the connection ends (no hang, no panic), having
        /// written only whole HTTP answers with known statuses (none when nothing was whole),
        /// never more of them than there were requests.
        #[test]
        fn any_bytes_get_answers_or_a_close(
            input in prop_oneof![prop::collection::vec(any::<u8>(), 0..2000), pieces()],
            chunks in chunks(),
        ) {
            let out = converse(&input, chunks)?;
            let answers = answers(&out)?;
            for (status, head, _) in &answers {
                prop_assert!([200, 400, 404, 405, 431, 505].contains(status), "{}", head);
            }
            prop_assert!(answers.len() <= input.len() / 4 + 1);
            // After a refusal nothing more is answered: the connection closed.
            if let Some(i) = answers.iter().position(|(s, ..)| *s >= 400 && *s != 404 && *s != 405) {
                prop_assert_eq!(i, answers.len() - 1);
            }
        }

        /// Pipelined well-formed requests in any pieces: answered in order, each as the router
        /// says, up to the first that closes the connection.
        #[test]
        fn pipelined_requests_are_answered_in_order(
            requests in prop::collection::vec(request(), 1..12),
            chunks in chunks(),
        ) {
            let input: Vec<u8> = requests.iter().flat_map(|r| r.0.clone()).collect();
            let out = converse(&input, chunks)?;
            let answers = answers(&out)?;
            let expected = requests
                .iter()
                .position(|r| r.3)
                .map_or(requests.len(), |i| i + 1);
            prop_assert_eq!(answers.len(), expected, "{}", String::from_utf8_lossy(&out));
            for ((_, status, has_body, closes), (got, head, body)) in requests.iter().zip(&answers) {
                prop_assert_eq!(got, status, "{}", head);
                prop_assert_eq!(head.contains("Connection: close"), *closes, "{}", head);
                prop_assert_eq!(!body.is_empty(), *has_body, "{}", head);
                if *status == 200 && head.contains("version=0.0.4") && *has_body {
                    prop_assert_eq!(body.as_slice(), METRICS.as_bytes());
                }
            }
        }

        /// The parser alone: never panics; a request's length is within the input and the
        /// limit; it waits for more only while under the limit.
        #[test]
        fn the_parser_takes_any_bytes(
            input in prop_oneof![prop::collection::vec(any::<u8>(), 0..10_000), pieces()],
        ) {
            match parse(&input) {
                Parse::Incomplete => prop_assert!(input.len() < MAX_HEAD),
                Parse::Request { request, len } => {
                    prop_assert!(len <= input.len() && len <= MAX_HEAD);
                    prop_assert!(!request.method.is_empty() && !request.target.is_empty());
                }
                Parse::Bad(status) => prop_assert!([400, 431, 505].contains(&status)),
            }
        }
    }
}
