//! The engine's one error type: what a caller of the sync use cases can be told went
//! wrong. The `api` layer maps it to an `ApiError` (status and code).

use crate::hub::HubError;
use crate::model::{ApiError, Refused};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Turned down for a reason a person can act on (a sync not found, invalid
    /// settings, an app that did not answer, an expired download, …).
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Refused by the platform (connections, tokens), already in its wire shape.
    #[error(transparent)]
    Platform(#[from] ApiError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl EngineError {
    /// What a person is told, when the engine or the hub refused.
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            EngineError::Refused(r) => Some(r),
            EngineError::Hub(e) => e.refused(),
            EngineError::Platform(_) | EngineError::Unexpected(_) => None,
        }
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Refused::not_found("The record").into(),
            other => EngineError::Unexpected(other.into()),
        }
    }
}
