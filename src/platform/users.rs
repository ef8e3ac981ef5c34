//! Users of a portal: argon2 password hashes, roles, sign-in with rate limiting.

use super::auth::{AuthVia, Principal};
use crate::model::{ApiError, FieldError};
use crate::model::{Role, UserView};
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use sqlx::PgPool;
use std::net::IpAddr;
use std::sync::LazyLock;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Failed sign-ins a client may make for an email before it has to wait.
pub const FREE_FAILED_LOGINS: i64 = 5;
/// The longest wait between guesses; it doubles from one minute up to this.
pub const MAX_LOGIN_WAIT_MINUTES: i64 = 60;
/// Sign-in attempts older than this are forgotten (and deleted).
pub const LOGIN_WINDOW_HOURS: i32 = 24;
/// Argon2 verifications at once: each holds ~19 MiB and a core while it runs.
const CONCURRENT_VERIFICATIONS: usize = 4;
/// The longest email address (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL_LEN: usize = 254;
pub const MIN_PASSWORD_LEN: usize = 8;

static VERIFICATIONS: Semaphore = Semaphore::const_new(CONCURRENT_VERIFICATIONS);
/// Checked when no user has the email, so that an unknown email costs what a wrong
/// password costs; hashed with the same parameters as real passwords.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"no user has this email", &SaltString::generate(&mut OsRng))
        .expect("hashing a literal works")
        .to_string()
});

pub fn role_to_db(role: Role) -> &'static str {
    match role {
        Role::SuperAdmin => "super_admin",
        Role::AppMarketplace => "app_marketplace",
        Role::User => "user",
    }
}

pub fn role_from_db(s: &str) -> Role {
    match s {
        "super_admin" => Role::SuperAdmin,
        "app_marketplace" => Role::AppMarketplace,
        _ => Role::User,
    }
}

/// Emails are compared trimmed and case-insensitively.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub use crate::support::hash_password;

/// Checks a password against a hash, or against [`DUMMY_HASH`] for `None`.
async fn verify_password(password: String, hash: Option<String>) -> bool {
    let Ok(_permit) = VERIFICATIONS.acquire().await else {
        return false;
    };
    crate::support::password_matches(password, hash.unwrap_or_else(|| DUMMY_HASH.clone())).await
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: String,
    pub role: Role,
}

pub fn validate_new_user(u: &NewUser) -> Result<(), ApiError> {
    let mut fields = Vec::new();
    if !email_address::EmailAddress::is_valid(u.email.trim()) {
        fields.push(FieldError {
            field: "email".into(),
            message: format!("“{}” is not a valid email address.", u.email.trim()),
        });
    }
    if u.email.trim().len() > MAX_EMAIL_LEN {
        fields.push(FieldError {
            field: "email".into(),
            message: format!("An email address has at most {MAX_EMAIL_LEN} characters."),
        });
    }
    if u.name.trim().is_empty() {
        fields.push(FieldError {
            field: "name".into(),
            message: "Enter the person's name.".into(),
        });
    }
    if u.password.chars().count() < MIN_PASSWORD_LEN {
        fields.push(FieldError {
            field: "password".into(),
            message: format!("The password needs at least {MIN_PASSWORD_LEN} characters."),
        });
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(fields))
    }
}

pub async fn create(pool: &PgPool, portal_id: Uuid, user: NewUser) -> Result<Uuid, ApiError> {
    validate_new_user(&user)?;
    let hash = hash_password(user.password).await?;
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (portal_id, email, name, password_hash, role)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (portal_id, email) DO NOTHING
         RETURNING id",
    )
    .bind(portal_id)
    .bind(normalise_email(&user.email))
    .bind(user.name.trim())
    .bind(hash)
    .bind(role_to_db(user.role))
    .fetch_optional(pool)
    .await?;
    id.ok_or_else(|| {
        ApiError::field(
            "email",
            "A user with this email already exists in this portal.",
        )
    })
}

pub async fn set_password(pool: &PgPool, user_id: Uuid, password: String) -> anyhow::Result<()> {
    let hash = hash_password(password).await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn id_by_email(
    pool: &PgPool,
    portal_id: Uuid,
    email: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM users WHERE portal_id = $1 AND email = $2")
        .bind(portal_id)
        .bind(normalise_email(email))
        .fetch_optional(pool)
        .await
}

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    user_id: Uuid,
    email: String,
    name: String,
    role: String,
    portal_id: Uuid,
    portal_slug: String,
    portal_name: String,
}

const PRINCIPAL_SELECT: &str = "SELECT u.id AS user_id, u.email, u.name, u.role,
        p.id AS portal_id, p.slug AS portal_slug, p.name AS portal_name
    FROM users u JOIN portals p ON p.id = u.portal_id";

impl PrincipalRow {
    fn into_principal(self, via: AuthVia) -> Principal {
        Principal {
            user_id: self.user_id,
            email: self.email,
            name: self.name,
            role: role_from_db(&self.role),
            portal_id: self.portal_id,
            portal_slug: self.portal_slug,
            portal_name: self.portal_name,
            via,
        }
    }
}

pub async fn principal(
    pool: &PgPool,
    user_id: Uuid,
    via: AuthVia,
) -> sqlx::Result<Option<Principal>> {
    let row: Option<PrincipalRow> = sqlx::query_as(&format!("{PRINCIPAL_SELECT} WHERE u.id = $1"))
        .bind(user_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.into_principal(via)))
}

