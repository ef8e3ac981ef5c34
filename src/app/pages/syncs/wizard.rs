//! The sync set-up wizard: **Select** (objects and direction) → **Configure** (direction,
//! event sync, conflicts, field mappings) → **Limit** (deal stages, contacts without
//! email, filters, matching) → **Associations** → **Review** → *Save and sync*.
//! `/settings/integrations/connected-apps/:app/syncs/new?connection=<id>` sets up a new
//! sync; `/settings/integrations/syncs/:id/edit` opens the same wizard with the saved
//! values. The server checks everything (`validate_sync`): its problems, named
//! `mappings[2]`, `filters[0]`…, are shown next to the row concerned.

use super::{app_syncs_url, edit_url, object_label};
use crate::api::apps::app_connections;
use crate::api::syncs::{
    create_sync, sync_field_options, sync_setup_options, sync_status, update_sync, validate_sync,
};
use crate::app::components::{use_uuid_param, ErrorBox, Forbidden, Loading};
use crate::app::layout::use_user;
use crate::model::{ApiError, FieldError};
use crate::model::{
    ConnectionView, DefaultApp, FieldOption, FilterInput, FilterOp, MappingInput, MatchKeyInput,
    ObjectPairOption, PipelineOption, SideInput, StagePairInput, SyncDirection, SyncFieldChoices,
    SyncInput, WritePolicy,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

const STEPS: [&str; 5] = ["Select", "Configure", "Limit", "Associations", "Review"];
const HUB_OBJECTS: [&str; 4] = ["contacts", "companies", "deals", "invoices"];
const DIRECTIONS: [SyncDirection; 3] = [
    SyncDirection::TwoWay,
    SyncDirection::ToHub,
    SyncDirection::ToApp,
];
const POLICIES: [WritePolicy; 3] = [
    WritePolicy::Always,
    WritePolicy::OnlyIfEmpty,
    WritePolicy::OnCreateOnly,
];
const OPERATORS: [(&str, &str); 8] = [
    ("equals", "is"),
    ("not_equals", "is not"),
    ("contains", "contains"),
    ("is_known", "is known"),
    ("is_unknown", "is unknown"),
    ("greater_than", "is greater than"),
    ("less_than", "is less than"),
    ("in_list", "is any of"),
];

// ---- pure helpers (tested below) ----

/// The wizard step a server problem belongs to.
pub fn step_of(field: &str) -> usize {
    match field {
        "app_object" | "hub_object" | "connection_id" => 0,
        f if f.starts_with("mappings")
            || f == "direction"
            || f == "conflict_winner"
            || f == "event_sync" =>
        {
            1
        }
        f if f.starts_with("filters")
            || f.starts_with("stage_pairs")
            || f == "match_key"
            || f == "sync_only_with_email" =>
        {
            2
        }
        "sync_associations" => 3,
        _ => 1,
    }
}

/// The messages the server gave for one path (`mappings[2]`).
pub fn messages_at(errors: &[FieldError], path: &str) -> Vec<String> {
    errors
        .iter()
        .filter(|e| e.field == path)
        .map(|e| e.message.clone())
        .collect()
}

pub fn op_key(op: &FilterOp) -> &'static str {
    match op {
        FilterOp::Equals(_) => "equals",
        FilterOp::NotEquals(_) => "not_equals",
        FilterOp::Contains(_) => "contains",
        FilterOp::IsKnown => "is_known",
        FilterOp::IsUnknown => "is_unknown",
        FilterOp::GreaterThan(_) => "greater_than",
        FilterOp::LessThan(_) => "less_than",
        FilterOp::InList(_) => "in_list",
    }
}

pub fn op_value(op: &FilterOp) -> String {
    match op {
        FilterOp::Equals(v)
        | FilterOp::NotEquals(v)
        | FilterOp::Contains(v)
        | FilterOp::GreaterThan(v)
        | FilterOp::LessThan(v) => v.clone(),
        FilterOp::InList(v) => v.join(", "),
        FilterOp::IsKnown | FilterOp::IsUnknown => String::new(),
    }
}

/// The operator chosen in the filter editor, with the text typed as its value (a list
/// is comma-separated).
pub fn make_op(key: &str, value: &str) -> FilterOp {
    let v = value.to_string();
    match key {
        "not_equals" => FilterOp::NotEquals(v),
        "contains" => FilterOp::Contains(v),
        "is_known" => FilterOp::IsKnown,
        "is_unknown" => FilterOp::IsUnknown,
        "greater_than" => FilterOp::GreaterThan(v),
        "less_than" => FilterOp::LessThan(v),
        "in_list" => FilterOp::InList(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
        _ => FilterOp::Equals(v),
    }
}

/// The (hub pipeline, app pipeline) blocks the stage editor shows, in first-seen order.
pub fn pipeline_blocks(pairs: &[StagePairInput]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in pairs {
        let b = (p.hub_pipeline.clone(), p.app_pipeline.clone());
        if !out.contains(&b) {
            out.push(b);
        }
    }
    out
}

/// Maps (or, with `None`, unmaps) one hub stage to an app stage of `app_pipeline`.
pub fn set_stage(
    pairs: &mut Vec<StagePairInput>,
    hub_pipeline: &str,
    hub_stage: &str,
    app_pipeline: &str,
    app_stage: Option<&str>,
) {
    pairs.retain(|p| {
        !(p.hub_pipeline == hub_pipeline
            && p.hub_stage == hub_stage
            && p.app_pipeline == app_pipeline)
    });
    if let Some(s) = app_stage.filter(|s| !s.is_empty()) {
        pairs.push(StagePairInput {
            hub_pipeline: hub_pipeline.into(),
            hub_stage: hub_stage.into(),
            app_pipeline: app_pipeline.into(),
            app_stage: s.into(),
        });
    }
}

/// Arrows for a row that shows the app field on the left and the hub property on the
/// right (the mapping table): `→` flows to the hub.
pub fn app_left_arrows(d: SyncDirection) -> &'static str {
    match d {
        SyncDirection::TwoWay => "⇄",
        SyncDirection::ToHub => "→",
        SyncDirection::ToApp => "←",
    }
}

fn direction_key(d: SyncDirection) -> &'static str {
    match d {
        SyncDirection::TwoWay => "two_way",
        SyncDirection::ToHub => "to_hub",
        SyncDirection::ToApp => "to_app",
    }
}

fn direction_from(key: &str) -> SyncDirection {
    match key {
        "to_hub" => SyncDirection::ToHub,
        "to_app" => SyncDirection::ToApp,
        _ => SyncDirection::TwoWay,
    }
}

fn policy_key(p: WritePolicy) -> &'static str {
    match p {
        WritePolicy::Always => "always",
        WritePolicy::OnlyIfEmpty => "only_if_empty",
        WritePolicy::OnCreateOnly => "on_create_only",
    }
}

fn policy_from(key: &str) -> WritePolicy {
    match key {
        "only_if_empty" => WritePolicy::OnlyIfEmpty,
        "on_create_only" => WritePolicy::OnCreateOnly,
        _ => WritePolicy::Always,
    }
}

