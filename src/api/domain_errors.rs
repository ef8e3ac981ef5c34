//! How the domain's errors reach callers: each boundary error becomes an [`ApiError`]
//! with the status and code scripts can rely on.

use crate::engine::EngineError;
use crate::hub::HubError;
use crate::model::ApiError;

impl From<&HubError> for ApiError {
    fn from(e: &HubError) -> Self {
        let (status, code, problem) = match e {
            HubError::NotFound(p) => (404, "not_found", p),
            HubError::Invalid(p) => (422, "validation", p),
            HubError::BadRequest(p) => (400, "bad_request", p),
            HubError::Conflict(p) => (409, "conflict", p),
            HubError::Unexpected(e) => return ApiError::internal(format!("{e:#}")),
        };
        problem.clone().into_api_error(status, code)
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        (&e).into()
    }
}

impl From<&EngineError> for ApiError {
    fn from(e: &EngineError) -> Self {
        let (status, code, problem) = match e {
            EngineError::NotFound(p) => (404, "not_found", p),
            EngineError::Invalid(p) => (422, "validation", p),
            EngineError::BadRequest(p) => (400, "bad_request", p),
            EngineError::Conflict(p) => (409, "conflict", p),
            EngineError::AppUnavailable(p) => (502, "app_unavailable", p),
            EngineError::Expired(p) => (410, "expired", p),
            EngineError::TooManyExports(p) => (429, "too_many_exports", p),
            EngineError::Hub(e) => return e.into(),
            EngineError::Platform(e) => return e.clone(),
            EngineError::Unexpected(e) => return ApiError::internal(format!("{e:#}")),
        };
        problem.clone().into_api_error(status, code)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        (&e).into()
    }
}
