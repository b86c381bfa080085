//! The whole chain in one process, live: the cloud on its embedded defaults, an edge node per
//! outlet, drivers streaming fixes over MQTT, customers ordering online, and staff working each
//! outlet through its edge's API, each started through the crates' own `run(config, listener,
//! shutdown)`. Everything the simulated people do goes through the services' HTTP APIs and the
//! fleet's MQTT broker, exactly as the real front ends and agents would; nothing reaches into a
//! database. Ctrl-C stops the simulation, then the edges, then the cloud, each drained; the data
//! stays in the data directory and the next run resumes from it.
//!
//! # Layout
//! - [`options`]: the command line and its checks.
//! - [`sim`]: the compressed trading day with its lunch peak, random numbers, baskets.
//! - [`geo`]: the outlets' sites around Amsterdam, delivery zones, straight-line moves.
//! - [`api`]: an HTTP client, and people signed in at the cloud (password) or an edge (PIN).
//! - [`setup`]: the idempotent set-up at the cloud (outlets, catalog, keys, drivers) and the
//!   state file that keeps the edges' API keys.
//! - [`outlet`]: the staff of each outlet.
//! - [`customers`]: customers ordering online.
//! - [`driver`]: drivers on their routes.
//! - [`stats`]: what the demo observed, and the summary line.
#![forbid(unsafe_code)]

pub mod api;
pub mod customers;
pub mod driver;
pub mod geo;
pub mod options;
pub mod outlet;
pub mod setup;
pub mod sim;
pub mod stats;

pub use options::Options;

use crate::api::{Account, Api, Staff};
use crate::setup::{ADMIN_EMAIL, ADMIN_PASSWORD, TAX_RATE_BP, TIMEZONE};
use crate::sim::DayClock;
use crate::stats::{Cut, Fleet, Stats};
use anyhow::Context;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Of all orders, the share taken at the counters (the rest are placed online).
pub const COUNTER_SHARE: f64 = 0.4;
/// Delivery orders each outlet's kitchen has already started when a run begins.
pub const OPENING_PER_OUTLET: usize = 2;
/// How often the summary line is printed.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(2);
/// The longest a part is given to stop before it is abandoned.
const DRAIN: Duration = Duration::from_secs(30);

/// The built front ends (`web/dist`): under the working directory, else in the source tree the
/// demo was built from.
fn web_dist() -> PathBuf {
    let here = PathBuf::from("web/dist");
    if here.join("hq/index.html").exists() {
        return here;
    }
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    if tree.join("hq/index.html").exists() { tree } else { here }
}

/// Listens on 127.0.0.1:`port`, or on a free port when that one is taken (0: any free port).
async fn bind(port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => Ok(l),
        Err(e) if port != 0 => {
            tracing::info!(port, error = %e, "port taken; using a free one");
            TcpListener::bind(("127.0.0.1", 0)).await
        }
        Err(e) => Err(e),
    }
}

/// Waits until `api` answers `/healthz`; fails with the service's own error if `task` ends first.
async fn healthy<E: std::fmt::Display>(
    api: &Api,
    task: &mut JoinHandle<Result<(), E>>,
    what: &str,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if task.is_finished() {
            return Err(match task.await {
                Ok(Ok(())) => anyhow::anyhow!("{what} stopped at start"),
                Ok(Err(e)) => anyhow::anyhow!("{what}: {e}"),
                Err(e) => anyhow::anyhow!("{what}: {e}"),
            });
        }
        if let Ok(r) = api.get("/healthz", api::Auth::None).await
            && r.status.is_success()
        {
            return Ok(r.body);
        }
        anyhow::ensure!(Instant::now() < deadline, "{what} did not answer on {} in two minutes", api.base);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running edge node.
struct Edge {
    name: String,
    api: Api,
    relay: Arc<patty_tests::link::Relay>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), patty_service::error::Error>>,
}

