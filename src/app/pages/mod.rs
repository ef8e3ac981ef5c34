//! One file per page (or page family).

pub mod crm;
mod home;
mod login;
mod notifications;
mod placeholders;
mod properties;
mod tokens;
mod users;

pub use crm::{CrmListPage, CrmRecordPage};
pub use home::HomePage;
pub use login::LoginPage;
pub use notifications::NotificationsPage;
pub use placeholders::*;
pub use properties::PropertiesPage;
pub use tokens::TokensPage;
pub use users::UsersPage;
