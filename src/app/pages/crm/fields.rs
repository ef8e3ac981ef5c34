//! One input per property type, used by the create dialog and inline editing.

use crate::model::crm::{PropertyDef, PropertyType};
use leptos::prelude::*;

/// The text an input starts with for a stored value (datetime inputs want no seconds).
pub fn input_value(def: &PropertyDef, stored: Option<&str>) -> String {
    let v = stored.unwrap_or_default();
    match def.kind {
        PropertyType::Datetime => v.chars().take(16).collect(),
        _ => v.to_string(),
    }
}

/// An input bound to `value` (text; multiple options joined with `;`).
#[component]
pub fn PropertyInput(
    def: PropertyDef,
    value: RwSignal<String>,
    /// The accessible name when the input is not inside a `<label>`.
    #[prop(optional, into)]
    aria_label: Option<String>,
) -> impl IntoView {
    let name = def.name.clone();
    match def.kind {
        PropertyType::Enumeration => view! {
            <select name=name aria-label=aria_label prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">"—"</option>
                {def.options.iter().map(|o| {
                    let v = o.value.clone();
                    let selected = { let v = v.clone(); move || value.get() == v };
                    view! { <option value=v selected=selected>{o.label.clone()}</option> }
                }).collect_view()}
            </select>
        }
        .into_any(),
        PropertyType::Bool => view! {
            <select name=name aria-label=aria_label prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">"—"</option>
                <option value="true" selected=move || value.get() == "true">"Yes"</option>
                <option value="false" selected=move || value.get() == "false">"No"</option>
            </select>
        }
        .into_any(),
        PropertyType::MultiEnumeration => view! {
            <fieldset class="checks" aria-label=aria_label.clone().unwrap_or_else(|| def.label.clone())>
                {def.options.iter().map(|o| {
                    let v = o.value.clone();
                    let checked = { let v = v.clone(); move || value.get().split(';').any(|x| x == v) };
                    let toggle = move |_| {
                        let mut parts: Vec<String> = value.get_untracked().split(';').filter(|x| !x.is_empty()).map(String::from).collect();
                        if let Some(i) = parts.iter().position(|x| *x == v) { parts.remove(i); } else { parts.push(v.clone()); }
                        value.set(parts.join(";"));
                    };
                    view! { <label class="check"><input type="checkbox" prop:checked=checked on:change=toggle/>{o.label.clone()}</label> }
                }).collect_view()}
            </fieldset>
        }
        .into_any(),
        kind => {
            let (ty, mode) = match kind {
                PropertyType::Number => ("text", "decimal"),
                PropertyType::Date => ("date", "text"),
                PropertyType::Datetime => ("datetime-local", "text"),
                PropertyType::Email => ("email", "email"),
                PropertyType::Phone => ("tel", "tel"),
                _ => ("text", "text"),
            };
            view! {
                <input type=ty inputmode=mode name=name aria-label=aria_label bind:value=value/>
            }
            .into_any()
        }
    }
}
