//! Dropping privileges after start-up.
//!
//! carpd keeps CAP_NET_RAW (to reopen its packet socket when the interface is re-created) and
//! CAP_NET_ADMIN (group joins, native VIP management) in its effective and permitted sets and
//! drops every other capability, but CAP_IPC_LOCK when its memory is locked
//! (`realtime_priority`): memory mapped later stays locked without a RLIMIT_MEMLOCK cap. The
//! bounding set is left alone: scripts are executed as the same user, and a script run by
//! root gets root's full capabilities again at exec, as with ucarp, so `ifup`, `systemctl` or
//! anything else a script calls keeps working.

use caps::{CapSet, Capability, CapsHashSet};

/// Drops every capability but CAP_NET_RAW and CAP_NET_ADMIN (and CAP_IPC_LOCK when
/// `memory_locked`) from this process.
pub fn drop_to_network(memory_locked: bool) {
    let mut keep: CapsHashSet = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]
        .into_iter()
        .collect();
    if memory_locked {
        keep.insert(Capability::CAP_IPC_LOCK);
    }
    let result = caps::read(None, CapSet::Permitted).and_then(|permitted| {
        let keep: CapsHashSet = keep.intersection(&permitted).copied().collect();
        caps::set(None, CapSet::Effective, &keep)?;
        caps::set(None, CapSet::Permitted, &keep)
    });
    match result {
        Ok(()) => tracing::debug!("capabilities dropped to {keep:?}"),
        Err(e) => tracing::warn!("could not drop capabilities: {e}"),
    }
}
