//! The event loop: turns the core's actions into syscalls and the world's events (frames,
//! timers, hook completions, link and address changes, signals) into the core's inputs. It
//! holds no protocol logic.

use crate::cli::{Cli, Password};
use crate::drops::DropLog;
use crate::hooks::{HookRunner, HookSpec, Job, VipMode};
use crate::startup::{self, HostView, Refusal};
use crate::sys::iface::{self, format_mac, Interface};
use crate::sys::lock::{self, LockError, Pidfile};
use crate::sys::multicast::{self, Membership};
use crate::sys::netlink::{NetEvent, Netlink};
use crate::sys::packet::{self, PacketSocket};
use anyhow::{Context as _, Result};
use carpd_proto::wire::arp::gratuitous_frame;
use carpd_proto::wire::ethernet::{Frame, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use carpd_proto::{
    Action, Command, DropReason, Instant, Node, RouterId, State, StateChangeReason, VrConfigBuilder,
};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// The core's key for our one interface; stable across re-creation of the kernel interface.
const LOCAL_IF: u32 = 0;

/// The prefix length a VIP gets in native mode when none is given.
const DEFAULT_VIP_PREFIX: u8 = 32;

/// Frames read per wakeup before the loop looks at signals and timers again.
const RECEIVE_BATCH: usize = 256;

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
    /// Whether the kernel interface exists right now.
    present: bool,
    /// What the core was last told about the link.
    link_up: bool,
    ignore_ifstate: bool,
    group: Option<Ipv4Addr>,
    ifindex: Arc<AtomicU32>,
    socket: Rc<AsyncFd<PacketSocket>>,
    membership: Option<Membership>,
    hooks: HookRunner,
    native: bool,
    vips: Vec<Ipv4Addr>,
    drops: DropLog,
    send_errors: u64,
    jobs_queued: u32,
}

/// What a failed socket call most likely means, for the error message.
fn socket_error_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => " (needs CAP_NET_RAW)",
        Some(libc::EMFILE | libc::ENFILE) => {
            ": too many open files (raise the limit: ulimit -n, or LimitNOFILE= in the unit)"
        }
        _ => "",
    }
}

fn open_socket(interface: &Interface) -> Result<Rc<AsyncFd<PacketSocket>>> {
    let socket = PacketSocket::open(interface.index).map_err(|e| {
        let hint = socket_error_hint(&e);
        anyhow::Error::new(e).context(format!(
            "Unable to open interface [{}] for CARP{hint}",
            interface.name
        ))
    })?;
    Ok(Rc::new(
        packet::register(socket).context("registering the packet socket")?,
    ))
}

