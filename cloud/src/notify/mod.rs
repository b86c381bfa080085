//! Notifications: the domain events turned into messages for the people concerned (customers,
//! outlet managers, HQ, drivers), on the channels each allows, recorded, sent at least once and
//! at most once in effect.
//!
//! May use `infra` and `events`.

pub mod channel;
