//! The "Create contact" (company, deal, invoice) dialog.

use super::fields::PropertyInput;
use crate::api::crm::CreateCrmRecord;
use crate::app::components::ErrorBox;
use crate::model::crm::{ObjectSchemaView, ObjectType};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use serde_json::Value;
use std::collections::BTreeMap;

#[component]
pub fn CreateDialog(
    object: ObjectType,
    schema: ObjectSchemaView,
    open: RwSignal<bool>,
) -> impl IntoView {
    let create = ServerAction::<CreateCrmRecord>::new();
    let fields: Vec<(crate::model::crm::PropertyDef, RwSignal<String>)> = schema
        .create_form
        .iter()
        .filter_map(|name| schema.property(name).cloned())
        .map(|def| {
            // Deals start in the first pipeline.
            let initial = match def.name.as_str() {
                "pipeline" => schema
                    .pipelines
                    .first()
                    .map(|p| p.id.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            (def, RwSignal::new(initial))
        })
        .collect();
    let values = fields
        .iter()
        .map(|(d, v)| (d.name.clone(), *v))
        .collect::<Vec<_>>();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let properties: BTreeMap<String, Value> = values
            .iter()
            .map(|(name, v)| (name.clone(), v.get_untracked()))
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(name, v)| (name, Value::String(v)))
            .collect();
        create.dispatch(CreateCrmRecord { object, properties });
    };
    // Created: open the new record.
    Effect::new(move |_| {
        if let Some(Ok(record)) = create.value().get() {
            open.set(false);
            use_navigate()(
                &format!("{}/{}", object.path(), record.id),
                Default::default(),
            );
        }
    });
    let title = format!("Create {}", object.singular());
    let error = move || create.value().get().and_then(Result::err);
    view! {
        <div class="dialog-backdrop" on:click=move |_| open.set(false)></div>
        <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="create-title" data-testid="create-dialog">
            <form class="form" on:submit=submit novalidate>
                <h2 id="create-title">{title.clone()}</h2>
                {fields.into_iter().map(|(def, value)| {
                    let name = def.name.clone();
                    let label = def.label.clone();
                    let required = def.required;
                    let field_error = move || error().and_then(|e| e.field_message(&name).map(String::from));
                    view! {
                        <label>
                            <span>{label}{required.then_some(" *")}</span>
                            <PropertyInput def=def value=value/>
                            {move || field_error().map(|m| view! { <span class="field-error" role="alert">{m}</span> })}
                        </label>
                    }
                }).collect_view()}
                {move || error().filter(|e| e.fields.is_empty()).map(|e| view! { <ErrorBox error=e/> })}
                <div class="actions">
                    <button type="submit" class="button primary" disabled=move || create.pending().get()>{title}</button>
                    <button type="button" class="button secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </div>
    }
}
