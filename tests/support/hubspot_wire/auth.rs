//! Bearer tokens: the private-app tokens from the command line, and the OAuth access and
//! refresh tokens and authorization codes this server issued.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode};
use std::collections::{HashMap, HashSet};

/// The OAuth app whose client id and secret the server was started with.
pub const APP_ID: u64 = 4_242_001;
/// Stands for the private app behind the `--token` tokens (webhook `sourceId`).
pub const PRIVATE_APP_ID: u64 = 4_242_002;
pub const USER_ID: u64 = 7_000_001;
pub const USER_EMAIL: &str = "wire-user@example.com";
/// HubSpot's access tokens live 30 minutes.
pub const ACCESS_TTL_SECS: i64 = 1800;

/// Who made an API call: limits are counted per token.
#[derive(Clone)]
pub struct Principal {
    pub token: String,
    pub oauth: bool,
}

impl Principal {
    pub fn app_id(&self) -> u64 {
        if self.oauth {
            APP_ID
        } else {
            PRIVATE_APP_ID
        }
    }
}

pub struct AccessToken {
    pub expires_ms: i64,
    pub scopes: Vec<String>,
}

pub struct CodeGrant {
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// A PKCE S256 challenge given at authorization.
    pub challenge: Option<String>,
    pub expires_ms: i64,
}

#[derive(Default)]
pub struct Tokens {
    private: HashSet<String>,
    pub access: HashMap<String, AccessToken>,
    /// Refresh token to the scopes it grants; HubSpot's refresh tokens do not expire.
    pub refresh: HashMap<String, Vec<String>>,
    pub codes: HashMap<String, CodeGrant>,
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can \
         find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

pub fn expired(expires_ms: i64, now_ms: i64) -> ApiError {
    let ago = (now_ms - expires_ms).max(0) / 1000;
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "EXPIRED_AUTHENTICATION",
        format!("The OAuth token used to make this call expired {ago} second(s) ago."),
    )
}

impl Tokens {
    pub fn new(private: Vec<String>) -> Self {
        Self {
            private: private.into_iter().filter(|t| !t.is_empty()).collect(),
            ..Self::default()
        }
    }

    pub fn check(&self, headers: &HeaderMap, now_ms: i64) -> Result<Principal, ApiError> {
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string())
            .ok_or_else(unauthenticated)?;
        if self.private.contains(&token) {
            return Ok(Principal {
                token,
                oauth: false,
            });
        }
        match self.access.get(&token) {
            Some(t) if t.expires_ms <= now_ms => Err(expired(t.expires_ms, now_ms)),
            Some(_) => Ok(Principal { token, oauth: true }),
            None => Err(unauthenticated()),
        }
    }

    /// A new access token for the scopes of `refresh` (itself new when `None`).
    pub fn issue(
        &mut self,
        scopes: Vec<String>,
        refresh: Option<String>,
        now_ms: i64,
    ) -> (String, String) {
        let access = format!("hsw-at-{}", uuid::Uuid::new_v4());
        let refresh = refresh.unwrap_or_else(|| format!("hsw-rt-{}", uuid::Uuid::new_v4()));
        self.refresh.insert(refresh.clone(), scopes.clone());
        self.access.insert(
            access.clone(),
            AccessToken {
                expires_ms: now_ms + ACCESS_TTL_SECS * 1000,
                scopes,
            },
        );
        (access, refresh)
    }

    /// Test control: ends the life of one access token, or of all.
    pub fn expire(&mut self, token: Option<&str>, now_ms: i64) -> usize {
        let mut n = 0;
        for (key, t) in self.access.iter_mut() {
            if token.is_none_or(|want| want == key) && t.expires_ms > now_ms {
                t.expires_ms = now_ms - 1;
                n += 1;
            }
        }
        n
    }
}
