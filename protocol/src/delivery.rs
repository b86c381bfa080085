//! Deliveries: their milestones, and the commands and replies the cloud and a driver's agent
//! exchange over MQTT (`patty/v1/devices/D/cmd` and `…/reply`, JSON: rare, small, and read by
//! people while debugging a fleet).
//!
//! A delivery is known to the agent by its short job number, which the fixes carry.

use crate::outlet::LatLon;
use serde::{Deserialize, Serialize};

/// Where a delivery stands. Forward only, in this order; `Cancelled` from any status but
/// `Delivered`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Ready at the outlet, no driver yet (an offer may be out).
    Waiting,
    /// A driver accepted it.
    Assigned,
    /// The driver is in the outlet's pickup zone.
    AtPickup,
    /// The driver has the food.
    PickedUp,
    /// The driver is in the customer's drop-off zone.
    NearDropoff,
    /// Handed over with the customer's code: final.
    Delivered,
    /// The order was withdrawn: final.
    Cancelled,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 7] = [
        Self::Waiting,
        Self::Assigned,
        Self::AtPickup,
        Self::PickedUp,
        Self::NearDropoff,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The status's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Assigned => "assigned",
            Self::AtPickup => "at_pickup",
            Self::PickedUp => "picked_up",
            Self::NearDropoff => "near_dropoff",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether nothing more happens to the delivery.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }

    /// Whether a driver is on it.
    pub fn is_driving(self) -> bool {
        matches!(self, Self::Assigned | Self::AtPickup | Self::PickedUp | Self::NearDropoff)
    }

    /// Whether the delivery may move from `self` to `to`.
    pub fn may_move_to(self, to: Self) -> bool {
        match to {
            Self::Cancelled => !self.is_final(),
            _ => !self.is_final() && to > self,
        }
    }
}

/// A named place on a delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    /// What to show the driver (the outlet's name, the customer's street).
    pub name: String,
    /// Where it is.
    pub position: LatLon,
}

/// A command from the cloud to one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// A delivery is offered: accept or decline before the deadline.
    Offer {
        /// The job number.
        job: u32,
        /// The order's number at its outlet (what the counter calls out).
        order_number: u32,
        /// Where to collect.
        pickup: Place,
        /// Where to deliver.
        dropoff: Place,
        /// Answer before this, Unix seconds; silence is a decline.
        deadline_s: u64,
    },
    /// The job is the driver's: report it on fixes until it ends.
    Assigned {
        /// The job number.
        job: u32,
    },
    /// The offer went to someone else, or lapsed.
    Withdrawn {
        /// The job number.
        job: u32,
    },
    /// The order was withdrawn; stop.
    Cancel {
        /// The job number.
        job: u32,
        /// Why.
        reason: String,
    },
    /// At the door: ask the customer for their code and send it.
    Handover {
        /// The job number.
        job: u32,
        /// Tries left.
        attempts_left: u32,
    },
    /// The answer to a code: delivered, or how many tries remain.
    CodeResult {
        /// The job number.
        job: u32,
        /// Whether the code was right (the delivery is done).
        ok: bool,
        /// Tries left.
        attempts_left: u32,
    },
}

/// A driver's answer, from their device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Takes the offered job.
    Accept {
        /// The job number.
        job: u32,
    },
    /// Turns the offered job down.
    Decline {
        /// The job number.
        job: u32,
    },
    /// Has the food.
    PickedUp {
        /// The job number.
        job: u32,
    },
    /// The customer's code, at the door.
    Code {
        /// The job number.
        job: u32,
        /// The code as the customer said it.
        code: String,
    },
}

impl Reply {
    /// The job the reply is about.
    pub fn job(&self) -> u32 {
        match self {
            Self::Accept { job } | Self::Decline { job } | Self::PickedUp { job } | Self::Code { job, .. } => *job,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_move_forward_only_and_end() {
        use DeliveryStatus::*;
        assert!(Waiting.may_move_to(Assigned));
        assert!(Assigned.may_move_to(PickedUp));
        assert!(!PickedUp.may_move_to(AtPickup));
        assert!(!Delivered.may_move_to(Cancelled));
        assert!(NearDropoff.may_move_to(Cancelled));
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn commands_and_replies_read_as_tagged_json() {
        let c = Command::Handover { job: 7, attempts_left: 3 };
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"type":"handover","job":7,"attempts_left":3}"#);
        let r: Reply = serde_json::from_str(r#"{"type":"code","job":7,"code":"4821"}"#).unwrap();
        assert_eq!(r, Reply::Code { job: 7, code: "4821".into() });
        assert!(serde_json::from_str::<Reply>(r#"{"type":"accept","job":7,"extra":1}"#).is_err());
        assert!(serde_json::from_str::<Reply>(r#"{"type":"teleport","job":7}"#).is_err());
    }
}

/// What a geofence zone is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// An outlet's pickup zone.
    Pickup,
    /// A customer's drop-off zone.
    Dropoff,
    /// Drivers should not enter.
    Restricted,
}
