//! The REST API under `/v1` (Bearer access tokens, scoped to the token's account) and
//! the admin endpoints that create events and seed accounts. The guard in front of
//! `/v1` applies, in order: added latency, authentication, scope, the per-token rate
//! limit, and injected errors — so an injected failure never has a side effect.

use super::events;
use super::oauth::{self, Caller};
use super::objects::{schema_json, Object};
use super::records::{
    self, BatchInput, BatchItem, ItemOutcome, ItemStatus, SearchBy, MAX_BATCH, MAX_PAGE,
};
use super::{seed, webhooks, DemoState};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// A JSON error: `{"error": code, "message": ...}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": code, "message": message.into()})),
    )
        .into_response()
}

/// A 200 JSON answer, serialised into one buffer: much cheaper than writing through
/// axum's `Json` in debug builds, which matters when tests page through 100,000 records.
fn ok(value: Value) -> Response {
    match serde_json::to_vec(&value) {
        Ok(bytes) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "demo app request failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "The demo app failed to handle the request; try again.",
    )
}

fn unauthorized(description: &str) -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge)
            .unwrap_or(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
    );
    res
}

/// The scope a request needs: webhooks management, reading, or writing.
fn needed_scope(method: &Method, path: &str) -> Option<&'static str> {
    if path == "/v1/me" {
        None
    } else if path.starts_with("/v1/webhooks") {
        Some("webhooks")
    } else if method == Method::GET || method == Method::HEAD || path.ends_with("/batch/read") {
        Some("crm.read")
    } else {
        Some("crm.write")
    }
}

pub async fn guard(State(state): State<DemoState>, mut req: Request, next: Next) -> Response {
    let faults = state.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return unauthorized("No access token: send Authorization: Bearer <access token>.");
    };
    let caller = match oauth::authenticate(&state.pool, &token).await {
        Ok(Ok(c)) => c,
        Ok(Err(why)) => return unauthorized(why),
        Err(e) => return internal(e),
    };
    if let Some(scope) = needed_scope(req.method(), req.uri().path()) {
        if !caller.has_scope(scope) {
            let mut res = (
                StatusCode::FORBIDDEN,
                Json(json!({
                    "error": "insufficient_scope",
                    "error_description": format!("This request needs the `{scope}` scope, which the token was not granted."),
                })),
            )
                .into_response();
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
                ))
                .unwrap_or(HeaderValue::from_static(
                    "Bearer error=\"insufficient_scope\"",
                )),
            );
            return res;
        }
    }
    if let Some(limit) = faults.rate_limit {
        if let Err(wait) = state.limiter.check(&caller.token_key, limit) {
            state.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut res = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "error": "rate_limited",
                    "message": format!(
                        "More than {} requests in {} seconds with this token; retry after {wait} seconds.",
                        limit.requests, limit.window_secs
                    ),
                    "retry_after": wait,
                })),
            )
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return res;
        }
    }
    if let Some(status) = faults.roll_error() {
        state.stats.errors_injected.fetch_add(1, Ordering::Relaxed);
        return error(
            status,
            "server_error",
            "Simulated failure (fault injection: error_rate); the request was not processed, retry it.",
        );
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn params(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn object_of(name: &str) -> Result<Object, Response> {
    Object::parse(name).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("There is no object `{name}`. Objects: contacts, companies, deals, invoices."),
        )
    })
}

fn limit_of(p: &HashMap<String, String>) -> Result<i64, Response> {
    match p.get("limit").filter(|s| !s.is_empty()) {
        None => Ok(MAX_PAGE),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(MAX_PAGE))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("limit must be a number from 1 to {MAX_PAGE}."),
                )
            }),
    }
}

/// Cursors are opaque to clients: `base64url("<kind>:<position>")`.
pub fn encode_cursor(kind: &str, position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

fn decode_cursor(kind: &str, p: &HashMap<String, String>) -> Result<i64, Response> {
    let Some(raw) = p.get("cursor").filter(|s| !s.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(raw.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(&format!("{kind}:"))
                .and_then(|n| n.parse::<i64>().ok())
        })
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "The cursor is not one this endpoint gave out; start again without a cursor.",
            )
        })
}

fn time_param(p: &HashMap<String, String>, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(raw) = p.get(name).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map(Some)
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("{name} must be a date-time like 2026-03-31T12:00:00Z."),
            )
        })
}

