//! A client's view of the VIP: ICMP (or ICMPv6) echo requests at a fixed interval from inside
//! a host namespace (a thread that enters it with setns), and the replies' arrival times.

use anyhow::{Context, Result};
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the client saw.
#[derive(Debug, Clone, Default)]
pub struct ProbeReport {
    /// requests sent
    pub sent: u64,
    /// replies received
    pub received: u64,
    /// arrival of each reply, since the probe started
    pub replies: Vec<Duration>,
    /// how long the probe ran
    pub duration: Duration,
    /// wall-clock time of the start, to line replies up with logs and captures
    pub started_at: Option<std::time::SystemTime>,
}

impl ProbeReport {
    /// Reply arrival times as seconds since the Unix epoch.
    pub fn reply_epochs(&self) -> Vec<f64> {
        let base = self.started_epoch();
        self.replies
            .iter()
            .map(|r| base + r.as_secs_f64())
            .collect()
    }

    /// When the probe started, in seconds since the Unix epoch.
    pub fn started_epoch(&self) -> f64 {
        self.started_at
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// The outage after `from` (time since the start): the longest time between two replies
    /// where the later one arrives after `from`, as (last reply before it, first reply after).
    pub fn outage_after(&self, from: Duration) -> Option<(Duration, Duration)> {
        self.replies
            .windows(2)
            .filter(|w| w[1] > from)
            .map(|w| (w[0], w[1]))
            .reduce(|a, b| if b.1 - b.0 > a.1 - a.0 { b } else { a })
    }
}

/// ICMP echo for one address family.
struct Echo {
    domain: Domain,
    protocol: Protocol,
    request: u8,
    reply: u8,
}

impl Echo {
    fn for_target(target: IpAddr) -> Echo {
        match target {
            IpAddr::V4(_) => Echo {
                domain: Domain::IPV4,
                protocol: Protocol::ICMPV4,
                request: 8,
                reply: 0,
            },
            IpAddr::V6(_) => Echo {
                domain: Domain::IPV6,
                protocol: Protocol::ICMPV6,
                request: 128,
                reply: 129,
            },
        }
    }

    /// The ICMP message in what a raw socket read, if it came from `target`. An IPv4 raw
    /// socket gives the IP header too; an ICMPv6 one gives the message alone, and only the
    /// target answers an echo request of ours (matched by the caller's identifier).
    fn reply_from<'a>(&self, read: &'a [u8], target: IpAddr) -> Option<&'a [u8]> {
        match target {
            IpAddr::V4(t) => {
                if read.len() < 28 {
                    return None;
                }
                let from = Ipv4Addr::new(read[12], read[13], read[14], read[15]);
                let ihl = usize::from(read[0] & 0x0f) * 4;
                (from == t).then(|| read.get(ihl..)).flatten()
            }
            IpAddr::V6(_) => Some(read),
        }
    }
}

/// A running probe.
#[derive(Debug)]
pub struct Prober {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ProbeReport>>>,
    /// when the probe started (reply times are relative to it)
    pub started: Instant,
}

impl Prober {
    /// Starts probing `target` every `interval` from namespace `ns`.
    pub fn start(ns: &str, target: IpAddr, interval: Duration) -> Result<Prober> {
        let netns = std::fs::File::open(format!("/run/netns/{ns}"))
            .with_context(|| format!("namespace {ns}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let started = Instant::now();
        let started_at = std::time::SystemTime::now();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || -> Result<ProbeReport> {
            // Only this thread moves into the host's namespace.
            nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
            let echo = Echo::for_target(target);
            let socket = Socket::new(echo.domain, Type::RAW, Some(echo.protocol))?;
            socket.set_nonblocking(true)?;
            let dest = SocketAddr::new(target, 0).into();
            let ident = (std::process::id() & 0xffff) as u16;
            let mut report = ProbeReport {
                started_at: Some(started_at),
                ..ProbeReport::default()
            };
            let mut seen = std::collections::HashSet::new();
            let mut next = Instant::now();
            let mut buf = [0u8; 1500];
            let _ = ready_tx.send(());
            while !flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= next {
                    let seq = report.sent as u16;
                    let mut packet = [0u8; 16];
                    packet[0] = echo.request;
                    packet[4..6].copy_from_slice(&ident.to_be_bytes());
                    packet[6..8].copy_from_slice(&seq.to_be_bytes());
                    if target.is_ipv4() {
                        // The kernel computes ICMPv6 checksums (with their pseudo-header).
                        let sum = carpd_proto::wire::checksum(&packet);
                        packet[2..4].copy_from_slice(&sum.to_be_bytes());
                    }
                    let _ = socket.send_to(&packet, &dest);
                    // Sequence numbers wrap: one half a cycle old cannot be a duplicate.
                    seen.remove(&seq.wrapping_add(32768));
                    report.sent += 1;
                    next += interval;
                    continue;
                }
                // Sleep until a reply arrives or the next probe is due, with a high-resolution
                // timeout (a socket receive timeout would round up to scheduler ticks).
                let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
                let _ = ppoll(&mut fds, Some(TimeSpec::from_duration(next - now)), None);
                while let Ok(n) = (&socket).read(&mut buf) {
                    let Some(icmp) = echo.reply_from(&buf[..n], target) else {
                        continue;
                    };
                    if icmp.len() >= 8 && icmp[0] == echo.reply && icmp[4..6] == ident.to_be_bytes()
                    {
                        let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
                        if seen.insert(seq) {
                            report.received += 1;
                            report.replies.push(started.elapsed());
                        }
                    }
                }
            }
            report.duration = started.elapsed();
            Ok(report)
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        Ok(Prober {
            stop,
            thread: Some(thread),
            started,
        })
    }

    /// Time since the probe started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops the probe and returns what it saw.
    pub fn finish(mut self) -> Result<ProbeReport> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("joined once")
            .join()
            .map_err(|_| anyhow::anyhow!("probe thread panicked"))?
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps() {
        let r = ProbeReport {
            sent: 5,
            received: 3,
            replies: vec![
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(520),
            ],
            duration: Duration::from_millis(530),
            started_at: None,
        };
        let ms = Duration::from_millis;
        // The 500 ms outage, whether asked from the start or from inside it.
        assert_eq!(r.outage_after(ms(0)), Some((ms(20), ms(520))));
        assert_eq!(r.outage_after(ms(21)), Some((ms(20), ms(520))));
        // Only gaps that end after `from` count: the short one before it does not.
        assert_eq!(r.outage_after(ms(15)), Some((ms(20), ms(520))));
        assert_eq!(r.outage_after(ms(520)), None);
        // Epoch times are relative times shifted by the start.
        let started = ProbeReport {
            started_at: Some(std::time::UNIX_EPOCH + Duration::from_secs(100)),
            ..r
        };
        assert_eq!(started.started_epoch(), 100.0);
        assert_eq!(started.reply_epochs()[2], 100.52);
    }
}
