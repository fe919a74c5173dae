//! A minimal keep-alive HTTP/1.1 server on 127.0.0.1 for benchmarks and memory tests.
//!
//! It parses only what the client sends (request line, `Content-Length`, `Connection: close`),
//! hands each request to a function and writes its [`Reply`] in as few writes as possible, so the
//! server costs little next to the client it serves. A reply body can be generated block by
//! block ([`Reply::repeat`]), so a gigabyte-sized file never exists in memory on either side.
//! No matching, no recording: a handler counts what it needs itself.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as the handler sees it.
#[derive(Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path without the query.
    pub path: &'a str,
    /// The query string without `?` (empty when there is none).
    pub query: &'a str,
    /// The value of the `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The raw (not percent-decoded) value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    content_type: &'static str,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Whole(Bytes),
    /// `block` written again and again until `len` bytes have gone out.
    Repeat {
        block: Bytes,
        len: u64,
    },
}

impl Reply {
    /// HTTP 200 with a JSON body.
    pub fn json(body: impl Into<Bytes>) -> Self {
        Reply { status: 200, content_type: "application/json; charset=utf-8", body: Body::Whole(body.into()) }
    }

    /// HTTP 200 with an `application/octet-stream` body of `len` bytes made of `block` repeated.
    pub fn repeat(block: impl Into<Bytes>, len: u64) -> Self {
        let block = block.into();
        assert!(!block.is_empty() || len == 0, "an empty block cannot fill a body");
        Reply { status: 200, content_type: "application/octet-stream", body: Body::Repeat { block, len } }
    }

    /// Another status, same body.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    fn len(&self) -> u64 {
        match &self.body {
            Body::Whole(bytes) => bytes.len() as u64,
            Body::Repeat { len, .. } => *len,
        }
    }
}

/// Answers every request with the reply the handler returns for it.
pub trait Handler: Send + Sync + 'static {
    /// The reply to `request`.
    fn reply(&self, request: &Request<'_>) -> Reply;
}

impl<F: Fn(&Request<'_>) -> Reply + Send + Sync + 'static> Handler for F {
    fn reply(&self, request: &Request<'_>) -> Reply {
        self(request)
    }
}

/// A running server; it stops when dropped.
pub struct LoopbackServer {
    url: String,
    running: Running,
}

enum Running {
    /// Accepting on a task of the caller's runtime.
    Task(JoinHandle<()>),
    /// Accepting on a thread of its own; the sender stops it.
    Thread(Option<tokio::sync::oneshot::Sender<()>>),
}

impl LoopbackServer {
    /// Binds 127.0.0.1 on a free port and serves `handler` on the current tokio runtime.
    pub async fn start(handler: impl Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let accept = tokio::spawn(accept_loop(listener, Arc::new(handler)));
        LoopbackServer { url, running: Running::Task(accept) }
    }

    /// Like [`start`](Self::start), but on a new thread running its own single-threaded tokio
    /// runtime, so the server's work never shares the caller's runtime. `on_thread` runs first
    /// on that thread (e.g. to mark it for a counting allocator).
    pub fn start_on_thread(handler: impl Handler, on_thread: impl FnOnce() + Send + 'static) -> Self {
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("loopback-server".into())
            .spawn(move || {
                on_thread();
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds a loopback port");
                    let url = format!("http://{}", listener.local_addr().expect("bound address"));
                    url_tx.send(url).expect("the starter waits for the URL");
                    tokio::select! {
                        _ = accept_loop(listener, Arc::new(handler)) => {}
                        _ = stop_rx => {}
                    }
                });
            })
            .expect("spawns the server thread");
        let url = url_rx.recv().expect("the server thread starts");
        LoopbackServer { url, running: Running::Thread(Some(stop_tx)) }
    }

    /// `http://127.0.0.1:<port>`, for `ClientBuilder::base_url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        match &mut self.running {
            Running::Task(accept) => accept.abort(),
            Running::Thread(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, handler: Arc<dyn Handler>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors or similar: let connections close, then go on.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            // A client that goes away mid-request just ends its connection.
            let _ = serve_connection(socket, &*handler).await;
        });
    }
}

/// Bodies up to this size go out in the same write as the head.
const ONE_WRITE_LIMIT: usize = 256 * 1024;

async fn serve_connection(mut socket: TcpStream, handler: &dyn Handler) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut buffer: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(8 * 1024);
    loop {
        // Read until the head is complete.
        let head_end = loop {
            if let Some(end) = find_head_end(&buffer) {
                break end;
            }
            if !read_more(&mut socket, &mut buffer).await? {
                return Ok(());
            }
        };
        let head = std::str::from_utf8(&buffer[..head_end])
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_owned();
        let target = request_line.next().unwrap_or_default().to_owned();
        let mut content_length = 0usize;
        let mut close = false;
        let mut authorization = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.to_owned());
            }
        }
        let body_start = head_end + 4;
        while buffer.len() < body_start + content_length {
            if !read_more(&mut socket, &mut buffer).await? {
                return Ok(());
            }
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let request = Request {
            method: &method,
            path,
            query,
            authorization: authorization.as_deref(),
            body: &buffer[body_start..body_start + content_length],
        };
        let reply = handler.reply(&request);
        buffer.drain(..body_start + content_length);

        out.clear();
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}\r\n",
                reply.status,
                if reply.status == 200 { "OK" } else { "Status" },
                reply.content_type,
                reply.len(),
                if close { "connection: close\r\n" } else { "" }
            )
            .as_bytes(),
        );
        match &reply.body {
            Body::Whole(bytes) if bytes.len() <= ONE_WRITE_LIMIT => {
                out.extend_from_slice(bytes);
                socket.write_all(&out).await?;
            }
            Body::Whole(bytes) => {
                socket.write_all(&out).await?;
                socket.write_all(bytes).await?;
            }
            Body::Repeat { block, len } => {
                socket.write_all(&out).await?;
                let mut left = *len;
                while left > 0 {
                    let n = left.min(block.len() as u64) as usize;
                    socket.write_all(&block[..n]).await?;
                    left -= n as u64;
                }
            }
        }
        if close {
            socket.shutdown().await?;
            return Ok(());
        }
    }
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Reads what is available into `buffer`; false when the peer closed the connection.
async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 8 * 1024];
    let n = socket.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}
