//! The OAuth 2.0 authorization server (RFC 6749 + PKCE, RFC 7636; revocation, RFC 7009):
//! `GET/POST /oauth/authorize` (login + consent page), `POST /oauth/token`
//! (`authorization_code` with S256 PKCE, `refresh_token` with rotation), `POST
//! /oauth/revoke`. Codes are single-use: a replayed code revokes the tokens issued for
//! it; a reused (already rotated) refresh token revokes the whole grant.

use super::db::{self, sha256_hex, User};
use super::{ui, DemoState};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use maud::html;
use rand::distributions::{Alphanumeric, DistString};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;

/// Scopes a client can ask for, with what the consent page says about them. No scope
/// asked means all of them.
pub const SCOPES: [(&str, &str); 3] = [
    (
        "crm.read",
        "Read your contacts, companies, deals, invoices, pipelines and email events",
    ),
    (
        "crm.write",
        "Create, change and delete records and their associations",
    ),
    ("webhooks", "Be notified of every change through webhooks"),
];
const CODE_TTL_SECS: f64 = 600.0;

/// Registers (or updates) the OAuth client Tandem uses.
pub async fn register_client(
    pool: &PgPool,
    client_id: &str,
    secret: &str,
    name: &str,
    redirect_prefixes: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, secret_hash, name, redirect_prefixes) VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id) DO UPDATE
           SET secret_hash = EXCLUDED.secret_hash, name = EXCLUDED.name, redirect_prefixes = EXCLUDED.redirect_prefixes",
    )
    .bind(client_id)
    .bind(sha256_hex(secret))
    .bind(name)
    .bind(redirect_prefixes)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Client {
    client_id: String,
    secret_hash: String,
    name: String,
    redirect_prefixes: Vec<String>,
}

async fn client(pool: &PgPool, client_id: &str) -> sqlx::Result<Option<Client>> {
    sqlx::query_as("SELECT client_id, secret_hash, name, redirect_prefixes FROM oauth_clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_optional(pool)
        .await
}

/// Loopback redirect URIs are always allowed (any port, as RFC 8252 asks); others must
/// start with a prefix registered for the client (Tandem's public URL).
fn redirect_allowed(client: &Client, redirect_uri: &str) -> bool {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return false;
    };
    if url.fragment().is_some() {
        return false;
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    (loopback && matches!(url.scheme(), "http" | "https"))
        || client
            .redirect_prefixes
            .iter()
            .any(|p| redirect_uri.starts_with(p.as_str()))
}

/// `BASE64URL(SHA256(verifier))`, the S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn valid_pkce_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The checked parameters of an authorization request.
struct AuthRequest {
    client: Client,
    redirect_uri: String,
    scope: Vec<String>,
    state: Option<String>,
    code_challenge: String,
}

enum AuthProblem {
    /// Client or redirect URI cannot be trusted: show the error, never redirect.
    Page(String),
    /// Tell the client through its redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

async fn check_request(
    pool: &PgPool,
    p: &HashMap<String, String>,
) -> anyhow::Result<Result<AuthRequest, AuthProblem>> {
    let get = |k: &str| {
        p.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(client_id) = get("client_id") else {
        return Ok(Err(AuthProblem::Page(
            "The request names no client (client_id is missing).".into(),
        )));
    };
    let Some(client) = client(pool, &client_id).await? else {
        return Ok(Err(AuthProblem::Page(format!(
            "There is no application `{client_id}` registered here."
        ))));
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return Ok(Err(AuthProblem::Page(
            "The request has no redirect_uri.".into(),
        )));
    };
    if !redirect_allowed(&client, &redirect_uri) {
        return Ok(Err(AuthProblem::Page(format!(
            "The redirect URI {redirect_uri} is not registered for {}; only loopback addresses and the \
             application's own address are.",
            client.name
        ))));
    }
    let state = p.get("state").cloned().filter(|s| !s.is_empty());
    let fail = |error: &'static str, description: String| {
        Ok(Err(AuthProblem::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        }))
    };
    if get("response_type").as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "Only response_type=code is supported.".into(),
        );
    }
    let Some(code_challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge and code_challenge_method=S256.".into(),
        );
    };
    if get("code_challenge_method").as_deref() != Some("S256") {
        return fail(
            "invalid_request",
            "code_challenge_method must be S256.".into(),
        );
    }
    if !valid_pkce_text(&code_challenge) {
        return fail(
            "invalid_request",
            "code_challenge must be 43 to 128 characters of base64url.".into(),
        );
    }
    let mut scope: Vec<String> = get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if let Some(unknown) = scope.iter().find(|s| !SCOPES.iter().any(|(k, _)| k == s)) {
        return fail(
            "invalid_scope",
            format!(
                "Unknown scope `{unknown}`. Scopes: {}.",
                SCOPES.map(|(k, _)| k).join(", ")
            ),
        );
    }
    if scope.is_empty() {
        scope = SCOPES.iter().map(|(k, _)| k.to_string()).collect();
    }
    scope.sort();
    scope.dedup();
    Ok(Ok(AuthRequest {
        client,
        redirect_uri,
        scope,
        state,
        code_challenge,
    }))
}