fn join(group: Option<Ipv4Addr>, interface: &Interface) -> Result<Option<Membership>> {
    group
        .map(|g| {
            multicast::join(g, interface.index).with_context(|| {
                format!("Can't do IP_ADD_MEMBERSHIP for {g} on {}", interface.name)
            })
        })
        .transpose()
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
    let vhid = cli.vhid.expect("checked by the CLI");
    // One carpd per interface and vhid: two would both stay MASTER, silently.
    let _instance = match lock::lock_instance(&name, vhid) {
        Ok(lock) => Some(lock),
        Err((path, held @ LockError::Held { .. })) => {
            return Err(Refusal(format!(
                "carpd: another carpd already serves {name} vhid {vhid} on this host (lock {}, {held}): accepted one carpd per interface and vhid; stop that one first",
                path.display()
            ))
            .into())
        }
        Err((path, LockError::Io(e))) => {
            tracing::warn!(
                "cannot take the instance lock {}: {e}: a second carpd for {name} vhid {vhid} would not be noticed",
                path.display()
            );
            None
        }
    };
    let _pidfile = match &cli.pidfile {
        None => None,
        Some(path) => match Pidfile::create(path) {
            Ok(p) => Some(p),
            Err(held @ LockError::Held { .. }) => {
                return Err(Refusal(format!(
                    "carpd: --pidfile {} is {held}: accepted a pidfile that no live process holds",
                    path.display()
                ))
                .into())
            }
            Err(LockError::Io(e)) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot write pidfile {}", path.display())))
            }
        },
    };
    tracing::info!(
        "Local advertised ethernet address is [{}]",
        format_mac(&interface.mac)
    );

    let native = cli.upscript.is_none() && cli.downscript.is_none();
    let mut builder = VrConfigBuilder::new(
        vhid,
        cli.srcip.expect("checked by the CLI"),
        cli.addr.iter().map(|v| v.address).collect(),
        &password.0,
    );
    builder.advbase = cli.advbase;
    builder.advskew = cli.advskew;
    builder.deadratio = cli.deadratio;
    builder.preempt = cli.preempt;
    builder.neutral = cli.neutral;
    // In native mode carpd added the VIPs, so it always takes them away when it stops.
    builder.down_hook_on_stop = cli.shutdown || native;
    builder.group = cli.mcast;
    builder.broadcast = cli.nomcast;
    let config = builder.build().context("invalid configuration")?;

    let netlink = Netlink::open().context("opening rtnetlink")?;
    let vips: Vec<(Ipv4Addr, u8)> = cli
        .addr
        .iter()
        .map(|v| (v.address, v.prefix.unwrap_or(DEFAULT_VIP_PREFIX)))
        .collect();
    let addresses = netlink
        .addresses(interface.index)
        .await
        .with_context(|| format!("listing the addresses of {name}"))?;
    let findings = startup::check(&HostView {
        interface: &name,
        addresses: &addresses,
        srcip: cli.srcip.expect("checked by the CLI"),
        vips: &vips,
        native,
        ignore_ifstate: cli.ignoreifstate,
    })?;
    for warning in &findings.warnings {
        tracing::warn!("{warning}");
    }
    let mut net_events =
        Netlink::events().context("subscribing to rtnetlink link and address events")?;
    let socket = open_socket(&interface)?;
    let group = (!cli.nomcast).then_some(cli.mcast);
    let membership = join(group, &interface)?;
    let ifindex = Arc::new(AtomicU32::new(interface.index));

    let mode = if native {
        tracing::info!("No up/down script: carpd manages the virtual IP addresses itself");
        // A killed instance may have left our VIP behind: take it away before the election
        // (only what carpd added; startup::check refused anything else).
        for &(vip, prefix) in &findings.stale_vips {
            netlink.remove_address(interface.index, vip, prefix).await?;
            tracing::warn!(
                "Removed stale virtual IP {vip}/{prefix} from {name} (left by an earlier instance)"
            );
        }
        VipMode::Native {
            netlink: netlink.clone(),
            vips: vips.clone(),
            ifindex: Arc::clone(&ifindex),
        }
    } else {
        if cli.upscript.is_none() {
            tracing::warn!("Warning: no script called when going up");
        }
        if cli.downscript.is_none() {
            tracing::warn!("Warning: no script called when going down");
        }
        VipMode::Scripts {
            up: cli.upscript.clone(),
            down: cli.downscript.clone(),
        }
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let hooks = HookRunner::start(
        HookSpec {
            mode,
            interface: name.clone(),
            vip_typed: cli.addr[0].typed.clone(),
            vips: cli.addr.iter().map(|v| v.typed.clone()).collect(),
            xparam: cli.xparam.clone(),
            vhid: config.vhid,
            timeout: cli.hook_timeout,
        },
        done_tx,
    );
    crate::sys::privileges::drop_to_network();

    let epoch = tokio::time::Instant::now();
    let mut node = Node::new();
    let router = node.add_router(LOCAL_IF, config, Instant::ZERO, random_seed());
    let mut driver = Driver {
        epoch,
        node,
        router,
        link_up: true,
        present: true,
        ignore_ifstate: cli.ignoreifstate,
        group,
        ifindex,
        interface,
        socket,
        membership,
        hooks,
        native,
        vips: cli.addr.iter().map(|v| v.address).collect(),
        drops: DropLog::default(),
        send_errors: 0,
        jobs_queued: 0,
    };
    let running = driver.interface.running;
    driver.set_link(running);
    driver.drain();
    // systemd Type=notify: ready once the first state (BACKUP) is known.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&driver.status_line()),
    ]);

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
        // The socket is replaced when the interface is re-created.
        let socket = Rc::clone(&driver.socket);
        // Priorities: signals, then due timers and finished hooks, then events, then packets
        // (read in bounded batches), so that a flood can delay nothing else.
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
            _ = sleep => {
                let now = driver.now();
                driver.node.handle_timeout(now);
                Flow::Continue
            }
            Some(job) = done_rx.recv() => { driver.job_done(job); Flow::Continue }
            Some(event) = net_events.recv() => { driver.net_event(event); Flow::Continue }
            _ = flush.tick() => {
                driver.drops.flush(std::time::Instant::now());
                Flow::Continue
            }
            ready = socket.readable() => {
                let mut guard = ready?;
                driver.receive(&mut guard, &mut buf);
                Flow::Continue
            }
        };
        driver.drain();
        if flow == Flow::Stop {
            break;
        }
    }
    let queued = driver.jobs_queued;
    driver.hooks.finish(queued).await;
    tracing::info!("carpd stopped");
    Ok(())
}

