//! The browser's side of the flow: `GET /oauth/install/{app}` (the Install button)
//! and `GET /oauth/callback` (where the app sends the user back).

use crate::platform::install::{
    complete, pending, start, CallbackParams, InstallFailure, PendingInstall,
};
use crate::platform::AppState;
use crate::server::plain_pages::message_page;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::request::Parts;
use serde::Deserialize;

pub async fn install(
    State(state): State<AppState>,
    Path(app): Path<String>,
    parts: Parts,
) -> Response {
    let back = ("/marketplace", "Back to the Marketplace");
    let who = match crate::platform::auth::authenticate(&state, &parts).await {
        Ok(p) => p,
        Err(_) => return Redirect::to(&format!("/login?next=/marketplace/{app}")).into_response(),
    };
    if !who.role.can_manage_apps() {
        return message_page(
            403,
            "You cannot install apps",
            "Installing apps needs the App Marketplace permission.",
            "Ask a Super Admin to give you the App Marketplace permission in Settings → Users.",
            back,
        );
    }
    match start(&state, &who, &app).await {
        Ok(s) => Redirect::to(&s.authorization_url).into_response(),
        Err(e) => message_page(
            e.status,
            "The install could not start",
            &e.message,
            e.hint.as_deref().unwrap_or(""),
            back,
        ),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
    parts: Parts,
) -> Response {
    let caller = crate::platform::auth::authenticate(&state, &parts)
        .await
        .ok();
    // An approval reaching a browser that is not signed in may come from someone other
    // than the person who started the install (a link sent to them): their app account
    // would join the starter's portal. Only the starter, signed in here, finishes it.
    if caller.is_none() && q.error.is_none() && q.code.is_some() {
        if let Some(raw_state) = q.state.as_deref().filter(|s| !s.is_empty()) {
            return match pending(&state, raw_state).await {
                Ok(p) => confirmation_page(&p, &parts),
                Err(f) => failure_page(&f),
            };
        }
    }
    let params = CallbackParams {
        code: q.code,
        state: q.state,
        error: q.error,
        error_description: q.error_description,
    };
    match complete(&state, caller.as_ref(), params).await {
        Ok(done) => {
            let flag = if done.reconnected {
                "reconnected"
            } else {
                "connected"
            };
            Redirect::to(&format!(
                "/settings/integrations/connected-apps/{}?{flag}={}",
                done.app, done.connection_id
            ))
            .into_response()
        }
        Err(f) => failure_page(&f),
    }
}

fn failure_page(f: &InstallFailure) -> Response {
    message_page(
        f.status,
        &f.title,
        &f.message,
        &f.hint,
        ("/marketplace", "Back to the Marketplace"),
    )
}

/// Names the portal and the person who started the install; signing in as them comes
/// back to this callback, which then finishes it.
fn confirmation_page(p: &PendingInstall, parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/oauth/callback");
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    message_page(
        200,
        "Confirm this install",
        &format!(
            "{} ({}) started connecting {} to the Tandem portal “{}”. Only they can finish it, signed in to Tandem in this browser.",
            p.started_by_name, p.started_by_email, p.app_name, p.portal_name
        ),
        &format!(
            "If you did not start this install, close this page: nothing has been connected, and your {} account stays out of that portal.",
            p.app_name
        ),
        (
            &format!("/login?next={next}"),
            &format!("Sign in as {} to finish", p.started_by_email),
        ),
    )
}
