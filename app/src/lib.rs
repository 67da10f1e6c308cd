//! Partnersync's user interface: Leptos components rendered as a shell on the
//! server and hydrated in the browser.
//!
//! It talks to the server only through the REST API (`api`), with the wire
//! types of `sync::protocol`; the logic of a page sits in plain functions
//! (`form`, `registers::cell_text`, ...) that tests call without a browser.
//! It must never call server code directly: whatever the UI can do, a
//! script can do through the same API.

#![recursion_limit = "256"]

pub mod api;
pub mod auth_pages;
pub mod browser;
pub mod form;
pub mod integrations;
pub mod layout;
pub mod preview;
pub mod registers;
pub mod reports;
pub mod session;
pub mod users;
pub mod window;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::session::SessionCtx;

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session = SessionCtx {
        state: RwSignal::new(None),
    };
    provide_context(session);
    // Runs in the browser only (effects do not run during server rendering).
    Effect::new(move |_| session.reload());

    view! {
        <Stylesheet id="leptos" href="/pkg/partnersync.css"/>
        <Title text="Partnersync"/>
        <Router>
            <layout::Nav/>
            <main data-ready=move || session.state.get().is_some().to_string()>
                <Routes fallback=|| view! { <h1>"Page not found"</h1> }>
                    <Route path=path!("/") view=layout::Home/>
                    <Route path=path!("/login") view=auth_pages::Login/>
                    <Route path=path!("/setup") view=auth_pages::Setup/>
                    <Route path=path!("/customers") view=registers::CustomerList/>
                    <Route path=path!("/customers/new") view=registers::CustomerNew/>
                    <Route path=path!("/customers/:id") view=registers::CustomerEdit/>
                    <Route path=path!("/employees") view=registers::EmployeeList/>
                    <Route path=path!("/employees/new") view=registers::EmployeeNew/>
                    <Route path=path!("/employees/:id") view=registers::EmployeeEdit/>
                    <Route path=path!("/users") view=users::Users/>
                    <Route path=path!("/connections") view=window::Connections/>
                    <Route path=path!("/connections/:id/:kind") view=window::SyncWindow/>
                    <Route path=path!("/connections/:id/:kind/value-mappings") view=integrations::ValueMappings/>
                    <Route path=path!("/reports") view=reports::Reports/>
                    <Route path=path!("/reports/:id") view=reports::RunReport/>
                    <Route path=path!("/history") view=window::HistoryPage/>
                </Routes>
            </main>
        </Router>
    }
}
