//! The customer and employee registers over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{customer, spawn_app};

#[tokio::test]
async fn customers_keep_leading_zeros_and_refuse_duplicates_and_bad_fields() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;

    // A supervisor may create a customer; the number stays text.
    let (s, c) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/customers",
            Some(json!({
                "number": " 000123 ", "name": "Fjordkraft AS", "email": "Post@Fjord.no",
                "postal_code": "0150", "city": "Oslo", "phone": "+47 22 00 00 00"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["number"], "000123");
    assert_eq!(c["postal_code"], "0150");
    assert_eq!(c["active"], true);
    assert_eq!(c["version"], 1);

    // The same number again, a missing name and a malformed email: field
    // errors, and nothing is stored.
    let (s, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(json!({
                "number": "000123", "name": "", "email": "not-an-email"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = e["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, vec!["name", "email", "number"], "{e}");
    // 123 is not 000123.
    let (s, _) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(customer("123", "Other AS")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, page) = app
        .call(&admin, Method::GET, "/api/v1/customers", None)
        .await;
    assert_eq!(page["total"], 2);

    // A missing required JSON field is a clear 400, not a crash.
    let (s, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "No number"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["message"].as_str().expect("message").contains("number"),
        "{e}"
    );

    // Supervisors may not open or edit a customer.
    let id = c["customer_id"].clone();
    let (s, _) = app
        .call(&sup, Method::GET, &format!("/api/v1/customers/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn edits_name_the_version_they_saw_and_the_second_writer_is_told() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let (_, c) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(customer("42", "Answer AS")),
        )
        .await;
    let id = c["customer_id"].clone();
    let mut edit = c.clone();
    edit["city"] = json!("Trondheim");
    let (s, first) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["version"], 2);
    assert_eq!(first["city"], "Trondheim");

    // The same stale version again: 409 and nothing changes.
    edit["city"] = json!("Tromsø");
    let (s, e) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["code"], "conflict");
    let (_, now) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/customers/{id}"),
            None,
        )
        .await;
    assert_eq!(now["city"], "Trondheim");

    // Deactivate.
    let mut off = now.clone();
    off["active"] = json!(false);
    let (s, off) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/customers/{id}"),
            Some(off),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(off["active"], false);
    let (_, active_only) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/customers?include_inactive=false",
            None,
        )
        .await;
    assert_eq!(active_only["total"], 0);

    // Unknown id, bad id.
    let (s, _) = app
        .call(&admin, Method::GET, "/api/v1/customers/987654", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .call(&admin, Method::GET, "/api/v1/customers/abc", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["code"], "bad_request");
}

#[tokio::test]
async fn two_concurrent_edits_of_one_version_let_exactly_one_win() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let (_, c) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(customer("7", "Race AS")),
        )
        .await;
    let id = c["customer_id"].clone();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let mut edit = c.clone();
        edit["city"] = json!(format!("City {i}"));
        let client = admin.clone();
        let url = app.url(&format!("/api/v1/customers/{id}"));
        tasks.push(tokio::spawn(async move {
            client
                .put(url)
                .json(&edit)
                .send()
                .await
                .expect("put")
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
    let (_, now) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/customers/{id}"),
            None,
        )
        .await;
    assert_eq!(now["version"], 2);
}

fn numbers(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["number"].as_str().expect("number").to_string())
        .collect()
}

#[tokio::test]
async fn lists_search_sort_and_paginate() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    let names = [
        ("001", "Ålesund Rør AS", "Ålesund"),
        ("002", "Bergen Bygg", "Bergen"),
        ("003", "Oslo 100% Data", "Oslo"),
        ("004", "Bodø_Fisk", "Bodø"),
    ];
    for (n, name, city) in names {
        let (s, _) = app
            .call(
                &admin,
                Method::POST,
                "/api/v1/customers",
                Some(json!({"number": n, "name": name, "city": city})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Search is case-insensitive beyond ASCII, and % and _ are literal.
    for (q, expect) in [
        ("ålesund", vec!["001"]),
        ("ÅLESUND", vec!["001"]),
        ("100%", vec!["003"]),
        ("_", vec!["004"]),
        ("bo", vec!["004"]),
        ("nothing", vec![]),
    ] {
        let (s, page) = app
            .call(
                &admin,
                Method::GET,
                &format!("/api/v1/customers?q={}", sync::protocol::percent_encode(q)),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(numbers(&page), expect, "q={q}");
    }
    let (_, page) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/customers?sort=city&dir=desc",
            None,
        )
        .await;
    assert_eq!(numbers(&page), vec!["001", "003", "004", "002"]);
    // An unknown sort column falls back to the number, never into SQL.
    let (s, page) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/customers?sort=name;drop%20table%20customer",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(numbers(&page), vec!["001", "002", "003", "004"]);
    let (_, p1) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/customers?per_page=3&page=1",
            None,
        )
        .await;
    let (_, p2) = app
        .call(
            &admin,
            Method::GET,
            "/api/v1/customers?per_page=3&page=2",
            None,
        )
        .await;
    assert_eq!(
        (numbers(&p1), numbers(&p2)),
        (
            vec!["001".to_string(), "002".into(), "003".into()],
            vec!["004".to_string()]
        )
    );
    assert_eq!(p2["total"], 4);
    let (s, _) = app
        .call(&admin, Method::GET, "/api/v1/customers?page=x", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn employees_are_for_administrators_and_validated_like_customers() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;
    let e = json!({"number": "0042", "first_name": "Kari", "last_name": "Nordmann", "email": "kari@firma.no"});
    let (s, created) = app
        .call(&admin, Method::POST, "/api/v1/employees", Some(e.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(created["number"], "0042");
    let (s, err) = app
        .call(&admin, Method::POST, "/api/v1/employees", Some(e))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["fields"][0]["field"], "number");
    let (s, _) = app.call(&sup, Method::GET, "/api/v1/employees", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            &sup,
            Method::POST,
            "/api/v1/employees",
            Some(json!({"number": "9", "first_name": "A", "last_name": "B"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mut edit = created.clone();
    edit["last_name"] = json!("Hansen");
    let (s, updated) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/employees/{}", created["employee_id"]),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(updated["last_name"], "Hansen");
    let (_, page) = app
        .call(&admin, Method::GET, "/api/v1/employees?q=hansen", None)
        .await;
    assert_eq!(page["total"], 1);
}
