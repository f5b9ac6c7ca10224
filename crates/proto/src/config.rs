//! A virtual router's validated configuration.

use crate::error::ConfigError;
use crate::time::{advert_interval, master_down_interval};
use crate::wire::auth::Authenticator;
use crate::wire::carp::DEFAULT_GROUP;
use core::time::Duration;
use std::net::Ipv4Addr;

/// How long a demoted master stays backup before it takes part in the election again
/// (ucarp's SIGUSR2 handler sleeps 3 s).
pub const DEMOTE_HOLD: Duration = Duration::from_secs(3);

/// Everything a user can set for one group, before validation. Start from
/// [`VrConfigBuilder::new`] (ucarp's defaults), change fields, then [`VrConfigBuilder::build`].
#[derive(Clone, PartialEq, Eq)]
pub struct VrConfigBuilder {
    /// virtual host id (`-v`)
    pub vhid: u8,
    /// base interval in seconds (`-b`, default 1)
    pub advbase: u8,
    /// skew in 1/256 s (`-k`, default 0)
    pub advskew: u8,
    /// dead ratio (`-r`, default 3)
    pub deadratio: u32,
    /// take over from a less preferred master (`-P`)
    pub preempt: bool,
    /// skip the down hook at startup (`-n`)
    pub neutral: bool,
    /// run the down hook when stopping as master (`-z`)
    pub down_hook_on_stop: bool,
    /// this host's address on the interface (`-s`)
    pub source: Ipv4Addr,
    /// the virtual addresses (`-a`)
    pub vips: Vec<Ipv4Addr>,
    /// the shared password (`-p`/`-o`)
    pub password: Vec<u8>,
    /// the multicast group (`--mcast`, default 224.0.0.18)
    pub group: Ipv4Addr,
    /// send adverts to the Ethernet broadcast address (`-M`)
    pub broadcast: bool,
    /// after start-up and after FAULT, take over from no live master for this long
    /// (preemption and the demote rule wait; a dead or departed master is still replaced)
    pub preempt_delay: Duration,
    /// while master, announce the VIPs again this often (`None`: only on the usual occasions)
    pub garp_refresh: Option<Duration>,
}

impl std::fmt::Debug for VrConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VrConfigBuilder")
            .field("vhid", &self.vhid)
            .field("advbase", &self.advbase)
            .field("advskew", &self.advskew)
            .field("source", &self.source)
            .field("vips", &self.vips)
            .field("password", &"<hidden>")
            .finish_non_exhaustive()
    }
}

impl VrConfigBuilder {
    /// ucarp's defaults for the required values given.
    pub fn new(vhid: u8, source: Ipv4Addr, vips: Vec<Ipv4Addr>, password: &[u8]) -> Self {
        VrConfigBuilder {
            vhid,
            advbase: 1,
            advskew: 0,
            deadratio: 3,
            preempt: false,
            neutral: false,
            down_hook_on_stop: false,
            source,
            vips,
            password: password.to_vec(),
            group: DEFAULT_GROUP,
            broadcast: false,
            preempt_delay: Duration::ZERO,
            garp_refresh: None,
        }
    }

    /// Checks every value and prepares the authenticator.
    pub fn build(self) -> Result<VrConfig, ConfigError> {
        if self.vhid == 0 {
            return Err(ConfigError::VhidZero);
        }
        if self.advbase == 0 && self.advskew == 0 {
            return Err(ConfigError::ZeroInterval);
        }
        if self.deadratio == 0 {
            return Err(ConfigError::DeadratioZero);
        }
        if self.vips.is_empty() {
            return Err(ConfigError::NoVip);
        }
        let mut sorted = self.vips.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateVip(w[0]));
        }
        if self.source.is_unspecified() {
            return Err(ConfigError::SourceUnspecified);
        }
        if !self.group.is_multicast() {
            return Err(ConfigError::GroupNotMulticast(self.group));
        }
        let auth = Authenticator::new(&self.password, self.vhid, &self.vips)?;
        Ok(VrConfig {
            vhid: self.vhid,
            advbase: self.advbase,
            advskew: self.advskew,
            deadratio: self.deadratio,
            preempt: self.preempt,
            neutral: self.neutral,
            down_hook_on_stop: self.down_hook_on_stop,
            source: self.source,
            vips: self.vips,
            group: self.group,
            broadcast: self.broadcast,
            preempt_delay: self.preempt_delay,
            garp_refresh: self.garp_refresh,
            auth,
        })
    }
}

/// A validated configuration (see [`VrConfigBuilder`] for the meaning of each field).
#[derive(Debug, Clone)]
pub struct VrConfig {
    /// virtual host id, 1..=255
    pub vhid: u8,
    /// base interval in seconds
    pub advbase: u8,
    /// skew in 1/256 s
    pub advskew: u8,
    /// dead ratio, at least 1
    pub deadratio: u32,
    /// preempt a less preferred master
    pub preempt: bool,
    /// no down hook at startup
    pub neutral: bool,
    /// down hook when stopping as master
    pub down_hook_on_stop: bool,
    /// own address
    pub source: Ipv4Addr,
    /// virtual addresses, in the order given
    pub vips: Vec<Ipv4Addr>,
    /// multicast group
    pub group: Ipv4Addr,
    /// Ethernet broadcast instead of multicast
    pub broadcast: bool,
    /// how long after start-up or FAULT no live master is taken over
    pub preempt_delay: Duration,
    /// how often a master announces its VIPs again
    pub garp_refresh: Option<Duration>,
    pub(crate) auth: Authenticator,
}

impl VrConfig {
    /// The advertisement interval, `advbase + advskew/256`.
    pub fn advert_interval(&self) -> Duration {
        advert_interval(self.advbase, self.advskew)
    }

    /// The master-down interval (see [`crate::time::master_down_interval`]).
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(self.advbase, self.advskew, self.deadratio)
    }

    /// The HMAC state for this group.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> VrConfigBuilder {
        VrConfigBuilder::new(
            1,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![Ipv4Addr::new(10, 0, 0, 9)],
            b"pw",
        )
    }

    #[test]
    fn each_bad_value_is_named() {
        type Change = Box<dyn Fn(&mut VrConfigBuilder)>;
        let cases: Vec<(Change, ConfigError)> = vec![
            (Box::new(|b| b.vhid = 0), ConfigError::VhidZero),
            (Box::new(|b| b.advbase = 0), ConfigError::ZeroInterval),
            (Box::new(|b| b.deadratio = 0), ConfigError::DeadratioZero),
            (Box::new(|b| b.vips.clear()), ConfigError::NoVip),
            (
                Box::new(|b| b.vips.push(Ipv4Addr::new(10, 0, 0, 9))),
                ConfigError::DuplicateVip(Ipv4Addr::new(10, 0, 0, 9)),
            ),
            (
                Box::new(|b| b.source = Ipv4Addr::UNSPECIFIED),
                ConfigError::SourceUnspecified,
            ),
            (
                Box::new(|b| b.group = Ipv4Addr::new(10, 1, 1, 1)),
                ConfigError::GroupNotMulticast(Ipv4Addr::new(10, 1, 1, 1)),
            ),
            (
                Box::new(|b| b.password = vec![b'a'; 20]),
                ConfigError::PasswordLength { len: 20 },
            ),
        ];
        for (change, expected) in cases {
            let mut b = base();
            change(&mut b);
            assert_eq!(b.build().unwrap_err(), expected);
        }
        assert!(base().build().is_ok());
        assert!(!format!("{:?}", base()).contains("pw\""));
    }
}
