//! What the demo saw happen, all of it through the services' HTTP APIs: orders placed (online at
//! the cloud, at the counter at the edges), kitchens' queues, deliveries under way (HQ's list),
//! hand-overs and their click-to-door times, and each outlet's link. Rendered as one line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cut of one outlet's link, as the demo made it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Cut {
    /// Not cut.
    #[default]
    None,
    /// Cut since then.
    Down(Instant),
    /// Restored then, catching up.
    CatchingUp(Instant),
    /// Caught up then, after so long.
    CaughtUp(Instant, Duration),
}

/// One outlet as last seen.
#[derive(Clone, Debug, Default)]
pub struct OutletView {
    /// Its name.
    pub name: String,
    /// Online orders waiting for the outlet to accept them.
    pub new: usize,
    /// Orders accepted or being prepared.
    pub cooking: usize,
    /// The edge's link to the cloud (`online`, `offline`) as the edge reports it.
    pub link: String,
    /// Changes waiting to go up.
    pub pending: u64,
    /// The demo's cut, if any.
    pub cut: Cut,
}

/// Deliveries under way as HQ sees them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fleet {
    /// Waiting for a driver, or a driver on the way to the outlet.
    pub to_pick_up: usize,
    /// Food on board.
    pub on_the_road: usize,
}

/// The counts.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Online delivery orders placed.
    pub delivery: u64,
    /// Online orders to collect placed.
    pub pickup: u64,
    /// Counter orders taken.
    pub counter: u64,
    /// Orders refused when placed, or by the outlet when it came to accept them (stock short, an
    /// item sold out, the outlet closed).
    pub refused: u64,
    /// Deliveries handed over with the customer's code.
    pub delivered: u64,
    /// Sum of click-to-door times of the deliveries placed in this run, ms.
    pub door_ms: u64,
    /// How many of those there were.
    pub door_n: u64,
    /// Each outlet.
    pub outlets: Vec<OutletView>,
    /// The fleet.
    pub fleet: Fleet,
}

impl Counts {
    /// Average click-to-door time, seconds.
    pub fn door_avg_s(&self) -> Option<f64> {
        (self.door_n > 0).then(|| self.door_ms as f64 / self.door_n as f64 / 1000.0)
    }

    /// The summary line, with `clock` (the demo's time of day) in front.
    pub fn line(&self, clock: &str) -> String {
        let placed = self.delivery + self.pickup + self.counter;
        let kitchen: usize = self.outlets.iter().map(|o| o.new + o.cooking).sum();
        let door = self.door_avg_s().map_or_else(|| "-".to_owned(), |s| format!("{s:.0} s"));
        let mut links: Vec<String> = self.outlets.iter().map(OutletView::describe).collect();
        // A large chain: how many are online, and only the outlets with something to say.
        if links.len() > 8 {
            let quiet = self.outlets.iter().zip(&links).filter(|(o, l)| **l == format!("{} online", o.name)).count();
            let total = links.len();
            links.retain(|l| !l.ends_with(" online"));
            links.insert(0, format!("{quiet} of {total} outlets online"));
        }
        let refused = if self.refused > 0 { format!("; {} refused", self.refused) } else { String::new() };
        let first = match self.first_delivery(kitchen) {
            Some(what) => format!(" | {what}"),
            None => String::new(),
        };
        format!(
            "{clock}{first} | placed {placed} ({} delivery, {} pickup, {} counter{refused}) | kitchen {kitchen} | \
             to pick up {} | on the road {} | delivered {}, click-to-door avg {door} | {}",
            self.delivery,
            self.pickup,
            self.counter,
            self.fleet.to_pick_up,
            self.fleet.on_the_road,
            self.delivered,
            links.join(", ")
        )
    }
}

impl Counts {
    /// Until the first hand-over, what the first deliveries are waiting for.
    fn first_delivery(&self, kitchen: usize) -> Option<&'static str> {
        if self.delivered > 0 {
            return None;
        }
        Some(if self.fleet.on_the_road > 0 {
            "the first deliveries are on the road"
        } else if self.fleet.to_pick_up > 0 {
            "drivers are collecting the first deliveries"
        } else if kitchen > 0 {
            "the kitchens are cooking the first orders"
        } else {
            "waiting for the first orders"
        })
    }
}

impl OutletView {
    fn describe(&self) -> String {
        let waiting = if self.pending > 0 { format!(", {} changes to send", self.pending) } else { String::new() };
        match self.cut {
            Cut::Down(_) => format!("{} OFFLINE (cut){waiting}", self.name),
            Cut::CatchingUp(_) => format!("{} catching up{waiting}", self.name),
            Cut::CaughtUp(at, took) if at.elapsed() < Duration::from_secs(30) => {
                format!("{} caught up in {:.0} s", self.name, took.as_secs_f64())
            }
            _ if self.link == "online" => format!("{} online", self.name),
            _ => format!("{} {}{waiting}", self.name, if self.link.is_empty() { "?" } else { &self.link }),
        }
    }
}

