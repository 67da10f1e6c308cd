//! Administrators manage users.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN, spawn_app};

#[tokio::test]
async fn administrators_create_reset_and_disable_users_but_keep_one_admin() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let (s, u) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "berit", "role": "supervisor", "password": "first password"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = u["user_id"].clone();

    // Duplicate names (any case) and bad input are field errors.
    let (s, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"username": "BERIT", "role": "supervisor", "password": "another password"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["fields"][0]["field"], "username");
    let (s, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "x y", "role": "supervisor", "password": "short"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["fields"].as_array().expect("fields").len(), 2);

    // Reset the password: the old one stops working.
    let (s, _) = app
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"password": "second password"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.sign_in("berit", "first password").await.1.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.sign_in("berit", "second password").await.1.status(),
        StatusCode::OK
    );

    // Promote, then the first admin cannot disable or demote themselves, and
    // the last active administrator cannot be removed.
    let (_, me) = app.call(&admin, Method::GET, "/api/v1/session", None).await;
    let my_id = me["user_id"].clone();
    let (s, _) = app
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{my_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (berit, _) = app.sign_in("berit", "second password").await;
    let (s, _) = app
        .call(
            &berit,
            Method::PATCH,
            &format!("/api/v1/users/{my_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "another admin may disable the first");
    let (s, e) = app
        .call(
            &berit,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"role": "supervisor"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        app.sign_in(ADMIN.0, ADMIN.1).await.1.status(),
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = app
        .call(
            &berit,
            Method::PATCH,
            "/api/v1/users/999999",
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
