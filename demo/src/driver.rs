//! Drivers on simulated routes. Each has a phone that runs the driver agent's own MQTT link
//! (`patty_driver::link`, in-process: a store-and-forward buffer on disk, QoS 1, an `online`
//! status) fed by the agent's reporting policy, and an app that talks HTTP to the cloud: it
//! takes offers, confirms the food is on board and enters the customer's code at the door.
//! Between jobs a driver heads back to a parking spot near their outlet. Legs are straight lines
//! at 30 km/h times `--pace`. A job the cloud cancels (its order withdrawn) ends when the cloud's
//! command says so, or at the outlet or the door at the latest.

use crate::api::Api;
use crate::customers::{Customers, now_ms};
use crate::geo::{bearing_deg, distance_m, step, towards};
use crate::setup::DriverSetup;
use crate::sim::Rng;
use crate::stats::Stats;
use anyhow::Context;
use patty_driver::Position;
use patty_driver::buffer::Buffer;
use patty_driver::policy::{Policy, Reporter};
use patty_protocol::delivery::Command;
use patty_protocol::telemetry::{Fix, micro};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// A city driver's speed, metres per second (30 km/h).
pub const CITY_MPS: f64 = 30.0 / 3.6;

/// How a phone in a moving car reports: every 2 s, sooner after 150 m or a turn, at once when it
/// stops, every 30 s while parked (well inside the two minutes after which the cloud stops
/// offering work to a driver).
pub const POLICY: Policy =
    Policy { interval_s: 2, distance_m: 150.0, turn_deg: 30.0, parked_mps: 0.5, parked_interval_s: 30 };

/// A delivery the driver took.
#[derive(Clone, Debug)]
struct Job {
    id: String,
    job: u32,
    order_id: String,
    customer_id: String,
    pickup: (f64, f64),
    door: (f64, f64),
}

impl Job {
    fn from(d: &Value) -> anyhow::Result<Self> {
        let at = |p: &Value| -> anyhow::Result<(f64, f64)> {
            Ok((p["lat"].as_f64().context("a latitude")?, p["lon"].as_f64().context("a longitude")?))
        };
        Ok(Self {
            id: d["id"].as_str().context("a delivery id")?.to_owned(),
            job: u32::try_from(d["job"].as_u64().context("a job number")?)?,
            order_id: d["order_id"].as_str().context("an order id")?.to_owned(),
            customer_id: d["customer_id"].as_str().context("a customer")?.to_owned(),
            pickup: at(&d["pickup"]["position"])?,
            door: at(&d["dropoff"]["position"])?,
        })
    }
}

/// Where the driver is in their work.
#[derive(Clone, Debug)]
enum Leg {
    /// Parked, waiting for an offer.
    Parked,
    /// Heading back to the parking spot (offers welcome).
    Returning,
    /// On the way to the outlet.
    ToPickup(Job),
    /// At the outlet since then, collecting the food.
    AtPickup(Job, Instant),
    /// On the way to the door.
    ToDoor(Job),
    /// At the door since then.
    AtDoor(Job, Instant),
}

/// One driver.
pub struct DriverSim {
    /// Who, and their device.
    pub setup: DriverSetup,
    /// The parking spot between jobs (near their outlet, outside its pickup zone).
    pub home: (f64, f64),
    /// The cloud.
    pub cloud: Api,
    /// The customers (for the code at the door).
    pub customers: Arc<Customers>,
    /// The bookkeeping.
    pub stats: Arc<Stats>,
    /// Metres per second on the road.
    pub speed_mps: f64,
    /// The phone's buffer, which the link publishes from.
    pub buffer: Arc<Mutex<Buffer>>,
    /// Pokes the link when a fix was buffered.
    pub wake: Arc<Notify>,
    /// Commands from the cloud, as the link received them.
    pub commands: mpsc::UnboundedReceiver<Command>,
}

