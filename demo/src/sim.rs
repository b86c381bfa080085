//! The demo's sense of time and chance: a trading day compressed into `--day-mins` real minutes
//! with a lunch and a dinner peak, and a small seeded random number generator (the simulation
//! needs nothing stronger, and the workspace carries no random crate).

use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The trading day the demo plays, 10:00 to 22:00, compressed; it starts again after 22:00.
#[derive(Clone, Copy, Debug)]
pub struct DayClock {
    start: Instant,
    day: Duration,
}

/// The first and last hour of the trading day.
const OPENS: f64 = 10.0;
const CLOSES: f64 = 22.0;
/// The hour a run starts at: just before lunch, so the first minutes are busy; the days after run
/// from opening to closing.
pub const RUN_STARTS: f64 = 11.5;

impl DayClock {
    /// A day of `day_mins` real minutes, at [`RUN_STARTS`] now.
    pub fn new(day_mins: f64) -> Self {
        Self::at(day_mins, RUN_STARTS)
    }

    /// A day of `day_mins` real minutes, at `hour` (10.0 to 22.0) now.
    pub fn at(day_mins: f64, hour: f64) -> Self {
        let day = Duration::from_secs_f64(day_mins * 60.0);
        let into = day.mul_f64(((hour - OPENS) / (CLOSES - OPENS)).clamp(0.0, 1.0));
        let now = Instant::now();
        Self { start: now.checked_sub(into).unwrap_or(now), day }
    }

    /// The demo's hour of the day now (10.0 to 22.0).
    pub fn hour(&self) -> f64 {
        let f = (self.start.elapsed().as_secs_f64() / self.day.as_secs_f64()).fract();
        OPENS + f * (CLOSES - OPENS)
    }

    /// How busy it is now, relative to the quiet times: 1 between meals, about 3 at lunch
    /// (12:30), about 2.2 at dinner (18:30).
    pub fn demand(&self) -> f64 {
        demand_at(self.hour())
    }

    /// Whether an arrival drawn at the peak rate ([`PEAK_DEMAND`]) happens now: kept with the
    /// chance of the demand now against the peak (thinning a Poisson process).
    pub fn arrives(&self, rng: &mut Rng) -> bool {
        rng.chance(self.demand() / PEAK_DEMAND)
    }

    /// `HH:MM` and the meal, if any, for the summary line.
    pub fn label(&self) -> String {
        let h = self.hour();
        let minutes = (h * 60.0) as u32;
        let meal = match h {
            h if (11.75..14.0).contains(&h) => " lunch",
            h if (17.5..20.0).contains(&h) => " dinner",
            _ => "",
        };
        format!("{:02}:{:02}{meal} ×{:.1}", minutes / 60, minutes % 60, self.demand())
    }
}

/// At least the day's highest demand (lunch, about 3).
pub const PEAK_DEMAND: f64 = 3.2;

/// Demand at hour `h`: a quiet base with a lunch and a dinner peak.
pub fn demand_at(h: f64) -> f64 {
    let peak = |centre: f64, width: f64, height: f64| height * (-((h - centre) / width).powi(2)).exp();
    1.0 + peak(12.5, 0.8, 2.0) + peak(18.5, 0.9, 1.2)
}

