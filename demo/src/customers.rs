//! Customers ordering online at the cloud, as the ordering app would: each lives in one outlet's
//! delivery zone with a saved address, registers the first time they order (and signs in on
//! later runs), reads the outlet's published menu and places a delivery or an order to collect,
//! arriving at random at `--rate` (the online share of it) shaped by the day's demand. At the door
//! a customer reads the delivery's one-time code from their own view of the order and tells it
//! to the driver.

use crate::api::{Account, Api};
use crate::geo::{DOORS_M, towards};
use crate::setup::OutletSetup;
use crate::sim::{DayClock, PEAK_DEMAND, Rng, basket};
use crate::stats::Stats;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

/// Every simulated customer's password.
pub const CUSTOMER_PASSWORD: &str = "patty-demo-customer";
/// Customers per outlet.
pub const PER_OUTLET: usize = 8;
/// Of the online orders, the share delivered (the rest are collected).
pub const DELIVERY_SHARE: f64 = 0.75;

const NAMES: [&str; 24] = [
    "Ada", "Bram", "Cor", "Daan", "Eva", "Fenna", "Gijs", "Hanna", "Isa", "Joost", "Kees", "Lotte", "Mila", "Noah",
    "Olaf", "Pim", "Ruben", "Saar", "Tess", "Umar", "Vera", "Wout", "Yara", "Zoë",
];
const STREETS: [&str; 16] = [
    "Prinsengracht",
    "Keizersgracht",
    "Herengracht",
    "Utrechtsestraat",
    "Ferdinand Bolstraat",
    "Sarphatistraat",
    "Linnaeusstraat",
    "Javastraat",
    "Haarlemmerweg",
    "Kinkerstraat",
    "Overtoom",
    "Van Baerlestraat",
    "Plantage Middenlaan",
    "Weesperstraat",
    "Ceintuurbaan",
    "Jan Pieter Heijestraat",
];

/// One customer.
struct Customer {
    account: Account,
    /// Index of their outlet.
    outlet: usize,
    /// Their saved address, as the cloud's `/api/v1/me/addresses` takes it.
    address: Value,
    /// The saved address's id, once known.
    address_id: Mutex<Option<String>>,
}

/// The customers of the chain.
pub struct Customers {
    cloud: Api,
    outlets: Vec<OutletSetup>,
    people: Vec<Customer>,
    /// Order id → who placed it (this run's orders).
    orders: std::sync::Mutex<HashMap<String, usize>>,
    /// Outlet id → (read at, published menu).
    menus: Mutex<HashMap<String, (Instant, Value)>>,
    stats: Arc<Stats>,
}

impl Customers {
    /// [`PER_OUTLET`] customers for each of `outlets`; the same people on every run.
    pub fn new(cloud: Api, outlets: &[OutletSetup], stats: Arc<Stats>) -> Self {
        let mut people = Vec::new();
        for (o, outlet) in outlets.iter().enumerate() {
            for k in 0..PER_OUTLET {
                let n = o * PER_OUTLET + k;
                let mut rng = Rng::new(0x5eed_0000 + n as u64);
                let name = format!("{} {}.", NAMES[n % NAMES.len()], (b'A' + (n / NAMES.len()) as u8 % 26) as char);
                let door = towards(outlet.site.at(), rng.between(0.0, 360.0), rng.between(DOORS_M.0, DOORS_M.1));
                let address = json!({
                    "label": "home",
                    "line1": format!("{} {}", STREETS[rng.index(STREETS.len())], 1 + rng.index(300)),
                    "city": "Amsterdam",
                    "postcode": format!("10{:02} {}{}", 11 + rng.index(88), (b'A' + rng.index(26) as u8) as char, (b'A' + rng.index(26) as u8) as char),
                    "position": { "lat": door.0, "lon": door.1 },
                });
                people.push(Customer {
                    account: Account::customer(
                        format!("customer{}@demo.pattypalace.example", n + 1),
                        CUSTOMER_PASSWORD,
                        name,
                    ),
                    outlet: o,
                    address,
                    address_id: Mutex::new(None),
                });
            }
        }
        Self { cloud, outlets: outlets.to_vec(), people, orders: Default::default(), menus: Default::default(), stats }
    }

    /// Places orders at `per_minute` (at the quiet times; shaped by `clock`) until `stop` turns
    /// true; each order on a task of its own, so a slow sign-up does not hold the others back.
    pub async fn run(self: Arc<Self>, clock: DayClock, per_minute: f64, mut stop: watch::Receiver<bool>) {
        let mut rng = Rng::from_entropy();
        let mut placing = JoinSet::new();
        loop {
            // Arrivals at the day's peak rate, each kept with the demand of its moment (thinning).
            let gap = rng.arrival_gap(per_minute * PEAK_DEMAND / 60.0);
            tokio::select! {
                _ = tokio::time::sleep(gap) => {},
                _ = stop.changed() => break,
            }
            while placing.try_join_next().is_some() {}
            if !clock.arrives(&mut rng) {
                continue;
            }
            if placing.len() >= 32 {
                continue; // the cloud is behind; these customers give up
            }
            let (me, seed) = (self.clone(), rng.next_u64());
            placing.spawn(async move {
                if let Err(e) = me.order(Rng::new(seed)).await {
                    me.stats.refused();
                    tracing::debug!(error = %e, "an online order");
                }
            });
        }
        placing.shutdown().await;
    }

