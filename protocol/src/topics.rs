//! The Kafka topics the cloud produces to, named once here, with the partition counts it creates
//! them with. Every consumer (the delivery event store, the tests, other systems) takes the names
//! from here.

use serde::{Deserialize, Serialize};

/// A Kafka topic of the chain's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// `order.events`: placed, accepted, cancelled, completed…
    Order,
    /// `catalog.events`: a catalog version was published.
    Catalog,
    /// `customer.events`: registered, erased.
    Customer,
    /// `notification.events`: a security message was requested (verification, password reset),
    /// naming the user and the purpose; the token itself goes only to the user.
    Notification,
    /// `sync.events`: conflicts raised and settled, stock thresholds set by HQ.
    Sync,
    /// `delivery.location.updates`: drivers' accepted fixes, keyed by delivery (or device).
    LocationUpdates,
    /// `delivery.status.events`: created, offered, declined, assigned, milestones, hand-over tries.
    DeliveryStatus,
    /// `delivery.geofence.alerts`: zone entries and exits.
    GeofenceAlert,
    /// `delivery.route.events`: ETA changes.
    DeliveryRoute,
    /// `payment.events`: authorised, captured, failed, cancelled, refunded, wallet moved. No card
    /// data and no secret.
    Payment,
}

impl Topic {
    /// Every topic, in the order they are created.
    pub const ALL: [Topic; 10] = [
        Self::Order,
        Self::Catalog,
        Self::Customer,
        Self::Notification,
        Self::Sync,
        Self::LocationUpdates,
        Self::GeofenceAlert,
        Self::DeliveryStatus,
        Self::DeliveryRoute,
        Self::Payment,
    ];

    /// The delivery streams: what the delivery event store keeps.
    pub const DELIVERY: [Topic; 4] =
        [Self::LocationUpdates, Self::GeofenceAlert, Self::DeliveryStatus, Self::DeliveryRoute];

    /// The topic's name (without a deployment's prefix).
    pub fn name(self) -> &'static str {
        match self {
            Self::Order => "order.events",
            Self::Catalog => "catalog.events",
            Self::Customer => "customer.events",
            Self::Notification => "notification.events",
            Self::Sync => "sync.events",
            Self::LocationUpdates => "delivery.location.updates",
            Self::DeliveryStatus => "delivery.status.events",
            Self::GeofenceAlert => "delivery.geofence.alerts",
            Self::DeliveryRoute => "delivery.route.events",
            Self::Payment => "payment.events",
        }
    }

    /// The partitions the topic is created with: fixes spread widest (one delivery's stay in one
    /// partition), the domain topics six each.
    pub fn partitions(self) -> i32 {
        match self {
            Self::LocationUpdates => 10,
            Self::GeofenceAlert => 5,
            _ => 6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = Topic::ALL.iter().map(|t| t.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Topic::ALL.len());
        assert!(Topic::DELIVERY.iter().all(|t| t.name().starts_with("delivery.")));
    }
}
