//! Integrated systems in the UI: where the system is and how it runs
//! (endpoint, write-only credentials, interval, deletion thresholds, the
//! fields it owns), Test connection, Run now, the outbox of writes on their
//! way, and the value mappings editor that says how many records an edit
//! affects before it is saved.

use leptos::prelude::*;
use sync::protocol::{
    ApiError, Connection, ConnectionInput, ConnectionTest, MappingImpact, OutboxItem, RunInfo,
    RunNow, SystemKind, ValueMapping, Versioned,
};
use sync::report::Outcome;
use sync::schema::{Field, Kind};
use sync::state::PendingChange;

use crate::api;
use crate::layout::Protected;
use crate::reports::{outcome_label, status_label};
use crate::window::{field_label, format_time};

pub fn system_label(s: SystemKind) -> &'static str {
    match s {
        SystemKind::File => "Files",
        SystemKind::Database => "Database",
        SystemKind::Rest => "REST API",
    }
}

/// What the table/path input of a kind is called for a system.
pub fn source_label(s: SystemKind, kind: Kind) -> String {
    let what = if kind == Kind::Customer {
        "Customers"
    } else {
        "Employees"
    };
    match s {
        SystemKind::Rest => format!("{what}: path under the base URL"),
        _ => format!("{what}: table"),
    }
}

/// The first message of an API error: a field's when it names one.
pub fn error_text(e: ApiError) -> String {
    e.fields
        .first()
        .map(|f| f.message.clone())
        .unwrap_or(e.message)
}

/// Saves a connection's settings (`secret`: new credentials, or `None` to
/// keep the stored ones).
pub async fn put_connection(
    c: Connection,
    secret: Option<String>,
) -> Result<Option<Connection>, ApiError> {
    let body = Versioned {
        version: c.version,
        fields: ConnectionInput {
            name: c.name.clone(),
            system: c.system,
            customers: Some(c.customers.clone()),
            employees: Some(c.employees.clone()),
            endpoint: Some(c.endpoint.clone()),
            secret,
        },
    };
    api::send::<_, Connection>(
        "PUT",
        &format!("/connections/{}", c.connection_id),
        Some(&body),
    )
    .await
}

/// One line about a write waiting in the outbox.
pub fn change_summary(c: &PendingChange) -> String {
    match c {
        PendingChange::Create { number, values } => {
            let name = values
                .get(&Field::Name)
                .or_else(|| values.get(&Field::LastName))
                .cloned()
                .unwrap_or_default();
            format!("Create {number} {name}").trim_end().to_string()
        }
        PendingChange::Set {
            number,
            field,
            from,
            to,
        } => format!("{number}: {} {from:?} → {to:?}", field_label(*field)),
    }
}

/// A run's result in a sentence.
pub fn run_summary(r: &RunInfo) -> String {
    let conflicts = r.counts.get(&Outcome::FieldConflict).copied().unwrap_or(0);
    let kind = if r.kind == Kind::Customer {
        "Customers"
    } else {
        "Employees"
    };
    let mut s = format!(
        "{kind}: {} · {} records seen, {} added, {} changed, {} removed since the last run",
        status_label(r.status),
        r.records_seen,
        r.changes.added,
        r.changes.changed,
        r.changes.removed
    );
    if conflicts > 0 {
        s.push_str(&format!(
            ", {conflicts} {}",
            outcome_label(Outcome::FieldConflict).to_lowercase()
        ));
        if conflicts != 1 {
            s.push('s');
        }
    }
    s.push('.');
    if let Some(m) = &r.message {
        s.push(' ');
        s.push_str(m);
    }
    s
}

