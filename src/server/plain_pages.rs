//! Small server-rendered pages for answers outside the Leptos app (OAuth callback
//! outcomes): a readable message, what to do, and a way back. Never raw errors.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn message_page(
    status: u16,
    title: &str,
    message: &str,
    hint: &str,
    link: (&str, &str),
) -> Response {
    let body = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tandem</title><link rel="stylesheet" href="/pkg/tandem.css"><link rel="icon" href="/favicon.svg"></head>
<body><main class="centered"><div class="card" data-testid="install-outcome"><h1>{title}</h1><p>{message}</p><p class="hint">{hint}</p>
<a class="button primary" href="{href}">{label}</a></div></main></body></html>"#,
        title = escape(title),
        message = escape(message),
        hint = escape(hint),
        href = escape(link.0),
        label = escape(link.1),
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Html(body)).into_response()
}
