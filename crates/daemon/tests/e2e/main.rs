//! End-to-end tests on throw-away LANs of network namespaces (crates/lab): carpd against
//! carpd and against the real ucarp 1.5.2 from Debian.
//!
//! They need root, iproute2, tcpdump and ucarp. Without them each test says so on stderr
//! and passes, unless `CARPD_REQUIRE_NETNS=1` (set by the test command and CI), where a
//! missing prerequisite fails the test.

mod common;
mod config_mode;
mod control;
mod failover_rules;
mod guarantees;
mod hooks;
mod ifupdown;
mod keepalived_interop;
mod metrics;
mod notify;
mod pair;
mod realtime;
mod refusals;
mod resilience;
mod routed;
mod signals;
mod slow_scripts;
mod tcpdump;
mod trackers;
mod ucarp_interop;
mod unicast;
