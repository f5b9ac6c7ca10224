//! A hostile host: sends given Ethernet frames round-robin out of its eth0 at a fixed rate,
//! from a thread that enters the host's namespace. Bounded in count and time.

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::time::{Duration, Instant};

/// What the flood sent.
#[derive(Debug, Clone, Copy)]
pub struct FloodReport {
    /// frames sent
    pub sent: u64,
    /// how long it took
    pub elapsed: Duration,
}

/// Sends `frames` round-robin from `ns`'s eth0 at `rate` frames/s for `duration`.
pub fn flood(ns: &str, frames: Vec<Vec<u8>>, rate: u64, duration: Duration) -> Result<FloodReport> {
    let netns = std::fs::File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("namespace {ns}"))?;
    let thread = std::thread::spawn(move || -> Result<FloodReport> {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        let ifindex = nix::net::if_::if_nametoindex("eth0").context("eth0")?;
        let address = link_address(ifindex)?;
        let start = Instant::now();
        let total = rate * duration.as_secs().max(1);
        let mut sent = 0u64;
        // Bursts of one millisecond's worth.
        let burst = (rate / 1000).max(1);
        while sent < total && start.elapsed() < duration + Duration::from_secs(5) {
            let due = Duration::from_micros(sent * 1_000_000 / rate);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            for _ in 0..burst {
                let frame = &frames[(sent as usize) % frames.len()];
                let _ = socket.send_to(frame, &address);
                sent += 1;
            }
        }
        Ok(FloodReport {
            sent,
            elapsed: start.elapsed(),
        })
    });
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("flood thread panicked"))?
}

fn link_address(ifindex: u32) -> Result<socket2::SockAddr> {
    Ok(crate::sockaddr::link(ifindex, 0x0800)?)
}
