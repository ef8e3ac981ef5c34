//! The HubSpot-shaped REST API under `/api/crm/v3/…`, and its OpenAPI document at
//! `/api/openapi.json`.
//!
//! Bearer-token auth (a private app token; a session cookie works too), always scoped to
//! the caller's portal: another portal's record answers 404, exactly like a missing one,
//! so existence never leaks. Every error has one shape:
//! `{"status":"error","category":"VALIDATION_ERROR","message":"…","correlationId":"…",
//!   "errors":[{"field":"email","message":"…","in":"email"}],"hint":"…"}`
//! with HubSpot's categories and status codes (validation errors are 400, as HubSpot's).
//!
//! Handlers are thin: parse, call `records` / `associations` / `schema` / `pipelines`,
//! shape the JSON. Writes carry `WriteOrigin::ApiToken(token id)` (or the user's id
//! for a session), which ends up in the change feed and per-property metadata.
//!
//! One module per concern (`objects`, `search`, `batch`, `associations`, `properties`,
//! `pipelines`, `openapi`); this one assembles the router and holds what several of
//! them share: the error shape, the extractors, the record JSON and the paging helpers.

mod associations;
mod batch;
mod objects;
mod openapi;
mod pipelines;
mod properties;
mod search;

use crate::hub::records::{Cursor, Record};
use crate::hub::{self, schema};
use crate::model::crm::{ObjectType, WriteOrigin};
use crate::model::ApiError;
use crate::platform::auth::Principal;
use crate::platform::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// Default `limit` of the list and search endpoints (HubSpot's value).
const LIST_DEFAULT: usize = 10;

/// Every route of the REST API (method, path), also the OpenAPI document's list.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/crm/v3/objects/{object}"),
    ("post", "/api/crm/v3/objects/{object}"),
    ("get", "/api/crm/v3/objects/{object}/{id}"),
    ("patch", "/api/crm/v3/objects/{object}/{id}"),
    ("delete", "/api/crm/v3/objects/{object}/{id}"),
    ("post", "/api/crm/v3/objects/{object}/{id}/restore"),
    ("post", "/api/crm/v3/objects/{object}/search"),
    ("post", "/api/crm/v3/objects/{object}/batch/create"),
    ("post", "/api/crm/v3/objects/{object}/batch/read"),
    ("post", "/api/crm/v3/objects/{object}/batch/update"),
    ("post", "/api/crm/v3/objects/{object}/batch/upsert"),
    ("post", "/api/crm/v3/objects/{object}/batch/archive"),
    (
        "get",
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}",
    ),
    (
        "put",
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}/{toId}",
    ),
    (
        "delete",
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}/{toId}",
    ),
    (
        "put",
        "/api/crm/v4/objects/{object}/{id}/associations/default/{toObject}/{toId}",
    ),
    (
        "delete",
        "/api/crm/v4/objects/{object}/{id}/associations/{toObject}/{toId}",
    ),
    (
        "post",
        "/api/crm/v4/associations/{object}/{toObject}/batch/read",
    ),
    ("get", "/api/account-info/v3/details"),
    ("get", "/api/crm/v3/properties/{object}"),
    ("post", "/api/crm/v3/properties/{object}"),
    ("get", "/api/crm/v3/properties/{object}/{name}"),
    ("delete", "/api/crm/v3/properties/{object}/{name}"),
    ("get", "/api/crm/v3/pipelines/{object}"),
    ("post", "/api/crm/v3/pipelines/{object}"),
    ("get", "/api/crm/v3/pipelines/{object}/{pipelineId}"),
    ("get", "/api/crm/v3/pipelines/{object}/{pipelineId}/stages"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi::openapi))
        .route(
            "/api/crm/v3/objects/{object}",
            get(objects::list_objects).post(objects::create_object),
        )
        .route(
            "/api/crm/v3/objects/{object}/search",
            post(search::search_objects),
        )
        .route(
            "/api/crm/v3/objects/{object}/batch/{action}",
            post(batch::batch),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}",
            get(objects::read_object)
                .patch(objects::update_object)
                .delete(objects::archive_object),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/restore",
            post(objects::restore_object),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}",
            get(associations::list_associations),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}/{to_id}",
            put(associations::change_association).delete(associations::change_association),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}/{to_id}/{kind}",
            put(associations::change_association).delete(associations::change_association),
        )
        .route(
            "/api/crm/v4/objects/{object}/{id}/associations/default/{to}/{to_id}",
            put(associations::associate_default),
        )
        .route(
            "/api/crm/v4/objects/{object}/{id}/associations/{to}/{to_id}",
            axum::routing::delete(associations::change_association),
        )
        .route(
            "/api/crm/v4/associations/{object}/{to}/batch/read",
            post(associations::batch_read),
        )
        .route("/api/account-info/v3/details", get(account_details))
        .route(
            "/api/crm/v3/properties/{object}",
            get(properties::list_properties).post(properties::create_property),
        )
        .route(
            "/api/crm/v3/properties/{object}/{name}",
            get(properties::read_property).delete(properties::delete_property),
        )
        .route(
            "/api/crm/v3/pipelines/{object}",
            get(pipelines::list_pipelines).post(pipelines::create_pipeline),
        )
        .route(
            "/api/crm/v3/pipelines/{object}/{pipeline}",
            get(pipelines::read_pipeline),
        )
        .route(
            "/api/crm/v3/pipelines/{object}/{pipeline}/stages",
            get(pipelines::list_stages),
        )
}

