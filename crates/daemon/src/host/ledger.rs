//! Dropped packets, in one ledger: counted per group, per link and per kind, logged at most
//! once per kind every few seconds with the last sender named. A flood of bad packets costs a
//! counter increment each, not a log line each (ucarp writes one line per packet).

use super::input::LinkId;
use carpd_proto::{DropReason, Instant, RouterId};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// How often one kind of drop may be logged.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Kind {
    total: u64,
    unlogged: u64,
    last_source: Option<IpAddr>,
    last_reason: Option<DropReason>,
    last_logged: Option<Instant>,
}

/// Per-kind counters and the log throttle.
#[derive(Debug, Default)]
pub struct DropLog {
    kinds: BTreeMap<&'static str, Kind>,
}

impl DropLog {
    /// Counts one drop and logs it if this kind has not been logged for [`LOG_EVERY`].
    pub fn record(&mut self, now: Instant, reason: DropReason, source: Option<IpAddr>) {
        let kind = self.kinds.entry(reason.kind()).or_default();
        kind.total += 1;
        kind.unlogged += 1;
        kind.last_source = source.or(kind.last_source);
        kind.last_reason = Some(reason);
        if kind.last_logged.is_none_or(|t| now - t >= LOG_EVERY) {
            Self::log(kind);
            kind.last_logged = Some(now);
        }
    }

    /// When [`flush`](Self::flush) next has something to log: the earliest throttle expiry
    /// of a kind with unlogged drops. None while everything is logged, so that an idle
    /// daemon has no timer for this.
    pub fn next_flush(&self) -> Option<Instant> {
        self.kinds
            .values()
            .filter(|k| k.unlogged > 0)
            .map(|k| k.last_logged.map_or(Instant::ZERO, |t| t + LOG_EVERY))
            .min()
    }

    /// Logs the kinds with drops not yet logged whose throttle has expired.
    pub fn flush(&mut self, now: Instant) {
        for kind in self.kinds.values_mut() {
            if kind.unlogged > 0 && kind.last_logged.is_none_or(|t| now - t >= LOG_EVERY) {
                Self::log(kind);
                kind.last_logged = Some(now);
            }
        }
    }

    /// Total drops per kind.
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        self.kinds.iter().map(|(k, v)| (*k, v.total)).collect()
    }

    fn log(kind: &mut Kind) {
        let Some(reason) = kind.last_reason else {
            return;
        };
        let from = kind
            .last_source
            .map_or_else(|| "unknown".to_string(), |s| s.to_string());
        let n = std::mem::take(&mut kind.unlogged);
        let total = kind.total;
        match reason {
            DropReason::BadDigest => tracing::warn!(
                "Bad digest from {from} ({n} packets, {total} in all) - probable wrong password, vhid or virtual IP address at that host"
            ),
            DropReason::BadAuth { auth_type } => tracing::warn!(
                "VRRPv2 advert from {from} dropped: its authentication (auth type {auth_type}, {}) is not this group's - probable wrong password or auth_type at that host ({n} packets, {total} in all)",
                match auth_type {
                    0 => "none",
                    1 => "simple text password",
                    2 => "IP Authentication Header, which carpd does not speak",
                    _ => "unknown",
                }
            ),
            DropReason::BadTtl(ttl) => {
                tracing::warn!("Bad TTL: [{ttl}] from {from} ({n} packets, {total} in all)")
            }
            DropReason::Replay => tracing::warn!(
                "Replayed advertisement from {from} dropped ({n} packets, {total} in all)"
            ),
            DropReason::Fragment => tracing::warn!(
                "IP fragment of protocol 112 from {from} dropped: adverts are never fragmented ({n} packets, {total} in all)"
            ),
            DropReason::Malformed(e) => tracing::warn!(
                "Malformed packet from {from}: {e} ({n} packets, {total} in all)"
            ),
            DropReason::UnknownVhid(vhid) => {
                tracing::debug!("Ignoring vhid {vhid} from {from} ({n} packets)")
            }
            DropReason::WrongGroup(group) => {
                tracing::debug!("Ignoring different multicast ip {group} from {from} ({n} packets)")
            }
            DropReason::OtherProtocol { heard, ours, vhid } => tracing::warn!(
                "{} advert for vhid {vhid} from {from} dropped: this host runs {} on that vhid, and the two never elect together; give one of them another vhid, or the same protocol ({n} packets, {total} in all)",
                heard.as_str(),
                ours.as_str()
            ),
            DropReason::NotAPeer => tracing::warn!(
                "Advert from {from} dropped: not one of the group's unicast peers ({n} packets, {total} in all)"
            ),
            DropReason::NotTheMaster { master } => tracing::warn!(
                "Advert from {from} ignored: the group follows the live master {master}, which {from} does not beat (a misconfigured router or a forged packet; {n} packets, {total} in all)"
            ),
        }
    }
}

