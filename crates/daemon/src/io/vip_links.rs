//! The VIP interfaces (`vip_interface`: `lo`, a dummy, another Ethernet interface) that hold
//! a group's VIPs without carrying its adverts. They are watched by name as links are: the
//! engine is told when one appears, goes down or away, and native VIP management follows its
//! index when it is re-created. Announcements there leave by a send-only packet socket.

use crate::host::Input;
use crate::sys::iface::{self, VipLink};
use crate::sys::netlink::NetEvent;
use crate::sys::packet::PacketSocket;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// One watched interface.
struct Watched {
    state: VipLink,
    /// its index, shared with the hook runners of the groups whose VIPs it holds
    index: Arc<AtomicU32>,
    /// opened at the first announcement, for this index
    sender: Option<PacketSocket>,
}

/// Every VIP interface a group uses, by name.
#[derive(Default)]
pub struct VipLinks {
    watched: BTreeMap<String, Watched>,
}

impl VipLinks {
    /// Watches `name` (looked up now) unless it is watched already.
    pub fn watch(&mut self, name: &str) -> io::Result<()> {
        if self.watched.contains_key(name) {
            return Ok(());
        }
        let state = iface::vip_link(name)?;
        self.watched.insert(
            name.to_string(),
            Watched {
                state,
                index: Arc::new(AtomicU32::new(state.index)),
                sender: None,
            },
        );
        Ok(())
    }

    /// Stops watching the interfaces not in `names`.
    pub fn retain(&mut self, names: &[&str]) {
        self.watched
            .retain(|name, _| names.contains(&name.as_str()));
    }

    /// What `name` is now (absent if it is not watched).
    pub fn state(&self, name: &str) -> VipLink {
        self.watched.get(name).map(|w| w.state).unwrap_or_default()
    }

    /// The index of `name` as it changes, for native VIP management.
    pub fn index(&self, name: &str) -> Arc<AtomicU32> {
        self.watched
            .get(name)
            .map(|w| Arc::clone(&w.index))
            .unwrap_or_default()
    }

    /// What an interface event means for the VIP interfaces: one input per interface whose
    /// state changed, and removed addresses.
    pub fn net_event(&mut self, event: &NetEvent) -> Vec<Input> {
        let mut inputs = Vec::new();
        match event {
            NetEvent::Link { index, name, .. } => {
                if let Some(w) = self.watched.get_mut(name) {
                    // Flags and MAC as they are now (a re-created dummy may differ).
                    let state = iface::vip_link(name).unwrap_or(VipLink {
                        index: *index,
                        present: true,
                        ..VipLink::default()
                    });
                    if state != w.state {
                        w.update(state);
                        inputs.push(Input::VipLink {
                            name: name.clone(),
                            state,
                        });
                    }
                }
                // Renamed away: the name is gone, as if the interface were.
                for (watched, w) in self.watched.iter_mut() {
                    if w.state.present && w.state.index == *index && watched != name {
                        w.update(VipLink::default());
                        inputs.push(Input::VipLink {
                            name: watched.clone(),
                            state: w.state,
                        });
                    }
                }
            }
            NetEvent::LinkRemoved { index } => {
                for (name, w) in self.watched.iter_mut() {
                    if w.state.present && w.state.index == *index {
                        w.update(VipLink::default());
                        inputs.push(Input::VipLink {
                            name: name.clone(),
                            state: w.state,
                        });
                    }
                }
            }
            NetEvent::AddressRemoved { index, address } => {
                for (name, w) in &self.watched {
                    if w.state.present && w.state.index == *index {
                        inputs.push(Input::VipAddressRemoved {
                            name: name.clone(),
                            address: *address,
                        });
                    }
                }
            }
            NetEvent::RouteRemoved { .. } => {}
        }
        inputs
    }

    /// Sends one Ethernet frame on the VIP interface with kernel index `index`.
    pub fn send(&mut self, index: u32, frame: &[u8], ethertype: u16) -> io::Result<()> {
        let Some(w) = self
            .watched
            .values_mut()
            .find(|w| w.state.present && w.state.index == index)
        else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no VIP interface with index {index}"),
            ));
        };
        if w.sender.is_none() {
            w.sender = Some(PacketSocket::sender(index)?);
        }
        w.sender
            .as_ref()
            .expect("opened above")
            .send(frame, ethertype)
    }
}

impl Watched {
    fn update(&mut self, state: VipLink) {
        if state.index != self.state.index {
            self.sender = None;
        }
        if state.present {
            self.index.store(state.index, Ordering::Relaxed);
        }
        self.state = state;
    }
}