/// HubSpot's account details: the portal a token reaches (clients read it to name the
/// connected account).
async fn account_details(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
) -> RestResult {
    let host = url::Url::parse(&state.config.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    Ok(Json(json!({
        "portalId": caller.principal.portal_id.to_string(),
        "uiDomain": host,
        "timeZone": "UTC",
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------
// Errors

/// An [`ApiError`] answered in HubSpot's error shape.
#[derive(Debug)]
pub struct RestError(pub ApiError);

impl From<ApiError> for RestError {
    fn from(e: ApiError) -> Self {
        RestError(e)
    }
}

impl From<hub::HubError> for RestError {
    fn from(e: hub::HubError) -> Self {
        RestError(e.into())
    }
}

impl From<sqlx::Error> for RestError {
    fn from(e: sqlx::Error) -> Self {
        RestError(e.into())
    }
}

/// HubSpot's category for an error, and the status we answer with.
pub fn category(err: &ApiError) -> (&'static str, StatusCode) {
    match (err.status, err.code.as_str()) {
        (401, _) => ("INVALID_AUTHENTICATION", StatusCode::UNAUTHORIZED),
        (403, _) => ("MISSING_SCOPES", StatusCode::FORBIDDEN),
        (404, _) => ("OBJECT_NOT_FOUND", StatusCode::NOT_FOUND),
        (409, _) => ("CONFLICT", StatusCode::CONFLICT),
        (429, _) => ("RATE_LIMITS", StatusCode::TOO_MANY_REQUESTS),
        (400, _) | (422, _) => ("VALIDATION_ERROR", StatusCode::BAD_REQUEST),
        (s, _) if (400..500).contains(&s) => ("VALIDATION_ERROR", StatusCode::BAD_REQUEST),
        _ => ("INTERNAL_ERROR", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

pub fn error_body(err: &ApiError) -> Value {
    let (category, _) = category(err);
    let errors: Vec<Value> = err
        .fields
        .iter()
        .map(|f| json!({ "field": f.field, "message": f.message, "in": f.field }))
        .collect();
    let mut body = json!({
        "status": "error",
        "category": category,
        "message": err.message,
        "correlationId": uuid::Uuid::new_v4(),
        "errors": errors,
    });
    if let Some(h) = &err.hint {
        body["hint"] = json!(h);
    }
    body
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let (_, status) = category(&self.0);
        let mut res = (status, Json(error_body(&self.0))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"tandem\""),
            );
        }
        res
    }
}

type RestResult = Result<Response, RestError>;

// ---------------------------------------------------------------------------------
// Extractors

/// The authenticated caller and the origin its writes carry.
pub struct Caller {
    pub principal: Principal,
    pub origin: WriteOrigin,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = RestError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = crate::platform::auth::authenticate(state, parts).await?;
        let origin = principal.write_origin();
        Ok(Caller { principal, origin })
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = RestError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(crate::platform::auth::authenticate(state, parts).await?)
    }
}

/// A JSON body whose errors answer in the REST error shape.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(format!("The request body could not be read: {e}"))
            })?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            RestError(
                ApiError::bad_request(format!(
                    "The request body is not valid JSON for this endpoint: {e}"
                ))
                .with_hint("See /api/openapi.json for the expected shape."),
            )
        })
    }
}

/// `/{object}`: a known object type.
pub struct ObjectPath(pub ObjectType);

impl<S: Send + Sync> FromRequestParts<S> for ObjectPath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(object) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(ObjectPath(object_of(&object)?))
    }
}

/// `/{object}/{id}` naming one record by its id: a known object type and a positive id.
pub struct RecordPath(pub ObjectType, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for RecordPath {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((object, id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let object = object_of(&object)?;
        Ok(RecordPath(object, id_of(object, &id)?))
    }
}

// ---------------------------------------------------------------------------------
// Helpers

fn object_of(s: &str) -> Result<ObjectType, RestError> {
    ObjectType::parse(s).ok_or_else(|| {
        RestError(
            ApiError::bad_request(format!("Unable to infer object type from: {s}"))
                .with_hint("Use contacts, companies, deals or invoices."),
        )
    })
}

/// A 404 with its own message.
fn not_found(message: String) -> RestError {
    RestError(ApiError::new(404, "not_found", message))
}

/// The 404 of a record that is missing (or in another portal, or archived).
fn record_not_found(object: ObjectType, id: &str) -> RestError {
    not_found(format!("There is no {} with id {id}.", object.singular()))
}

fn id_of(object: ObjectType, s: &str) -> Result<i64, RestError> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| record_not_found(object, s))
}

