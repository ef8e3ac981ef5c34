//! Stripe-style webhook signatures, as the demo app (and BottleCRM) send them:
//! `X-…-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Deliveries older (or further in the future) than this are refused as replays.
pub const TOLERANCE_SECS: i64 = 300;
/// Larger bodies are refused before anything is parsed.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Entries a signature header may have: `t=` and a few `v1=` while a secret rotates.
pub const MAX_SIGNATURE_ENTRIES: usize = 8;

/// A webhook request as it arrived: some apps sign the method and URL with the body.
pub struct WebhookDelivery<'a> {
    pub method: &'a ::http::Method,
    /// The full URL the app called: Tandem's public address and the request's path.
    pub url: &'a str,
    pub headers: &'a ::http::HeaderMap,
    pub body: &'a [u8],
}

impl WebhookDelivery<'_> {
    /// A header's value, when it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

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
    #[error("the signature header has more than {MAX_SIGNATURE_ENTRIES} entries")]
    TooManySignatures,
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
            WebhookRejection::TooManySignatures | WebhookRejection::Malformed(_) => 400,
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
///
/// The MAC over the body is computed once, whatever the header holds: a header of many
/// entries is refused before any hashing, and each candidate costs only a finalisation.
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
    let entries: Vec<&str> = header.split(',').take(MAX_SIGNATURE_ENTRIES + 1).collect();
    if entries.len() > MAX_SIGNATURE_ENTRIES {
        return Err(WebhookRejection::TooManySignatures);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in entries {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookRejection::BadSignature)?;
    let age_secs = now.timestamp() - timestamp;
    if age_secs.abs() > TOLERANCE_SECS {
        return Err(WebhookRejection::Stale { age_secs });
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time; a clone of the state after the body
    // finalises in constant time too.
    let valid = signatures
        .iter()
        .filter_map(|sig| hex::decode(sig).ok())
        .any(|candidate| mac.clone().verify_slice(&candidate).is_ok());
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
    fn a_few_candidates_are_tried_and_many_are_refused() {
        let now = Utc::now();
        let t = now.timestamp();
        let good = sign("s", t, b"{}");
        let few = format!("t={t},v1=00,v1=,v1={good}");
        assert_eq!(verify_signature("s", Some(&few), b"{}", now), Ok(()));
        let many = format!("t={t},{}v1={good}", "v1=,".repeat(MAX_SIGNATURE_ENTRIES));
        assert_eq!(
            verify_signature("s", Some(&many), b"{}", now),
            Err(WebhookRejection::TooManySignatures)
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
