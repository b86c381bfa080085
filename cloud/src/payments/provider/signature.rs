//! The providers' signatures, as pure functions: Stripe's `Stripe-Signature` webhook header,
//! Razorpay's `X-Razorpay-Signature` webhook header and Razorpay's checkout signature. Each is an
//! HMAC-SHA256 compared in constant time ([`Mac::verify_slice`]); nothing here logs or returns
//! the secret or the expected signature.

use super::WebhookError;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

/// Whether `hex_signature` is the HMAC-SHA256 of `parts` (concatenated) under `secret`. A
/// signature that is not hex never matches.
fn matches(secret: &str, parts: &[&[u8]], hex_signature: &str) -> bool {
    let Ok(given) = hex::decode(hex_signature.trim()) else { return false };
    let mut m = mac(secret);
    for p in parts {
        m.update(p);
    }
    m.verify_slice(&given).is_ok()
}

/// Verifies Stripe's `Stripe-Signature` header (`t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`) over the
/// raw `body` with the endpoint's signing secret (`whsec_…`, used whole as the HMAC key, as
/// Stripe's libraries do). Any `v1` may match (Stripe sends several while a secret is rolled);
/// other schemes are ignored. The signature is checked first, then the timestamp: a genuine
/// signature made more than `tolerance_s` seconds from `now_s`, either way, is [`WebhookError::Stale`]
/// (a replay). An empty header is [`WebhookError::Unsigned`]; a header that does not parse, or
/// whose signatures all differ, is [`WebhookError::BadSignature`].
pub fn stripe(header: &str, body: &[u8], secret: &str, now_s: i64, tolerance_s: i64) -> Result<(), WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::Unsigned);
    }
    let mut timestamp: Option<(&str, i64)> = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let (key, value) = item.trim().split_once('=').ok_or(WebhookError::BadSignature)?;
        match key {
            "t" => {
                let t = value.parse::<i64>().map_err(|_| WebhookError::BadSignature)?;
                if timestamp.is_some() {
                    return Err(WebhookError::BadSignature);
                }
                timestamp = Some((value, t));
            }
            "v1" => v1.push(value),
            _ => {}
        }
    }
    let (t_text, t) = timestamp.ok_or(WebhookError::BadSignature)?;
    // Every candidate is checked (no early exit on the first match), so the time taken does
    // not tell which one matched.
    let matched =
        v1.iter().map(|sig| matches(secret, &[t_text.as_bytes(), b".", body], sig)).fold(false, |any, ok| any | ok);
    if !matched {
        return Err(WebhookError::BadSignature);
    }
    if now_s.abs_diff(t) > tolerance_s.max(0).unsigned_abs() {
        return Err(WebhookError::Stale);
    }
    Ok(())
}

/// Verifies Razorpay's `X-Razorpay-Signature` header: the hex HMAC-SHA256 of the raw `body` with
/// the webhook secret. An empty header is [`WebhookError::Unsigned`], any other mismatch
/// [`WebhookError::BadSignature`]. Razorpay signs no timestamp: replays are caught by the event
/// id (`X-Razorpay-Event-Id`), which payments deduplicates on.
pub fn razorpay_webhook(header: &str, body: &[u8], secret: &str) -> Result<(), WebhookError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(WebhookError::Unsigned);
    }
    if matches(secret, &[body], header) { Ok(()) } else { Err(WebhookError::BadSignature) }
}

