//! The connections page and the synchronization window: import with a
//! preview computed in the browser (in a Web Worker), the six categories
//! as virtualized lists, and the partner actions.

use std::collections::BTreeSet;

use leptos::prelude::*;
use sync::categorize::Category;
use sync::plan::Action as Step;
use sync::protocol::{
    ActionResult, ApiError, AuditEntry, CategoryCounts, Connection, ConnectionInput, Endpoint,
    Expect, ImportOptions, ImportResult, NumberCheck, Numbering, PartnerSuggestions, PendingItem,
    RowsChanged, Source, SystemKind, WindowAction, WindowOp, WindowPage, WindowQuery, WindowRow,
    WindowSummary,
};
use sync::read::{ColumnRef, MappingEntry};
use sync::rules::NumberRules;
use sync::schema::{Field, Kind, Side};

use crate::api;
use crate::browser::{self, PickedFile, PreviewWorker, WorkerMsg};
use crate::layout::Protected;
use crate::preview::{PreviewResult, row_errors_csv};

/// Height of a row of the virtualized list, in pixels.
pub const ROW_PX: f64 = 34.0;
/// Rows fetched per request.
pub const BLOCK: u32 = 50;
/// Browsers cap an element's height (Chromium near 33.5M px); the list's
/// scroll height stays below this and offsets are scaled.
pub const MAX_SCROLL_PX: f64 = 8_000_000.0;

/// The scroll height of a list of `total` rows and the factor that maps a
/// row's natural offset to the scroll offset.
pub fn scroll_geometry(total: u32) -> (f64, f64) {
    let natural = f64::from(total) * ROW_PX;
    if natural <= MAX_SCROLL_PX {
        (natural, 1.0)
    } else {
        (MAX_SCROLL_PX, MAX_SCROLL_PX / natural)
    }
}

/// Height of the list's viewport, in pixels (as in the style sheet).
pub const VIEWPORT_PX: f64 = 480.0;

/// Where the list is at `scroll_top`, in rows: the integer part is the
/// first visible row, the fraction how much of it is scrolled away. The
/// whole scroll range maps onto the whole list, so that with scaled offsets
/// the last rows are still reached at the bottom.
pub fn scroll_position(scroll_top: f64, total: u32) -> f64 {
    let (height, _) = scroll_geometry(total);
    let max_scroll = height - VIEWPORT_PX;
    let view_rows = VIEWPORT_PX / ROW_PX;
    let pos = if max_scroll <= 0.0 {
        scroll_top / ROW_PX
    } else {
        scroll_top.clamp(0.0, max_scroll) / max_scroll * (f64::from(total) - view_rows).max(0.0)
    };
    pos.max(0.0)
}

/// The first row visible at `scroll_top`.
pub fn first_visible(scroll_top: f64, total: u32) -> u32 {
    let i = (scroll_position(scroll_top, total) + 1e-9).floor() as u32;
    i.min(total.saturating_sub(1))
}

/// A category's heading and its count.
pub fn category_label(c: Category, counts: &CategoryCounts) -> String {
    format!("{} ({})", c.label(), counts.get(c))
}

pub fn category_slug(c: Category) -> &'static str {
    match c {
        Category::Conflicts => "conflicts",
        Category::New => "new",
        Category::Deleted => "deleted",
        Category::Deactivated => "deactivated",
        Category::Synchronized => "synchronized",
        Category::Inactive => "inactive",
    }
}

/// The field names people read.
pub fn field_label(f: Field) -> &'static str {
    match f {
        Field::Number => "Number",
        Field::Name => "Name",
        Field::FirstName => "First name",
        Field::LastName => "Last name",
        Field::OrganisationNumber => "Organisation number",
        Field::Street => "Street",
        Field::PostalCode => "Postal code",
        Field::City => "City",
        Field::Country => "Country",
        Field::Email => "Email",
        Field::Phone => "Phone",
        Field::ContactPerson => "Contact person",
        Field::SalesRepCode => "Sales rep code",
        Field::Active => "Active",
    }
}

/// What a number check says, in a sentence.
pub fn number_note(c: &NumberCheck) -> String {
    if let Some(e) = &c.error {
        return format!("Not allowed: {e}.");
    }
    let r = c.result.clone().unwrap_or_default();
    let mut parts = vec![format!("Their number will be {r}")];
    // Stripping zeros also makes it shorter: say which.
    if c.shortened && !c.zeros_stripped {
        parts.push("shortened".into());
    }
    if c.zeros_stripped {
        parts.push("leading zeros removed".into());
    }
    let mut s = parts.join(", ");
    s.push('.');
    if c.taken {
        s.push_str(" That number is taken.");
    }
    s
}

/// The same for the customer form, computed in the browser from the rules.
pub fn rules_note(rules: &NumberRules, number: &str) -> String {
    let p = rules.preview(number);
    number_note(&NumberCheck {
        input: p.input,
        result: p.result,
        shortened: p.shortened,
        zeros_stripped: p.zeros_stripped,
        error: p.error.map(|e| e.to_string()),
        taken: false,
    })
}

/// The import's options: the person's choices, with the connection's saved
/// mapping when they changed none.
pub fn resolved_options(overrides: &ImportOptions, saved: &[MappingEntry]) -> ImportOptions {
    let mut o = overrides.clone();
    if o.mapping.is_empty() {
        o.mapping = saved.to_vec();
    }
    o
}

/// The mapping after a person sets `column` to `field` (or to nothing),
/// starting from the columns the preview shows.
pub fn remap(
    columns: &[(u32, Option<Field>)],
    column: u32,
    field: Option<Field>,
) -> Vec<MappingEntry> {
    columns
        .iter()
        .map(|(c, f)| if *c == column { (*c, field) } else { (*c, *f) })
        // A field mapped to the new column leaves its old one.
        .map(|(c, f)| (c, f.filter(|f| c == column || Some(*f) != field)))
        .filter_map(|(c, f)| {
            f.map(|field| MappingEntry {
                column: ColumnRef::Index(c),
                field,
            })
        })
        .collect()
}

fn base_path(id: i64, kind: Kind) -> String {
    format!("/connections/{id}/{}", kind.as_str())
}

