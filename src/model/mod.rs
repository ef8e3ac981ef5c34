//! Serde DTOs shared by the server and the WASM client: what server functions take and
//! return. No database rows here; the server converts its rows into these views.

pub mod apps;
pub mod crm;
pub mod error;
pub mod sync;
pub mod users;

pub use apps::*;
pub use error::{ApiError, FieldError, Problem};
pub use sync::*;
pub use users::*;
