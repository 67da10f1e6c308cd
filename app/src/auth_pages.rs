//! Signing in and first-run set-up.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use sync::protocol::{FieldError, SessionInfo, SetupRequest, SignIn};

use crate::api;
use crate::form::field_message;
use crate::session::use_session;

#[component]
pub fn Login() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new_local(move |req: &SignIn| {
        let req = req.clone();
        async move { api::send::<_, SessionInfo>("POST", "/session", Some(&req)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(Some(info))) = action.value().get() {
            session.set_user(Some(info));
            navigate("/customers", Default::default());
        }
    });
    let error = move || match action.value().get() {
        Some(Err(e)) => Some(e.message),
        _ => None,
    };
    view! {
        <section class="narrow">
            <h1>"Sign in"</h1>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(SignIn {
                    username: username.get_untracked(),
                    password: password.get_untracked(),
                });
            }>
                <div class="field">
                    <label for="username">"User name"</label>
                    <input id="username" name="username" autocomplete="username" required=true
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password"
                        required=true
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                </div>
                <p class="error" role="alert">{error}</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || action.pending().get()>
                        "Sign in"
                    </button>
                </div>
            </form>
        </section>
    }
}

#[component]
pub fn Setup() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let token = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let action = Action::new_local(move |req: &SetupRequest| {
        let req = req.clone();
        async move { api::send::<_, SessionInfo>("POST", "/setup", Some(&req)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(Some(info))) = action.value().get() {
            session.set_user(Some(info));
            navigate("/users", Default::default());
        }
    });
    let fields = move || match action.value().get() {
        Some(Err(e)) => e.fields,
        _ => Vec::<FieldError>::new(),
    };
    let message = move || match action.value().get() {
        Some(Err(e)) => Some(e.message),
        _ => None,
    };
    let field = move |key: &'static str| move || field_message(&fields(), key);
    view! {
        <section class="narrow">
            <h1>"Set up Partnersync"</h1>
            <p>
                "Create the first administrator. The set-up token is printed in the server's log
                when it starts without any user."
            </p>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(SetupRequest {
                    token: token.get_untracked(),
                    username: username.get_untracked(),
                    password: password.get_untracked(),
                });
            }>
                <div class="field">
                    <label for="token">"Set-up token"</label>
                    <input id="token" name="token" autocomplete="off" required=true
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="token">{field("token")}</p>
                </div>
                <div class="field">
                    <label for="username">"Administrator's user name"</label>
                    <input id="username" name="username" autocomplete="username" required=true
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="username">{field("username")}</p>
                </div>
                <div class="field">
                    <label for="password">"Password (at least 10 characters)"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password"
                        required=true
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))/>
                    <p class="field-error" data-field="password">{field("password")}</p>
                </div>
                <p class="error" role="alert">{message}</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || action.pending().get()>
                        "Create administrator"
                    </button>
                </div>
            </form>
        </section>
    }
}
