//! HubSpot's webhooks (v3 signatures): a delivery is a JSON array of up to 100 events
//! that carry only object ids, signed with the app's client secret as
//! `base64(HMAC-SHA256(secret, method + uri + body + timestamp))` in
//! `X-HubSpot-Signature-v3`, the timestamp (ms) in `X-HubSpot-Request-Timestamp`.

use super::super::webhook::{WebhookRejection, MAX_BODY_BYTES, TOLERANCE_SECS};
use super::super::{WebhookKind, WebhookNotice};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";

/// The MAC HubSpot signs a request to `uri` (the full URL it called) with.
fn mac(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp_ms.to_string().as_bytes());
    mac
}

/// The v3 signature header of a request.
pub fn sign(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(
        mac(secret, method, uri, body, timestamp_ms)
            .finalize()
            .into_bytes(),
    )
}

/// Checks the signature (in constant time) and the timestamp, then parses the events.
pub fn verify(
    secret: &str,
    method: &str,
    uri: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<WebhookNotice>, WebhookRejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookRejection::TooLarge);
    }
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(WebhookRejection::MissingSignature);
    };
    let timestamp_ms: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookRejection::Malformed("the timestamp is not a number".into()))?;
    let age_secs = (now.timestamp_millis() - timestamp_ms) / 1000;
    if age_secs.abs() > TOLERANCE_SECS {
        return Err(WebhookRejection::Stale { age_secs });
    }
    let expected = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| WebhookRejection::BadSignature)?;
    mac(secret, method, uri, body, timestamp_ms)
        .verify_slice(&expected)
        .map_err(|_| WebhookRejection::BadSignature)?;
    parse(body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_id: serde_json::Value,
    subscription_type: String,
    object_id: serde_json::Value,
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `contact.propertyChange` → a change of `contacts`; `….deletion` a deletion.
fn parse(body: &[u8]) -> Result<Vec<WebhookNotice>, WebhookRejection> {
    let events: Vec<Event> =
        serde_json::from_slice(body).map_err(|e| WebhookRejection::Malformed(e.to_string()))?;
    events
        .into_iter()
        .map(|e| {
            let delivery_id = text(&e.event_id)
                .ok_or_else(|| WebhookRejection::Malformed("an event has no eventId".into()))?;
            let (kind, action) = e
                .subscription_type
                .split_once('.')
                .unwrap_or((e.subscription_type.as_str(), ""));
            let object = match kind {
                "contact" => Some("contacts"),
                "company" => Some("companies"),
                "deal" => Some("deals"),
                _ => None,
            };
            let kind = match (object, text(&e.object_id)) {
                (Some(object), Some(id)) => WebhookKind::RecordChanged {
                    object: object.into(),
                    id,
                    deleted: action == "deletion",
                },
                _ => WebhookKind::Other {
                    r#type: e.subscription_type.clone(),
                },
            };
            Ok(WebhookNotice { delivery_id, kind })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "https://tandem.example.com/webhooks/abc";
    const BODY: &[u8] = br#"[{"eventId":101,"subscriptionId":7,"portalId":62515,"occurredAt":1764756000000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":42,"propertyName":"email","propertyValue":"a@b.c","changeSource":"CRM_UI"},{"eventId":102,"subscriptionType":"deal.deletion","objectId":"9"},{"eventId":103,"subscriptionType":"contact.associationChange","objectId":0}]"#;

    fn check(
        signature: &str,
        timestamp: i64,
        now_ms: i64,
    ) -> Result<Vec<WebhookNotice>, WebhookRejection> {
        verify(
            "client-secret",
            "POST",
            URI,
            Some(signature),
            Some(&timestamp.to_string()),
            BODY,
            DateTime::from_timestamp_millis(now_ms).unwrap(),
        )
    }

    #[test]
    fn a_signed_batch_becomes_one_notice_per_event() {
        let ts = 1_764_756_000_000;
        let notices = check(
            &sign("client-secret", "POST", URI, BODY, ts),
            ts,
            ts + 2_000,
        )
        .unwrap();
        assert_eq!(notices.len(), 3);
        assert_eq!(notices[0].delivery_id, "101");
        assert_eq!(
            notices[0].kind,
            WebhookKind::RecordChanged {
                object: "contacts".into(),
                id: "42".into(),
                deleted: false
            }
        );
        assert_eq!(
            notices[1].kind,
            WebhookKind::RecordChanged {
                object: "deals".into(),
                id: "9".into(),
                deleted: true
            }
        );
        assert!(matches!(notices[2].kind, WebhookKind::RecordChanged { .. }));
    }

    #[test]
    fn forged_stale_and_unsigned_deliveries_are_refused() {
        let ts = 1_764_756_000_000;
        let good = sign("client-secret", "POST", URI, BODY, ts);
        assert_eq!(
            check(&sign("other-secret", "POST", URI, BODY, ts), ts, ts),
            Err(WebhookRejection::BadSignature)
        );
        // Signed for another endpoint (the URI is part of the signature).
        assert_eq!(
            check(
                &sign("client-secret", "POST", "https://evil/", BODY, ts),
                ts,
                ts
            ),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            check("not base64!", ts, ts),
            Err(WebhookRejection::BadSignature)
        );
        assert!(matches!(
            check(&good, ts, ts + 301_000),
            Err(WebhookRejection::Stale { age_secs: 301 })
        ));
        assert_eq!(
            verify(
                "client-secret",
                "POST",
                URI,
                None,
                Some("1"),
                BODY,
                Utc::now()
            ),
            Err(WebhookRejection::MissingSignature)
        );
    }
}
