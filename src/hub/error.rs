//! The hub's one error type: what a caller of `hub` can be told went wrong. The `api`
//! layer maps it to an `ApiError` (status and code), the REST adapter to HubSpot's
//! error shape, the engine to a failed record.

use crate::model::Refused;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Turned down for a reason a person can act on (not found, invalid, a conflict, …).
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl HubError {
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        HubError::Unexpected(anyhow::anyhow!("{detail}"))
    }

    /// What a person is told; `None` for an unexpected error (its detail is for the log).
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            HubError::Refused(r) => Some(r),
            HubError::Unexpected(_) => None,
        }
    }
}

impl From<sqlx::Error> for HubError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Refused::not_found("The record").into(),
            other => HubError::Unexpected(other.into()),
        }
    }
}
