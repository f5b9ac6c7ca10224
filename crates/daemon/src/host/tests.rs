//! The host driven through its inputs, without sockets.

use super::jobs::Job;
use super::*;
use crate::sys::iface::VipLink;
use carpd_proto::wire::auth::Authenticator;
use carpd_proto::wire::carp::{Advertisement, CarpRepr, DEFAULT_GROUP};
use carpd_proto::wire::ethernet::multicast_mac;
use carpd_proto::wire::ethernet::{Frame, FrameBytes, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use carpd_proto::HookKind;
use std::net::Ipv4Addr;
use std::path::Path;

const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC1: [u8; 6] = [2, 0, 0, 0, 1, 1];

/// The same vhid 7 on eth0 and eth1, each with its own VIP.
fn engine() -> (Engine, RouterId, RouterId) {
    let text = r#"
[[group]]
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
[[group]]
interface = "eth1"
vhid = 7
vips = ["10.0.1.100"]
password = "secret"
srcip = "10.0.1.11"
"#;
    let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
    let mut engine = Engine::new(true);
    engine.add_link(LinkId(0), "eth0", MAC0, true);
    engine.add_link(LinkId(1), "eth1", MAC1, true);
    let mut ids = Vec::new();
    for (i, g) in settings.groups.iter().enumerate() {
        let config = g.router_config(g.srcip.unwrap()).unwrap();
        ids.push(engine.add_group(Instant::ZERO, g, config, LinkId(i as u32), i as u64));
    }
    (engine, ids[0], ids[1])
}

/// An Ethernet frame with a bow-out advert from 10.0.<net>.12 for vhid 7.
fn bow_out_frame(net: u8) -> FrameBytes {
    let vip = Ipv4Addr::new(10, 0, net, 100);
    let auth = Authenticator::new(b"secret", 7, &[vip]).unwrap();
    let carp = CarpRepr {
        vhid: 7,
        advskew: 255,
        demote: 0,
        advbase: 255,
        counter: 1,
        digest: auth.digest(1),
    };
    let packet =
        Advertisement::outgoing(Ipv4Addr::new(10, 0, net, 12), DEFAULT_GROUP, 1, carp).emit();
    Frame {
        destination: multicast_mac(DEFAULT_GROUP),
        source: [2, 0, 0, 0, net, 2],
        ethertype: ETHERTYPE_IPV4,
        payload: &packet,
    }
    .emit()
}

/// Inputs that never stop the engine.
trait Feed {
    /// Handles `input` and checks that the loop goes on.
    fn feed(&mut self, now: Instant, input: Input);
}

impl Feed for Engine {
    fn feed(&mut self, now: Instant, input: Input) {
        assert!(self.handle(now, input).is_continue(), "the engine stopped");
    }
}

/// The group on link `net` hears its master bow out at `micros`.
fn hear_bow_out(engine: &mut Engine, micros: u64, net: u8) {
    engine.feed(
        Instant::from_micros(micros),
        Input::Frame {
            link: LinkId(u32::from(net)),
            bytes: bow_out_frame(net),
        },
    )
}

/// Every hook effect is for `router` and every frame leaves on `link`.
fn only_for(effects: &[Effect], router: RouterId, link: LinkId) {
    assert!(
        effects.iter().all(|e| match e {
            Effect::Transmit { link: l, .. }
            | Effect::SendIp { link: l, .. }
            | Effect::SendIp6 { link: l, .. } => *l == link,
            Effect::Hook { router: r, .. } => *r == router,
            // Neither group here has a VIP interface.
            Effect::TransmitOn { .. } => false,
            Effect::Status(_) | Effect::Notify(_) => true,
            Effect::Event(e) => e
                .group()
                .is_none_or(|g| g.interface == ["eth0", "eth1"][link.0 as usize]),
        }),
        "{effects:?}"
    );
}

/// One group on eth0 tracking a weight-0 tracker and a weight-30 one, on advskew.
fn tracked_engine() -> (Engine, RouterId) {
    let text = r#"
[[tracker]]
name = "check"
interface = "eth9"
[[tracker]]
name = "soft"
interface = "eth8"
weight = 30
[[group]]
name = "web"
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
advskew = 10
track = ["check", "soft"]
demote_by = "advskew"
"#;
    let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
    let mut engine = Engine::new(true);
    engine.add_link(LinkId(0), "eth0", MAC0, true);
    engine.set_trackers(Instant::ZERO, &settings.trackers);
    let g = &settings.groups[0];
    let config = g.router_config(g.srcip.unwrap()).unwrap();
    let router = engine.add_group(Instant::ZERO, g, config, LinkId(0), 1);
    (engine, router)
}

fn observe(engine: &mut Engine, micros: u64, tracker: &str, ok: bool) -> Vec<Effect> {
    engine.feed(
        Instant::from_micros(micros),
        Input::Tracker {
            tracker: tracker.into(),
            ok,
            detail: format!("seen {ok}"),
        },
    );
    engine.take_effects()
}

/// The events' names with their key detail, in order.
fn events(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event(e) => Some(match &**e {
                Event::State { to, reason, .. } => format!("state {to} {reason}"),
                Event::Tracker {
                    tracker, healthy, ..
                } => format!("tracker {tracker} {healthy}"),
                Event::Demotion {
                    demotion, advskew, ..
                } => format!("demotion {demotion} advskew {advskew}"),
                _ => e.kind().to_string(),
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn trackers_fault_and_demote_a_group_with_events_in_the_order_they_happened() {
    let (mut engine, web) = tracked_engine();
    // Unchecked trackers: FAULT from the start, demotion 30 on advskew.
    let start = events(&engine.take_effects());
    assert_eq!(
        start,
        [
            "tracker check false",
            "tracker soft false",
            "state BACKUP startup",
            "state FAULT fault",
            "demotion 30 advskew 40"
        ]
    );
    assert_eq!(engine.state(web), State::Fault);
    assert_eq!(engine.summary(), "1 group: 0 MASTER, 0 BACKUP, 1 FAULT");
    // check healthy: BACKUP, still demoted.
    assert_eq!(
        events(&observe(&mut engine, 1_000, "check", true)),
        ["tracker check true", "state BACKUP fault-cleared"]
    );
    assert_eq!(
        events(&observe(&mut engine, 2_000, "soft", true)),
        ["tracker soft true", "demotion 0 advskew 10"]
    );
    // The same observation again is no news.
    assert!(events(&observe(&mut engine, 3_000, "soft", true)).is_empty());
    let status = engine.group_status(Some("web")).unwrap();
    assert_eq!(
        (status[0].protocol.clone(), status[0].fault),
        (
            report::ProtocolStatus::Carp {
                advbase: 1,
                advskew: 10,
                configured_advskew: 10
            },
            false
        )
    );
    // Master, then check fails: the bow-out advert leaves first, then FAULT and the down
    // hook.
    hear_bow_out(&mut engine, 100_000, 0);
    engine.take_effects();
    assert_eq!(engine.state(web), State::Master);
    let effects = observe(&mut engine, 200_000, "check", false);
    assert_eq!(
        events(&effects),
        ["tracker check false", "state FAULT fault"]
    );
    let bow_out = effects.iter().position(|e| {
        matches!(
            e,
            Effect::Transmit {
                ethertype: ETHERTYPE_IPV4,
                ..
            }
        )
    });
    let down = effects.iter().position(|e| {
        matches!(
            e,
            Effect::Hook {
                request: HookRequest::Run(Job::Hook {
                    kind: HookKind::Down,
                    ..
                }),
                ..
            }
        )
    });
    assert!(bow_out.is_some() && bow_out < down, "{effects:?}");
    let status = engine.group_status(None).unwrap();
    assert_eq!(
        status[0].track,
        [
            ("check".to_string(), false, 0),
            ("soft".to_string(), true, 30)
        ]
    );
}

#[test]
fn a_sync_group_faults_together_when_one_member_loses_its_link_or_a_tracker() {
    let text = r#"
[[tracker]]
name = "check"
file = "/run/carpd/none"
[[group]]
name = "inside"
interface = "eth0"
vhid = 7
vips = ["10.0.0.100"]
password = "secret"
srcip = "10.0.0.11"
sync = "edge"
track = ["check"]
[[group]]
name = "outside"
interface = "eth1"
vhid = 7
vips = ["10.0.1.100"]
password = "secret"
srcip = "10.0.1.11"
sync = "edge"
"#;
    let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
    let mut engine = Engine::new(true);
    engine.add_link(LinkId(0), "eth0", MAC0, true);
    engine.add_link(LinkId(1), "eth1", MAC1, true);
    engine.set_trackers(Instant::ZERO, &settings.trackers);
    let ids: Vec<RouterId> = settings
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let config = g.router_config(g.srcip.unwrap()).unwrap();
            engine.add_group(Instant::ZERO, g, config, LinkId(i as u32), i as u64)
        })
        .collect();
    let (inside, outside) = (ids[0], ids[1]);
    // The unchecked tracker of "inside" holds both in FAULT.
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Fault, State::Fault)
    );
    observe(&mut engine, 1_000, "check", true);
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Backup, State::Backup)
    );
    for net in [0, 1] {
        hear_bow_out(&mut engine, 100_000, net);
    }
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Master, State::Master)
    );
    engine.take_effects();
    // eth1 loses its carrier: outside leaves MASTER for the link, inside bows out on eth0.
    engine.feed(
        Instant::from_micros(200_000),
        Input::Link {
            link: LinkId(1),
            present: true,
            running: false,
            mac: MAC1,
        },
    );
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Fault, State::Fault)
    );
    let effects = engine.take_effects();
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Transmit {
                link: LinkId(0),
                ethertype: ETHERTYPE_IPV4,
                ..
            }
        )),
        "inside bows out on eth0: {effects:?}"
    );
    let status = engine.group_status(Some("inside")).unwrap();
    assert_eq!(
        status[0].fault_causes,
        ["eth1 of sync group \"edge\" member \"outside\" is down"]
    );
    // Back: both leave FAULT at the same instant.
    engine.feed(
        Instant::from_micros(300_000),
        Input::Link {
            link: LinkId(1),
            present: true,
            running: true,
            mac: MAC1,
        },
    );
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Backup, State::Backup)
    );
    assert_eq!(
        events(&engine.take_effects())
            .iter()
            .filter(|e| e.contains("fault-cleared"))
            .count(),
        2
    );
    // The tracker only "inside" lists faults "outside" too.
    observe(&mut engine, 400_000, "check", false);
    assert_eq!(
        (engine.state(inside), engine.state(outside)),
        (State::Fault, State::Fault)
    );
}

