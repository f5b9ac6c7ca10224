//! Prometheus metrics: what the loop counts as it goes (`host::tallies`: transitions, hook runs
//! and their durations) and what is read from the engine at each scrape ([`render`]: states,
//! counters of the core, demotion, trackers, drops). The endpoint (`[daemon] metrics_listen`)
//! is served beside the loop ([`serve`]); a scrape is one request to the loop, answered
//! between two inputs, so it never races a state change and never delays a packet by more
//! than one render (about a millisecond for 255 groups).

use crate::host::report::{GroupStatus, ProtocolStatus};
use crate::host::tallies::GroupLabels;
use crate::host::tallies::Tallies;
use crate::host::Engine;
use crate::mgmt::control::protocol::ConntrackView;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabels {
    group: String,
    interface: String,
    vhid: u8,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DropLabels {
    interface: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TrackerLabels {
    tracker: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// Every state a group can be in, for `carpd_group_state` (1 for the current one).
const STATES: [carpd_proto::State; 4] = [
    carpd_proto::State::Init,
    carpd_proto::State::Backup,
    carpd_proto::State::Master,
    carpd_proto::State::Fault,
];

/// The metrics now, in the OpenMetrics text format. `wall_epoch` is the wall-clock time of
/// the engine's instant zero.
pub fn render(
    engine: &Engine,
    wall_epoch: SystemTime,
    conntrack: Option<&ConntrackView>,
) -> String {
    let mut registry = Registry::with_prefix("carpd");
    let groups = GroupFamilies::default();
    for g in engine.group_status(None).unwrap_or_default() {
        groups.add(&g, wall_epoch);
    }
    let dropped = Family::<DropLabels, Counter>::default();
    for ((interface, reason), count) in engine.drops_by_interface() {
        dropped
            .get_or_create(&DropLabels { interface, reason })
            .inc_by(count);
    }
    let healthy = Family::<TrackerLabels, Gauge>::default();
    for (name, t) in engine.trackers() {
        healthy
            .get_or_create(&TrackerLabels {
                tracker: name.clone(),
            })
            .set(i64::from(t.healthy));
    }
    groups.register(&mut registry, engine.tallies(), dropped);
    registry.register("tracker_healthy", "1 while the tracker is healthy", healthy);
    let tallies = engine.tallies();
    registry.register(
        "hook_runs",
        "Hook runs (up/down scripts or native VIP changes), by kind and result",
        tallies.hook_runs(),
    );
    registry.register(
        "hook_duration_seconds",
        "How long hooks ran, by kind",
        tallies.hook_duration.clone(),
    );
    if let Some(view) = conntrack {
        register_conntrack(&mut registry, view);
    }
    // A gauge rather than OpenMetrics' info type, which the Prometheus text format (and
    // promtool) do not know: the usual `*_build_info` pattern.
    let build = Family::<VersionLabels, Gauge>::default();
    build
        .get_or_create(&VersionLabels {
            version: env!("CARGO_PKG_VERSION"),
        })
        .set(1);
    registry.register("build_info", "carpd's version (always 1)", build);
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!("encoding the metrics: {e}");
    }
    text
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConntrackCommandLabels {
    command: String,
    result: &'static str,
}

/// conntrackd's driver (`[conntrack]`): its commands by result, its role, the last commit.
fn register_conntrack(registry: &mut Registry, view: &ConntrackView) {
    let commands = Family::<ConntrackCommandLabels, Counter>::default();
    for c in &view.commands {
        for (result, count) in [("ok", c.ok), ("failed", c.failed), ("timeout", c.timeout)] {
            commands
                .get_or_create(&ConntrackCommandLabels {
                    command: c.command.clone(),
                    result,
                })
                .inc_by(count);
        }
    }
    registry.register(
        "conntrack_commands",
        "conntrackd commands carpd ran, by command and result",
        commands,
    );
    let primary = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    primary.set(i64::from(view.role == "primary"));
    registry.register(
        "conntrack_primary",
        "1 while conntrackd is primary (a group with conntrack = true is master)",
        primary,
    );
    if let Some(commit) = &view.last_commit {
        let gauge = |value: f64| {
            let g = Gauge::<f64, AtomicU64>::default();
            g.set(value);
            g
        };
        registry.register(
            "conntrack_last_commit_timestamp_seconds",
            "When the last commit of conntrackd's external cache ended",
            gauge(commit.timestamp),
        );
        registry.register(
            "conntrack_last_commit_duration_seconds",
            "How long the last commit of conntrackd's external cache took",
            gauge(commit.duration_seconds),
        );
        registry.register(
            "conntrack_last_commit_success",
            "1 when the last commit of conntrackd's external cache succeeded",
            gauge(if commit.result == "ok" { 1.0 } else { 0.0 }),
        );
    }
}

/// The per-group metrics read at a scrape.
#[derive(Default)]
struct GroupFamilies {
    state: Family<StateLabels, Gauge>,
    sent: Family<GroupLabels, Counter>,
    received: Family<GroupLabels, Counter>,
    demote: Family<GroupLabels, Gauge>,
    advskew: Family<GroupLabels, Gauge>,
    priority: Family<GroupLabels, Gauge>,
    last: Family<GroupLabels, Gauge<f64, AtomicU64>>,
    mismatches: Family<GroupLabels, Counter>,
}

impl GroupFamilies {
    /// One group's values.
    fn add(&self, g: &GroupStatus, wall_epoch: SystemTime) {
        let labels = GroupLabels {
            group: g.group.group.clone(),
            interface: g.group.interface.clone(),
            vhid: g.group.vhid,
        };
        for s in STATES {
            self.state
                .get_or_create(&StateLabels {
                    group: labels.group.clone(),
                    interface: labels.interface.clone(),
                    vhid: labels.vhid,
                    state: s.as_str(),
                })
                .set(i64::from(g.state == s));
        }
        self.sent
            .get_or_create(&labels)
            .inc_by(g.stats.adverts_sent);
        self.mismatches
            .get_or_create(&labels)
            .inc_by(g.stats.advert_mismatches);
        self.received
            .get_or_create(&labels)
            .inc_by(g.stats.adverts_received);
        // What the group advertises: CARP's demote byte and advskew, or VRRP's priority.
        match &g.protocol {
            ProtocolStatus::Carp { advskew, .. } => {
                self.demote.get_or_create(&labels).set(i64::from(g.demote));
                self.advskew.get_or_create(&labels).set(i64::from(*advskew));
            }
            ProtocolStatus::Vrrp3(_) | ProtocolStatus::Vrrp2(_) => {
                let (priority, _) = g.protocol.priorities().unwrap_or_default();
                self.priority
                    .get_or_create(&labels)
                    .set(i64::from(priority));
            }
        }
        let since = wall_epoch + std::time::Duration::from_micros(g.since.as_micros());
        let unix = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.last.get_or_create(&labels).set(unix);
    }

    /// Registers them, with the transitions counted as they happened and the drops, in the
    /// order the endpoint has always listed them.
    fn register(
        self,
        registry: &mut Registry,
        tallies: &Tallies,
        dropped: Family<DropLabels, Counter>,
    ) {
        registry.register(
            "group_state",
            "1 for the group's current state (INIT, BACKUP, MASTER, FAULT), 0 for the others",
            self.state,
        );
        registry.register(
            "group_transitions",
            "State changes of the group, by new state",
            tallies.transitions(),
        );
        registry.register(
            "adverts_sent",
            "Adverts sent by the group, bow-outs included",
            self.sent,
        );
        registry.register(
            "adverts_received",
            "Adverts received for the group that verified and were used",
            self.received,
        );
        registry.register(
            "advert_mismatches",
            "VRRPv3 adverts used although their address list or interval differs from the group's (logged; keepalived drops them)",
            self.mismatches,
        );
        registry.register(
            "packets_dropped",
            "Packets not used, by interface and reason",
            dropped,
        );
        registry.register(
            "group_demote",
            "The demote byte a CARP group advertises (trackers' weights with demote_by = demote)",
            self.demote,
        );
        registry.register(
            "group_advskew",
            "The advskew a CARP group advertises (trackers' weights included with demote_by = advskew)",
            self.advskew,
        );
        registry.register(
            "group_priority",
            "The VRRPv3 priority the group advertises (trackers' weights subtracted)",
            self.priority,
        );
        registry.register(
            "group_last_transition_timestamp_seconds",
            "When the group entered its current state, in seconds since the Unix epoch",
            self.last,
        );
    }
}

/// A scrape waiting for the loop's answer.
pub type Scrape = tokio::sync::oneshot::Sender<String>;

/// The media type of [`render`]'s text, for clients that ask for it (Prometheus does).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The classic Prometheus text format, for everyone else (curl, promtool, older scrapers).
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text as the classic Prometheus text format: a counter family is named with its
/// `_total` suffix there, and there is no `# EOF`. Everything else reads the same.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len() + 64 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

/// Binds the metrics endpoint (before privileges are dropped, so a port below 1024 works).
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Connections served at once; one more is answered 503 and closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client has to send a request's headers, and how long a kept-alive connection
/// may stay idle before the next request: a slow or silent client is closed after this.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The longest a connection lives: then it finishes the request under way and closes
/// (Prometheus opens a new one at its next scrape).
pub const CONNECTION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves `GET /metrics` on `listener`, each scrape answered by the loop through `scrapes`.
/// Bounded: at most [`MAX_CONNECTIONS`] (more are refused at once, so a flood of idle
/// connections costs neither descriptors nor memory), [`HEADER_TIMEOUT`] for headers and
/// between requests, [`CONNECTION_LIFETIME`] in all.
///
/// The endpoint runs on a thread of its own: accepting, refusing and closing connections is
/// kernel work (TCP, and the softirqs it runs on the caller's time) that a flood of 20,000
/// connections turned into 0.3 to 0.7 s without an advert when it shared the loop's thread.
/// Start it after privileges are dropped: the thread keeps the credentials it is made with.
pub fn serve(listener: std::net::TcpListener, scrapes: tokio::sync::mpsc::Sender<Scrape>) {
    let started = std::thread::Builder::new()
        .name("carpd-metrics".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return tracing::error!("metrics endpoint: cannot start: {e}"),
            };
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => accept(listener, scrapes).await,
                    Err(e) => tracing::error!("metrics endpoint: cannot listen: {e}"),
                }
            });
        });
    if let Err(e) = started {
        tracing::error!("metrics endpoint: cannot start its thread: {e}");
    }
}