#[component]
pub fn Connections() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        reload.get();
        async move { api::get::<Vec<Connection>>("/connections").await }
    });
    let name = RwSignal::new(String::new());
    let system = RwSignal::new(SystemKind::File);
    let base_url = RwSignal::new(String::new());
    let customers_source = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let create = Action::new_local(move |input: &ConnectionInput| {
        let input = input.clone();
        async move { api::send::<_, Connection>("POST", "/connections", Some(&input)).await }
    });
    Effect::new(move |_| {
        if let Some(r) = create.value().get() {
            match r {
                Ok(_) => {
                    for s in [name, base_url, customers_source, secret] {
                        s.set(String::new());
                    }
                    message.set(None);
                    reload.update(|x| *x += 1);
                }
                Err(e) => message.set(Some(crate::integrations::error_text(e))),
            }
        }
    });
    let input = move || {
        let system = system.get_untracked();
        let integrated = system.is_integrated();
        let secret = secret.get_untracked();
        ConnectionInput {
            name: name.get_untracked(),
            system,
            customers: None,
            employees: None,
            endpoint: integrated.then(|| Endpoint {
                base_url: base_url.get_untracked().trim().to_string(),
                customers: Source {
                    table: customers_source.get_untracked().trim().to_string(),
                },
                ..Endpoint::default()
            }),
            secret: (integrated && !secret.is_empty()).then_some(secret),
        }
    };
    let body = move || {
        match list.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="blank">"No connection yet. Name the system you exchange files with to start."</p>
        }
        .into_any(),
        Some(Ok(list)) => view! {
            <div class="connections">
                {list
                    .into_iter()
                    .map(|c| view! { <ConnectionCard c=c reload=reload/> })
                    .collect_view()}
            </div>
        }
        .into_any(),
    }
    };
    view! {
        <Protected admin_only=true>
            <section>
                <header class="page-head">
                    <h1>"Connections"</h1>
                </header>
                <form class="inline-form new-connection" on:submit=move |ev| {
                    ev.prevent_default();
                    create.dispatch(input());
                }>
                    <label for="connection-name">"New connection"</label>
                    <input id="connection-name" placeholder="e.g. Visma export" prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))/>
                    <label for="connection-system">"System"</label>
                    <select id="connection-system" on:change=move |ev| {
                        system.set(match event_target_value(&ev).as_str() {
                            "database" => SystemKind::Database,
                            "rest" => SystemKind::Rest,
                            _ => SystemKind::File,
                        })
                    }>
                        <option value="file">"Files (import by hand)"</option>
                        <option value="database">"Database (PostgreSQL or SQLite)"</option>
                        <option value="rest">"REST API"</option>
                    </select>
                    <Show when=move || system.get() == SystemKind::Rest>
                        <label for="connection-base-url">"Base URL"</label>
                        <input id="connection-base-url" placeholder="https://erp.example.com/api"
                            prop:value=move || base_url.get() on:input=move |ev| base_url.set(event_target_value(&ev))/>
                    </Show>
                    <Show when=move || system.get().is_integrated()>
                        <label for="connection-customers">
                            {move || crate::integrations::source_label(system.get(), Kind::Customer)}
                        </label>
                        <input id="connection-customers" class="narrow"
                            placeholder=move || if system.get() == SystemKind::Rest { "/customers" } else { "customers" }
                            prop:value=move || customers_source.get()
                            on:input=move |ev| customers_source.set(event_target_value(&ev))/>
                        <label for="connection-secret">
                            {move || if system.get() == SystemKind::Rest { "API token" } else { "Database URL" }}
                        </label>
                        <input id="connection-secret" type="password" autocomplete="off"
                            prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev))/>
                    </Show>
                    <button type="submit" class="primary">"Create connection"</button>
                </form>
                <Show when=move || message.get().is_some()>
                    <p class="error" role="alert">{move || message.get()}</p>
                </Show>
                {body}
            </section>
        </Protected>
    }
}

/// One connection with its per-kind number rules and links to its windows.
#[component]
fn ConnectionCard(c: Connection, reload: RwSignal<u32>) -> impl IntoView {
    let conn = RwSignal::new(c);
    let message = RwSignal::new(None::<String>);
    let save = Action::new_local(move |c: &Connection| {
        crate::integrations::put_connection(c.clone(), None)
    });
    Effect::new(move |_| {
        if let Some(r) = save.value().get() {
            match r {
                Ok(Some(c)) => {
                    conn.set(c);
                    message.set(Some("Saved.".into()));
                }
                Ok(None) => {}
                Err(e) => {
                    message.set(Some(crate::integrations::error_text(e)));
                    reload.update(|x| *x += 1);
                }
            }
        }
    });
    let rules_row = move |kind: Kind| {
        let get = move || conn.with(|c| c.settings(kind).rules.clone());
        let set =
            move |f: &dyn Fn(&mut NumberRules)| conn.update(|c| f(&mut c.settings_mut(kind).rules));
        let k = kind.as_str();
        view! {
            <tr data-kind=k>
                <th>{if kind == Kind::Customer { "Customers" } else { "Employees" }}</th>
                <td>
                    <input type="number" min="1" max="64" class="narrow" aria-label=format!("{k} maximum length")
                        prop:value=move || get().max_len.map(|n| n.to_string()).unwrap_or_default()
                        on:change=move |ev| {
                            let v = event_target_value(&ev).trim().parse::<u32>().ok();
                            set(&|r| r.max_len = v);
                        }/>
                </td>
                <td>
                    <input type="checkbox" aria-label=format!("{k} digits only") prop:checked=move || get().digits_only
                        on:change=move |ev| {
                            let v = event_target_checked(&ev);
                            set(&|r| r.digits_only = v);
                        }/>
                </td>
                <td>
                    <input type="checkbox" aria-label=format!("{k} strip leading zeros")
                        prop:checked=move || get().strip_leading_zeros
                        on:change=move |ev| {
                            let v = event_target_checked(&ev);
                            set(&|r| r.strip_leading_zeros = v);
                        }/>
                </td>
                <td>
                    <a href=move || format!("/connections/{}/{k}", conn.with(|c| c.connection_id))>
                        {if kind == Kind::Customer { "Open customer window" } else { "Open employee window" }}
                    </a>
                </td>
            </tr>
        }
    };
    view! {
        <article class="card" data-connection=move || conn.with(|c| c.name.clone())>
            <h2>{move || conn.with(|c| c.name.clone())}</h2>
            <table class="list">
                <thead>
                    <tr>
                        <th></th>
                        <th>"Their maximum number length"</th>
                        <th>"Digits only"</th>
                        <th>"Strip leading zeros"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{rules_row(Kind::Customer)} {rules_row(Kind::Employee)}</tbody>
            </table>
            <div class="actions">
                <button on:click=move |_| {
                    save.dispatch(conn.get_untracked());
                }>"Save number rules"</button>
                <span class="muted" role="status">{move || message.get()}</span>
            </div>
            {conn.with_untracked(|c| c.system.is_integrated())
                .then(|| view! { <crate::integrations::Integration conn=conn/> })}
        </article>
    }
}

/// A notice above the window: what an action did, or why it did not.
#[derive(Clone, Debug, PartialEq)]
struct Notice {
    ok: bool,
    text: String,
}

#[derive(Clone, Copy)]
struct Ctx {
    id: Memo<i64>,
    kind: Memo<Kind>,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<Notice>>,
    open: RwSignal<Option<WindowRow>>,
}

impl Ctx {
    fn path(&self) -> String {
        base_path(self.id.get_untracked(), self.kind.get_untracked())
    }

    fn refresh(&self) {
        self.reload.update(|x| *x += 1);
    }

    fn say(&self, ok: bool, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            ok,
            text: text.into(),
        }));
    }

    /// Sends an action with a fresh idempotency key; refreshes either way.
    fn act(&self, op: WindowOp, expect: Vec<Expect>, done: &'static str) {
        let ctx = *self;
        let path = format!("{}/actions", self.path());
        leptos::task::spawn_local(async move {
            let body = WindowAction { op, expect };
            let key = browser::random_key();
            match api::post_raw(&path, &body, Some(&key)).await {
                Ok((200, text)) => {
                    let r: Option<ActionResult> = serde_json::from_str(&text).ok();
                    let n = r.map(|r| r.applied).unwrap_or(0);
                    ctx.say(
                        true,
                        format!("{done} ({n} change{}).", if n == 1 { "" } else { "s" }),
                    );
                    ctx.open.set(None);
                }
                Ok((409, text)) => {
                    let msg = serde_json::from_str::<RowsChanged>(&text)
                        .map(|r| {
                            if let Some(row) = r.rows.first() {
                                ctx.open.set(Some(row.clone()));
                            } else {
                                ctx.open.set(None);
                            }
                            r.message
                        })
                        .or_else(|_| serde_json::from_str::<ApiError>(&text).map(|e| e.message))
                        .unwrap_or_else(|_| "Someone else changed these rows.".into());
                    ctx.say(false, msg);
                }
                Ok((_, text)) => {
                    let e = serde_json::from_str::<ApiError>(&text)
                        .map(|e| {
                            e.fields
                                .first()
                                .map(|f| f.message.clone())
                                .unwrap_or(e.message)
                        })
                        .unwrap_or(text);
                    ctx.say(false, e);
                }
                Err(e) => ctx.say(false, e.message),
            }
            ctx.refresh();
        });
    }
}

