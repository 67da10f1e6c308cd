//! Synchronization reports: the runs by date (scheduled runs, Run now and
//! file imports), and one run's summary: counts by action as numbers and a
//! chart, the trend across the scope's runs, and the per-record details
//! with a filter and a CSV export. The geometry of the charts is plain
//! functions ([`bars`], [`trend`]) that tests call without a browser.

use std::collections::BTreeMap;

use leptos::prelude::*;
use sync::protocol::{
    ApiError, Connection, RunDetail, RunDetailPage, RunInfo, RunStatus, RunTrigger,
};
use sync::report::{Outcome, Whose};

use crate::api;
use crate::layout::Protected;
use crate::window::{field_label, format_time};

/// The words the report uses for an action.
pub fn outcome_label(o: Outcome) -> &'static str {
    match o {
        Outcome::FieldConflict => "Field conflict",
        Outcome::NoNewChanges => "No new changes",
        Outcome::NoDifference => "No difference",
        Outcome::UnableToUpdate => "Unable to update",
        Outcome::NoImport => "No import",
        Outcome::NoExport => "No export",
        Outcome::Skipped => "Skipped (multiple matches)",
        Outcome::ValidationError => "Validation error",
        Outcome::ProcessingError => "Processing error",
        Outcome::Added => "Added",
        Outcome::Updated => "Updated",
        Outcome::Deleted => "Deleted",
        Outcome::Linked => "Linked",
        Outcome::Deactivated => "Deactivated",
        Outcome::Inactive => "Inactive",
    }
}

/// The action's name in the API (`field_conflict`, ...).
pub fn outcome_slug(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The four groups the charts color: what needs a person, what failed,
/// what changed, what stayed as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Conflict,
    Problem,
    Change,
    Same,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Conflict, Group::Problem, Group::Change, Group::Same];

    pub fn of(o: Outcome) -> Group {
        match o {
            Outcome::FieldConflict => Group::Conflict,
            Outcome::UnableToUpdate
            | Outcome::NoImport
            | Outcome::NoExport
            | Outcome::Skipped
            | Outcome::ValidationError
            | Outcome::ProcessingError => Group::Problem,
            Outcome::Added
            | Outcome::Updated
            | Outcome::Deleted
            | Outcome::Linked
            | Outcome::Deactivated => Group::Change,
            Outcome::NoNewChanges | Outcome::NoDifference | Outcome::Inactive => Group::Same,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Group::Conflict => "Conflicts",
            Group::Problem => "Not processed",
            Group::Change => "Changed",
            Group::Same => "Unchanged",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Group::Conflict => "g-conflict",
            Group::Problem => "g-problem",
            Group::Change => "g-change",
            Group::Same => "g-same",
        }
    }
}

/// One bar of a run's chart: the action, its count and its length as a
/// share (0..=1) of the largest count.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub outcome: Outcome,
    pub count: u32,
    pub share: f64,
}

/// The actions a run's summary always shows, zero or not: the first nine
/// of [`Outcome::ALL`] (field conflict ... processing error).
pub const SUMMARY: &[Outcome] = Outcome::ALL.split_at(9).0;

/// The bars of a run's chart: the summary's actions always, the others
/// when they happened; longest bar = largest count.
pub fn bars(counts: &BTreeMap<Outcome, u32>) -> Vec<Bar> {
    let max = counts.values().copied().max().unwrap_or(0).max(1) as f64;
    Outcome::ALL
        .iter()
        .filter_map(|&o| {
            let count = counts.get(&o).copied().unwrap_or(0);
            (SUMMARY.contains(&o) || count > 0).then(|| Bar {
                outcome: o,
                count,
                share: count as f64 / max,
            })
        })
        .collect()
}

/// One run's column of the trend chart: its groups stacked bottom up, as
/// `(group, count, y, height)` in chart units (0 at the top, `height` at
/// the bottom).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub run_id: i64,
    pub x: f64,
    pub width: f64,
    pub total: u32,
    pub segments: Vec<(Group, u32, f64, f64)>,
}

