//! Pages whose part of Tandem is still to come. They say so plainly instead of 404ing.

use crate::app::components::ComingSoon;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MarketplacePlaceholder() -> impl IntoView {
    view! {
        <Title text="Marketplace"/>
        <ComingSoon title="Marketplace" body="Apps you can connect (CRMs, address books, marketing tools) will be listed here with an Install button."/>
    }
}

#[component]
pub fn ConnectedAppsPlaceholder() -> impl IntoView {
    view! {
        <Title text="Connected apps"/>
        <ComingSoon title="Connected apps" body="The apps connected to this portal, their accounts and their syncs will be listed here."/>
    }
}

#[component]
pub fn ImportExportPlaceholder() -> impl IntoView {
    view! {
        <Title text="Import & export"/>
        <ComingSoon title="Import & export" body="Import records from files, or connect an app to bring its records in continuously."/>
    }
}