fn id_of(object: Object, raw: &str) -> Result<i64, Response> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| not_found(object, raw))
}

fn not_found(object: Object, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "There is no {} record with id {id} (it may have been deleted).",
            object.as_str()
        ),
    )
}

fn body_json<T: for<'de> Deserialize<'de>>(body: &Bytes, hint: &str) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("The body is not valid JSON of the expected shape ({e}). Expected {hint}."),
        )
    })
}

pub async fn me(Extension(caller): Extension<Caller>) -> Response {
    Json(json!({
        "account_id": caller.account_id.to_string(),
        "account_name": caller.account_name,
        "account_label": caller.account_label,
        "user": {"id": caller.user_id.to_string(), "username": caller.username, "name": caller.display_name},
        "scopes": caller.scopes,
    }))
    .into_response()
}

pub async fn schema(Path(object): Path<String>) -> Response {
    match object_of(&object) {
        Ok(o) => Json(schema_json(o)).into_response(),
        Err(r) => r,
    }
}

pub async fn list(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let p = params(query);
    let (object, limit, after, since) = match (|| {
        Ok::<_, Response>((
            object_of(&object)?,
            limit_of(&p)?,
            decode_cursor("id", &p)?,
            time_param(&p, "updated_since")?,
        ))
    })() {
        Ok(v) => v,
        Err(r) => return r,
    };
    // One more than asked tells whether there is a next page.
    match records::list(
        &state.pool,
        caller.account_id,
        object,
        after,
        limit + 1,
        since,
    )
    .await
    {
        Ok(mut rows) => {
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let next = match rows.last() {
                Some(last) if more => Value::String(encode_cursor("id", last.id)),
                _ => Value::Null,
            };
            ok(json!({
                "results": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
                "next_cursor": next,
            }))
        }
        Err(e) => internal(e),
    }
}

pub async fn get_one(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let object = match object_of(&object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Ok(num) = id_of(object, &id) else {
        return not_found(object, &id);
    };
    match records::get(&state.pool, caller.account_id, object, num).await {
        Ok(Some(r)) => ok(r.to_json()),
        Ok(None) => not_found(object, &id),
        Err(e) => internal(e),
    }
}

/// 400 unless a batch has 1 to [`MAX_BATCH`] items: "`{what}` 1 to 100 `{items}`; …".
fn batch_size(n: usize, what: &str, items: &str) -> Result<(), Response> {
    if n == 0 || n > MAX_BATCH {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{what} 1 to {MAX_BATCH} {items}; this one has {n}."),
        ));
    }
    Ok(())
}

