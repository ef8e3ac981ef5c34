//! How the domain's errors reach callers: each boundary error becomes an [`ApiError`]
//! with the status and code scripts can rely on.

use crate::engine::EngineError;
use crate::hub::HubError;
use crate::model::{ApiError, Refusal, Refused};

impl From<&Refused> for ApiError {
    fn from(r: &Refused) -> Self {
        let (status, code) = match r.kind {
            Refusal::NotFound => (404, "not_found"),
            Refusal::Invalid => (422, "validation"),
            Refusal::BadRequest => (400, "bad_request"),
            Refusal::Conflict => (409, "conflict"),
            Refusal::AppUnavailable => (502, "app_unavailable"),
            Refusal::Expired => (410, "expired"),
            Refusal::TooManyExports => (429, "too_many_exports"),
        };
        r.problem.clone().into_api_error(status, code)
    }
}

impl From<&HubError> for ApiError {
    fn from(e: &HubError) -> Self {
        match e {
            HubError::Refused(r) => r.into(),
            HubError::Unexpected(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        (&e).into()
    }
}

impl From<&EngineError> for ApiError {
    fn from(e: &EngineError) -> Self {
        match e {
            EngineError::Refused(r) => r.into(),
            EngineError::Hub(e) => e.into(),
            EngineError::Platform(e) => e.clone(),
            EngineError::Unexpected(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        (&e).into()
    }
}
