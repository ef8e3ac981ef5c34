//! How the domain's errors reach callers: each boundary error becomes an [`ApiError`]
//! with the status and code scripts can rely on.

use crate::engine::EngineError;
use crate::hub::HubError;
use crate::model::ApiError;

impl From<&HubError> for ApiError {
    fn from(e: &HubError) -> Self {
        let (status, code) = match e {
            HubError::NotFound(_) => (404, "not_found"),
            HubError::Invalid(_) => (422, "validation"),
            HubError::BadRequest(_) => (400, "bad_request"),
            HubError::Conflict(_) => (409, "conflict"),
            HubError::Unexpected(e) => return ApiError::internal(format!("{e:#}")),
        };
        e.problem()
            .cloned()
            .unwrap_or_default()
            .into_api_error(status, code)
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        (&e).into()
    }
}

impl From<&EngineError> for ApiError {
    fn from(e: &EngineError) -> Self {
        let (status, code) = match e {
            EngineError::NotFound(_) => (404, "not_found"),
            EngineError::Invalid(_) => (422, "validation"),
            EngineError::BadRequest(_) => (400, "bad_request"),
            EngineError::Conflict(_) => (409, "conflict"),
            EngineError::AppUnavailable(_) => (502, "app_unavailable"),
            EngineError::Expired(_) => (410, "expired"),
            EngineError::TooManyExports(_) => (429, "too_many_exports"),
            EngineError::Hub(e) => return e.into(),
            EngineError::Platform(e) => return e.clone(),
            EngineError::Unexpected(e) => return ApiError::internal(format!("{e:#}")),
        };
        e.problem()
            .cloned()
            .unwrap_or_default()
            .into_api_error(status, code)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        (&e).into()
    }
}
