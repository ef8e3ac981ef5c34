//! Webhook delivery as HubSpot's Webhooks API does it: events of API writes are queued,
//! collected for ~100 ms (or until 100 are waiting) and POSTed as one JSON array to the app's
//! target URL, signed with the app's client secret. A failed delivery (connection error,
//! timeout, 429 or 5xx; HubSpot does not retry other 4xx) is retried a few times with
//! `attemptNumber` counting up; HubSpot retries up to 10 times over 24 hours, here over ~3 s.

use crate::auth::Principal;
use crate::store::{Change, Ref};
use crate::{lock, now_ms};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

const BATCH_MAX: usize = 100;
const COLLECT: Duration = Duration::from_millis(100);
const ATTEMPTS: u32 = 4;
const RETRY_BASE: Duration = Duration::from_millis(250);
/// HubSpot gives the target 5 seconds to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct HookState {
    target: Option<String>,
    enabled: bool,
    queue: VecDeque<Value>,
    next_event_id: u64,
    drop_next: u64,
    batches_sent: u64,
    batches_failed: u64,
    batches_dropped: u64,
    events_sent: u64,
}

pub struct Webhooks {
    state: Mutex<HookState>,
    wake: Notify,
    client: reqwest::Client,
    secret: Option<String>,
    portal_id: u64,
}

/// The characters HubSpot's v3 validation decodes in the request URI before signing.
const DECODED: &[(&str, char)] = &[
    ("3A", ':'),
    ("2F", '/'),
    ("3F", '?'),
    ("40", '@'),
    ("21", '!'),
    ("24", '$'),
    ("27", '\''),
    ("28", '('),
    ("29", ')'),
    ("2A", '*'),
    ("2C", ','),
    ("3B", ';'),
];