/// The trend chart's columns for `runs` given newest first (as the API
/// lists them): drawn oldest to newest, left to right, all on one scale
/// (the busiest run fills the height).
pub fn trend(runs: &[RunInfo], width: f64, height: f64) -> Vec<Column> {
    let n = runs.len().max(1) as f64;
    let slot = width / n;
    let totals: Vec<u32> = runs.iter().map(|r| r.counts.values().sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    runs.iter()
        .rev()
        .zip(totals.iter().rev())
        .enumerate()
        .map(|(i, (r, &total))| {
            let mut by_group = BTreeMap::<Group, u32>::new();
            for (o, c) in &r.counts {
                *by_group.entry(Group::of(*o)).or_default() += c;
            }
            let mut bottom = height;
            let segments = Group::ALL
                .iter()
                .filter_map(|g| {
                    let c = by_group.get(g).copied().unwrap_or(0);
                    (c > 0).then(|| {
                        let h = c as f64 / max * height;
                        bottom -= h;
                        (*g, c, bottom, h)
                    })
                })
                .collect();
            Column {
                run_id: r.run_id,
                x: i as f64 * slot + slot * 0.15,
                width: slot * 0.7,
                total,
                segments,
            }
        })
        .collect()
}

/// Whose record a detail line is about, in words.
pub fn whose_label(w: Option<Whose>) -> &'static str {
    match w {
        Some(Whose::Ours) => "Ours",
        Some(Whose::Theirs) => "Theirs",
        Some(Whose::Pair) => "Linked pair",
        None => "",
    }
}

pub fn trigger_label(t: RunTrigger) -> &'static str {
    match t {
        RunTrigger::Schedule => "Scheduled",
        RunTrigger::Manual => "Run now",
        RunTrigger::Import => "File import",
    }
}

pub fn status_label(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "Running",
        RunStatus::Done => "Done",
        RunStatus::Failed => "Failed",
        RunStatus::Waiting => "Waiting for confirmation",
        RunStatus::Cancelled => "Cancelled",
    }
}

fn status_slug(s: RunStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn kind_label(k: sync::schema::Kind) -> &'static str {
    match k {
        sync::schema::Kind::Customer => "Customers",
        sync::schema::Kind::Employee => "Employees",
    }
}

/// The trend chart of `runs` (newest first).
#[component]
fn TrendChart(runs: Vec<RunInfo>, #[prop(optional)] current: Option<i64>) -> impl IntoView {
    const W: f64 = 640.0;
    const H: f64 = 140.0;
    let navigate = leptos_router::hooks::use_navigate();
    let columns = trend(&runs, W, H);
    let n = columns.len();
    let when: BTreeMap<i64, i64> = runs.iter().map(|r| (r.run_id, r.started_at)).collect();
    view! {
        <figure class="chart trend" data-trend=n.to_string()>
            <svg viewBox=format!("0 0 {W} {}", H + 2.0) role="img"
                aria-label="Records by result, one column per run, oldest on the left">
                <line x1="0" y1=H x2=W y2=H class="axis"/>
                {columns.into_iter().map(|c| {
                    let title = format!(
                        "Run {} · {} · {} records",
                        c.run_id,
                        when.get(&c.run_id).map(|t| format_time(*t)).unwrap_or_default(),
                        c.total
                    );
                    let mark = current == Some(c.run_id);
                    let navigate = navigate.clone();
                    let target = format!("/reports/{}", c.run_id);
                    // A column opens its run (an <a> here would be an HTML
                    // element, not SVG, and hide what it wraps).
                    view! {
                        <g class="column" class:current=mark data-run=c.run_id.to_string()
                            on:click=move |_| navigate(&target, Default::default())>
                            <title>{title}</title>
                            {c.segments.into_iter().map(|(g, n, y, h)| view! {
                                <rect class=g.class() x=c.x y=y width=c.width height=h.max(0.5)>
                                    <title>{format!("{}: {n}", g.label())}</title>
                                </rect>
                            }).collect_view()}
                        </g>
                    }
                }).collect_view()}
            </svg>
            <figcaption class="legend">
                {Group::ALL.iter().map(|g| view! {
                    <span><i class=g.class()></i>{g.label()}</span>
                }).collect_view()}
            </figcaption>
        </figure>
    }
}

