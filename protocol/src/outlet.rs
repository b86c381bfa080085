//! Outlets: where a restaurant is, the area it delivers to, when it is open, and its money rules.

use crate::ids::OutletId;
use crate::local::{self, Tz};
use crate::money::Currency;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A position on Earth (WGS 84).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    /// Latitude, −90 to 90.
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    pub lat: f64,
    /// Longitude, −180 to 180.
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    pub lon: f64,
}

/// The schema of a ring of `[lon, lat]` points with at least `min` of them (`schema_with`).
#[cfg(feature = "openapi")]
pub fn ring_schema(min: usize) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let coordinate = ObjectBuilder::new().schema_type(Type::Number).minimum(Some(-180)).maximum(Some(180));
    let point = ArrayBuilder::new().items(coordinate).min_items(Some(2)).max_items(Some(2));
    ArrayBuilder::new()
        .items(point)
        .min_items(Some(min))
        .max_items(Some(10_000))
        .description(Some("[lon, lat] points (GeoJSON order), longitude −180 to 180, latitude −90 to 90"))
        .build()
}

/// A delivery zone's schema: a closed ring, at least 4 points.
#[cfg(feature = "openapi")]
pub fn zone_schema() -> utoipa::openapi::schema::Array {
    ring_schema(4)
}

impl LatLon {
    /// Whether both coordinates are finite and in range.
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }
}

/// When an outlet is open on one weekday, in its local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub day: u8,
    /// Opens, minutes after local midnight.
    pub open_minute: u16,
    /// Closes, minutes after local midnight; past 1440 closes after midnight.
    pub close_minute: u16,
}

/// Whether an outlet takes orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutletStatus {
    /// Trading (within its opening hours).
    Active,
    /// Temporarily not taking online orders.
    Paused,
    /// Closed for good.
    Closed,
}

/// An outlet as HQ defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Outlet {
    /// Stable id (also the origin id of its edge's change log).
    pub id: OutletId,
    /// Name.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]"))]
    pub name: String,
    /// Where it is.
    pub position: LatLon,
    /// The delivery zone: a closed ring of `[lon, lat]` pairs (GeoJSON order), first = last.
    #[cfg_attr(feature = "openapi", schema(schema_with = zone_schema))]
    pub delivery_zone: Vec<[f64; 2]>,
    /// Opening hours per weekday; a day not listed is closed.
    pub opening_hours: Vec<OpeningHours>,
    /// IANA time zone (`Europe/Amsterdam`): opening hours, menu windows and the outlet's days
    /// are in its local time, summer time included. An unknown name is refused.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "Europe/Amsterdam"))]
    pub timezone: Tz,
    /// Whether it takes orders.
    pub status: OutletStatus,
    /// The currency of its prices.
    pub currency: Currency,
    /// Sales tax, basis points.
    #[cfg_attr(feature = "openapi", schema(maximum = 10_000))]
    pub tax_rate_bp: u32,
    /// Menu prices include tax.
    pub prices_include_tax: bool,
    /// Delivery fee, minor units.
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub delivery_fee: i64,
}

/// A problem found by [`Outlet::validate`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct OutletError(pub String);

impl Outlet {
    /// Checks coordinates, the zone polygon, hours and money rules.
    pub fn validate(&self) -> Result<(), OutletError> {
        let bad = |m: &str| Err(OutletError(m.to_owned()));
        if crate::blank(&self.name) || self.name.chars().count() > 100 {
            return bad("an outlet name is 1 to 100 characters");
        }
        if !self.position.is_valid() {
            return bad("position is out of range");
        }
        let ring = &self.delivery_zone;
        if ring.len() < 4 {
            return bad("a delivery zone needs at least 4 points (a closed ring of 3 corners)");
        }
        if ring.iter().any(|[lon, lat]| !(LatLon { lat: *lat, lon: *lon }).is_valid()) {
            return bad("a delivery zone point is out of range");
        }
        if ring.first() != ring.last() {
            return bad("the delivery zone is not closed: its first and last points must be the same");
        }
        if signed_area(ring).abs() < 1e-12 {
            return bad("the delivery zone has no area");
        }
        if self
            .opening_hours
            .iter()
            .any(|h| !(1..=7).contains(&h.day) || h.open_minute >= h.close_minute || h.close_minute > 2880)
        {
            return bad("opening hours need a weekday 1 to 7 and open before close");
        }
        if self.tax_rate_bp > 10_000 || self.delivery_fee < 0 {
            return bad("tax_rate_bp is 0 to 10000, delivery_fee 0 or more");
        }
        Ok(())
    }