/// `POST /v1/{object}/batch/read` `{"ids": [...]}`: up to a batch of records at once;
/// `missing` lists the ids that are unknown or deleted.
pub async fn batch_read(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let object = match object_of(&object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Body {
        ids: Vec<String>,
    }
    let body: Body = match body_json(&body, r#"{"ids": ["<id>", ...]}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = batch_size(body.ids.len(), "A batch read asks for", "ids") {
        return r;
    }
    let nums: Vec<i64> = body
        .ids
        .iter()
        .filter_map(|id| id_of(object, id).ok())
        .collect();
    match records::get_many(&state.pool, caller.account_id, object, &nums).await {
        Ok(found) => {
            let results: Vec<Value> = found.iter().map(|r| r.to_json()).collect();
            let present: std::collections::HashSet<String> = results
                .iter()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            let missing: Vec<&String> = body
                .ids
                .iter()
                .filter(|id| !present.contains(*id))
                .collect();
            ok(json!({ "results": results, "missing": missing }))
        }
        Err(e) => internal(e),
    }
}

pub async fn batch(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let object = match object_of(&object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Body {
        inputs: Vec<Value>,
    }
    let body: Body = match body_json(
        &body,
        r#"{"inputs": [{"id"?, "properties": {...}, "associations"?, "idempotency_key"?}]}"#,
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(r) = batch_size(body.inputs.len(), "A batch holds", "inputs") {
        return r;
    }
    let items: Vec<BatchItem> = body
        .inputs
        .into_iter()
        .map(|v| match serde_json::from_value::<BatchInput>(v) {
            Ok(i) => BatchItem::Input(i),
            Err(e) => BatchItem::Malformed(format!(
                "This input is not of the form {{\"id\"?, \"properties\": {{...}}, \"associations\"?, \"idempotency_key\"?}}: {e}."
            )),
        })
        .collect();
    let outcomes = match records::batch(&state.pool, caller.account_id, object, items).await {
        Ok(o) => o,
        Err(e) => return internal(format!("{e:#}")),
    };
    state.wake_webhooks();
    let results: Vec<Value> = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            ItemOutcome::Done {
                status,
                record,
                replayed,
            } => {
                let mut v = json!({
                    "index": index,
                    "status": if status == ItemStatus::Created { "created" } else { "updated" },
                    "record": record.to_json(),
                });
                if replayed {
                    v["replayed"] = Value::Bool(true);
                }
                v
            }
            ItemOutcome::Failed(e) => json!({"index": index, "status": "error", "error": e}),
        })
        .collect();
    ok(json!({ "results": results }))
}

pub async fn delete_one(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let object = match object_of(&object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Ok(num) = id_of(object, &id) else {
        return not_found(object, &id);
    };
    match records::delete(&state.pool, caller.account_id, object, num).await {
        Ok(true) => {
            state.wake_webhooks();
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => not_found(object, &id),
        Err(e) => internal(format!("{e:#}")),
    }
}

pub async fn search(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let object = match object_of(&object) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let p = params(query);
    let allowed: &[(&str, SearchBy)] = match object {
        Object::Contacts => &[("email", SearchBy::Email), ("name", SearchBy::Name)],
        Object::Companies => &[("domain", SearchBy::Domain), ("name", SearchBy::Name)],
        Object::Deals | Object::Invoices => &[("name", SearchBy::Name)],
    };
    let Some((by, value)) = allowed.iter().find_map(|(k, by)| {
        p.get(*k)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*by, v.clone()))
    }) else {
        let names: Vec<&str> = allowed.iter().map(|(k, _)| *k).collect();
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "Search {} by {}, e.g. ?{}=…",
                object.as_str(),
                names.join(" or "),
                names[0]
            ),
        );
    };
    match records::search(&state.pool, caller.account_id, object, by, &value).await {
        Ok(rows) => ok(json!({"results": rows.iter().map(|r| r.to_json()).collect::<Vec<_>>()})),
        Err(e) => internal(e),
    }
}

pub async fn changes(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let p = params(query);
    let (object, limit, after) = match (|| {
        Ok::<_, Response>((
            object_of(&object)?,
            limit_of(&p)?,
            decode_cursor("seq", &p)?,
        ))
    })() {
        Ok(v) => v,
        Err(r) => return r,
    };
    match records::changes(&state.pool, caller.account_id, object, after, limit).await {
        Ok(rows) => {
            // An empty page hands back the same cursor: poll it again later.
            let next = rows.last().map(|(seq, _)| *seq).unwrap_or(after);
            ok(json!({
                "results": rows.iter().map(|(_, r)| r.to_json()).collect::<Vec<_>>(),
                "next_cursor": encode_cursor("seq", next),
            }))
        }
        Err(e) => internal(e),
    }
}