/// A 302 to the client's redirect URI with the given query parameters added.
fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn problem_response(problem: AuthProblem) -> Response {
    match problem {
        AuthProblem::Page(message) => (
            StatusCode::BAD_REQUEST,
            Html(
                ui::layout(
                    "Cannot authorize",
                    None,
                    html! {
                        section.card {
                            h1 { "This authorization request cannot be served" }
                            p.error role="alert" { (message) }
                            p { "Start again from the application that sent you here." }
                        }
                    },
                )
                .into_string(),
            ),
        )
            .into_response(),
        AuthProblem::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut params = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &state {
                params.push(("state", s));
            }
            redirect_to(&redirect_uri, &params)
        }
    }
}

fn consent_page(
    req: &AuthRequest,
    params: &HashMap<String, String>,
    error: Option<&str>,
) -> Response {
    let hidden = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ];
    let username = params.get("username").cloned().unwrap_or_default();
    let body = html! {
        section.card.narrow {
            h1 { "Connect " (req.client.name) " to Demo CRM" }
            p { strong { (req.client.name) } " asks to:" }
            ul.scopes data-testid="scopes" {
                @for s in &req.scope {
                    li {
                        code { (s) } " — "
                        (SCOPES.iter().find(|(k, _)| k == s).map(|(_, d)| *d).unwrap_or(""))
                    }
                }
            }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/oauth/authorize" {
                @for name in hidden {
                    @if let Some(v) = params.get(name) { input type="hidden" name=(name) value=(v); }
                }
                label { "Username" input name="username" autocomplete="username" value=(username) required; }
                label { "Password" input name="password" type="password" autocomplete="current-password" required; }
                p.hint { "You will be redirected to " code { (req.redirect_uri) } }
                div.actions {
                    button.primary type="submit" name="decision" value="allow" { "Allow" }
                    button type="submit" name="decision" value="deny" formnovalidate { "Deny" }
                }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    (
        status,
        Html(ui::layout("Authorize", None, body).into_string()),
    )
        .into_response()
}

pub async fn authorize_page(State(state): State<DemoState>, RawQuery(query): RawQuery) -> Response {
    let params = form(query.unwrap_or_default().as_bytes());
    match check_request(&state.pool, &params).await {
        Ok(Ok(req)) => consent_page(&req, &params, None),
        Ok(Err(problem)) => problem_response(problem),
        Err(e) => internal(e),
    }
}

pub async fn authorize_submit(State(state): State<DemoState>, body: Bytes) -> Response {
    let params = form(&body);
    let req = match check_request(&state.pool, &params).await {
        Ok(Ok(req)) => req,
        Ok(Err(problem)) => return problem_response(problem),
        Err(e) => return internal(e),
    };
    let state_param = req.state.clone();
    let with_state = |mut v: Vec<(&'static str, String)>| {
        if let Some(s) = &state_param {
            v.push(("state", s.clone()));
        }
        v
    };
    if params.get("decision").map(String::as_str) != Some("allow") {
        let p = with_state(vec![
            ("error", "access_denied".into()),
            ("error_description", "The user denied access.".into()),
        ]);
        return redirect_to(
            &req.redirect_uri,
            &p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        );
    }
    let username = params
        .get("username")
        .map(String::as_str)
        .unwrap_or_default();
    let password = params
        .get("password")
        .map(String::as_str)
        .unwrap_or_default();
    let user = match db::check_login(&state.pool, username, password).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return consent_page(
                &req,
                &params,
                Some("Wrong username or password. Try again."),
            )
        }
        Err(e) => return internal(e),
    };
    let code = Alphanumeric.sample_string(&mut rand::thread_rng(), 43);
    if let Err(e) = store_code(&state.pool, &req, &user, &code).await {
        return internal(e.into());
    }
    let p = with_state(vec![("code", code)]);
    redirect_to(
        &req.redirect_uri,
        &p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
    )
}

