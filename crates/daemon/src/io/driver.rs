//! The loop's I/O: per-link I/O (packet socket, multicast memberships, interface events)
//! shared by every group on the link, one hook runner per group, signals and control
//! requests. [`Io::next`] is the one `select!`; [`Io::apply`] carries out the engine's
//! effects. It holds no protocol logic (see [`crate::supervisor`] for the loop itself).

use crate::host::{Effect, Input, LinkId};
use crate::io::read_ahead::ReadAhead;
use crate::io::readiness::{Readiness, Source};
use crate::io::trackers::{Observation, Trackers};
use crate::mgmt::control::Call;
use crate::settings::GroupSettings;
use crate::sys::iface::{format_mac, Interface};
use crate::sys::multicast::{self, Membership};
use crate::sys::netlink::NetEvent;
use crate::sys::packet::PacketSocket;
use crate::sys::rawip::RawIpSocket;
use crate::sys::vrrp6::{self, Vrrp6Socket};
use anyhow::{Context as _, Result};
use carpd_proto::wire::ethernet::FrameBytes;
use carpd_proto::Instant;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{broadcast, mpsc};

/// What the loop does next.
#[derive(Debug)]
pub enum Next {
    /// hand this to the engine
    Input(Input),
    /// re-read the config file (SIGHUP in config mode)
    Reload,
    /// a control request
    Call(Call),
    /// a metrics scrape
    Scrape(crate::mgmt::metrics::Scrape),
}

/// Frames read in a row from one link before the loop looks at signals and timers again.
const RECEIVE_BATCH: usize = 256;
/// How many frames of a batch are read at once, ahead of their turn: enough that the groups
/// they are for can be loaded from memory together ([`Io::fresh_frames`]).
const READ_AHEAD: usize = 16;

/// A wake-up later than this after the deadline the loop slept towards means the loop did
/// not run in between (a wake-up on a CPU of its own is tens of microseconds late): queued
/// packets go first, and the core is told ([`Input::Stalled`]). Below the shortest pause a
/// group would wait for (1/16 of CARP's fastest interval, 244 µs).
const STALLED: Duration = Duration::from_micros(200);
/// The same for a deadline already past when the loop went to wait: counted from when the
/// loop last read the time for an input, which a long input's own work must not reach.
const STALLED_AT_WORK: Duration = Duration::from_millis(5);

/// The largest frame read (adverts are 70 bytes; anything longer is cut and dropped).
const FRAME_BUFFER: usize = 2048;

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

pub fn open_socket(interface: &Interface) -> Result<Rc<AsyncFd<PacketSocket>>> {
    let socket = PacketSocket::open(interface.index).map_err(|e| {
        let hint = socket_error_hint(&e);
        anyhow::Error::new(e).context(format!(
            "Unable to open interface [{}] for CARP{hint}",
            interface.name
        ))
    })?;
    Ok(Rc::new(
        crate::sys::register(socket).context("registering the packet socket")?,
    ))
}

/// The raw socket for unicast peers on `interface`; `None` (logged) if it cannot be opened,
/// which only unicast groups notice.
pub fn open_unicast(interface: &Interface) -> Option<RawIpSocket> {
    RawIpSocket::open(&interface.name)
        .map_err(|e| {
            tracing::error!(
                "Unable to open a raw IP socket on {} for unicast peers: {e}",
                interface.name
            )
        })
        .ok()
}

pub fn join(groups: &[Ipv4Addr], interface: &Interface) -> Result<Vec<Membership>> {
    groups
        .iter()
        .map(|g| {
            multicast::join(*g, interface.index).with_context(|| {
                format!("Can't do IP_ADD_MEMBERSHIP for {g} on {}", interface.name)
            })
        })
        .collect()
}

