//! The engine's one error type: what a caller of the sync use cases can be told went
//! wrong. The `api` layer maps it to an `ApiError` (status and code).

use crate::hub::HubError;
use crate::model::{ApiError, FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The sync (export, record, app, …) does not exist in this portal.
    #[error("{}", .0.message)]
    NotFound(Problem),
    /// One or more settings are not valid; `fields` names each.
    #[error("{}", .0.message)]
    Invalid(Problem),
    /// The request cannot be carried out as asked.
    #[error("{}", .0.message)]
    BadRequest(Problem),
    /// The action clashes with the state things are in (a connection to reconnect, an
    /// export still running).
    #[error("{}", .0.message)]
    Conflict(Problem),
    /// The connected app did not answer as expected.
    #[error("{}", .0.message)]
    AppUnavailable(Problem),
    /// Something that was there is gone for good (an export's download link).
    #[error("{}", .0.message)]
    Expired(Problem),
    /// The user has as many exports being made as one may.
    #[error("{}", .0.message)]
    TooManyExports(Problem),
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Refused by the platform (connections, tokens), already in its wire shape.
    #[error(transparent)]
    Platform(#[from] ApiError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl EngineError {
    pub fn not_found(what: &str) -> Self {
        EngineError::NotFound(
            Problem::new(format!("{what} was not found."))
                .with_hint("It may have been deleted, or it belongs to another portal."),
        )
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        EngineError::Invalid(Problem::invalid(fields))
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        EngineError::BadRequest(Problem::new(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        EngineError::Conflict(Problem::new(message))
    }

    pub fn app_unavailable(message: impl Into<String>) -> Self {
        EngineError::AppUnavailable(Problem::new(message))
    }

    pub fn expired(message: impl Into<String>) -> Self {
        EngineError::Expired(Problem::new(message))
    }

    pub fn too_many_exports(message: impl Into<String>) -> Self {
        EngineError::TooManyExports(Problem::new(message))
    }

    /// Adds what to do next; errors from other layers keep their own.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        if let Some(p) = self.problem_mut() {
            p.hint = Some(hint.into());
        }
        self
    }

    /// What a person is told, for the engine's own kinds.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            EngineError::NotFound(p)
            | EngineError::Invalid(p)
            | EngineError::BadRequest(p)
            | EngineError::Conflict(p)
            | EngineError::AppUnavailable(p)
            | EngineError::Expired(p)
            | EngineError::TooManyExports(p) => Some(p),
            EngineError::Hub(_) | EngineError::Platform(_) | EngineError::Unexpected(_) => None,
        }
    }

    fn problem_mut(&mut self) -> Option<&mut Problem> {
        match self {
            EngineError::NotFound(p)
            | EngineError::Invalid(p)
            | EngineError::BadRequest(p)
            | EngineError::Conflict(p)
            | EngineError::AppUnavailable(p)
            | EngineError::Expired(p)
            | EngineError::TooManyExports(p) => Some(p),
            EngineError::Hub(_) | EngineError::Platform(_) | EngineError::Unexpected(_) => None,
        }
    }
}

impl From<sqlx::Error> for EngineError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::not_found("The record"),
            other => EngineError::Unexpected(other.into()),
        }
    }
}
