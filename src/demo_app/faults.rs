//! Fault injection: random 5xx answers, a per-token rate limit (429 + `Retry-After`),
//! added latency, and dropped, duplicated or delayed webhook deliveries. Settings start
//! from the environment and change at runtime through `POST /admin/faults`; they live in
//! this process's memory.

use super::DemoState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `requests` per access token in each window of `window_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: u32,
    pub window_secs: u64,
}

impl Default for RateLimit {
    /// HubSpot's limit for private apps: 100 requests every 10 seconds.
    fn default() -> Self {
        RateLimit {
            requests: 100,
            window_secs: 10,
        }
    }
}

impl RateLimit {
    /// `100/10` (requests per seconds), or `off` / `0` for no limit.
    pub fn parse(s: &str) -> Option<Option<RateLimit>> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s == "0" {
            return Some(None);
        }
        let (n, secs) = s.split_once('/')?;
        let requests: u32 = n.trim().parse().ok()?;
        let window_secs: u64 = secs.trim().parse().ok()?;
        if requests == 0 || window_secs == 0 {
            return None;
        }
        Some(Some(RateLimit {
            requests,
            window_secs,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Share of `/v1` requests answered 500, 502 or 503 instead of being served.
    pub error_rate: f64,
    /// Added to every `/v1` request.
    pub latency_ms: u64,
    /// `null`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Share of webhook deliveries recorded as sent but never sent.
    pub webhook_drop_rate: f64,
    /// Share of webhook deliveries sent twice.
    pub webhook_duplicate_rate: f64,
    /// Wait before each webhook delivery attempt.
    pub webhook_delay_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            latency_ms: 0,
            rate_limit: Some(RateLimit::default()),
            webhook_drop_rate: 0.0,
            webhook_duplicate_rate: 0.0,
            webhook_delay_ms: 0,
        }
    }
}

/// A partial update of [`Faults`]: only the keys present change. `rate_limit` accepts
/// `{"requests":N,"window_secs":S}`, `"N/S"`, or `null`/`"off"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    pub error_rate: Option<f64>,
    pub latency_ms: Option<u64>,
    #[serde(default, deserialize_with = "patch_rate_limit")]
    pub rate_limit: Option<Option<RateLimit>>,
    pub webhook_drop_rate: Option<f64>,
    pub webhook_duplicate_rate: Option<f64>,
    pub webhook_delay_ms: Option<u64>,
}

fn patch_rate_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<RateLimit>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        Text(String),
        Limit(RateLimit),
    }
    match Option::<Input>::deserialize(d)? {
        None => Ok(Some(None)),
        Some(Input::Limit(l)) if l.requests > 0 && l.window_secs > 0 => Ok(Some(Some(l))),
        Some(Input::Limit(_)) => Err(serde::de::Error::custom(
            "rate_limit needs requests and window_secs above 0 (or null for no limit)",
        )),
        Some(Input::Text(s)) => RateLimit::parse(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom("rate_limit must look like \"100/10\" or \"off\"")
        }),
    }
}

impl Faults {
    pub fn apply(&mut self, patch: FaultsPatch) -> Result<(), String> {
        for (name, value) in [
            ("error_rate", patch.error_rate),
            ("webhook_drop_rate", patch.webhook_drop_rate),
            ("webhook_duplicate_rate", patch.webhook_duplicate_rate),
        ] {
            if let Some(v) = value {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!(
                        "{name} must be between 0 and 1 (a share of requests), got {v}"
                    ));
                }
            }
        }
        if let Some(v) = patch.error_rate {
            self.error_rate = v;
        }
        if let Some(v) = patch.latency_ms {
            self.latency_ms = v.min(60_000);
        }
        if let Some(v) = patch.rate_limit {
            self.rate_limit = v;
        }
        if let Some(v) = patch.webhook_drop_rate {
            self.webhook_drop_rate = v;
        }
        if let Some(v) = patch.webhook_duplicate_rate {
            self.webhook_duplicate_rate = v;
        }
        if let Some(v) = patch.webhook_delay_ms {
            self.webhook_delay_ms = v.min(600_000);
        }
        Ok(())
    }

    /// The status of an injected failure, or `None` to serve the request.
    pub fn roll_error(&self) -> Option<StatusCode> {
        if self.error_rate <= 0.0 {
            return None;
        }
        let mut rng = rand::thread_rng();
        if rng.gen_bool(self.error_rate.min(1.0)) {
            Some(
                [
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::BAD_GATEWAY,
                    StatusCode::SERVICE_UNAVAILABLE,
                ][rng.gen_range(0..3)],
            )
        } else {
            None
        }
    }
}

