//! The config file parsed and refused, key by key.

use super::*;
use crate::settings::scheduling::Realtime;

const GOOD: &str = r#"
[daemon]
control_socket = "/run/carpd/test.sock"

[[group]]
name = "web"
interface = "eth0"
vhid = 47
vips = ["10.0.0.250/24", "10.0.0.251"]
password = "unix-experience"
advbase = 1
advskew = 10
deadratio = 3
preempt = true
srcip = "10.0.0.11"
neutral = false
broadcast = false
multicast_group = "224.0.0.18"
xparam = "x"
hook_timeout = 2.5

[[group]]
interface = "eth1"
vhid = 47
vips = ["10.0.1.250"]
password = "other"
"#;

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("/etc/carpd/carpd.toml"), text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// One error, containing each of `needles` (shared with the other key families' tests).
pub(super) fn refused(text: &str, needles: &[&str]) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{needle:?} not in {:?}",
            errors[0]
        );
    }
}

#[test]
fn the_documented_keys_are_accepted_with_their_meaning() {
    let s = parse(Path::new("/etc/carpd/carpd.toml"), GOOD).unwrap();
    assert_eq!(s.daemon.control_socket, Path::new("/run/carpd/test.sock"));
    assert_eq!(s.groups.len(), 2);
    let web = &s.groups[0];
    assert_eq!(
        (web.name.as_str(), web.interface.as_str(), web.vhid),
        ("web", "eth0", 47)
    );
    assert_eq!(web.vips[0].prefix, Some(24));
    assert_eq!(web.vips[1].prefix, None);
    let carp = |advbase, advskew| {
        Protocol::Carp(CarpParams {
            advbase,
            advskew,
            deadratio: 3,
            broadcast: false,
        })
    };
    assert_eq!(web.protocol, carp(1, 10));
    assert!(web.preempt && !web.neutral && web.down_on_stop);
    assert_eq!(web.srcip, Some("10.0.0.11".parse().unwrap()));
    assert_eq!(web.hook_timeout, Duration::from_millis(2500));
    assert_eq!(web.password, b"unix-experience");
    assert!(web.native());
    // Defaults: the name, ucarp's timing, the interface's own address.
    let other = &s.groups[1];
    assert_eq!(other.name, "eth1-47");
    assert_eq!(other.protocol, carp(1, 0));
    assert_eq!(other.srcip, None);
    assert_eq!(
        other.multicast_group,
        carpd_proto::wire::carp::DEFAULT_GROUP
    );
    assert_eq!(other.hook_timeout, Duration::from_secs(30));
}

#[test]
fn realtime_priority_takes_0_to_99_and_names_the_range_otherwise() {
    let with = |value: &str| {
        GOOD.replacen(
            "[daemon]\n",
            &format!("[daemon]\nrealtime_priority = {value}\n"),
            1,
        )
    };
    let s = parse(Path::new("/etc/carpd/carpd.toml"), &with("50")).unwrap();
    assert_eq!(s.daemon.realtime_priority, Realtime::Priority(50));
    let s = parse(Path::new("/etc/carpd/carpd.toml"), &with("0")).unwrap();
    assert_eq!(s.daemon.realtime_priority, Realtime::Off, "0: never");
    let s = parse(Path::new("/etc/carpd/carpd.toml"), GOOD).unwrap();
    assert_eq!(
        s.daemon.realtime_priority,
        Realtime::Auto,
        "no key: by the groups' intervals"
    );
    for bad in ["100", "-1", "300"] {
        refused(
            &with(bad),
            &["realtime_priority", bad, "accepted 0 ", "or 1 to 99"],
        );
    }
}

