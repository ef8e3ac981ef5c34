//! `POST /webhooks/{connection_id}`: deliveries from connected apps. The signature and
//! timestamp are verified by the app's definition; rejected calls write nothing.
//! Accepted deliveries are handed to the engine (`engine::notices`), which stores them
//! durably (deduplicated by delivery id) and queues the work before we answer 2xx.

use crate::connectors::registry;
use crate::connectors::webhook::{WebhookDelivery, WebhookRejection, MAX_BODY_BYTES};
use crate::model::ConnectionStatus;
use crate::platform::connections;
use crate::platform::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;
use uuid::Uuid;

fn refuse(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({ "status": "error", "code": code, "message": message })),
    )
        .into_response()
}

/// 503 after a failure of Tandem's own (logged as `what`): the app should retry.
fn unavailable(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    refuse(
        503,
        "unavailable",
        "Tandem cannot store deliveries right now; retry later.",
    )
}

fn rejection(r: WebhookRejection) -> Response {
    let code = match r {
        WebhookRejection::MissingSignature | WebhookRejection::BadSignature => "bad_signature",
        WebhookRejection::Stale { .. } => "stale",
        WebhookRejection::TooLarge => "too_large",
        WebhookRejection::TooManySignatures | WebhookRejection::Malformed(_) => "malformed",
    };
    refuse(r.status(), code, &r.to_string())
}

/// Bodies larger than this are verified and parsed on the blocking pool.
const VERIFY_INLINE_BYTES: usize = 64 << 10;

pub async fn receive(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(connection_id) = Uuid::parse_str(&connection_id) else {
        return refuse(404, "not_found", "No such webhook endpoint.");
    };
    // Read at most one byte past the limit: enough to know it is too large.
    let bytes = match to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) if b.len() <= MAX_BODY_BYTES => b,
        _ => return rejection(WebhookRejection::TooLarge),
    };
    let target =
        match connections::webhook_target(&state.pool, &state.secret_key, connection_id).await {
            Ok(Some(t)) => t,
            Ok(None) => return refuse(404, "not_found", "No such webhook endpoint."),
            Err(e) => return unavailable("webhook target lookup failed", e),
        };
    let (Some(secret), ConnectionStatus::Connected | ConnectionStatus::NeedsReconnect) =
        (target.secret, target.status)
    else {
        return refuse(
            410,
            "gone",
            "This connection is disconnected; the subscription should be removed.",
        );
    };
    let Some(def) = registry::app_definition(&state.config.apps, &target.app) else {
        return refuse(404, "not_found", "No such webhook endpoint.");
    };
    let now = chrono::Utc::now();
    // Hashing and parsing a large body would hold an async worker for milliseconds.
    let off_thread = bytes.len() > VERIFY_INLINE_BYTES;
    let url = format!(
        "{}{}",
        state.config.public_url,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let check = move || {
        let delivery = WebhookDelivery {
            method: &method,
            url: &url,
            headers: &headers,
            body: &bytes,
        };
        let notices = def.verify_webhook(&secret, &delivery, now)?;
        let raw: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| WebhookRejection::Malformed(e.to_string()))?;
        Ok::<_, WebhookRejection>((notices, raw))
    };
    let checked = if off_thread {
        match tokio::task::spawn_blocking(check).await {
            Ok(checked) => checked,
            Err(e) => return unavailable("webhook verification did not finish", e),
        }
    } else {
        check()
    };
    let (notices, raw) = match checked {
        Ok(checked) => checked,
        Err(r) => return rejection(r),
    };
    match crate::engine::notices::receive(&state.pool, connection_id, &notices, &raw).await {
        Ok(0) => (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response(),
        Ok(_) => (StatusCode::OK, Json(json!({ "status": "stored" }))).into_response(),
        Err(e) => unavailable("storing a webhook delivery failed", e),
    }
}
