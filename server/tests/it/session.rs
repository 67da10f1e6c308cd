//! First-run set-up, signing in and out, cookies, rate limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, Options, SUPERVISOR, client, spawn_app, spawn_with};

#[tokio::test]
async fn first_run_setup_creates_one_administrator_once() {
    let app = spawn_app().await;
    let (s, body) = app
        .call(&app.anon, Method::GET, "/api/v1/setup", None)
        .await;
    assert_eq!((s, body["needed"].clone()), (StatusCode::OK, json!(true)));

    // A wrong token is refused and changes nothing.
    let (s, body) = app
        .call(
            &app.anon,
            Method::POST,
            "/api/v1/setup",
            Some(json!({"token": "guess", "username": "mallory", "password": "0123456789ab"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "token");
    let (_, body) = app
        .call(&app.anon, Method::GET, "/api/v1/setup", None)
        .await;
    assert_eq!(body["needed"], true);

    // A short password is a field error.
    let (s, body) = app
        .call(
            &app.anon,
            Method::POST,
            "/api/v1/setup",
            Some(json!({"token": app.setup_token(), "username": "anna", "password": "short"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["fields"][0]["field"], "password");

    let admin = app.setup_admin().await;
    let (s, me) = app.call(&admin, Method::GET, "/api/v1/session", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["username"], ADMIN.0);

    let (_, body) = app
        .call(&app.anon, Method::GET, "/api/v1/setup", None)
        .await;
    assert_eq!(body["needed"], false);
    let (s, _) = app
        .call(
            &client(),
            Method::POST,
            "/api/v1/setup",
            Some(json!({"token": "anything", "username": "second", "password": "0123456789ab"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "set-up happens once");
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let (c, r) = app.sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().expect("pair").to_string();

    // User names are case-insensitive.
    let (_, r2) = app.sign_in(&ADMIN.0.to_uppercase(), ADMIN.1).await;
    assert_eq!(r2.status(), StatusCode::OK);
    let token2 = r2.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    assert_ne!(token, token2, "every sign-in gets a new session id");

    let (s, _) = app.call(&c, Method::DELETE, "/api/v1/session", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(&c, Method::GET, "/api/v1/session", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The old cookie, replayed by hand, is dead too.
    let r = app
        .anon
        .get(app.url("/api/v1/session"))
        .header("cookie", &token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.setup_admin().await;
    let (_, wrong) = app.sign_in(ADMIN.0, "not the password").await;
    let (_, unknown) = app.sign_in("nobody.here", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let a: serde_json::Value = wrong.json().await.expect("json");
    let b: serde_json::Value = unknown.json().await.expect("json");
    assert_eq!(a, b);
    assert!(
        a["message"]
            .as_str()
            .expect("message")
            .contains("Wrong user name or password")
    );
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_account_and_per_client() {
    let app = spawn_with(Options {
        login_max_per_account: 3,
        login_max_per_client: 8,
        ..Default::default()
    })
    .await;
    app.setup_admin().await;
    for _ in 0..3 {
        let (_, r) = app.sign_in(ADMIN.0, "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let (_, r) = app.sign_in(ADMIN.0, ADMIN.1).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.headers().contains_key("retry-after"));
    // The client's overall limit (8 attempts) applies across accounts.
    let mut last = StatusCode::OK;
    for i in 0..6 {
        last = app
            .sign_in(&format!("someone{i}"), "wrong password")
            .await
            .1
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let app = spawn_with(Options {
        session_idle_secs: 1,
        ..Default::default()
    })
    .await;
    let admin = app.setup_admin().await;
    let (s, _) = app.call(&admin, Method::GET, "/api/v1/session", None).await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, _) = app.call(&admin, Method::GET, "/api/v1/session", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_end_at_their_absolute_limit_even_when_used() {
    let app = spawn_with(Options {
        session_max_secs: 2,
        ..Default::default()
    })
    .await;
    let admin = app.setup_admin().await;
    // Used every half second, so never idle; still ends after two seconds.
    let start = std::time::Instant::now();
    let mut last = StatusCode::OK;
    while start.elapsed() < std::time::Duration::from_millis(2600) {
        last = app
            .call(&admin, Method::GET, "/api/v1/session", None)
            .await
            .0;
        if last != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(last, StatusCode::UNAUTHORIZED);
    assert!(start.elapsed() >= std::time::Duration::from_millis(1900));
}

#[tokio::test]
async fn disabled_users_cannot_sign_in_and_lose_their_sessions() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;
    let (_, users) = app.call(&admin, Method::GET, "/api/v1/users", None).await;
    let sup_id = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == SUPERVISOR.0)
        .expect("sup")["user_id"]
        .clone();
    let (s, u) = app
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{sup_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(u["disabled"], true);
    let (s, _) = app.call(&sup, Method::GET, "/api/v1/customers", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, r) = app.sign_in(SUPERVISOR.0, SUPERVISOR.1).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn health_answers_without_sign_in_and_names_the_database() {
    let app = spawn_app().await;
    let (s, h) = app
        .call(&app.anon, Method::GET, "/api/v1/health", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"], app.backend);
}

#[tokio::test]
async fn bad_json_and_huge_bodies_get_clear_errors() {
    let app = spawn_with(Options {
        max_body_bytes: 4096,
        ..Default::default()
    })
    .await;
    let r = app
        .anon
        .post(app.url("/api/v1/session"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.expect("json error");
    assert_eq!(body["code"], "bad_request");

    let huge = json!({"username": "x".repeat(10_000), "password": "y"});
    let r = app
        .anon
        .post(app.url("/api/v1/session"))
        .json(&huge)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = r.json().await.expect("json error");
    assert_eq!(body["code"], "payload_too_large");
}
