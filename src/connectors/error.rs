//! Errors of every connector, classified once: what is worth retrying (and when) versus
//! what needs a person.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// Timeouts, dropped connections, 5xx: retry with backoff.
    #[error("the app is temporarily unavailable: {message}")]
    Transient { message: String },
    /// 429: retry after the time the app asked for.
    #[error("the app's rate limit was reached; retry in {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The access token is no longer accepted; refresh it and retry once.
    #[error("the app no longer accepts the access token")]
    AuthExpired,
    /// The grant was revoked or the refresh token is dead: a person must reconnect.
    #[error("the connection must be reconnected: {message}")]
    ReconnectNeeded { message: String },
    #[error("not found in the app: {message}")]
    NotFound { message: String },
    #[error("the app refused permission: {message}")]
    Permission { message: String },
    /// The app refused the data (validation); `field` names the culprit when known.
    #[error("the app refused the data: {message}")]
    Invalid {
        code: String,
        message: String,
        field: Option<String>,
    },
    /// The app no longer accepts a change cursor (an expired sync token or feed
    /// position): the changes since are found by listing everything again.
    #[error("the app no longer accepts the change position: {message}")]
    CursorExpired { message: String },
    /// Anything else that retrying will not fix (unexpected answers, bad configuration).
    #[error("{message}")]
    Permanent { message: String },
}

impl ConnectorError {
    /// `object` is one of the app's `objects`; else a not-found naming the app.
    pub fn check_object(app: &str, objects: &[&str], object: &str) -> Result<(), Self> {
        if objects.contains(&object) {
            return Ok(());
        }
        Err(ConnectorError::NotFound {
            message: format!("{app} has no object `{object}`"),
        })
    }

    /// An answer of the app's that is not what its API promises.
    pub fn unexpected(app: &str, what: &str) -> Self {
        ConnectorError::Permanent {
            message: format!("{app} answered an unexpected {what}"),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient { .. } | ConnectorError::RateLimited { .. }
        )
    }

    /// The HTTP status and headers of an error answer, classified.
    pub fn from_status(status: u16, retry_after: Option<&str>, body: &str) -> Self {
        let message = short_message(body, status);
        match status {
            429 => ConnectorError::RateLimited {
                retry_after: parse_retry_after(retry_after).unwrap_or(Duration::from_secs(1)),
            },
            401 => ConnectorError::AuthExpired,
            403 => ConnectorError::Permission { message },
            404 | 410 => ConnectorError::NotFound { message },
            408 | 500..=599 => ConnectorError::Transient { message },
            400 | 409 | 422 => {
                let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
                let field = parsed
                    .as_ref()
                    .and_then(|v| v.get("field").or_else(|| v.pointer("/error/field")))
                    .and_then(|f| f.as_str())
                    .map(str::to_string);
                ConnectorError::Invalid {
                    code: "validation".into(),
                    message,
                    field,
                }
            }
            _ => ConnectorError::Permanent { message },
        }
    }

    /// Errors of the HTTP client itself (no answer at all).
    pub fn from_transport(e: &reqwest::Error) -> Self {
        if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
            ConnectorError::Transient {
                message: e.to_string(),
            }
        } else if e.is_decode() {
            ConnectorError::Permanent {
                message: format!("the app answered something we cannot read: {e}"),
            }
        } else {
            ConnectorError::Transient {
                message: e.to_string(),
            }
        }
    }
}

/// `Retry-After` in seconds (the form APIs use); HTTP dates are not worth supporting.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn short_message(body: &str, status: u16) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "error_description", "error"]
                .iter()
                .find_map(|k| v.get(*k).or_else(|| v.pointer(&format!("/error/{k}"))))
                .and_then(|m| m.as_str().map(str::to_string))
        });
    let text = from_json.unwrap_or_else(|| body.chars().take(200).collect());
    if text.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", text.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert!(ConnectorError::from_status(503, None, "").is_transient());
        assert!(ConnectorError::from_status(500, None, "boom").is_transient());
        assert_eq!(
            ConnectorError::from_status(429, Some("7"), ""),
            ConnectorError::RateLimited {
                retry_after: Duration::from_secs(7)
            }
        );
        assert_eq!(
            ConnectorError::from_status(401, None, ""),
            ConnectorError::AuthExpired
        );
        assert!(matches!(
            ConnectorError::from_status(422, None, r#"{"message":"email is invalid","field":"email"}"#),
            ConnectorError::Invalid { field: Some(f), .. } if f == "email"
        ));
        assert!(!ConnectorError::from_status(404, None, "").is_transient());
        assert!(!ConnectorError::from_status(403, None, "").is_transient());
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some("0.5")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
