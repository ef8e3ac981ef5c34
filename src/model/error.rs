//! The one error shape every server function returns: a status, a stable code, a
//! sentence for people, what to do next, and per-field details for forms.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status the server answers with (set by `server::api_status`).
    pub status: u16,
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `not_found`, `validation`,
    /// `conflict`, `rate_limited`, `bad_request`, `internal`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            hint: None,
            fields: Vec::new(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "You are not signed in.").with_hint(
            "Sign in at /login, or send a private app token as `Authorization: Bearer <token>`.",
        )
    }

    pub fn forbidden(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(403, "forbidden", message).with_hint(hint)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} was not found."))
            .with_hint("It may have been deleted, or it belongs to another portal.")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// A form with one or more invalid fields.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        Problem::invalid(fields).into_api_error(422, "validation")
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        #[cfg(feature = "ssr")]
        tracing::error!(%detail, "internal error");
        #[cfg(not(feature = "ssr"))]
        let _ = detail;
        Self::new(500, "internal", "Something went wrong on the server.")
            .with_hint("Try again; if it keeps happening, the server log has the details.")
    }

    /// The message for a form field, if the error names it.
    pub fn field_message(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.message.as_str())
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // On the server, a body that does not decode into the arguments.
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(m) => {
                Self::bad_request(format!("The request body is not valid: {m}"))
                    .with_hint("Send a JSON object with the documented fields (see the README).")
            }
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                Self::bad_request(format!("The request body is not valid: {m}"))
                    .with_hint("Send a JSON object with the documented fields (see the README).")
            }
            ServerFnErrorErr::Request(m) => {
                Self::new(0, "network", format!("Could not reach the server: {m}"))
                    .with_hint("Check your connection and try again.")
            }
            other => Self::internal(other),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::not_found("The record"),
            other => Self::internal(other),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(format!("{e:#}"))
    }
}

/// What a domain error tells a person, before a boundary gives it a status and a code:
/// the sentence, what to do next, and the fields concerned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
    pub fields: Vec<FieldError>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            ..Problem::default()
        }
    }

    /// A form with one or more invalid fields; the message sums them up.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            _ => format!("{} fields need attention.", fields.len()),
        };
        Problem {
            message,
            hint: None,
            fields,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// This problem as the wire error with the given status and code.
    pub fn into_api_error(self, status: u16, code: &str) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: self.message,
            hint: self.hint,
            fields: self.fields,
        }
    }
}

/// A request a domain turned down, in words a person can act on: which kind of refusal
/// (the `api` layer gives each its status and code) and the [`Problem`]. `hub::HubError`
/// and `engine::EngineError` each carry one, so their constructors live here once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .problem.message)]
pub struct Refused {
    pub kind: Refusal,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The record (sync, export, property, pipeline, …) does not exist in this portal.
    NotFound,
    /// One or more values are not valid; the problem's `fields` names each.
    Invalid,
    /// The request cannot be carried out as asked (a bad sort, a batch too big).
    BadRequest,
    /// The request clashes with the state things are in (an email already used, a
    /// connection to reconnect, an export still running).
    Conflict,
    /// The connected app did not answer as expected.
    AppUnavailable,
    /// Something that was there is gone for good (an export's download link).
    Expired,
    /// The user has as many exports being made as one may.
    TooManyExports,
}

impl Refused {
    pub fn new(kind: Refusal, message: impl Into<String>) -> Self {
        Refused {
            kind,
            problem: Problem::new(message),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::missing(format!("{what} was not found."))
    }

    /// Not found, with the sentence given.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(Refusal::NotFound, message)
            .with_hint("It may have been deleted, or it belongs to another portal.")
    }

    pub fn validation(fields: Vec<FieldError>) -> Self {
        Refused {
            kind: Refusal::Invalid,
            problem: Problem::invalid(fields),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Refusal::BadRequest, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Refusal::Conflict, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.problem.hint = Some(hint.into());
        self
    }

    pub fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        self.problem.fields = fields;
        self
    }
}
