//! Per-interface network sysctls under `/proc/sys/net`: read and written as files, bounded
//! (a value is a number and a newline). CAP_NET_ADMIN in the namespace is enough to write them.

use std::io::{self, Read, Write};
use std::path::PathBuf;

/// `net.<family>.conf.<interface>.<key>` as a path (an interface name may hold a dot, which
/// `sysctl`'s dotted form would split).
fn path(family: &str, interface: &str, key: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/{family}/conf/{interface}/{key}"))
}

/// Reads `net.<family>.conf.<interface>.<key>`.
pub fn read(family: &str, interface: &str, key: &str) -> io::Result<i64> {
    let mut text = String::new();
    std::fs::File::open(path(family, interface, key))?
        .take(64)
        .read_to_string(&mut text)?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "net.{family}.conf.{interface}.{key} = {:?}: {e}",
                text.trim()
            ),
        )
    })
}

/// Writes `value` to `net.<family>.conf.<interface>.<key>`.
pub fn write(family: &str, interface: &str, key: &str, value: i64) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path(family, interface, key))?
        .write_all(format!("{value}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_path_keeps_a_dotted_interface_name_whole() {
        assert_eq!(
            super::path("ipv4", "vrrp.52", "arp_ignore"),
            std::path::PathBuf::from("/proc/sys/net/ipv4/conf/vrrp.52/arp_ignore")
        );
    }
}
