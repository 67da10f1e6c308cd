//! The customer and employee pages: a searchable, sortable, paginated list
//! and a create/edit form, written once over [`RegisterUi`].

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sync::protocol::{
    Customer, CustomerInput, Employee, EmployeeInput, FieldError, ListQuery, OwnedField, Page,
    SyncChoice, SyncDecision, SyncTarget, User, Versioned,
};

use crate::api;
use crate::form::{self, FieldKind, FieldSpec, FormValues, field_message, input_of, values_of};
use crate::layout::Protected;
use crate::session::use_session;

/// What a register page needs to know about its records.
pub trait RegisterUi: 'static {
    const NOUN: &'static str;
    const TITLE: &'static str;
    /// The app's path and the API's path (below `/api/v1`): the same.
    const PATH: &'static str;
    const ID: &'static str;
    /// Only administrators may open the list.
    const LIST_ADMIN_ONLY: bool;
    const FIELDS: &'static [FieldSpec];
    /// List columns: field key and heading.
    const COLUMNS: &'static [(&'static str, &'static str)];
    type Record: DeserializeOwned + Serialize + Clone + Send + Sync + 'static;
    type Input: DeserializeOwned + Serialize + Default + Clone + Send + Sync + 'static;
    /// New records get the sync choice (Synchronize / Do not synchronize /
    /// Choose later) when a connection exists.
    const SYNC_CHOICE: bool = false;
    fn validate(input: &Self::Input) -> Vec<FieldError>;
}

pub struct Customers;
pub struct Employees;

impl RegisterUi for Customers {
    const NOUN: &'static str = "customer";
    const TITLE: &'static str = "Customers";
    const PATH: &'static str = "/customers";
    const ID: &'static str = "customer_id";
    const LIST_ADMIN_ONLY: bool = false;
    const FIELDS: &'static [FieldSpec] = &[
        form::text("number", "Customer number", true),
        form::text("name", "Name", true),
        form::text("organisation_number", "Organisation number", false),
        form::text("street", "Street", false),
        form::text("postal_code", "Postal code", false),
        form::text("city", "City", false),
        form::text("country", "Country", false),
        form::of("email", "Email", FieldKind::Email),
        form::of("phone", "Phone", FieldKind::Tel),
        form::text("contact_person", "Contact person", false),
        form::text("sales_rep_code", "Sales rep code", false),
        form::of("assigned_user_id", "Assigned user", FieldKind::User),
        form::of("active", "Active", FieldKind::Active),
    ];
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("number", "Number"),
        ("name", "Name"),
        ("city", "City"),
        ("email", "Email"),
        ("phone", "Phone"),
        ("active", "Active"),
    ];
    type Record = Customer;
    type Input = CustomerInput;
    const SYNC_CHOICE: bool = true;
    fn validate(input: &CustomerInput) -> Vec<FieldError> {
        input.validate()
    }
}

impl RegisterUi for Employees {
    const NOUN: &'static str = "employee";
    const TITLE: &'static str = "Employees";
    const PATH: &'static str = "/employees";
    const ID: &'static str = "employee_id";
    const LIST_ADMIN_ONLY: bool = true;
    const FIELDS: &'static [FieldSpec] = &[
        form::text("number", "Employee number", true),
        form::text("first_name", "First name", true),
        form::text("last_name", "Last name", true),
        form::of("email", "Email", FieldKind::Email),
        form::of("phone", "Phone", FieldKind::Tel),
        form::text("street", "Street", false),
        form::text("postal_code", "Postal code", false),
        form::text("city", "City", false),
        form::of("active", "Active", FieldKind::Active),
    ];
    const COLUMNS: &'static [(&'static str, &'static str)] = &[
        ("number", "Number"),
        ("first_name", "First name"),
        ("last_name", "Last name"),
        ("email", "Email"),
        ("city", "City"),
        ("active", "Active"),
    ];
    type Record = Employee;
    type Input = EmployeeInput;
    fn validate(input: &EmployeeInput) -> Vec<FieldError> {
        input.validate()
    }
}

