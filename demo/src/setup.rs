//! The chain's set-up at the cloud, done the way HQ would do it over the API, and idempotent: a
//! second run finds the outlets, the published catalog, the drivers and their devices it made
//! before instead of making them again. The one thing the cloud cannot give back is an edge's API
//! key (it keeps only a digest), so the keys live in `demo.json` in the data directory; a key the
//! cloud no longer takes (another database, a revoked key) is replaced.

use crate::api::{Account, Api, Auth};
use crate::geo::{Site, ZONE_RADIUS_M, site, zone_ring};
use anyhow::Context;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// HQ's administrator, created by the cloud on its first start.
pub const ADMIN_EMAIL: &str = "hq@pattypalace.example";
/// Their password (this is a demo; the banner prints it).
pub const ADMIN_PASSWORD: &str = "patty-demo-hq";
/// Every simulated driver's password.
pub const DRIVER_PASSWORD: &str = "patty-demo-driver";
/// The outlets' time zone (only breakfast items and the day's figures care).
pub const TIMEZONE: patty_protocol::local::Tz = patty_protocol::local::Tz::Europe__Amsterdam;
/// Sales tax on food in the Netherlands, basis points.
pub const TAX_RATE_BP: u32 = 900;

/// Drivers' first names, in order; past the list they are numbered.
const DRIVER_NAMES: [&str; 20] = [
    "Dee", "Eve", "Fay", "Gus", "Hugo", "Iris", "Jan", "Kim", "Lars", "Mo", "Nina", "Otto", "Pia", "Quinten", "Rosa",
    "Sem", "Tara", "Ugo", "Vince", "Wim",
];

/// An outlet, registered at the cloud.
#[derive(Clone, Debug)]
pub struct OutletSetup {
    /// Its site.
    pub site: Site,
    /// Its id (also its edge's change-log origin).
    pub id: String,
    /// Its edge's API key (kind `edge`).
    pub edge_key: String,
}

/// A driver, with the device key their agent publishes under.
#[derive(Clone, Debug)]
pub struct DriverSetup {
    /// First name.
    pub name: String,
    /// Their sign-in.
    pub account: Arc<Account>,
    /// Their user id.
    pub user_id: String,
    /// Their device's id (the device key's id, which is also the MQTT topic's).
    pub device_id: String,
}

/// The chain as set up.
#[derive(Debug)]
pub struct Chain {
    /// HQ's administrator, signed in.
    pub admin: Arc<Account>,
    /// The outlets, in site order.
    pub outlets: Vec<OutletSetup>,
    /// The drivers.
    pub drivers: Vec<DriverSetup>,
}

/// What the demo keeps between runs, in `demo.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    /// By site slug.
    outlets: BTreeMap<String, OutletState>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutletState {
    id: String,
    edge_key: Option<String>,
}