/// The shared bookkeeping.
#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<Counts>,
    /// Online delivery orders of this run not handed over yet: when they were placed (Unix ms).
    placed_ms: Mutex<HashMap<String, i64>>,
}

impl Stats {
    /// For outlets named `names`.
    pub fn new(names: &[&str]) -> Self {
        let outlets = names.iter().map(|n| OutletView { name: (*n).to_owned(), ..Default::default() }).collect();
        Self { counts: Mutex::new(Counts { outlets, ..Default::default() }), placed_ms: Mutex::default() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Counts) -> T) -> T {
        f(&mut self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> Counts {
        self.with(|c| c.clone())
    }

    /// A customer placed order `id` at `created_ms`, for delivery or to collect.
    pub fn placed_online(&self, id: &str, created_ms: i64, delivery: bool) {
        if delivery {
            self.placed_ms.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), created_ms);
        }
        self.with(|c| if delivery { c.delivery += 1 } else { c.pickup += 1 });
    }

    /// A cashier took a counter order.
    pub fn counter(&self) {
        self.with(|c| c.counter += 1);
    }

    /// An order was refused.
    pub fn refused(&self) {
        self.with(|c| c.refused += 1);
    }

    /// Order `id` was handed over at `now_ms`; its click-to-door time if it was placed in this run.
    pub fn delivered(&self, id: &str, now_ms: i64) -> Option<Duration> {
        let placed = self.placed_ms.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        let took = placed.map(|p| Duration::from_millis(u64::try_from(now_ms - p).unwrap_or(0)));
        self.with(|c| {
            c.delivered += 1;
            if let Some(t) = took {
                c.door_ms += t.as_millis() as u64;
                c.door_n += 1;
            }
        });
        took
    }

    /// Outlet `i`'s kitchen: online orders to accept, and orders being made.
    pub fn kitchen(&self, i: usize, new: usize, cooking: usize) {
        self.with(|c| {
            if let Some(o) = c.outlets.get_mut(i) {
                (o.new, o.cooking) = (new, cooking);
            }
        });
    }

    /// Outlet `i`'s link as its edge reports it.
    pub fn link(&self, i: usize, link: &str, pending: u64) {
        self.with(|c| {
            if let Some(o) = c.outlets.get_mut(i) {
                o.link = link.to_owned();
                o.pending = pending;
            }
        });
    }

    /// Outlet `i`'s cut.
    pub fn cut(&self, i: usize, cut: Cut) {
        self.with(|c| {
            if let Some(o) = c.outlets.get_mut(i) {
                o.cut = cut;
            }
        });
    }

    /// The deliveries under way.
    pub fn fleet(&self, fleet: Fleet) {
        self.with(|c| c.fleet = fleet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_what_happened_and_shows_a_cut() {
        let s = Stats::new(&["Damrak", "De Pijp"]);
        s.placed_online("a", 1_000, true);
        s.placed_online("b", 1_000, false);
        s.counter();
        s.refused();
        s.link(0, "online", 0);
        s.link(1, "offline", 12);
        s.cut(1, Cut::Down(Instant::now()));
        s.kitchen(0, 1, 2);
        assert!(s.snapshot().line("11:30").starts_with("11:30 | the kitchens are cooking the first orders | placed 3"));
        s.fleet(Fleet { to_pick_up: 0, on_the_road: 1 });
        assert!(s.snapshot().line("11:31").starts_with("11:31 | the first deliveries are on the road | placed 3"));
        assert_eq!(s.delivered("a", 91_000), Some(Duration::from_secs(90)));
        assert_eq!(s.delivered("from-a-run-before", 91_000), None);
        let line = s.snapshot().line("12:30 lunch ×3.0");
        assert!(
            line.starts_with("12:30 lunch ×3.0 | placed 3 (1 delivery, 1 pickup, 1 counter; 1 refused) | kitchen 3"),
            "{line}"
        );
        assert!(line.contains("delivered 2, click-to-door avg 90 s"), "{line}");
        assert!(line.ends_with("Damrak online, De Pijp OFFLINE (cut), 12 changes to send"), "{line}");
        s.cut(1, Cut::CaughtUp(Instant::now(), Duration::from_secs(3)));
        assert!(s.snapshot().line("x").ends_with("De Pijp caught up in 3 s"));
    }

    #[test]
    fn a_large_chain_is_counted_and_only_the_outlets_with_news_are_named() {
        let names: Vec<String> = (1..=12).map(|i| format!("Outlet {i}")).collect();
        let s = Stats::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
        for i in 0..12 {
            s.link(i, if i == 4 { "offline" } else { "online" }, 0);
        }
        let line = s.snapshot().line("x");
        assert!(line.ends_with("| 11 of 12 outlets online, Outlet 5 offline"), "{line}");
    }
}