async fn store_code(pool: &PgPool, req: &AuthRequest, user: &User, code: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_codes (code_hash, client_id, account_id, user_id, redirect_uri, scope, code_challenge, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
    )
    .bind(sha256_hex(code))
    .bind(&req.client.client_id)
    .bind(user.account_id)
    .bind(user.id)
    .bind(&req.redirect_uri)
    .bind(req.scope.join(" "))
    .bind(&req.code_challenge)
    .bind(CODE_TTL_SECS)
    .execute(pool)
    .await?;
    Ok(())
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "oauth request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "server_error", "error_description": "The authorization server failed; try again."})),
    )
        .into_response()
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let mut res = (
        status,
        Json(json!({"error": error, "error_description": description.into()})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"demo-app\""),
        );
    }
    no_store(&mut res);
    res
}

fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Client authentication: HTTP Basic (id and secret form-urlencoded, RFC 6749 §2.3.1)
/// or `client_id` / `client_secret` in the body.
async fn authenticate_client(
    pool: &PgPool,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<Client, Response> {
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: send the client id and secret with HTTP Basic or in the body.",
        )
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |x: &str| {
                url::form_urlencoded::parse(format!("v={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => match (p.get("client_id"), p.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return Err(invalid()),
        },
    };
    match client(pool, &id).await {
        Ok(Some(c)) if c.secret_hash == sha256_hex(&secret) => Ok(c),
        Ok(_) => Err(invalid()),
        Err(e) => Err(internal(e.into())),
    }
}

pub async fn token(State(state): State<DemoState>, headers: HeaderMap, body: Bytes) -> Response {
    let p = form(&body);
    let client = match authenticate_client(&state.pool, &headers, &p).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(&state, &client, &p).await,
        Some("refresh_token") => refresh(&state, &client, &p).await,
        Some(other) => Ok(Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {other} is not supported; use authorization_code or refresh_token."
            ),
        ))),
        None => Ok(Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is missing.",
        ))),
    };
    match result {
        Ok(Ok(r)) | Ok(Err(r)) => r,
        Err(e) => internal(e),
    }
}

fn invalid_grant(description: impl Into<String>) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    account_id: i64,
    user_id: i64,
    redirect_uri: String,
    scope: String,
    code_challenge: String,
    expired: bool,
    used: bool,
    grant_id: Option<i64>,
}

async fn exchange_code(
    state: &DemoState,
    client: &Client,
    p: &HashMap<String, String>,
) -> anyhow::Result<Result<Response, Response>> {
    let (Some(code), Some(verifier)) = (p.get("code"), p.get("code_verifier")) else {
        return Ok(Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and code_verifier are required (PKCE is mandatory).",
        )));
    };
    let code_hash = sha256_hex(code);
    let mut tx = state.pool.begin().await?;
    let row: Option<CodeRow> = sqlx::query_as(
        "SELECT client_id, account_id, user_id, redirect_uri, scope, code_challenge,
                expires_at < now() AS expired, used_at IS NOT NULL AS used, grant_id
           FROM oauth_codes WHERE code_hash = $1 FOR UPDATE",
    )
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Err(invalid_grant("The authorization code is unknown.")));
    };
    if row.client_id != client.client_id {
        return Ok(Err(invalid_grant(
            "The authorization code was issued to another client.",
        )));
    }
    if row.used {
        // RFC 6749 §4.1.2: a code used twice may have been stolen; revoke what it gave.
        if let Some(grant) = row.grant_id {
            revoke_grant(&mut tx, grant, "authorization code replayed").await?;
        }
        tx.commit().await?;
        return Ok(Err(invalid_grant(
            "The authorization code was already used; the tokens issued for it have been revoked.",
        )));
    }
    // From here on the code is spent, whatever the outcome.
    sqlx::query("UPDATE oauth_codes SET used_at = now() WHERE code_hash = $1")
        .bind(&code_hash)
        .execute(&mut *tx)
        .await?;
    let refusal = if row.expired {
        Some("The authorization code expired; start the authorization again.".to_string())
    } else if p.get("redirect_uri") != Some(&row.redirect_uri) {
        Some("redirect_uri does not match the one of the authorization request.".to_string())
    } else if !valid_pkce_text(verifier) || pkce_challenge(verifier) != row.code_challenge {
        Some(
            "PKCE verification failed: the code_verifier does not match the code_challenge."
                .to_string(),
        )
    } else {
        None
    };
    if let Some(reason) = refusal {
        tx.commit().await?;
        return Ok(Err(invalid_grant(reason)));
    }
    let grant: i64 = sqlx::query_scalar(
        "INSERT INTO oauth_grants (client_id, account_id, user_id, scope) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(&client.client_id)
    .bind(row.account_id)
    .bind(row.user_id)
    .bind(&row.scope)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE oauth_codes SET grant_id = $2 WHERE code_hash = $1")
        .bind(&code_hash)
        .bind(grant)
        .execute(&mut *tx)
        .await?;
    let response = issue_tokens(&mut tx, state, grant, &row.scope).await?;
    tx.commit().await?;
    Ok(Ok(response))
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    grant_id: i64,
    client_id: String,
    scope: String,
    used: bool,
    token_revoked: bool,
    grant_revoked: bool,
}

