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

use crate::hub::records::{self, Cursor, Filter, FilterOp, ListQuery, Record, Sort, SortDir};
use crate::hub::{associations, pipelines, schema};
use crate::model::crm::{
    NewPropertyRequest, ObjectType, PipelineView, PropertyDef, PropertyOption, PropertyType,
    WriteOrigin,
};
use crate::model::ApiError;
use crate::platform::auth::Principal;
use crate::platform::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::request::Parts;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Default and largest `limit` of the list endpoint (HubSpot's values).
const LIST_DEFAULT: usize = 10;
const LIST_MAX: usize = 100;
const SEARCH_MAX: usize = 200;
/// Search `total` counts at most this many (HubSpot's search stops at 10,000 too).
const TOTAL_CAP: i64 = 10_000;

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
        .route("/api/openapi.json", get(openapi))
        .route(
            "/api/crm/v3/objects/{object}",
            get(list_objects).post(create_object),
        )
        .route("/api/crm/v3/objects/{object}/search", post(search_objects))
        .route("/api/crm/v3/objects/{object}/batch/{action}", post(batch))
        .route(
            "/api/crm/v3/objects/{object}/{id}",
            get(read_object).patch(update_object).delete(archive_object),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/restore",
            post(restore_object),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}",
            get(list_associations),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}/{to_id}",
            put(associate).delete(dissociate),
        )
        .route(
            "/api/crm/v3/objects/{object}/{id}/associations/{to}/{to_id}/{kind}",
            put(associate_typed).delete(dissociate_typed),
        )
        .route(
            "/api/crm/v3/properties/{object}",
            get(list_properties).post(create_property),
        )
        .route(
            "/api/crm/v3/properties/{object}/{name}",
            get(read_property).delete(delete_property),
        )
        .route(
            "/api/crm/v3/pipelines/{object}",
            get(list_pipelines).post(create_pipeline),
        )
        .route(
            "/api/crm/v3/pipelines/{object}/{pipeline}",
            get(read_pipeline),
        )
        .route(
            "/api/crm/v3/pipelines/{object}/{pipeline}/stages",
            get(list_stages),
        )
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

impl From<crate::hub::HubError> for RestError {
    fn from(e: crate::hub::HubError) -> Self {
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

/// Query parameters; `properties=a,b&properties=c` both work.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>) -> Params {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }
}

fn object_of(s: &str) -> Result<ObjectType, RestError> {
    ObjectType::parse(s).ok_or_else(|| {
        RestError(
            ApiError::bad_request(format!("Unable to infer object type from: {s}"))
                .with_hint("Use contacts, companies, deals or invoices."),
        )
    })
}

fn id_of(object: ObjectType, s: &str) -> Result<i64, RestError> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            RestError(ApiError::new(
                404,
                "not_found",
                format!("There is no {} with id {s}.", object.singular()),
            ))
        })
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
        let ids = associations::list_ids(&state.pool, portal, (r.object, r.id), *t).await?;
        if ids.is_empty() {
            continue;
        }
        let label = associations::type_label(r.object, *t);
        let results: Vec<Value> = ids
            .iter()
            .map(|id| json!({ "id": id.to_string(), "type": label }))
            .collect();
        map.insert(t.as_str().to_string(), json!({ "results": results }));
    }
    o["associations"] = Value::Object(map);
    Ok(())
}

fn association_targets(object: ObjectType, params: &Params) -> Result<Vec<ObjectType>, RestError> {
    params
        .list("associations")
        .iter()
        .map(|s| {
            let t = object_of(s)?;
            associations::canonical(object, t)
                .map(|_| t)
                .ok_or_else(|| {
                    RestError(ApiError::bad_request(format!(
                        "{object} cannot be associated with {t}."
                    )))
                })
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// Objects

async fn list_objects(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let object = object_of(&object)?;
    let params = Params::parse(raw);
    let limit = parse_limit(params.get("limit"), LIST_DEFAULT, LIST_MAX)?;
    let after = match params.get("after").filter(|a| !a.is_empty()) {
        Some(a) => Some(Cursor::decode(a).ok_or_else(|| bad_after(a))?),
        None => None,
    };
    let q = ListQuery {
        archived: params.flag("archived"),
        sort: Sort::by_id(),
        after,
        limit,
        ..ListQuery::default()
    };
    let page = records::list(&state.pool, caller.principal.portal_id, object, &q).await?;
    let sel = selection(object, params.list("properties"));
    let to = association_targets(object, &params)?;
    let mut results = Vec::with_capacity(page.records.len());
    for r in &page.records {
        let mut o = object_json(r, &sel);
        with_associations(&state, caller.principal.portal_id, r, &to, &mut o).await?;
        results.push(o);
    }
    let mut body = json!({ "results": results });
    if let Some(next) = page.next {
        let after = rest_cursor(&next);
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("/api/crm/v3/objects/{}?after={}&limit={limit}", object.as_str(), after),
        }});
    }
    Ok(Json(body).into_response())
}

