//! Serde DTOs shared by the server and the WASM client: what server functions take and
//! return. No database rows here; the server converts its rows into these views.

/// Stores an enum with `as_str`/`parse` in a `text` column (what `sqlx` reads and
/// binds), so the engine works with the enum and the database keeps readable names.
#[cfg(feature = "ssr")]
macro_rules! text_column {
    ($t:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$t>::parse(s).ok_or_else(|| format!("“{s}” is not a {}", stringify!($t)).into())
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    };
}
#[cfg(feature = "ssr")]
use text_column;

/// `s` with its first letter upper-case: a label from a name (`contacts` → `Contacts`),
/// a sentence from a lower-case message.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub mod apps;
pub mod crm;
pub mod error;
pub mod sync;
pub mod users;

pub use apps::*;
pub use error::{ApiError, FieldError, Problem, Refusal, Refused};
pub use sync::*;
pub use users::*;
