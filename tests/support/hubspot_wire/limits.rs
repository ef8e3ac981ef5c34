//! Per-token rate limits and request statistics, applied in front of every API route.
//!
//! As HubSpot documents: a rolling window (`--rate-max` per `--rate-interval-ms`) whose state
//! every non-search answer reports in `X-HubSpot-RateLimit-*` headers; a separate per-second
//! limit for the search endpoints, whose answers carry no such headers; and a daily count for
//! private-app tokens only (OAuth calls have no daily limit and get no `-Daily` headers). A 429
//! is not a served request: it uses up no quota. The day turns at midnight UTC (HubSpot turns
//! it in the portal's time zone).

use crate::auth::Principal;
use crate::error::ApiError;
use crate::{lock, now_ms, Shared};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub struct LimitConfig {
    pub rate_max: u64,
    pub interval_ms: u64,
    pub search_per_sec: u64,
    pub daily_max: u64,
    pub portal_id: u64,
}

#[derive(Default)]
struct Usage {
    window: VecDeque<Instant>,
    searches: VecDeque<Instant>,
    day: i64,
    daily: u64,
}

#[derive(Default)]
struct Stats {
    requests: u64,
    search_requests: u64,
    rate_limited: u64,
    max_in_window: u64,
    by_route: BTreeMap<String, u64>,
}

pub struct Limits {
    cfg: LimitConfig,
    usage: HashMap<String, Usage>,
    stats: Stats,
}

/// What the rate-limit headers report; `daily_remaining` only for private-app tokens.
struct Quota {
    remaining: u64,
    daily_remaining: Option<u64>,
}

struct Refusal {
    error: ApiError,
    /// The headers a refused non-search call still carries.
    quota: Option<Quota>,
}

fn rate_limited(message: &str, policy: &str, group: String) -> ApiError {
    ApiError::shaped(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "policyName": policy,
            "groupName": group,
        }),
    )
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= span) {
        q.pop_front();
    }
}

impl Limits {
    pub fn new(cfg: LimitConfig) -> Self {
        Self {
            cfg,
            usage: HashMap::new(),
            stats: Stats::default(),
        }
    }

    fn served(&mut self, route: &str, search: bool) {
        self.stats.requests += 1;
        if search {
            self.stats.search_requests += 1;
        }
        *self.stats.by_route.entry(route.to_string()).or_default() += 1;
    }

    /// Counts one call of `who` against its limits, or refuses it.
    fn admit(
        &mut self,
        who: &Principal,
        route: &str,
        search: bool,
    ) -> Result<Option<Quota>, Refusal> {
        let now = Instant::now();
        let day = now_ms().div_euclid(86_400_000);
        let cfg = &self.cfg;
        let u = self.usage.entry(who.token.clone()).or_default();
        if u.day != day {
            u.day = day;
            u.daily = 0;
        }
        prune(&mut u.window, now, Duration::from_millis(cfg.interval_ms));
        prune(&mut u.searches, now, Duration::from_secs(1));
        let daily_applies = !who.oauth;
        let quota = |u: &Usage| Quota {
            remaining: cfg.rate_max.saturating_sub(u.window.len() as u64),
            daily_remaining: daily_applies.then(|| cfg.daily_max.saturating_sub(u.daily)),
        };
        let kind = if who.oauth {
            "oauth-app"
        } else {
            "private-app"
        };
        let portal = cfg.portal_id;
        let refusal = if daily_applies && u.daily >= cfg.daily_max {
            Some(Refusal {
                error: rate_limited(
                    "You have reached your daily limit.",
                    "DAILY",
                    format!("publicapi:{kind}-api-calls-daily:{portal}"),
                ),
                quota: (!search).then(|| quota(u)),
            })
        } else if search && u.searches.len() as u64 >= cfg.search_per_sec {
            Some(Refusal {
                error: rate_limited(
                    "You have reached your secondly limit.",
                    "SECONDLY",
                    format!("publicapi:search-api-calls-secondly:{portal}"),
                ),
                quota: None,
            })
        } else if !search && u.window.len() as u64 >= cfg.rate_max {
            Some(Refusal {
                error: rate_limited(
                    "You have reached your ten_secondly_rolling limit.",
                    "TEN_SECONDLY_ROLLING",
                    format!("publicapi:{kind}-api-calls-ten-secondly:{portal}"),
                ),
                quota: Some(Quota {
                    remaining: 0,
                    ..quota(u)
                }),
            })
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.stats.rate_limited += 1;
            return Err(refusal);
        }
        u.daily += 1;
        let answer = if search {
            u.searches.push_back(now);
            None
        } else {
            u.window.push_back(now);
            let in_window = u.window.len() as u64;
            let q = quota(u);
            self.stats.max_in_window = self.stats.max_in_window.max(in_window);
            Some(q)
        };
        self.served(route, search);
        Ok(answer)
    }

    pub fn stats(&self) -> Value {
        json!({
            "requests": self.stats.requests,
            "search_requests": self.stats.search_requests,
            "rate_limited": self.stats.rate_limited,
            "max_in_window": self.stats.max_in_window,
            "window_ms": self.cfg.interval_ms,
            "rate_max": self.cfg.rate_max,
            "by_route": self.stats.by_route,
        })
    }

    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    fn headers(&self, quota: &Quota, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, v: u64| {
            headers.insert(name, HeaderValue::from(v));
        };
        set("x-hubspot-ratelimit-max", self.cfg.rate_max);
        set("x-hubspot-ratelimit-remaining", quota.remaining);
        set(
            "x-hubspot-ratelimit-interval-milliseconds",
            self.cfg.interval_ms,
        );
        if let Some(daily_remaining) = quota.daily_remaining {
            set("x-hubspot-ratelimit-daily", self.cfg.daily_max);
            set("x-hubspot-ratelimit-daily-remaining", daily_remaining);
        }
    }
}

/// Authenticates, applies the limits, counts the call, and adds the rate-limit headers.
pub async fn gate(
    State(app): State<Shared>,
    matched: MatchedPath,
    mut req: Request,
    next: Next,
) -> Response {
    let route = format!("{} {}", req.method(), matched.as_str());
    let search = req.method() == Method::POST && matched.as_str().ends_with("/search");
    let who = match lock(&app.tokens).check(req.headers(), now_ms()) {
        Ok(who) => who,
        Err(e) => {
            lock(&app.limits).served(&route, false);
            return e.into_response();
        }
    };
    let admitted = lock(&app.limits).admit(&who, &route, search);
    let quota = match admitted {
        Ok(quota) => quota,
        Err(refusal) => {
            let mut response = refusal.error.into_response();
            if let Some(q) = &refusal.quota {
                lock(&app.limits).headers(q, response.headers_mut());
            }
            return response;
        }
    };
    req.extensions_mut().insert(who);
    let mut response = next.run(req).await;
    if let Some(q) = &quota {
        lock(&app.limits).headers(q, response.headers_mut());
    }
    response
}
