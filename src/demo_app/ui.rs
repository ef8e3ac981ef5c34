//! The demo app's own small web UI (server-rendered HTML, no JavaScript): sign in as an
//! account user, list, create, edit and delete records of each object, link records,
//! simulate email opens and clicks, and look at webhook subscriptions and deliveries.
//! Every change goes through the same storage code as the API, so it sends webhooks.

use super::db::{self, User};
use super::events;
use super::objects::{Kind, Object};
use super::records::{self, BatchInput, BatchItem, ItemOutcome, Record};
use super::{webhooks, DemoState};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{Map, Value};
use std::collections::HashMap;

const COOKIE: &str = "demo_session";

pub fn routes() -> Router<DemoState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/ui/webhooks", get(webhooks_page))
        .route("/ui/{object}", get(list_page))
        .route("/ui/{object}/new", get(new_page).post(create_submit))
        .route("/ui/{object}/{id}", get(record_page).post(update_submit))
        .route("/ui/{object}/{id}/delete", post(delete_submit))
        .route("/ui/{object}/{id}/associations", post(association_submit))
        .route("/ui/{object}/{id}/events", post(event_submit))
}

const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;background:#f4f6f8}
header.top{display:flex;align-items:center;gap:1.5rem;padding:.6rem 1.5rem;background:#0b6e4f;color:#fff}
header.top a{color:#fff;text-decoration:none}header.top .brand{font-weight:700;font-size:1.1rem}
header.top nav{display:flex;gap:1rem;flex:1}header.top nav a{opacity:.85}header.top nav a:hover{opacity:1;text-decoration:underline}
header.top .who{display:flex;gap:.75rem;align-items:center;font-size:.9rem}
header.top button{background:transparent;border:1px solid #fff8;color:#fff;padding:.2rem .6rem;border-radius:4px;cursor:pointer}
main{max-width:1100px;margin:1.5rem auto;padding:0 1.5rem}
.card{background:#fff;border:1px solid #dde3e8;border-radius:8px;padding:1.25rem 1.5rem;margin-bottom:1.25rem}
.narrow{max-width:460px;margin-left:auto;margin-right:auto}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:.2rem 0 .8rem}
label{display:block;margin:.6rem 0;font-weight:600;font-size:.9rem}
label input,label select{display:block;width:100%;margin-top:.25rem;padding:.45rem .55rem;border:1px solid #b8c2cc;border-radius:5px;font:inherit;font-weight:400}
button,.button{display:inline-block;padding:.45rem .9rem;border:1px solid #b8c2cc;border-radius:5px;background:#fff;font:inherit;cursor:pointer;color:#1f2933;text-decoration:none}
button.primary,.button.primary{background:#0b6e4f;border-color:#0b6e4f;color:#fff}button.danger{color:#b42318;border-color:#e4a29b}
.actions{display:flex;gap:.6rem;margin-top:1rem;flex-wrap:wrap;align-items:center}
table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e6eaee;font-size:.92rem}
th{background:#f0f3f5;font-weight:600}td.muted,.muted{color:#6b7785}
.error{color:#b42318;background:#fef3f2;border:1px solid #fecdca;padding:.5rem .7rem;border-radius:5px}
.ok{color:#05603a;background:#ecfdf3;border:1px solid #abefc6;padding:.5rem .7rem;border-radius:5px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:0 1.25rem}
.toolbar{display:flex;gap:.6rem;align-items:center;margin-bottom:1rem}.toolbar form{display:flex;gap:.4rem;flex:1}
.toolbar input{flex:1;padding:.45rem .55rem;border:1px solid #b8c2cc;border-radius:5px;font:inherit}
ul.plain{list-style:none;padding:0;margin:0}ul.plain li{display:flex;gap:.5rem;align-items:center;padding:.2rem 0}
form.inline{display:inline}code{background:#f0f3f5;padding:.05rem .3rem;border-radius:3px}
.hint{font-size:.85rem;color:#6b7785}.scopes li{margin:.3rem 0}
"#;

/// The page frame: top bar with navigation when signed in.
pub fn layout(title: &str, user: Option<&User>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Demo CRM" }
                link rel="icon" href="data:,";
                style { (PreEscaped(CSS)) }
            }
            body {
                header.top {
                    a.brand href="/" { "Demo CRM" }
                    nav aria-label="Main" {
                        @if user.is_some() {
                            @for o in Object::ALL { a href={ "/ui/" (o.as_str()) } { (o.label()) } }
                            a href="/ui/webhooks" { "Webhooks" }
                        }
                    }
                    @if let Some(u) = user {
                        div.who {
                            span data-testid="who" { (u.display_name) " · account " strong { (u.account_name) } }
                            form.inline method="post" action="/logout" { button type="submit" { "Sign out" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn page(title: &str, user: &User, body: Markup) -> Response {
    Html(layout(title, Some(user), body).into_string()).into_response()
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The signed-in user, or a redirect to the sign-in page.
async fn signed_in(state: &DemoState, headers: &HeaderMap) -> Result<User, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let Some(id) = cookie_value(headers) else {
        return Err(to_login());
    };
    match db::session_user(&state.pool, &id).await {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(to_login()),
        Err(e) => Err(failure(e)),
    }
}

/// The signed-in user as an extractor: a handler that takes it answers the redirect
/// to the sign-in page (or the failure) of [`signed_in`] without running.
struct SignedIn(User);

impl FromRequestParts<DemoState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &DemoState) -> Result<Self, Response> {
        signed_in(state, &parts.headers).await.map(SignedIn)
    }
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "demo UI request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html(layout("Error", None, html! { section.card { h1 { "Something went wrong" } p.error { "The demo app could not do that; try again." } } }).into_string()),
    )
        .into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn object_or_404(name: &str) -> Result<Object, Response> {
    Object::parse(name).ok_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            Html(
                layout(
                    "Not found",
                    None,
                    html! { section.card { h1 { "No such page" } } },
                )
                .into_string(),
            ),
        )
            .into_response()
    })
}

/// The object type of the path `/ui/{object}`, as an extractor: an unknown one is
/// answered with the page of [`object_or_404`].
struct ObjectPath(Object);

impl FromRequestParts<DemoState> for ObjectPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &DemoState) -> Result<Self, Response> {
        let Path(object) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        object_or_404(&object).map(ObjectPath)
    }
}

async fn home(State(state): State<DemoState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok(_) => Redirect::to("/ui/contacts").into_response(),
        Err(r) => r,
    }
}

fn login_form(error: Option<&str>, username: &str) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in to Demo CRM" }
                p.hint { "A stand-in for a third-party CRM. Seeded accounts sign in as " code { "<account>-admin" } " with password " code { "demo" } "." }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/login" {
                    label { "Username" input name="username" autocomplete="username" value=(username) required autofocus; }
                    label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                    div.actions { button.primary type="submit" { "Sign in" } }
                }
            }
        },
    )
}

async fn login_page() -> Response {
    Html(login_form(None, "").into_string()).into_response()
}

async fn login_submit(State(state): State<DemoState>, body: Bytes) -> Response {
    let f = form(&body);
    let username = f.get("username").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let user = match db::check_login(&state.pool, &username, &password).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                Html(login_form(Some("Wrong username or password."), &username).into_string()),
            )
                .into_response()
        }
        Err(e) => return failure(e),
    };
    let session = Alphanumeric.sample_string(&mut rand::thread_rng(), 40);
    if let Err(e) = db::create_session(&state.pool, user.id, &session).await {
        return failure(e);
    }
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui/contacts")).into_response()
}

async fn logout(State(state): State<DemoState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_value(&headers) {
        let _ = db::delete_session(&state.pool, &id).await;
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// Columns shown in lists, after the title field.
fn list_columns(object: Object) -> &'static [&'static str] {
    match object {
        Object::Contacts => &["first_name", "last_name", "company_name", "lifecycle_stage"],
        Object::Companies => &["domain", "industry", "city", "country"],
        Object::Deals => &["value", "currency", "close_date"],
        Object::Invoices => &["total", "currency", "status", "due_date"],
    }
}

fn record_title(r: &Record) -> String {
    let t = r.text(r.object.title_field());
    if !t.trim().is_empty() {
        return t;
    }
    let name = format!("{} {}", r.text("first_name"), r.text("last_name"))
        .trim()
        .to_string();
    if name.is_empty() {
        format!("#{}", r.id)
    } else {
        name
    }
}

async fn list_page(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    ObjectPath(object): ObjectPath,
    RawQuery(query): RawQuery,
) -> Response {
    let q = form(query.unwrap_or_default().as_bytes())
        .remove("q")
        .filter(|s| !s.trim().is_empty());
    let rows = match records::recent(&state.pool, user.account_id, object, q.as_deref(), 50).await {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let total = records::count(&state.pool, user.account_id, object)
        .await
        .unwrap_or_default();
    let columns = list_columns(object);
    let label = |name: &str| object.field(name).map(|f| f.label).unwrap_or("");
    page(
        object.label(),
        &user,
        html! {
            h1 { (object.label()) " " span.muted { "(" (total) ")" } }
            div.toolbar {
                form method="get" {
                    input name="q" type="search" placeholder="Search…" aria-label="Search" value=(q.clone().unwrap_or_default());
                    button type="submit" { "Search" }
                }
                a.button.primary href={ "/ui/" (object.as_str()) "/new" } { "New " (object.singular()) }
            }
            table data-testid="records" {
                thead { tr {
                    th { "ID" } th { (label(object.title_field())) }
                    @for c in columns { th { (label(c)) } }
                    th { "Updated" }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td.muted { (r.id) }
                            td { a href={ "/ui/" (object.as_str()) "/" (r.id) } { (record_title(r)) } }
                            @for c in columns { td { (r.text(c)) } }
                            td.muted { (r.updated_at.format("%Y-%m-%d %H:%M")) }
                        }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "Nothing here yet." } }
            @else { p.hint { "The 50 most recently updated records are shown; search to find others." } }
        },
    )
}

/// The account's stages, grouped by pipeline, for the deal stage menu.
async fn stage_options(state: &DemoState, account_id: i64) -> Vec<records::Pipeline> {
    match state.pool.acquire().await {
        Ok(mut conn) => records::pipelines(&mut conn, account_id)
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn field_inputs(
    object: Object,
    record: Option<&Record>,
    values: &HashMap<String, String>,
    pipelines: &[records::Pipeline],
) -> Markup {
    let value = |name: &str| -> String {
        values
            .get(name)
            .cloned()
            .or_else(|| record.map(|r| r.text(name)))
            .unwrap_or_default()
    };
    html! {
        div.grid {
            @for f in object.fields() {
                @if f.read_only || f.kind == Kind::Pipeline {
                } @else {
                    label {
                        (f.label) @if f.required { " *" }
                        @match f.kind {
                            Kind::Enumeration(options) => {
                                select name=(f.name) {
                                    option value="" { "—" }
                                    @for (v, l) in options { option value=(v) selected[value(f.name) == *v] { (l) } }
                                }
                            }
                            Kind::PipelineStage => {
                                select name=(f.name) {
                                    @for p in pipelines {
                                        optgroup label=(p.label) {
                                            @for s in &p.stages {
                                                option value=(s.id) selected[value(f.name) == s.id.to_string()] { (s.label) }
                                            }
                                        }
                                    }
                                }
                            }
                            Kind::Date => { input name=(f.name) type="date" value=(value(f.name)); }
                            Kind::Number | Kind::Count => { input name=(f.name) inputmode="decimal" value=(value(f.name)); }
                            Kind::Email => { input name=(f.name) type="text" inputmode="email" value=(value(f.name)); }
                            _ => { input name=(f.name) value=(value(f.name)); }
                        }
                    }
                }
            }
        }
    }
}

async fn new_page(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    ObjectPath(object): ObjectPath,
) -> Response {
    let pipelines = stage_options(&state, user.account_id).await;
    new_form(&user, object, &HashMap::new(), None, &pipelines)
}

fn new_form(
    user: &User,
    object: Object,
    values: &HashMap<String, String>,
    error: Option<String>,
    pipelines: &[records::Pipeline],
) -> Response {
    page(
        "New record",
        user,
        html! {
            section.card {
                h1 { "New " (object.singular()) }
                @if let Some(e) = &error { p.error role="alert" { (e) } }
                form method="post" {
                    (field_inputs(object, None, values, pipelines))
                    div.actions {
                        button.primary type="submit" { "Create" }
                        a.button href={ "/ui/" (object.as_str()) } { "Cancel" }
                    }
                }
            }
        },
    )
}

/// The properties a form changes: fields whose text differs from the record's, so that
/// saving one field never rewrites (and re-validates) the others' legacy values.
fn changed_properties(
    object: Object,
    record: Option<&Record>,
    f: &HashMap<String, String>,
    pipelines: &[records::Pipeline],
) -> Map<String, Value> {
    let mut props = Map::new();
    for field in object
        .fields()
        .iter()
        .filter(|x| !x.read_only && x.kind != Kind::Pipeline)
    {
        let Some(v) = f.get(field.name) else { continue };
        let current = record.map(|r| r.text(field.name)).unwrap_or_default();
        if v.trim() != current.trim() || (record.is_none() && !v.trim().is_empty()) {
            let value = if v.trim().is_empty() {
                Value::Null
            } else {
                Value::String(v.clone())
            };
            props.insert(field.name.to_string(), value);
        }
    }
    // A stage picked in the menu brings its pipeline.
    if let Some(Value::String(stage)) = props.get("stage_id").cloned() {
        if let Some(p) = pipelines
            .iter()
            .find(|p| p.stages.iter().any(|s| s.id.to_string() == stage))
        {
            props.insert("pipeline_id".into(), Value::String(p.id.to_string()));
        }
    }
    props
}

fn describe(e: &super::objects::ItemError) -> String {
    match &e.field {
        Some(f) => format!("{f}: {}", e.message),
        None => e.message.clone(),
    }
}

async fn create_submit(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    ObjectPath(object): ObjectPath,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let pipelines = stage_options(&state, user.account_id).await;
    let input = BatchInput {
        properties: changed_properties(object, None, &f, &pipelines),
        ..Default::default()
    };
    match records::batch(
        &state.pool,
        user.account_id,
        object,
        vec![BatchItem::Input(input)],
    )
    .await
    {
        Ok(mut out) => {
            state.wake_webhooks();
            match out.pop() {
                Some(ItemOutcome::Done { record, .. }) => {
                    Redirect::to(&format!("/ui/{}/{}?saved=1", object.as_str(), record.id))
                        .into_response()
                }
                Some(ItemOutcome::Failed(e)) => {
                    new_form(&user, object, &f, Some(describe(&e)), &pipelines)
                }
                None => failure("empty batch result"),
            }
        }
        Err(e) => failure(e),
    }
}

async fn load_record(
    state: &DemoState,
    user: &User,
    object: &str,
    id: &str,
) -> Result<(Object, Record), Response> {
    let object = object_or_404(object)?;
    let missing = || {
        (
            StatusCode::NOT_FOUND,
            Html(
                layout(
                    "Not found",
                    Some(user),
                    html! { section.card { h1 { "This record does not exist (any more)" } } },
                )
                .into_string(),
            ),
        )
            .into_response()
    };
    let id: i64 = id.parse().map_err(|_| missing())?;
    match records::get(&state.pool, user.account_id, object, id).await {
        Ok(Some(r)) => Ok((object, r)),
        Ok(None) => Err(missing()),
        Err(e) => Err(failure(e)),
    }
}

async fn record_page(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    Path((object, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let (object, record) = match load_record(&state, &user, &object, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let q = form(query.unwrap_or_default().as_bytes());
    let notice = q
        .get("saved")
        .map(|_| "Saved.")
        .or(q.get("linked").map(|_| "Associations updated."))
        .or(q.get("event").map(|_| "Email event recorded."));
    render_record(
        &state,
        &user,
        object,
        &record,
        &HashMap::new(),
        None,
        notice,
    )
    .await
}

async fn render_record(
    state: &DemoState,
    user: &User,
    object: Object,
    record: &Record,
    values: &HashMap<String, String>,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let pipelines = stage_options(state, user.account_id).await;
    // Titles of associated records, for the links.
    let mut linked: Vec<(Object, Vec<(String, String)>)> = Vec::new();
    for other in object.associable() {
        let ids = record
            .associations
            .get(other.as_str())
            .cloned()
            .unwrap_or_default();
        let mut items = Vec::new();
        for id in ids {
            let title = match id.parse::<i64>() {
                Ok(n) => match records::get(&state.pool, user.account_id, *other, n).await {
                    Ok(Some(r)) => record_title(&r),
                    _ => format!("#{id}"),
                },
                Err(_) => format!("#{id}"),
            };
            items.push((id, title));
        }
        linked.push((*other, items));
    }
    let events = if object == Object::Contacts {
        events::of_contact(&state.pool, record.id, 10)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let base = format!("/ui/{}/{}", object.as_str(), record.id);
    page(
        &record_title(record),
        user,
        html! {
            section.card {
                h1 { (record_title(record)) " " span.muted { (object.singular()) " #" (record.id) } }
                @if let Some(n) = notice { p.ok role="status" { (n) } }
                @if let Some(e) = &error { p.error role="alert" { (e) } }
                form method="post" action=(base) {
                    (field_inputs(object, Some(record), values, &pipelines))
                    p.hint { "Created " (records::rfc3339(record.created_at)) " · updated " (records::rfc3339(record.updated_at)) }
                    div.actions {
                        button.primary type="submit" { "Save" }
                        a.button href={ "/ui/" (object.as_str()) } { "Back to " (object.label()) }
                    }
                }
                form method="post" action={ (base) "/delete" } {
                    div.actions { button.danger type="submit" { "Delete " (object.singular()) } }
                }
            }
            section.card {
                h2 { "Associations" }
                @for (other, items) in &linked {
                    h3 { (other.label()) }
                    ul.plain {
                        @for (id, title) in items {
                            li {
                                a href={ "/ui/" (other.as_str()) "/" (id) } { (title) }
                                form.inline method="post" action={ (base) "/associations" } {
                                    input type="hidden" name="to_object" value=(other.as_str());
                                    input type="hidden" name="to_id" value=(id);
                                    button type="submit" name="action" value="remove" { "Remove" }
                                }
                            }
                        }
                        @if items.is_empty() { li.muted { "None" } }
                    }
                    form method="post" action={ (base) "/associations" } {
                        input type="hidden" name="to_object" value=(other.as_str());
                        div.actions {
                            input name="to_id" placeholder={ (other.singular()) " id" } aria-label={ "Link a " (other.singular()) " by id" } style="max-width:12rem;padding:.4rem;border:1px solid #b8c2cc;border-radius:5px";
                            button type="submit" name="action" value="add" { "Link " (other.singular()) }
                        }
                    }
                }
            }
            @if object == Object::Contacts {
                section.card {
                    h2 { "Email activity" }
                    form method="post" action={ (base) "/events" } {
                        div.actions {
                            button type="submit" name="type" value="email.opened" { "Simulate email open" }
                            button type="submit" name="type" value="email.clicked" { "Simulate email click" }
                        }
                    }
                    ul.plain data-testid="events" {
                        @for e in &events {
                            li {
                                code { (e.kind) } " "
                                (e.properties.0.get("subject").and_then(Value::as_str).unwrap_or(""))
                                span.muted { " · " (records::rfc3339(e.occurred_at)) }
                            }
                        }
                        @if events.is_empty() { li.muted { "No email events yet." } }
                    }
                }
            }
        },
    )
}

async fn update_submit(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (object, record) = match load_record(&state, &user, &object, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = form(&body);
    let pipelines = stage_options(&state, user.account_id).await;
    let input = BatchInput {
        id: Some(record.id.to_string()),
        properties: changed_properties(object, Some(&record), &f, &pipelines),
        ..Default::default()
    };
    match records::batch(
        &state.pool,
        user.account_id,
        object,
        vec![BatchItem::Input(input)],
    )
    .await
    {
        Ok(mut out) => {
            state.wake_webhooks();
            match out.pop() {
                Some(ItemOutcome::Done { .. }) => {
                    Redirect::to(&format!("/ui/{}/{}?saved=1", object.as_str(), record.id))
                        .into_response()
                }
                Some(ItemOutcome::Failed(e)) => {
                    render_record(&state, &user, object, &record, &f, Some(describe(&e)), None)
                        .await
                }
                None => failure("empty batch result"),
            }
        }
        Err(e) => failure(e),
    }
}

async fn delete_submit(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let (object, record) = match load_record(&state, &user, &object, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match records::delete(&state.pool, user.account_id, object, record.id).await {
        Ok(_) => {
            state.wake_webhooks();
            Redirect::to(&format!("/ui/{}", object.as_str())).into_response()
        }
        Err(e) => failure(e),
    }
}

async fn association_submit(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (object, record) = match load_record(&state, &user, &object, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = form(&body);
    let other = f.get("to_object").and_then(|o| Object::parse(o));
    let other_id = f.get("to_id").and_then(|i| i.trim().parse::<i64>().ok());
    let (Some(other), Some(other_id)) = (other, other_id) else {
        return render_record(
            &state,
            &user,
            object,
            &record,
            &HashMap::new(),
            Some("Give the id of the record to link.".into()),
            None,
        )
        .await;
    };
    let add = f.get("action").map(String::as_str) != Some("remove");
    match records::associate(
        &state.pool,
        user.account_id,
        object,
        record.id,
        other,
        other_id,
        add,
    )
    .await
    {
        Ok(Ok(_)) => {
            state.wake_webhooks();
            Redirect::to(&format!("/ui/{}/{}?linked=1", object.as_str(), record.id)).into_response()
        }
        Ok(Err(
            records::AssociationError::NotFound(m) | records::AssociationError::NotAllowed(m),
        )) => {
            render_record(
                &state,
                &user,
                object,
                &record,
                &HashMap::new(),
                Some(m),
                None,
            )
            .await
        }
        Err(e) => failure(e),
    }
}

async fn event_submit(
    State(state): State<DemoState>,
    SignedIn(user): SignedIn,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (object, record) = match load_record(&state, &user, &object, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = form(&body);
    let kind = f
        .get("type")
        .map(String::as_str)
        .filter(|t| events::TYPES.contains(t))
        .unwrap_or("email.opened");
    let mut props = Map::new();
    props.insert(
        "subject".into(),
        Value::String("Simulated email from the Demo CRM".into()),
    );
    if kind == "email.clicked" {
        props.insert(
            "url".into(),
            Value::String("https://www.example.com/offer".into()),
        );
    }
    match events::create(
        &state.pool,
        Some(user.account_id),
        record.id,
        kind,
        props,
        None,
    )
    .await
    {
        Ok(_) => {
            state.wake_webhooks();
            Redirect::to(&format!("/ui/{}/{}?event=1", object.as_str(), record.id)).into_response()
        }
        Err(e) => failure(e),
    }
}

async fn webhooks_page(State(state): State<DemoState>, SignedIn(user): SignedIn) -> Response {
    let subs = webhooks::subscriptions(&state.pool, user.account_id)
        .await
        .unwrap_or_default();
    let deliveries = webhooks::recent_deliveries(&state.pool, user.account_id, 30)
        .await
        .unwrap_or_default();
    page(
        "Webhooks",
        &user,
        html! {
            section.card {
                h1 { "Webhook subscriptions" }
                p.hint { "Apps subscribe with " code { "POST /v1/webhooks" } "; every change of this account is delivered to each URL." }
                table {
                    thead { tr { th { "ID" } th { "URL" } th { "Since" } } }
                    tbody {
                        @for s in &subs { tr { td { (s.id) } td { code { (s.url) } } td.muted { (records::rfc3339(s.created_at)) } } }
                    }
                }
                @if subs.is_empty() { p.muted { "No subscriptions." } }
            }
            section.card {
                h2 { "Latest deliveries" }
                table {
                    thead { tr { th { "Event" } th { "Subscription" } th { "Attempts" } th { "State" } th { "Queued" } } }
                    tbody {
                        @for d in &deliveries {
                            tr {
                                td { code { (d.kind) } }
                                td { (d.subscription_id) }
                                td { (d.attempts) }
                                td {
                                    @if d.dropped { "dropped (fault injection)" }
                                    @else if d.delivered_at.is_some() { "delivered" }
                                    @else if d.failed_at.is_some() { "gave up: " (d.last_error.clone().unwrap_or_default()) }
                                    @else { "pending" @if let Some(e) = &d.last_error { " (" (e) ")" } }
                                }
                                td.muted { (records::rfc3339(d.created_at)) }
                            }
                        }
                    }
                }
            }
        },
    )
}