/// HubSpot shows the id as `after` for id order; other orders get the opaque cursor.
fn rest_cursor(c: &Cursor) -> String {
    if c.sort == "hs_object_id:asc" {
        c.id.to_string()
    } else {
        c.encode()
    }
}

fn bad_after(a: &str) -> RestError {
    RestError(
        ApiError::field("after", format!("“{a}” is not a paging cursor."))
            .with_hint("Pass the `paging.next.after` value of the previous page."),
    )
}

fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, RestError> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                RestError(ApiError::field(
                    "limit",
                    format!("limit must be a number from 1 to {max}."),
                ))
            }),
    }
}

#[derive(Deserialize)]
struct PropertiesInput {
    #[serde(default)]
    properties: BTreeMap<String, Value>,
}

async fn create_object(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    Body(input): Body<PropertiesInput>,
) -> RestResult {
    let object = object_of(&object)?;
    let r = records::create(
        &state.pool,
        caller.principal.portal_id,
        object,
        &input.properties,
        &caller.origin,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(object_json(&r, &Selection::All))).into_response())
}

async fn read_object(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> RestResult {
    let object = object_of(&object)?;
    let params = Params::parse(raw);
    let portal = caller.principal.portal_id;
    let record = match params.get("idProperty") {
        Some("email") if object == ObjectType::Contacts => records::find_contacts_by_email(&state.pool, portal, &id).await?.into_iter().next(),
        Some(p) if p != "hs_object_id" => {
            return Err(RestError(ApiError::field("idProperty", format!("{p} cannot be used as an id property of {object}; use email (contacts) or hs_object_id."))))
        }
        _ => records::get(&state.pool, portal, object, id_of(object, &id)?).await?,
    };
    let record = record.ok_or_else(|| {
        RestError(ApiError::new(
            404,
            "not_found",
            format!("There is no {} with id {id}.", object.singular()),
        ))
    })?;
    // Archived records are found only when asked for, like HubSpot's `archived=true`.
    if record.is_archived() && !params.flag("archived") {
        return Err(RestError(
            ApiError::new(
                404,
                "not_found",
                format!("There is no {} with id {id}.", object.singular()),
            )
            .with_hint("It is archived: add ?archived=true to read it, or restore it."),
        ));
    }
    let mut o = object_json(&record, &selection(object, params.list("properties")));
    with_associations(
        &state,
        portal,
        &record,
        &association_targets(object, &params)?,
        &mut o,
    )
    .await?;
    Ok(Json(o).into_response())
}

async fn update_object(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
    Body(input): Body<PropertiesInput>,
) -> RestResult {
    let object = object_of(&object)?;
    let id = id_of(object, &id)?;
    let u = records::update(
        &state.pool,
        caller.principal.portal_id,
        object,
        id,
        &input.properties,
        &caller.origin,
    )
    .await?;
    Ok(Json(object_json(&u.record, &Selection::All)).into_response())
}

async fn archive_object(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let id = id_of(object, &id)?;
    records::archive(
        &state.pool,
        caller.principal.portal_id,
        object,
        id,
        &caller.origin,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn restore_object(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let id = id_of(object, &id)?;
    let r = records::restore(
        &state.pool,
        caller.principal.portal_id,
        object,
        id,
        &caller.origin,
    )
    .await?;
    Ok(Json(object_json(&r, &Selection::All)).into_response())
}

// ---------------------------------------------------------------------------------
// Search

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchBody {
    #[serde(default)]
    filter_groups: Vec<FilterGroupIn>,
    #[serde(default)]
    sorts: Vec<SortIn>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<Value>,
}

#[derive(Deserialize)]
struct FilterGroupIn {
    #[serde(default)]
    filters: Vec<FilterIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterIn {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    high_value: Option<Value>,
    #[serde(default)]
    values: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SortIn {
    Text(String),
    Object {
        #[serde(rename = "propertyName")]
        property_name: String,
        #[serde(default)]
        direction: Option<String>,
    },
}

fn search_query(body: &SearchBody) -> Result<ListQuery, RestError> {
    if body.filter_groups.len() > 5 {
        return Err(RestError(ApiError::field(
            "filterGroups",
            "At most 5 filter groups.",
        )));
    }
    let total: usize = body.filter_groups.iter().map(|g| g.filters.len()).sum();
    if total > 18 || body.filter_groups.iter().any(|g| g.filters.len() > 6) {
        return Err(RestError(ApiError::field(
            "filterGroups",
            "At most 6 filters per group and 18 in all.",
        )));
    }
    let mut groups = Vec::new();
    for (g, group) in body.filter_groups.iter().enumerate() {
        let mut filters = Vec::new();
        for (f, filter) in group.filters.iter().enumerate() {
            let op = FilterOp::parse(&filter.operator).ok_or_else(|| {
                RestError(ApiError::field(
                    &format!("filterGroups[{g}].filters[{f}].operator"),
                    format!(
                        "“{}” is not an operator; use EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, CONTAINS_TOKEN or NOT_CONTAINS_TOKEN.",
                        filter.operator
                    ),
                ))
            })?;
            filters.push(Filter {
                property: filter.property_name.clone(),
                op,
                value: filter.value.as_ref().and_then(value_text),
                high_value: filter.high_value.as_ref().and_then(value_text),
                values: filter
                    .values
                    .iter()
                    .flatten()
                    .filter_map(value_text)
                    .collect(),
            });
        }
        if !filters.is_empty() {
            groups.push(filters);
        }
    }
    let sort = match body.sorts.first() {
        None => Sort::by_id(),
        Some(SortIn::Text(s)) => match s.strip_prefix('-') {
            Some(p) => Sort {
                property: p.to_string(),
                dir: SortDir::Desc,
            },
            None => Sort {
                property: s.clone(),
                dir: SortDir::Asc,
            },
        },
        Some(SortIn::Object {
            property_name,
            direction,
        }) => Sort {
            property: property_name.clone(),
            dir: if direction
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING"))
            {
                SortDir::Desc
            } else {
                SortDir::Asc
            },
        },
    };
    let after = match body
        .after
        .as_ref()
        .and_then(value_text)
        .filter(|a| !a.is_empty() && a != "0")
    {
        Some(a) => Some(Cursor::decode(&a).ok_or_else(|| bad_after(&a))?),
        None => None,
    };
    // A cursor made for another sort is refused by `records::list` (400).
    let limit = body.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=SEARCH_MAX).contains(&limit) {
        return Err(RestError(ApiError::field(
            "limit",
            format!("limit must be from 1 to {SEARCH_MAX}."),
        )));
    }
    Ok(ListQuery {
        archived: false,
        search: body.query.clone().filter(|q| !q.trim().is_empty()),
        filter_groups: groups,
        sort,
        after,
        before: None,
        limit,
    })
}

async fn search_objects(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    Body(body): Body<SearchBody>,
) -> RestResult {
    let object = object_of(&object)?;
    let portal = caller.principal.portal_id;
    let q = search_query(&body)?;
    let schema = schema::load(&state.pool, portal, object).await?;
    let page = records::list_with_schema(&state.pool, &schema, portal, &q).await?;
    let total = records::count_capped(&state.pool, &schema, portal, &q, TOTAL_CAP).await?;
    let sel = selection(object, body.properties.clone());
    let results: Vec<Value> = page.records.iter().map(|r| object_json(r, &sel)).collect();
    let mut out = json!({ "total": total, "results": results });
    if let Some(next) = page.next {
        out["paging"] = json!({ "next": { "after": rest_cursor(&next) } });
    }
    Ok(Json(out).into_response())
}

// ---------------------------------------------------------------------------------
// Batches

#[derive(Deserialize)]
struct BatchBody {
    #[serde(default)]
    inputs: Vec<Value>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default, rename = "idProperty")]
    id_property: Option<String>,
}

fn input_id(object: ObjectType, v: &Value, i: usize) -> Result<i64, RestError> {
    let raw = v.get("id").and_then(value_text).ok_or_else(|| {
        RestError(ApiError::field(
            &format!("inputs[{i}].id"),
            "Every input needs an id.",
        ))
    })?;
    raw.trim().parse::<i64>().map_err(|_| {
        RestError(ApiError::field(
            &format!("inputs[{i}].id"),
            format!("“{raw}” is not a {} id.", object.singular()),
        ))
    })
}

fn input_properties(v: &Value, i: usize) -> Result<BTreeMap<String, Value>, RestError> {
    match v.get("properties") {
        Some(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        None => Ok(BTreeMap::new()),
        Some(_) => Err(RestError(ApiError::field(
            &format!("inputs[{i}].properties"),
            "properties is an object of name → value.",
        ))),
    }
}

fn batch_result(results: Vec<Value>, started: DateTime<Utc>) -> Value {
    json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": ts(started),
        "completedAt": ts(Utc::now()),
    })
}

async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, action)): Path<(String, String)>,
    Body(body): Body<BatchBody>,
) -> RestResult {
    let object = object_of(&object)?;
    let portal = caller.principal.portal_id;
    let started = Utc::now();
    if body.inputs.is_empty() || body.inputs.len() > records::MAX_BATCH {
        return Err(RestError(ApiError::field(
            "inputs",
            format!(
                "Send between 1 and {} inputs (got {}).",
                records::MAX_BATCH,
                body.inputs.len()
            ),
        )));
    }
    match action.as_str() {
        "create" => {
            let inputs = body
                .inputs
                .iter()
                .enumerate()
                .map(|(i, v)| input_properties(v, i))
                .collect::<Result<Vec<_>, _>>()?;
            let created =
                records::create_many(&state.pool, portal, object, &inputs, &caller.origin).await?;
            let results = created
                .iter()
                .map(|r| object_json(r, &Selection::All))
                .collect();
            Ok((StatusCode::CREATED, Json(batch_result(results, started))).into_response())
        }
        "update" => {
            let inputs = body
                .inputs
                .iter()
                .enumerate()
                .map(|(i, v)| Ok((input_id(object, v, i)?, input_properties(v, i)?)))
                .collect::<Result<Vec<_>, RestError>>()?;
            let updated =
                records::update_many(&state.pool, portal, object, &inputs, &caller.origin).await?;
            let results = updated
                .iter()
                .map(|u| object_json(&u.record, &Selection::All))
                .collect();
            Ok(Json(batch_result(results, started)).into_response())
        }
        "archive" => {
            let ids = body
                .inputs
                .iter()
                .enumerate()
                .map(|(i, v)| input_id(object, v, i))
                .collect::<Result<Vec<_>, _>>()?;
            records::archive_many(&state.pool, portal, object, &ids, &caller.origin).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "read" => {
            let sel = selection(object, body.properties.clone());
            let mut found: Vec<Record> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            match body.id_property.as_deref() {
                Some("email") if object == ObjectType::Contacts => {
                    for v in &body.inputs {
                        let email = v.get("id").and_then(value_text).unwrap_or_default();
                        match records::find_contacts_by_email(&state.pool, portal, &email)
                            .await?
                            .into_iter()
                            .next()
                        {
                            Some(r) => found.push(r),
                            None => missing.push(email),
                        }
                    }
                }
                Some(p) if p != "hs_object_id" => {
                    return Err(RestError(ApiError::field(
                        "idProperty",
                        format!("{p} cannot be used as an id property of {object}."),
                    )))
                }
                _ => {
                    let ids = body
                        .inputs
                        .iter()
                        .enumerate()
                        .map(|(i, v)| input_id(object, v, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    found = records::get_many(&state.pool, portal, object, &ids).await?;
                    found.retain(|r| !r.is_archived());
                    missing = ids
                        .iter()
                        .filter(|id| !found.iter().any(|r| r.id == **id))
                        .map(|id| id.to_string())
                        .collect();
                }
            }
            let results: Vec<Value> = found.iter().map(|r| object_json(r, &sel)).collect();
            let mut out = batch_result(results, started);
            if missing.is_empty() {
                return Ok(Json(out).into_response());
            }
            out["numErrors"] = json!(1);
            out["errors"] = json!([{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": format!("Could not get some {object} objects, they may be deleted or not exist. Check that ids are valid."),
                "context": { "ids": missing },
            }]);
            Ok((StatusCode::MULTI_STATUS, Json(out)).into_response())
        }
        other => Err(RestError(ApiError::new(
            404,
            "not_found",
            format!("There is no batch action “{other}”; use create, read, update or archive."),
        ))),
    }
}

// ---------------------------------------------------------------------------------
// Associations

async fn list_associations(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id, to)): Path<(String, String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let to = object_of(&to)?;
    let id = id_of(object, &id)?;
    let portal = caller.principal.portal_id;
    records::get_or_404(&state.pool, portal, object, id).await?;
    let ids = associations::list_ids(&state.pool, portal, (object, id), to).await?;
    let label = associations::type_label(object, to);
    let results: Vec<Value> = ids
        .iter()
        .map(|i| json!({ "id": i.to_string(), "type": label }))
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn change_association(
    state: &AppState,
    caller: &Caller,
    object: &str,
    id: &str,
    to: &str,
    to_id: &str,
    add: bool,
) -> RestResult {
    let object = object_of(object)?;
    let to = object_of(to)?;
    let a = (object, id_of(object, id)?);
    let b = (to, id_of(to, to_id)?);
    let portal = caller.principal.portal_id;
    if add {
        associations::associate(&state.pool, portal, a, b, &caller.origin).await?;
        let r = records::get_or_404(&state.pool, portal, object, a.1).await?;
        let mut o = object_json(&r, &Selection::Names(default_selection(object)));
        with_associations(state, portal, &r, &[to], &mut o).await?;
        Ok(Json(o).into_response())
    } else {
        associations::dissociate(&state.pool, portal, a, b, &caller.origin).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

async fn associate(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id)): Path<(String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, true).await
}

async fn dissociate(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id)): Path<(String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, false).await
}

/// HubSpot v3 puts an association type at the end (`contact_to_company`); there is
/// one type per pair here, so it is accepted and ignored.
async fn associate_typed(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id, _kind)): Path<(String, String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, true).await
}