impl Driver {
    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    fn state(&self) -> State {
        self.node
            .router(self.router)
            .map_or(State::Init, |r| r.state())
    }

    fn stop(&mut self, signal: &str) -> Flow {
        tracing::info!("Received SIG{signal}: leaving");
        let now = self.now();
        self.node.handle_command(now, Command::Stop);
        Flow::Stop
    }

    /// ucarp's SIGUSR1 line, e.g. "MASTER on eth0 id 7".
    fn status_line(&self) -> String {
        let vhid = self.node.router(self.router).map_or(0, |r| r.config().vhid);
        format!(
            "{} on {} id {}",
            self.state().as_str(),
            self.interface.name,
            vhid
        )
    }

    fn status(&self) {
        tracing::info!("{}", self.status_line());
        for (kind, total) in self.drops.totals() {
            tracing::info!("dropped {kind}: {total}");
        }
    }

    /// Tells the core whether the link can carry adverts (`-S` ignores the carrier, not the
    /// interface's absence).
    fn set_link(&mut self, running: bool) {
        let up = self.present && (running || self.ignore_ifstate);
        if up == self.link_up {
            return;
        }
        self.link_up = up;
        if up {
            tracing::warn!(
                "Link up on {}: taking part in the election again",
                self.interface.name
            );
        } else {
            tracing::warn!(
                "Link down on {}: BACKUP until it is back",
                self.interface.name
            );
        }
        let now = self.now();
        self.node.handle_link(now, LOCAL_IF, up);
    }

    fn net_event(&mut self, event: NetEvent) {
        match event {
            NetEvent::Link {
                index,
                name,
                running,
                mac,
            } if name == self.interface.name => {
                if index != self.interface.index || !self.present {
                    self.rebind(index, mac);
                } else if let Some(mac) = mac.filter(|m| *m != self.interface.mac) {
                    tracing::warn!("{} has a new Ethernet address [{}]", name, format_mac(&mac));
                    self.interface.mac = mac;
                }
                self.set_link(running);
            }
            NetEvent::Link { index, name, .. } if index == self.interface.index && self.present => {
                // Renamed: the name carpd was told to use is gone, as if the interface were.
                self.interface_gone(&format!("was renamed to {name}"));
            }
            NetEvent::LinkRemoved { index } if index == self.interface.index && self.present => {
                self.interface_gone("was removed");
            }
            NetEvent::AddressRemoved { index, address }
                if index == self.interface.index
                    && self.vips.contains(&address)
                    && self.state() == State::Master =>
            {
                if self.native {
                    tracing::warn!(
                        "Virtual IP {address} was removed from {} while MASTER: putting it back",
                        self.interface.name
                    );
                    self.jobs_queued += 1;
                    self.hooks.request(Job::Restore);
                } else {
                    tracing::warn!("Virtual IP {address} was removed from {} while MASTER (the scripts manage it)", self.interface.name);
                }
            }
            _ => {}
        }
    }