pub async fn changes_latest(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(object): Path<String>,
) -> Response {
    if let Err(r) = object_of(&object) {
        return r;
    }
    match records::latest_seq(&state.pool, caller.account_id).await {
        Ok(seq) => Json(json!({"cursor": encode_cursor("seq", seq)})).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn pipelines(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let result = async {
        let mut conn = state.pool.acquire().await?;
        records::pipelines(&mut conn, caller.account_id).await
    }
    .await;
    match result {
        Ok(list) => Json(json!({"results": list.iter().map(|p| p.to_json()).collect::<Vec<_>>()}))
            .into_response(),
        Err(e) => internal(e),
    }
}

pub async fn associate(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    method: Method,
    Path((object, id, to_object, to_id)): Path<(String, String, String, String)>,
) -> Response {
    let (object, other) = match (object_of(&object), object_of(&to_object)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let (Ok(a), Ok(b)) = (id_of(object, &id), id_of(other, &to_id)) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no record with that id.",
        );
    };
    match records::associate(
        &state.pool,
        caller.account_id,
        object,
        a,
        other,
        b,
        method == Method::PUT,
    )
    .await
    {
        Ok(Ok(record)) => {
            state.wake_webhooks();
            Json(record.to_json()).into_response()
        }
        Ok(Err(records::AssociationError::NotFound(m))) => {
            error(StatusCode::NOT_FOUND, "not_found", m)
        }
        Ok(Err(records::AssociationError::NotAllowed(m))) => {
            error(StatusCode::BAD_REQUEST, "bad_request", m)
        }
        Err(e) => internal(format!("{e:#}")),
    }
}

pub async fn event_feed(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let p = params(query);
    let (limit, after, since) = match (|| {
        Ok::<_, Response>((
            limit_of(&p)?,
            decode_cursor("ev", &p)?,
            time_param(&p, "since")?,
        ))
    })() {
        Ok(v) => v,
        Err(r) => return r,
    };
    match events::feed(&state.pool, caller.account_id, after, since, limit).await {
        Ok(list) => {
            let next = list.last().map(|e| e.seq).unwrap_or(after);
            ok(json!({
                "results": list.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
                "next_cursor": encode_cursor("ev", next),
            }))
        }
        Err(e) => internal(e),
    }
}

pub async fn subscribe(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        url: String,
        secret: Option<String>,
    }
    let body: Body = match body_json(&body, r#"{"url": "https://…", "secret": "…"}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (url, secret) = match webhooks::check_subscription(&body.url, body.secret.as_deref()) {
        Ok(v) => v,
        Err(m) => return error(StatusCode::UNPROCESSABLE_ENTITY, "validation", m),
    };
    match webhooks::subscribe(&state.pool, caller.account_id, &url, &secret).await {
        Ok(sub) => {
            let mut v = sub.to_json();
            v["secret"] = Value::String(secret);
            (StatusCode::CREATED, Json(v)).into_response()
        }
        Err(e) => internal(e),
    }
}

pub async fn subscriptions(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match webhooks::subscriptions(&state.pool, caller.account_id).await {
        Ok(list) => Json(json!({"results": list.iter().map(|s| s.to_json()).collect::<Vec<_>>()}))
            .into_response(),
        Err(e) => internal(e),
    }
}

pub async fn unsubscribe(
    State(state): State<DemoState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let gone = || {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("There is no webhook subscription {id}."),
        )
    };
    let Ok(num) = id.trim().parse::<i64>() else {
        return gone();
    };
    match webhooks::unsubscribe(&state.pool, caller.account_id, num).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => gone(),
        Err(e) => internal(e),
    }
}

/// `POST /admin/events` `{"contact_id", "type": "email.opened"|"email.clicked",
/// "properties"?: {"subject", "url"}, "occurred_at"?}`.
pub async fn admin_event(State(state): State<DemoState>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        contact_id: Value,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        properties: Map<String, Value>,
        occurred_at: Option<DateTime<Utc>>,
    }
    let body: Body = match body_json(
        &body,
        r#"{"contact_id": "…", "type": "email.opened", "properties": {"subject": "…"}}"#,
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !events::TYPES.contains(&body.kind.as_str()) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("type must be one of {}.", events::TYPES.join(", ")),
        );
    }
    let raw = match &body.contact_id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(contact_id) = raw.trim().parse::<i64>().ok() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("There is no contact {raw}."),
        );
    };
    match events::create(
        &state.pool,
        None,
        contact_id,
        &body.kind,
        body.properties,
        body.occurred_at,
    )
    .await
    {
        Ok(Some(event)) => {
            state.wake_webhooks();
            (StatusCode::CREATED, Json(event.to_json())).into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("There is no live contact {raw}."),
        ),
        Err(e) => internal(format!("{e:#}")),
    }
}

/// `POST /admin/seed` `{"account", "contacts"?, "companies"?, "deals"?, "invoices"?,
/// "events"?}`: the same as `tandem demo-app seed`, for tests that only speak HTTP.
pub async fn admin_seed(State(state): State<DemoState>, body: Bytes) -> Response {
    let opts: seed::SeedOptions = match body_json(&body, r#"{"account": "acme", "contacts": 100}"#)
    {
        Ok(o) => o,
        Err(r) => return r,
    };
    if let Err(m) = seed::check_account_name(&opts.account) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "validation", m);
    }
    match seed::seed(&state.pool, &opts).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => internal(format!("{e:#}")),
    }
}
