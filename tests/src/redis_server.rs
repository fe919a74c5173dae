//! A real Redis for tests: Debian's `redis-server` (installed by `cargo xtask ci` when missing)
//! started on a free loopback port in a temporary directory, stopped (and restarted on the same
//! port, with its data) on demand, killed when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` process owned by a test.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    durable: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port, persisting every write to an append-only file in
    /// a fresh temporary directory (so a restart keeps the data, as a production Redis would).
    pub fn start() -> Self {
        Self::start_with(true)
    }

    /// Starts a server that keeps its data in memory only (no fsync per write: for benchmarks).
    pub fn start_in_memory() -> Self {
        Self::start_with(false)
    }

    fn start_with(durable: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = std::env::temp_dir().join(format!("vc-api-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut server = Self { port, dir, durable, child: None };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Runs `redis-cli` against this server with `args`; returns what it printed.
    pub fn cli(&self, args: &[&str]) -> String {
        let output =
            Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().expect("redis-cli");
        String::from_utf8(output.stdout).expect("redis-cli prints text")
    }

    /// Every key the server holds (`redis-cli --scan`), sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.cli(&["--scan"]).lines().map(str::to_owned).collect();
        keys.sort();
        keys
    }

    /// Stops the server (SIGKILL, as a crash or a network cut would look) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; `cargo xtask ci` installs it)");
        self.child = Some(child);
        self.wait_until_ready();
    }

    /// Polls with PING until the new process answers (it is an external process: there is
    /// nothing to wait on but its port), for at most 10 seconds.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.port) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not answer on port {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether a Redis answers `+PONG` on the port.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