fn signed_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3).unwrap_or_default();
        match DECODED
            .iter()
            .find(|(hex, _)| hex.eq_ignore_ascii_case(code))
        {
            Some((_, c)) => {
                out.push(*c);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `X-HubSpot-Signature-v3`: base64(HMAC-SHA256(secret, method + URI + body + timestamp)).
pub fn signature_v3(secret: &str, method: &str, uri: &str, body: &str, timestamp: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    for part in [method, &signed_uri(uri), body, timestamp] {
        mac.update(part.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `X-HubSpot-Signature` (v1, which webhook requests declare): hex(SHA-256(secret + body)).
fn signature_v1(secret: &str, body: &str) -> String {
    Sha256::digest(format!("{secret}{body}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn subscription_id(kind: &str) -> u64 {
    // Stable per subscription type, as each is one subscription of the app.
    let known = [
        "contact.creation",
        "contact.propertyChange",
        "contact.deletion",
        "contact.associationChange",
        "company.creation",
        "company.propertyChange",
        "company.deletion",
        "company.associationChange",
        "deal.creation",
        "deal.propertyChange",
        "deal.deletion",
        "deal.associationChange",
    ];
    9_000_001 + known.iter().position(|k| *k == kind).unwrap_or(known.len()) as u64
}

impl Webhooks {
    pub fn new(secret: Option<String>, portal_id: u64) -> Self {
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .expect("the HTTP client builds");
        Self {
            state: Mutex::new(HookState::default()),
            wake: Notify::new(),
            client,
            secret,
            portal_id,
        }
    }

    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// The app's webhook settings: where to send, and whether to send at all.
    pub fn configure(&self, target: Option<String>, enabled: bool) {
        let mut s = lock(&self.state);
        s.target = target;
        s.enabled = enabled;
        if !enabled {
            s.queue.clear();
        }
    }

    pub fn drop_next(&self, n: u64) {
        lock(&self.state).drop_next = n;
    }

    pub fn stats(&self) -> Value {
        let s = lock(&self.state);
        json!({
            "target_url": s.target,
            "enabled": s.enabled,
            "queued_events": s.queue.len(),
            "events_sent": s.events_sent,
            "batches_sent": s.batches_sent,
            "batches_failed": s.batches_failed,
            "batches_dropped": s.batches_dropped,
            "drop_next": s.drop_next,
        })
    }

    pub fn reset_stats(&self) {
        let mut s = lock(&self.state);
        s.events_sent = 0;
        s.batches_sent = 0;
        s.batches_failed = 0;
        s.batches_dropped = 0;
    }

    /// Turns API changes into events, when the app has webhooks on.
    pub fn enqueue(&self, changes: Vec<Change>, who: &Principal) {
        if changes.is_empty() {
            return;
        }
        let mut guard = lock(&self.state);
        let s = &mut *guard;
        if !s.enabled || s.target.is_none() {
            return;
        }
        let occurred = now_ms();
        let base = |s: &mut HookState, kind: String| {
            s.next_event_id += 1;
            json!({
                "eventId": s.next_event_id,
                "subscriptionId": subscription_id(&kind),
                "portalId": self.portal_id,
                "appId": crate::auth::APP_ID,
                "occurredAt": occurred,
                "subscriptionType": kind,
                "attemptNumber": 0,
                "changeSource": "INTEGRATION",
                "sourceId": who.app_id().to_string(),
            })
        };
        let kind = |r: Ref, what: &str| format!("{}.{what}", r.0.singular());
        for change in changes {
            match change {
                Change::Created(r) => {
                    let mut e = base(&mut *s, kind(r, "creation"));
                    e["objectId"] = json!(r.1);
                    s.queue.push_back(e);
                }
                Change::Deleted(r) => {
                    let mut e = base(&mut *s, kind(r, "deletion"));
                    e["objectId"] = json!(r.1);
                    s.queue.push_back(e);
                }
                Change::Property {
                    target,
                    name,
                    value,
                } => {
                    let mut e = base(&mut *s, kind(target, "propertyChange"));
                    e["objectId"] = json!(target.1);
                    e["propertyName"] = json!(name);
                    e["propertyValue"] = json!(value);
                    s.queue.push_back(e);
                }
                Change::Association { from, to, removed } => {
                    // HubSpot reports an association change from both sides.
                    for (a, b) in [(from, to), (to, from)] {
                        let mut e = base(&mut *s, kind(a, "associationChange"));
                        e["associationType"] = json!(format!(
                            "{}_TO_{}",
                            a.0.singular().to_uppercase(),
                            b.0.singular().to_uppercase()
                        ));
                        e["fromObjectId"] = json!(a.1);
                        e["toObjectId"] = json!(b.1);
                        e["associationRemoved"] = json!(removed);
                        e["isPrimaryAssociation"] = json!(false);
                        s.queue.push_back(e);
                    }
                }
            }
        }
        drop(guard);
        self.wake.notify_one();
    }

    fn queued(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// The delivery loop: one batch at a time, in the order events were queued.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            let deadline = Instant::now() + COLLECT;
            while self.queued() < BATCH_MAX && Instant::now() < deadline {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = self.wake.notified() => {}
                }
            }
            loop {
                let batch: Vec<Value> = {
                    let mut s = lock(&self.state);
                    let n = s.queue.len().min(BATCH_MAX);
                    s.queue.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                self.deliver(batch).await;
            }
        }
    }

    async fn deliver(&self, mut batch: Vec<Value>) {
        let target = {
            let mut s = lock(&self.state);
            if s.drop_next > 0 {
                s.drop_next -= 1;
                s.batches_dropped += 1;
                return;
            }
            s.target.clone()
        };
        let (Some(target), Some(secret)) = (target, &self.secret) else {
            return;
        };
        for attempt in 0..ATTEMPTS {
            for e in &mut batch {
                e["attemptNumber"] = json!(attempt);
            }
            let body = Value::Array(batch.clone()).to_string();
            let timestamp = now_ms().to_string();
            let sent = self
                .client
                .post(&target)
                .header("content-type", "application/json")
                .header("x-hubspot-signature-version", "v1")
                .header("x-hubspot-signature", signature_v1(secret, &body))
                .header(
                    "x-hubspot-signature-v3",
                    signature_v3(secret, "POST", &target, &body, &timestamp),
                )
                .header("x-hubspot-request-timestamp", &timestamp)
                .body(body)
                .send()
                .await;
            let retry = match &sent {
                Ok(r) if r.status().is_success() => {
                    let mut s = lock(&self.state);
                    s.batches_sent += 1;
                    s.events_sent += batch.len() as u64;
                    return;
                }
                Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
                Err(_) => true,
            };
            tracing::warn!(attempt, target = %target, outcome = ?sent.map(|r| r.status()), "webhook delivery failed");
            if !retry {
                break;
            }
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(RETRY_BASE * 2u32.pow(attempt)).await;
            }
        }
        lock(&self.state).batches_failed += 1;
    }
}