/// Runs listed per page on `/reports`.
const PAGE: usize = 100;

/// `/reports`: every run, newest first, with the trend of those listed.
#[component]
pub fn Reports() -> impl IntoView {
    let connection = RwSignal::new(String::new());
    let connections = LocalResource::new(move || async move {
        api::get::<Vec<Connection>>("/connections")
            .await
            .unwrap_or_default()
    });
    let path = move |before: Option<i64>| {
        let mut p = format!("/runs?limit={PAGE}");
        let c = connection.get_untracked();
        if !c.is_empty() {
            p.push_str(&format!("&connection_id={c}"));
        }
        if let Some(b) = before {
            p.push_str(&format!("&before={b}"));
        }
        p
    };
    let runs = LocalResource::new(move || {
        connection.track();
        let p = path(None);
        async move { api::get::<Vec<RunInfo>>(&p).await }
    });
    // Older pages, appended below the newest (paging back by `before`).
    let older = RwSignal::new(Vec::<RunInfo>::new());
    let more = RwSignal::new(true);
    Effect::new(move |_| {
        connection.track();
        older.set(Vec::new());
        more.set(true);
    });
    let load_older = Action::new_local(move |before: &i64| {
        let p = path(Some(*before));
        async move { api::get::<Vec<RunInfo>>(&p).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = load_older.value().get() {
            more.set(page.len() == PAGE);
            older.update(|o| o.extend(page));
        }
    });
    let body = move || {
        match runs.get().map(|r| {
            r.map(|mut first| {
                if first.len() < PAGE {
                    more.set(false);
                }
                first.extend(older.get());
                first
            })
        }) {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="blank">"No run yet. Runs appear here when a file is imported or an integrated system runs."</p>
        }
        .into_any(),
        Some(Ok(list)) => view! {
            <TrendChart runs=list.clone()/>
            <table class="list runs">
                <thead>
                    <tr>
                        <th>"Started (UTC)"</th><th>"Connection"</th><th>"Records"</th><th>"How"</th>
                        <th>"Status"</th><th class="num">"Seen"</th><th class="num">"Conflicts"</th>
                        <th class="num">"Not processed"</th><th class="num">"Changed"</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|r| {
                        let group = |g: Group| -> u32 {
                            r.counts.iter().filter(|(o, _)| Group::of(**o) == g).map(|(_, c)| *c).sum()
                        };
                        let (conflicts, problems, changed) =
                            (group(Group::Conflict), group(Group::Problem), group(Group::Change));
                        view! {
                            <tr data-run=r.run_id.to_string() data-status=status_slug(r.status)>
                                <td><a href=format!("/reports/{}", r.run_id)>{format_time(r.started_at)}</a></td>
                                <td>{r.connection_name.clone()}</td>
                                <td>{kind_label(r.kind)}</td>
                                <td>{trigger_label(r.trigger)}{if r.full_refresh { " (full refresh)" } else { "" }}</td>
                                <td class=status_slug(r.status)>{status_label(r.status)}</td>
                                <td class="num">{r.records_seen}</td>
                                <td class="num">{conflicts}</td>
                                <td class="num">{problems}</td>
                                <td class="num">{changed}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Show when=move || more.get()>
                <div class="pager">
                    <button disabled=move || load_older.pending().get() on:click=move |_| {
                        let last = older
                            .get_untracked()
                            .last()
                            .or(runs.get_untracked().and_then(|r| r.ok()).unwrap_or_default().last())
                            .map(|r| r.run_id);
                        if let Some(b) = last {
                            load_older.dispatch(b);
                        }
                    }>"Show older runs"</button>
                </div>
            </Show>
        }
        .into_any(),
    }
    };
    view! {
        <Protected admin_only=true>
            <section>
                <header class="page-head"><h1>"Synchronization reports"</h1></header>
                <div class="toolbar">
                    <label for="report-connection">"Connection"</label>
                    <select id="report-connection" on:change=move |ev| connection.set(event_target_value(&ev))>
                        <option value="">"All connections"</option>
                        {move || connections.get().unwrap_or_default().into_iter().map(|c| view! {
                            <option value=c.connection_id.to_string()>{c.name}</option>
                        }).collect_view()}
                    </select>
                </div>
                {body}
            </section>
        </Protected>
    }
}

/// `/reports/:id`: one run's summary, trend and details.
#[component]
pub fn RunReport() -> impl IntoView {
    let id = crate::layout::path_id("id");
    let reload = RwSignal::new(0u32);
    let message = RwSignal::new(None::<(bool, String)>);
    let run = LocalResource::new(move || {
        let id = id.get();
        reload.get();
        async move { api::get::<RunInfo>(&format!("/runs/{id}")).await }
    });
    let decide = Action::new_local(move |what: &&'static str| {
        let what = *what;
        let id = id.get_untracked();
        async move { api::send::<(), RunInfo>("POST", &format!("/runs/{id}/{what}"), None).await }
    });
    Effect::new(move |_| {
        if let Some(r) = decide.value().get() {
            match r {
                Ok(Some(r)) => message.set(Some((true, format!("{}.", status_label(r.status))))),
                Ok(None) => {}
                Err(e) => message.set(Some((false, e.message))),
            }
            reload.update(|x| *x += 1);
        }
    });
    let body = move || match run.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(r)) => view! { <RunSummary run=r decide=decide/> }.into_any(),
    };
    view! {
        <Protected admin_only=true>
            <section>
                <header class="page-head">
                    <h1>{move || format!("Run {}", id.get())}</h1>
                    <a href="/reports">"All reports"</a>
                </header>
                {move || message.get().map(|(ok, text)| view! {
                    <p class=if ok { "notice ok" } else { "notice error" } role="status">{text}</p>
                })}
                {body}
            </section>
        </Protected>
    }
}

