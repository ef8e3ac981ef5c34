//! Stripe-style webhook signatures, as the demo app (and BottleCRM) send them:
//! `X-…-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Deliveries older (or further in the future) than this are refused as replays.
pub const TOLERANCE_SECS: i64 = 300;
/// Larger bodies are refused before anything is parsed.
pub const MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookRejection {
    #[error("the delivery has no signature header")]
    MissingSignature,
    #[error(
        "the signature does not match: the delivery was not sent by the app, or the secret differs"
    )]
    BadSignature,
    #[error("the delivery is {age_secs} s away from now (more than {TOLERANCE_SECS} s): refused as a possible replay")]
    Stale { age_secs: i64 },
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not a valid notification: {0}")]
    Malformed(String),
}

impl WebhookRejection {
    pub fn status(&self) -> u16 {
        match self {
            WebhookRejection::MissingSignature
            | WebhookRejection::BadSignature
            | WebhookRejection::Stale { .. } => 401,
            WebhookRejection::TooLarge => 413,
            WebhookRejection::Malformed(_) => 400,
        }
    }
}

pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `t=…,v1=…` against the body, in constant time, within the tolerance.
pub fn verify_signature(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), WebhookRejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookRejection::TooLarge);
    }
    let header = header.ok_or(WebhookRejection::MissingSignature)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_string()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookRejection::BadSignature)?;
    let age_secs = now.timestamp() - timestamp;
    if age_secs.abs() > TOLERANCE_SECS {
        return Err(WebhookRejection::Stale { age_secs });
    }
    let valid = signatures.iter().any(|sig| {
        let Ok(bytes) = hex::decode(sig) else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&bytes).is_ok()
    });
    if valid {
        Ok(())
    } else {
        Err(WebhookRejection::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_tampering_does_not() {
        let now = Utc::now();
        let body = br#"{"delivery_id":"d1"}"#;
        let header = format!(
            "t={},v1={}",
            now.timestamp(),
            sign("s3cret", now.timestamp(), body)
        );
        assert_eq!(verify_signature("s3cret", Some(&header), body, now), Ok(()));
        assert_eq!(
            verify_signature("other", Some(&header), body, now),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify_signature("s3cret", Some(&header), br#"{"delivery_id":"d2"}"#, now),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify_signature("s3cret", None, body, now),
            Err(WebhookRejection::MissingSignature)
        );
    }

    #[test]
    fn old_deliveries_are_refused() {
        let now = Utc::now();
        let t = now.timestamp() - 301;
        let header = format!("t={t},v1={}", sign("s", t, b"{}"));
        assert!(matches!(
            verify_signature("s", Some(&header), b"{}", now),
            Err(WebhookRejection::Stale { .. })
        ));
    }
}
