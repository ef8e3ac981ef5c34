//! OAuth 2.0 authorization code flow as HubSpot runs it: `/oauth/authorize` (the test
//! portal's user always consents at once), `POST /oauth/v1/token` for codes and refresh
//! tokens (PKCE S256 checked when a challenge was given), and the access-token info endpoint.

use crate::auth::{expired, APP_ID, USER_EMAIL, USER_ID};
use crate::error::ApiError;
use crate::{lock, now_ms, Shared};
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How long an authorization code can be exchanged (HubSpot does not document it).
const CODE_TTL_MS: i64 = 10 * 60 * 1000;

fn refuse_page(reason: &str) -> Response {
    let page = format!(
        "<!doctype html><html><head><title>Authorization failed</title></head>\
         <body><h1>Authorization failed</h1><p>{reason}</p></body></html>"
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

pub async fn authorize(
    State(app): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let client_ok = app.cfg.client_id.is_some() && q.get("client_id") == app.cfg.client_id.as_ref();
    if !client_ok {
        return refuse_page("Unknown client_id: this app is not installed on the portal.");
    }
    let Some(mut target) = q
        .get("redirect_uri")
        .and_then(|u| reqwest::Url::parse(u).ok())
    else {
        return refuse_page("redirect_uri is missing or not a URL.");
    };
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return refuse_page("code_challenge_method must be S256.");
    }
    let scopes: Vec<String> = ["scope", "optional_scope"]
        .iter()
        .filter_map(|k| q.get(*k))
        .flat_map(|s| s.split([' ', '+', ',']))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let code = uuid::Uuid::new_v4().to_string();
    lock(&app.tokens).codes.insert(
        code.clone(),
        crate::auth::CodeGrant {
            redirect_uri: q["redirect_uri"].clone(),
            scopes,
            challenge,
            expires_ms: now_ms() + CODE_TTL_MS,
        },
    );
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = q.get("state") {
            pairs.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// HubSpot's OAuth errors: `{"status":"BAD_AUTH_CODE","message":…,"correlationId":…}`.
fn oauth_error(status: &str, message: &str) -> ApiError {
    ApiError::shaped(
        StatusCode::BAD_REQUEST,
        json!({ "status": status, "message": message }),
    )
}

/// The client's id and secret, from HTTP Basic or from the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(i, p)| (i.to_string(), p.to_string()))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

pub async fn token(
    State(app): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Json<Value>, ApiError> {
    let Form(form) = form.map_err(|e| oauth_error("BAD_REQUEST", &e.body_text()))?;
    let (id, secret) = client_credentials(&headers, &form);
    if app.cfg.client_id.is_none() || id != app.cfg.client_id {
        return Err(oauth_error("BAD_CLIENT_ID", "missing or invalid client id"));
    }
    if app.cfg.client_secret.is_none() || secret != app.cfg.client_secret {
        return Err(oauth_error(
            "BAD_CLIENT_SECRET",
            "missing or invalid client secret",
        ));
    }
    let now = now_ms();
    let mut tokens = lock(&app.tokens);
    let (access, refresh) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let grant = form
                .get("code")
                .and_then(|c| tokens.codes.remove(c))
                .ok_or_else(|| oauth_error("BAD_AUTH_CODE", "missing or unknown auth code"))?;
            if grant.expires_ms <= now {
                return Err(oauth_error("EXPIRED_AUTH_CODE", "auth code is expired"));
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return Err(oauth_error(
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the one the auth code was issued for",
                ));
            }
            if let Some(challenge) = &grant.challenge {
                let verified = form.get("code_verifier").is_some_and(|v| {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge
                });
                if !verified {
                    return Err(oauth_error(
                        "BAD_AUTH_CODE",
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            tokens.issue(grant.scopes, None, now)
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let scopes = tokens.refresh.get(&presented).cloned().ok_or_else(|| {
                oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            })?;
            tokens.issue(scopes, Some(presented), now)
        }
        _ => {
            return Err(oauth_error(
                "BAD_GRANT_TYPE",
                "missing or unknown grant_type",
            ))
        }
    };
    Ok(Json(json!({
        "token_type": "bearer",
        "refresh_token": refresh,
        "access_token": access,
        "expires_in": crate::auth::ACCESS_TTL_SECS,
    })))
}

pub async fn token_info(
    State(app): State<Shared>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let tokens = lock(&app.tokens);
    let t = tokens.access.get(&token).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", "Token not found")
    })?;
    if t.expires_ms <= now {
        return Err(expired(t.expires_ms, now));
    }
    Ok(Json(json!({
        "token": token,
        "user": USER_EMAIL,
        "hub_domain": "wire-portal.example.com",
        "scopes": t.scopes,
        "hub_id": app.cfg.portal_id,
        "app_id": APP_ID,
        "expires_in": (t.expires_ms - now) / 1000,
        "user_id": USER_ID,
        "token_type": "access",
    })))
}