impl DriverSim {
    /// Drives until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut rng = Rng::from_entropy();
        let mut at = towards(self.home, rng.between(0.0, 360.0), rng.between(0.0, 300.0));
        let mut leg = Leg::Returning;
        let mut reporter = Reporter::new(POLICY);
        let battery = 60 + rng.index(40) as u8;
        let mut heading = 0.0;
        let mut next_look = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Until the link ends (at shutdown): then there are no more commands to wait for.
        let mut linked = true;
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                cmd = self.commands.recv(), if linked => {
                    match cmd {
                        // The phone buzzes: look at the offer now.
                        Some(Command::Offer { .. }) => next_look = Instant::now(),
                        Some(Command::Cancel { job, .. }) if leg.job() == Some(job) => leg = Leg::Returning,
                        Some(_) => {}
                        None => linked = false,
                    }
                    continue;
                }
                _ = stop.changed() => return,
            }
            let before = at;
            match self.drive(leg.clone(), &mut at, &mut next_look).await {
                Ok(next) => leg = next,
                Err(e) => tracing::debug!(driver = %self.setup.name, error = %e, "driving"),
            }
            let moved = distance_m(before, at);
            if moved > 0.5 {
                heading = bearing_deg(before, at);
            }
            let p = Position {
                lat: at.0,
                lon: at.1,
                accuracy_m: 5.0,
                speed_mps: moved,
                heading_deg: heading,
                time_s: now_ms() as u64 / 1000,
            };
            if reporter.offer(&p) {
                self.report(&p, leg.job(), battery);
            }
        }
    }

    /// One second of work: moves `at` and returns the next leg.
    async fn drive(&self, leg: Leg, at: &mut (f64, f64), next_look: &mut Instant) -> anyhow::Result<Leg> {
        let me = &self.setup.user_id;
        Ok(match leg {
            Leg::Parked | Leg::Returning => {
                if let Leg::Returning = leg {
                    let (next, there) = step(*at, self.home, self.speed_mps);
                    *at = next;
                    if there {
                        return Ok(Leg::Parked);
                    }
                }
                if Instant::now() < *next_look {
                    return Ok(leg);
                }
                *next_look = Instant::now() + Duration::from_secs(2);
                let mine = self.as_driver(reqwest::Method::GET, "/api/v1/deliveries", None).await?;
                let mine = mine.as_array().cloned().unwrap_or_default();
                // A job already ours (from before a restart), else an offer to take.
                if let Some(d) = mine.iter().find(|d| d["driver_id"] == me.as_str()) {
                    let job = Job::from(d)?;
                    return Ok(match d["status"].as_str() {
                        Some("picked_up" | "near_dropoff") => Leg::ToDoor(job),
                        _ => Leg::ToPickup(job),
                    });
                }
                let Some(offer) = mine.iter().find(|d| d["status"] == "waiting" && d["offered_to"] == me.as_str())
                else {
                    return Ok(leg);
                };
                let path = format!("/api/v1/deliveries/{}/accept", offer["id"].as_str().unwrap_or_default());
                match self.as_driver(reqwest::Method::POST, &path, None).await {
                    Ok(d) => Leg::ToPickup(Job::from(&d)?),
                    Err(_) => leg, // lapsed meanwhile
                }
            }
            Leg::ToPickup(job) => {
                let (next, there) = step(*at, job.pickup, self.speed_mps);
                *at = next;
                if there { Leg::AtPickup(job, Instant::now()) } else { Leg::ToPickup(job) }
            }
            // The food is handed over once the cloud has seen the car at the outlet (or after a
            // few seconds, whatever it saw).
            Leg::AtPickup(job, since) => {
                let d = self.as_driver(reqwest::Method::GET, &format!("/api/v1/deliveries/{}", job.id), None).await?;
                match d["status"].as_str() {
                    Some("cancelled") => Leg::Returning,
                    Some("at_pickup") => self.picked_up(job).await?,
                    _ if since.elapsed() > Duration::from_secs(5) => self.picked_up(job).await?,
                    _ => Leg::AtPickup(job, since),
                }
            }
            Leg::ToDoor(job) => {
                let (next, there) = step(*at, job.door, self.speed_mps);
                *at = next;
                if there { Leg::AtDoor(job, Instant::now()) } else { Leg::ToDoor(job) }
            }
            Leg::AtDoor(job, since) => {
                let d = self.as_driver(reqwest::Method::GET, &format!("/api/v1/deliveries/{}", job.id), None).await?;
                match d["status"].as_str() {
                    Some("cancelled" | "delivered") => Leg::Returning,
                    Some("near_dropoff") => self.hand_over(job).await?,
                    _ if since.elapsed() > Duration::from_secs(5) => self.hand_over(job).await?,
                    _ => Leg::AtDoor(job, since),
                }
            }
        })
    }

    async fn picked_up(&self, job: Job) -> anyhow::Result<Leg> {
        self.as_driver(reqwest::Method::POST, &format!("/api/v1/deliveries/{}/pickup", job.id), None).await?;
        Ok(Leg::ToDoor(job))
    }

    /// At the door: the customer reads out their code, the driver types it in.
    async fn hand_over(&self, job: Job) -> anyhow::Result<Leg> {
        let code = self.customers.code_for(&job.order_id, &job.customer_id).await?;
        let path = format!("/api/v1/deliveries/{}/handover", job.id);
        self.as_driver(reqwest::Method::POST, &path, Some(&json!({ "code": code }))).await?;
        self.stats.delivered(&job.order_id, now_ms());
        Ok(Leg::Returning)
    }

    /// A request in the driver's app; a refusal is an error.
    async fn as_driver(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        self.setup.account.call(&self.cloud, method.clone(), path, body, None).await?.ok(&format!("{method} {path}"))
    }

    /// Buffers a fix for the link to publish.
    fn report(&self, p: &Position, job: Option<u32>, battery: u8) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let stored = buffer.next_seq().and_then(|seq| {
            let fix = Fix {
                seq,
                time_s: u32::try_from(p.time_s).unwrap_or(u32::MAX),
                lat_u: micro(p.lat),
                lon_u: micro(p.lon),
                accuracy_m: p.accuracy_m.round() as u16,
                speed_dms: (p.speed_mps * 10.0).round().clamp(0.0, 65_535.0) as u16,
                heading_deg: (p.heading_deg.round() as i64).rem_euclid(360) as u16,
                battery_pct: battery,
                job,
            };
            buffer.push(&fix.encode())
        });
        drop(buffer);
        match stored {
            Ok(_) => self.wake.notify_one(),
            Err(e) => tracing::warn!(driver = %self.setup.name, error = %e, "the phone's buffer refused a fix"),
        }
    }
}

impl Leg {
    /// The job number the fixes carry.
    fn job(&self) -> Option<u32> {
        match self {
            Leg::Parked | Leg::Returning => None,
            Leg::ToPickup(j) | Leg::AtPickup(j, _) | Leg::ToDoor(j) | Leg::AtDoor(j, _) => Some(j.job),
        }
    }
}