/// One group on eth0 whose VIP 10.0.0.100/32 goes to `vipd0`, which is `state` at start.
fn vip_link_engine(state: VipLink) -> (Engine, RouterId) {
    let text = r#"
[[group]]
interface = "eth0"
vhid = 7
vips = ["10.0.0.100/32"]
password = "secret"
srcip = "10.0.0.11"
vip_interface = "vipd0"
"#;
    let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
    let mut engine = Engine::new(true);
    engine.add_link(LinkId(0), "eth0", MAC0, true);
    engine.set_vip_link(Instant::ZERO, "vipd0", state);
    let g = &settings.groups[0];
    let config = g.router_config(g.srcip.unwrap()).unwrap();
    let router = engine.add_group(Instant::ZERO, g, config, LinkId(0), 1);
    (engine, router)
}

/// What the group's announcements were: (on a link, on an interface by index).
fn announcements(effects: &[Effect]) -> (usize, Vec<u32>) {
    let on_link = effects
        .iter()
        .filter(|e| matches!(e, Effect::Transmit { ethertype, .. } if *ethertype == ETHERTYPE_ARP))
        .count();
    let on_index = effects
        .iter()
        .filter_map(|e| match e {
            Effect::TransmitOn {
                index,
                ethertype,
                frame,
            } => {
                assert_eq!(*ethertype, ETHERTYPE_ARP);
                assert_eq!(&frame[6..12], &MAC1, "from the VIP interface's MAC");
                Some(*index)
            }
            _ => None,
        })
        .collect();
    (on_link, on_index)
}

