//! Phone numbers: the one form they are kept and sent in (E.164).

/// Normalises a phone number for sending and saving: spaces, dashes, dots and parentheses are
/// dropped; what is left must be `+` and 8 to 15 digits, the first not 0 (a country code never
/// starts with 0). The error says what is wrong, for the person who typed it.
pub fn e164(raw: &str) -> Result<String, String> {
    let number: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let Some(digits) = number.strip_prefix('+') else {
        return Err("a phone number starts with + and the country code".into());
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("a phone number has only digits after the +".into());
    }
    if digits.starts_with('0') {
        return Err("a country code does not start with 0".into());
    }
    if !(8..=15).contains(&digits.len()) {
        return Err("a phone number has 8 to 15 digits after the +".into());
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::e164;

    #[test]
    fn numbers_are_kept_in_e164() {
        assert_eq!(e164("+31 6 1234 5678").as_deref(), Ok("+31612345678"));
        assert_eq!(e164("+1 (415) 555-0100").as_deref(), Ok("+14155550100"));
        assert_eq!(e164("+44.20.7946.0958").as_deref(), Ok("+442079460958"));
        for bad in ["0612345678", "+31 20 123", "+0612345678", "+31 6 1234 567x", "+1234567890123456", ""] {
            assert!(e164(bad).is_err(), "{bad:?}");
        }
    }
}
