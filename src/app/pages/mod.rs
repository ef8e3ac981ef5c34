//! One file per page (or page family).

mod home;
mod login;
mod notifications;
mod placeholders;
mod tokens;
mod users;

pub use home::HomePage;
pub use login::LoginPage;
pub use notifications::NotificationsPage;
pub use placeholders::*;
pub use tokens::TokensPage;
pub use users::UsersPage;