/// One link's I/O, shared by every group on it.
pub struct LinkIo {
    /// the interface as last seen
    interface: Interface,
    /// `None` while the interface does not exist.
    socket: Option<Rc<AsyncFd<PacketSocket>>>,
    /// The multicast groups its groups advertise to, joined once each.
    groups: Vec<Ipv4Addr>,
    /// the joins of `groups`
    memberships: Vec<Membership>,
    /// The current kernel index, shared with native VIP management.
    ifindex: Arc<AtomicU32>,
    /// Adverts to unicast peers go out here: open while an IPv4 group on the link has
    /// unicast peers and the interface exists. Only then: the kernel hands every IPv4 advert
    /// on the link to a raw socket of protocol 112 (a copy, run through its filter), which a
    /// link of multicast groups would pay for at every advert and never use.
    unicast: Option<RawIpSocket>,
    /// Whether an IPv4 group on the link has unicast peers.
    wants_unicast: bool,
    /// VRRPv3 over IPv6, while an IPv6 group uses the link and the interface exists.
    v6: Option<Rc<AsyncFd<Vrrp6Socket>>>,
    /// Whether an IPv6 group uses the link.
    wants_v6: bool,
}

impl LinkIo {
    /// Opens the link's sockets on `interface` (no multicast group joined yet).
    pub fn open(interface: Interface) -> Result<LinkIo> {
        let socket = open_socket(&interface)?;
        Ok(LinkIo {
            ifindex: Arc::new(AtomicU32::new(interface.index)),
            interface,
            socket: Some(socket),
            unicast: None,
            wants_unicast: false,
            v6: None,
            wants_v6: false,
            groups: Vec::new(),
            memberships: Vec::new(),
        })
    }

    /// The interface exists again (new index, or renamed back): new socket, new memberships.
    fn rebind(&mut self, index: u32, mac: Option<[u8; 6]>) -> bool {
        self.interface.index = index;
        if let Some(mac) = mac {
            self.interface.mac = mac;
        }
        match open_socket(&self.interface)
            .and_then(|s| Ok((s, join(&self.groups, &self.interface)?)))
        {
            Ok((socket, memberships)) => {
                self.socket = Some(socket);
                self.unicast = None;
                self.set_unicast(self.wants_unicast);
                self.v6 = None;
                self.set_v6(self.wants_v6);
                self.memberships = memberships;
                self.ifindex.store(index, Ordering::Relaxed);
                tracing::warn!(
                    "Interface {} is back (index {index}, [{}]): listening again",
                    self.interface.name,
                    format_mac(&self.interface.mac)
                );
                true
            }
            Err(e) => {
                tracing::error!("rebinding to {}: {e:#}", self.interface.name);
                false
            }
        }
    }

    /// Our interface no longer exists under its name: BACKUP until it is back.
    fn gone(&mut self, what: &str) {
        tracing::warn!(
            "Interface {} {what}: BACKUP until an interface named {} exists again",
            self.interface.name,
            self.interface.name
        );
        self.socket = None;
        self.unicast = None;
        self.v6 = None;
        self.memberships.clear();
    }

    /// Joins exactly `groups` (a reload changed them): new joins made, old ones left.
    pub fn set_groups(&mut self, mut groups: Vec<Ipv4Addr>) {
        groups.sort();
        groups.dedup();
        if groups == self.groups {
            return;
        }
        self.groups = groups;
        if self.socket.is_some() {
            match join(&self.groups, &self.interface) {
                Ok(memberships) => self.memberships = memberships,
                Err(e) => tracing::error!("{e:#}"),
            }
        }
    }

    /// Opens (or closes) the raw socket for unicast peers as IPv4 groups with peers start (or
    /// stop) using the link.
    pub fn set_unicast(&mut self, wanted: bool) {
        self.wants_unicast = wanted;
        if !wanted {
            self.unicast = None;
        } else if self.unicast.is_none() && self.socket.is_some() {
            self.unicast = open_unicast(&self.interface);
        }
    }

    /// Opens (or closes) the IPv6 VRRP socket as IPv6 groups start (or stop) using the link.
    pub fn set_v6(&mut self, wanted: bool) {
        self.wants_v6 = wanted;
        if !wanted {
            self.v6 = None;
            return;
        }
        if self.v6.is_some() || self.socket.is_none() {
            return;
        }
        let name = &self.interface.name;
        match Vrrp6Socket::open(
            name,
            self.interface.index,
            carpd_proto::wire::vrrp3::GROUP_V6,
        )
        .and_then(crate::sys::register)
        {
            Ok(socket) => self.v6 = Some(Rc::new(socket)),
            Err(e) => tracing::error!(
                "Unable to open an IPv6 VRRP socket on {name} (joining ff02::12): {e}"
            ),
        }
    }

