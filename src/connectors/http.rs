//! The HTTP side every connector shares: a per-connection rate limiter (at most N
//! requests in any window, [`RateWindow`]; paused by 429 + Retry-After), bounded
//! concurrency, retries of transient failures with capped exponential backoff and
//! jitter, and one transparent token refresh on 401.
//!
//! Deciding *whether* to retry lives in [`ConnectorError::is_transient`]; *when* is the
//! backoff schedule here.

use super::error::{parse_retry_after, ConnectorError};
use super::rate_window::RateWindow;
use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Where a connector gets its access token; refreshing is the owner's business (it
/// stores rotated tokens and marks dead grants).
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn access_token(&self) -> Result<String, ConnectorError>;
    /// Called after the app refused `rejected`; returns a fresh token.
    async fn refresh(&self, rejected: &str) -> Result<String, ConnectorError>;
}

/// A fixed token: for tests and scripts.
pub struct StaticToken(pub String);

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<String, ConnectorError> {
        Ok(self.0.clone())
    }
    async fn refresh(&self, _rejected: &str) -> Result<String, ConnectorError> {
        Err(ConnectorError::ReconnectNeeded {
            message: "the access token was refused and cannot be refreshed".into(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// At most this many requests in any span of `per`.
    pub requests: u32,
    pub per: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Attempts per request, the first included.
    pub max_attempts: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
    /// Headers telling how many requests the app's window has left: at none, we pause
    /// for the window (another client of the account may have used it).
    pub rate_headers: Option<RateHeaders>,
}

/// The names of an app's rate-limit headers.
#[derive(Debug, Clone)]
pub struct RateHeaders {
    pub remaining: &'static str,
    pub interval_ms: &'static str,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            // Just under the demo app's (and HubSpot's) 100 per 10 s.
            requests: 95,
            per: Duration::from_secs(10),
            concurrency: 8,
            max_attempts: 8,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            rate_headers: None,
        }
    }
}

pub struct AppHttp {
    client: reqwest::Client,
    base_url: String,
    tokens: Arc<dyn TokenSource>,
    limiter: RateWindow,
    in_flight: Semaphore,
    /// No request leaves before this instant (set by a 429's Retry-After).
    paused_until: Mutex<Option<Instant>>,
    limits: HttpLimits,
    /// Set for HTTP Basic: the secret of `tokens` is then the password.
    basic_user: Option<String>,
}

impl AppHttp {
    pub fn new(base_url: &str, tokens: Arc<dyn TokenSource>, limits: HttpLimits) -> Self {
        AppHttp {
            client: reqwest::Client::builder()
                .timeout(limits.timeout)
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            tokens,
            limiter: RateWindow::new(limits.requests, limits.per),
            in_flight: Semaphore::new(limits.concurrency.max(1)),
            paused_until: Mutex::new(None),
            limits,
            basic_user: None,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Signs requests with HTTP Basic (`username` and the source's secret as password)
    /// instead of a Bearer token: CardDAV servers and app passwords.
    pub fn with_basic_auth(mut self, username: &str) -> Self {
        self.basic_user = Some(username.to_string());
        self
    }

    /// A JSON request with retries; `Ok(Value::Null)` for empty answers.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<Value, ConnectorError> {
        let answer = self
            .send(method, path, &[], |mut req| {
                req = req.query(query);
                if let Some(b) = body {
                    req = req.json(b);
                }
                req
            })
            .await?;
        if answer.body.trim().is_empty() || answer.status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        serde_json::from_str(&answer.body).map_err(|e| ConnectorError::Permanent {
            message: format!("the app answered invalid JSON: {e}"),
        })
    }

    /// Any request, with the rate limit, retries of transient failures and one credential
    /// refresh on 401. `build` adds the body and headers afresh for each attempt. A
    /// success, or a status in `accept` (a WebDAV 412, say), is the answer; any other
    /// status is classified into a [`ConnectorError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        accept: &[StatusCode],
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ConnectorError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.limits.min_backoff)
            .with_max_delay(self.limits.max_backoff)
            .with_jitter()
            .with_max_times(self.limits.max_attempts.saturating_sub(1))
            .build();
        let mut token = self.tokens.access_token().await?;
        let mut refreshed = false;
        loop {
            let err = match self.once(&method, path, accept, &build, &token).await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            match &err {
                ConnectorError::AuthExpired if !refreshed => {
                    refreshed = true;
                    token = self.tokens.refresh(&token).await?;
                    continue;
                }
                ConnectorError::AuthExpired => {
                    return Err(ConnectorError::ReconnectNeeded {
                        message: "the app refused freshly renewed credentials".into(),
                    })
                }
                ConnectorError::RateLimited { retry_after } => self.pause_for(*retry_after),
                _ => {}
            }
            if !err.is_transient() {
                return Err(err);
            }
            match backoff.next() {
                // A 429 waits at least what the app asked (the pause above), a 5xx the backoff.
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            }
        }
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        accept: &[StatusCode],
        build: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        token: &str,
    ) -> Result<Answer, ConnectorError> {
        let _slot = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| ConnectorError::Permanent {
                message: "connection is shutting down".into(),
            })?;
        let pause = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = pause {
            tokio::time::sleep_until(until).await;
        }
        self.limiter.until_ready().await;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base_url, path)
        };
        let req = self.client.request(method.clone(), url);
        let req = match &self.basic_user {
            Some(user) => req.basic_auth(user, Some(token)),
            None => req.bearer_auth(token),
        };
        let res = build(req)
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        self.note_window(&headers);
        let body = res
            .text()
            .await
            .map_err(|e| ConnectorError::from_transport(&e))?;
        if status.is_success() || accept.contains(&status) {
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        let err = ConnectorError::from_status(status.as_u16(), retry_after, &body);
        if let ConnectorError::RateLimited { .. } = err {
            tracing::debug!(path, retry_after = ?parse_retry_after(retry_after), "rate limited");
        }
        Err(err)
    }
}

impl AppHttp {
    /// Pauses until the app's window renews when its headers say it has no request left.
    fn note_window(&self, headers: &reqwest::header::HeaderMap) {
        let Some(names) = &self.limits.rate_headers else {
            return;
        };
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if number(names.remaining) != Some(0) {
            return;
        }
        self.pause_for(
            number(names.interval_ms)
                .map(Duration::from_millis)
                .unwrap_or(self.limits.per),
        );
    }

    /// No request leaves for `wait` (a longer pause already set stays).
    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }
}

/// An app's answer: its status, headers and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
