//! Request counters for tests and benchmarks: requests by endpoint pattern and status,
//! rate-limited and injected-error counts, webhook delivery outcomes. In memory, per
//! process; `POST /admin/stats/reset` zeroes them.

use super::DemoState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct Stats {
    /// "GET /v1/{object}" → status → count
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    since: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    pub rate_limited: AtomicU64,
    pub errors_injected: AtomicU64,
    pub webhooks: WebhookStats,
}

#[derive(Default)]
pub struct WebhookStats {
    /// HTTP requests made to receivers (duplicates included).
    pub attempts: AtomicU64,
    /// Deliveries a receiver acknowledged with 2xx.
    pub delivered: AtomicU64,
    /// Attempts that failed (non-2xx, timeout, connection error).
    pub failed_attempts: AtomicU64,
    /// Deliveries dropped by fault injection.
    pub dropped: AtomicU64,
    /// Extra copies sent by fault injection.
    pub duplicated: AtomicU64,
    /// Deliveries given up after the last attempt.
    pub gave_up: AtomicU64,
}

#[derive(Serialize)]
pub struct EndpointCount {
    pub endpoint: String,
    pub status: u16,
    pub count: u64,
}

impl Stats {
    pub fn record(&self, endpoint: String, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(endpoint).or_default().entry(status).or_default() += 1;
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        since.get_or_insert_with(chrono::Utc::now);
    }

    pub fn reset(&self) {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Some(chrono::Utc::now());
        for c in [
            &self.rate_limited,
            &self.errors_injected,
            &self.webhooks.attempts,
            &self.webhooks.delivered,
            &self.webhooks.failed_attempts,
            &self.webhooks.dropped,
            &self.webhooks.duplicated,
            &self.webhooks.gave_up,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let map = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let total: u64 = map.values().flat_map(|m| m.values()).sum();
        let list: Vec<EndpointCount> = map
            .iter()
            .flat_map(|(endpoint, by_status)| {
                by_status.iter().map(move |(status, count)| EndpointCount {
                    endpoint: endpoint.clone(),
                    status: *status,
                    count: *count,
                })
            })
            .collect();
        let by_endpoint: BTreeMap<&String, BTreeMap<String, u64>> = map
            .iter()
            .map(|(e, m)| (e, m.iter().map(|(s, c)| (s.to_string(), *c)).collect()))
            .collect();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "since": *self.since.lock().unwrap_or_else(|p| p.into_inner()),
            "requests_total": total,
            "requests": list,
            "by_endpoint": by_endpoint,
            "rate_limited": load(&self.rate_limited),
            "errors_injected": load(&self.errors_injected),
            "webhooks": {
                "attempts": load(&self.webhooks.attempts),
                "delivered": load(&self.webhooks.delivered),
                "failed_attempts": load(&self.webhooks.failed_attempts),
                "dropped": load(&self.webhooks.dropped),
                "duplicated": load(&self.webhooks.duplicated),
                "gave_up": load(&self.webhooks.gave_up),
            },
        })
    }
}

/// Counts every request by `METHOD /route/pattern` and final status (admin and health
/// endpoints excluded, so polling them does not disturb what a test measures).
pub async fn record(State(state): State<DemoState>, req: Request, next: Next) -> Response {
    let pattern = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let endpoint = format!("{} {pattern}", req.method());
    let response = next.run(req).await;
    if !(pattern.starts_with("/admin") || pattern == "/healthz") {
        state.stats.record(endpoint, response.status().as_u16());
    }
    response
}

pub async fn get_stats(State(state): State<DemoState>) -> Response {
    let mut body = state.stats.snapshot();
    body["rate_limit_peak_window"] = json!(state.limiter.peak());
    // Queue depth comes from the database: it is shared by every demo-app process.
    if let Ok(pending) = super::webhooks::pending_count(&state.pool).await {
        body["webhooks"]["pending"] = json!(pending);
    }
    Json(body).into_response()
}

pub async fn reset_stats(State(state): State<DemoState>) -> Response {
    state.stats.reset();
    state.limiter.reset_peak();
    get_stats(State(state)).await
}
