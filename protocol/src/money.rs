//! Money as integer minor units (cents, pence) with an ISO 4217 currency. Never floating point.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 currency code, three upper-case ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "EUR", pattern = "^[A-Z]{3}$"))]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a three-letter code; `None` unless it is three ASCII upper-case letters.
    pub fn parse(code: &str) -> Option<Self> {
        let b = code.as_bytes();
        (b.len() == 3 && b.iter().all(u8::is_ascii_uppercase)).then(|| Self([b[0], b[1], b[2]]))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("`{s}` is not a three-letter ISO 4217 currency code"))
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in minor units of a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Minor units (cents); negative for refunds and discounts.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in `currency`.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// `amount * basis_points / 10_000`, rounded half away from zero (tax and percentage discounts).
pub fn apply_basis_points(amount: i64, basis_points: u32) -> i64 {
    let num = i128::from(amount) * i128::from(basis_points);
    let q = num / 10_000;
    let r = num % 10_000;
    let rounded = if r.abs() * 2 >= 10_000 { q + num.signum() } else { q };
    i64::try_from(rounded).unwrap_or(if amount < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_rejects_bad_codes() {
        assert!(Currency::parse("EUR").is_some());
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("EURO").is_none());
        assert!(serde_json::from_str::<Currency>("\"US\"").is_err());
    }

    #[test]
    fn basis_points_round_half_away_from_zero() {
        assert_eq!(apply_basis_points(1000, 2000), 200);
        assert_eq!(apply_basis_points(5, 1000), 1); // 0.5 -> 1
        assert_eq!(apply_basis_points(4, 1000), 0); // 0.4 -> 0
        assert_eq!(apply_basis_points(-5, 1000), -1);
    }

    #[test]
    fn display_formats_minor_units() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(Money::new(1234, eur).to_string(), "12.34 EUR");
        assert_eq!(Money::new(-5, eur).to_string(), "-0.05 EUR");
    }
}
