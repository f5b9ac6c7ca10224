//! Long-lived TCP flows through the lab, to see which survive a failover: an echo server in
//! one host, and clients in another that each send a line every few milliseconds and time the
//! echoes. A flow that is reset, or whose echoes stop, is lost; the longest gap between two
//! echoes of a flow is its stall.

use anyhow::{bail, Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Moves the calling thread into namespace `ns`.
fn enter(ns: &str) -> Result<()> {
    let netns = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("namespace {ns}"))?;
    nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
    Ok(())
}

/// An echo server: every byte read is written back.
#[derive(Debug)]
pub struct EchoServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Listens on every address of namespace `ns`, TCP port `port`.
    pub fn start(ns: &str, port: u16) -> Result<EchoServer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let ns = ns.to_string();
        let thread = std::thread::spawn(move || {
            let listener = enter(&ns).and_then(|()| {
                let l = TcpListener::bind(("0.0.0.0", port)).context("bind")?;
                l.set_nonblocking(true)?;
                Ok(l)
            });
            let listener = match listener {
                Ok(l) => {
                    let _ = ready_tx.send(Ok(()));
                    l
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut connections = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let flag = Arc::clone(&flag);
                        connections.push(std::thread::spawn(move || echo(stream, &flag)));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
            for c in connections {
                let _ = c.join();
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(EchoServer {
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => bail!("the echo server did not start"),
        }
    }
}

/// Echoes `stream` until it ends or `stop` is set.
fn echo(mut stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What one flow saw.
#[derive(Debug, Clone, Default)]
pub struct FlowRecord {
    /// how it ended early: reset, closed, or it never connected
    pub broken: Option<String>,
    /// echoes received
    pub echoes: u64,
    /// the longest time between two echoes
    pub longest_gap: Duration,
    /// when the last echo came
    pub last_echo: Option<Instant>,
}

/// What a set of flows saw.
#[derive(Debug, Clone)]
pub struct FlowsReport {
    /// how many flows ran
    pub flows: usize,
    /// flows neither broken nor silent at the end
    pub survived: usize,
    /// flows reset or closed
    pub broken: usize,
    /// the longest gap between two echoes of a surviving flow
    pub longest_stall: Duration,
    /// each flow's record
    pub records: Vec<FlowRecord>,
}

/// Running flows.
#[derive(Debug)]
pub struct Flows {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<FlowRecord>>,
}

impl Flows {
    /// Opens `count` connections from namespace `ns` to `server`, each sending a line every
    /// `every` and reading the echoes; returns once every flow has had its first echo.
    pub fn start(ns: &str, server: SocketAddr, count: usize, every: Duration) -> Result<Flows> {
        let stop = Arc::new(AtomicBool::new(false));
        let connected = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for _ in 0..count {
            let (ns, stop, connected) = (ns.to_string(), Arc::clone(&stop), Arc::clone(&connected));
            threads.push(std::thread::spawn(move || {
                flow(&ns, server, every, &stop, &connected)
            }));
        }
        let flows = Flows { stop, threads };
        let deadline = Instant::now() + Duration::from_secs(10);
        while connected.load(Ordering::Relaxed) < count {
            if Instant::now() > deadline {
                let seen = connected.load(Ordering::Relaxed);
                let report = flows.finish(Duration::from_secs(1));
                bail!(
                    "only {seen} of {count} flows to {server} got an echo: {:?}",
                    report.records.iter().find_map(|r| r.broken.clone())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(flows)
    }

    /// Stops the flows. A flow survived if it was never reset or closed and its last echo
    /// came within `alive_within` of now.
    pub fn finish(mut self, alive_within: Duration) -> FlowsReport {
        self.stop.store(true, Ordering::Relaxed);
        let now = Instant::now();
        let records: Vec<FlowRecord> = std::mem::take(&mut self.threads)
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| FlowRecord {
                    broken: Some("its thread panicked".into()),
                    ..FlowRecord::default()
                })
            })
            .collect();
        let alive = |r: &FlowRecord| {
            r.broken.is_none()
                && r.last_echo
                    .is_some_and(|t| now.saturating_duration_since(t) <= alive_within)
        };
        FlowsReport {
            flows: records.len(),
            survived: records.iter().filter(|r| alive(r)).count(),
            broken: records.iter().filter(|r| r.broken.is_some()).count(),
            longest_stall: records
                .iter()
                .filter(|r| alive(r))
                .map(|r| r.longest_gap)
                .max()
                .unwrap_or_default(),
            records,
        }
    }
}

impl Drop for Flows {
    /// Flows never finished (a test that failed half-way) stop too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One flow, in its own thread (moved into `ns`).
fn flow(
    ns: &str,
    server: SocketAddr,
    every: Duration,
    stop: &AtomicBool,
    connected: &AtomicUsize,
) -> FlowRecord {
    let mut record = FlowRecord::default();
    let stream = enter(ns).and_then(|()| {
        TcpStream::connect_timeout(&server, Duration::from_secs(3)).context("connect")
    });
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            record.broken = Some(format!("{e:#}"));
            return record;
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(5)));
    let mut next = Instant::now();
    let mut buf = [0u8; 4096];
    let mut sent = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next {
            sent += 1;
            if let Err(e) = stream.write_all(format!("{sent}\n").as_bytes()) {
                record.broken = Some(format!("write: {e}"));
                return record;
            }
            next += every;
            if next < now {
                next = now + every;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                record.broken = Some("closed by the peer".into());
                return record;
            }
            Ok(n) => {
                let lines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
                if lines > 0 {
                    let now = Instant::now();
                    if let Some(last) = record.last_echo {
                        record.longest_gap = record.longest_gap.max(now - last);
                    } else {
                        connected.fetch_add(1, Ordering::Relaxed);
                    }
                    record.last_echo = Some(now);
                    record.echoes += lines;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                record.broken = Some(format!("read: {e}"));
                return record;
            }
        }
    }
    record
}
