//! Portals: the tenants. Every row of customer data belongs to exactly one.

use sqlx::PgPool;
use uuid::Uuid;

/// Creates the portal when missing; returns its id either way.
pub async fn ensure(pool: &PgPool, slug: &str, name: &str) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO portals (slug, name) VALUES ($1, $2)
         ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug
         RETURNING id",
    )
    .bind(slug)
    .bind(name)
    .fetch_one(pool)
    .await
}

pub async fn id_by_slug(pool: &PgPool, slug: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM portals WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
}
