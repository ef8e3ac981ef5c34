//! Sign-in, sign-out and `whoami`.

use super::ApiError;
use crate::model::WhoAmI;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

/// Who is calling. `curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}' …/api/whoami`
#[server(endpoint = "whoami", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn whoami() -> Result<WhoAmI, ApiError> {
    Ok(super::ssr::principal().await?.whoami())
}

/// The signed-in user, or `None` for visitors; what the page shell renders from.
#[server(endpoint = "current_user", input = Json, output = Json)]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn current_user() -> Result<Option<WhoAmI>, ApiError> {
    match super::ssr::principal().await {
        Ok(p) => Ok(Some(p.whoami())),
        Err(e) if e.status == 401 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Signs in with email and password (form post from the login page).
#[server(endpoint = "login")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn login(
    email: String,
    password: String,
    #[server(default)] portal: Option<String>,
    #[server(default)] next: Option<String>,
) -> Result<(), ApiError> {
    use crate::platform::auth::SESSION_USER_KEY;
    let state = super::ssr::state()?;
    // The peer address `tandem serve` records for each connection (absent only in tests
    // that do not set it): sign-in failures are throttled per client.
    let client = use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
    });
    let principal =
        crate::platform::users::sign_in(&state.pool, client, &email, &password, portal.as_deref())
            .await?;
    let session = super::ssr::session()?;
    // A new session id at sign-in, so a planted cookie cannot be promoted (fixation).
    session.cycle_id().await.map_err(ApiError::internal)?;
    session
        .insert(SESSION_USER_KEY, principal.user_id)
        .await
        .map_err(ApiError::internal)?;
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

#[server(endpoint = "logout")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all, err))]
pub async fn logout() -> Result<(), ApiError> {
    let session = super::ssr::session()?;
    session.flush().await.map_err(ApiError::internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Only paths on this site: a `next` of `https://evil.example` must not redirect away.
///
/// Resolved against a stand-in origin the way a browser resolves it (which drops tabs
/// and newlines, so `/\t/evil.example` is `//evil.example`): what stays on that origin
/// is a local path. Control characters, whitespace and backslashes are refused outright,
/// since browsers and servers disagree about them.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(next) = next else {
        return HOME.into();
    };
    if !next.starts_with('/')
        || next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return HOME.into();
    }
    let origin = url::Url::parse("http://tandem.invalid/").expect("a valid literal URL");
    match origin.join(next) {
        Ok(target) if target.origin() == origin.origin() => {
            target[url::Position::BeforePath..].to_string()
        }
        _ => HOME.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/contacts?page=2")), "/contacts?page=2");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/a/../b#top")), "/b#top");
        assert_eq!(safe_next(None), "/");
    }
}