    /// The doors open: `per_outlet` customers of each outlet order a delivery at once, the
    /// nearest first (the orders the kitchens have already started when the run begins). Returns
    /// the orders placed; one refused is counted and left out.
    pub async fn open(&self, per_outlet: usize, rng: &mut Rng) -> Vec<String> {
        let mut orders = Vec::new();
        for (o, outlet) in self.outlets.iter().enumerate() {
            let mut near: Vec<usize> = (0..self.people.len()).filter(|&k| self.people[k].outlet == o).collect();
            near.sort_by(|&a, &b| {
                let at = |k: usize| {
                    let p = &self.people[k].address["position"];
                    crate::geo::distance_m(
                        outlet.site.at(),
                        (p["lat"].as_f64().unwrap_or(0.0), p["lon"].as_f64().unwrap_or(0.0)),
                    )
                };
                at(a).total_cmp(&at(b))
            });
            let placing =
                near.into_iter().take(per_outlet).map(|who| self.order_as(who, Some(true), Rng::new(rng.next_u64())));
            for placed in futures::future::join_all(placing).await {
                match placed {
                    Ok(id) => orders.push(id),
                    Err(e) => {
                        self.stats.refused();
                        tracing::debug!(error = %e, "an opening order");
                    }
                }
            }
        }
        orders
    }

    /// One customer orders once.
    async fn order(&self, mut rng: Rng) -> anyhow::Result<()> {
        let who = rng.index(self.people.len());
        self.order_as(who, None, rng).await.map(|_| ())
    }

    /// Customer `who` orders once: a delivery if `delivery` says so, else as chance has it.
    /// Returns the order's id.
    async fn order_as(&self, who: usize, delivery: Option<bool>, mut rng: Rng) -> anyhow::Result<String> {
        let c = &self.people[who];
        let outlet = &self.outlets[c.outlet];
        let menu = self.menu(&outlet.id).await?;
        if menu["open_now"] != true {
            anyhow::bail!("{} is not taking orders", outlet.site.name);
        }
        let lines = basket(&menu, &mut rng);
        if lines.is_empty() {
            anyhow::bail!("nothing available at {}", outlet.site.name);
        }
        let delivery = delivery.unwrap_or_else(|| rng.chance(DELIVERY_SHARE));
        let mut body = json!({ "outlet_id": outlet.id, "fulfilment": "takeaway", "lines": lines });
        if delivery {
            body["fulfilment"] = json!("delivery");
            body["address_id"] = json!(self.address_of(c).await?);
        }
        let key = uuid::Uuid::now_v7().to_string();
        let r = c.account.call(&self.cloud, reqwest::Method::POST, "/api/v1/orders", Some(&body), Some(&key)).await?;
        let order = r.ok("placing an order")?;
        let id = order["id"].as_str().context("an order id")?.to_owned();
        self.orders.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), who);
        self.stats.placed_online(&id, order["created_ms"].as_i64().unwrap_or_else(now_ms), delivery);
        Ok(id)
    }

    /// The outlet's published menu, read again every 20 s (what is available changes by the hour).
    async fn menu(&self, outlet: &str) -> anyhow::Result<Value> {
        let mut menus = self.menus.lock().await;
        if let Some((at, m)) = menus.get(outlet)
            && at.elapsed() < Duration::from_secs(20)
        {
            return Ok(m.clone());
        }
        let m = self.cloud.get(&format!("/api/v1/outlets/{outlet}/menu"), crate::api::Auth::None).await?;
        let m = m.ok("an outlet's menu")?;
        menus.insert(outlet.to_owned(), (Instant::now(), m.clone()));
        Ok(m)
    }

    /// The customer's saved address (saved the first time).
    async fn address_of(&self, c: &Customer) -> anyhow::Result<String> {
        let mut known = c.address_id.lock().await;
        if let Some(id) = known.as_ref() {
            return Ok(id.clone());
        }
        let saved = c.account.get(&self.cloud, "/api/v1/me/addresses").await?.ok("saved addresses")?;
        let id = match saved.as_array().and_then(|a| a.first()) {
            Some(a) => a["id"].as_str().context("an address id")?.to_owned(),
            None => {
                let a =
                    c.account.post(&self.cloud, "/api/v1/me/addresses", &c.address).await?.ok("saving an address")?;
                a["id"].as_str().context("an address id")?.to_owned()
            }
        };
        *known = Some(id.clone());
        Ok(id)
    }

    /// The hand-over code of `order`'s delivery, as its customer (`customer_id`) reads it.
    pub async fn code_for(&self, order: &str, customer_id: &str) -> anyhow::Result<String> {
        let known = self.orders.lock().unwrap_or_else(|e| e.into_inner()).get(order).copied();
        let who = match known {
            Some(k) => k,
            // An order from a run before this one: find its customer among ours.
            None => {
                let mut found = None;
                for (k, c) in self.people.iter().enumerate() {
                    if c.account.user_id(&self.cloud).await? == customer_id {
                        found = Some(k);
                        break;
                    }
                }
                found.with_context(|| format!("order {order} is not one of the demo's customers'"))?
            }
        };
        let mine = self.people[who].account.get(&self.cloud, &format!("/api/v1/orders/{order}/delivery")).await?;
        let mine = mine.ok("the delivery as its customer sees it")?;
        Ok(mine["handover_code"].as_str().context("a hand-over code")?.to_owned())
    }
}

/// The wall clock, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