async fn dissociate_typed(
    State(state): State<AppState>,
    caller: Caller,
    Path((o, id, to, to_id, _kind)): Path<(String, String, String, String, String)>,
) -> RestResult {
    change_association(&state, &caller, &o, &id, &to, &to_id, false).await
}

// ---------------------------------------------------------------------------------
// Properties

/// HubSpot's (type, fieldType) for our property types.
fn hubspot_types(kind: PropertyType) -> (&'static str, &'static str) {
    match kind {
        PropertyType::String => ("string", "text"),
        PropertyType::Number => ("number", "number"),
        PropertyType::Bool => ("bool", "booleancheckbox"),
        PropertyType::Date => ("date", "date"),
        PropertyType::Datetime => ("datetime", "date"),
        PropertyType::Enumeration => ("enumeration", "select"),
        PropertyType::MultiEnumeration => ("enumeration", "checkbox"),
        PropertyType::Email => ("string", "email"),
        PropertyType::Phone => ("string", "phonenumber"),
    }
}

pub fn property_json(p: &PropertyDef, order: usize) -> Value {
    let (kind, field_type) = hubspot_types(p.kind);
    let options: Vec<Value> = p
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| json!({ "label": o.label, "value": o.value, "displayOrder": i, "hidden": false }))
        .collect();
    json!({
        "name": p.name,
        "label": p.label,
        "type": kind,
        "fieldType": field_type,
        "tandemType": p.kind.as_str(),
        "description": p.description,
        "groupName": if p.custom { "custom" } else { "default" },
        "options": options,
        "displayOrder": order,
        "required": p.required,
        "calculated": p.computed,
        "hasUniqueValue": p.name == "email",
        "hidden": false,
        "formField": !p.computed,
        "hubspotDefined": !p.custom,
        "modificationMetadata": {
            "archivable": p.custom,
            "readOnlyDefinition": !p.custom,
            "readOnlyValue": p.read_only,
        },
    })
}

