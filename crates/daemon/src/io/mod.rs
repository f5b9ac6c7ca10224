//! The southbound side: what the host's effects become on the system, and what the system
//! tells the host. [`driver`] is the loop's I/O (per-link sockets, signals, timers, control
//! and scrape requests, applying effects); [`hooks`] runs each group's up/down scripts or
//! native address changes, these a bounded number at a time ([`turns`]); [`conntrack`]
//! drives conntrackd for them; [`notify`] the notify scripts; [`trackers`] the health checks
//! ([`processes`] scans /proc for process trackers); [`read_ahead`] holds frames read ahead
//! of their turn; [`readiness`] tells which of the loop's signals and channels were woken;
//! [`vip_links`] watches the interfaces
//! VIPs go to; [`vmac_links`] makes and deletes the virtual MACs' macvlans.

pub mod conntrack;
pub mod driver;
pub mod hooks;
pub mod notify;
pub mod processes;
pub mod read_ahead;
pub mod readiness;
pub mod trackers;
pub mod turns;
pub mod vip_links;
pub mod vmac_links;

pub use driver::*;