/// Every drop, where it was counted: the group it concerned (when one did), the link it came
/// on (when known), and the throttled log by kind.
#[derive(Debug, Default)]
pub struct Ledger {
    log: DropLog,
    by_link: BTreeMap<(LinkId, &'static str), u64>,
    by_group: BTreeMap<RouterId, BTreeMap<&'static str, u64>>,
}

impl Ledger {
    /// Counts one drop for `group` and `link` (each when known) and logs it (throttled).
    pub fn record(
        &mut self,
        now: Instant,
        reason: DropReason,
        source: Option<IpAddr>,
        link: Option<LinkId>,
        group: Option<RouterId>,
    ) {
        if let Some(link) = link {
            *self.by_link.entry((link, reason.kind())).or_default() += 1;
        }
        if let Some(group) = group {
            *self
                .by_group
                .entry(group)
                .or_default()
                .entry(reason.kind())
                .or_default() += 1;
        }
        self.log.record(now, reason, source);
    }

    /// The drops of one group, by kind.
    pub fn of_group(&self, group: RouterId) -> BTreeMap<&'static str, u64> {
        self.by_group.get(&group).cloned().unwrap_or_default()
    }

    /// Forgets a group that is gone (the per-link and per-kind totals keep its drops).
    pub fn forget_group(&mut self, group: RouterId) {
        self.by_group.remove(&group);
    }

    /// The drops per link and kind.
    pub fn by_link(&self) -> impl Iterator<Item = (&(LinkId, &'static str), &u64)> {
        self.by_link.iter()
    }

    /// See [`DropLog::next_flush`].
    pub fn next_flush(&self) -> Option<Instant> {
        self.log.next_flush()
    }

    /// See [`DropLog::flush`].
    pub fn flush(&mut self, now: Instant) {
        self.log.flush(now)
    }

    /// Total drops per kind.
    pub fn totals(&self) -> Vec<(&'static str, u64)> {
        self.log.totals()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_everything_and_throttles() {
        let mut log = DropLog::default();
        assert_eq!(log.next_flush(), None, "nothing to log, no timer");
        let t0 = Instant::from_secs(100);
        for i in 0..50_000u32 {
            let now = t0 + Duration::from_micros(u64::from(i) * 20);
            log.record(
                now,
                DropReason::BadDigest,
                Some(std::net::Ipv4Addr::new(10, 0, 0, 9).into()),
            );
        }
        assert_eq!(log.totals(), vec![("bad-digest", 50_000)]);
        let kind = &log.kinds["bad-digest"];
        // 1 s of packets: logged once at the start, the rest waits for the throttle.
        assert_eq!(kind.unlogged, 49_999);
        assert_eq!(log.next_flush(), Some(t0 + LOG_EVERY));
        log.flush(t0 + Duration::from_secs(2));
        assert_eq!(log.kinds["bad-digest"].unlogged, 49_999, "throttled");
        log.flush(t0 + LOG_EVERY);
        assert_eq!(log.kinds["bad-digest"].unlogged, 0);
        assert_eq!(log.next_flush(), None, "all logged: no timer again");
    }
}
