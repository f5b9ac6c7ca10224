//! Who may use the control socket: root, the user carpd runs as, and the members of
//! `[daemon] control_group` when one is set. The socket file's mode (0600, or 0660 with the
//! group) keeps everyone else out; the peer's credentials are checked again on each connection,
//! so a socket file made accessible by mistake still refuses them.

use nix::unistd::{Gid, Group, Uid, User};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use tokio::net::UnixStream;

/// The rule for one socket.
#[derive(Debug, Clone)]
pub struct Access {
    /// the control group's name and id
    group: Option<(String, Gid)>,
}

impl Access {
    /// Root (and carpd's own user) only.
    pub fn root_only() -> Access {
        Access { group: None }
    }

    /// Root and the members of `name`; an error names the group when it does not exist.
    pub fn with_group(name: &str) -> Result<Access, String> {
        match Group::from_name(name) {
            Ok(Some(group)) => Ok(Access {
                group: Some((name.to_string(), group.gid)),
            }),
            Ok(None) => Err(format!(
                "control_group = {name}: no such group: accepted an existing group's name"
            )),
            Err(e) => Err(format!("control_group = {name}: {e}")),
        }
    }

    /// Sets the socket file's mode, and its group when there is one.
    pub fn apply_to(&self, path: &Path) -> io::Result<()> {
        let mode = match &self.group {
            Some((_, gid)) => {
                nix::unistd::chown(path, None, Some(*gid)).map_err(io::Error::from)?;
                0o660
            }
            None => 0o600,
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    /// Whether the process at the other end may use the socket; the refusal names who it is
    /// and who is accepted.
    pub fn check(&self, stream: &UnixStream) -> Result<(), String> {
        let cred = stream
            .peer_cred()
            .map_err(|e| format!("cannot read the client's credentials: {e}"))?;
        let uid = Uid::from_raw(cred.uid());
        if uid.is_root() || uid == Uid::effective() {
            return Ok(());
        }
        if let Some((name, gid)) = &self.group {
            if Gid::from_raw(cred.gid()) == *gid || is_member(uid, name) {
                return Ok(());
            }
        }
        let who = User::from_uid(uid).ok().flatten().map_or_else(
            || format!("uid {uid}"),
            |u| format!("user {} (uid {uid})", u.name),
        );
        Err(match &self.group {
            Some((name, _)) => format!(
                "{who} may not use carpd's control socket: accepted root and members of group {name}"
            ),
            None => format!(
                "{who} may not use carpd's control socket: accepted root only (set [daemon] control_group to let a group in)"
            ),
        })
    }
}

/// Whether the user is listed as a member of the group (its supplementary members).
fn is_member(uid: Uid, group: &str) -> bool {
    let Ok(Some(user)) = User::from_uid(uid) else {
        return false;
    };
    matches!(Group::from_name(group), Ok(Some(g)) if g.mem.contains(&user.name))
}