async fn refresh(
    state: &DemoState,
    client: &Client,
    p: &HashMap<String, String>,
) -> anyhow::Result<Result<Response, Response>> {
    let Some(refresh_token) = p.get("refresh_token") else {
        return Ok(Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing.",
        )));
    };
    let mut tx = state.pool.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT t.grant_id, g.client_id, g.scope, t.used_at IS NOT NULL AS used,
                t.revoked_at IS NOT NULL AS token_revoked, g.revoked_at IS NOT NULL AS grant_revoked
           FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
          WHERE t.token_hash = $1 AND t.kind = 'refresh'
          FOR UPDATE OF t, g",
    )
    .bind(sha256_hex(refresh_token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Err(invalid_grant("The refresh token is unknown.")));
    };
    if row.client_id != client.client_id {
        return Ok(Err(invalid_grant(
            "The refresh token was issued to another client.",
        )));
    }
    if row.grant_revoked || row.token_revoked {
        return Ok(Err(invalid_grant(
            "The refresh token was revoked; the user has to authorize the application again.",
        )));
    }
    if row.used {
        // A rotated refresh token came back: someone holds a copy. Kill the whole grant.
        revoke_grant(&mut tx, row.grant_id, "refresh token reused").await?;
        tx.commit().await?;
        return Ok(Err(invalid_grant(
            "This refresh token was already used (tokens rotate on every refresh); as a precaution every token of \
             this authorization has been revoked. Authorize the application again.",
        )));
    }
    if let Some(asked) = p.get("scope") {
        let granted: Vec<&str> = row.scope.split_whitespace().collect();
        if let Some(extra) = asked.split_whitespace().find(|s| !granted.contains(s)) {
            return Ok(Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("Scope `{extra}` was not granted; a refresh cannot widen the scope."),
            )));
        }
    }
    sqlx::query("UPDATE oauth_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(sha256_hex(refresh_token))
        .execute(&mut *tx)
        .await?;
    let response = issue_tokens(&mut tx, state, row.grant_id, &row.scope).await?;
    tx.commit().await?;
    Ok(Ok(response))
}

async fn issue_tokens(
    conn: &mut PgConnection,
    state: &DemoState,
    grant: i64,
    scope: &str,
) -> sqlx::Result<Response> {
    let access = format!(
        "dat_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    let refresh = format!(
        "drt_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 48)
    );
    let ttl = state.config.token_ttl;
    sqlx::query(
        "INSERT INTO oauth_tokens (token_hash, kind, grant_id, expires_at)
         VALUES ($1, 'access', $3, now() + make_interval(secs => $4)), ($2, 'refresh', $3, NULL)",
    )
    .bind(sha256_hex(&access))
    .bind(sha256_hex(&refresh))
    .bind(grant)
    .bind(ttl.as_secs_f64())
    .execute(&mut *conn)
    .await?;
    let account: String = sqlx::query_scalar(
        "SELECT a.name FROM oauth_grants g JOIN accounts a ON a.id = g.account_id WHERE g.id = $1",
    )
    .bind(grant)
    .fetch_one(&mut *conn)
    .await?;
    let mut res = Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "refresh_token": refresh,
        "scope": scope,
        // Which account the tokens are for, as real CRMs add to their token answers.
        "account": account,
    }))
    .into_response();
    no_store(&mut res);
    Ok(res)
}

