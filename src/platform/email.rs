//! Emails (SMTP via lettre), sent only when `TANDEM_SMTP_URL` is set, e.g.
//! `smtp://127.0.0.1:1025` (plain, for a local sink) or `smtps://user:pass@host`.

use super::Config;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub const FROM: &str = "Tandem <tandem@localhost>";

/// Sends one plain-text email to each address; `Ok(false)` when emails are off.
pub async fn send(
    config: &Config,
    to: &[String],
    subject: &str,
    body: &str,
) -> anyhow::Result<bool> {
    let Some(url) = &config.smtp_url else {
        return Ok(false);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build();
    let from: Mailbox = std::env::var("TANDEM_EMAIL_FROM")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| FROM.parse().expect("valid literal mailbox"));
    for address in to {
        let message = Message::builder()
            .from(from.clone())
            .to(address.parse()?)
            .subject(subject)
            .body(body.to_string())?;
        transport.send(message).await?;
    }
    Ok(true)
}
