//! The northbound side: what operators and their tools talk to. [`control`] is the control
//! socket and its typed protocol (shared with carpctl); [`reload`] turns old and new
//! settings into a plan; [`metrics`] renders the host's state for Prometheus.

pub mod control;
pub mod metrics;
pub mod reload;
