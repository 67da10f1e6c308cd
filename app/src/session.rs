//! Who is signed in, as the whole app sees it.

use leptos::prelude::*;
use sync::protocol::{Role, SessionInfo, SetupStatus};

use crate::api;

/// Provided at the root: the session once loaded.
#[derive(Clone, Copy)]
pub struct SessionCtx {
    /// `None` until the first answer from the server.
    pub state: RwSignal<Option<Loaded>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub session: Option<SessionInfo>,
    pub setup_needed: bool,
}

impl SessionCtx {
    pub fn user(&self) -> Option<SessionInfo> {
        self.state.get().and_then(|l| l.session)
    }

    pub fn is_admin(&self) -> bool {
        self.user().is_some_and(|u| u.role == Role::Admin)
    }

    pub fn set_user(&self, info: Option<SessionInfo>) {
        self.state.set(Some(Loaded {
            session: info,
            setup_needed: false,
        }));
    }

    /// Asks the server who is signed in (and whether set-up is needed).
    pub fn reload(self) {
        leptos::task::spawn_local(async move {
            let session = api::get::<SessionInfo>("/session").await.ok();
            let setup_needed = if session.is_none() {
                api::get::<SetupStatus>("/setup")
                    .await
                    .map(|s| s.needed)
                    .unwrap_or(false)
            } else {
                false
            };
            self.state.set(Some(Loaded {
                session,
                setup_needed,
            }));
        });
    }
}

pub fn use_session() -> SessionCtx {
    expect_context::<SessionCtx>()
}