impl StateFile {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("demo.json")
    }

    fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).with_context(|| format!("{} is not the demo's state", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Written whole to a temporary file and renamed, so a crash leaves the old or the new file.
    fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = Self::path(data_dir);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// The outlet as HQ registers it: open all day, delivering within [`ZONE_RADIUS_M`].
pub fn outlet_json(id: &str, site: &Site) -> Value {
    json!({
        "id": id,
        "name": site.name,
        "position": { "lat": site.lat, "lon": site.lon },
        "delivery_zone": zone_ring(site.at(), ZONE_RADIUS_M),
        "opening_hours": (1..=7).map(|d| json!({ "day": d, "open_minute": 0, "close_minute": 1440 })).collect::<Vec<_>>(),
        "timezone": TIMEZONE.name(),
        "status": "active",
        "currency": "EUR",
        "tax_rate_bp": TAX_RATE_BP,
        "prices_include_tax": true,
        "delivery_fee": 299
    })
}

/// Sets up (or finds) `outlets` outlets with their edge keys, the published catalog and `drivers`
/// drivers with a device each.
pub async fn bootstrap(cloud: &Api, data_dir: &Path, outlets: usize, drivers: usize) -> anyhow::Result<Chain> {
    let admin = Arc::new(Account::new(ADMIN_EMAIL, ADMIN_PASSWORD));
    admin
        .session(cloud)
        .await
        .context("HQ's administrator cannot sign in (the database already had users when the demo first used it?)")?;
    let mut state = StateFile::load(data_dir)?;

    let mut set_up = Vec::new();
    for site in (0..outlets).map(site) {
        let entry = state
            .outlets
            .entry(site.slug.to_owned())
            .or_insert_with(|| OutletState { id: uuid::Uuid::now_v7().to_string(), edge_key: None });
        let known = cloud.get(&format!("/api/v1/outlets/{}", entry.id), Auth::None).await?;
        if known.status == StatusCode::NOT_FOUND {
            admin.post(cloud, "/api/v1/outlets", &outlet_json(&entry.id, &site)).await?.ok("registering an outlet")?;
        } else {
            known.ok("reading an outlet")?;
        }
        let works = match &entry.edge_key {
            Some(key) => {
                let path = format!("/api/v1/outlets/{}/orders?limit=1", entry.id);
                cloud.get(&path, Auth::Key(key)).await?.status.is_success()
            }
            None => false,
        };
        if !works {
            let body = json!({ "kind": "edge", "subject": entry.id, "name": format!("{} edge (demo)", site.name) });
            let key = admin.post(cloud, "/api/v1/api-keys", &body).await?.ok("issuing an edge key")?;
            entry.edge_key = Some(key["secret"].as_str().context("the key's secret")?.to_owned());
        }
        set_up.push(OutletSetup {
            site: site.clone(),
            id: entry.id.clone(),
            edge_key: entry.edge_key.clone().expect("set above"),
        });
    }
    state.save(data_dir)?;

    let versions = admin.get(cloud, "/api/v1/catalog/versions").await?.ok("listing catalog versions")?;
    if versions.as_array().is_none_or(Vec::is_empty) {
        let seed: Value = serde_json::from_str(patty_edge::seed::SAMPLE).context("the sample outlet's seed")?;
        let draft = json!({ "menu": seed["menu"] });
        admin.call(cloud, reqwest::Method::PUT, "/api/v1/catalog/draft", Some(&draft), None).await?.ok("the draft")?;
        admin.post(cloud, "/api/v1/catalog/publish", &json!({})).await?.ok("publishing the catalog")?;
    }

    let keys = admin.get(cloud, "/api/v1/api-keys").await?.ok("listing API keys")?;
    let keys = keys.as_array().cloned().unwrap_or_default();
    let mut set_up_drivers = Vec::new();
    for i in 0..drivers {
        let name = DRIVER_NAMES.get(i).map_or_else(|| format!("Driver {}", i + 1), |n| (*n).to_owned());
        let email = format!("driver{}@demo.pattypalace.example", i + 1);
        let body = json!({ "email": email, "password": DRIVER_PASSWORD, "name": name, "role": "driver" });
        let made = admin.post(cloud, "/api/v1/users", &body).await?;
        if made.status != StatusCode::CONFLICT {
            made.ok("adding a driver")?;
        }
        let account = Arc::new(Account::new(email, DRIVER_PASSWORD));
        let user_id = account.user_id(cloud).await?;
        let device = keys
            .iter()
            .find(|k| k["kind"] == "device" && k["subject"] == user_id.as_str() && k["revoked_ms"].is_null());
        let device_id = match device {
            Some(k) => k["id"].as_str().context("a key id")?.to_owned(),
            None => {
                let body = json!({ "kind": "device", "subject": user_id, "name": format!("{name}'s phone") });
                let k = admin.post(cloud, "/api/v1/api-keys", &body).await?.ok("issuing a device key")?;
                k["api_key"]["id"].as_str().context("a key id")?.to_owned()
            }
        };
        set_up_drivers.push(DriverSetup { name, account, user_id, device_id });
    }
    Ok(Chain { admin, outlets: set_up, drivers: set_up_drivers })
}