/// Becomes master on a bow-out and finishes its up hook; the effects of both.
fn take_over(engine: &mut Engine, router: RouterId, micros: u64) -> Vec<Effect> {
    hear_bow_out(engine, micros, 0);
    let mut effects = engine.take_effects();
    let up = effects.iter().find_map(|e| match e {
        Effect::Hook {
            request:
                HookRequest::Run(
                    job @ Job::Hook {
                        kind: HookKind::Up, ..
                    },
                ),
            ..
        } => Some(*job),
        _ => None,
    });
    if let Some(job) = up {
        let now = Instant::from_micros(micros + 1_000);
        engine.feed(
            now,
            Input::HookDone {
                router,
                job,
                report: None,
            },
        );
        effects.extend(engine.take_effects());
    }
    effects
}

#[test]
fn a_missing_vip_interface_holds_the_group_in_fault_until_it_appears() {
    let (mut engine, router) = vip_link_engine(VipLink::default());
    assert_eq!(engine.state(router), State::Fault);
    let status = &engine.group_status(None).unwrap()[0];
    assert_eq!(status.fault_causes, ["vip_interface vipd0 does not exist"]);
    assert_eq!(status.vip_interface, "vipd0");
    // No master heard for longer than the dead time: still FAULT, nothing added.
    engine.take_effects();
    engine.feed(Instant::from_micros(150_000), Input::Timer);
    engine.feed(Instant::from_micros(4_000_000), Input::Timer);
    assert_eq!(engine.state(router), State::Fault);
    assert!(engine
        .take_effects()
        .iter()
        .all(|e| !matches!(e, Effect::Hook { .. })));
    let lo = VipLink {
        index: 1,
        present: true,
        running: true,
        up: true,
        announce_from: None,
    };
    engine.feed(
        Instant::from_micros(4_100_000),
        Input::VipLink {
            name: "vipd0".into(),
            state: lo,
        },
    );
    assert_eq!(engine.state(router), State::Backup);
    let events = events(&engine.take_effects());
    assert_eq!(events, ["state BACKUP fault-cleared"]);
    // Master on lo: the VIPs are added, nothing is announced anywhere.
    let effects = take_over(&mut engine, router, 4_200_000);
    assert_eq!(engine.state(router), State::Master);
    assert_eq!(announcements(&effects), (0, vec![]), "{effects:?}");
    // Someone takes the VIP off lo: it is put back.
    engine.feed(
        Instant::from_micros(4_400_000),
        Input::VipAddressRemoved {
            name: "vipd0".into(),
            address: "10.0.0.100".parse().unwrap(),
        },
    );
    assert!(engine.take_effects().iter().any(|e| matches!(
        e,
        Effect::Hook {
            request: HookRequest::Run(Job::Restore),
            ..
        }
    )));
    // The same address removed from eth0 is not the group's.
    engine.feed(
        Instant::from_micros(4_450_000),
        Input::AddressRemoved {
            link: LinkId(0),
            address: "10.0.0.100".parse().unwrap(),
        },
    );
    assert!(engine.take_effects().is_empty());
    // vipd0 also carrying adverts of another group (a link of that name): its address
    // event is not this group's; the VIP interface's own event above restored it once.
    engine.add_link(LinkId(1), "vipd0", MAC1, true);
    engine.feed(
        Instant::from_micros(4_460_000),
        Input::AddressRemoved {
            link: LinkId(1),
            address: "10.0.0.100".parse().unwrap(),
        },
    );
    assert!(engine.take_effects().is_empty());
    // The interface goes away: FAULT, bowing out, the down hook.
    engine.feed(
        Instant::from_micros(4_500_000),
        Input::VipLink {
            name: "vipd0".into(),
            state: VipLink::default(),
        },
    );
    assert_eq!(engine.state(router), State::Fault);
    let effects = engine.take_effects();
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Hook {
                request: HookRequest::Run(Job::Hook {
                    kind: HookKind::Down,
                    ..
                }),
                ..
            }
        )),
        "{effects:?}"
    );
    // Down (administratively) is a fault too, with its own cause.
    let down = VipLink {
        running: false,
        ..lo
    };
    engine.set_vip_link(Instant::from_micros(4_600_000), "vipd0", down);
    assert_eq!(
        engine.group_status(None).unwrap()[0].fault_causes,
        ["vip_interface vipd0 is down"]
    );
    // The group goes: so does what the engine kept of its VIP interface.
    assert!(engine.remove_group(Instant::from_micros(4_700_000), router));
    assert!(engine.vip_links.is_empty());
}

