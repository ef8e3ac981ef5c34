//! Every app Tandem knows: the installable ones with their definitions, and the ones
//! listed in the marketplace that this build cannot install yet.

use super::bottlecrm::{self, BottleCrmApp};
use super::carddav::{self, CardDavApp};
use super::demo::{self, DemoApp};
use super::http::HttpLimits;
use super::hubspot::{self, HubSpotApp, HubSpotConfig};
use super::{AppDefinition, AppListing};
use std::sync::Arc;
use std::time::Duration;

/// What the installable apps need from Tandem's configuration (`TANDEM_DEMO_*`,
/// `TANDEM_APP_RATE_LIMIT`).
#[derive(Debug, Clone)]
pub struct AppsConfig {
    /// The bundled Demo CRM and Tandem's OAuth client there.
    pub demo_app_url: String,
    pub demo_client_id: String,
    pub demo_client_secret: String,
    /// Requests per window Tandem allows itself per connected account (`None`: no limit
    /// of its own): just under the apps' own limits, so that 429s stay rare.
    pub app_rate_limit: Option<(u32, f64)>,
    /// How often address books are asked for changes (`TANDEM_CARDDAV_POLL_SECS`,
    /// default 30): CardDAV servers send no notices.
    pub carddav_poll_every: Duration,
    /// How often BottleCRM servers are compared with the hub (`TANDEM_BOTTLECRM_POLL_SECS`,
    /// default 60): each look lists all their records, as they have no change feed.
    pub bottlecrm_poll_every: Duration,
    /// HubSpot's endpoints, Tandem's OAuth app there and its limits (`TANDEM_HUBSPOT_*`).
    pub hubspot: HubSpotConfig,
}

/// The installable apps, configured from the environment.
pub fn app_definitions(config: &AppsConfig) -> Vec<Arc<dyn AppDefinition>> {
    let mut limits = HttpLimits::default();
    match config.app_rate_limit {
        Some((requests, secs)) => {
            limits.requests = requests;
            limits.per = Duration::from_secs_f64(secs);
        }
        // No limit of our own: the app's 429s still slow us down.
        None => {
            limits.requests = 1_000_000;
            limits.per = Duration::from_secs(1);
        }
    }
    vec![
        Arc::new(
            DemoApp::new(
                &config.demo_app_url,
                &config.demo_client_id,
                &config.demo_client_secret,
            )
            .with_limits(limits.clone()),
        ),
        Arc::new(
            CardDavApp::default()
                .with_limits(limits.clone())
                .polled_every(config.carddav_poll_every),
        ),
        Arc::new(BottleCrmApp::new(limits, config.bottlecrm_poll_every)),
        Arc::new(HubSpotApp::new(config.hubspot.clone())),
    ]
}

pub fn app_definition(config: &AppsConfig, app: &str) -> Option<Arc<dyn AppDefinition>> {
    app_definitions(config)
        .into_iter()
        .find(|d| d.listing().id == app)
}

/// Every marketplace listing, installable first.
pub fn listings() -> Vec<AppListing> {
    let planned = |id: &str,
                   name: &str,
                   tagline: &str,
                   category: &str,
                   objects: &[(&str, &str)],
                   event_sync: bool| AppListing {
        id: id.into(),
        name: name.into(),
        tagline: tagline.into(),
        description: format!(
            "{tagline} This connector is planned: it is listed so you can see what is coming, \
             and cannot be installed in this version of Tandem."
        ),
        category: category.into(),
        objects: objects
            .iter()
            .map(|(a, h)| (a.to_string(), h.to_string()))
            .collect(),
        two_way: true,
        event_sync,
        available: false,
        credential: crate::model::CredentialKind::Oauth2,
        oauth: false,
        address_hint: String::new(),
    };
    vec![
        demo::listing(),
        carddav::listing(),
        hubspot::listing(),
        bottlecrm::listing(),
        planned(
            "salesforce",
            "Salesforce",
            "Contacts, accounts and opportunities with Salesforce.",
            "CRM",
            &[
                ("Contacts", "contacts"),
                ("Accounts", "companies"),
                ("Opportunities", "deals"),
            ],
            false,
        ),
    ]
}
