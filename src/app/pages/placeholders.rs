//! Pages whose part of Tandem is still to come. They say so plainly instead of 404ing.

use crate::app::components::ComingSoon;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CrmPlaceholder(object: &'static str) -> impl IntoView {
    view! {
        <Title text=object/>
        <ComingSoon
            title=object
            body=format!("The hub CRM's {} list will appear here: records with typed properties, associations and a timeline.", object.to_lowercase())
        />
    }
}