#[component]
pub fn SyncWindow() -> impl IntoView {
    let id = crate::layout::path_id("id");
    let kind = crate::layout::path_kind();
    let ctx = Ctx {
        id,
        kind,
        reload: RwSignal::new(0),
        notice: RwSignal::new(None),
        open: RwSignal::new(None),
    };
    let summary = LocalResource::new(move || {
        ctx.reload.get();
        let path = format!("{}/window", base_path(id.get(), kind.get()));
        async move { api::get::<WindowSummary>(&path).await }
    });
    let connection = LocalResource::new(move || {
        let path = format!("/connections/{}", id.get());
        async move { api::get::<Connection>(&path).await }
    });
    let category = RwSignal::new(Category::Conflicts);
    let counts = Memo::new(move |_| {
        summary
            .get()
            .and_then(|r| r.ok())
            .map(|s| s.counts)
            .unwrap_or_default()
    });
    let title = move || {
        let name = connection
            .get()
            .and_then(|r| r.ok())
            .map(|c| c.name)
            .unwrap_or_default();
        let what = if kind.get() == Kind::Customer {
            "customers"
        } else {
            "employees"
        };
        format!("{name}: {what}")
    };
    let tabs = move || {
        Category::ALL
            .into_iter()
            .map(|c| {
                let slug = category_slug(c);
                view! {
                    <button role="tab" class="tab" data-category=slug
                        aria-selected=move || (category.get() == c).to_string()
                        on:click=move |_| {
                            category.set(c);
                            ctx.open.set(None);
                        }>
                        {move || category_label(c, &counts.get())}
                    </button>
                }
            })
            .collect_view()
    };
    let blank = move || counts.get().total() == 0;
    view! {
        <Protected admin_only=true>
            <section class="window">
                <header class="page-head">
                    <h1>{title}</h1>
                    <nav class="kinds">
                        <a href=move || format!("/connections/{}/customer", id.get())>"Customers"</a>
                        <a href=move || format!("/connections/{}/employee", id.get())>"Employees"</a>
                        <a href="/connections">"All connections"</a>
                    </nav>
                </header>
                <Show when=move || ctx.notice.get().is_some()>
                    <p class=move || if ctx.notice.get().is_some_and(|n| n.ok) { "notice ok" } else { "notice error" }
                        role="status" data-notice="">
                        {move || ctx.notice.get().map(|n| n.text)}
                    </p>
                </Show>
                <Import ctx=ctx connection=connection/>
                <Show when=blank>
                    <p class="blank">"Neither side has records yet. Import their file above, or add records to the register."</p>
                </Show>
                <div class="tabs" role="tablist">{tabs}</div>
                <div class="window-body">
                    <Rows ctx=ctx category=category counts=counts/>
                    <Detail ctx=ctx/>
                </div>
                <Pending ctx=ctx summary=summary/>
            </section>
        </Protected>
    }
}

