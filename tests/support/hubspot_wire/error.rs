//! HubSpot's error bodies. Every error answer is JSON and carries a fresh `correlationId`.

use crate::schema::PropError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

pub struct ApiError {
    pub status: StatusCode,
    pub body: Map<String, Value>,
}

pub fn correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl ApiError {
    /// The CRM v3 shape: `{"status":"error","message","correlationId","category"}`.
    pub fn new(status: StatusCode, category: &str, message: impl Into<String>) -> Self {
        Self::shaped(
            status,
            json!({"status": "error", "message": message.into(), "category": category}),
        )
    }

    /// Any other documented shape (OAuth, rate limits); the correlationId is added here.
    pub fn shaped(status: StatusCode, fields: Value) -> Self {
        let mut body = match fields {
            Value::Object(map) => map,
            other => Map::from_iter([("message".to_string(), other)]),
        };
        body.insert("correlationId".into(), Value::String(correlation_id()));
        Self { status, body }
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.body.insert(key.to_string(), value);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    /// "Property values were not valid: [...]" with an `errors` array naming each property;
    /// in a batch, `index` names the failing input.
    pub fn invalid_properties(errors: &[PropError], index: Option<usize>) -> Self {
        let details: Vec<Value> = errors
            .iter()
            .map(|e| {
                json!({"isValid": false, "message": e.message, "error": e.code, "name": e.name,
                       "localizedErrorMessage": e.message})
            })
            .collect();
        let listed: Vec<Value> = errors
            .iter()
            .map(|e| {
                let mut context = json!({"propertyName": [e.name]});
                if let Some(i) = index {
                    context["inputIndex"] = json!([i.to_string()]);
                }
                json!({"message": e.message, "code": e.code, "context": context})
            })
            .collect();
        let message = format!("Property values were not valid: {}", Value::Array(details));
        Self::validation(message).with("errors", Value::Array(listed))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(Value::Object(self.body))).into_response()
    }
}

/// A JSON body whose parse errors answer as HubSpot's 400 rather than axum's plain text.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::validation(e.body_text()))?;
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            ApiError::validation(format!(
                "Invalid input JSON on line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })
    }
}