/// SplitMix64: small, fast, and good enough to pick burgers and street numbers.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Seeded from the operating system's randomness (through a v4 UUID).
    pub fn from_entropy() -> Self {
        Self(uuid::Uuid::new_v4().as_u128() as u64)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An index below `n` (which must be positive).
    pub fn index(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// The wait until the next arrival of a Poisson process of `per_sec` arrivals a second.
    pub fn arrival_gap(&mut self, per_sec: f64) -> Duration {
        let u = self.unit().max(1e-12);
        Duration::from_secs_f64((-u.ln() / per_sec.max(1e-9)).min(3600.0))
    }

    /// A real-time duration of `lo..hi` seconds of life, divided by `pace`.
    pub fn paced(&mut self, lo: f64, hi: f64, pace: f64) -> Duration {
        Duration::from_secs_f64(self.between(lo, hi) / pace)
    }
}

/// A meal from `menu` (an edge's `/api/v1/menu` or the cloud's `/api/v1/outlets/{id}/menu`:
/// categories, and items with `available`): a burger or two, usually a side and a drink,
/// sometimes a dessert; a size for items that have sizes, the modifiers a group requires, and now
/// and then an extra. Empty if nothing is available.
pub fn basket(menu: &Value, rng: &mut Rng) -> Vec<Value> {
    let category = |name: &str| {
        menu["categories"].as_array().into_iter().flatten().find(|c| c["name"] == name).map(|c| c["id"].clone())
    };
    let items = menu["items"].as_array().cloned().unwrap_or_default();
    let of = |name: &str| -> Vec<Value> {
        let id = category(name);
        items
            .iter()
            .filter(|i| i["available"] == true && id.as_ref().is_some_and(|c| i["category_id"] == *c))
            .cloned()
            .collect()
    };
    let mut lines = Vec::new();
    let mut add = |rng: &mut Rng, from: &[Value], quantity: u32| {
        if from.is_empty() {
            return;
        }
        let item = rng.pick(from);
        let mut line = json!({ "item_id": item["id"], "quantity": quantity });
        if let Some(variants) = item["variants"].as_array().filter(|v| !v.is_empty()) {
            line["variant_id"] = rng.pick(variants)["id"].clone();
        }
        // What a group requires (a dip with nuggets), and now and then an extra (cheese, bacon).
        let mut chosen = Vec::new();
        for group in item["modifier_groups"].as_array().into_iter().flatten() {
            let mut options = group["modifiers"].as_array().cloned().unwrap_or_default();
            let (min, max) = (group["min"].as_u64().unwrap_or(0) as usize, group["max"].as_u64().unwrap_or(0) as usize);
            let want = if min > 0 { min } else { usize::from(rng.chance(0.15)) }.min(max).min(options.len());
            for _ in 0..want {
                let m = options.swap_remove(rng.index(options.len()));
                chosen.push(json!({ "modifier_id": m["id"], "quantity": 1 }));
            }
        }
        if !chosen.is_empty() {
            line["modifiers"] = json!(chosen);
        }
        lines.push(line);
    };
    let quantity = if rng.chance(0.2) { 2 } else { 1 };
    add(rng, &of("Burgers"), quantity);
    if rng.chance(0.7) {
        add(rng, &of("Sides"), 1);
    }
    if rng.chance(0.7) {
        add(rng, &of("Drinks"), quantity);
    }
    if rng.chance(0.2) {
        add(rng, &of("Desserts"), 1);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lunch_is_about_three_times_the_quiet_hours() {
        assert!((demand_at(12.5) - 3.0).abs() < 0.05, "{}", demand_at(12.5));
        assert!(demand_at(10.0) < 1.1 && demand_at(15.5) < 1.1);
        assert!((2.0..2.4).contains(&demand_at(18.5)));
    }

    #[test]
    fn a_run_starts_just_before_lunch_and_later_days_start_at_opening() {
        let clock = DayClock::new(12.0);
        assert!((clock.hour() - RUN_STARTS).abs() < 0.01, "{}", clock.hour());
        assert!(clock.label().starts_with("11:30 "), "{}", clock.label());
        // A 12-minute day is an hour a minute: after 10.5 hours of it, the next day opens.
        let late = DayClock { start: clock.start.checked_sub(Duration::from_secs(630)).unwrap(), day: clock.day };
        assert!((late.hour() - 10.0).abs() < 0.01, "{}", late.hour());
        assert!((DayClock::at(12.0, 18.5).demand() - demand_at(18.5)).abs() < 0.01);
    }

    #[test]
    fn random_numbers_stay_in_range_and_arrivals_average_their_rate() {
        let mut r = Rng::new(7);
        let mut total = 0.0;
        for _ in 0..20_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.index(3) < 3);
            total += r.arrival_gap(2.0).as_secs_f64();
        }
        let mean = total / 20_000.0;
        assert!((0.45..0.55).contains(&mean), "mean gap {mean}");
    }

    /// Every basket prices with the same function the edge and the cloud price orders with.
    #[test]
    fn a_basket_is_an_order_the_menu_takes() {
        use patty_protocol::order::NewLine;
        use patty_protocol::pricing::{PricingCtx, price};
        let seed: Value = serde_json::from_str(patty_edge::seed::SAMPLE).unwrap();
        let menu: patty_protocol::menu::Menu = serde_json::from_value(seed["menu"].clone()).unwrap();
        let mut shown = seed["menu"].clone();
        for item in shown["items"].as_array_mut().unwrap() {
            item["available"] = json!(item["name"] != "Classic Patty" && item["availability"] == json!([]));
        }
        let states = std::collections::HashMap::new();
        let cx = PricingCtx {
            menu: &menu,
            states: &states,
            by: Default::default(),
            manager: false,
            now: chrono::Utc::now(),
            zone: patty_protocol::local::Tz::UTC,
            max_lines: 100,
            max_quantity: 99,
        };
        let mut rng = Rng::new(3);
        let mut modifiers = 0;
        for _ in 0..500 {
            let lines = basket(&shown, &mut rng);
            assert!(!lines.is_empty());
            for line in &lines {
                let item = shown["items"].as_array().unwrap().iter().find(|i| i["id"] == line["item_id"]).unwrap();
                assert_ne!(item["name"], "Classic Patty", "not available");
                modifiers += line["modifiers"].as_array().map_or(0, Vec::len);
            }
            let lines: Vec<NewLine> = serde_json::from_value(json!(lines)).unwrap();
            if let Err(e) = price(&cx, &lines) {
                panic!("{e}: {lines:?}");
            }
        }
        assert!(modifiers > 0, "dips and extras are chosen");
    }
}
