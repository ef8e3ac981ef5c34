//! Users of a portal: argon2 password hashes, roles, sign-in with rate limiting.

use super::auth::{AuthVia, Principal};
use crate::model::{ApiError, FieldError};
use crate::model::{Role, UserView};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sqlx::PgPool;
use uuid::Uuid;

/// Failed sign-ins allowed per email in [`LOGIN_WINDOW_MINUTES`] before we refuse more.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;
pub const MIN_PASSWORD_LEN: usize = 8;

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

pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
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

/// Checks an email and password, counting failures so that guessing is slow.
///
/// The same message answers an unknown email and a wrong password, so that sign-in
/// does not reveal who has an account.
pub async fn sign_in(
    pool: &PgPool,
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
    let recent_failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM login_attempts
         WHERE email = $1 AND NOT succeeded AND at > now() - make_interval(mins => $2)",
    )
    .bind(&email)
    .bind(LOGIN_WINDOW_MINUTES as i32)
    .fetch_one(pool)
    .await?;
    if recent_failures >= MAX_FAILED_LOGINS {
        return Err(ApiError::new(
            429,
            "rate_limited",
            "Too many failed sign-in attempts for this email.",
        )
        .with_hint(format!(
            "Wait {LOGIN_WINDOW_MINUTES} minutes and try again, or ask a Super Admin to reset your password."
        )));
    }

    let candidates: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT u.id, u.password_hash, p.slug FROM users u JOIN portals p ON p.id = u.portal_id
         WHERE u.email = $1 AND ($2::text IS NULL OR p.slug = $2)
         ORDER BY u.created_at",
    )
    .bind(&email)
    .bind(portal_slug.map(str::trim).filter(|s| !s.is_empty()))
    .fetch_all(pool)
    .await?;

    let mut matched = None;
    for (id, hash, _) in candidates {
        if verify_password(password.to_string(), hash).await {
            matched = Some(id);
            break;
        }
    }
    sqlx::query("INSERT INTO login_attempts (email, succeeded) VALUES ($1, $2)")
        .bind(&email)
        .bind(matched.is_some())
        .execute(pool)
        .await?;
    let Some(user_id) = matched else {
        return Err(
            ApiError::new(401, "invalid_login", "The email or password is not right.")
                .with_hint("Check both and try again. Passwords are case-sensitive."),
        );
    };
    principal(pool, user_id, AuthVia::Session)
        .await?
        .ok_or_else(ApiError::unauthorized)
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
