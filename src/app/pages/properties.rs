//! Settings → Properties: the properties of each object type; Super Admins add and
//! delete custom ones.

use crate::api::properties::{list_crm_properties, CreateCrmProperty, DeleteCrmProperty};
use crate::app::components::{ErrorBox, Loading};
use crate::app::layout::use_user;
use crate::model::crm::{
    NewPropertyRequest, ObjectType, PropertyDef, PropertyOption, PropertyType,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn PropertiesPage() -> impl IntoView {
    let query = use_query_map();
    let object = Memo::new(move |_| {
        query
            .read()
            .get("object")
            .and_then(|o| ObjectType::parse(&o))
            .unwrap_or(ObjectType::Contacts)
    });
    let me = use_user();
    let create = ServerAction::<CreateCrmProperty>::new();
    let delete = ServerAction::<DeleteCrmProperty>::new();
    let props = Resource::new(
        move || (object.get(), create.version().get(), delete.version().get()),
        |(o, _, _)| list_crm_properties(o),
    );
    view! {
        <Title text="Properties"/>
        <section>
            <h1>"Properties"</h1>
            <p>"Properties are the fields of your records. Default properties come with Tandem; add your own for anything else you track."</p>
            <nav class="tabs" aria-label="Object types">
                {ObjectType::ALL.into_iter().map(|o| view! {
                    <a href=format!("/settings/properties?object={}", o.as_str())
                        aria-current=move || (object.get() == o).then_some("page")>{o.label()}</a>
                }).collect_view()}
            </nav>
            {move || delete.value().get().and_then(Result::err).map(|e| view! { <ErrorBox error=e/> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(u)) if u.role.is_super_admin());
                    admin.then(|| view! { <AddPropertyForm object create/> })
                })}
            </Suspense>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    let admin = matches!(me.await, Ok(Some(u)) if u.role.is_super_admin());
                    match props.await {
                        Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="properties">
                                    <thead><tr><th>"Label"</th><th>"Internal name"</th><th>"Type"</th><th>"Rules"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|p| view! { <PropertyRow object=object.get_untracked() def=p admin delete/> }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PropertyRow(
    object: ObjectType,
    def: PropertyDef,
    admin: bool,
    delete: ServerAction<DeleteCrmProperty>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let mut rules = Vec::new();
    if def.required {
        rules.push("required");
    }
    if def.computed {
        rules.push("set by Tandem");
    } else if def.read_only {
        rules.push("read-only (syncs and imports only)");
    }
    rules.push(if def.custom { "custom" } else { "default" });
    let options = (!def.options.is_empty() && !def.computed).then(|| {
        let mut names: Vec<String> = def
            .options
            .iter()
            .take(6)
            .map(|o| o.label.clone())
            .collect();
        if def.options.len() > 6 {
            names.push("…".into());
        }
        names.join(", ")
    });
    let name = def.name.clone();
    view! {
        <tr>
            <td>{def.label.clone()}</td>
            <td><code>{def.name.clone()}</code></td>
            <td>{def.kind.label()}{options.map(|o| view! { <br/><span class="muted">{o}</span> })}</td>
            <td>{rules.join(", ")}</td>
            <td>
                {(admin && def.custom).then(|| view! {
                    <Show when=move || confirming.get()
                        fallback=move || view! { <button class="button small danger" on:click=move |_| confirming.set(true)>"Delete"</button> }>
                        <button class="button small danger" on:click={
                            let name = name.clone();
                            move |_| { delete.dispatch(DeleteCrmProperty { object, name: name.clone() }); confirming.set(false); }
                        }>"Confirm delete"</button>
                        <button class="button small secondary" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </Show>
                })}
            </td>
        </tr>
    }
}

/// Options typed one per line: `value` or `value | Label`.
fn parse_options(text: &str) -> Vec<PropertyOption> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('|') {
            Some((v, label)) => PropertyOption {
                value: v.trim().to_string(),
                label: label.trim().to_string(),
            },
            None => PropertyOption {
                value: l.to_string(),
                label: l.to_string(),
            },
        })
        .collect()
}

#[component]
fn AddPropertyForm(
    object: Memo<ObjectType>,
    create: ServerAction<CreateCrmProperty>,
) -> impl IntoView {
    let label = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("string".to_string());
    let options = RwSignal::new(String::new());
    let required = RwSignal::new(false);
    let read_only = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let kind = PropertyType::parse(&kind.get_untracked()).unwrap_or(PropertyType::String);
        create.dispatch(CreateCrmProperty {
            object: object.get_untracked(),
            property: NewPropertyRequest {
                label: label.get_untracked(),
                name: Some(name.get_untracked()).filter(|n| !n.trim().is_empty()),
                kind,
                options: if kind.has_options() {
                    parse_options(&options.get_untracked())
                } else {
                    Vec::new()
                },
                required: required.get_untracked(),
                read_only: read_only.get_untracked(),
                description: String::new(),
            },
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            label.set(String::new());
            name.set(String::new());
            options.set(String::new());
        }
    });
    let error = move || create.value().get().and_then(Result::err);
    let field_error = move |f: &'static str| {
        move || {
            error()
                .and_then(|e| e.field_message(f).map(String::from))
                .map(|m| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    view! {
        <details class="card">
            <summary><strong>{move || format!("Add a property to {}", object.get().as_str())}</strong></summary>
            <form class="form" on:submit=submit novalidate>
                <label>"Label"<input name="label" bind:value=label placeholder="e.g. Customer tier"/>{field_error("label")}</label>
                <label>"Internal name (optional)"<input name="name" bind:value=name placeholder="derived from the label"/>{field_error("name")}</label>
                <label>"Type"
                    <select name="type" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        {PropertyType::ALL.into_iter().map(|t| view! { <option value=t.as_str()>{t.label()}</option> }).collect_view()}
                    </select>
                </label>
                <Show when=move || PropertyType::parse(&kind.get()).is_some_and(|t| t.has_options())>
                    <label>"Options, one per line (value, or value | Label)"
                        <textarea name="options" rows="4" bind:value=options></textarea>{field_error("options")}</label>
                </Show>
                <label class="check"><input type="checkbox" bind:checked=required/>"Required"</label>
                <label class="check"><input type="checkbox" bind:checked=read_only/>"Read-only (only syncs and imports write it)"</label>
                <button type="submit" class="button primary" disabled=move || create.pending().get()>"Add property"</button>
                {move || error().filter(|e| e.fields.is_empty()).map(|e| view! { <ErrorBox error=e/> })}
                {move || create.value().get().and_then(Result::ok).map(|p| view! { <p class="success">{format!("“{}” added.", p.label)}</p> })}
            </form>
        </details>
    }
}