    /// What the engine is told of the link.
    pub fn input(&self, link: LinkId) -> Input {
        Input::Link {
            link,
            present: self.socket.is_some(),
            running: self.interface.running,
            mac: self.interface.mac,
        }
    }
}

/// The channels the loop reads besides its sockets, and where events go.
pub struct Channels {
    /// hook completions
    pub done: mpsc::UnboundedReceiver<crate::io::hooks::Done>,
    /// interface events
    pub net_events: mpsc::UnboundedReceiver<NetEvent>,
    /// control requests
    pub calls: mpsc::Receiver<Call>,
    /// what the trackers observed
    pub observations: mpsc::UnboundedReceiver<Observation>,
    /// metrics scrapes waiting for an answer
    pub scrapes: mpsc::Receiver<crate::mgmt::metrics::Scrape>,
    /// where events go (`carpctl watch`)
    pub events: broadcast::Sender<Arc<str>>,
}

/// Everything the loop waits on, and what carries out the engine's effects.
pub struct Io {
    /// the core's time zero, on the monotonic clock
    epoch: Duration,
    /// When the loop last read the time for an input (monotonic): it ran then, so a deadline
    /// found late is counted late from here at the earliest ([`Io::next`]).
    running_at: std::cell::Cell<Duration>,
    /// the core's next deadline
    timer: crate::sys::timer::DeadlineTimer,
    signals: Signals,
    /// which of the signals and channels were woken since their last poll
    readiness: Readiness,
    done: mpsc::UnboundedReceiver<crate::io::hooks::Done>,
    net_events: mpsc::UnboundedReceiver<NetEvent>,
    calls: mpsc::Receiver<Call>,
    links: BTreeMap<LinkId, LinkIo>,
    /// The link a receive batch is reading, and how many frames it has read.
    batch: Option<(LinkId, usize)>,
    /// Frames of the batch read ahead of their turn ([`READ_AHEAD`] at a time), handed out
    /// one by one.
    ahead: ReadAhead,
    /// The link a frame was read from last: the next look at the links starts after it.
    batch_link: LinkId,
    /// Config mode: SIGHUP is for reloading, not for stopping as in ucarp.
    hangup_reloads: bool,
    events: broadcast::Sender<Arc<str>>,
    trackers: Trackers,
    observations: mpsc::UnboundedReceiver<Observation>,
    /// notify script calls, in order
    notifier: crate::io::notify::Notifier,
    scrapes: mpsc::Receiver<crate::mgmt::metrics::Scrape>,
    /// the interfaces that hold VIPs without carrying adverts
    vip_links: crate::io::vip_links::VipLinks,
    /// inputs made by one event beyond the one returned (a VIP interface's change)
    pending: std::collections::VecDeque<Input>,
    /// Frames for one link waiting to leave together (see [`Io::flush`]).
    outgoing: (LinkId, Vec<(FrameBytes, u16)>),
    /// sends that failed in a row
    send_errors: u64,
    /// Where frames are read into, kept for the next read: a received frame is then copied
    /// out at its own size (inline for an advert, see [`FrameBytes`]).
    rx: Box<[u8]>,
}