async fn list_properties(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
) -> RestResult {
    let object = object_of(&object)?;
    let s = schema::load(&state.pool, caller.principal.portal_id, object).await?;
    let results: Vec<Value> = s
        .properties
        .iter()
        .enumerate()
        .map(|(i, p)| property_json(p, i))
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

async fn read_property(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, name)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    let s = schema::load(&state.pool, caller.principal.portal_id, object).await?;
    let (i, p) = s
        .properties
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .ok_or_else(|| {
            RestError(ApiError::new(
                404,
                "not_found",
                format!("There is no property “{name}” on {object}."),
            ))
        })?;
    Ok(Json(property_json(p, i)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertyIn {
    #[serde(default)]
    name: Option<String>,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    field_type: Option<String>,
    #[serde(default)]
    options: Vec<OptionIn>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    read_only: bool,
}

#[derive(Deserialize)]
struct OptionIn {
    value: String,
    #[serde(default)]
    label: String,
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

async fn create_property(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    Body(input): Body<PropertyIn>,
) -> RestResult {
    let object = object_of(&object)?;
    require_admin(&caller.principal)?;
    let kind = match (input.kind.as_str(), input.field_type.as_deref()) {
        ("enumeration", Some("checkbox")) => Some(PropertyType::MultiEnumeration),
        ("string", Some("email")) => Some(PropertyType::Email),
        ("string", Some("phonenumber")) => Some(PropertyType::Phone),
        (t, _) => PropertyType::parse(t),
    }
    .ok_or_else(|| {
        RestError(ApiError::field(
            "type",
            format!("“{}” is not a property type; use string, number, bool, date, datetime, enumeration, multi_enumeration, email or phone.", input.kind),
        ))
    })?;
    let req = NewPropertyRequest {
        label: input.label,
        name: input.name,
        kind,
        options: input
            .options
            .into_iter()
            .map(|o| PropertyOption {
                value: o.value,
                label: o.label,
            })
            .collect(),
        required: input.required,
        read_only: input.read_only,
        description: input.description,
    };
    let p = schema::create_property(&state.pool, caller.principal.portal_id, object, req).await?;
    Ok((StatusCode::CREATED, Json(property_json(&p, 0))).into_response())
}

async fn delete_property(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, name)): Path<(String, String)>,
) -> RestResult {
    let object = object_of(&object)?;
    require_admin(&caller.principal)?;
    schema::delete_property(&state.pool, caller.principal.portal_id, object, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------
// Pipelines

fn deals_only(object: &str) -> Result<(), RestError> {
    match ObjectType::parse(object) {
        Some(ObjectType::Deals) => Ok(()),
        _ => Err(RestError(ApiError::bad_request(format!(
            "{object} have no pipelines; only deals do."
        )))),
    }
}

fn stage_json(s: &crate::model::crm::StageView) -> Value {
    json!({
        "id": s.id,
        "label": s.label,
        "displayOrder": s.display_order,
        "archived": false,
        "metadata": {
            "probability": s.probability.map(|p| p.to_string()),
            "isClosed": s.is_closed.to_string(),
        },
    })
}

fn pipeline_json(p: &PipelineView) -> Value {
    json!({
        "id": p.id,
        "label": p.label,
        "displayOrder": p.display_order,
        "archived": false,
        "stages": p.stages.iter().map(stage_json).collect::<Vec<_>>(),
    })
}

async fn list_pipelines(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
) -> RestResult {
    deals_only(&object)?;
    let list = pipelines::list(&state.pool, caller.principal.portal_id).await?;
    Ok(
        Json(json!({ "results": list.iter().map(pipeline_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

async fn find_pipeline(
    state: &AppState,
    caller: &Caller,
    object: &str,
    id: &str,
) -> Result<PipelineView, RestError> {
    deals_only(object)?;
    pipelines::get(&state.pool, caller.principal.portal_id, id)
        .await?
        .ok_or_else(|| {
            RestError(ApiError::new(
                404,
                "not_found",
                format!("There is no pipeline “{id}”."),
            ))
        })
}

async fn read_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let p = find_pipeline(&state, &caller, &object, &id).await?;
    Ok(Json(pipeline_json(&p)).into_response())
}

async fn list_stages(
    State(state): State<AppState>,
    caller: Caller,
    Path((object, id)): Path<(String, String)>,
) -> RestResult {
    let p = find_pipeline(&state, &caller, &object, &id).await?;
    Ok(
        Json(json!({ "results": p.stages.iter().map(stage_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct PipelineIn {
    label: String,
    #[serde(default)]
    stages: Vec<StageIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageIn {
    label: String,
    #[serde(default)]
    display_order: Option<i32>,
    #[serde(default)]
    metadata: Option<Value>,
}

async fn create_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(object): Path<String>,
    Body(input): Body<PipelineIn>,
) -> RestResult {
    deals_only(&object)?;
    require_admin(&caller.principal)?;
    let mut stages: Vec<(i32, usize, pipelines::NewStage)> = input
        .stages
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let meta = s.metadata.unwrap_or(Value::Null);
            let probability = meta
                .get("probability")
                .and_then(value_text)
                .and_then(|p| p.parse::<f64>().ok());
            let is_closed = meta
                .get("isClosed")
                .and_then(value_text)
                .is_some_and(|c| c == "true");
            (
                s.display_order.unwrap_or(i as i32),
                i,
                pipelines::NewStage {
                    label: s.label,
                    probability,
                    is_closed,
                },
            )
        })
        .collect();
    stages.sort_by_key(|(order, i, _)| (*order, *i));
    let stages: Vec<_> = stages.into_iter().map(|(_, _, s)| s).collect();
    let p = pipelines::create(
        &state.pool,
        caller.principal.portal_id,
        &input.label,
        &stages,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(pipeline_json(&p))).into_response())
}

// ---------------------------------------------------------------------------------
// OpenAPI

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

/// The OpenAPI 3.0 description of the REST API (hand-built; tests check that it lists
/// every route in [`ROUTES`]).
pub fn openapi_document() -> Value {
    let op = || {
        json!({ "name": "object", "in": "path", "required": true,
        "schema": { "type": "string", "enum": ["contacts", "companies", "deals", "invoices"] },
        "description": "Object type (HubSpot ids 0-1, 0-2, 0-3, 0-53 work too)." })
    };
    let ip =
        || json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let ok = |d: &str, schema: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let body = |schema: &str| json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let std_errors = |mut responses: Value| {
        responses["400"] =
            err("Invalid input (category VALIDATION_ERROR), one entry per field in `errors`.");
        responses["401"] = err("Missing or invalid token (INVALID_AUTHENTICATION).");
        responses["404"] = err("Not found in your portal (OBJECT_NOT_FOUND); other portals' records are not found either.");
        responses
    };
    let q = |name: &str, d: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" }, "description": d });
    let paths = json!({
        "/api/crm/v3/objects/{object}": {
            "get": { "summary": "List records in id order (keyset paging)", "operationId": "listObjects",
                "parameters": [op(), q("limit", "1-100, default 10"), q("after", "paging.next.after of the previous page"),
                    q("properties", "comma-separated names; * for all"), q("archived", "true: only archived records"),
                    q("associations", "comma-separated object types to include associated ids for")],
                "responses": std_errors(json!({ "200": ok("A page", "CollectionResponse") })) },
            "post": { "summary": "Create a record", "operationId": "createObject", "parameters": [op()],
                "requestBody": body("PropertiesInput"),
                "responses": std_errors(json!({ "201": ok("Created", "SimplePublicObject"), "409": err("A contact with this email exists (CONFLICT).") })) }
        },
        "/api/crm/v3/objects/{object}/{id}": {
            "get": { "summary": "Read a record", "operationId": "readObject",
                "parameters": [op(), ip(), q("properties", "comma-separated names; * for all"),
                    q("archived", "true: archived records are returned too"), q("idProperty", "email: the id is a contact's email"),
                    q("associations", "comma-separated object types")],
                "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject") })) },
            "patch": { "summary": "Update some properties (partial); null or \"\" clears one", "operationId": "updateObject",
                "parameters": [op(), ip()], "requestBody": body("PropertiesInput"),
                "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject"), "409": err("Archived, or the email is taken.") })) },
            "delete": { "summary": "Archive (soft delete)", "operationId": "archiveObject", "parameters": [op(), ip()],
                "responses": std_errors(json!({ "204": { "description": "Archived" } })) }
        },
        "/api/crm/v3/objects/{object}/{id}/restore": {
            "post": { "summary": "Restore an archived record (Tandem extension)", "operationId": "restoreObject",
                "parameters": [op(), ip()], "responses": std_errors(json!({ "200": ok("The record", "SimplePublicObject") })) }
        },
        "/api/crm/v3/objects/{object}/search": {
            "post": { "summary": "Search with filter groups (OR of ANDs), a sort and paging", "operationId": "searchObjects",
                "parameters": [op()], "requestBody": body("SearchRequest"),
                "responses": std_errors(json!({ "200": ok("Matching records; total counts at most 10000", "SearchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/create": {
            "post": { "summary": "Create up to 100 records (all or none)", "operationId": "batchCreate", "parameters": [op()],
                "requestBody": body("BatchCreateInput"), "responses": std_errors(json!({ "201": ok("Created", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/read": {
            "post": { "summary": "Read up to 100 records by id (or by email with idProperty=email)", "operationId": "batchRead",
                "parameters": [op()], "requestBody": body("BatchReadInput"),
                "responses": std_errors(json!({ "200": ok("All found", "BatchResponse"), "207": ok("Some not found: see errors", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/update": {
            "post": { "summary": "Update up to 100 records (all or none)", "operationId": "batchUpdate", "parameters": [op()],
                "requestBody": body("BatchUpdateInput"), "responses": std_errors(json!({ "200": ok("Updated", "BatchResponse") })) }
        },
        "/api/crm/v3/objects/{object}/batch/archive": {
            "post": { "summary": "Archive up to 100 records (missing ids are ignored)", "operationId": "batchArchive",
                "parameters": [op()], "requestBody": body("BatchIdsInput"),
                "responses": std_errors(json!({ "204": { "description": "Archived" } })) }
        },
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}": {
            "get": { "summary": "Associated record ids", "operationId": "listAssociations",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("Associations", "AssociationList") })) }
        },
        "/api/crm/v3/objects/{object}/{id}/associations/{toObject}/{toId}": {
            "put": { "summary": "Associate two records (an optional /{associationType} suffix is accepted)", "operationId": "associate",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The record with its associations of that type", "SimplePublicObject") })) },
            "delete": { "summary": "Remove an association", "operationId": "dissociate",
                "parameters": [op(), ip(), { "name": "toObject", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "toId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "204": { "description": "Removed (or there was none)" } })) }
        },
        "/api/crm/v3/properties/{object}": {
            "get": { "summary": "Property definitions", "operationId": "listProperties", "parameters": [op()],
                "responses": std_errors(json!({ "200": ok("Properties", "PropertyList") })) },
            "post": { "summary": "Create a custom property (Super Admins)", "operationId": "createProperty", "parameters": [op()],
                "requestBody": body("PropertyCreate"), "responses": std_errors(json!({ "201": ok("Created", "Property"), "403": err("Not a Super Admin") })) }
        },
        "/api/crm/v3/properties/{object}/{name}": {
            "get": { "summary": "One property definition", "operationId": "readProperty",
                "parameters": [op(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The property", "Property") })) },
            "delete": { "summary": "Delete a custom property no record uses (Super Admins)", "operationId": "deleteProperty",
                "parameters": [op(), { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "204": { "description": "Deleted" }, "409": err("Records still have values") })) }
        },
        "/api/crm/v3/pipelines/{object}": {
            "get": { "summary": "Deal pipelines with their stages", "operationId": "listPipelines", "parameters": [op()],
                "responses": std_errors(json!({ "200": ok("Pipelines", "PipelineList") })) },
            "post": { "summary": "Create a deal pipeline (Super Admins)", "operationId": "createPipeline", "parameters": [op()],
                "requestBody": body("PipelineCreate"), "responses": std_errors(json!({ "201": ok("Created", "Pipeline") })) }
        },
        "/api/crm/v3/pipelines/{object}/{pipelineId}": {
            "get": { "summary": "One pipeline", "operationId": "readPipeline",
                "parameters": [op(), { "name": "pipelineId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("The pipeline", "Pipeline") })) }
        },
        "/api/crm/v3/pipelines/{object}/{pipelineId}/stages": {
            "get": { "summary": "A pipeline's stages in order", "operationId": "listStages",
                "parameters": [op(), { "name": "pipelineId", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": std_errors(json!({ "200": ok("Stages", "StageList") })) }
        }
    });
    let props_map =
        json!({ "type": "object", "additionalProperties": { "type": "string", "nullable": true } });
    let schemas = json!({
        "Error": { "type": "object", "required": ["status", "category", "message", "errors"], "properties": {
            "status": { "type": "string", "enum": ["error"] },
            "category": { "type": "string", "enum": ["VALIDATION_ERROR", "INVALID_AUTHENTICATION", "MISSING_SCOPES", "OBJECT_NOT_FOUND", "CONFLICT", "RATE_LIMITS", "INTERNAL_ERROR"] },
            "message": { "type": "string" }, "hint": { "type": "string" }, "correlationId": { "type": "string" },
            "errors": { "type": "array", "items": { "type": "object", "properties": {
                "field": { "type": "string" }, "message": { "type": "string" }, "in": { "type": "string" } } } } } },
        "SimplePublicObject": { "type": "object", "required": ["id", "properties", "createdAt", "updatedAt", "archived"], "properties": {
            "id": { "type": "string" }, "properties": props_map, "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" }, "archived": { "type": "boolean" },
            "archivedAt": { "type": "string", "format": "date-time" },
            "associations": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/AssociationList" } } } },
        "Paging": { "type": "object", "properties": { "next": { "type": "object", "properties": {
            "after": { "type": "string" }, "link": { "type": "string" } } } } },
        "CollectionResponse": { "type": "object", "properties": {
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "paging": { "$ref": "#/components/schemas/Paging" } } },
        "SearchResponse": { "type": "object", "properties": { "total": { "type": "integer" },
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "paging": { "$ref": "#/components/schemas/Paging" } } },
        "PropertiesInput": { "type": "object", "properties": { "properties": { "type": "object",
            "additionalProperties": { "nullable": true, "oneOf": [{ "type": "string" }, { "type": "number" }, { "type": "boolean" }, { "type": "array", "items": { "type": "string" } }] } } } },
        "SearchRequest": { "type": "object", "properties": {
            "filterGroups": { "type": "array", "maxItems": 5, "items": { "type": "object", "properties": { "filters": { "type": "array", "maxItems": 6, "items": {
                "type": "object", "required": ["propertyName", "operator"], "properties": {
                    "propertyName": { "type": "string" },
                    "operator": { "type": "string", "enum": ["EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"] },
                    "value": { "type": "string" }, "highValue": { "type": "string" }, "values": { "type": "array", "items": { "type": "string" } } } } } } } },
            "sorts": { "type": "array", "items": { "oneOf": [{ "type": "string", "description": "name, or -name for descending" },
                { "type": "object", "properties": { "propertyName": { "type": "string" }, "direction": { "type": "string", "enum": ["ASCENDING", "DESCENDING"] } } }] } },
            "query": { "type": "string", "description": "words that must all occur in the record's name, email, domain…" },
            "properties": { "type": "array", "items": { "type": "string" } },
            "limit": { "type": "integer", "minimum": 1, "maximum": 200 }, "after": { "type": "string" } } },
        "BatchCreateInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "$ref": "#/components/schemas/PropertiesInput" } } } },
        "BatchUpdateInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "properties": { "type": "object" } } } } } },
        "BatchIdsInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": { "id": { "type": "string" } } } } } },
        "BatchReadInput": { "type": "object", "properties": { "inputs": { "type": "array", "maxItems": 100, "items": { "type": "object", "properties": { "id": { "type": "string" } } } },
            "properties": { "type": "array", "items": { "type": "string" } }, "idProperty": { "type": "string", "enum": ["hs_object_id", "email"] } } },
        "BatchResponse": { "type": "object", "properties": { "status": { "type": "string" },
            "results": { "type": "array", "items": { "$ref": "#/components/schemas/SimplePublicObject" } },
            "numErrors": { "type": "integer" }, "errors": { "type": "array", "items": { "type": "object" } },
            "startedAt": { "type": "string", "format": "date-time" }, "completedAt": { "type": "string", "format": "date-time" } } },
        "AssociationList": { "type": "object", "properties": { "results": { "type": "array", "items": { "type": "object", "properties": {
            "id": { "type": "string" }, "type": { "type": "string", "example": "contact_to_company" } } } } } },
        "Property": { "type": "object", "properties": { "name": { "type": "string" }, "label": { "type": "string" },
            "type": { "type": "string" }, "fieldType": { "type": "string" }, "tandemType": { "type": "string" },
            "options": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "value": { "type": "string" } } } },
            "required": { "type": "boolean" }, "calculated": { "type": "boolean" }, "hubspotDefined": { "type": "boolean" },
            "modificationMetadata": { "type": "object", "properties": { "readOnlyValue": { "type": "boolean" } } } } },
        "PropertyList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Property" } } } },
        "PropertyCreate": { "type": "object", "required": ["label", "type"], "properties": { "name": { "type": "string" }, "label": { "type": "string" },
            "type": { "type": "string" }, "fieldType": { "type": "string" }, "description": { "type": "string" },
            "options": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "value": { "type": "string" } } } },
            "required": { "type": "boolean" }, "readOnly": { "type": "boolean" } } },
        "Stage": { "type": "object", "properties": { "id": { "type": "string" }, "label": { "type": "string" }, "displayOrder": { "type": "integer" },
            "metadata": { "type": "object", "properties": { "probability": { "type": "string" }, "isClosed": { "type": "string" } } } } },
        "StageList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Stage" } } } },
        "Pipeline": { "type": "object", "properties": { "id": { "type": "string" }, "label": { "type": "string" }, "displayOrder": { "type": "integer" },
            "stages": { "type": "array", "items": { "$ref": "#/components/schemas/Stage" } } } },
        "PipelineList": { "type": "object", "properties": { "results": { "type": "array", "items": { "$ref": "#/components/schemas/Pipeline" } } } },
        "PipelineCreate": { "type": "object", "required": ["label", "stages"], "properties": { "label": { "type": "string" },
            "stages": { "type": "array", "items": { "type": "object", "properties": { "label": { "type": "string" }, "displayOrder": { "type": "integer" },
                "metadata": { "type": "object", "properties": { "probability": { "type": "string" }, "isClosed": { "type": "string" } } } } } } } }
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Tandem hub CRM API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "HubSpot-shaped CRM v3 API of the Tandem hub. Authenticate with a private app token: `Authorization: Bearer <token>`. Everything is scoped to the token's portal.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearerAuth": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearerAuth": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas,
        },
    })
}
