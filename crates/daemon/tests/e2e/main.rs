//! End-to-end tests on throw-away LANs of network namespaces (crates/lab): carpd against
//! carpd and against the real ucarp 1.5.2 from Debian.
//!
//! They need root and the peers' programs (iproute2, tcpdump, ucarp, keepalived, BIRD, FRR,
//! ...; scripts/test installs them). Where carpd is built without them every test here shows
//! as ignored (build.rs decides, `cfg(carpd_netns)`); with `CARPD_REQUIRE_NETNS=1` (set by
//! the test command and CI) they always run, and a missing prerequisite fails them. None
//! passes without having run.

mod common;
mod config_mode;
mod conntrack;
mod control;
mod equivalence;
mod failover_rules;
mod frr_vrrp;
mod guarantees;
mod hooks;
mod ifupdown;
mod keepalived_interop;
mod keepalived_v2;
mod metrics;
mod notify;
mod pair;
mod realtime;
mod refusals;
mod resilience;
mod routed;
mod routes;
mod signals;
mod slow_scripts;
mod systemd;
mod tcpdump;
mod trackers;
mod ucarp_interop;
mod unicast;
mod vmac;
mod vmac_peers;
