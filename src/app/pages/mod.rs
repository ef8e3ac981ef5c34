//! One file per page (or page family).

mod connected_apps;
pub mod crm;
mod home;
mod import_export;
mod login;
mod marketplace;
mod notifications;
mod properties;
pub mod syncs;
mod tokens;
mod users;

pub use connected_apps::{AppPage, ConnectedAppsPage};
pub use crm::{CrmListPage, CrmRecordPage};
pub use home::HomePage;
pub use import_export::ImportExportPage;
pub use login::LoginPage;
pub use marketplace::{AppListingPage, MarketplacePage};
pub use notifications::NotificationsPage;
pub use properties::PropertiesPage;
pub use syncs::{EditSyncPage, ExportPage, NewSyncPage, SyncRecordsPage};
pub use tokens::TokensPage;
pub use users::UsersPage;