/// Checks an email and password from `client`, throttling its failures so that guessing
/// is slow.
///
/// The throttle is per (client, email): one client's failures never refuse another's
/// correct password, so nobody can lock the admin out. Each attempt is recorded as a
/// failure before the password is checked (a success turns it around), so parallel
/// guesses count each other. The same message answers an unknown email and a wrong
/// password, after the same work, so that sign-in does not reveal who has an account.
pub async fn sign_in(
    pool: &PgPool,
    client: Option<IpAddr>,
    email: &str,
    password: &str,
    portal_slug: Option<&str>,
) -> Result<Principal, ApiError> {
    let email = normalise_email(email);
    if email.is_empty() || password.is_empty() {
        return Err(ApiError::validation(vec![FieldError {
            field: if email.is_empty() {
                "email"
            } else {
                "password"
            }
            .into(),
            message: "Enter your email and password.".into(),
        }]));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(ApiError::field(
            "email",
            format!("An email address has at most {MAX_EMAIL_LEN} characters."),
        ));
    }
    let client = client_key(client);
    let attempt: i64 = sqlx::query_scalar(
        "WITH purged AS (
             DELETE FROM login_attempts WHERE at < now() - make_interval(hours => $3)
         )
         INSERT INTO login_attempts (client, email, succeeded) VALUES ($1, $2, false)
         RETURNING id",
    )
    .bind(&client)
    .bind(&email)
    .bind(LOGIN_WINDOW_HOURS)
    .fetch_one(pool)
    .await?;
    // This client's other failures for the email since its last success, and how long
    // ago the latest was; attempts still being checked count as failures.
    let (failures, since_last): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - max(at))::float8
         FROM login_attempts
         WHERE client = $1 AND email = $2 AND NOT succeeded AND id <> $3
           AND at > now() - make_interval(hours => $4)
           AND at > coalesce((SELECT max(at) FROM login_attempts
                              WHERE client = $1 AND email = $2 AND succeeded), '-infinity')",
    )
    .bind(&client)
    .bind(&email)
    .bind(attempt)
    .bind(LOGIN_WINDOW_HOURS)
    .fetch_one(pool)
    .await?;
    let since_last = chrono::Duration::milliseconds((since_last.unwrap_or(0.0) * 1000.0) as i64);
    if let Some(left) = login_wait(failures, since_last) {
        // A refused attempt checked nothing: it does not lengthen the wait.
        sqlx::query("DELETE FROM login_attempts WHERE id = $1")
            .bind(attempt)
            .execute(pool)
            .await?;
        let minutes = (left.num_milliseconds() + 59_999) / 60_000;
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        return Err(ApiError::new(
            429,
            "rate_limited",
            "Too many failed sign-in attempts for this email from your network.",
        )
        .with_hint(format!(
            "Wait {minutes} {unit} and try again, or ask a Super Admin to reset your password."
        )));
    }

    let candidates: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.password_hash FROM users u JOIN portals p ON p.id = u.portal_id
         WHERE u.email = $1 AND ($2::text IS NULL OR p.slug = $2)
         ORDER BY u.created_at",
    )
    .bind(&email)
    .bind(portal_slug.map(str::trim).filter(|s| !s.is_empty()))
    .fetch_all(pool)
    .await?;
    if candidates.is_empty() {
        verify_password(password.to_string(), None).await;
    }
    let mut matched = None;
    for (id, hash) in candidates {
        if verify_password(password.to_string(), Some(hash)).await {
            matched = Some(id);
            break;
        }
    }
    let Some(user_id) = matched else {
        return Err(
            ApiError::new(401, "invalid_login", "The email or password is not right.")
                .with_hint("Check both and try again. Passwords are case-sensitive."),
        );
    };
    sqlx::query("UPDATE login_attempts SET succeeded = true WHERE id = $1")
        .bind(attempt)
        .execute(pool)
        .await?;
    principal(pool, user_id, AuthVia::Session)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// Who is signing in, as the throttle keys it: an IPv4 address, or an IPv6 address's
/// /64 (one subscriber's whole network); `unknown` when the server was not told.
fn client_key(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(v4) => v4.to_string(),
        None => "unknown".into(),
    }
}

/// How long `client` must wait before another guess at `email`: nothing for the first
/// [`FREE_FAILED_LOGINS`] failures since its last success, then a minute, doubling with
/// each further failure up to [`MAX_LOGIN_WAIT_MINUTES`], counted from the last one.
fn login_wait(failures: i64, since_last: chrono::Duration) -> Option<chrono::Duration> {
    let extra = u32::try_from(failures - FREE_FAILED_LOGINS).ok()?;
    let minutes = 2i64.saturating_pow(extra).min(MAX_LOGIN_WAIT_MINUTES);
    let left = chrono::Duration::minutes(minutes) - since_last;
    (left > chrono::Duration::zero()).then_some(left)
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    role: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

pub async fn list(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<UserView>> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT id, email, name, role, created_at FROM users WHERE portal_id = $1 ORDER BY email",
    )
    .bind(portal_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| UserView {
            id: r.id,
            email: r.email,
            name: r.name,
            role: role_from_db(&r.role),
            created_at: r.created_at,
        })
        .collect())
}

/// Every Super Admin of a portal: who gets sync and export notifications.
pub async fn admin_ids(pool: &PgPool, portal_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT id FROM users WHERE portal_id = $1 AND role = 'super_admin'")
        .bind(portal_id)
        .fetch_all(pool)
        .await
}