#[test]
fn every_bad_value_names_file_line_column_key_value_and_what_is_accepted() {
    let group = |extra: &str| {
        format!("[[group]]\ninterface = \"eth0\"\nvhid = 5\nvips = [\"10.0.0.9\"]\npassword = \"pw\"\n{extra}\n")
    };
    let cases: &[(&str, &[&str])] = &[
        ("vhid = 300", &["vhid = 300", "accepted 1 to 255"]),
        ("advbase = 256", &["advbase = 256", "0 to 255"]),
        ("advskew = -1", &["advskew = -1", "0 to 255"]),
        ("deadratio = 0", &["deadratio = 0", "1 to 1000"]),
        ("advbase = 0", &["advbase 0 needs advskew"]),
        (
            "srcip = \"10.0.0.300\"",
            &["srcip = 10.0.0.300", "dotted IPv4"],
        ),
        (
            "srcip = \"10.0.0.9\"",
            &["srcip = 10.0.0.9 is also in vips"],
        ),
        (
            "multicast_group = \"10.1.1.1\"",
            &["multicast_group = 10.1.1.1", "224.0.0.0"],
        ),
        ("hook_timeout = 0", &["hook_timeout = 0", "above 0"]),
        (
            "up_script = \"/nonexistent/up\"",
            &["up_script = /nonexistent/up", "executable"],
        ),
        ("up_script = \"relative/up\"", &["absolute path"]),
        (
            "passfile = \"/nonexistent/pw\"",
            &["both password and passfile"],
        ),
        (
            "colour = \"blue\"",
            &["unknown field `colour`", "interface"],
        ),
        ("vhid = \"5\"", &["invalid type"]),
    ];
    for (extra, needles) in cases {
        // Replace a key given twice (TOML refuses duplicates): drop the default line.
        let key = extra.split(' ').next().unwrap();
        let text: String = group(extra)
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 5 || !l.starts_with(&format!("{key} ")))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let errors = errors(&text);
        assert_eq!(errors.len(), 1, "{extra}: {errors:?}");
        assert!(
            errors[0].starts_with("/etc/carpd/carpd.toml:"),
            "{extra}: {}",
            errors[0]
        );
        for needle in *needles {
            assert!(
                errors[0].contains(needle),
                "{extra}: {needle:?} not in {}",
                errors[0]
            );
        }
    }
    // The line and column are the value's.
    refused(
        &group("advskew = 999"),
        &["carpd.toml:6:11:", "group 1: advskew = 999"],
    );
    refused(
        &group("name = \"db\"\nvhid = 0").replace("vhid = 5\n", ""),
        &["carpd.toml:6:8:", "group \"db\": vhid = 0"],
    );
}