    /// Whether `at` falls in the opening hours, on the outlet's local clock.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        let (day, minute) = local::weekday_minute(at, self.timezone);
        self.opening_hours
            .iter()
            .any(|h| local::in_weekly_span(day, minute, |d| d == h.day, h.open_minute, h.close_minute))
    }
}

/// Twice the signed area of a ring (shoelace), in square degrees.
fn signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2).map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn outlet() -> Outlet {
        Outlet {
            id: OutletId::new(),
            name: "Dock Street".into(),
            position: LatLon { lat: 52.37, lon: 4.89 },
            delivery_zone: vec![[4.85, 52.35], [4.93, 52.35], [4.93, 52.39], [4.85, 52.39], [4.85, 52.35]],
            opening_hours: (1..=7).map(|day| OpeningHours { day, open_minute: 600, close_minute: 1380 }).collect(),
            timezone: Tz::Europe__Amsterdam,
            status: OutletStatus::Active,
            currency: Currency::parse("EUR").unwrap(),
            tax_rate_bp: 900,
            prices_include_tax: true,
            delivery_fee: 250,
        }
    }

    fn kolkata() -> Outlet {
        Outlet { timezone: Tz::Asia__Kolkata, ..outlet() }
    }

    #[test]
    fn a_zone_must_be_a_closed_ring_with_area() {
        assert!(outlet().validate().is_ok());
        let mut o = outlet();
        o.delivery_zone.pop();
        assert!(o.validate().unwrap_err().0.contains("not closed"));
        let mut o = outlet();
        o.delivery_zone = vec![[4.85, 52.35], [4.86, 52.35], [4.87, 52.35], [4.85, 52.35]];
        assert!(o.validate().unwrap_err().0.contains("no area"));
        let mut o = outlet();
        o.position.lat = 91.0;
        assert!(o.validate().is_err());
    }

    #[test]
    fn opening_hours_follow_local_time() {
        let o = outlet();
        // 09:30 UTC is 10:30 local: open. 22:30 UTC is 23:30 local: closed.
        assert!(o.is_open_at(Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap()));
        assert!(!o.is_open_at(Utc.with_ymd_and_hms(2026, 11, 26, 22, 30, 0).unwrap()));
    }

    #[test]
    fn opening_hours_follow_summer_time_and_half_hour_zones() {
        let at = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
        // 10:00 to 23:00 local in Amsterdam: 09:00 UTC in winter, 08:00 UTC in summer.
        let o = outlet();
        assert!(!o.is_open_at(at(3, 28, 8, 30)));
        assert!(o.is_open_at(at(3, 30, 8, 30)));
        assert!(o.is_open_at(at(10, 24, 20, 30)), "22:30 summer time");
        assert!(!o.is_open_at(at(10, 24, 21, 0)), "23:00 summer time");
        assert!(o.is_open_at(at(10, 26, 21, 30)), "22:30 winter time");
        // Kolkata is UTC+05:30 all year: 10:00 local is 04:30 UTC.
        let k = kolkata();
        assert!(!k.is_open_at(at(7, 1, 4, 29)));
        assert!(k.is_open_at(at(7, 1, 4, 30)));
        assert!(!k.is_open_at(at(1, 1, 17, 30)), "23:00 local");
    }
}
