//! Dispatch: turns ready delivery orders into deliveries and finds each a driver.
//!
//! - **Creation, by event.** The worker ([`worker`]) follows the relayed event log (as
//!   `events::follow` does: a cursor, woken by the relay's progress, looking again every second
//!   for another replica's) for the orders topic. An order whose latest event shows it `ready`
//!   for delivery gets one delivery, made from the event's order (its personal fields opened with
//!   the customer's key); an order shown `cancelled` or `voided` has its delivery cancelled and
//!   its driver told. The cursor is kept in `dispatch_cursor` (one row shared by the replicas,
//!   moved only forward), so a restart resumes where dispatch stopped and misses nothing; a
//!   starting worker reads the last thousand events before it again, in case a replica that died
//!   had made a delivery whose order's withdrawal it never read. Why a table rather than a start
//!   derived from the deliveries at boot: the newest delivery says nothing of the ready orders
//!   after it that were still waiting for one, nor of withdrawals, and the log has no index by
//!   time to find "twelve hours ago" in.
//! - **Idempotent.** Several replicas may follow the same log: an order's delivery is unique in
//!   the table, so the second attempt stores nothing (and a job number taken by a racing replica
//!   is drawn again).
//! - **Offers, by sweep.** A waiting delivery is offered to one driver at a time, chosen by a
//!   [`Dispatcher`] among available drivers (online, a fresh fix, not on a delivery, not holding
//!   another offer, not already passed on this one). The offer goes to the driver's device with
//!   a deadline; a decline or silence passes it to the next. When every driver has passed, a new
//!   round starts after a minute. Deadlines and drivers coming free are time, not events: this
//!   part runs once a second (and at once after a decline).
//!
//! # Layout
//! [`rules`] (the choice of driver, the reading of order events: pure), its cursor in the event log (`events::store::cursor`),
//! [`offers`] (offering, expiring), [`worker`] (the loop).
//!
//! May use `delivery` (its lifecycle and store), `outlets` (the pickup), `fleet`, `events` and
//! `infra`; delivery never uses dispatch.

pub mod offers;
pub mod rules;

pub mod worker;

pub use rules::{Candidate, Dispatcher, Nearest};
pub use worker::{run, run_with};