#[test]
fn missing_keys_and_bad_lists_are_named() {
    refused(
        "[[group]]\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n",
        &["carpd.toml:1:1:", "missing key interface"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n",
        &["missing key vhid", "1 to 255"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\npassword = \"x\"\n",
        &["missing key vips"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\n",
        &["missing key password", "passfile"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = []\npassword = \"x\"\n",
        &["vips = []", "one or more"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\", \"10.0.0.9/24\"]\npassword = \"x\"\n",
        &["10.0.0.9 is listed twice"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9/0\"]\npassword = \"x\"\n",
        &["vips = 10.0.0.9/0", "prefix of 1 to 32"],
    );
    refused(
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"01234567890123456789\"\n",
        &["password of 20 bytes", "1 to 19"],
    );
    refused(
        "[[group]]\ninterface = \"an-interface-name-too-long\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n",
        &["1 to 15 bytes"],
    );
    refused("", &["no [[group]]"]);
    refused("[deamon]\n", &["unknown field `deamon`"]);
    refused("[daemon]\ncontrol_socket = \"run/x.sock\"\n[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n", &["control_socket = run/x.sock", "absolute"]);
    refused("[daemon]\ncontrol_group = \"no-such-group-here\"\n[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n", &["no such Unix group"]);
    refused("[[group]\n", &["carpd.toml:1:"]);
    // Several errors are all reported.
    assert_eq!(
        errors("[[group]]\ninterface = \"eth0\"\nvhid = 0\nvips = [\"x\"]\npassword = \"x\"\n")
            .len(),
        2
    );
}

#[test]
fn groups_that_clash_are_refused_with_both_places() {
    let g = |name: &str, interface: &str, vhid: u8, vip: &str| {
        format!("[[group]]\nname = \"{name}\"\ninterface = \"{interface}\"\nvhid = {vhid}\nvips = [\"{vip}\"]\npassword = \"x\"\n")
    };
    let two = |a: String, b: String| format!("{a}{b}");
    refused(
        &two(
            g("a", "eth0", 1, "10.0.0.9"),
            g("a", "eth0", 2, "10.0.0.10"),
        ),
        &["carpd.toml:7:1:", "name \"a\" is already", "line 1"],
    );
    refused(
        &two(
            g("a", "eth0", 1, "10.0.0.9"),
            g("b", "eth0", 1, "10.0.0.10"),
        ),
        &["vhid 1 on eth0 is already served by group \"a\""],
    );
    refused(
        &two(
            g("a", "eth0", 1, "10.0.0.9"),
            g("b", "eth1", 2, "10.0.0.9/24"),
        ),
        &["10.0.0.9 is already a VIP of group \"a\""],
    );
    // The same vhid on two interfaces is fine, as are 255 groups on one interface.
    assert!(parse(
        Path::new("x.toml"),
        &two(g("a", "eth0", 1, "10.0.0.9"), g("b", "eth1", 1, "10.0.1.9"))
    )
    .is_ok());
    let many: String = (1..=255u32)
        .map(|v| {
            g(
                &format!("g{v}"),
                "eth0",
                v as u8,
                &format!("10.1.{}.{}", v / 200, v % 200 + 1),
            )
        })
        .collect();
    assert_eq!(parse(Path::new("x.toml"), &many).unwrap().groups.len(), 255);
}

/// `count` groups named `g0`, `g1`, ... from `group(i)` = (interface, vhid, vip).
fn generated(count: usize, group: impl Fn(usize) -> (String, u8, String)) -> String {
    (0..count)
        .map(|i| {
            let (interface, vhid, vip) = group(i);
            format!("[[group]]\nname = \"g{i}\"\ninterface = \"{interface}\"\nvhid = {vhid}\nvips = [\"{vip}\"]\npassword = \"x\"\n")
        })
        .collect()
}

#[test]
fn more_than_255_groups_on_one_interface_are_refused_once_with_the_first_over() {
    // 8 interfaces of 255 groups each are fine (2,040 groups); a 256th on eth0 is not.
    let vip = |i: usize| format!("10.{}.{}.{}", i / 255, (i % 255) / 200, i % 200 + 1);
    let full = generated(2040, |i| {
        (format!("eth{}", i / 255), (i % 255 + 1) as u8, vip(i))
    });
    assert_eq!(
        parse(Path::new("x.toml"), &full).unwrap().groups.len(),
        2040
    );
    let over = generated(256, |i| ("eth0".into(), (i % 255 + 1) as u8, vip(i)));
    let e = errors(&over);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].contains("group \"g255\": interface eth0 has more than 255 groups (this is group 256 there): accepted at most 255 groups per interface, one per vhid 1-255 (see the group at line 1)"),
        "{e:?}"
    );
    assert!(
        e[1].contains("group \"g255\": vhid 1 on eth0 is already served by group \"g0\""),
        "{e:?}"
    );
    assert!(e[0].starts_with("/etc/carpd/carpd.toml:1531:1:"), "{e:?}");
}

#[test]
fn thousands_of_clashing_groups_name_the_first_ten_and_count_the_rest() {
    // 4,000 groups over 16 interfaces, every one with the same VIP: each later group clashes
    // with the first, and only with it.
    let text = generated(4000, |i| {
        (
            format!("eth{}", i / 250),
            (i % 250 + 1) as u8,
            "10.9.9.9".into(),
        )
    });
    let e = errors(&text);
    assert_eq!(e.len(), 11, "{e:?}");
    for (n, line) in e[..10].iter().enumerate() {
        assert!(
            line.contains(&format!("group \"g{}\": 10.9.9.9 is already a VIP of group \"g0\": accepted each VIP in one group only (see the group at line 1)", n + 1)),
            "{line}"
        );
    }
    assert_eq!(
        e[10],
        "/etc/carpd/carpd.toml: 3989 more groups clash on vips like those above (the first 10 of each kind are listed)"
    );
    // Clashes of several kinds are capped each on its own.
    let text = generated(300, |i| {
        ("eth0".into(), (i % 255 + 1) as u8, "10.9.9.9".into())
    });
    let e = errors(&text);
    assert!(
        e.iter().any(|l| l.ends_with(
            "289 more groups clash on vips like those above (the first 10 of each kind are listed)"
        )),
        "{e:?}"
    );
    assert!(
        e.iter().any(|l| l.ends_with(
            "35 more groups clash on vhid like those above (the first 10 of each kind are listed)"
        )),
        "{e:?}"
    );
    assert_eq!(
        e.iter()
            .filter(|l| l.contains("has more than 255 groups"))
            .count(),
        1,
        "{e:?}"
    );
}

#[test]
fn error_positions_count_lines_and_characters() {
    // Multi-byte characters on a line before: lines and columns still land on the value.
    let e = errors("[[group]]\n# é\ninterface = \"eth0\"\nvhid = 300\nvips = [\"é\", \"10.0.0.1\"]\npassword = \"x\"\n");
    assert!(
        e.iter()
            .any(|l| l.starts_with("/etc/carpd/carpd.toml:4:8: group 1: vhid = 300")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|l| l.starts_with("/etc/carpd/carpd.toml:5:9: group 1: vips = é")),
        "{e:?}"
    );
}

#[test]
fn the_packaged_example_is_valid_but_for_its_passfile() {
    let text = include_str!("../../../../../packaging/carpd.toml");
    let errors = errors(text);
    // The example names /etc/carpd/db.pass, absent here: that is its only error.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("passfile = /etc/carpd/db.pass"),
        "{errors:?}"
    );
    let here = text.replace(
        "passfile = \"/etc/carpd/db.pass\"",
        "password = \"db-secret\"",
    );
    let s = parse(Path::new("/etc/carpd/carpd.toml"), &here).unwrap();
    assert_eq!(s.groups.len(), 6);
    assert_eq!(s.groups[1].name, "eth0-48");
    assert!(s.groups[2].protocol.vrrp3().is_some() && s.groups[2].peers.len() == 1);
    assert!(s.groups[3].is_ipv6());
    assert_eq!(s.groups[4].protocol.name(), "vrrp2");
    assert_eq!(s.groups[4].password, b"s3cret");
    let api = &s.groups[5];
    assert_eq!(api.vip_interface(), "lo");
    assert!(!api.unicast_ttl_check && api.track == ["bgp"]);
}

#[test]
fn the_example_in_etc_is_the_packaged_example_all_commented_out() {
    let example = include_str!("../../../../../packaging/etc/carpd.toml.example");
    let full = include_str!("../../../../../packaging/carpd.toml");
    // Nothing in it is live: every line is a comment or blank, so it configures nothing.
    assert!(example.lines().all(|l| l.is_empty() || l.starts_with('#')));
    // Its body is the packaged example, line for line, each live line behind one '#'.
    let body: Vec<&str> = example
        .lines()
        .skip_while(|l| *l != "# carpd config file: every group this host serves, in one process.")
        .collect();
    let want: Vec<String> = full
        .lines()
        .map(|l| {
            if l.is_empty() || l.starts_with('#') {
                l.to_string()
            } else {
                format!("#{l}")
            }
        })
        .collect();
    assert_eq!(
        body, want,
        "regenerate packaging/etc/carpd.toml.example from carpd.toml"
    );
}

#[test]
fn a_relative_passfile_is_read_beside_the_config_file() {
    let dir = std::env::temp_dir().join(format!("carpd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("web.pass"), "from-file\n").unwrap();
    let text = "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassfile = \"web.pass\"\n";
    let s = parse(&dir.join("carpd.toml"), text).unwrap();
    assert_eq!(s.groups[0].password, b"from-file");
    let missing = errors(&text.replace("web.pass", "missing.pass"));
    assert!(
        missing[0].contains("missing.pass does not exist"),
        "{missing:?}"
    );
    // A FIFO is refused at once (opening it would wait for a writer), /dev/zero too.
    nix::unistd::mkfifo(
        &dir.join("fifo.pass"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let fifo_errors = parse(
        &dir.join("carpd.toml"),
        &text.replace("web.pass", "fifo.pass"),
    )
    .unwrap_err()
    .0;
    assert!(
        fifo_errors[0].message.contains(
            "fifo.pass is a FIFO (named pipe), not a regular file: accepted a regular file"
        ),
        "{fifo_errors:?}"
    );
    let zero = errors(&text.replace("web.pass", "/dev/zero"));
    assert!(
        zero[0].contains("/dev/zero is a character device"),
        "{zero:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_config_file_that_is_no_regular_file_or_too_large_or_not_utf8_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("carpd-config-kinds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let started = std::time::Instant::now();
    let message = |path: &Path| load(path).unwrap_err().0[0].message.clone();
    assert_eq!(
        message(&fifo),
        "the config file is a FIFO (named pipe), not a regular file: accepted a regular file"
    );
    assert_eq!(
        message(Path::new("/dev/zero")),
        "the config file is a character device, not a regular file: accepted a regular file"
    );
    let huge = dir.join("huge.toml");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(CONFIG_MAX + 1).unwrap();
    assert!(message(&huge).contains("is larger than 16777216 bytes"));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let latin1 = dir.join("latin1.toml");
    std::fs::write(&latin1, b"# ok\n[[group]]\nname = \"caf\xe9\"\n").unwrap();
    assert_eq!(
        message(&latin1),
        "not UTF-8 (byte 26, line 3): accepted a TOML file in UTF-8"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_passwords_ports_loopback_vips_and_types_are_refused_with_their_place() {
    let group = |extra: &str| {
        format!("[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n{extra}\n")
    };
    let huge = "n".repeat(100_000);
    for name in [
        "",
        "web\\nfake line",
        "a\\u001b[31mred",
        "with space",
        huge.as_str(),
    ] {
        let e = errors(&group(&format!("name = \"{name}\"")));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("group 1: name = "), "{e:?}");
        assert!(e[0].contains("accepted 1 to 64 ASCII letters"), "{e:?}");
        assert!(e[0].len() < 300, "the name is shortened: {}", e[0].len());
        assert!(!e[0].contains('\n') && !e[0].contains('\u{1b}'), "{e:?}");
        let e = errors(&group(&format!("sync = \"{name}\"")));
        assert!(e[0].contains("group 1: sync = "), "{e:?}");
        let e = errors(&format!(
            "[[tracker]]\nname = \"{name}\"\nfile = \"/run/x\"\n{}",
            group("")
        ));
        assert!(e[0].contains("tracker 1: name = "), "{e:?}");
    }
    assert!(parse(Path::new("x.toml"), &group("name = \"web-1.a_b:c@d\"")).is_ok());
    refused(
        &group("").replace("password = \"x\"", "password = \"ab\\u0000cd\""),
        &["password with a NUL byte at byte 3", "without NUL"],
    );
    refused(
        &format!("[daemon]\nmetrics_listen = \"127.0.0.1:0\"\n{}", group("")),
        &["metrics_listen = 127.0.0.1:0", "a port from 1 to 65535"],
    );
    for (lo, why) in [
        ("127.0.0.5", "outside 127.0.0.0/8"),
        ("127.1.2.3/32", "outside 127.0.0.0/8"),
        ("::1", "a unicast IPv6 address"),
    ] {
        refused(
            &group("").replace("10.0.0.9", lo),
            &[&format!("vips = {lo}"), why],
        );
    }
    refused(
        &format!("{}{}", group(""), group("advskew = \"1\"")),
        &[":12:", "group 2: advskew: invalid type: string \"1\""],
    );
    refused(
        "[daemon]\nrealtime_priority = \"high\"\n",
        &["[daemon]: realtime_priority: invalid type"],
    );
}

#[test]
fn a_control_socket_path_that_holds_a_file_or_is_too_long_is_refused() {
    let dir = std::env::temp_dir().join(format!("carpd-config-socket-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let taken = dir.join("carpd.toml");
    std::fs::write(&taken, "# someone's file\n").unwrap();
    let group =
        "[[group]]\ninterface = \"eth0\"\nvhid = 1\nvips = [\"10.0.0.9\"]\npassword = \"x\"\n";
    refused(
        &format!(
            "[daemon]\ncontrol_socket = \"{}\"\n{group}",
            taken.display()
        ),
        &[
            "control_socket",
            "is a regular file, not a socket",
            "accepted an absolute path that is absent or a socket",
        ],
    );
    refused(
        &format!("[daemon]\ncontrol_socket = \"{}\"\n{group}", dir.display()),
        &["is a directory, not a socket"],
    );
    let long = format!("/run/{}.sock", "x".repeat(200));
    refused(
        &format!("[daemon]\ncontrol_socket = \"{long}\"\n{group}"),
        &["is 210 bytes long: accepted at most 107 bytes"],
    );
    assert_eq!(
        std::fs::read_to_string(&taken).unwrap(),
        "# someone's file\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