/// The signals carpd handles.
pub struct Signals {
    usr1: Signal,
    usr2: Signal,
    term: Signal,
    int: Signal,
    quit: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn new() -> Result<Signals> {
        Ok(Signals {
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

/// Reads one frame into `buf` if one is queued; `None` when none is (or the read failed).
/// Through the reactor's readiness: a read that finds nothing clears it, so that the loop
/// then waits on epoll without trying the socket once more.
fn try_receive(socket: &AsyncFd<PacketSocket>, name: &str, buf: &mut [u8]) -> Option<FrameBytes> {
    loop {
        match socket.try_io(tokio::io::Interest::READABLE, |s| s.recv(buf)) {
            Ok(len) => return Some(FrameBytes::from_slice(&buf[..len])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(e) => {
                // ENETDOWN: the interface went down or away; netlink tells us the rest.
                tracing::debug!("receive on {name}: {e}");
                return None;
            }
        }
    }
}

/// The error of a send whose socket could not be opened (said once when it failed).
fn not_open(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        format!("no {what}: it could not be opened (see the error above)"),
    )
}

/// Reads one datagram from `socket` into `buf` with `recv` if the reactor says it is readable
/// (`size` tells how many bytes of the buffer it filled); `None` after registering `cx` for
/// the socket's next readiness. Nothing is read while it is not readable.
fn poll_read<'b, S, T>(
    socket: &AsyncFd<S>,
    what: std::fmt::Arguments<'_>,
    cx: &mut Context<'_>,
    buf: &'b mut [u8],
    recv: impl Fn(&S, &mut [u8]) -> std::io::Result<T>,
    size: impl Fn(&T) -> usize,
) -> Option<(T, &'b [u8])>
where
    S: std::os::fd::AsRawFd,
{
    loop {
        let Poll::Ready(Ok(mut guard)) = socket.poll_read_ready(cx) else {
            return None;
        };
        match guard.try_io(|s| recv(s.get_ref(), buf)) {
            Ok(Ok(got)) => {
                let len = size(&got);
                return Some((got, &buf[..len]));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => {
                // ENETDOWN: the interface went down or away; netlink tells us the rest.
                tracing::debug!("{what}: {e}");
                guard.clear_ready();
            }
            // Nothing queued: readiness is cleared, the next poll registers `cx`.
            Err(_would_block) => {}
        }
    }
}

/// A frame from a link's packet socket (see [`poll_read`]), inline if it is an advert's size.
fn poll_receive(
    socket: &AsyncFd<PacketSocket>,
    name: &str,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Option<FrameBytes> {
    poll_read(
        socket,
        format_args!("receive on {name}"),
        cx,
        buf,
        PacketSocket::recv,
        |len| *len,
    )
    .map(|(_, frame)| FrameBytes::from_slice(frame))
}

/// A packet from a link's IPv6 VRRP socket (see [`poll_read`]).
fn poll_receive_v6(
    socket: &AsyncFd<Vrrp6Socket>,
    name: &str,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Option<(vrrp6::Received, Vec<u8>)> {
    poll_read(
        socket,
        format_args!("IPv6 receive on {name}"),
        cx,
        buf,
        Vrrp6Socket::recv,
        |r| r.len,
    )
    .map(|(received, packet)| (received, packet.to_vec()))
}

/// Whether a signal stream has delivered (`cx` is registered otherwise).
fn delivered(signal: &mut Signal, cx: &mut Context<'_>) -> bool {
    matches!(signal.poll_recv(cx), Poll::Ready(Some(())))
}

impl Io {
    /// The loop's I/O with no link yet; `hangup_reloads` in config mode (SIGHUP reloads).
    pub fn new(
        channels: Channels,
        observed: mpsc::UnboundedSender<Observation>,
        hangup_reloads: bool,
    ) -> Result<Io> {
        Ok(Io {
            epoch: crate::sys::timer::monotonic_now(),
            running_at: std::cell::Cell::new(crate::sys::timer::monotonic_now()),
            timer: crate::sys::timer::DeadlineTimer::new()
                .context("creating the deadline timer (timerfd)")?,
            signals: Signals::new()?,
            readiness: Readiness::new(),
            done: channels.done,
            net_events: channels.net_events,
            calls: channels.calls,
            links: BTreeMap::new(),
            batch: None,
            ahead: ReadAhead::default(),
            batch_link: LinkId(0),
            hangup_reloads,
            events: channels.events,
            trackers: Trackers::new(observed),
            observations: channels.observations,
            notifier: crate::io::notify::Notifier::start(),
            scrapes: channels.scrapes,
            vip_links: Default::default(),
            pending: Default::default(),
            outgoing: (LinkId(0), Vec::new()),
            send_errors: 0,
            rx: vec![0; FRAME_BUFFER].into_boxed_slice(),
        })
    }

    /// The link serving the interface `name`, if any.
    pub fn link_named(&self, name: &str) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, l)| l.interface.name == name)
            .map(|(id, _)| *id)
    }

    /// A link's interface as last seen.
    pub fn interface(&self, link: LinkId) -> Option<&Interface> {
        self.links.get(&link).map(|l| &l.interface)
    }

    /// A link's current kernel index, shared with native VIP management.
    pub fn ifindex(&self, link: LinkId) -> Option<Arc<AtomicU32>> {
        self.links.get(&link).map(|l| Arc::clone(&l.ifindex))
    }

    /// Serves a new link.
    pub fn add_link(&mut self, id: LinkId, link: LinkIo) {
        self.links.insert(id, link);
    }

    /// Closes the links whose interface no group uses (`used` says false); their ids.
    pub fn close_unused_links(&mut self, used: impl Fn(&str) -> bool) -> Vec<LinkId> {
        let unused: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| !used(&l.interface.name))
            .map(|(id, _)| *id)
            .collect();
        for id in &unused {
            if let Some(link) = self.links.remove(id) {
                tracing::info!("{} serves no group any more: closed", link.interface.name);
            }
            if self.batch.is_some_and(|(l, _)| l == *id) {
                self.batch = None;
            }
            self.ahead.forget(*id);
        }
        unused
    }

    /// Joins on each link the multicast groups its groups use, and opens or closes its IPv6
    /// socket as IPv6 groups use it, and its raw socket as IPv4 groups with unicast peers do.
    pub fn set_link_groups(&mut self, groups: &[GroupSettings]) {
        for link in self.links.values_mut() {
            let on_link = || groups.iter().filter(|g| g.interface == link.interface.name);
            let wanted = on_link()
                .filter(|g| !g.is_broadcast() && !g.is_ipv6())
                .map(|g| g.multicast_group)
                .collect();
            let v6 = on_link().any(GroupSettings::is_ipv6);
            let unicast = on_link().any(|g| !g.is_ipv6() && !g.peers.is_empty());
            link.set_groups(wanted);
            link.set_unicast(unicast);
            link.set_v6(v6);
        }
    }

    /// The interfaces that hold VIPs without carrying adverts.
    pub fn vip_links(&mut self) -> &mut crate::io::vip_links::VipLinks {
        &mut self.vip_links
    }

    /// The trackers' tasks and interface watches.
    pub fn trackers(&mut self) -> &mut Trackers {
        &mut self.trackers
    }

    /// Waits (at most `limit`) for the notify script calls made so far.
    pub async fn finish_notifications(&mut self, limit: Duration) {
        self.notifier.finish(limit).await;
    }

    /// The frames read ahead since the last call (each shown once), which the next inputs
    /// will be: a caller may start loading what they will touch.
    pub fn fresh_frames(&mut self) -> impl Iterator<Item = (LinkId, &[u8])> {
        self.ahead.fresh()
    }

    /// The core's time now (the loop runs now: see `running_at`).
    pub fn now(&self) -> Instant {
        let monotonic = crate::sys::timer::monotonic_now();
        self.running_at.set(monotonic);
        let since = monotonic.saturating_sub(self.epoch);
        Instant::from_micros(since.as_micros() as u64)
    }

    /// The next input, by priority: signals, then a due deadline and finished hooks, then
    /// interface events, then frames (read in bounded batches per link), so that a flood
    /// can delay nothing else.
    pub async fn next(&mut self, deadline: Option<Instant>) -> Next {
        loop {
            if let Some(input) = self.pending.pop_front() {
                return Next::Input(input);
            }
            if let Some((link, bytes)) = self.ahead.pop() {
                return Next::Input(Input::Frame { link, bytes });
            }
            if let Some((link, read)) = self.batch.take() {
                let more = READ_AHEAD.min(RECEIVE_BATCH.saturating_sub(read));
                let socket = self
                    .links
                    .get(&link)
                    .and_then(|l| Some((l.socket.as_ref()?, l)));
                let mut got = 0;
                if let Some((socket, l)) = socket {
                    while got < more {
                        let Some(bytes) = try_receive(socket, &l.interface.name, &mut self.rx)
                        else {
                            break;
                        };
                        self.ahead.push(link, bytes);
                        got += 1;
                    }
                }
                if let Some((link, bytes)) = self.ahead.pop() {
                    self.batch = Some((link, read + got));
                    return Next::Input(Input::Frame { link, bytes });
                }
            }
            let deadline = deadline.map(|t| self.epoch + Duration::from_micros(t.as_micros()));
            // The timerfd cannot refuse a valid time; if it ever does, tokio's timer stands in.
            let mut late = match self.timer.arm(deadline) {
                Ok(()) => None,
                Err(e) => {
                    tracing::error!("cannot arm the deadline timer: {e}");
                    deadline.map(|d| {
                        let wait = d.saturating_sub(crate::sys::timer::monotonic_now());
                        Box::pin(tokio::time::sleep(wait))
                    })
                }
            };
            let armed = self.timer.armed();
            // When the loop went to sleep for this wait, if it did.
            let mut slept_at = None;
            let next = std::future::poll_fn(|cx| {
                let polled = self.poll_sources(cx, late.as_mut());
                if polled.is_pending() && slept_at.is_none() {
                    slept_at = Some(crate::sys::timer::monotonic_now());
                }
                polled
            })
            .await;
            if let (Some(Next::Input(Input::Timer)), Some(due)) = (&next, armed) {
                // Acted on long after the deadline: the process did not run in between (the
                // machine paused, SIGSTOP). What arrived meanwhile comes first, so that a
                // backup hears the master's queued adverts before its master-down timer is
                // acted on; then the core is told how late, then the timer. Asleep towards
                // the deadline, any lateness beyond a wake-up's is a pause. When the deadline
                // was already past as the loop went to wait (it fell due while the loop
                // worked, or in a pause in the middle of an input), only a long time since
                // the loop last read the time for an input counts, so that work is never
                // taken for a pause.
                let now = crate::sys::timer::monotonic_now();
                let (late, threshold) = match slept_at {
                    Some(slept) if slept < due => (now.saturating_sub(due), STALLED),
                    _ => (
                        now.saturating_sub(due.max(self.running_at.get())),
                        STALLED_AT_WORK,
                    ),
                };
                if late > threshold {
                    self.read_queued();
                    self.pending.push_back(Input::Stalled(late));
                    self.pending.push_back(Input::Timer);
                    continue;
                }
            }
            if let Some(next) = next {
                return next;
            }
        }
    }

    /// Reads what waits on every link's sockets (at most [`RECEIVE_BATCH`] packets each) into
    /// `pending`. Polled with a waker that does nothing: the pass that follows polls every
    /// source with the loop's own before it waits.
    fn read_queued(&mut self) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for (id, link) in &self.links {
            let name = &link.interface.name;
            for _ in 0..RECEIVE_BATCH {
                let Some(bytes) = link
                    .socket
                    .as_ref()
                    .and_then(|s| poll_receive(s, name, &mut cx, &mut self.rx))
                else {
                    break;
                };
                self.pending.push_back(Input::Frame { link: *id, bytes });
            }
            for _ in 0..RECEIVE_BATCH {
                let Some((received, bytes)) = link
                    .v6
                    .as_ref()
                    .and_then(|s| poll_receive_v6(s, name, &mut cx, &mut self.rx))
                else {
                    break;
                };
                self.pending.push_back(Input::Packet6 {
                    link: *id,
                    source: received.source,
                    destination: received.destination,
                    hop_limit: received.hop_limit,
                    bytes,
                });
            }
        }
    }

    // Long on purpose: the priority order of every source of the loop is this function's
    // order, read top to bottom in one place.
    /// One pass over the sources in priority order: the first that has something gives it
    /// (`None`: an interface event that changed nothing the engine needs, look again). Each
    /// source that has nothing registers a waker in place (no future is built or dropped per
    /// pass, which an idle loop would pay for at every advert): the timer and the links `cx`,
    /// the signals and channels their own (see [`Readiness`]), so that they are polled again
    /// only once woken.
    fn poll_sources(
        &mut self,
        cx: &mut Context<'_>,
        late: Option<&mut std::pin::Pin<Box<tokio::time::Sleep>>>,
    ) -> Poll<Option<Next>> {
        let input = |input| Poll::Ready(Some(Next::Input(input)));
        // Signals and channels only when their wakers fired; the timer and the links always.
        let mut pass = self.readiness.pass(cx);
        if let Some(mut quiet) = pass.take(Source::Signals) {
            let s = &mut self.signals;
            let got = if delivered(&mut s.term, &mut quiet) {
                Some(Next::Input(Input::Stop("TERM")))
            } else if delivered(&mut s.int, &mut quiet) {
                Some(Next::Input(Input::Stop("INT")))
            } else if delivered(&mut s.quit, &mut quiet) {
                Some(Next::Input(Input::Stop("QUIT")))
            } else if delivered(&mut s.hup, &mut quiet) {
                Some(if self.hangup_reloads {
                    Next::Reload
                } else {
                    Next::Input(Input::Hangup)
                })
            } else if delivered(&mut s.usr1, &mut quiet) {
                Some(Next::Input(Input::Status))
            } else if delivered(&mut s.usr2, &mut quiet) {
                Some(Next::Input(Input::Demote))
            } else {
                None
            };
            if let Some(next) = got {
                pass.again(Source::Signals);
                return Poll::Ready(Some(next));
            }
        }
        if let Poll::Ready(result) = self.timer.poll_expired(cx) {
            if let Err(e) = result {
                tracing::error!("deadline timer: {e}");
            }
            return input(Input::Timer);
        }
        if let Some(late) = late {
            if std::future::Future::poll(late.as_mut(), cx).is_ready() {
                return input(Input::Timer);
            }
        }
        if let Some(mut quiet) = pass.take(Source::Done) {
            if let Poll::Ready(Some((router, job, report))) = self.done.poll_recv(&mut quiet) {
                pass.again(Source::Done);
                return input(Input::HookDone {
                    router,
                    job,
                    report,
                });
            }
        }
        if let Some(mut quiet) = pass.take(Source::Observations) {
            if let Poll::Ready(Some(o)) = self.observations.poll_recv(&mut quiet) {
                pass.again(Source::Observations);
                return input(Input::Tracker {
                    tracker: o.tracker,
                    ok: o.ok,
                    detail: o.detail,
                });
            }
        }
        if let Some(mut quiet) = pass.take(Source::NetEvents) {
            if let Poll::Ready(Some(event)) = self.net_events.poll_recv(&mut quiet) {
                pass.again(Source::NetEvents);
                drop(pass);
                let more = self.vip_links.net_event(&event);
                self.pending.extend(more);
                return Poll::Ready(self.net_event(event).map(Next::Input));
            }
        }
        if let Some(mut quiet) = pass.take(Source::Calls) {
            if let Poll::Ready(Some(call)) = self.calls.poll_recv(&mut quiet) {
                pass.again(Source::Calls);
                return Poll::Ready(Some(Next::Call(call)));
            }
        }
        if let Some(mut quiet) = pass.take(Source::Scrapes) {
            if let Poll::Ready(Some(scrape)) = self.scrapes.poll_recv(&mut quiet) {
                pass.again(Source::Scrapes);
                return Poll::Ready(Some(Next::Scrape(scrape)));
            }
        }
        drop(pass);
        // Frames last, starting after the link read last so that a flood on one link cannot
        // keep another's adverts waiting.
        let after = self.batch_link;
        let order = self
            .links
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .chain(self.links.range(..=after));
        for (id, link) in order {
            let name = &link.interface.name;
            let rx = &mut self.rx;
            if let Some(bytes) = link
                .socket
                .as_ref()
                .and_then(|s| poll_receive(s, name, cx, rx))
            {
                self.batch = Some((*id, 1));
                self.batch_link = *id;
                return input(Input::Frame { link: *id, bytes });
            }
            if let Some((received, bytes)) = link
                .v6
                .as_ref()
                .and_then(|s| poll_receive_v6(s, name, cx, rx))
            {
                self.batch_link = *id;
                return input(Input::Packet6 {
                    link: *id,
                    source: received.source,
                    destination: received.destination,
                    hop_limit: received.hop_limit,
                    bytes,
                });
            }
        }
        Poll::Pending
    }

    /// Interface events: rebinding happens here; the engine is told what the link is now.
    fn net_event(&mut self, event: NetEvent) -> Option<Input> {
        self.trackers.link_event(&event);
        match event {
            NetEvent::Link {
                index,
                name,
                running,
                mac,
            } => {
                if let Some((id, link)) = self
                    .links
                    .iter_mut()
                    .find(|(_, l)| l.interface.name == name)
                {
                    if index != link.interface.index || link.socket.is_none() {
                        link.rebind(index, mac);
                    } else if let Some(mac) = mac {
                        link.interface.mac = mac;
                    }
                    link.interface.running = running;
                    return Some(link.input(*id));
                }
                let (id, link) = self
                    .links
                    .iter_mut()
                    .find(|(_, l)| l.interface.index == index && l.socket.is_some())?;
                // Renamed: the name carpd was told to use is gone, as if the interface were.
                link.gone(&format!("was renamed to {name}"));
                Some(link.input(*id))
            }
            NetEvent::LinkRemoved { index } => {
                let (id, link) = self
                    .links
                    .iter_mut()
                    .find(|(_, l)| l.interface.index == index && l.socket.is_some())?;
                link.gone("was removed");
                Some(link.input(*id))
            }
            NetEvent::AddressRemoved { index, address } => {
                let (id, _) = self
                    .links
                    .iter()
                    .find(|(_, l)| l.interface.index == index && l.socket.is_some())?;
                Some(Input::AddressRemoved { link: *id, address })
            }
            NetEvent::RouteRemoved {
                destination,
                prefix,
                table,
            } => Some(Input::RouteRemoved {
                destination,
                prefix,
                table,
            }),
        }
    }

    /// Carries out one of the engine's effects (a group's hook requests go to its runner,
    /// which the supervisor holds). Frames on a link's socket wait until the next effect of
    /// another kind or link, or [`Io::flush`], so that a run of adverts leaves in one system
    /// call; the order of effects is kept.
    pub fn apply(&mut self, effect: Effect) {
        if let Effect::Transmit {
            link,
            frame,
            ethertype,
        } = effect
        {
            if self.outgoing.0 != link {
                self.flush();
                self.outgoing.0 = link;
            }
            self.outgoing.1.push((frame, ethertype));
            return;
        }
        self.flush();
        let sent = match effect {
            Effect::Transmit { .. } => return,
            Effect::TransmitOn {
                index,
                frame,
                ethertype,
            } => self.vip_links.send(index, &frame, ethertype),
            Effect::SendIp { link, to, packet } => {
                // Nothing to do while the interface is gone; a socket that failed to open
                // on a live interface is a failed send, logged as the others are.
                let Some(l) = self.links.get(&link).filter(|l| l.socket.is_some()) else {
                    return;
                };
                match &l.unicast {
                    Some(socket) => socket.send(&packet, to),
                    None => Err(not_open("raw IP socket for unicast peers")),
                }
            }
            Effect::SendIp6 {
                link,
                from,
                to,
                packet,
            } => {
                let Some(l) = self.links.get(&link).filter(|l| l.socket.is_some()) else {
                    return;
                };
                match &l.v6 {
                    Some(socket) => socket.get_ref().send(&packet, from, to),
                    None => Err(not_open("IPv6 VRRP socket")),
                }
            }
            Effect::Hook { .. } => return,
            Effect::Status(line) => return notify(&[sd_notify::NotifyState::Status(&line)]),
            Effect::Event(event) => return self.publish(&event),
            Effect::Notify(call) => return self.notifier.call(*call),
        };
        self.sent(sent);
    }

    /// Sends the frames waiting for one link (see [`Io::apply`]); the list keeps its room
    /// for the next wake-up, up to [`OUTGOING_ROOM`] frames.
    pub fn flush(&mut self) {
        let (link, frames) = &mut self.outgoing;
        if frames.is_empty() {
            return;
        }
        if let Some(socket) = self.links.get(link).and_then(|l| l.socket.as_ref()) {
            let errors = &mut self.send_errors;
            socket.get_ref().send_all(frames, |r| count_send(errors, r));
        }
        frames.clear();
        if frames.capacity() > OUTGOING_ROOM {
            frames.shrink_to(OUTGOING_ROOM);
        }
    }

    /// Counts a failed send or a successful one (see [`count_send`]).
    fn sent(&mut self, result: std::io::Result<()>) {
        count_send(&mut self.send_errors, result);
    }
}

/// The room the list of frames waiting to leave keeps between wake-ups.
const OUTGOING_ROOM: usize = 512;

/// Counts a failed send in `errors` (failures in a row; ucarp's wording, logged once per
/// 100) or resets it on a successful one.
fn count_send(errors: &mut u64, result: std::io::Result<()>) {
    let Err(error) = result else {
        *errors = 0;
        return;
    };
    *errors += 1;
    if *errors == 1 || errors.is_multiple_of(100) {
        tracing::warn!("write() has failed: {error} ({errors} in a row)");
    }
}

impl Io {
    /// Sends an event to every `watch` client (none listening is fine).
    pub fn publish(&self, event: &crate::host::report::Event) {
        if self.events.receiver_count() == 0 {
            return;
        }
        let _ = self.events.send(event.to_line().into());
    }
}

/// Tells systemd (when it started us with Type=notify; a no-op otherwise).
pub fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!("sd_notify: {e}");
    }
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
