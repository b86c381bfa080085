//! The sms channel.

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