    /// Our interface no longer exists under its name: BACKUP until it is back (logged once
    /// each way; see [`Driver::rebind`]).
    fn interface_gone(&mut self, what: &str) {
        tracing::warn!(
            "Interface {} {what}: BACKUP until an interface named {} exists again",
            self.interface.name,
            self.interface.name
        );
        self.set_link(false);
        self.present = false;
        self.link_up = false;
        self.membership = None;
    }

    /// The interface exists again (new index, or renamed back): new socket, new membership.
    fn rebind(&mut self, index: u32, mac: Option<[u8; 6]>) {
        self.interface.index = index;
        if let Some(mac) = mac {
            self.interface.mac = mac;
        }
        match open_socket(&self.interface).and_then(|s| Ok((s, join(self.group, &self.interface)?)))
        {
            Ok((socket, membership)) => {
                self.socket = socket;
                self.membership = membership;
                self.ifindex.store(index, Ordering::Relaxed);
                self.present = true;
                tracing::warn!(
                    "Interface {} is back (index {index}, [{}]): listening again",
                    self.interface.name,
                    format_mac(&self.interface.mac)
                );
            }
            Err(e) => tracing::error!("rebinding to {}: {e:#}", self.interface.name),
        }
    }

    fn job_done(&mut self, job: Job) {
        self.jobs_queued = self.jobs_queued.saturating_sub(1);
        let now = self.now();
        match job {
            Job::Hook { id, .. } => self.node.handle_hook_done(now, self.router, id),
            Job::Restore => {
                if self.state() == State::Master {
                    for vip in self.vips.clone() {
                        self.send(&gratuitous_frame(self.interface.mac, vip), ETHERTYPE_ARP);
                    }
                }
            }
        }
    }

    fn receive(
        &mut self,
        guard: &mut tokio::io::unix::AsyncFdReadyGuard<'_, PacketSocket>,
        buf: &mut [u8],
    ) {
        // A bounded batch: under a flood the loop comes back to signals and timers.
        for _ in 0..RECEIVE_BATCH {
            match guard.get_inner().recv(buf) {
                Ok(len) => {
                    let now = self.now();
                    match Frame::parse(&buf[..len]) {
                        Ok(frame) if frame.ethertype == ETHERTYPE_IPV4 => {
                            self.node.handle_packet(now, LOCAL_IF, frame.payload)
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
                    // ENETDOWN: the interface went down or away; netlink tells us the rest.
                    tracing::debug!("receive on {}: {e}", self.interface.name);
                    guard.clear_ready();
                    return;
                }
            }
        }
        // Batch full: the socket stays marked readable and is read again next turn.
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
                Action::RunHook { id, kind } => {
                    self.jobs_queued += 1;
                    self.hooks.request(Job::Hook { id, kind });
                }
                Action::CancelHook { id } => self.hooks.cancel(id),
                Action::StateChanged { to, reason, .. } => {
                    log_state_change(to, reason);
                    notify(&[sd_notify::NotifyState::Status(&self.status_line())]);
                }
                Action::Dropped { reason, source } => {
                    self.drops.record(std::time::Instant::now(), reason, source)
                }
            }
        }
    }

    fn send(&mut self, frame: &[u8], ethertype: u16) {
        if !self.present {
            return;
        }
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

fn log_state_change(to: State, reason: StateChangeReason) {
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

/// Tells systemd (when it started us with Type=notify; a no-op otherwise).
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!("sd_notify: {e}");
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

#[cfg(test)]
mod tests {
    use std::io::Error;

    #[test]
    fn socket_errors_name_their_cause() {
        let hint = |errno| super::socket_error_hint(&Error::from_raw_os_error(errno));
        assert!(hint(libc::EMFILE).contains("too many open files"));
        assert!(hint(libc::ENFILE).contains("too many open files"));
        assert!(hint(libc::EPERM).contains("CAP_NET_RAW"));
        assert_eq!(hint(libc::ENODEV), "");
    }
}
