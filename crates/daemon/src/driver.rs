//! The event loop: turns the core's actions into syscalls and the world's events (frames,
//! timers, hook completions, signals) into the core's inputs. It holds no protocol logic.

use crate::cli::{Cli, Password};
use crate::drops::DropLog;
use crate::hooks::{HookRunner, HookSpec};
use crate::sys::iface::{self, format_mac, Interface};
use crate::sys::multicast;
use crate::sys::packet::{self, PacketSocket};
use anyhow::{Context as _, Result};
use carpd_proto::wire::arp::gratuitous_frame;
use carpd_proto::wire::ethernet::{Frame, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use carpd_proto::{
    Action, Command, DropReason, Instant, Node, RouterId, State, StateChangeReason, VrConfigBuilder,
};
use std::rc::Rc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// How the loop should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

struct Driver {
    epoch: tokio::time::Instant,
    node: Node,
    router: RouterId,
    interface: Interface,
    socket: Rc<AsyncFd<PacketSocket>>,
    hooks: HookRunner,
    drops: DropLog,
    send_errors: u64,
    hooks_queued: u32,
}

/// Builds everything from the command line and runs until a stop signal.
pub async fn run(cli: Cli, password: Password) -> Result<()> {
    let name = match &cli.interface {
        Some(n) => n.clone(),
        None => {
            let n = iface::default_interface()?;
            tracing::info!("Using [{n}] as a network interface");
            n
        }
    };
    let interface =
        iface::lookup(&name).with_context(|| format!("Unable to open interface [{name}]"))?;
    tracing::info!(
        "Local advertised ethernet address is [{}]",
        format_mac(&interface.mac)
    );

    let mut builder = VrConfigBuilder::new(
        cli.vhid.expect("checked by the CLI"),
        cli.srcip.expect("checked by the CLI"),
        cli.addr.iter().map(|v| v.address).collect(),
        &password.0,
    );
    builder.advbase = cli.advbase;
    builder.advskew = cli.advskew;
    builder.deadratio = cli.deadratio;
    builder.preempt = cli.preempt;
    builder.neutral = cli.neutral;
    builder.down_hook_on_stop = cli.shutdown;
    builder.group = cli.mcast;
    builder.broadcast = cli.nomcast;
    let config = builder.build().context("invalid configuration")?;

    let socket = PacketSocket::open(interface.index).with_context(|| {
        format!("Unable to open interface [{name}] for CARP (needs CAP_NET_RAW)")
    })?;
    let socket = Rc::new(packet::register(socket).context("registering the packet socket")?);
    let _membership = if cli.nomcast {
        None
    } else {
        Some(
            multicast::join(cli.mcast, interface.index).with_context(|| {
                format!("Can't do IP_ADD_MEMBERSHIP for {} on {name}", cli.mcast)
            })?,
        )
    };

    if cli.upscript.is_none() {
        tracing::warn!("Warning: no script called when going up");
    }
    if cli.downscript.is_none() {
        tracing::warn!("Warning: no script called when going down");
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let hooks = HookRunner::start(
        HookSpec {
            up: cli.upscript.clone(),
            down: cli.downscript.clone(),
            interface: name.clone(),
            vip_typed: cli.addr[0].typed.clone(),
            vips: cli.addr.iter().map(|v| v.typed.clone()).collect(),
            xparam: cli.xparam.clone(),
            vhid: config.vhid,
            timeout: cli.hook_timeout,
        },
        done_tx,
    );

    let epoch = tokio::time::Instant::now();
    let mut node = Node::new();
    let router = node.add_router(interface.index, config, Instant::ZERO, random_seed());
    let mut driver = Driver {
        epoch,
        node,
        router,
        interface,
        socket: Rc::clone(&socket),
        hooks,
        drops: DropLog::default(),
        send_errors: 0,
        hooks_queued: 0,
    };
    if !cli.ignoreifstate && !driver.interface.running {
        tracing::warn!("Interface {name} is down or has no carrier: staying BACKUP until it is up");
        let now = driver.now();
        driver.node.handle_link(now, driver.interface.index, false);
    }
    driver.drain();

    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut flush = tokio::time::interval(crate::drops::LOG_EVERY);
    let mut buf = vec![0u8; 2048];

    loop {
        let deadline = driver
            .node
            .poll_timeout()
            .map(|t| driver.epoch + Duration::from_micros(t.as_micros()));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let flow = tokio::select! {
            biased;
            _ = term.recv() => driver.stop("TERM"),
            _ = int.recv() => driver.stop("INT"),
            _ = quit.recv() => driver.stop("QUIT"),
            _ = hup.recv() => driver.stop("HUP"),
            _ = usr1.recv() => { driver.status(); Flow::Continue }
            _ = usr2.recv() => {
                let now = driver.now();
                driver.node.handle_command(now, Command::Demote);
                Flow::Continue
            }
            ready = socket.readable() => {
                let mut guard = ready?;
                driver.receive(&mut guard, &mut buf);
                Flow::Continue
            }
            Some(kind) = done_rx.recv() => {
                driver.hooks_queued = driver.hooks_queued.saturating_sub(1);
                let now = driver.now();
                driver.node.handle_hook_done(now, driver.router, kind);
                Flow::Continue
            }
            _ = sleep => {
                let now = driver.now();
                driver.node.handle_timeout(now);
                Flow::Continue
            }
            _ = flush.tick() => {
                driver.drops.flush(std::time::Instant::now());
                Flow::Continue
            }
        };
        driver.drain();
        if flow == Flow::Stop {
            break;
        }
    }
    let queued = driver.hooks_queued;
    driver.hooks.finish(queued).await;
    tracing::info!("carpd stopped");
    Ok(())
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    fn stop(&mut self, signal: &str) -> Flow {
        tracing::info!("Received SIG{signal}: leaving");
        let now = self.now();
        self.node.handle_command(now, Command::Stop);
        Flow::Stop
    }

    fn status(&self) {
        let state = self
            .node
            .router(self.router)
            .map_or(State::Init, |r| r.state());
        let vhid = self.node.router(self.router).map_or(0, |r| r.config().vhid);
        tracing::info!("{} on {} id {}", state.as_str(), self.interface.name, vhid);
        for (kind, total) in self.drops.totals() {
            tracing::info!("dropped {kind}: {total}");
        }
    }

    fn receive(
        &mut self,
        guard: &mut tokio::io::unix::AsyncFdReadyGuard<'_, PacketSocket>,
        buf: &mut [u8],
    ) {
        // Read everything queued, then wait for readiness again.
        loop {
            match guard.get_inner().recv(buf) {
                Ok(len) => {
                    let now = self.now();
                    match Frame::parse(&buf[..len]) {
                        Ok(frame) if frame.ethertype == ETHERTYPE_IPV4 => {
                            self.node
                                .handle_packet(now, self.interface.index, frame.payload)
                        }
                        Ok(_) => {}
                        Err(e) => self.drops.record(
                            std::time::Instant::now(),
                            DropReason::Malformed(e),
                            None,
                        ),
                    }
                    self.drain();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    guard.clear_ready();
                    return;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ENETDOWN and friends: the interface went away under us.
                    tracing::warn!("receive on {} failed: {e}", self.interface.name);
                    guard.clear_ready();
                    return;
                }
            }
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.node.poll_action() {
            match out.action {
                Action::SendAdvert {
                    packet,
                    link_destination,
                } => {
                    let frame = Frame {
                        destination: link_destination,
                        source: self.interface.mac,
                        ethertype: ETHERTYPE_IPV4,
                        payload: &packet,
                    }
                    .emit();
                    self.send(&frame, ETHERTYPE_IPV4);
                }
                Action::Garp { vip } => {
                    tracing::debug!("Sending gratuitous ARP for {vip}");
                    self.send(&gratuitous_frame(self.interface.mac, vip), ETHERTYPE_ARP);
                }
                Action::RunHook(kind) => {
                    self.hooks_queued += 1;
                    self.hooks.request(kind);
                }
                Action::StateChanged { from, to, reason } => log_state_change(from, to, reason),
                Action::Dropped { reason, source } => {
                    self.drops.record(std::time::Instant::now(), reason, source)
                }
            }
        }
    }

    fn send(&mut self, frame: &[u8], ethertype: u16) {
        match self.socket.get_ref().send(frame, ethertype) {
            Ok(()) => self.send_errors = 0,
            Err(e) => {
                self.send_errors += 1;
                // ucarp's wording; repeated failures are logged once per 100.
                if self.send_errors == 1 || self.send_errors.is_multiple_of(100) {
                    tracing::warn!("write() has failed: {e} ({} in a row)", self.send_errors);
                }
            }
        }
    }
}

fn log_state_change(from: State, to: State, reason: StateChangeReason) {
    match reason {
        StateChangeReason::Preemption => tracing::warn!("Putting MASTER down - preemption"),
        StateChangeReason::MasterWillTimeOut => {
            tracing::warn!("Putting MASTER DOWN (going to time out)")
        }
        StateChangeReason::MasterBowedOut => {
            tracing::warn!("Master bowed out: taking over at once")
        }
        StateChangeReason::MasterDemoted => {
            tracing::warn!("Master advertises a higher demote count: taking over")
        }
        StateChangeReason::LinkDown => tracing::warn!("Link down: leaving {}", from.as_str()),
        StateChangeReason::Demoted => {
            tracing::warn!("Demoted (SIGUSR2): bowing out, BACKUP for 3 s")
        }
        _ => {}
    }
    tracing::warn!("Switching to state: {}", to.as_str());
    if reason == StateChangeReason::PreferredMaster {
        tracing::warn!("Preferred master advertised: going back to BACKUP state");
    }
}

fn random_seed() -> u64 {
    let mut bytes = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    u64::from_ne_bytes(bytes) ^ u64::from(std::process::id())
}
