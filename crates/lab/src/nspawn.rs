//! A real systemd in a lab host: a minimal Debian 12 root built once with `mmdebstrap` and
//! kept (the build is atomic, a rename), booted with `systemd-nspawn` inside a host's network
//! namespace. Several containers share one root (`--volatile=overlay`: each writes to its own
//! tmpfs), and commands run in them with `nsenter`. [`Container`]'s `Drop` powers it off (and
//! kills it if it does not stop), also when a test panics.

use crate::{wait_until, Host, Lab};
use anyhow::{bail, Context, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// What the root holds beyond `minbase`: systemd as init, its bus, and what carpd's package
/// and its ifupdown hook need.
const PACKAGES: &str = "systemd,systemd-sysv,dbus,iproute2,procps,ifupdown";

/// Debian 12's root at `dir`, built with `mmdebstrap` unless it is there already.
pub fn debian_root(dir: &Path) -> Result<PathBuf> {
    if dir.join("usr/lib/systemd/systemd").exists() || dir.join("lib/systemd/systemd").exists() {
        return Ok(dir.to_path_buf());
    }
    let building = dir.with_extension("building");
    let _ = std::fs::remove_dir_all(&building);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = Command::new("mmdebstrap")
        .args(["--quiet", "--variant=minbase"])
        .arg(format!("--include={PACKAGES}"))
        .arg("bookworm")
        .arg(&building)
        .output()
        .context("running mmdebstrap")?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&building);
        bail!(
            "mmdebstrap bookworm {}: {}",
            building.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::rename(&building, dir)?;
    Ok(dir.to_path_buf())
}

/// A container booted with systemd as its init, in one lab host's network namespace.
pub struct Container {
    nspawn: Child,
    init: u32,
    /// the host's namespace, for messages
    pub ns: String,
    log: PathBuf,
    /// the cgroups made for it (removed after it)
    cgroups: Vec<PathBuf>,
}

impl Container {
    /// Boots `root` in `host` (its network namespace; `CAP_NET_ADMIN` so that services can
    /// change addresses), with each `(source, target)` of `binds` bound read-only, and waits
    /// up to 60 s for systemd to finish starting. Fails with nspawn's output if it cannot.
    pub fn boot(lab: &Lab, host: &Host, root: &Path, binds: &[(&Path, &str)]) -> Result<Self> {
        let log = lab.log_path(&format!("nspawn-{}", host.ns));
        let file = std::fs::File::create(&log)?;
        // Each container in a cgroup of its own: with --keep-unit nspawn hands the container
        // its caller's cgroup, and two containers there would manage (and kill) one tree.
        let cgroups = own_cgroups(&format!("carpd-lab-{}", host.ns))?;
        let mut enter = String::new();
        for dir in &cgroups {
            enter.push_str(&format!("echo $$ > '{}/cgroup.procs' && ", dir.display()));
        }
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("{enter}exec systemd-nspawn \"$@\""))
            .arg("sh")
            .args(["--quiet", "--register=no", "--keep-unit", "--boot"])
            .arg("--directory")
            .arg(root)
            .args(["--volatile=overlay", "--capability=CAP_NET_ADMIN"])
            .arg(format!("--machine={}", host.ns))
            .arg(format!("--network-namespace-path=/run/netns/{}", host.ns))
            .arg("--console=read-only");
        for (source, target) in binds {
            command.arg(format!("--bind-ro={}:{target}", source.display()));
        }
        let nspawn = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting systemd-nspawn")?;
        let mut container = Container {
            init: 0,
            nspawn,
            ns: host.ns.clone(),
            log,
            cgroups,
        };
        let found = wait_until(Duration::from_secs(20), || {
            container.init = child_of(container.nspawn.id()).unwrap_or(0);
            container.init != 0 || container.exited()
        });
        if !found || container.init == 0 {
            bail!("the container did not start: {}", container.log());
        }
        let mut state = String::new();
        let booted = wait_until(Duration::from_secs(60), || {
            // nspawn's first child may be a helper that hands over to init: look again.
            container.init = child_of(container.nspawn.id()).unwrap_or(container.init);
            state = container
                .exec(&["systemctl", "is-system-running"])
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            state == "running" || state == "degraded" || container.exited()
        });
        if !booted || container.exited() {
            bail!(
                "systemd did not finish booting ({state:?}): {}",
                container.log()
            );
        }
        Ok(container)
    }

    /// Whether nspawn has ended.
    fn exited(&mut self) -> bool {
        self.nspawn.try_wait().ok().flatten().is_some()
    }

    /// What nspawn and the console printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `argv` in the container (all its namespaces) to completion.
    pub fn exec(&self, argv: &[&str]) -> Result<Output> {
        self.exec_with_input(argv, b"")
    }

    /// Runs `argv` in the container with `input` on its stdin.
    pub fn exec_with_input(&self, argv: &[&str], input: &[u8]) -> Result<Output> {
        let mut child = Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-a", "--"])
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("nsenter {argv:?} in {}", self.ns))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input)?;
        }
        Ok(child.wait_with_output()?)
    }

    /// Runs `argv` and returns its stdout; fails with its output unless it exits 0.
    pub fn ok(&self, argv: &[&str]) -> Result<String> {
        let out = self.exec(argv)?;
        if !out.status.success() {
            bail!(
                "{argv:?} in {} exited {}: {}{}",
                self.ns,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Writes `text` to `path` in the container (through `tee`, with the container's own
    /// owner and mode rules).
    pub fn write(&self, path: &str, text: &str) -> Result<()> {
        let out = self.exec_with_input(&["tee", path], text.as_bytes())?;
        if !out.status.success() {
            bail!(
                "writing {path} in {}: {}",
                self.ns,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGTERM: nspawn asks systemd to power off; SIGKILL to both if that takes long.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.nspawn.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        if !wait_until(Duration::from_secs(10), || self.exited()) {
            for pid in [self.init, self.nspawn.id()] {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = self.nspawn.wait();
        }
        for dir in &self.cgroups {
            remove_cgroup(dir);
        }
    }
}

/// Makes cgroup `name` under this process's own cgroup in each hierarchy systemd uses (the
/// unified one; on a hybrid host also the named `systemd` one) and returns their paths.
fn own_cgroups(name: &str) -> Result<Vec<PathBuf>> {
    let mine = std::fs::read_to_string("/proc/self/cgroup")?;
    // Lines are `id:controllers:path`; the unified hierarchy's controllers are empty.
    let path_of = |controllers: &str| {
        mine.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, c, path) = (parts.next()?, parts.next()?, parts.next()?);
            (c == controllers).then(|| path.trim_start_matches('/').to_string())
        })
    };
    let root = Path::new("/sys/fs/cgroup");
    let mut hierarchies = Vec::new();
    if root.join("cgroup.controllers").exists() {
        hierarchies.extend(path_of("").map(|p| root.join(p)));
    } else {
        for (mount, controllers) in [("systemd", "name=systemd"), ("unified", "")] {
            if let (true, Some(p)) = (root.join(mount).is_dir(), path_of(controllers)) {
                hierarchies.push(root.join(mount).join(p));
            }
        }
    }
    let mut made = Vec::new();
    for parent in hierarchies {
        let dir = parent.join(name);
        remove_cgroup(&dir); // what an interrupted run left
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("making the cgroup {}", dir.display()))?;
        made.push(dir);
    }
    Ok(made)
}

/// Removes cgroup `dir` and those systemd made below it, deepest first (they are empty once
/// the container is gone).
fn remove_cgroup(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The first child of process `pid` (nspawn's child is the container's init).
fn child_of(pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}
