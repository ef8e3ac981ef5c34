//! Test-only control endpoints under `/_wire/` (and `/healthz`). They are not HubSpot's: they
//! stand for what a person does in the portal (webhook settings, data already there) and let
//! tests look at what the server saw. No auth, no rate limits, no webhooks.

use crate::error::{ApiError, Body};
use crate::objects::id_text;
use crate::schema::ObjectType;
use crate::{lock, now_ms, Shared};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Deserialize)]
pub struct WebhookSettings {
    target_url: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

pub async fn webhooks(
    State(app): State<Shared>,
    Body(s): Body<WebhookSettings>,
) -> Result<Json<Value>, ApiError> {
    if s.enabled && !app.hooks.has_secret() {
        return Err(ApiError::validation(
            "Webhooks need the app's client secret to sign requests: start hubspot-wire with --client-secret.",
        ));
    }
    // Stored as the client will send it, so the signed URI is the one the target sees.
    let target = match &s.target_url {
        Some(u) => Some(
            reqwest::Url::parse(u)
                .map_err(|e| ApiError::validation(format!("target_url is not a URL: {e}")))?
                .to_string(),
        ),
        None if s.enabled => {
            return Err(ApiError::validation(
                "target_url is required to enable webhooks.",
            ))
        }
        None => None,
    };
    app.hooks.configure(target.clone(), s.enabled);
    Ok(Json(json!({ "target_url": target, "enabled": s.enabled })))
}

#[derive(Deserialize)]
pub struct DropInput {
    next: u64,
}

pub async fn drop_batches(State(app): State<Shared>, Body(d): Body<DropInput>) -> Json<Value> {
    app.hooks.drop_next(d.next);
    Json(json!({ "drop_next": d.next }))
}

#[derive(Deserialize)]
pub struct SeedInput {
    object: String,
    count: u64,
    modified_from_ms: Option<i64>,
    #[serde(default)]
    modified_span_ms: i64,
    prefix: Option<String>,
}

pub async fn seed(
    State(app): State<Shared>,
    Body(s): Body<SeedInput>,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&s.object)?;
    if s.count == 0 || s.modified_span_ms < 0 {
        return Err(ApiError::validation(
            "count must be positive and modified_span_ms not negative.",
        ));
    }
    let from = s.modified_from_ms.unwrap_or_else(now_ms);
    let prefix = s.prefix.as_deref().unwrap_or("seed");
    let (first, last) = lock(&app.store).seed(obj, s.count, from, s.modified_span_ms, prefix)?;
    Ok(Json(
        json!({ "first_id": first.to_string(), "last_id": last.to_string() }),
    ))
}

#[derive(Deserialize)]
pub struct TouchInput {
    object: String,
    ids: Option<Vec<Value>>,
    #[serde(default)]
    all: bool,
    at_ms: Option<i64>,
}

pub async fn touch(
    State(app): State<Shared>,
    Body(t): Body<TouchInput>,
) -> Result<Json<Value>, ApiError> {
    let obj = ObjectType::parse(&t.object)?;
    let ids: Option<Vec<u64>> = match (&t.ids, t.all) {
        (_, true) => None,
        (Some(ids), false) => Some(ids.iter().filter_map(|v| id_text(v).parse().ok()).collect()),
        (None, false) => return Err(ApiError::validation("Give ids or \"all\": true.")),
    };
    let at = t.at_ms.unwrap_or_else(now_ms);
    let touched = lock(&app.store).touch(obj, ids.as_deref(), at);
    Ok(Json(json!({ "touched": touched })))
}

pub async fn stats(State(app): State<Shared>) -> Json<Value> {
    let mut out = lock(&app.limits).stats();
    out["webhooks"] = app.hooks.stats();
    Json(out)
}

pub async fn reset_stats(State(app): State<Shared>) -> Json<Value> {
    lock(&app.limits).reset_stats();
    app.hooks.reset_stats();
    Json(json!({ "reset": true }))
}

#[derive(Deserialize)]
pub struct ExpireInput {
    access_token: Option<String>,
}

/// Ends OAuth access tokens now, so tests need not wait out the 30 minutes.
pub async fn expire_tokens(State(app): State<Shared>, Body(e): Body<ExpireInput>) -> Json<Value> {
    let n = lock(&app.tokens).expire(e.access_token.as_deref(), now_ms());
    Json(json!({ "expired": n }))
}