/// Runs the demo until `shutdown` completes (or `--duration-secs` pass), then stops every part
/// in turn and returns.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let data = opts.data_dir.clone();
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let web = web_dist();
    let (stop_tx, stop) = watch::channel(false);
    // The links between the edges and the cloud stop last, so no edge sees its link drop at the end.
    let (unlink_tx, unlink) = watch::channel(false);

    // The cloud, on its embedded defaults unless told otherwise.
    let listener = bind(opts.port).await.context("the cloud's port")?;
    let cloud_addr = listener.local_addr()?;
    let mut config = patty_cloud::infra::config::Config::for_data_dir(data.join("cloud"));
    config.listen = cloud_addr;
    config.database.url = opts.database_url.clone().unwrap_or_default();
    config.kafka.brokers = opts.kafka_brokers.clone().unwrap_or_default();
    match &opts.mqtt_url {
        Some(url) => config.mqtt.url = url.clone(),
        None => config.mqtt.embedded_listen = SocketAddr::from(([127, 0, 0, 1], opts.mqtt_port)),
    }
    config.auth.bootstrap_admin = format!("{ADMIN_EMAIL}:{ADMIN_PASSWORD}");
    // The simulated people keep one sign-in for the run (they sign in again if it is refused).
    config.auth.access_ttl_secs = 12 * 3600;
    // Dozens of simulated people share one loopback address.
    config.http.rate_per_minute = 100_000;
    config.http.rate_burst = 10_000;
    config.http.sign_in_per_address_per_minute = 10_000;
    config.http.sign_in_per_account_per_minute = 1_000;
    config.hq.dir = web.join("hq");
    config.validate().context("the cloud's configuration")?;
    let (cloud_stop, cloud_stopped) = oneshot::channel::<()>();
    let mut cloud_task = tokio::spawn(patty_cloud::run(config, listener, async move {
        let _ = cloud_stopped.await;
    }));
    let cloud = Api::new(format!("http://{cloud_addr}"));
    let health = healthy(&cloud, &mut cloud_task, "the cloud").await?;
    let mqtt = health["mqtt"].as_str().unwrap_or_default().to_owned();
    let (mqtt_host, mqtt_port) =
        options::mqtt_host_port(&mqtt).with_context(|| format!("the cloud reports no MQTT broker ({mqtt:?})"))?;

    // Set-up and the edges; a failure on the way stops what was started.
    let mut edges = Vec::new();
    let mut relays = Vec::new();
    let started = async {
        let chain = setup::bootstrap(&cloud, &data, opts.outlets as usize, opts.drivers as usize).await?;
        start_edges(&opts, &chain, &web, cloud_addr, &unlink, &mut edges, &mut relays).await?;
        anyhow::Ok(chain)
    }
    .await;
    let chain = match started {
        Ok(chain) => chain,
        Err(e) => {
            // A task `healthy` saw end was awaited there already.
            for edge in edges.into_iter().filter(|e| !e.task.is_finished()) {
                let _ = edge.stop.send(());
                drain(&edge.name, edge.task).await;
            }
            let _ = cloud_stop.send(());
            drain("the cloud", cloud_task).await;
            unlink_tx.send_replace(true);
            drain("the links", futures::future::join_all(relays)).await;
            return Err(e);
        }
    };

    banner(&opts, &cloud, &edges, &mqtt, &web);
    let names: Vec<&str> = edges.iter().map(|e| e.name.as_str()).collect();
    let stats = Arc::new(Stats::new(&names));
    let clock = DayClock::new(opts.day_mins);
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();

    // Customers, staff, drivers; the doors open with a few deliveries already cooking.
    let people = Arc::new(customers::Customers::new(cloud.clone(), &chain.outlets, stats.clone()));
    let opens = clock.label();
    let opening = people.open(OPENING_PER_OUTLET, &mut sim::Rng::from_entropy()).await;
    println!(
        "the doors open at {opens}: {} deliveries already in the kitchens, the first due at the door within a minute",
        opening.len()
    );
    let opening = Arc::new(opening.into_iter().collect::<std::collections::HashSet<_>>());
    tasks.push(tokio::spawn(people.clone().run(clock, opts.rate * (1.0 - COUNTER_SHARE), stop.clone())));
    for (i, e) in edges.iter().enumerate() {
        let staff = outlet::OutletStaff {
            index: i,
            cashier: Staff::new(e.api.clone(), outlet::CASHIER_PIN),
            kitchen: Staff::new(e.api.clone(), outlet::KITCHEN_PIN),
            manager: Staff::new(e.api.clone(), outlet::MANAGER_PIN),
            clock,
            counter_rate: opts.rate * COUNTER_SHARE / edges.len() as f64,
            pace: opts.pace,
            stats: stats.clone(),
            opening: opening.clone(),
        };
        tasks.push(tokio::spawn(staff.run(stop.clone())));
    }
    let buffers = data.join("drivers");
    std::fs::create_dir_all(&buffers).with_context(|| format!("creating {}", buffers.display()))?;
    for (j, d) in chain.drivers.iter().enumerate() {
        let path = buffers.join(format!("{}.db", d.device_id));
        let buffer = patty_driver::buffer::Buffer::open(&path, 10_000)
            .with_context(|| format!("the phone buffer {}", path.display()))?;
        let buffer = Arc::new(std::sync::Mutex::new(buffer));
        let wake = Arc::new(Notify::new());
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let inbox = patty_driver::link::Inbox { commands: commands_tx, replies: Default::default() };
        let link = patty_driver::link::LinkConfig {
            host: mqtt_host.clone(),
            port: mqtt_port,
            device: d.device_id.clone(),
            credentials: None,
            keep_alive: Duration::from_secs(10),
            max_inflight: 100,
            tls: None,
        };
        let counters = Arc::new(std::sync::Mutex::new(patty_driver::link::LinkStats::default()));
        tasks.push(tokio::spawn(patty_driver::link::run(
            link,
            buffer.clone(),
            wake.clone(),
            counters,
            inbox,
            stop.clone(),
        )));
        let site = &chain.outlets[j % chain.outlets.len()].site;
        // A parking spot near their outlet, outside its pickup zone.
        let home = geo::towards(site.at(), (j as f64 * 137.5) % 360.0, 120.0);
        let sim = driver::DriverSim {
            setup: d.clone(),
            home,
            cloud: cloud.clone(),
            customers: people.clone(),
            stats: stats.clone(),
            speed_mps: driver::CITY_MPS * opts.pace,
            buffer,
            wake,
            commands,
        };
        tasks.push(tokio::spawn(sim.run(stop.clone())));
    }
    let managers: Vec<Arc<Staff>> =
        edges.iter().map(|e| Arc::new(Staff::new(e.api.clone(), outlet::MANAGER_PIN))).collect();
    tasks.push(tokio::spawn(summarize(
        cloud.clone(),
        chain.admin.clone(),
        managers.clone(),
        stats.clone(),
        clock,
        stop.clone(),
    )));
    if let Some(n) = opts.cut_outlet {
        let i = n as usize - 1;
        let cut = Cutter {
            index: i,
            name: edges[i].name.clone(),
            relay: edges[i].relay.clone(),
            manager: managers[i].clone(),
            after: Duration::from_secs(opts.cut_after),
            lasts: Duration::from_secs(opts.cut_secs),
            stats: stats.clone(),
        };
        tasks.push(tokio::spawn(cut.run(stop.clone())));
    }

    let started = Instant::now();
    let until = async {
        match opts.duration_secs {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    let crashed = tokio::select! {
        () = shutdown => None,
        () = until => None,
        r = &mut cloud_task => Some(match r {
            Ok(Ok(())) => anyhow::anyhow!("the cloud stopped by itself"),
            Ok(Err(e)) => anyhow::anyhow!("the cloud stopped: {e}"),
            Err(e) => anyhow::anyhow!("the cloud stopped: {e}"),
        }),
    };

    // Stop in turn: the people, then the edges, then the cloud, then the links between them.
    println!("stopping: the simulation, then the outlets, then the cloud");
    stop_tx.send_replace(true);
    drain("the simulation", futures::future::join_all(tasks)).await;
    for e in edges {
        let _ = e.stop.send(());
        match drain(&e.name, e.task).await {
            Some(Ok(Err(err))) => tracing::warn!(outlet = e.name, error = %err, "the edge stopped with an error"),
            Some(Err(err)) => tracing::warn!(outlet = e.name, error = %err, "the edge's task failed"),
            _ => {}
        }
    }
    if crashed.is_none() {
        let _ = cloud_stop.send(());
        match drain("the cloud", cloud_task).await {
            Some(Ok(Err(err))) => tracing::warn!(error = %err, "the cloud stopped with an error"),
            Some(Err(err)) => tracing::warn!(error = %err, "the cloud's task failed"),
            _ => {}
        }
    }
    unlink_tx.send_replace(true);
    drain("the links", futures::future::join_all(relays)).await;
    let counts = stats.snapshot();
    println!("final: {}", counts.line(&clock.label()));
    if let Some(e) = crashed {
        return Err(e);
    }
    println!(
        "stopped cleanly after {:.0} s; the data stays in {} (run again to resume)",
        started.elapsed().as_secs_f64(),
        data.display()
    );
    Ok(())
}

/// Starts an edge node per outlet, each linked to the cloud through a relay the demo can cut,
/// and waits until each answers; pushes each as it is started.
async fn start_edges(
    opts: &Options,
    chain: &setup::Chain,
    web: &Path,
    cloud_addr: SocketAddr,
    unlink: &watch::Receiver<bool>,
    edges: &mut Vec<Edge>,
    relays: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<()> {
    for (i, o) in chain.outlets.iter().enumerate() {
        let (relay, relay_task) =
            patty_tests::link::Relay::start(cloud_addr, unlink.clone()).await.context("a relay")?;
        relays.push(relay_task);
        let port = if opts.edge_port == 0 { 0 } else { opts.edge_port.saturating_add(i as u16) };
        let listener = bind(port).await.with_context(|| format!("{}'s port", o.site.name))?;
        let addr = listener.local_addr()?;
        let mut config = patty_edge::config::Config::for_data_dir(opts.data_dir.join("outlets").join(&o.site.slug));
        config.listen = addr;
        config.outlet.id = Some(o.id.clone());
        config.outlet.name = format!("Patty Palace {}", o.site.name);
        config.outlet.tax_rate_bp = TAX_RATE_BP;
        config.outlet.timezone = TIMEZONE;
        config.cloud.url = format!("http://{}", relay.addr);
        config.cloud.api_key = o.edge_key.clone();
        config.pos.dir = web.join("pos");
        config.validate().context("an edge's configuration")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(patty_edge::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let api = Api::new(format!("http://{addr}"));
        edges.push(Edge { name: o.site.name.clone(), api: api.clone(), relay, stop, task });
        let edge = edges.last_mut().expect("pushed above");
        healthy(&api, &mut edge.task, &format!("{}'s edge", o.site.name)).await?;
    }
    Ok(())
}

/// Awaits `f` for at most [`DRAIN`]; `None` (and a warning) if it took longer.
async fn drain<T>(what: &str, f: impl Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(DRAIN, f).await {
        Ok(v) => Some(v),
        Err(_) => {
            tracing::warn!(what, "did not stop in time; left behind");
            None
        }
    }
}

/// Where to look, printed once everything answers.
fn banner(opts: &Options, cloud: &Api, edges: &[Edge], mqtt: &str, web: &Path) {
    let mut out = vec![format!(
        "Patty Palace demo: {} outlets, {} drivers, {} orders a minute at the quiet times (about 3x at lunch), \
         a {}-minute day, kitchens and roads at {}x",
        edges.len(),
        opts.drivers,
        opts.rate,
        opts.day_mins,
        opts.pace
    )];
    out.push(format!("  HQ dashboard   {}/   sign in as {ADMIN_EMAIL} / {ADMIN_PASSWORD}", cloud.base));
    out.push(format!("  API reference  {}/docs", cloud.base));
    for (i, e) in edges.iter().enumerate() {
        let pins = if i == 0 {
            format!(
                "   PINs: manager {}, cashier {}, kitchen {}",
                outlet::MANAGER_PIN,
                outlet::CASHIER_PIN,
                outlet::KITCHEN_PIN
            )
        } else {
            String::new()
        };
        out.push(format!("  {:<14} {}/pos/{pins}", format!("{} POS", e.name), e.api.base));
    }
    let embedded = if opts.mqtt_url.is_none() { " (embedded in the cloud)" } else { "" };
    out.push(format!("  MQTT broker    {mqtt}{embedded}"));
    out.push(format!("  Data           {} (the next run resumes from it)", opts.data_dir.display()));
    if let Some(n) = opts.cut_outlet {
        out.push(format!(
            "  Cut            {}'s link to the cloud goes down {} s from now, for {} s",
            edges[n as usize - 1].name,
            opts.cut_after,
            opts.cut_secs
        ));
    }
    if !web.join("hq/index.html").exists() || !web.join("pos/index.html").exists() {
        out.push(
            "The front ends are not built (the APIs work without them): npm --prefix web ci && npm --prefix web run build"
                .into(),
        );
    }
    out.push("Ctrl-C stops the demo.".into());
    println!("{}", out.join("\n"));
}

/// Prints the summary line every [`SUMMARY_EVERY`], after reading the fleet from HQ's deliveries
/// and each outlet's link from its edge.
async fn summarize(
    cloud: Api,
    admin: Arc<Account>,
    managers: Vec<Arc<Staff>>,
    stats: Arc<Stats>,
    clock: DayClock,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(SUMMARY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = stop.changed() => return,
        }
        let active = admin.get(&cloud, "/api/v1/deliveries?scope=active&limit=1000").await;
        if let Ok(list) = active.and_then(|r| r.ok("deliveries")) {
            let list = list.as_array().cloned().unwrap_or_default();
            let on = |statuses: &[&str]| list.iter().filter(|d| statuses.iter().any(|s| d["status"] == *s)).count();
            stats.fleet(Fleet {
                to_pick_up: on(&["waiting", "assigned", "at_pickup"]),
                on_the_road: on(&["picked_up", "near_dropoff"]),
            });
        }
        for (i, m) in managers.iter().enumerate() {
            if let Ok(s) = m.get("/api/v1/sync/status").await.and_then(|r| r.ok("sync status")) {
                stats.link(i, s["link"].as_str().unwrap_or("?"), s["pending"].as_u64().unwrap_or(0));
            }
        }
        println!("{}", stats.snapshot().line(&clock.label()));
    }
}

/// `--cut-outlet`: takes one outlet's link down for a while, then watches it catch up.
struct Cutter {
    index: usize,
    name: String,
    relay: Arc<patty_tests::link::Relay>,
    manager: Arc<Staff>,
    after: Duration,
    lasts: Duration,
    stats: Arc<Stats>,
}

impl Cutter {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let name = self.name;
        tokio::select! {
            _ = tokio::time::sleep(self.after) => {},
            _ = stop.changed() => return,
        }
        self.relay.set_cut(true);
        self.stats.cut(self.index, Cut::Down(Instant::now()));
        println!("cut: {name}'s link to the cloud is down for {} s; the outlet keeps selling", self.lasts.as_secs());
        tokio::select! {
            _ = tokio::time::sleep(self.lasts) => {},
            _ = stop.changed() => {
                self.relay.set_cut(false);
                return;
            }
        }
        self.relay.set_cut(false);
        let back = Instant::now();
        self.stats.cut(self.index, Cut::CatchingUp(back));
        let waiting = match self.manager.get("/api/v1/sync/status").await.and_then(|r| r.ok("sync status")) {
            Ok(s) => s["pending"].as_u64().unwrap_or(0),
            Err(_) => 0,
        };
        println!("cut: {name}'s link is back with {waiting} changes waiting to go up; catching up");
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {},
                _ = stop.changed() => return,
            }
            let Ok(s) = self.manager.get("/api/v1/sync/status").await.and_then(|r| r.ok("sync status")) else {
                continue;
            };
            if s["link"] == "online" && s["pending"] == 0 {
                let took = back.elapsed();
                self.stats.cut(self.index, Cut::CaughtUp(Instant::now(), took));
                println!("cut: {name} caught up in {:.1} s", took.as_secs_f64());
                return;
            }
        }
    }
}