/// The text a list cell shows for a field of a record.
pub fn cell_text(record: &serde_json::Value, key: &str) -> String {
    match record.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Bool(true)) => "Yes".into(),
        Some(serde_json::Value::Bool(false)) => "No".into(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Whether the person must pick one of several connections. Kept out of
/// `view!`, where a `>` would read as the end of a tag.
pub fn several<T>(list: &[T]) -> bool {
    list.len() > 1
}

/// Pages in a list of `total` rows.
pub fn page_count(total: i64, per_page: u32) -> i64 {
    let per = i64::from(per_page.max(1));
    ((total + per - 1) / per).max(1)
}

/// Whether `page` is the last (or past it). Kept out of `view!`, where a
/// `>=` would read as the end of a tag.
pub fn is_last_page(page: u32, pages: i64) -> bool {
    i64::from(page) >= pages
}

#[component]
pub fn CustomerList() -> impl IntoView {
    register_list::<Customers>()
}

#[component]
pub fn EmployeeList() -> impl IntoView {
    register_list::<Employees>()
}

#[component]
pub fn CustomerNew() -> impl IntoView {
    register_form::<Customers>(false)
}

#[component]
pub fn EmployeeNew() -> impl IntoView {
    register_form::<Employees>(false)
}

#[component]
pub fn CustomerEdit() -> impl IntoView {
    register_form::<Customers>(true)
}

#[component]
pub fn EmployeeEdit() -> impl IntoView {
    register_form::<Employees>(true)
}

fn register_list<R: RegisterUi>() -> impl IntoView {
    let session = use_session();
    let q = RwSignal::new(String::new());
    let sort = RwSignal::new("number".to_string());
    let desc = RwSignal::new(false);
    let page = RwSignal::new(1u32);
    let include_inactive = RwSignal::new(true);
    let data = LocalResource::new(move || {
        let query = ListQuery {
            q: Some(q.get()),
            sort: Some(sort.get()),
            dir: Some(if desc.get() { "desc" } else { "asc" }.into()),
            page: Some(page.get()),
            per_page: Some(25),
            include_inactive: Some(include_inactive.get()),
        };
        async move {
            api::get::<Page<R::Record>>(&format!("{}{}", R::PATH, query.to_query_string())).await
        }
    });
    let sort_by = move |key: &'static str| {
        if sort.get_untracked() == key {
            desc.update(|d| *d = !*d);
        } else {
            sort.set(key.to_string());
            desc.set(false);
        }
        page.set(1);
    };
    let body = move || match data.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(p)) => {
            let pages = page_count(p.total, p.per_page);
            let admin = session.is_admin();
            let rows = p
                .items
                .iter()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .collect::<Vec<_>>();
            let empty = rows.is_empty();
            view! {
                <table class="list">
                    <thead>
                        <tr>
                            {R::COLUMNS
                                .iter()
                                .map(|(key, label)| {
                                    let key = *key;
                                    let mark = move || {
                                        if sort.get() == key {
                                            if desc.get() { " ▼" } else { " ▲" }
                                        } else {
                                            ""
                                        }
                                    };
                                    view! {
                                        <th>
                                            <button class="sort" on:click=move |_| sort_by(key)>
                                                {*label}
                                                {mark}
                                            </button>
                                        </th>
                                    }
                                })
                                .collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|row| {
                                let id = row.get(R::ID).and_then(|v| v.as_i64()).unwrap_or(0);
                                view! {
                                    <tr>
                                        {R::COLUMNS
                                            .iter()
                                            .enumerate()
                                            .map(|(i, (key, _))| {
                                                let text = cell_text(&row, key);
                                                if i == 0 && admin {
                                                    view! {
                                                        <td>
                                                            <a href=format!("{}/{id}", R::PATH)>{text}</a>
                                                        </td>
                                                    }
                                                        .into_any()
                                                } else {
                                                    view! { <td>{text}</td> }.into_any()
                                                }
                                            })
                                            .collect_view()}
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
                <Show when=move || empty>
                    <p class="muted">"Nothing matches."</p>
                </Show>
                <nav class="pager">
                    <button
                        disabled=move || page.get() <= 1
                        on:click=move |_| page.update(|p| *p = p.saturating_sub(1).max(1))
                    >
                        "Previous"
                    </button>
                    <span>
                        {format!("Page {} of {pages} · {} {}", p.page, p.total, R::TITLE.to_lowercase())}
                    </span>
                    <button
                        disabled=move || is_last_page(page.get(), pages)
                        on:click=move |_| page.update(|p| *p += 1)
                    >
                        "Next"
                    </button>
                </nav>
            }
                .into_any()
        }
    };
    view! {
        <Protected admin_only=R::LIST_ADMIN_ONLY>
            <section>
                <header class="page-head">
                    <h1>{R::TITLE}</h1>
                    <a class="button primary" href=format!("{}/new", R::PATH)>
                        {format!("New {}", R::NOUN)}
                    </a>
                </header>
                <div class="toolbar">
                    <input
                        type="search"
                        placeholder="Search number, name, email, city, phone"
                        aria-label="Search"
                        prop:value=move || q.get()
                        on:input=move |ev| {
                            q.set(event_target_value(&ev));
                            page.set(1);
                        }
                    />
                    <label class="inline">
                        <input
                            type="checkbox"
                            prop:checked=move || include_inactive.get()
                            on:change=move |ev| {
                                include_inactive.set(event_target_checked(&ev));
                                page.set(1);
                            }
                        />
                        "Show inactive"
                    </label>
                </div>
                {body}
            </section>
        </Protected>
    }
}

fn register_form<R: RegisterUi>(editing: bool) -> impl IntoView {
    let session = use_session();
    let params = use_params_map();
    let navigate = use_navigate();
    let values = RwSignal::new(values_of(R::FIELDS, &R::Input::default()));
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let message = RwSignal::new(None::<String>);
    let version = RwSignal::new(0i64);
    let loaded = RwSignal::new(!editing);
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };

    // Editing: load the record, then fill the form with it.
    let record = LocalResource::new(move || {
        let id = id();
        async move {
            if editing {
                Some(api::get::<R::Record>(&format!("{}/{id}", R::PATH)).await)
            } else {
                None
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Some(r)) = record.get() {
            match r {
                Ok(rec) => {
                    values.set(values_of(R::FIELDS, &rec));
                    let v = serde_json::to_value(&rec).unwrap_or_default();
                    version.set(v.get("version").and_then(|v| v.as_i64()).unwrap_or(0));
                    loaded.set(true);
                }
                Err(e) => message.set(Some(e.message)),
            }
        }
    });
    // Fields an integrated system owns are read-only here: a manual edit
    // would be overwritten by its next run (the server refuses it too).
    let owned = LocalResource::new(move || {
        let id = id();
        async move {
            if editing {
                api::get::<Vec<OwnedField>>(&format!("{}/{id}/owned-fields", R::PATH))
                    .await
                    .unwrap_or_default()
            } else {
                Vec::new()
            }
        }
    });
    let owner_of = move |key: &str| -> Option<String> {
        owned.get().and_then(|list| {
            list.into_iter()
                .find(|o| o.field.as_str() == key)
                .map(|o| o.connection)
        })
    };
    let users = LocalResource::new(move || async move {
        if session.is_admin() {
            api::get::<Vec<User>>("/users").await.unwrap_or_default()
        } else {
            Vec::new()
        }
    });

    let offer_sync = R::SYNC_CHOICE && !editing;
    let targets = LocalResource::new(move || async move {
        if offer_sync {
            api::get::<Vec<SyncTarget>>("/sync-targets")
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        }
    });
    let target = RwSignal::new(None::<i64>);
    let decision = RwSignal::new(SyncDecision::ChooseLater);
    let chosen_target = move || {
        let list = targets.get().unwrap_or_default();
        let id = target
            .get()
            .or_else(|| list.first().map(|t| t.connection_id));
        list.into_iter().find(|t| Some(t.connection_id) == id)
    };
    let sync_choice = move || {
        chosen_target().map(|t| SyncChoice {
            connection_id: t.connection_id,
            decision: decision.get_untracked(),
            their_number: None,
        })
    };

    let save = Action::new_local(move |input: &(FormValues, i64, Option<SyncChoice>)| {
        let (form_values, ver, choice) = input.clone();
        async move {
            let input: R::Input =
                input_of(R::FIELDS, &form_values).map_err(|f| (String::new(), f))?;
            let problems = R::validate(&input);
            if !problems.is_empty() {
                return Err(("Some fields need attention.".to_string(), problems));
            }
            let r = if editing {
                api::send::<_, R::Record>(
                    "PUT",
                    &format!("{}/{}", R::PATH, id()),
                    Some(&Versioned {
                        version: ver,
                        fields: input,
                    }),
                )
                .await
            } else {
                let mut body = serde_json::to_value(&input).unwrap_or_default();
                if let (Some(choice), Some(obj)) = (choice, body.as_object_mut()) {
                    obj.insert(
                        "sync".into(),
                        serde_json::to_value(choice).unwrap_or_default(),
                    );
                }
                api::send::<_, R::Record>("POST", R::PATH, Some(&body)).await
            };
            r.map(|_| ()).map_err(form::split_error)
        }
    });
    Effect::new(move |_| {
        if let Some(result) = save.value().get() {
            match result {
                Ok(()) => navigate(R::PATH, Default::default()),
                Err((msg, f)) => {
                    message.set(if msg.is_empty() { None } else { Some(msg) });
                    errors.set(f);
                }
            }
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(Vec::new());
        message.set(None);
        save.dispatch((
            values.get_untracked(),
            version.get_untracked(),
            sync_choice(),
        ));
    };

    let field_views = move || {
        R::FIELDS
            .iter()
            .map(|f| {
                let f = *f;
                let key = f.key;
                let err = move || field_message(&errors.get(), key);
                let owner = move || owner_of(key);
                let locked = move || owner().is_some();
                let value = move || values.with(|v| v.get(key).cloned().unwrap_or_default());
                let set = move |s: String| {
                    values.update(|v| {
                        v.insert(key.to_string(), s);
                    })
                };
                let input = match f.kind {
                    FieldKind::Active => view! {
                        <input
                            type="checkbox"
                            id=key
                            name=key
                            disabled=locked
                            prop:checked=move || value() == "true"
                            on:change=move |ev| set(event_target_checked(&ev).to_string())
                        />
                    }
                    .into_any(),
                    FieldKind::User => view! {
                        <select
                            id=key
                            name=key
                            disabled=locked
                            prop:value=value
                            on:change=move |ev| set(event_target_value(&ev))
                        >
                            <option value="">"(nobody)"</option>
                            {move || {
                                users
                                    .get()
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|u| {
                                        let id = u.user_id.to_string();
                                        let selected = value() == id;
                                        view! {
                                            <option value=id selected=selected>
                                                {u.username}
                                            </option>
                                        }
                                    })
                                    .collect_view()
                            }}
                        </select>
                    }
                    .into_any(),
                    kind => {
                        let ty = match kind {
                            FieldKind::Email => "email",
                            FieldKind::Tel => "tel",
                            _ => "text",
                        };
                        view! {
                            <input
                                type=ty
                                id=key
                                name=key
                                required=f.required
                                readonly=locked
                                prop:value=value
                                on:input=move |ev| set(event_target_value(&ev))
                            />
                        }
                        .into_any()
                    }
                };
                let hidden = f.kind == FieldKind::User && !session.is_admin();
                view! {
                    <div class="field" class:hidden=hidden class:invalid=move || err().is_some()
                        class:owned=locked data-owned-by=owner>
                        <label for=key>{f.label}{if f.required { " *" } else { "" }}</label>
                        {input}
                        {move || owner().map(|name| view! {
                            <p class="owner-note muted">{format!("Owned by {name}: change it there; the next run brings it here.")}</p>
                        })}
                        <p class="field-error" data-field=key>{err}</p>
                    </div>
                }
            })
            .collect_view()
    };

    let title = if editing {
        format!("Edit {}", R::NOUN)
    } else {
        format!("New {}", R::NOUN)
    };
    view! {
        <Protected admin_only=editing || R::LIST_ADMIN_ONLY>
            <section>
                <header class="page-head">
                    <h1>{title.clone()}</h1>
                    <a href=R::PATH>"Back to the list"</a>
                </header>
                <Show when=move || message.get().is_some()>
                    <p class="error" role="alert">{move || message.get()}</p>
                </Show>
                <form class="record" on:submit=submit novalidate=true>
                    <fieldset disabled=move || !loaded.get() || save.pending().get()>
                        {field_views}
                        {move || {
                            let list = targets.get().unwrap_or_default();
                            (!list.is_empty()).then(|| {
                                let number = move || values.with(|v| v.get("number").cloned().unwrap_or_default());
                                let note = move || {
                                    chosen_target()
                                        .map(|t| crate::window::rules_note(&t.rules, &number()))
                                        .unwrap_or_default()
                                };
                                let radio = move |d: SyncDecision, label: &'static str, value: &'static str| view! {
                                    <label class="inline">
                                        <input type="radio" name="sync-decision" value=value
                                            prop:checked=move || decision.get() == d
                                            on:change=move |_| decision.set(d)/>
                                        {label}
                                    </label>
                                };
                                view! {
                                    <fieldset class="sync-choice" data-sync-choice="">
                                        <legend>"Synchronization"</legend>
                                        <Show when=move || several(&targets.get().unwrap_or_default())>
                                            <select aria-label="Connection" on:change=move |ev| {
                                                target.set(event_target_value(&ev).parse().ok())
                                            }>
                                                {targets.get().unwrap_or_default().into_iter().map(|t| view! {
                                                    <option value=t.connection_id.to_string()>{t.name}</option>
                                                }).collect_view()}
                                            </select>
                                        </Show>
                                        {radio(SyncDecision::Synchronize, "Synchronize", "synchronize")}
                                        {radio(SyncDecision::DoNotSynchronize, "Do not synchronize", "do_not_synchronize")}
                                        {radio(SyncDecision::ChooseLater, "Choose later", "choose_later")}
                                        <Show when=move || decision.get() == SyncDecision::Synchronize>
                                            <p class="muted" data-their-number="">{note}</p>
                                        </Show>
                                    </fieldset>
                                }
                            })
                        }}
                        <div class="actions">
                            <button type="submit" class="primary">
                                {if editing { "Save" } else { "Create" }}
                            </button>
                        </div>
                    </fieldset>
                </form>
            </section>
        </Protected>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_pages() {
        let v = serde_json::json!({"number": "007", "active": false, "id": 3});
        assert_eq!(cell_text(&v, "number"), "007");
        assert_eq!(cell_text(&v, "active"), "No");
        assert_eq!(cell_text(&v, "missing"), "");
        assert_eq!(page_count(0, 25), 1);
        assert_eq!(page_count(25, 25), 1);
        assert_eq!(page_count(26, 25), 2);
        assert!(is_last_page(2, 2) && !is_last_page(1, 2));
    }

    #[test]
    fn every_list_column_is_a_form_field() {
        for (key, _) in Customers::COLUMNS {
            assert!(Customers::FIELDS.iter().any(|f| f.key == *key), "{key}");
        }
        for (key, _) in Employees::COLUMNS {
            assert!(Employees::FIELDS.iter().any(|f| f.key == *key), "{key}");
        }
    }
}