#[test]
fn vips_on_an_arp_interface_are_announced_there_from_its_own_mac() {
    let eth1 = VipLink {
        index: 9,
        present: true,
        running: true,
        up: true,
        announce_from: Some(MAC1),
    };
    let (mut engine, router) = vip_link_engine(eth1);
    assert_eq!(engine.state(router), State::Backup);
    let effects = take_over(&mut engine, router, 100_000);
    assert_eq!(engine.state(router), State::Master);
    assert_eq!(announcements(&effects), (0, vec![9]), "{effects:?}");
}

/// The job of the first hook request of `kind` among `effects`.
fn hook_job(effects: &[Effect], kind: HookKind) -> Option<Job> {
    effects.iter().find_map(|e| match e {
        Effect::Hook {
            request: HookRequest::Run(job @ Job::Hook { kind: k, .. }),
            ..
        } if *k == kind => Some(*job),
        _ => None,
    })
}

/// `job` ends at `now` with the kernel refusing the change.
fn refused(engine: &mut Engine, now: Instant, router: RouterId, job: Job) {
    let report = super::jobs::HookReport {
        kind: job.kind(),
        result: super::jobs::HookResult::Failed,
        duration: std::time::Duration::from_millis(1),
        error: Some("Operation not permitted (os error 1)".into()),
    };
    engine.feed(
        now,
        Input::HookDone {
            router,
            job,
            report: Some(report),
        },
    );
}