/// The integration part of a connection's card.
#[component]
pub fn Integration(conn: RwSignal<Connection>) -> impl IntoView {
    let system = conn.with_untracked(|c| c.system);
    let id = conn.with_untracked(|c| c.connection_id);
    let secret = RwSignal::new(String::new());
    let message = RwSignal::new(None::<(bool, String)>);
    let tested = RwSignal::new(None::<ConnectionTest>);
    let runs = RwSignal::new(Vec::<RunInfo>::new());
    let outbox_reload = RwSignal::new(0u32);

    let save = Action::new_local(move |(c, s): &(Connection, Option<String>)| {
        put_connection(c.clone(), s.clone())
    });
    Effect::new(move |_| {
        if let Some(r) = save.value().get() {
            match r {
                Ok(Some(c)) => {
                    conn.set(c);
                    secret.set(String::new());
                    message.set(Some((true, "Settings saved.".into())));
                }
                Ok(None) => {}
                Err(e) => message.set(Some((false, error_text(e)))),
            }
        }
    });
    let test = Action::new_local(move |_: &()| async move {
        api::send::<(), ConnectionTest>("POST", &format!("/connections/{id}/test"), None).await
    });
    Effect::new(move |_| {
        if let Some(r) = test.value().get() {
            match r {
                Ok(Some(t)) => {
                    message.set(Some((t.ok, t.message.clone())));
                    tested.set(Some(t));
                }
                Ok(None) => {}
                Err(e) => message.set(Some((false, error_text(e)))),
            }
        }
    });
    let run = Action::new_local(move |full: &bool| {
        let body = RunNow {
            kind: None,
            full_refresh: *full,
        };
        async move {
            api::send::<_, Vec<RunInfo>>("POST", &format!("/connections/{id}/runs"), Some(&body))
                .await
        }
    });
    Effect::new(move |_| {
        if let Some(r) = run.value().get() {
            match r {
                Ok(Some(list)) => {
                    message.set(None);
                    runs.set(list);
                }
                Ok(None) => {}
                Err(e) => message.set(Some((false, error_text(e)))),
            }
            outbox_reload.update(|x| *x += 1);
            // The schedule moved on: show when it runs next.
            leptos::task::spawn_local(async move {
                if let Ok(c) = api::get::<Connection>(&format!("/connections/{id}")).await {
                    conn.set(c);
                }
            });
        }
    });
    let busy = move || save.pending().get() || test.pending().get() || run.pending().get();
    // The latest run (scheduled ones included), refreshed after Run now.
    let latest = LocalResource::new(move || {
        outbox_reload.get();
        async move {
            api::get::<Vec<RunInfo>>(&format!("/runs?connection_id={id}&limit=1"))
                .await
                .ok()
                .and_then(|l| l.into_iter().next())
        }
    });

    let endpoint_input = move |label: String,
                               key: &'static str,
                               get: fn(&Connection) -> String,
                               set: fn(&mut Connection, String)| {
        let input_id = format!("c{id}-{key}");
        view! {
            <div class="field">
                <label for=input_id.clone()>{label}</label>
                <input id=input_id prop:value=move || conn.with(get)
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        conn.update(|c| set(c, v));
                    }/>
            </div>
        }
    };
    let number_input = move |label: &'static str,
                             key: &'static str,
                             get: fn(&Connection) -> u32,
                             set: fn(&mut Connection, u32)| {
        let input_id = format!("c{id}-{key}");
        view! {
            <div class="field">
                <label for=input_id.clone()>{label}</label>
                <input id=input_id type="number" min="0" class="narrow"
                    prop:value=move || conn.with(get).to_string()
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).trim().parse::<u32>() {
                            conn.update(|c| set(c, v));
                        }
                    }/>
            </div>
        }
    };
    let owned_row = move |kind: Kind| {
        let label = if kind == Kind::Customer {
            "Customer fields it owns"
        } else {
            "Employee fields it owns"
        };
        view! {
            <fieldset class="owned" data-kind=kind.as_str()>
                <legend>{label}</legend>
                {kind.synced_fields().into_iter().map(|f| {
                    let has = move || conn.with(|c| c.settings(kind).owned.contains(&f));
                    view! {
                        <label class="inline">
                            <input type="checkbox" prop:checked=has on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                conn.update(|c| {
                                    let owned = &mut c.settings_mut(kind).owned;
                                    owned.retain(|x| *x != f);
                                    if on {
                                        owned.push(f);
                                    }
                                });
                            }/>
                            {field_label(f)}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
        }
    };
    let reads = move |kind: Kind| conn.with(|c| !c.endpoint.source(kind).table.trim().is_empty());

    view! {
        <section class="integration" data-system=system_label(system)>
            <h3>{format!("Integrated system: {}", system_label(system))}</h3>
            <p class="muted schedule">
                {move || conn.with(|c| {
                    let every = if c.endpoint.interval_minutes == 0 {
                        "Runs only on Run now".to_string()
                    } else {
                        format!("Runs every {} minutes", c.endpoint.interval_minutes)
                    };
                    let next = c.next_run_at.map(|t| format!(", next at {} UTC", format_time(t))).unwrap_or_default();
                    let full = c.last_full_at.map(|t| format!("; last full refresh {} UTC", format_time(t))).unwrap_or_else(|| "; no full refresh yet".into());
                    format!("{every}{next}{full}.")
                })}
            </p>
            {move || latest.get().flatten().map(|r| view! {
                <p class="latest-run" data-status=format!("{:?}", r.status).to_lowercase()>
                    {format!("Last run {} UTC: {}", format_time(r.started_at), run_summary(&r))}" "
                    <a href=format!("/reports/{}", r.run_id)>"Open report"</a>
                </p>
            })}
            <div class="settings-grid">
                {(system == SystemKind::Rest).then(|| endpoint_input(
                    "Base URL".into(), "base-url",
                    |c| c.endpoint.base_url.clone(),
                    |c, v| c.endpoint.base_url = v.trim().to_string(),
                ))}
                {endpoint_input(source_label(system, Kind::Customer), "customers-source",
                    |c| c.endpoint.customers.table.clone(),
                    |c, v| c.endpoint.customers.table = v.trim().to_string())}
                {endpoint_input(source_label(system, Kind::Employee), "employees-source",
                    |c| c.endpoint.employees.table.clone(),
                    |c, v| c.endpoint.employees.table = v.trim().to_string())}
                <div class="field">
                    <label for=format!("c{id}-secret")>
                        {if system == SystemKind::Rest { "API token" } else { "Database URL (with its password)" }}
                    </label>
                    <input id=format!("c{id}-secret") type="password" autocomplete="off"
                        placeholder=move || if conn.with(|c| c.has_secret) { "Stored: type to replace it" } else { "Not set" }
                        prop:value=move || secret.get()
                        on:input=move |ev| secret.set(event_target_value(&ev))/>
                    <p class="muted credentials" data-stored=move || conn.with(|c| c.has_secret).to_string()>
                        {move || if conn.with(|c| c.has_secret) { "Credentials stored, encrypted; never shown." } else { "No credentials stored." }}
                    </p>
                </div>
                {number_input("Minutes between runs (0: only Run now)", "interval",
                    |c| c.endpoint.interval_minutes, |c, v| c.endpoint.interval_minutes = v)}
                {number_input("A full refresh waits above this many deletions", "delete-count",
                    |c| c.endpoint.delete_max_count, |c, v| c.endpoint.delete_max_count = v)}
                {number_input("… or above this percentage", "delete-percent",
                    |c| c.endpoint.delete_max_percent, |c, v| c.endpoint.delete_max_percent = v)}
                {(system == SystemKind::Rest).then(|| number_input("Records per page", "page-size",
                    |c| c.endpoint.page_size, |c, v| c.endpoint.page_size = v))}
            </div>
            {move || reads(Kind::Customer).then(|| owned_row(Kind::Customer))}
            {move || reads(Kind::Employee).then(|| owned_row(Kind::Employee))}
            <div class="actions">
                <button class="primary" disabled=busy on:click=move |_| {
                    let s = secret.get_untracked();
                    save.dispatch((conn.get_untracked(), (!s.is_empty()).then_some(s)));
                }>"Save settings"</button>
                <button disabled=busy on:click=move |_| {
                    message.set(None);
                    tested.set(None);
                    test.dispatch(());
                }>"Test connection"</button>
                <button disabled=busy on:click=move |_| {
                    message.set(None);
                    run.dispatch(false);
                }>"Run now"</button>
                <button disabled=busy on:click=move |_| {
                    if crate::browser::confirm("Run a full refresh now? It re-sends everything and may propose deletions.") {
                        message.set(None);
                        run.dispatch(true);
                    }
                }>"Full refresh"</button>
                <Show when=move || run.pending().get()>
                    <span class="muted" role="status">"Running…"</span>
                </Show>
            </div>
            {move || message.get().map(|(ok, text)| view! {
                <p class=if ok { "notice ok" } else { "notice error" } role="status" data-test-result=ok.to_string()>{text}</p>
            })}
            {move || tested.get().filter(|t| t.ok).map(|t| view! {
                <ul class="tested">
                    {t.sources.into_iter().map(|s| {
                        let mapped = s.mapped.iter()
                            .map(|m| format!("{} → {}", m.header, field_label(m.field)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        view! {
                            <li data-kind=s.kind.as_str()>
                                {format!("{}: {} records; columns: {}", if s.kind == Kind::Customer { "Customers" } else { "Employees" }, s.records, s.columns.join(", "))}
                                <br/>
                                <span class="muted">{format!("Mapped: {mapped}")}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            <Show when=move || !runs.get().is_empty()>
                <ul class="run-results">
                    {move || runs.get().into_iter().map(|r| view! {
                        <li data-run=r.run_id.to_string()>
                            {run_summary(&r)}" "
                            <a href=format!("/reports/{}", r.run_id)>"Open report"</a>
                        </li>
                    }).collect_view()}
                </ul>
            </Show>
            <nav class="kinds">
                {move || [Kind::Customer, Kind::Employee].into_iter().filter(|k| reads(*k)).map(|k| view! {
                    <a href=format!("/connections/{id}/{}/value-mappings", k.as_str())>
                        {if k == Kind::Customer { "Customer value mappings" } else { "Employee value mappings" }}
                    </a>
                }).collect_view()}
                <a href="/reports">"Reports"</a>
            </nav>
            <Outbox id=id reload=outbox_reload/>
        </section>
    }
}

/// The writes on their way to the system, with their attempts and errors.
#[component]
fn Outbox(id: i64, reload: RwSignal<u32>) -> impl IntoView {
    let items = LocalResource::new(move || {
        reload.get();
        async move { api::get::<Vec<OutboxItem>>(&format!("/connections/{id}/outbox")).await }
    });
    let retry = Action::new_local(move |pending_id: &i64| {
        let p = *pending_id;
        async move {
            api::send::<(), Vec<OutboxItem>>(
                "POST",
                &format!("/connections/{id}/outbox/{p}/retry"),
                None,
            )
            .await
        }
    });
    Effect::new(move |_| {
        if retry.value().get().is_some() {
            reload.update(|x| *x += 1);
        }
    });
    move || {
        match items.get() {
        None => view! { <p class="muted">"Loading the outbox…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="muted outbox" data-outbox="0">"Outbox: nothing waiting to be written to the system."</p>
        }
        .into_any(),
        Some(Ok(list)) => {
            let attention = list.iter().filter(|i| i.needs_attention).count();
            let n = list.len();
            view! {
                <div class="outbox" data-outbox=n.to_string()>
                    <h4>
                        {format!("Outbox: {n} write{} waiting", if n == 1 { "" } else { "s" })}
                        {(attention > 0).then(|| view! { <span class="error">{format!(", {attention} need attention")}</span> })}
                    </h4>
                    <table class="list">
                        <thead>
                            <tr><th>"Change"</th><th>"Attempts"</th><th>"Next attempt (UTC)"</th><th>"Last error"</th><th></th></tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|i| {
                                let p = i.pending_id;
                                view! {
                                    <tr class:attention=i.needs_attention data-pending=p.to_string()>
                                        <td>{change_summary(&i.change)}<br/><span class="muted">{i.idempotency_key.clone()}</span></td>
                                        <td class="num">{i.attempts}</td>
                                        <td>{if i.needs_attention { "Needs attention".to_string() } else { i.next_attempt_at.map(format_time).unwrap_or_else(|| "At the next run".into()) }}</td>
                                        <td class="error">{i.last_error.clone().unwrap_or_default()}</td>
                                        <td>
                                            <button disabled=move || retry.pending().get() on:click=move |_| {
                                                retry.dispatch(p);
                                            }>"Retry now"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }
    }
    }
}

/// `/connections/:id/:kind/value-mappings`: their codes and our values;
/// an edit says how many records it affects before it is saved, then
/// re-synchronizes exactly those.
#[component]
pub fn ValueMappings() -> impl IntoView {
    let id = crate::layout::path_id("id");
    let kind = crate::layout::path_kind();
    let base = move || {
        format!(
            "/connections/{}/{}/value-mappings",
            id.get_untracked(),
            kind.get_untracked().as_str()
        )
    };
    let reload = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        reload.get();
        let path = format!(
            "/connections/{}/{}/value-mappings",
            id.get(),
            kind.get().as_str()
        );
        async move { api::get::<Vec<ValueMapping>>(&path).await }
    });
    let field = RwSignal::new(Field::SalesRepCode);
    let theirs = RwSignal::new(String::new());
    let ours = RwSignal::new(String::new());
    let impact = RwSignal::new(None::<(ValueMapping, MappingImpact)>);
    let message = RwSignal::new(None::<(bool, String)>);
    let last_run = RwSignal::new(None::<i64>);
    let draft = move || ValueMapping {
        field: field.get_untracked(),
        their_value: theirs.get_untracked().trim().to_string(),
        our_value: ours.get_untracked().trim().to_string(),
    };
    // Any change to the form makes an earlier count stale.
    Effect::new(move |_| {
        field.track();
        theirs.track();
        ours.track();
        impact.set(None);
    });
    let edit = Action::new_local(move |(m, dry): &(ValueMapping, bool)| {
        let (m, dry) = (m.clone(), *dry);
        let path = if dry {
            format!("{}?dry_run=true", base())
        } else {
            base()
        };
        async move {
            (
                m.clone(),
                dry,
                api::send::<_, MappingImpact>("PUT", &path, Some(&m)).await,
            )
        }
    });
    Effect::new(move |_| {
        if let Some((m, dry, r)) = edit.value().get() {
            match r {
                Ok(Some(i)) if dry => {
                    impact.set(Some((m, i)));
                    message.set(None);
                }
                Ok(Some(i)) => {
                    impact.set(None);
                    let what = if m.our_value.is_empty() {
                        "Removed"
                    } else {
                        "Saved"
                    };
                    message.set(Some((
                        true,
                        format!(
                            "{what}. {} record{} synchronized again{}.",
                            i.affected,
                            if i.affected == 1 { "" } else { "s" },
                            i.run_id.map(|r| format!(" in run {r}")).unwrap_or_default()
                        ),
                    )));
                    if let Some(r) = i.run_id {
                        last_run.set(Some(r));
                    }
                    theirs.set(String::new());
                    ours.set(String::new());
                    reload.update(|x| *x += 1);
                }
                Ok(None) => {}
                Err(e) => message.set(Some((false, error_text(e)))),
            }
        }
    });
    let fields = move || kind.get().synced_fields();

    let table = move || {
        match list.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="blank">"No value mapping yet: their values are taken as they are."</p>
        }
        .into_any(),
        Some(Ok(list)) => view! {
            <table class="list value-mappings">
                <thead><tr><th>"Field"</th><th>"Their value"</th><th>"Our value"</th><th></th></tr></thead>
                <tbody>
                    {list.into_iter().map(|m| {
                        let row = m.clone();
                        view! {
                            <tr data-their=m.their_value.clone()>
                                <td>{field_label(m.field)}</td>
                                <td>{m.their_value.clone()}</td>
                                <td>{m.our_value.clone()}</td>
                                <td>
                                    <button on:click=move |_| {
                                        field.set(row.field);
                                        theirs.set(row.their_value.clone());
                                        ours.set(String::new());
                                        edit.dispatch((draft(), true));
                                    }>"Remove…"</button>
                                </td>
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
            <section class="mappings">
                <header class="page-head">
                    <h1>{move || format!("Value mappings: {}", if kind.get() == Kind::Customer { "customers" } else { "employees" })}</h1>
                    <a href="/connections">"Back to connections"</a>
                </header>
                <p class="muted">
                    "A value mapping translates a code of their system into our value, e.g. their sales rep code S01 into our user anna.admin. Records are compared and written with our value; writes to their system get their code back."
                </p>
                {table}
                <form class="record mapping-form" on:submit=move |ev| {
                    ev.prevent_default();
                    message.set(None);
                    edit.dispatch((draft(), true));
                }>
                    <fieldset disabled=move || edit.pending().get()>
                        <div class="field">
                            <label for="mapping-field">"Field"</label>
                            <select id="mapping-field" prop:value=move || field.get().as_str()
                                on:change=move |ev| {
                                    if let Some(f) = Field::parse(&event_target_value(&ev)) {
                                        field.set(f);
                                    }
                                }>
                                {move || fields().into_iter().map(|f| view! {
                                    <option value=f.as_str() selected=move || field.get() == f>{field_label(f)}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="mapping-theirs">"Their value"</label>
                            <input id="mapping-theirs" prop:value=move || theirs.get()
                                on:input=move |ev| theirs.set(event_target_value(&ev))/>
                        </div>
                        <div class="field">
                            <label for="mapping-ours">"Our value (empty: remove the mapping)"</label>
                            <input id="mapping-ours" prop:value=move || ours.get()
                                on:input=move |ev| ours.set(event_target_value(&ev))/>
                        </div>
                        <div class="actions">
                            <button type="submit">"Check affected records"</button>
                        </div>
                    </fieldset>
                </form>
                {move || impact.get().map(|(m, i)| {
                    let n = i.affected;
                    let sample = i.sample.join(", ");
                    view! {
                        <div class="impact card" data-affected=n.to_string()>
                            <p>
                                <strong>{format!("This affects {n} record{}.", if n == 1 { "" } else { "s" })}</strong>
                                {(!sample.is_empty()).then(|| format!(" Their numbers: {sample}{}", if n as usize > i.sample.len() { ", …" } else { "" }))}
                            </p>
                            <div class="actions">
                                <button class="primary" on:click=move |_| {
                                    edit.dispatch((m.clone(), false));
                                }>
                                    {if n == 0 { "Save".to_string() } else { format!("Save and synchronize {n} record{}", if n == 1 { "" } else { "s" }) }}
                                </button>
                                <button on:click=move |_| impact.set(None)>"Cancel"</button>
                            </div>
                        </div>
                    }
                })}
                {move || message.get().map(|(ok, text)| view! {
                    <p class=if ok { "notice ok" } else { "notice error" } role="status">
                        {text}" "
                        {last_run.get().filter(|_| ok).map(|r| view! { <a href=format!("/reports/{r}")>"Open report"</a> })}
                    </p>
                })}
            </section>
        </Protected>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn outbox_lines_say_what_goes_out() {
        let create = PendingChange::Create {
            number: "501".into(),
            values: BTreeMap::from([(Field::Name, "Kunde 1".to_string())]),
        };
        assert_eq!(change_summary(&create), "Create 501 Kunde 1");
        let set = PendingChange::Set {
            number: "502".into(),
            field: Field::Email,
            from: "".into(),
            to: "ny@kunde2.no".into(),
        };
        assert_eq!(change_summary(&set), "502: Email \"\" → \"ny@kunde2.no\"");
    }

    #[test]
    fn a_run_is_summed_up_in_a_sentence() {
        let r = RunInfo {
            run_id: 3,
            connection_id: 1,
            connection_name: "ERP".into(),
            kind: Kind::Customer,
            trigger: sync::protocol::RunTrigger::Manual,
            full_refresh: false,
            status: sync::protocol::RunStatus::Done,
            started_at: 0,
            finished_at: Some(1),
            records_seen: 14,
            counts: [(Outcome::FieldConflict, 2), (Outcome::Added, 12)]
                .into_iter()
                .collect(),
            changes: sync::protocol::ChangeCounts {
                added: 7,
                ..Default::default()
            },
            message: None,
            started_by: Some("anna.admin".into()),
        };
        assert_eq!(
            run_summary(&r),
            "Customers: Done · 14 records seen, 7 added, 0 changed, 0 removed since the last run, 2 field conflicts."
        );
        assert_eq!(
            source_label(SystemKind::Rest, Kind::Employee),
            "Employees: path under the base URL"
        );
    }
}