/// Whether `signature` is Razorpay's checkout signature for the payment: the hex HMAC-SHA256 of
/// `order_id|payment_id` with the API key secret (what Razorpay's checkout hands the customer's
/// client as `razorpay_signature`).
pub fn razorpay_checkout(order_id: &str, payment_id: &str, signature: &str, key_secret: &str) -> bool {
    !signature.trim().is_empty() && matches(key_secret, &[order_id.as_bytes(), b"|", payment_id.as_bytes()], signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_hex(secret: &str, msg: &[u8]) -> String {
        let mut m = mac(secret);
        m.update(msg);
        hex::encode(m.finalize().into_bytes())
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hmac_hex("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    fn header(t: i64, sigs: &[String]) -> String {
        let mut h = format!("t={t}");
        for s in sigs {
            h.push_str(&format!(",v1={s}"));
        }
        h
    }

    fn good(t: i64) -> String {
        hmac_hex(SECRET, format!("{t}.{}", std::str::from_utf8(BODY).unwrap()).as_bytes())
    }

    #[test]
    fn stripe_accepts_a_fresh_signature() {
        let t = 1_700_000_000;
        assert_eq!(stripe(&header(t, &[good(t)]), BODY, SECRET, t + 10, 300), Ok(()));
        // A clock a little behind the sender's is within tolerance too.
        assert_eq!(stripe(&header(t, &[good(t)]), BODY, SECRET, t - 10, 300), Ok(()));
    }

    #[test]
    fn stripe_accepts_any_of_several_v1_and_ignores_v0() {
        let t = 1_700_000_000;
        let h = format!("t={t},v1={},v1={},v0={}", "ab".repeat(32), good(t), "cd".repeat(32));
        assert_eq!(stripe(&h, BODY, SECRET, t, 300), Ok(()));
        let h = format!("t={t},v1={},v1=zz", good(t));
        assert_eq!(stripe(&h, BODY, SECRET, t, 300), Ok(()));
    }

    #[test]
    fn stripe_refuses_a_tampered_body_or_a_wrong_secret() {
        let t = 1_700_000_000;
        let h = header(t, &[good(t)]);
        assert_eq!(stripe(&h, br#"{"id":"evt_2","object":"event"}"#, SECRET, t, 300), Err(WebhookError::BadSignature));
        assert_eq!(stripe(&h, BODY, "whsec_other", t, 300), Err(WebhookError::BadSignature));
        // The timestamp is signed: changing it breaks the signature.
        assert_eq!(stripe(&header(t + 1, &[good(t)]), BODY, SECRET, t, 300), Err(WebhookError::BadSignature));
    }

    #[test]
    fn stripe_refuses_a_stale_or_future_signature() {
        let t = 1_700_000_000;
        let h = header(t, &[good(t)]);
        assert_eq!(stripe(&h, BODY, SECRET, t + 300, 300), Ok(()));
        assert_eq!(stripe(&h, BODY, SECRET, t + 301, 300), Err(WebhookError::Stale));
        assert_eq!(stripe(&h, BODY, SECRET, t - 301, 300), Err(WebhookError::Stale));
        // A stale header with a wrong signature says the signature is wrong, not that it is old.
        assert_eq!(
            stripe(&header(t, &["00".repeat(32)]), BODY, SECRET, t + 1000, 300),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn stripe_header_shapes() {
        let t = 1_700_000_000;
        assert_eq!(stripe("", BODY, SECRET, t, 300), Err(WebhookError::Unsigned));
        assert_eq!(stripe("  ", BODY, SECRET, t, 300), Err(WebhookError::Unsigned));
        for bad in [
            "garbage".to_owned(),
            format!("v1={}", good(t)),
            format!("t=soon,v1={}", good(t)),
            format!("t={t}"),
            format!("t={t},v0={}", good(t)),
            format!("t={t},t={t},v1={}", good(t)),
            format!("t={t},v1={},", good(t)),
        ] {
            assert_eq!(stripe(&bad, BODY, SECRET, t, 300), Err(WebhookError::BadSignature), "{bad}");
        }
        // Spaces after the commas are tolerated.
        assert_eq!(stripe(&format!("t={t}, v1={}", good(t)), BODY, SECRET, t, 300), Ok(()));
    }

    #[test]
    fn razorpay_webhook_checks_the_raw_body() {
        let body = br#"{"entity":"event","event":"payment.captured"}"#;
        let sig = hmac_hex("rzp_whsec", body);
        assert_eq!(razorpay_webhook(&sig, body, "rzp_whsec"), Ok(()));
        assert_eq!(razorpay_webhook(&sig, b"{}", "rzp_whsec"), Err(WebhookError::BadSignature));
        assert_eq!(razorpay_webhook(&sig, body, "other"), Err(WebhookError::BadSignature));
        assert_eq!(razorpay_webhook("not hex", body, "rzp_whsec"), Err(WebhookError::BadSignature));
        assert_eq!(razorpay_webhook(&sig[..10], body, "rzp_whsec"), Err(WebhookError::BadSignature));
        assert_eq!(razorpay_webhook("", body, "rzp_whsec"), Err(WebhookError::Unsigned));
    }

    #[test]
    fn razorpay_checkout_signs_order_and_payment() {
        let sig = hmac_hex("key_secret", b"order_A|pay_B");
        assert!(razorpay_checkout("order_A", "pay_B", &sig, "key_secret"));
        assert!(!razorpay_checkout("order_A", "pay_C", &sig, "key_secret"));
        assert!(!razorpay_checkout("pay_B", "order_A", &sig, "key_secret"));
        assert!(!razorpay_checkout("order_A", "pay_B", &sig, "other"));
        assert!(!razorpay_checkout("order_A", "pay_B", "", "key_secret"));
    }
}
