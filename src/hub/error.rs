//! The hub's one error type: what a caller of `hub` can be told went wrong. The `api`
//! layer maps it to an `ApiError` (status and code), the REST adapter to HubSpot's
//! error shape, the engine to a failed record.

use crate::model::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The record (or property, pipeline, …) does not exist in this portal.
    #[error("{}", .0.message)]
    NotFound(Problem),
    /// One or more values are not valid; `fields` names each.
    #[error("{}", .0.message)]
    Invalid(Problem),
    /// The request itself cannot be carried out as asked (a bad sort, a batch too big).
    #[error("{}", .0.message)]
    BadRequest(Problem),
    /// The write clashes with the data as it is (an email already used, a property in use).
    #[error("{}", .0.message)]
    Conflict(Problem),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl HubError {
    pub fn not_found(what: &str) -> Self {
        Self::missing(format!("{what} was not found."))
    }

    /// Not found, with the sentence given.
    pub fn missing(message: impl Into<String>) -> Self {
        HubError::NotFound(
            Problem::new(message)
                .with_hint("It may have been deleted, or it belongs to another portal."),
        )
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        HubError::Invalid(Problem::invalid(fields))
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        HubError::BadRequest(Problem::new(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        HubError::Conflict(Problem::new(message))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        HubError::Unexpected(anyhow::anyhow!("{detail}"))
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        if let Some(p) = self.problem_mut() {
            p.hint = Some(hint.into());
        }
        self
    }

    pub fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        if let Some(p) = self.problem_mut() {
            p.fields = fields;
        }
        self
    }

    /// What a person is told; `None` for an unexpected error (its detail is for the log).
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            HubError::NotFound(p)
            | HubError::Invalid(p)
            | HubError::BadRequest(p)
            | HubError::Conflict(p) => Some(p),
            HubError::Unexpected(_) => None,
        }
    }

    fn problem_mut(&mut self) -> Option<&mut Problem> {
        match self {
            HubError::NotFound(p)
            | HubError::Invalid(p)
            | HubError::BadRequest(p)
            | HubError::Conflict(p) => Some(p),
            HubError::Unexpected(_) => None,
        }
    }
}

impl From<sqlx::Error> for HubError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::not_found("The record"),
            other => HubError::Unexpected(other.into()),
        }
    }
}