/// Drop zone, file choice, detection, preview, submit.
#[component]
fn Import(ctx: Ctx, connection: LocalResource<Result<Connection, ApiError>>) -> impl IntoView {
    let picked = StoredValue::new_local(None::<PickedFile>);
    // One worker for the window's lifetime: the engine loads once, and it
    // keeps the fingerprint it was last sent (its ETag in `held`), so a
    // preview again (another file, a changed mapping) fetches nothing while
    // the server's state is unchanged.
    let worker = StoredValue::new_local(None::<PreviewWorker>);
    let held = StoredValue::new_local(None::<String>);
    let busy = StoredValue::new_local(false);
    // Bumped by every preview: a fetch that returns after a newer preview
    // started sends nothing.
    let generation = StoredValue::new_local(0u64);
    let file_label = RwSignal::new(None::<String>);
    let over = RwSignal::new(false);
    let progress = RwSignal::new(None::<(String, f64)>);
    let preview = RwSignal::new(None::<PreviewResult>);
    let error = RwSignal::new(None::<String>);
    let overrides = RwSignal::new(ImportOptions::default());
    let submitting = RwSignal::new(false);
    let started = RwSignal::new(0.0f64);

    let saved_mapping = move || {
        connection
            .get_untracked()
            .and_then(|r| r.ok())
            .map(|c| c.settings(ctx.kind.get_untracked()).mapping.clone())
            .unwrap_or_default()
    };
    let options = move || resolved_options(&overrides.get_untracked(), &saved_mapping());

    let run_preview = move || {
        let Some(file) = picked.get_value() else {
            return;
        };
        preview.set(None);
        error.set(None);
        progress.set(Some(("Fetching the server's state".into(), 5.0)));
        let path = format!("{}/fingerprint", ctx.path());
        let kind = ctx.kind.get_untracked();
        let opts = serde_json::to_string(&options()).unwrap_or_default();
        if busy.get_value() {
            // A preview still running is of a file or mapping no longer
            // wanted: end it (and what its worker held).
            worker.set_value(None);
            held.set_value(None);
        }
        busy.set_value(true);
        generation.update_value(|g| *g += 1);
        let this = generation.get_value();
        let on_msg = move |m: WorkerMsg| match m {
            WorkerMsg::Progress { stage, pct } => progress.set(Some((stage, pct))),
            WorkerMsg::Done(json) => {
                progress.set(None);
                match serde_json::from_str::<PreviewResult>(&json) {
                    Ok(mut p) => {
                        p.millis = Some(browser::now_ms() - started.get_untracked());
                        preview.set(Some(p));
                    }
                    Err(e) => error.set(Some(format!(
                        "The preview answered something unexpected: {e}"
                    ))),
                }
                busy.set_value(false);
            }
            WorkerMsg::Error(e) => {
                progress.set(None);
                error.set(Some(e));
                busy.set_value(false);
                worker.set_value(None);
                held.set_value(None);
            }
        };
        if worker.with_value(Option::is_none) {
            match browser::start_worker(on_msg) {
                Ok(w) => worker.set_value(Some(w)),
                Err(e) => {
                    progress.set(None);
                    busy.set_value(false);
                    error.set(Some(e));
                    return;
                }
            }
        }
        leptos::task::spawn_local(async move {
            let etag = held.get_value();
            let answer = api::get_bytes(&path, "x-preview-revision", etag.as_deref()).await;
            if generation.get_value() != this {
                return;
            }
            let fp = match answer {
                // Unchanged: the worker previews against what it holds.
                Ok(None) => None,
                Ok(Some((bytes, revision))) => {
                    held.set_value(revision.map(|r| format!("\"{r}\"")));
                    Some(bytes)
                }
                Err(e) => {
                    progress.set(None);
                    busy.set_value(false);
                    error.set(Some(e.message));
                    return;
                }
            };
            // The time shown is the browser's own work: from the fingerprint's
            // arrival (or the server's word that it is unchanged) to the
            // counts.
            started.set(browser::now_ms());
            progress.set(Some(("Reading the file".into(), 15.0)));
            let sent = worker.with_value(|w| match w {
                Some(w) => w.preview(&file, kind.as_str(), &opts, fp),
                None => Err("the preview worker has ended".into()),
            });
            if let Err(e) = sent {
                progress.set(None);
                busy.set_value(false);
                held.set_value(None);
                error.set(Some(e));
            }
        });
    };
    let choose = move |f: PickedFile| {
        file_label.set(Some(format!(
            "{} ({:.1} MB)",
            browser::file_name(&f),
            browser::file_size(&f) / 1_048_576.0
        )));
        picked.set_value(Some(f));
        overrides.set(ImportOptions::default());
        run_preview();
    };
    let submit = move |_| {
        let (Some(file), Some(p)) = (picked.get_value(), preview.get_untracked()) else {
            return;
        };
        submitting.set(true);
        let opts = serde_json::to_string(&options()).unwrap_or_default();
        let path = format!(
            "{}/imports?file_name={}&options={}&preview_revision={}&save_mapping={}",
            ctx.path(),
            sync::protocol::percent_encode(&browser::file_name(&file)),
            sync::protocol::percent_encode(&opts),
            p.revision,
            !overrides.get_untracked().mapping.is_empty()
        );
        leptos::task::spawn_local(async move {
            match api::upload::<ImportResult>(&path, &file).await {
                Ok(r) => {
                    ctx.say(
                        true,
                        format!(
                            "Imported {} records from {} ({} row errors).",
                            r.import.record_count, r.import.file_name, r.import.error_count
                        ),
                    );
                    preview.set(None);
                    picked.set_value(None);
                    file_label.set(None);
                    ctx.refresh();
                }
                Err(e) if e.code == "stale_preview" => {
                    ctx.say(false, format!("{} Check it and submit again.", e.message));
                    run_preview();
                }
                Err(e) => ctx.say(
                    false,
                    e.fields
                        .first()
                        .map(|f| f.message.clone())
                        .unwrap_or(e.message),
                ),
            }
            submitting.set(false);
        });
    };
    let set_override = move |f: &dyn Fn(&mut ImportOptions)| {
        overrides.update(|o| f(o));
        run_preview();
    };

    let detected = move || {
        preview.get().map(|p| {
            let columns: Vec<(u32, Option<Field>)> = p.columns.iter().map(|c| (c.column, c.field)).collect();
            let kind = ctx.kind.get_untracked();
            let mapping_rows = p
                .columns
                .iter()
                .map(|c| {
                    let col = c.column;
                    let columns = columns.clone();
                    let current = c.field.map(|f| f.as_str().to_string()).unwrap_or_default();
                    view! {
                        <tr>
                            <td>{c.header.clone()}</td>
                            <td>
                                <select aria-label=format!("Field of column {}", c.header) data-column=c.header.clone()
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        let field = Field::parse(&v);
                                        let m = remap(&columns, col, field);
                                        set_override(&|o| o.mapping = m.clone());
                                    }>
                                    <option value="" selected=current.is_empty()>"(not imported)"</option>
                                    {kind
                                        .fields()
                                        .iter()
                                        .map(|f| {
                                            let v = f.as_str();
                                            view! { <option value=v selected=current == v>{field_label(*f)}</option> }
                                        })
                                        .collect_view()}
                                </select>
                            </td>
                        </tr>
                    }
                })
                .collect_view();
            let errors = p.row_errors.clone();
            let shown = errors.clone();
            let has_errors = !errors.is_empty();
            let n_errors = errors.len();
            let counts = p.counts;
            let encoding = p.encoding.clone().unwrap_or_default();
            let delimiter = p.delimiter.map(|d| d.to_string()).unwrap_or_default();
            let is_csv = p.format == "csv";
            let sheets = p.sheets.clone();
            let sheet = p.sheet.clone().unwrap_or_default();
            view! {
                <div class="detected">
                    <h3>"What the file holds"</h3>
                    <div class="options">
                        <Show when=move || is_csv>
                            <label>"Encoding "
                                <select aria-label="Encoding" on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    set_override(&|o| o.encoding = Some(v.clone()));
                                }>
                                    {["UTF-8", "windows-1252", "UTF-16LE", "UTF-16BE", "ISO-8859-1"]
                                        .into_iter()
                                        .map(|e| view! { <option value=e selected=encoding.eq_ignore_ascii_case(e)>{e}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                            <label>"Delimiter "
                                <select aria-label="Delimiter" on:change=move |ev| {
                                    let v = event_target_value(&ev).chars().next();
                                    set_override(&|o| o.delimiter = v);
                                }>
                                    {[(";", "Semicolon ;"), (",", "Comma ,"), ("\t", "Tab"), ("|", "Pipe |")]
                                        .into_iter()
                                        .map(|(v, l)| view! { <option value=v selected=delimiter == v>{l}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                        </Show>
                        <Show when=move || !is_csv>
                            <label>"Sheet "
                                <select aria-label="Sheet" on:change=move |ev| {
                                    let v = event_target_value(&ev);
                                    set_override(&|o| o.sheet = Some(v.clone()));
                                }>
                                    {sheets
                                        .iter()
                                        .map(|s| view! { <option value=s.clone() selected=*s == sheet>{s.clone()}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                        </Show>
                        <label class="inline">
                            <input type="checkbox" prop:checked=p.has_header aria-label="First row is a header"
                                on:change=move |ev| {
                                    let v = event_target_checked(&ev);
                                    set_override(&|o| o.has_header = Some(v));
                                }/>
                            "First row is a header"
                        </label>
                    </div>
                    <table class="list mapping">
                        <thead><tr><th>"Column"</th><th>"Field"</th></tr></thead>
                        <tbody>{mapping_rows}</tbody>
                    </table>
                    <p data-records="">{format!("{} records", p.record_count)}</p>
                    <Show when=move || has_errors>
                        <div class="row-errors">
                            <p class="error">{format!("{n_errors} rows cannot be imported:")}</p>
                            <ul>
                                {shown
                                    .iter()
                                    .take(20)
                                    .map(|e| view! { <li>{format!("Line {}: {}", e.line, e.reason)}</li> })
                                    .collect_view()}
                            </ul>
                            <button class="link" on:click={
                                let errors = errors.clone();
                                move |_| browser::download_text("row-errors.csv", &row_errors_csv(&errors))
                            }>"Download the row errors"</button>
                        </div>
                    </Show>
                    <h3>"Preview: the window after this import"</h3>
                    <table class="list preview-counts" data-preview="">
                        <tbody>
                            {Category::ALL
                                .into_iter()
                                .map(|c| view! {
                                    <tr data-category=category_slug(c)>
                                        <th>{c.label()}</th>
                                        <td class="count">{counts.get(c)}</td>
                                    </tr>
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                    <p class="muted">{p.millis.map(|m| {
                        let by = if p.parts > 1 { format!(" by {} workers", p.parts) } else { String::new() };
                        let known = if p.known > 0 {
                            format!(" {} of {} rows are as in the last import.", p.known, p.record_count)
                        } else {
                            String::new()
                        };
                        format!("Previewed in your browser in {m:.0} ms{by}.{known} Nothing is stored before you submit.")
                    })}</p>
                    <button class="primary" data-submit-import="" disabled=move || submitting.get() on:click=submit>
                        "Submit"
                    </button>
                </div>
            }
        })
    };

    view! {
        <section class="import">
            <h2>"Import their file"</h2>
            <div class="dropzone" class:over=move || over.get() data-dropzone=""
                on:dragenter=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragleave=move |_| over.set(false)
                on:drop=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    over.set(false);
                    if let Some(f) = browser::file_of_drop(&ev) {
                        choose(f);
                    }
                }>
                <p>"Drag a CSV or Excel file here, or "</p>
                <label class="button">
                    "Select a file"
                    <input type="file" class="visually-hidden" accept=".csv,.txt,.xlsx"
                        on:change=move |ev| {
                            if let Some(f) = browser::file_of_input(&ev) {
                                choose(f);
                            }
                        }/>
                </label>
                <p class="file-name">{move || file_label.get()}</p>
            </div>
            {move || progress.get().map(|(stage, pct)| view! {
                <div class="progress">
                    <progress max="100" value=pct></progress>
                    <span>{stage}</span>
                </div>
            })}
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get()}</p>
            </Show>
            {detected}
        </section>
    }
}

/// The rows of one category: search, sort, selection, bulk actions and a
/// virtualized list.
#[component]
fn Rows(ctx: Ctx, category: RwSignal<Category>, counts: Memo<CategoryCounts>) -> impl IntoView {
    let q = RwSignal::new(String::new());
    let sort = RwSignal::new("key".to_string());
    let scroll_top = RwSignal::new(0.0f64);
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let all = RwSignal::new(false);
    let total = RwSignal::new(0u32);
    let scroller = NodeRef::<leptos::html::Div>::new();
    // A new category or search starts at the top with nothing selected.
    Effect::new(move |_| {
        category.get();
        q.get();
        selected.set(BTreeSet::new());
        all.set(false);
        scroll_top.set(0.0);
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(0);
        }
    });
    let block = Memo::new(move |_| first_visible(scroll_top.get(), total.get()) / BLOCK);
    let page = LocalResource::new(move || {
        ctx.reload.get();
        let query = WindowQuery {
            q: Some(q.get()),
            sort: Some(sort.get()),
            dir: None,
            offset: Some(block.get() * BLOCK),
            limit: Some(BLOCK * 2),
        };
        let path = format!(
            "{}/window/{}{}",
            base_path(ctx.id.get(), ctx.kind.get()),
            category_slug(category.get()),
            query.to_query_string()
        );
        async move { api::get::<WindowPage>(&path).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(p)) = page.get() {
            total.set(p.total);
        }
    });
    let fields = move || ctx.kind.get().fields().to_vec();
    let visible = move || {
        let Some(Ok(p)) = page.get() else {
            return Vec::new();
        };
        let top = scroll_top.get();
        let first = first_visible(top, p.total);
        let frac = ((scroll_position(top, p.total) - f64::from(first)) * ROW_PX).max(0.0);
        p.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let index = p.offset + i as u32;
                if index < first || index > first + 16 {
                    return None;
                }
                let y = top - frac + f64::from(index - first) * ROW_PX;
                Some((y, r.clone()))
            })
            .collect()
    };
    let height = move || scroll_geometry(total.get()).0;
    let name_of = move |r: &WindowRow, side: Side| -> String {
        let f = fields();
        let vals = match side {
            Side::Ours => r.ours.clone(),
            Side::Theirs => r.theirs.clone(),
        };
        let Some(vals) = vals else {
            return String::new();
        };
        let pick = |field: Field| {
            f.iter()
                .position(|x| *x == field)
                .and_then(|i| vals.get(i).cloned())
                .unwrap_or_default()
        };
        match ctx.kind.get_untracked() {
            Kind::Customer => pick(Field::Name),
            Kind::Employee => format!("{} {}", pick(Field::FirstName), pick(Field::LastName)),
        }
    };
    let row_view = move |(y, r): (f64, WindowRow)| {
        let key = r.key.clone();
        let key2 = r.key.clone();
        let key3 = r.key.clone();
        let open_row = r.clone();
        let is_open = {
            let key = r.key.clone();
            move || ctx.open.with(|o| o.as_ref().is_some_and(|o| o.key == key))
        };
        let flag = if r.skipped_multiple {
            "Skipped: multiple matches"
        } else if r.no_import {
            "No import"
        } else if r.no_export {
            "No export"
        } else if r.conflicts.len() == 1 {
            "1 field differs"
        } else if !r.conflicts.is_empty() {
            "fields differ"
        } else if r.suggestion.is_some() {
            "suggested partner"
        } else {
            ""
        };
        view! {
            <div class="vrow" class:open=is_open style=format!("top:{y}px") data-key=key.clone() role="row">
                <input type="checkbox" aria-label=format!("Select {key}")
                    prop:checked=move || all.get() || selected.with(|s| s.contains(&key2))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        all.set(false);
                        selected.update(|s| {
                            if on { s.insert(key3.clone()); } else { s.remove(&key3); }
                        });
                    }/>
                <button class="link cell" on:click=move |_| ctx.open.set(Some(open_row.clone()))>
                    <span class="num">{r.our_number.clone().unwrap_or_else(|| "—".into())}</span>
                    <span class="name">{name_of(&r, Side::Ours)}</span>
                    <span class="num">{r.their_number.clone().unwrap_or_else(|| "—".into())}</span>
                    <span class="name">{name_of(&r, Side::Theirs)}</span>
                    <span class="flag">{flag}</span>
                </button>
            </div>
        }
    };
    let keys = move || -> Option<Vec<String>> {
        if all.get_untracked() {
            None
        } else {
            Some(selected.get_untracked().into_iter().collect())
        }
    };
    let how_many = move || {
        if all.get() {
            total.get()
        } else {
            selected.with(|s| s.len() as u32)
        }
    };
    let bulk = move || {
        let c = category.get();
        let n = how_many();
        let none = n == 0;
        match c {
            Category::New => view! {
                <button disabled=none data-bulk="accept" on:click=move |_| {
                    if browser::confirm(&format!("Link {n} records to their suggested partners (same number)?")) {
                        ctx.act(WindowOp::AcceptSuggestions { keys: keys() }, vec![], "Linked the suggested partners");
                    }
                }>"Select suggested partners"</button>
                <button disabled=none data-bulk="create" on:click=move |_| {
                    if browser::confirm(&format!("Create partners for {n} records in the other system, keeping their numbers?")) {
                        ctx.act(
                            WindowOp::CreatePartners { keys: keys(), numbering: Numbering::Keep },
                            vec![],
                            "Created the partners",
                        );
                    }
                }>"Create partners"</button>
                <SeriesButton ctx=ctx keys=Signal::derive(keys) n=n/>
            }
            .into_any(),
            Category::Conflicts => view! {
                <button disabled=none data-bulk="take-ours" on:click=move |_| {
                    if browser::confirm(&format!("Take our values for every differing field of {n} records?")) {
                        ctx.act(WindowOp::TakeSide { keys: keys(), field: None, side: Side::Ours }, vec![], "Resolved");
                    }
                }>"Take ours"</button>
                <button disabled=none data-bulk="take-theirs" on:click=move |_| {
                    if browser::confirm(&format!("Take their values for every differing field of {n} records?")) {
                        ctx.act(WindowOp::TakeSide { keys: keys(), field: None, side: Side::Theirs }, vec![], "Resolved");
                    }
                }>"Take theirs"</button>
                <FieldBulk ctx=ctx keys=Signal::derive(keys) n=n/>
            }
            .into_any(),
            Category::Synchronized => view! {
                <button disabled=none data-bulk="apply" on:click=move |_| {
                    ctx.act(WindowOp::ApplyPlanned { keys: keys() }, vec![], "Copied the one-sided changes");
                }>"Copy one-sided changes"</button>
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <section class="rows">
            <div class="toolbar">
                <input type="search" placeholder="Search numbers, names, values" aria-label="Search rows"
                    prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev))/>
                <label>"Sort "
                    <select aria-label="Sort rows" on:change=move |ev| sort.set(event_target_value(&ev))>
                        <option value="key">"Number"</option>
                        <option value="name">"Name"</option>
                        <option value="our_number">"Our number"</option>
                        <option value="their_number">"Their number"</option>
                    </select>
                </label>
                <label class="inline">
                    <input type="checkbox" aria-label="Select all in this category" prop:checked=move || all.get()
                        on:change=move |ev| {
                            all.set(event_target_checked(&ev));
                            selected.set(BTreeSet::new());
                        }/>
                    {move || format!("All {} in {}", total.get(), category.get().label())}
                </label>
                <span class="muted" data-selected="">{move || format!("{} selected", how_many())}</span>
                {bulk}
            </div>
            <div class="vhead">
                <span></span><span class="num">"Our number"</span><span class="name">"Ours"</span>
                <span class="num">"Their number"</span><span class="name">"Theirs"</span><span class="flag"></span>
            </div>
            <div class="vlist" node_ref=scroller role="grid" data-total=move || total.get()
                on:scroll=move |_| {
                    if let Some(el) = scroller.get_untracked() {
                        scroll_top.set(f64::from(el.scroll_top()));
                    }
                }>
                <div class="vspace" style=move || format!("height:{}px", height())>
                    {move || visible().into_iter().map(row_view).collect_view()}
                </div>
            </div>
            <Show when=move || total.get() == 0 && counts.get().get(category.get()) == 0>
                <p class="muted">"No rows here."</p>
            </Show>
        </section>
    }
}

/// Create partners numbered from a series.
#[component]
fn SeriesButton(ctx: Ctx, keys: Signal<Option<Vec<String>>>, n: u32) -> impl IntoView {
    let first = RwSignal::new(String::new());
    view! {
        <input class="narrow" placeholder="First number" aria-label="First number of the series"
            prop:value=move || first.get() on:input=move |ev| first.set(event_target_value(&ev))/>
        <button disabled=move || n == 0 || first.get().trim().is_empty() data-bulk="series" on:click=move |_| {
            let f = first.get_untracked();
            if browser::confirm(&format!("Create partners for {n} records, numbered from {f}?")) {
                ctx.act(
                    WindowOp::CreatePartners { keys: keys.get_untracked(), numbering: Numbering::Series { first: f } },
                    vec![],
                    "Created the partners",
                );
            }
        }>"Create partners from a series"</button>
    }
}

/// Take one side's value of one field for many conflicts.
#[component]
fn FieldBulk(ctx: Ctx, keys: Signal<Option<Vec<String>>>, n: u32) -> impl IntoView {
    let field = RwSignal::new(String::new());
    let go = move |side: Side| {
        let Some(f) = Field::parse(&field.get_untracked()) else {
            return;
        };
        let who = if side == Side::Ours { "our" } else { "their" };
        if browser::confirm(&format!("Take {who} {} for {n} records?", field_label(f))) {
            ctx.act(
                WindowOp::TakeSide {
                    keys: keys.get_untracked(),
                    field: Some(f),
                    side,
                },
                vec![],
                "Resolved",
            );
        }
    };
    view! {
        <select aria-label="Field to resolve" on:change=move |ev| field.set(event_target_value(&ev))>
            <option value="">"(field)"</option>
            {move || ctx.kind.get().synced_fields().into_iter().map(|f| view! {
                <option value=f.as_str()>{field_label(f)}</option>
            }).collect_view()}
        </select>
        <button disabled=move || n == 0 || field.get().is_empty() on:click=move |_| go(Side::Ours)>"Take ours for this field"</button>
        <button disabled=move || n == 0 || field.get().is_empty() on:click=move |_| go(Side::Theirs)>"Take theirs for this field"</button>
    }
}

/// The open row: both sides side by side and what can be done with it.
#[component]
fn Detail(ctx: Ctx) -> impl IntoView {
    move || {
        ctx.open.get().map(|row| {
            view! { <RowDetail ctx=ctx row=row/> }
        })
    }
}

#[component]
fn RowDetail(ctx: Ctx, row: WindowRow) -> impl IntoView {
    let kind = ctx.kind.get_untracked();
    let fields = kind.fields();
    // Conflict resolution: the chosen side per differing field.
    let choice = RwSignal::new(
        row.conflicts
            .iter()
            .map(|c| (c.field, None::<Side>))
            .collect::<Vec<_>>(),
    );
    let expect = vec![Expect {
        key: row.key.clone(),
        token: row.token.clone(),
    }];
    let differing: BTreeSet<Field> = row.conflicts.iter().map(|c| c.field).collect();
    let value_rows = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = *f;
            let ours = row.ours.as_ref().and_then(|v| v.get(i).cloned()).unwrap_or_default();
            let theirs = row.theirs.as_ref().and_then(|v| v.get(i).cloned()).unwrap_or_default();
            // Their data has no column for it: say so rather than show an
            // empty value as if it were one.
            let not_in_theirs = theirs.is_empty() && row.their_missing.contains(&f);
            let conflict = differing.contains(&f);
            let chosen = move |side: Side| choice.with(|c| c.iter().any(|(x, s)| *x == f && *s == Some(side)));
            let pick = move |side: Side| {
                choice.update(|c| {
                    for (x, s) in c.iter_mut() {
                        if *x == f {
                            *s = Some(side);
                        }
                    }
                })
            };
            let name = f.as_str();
            view! {
                <tr class:conflict=conflict data-field=name>
                    <th>{field_label(f)}</th>
                    <td class:chosen=move || chosen(Side::Ours)>
                        {ours.clone()}
                        <Show when=move || conflict>
                            <label class="pick">
                                <input type="radio" name=format!("pick-{name}") aria-label=format!("Take our {name}")
                                    on:change=move |_| pick(Side::Ours)/>
                                "Take ours"
                            </label>
                        </Show>
                    </td>
                    <td class:chosen=move || chosen(Side::Theirs)>
                        {theirs.clone()}
                        <Show when=move || not_in_theirs>
                            <span class="muted">"(not in their data)"</span>
                        </Show>
                        <Show when=move || conflict>
                            <label class="pick">
                                <input type="radio" name=format!("pick-{name}") aria-label=format!("Take their {name}")
                                    on:change=move |_| pick(Side::Theirs)/>
                                "Take theirs"
                            </label>
                        </Show>
                    </td>
                </tr>
            }
        })
        .collect_view();

    let our_n = row.our_number.clone();
    let their_n = row.their_number.clone();
    let is_conflict = row.category == Category::Conflicts && !row.conflicts.is_empty();
    let resolve = {
        let expect = expect.clone();
        let (our_n, their_n) = (our_n.clone(), their_n.clone());
        let row = row.clone();
        move |_| {
            let chosen = choice.get_untracked();
            if chosen.iter().any(|(_, s)| s.is_none()) {
                ctx.say(false, "Choose a value for every differing field first.");
                return;
            }
            let mut actions = Vec::new();
            for (f, side) in chosen {
                let Some(c) = row.conflicts.iter().find(|c| c.field == f) else {
                    continue;
                };
                match side {
                    Some(Side::Ours) => {
                        if let Some(n) = &their_n {
                            actions.push(Step::Set {
                                side: Side::Theirs,
                                number: n.clone(),
                                field: f,
                                value: c.ours.clone(),
                            });
                        }
                    }
                    Some(Side::Theirs) => {
                        if let Some(n) = &our_n {
                            actions.push(Step::Set {
                                side: Side::Ours,
                                number: n.clone(),
                                field: f,
                                value: c.theirs.clone(),
                            });
                        }
                    }
                    None => {}
                }
            }
            ctx.act(
                WindowOp::Plan { actions },
                expect.clone(),
                "Resolved the conflict",
            );
        }
    };

    let lone_side = match (&row.our_number, &row.their_number) {
        (Some(_), None) => Some(Side::Ours),
        (None, Some(_)) => Some(Side::Theirs),
        _ => None,
    };
    let is_new = row.category == Category::New && lone_side.is_some();
    let pair = our_n.clone().zip(their_n.clone());
    let link_active = row.link_active;
    let reason = row.reason.clone().unwrap_or_default();
    let row_for_actions = row.clone();
    let simple =
        move |label: &'static str, data: &'static str, action: Step, done: &'static str| {
            let expect = vec![Expect {
                key: row_for_actions.key.clone(),
                token: row_for_actions.token.clone(),
            }];
            view! {
                <button data-action=data on:click=move |_| {
                    ctx.act(WindowOp::Plan { actions: vec![action.clone()] }, expect.clone(), done);
                }>{label}</button>
            }
        };
    let mut buttons = Vec::new();
    if let Some((o, t)) = pair.clone() {
        if link_active == Some(false) {
            buttons.push(
                simple(
                    "Start synchronization",
                    "start",
                    Step::Start {
                        our_number: o.clone(),
                        their_number: t.clone(),
                    },
                    "Synchronization started",
                )
                .into_any(),
            );
        } else if link_active == Some(true) {
            buttons.push(
                simple(
                    "Stop synchronization",
                    "stop",
                    Step::Stop {
                        our_number: o.clone(),
                        their_number: t.clone(),
                    },
                    "Synchronization stopped",
                )
                .into_any(),
            );
        }
        if link_active.is_some() {
            buttons.push(
                simple(
                    "Remove link",
                    "unlink",
                    Step::Unlink {
                        our_number: o,
                        their_number: t,
                    },
                    "Link removed",
                )
                .into_any(),
            );
        }
    }
    if let Some(side) = lone_side {
        let number = match side {
            Side::Ours => our_n.clone(),
            Side::Theirs => their_n.clone(),
        }
        .unwrap_or_default();
        if reason == "dont_synchronize" {
            buttons.push(
                simple(
                    "Resume synchronization",
                    "resume",
                    Step::Resume { side, number },
                    "Synchronization resumed",
                )
                .into_any(),
            );
        } else if row.category == Category::New {
            buttons.push(
                simple(
                    "Don't synchronize",
                    "dont",
                    Step::Deactivate { side, number },
                    "Marked Don't synchronize",
                )
                .into_any(),
            );
        }
    }
    let history_number = our_n
        .clone()
        .or_else(|| their_n.clone())
        .unwrap_or_default();
    let close = move |_| ctx.open.set(None);
    let heading = format!("{} · {}", row.category.label(), row.name.clone());
    view! {
        <aside class="detail" data-open-key=row.key.clone()>
            <header>
                <h2>{heading}</h2>
                <button class="link" on:click=close aria-label="Close">"Close"</button>
            </header>
            {row.skipped_multiple.then(|| view! {
                <p class="error">"Skipped (multiple matches): this number is on several records of one side. Correct the numbers; nothing is guessed."</p>
            })}
            {row.no_import.then(|| view! { <p class="error">"No import: their record lacks a field we require."</p> })}
            {row.no_export.then(|| view! { <p class="error">"No export: our record lacks a field they require."</p> })}
            <table class="list sides">
                <thead><tr><th></th><th>{format!("Ours {}", our_n.clone().unwrap_or_default())}</th>
                    <th>{format!("Theirs {}", their_n.clone().unwrap_or_default())}</th></tr></thead>
                <tbody>{value_rows}</tbody>
            </table>
            {is_conflict.then(|| view! {
                <div class="actions">
                    <button class="primary" data-action="resolve" on:click=resolve.clone()>"Submit"</button>
                    <span class="muted">"The chosen values are written to both systems."</span>
                </div>
            })}
            <div class="actions">{buttons}</div>
            {is_new.then(|| view! {
                <CreatePartner ctx=ctx side=lone_side.unwrap_or(Side::Ours) row=row.clone()/>
                <SelectPartner ctx=ctx row=row.clone()/>
            })}
            <History number=history_number/>
        </aside>
    }
}

/// Create the partner of a lone record, choosing its number.
#[component]
fn CreatePartner(ctx: Ctx, side: Side, row: WindowRow) -> impl IntoView {
    let from = match side {
        Side::Ours => row.our_number.clone(),
        Side::Theirs => row.their_number.clone(),
    }
    .unwrap_or_default();
    let target = side.other();
    let number = RwSignal::new(from.clone());
    let check = LocalResource::new(move || {
        let n = number.get();
        let path = format!(
            "{}/number-check?side={}&number={}",
            base_path(ctx.id.get(), ctx.kind.get()),
            target.as_str(),
            sync::protocol::percent_encode(&n)
        );
        async move { api::get::<NumberCheck>(&path).await.ok() }
    });
    let note = move || {
        check.get().flatten().map(|c| {
            let text = if target == Side::Theirs {
                number_note(&c)
            } else if c.taken {
                "That number is taken in our register.".to_string()
            } else if let Some(e) = &c.error {
                format!("Not allowed: {e}.")
            } else {
                "Free in our register.".to_string()
            };
            let bad = c.taken || c.error.is_some();
            view! { <p class:error=bad class:muted=!bad data-number-check="">{text}</p> }
        })
    };
    let expect = vec![Expect {
        key: row.key.clone(),
        token: row.token.clone(),
    }];
    let submit = move |_| {
        ctx.act(
            WindowOp::Plan {
                actions: vec![Step::Create {
                    side: target,
                    from_number: from.clone(),
                    number: number.get_untracked().trim().to_string(),
                }],
            },
            expect.clone(),
            "Created the partner",
        );
    };
    let title = if target == Side::Theirs {
        "Create partner in their system"
    } else {
        "Create partner in our register"
    };
    view! {
        <div class="create-partner">
            <h3>{title}</h3>
            <label for="partner-number">"Number"</label>
            <input id="partner-number" prop:value=move || number.get() on:input=move |ev| number.set(event_target_value(&ev))/>
            {note}
            <button class="primary" data-action="create-partner" on:click=submit>"Create partner"</button>
        </div>
    }
}

/// Ranked partner suggestions for a New record.
#[component]
fn SelectPartner(ctx: Ctx, row: WindowRow) -> impl IntoView {
    let key = row.key.clone();
    let suggestions = LocalResource::new(move || {
        let path = format!(
            "{}/suggestions?key={}",
            base_path(ctx.id.get(), ctx.kind.get()),
            sync::protocol::percent_encode(&key)
        );
        async move { api::get::<PartnerSuggestions>(&path).await }
    });
    let row_key = row.key.clone();
    let token = row.token.clone();
    let list = move || match suggestions.get() {
        None => view! { <p class="muted">"Looking for partners…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error">{e.message}</p> }.into_any(),
        Some(Ok(s)) if s.candidates.is_empty() => {
            view! { <p class="muted">"No likely partner found."</p> }.into_any()
        }
        Some(Ok(s)) => {
            let side = s.side;
            let mine = s.number.clone();
            let items = s
                .candidates
                .into_iter()
                .map(|c| {
                    let (our, their) = match side {
                        Side::Ours => (mine.clone(), c.number.clone()),
                        Side::Theirs => (c.number.clone(), mine.clone()),
                    };
                    let expect = vec![
                        Expect { key: row_key.clone(), token: token.clone() },
                    ];
                    let agreeing = c.agreeing.iter().map(|f| field_label(*f)).collect::<Vec<_>>().join(", ");
                    view! {
                        <li data-candidate=c.number.clone()>
                            <span class="score">{format!("{}%", c.score)}</span>
                            <strong>{c.number.clone()}</strong>
                            " "
                            {c.name.clone()}
                            <span class="muted">{format!(" agrees on: {agreeing}")}</span>
                            <button data-action="select-partner" on:click=move |_| {
                                ctx.act(
                                    WindowOp::Plan { actions: vec![Step::Link { our_number: our.clone(), their_number: their.clone() }] },
                                    expect.clone(),
                                    "Linked the partner",
                                );
                            }>"Select as partner"</button>
                        </li>
                    }
                })
                .collect_view();
            view! { <ol class="candidates">{items}</ol> }.into_any()
        }
    };
    view! {
        <div class="select-partner">
            <h3>"Select partner"</h3>
            {list}
        </div>
    }
}

/// The audit trail of a record.
#[component]
fn History(number: String) -> impl IntoView {
    let link_number = number.clone();
    let entries = LocalResource::new(move || {
        let path = format!("/audit?number={}", sync::protocol::percent_encode(&number));
        async move { api::get::<Vec<AuditEntry>>(&path).await.unwrap_or_default() }
    });
    view! {
        <details class="history">
            <summary>"History"</summary>
            <a href=format!("/history?number={}", sync::protocol::percent_encode(&link_number))>"Open the full history"</a>
            <ul>
                {move || entries.get().unwrap_or_default().into_iter().map(|e| view! {
                    <li>{format!("{} · {} · {}", format_time(e.at), e.username, e.action.replace('_', " "))}</li>
                }).collect_view()}
            </ul>
        </details>
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Pending changes: download, mark delivered, full export.
#[component]
fn Pending(ctx: Ctx, summary: LocalResource<Result<WindowSummary, ApiError>>) -> impl IntoView {
    let info = move || summary.get().and_then(|r| r.ok());
    let mark = move |_| {
        let path = ctx.path();
        leptos::task::spawn_local(async move {
            let items = api::get::<Vec<PendingItem>>(&format!("{path}/pending"))
                .await
                .unwrap_or_default();
            let Some(through) = items
                .iter()
                .filter(|p| p.delivered_at.is_none())
                .map(|p| p.pending_id)
                .max()
            else {
                ctx.say(true, "Nothing to mark delivered.");
                return;
            };
            let body = sync::protocol::MarkDelivered { through };
            match api::send::<_, u64>("POST", &format!("{path}/pending/delivered"), Some(&body))
                .await
            {
                Ok(n) => ctx.say(
                    true,
                    format!("Marked {} changes delivered.", n.unwrap_or(0)),
                ),
                Err(e) => ctx.say(false, e.message),
            }
            ctx.refresh();
        });
    };
    view! {
        <section class="pending">
            <h2>"Changes for their system"</h2>
            <p data-pending="">
                {move || info().map(|s| format!(
                    "{} pending changes, {} not yet delivered. They stay pending until an import shows them.",
                    s.pending, s.undelivered
                ))}
            </p>
            <div class="actions">
                <a class="button" data-download="pending" href=move || format!("{}{}/pending/export", api::BASE, base_path(ctx.id.get(), ctx.kind.get()))
                    download="">"Download pending changes (CSV)"</a>
                <a class="button" href=move || format!("{}{}/pending/export?format=machine", api::BASE, base_path(ctx.id.get(), ctx.kind.get()))
                    download="">"Machine format"</a>
                <a class="button" data-download="pending-xlsx" href=move || format!("{}{}/pending/export?format=xlsx", api::BASE, base_path(ctx.id.get(), ctx.kind.get()))
                    download="">"Excel (XLSX)"</a>
                <button data-action="mark-delivered" on:click=mark>"Mark delivered"</button>
                <a class="button" href=move || format!("{}{}/export", api::BASE, base_path(ctx.id.get(), ctx.kind.get()))
                    download="">"Download all our records"</a>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_lists_scale_their_scroll_height() {
        let (h, s) = scroll_geometry(100);
        assert_eq!((h, s), (3400.0, 1.0));
        let (h, s) = scroll_geometry(1_000_000);
        assert_eq!(h, MAX_SCROLL_PX);
        assert!(s < 1.0);
        // The bottom of the scroll range shows the last rows.
        let bottom = MAX_SCROLL_PX - VIEWPORT_PX;
        assert_eq!(first_visible(bottom, 1_000_000), 1_000_000 - 15);
        assert!(first_visible(bottom / 2.0, 1_000_000).abs_diff(500_000) < 10);
        assert_eq!(first_visible(0.0, 1_000_000), 0);
        assert_eq!(first_visible(10.0 * ROW_PX, 100), 10);
    }

    #[test]
    fn remapping_a_column_moves_the_field() {
        let cols = vec![(0, Some(Field::Number)), (1, Some(Field::Name)), (2, None)];
        let m = remap(&cols, 2, Some(Field::Name));
        assert_eq!(
            m,
            vec![
                MappingEntry {
                    column: ColumnRef::Index(0),
                    field: Field::Number
                },
                MappingEntry {
                    column: ColumnRef::Index(2),
                    field: Field::Name
                },
            ]
        );
        let m = remap(&cols, 1, None);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn number_notes_say_what_happens() {
        let rules = NumberRules {
            max_len: Some(5),
            digits_only: true,
            strip_leading_zeros: true,
        };
        assert_eq!(
            rules_note(&rules, "00777"),
            "Their number will be 777, leading zeros removed."
        );
        assert!(rules_note(&rules, "1234567").starts_with("Not allowed"));
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_795_328_777_530), "2026-11-22 06:26");
    }

    #[test]
    fn saved_mapping_is_used_until_the_person_changes_it() {
        let saved = vec![MappingEntry {
            column: ColumnRef::Index(3),
            field: Field::City,
        }];
        assert_eq!(
            resolved_options(&ImportOptions::default(), &saved).mapping,
            saved
        );
        let mine = ImportOptions {
            mapping: vec![],
            delimiter: Some(';'),
            ..Default::default()
        };
        assert_eq!(resolved_options(&mine, &saved).delimiter, Some(';'));
    }
}

/// `/history`: the audit trail, of one record when `?number=` names it.
#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let number = RwSignal::new(query.get_untracked().get("number").unwrap_or_default());
    let entries = LocalResource::new(move || {
        let n = number.get();
        let path = if n.trim().is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?number={}", sync::protocol::percent_encode(n.trim()))
        };
        async move { api::get::<Vec<AuditEntry>>(&path).await }
    });
    let body = move || {
        match entries.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"Nothing recorded."</p> }.into_any(),
        Some(Ok(list)) => view! {
            <table class="list history">
                <thead>
                    <tr>
                        <th>"When (UTC)"</th><th>"Who"</th><th>"What"</th><th>"Ours"</th><th>"Theirs"</th>
                        <th>"Before"</th><th>"After"</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|e| {
                        let before = change_text(&e.detail, "before");
                        let after = change_text(&e.detail, "after");
                        view! {
                            <tr data-audit=e.action.clone()>
                                <td>{format_time(e.at)}</td>
                                <td>{e.username}</td>
                                <td>{e.action.replace('_', " ")}</td>
                                <td>{e.our_number.unwrap_or_default()}</td>
                                <td>{e.their_number.unwrap_or_default()}</td>
                                <td class="muted">{before}</td>
                                <td>{after}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
    }
    };
    view! {
        <Protected admin_only=true>
            <section>
                <header class="page-head"><h1>"History"</h1></header>
                <div class="toolbar">
                    <input type="search" aria-label="Record number" placeholder="A record's number (ours or theirs)"
                        prop:value=move || number.get() on:change=move |ev| number.set(event_target_value(&ev))/>
                </div>
                {body}
            </section>
        </Protected>
    }
}

/// The values of an audit entry's `before`/`after` that differ from the
/// other, as `field: value` pairs.
pub fn change_text(detail: &serde_json::Value, which: &str) -> String {
    let other = if which == "before" { "after" } else { "before" };
    let mut parts = Vec::new();
    for side in ["ours", "theirs"] {
        let (Some(this), that) = (
            detail[which][side].as_object(),
            detail[other][side].as_object(),
        ) else {
            continue;
        };
        for (k, v) in this {
            let v = v.as_str().unwrap_or_default();
            if that.and_then(|t| t.get(k)).and_then(|x| x.as_str()) != Some(v) {
                parts.push(format!("{side} {k}: {v}"));
            }
        }
    }
    parts.join("; ")
}