fn ts(d: DateTime<Utc>) -> String {
    schema::format_datetime(d)
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A batch holds 1 to `records::MAX_BATCH` inputs.
fn check_batch(inputs: usize) -> Result<(), RestError> {
    if (1..=hub::records::MAX_BATCH).contains(&inputs) {
        return Ok(());
    }
    Err(RestError(ApiError::field(
        "inputs",
        format!(
            "Send between 1 and {} inputs (got {inputs}).",
            hub::records::MAX_BATCH
        ),
    )))
}

fn require_admin(p: &Principal) -> Result<(), RestError> {
    if p.role.is_super_admin() {
        Ok(())
    } else {
        Err(RestError(ApiError::forbidden(
            "Only Super Admins can change properties and pipelines.",
            "Ask a Super Admin of your portal, or use a token created by one.",
        )))
    }
}

// ---------------------------------------------------------------------------------
// Paging

/// The cursor an `after` names; empty means the first page.
fn parse_after(after: Option<&str>) -> Result<Option<Cursor>, RestError> {
    match after.filter(|a| !a.is_empty()) {
        Some(a) => Cursor::decode(a).map(Some).ok_or_else(|| {
            RestError(
                ApiError::field("after", format!("“{a}” is not a paging cursor."))
                    .with_hint("Pass the `paging.next.after` value of the previous page."),
            )
        }),
        None => Ok(None),
    }
}

/// HubSpot shows the id as `after` for id order; other orders get the opaque cursor.
fn rest_cursor(c: &Cursor) -> String {
    if c.sort == "hs_object_id:asc" {
        c.id.to_string()
    } else {
        c.encode()
    }
}

// ---------------------------------------------------------------------------------
// Record JSON

/// Which properties a response shows.
enum Selection {
    /// Exactly these (unset ones as null).
    Names(Vec<String>),
    /// Everything set, plus the computed ones.
    All,
}

fn default_selection(object: ObjectType) -> Vec<String> {
    let names: &[&str] = match object {
        ObjectType::Contacts => &[
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname",
        ],
        ObjectType::Companies => &[
            "createdate",
            "domain",
            "hs_object_id",
            "lastmodifieddate",
            "name",
        ],
        ObjectType::Deals => &[
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_object_id",
            "lastmodifieddate",
            "pipeline",
        ],
        ObjectType::Invoices => &[
            "amount",
            "createdate",
            "currency",
            "due_date",
            "hs_object_id",
            "lastmodifieddate",
            "number",
            "status",
        ],
    };
    names.iter().map(|s| s.to_string()).collect()
}

fn selection(object: ObjectType, asked: Vec<String>) -> Selection {
    if asked.iter().any(|p| p == "*") {
        Selection::All
    } else if asked.is_empty() {
        Selection::Names(default_selection(object))
    } else {
        Selection::Names(asked)
    }
}

fn object_json(r: &Record, sel: &Selection) -> Value {
    let all = r.with_computed();
    let props: Map<String, Value> = match sel {
        Selection::All => all
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
        Selection::Names(names) => names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    all.get(n)
                        .map(|v| Value::String(v.clone()))
                        .unwrap_or(Value::Null),
                )
            })
            .collect(),
    };
    let mut o = json!({
        "id": r.id.to_string(),
        "properties": props,
        "createdAt": ts(r.created_at),
        "updatedAt": ts(r.updated_at),
        "archived": r.is_archived(),
    });
    if let Some(a) = r.archived_at {
        o["archivedAt"] = json!(ts(a));
    }
    o
}

async fn with_associations(
    state: &AppState,
    portal: uuid::Uuid,
    r: &Record,
    to: &[ObjectType],
    o: &mut Value,
) -> Result<(), RestError> {
    if to.is_empty() {
        return Ok(());
    }
    let mut map = Map::new();
    for t in to {
        // The first page, as HubSpot's record reads do; the list endpoint pages on.
        let ids = hub::associations::list_ids(
            &state.pool,
            portal,
            (r.object, r.id),
            *t,
            0,
            ASSOCIATIONS_MAX as i64,
        )
        .await?;
        if ids.is_empty() {
            continue;
        }
        map.insert(t.as_str().to_string(), association_list(r.object, *t, &ids));
    }
    o["associations"] = Value::Object(map);
    Ok(())
}

/// Most associated ids one answer lists (HubSpot's page size for associations).
const ASSOCIATIONS_MAX: usize = 500;

/// `{"results":[{"id","type"}]}`: the records of `to` one of `from` is associated with.
fn association_list(from: ObjectType, to: ObjectType, ids: &[i64]) -> Value {
    let label = hub::associations::type_label(from, to);
    let results: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id.to_string(), "type": label }))
        .collect();
    json!({ "results": results })
}