/// Fixed-window request counters per access token (hash), in memory.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
    /// The most requests one token had served in one window: how much of the limit a
    /// client used at its busiest.
    peak: AtomicU32,
}

impl RateLimiter {
    /// Counts one request; `Err(seconds to wait)` when the token is over its limit.
    pub fn check(&self, key: &str, limit: RateLimit) -> Result<(), u64> {
        let now = Instant::now();
        let window = Duration::from_secs(limit.window_secs);
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit.requests {
            let left = window.saturating_sub(now.duration_since(entry.0));
            // Retry-After is whole seconds, rounded up so a client that honours it succeeds.
            return Err(left.as_millis().div_ceil(1000).max(1) as u64);
        }
        entry.1 += 1;
        self.peak.fetch_max(entry.1, Ordering::Relaxed);
        Ok(())
    }

    pub fn peak(&self) -> u32 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn reset_peak(&self) {
        self.peak.store(0, Ordering::Relaxed);
    }

    pub fn reset(&self) {
        self.reset_peak();
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

pub async fn get_faults(State(state): State<DemoState>) -> Response {
    Json(state.faults()).into_response()
}

pub async fn post_faults(State(state): State<DemoState>, body: Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": "bad_request",
                    "message": format!("The body is not a valid faults object: {e}. Keys: error_rate, latency_ms, rate_limit, webhook_drop_rate, webhook_duplicate_rate, webhook_delay_ms."),
                })),
            )
                .into_response()
        }
    };
    let updated = {
        let mut faults = state.faults.write().unwrap_or_else(|p| p.into_inner());
        if let Err(message) = faults.apply(patch) {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": "validation", "message": message})),
            )
                .into_response();
        }
        faults.clone()
    };
    // A new limit starts with fresh windows, so tests see it take effect at once.
    state.limiter.reset();
    tracing::info!(?updated, "fault settings changed");
    Json(updated).into_response()
}

/// Back to the settings the process started with.
pub async fn reset_faults(State(state): State<DemoState>) -> Response {
    let initial = state.config.faults.clone();
    *state.faults.write().unwrap_or_else(|p| p.into_inner()) = initial.clone();
    state.limiter.reset();
    Json(initial).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            RateLimit::parse("100/10"),
            Some(Some(RateLimit {
                requests: 100,
                window_secs: 10
            }))
        );
        assert_eq!(RateLimit::parse("off"), Some(None));
        assert_eq!(RateLimit::parse("0"), Some(None));
        assert_eq!(RateLimit::parse("10"), None);
        assert_eq!(RateLimit::parse("0/10"), None);
    }

    #[test]
    fn the_limiter_refuses_above_the_limit_per_key() {
        let l = RateLimiter::default();
        let limit = RateLimit {
            requests: 2,
            window_secs: 30,
        };
        assert!(l.check("a", limit).is_ok());
        assert!(l.check("a", limit).is_ok());
        let wait = l.check("a", limit).unwrap_err();
        assert!((1..=30).contains(&wait));
        assert!(
            l.check("b", limit).is_ok(),
            "another token has its own window"
        );
    }

    #[test]
    fn patches_change_only_what_they_name() {
        let mut f = Faults::default();
        let p: FaultsPatch =
            serde_json::from_str(r#"{"error_rate":0.5,"rate_limit":"5/60"}"#).unwrap();
        f.apply(p).unwrap();
        assert_eq!(f.error_rate, 0.5);
        assert_eq!(
            f.rate_limit,
            Some(RateLimit {
                requests: 5,
                window_secs: 60
            })
        );
        assert_eq!(f.latency_ms, 0);
        let p: FaultsPatch = serde_json::from_str(r#"{"rate_limit":null}"#).unwrap();
        f.apply(p).unwrap();
        assert_eq!(f.rate_limit, None);
        assert_eq!(f.error_rate, 0.5);
        let p: FaultsPatch = serde_json::from_str(r#"{"error_rate":2}"#).unwrap();
        assert!(f.apply(p).is_err());
        assert!(serde_json::from_str::<FaultsPatch>(r#"{"eror_rate":1}"#).is_err());
    }
}