/// Accepts connections until the process ends (see [`serve`]).
async fn accept(listener: tokio::net::TcpListener, scrapes: tokio::sync::mpsc::Sender<Scrape>) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut refused: u64 = 0;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and the like: wait instead of spinning.
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            // One write that cannot block (the socket's buffer is empty), then closed.
            let _ = stream.try_write(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    "metrics endpoint: {refused} connections refused in all, {MAX_CONNECTIONS} already open (the limit)"
                );
            }
            continue;
        };
        let scrapes = scrapes.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request| {
                let scrapes = scrapes.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(request, scrapes).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = tokio::time::sleep(CONNECTION_LIFETIME) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(HEADER_TIMEOUT, connection).await;
                }
            }
        });
    }
}

type Reply = hyper::Response<http_body_util::Full<hyper::body::Bytes>>;

fn reply(status: hyper::StatusCode, content_type: &str, body: String) -> Reply {
    let mut response = hyper::Response::new(http_body_util::Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

async fn respond(
    request: hyper::Request<hyper::body::Incoming>,
    scrapes: tokio::sync::mpsc::Sender<Scrape>,
) -> Reply {
    let text = "text/plain; charset=utf-8";
    if request.uri().path() != "/metrics" {
        return reply(
            hyper::StatusCode::NOT_FOUND,
            text,
            format!(
                "no such page {}: carpd serves /metrics\n",
                request.uri().path()
            ),
        );
    }
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return reply(
            hyper::StatusCode::METHOD_NOT_ALLOWED,
            text,
            format!("method {} on /metrics: accepted GET\n", request.method()),
        );
    }
    let openmetrics = request
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.contains("application/openmetrics-text"))
        });
    let (tx, rx) = tokio::sync::oneshot::channel();
    if scrapes.send(tx).await.is_err() {
        return reply(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            text,
            "carpd is stopping\n".into(),
        );
    }
    match rx.await {
        Ok(metrics) if openmetrics => reply(hyper::StatusCode::OK, OPENMETRICS, metrics),
        Ok(metrics) => reply(
            hyper::StatusCode::OK,
            PROMETHEUS_TEXT,
            to_prometheus_text(&metrics),
        ),
        Err(_) => reply(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            text,
            "carpd is stopping\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_name_in_the_classic_format_and_eof_goes() {
        let open = "# HELP carpd_adverts_sent Adverts sent.\n# TYPE carpd_adverts_sent counter\ncarpd_adverts_sent_total{group=\"web\"} 3\n# HELP carpd_group_demote Demote.\n# TYPE carpd_group_demote gauge\ncarpd_group_demote{group=\"web\"} 0\n# EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP carpd_adverts_sent_total Adverts sent.\n# TYPE carpd_adverts_sent_total counter\ncarpd_adverts_sent_total{group=\"web\"} 3\n# HELP carpd_group_demote Demote.\n# TYPE carpd_group_demote gauge\ncarpd_group_demote{group=\"web\"} 0\n"
        );
    }

    #[test]
    fn conntrackd_s_commands_role_and_last_commit_are_exported_only_with_a_driver() {
        let engine = Engine::new(true);
        let epoch = SystemTime::UNIX_EPOCH;
        let without = to_prometheus_text(&render(&engine, epoch, None));
        assert!(!without.contains("conntrack"), "{without}");
        let view = ConntrackView::sample();
        let text = to_prometheus_text(&render(&engine, epoch, Some(&view)));
        for line in [
            "carpd_conntrack_commands_total{command=\"commit\",result=\"ok\"} 2",
            "carpd_conntrack_commands_total{command=\"commit\",result=\"timeout\"} 1",
            "carpd_conntrack_primary 1",
            "carpd_conntrack_last_commit_timestamp_seconds 1796457600.5",
            "carpd_conntrack_last_commit_duration_seconds 0.004",
            "carpd_conntrack_last_commit_success 1.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
