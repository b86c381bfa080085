//! Phone numbers: the one form they are kept and sent in (E.164).

/// A phone number in E.164 (`+31612345678`), from one written with spaces, dashes, dots or
/// parentheses; an error saying what is wrong otherwise.
pub fn e164(raw: &str) -> Result<String, String> {
    let n: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = n.strip_prefix('+').ok_or("a phone number starts with + and the country code")?;
    if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) || digits.starts_with('0') {
        return Err("a phone number is + and 8 to 15 digits, the first not 0".into());
    }
    Ok(n)
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
