//! The browser's side of the flow: `GET /oauth/install/{app}` (the Install button)
//! and `GET /oauth/callback` (where the app sends the user back).

use crate::platform::install::{complete, start, CallbackParams};
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
        Err(f) => message_page(
            f.status,
            &f.title,
            &f.message,
            &f.hint,
            ("/marketplace", "Back to the Marketplace"),
        ),
    }
}