async fn revoke_grant(conn: &mut PgConnection, grant: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_grants SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(grant)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = now() WHERE grant_id = $1 AND revoked_at IS NULL",
    )
    .bind(grant)
    .execute(&mut *conn)
    .await?;
    tracing::info!(grant, reason, "OAuth grant revoked");
    Ok(())
}

/// RFC 7009: revoking a refresh token ends its whole grant; an access token only
/// itself. Unknown tokens are not an error.
pub async fn revoke(State(state): State<DemoState>, headers: HeaderMap, body: Bytes) -> Response {
    let p = form(&body);
    let client = match authenticate_client(&state.pool, &headers, &p).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(token) = p.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing.",
        );
    };
    let result: anyhow::Result<()> = async {
        let mut tx = state.pool.begin().await?;
        let found: Option<(String, i64)> = sqlx::query_as(
            "SELECT t.kind, t.grant_id FROM oauth_tokens t JOIN oauth_grants g ON g.id = t.grant_id
              WHERE t.token_hash = $1 AND g.client_id = $2",
        )
        .bind(sha256_hex(token))
        .bind(&client.client_id)
        .fetch_optional(&mut *tx)
        .await?;
        match found {
            Some((kind, grant)) if kind == "refresh" => revoke_grant(&mut tx, grant, "revoked by the client").await?,
            Some(_) => {
                sqlx::query("UPDATE oauth_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL")
                    .bind(sha256_hex(token))
                    .execute(&mut *tx)
                    .await?;
            }
            None => {}
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => internal(e),
    }
}

/// Who an access token acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: i64,
    pub account_name: String,
    pub account_label: String,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    /// A hash of the token, the key of its rate-limit window.
    pub token_key: String,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    account_id: i64,
    account_name: String,
    account_label: String,
    user_id: i64,
    username: String,
    display_name: String,
    scope: String,
    expired: bool,
    revoked: bool,
}

/// The caller of a Bearer access token, or why the token is not valid.
pub async fn authenticate(
    pool: &PgPool,
    token: &str,
) -> anyhow::Result<Result<Caller, &'static str>> {
    let key = sha256_hex(token);
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT g.account_id, a.name AS account_name, a.label AS account_label, g.user_id, u.username, u.display_name,
                g.scope, t.expires_at < now() AS expired,
                (t.revoked_at IS NOT NULL OR g.revoked_at IS NOT NULL) AS revoked
           FROM oauth_tokens t
           JOIN oauth_grants g ON g.id = t.grant_id
           JOIN accounts a ON a.id = g.account_id
           JOIN users u ON u.id = g.user_id
          WHERE t.token_hash = $1 AND t.kind = 'access'",
    )
    .bind(&key)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Err("The access token is unknown."),
        Some(r) if r.revoked => Err("The access token was revoked."),
        Some(r) if r.expired => {
            Err("The access token expired; get a new one with the refresh token.")
        }
        Some(r) => Ok(Caller {
            account_id: r.account_id,
            account_name: r.account_name,
            account_label: r.account_label,
            user_id: r.user_id,
            username: r.username,
            display_name: r.display_name,
            scopes: r.scope.split_whitespace().map(str::to_string).collect(),
            token_key: key,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn loopback_and_registered_redirects_only() {
        let c = Client {
            client_id: "tandem".into(),
            secret_hash: String::new(),
            name: "Tandem".into(),
            redirect_prefixes: vec!["https://crm.example.com/".into()],
        };
        assert!(redirect_allowed(&c, "http://127.0.0.1:3000/oauth/callback"));
        assert!(redirect_allowed(&c, "http://localhost:9999/cb"));
        assert!(redirect_allowed(
            &c,
            "https://crm.example.com/oauth/callback/demo"
        ));
        assert!(!redirect_allowed(&c, "https://evil.example.com/cb"));
        assert!(!redirect_allowed(&c, "https://crm.example.com.evil.io/cb"));
        assert!(!redirect_allowed(&c, "http://127.0.0.1:3000/cb#frag"));
        assert!(!redirect_allowed(&c, "javascript:alert(1)"));
    }
}
