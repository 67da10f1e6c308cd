//! Administrators manage who may sign in: create, change role, disable or
//! enable, reset a password.

use leptos::prelude::*;
use sync::protocol::{FieldError, NewUser, Role, User, UserPatch};

use crate::api;
use crate::form::field_message;
use crate::layout::Protected;

#[component]
pub fn Users() -> impl IntoView {
    let users = LocalResource::new(|| async { api::get::<Vec<User>>("/users").await });
    let notice = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);

    let update = Action::new_local(move |(id, patch): &(i64, UserPatch)| {
        let (id, patch) = (*id, patch.clone());
        async move { api::send::<_, User>("PATCH", &format!("/users/{id}"), Some(&patch)).await }
    });
    Effect::new(move |_| match update.value().get() {
        Some(Ok(Some(u))) => {
            problem.set(None);
            notice.set(Some(format!("Saved {}.", u.username)));
            users.refetch();
        }
        Some(Err(e)) => {
            notice.set(None);
            problem.set(Some(
                std::iter::once(e.message)
                    .chain(e.fields.into_iter().map(|f| f.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        _ => {}
    });

    let list = move || {
        match users.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        Some(Ok(list)) => view! {
            <table class="list users">
                <thead>
                    <tr>
                        <th>"User"</th>
                        <th>"Role"</th>
                        <th>"Status"</th>
                        <th>"Reset password"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|u| {
                            let id = u.user_id;
                            let new_password = RwSignal::new(String::new());
                            let disabled = u.disabled;
                            view! {
                                <tr data-user=u.username.clone()>
                                    <td>{u.username.clone()}</td>
                                    <td>
                                        <select
                                            aria-label="Role"
                                            on:change=move |ev| {
                                                if let Some(role) = Role::parse(&event_target_value(&ev)) {
                                                    update.dispatch((id, UserPatch { role: Some(role), ..Default::default() }));
                                                }
                                            }
                                        >
                                            <option value="admin" selected=u.role == Role::Admin>"Administrator"</option>
                                            <option value="supervisor" selected=u.role == Role::Supervisor>"Supervisor"</option>
                                        </select>
                                    </td>
                                    <td>{if disabled { "Disabled" } else { "Active" }}</td>
                                    <td>
                                        <input
                                            type="password"
                                            aria-label="New password"
                                            autocomplete="new-password"
                                            prop:value=move || new_password.get()
                                            on:input=move |ev| new_password.set(event_target_value(&ev))
                                        />
                                        <button on:click=move |_| {
                                            update.dispatch((id, UserPatch {
                                                password: Some(new_password.get_untracked()),
                                                ..Default::default()
                                            }));
                                            new_password.set(String::new());
                                        }>"Reset"</button>
                                    </td>
                                    <td>
                                        <button on:click=move |_| {
                                            update.dispatch((id, UserPatch { disabled: Some(!disabled), ..Default::default() }));
                                        }>{if disabled { "Enable" } else { "Disable" }}</button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
    }
    };

    view! {
        <Protected admin_only=true>
            <section>
                <header class="page-head">
                    <h1>"Users"</h1>
                </header>
                <p class="notice" role="status">{move || notice.get()}</p>
                <p class="error" role="alert">{move || problem.get()}</p>
                {list}
                <NewUserForm on_created=move |name| {
                    notice.set(Some(format!("Added {name}.")));
                    problem.set(None);
                    users.refetch();
                }/>
            </section>
        </Protected>
    }
}

#[component]
fn NewUserForm(on_created: impl Fn(String) + Copy + Send + Sync + 'static) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Supervisor);
    let create = Action::new_local(move |new: &NewUser| {
        let new = new.clone();
        async move { api::send::<_, User>("POST", "/users", Some(&new)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(Some(u))) = create.value().get() {
            username.set(String::new());
            password.set(String::new());
            on_created(u.username);
        }
    });
    let fields = move || match create.value().get() {
        Some(Err(e)) => e.fields,
        _ => Vec::<FieldError>::new(),
    };
    view! {
        <form class="record new-user" on:submit=move |ev| {
            ev.prevent_default();
            create.dispatch(NewUser {
                username: username.get_untracked(),
                role: role.get_untracked(),
                password: password.get_untracked(),
            });
        }>
            <h2>"Add a user"</h2>
            <div class="field">
                <label for="new-username">"User name"</label>
                <input id="new-username" autocomplete="off"
                    prop:value=move || username.get()
                    on:input=move |ev| username.set(event_target_value(&ev))/>
                <p class="field-error" data-field="username">{move || field_message(&fields(), "username")}</p>
            </div>
            <div class="field">
                <label for="new-role">"Role"</label>
                <select id="new-role" on:change=move |ev| {
                    role.set(Role::parse(&event_target_value(&ev)).unwrap_or(Role::Supervisor))
                }>
                    <option value="supervisor" selected=true>"Supervisor"</option>
                    <option value="admin">"Administrator"</option>
                </select>
            </div>
            <div class="field">
                <label for="new-password">"Password (at least 10 characters)"</label>
                <input id="new-password" type="password" autocomplete="new-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
                <p class="field-error" data-field="password">{move || field_message(&fields(), "password")}</p>
            </div>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Add user"</button>
            </div>
        </form>
    }
}