#[component]
fn RunSummary(
    run: RunInfo,
    decide: Action<&'static str, Result<Option<RunInfo>, ApiError>>,
) -> impl IntoView {
    let scope_runs = LocalResource::new({
        let (c, k) = (run.connection_id, run.kind.as_str());
        move || async move {
            api::get::<Vec<RunInfo>>(&format!("/runs?connection_id={c}&kind={k}&limit=30"))
                .await
                .unwrap_or_default()
        }
    });
    let total: u32 = run.counts.values().sum();
    let bars = bars(&run.counts);
    let waiting = run.status == RunStatus::Waiting;
    let filters: Vec<(Outcome, u32)> = run
        .counts
        .iter()
        .filter(|(_, c)| **c > 0)
        .map(|(o, c)| (*o, *c))
        .collect();
    view! {
        <dl class="run-facts" data-status=status_slug(run.status)>
            <dt>"Connection"</dt><dd>{run.connection_name.clone()}" · "{kind_label(run.kind)}</dd>
            <dt>"How"</dt>
            <dd>
                {trigger_label(run.trigger)}
                {if run.full_refresh { " (full refresh)" } else { "" }}
                {run.started_by.clone().map(|u| format!(" by {u}"))}
            </dd>
            <dt>"Started (UTC)"</dt><dd>{format_time(run.started_at)}</dd>
            <dt>"Finished (UTC)"</dt><dd>{run.finished_at.map(format_time).unwrap_or_else(|| "—".into())}</dd>
            <dt>"Status"</dt><dd class="run-status">{status_label(run.status)}</dd>
            <dt>"Their data since the last run"</dt>
            <dd class="changes">
                {format!(
                    "{} added, {} changed, {} removed, {} unchanged",
                    run.changes.added, run.changes.changed, run.changes.removed, run.changes.unchanged
                )}
            </dd>
        </dl>
        {run.message.clone().map(|m| view! { <p class=if run.status == RunStatus::Failed { "error" } else { "muted" } role="alert">{m}</p> })}
        <Show when=move || waiting>
            <div class="actions waiting">
                <button class="primary" on:click=move |_| {
                    if crate::browser::confirm("Delete these records as the full refresh proposes?") {
                        decide.dispatch("confirm");
                    }
                }>"Confirm deletions"</button>
                <button on:click=move |_| {
                    decide.dispatch("cancel");
                }>"Cancel run"</button>
            </div>
        </Show>
        <div class="report-grid">
            <table class="list counts" data-total=total.to_string()>
                <thead><tr><th>"Action"</th><th class="num">"Records"</th><th class="bar-cell"></th></tr></thead>
                <tbody>
                    {bars.into_iter().map(|b| view! {
                        <tr data-outcome=outcome_slug(b.outcome)>
                            <td>{outcome_label(b.outcome)}</td>
                            <td class="num count">{b.count}</td>
                            <td class="bar-cell">
                                <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                                    <rect class=Group::of(b.outcome).class() x="0" y="1" height="8"
                                        width=format!("{:.2}", b.share * 100.0)/>
                                </svg>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th>"Total"</th>
                        <th class="num total">{total}</th>
                        <td class="muted">{format!("of {} records seen", run.records_seen)}</td>
                    </tr>
                </tfoot>
            </table>
            <div>
                <h2>"Trend"</h2>
                {move || scope_runs.get().map(|list| view! { <TrendChart runs=list current=run.run_id/> })}
            </div>
        </div>
        <Details run_id=run.run_id filters=filters/>
    }
}

/// The per-record details, filtered by action, a page at a time.
#[component]
fn Details(run_id: i64, filters: Vec<(Outcome, u32)>) -> impl IntoView {
    let outcome = RwSignal::new(String::new());
    let rows = RwSignal::new(Vec::<RunDetail>::new());
    let total = RwSignal::new(0i64);
    let next = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let load = Action::new_local(move |after: &Option<i64>| {
        let after = *after;
        let o = outcome.get_untracked();
        async move {
            let mut path = format!("/runs/{run_id}/details?limit=200");
            if !o.is_empty() {
                path.push_str(&format!("&outcome={o}"));
            }
            if let Some(a) = after {
                path.push_str(&format!("&after={a}"));
            }
            (after, api::get::<RunDetailPage>(&path).await)
        }
    });
    Effect::new(move |_| {
        if let Some((after, r)) = load.value().get() {
            match r {
                Ok(page) => {
                    total.set(page.total);
                    next.set(page.next);
                    if after.is_some() {
                        rows.update(|v| v.extend(page.items));
                    } else {
                        rows.set(page.items);
                    }
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
        }
    });
    Effect::new(move |_| {
        outcome.track();
        load.dispatch(None);
    });
    let export = move || {
        let o = outcome.get();
        if o.is_empty() {
            format!("{}/runs/{run_id}/details/export", api::BASE)
        } else {
            format!("{}/runs/{run_id}/details/export?outcome={o}", api::BASE)
        }
    };
    view! {
        <section class="details">
            <h2>"Records"</h2>
            <div class="toolbar">
                <label for="detail-filter">"Action"</label>
                <select id="detail-filter" on:change=move |ev| outcome.set(event_target_value(&ev))>
                    <option value="">"All actions"</option>
                    {filters.into_iter().map(|(o, c)| view! {
                        <option value=outcome_slug(o)>{format!("{} ({c})", outcome_label(o))}</option>
                    }).collect_view()}
                </select>
                <span class="muted" data-detail-total=move || total.get().to_string()>
                    {move || format!("{} record{}", total.get(), if total.get() == 1 { "" } else { "s" })}
                </span>
                <a class="button" href=export download="">"Export CSV"</a>
            </div>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <table class="list details-table">
                <thead>
                    <tr>
                        <th>"Record"</th><th>"Number"</th><th>"Name"</th><th>"Email"</th><th>"Phone"</th>
                        <th>"Action"</th><th>"Changed fields (before → after)"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || rows.get() key=|d| d.seq let:d>
                        <tr data-outcome=outcome_slug(d.outcome) data-number=d.number.clone()
                            data-whose=d.whose.map(|w| w.as_str())>
                            <td>{whose_label(d.whose)}</td>
                            <td class="num">{d.number.clone()}</td>
                            <td>{d.name.clone()}</td>
                            <td>{d.email.clone()}</td>
                            <td>{d.phone.clone()}</td>
                            <td>{outcome_label(d.outcome)}</td>
                            <td>
                                {d.changes.iter().map(|c| format!(
                                    "{} ({}): {} → {}",
                                    field_label(c.field),
                                    if c.side == sync::schema::Side::Ours { "ours" } else { "theirs" },
                                    if c.before.is_empty() { "(empty)" } else { &c.before },
                                    if c.after.is_empty() { "(empty)" } else { &c.after },
                                )).collect::<Vec<_>>().join("; ")}
                                {d.message.clone().map(|m| view! { <span class="muted">{m}</span> })}
                            </td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <Show when=move || next.get().is_some()>
                <div class="pager">
                    <button on:click=move |_| {
                        load.dispatch(next.get_untracked());
                    }>"Show more"</button>
                </div>
            </Show>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync::protocol::ChangeCounts;

    fn run(id: i64, counts: &[(Outcome, u32)]) -> RunInfo {
        RunInfo {
            run_id: id,
            connection_id: 1,
            connection_name: "ERP".into(),
            kind: sync::schema::Kind::Customer,
            trigger: RunTrigger::Schedule,
            full_refresh: false,
            status: RunStatus::Done,
            started_at: 0,
            finished_at: None,
            records_seen: counts.iter().map(|(_, c)| *c as i64).sum(),
            counts: counts.iter().copied().collect(),
            changes: ChangeCounts::default(),
            message: None,
            started_by: None,
        }
    }

    #[test]
    fn bars_show_every_summary_action_and_scale_to_the_largest() {
        let counts: BTreeMap<Outcome, u32> = [(Outcome::FieldConflict, 5), (Outcome::Updated, 10)]
            .into_iter()
            .collect();
        let b = bars(&counts);
        assert_eq!(
            b.len(),
            SUMMARY.len() + 1,
            "nine always, Updated because it happened"
        );
        let updated = b
            .iter()
            .find(|x| x.outcome == Outcome::Updated)
            .expect("updated");
        assert_eq!(updated.share, 1.0);
        let conflict = b
            .iter()
            .find(|x| x.outcome == Outcome::FieldConflict)
            .expect("c");
        assert_eq!(conflict.share, 0.5);
        assert!(b.iter().all(|x| x.outcome != Outcome::Deleted));
        assert_eq!(outcome_slug(Outcome::NoNewChanges), "no_new_changes");
    }

    #[test]
    fn trend_draws_oldest_first_on_one_scale() {
        // The API lists newest first.
        let runs = vec![
            run(2, &[(Outcome::NoNewChanges, 50)]),
            run(1, &[(Outcome::FieldConflict, 25), (Outcome::Added, 75)]),
        ];
        let cols = trend(&runs, 200.0, 100.0);
        assert_eq!(cols[0].run_id, 1, "oldest on the left");
        assert!(cols[0].x < cols[1].x);
        // Run 1 (100 records) fills the height: conflicts at the bottom.
        assert_eq!(cols[0].segments[0], (Group::Conflict, 25, 75.0, 25.0));
        assert_eq!(cols[0].segments[1], (Group::Change, 75, 0.0, 75.0));
        // Run 2 (50) is half as tall.
        assert_eq!(cols[1].segments, vec![(Group::Same, 50, 50.0, 50.0)]);
        assert!(trend(&[], 100.0, 100.0).is_empty());
    }
}