fn field_label(fields: &[FieldOption], name: &str) -> String {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.label.clone())
        .unwrap_or_else(|| name.to_string())
}

// ---- pages ----

fn not_allowed() -> AnyView {
    view! {
        <Forbidden message="You need the App Marketplace permission to set up or edit syncs."
            hint="You can still see every sync's status and records. Ask a Super Admin to give you the permission in Settings → Users."/>
    }
    .into_any()
}

#[component]
pub fn NewSyncPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let app = move || params.read().get("app").unwrap_or_default();
    let connection = Memo::new(move |_| {
        query
            .read()
            .get("connection")
            .and_then(|s| Uuid::parse_str(&s).ok())
    });
    let user = use_user();
    let data = crate::app::components::local_resource(
        move || (app(), connection.get()),
        |(app, connection)| async move {
            let connection = connection.ok_or_else(|| {
                ApiError::bad_request("Choose which account to sync.")
                    .with_hint("Open the app's page in Connected apps and use Set up sync there.")
            })?;
            let connected = app_connections(app).await?;
            let c = connected
                .connections
                .into_iter()
                .find(|c| c.id == connection)
                .ok_or_else(|| ApiError::not_found("The connected account"))?;
            let options = sync_setup_options(connection).await?;
            Ok::<_, ApiError>((c, options))
        },
    );
    view! {
        <Title text="Set up sync"/>
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(u)) if u.can_manage_apps) {
                    return not_allowed();
                }
                match data.await {
                    Ok((connection, options)) => view! { <Wizard connection options existing=None/> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn EditSyncPage() -> impl IntoView {
    let id = use_uuid_param("id");
    let user = use_user();
    let data = crate::app::components::local_resource(
        move || id.get(),
        |id| async move {
            let id = id.ok_or_else(|| ApiError::not_found("The sync"))?;
            let sync = sync_status(id).await?;
            let options = sync_setup_options(sync.connection.id).await?;
            Ok::<_, ApiError>((sync, options))
        },
    );
    view! {
        <Title text="Edit sync"/>
        <Suspense fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                if !matches!(user.await, Ok(Some(u)) if u.can_manage_apps) {
                    return not_allowed();
                }
                match data.await {
                    Ok((sync, options)) => {
                        let connection = sync.connection.clone();
                        view! { <Wizard connection options existing=Some((sync.id, sync.input))/> }.into_any()
                    }
                    Err(e) => {
                        if e.status == 404 {
                            crate::app::components::set_page_status(404);
                        }
                        view! { <ErrorBox error=e/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

// ---- the wizard ----

/// Everything the steps share; all of it `Copy`, so handlers are too.
#[derive(Clone, Copy)]
struct Ctx {
    input: RwSignal<SyncInput>,
    step: RwSignal<usize>,
    reached: RwSignal<usize>,
    choices: RwSignal<Option<SyncFieldChoices>>,
    /// The object pair `choices` (and the mappings in `input`) belong to.
    choices_for: RwSignal<Option<(String, String)>>,
    mappings_for: RwSignal<Option<(String, String)>>,
    errors: RwSignal<Vec<FieldError>>,
    general: RwSignal<Option<ApiError>>,
    busy: RwSignal<bool>,
    done: RwSignal<Option<String>>,
    editing: Option<Uuid>,
    options: StoredValue<Vec<ObjectPairOption>>,
    app: StoredValue<String>,
    app_name: StoredValue<String>,
}

impl Ctx {
    fn pair(&self) -> (String, String) {
        self.input
            .with_untracked(|i| (i.app_object.clone(), i.hub_object.clone()))
    }

    fn go(&self, step: usize) {
        self.step.set(step);
        self.reached.update(|r| *r = (*r).max(step));
    }

    fn errors_at(&self, path: &str) -> Vec<String> {
        self.errors.with(|e| messages_at(e, path))
    }

    fn app_fields(&self) -> Vec<FieldOption> {
        self.choices
            .with(|c| c.as_ref().map(|c| c.app_fields.clone()).unwrap_or_default())
    }

    fn hub_fields(&self) -> Vec<FieldOption> {
        self.choices.with(|c| {
            c.as_ref()
                .map(|c| c.hub_properties.clone())
                .unwrap_or_default()
        })
    }

    /// Loads both sides' fields for the chosen objects, then moves on. A new object pair
    /// starts from the connector's default mappings.
    fn load_choices(self, next: usize) {
        let pair = self.pair();
        if pair.0.is_empty() {
            self.errors.set(vec![FieldError {
                field: "app_object".into(),
                message: "Choose what to sync.".into(),
            }]);
            return;
        }
        if self.choices_for.get_untracked().as_ref() == Some(&pair) {
            self.go(next);
            return;
        }
        self.busy.set(true);
        self.general.set(None);
        let connection = self.input.with_untracked(|i| i.connection_id);
        leptos::task::spawn_local(async move {
            match sync_field_options(connection, pair.0.clone(), pair.1.clone()).await {
                Ok(c) => {
                    if self.mappings_for.get_untracked().as_ref() != Some(&pair) {
                        let defaults = c.default_mappings.clone();
                        self.input.update(|i| {
                            i.mappings = defaults;
                            i.stage_pairs.clear();
                            i.filters.clear();
                            i.event_sync = false;
                            i.match_key = MatchKeyInput::Default;
                        });
                        self.mappings_for.set(Some(pair.clone()));
                    }
                    self.choices.set(Some(c));
                    self.choices_for.set(Some(pair));
                    self.errors.set(vec![]);
                    self.go(next);
                }
                Err(e) => self.general.set(Some(e)),
            }
            self.busy.set(false);
        });
    }

    /// Asks the server about the settings; moves on unless a problem belongs to a step
    /// up to `from` (then shows the first such step with the problems at their rows).
    fn validate_then(self, from: usize, next: Option<usize>) {
        self.busy.set(true);
        self.general.set(None);
        let input = self.input.get_untracked();
        leptos::task::spawn_local(async move {
            match validate_sync(input).await {
                Ok(()) => {
                    self.errors.set(vec![]);
                    if let Some(n) = next {
                        self.go(n);
                    }
                }
                Err(e) if e.code == "validation" => {
                    let first = e.fields.iter().map(|f| step_of(&f.field)).min();
                    self.errors.set(e.fields);
                    match (first, next) {
                        (Some(s), _) if s <= from => self.step.set(s),
                        (_, Some(n)) => self.go(n),
                        _ => {}
                    }
                }
                Err(e) => self.general.set(Some(e)),
            }
            self.busy.set(false);
        });
    }

    fn save(self) {
        self.busy.set(true);
        self.general.set(None);
        let input = self.input.get_untracked();
        let app = self.app.get_value();
        leptos::task::spawn_local(async move {
            let saved = match self.editing {
                Some(id) => update_sync(id, input).await,
                None => create_sync(input).await,
            };
            match saved {
                Ok(v) => self.done.set(Some(app_syncs_url(&app, Some(v.id)))),
                Err(e) if e.code == "validation" => {
                    let first = e
                        .fields
                        .iter()
                        .map(|f| step_of(&f.field))
                        .min()
                        .unwrap_or(4);
                    self.errors.set(e.fields.clone());
                    self.general.set(Some(e));
                    self.step.set(first);
                }
                Err(e) => self.general.set(Some(e)),
            }
            self.busy.set(false);
        });
    }
}

#[component]
fn Wizard(
    connection: ConnectionView,
    options: Vec<ObjectPairOption>,
    existing: Option<(Uuid, SyncInput)>,
) -> impl IntoView {
    let editing = existing.as_ref().map(|(id, _)| *id);
    let saved_pair = existing
        .as_ref()
        .map(|(_, i)| (i.app_object.clone(), i.hub_object.clone()));
    let input = existing
        .map(|(_, i)| i)
        .unwrap_or_else(|| SyncInput::new(connection.id, "", ""));
    let ctx = Ctx {
        input: RwSignal::new(input),
        step: RwSignal::new(0),
        reached: RwSignal::new(if editing.is_some() {
            STEPS.len() - 1
        } else {
            0
        }),
        choices: RwSignal::new(None),
        choices_for: RwSignal::new(None),
        mappings_for: RwSignal::new(saved_pair),
        errors: RwSignal::new(vec![]),
        general: RwSignal::new(None),
        busy: RwSignal::new(false),
        done: RwSignal::new(None),
        editing,
        options: StoredValue::new(options),
        app: StoredValue::new(connection.app.clone()),
        app_name: StoredValue::new(connection.app_name.clone()),
    };
    let title = if editing.is_some() {
        "Edit sync"
    } else {
        "Set up sync"
    };
    let back = app_syncs_url(&connection.app, editing);
    let stepper = move |i: usize, name: &'static str| {
        view! {
            <li class:current=move || ctx.step.get() == i class:done=move || { ctx.step.get() > i }>
                <button type="button" class="link" disabled=move || { i > ctx.reached.get() || ctx.busy.get() }
                    aria-current=move || (ctx.step.get() == i).then_some("step")
                    on:click=move |_| if i == 0 || ctx.choices_for.get_untracked().is_some() { ctx.step.set(i) } else { ctx.load_choices(i) }>
                    <span class="num">{i + 1}</span>{name}
                </button>
            </li>
        }
    };
    view! {
        <section class="wizard" data-testid="sync-wizard">
            <a class="back" href=back>{format!("← {}", connection.app_name)}</a>
            <h1>{title}</h1>
            <p class="muted">{format!("{} · account {}", connection.app_name, connection.account_name)}</p>
            {editing.map(|_| view! {
                <p class="notice" data-testid="restart-warning">"Saving restarts the initial sync: every record is looked at again. Records already in sync are not written again."</p>
            })}
            <ol class="stepper" aria-label="Steps">
                {STEPS.iter().enumerate().map(|(i, name)| stepper(i, name)).collect_view()}
            </ol>
            {move || ctx.general.get().map(|e| view! { <ErrorBox error=e/> })}
            {move || ctx.done.get().map(|path| view! { <Redirect path/> })}
            <div class="wizard-body card">
                {move || match ctx.step.get() {
                    0 => view! { <SelectStep ctx/> }.into_any(),
                    1 => view! { <ConfigureStep ctx/> }.into_any(),
                    2 => view! { <LimitStep ctx/> }.into_any(),
                    3 => view! { <AssociationsStep ctx/> }.into_any(),
                    _ => view! { <ReviewStep ctx/> }.into_any(),
                }}
            </div>
        </section>
    }
}

#[component]
fn Nav(ctx: Ctx, #[prop(optional)] back: Option<usize>, children: Children) -> impl IntoView {
    view! {
        <div class="wizard-nav">
            {back.map(|b| view! { <button type="button" class="button secondary" on:click=move |_| ctx.step.set(b) disabled=move || ctx.busy.get()>"Back"</button> })}
            {children()}
            {move || ctx.busy.get().then(|| view! { <span class="loading"><span class="spinner" aria-hidden="true"></span>"Checking…"</span> })}
        </div>
    }
}

#[component]
fn DirectionArrows(ctx: Ctx) -> impl IntoView {
    view! {
        <div class="arrows-menu" role="radiogroup" aria-label="Direction">
            {DIRECTIONS.into_iter().map(|d| view! {
                <button type="button" role="radio" class="arrow-choice" aria-checked=move || (ctx.input.with(|i| i.direction) == d).to_string()
                    title=d.label() aria-label=d.label() on:click=move |_| ctx.input.update(|i| i.direction = d)>
                    {d.arrows()}
                </button>
            }).collect_view()}
        </div>
    }
}

#[component]
fn SelectStep(ctx: Ctx) -> impl IntoView {
    let app_name = ctx.app_name.get_value();
    let chosen = move || ctx.input.with(|i| i.app_object.clone());
    let existing = move || {
        let app_object = chosen();
        ctx.options
            .with_value(|o| {
                o.iter()
                    .find(|o| o.app_object == app_object)
                    .and_then(|o| o.existing_sync)
            })
            .filter(|id| Some(*id) != ctx.editing)
    };
    let on_app_object = move |ev| {
        let value = event_target_value(&ev);
        let hub = ctx.options.with_value(|o| {
            o.iter()
                .find(|o| o.app_object == value)
                .map(|o| o.hub_object.clone())
        });
        ctx.input.update(|i| {
            i.app_object = value;
            if let Some(h) = hub {
                i.hub_object = h;
            }
        });
        ctx.errors.set(vec![]);
    };
    view! {
        <h2>"What do you want to sync?"</h2>
        <p class="hint">{format!("Choose a kind of record in {app_name}, the hub object it syncs with, and which way changes flow. One sync per kind of record and account.")}</p>
        <div class="select-row">
            <label>"Hub object"
                <select aria-label="Hub object" prop:value=move || ctx.input.with(|i| i.hub_object.clone())
                    on:change=move |ev| ctx.input.update(|i| i.hub_object = event_target_value(&ev))>
                    <option value="" disabled=true>"Choose…"</option>
                    {HUB_OBJECTS.into_iter().map(|o| view! { <option value=o>{object_label(o)}</option> }).collect_view()}
                </select>
            </label>
            <DirectionArrows ctx/>
            <label>{format!("{app_name} object")}
                <select aria-label=format!("{app_name} object") prop:value=chosen on:change=on_app_object disabled=ctx.editing.is_some()>
                    <option value="" disabled=true>"Choose…"</option>
                    {ctx.options.get_value().into_iter().map(|o| {
                        let taken = o.existing_sync.is_some() && o.existing_sync != ctx.editing;
                        view! { <option value=o.app_object.clone()>{if taken { format!("{} (already synced)", o.app_label) } else { o.app_label.clone() }}</option> }
                    }).collect_view()}
                </select>
            </label>
        </div>
        <p class="muted small">{move || ctx.input.with(|i| format!("Direction: {}", i.direction.label()))}</p>
        {move || ctx.errors_at("app_object").into_iter().chain(ctx.errors_at("hub_object")).map(|m| view! { <p class="field-error" role="alert">{m}</p> }).collect_view()}
        {move || existing().map(|id| view! {
            <p class="notice">"This kind of record already syncs with this account. "<a href=edit_url(id)>"Edit that sync"</a>" instead."</p>
        })}
        <Nav ctx>
            <button type="button" class="button primary" disabled=move || chosen().is_empty() || existing().is_some() || ctx.busy.get()
                on:click=move |_| ctx.load_choices(1)>"Next"</button>
        </Nav>
    }
}

#[component]
fn ConfigureStep(ctx: Ctx) -> impl IntoView {
    let app_name = ctx.app_name.get_value();
    let supports_events = ctx
        .choices
        .with_untracked(|c| c.as_ref().is_some_and(|c| c.supports_events));
    let direction = move || ctx.input.with(|i| i.direction);
    let radio = move |d: SyncDirection, label: String, hint: String| {
        view! {
            <label class="check">
                <input type="radio" name="direction" value=direction_key(d) prop:checked=move || direction() == d
                    on:change=move |_| ctx.input.update(|i| i.direction = d)/>
                <span><strong>{label}</strong><br/><span class="hint">{hint}</span></span>
            </label>
        }
    };
    view! {
        <h2>"Configure"</h2>
        <fieldset class="choices">
            <legend>"Direction"</legend>
            {radio(SyncDirection::TwoWay, "Sync between apps".into(), "New and changed records flow both ways; records on both sides are merged.".into())}
            {radio(SyncDirection::ToHub, "To hub only".into(), format!("{app_name} → hub. The hub never writes to {app_name}."))}
            {radio(SyncDirection::ToApp, "To app only".into(), format!("Hub → {app_name}. {app_name} never writes to the hub."))}
        </fieldset>
        {supports_events.then(|| view! {
            <label class="check">
                <input type="checkbox" prop:checked=move || ctx.input.with(|i| i.event_sync)
                    on:change=move |ev| ctx.input.update(|i| i.event_sync = event_target_checked(&ev))/>
                {format!("Sync email events (opens and clicks) from {app_name} to the timeline of hub contacts")}
            </label>
        })}
        <Show when=move || direction() == SyncDirection::TwoWay>
            <label class="inline-label">"Resolve data conflicts: when a field changed on both sides, keep the value from"
                <select aria-label="Resolve data conflicts" prop:value=move || if ctx.input.with(|i| i.conflict_winner) == DefaultApp::App { "app" } else { "hub" }
                    on:change=move |ev| ctx.input.update(|i| i.conflict_winner = if event_target_value(&ev) == "app" { DefaultApp::App } else { DefaultApp::Hub })>
                    <option value="hub">"The hub"</option>
                    <option value="app">{ctx.app_name.get_value()}</option>
                </select>
            </label>
            <p class="hint">"If that side has no value for the field, nothing is changed on the other side."</p>
        </Show>
        <label class="check">
            <input type="checkbox" prop:checked=move || ctx.input.with(|i| i.propagate_deletes)
                on:change=move |ev| ctx.input.update(|i| i.propagate_deletes = event_target_checked(&ev))/>
            "When a record is deleted on one side, delete it on the other side too"
        </label>
        <h3>"Field mappings"</h3>
        <p class="hint">"Each row keeps one field the same on both sides. Fields marked * are required by the app. Turn a row off to stop syncing that field."</p>
        <MappingTable ctx/>
        <AddMapping ctx/>
        <Nav ctx back=0>
            <button type="button" class="button primary" disabled=move || ctx.busy.get() on:click=move |_| ctx.validate_then(1, Some(2))>"Next"</button>
        </Nav>
    }
}

#[component]
fn MappingTable(ctx: Ctx) -> impl IntoView {
    let rows = move || (0..ctx.input.with(|i| i.mappings.len())).collect::<Vec<_>>();
    view! {
        {move || ctx.errors_at("mappings").into_iter().map(|m| view! { <p class="field-error" role="alert">{m}</p> }).collect_view()}
        <div class="table-wrap">
            <table class="table mappings" data-testid="mappings">
                <thead>
                    <tr>
                        <th>"On"</th>
                        <th>{format!("{} field", ctx.app_name.get_value())}</th>
                        <th>"Direction"</th>
                        <th>"Hub property"</th>
                        <th>"Write"</th>
                        <th><span class="visually-hidden">"Remove"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=rows key=|i| *i let:i>
                        <MappingRow ctx i/>
                    </For>
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn MappingRow(ctx: Ctx, i: usize) -> impl IntoView {
    let m = move || ctx.input.with(|x| x.mappings.get(i).cloned());
    let app_label = move || {
        m().map(|m| {
            let fields = ctx.app_fields();
            let f = fields.iter().find(|f| f.name == m.app_field);
            let required = f.is_some_and(|f| f.required);
            let kind = f.map(|f| f.kind.as_str()).unwrap_or_default();
            view! { <span>{field_label(&fields, &m.app_field)}{required.then_some(" *")}</span><br/><span class="muted small">{kind}</span> }
        })
    };
    let hub_label = move || {
        m().map(|m| {
            let fields = ctx.hub_fields();
            let kind = fields.iter().find(|f| f.name == m.hub_property).map(|f| f.kind.as_str()).unwrap_or_default();
            view! { <span>{field_label(&fields, &m.hub_property)}</span><br/><span class="muted small">{kind}</span> }
        })
    };
    let name = move || m().map(|m| m.app_field).unwrap_or_default();
    let errors = move || ctx.errors_at(&format!("mappings[{i}]"));
    let set = move |f: Box<dyn FnOnce(&mut MappingInput)>| {
        ctx.input.update(|x| {
            if let Some(m) = x.mappings.get_mut(i) {
                f(m)
            }
        });
        // A problem shown at a row goes away as soon as the change that fixes it is made.
        if !ctx.errors.get_untracked().is_empty() {
            ctx.validate_then(0, None);
        }
    };
    view! {
        <tr data-testid="mapping-row" data-app-field=name class:off=move || !m().is_some_and(|m| m.enabled) class:has-error=move || !errors().is_empty()>
            <td data-label="On">
                <input type="checkbox" class="switch" aria-label=move || format!("Sync {}", name()) prop:checked=move || m().is_some_and(|m| m.enabled)
                    on:change=move |ev| { let on = event_target_checked(&ev); set(Box::new(move |m| m.enabled = on)) }/>
            </td>
            <td data-label="App field">{app_label}</td>
            <td data-label="Direction">
                <select aria-label=move || format!("Direction of {}", name()) prop:value=move || m().map(|m| direction_key(m.direction)).unwrap_or("two_way")
                    on:change=move |ev| { let d = direction_from(&event_target_value(&ev)); set(Box::new(move |m| m.direction = d)) }>
                    {DIRECTIONS.into_iter().map(|d| view! { <option value=direction_key(d)>{format!("{} {}", app_left_arrows(d), d.label())}</option> }).collect_view()}
                </select>
            </td>
            <td data-label="Hub property">{hub_label}</td>
            <td data-label="Write">
                <select aria-label=move || format!("Write policy of {}", name()) prop:value=move || m().map(|m| policy_key(m.write_policy)).unwrap_or("always")
                    on:change=move |ev| { let p = policy_from(&event_target_value(&ev)); set(Box::new(move |m| m.write_policy = p)) }>
                    {POLICIES.into_iter().map(|p| view! { <option value=policy_key(p)>{p.label()}</option> }).collect_view()}
                </select>
            </td>
            <td>
                {move || m().is_some_and(|m| m.custom).then(|| view! {
                    <button type="button" class="button small secondary" on:click=move |_| {
                        ctx.input.update(|x| { if i < x.mappings.len() { x.mappings.remove(i); } });
                        ctx.errors.set(vec![]);
                    }>"Remove"</button>
                })}
                <span class="pill muted">{move || if m().is_some_and(|m| m.custom) { "custom" } else { "default" }}</span>
            </td>
        </tr>
        {move || {
            let e = errors();
            (!e.is_empty()).then(|| view! {
                <tr class="row-error"><td colspan="6"><p class="field-error" role="alert" data-testid="mapping-error">{e.join(" ")}</p></td></tr>
            })
        }}
    }
}

#[component]
fn AddMapping(ctx: Ctx) -> impl IntoView {
    let app_field = RwSignal::new(String::new());
    let hub_property = RwSignal::new(String::new());
    let direction = RwSignal::new(SyncDirection::TwoWay);
    let policy = RwSignal::new(WritePolicy::Always);
    let add = move |_| {
        let (a, h) = (app_field.get_untracked(), hub_property.get_untracked());
        if a.is_empty() || h.is_empty() {
            return;
        }
        ctx.input.update(|i| {
            i.mappings.push(MappingInput {
                hub_property: h,
                app_field: a,
                direction: direction.get_untracked(),
                enabled: true,
                write_policy: policy.get_untracked(),
                options: vec![],
                custom: true,
            })
        });
        app_field.set(String::new());
        hub_property.set(String::new());
        // The server checks type compatibility; a problem shows on the new row.
        ctx.validate_then(0, None);
    };
    view! {
        <details class="add-mapping card" data-testid="add-mapping">
            <summary>"Add a mapping"</summary>
            <div class="form inline">
                <label>{format!("{} field", ctx.app_name.get_value())}
                    <select aria-label="New mapping: app field" prop:value=move || app_field.get() on:change=move |ev| app_field.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        {move || ctx.app_fields().into_iter().map(|f| view! { <option value=f.name.clone()>{format!("{} ({})", f.label, f.kind.as_str())}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Direction"
                    <select aria-label="New mapping: direction" on:change=move |ev| direction.set(direction_from(&event_target_value(&ev)))>
                        {DIRECTIONS.into_iter().map(|d| view! { <option value=direction_key(d)>{format!("{} {}", app_left_arrows(d), d.label())}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Hub property"
                    <select aria-label="New mapping: hub property" prop:value=move || hub_property.get() on:change=move |ev| hub_property.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        {move || ctx.hub_fields().into_iter().map(|f| view! { <option value=f.name.clone()>{format!("{} ({})", f.label, f.kind.as_str())}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Write"
                    <select aria-label="New mapping: write policy" on:change=move |ev| policy.set(policy_from(&event_target_value(&ev)))>
                        {POLICIES.into_iter().map(|p| view! { <option value=policy_key(p)>{p.label()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" class="button secondary" on:click=add
                    disabled=move || app_field.get().is_empty() || hub_property.get().is_empty() || ctx.busy.get()>"Add a mapping"</button>
            </div>
        </details>
    }
}

#[component]
fn LimitStep(ctx: Ctx) -> impl IntoView {
    let has_stages = ctx.choices.with_untracked(|c| {
        c.as_ref()
            .is_some_and(|c| !c.hub_pipelines.is_empty() && !c.app_pipelines.is_empty())
    });
    let contacts = ctx.input.with_untracked(|i| i.hub_object == "contacts");
    view! {
        <h2>"Limit"</h2>
        <p class="hint">"Choose which records enter the sync. Filters apply at the initial sync; a record that already syncs keeps syncing."</p>
        {has_stages.then(|| view! { <StageMapping ctx/> })}
        {contacts.then(|| view! {
            <label class="check">
                <input type="checkbox" prop:checked=move || ctx.input.with(|i| i.sync_only_with_email)
                    on:change=move |ev| ctx.input.update(|i| i.sync_only_with_email = event_target_checked(&ev))/>
                "Sync only contacts with an email address"
            </label>
            <p class="hint">"Unticked, contacts without email sync too; they are paired only by being created by the sync."</p>
        })}
        <h3>"Filters"</h3>
        <div class="filter-sides">
            <FilterPanel ctx side=SideInput::Hub/>
            <FilterPanel ctx side=SideInput::App/>
        </div>
        <MatchKey ctx/>
        <Nav ctx back=1>
            <button type="button" class="button primary" disabled=move || ctx.busy.get() on:click=move |_| ctx.validate_then(2, Some(3))>"Next"</button>
        </Nav>
    }
}

#[component]
fn StageMapping(ctx: Ctx) -> impl IntoView {
    let hub_pipelines: Vec<PipelineOption> = ctx.choices.with_untracked(|c| {
        c.as_ref()
            .map(|c| c.hub_pipelines.clone())
            .unwrap_or_default()
    });
    let app_pipelines: Vec<PipelineOption> = ctx.choices.with_untracked(|c| {
        c.as_ref()
            .map(|c| c.app_pipelines.clone())
            .unwrap_or_default()
    });
    let hub_p = StoredValue::new(hub_pipelines);
    let app_p = StoredValue::new(app_pipelines);
    let blocks = RwSignal::new(
        ctx.input
            .with_untracked(|i| pipeline_blocks(&i.stage_pairs)),
    );
    let adding = RwSignal::new(false);
    let new_hub = RwSignal::new(String::new());
    let new_app = RwSignal::new(String::new());
    let auto_map = move |_| {
        let suggested = ctx.choices.with_untracked(|c| {
            c.as_ref()
                .map(|c| c.suggested_stage_pairs.clone())
                .unwrap_or_default()
        });
        blocks.set(pipeline_blocks(&suggested));
        ctx.input.update(|i| i.stage_pairs = suggested);
    };
    let add_block = move |_| {
        let b = (new_hub.get_untracked(), new_app.get_untracked());
        if b.0.is_empty() || b.1.is_empty() {
            return;
        }
        blocks.update(|v| {
            if !v.contains(&b) {
                v.push(b)
            }
        });
        adding.set(false);
    };
    let mapped = move || ctx.input.with(|i| i.stage_pairs.len());
    view! {
        <section class="stages" data-testid="stage-mapping">
            <h3>"Deal pipelines and stages"</h3>
            <p class="hint">"Only deals in mapped stages sync; deals in other stages are excluded with that reason."</p>
            <div class="actions">
                <button type="button" class="button secondary" on:click=auto_map>"Auto-map"</button>
                <button type="button" class="button secondary" on:click=move |_| adding.set(true)>"Map another pipeline"</button>
                <span class="muted small" data-testid="stages-mapped">{move || format!("{} stage{} mapped", mapped(), if mapped() == 1 { "" } else { "s" })}</span>
            </div>
            <Show when=move || adding.get()>
                <div class="form inline">
                    <label>"Hub pipeline"
                        <select on:change=move |ev| new_hub.set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            {hub_p.get_value().into_iter().map(|p| view! { <option value=p.id.clone()>{p.label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>{format!("{} pipeline", ctx.app_name.get_value())}
                        <select on:change=move |ev| new_app.set(event_target_value(&ev))>
                            <option value="">"Choose…"</option>
                            {app_p.get_value().into_iter().map(|p| view! { <option value=p.id.clone()>{p.label}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="button" class="button secondary" on:click=add_block>"Add"</button>
                </div>
            </Show>
            {move || ctx.errors.with(|e| e.iter().filter(|f| f.field.starts_with("stage_pairs")).map(|f| f.message.clone()).collect::<Vec<_>>())
                .into_iter().map(|m| view! { <p class="field-error" role="alert">{m}</p> }).collect_view()}
            {move || if blocks.with(|b| b.is_empty()) {
                view! { <p class="notice">"No stage is mapped yet, so no deal would sync. Use Auto-map, or Map another pipeline."</p> }.into_any()
            } else {
                blocks.get().into_iter().map(|(hp, ap)| {
                    let hub = hub_p.with_value(|v| v.iter().find(|p| p.id == hp).cloned());
                    let app = app_p.with_value(|v| v.iter().find(|p| p.id == ap).cloned());
                    let (Some(hub), Some(app)) = (hub, app) else { return ().into_any() };
                    let remove = {
                        let (hp, ap) = (hp.clone(), ap.clone());
                        move |_| {
                            blocks.update(|v| v.retain(|b| !(b.0 == hp && b.1 == ap)));
                            ctx.input.update(|i| i.stage_pairs.retain(|p| !(p.hub_pipeline == hp && p.app_pipeline == ap)));
                        }
                    };
                    view! {
                        <div class="stage-block">
                            <div class="page-head">
                                <h4>{format!("Hub {} ↔ {} {}", hub.label, ctx.app_name.get_value(), app.label)}</h4>
                                <button type="button" class="button small secondary" on:click=remove>"Remove pipeline"</button>
                            </div>
                            <table class="table">
                                <thead><tr><th>"Hub stage"</th><th>{format!("{} stage", ctx.app_name.get_value())}</th></tr></thead>
                                <tbody>
                                    {hub.stages.iter().map(|(sid, slabel)| {
                                        let (hp, ap, sid) = (hp.clone(), ap.clone(), sid.clone());
                                        let current = {
                                            let (hp, ap, sid) = (hp.clone(), ap.clone(), sid.clone());
                                            move || ctx.input.with(|i| i.stage_pairs.iter().find(|p| p.hub_pipeline == hp && p.hub_stage == sid && p.app_pipeline == ap).map(|p| p.app_stage.clone()).unwrap_or_default())
                                        };
                                        view! {
                                            <tr data-testid="stage-row">
                                                <td>{slabel.clone()}</td>
                                                <td>
                                                    <select aria-label=format!("Stage for {slabel}") prop:value=current
                                                        on:change=move |ev| {
                                                            let v = event_target_value(&ev);
                                                            ctx.input.update(|i| set_stage(&mut i.stage_pairs, &hp, &sid, &ap, Some(v.as_str())));
                                                        }>
                                                        <option value="">"— don't sync —"</option>
                                                        {app.stages.iter().map(|(aid, alabel)| view! { <option value=aid.clone()>{alabel.clone()}</option> }).collect_view()}
                                                    </select>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }).collect_view().into_any()
            }}
        </section>
    }
}

#[component]
fn FilterPanel(ctx: Ctx, side: SideInput) -> impl IntoView {
    let editing = RwSignal::new(false);
    let title = match side {
        SideInput::Hub => format!("Hub {}", ctx.input.with_untracked(|i| i.hub_object.clone())),
        SideInput::App => format!(
            "{} {}",
            ctx.app_name.get_value(),
            ctx.input.with_untracked(|i| i.app_object.clone())
        ),
    };
    let fields = move || match side {
        SideInput::Hub => ctx.hub_fields(),
        SideInput::App => ctx.app_fields(),
    };
    // (global index, filter) of this side: server problems are named by the global index.
    let mine = move || {
        ctx.input.with(|i| {
            i.filters
                .iter()
                .enumerate()
                .filter(|(_, f)| f.side == side)
                .map(|(n, f)| (n, f.clone()))
                .collect::<Vec<_>>()
        })
    };
    let summary = move || {
        let list = mine();
        if list.is_empty() {
            return "All records".to_string();
        }
        let fields = fields();
        list.iter()
            .map(|(_, f)| format!("{} {}", field_label(&fields, &f.field), f.op.label()))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let side_key = if side == SideInput::Hub { "hub" } else { "app" };
    let add = move |_| {
        let first = fields().first().map(|f| f.name.clone()).unwrap_or_default();
        ctx.input.update(|i| {
            i.filters.push(FilterInput {
                side,
                field: first,
                op: FilterOp::IsKnown,
            })
        });
    };
    view! {
        <div class="filter-panel card" data-testid=format!("filters-{side_key}")>
            <div class="page-head">
                <h4>{title}</h4>
                <button type="button" class="button small secondary" on:click=move |_| editing.update(|e| *e = !*e)>
                    {move || if editing.get() { "Done" } else { "Edit" }}
                </button>
            </div>
            <p class="filter-summary">{summary}</p>
            {move || mine().into_iter().flat_map(|(n, _)| ctx.errors_at(&format!("filters[{n}]"))).map(|m| view! { <p class="field-error" role="alert">{m}</p> }).collect_view()}
            <Show when=move || editing.get()>
                <div class="filter-edit">
                    {move || mine().into_iter().map(|(n, f)| {
                        let key = op_key(&f.op);
                        let value = op_value(&f.op);
                        let needs_value = !matches!(f.op, FilterOp::IsKnown | FilterOp::IsUnknown);
                        let field = f.field.clone();
                        view! {
                            <div class="filter-row" data-testid="filter-row">
                                <select aria-label="Filter field" prop:value=field.clone() on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    ctx.input.update(|i| if let Some(f) = i.filters.get_mut(n) { f.field = v });
                                }>
                                    {fields().into_iter().map(|o| view! { <option value=o.name.clone() selected=o.name == field>{o.label}</option> }).collect_view()}
                                </select>
                                <select aria-label="Filter operator" prop:value=key on:change=move |ev| {
                                    let k = event_target_value(&ev);
                                    ctx.input.update(|i| if let Some(f) = i.filters.get_mut(n) { f.op = make_op(&k, &op_value(&f.op)) });
                                }>
                                    {OPERATORS.into_iter().map(|(k, l)| view! { <option value=k selected=k == key>{l}</option> }).collect_view()}
                                </select>
                                {needs_value.then(|| view! {
                                    <input type="text" aria-label="Filter value" prop:value=value.clone()
                                        placeholder=if key == "in_list" { "a, b, c" } else { "value" }
                                        on:change=move |ev| {
                                            let v = event_target_value(&ev);
                                            ctx.input.update(|i| if let Some(f) = i.filters.get_mut(n) { f.op = make_op(op_key(&f.op), &v) });
                                        }/>
                                })}
                                <button type="button" class="button small secondary" on:click=move |_| {
                                    ctx.input.update(|i| { if n < i.filters.len() { i.filters.remove(n); } });
                                    ctx.errors.set(vec![]);
                                }>"Remove"</button>
                            </div>
                        }
                    }).collect_view()}
                    <button type="button" class="button small secondary" on:click=add>"Add a condition"</button>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn MatchKey(ctx: Ctx) -> impl IntoView {
    let kind = move || {
        ctx.input.with(|i| match i.match_key {
            MatchKeyInput::Default => "default",
            MatchKeyInput::Custom { .. } => "custom",
            MatchKeyInput::None => "none",
        })
    };
    let custom = move || {
        ctx.input.with(|i| match &i.match_key {
            MatchKeyInput::Custom {
                hub_property,
                app_field,
            } => (hub_property.clone(), app_field.clone()),
            _ => (String::new(), String::new()),
        })
    };
    let set_custom = move |hub: Option<String>, app: Option<String>| {
        let (h, a) = custom();
        ctx.input.update(|i| {
            i.match_key = MatchKeyInput::Custom {
                hub_property: hub.unwrap_or(h),
                app_field: app.unwrap_or(a),
            }
        });
    };
    view! {
        <h3>"Matching"</h3>
        <label>"Match records by"
            <select aria-label="Match records by" prop:value=kind on:change=move |ev| {
                let v = event_target_value(&ev);
                ctx.input.update(|i| i.match_key = match v.as_str() {
                    "custom" => MatchKeyInput::Custom { hub_property: String::new(), app_field: String::new() },
                    "none" => MatchKeyInput::None,
                    _ => MatchKeyInput::Default,
                });
            }>
                <option value="default">"The default (contacts: email; companies: name or domain)"</option>
                <option value="custom">"A pair of fields I choose"</option>
                <option value="none">"Don't match (records pair only when the sync creates them)"</option>
            </select>
        </label>
        <Show when=move || kind() == "custom">
            <div class="form inline">
                <label>"Hub property"
                    <select prop:value=move || custom().0 on:change=move |ev| set_custom(Some(event_target_value(&ev)), None)>
                        <option value="">"Choose…"</option>
                        {move || ctx.hub_fields().into_iter().map(|f| view! { <option value=f.name.clone()>{f.label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"App field"
                    <select prop:value=move || custom().1 on:change=move |ev| set_custom(None, Some(event_target_value(&ev)))>
                        <option value="">"Choose…"</option>
                        {move || ctx.app_fields().into_iter().map(|f| view! { <option value=f.name.clone()>{f.label}</option> }).collect_view()}
                    </select>
                </label>
            </div>
        </Show>
        {move || ctx.errors_at("match_key").into_iter().map(|m| view! { <p class="field-error" role="alert">{m}</p> }).collect_view()}
    }
}

fn associations_of(hub_object: &str) -> &'static [(&'static str, &'static str)] {
    match hub_object {
        "contacts" => &[("companies", "Contact ↔ company")],
        "companies" => &[
            ("contacts", "Company ↔ contact"),
            ("deals", "Company ↔ deal"),
        ],
        "deals" => &[
            ("companies", "Deal ↔ company"),
            ("contacts", "Deal ↔ contact"),
        ],
        "invoices" => &[(
            "contacts",
            "Invoice → contact (invoices are associated only with contacts)",
        )],
        _ => &[],
    }
}

#[component]
fn AssociationsStep(ctx: Ctx) -> impl IntoView {
    let hub_object = ctx.input.with_untracked(|i| i.hub_object.clone());
    let synced = move |object: &str| {
        ctx.options.with_value(|o| {
            o.iter()
                .any(|o| o.hub_object == object && o.existing_sync.is_some())
        })
    };
    view! {
        <h2>"Associations"</h2>
        <label class="check">
            <input type="checkbox" prop:checked=move || ctx.input.with(|i| i.sync_associations)
                on:change=move |ev| ctx.input.update(|i| i.sync_associations = event_target_checked(&ev))/>
            "Keep associations the same on both sides"
        </label>
        <p class="hint">"An association made or removed on one side is made or removed on the other, once both of its records are synced (by this sync and the sync of the other object), in the direction this sync runs."</p>
        <ul class="assoc-list">
            {associations_of(&hub_object).iter().map(|(other, label)| {
                let ok = synced(other);
                view! {
                    <li>
                        <strong>{*label}</strong>" — "
                        {if ok {
                            view! { <span class="pill ok">{format!("{} sync too", object_label(other))}</span> }.into_any()
                        } else {
                            view! { <span class="pill muted">{format!("{} are not synced yet: these associations wait until they are", object_label(other))}</span> }.into_any()
                        }}
                    </li>
                }
            }).collect_view()}
        </ul>
        <Nav ctx back=2>
            <button type="button" class="button primary" on:click=move |_| ctx.go(4)>"Next"</button>
        </Nav>
    }
}

#[component]
fn ReviewStep(ctx: Ctx) -> impl IntoView {
    let app_name = ctx.app_name.get_value();
    let i = ctx.input.get_untracked();
    let hub_fields = ctx.hub_fields();
    let app_fields = ctx.app_fields();
    let on: Vec<&MappingInput> = i.mappings.iter().filter(|m| m.enabled).collect();
    let custom = on.iter().filter(|m| m.custom).count();
    let filters = |side: SideInput, fields: &[FieldOption]| {
        let list: Vec<String> = i
            .filters
            .iter()
            .filter(|f| f.side == side)
            .map(|f| format!("{} {}", field_label(fields, &f.field), f.op.label()))
            .collect();
        if list.is_empty() {
            "all records".to_string()
        } else {
            list.join(" and ")
        }
    };
    let rows: Vec<(String, String)> = vec![
        (
            "Objects".into(),
            format!(
                "Hub {} {} {app_name} {}",
                i.hub_object,
                i.direction.arrows(),
                i.app_object
            ),
        ),
        ("Direction".into(), i.direction.label().to_string()),
        (
            "Data conflicts".into(),
            if i.direction == SyncDirection::TwoWay {
                format!(
                    "{} wins",
                    if i.conflict_winner == DefaultApp::App {
                        app_name.clone()
                    } else {
                        "The hub".into()
                    }
                )
            } else {
                "Not applicable (one-way)".into()
            },
        ),
        (
            "Email events".into(),
            if i.event_sync {
                "Synced to contact timelines".into()
            } else {
                "Not synced".into()
            },
        ),
        (
            "Field mappings".into(),
            format!(
                "{} on ({custom} custom), {} off",
                on.len(),
                i.mappings.len() - on.len()
            ),
        ),
        (
            "Deal stages".into(),
            if i.stage_pairs.is_empty() {
                "—".into()
            } else {
                format!("{} mapped", i.stage_pairs.len())
            },
        ),
        (
            "Contacts without email".into(),
            if i.hub_object != "contacts" {
                "—".into()
            } else if i.sync_only_with_email {
                "Not synced".into()
            } else {
                "Synced".into()
            },
        ),
        ("Hub filter".into(), filters(SideInput::Hub, &hub_fields)),
        (
            format!("{app_name} filter"),
            filters(SideInput::App, &app_fields),
        ),
        (
            "Matching".into(),
            match &i.match_key {
                MatchKeyInput::Default => "Default".into(),
                MatchKeyInput::Custom {
                    hub_property,
                    app_field,
                } => format!("{hub_property} = {app_field}"),
                MatchKeyInput::None => "None".into(),
            },
        ),
        (
            "Associations".into(),
            if i.sync_associations {
                "Kept".into()
            } else {
                "Not synced".into()
            },
        ),
        (
            "Deletions".into(),
            if i.propagate_deletes {
                "Propagated".into()
            } else {
                "Not propagated".into()
            },
        ),
    ];
    let problems = ctx.errors.get_untracked();
    view! {
        <h2>"Review"</h2>
        <dl class="review" data-testid="review">
            {rows.into_iter().map(|(k, v)| view! { <div class="prop"><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
        </dl>
        <h3>"Mappings"</h3>
        <ul class="review-mappings">
            {on.iter().map(|m| view! {
                <li>{format!("{} {} {}{}", field_label(&app_fields, &m.app_field), app_left_arrows(m.direction), field_label(&hub_fields, &m.hub_property),
                    if m.write_policy == WritePolicy::Always { String::new() } else { format!(" ({})", m.write_policy.label().to_lowercase()) })}</li>
            }).collect_view()}
        </ul>
        {(!problems.is_empty()).then(|| view! {
            <div class="error-box" role="alert">
                <strong>"Some settings need attention:"</strong>
                <ul>
                    {problems.into_iter().map(|p| {
                        let step = step_of(&p.field);
                        view! { <li>{p.message}" "<button type="button" class="link" on:click=move |_| ctx.step.set(step)>{format!("Go to {}", STEPS[step])}</button></li> }
                    }).collect_view()}
                </ul>
            </div>
        })}
        {ctx.editing.map(|_| view! { <p class="notice">"Saving restarts the initial sync."</p> })}
        <Nav ctx back=3>
            <button type="button" class="button primary" data-testid="save-sync" disabled=move || ctx.busy.get() || ctx.done.get().is_some()
                on:click=move |_| ctx.save()>"Save and sync"</button>
        </Nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(hp: &str, hs: &str, ap: &str, a: &str) -> StagePairInput {
        StagePairInput {
            hub_pipeline: hp.into(),
            hub_stage: hs.into(),
            app_pipeline: ap.into(),
            app_stage: a.into(),
        }
    }

    #[test]
    fn problems_go_to_their_step() {
        assert_eq!(step_of("app_object"), 0);
        assert_eq!(step_of("mappings[3]"), 1);
        assert_eq!(step_of("mappings"), 1);
        assert_eq!(step_of("filters[0]"), 2);
        assert_eq!(step_of("match_key"), 2);
        assert_eq!(step_of("sync_associations"), 3);
        let errors = vec![
            FieldError {
                field: "mappings[2]".into(),
                message: "a".into(),
            },
            FieldError {
                field: "mappings[20]".into(),
                message: "b".into(),
            },
            FieldError {
                field: "mappings[2]".into(),
                message: "c".into(),
            },
        ];
        assert_eq!(
            messages_at(&errors, "mappings[2]"),
            vec!["a".to_string(), "c".to_string()]
        );
        assert!(messages_at(&errors, "mappings[0]").is_empty());
    }

    #[test]
    fn filter_operators_round_trip_through_the_editor() {
        for op in [
            FilterOp::Equals("lead".into()),
            FilterOp::NotEquals("x".into()),
            FilterOp::Contains("acme".into()),
            FilterOp::IsKnown,
            FilterOp::IsUnknown,
            FilterOp::GreaterThan("10".into()),
            FilterOp::LessThan("2026-01-01".into()),
            FilterOp::InList(vec!["a".into(), "b c".into()]),
        ] {
            assert_eq!(make_op(op_key(&op), &op_value(&op)), op);
            assert!(OPERATORS.iter().any(|(k, _)| *k == op_key(&op)));
        }
        assert_eq!(
            make_op("in_list", " a, ,b "),
            FilterOp::InList(vec!["a".into(), "b".into()])
        );
        assert_eq!(make_op("bogus", "v"), FilterOp::Equals("v".into()));
    }

    #[test]
    fn stage_editor_blocks_and_changes() {
        let mut pairs = vec![
            pair("default", "won", "p1", "w"),
            pair("default", "lost", "p1", "l"),
            pair("renewals", "due", "p2", "d"),
        ];
        assert_eq!(
            pipeline_blocks(&pairs),
            vec![
                ("default".into(), "p1".into()),
                ("renewals".into(), "p2".into())
            ]
        );
        set_stage(&mut pairs, "default", "won", "p1", Some("w2"));
        assert_eq!(pairs.iter().filter(|p| p.hub_stage == "won").count(), 1);
        assert!(pairs.contains(&pair("default", "won", "p1", "w2")));
        set_stage(&mut pairs, "default", "lost", "p1", None);
        assert!(!pairs.iter().any(|p| p.hub_stage == "lost"));
        set_stage(&mut pairs, "default", "lost", "p1", Some(""));
        assert!(!pairs.iter().any(|p| p.hub_stage == "lost"));
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn directions_and_policies_round_trip() {
        for d in DIRECTIONS {
            assert_eq!(direction_from(direction_key(d)), d);
        }
        // The model's arrows have the hub on the left; the mapping table has the app there.
        assert_eq!(
            app_left_arrows(SyncDirection::ToHub),
            SyncDirection::ToApp.arrows()
        );
        assert_eq!(
            app_left_arrows(SyncDirection::ToApp),
            SyncDirection::ToHub.arrows()
        );
        for p in POLICIES {
            assert_eq!(policy_from(policy_key(p)), p);
        }
    }
}