#[test]
fn a_vip_add_the_kernel_refuses_is_a_fault_that_bows_out_and_is_retried() {
    let (mut engine, router, _) = engine();
    hear_bow_out(&mut engine, 1_000_000, 0);
    let effects = engine.take_effects();
    assert_eq!(engine.state(router), State::Master);
    let up = hook_job(&effects, HookKind::Up).expect("up hook");
    let t = Instant::from_micros(1_010_000);
    refused(&mut engine, t, router, up);
    assert_eq!(engine.state(router), State::Fault);
    let status = &engine.group_status(None).unwrap()[0];
    assert_eq!(
        status.fault_causes,
        ["vip add failed: Operation not permitted (os error 1)"]
    );
    let effects = engine.take_effects();
    // It bows out (advbase 255) so that the peer takes over at once, and takes the VIPs down.
    let bowed_out = effects.iter().any(|e| match e {
        Effect::Transmit { link, frame, .. } if *link == LinkId(0) => {
            Advertisement::parse(&frame[14..]).is_ok_and(|a| a.carp.advbase == 255)
        }
        _ => false,
    });
    assert!(bowed_out, "{effects:?}");
    let down = hook_job(&effects, HookKind::Down).expect("down hook");
    // The retry is the engine's next deadline: 1 s later the fault is lifted.
    assert!(engine
        .poll_timeout()
        .is_some_and(|d| d <= t + super::vip_retry::FIRST_RETRY));
    // The removal failed too: it is tried again (as a release) once the group is not master.
    refused(&mut engine, t, router, down);
    engine.feed(t + super::vip_retry::FIRST_RETRY, Input::Timer);
    assert_eq!(engine.state(router), State::Backup, "competing again");
    assert!(engine.group_status(None).unwrap()[0]
        .fault_causes
        .is_empty());
    let effects = engine.take_effects();
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Hook {
                request: HookRequest::Run(Job::Release),
                ..
            }
        )),
        "{effects:?}"
    );
    // Nobody else advertises: it becomes master again at its master-down time, and a
    // second add failure waits twice as long.
    let down_at = engine.poll_timeout().expect("master-down timer");
    engine.feed(down_at, Input::Timer);
    let up = hook_job(&engine.take_effects(), HookKind::Up).expect("up hook");
    let t = down_at + std::time::Duration::from_millis(10);
    refused(&mut engine, t, router, up);
    assert_eq!(engine.state(router), State::Fault);
    engine.feed(t + super::vip_retry::FIRST_RETRY, Input::Timer);
    assert_eq!(engine.state(router), State::Fault, "the back-off doubled");
    engine.feed(t + super::vip_retry::FIRST_RETRY * 2, Input::Timer);
    assert_eq!(engine.state(router), State::Backup);
}

