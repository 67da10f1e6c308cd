//! The frame around every page: navigation by role, sign-out, and the guard
//! that sends anonymous visitors to sign in. The guard is for people; the
//! server checks every role again on every call.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_navigate;
use sync::protocol::SessionInfo;

use crate::api;
use crate::session::use_session;

#[component]
pub fn Nav() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let sign_out = Action::new_local(move |_: &()| async move {
        let _ = api::send::<(), SessionInfo>("DELETE", "/session", None).await;
    });
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            session.set_user(None);
            navigate("/login", Default::default());
        }
    });
    view! {
        <nav class="top">
            <a class="brand" href="/">"Partnersync"</a>
            {move || {
                session
                    .user()
                    .map(|u| {
                        let admin = session.is_admin();
                        view! {
                            <a href="/customers">"Customers"</a>
                            <Show when=move || admin>
                                <a href="/employees">"Employees"</a>
                                <a href="/connections">"Connections"</a>
                                <a href="/reports">"Reports"</a>
                                <a href="/history">"History"</a>
                                <a href="/users">"Users"</a>
                            </Show>
                            <span class="spacer"></span>
                            <span class="who" data-role=u.role.as_str()>
                                {format!("{} · {}", u.username, u.role.label())}
                            </span>
                            <button class="link" on:click=move |_| {
                                sign_out.dispatch(());
                            }>"Sign out"</button>
                        }
                    })
            }}
        </nav>
    }
}

/// Renders its children for signed-in users (administrators only when
/// `admin_only`); sends others to sign in or set up.
#[component]
pub fn Protected(#[prop(optional)] admin_only: bool, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    move || match session.state.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(l) if l.setup_needed => view! { <Redirect path="/setup"/> }.into_any(),
        Some(l) => match l.session {
            None => view! { <Redirect path="/login"/> }.into_any(),
            Some(u) if admin_only && u.role != sync::protocol::Role::Admin => view! {
                <section>
                    <h1>"Not available"</h1>
                    <p class="error" role="alert">
                        "This page is for administrators. Your role does not allow it."
                    </p>
                </section>
            }
            .into_any(),
            Some(_) => children().into_any(),
        },
    }
}

/// A whole-number parameter of the page's path (`:id`), 0 when it is
/// missing or not a number (the API then answers 404).
pub fn path_id(name: &'static str) -> Memo<i64> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| {
        params
            .read()
            .get(name)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    })
}

/// The `:kind` parameter of the page's path (customers when unknown).
pub fn path_kind() -> Memo<sync::schema::Kind> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| {
        params
            .read()
            .get("kind")
            .and_then(|s| sync::schema::Kind::parse(&s))
            .unwrap_or(sync::schema::Kind::Customer)
    })
}

/// `/`: where a visitor belongs.
#[component]
pub fn Home() -> impl IntoView {
    let session = use_session();
    move || match session.state.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(l) if l.setup_needed => view! { <Redirect path="/setup"/> }.into_any(),
        Some(l) if l.session.is_none() => view! { <Redirect path="/login"/> }.into_any(),
        Some(_) => view! { <Redirect path="/customers"/> }.into_any(),
    }
}