/// `payload` (protocol 112) from 10.0.0.12 to 224.0.0.18 in an Ethernet frame.
fn frame_of(payload: &[u8]) -> FrameBytes {
    let packet = carpd_proto::advert::ipv4_packet(
        Ipv4Addr::new(10, 0, 0, 12),
        DEFAULT_GROUP,
        255,
        1,
        payload,
    );
    Frame {
        destination: multicast_mac(DEFAULT_GROUP),
        source: [2, 0, 0, 0, 0, 2],
        ethertype: ETHERTYPE_IPV4,
        payload: &packet,
    }
    .emit()
}

#[test]
fn odd_protocol_112_packets_are_counted_by_what_they_are() {
    let (mut engine, _, _) = engine();
    let v3 = carpd_proto::wire::vrrp3::Vrrp3Repr {
        vrid: 7,
        priority: 100,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))],
    };
    let mut v3_type2 = v3.emit(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 12)),
        IpAddr::V4(DEFAULT_GROUP),
        carpd_proto::wire::vrrp3::Checksum::Rfc9568,
    );
    v3_type2[0] = 0x32;
    // keepalived's default VRRPv2: version 2 type 1, one address, no authentication.
    let v2 = [
        0x21, 7, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut bad_checksum = frame_of(&bow_out_frame(0)[14 + 20..]);
    bad_checksum[14 + 10] ^= 0xff;
    // Without its authentication data (a sender that leaves it out): still VRRPv2.
    let v2_short = &v2[..12];
    for bytes in [
        frame_of(&v3_type2),
        frame_of(&v2),
        frame_of(v2_short),
        bad_checksum,
    ] {
        engine.feed(
            Instant::from_micros(1_000),
            Input::Frame {
                link: LinkId(0),
                bytes,
            },
        );
    }
    let drops: Vec<(&str, u64)> = engine
        .drops_by_interface()
        .into_iter()
        .map(|((_, reason), n)| (reason, n))
        .collect();
    assert_eq!(
        drops,
        [
            ("bad-ip-checksum", 1),
            ("other-protocol", 2),
            ("vrrp3-bad-type", 1)
        ]
    );
}

#[test]
fn groups_start_as_backup_with_their_own_down_hook() {
    let (mut engine, a, b) = engine();
    let effects = engine.take_effects();
    for router in [a, b] {
        assert!(effects.iter().any(|e| matches!(e, Effect::Hook { router: r, request: HookRequest::Run(Job::Hook { kind: HookKind::Down, .. }) } if *r == router)));
        assert_eq!(engine.state(router), State::Backup);
    }
    assert_eq!(engine.summary(), "2 groups: 0 MASTER, 2 BACKUP");
}

#[test]
fn a_frame_moves_only_the_group_of_its_link_and_frames_leave_on_that_link() {
    let (mut engine, a, b) = engine();
    engine.take_effects();
    hear_bow_out(&mut engine, 100_000, 1);
    assert_eq!(
        (engine.state(a), engine.state(b)),
        (State::Backup, State::Master)
    );
    let effects = engine.take_effects();
    only_for(&effects, b, LinkId(1));
    // Its first advert leaves on eth1 from eth1's MAC to the group's multicast MAC.
    let advert = effects
        .iter()
        .find_map(|e| match e {
            Effect::Transmit {
                frame,
                ethertype: ETHERTYPE_IPV4,
                ..
            } => Some(frame.clone()),
            _ => None,
        })
        .expect("an advert");
    let parsed = Frame::parse(&advert).unwrap();
    assert_eq!(
        (parsed.destination, parsed.source),
        (multicast_mac(DEFAULT_GROUP), MAC1)
    );
    assert_eq!(
        Advertisement::parse(parsed.payload).unwrap().ip.source,
        Ipv4Addr::new(10, 0, 1, 11)
    );
    assert!(effects.contains(&Effect::Status("2 groups: 1 MASTER, 1 BACKUP".into())));
}

#[test]
fn a_link_going_away_touches_only_its_groups_and_stop_reaches_every_group() {
    let (mut engine, a, b) = engine();
    for net in [1, 0] {
        hear_bow_out(&mut engine, 100_000, net);
    }
    engine.take_effects();
    engine.feed(
        Instant::from_micros(200_000),
        Input::Link {
            link: LinkId(0),
            present: true,
            running: false,
            mac: MAC0,
        },
    );
    assert_eq!(
        (engine.state(a), engine.state(b)),
        (State::Backup, State::Master)
    );
    // Only a leaves MASTER (its down hook); b's link is untouched.
    let effects = engine.take_effects();
    only_for(&effects, a, LinkId(0));
    assert!(!effects.is_empty());
    let flow = engine.handle(Instant::from_micros(300_000), Input::Stop("TERM"));
    assert_eq!(flow, ControlFlow::Break(()));
    assert_eq!(
        (engine.state(a), engine.state(b)),
        (State::Init, State::Init)
    );
    // Only b was master: one bow-out, on eth1.
    let adverts: Vec<LinkId> = engine
        .take_effects()
        .iter()
        .filter_map(|e| match e {
            Effect::Transmit {
                link,
                ethertype: ETHERTYPE_IPV4,
                ..
            } => Some(*link),
            _ => None,
        })
        .collect();
    assert_eq!(adverts, [LinkId(1)]);
}

/// Gratuitous ARPs among `effects`.
fn garps(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Transmit { ethertype, .. } if *ethertype == ETHERTYPE_ARP))
        .count()
}

#[test]
fn a_restored_vip_is_announced_only_once_the_masters_vips_are_up() {
    let (mut engine, web, _) = engine();
    engine.take_effects();
    let restored = |engine: &mut Engine, micros: u64| {
        engine.feed(
            Instant::from_micros(micros),
            Input::HookDone {
                router: web,
                job: Job::Restore,
                report: None,
            },
        );
        garps(&engine.take_effects())
    };
    // MASTER on the bow-out, its up hook still running: the core's rule says no GARP yet,
    // and a restore finishing meanwhile does not announce either.
    hear_bow_out(&mut engine, 1_000_000, 0);
    let effects = engine.take_effects();
    assert_eq!(engine.state(web), State::Master);
    assert_eq!(garps(&effects), 0, "{effects:?}");
    assert_eq!(restored(&mut engine, 1_001_000), 0);
    // The up hook done: the VIP is announced; a restore after that announces it again.
    let up = effects
        .iter()
        .find_map(|e| match e {
            Effect::Hook {
                request: HookRequest::Run(job @ Job::Hook { .. }),
                ..
            } => Some(*job),
            _ => None,
        })
        .expect("the up hook");
    engine.feed(
        Instant::from_micros(1_002_000),
        Input::HookDone {
            router: web,
            job: up,
            report: None,
        },
    );
    assert_eq!(garps(&engine.take_effects()), 1);
    assert_eq!(restored(&mut engine, 1_003_000), 1);
}

/// One CARP group on eth0 with a virtual MAC on `vrrp.7`, which is `state` at start.
fn vmac_engine(state: VipLink) -> (Engine, RouterId) {
    let text = r#"
[[group]]
interface = "eth0"
vhid = 7
vips = ["10.0.0.100/24"]
password = "secret"
srcip = "10.0.0.11"
vmac = true
"#;
    let settings = crate::settings::file::parse(Path::new("t.toml"), text).unwrap();
    let mut engine = Engine::new(true);
    engine.add_link(LinkId(0), "eth0", MAC0, true);
    engine.set_vip_link(Instant::ZERO, "vrrp.7", state);
    let g = &settings.groups[0];
    let config = g.router_config(g.srcip.unwrap()).unwrap();
    let router = engine.add_group(Instant::ZERO, g, config, LinkId(0), 1);
    (engine, router)
}

const VMAC7: [u8; 6] = [0, 0, 0x5e, 0, 1, 7];

/// The macvlan as carpd makes it: present, down.
fn made_down() -> VipLink {
    VipLink {
        index: 12,
        present: true,
        running: false,
        up: false,
        announce_from: Some(VMAC7),
    }
}

#[test]
fn a_virtual_mac_group_advertises_and_announces_from_the_virtual_mac_on_its_link() {
    let (mut engine, router) = vmac_engine(made_down());
    // Down while BACKUP is the macvlan's normal state: no FAULT.
    assert_eq!(engine.state(router), State::Backup);
    let effects = take_over(&mut engine, router, 100_000);
    assert_eq!(engine.state(router), State::Master);
    let sources: Vec<(u16, [u8; 6])> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Transmit {
                link,
                frame,
                ethertype,
            } => {
                assert_eq!(*link, LinkId(0), "on the parent's packet socket");
                Some((*ethertype, Frame::parse(frame).unwrap().source))
            }
            Effect::TransmitOn { .. } => panic!("announced elsewhere: {e:?}"),
            _ => None,
        })
        .collect();
    assert!(sources.contains(&(ETHERTYPE_IPV4, VMAC7)), "{sources:?}");
    assert!(sources.contains(&(ETHERTYPE_ARP, VMAC7)), "{sources:?}");
    assert!(sources.iter().all(|(_, mac)| *mac == VMAC7), "{sources:?}");
}

#[test]
fn a_macvlan_in_the_wrong_state_gets_the_job_that_puts_it_right_and_a_missing_one_faults() {
    let (mut engine, router) = vmac_engine(made_down());
    let jobs = |engine: &mut Engine| -> Vec<Job> {
        engine
            .take_effects()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Hook {
                    request: HookRequest::Run(job),
                    ..
                } => Some(job),
                _ => None,
            })
            .collect()
    };
    engine.take_effects();
    // Someone brings it up while BACKUP: released (taken down) again.
    let up = VipLink {
        up: true,
        running: true,
        ..made_down()
    };
    let seen = |state| Input::VipLink {
        name: "vrrp.7".into(),
        state,
    };
    engine.feed(Instant::from_micros(50_000), seen(up));
    assert_eq!(jobs(&mut engine), vec![Job::Release]);
    engine.feed(Instant::from_micros(60_000), seen(made_down()));
    assert_eq!(jobs(&mut engine), vec![]);
    // MASTER, and someone brings it down: restored (brought up, VIPs added again).
    take_over(&mut engine, router, 100_000);
    engine.feed(Instant::from_micros(200_000), seen(up));
    assert_eq!(jobs(&mut engine), vec![]);
    engine.feed(Instant::from_micros(300_000), seen(made_down()));
    assert_eq!(jobs(&mut engine), vec![Job::Restore]);
    // Gone (its parent was deleted, or someone deleted it): FAULT until it is back.
    engine.feed(Instant::from_micros(400_000), seen(VipLink::default()));
    assert_eq!(engine.state(router), State::Fault);
    engine.feed(Instant::from_micros(500_000), seen(made_down()));
    assert_eq!(engine.state(router), State::Backup);
}
