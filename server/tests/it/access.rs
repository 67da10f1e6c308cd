//! Every route of the OpenAPI document, walked as anonymous, supervisor and
//! administrator. A route added without an entry in `ACCESS` fails the test.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{customer, spawn_app};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    Public,
    Signed,
    Admin,
}
use Access::*;

const ACCESS: &[(&str, &str, Access)] = &[
    ("GET", "/api/v1/health", Public),
    ("GET", "/api/v1/setup", Public),
    ("POST", "/api/v1/setup", Public),
    ("GET", "/api/v1/session", Signed),
    ("POST", "/api/v1/session", Public),
    ("DELETE", "/api/v1/session", Signed),
    ("GET", "/api/v1/users", Admin),
    ("POST", "/api/v1/users", Admin),
    ("PATCH", "/api/v1/users/{user_id}", Admin),
    ("GET", "/api/v1/customers", Signed),
    ("POST", "/api/v1/customers", Signed),
    ("GET", "/api/v1/sync-targets", Signed),
    ("GET", "/api/v1/customers/{customer_id}", Admin),
    ("PUT", "/api/v1/customers/{customer_id}", Admin),
    ("GET", "/api/v1/customers/{customer_id}/owned-fields", Admin),
    ("GET", "/api/v1/employees", Admin),
    ("POST", "/api/v1/employees", Admin),
    ("GET", "/api/v1/employees/{employee_id}", Admin),
    ("PUT", "/api/v1/employees/{employee_id}", Admin),
    ("GET", "/api/v1/employees/{employee_id}/owned-fields", Admin),
    ("GET", "/api/v1/connections", Admin),
    ("POST", "/api/v1/connections", Admin),
    ("GET", "/api/v1/connections/{connection_id}", Admin),
    ("PUT", "/api/v1/connections/{connection_id}", Admin),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/window",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/window/{category}",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/fingerprint",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/imports",
        Admin,
    ),
    (
        "POST",
        "/api/v1/connections/{connection_id}/{kind}/imports",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/suggestions",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/number-check",
        Admin,
    ),
    (
        "POST",
        "/api/v1/connections/{connection_id}/{kind}/actions",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/pending",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/pending/export",
        Admin,
    ),
    (
        "POST",
        "/api/v1/connections/{connection_id}/{kind}/pending/delivered",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/export",
        Admin,
    ),
    ("GET", "/api/v1/audit", Admin),
    ("POST", "/api/v1/connections/{connection_id}/test", Admin),
    ("POST", "/api/v1/connections/{connection_id}/runs", Admin),
    ("GET", "/api/v1/connections/{connection_id}/outbox", Admin),
    (
        "POST",
        "/api/v1/connections/{connection_id}/outbox/{pending_id}/retry",
        Admin,
    ),
    (
        "GET",
        "/api/v1/connections/{connection_id}/{kind}/value-mappings",
        Admin,
    ),
    (
        "PUT",
        "/api/v1/connections/{connection_id}/{kind}/value-mappings",
        Admin,
    ),
    ("GET", "/api/v1/runs", Admin),
    ("GET", "/api/v1/runs/{run_id}", Admin),
    ("GET", "/api/v1/runs/{run_id}/details", Admin),
    ("GET", "/api/v1/runs/{run_id}/details/export", Admin),
    ("POST", "/api/v1/runs/{run_id}/confirm", Admin),
    ("POST", "/api/v1/runs/{run_id}/cancel", Admin),
];

#[tokio::test]
async fn every_route_checks_the_role_on_the_server() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_supervisor().await;

    // The document lists exactly the routes of the table.
    let (status, doc) = app
        .call(&app.anon, Method::GET, "/api/v1/openapi.json", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<_> = ACCESS
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, table,
        "a route is missing from ACCESS, or ACCESS lists a route that is gone"
    );

    // Ids to put into paths.
    let (_, c) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/customers",
            Some(customer("100", "Walk AS")),
        )
        .await;
    let (_, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/employees",
            Some(json!({"number": "E1", "first_name": "Ola", "last_name": "Walk"})),
        )
        .await;
    let (_, conn) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "Walk ERP"})),
        )
        .await;
    // A file import, so that a run exists.
    let r = admin
        .post(app.url(&format!(
            "/api/v1/connections/{}/customer/imports?file_name=walk.csv",
            conn["connection_id"]
        )))
        .body("Kundenummer;Navn\r\n100;Walk AS\r\n")
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, runs) = app.call(&admin, Method::GET, "/api/v1/runs", None).await;
    let run_id = runs[0]["run_id"].clone();
    assert_eq!(runs[0]["trigger"], "import");
    let (_, users) = app.call(&admin, Method::GET, "/api/v1/users", None).await;
    let sup_id = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["role"] == "supervisor")
        .expect("supervisor")["user_id"]
        .clone();
    let fill = |p: &str| {
        p.replace("{customer_id}", &c["customer_id"].to_string())
            .replace("{employee_id}", &e["employee_id"].to_string())
            .replace("{connection_id}", &conn["connection_id"].to_string())
            .replace("{user_id}", &sup_id.to_string())
            .replace("{run_id}", &run_id.to_string())
            .replace("{pending_id}", "999")
            .replace("{kind}", "customer")
            .replace("{category}", "new")
            // Queries the routes need to answer 200.
            .replace("/suggestions", "/suggestions?key=ours:100")
            .replace("/number-check", "/number-check?number=00042")
            .replace("/imports", "/imports?file_name=walk.csv")
    };

    for role in ["anonymous", "supervisor", "admin"] {
        let client = match role {
            "anonymous" => crate::helpers::client(),
            "supervisor" => {
                app.sign_in(crate::helpers::SUPERVISOR.0, crate::helpers::SUPERVISOR.1)
                    .await
                    .0
            }
            _ => {
                app.sign_in(crate::helpers::ADMIN.0, crate::helpers::ADMIN.1)
                    .await
                    .0
            }
        };
        // Signing out ends the client's session: walk it last.
        let mut entries = ACCESS.to_vec();
        entries.sort_by_key(|(m, p, _)| (*m == "DELETE" && p.ends_with("/session")) as u8);
        for (method, path, access) in entries {
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            // An empty JSON object: enough to get past authentication; the
            // validation answer that follows is not 401/403.
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let (status, _) = app.call(&client, m.clone(), &fill(path), body).await;
            let expected_denial = match (role, access) {
                (_, Public) => None,
                ("anonymous", _) => Some(StatusCode::UNAUTHORIZED),
                ("supervisor", Admin) => Some(StatusCode::FORBIDDEN),
                _ => None,
            };
            match expected_denial {
                Some(s) => assert_eq!(status, s, "{role} {method} {path}"),
                None => {
                    assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{role} {method} {path} answered {status}"
                    );
                    if m == Method::GET {
                        assert_eq!(status, StatusCode::OK, "{role} {method} {path}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn unknown_api_routes_answer_json_404_and_pages_render_the_shell() {
    let app = spawn_app().await;
    let (status, body) = app.call(&app.anon, Method::GET, "/api/v1/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let r = app.anon.get(app.url("/login")).send().await.expect("page");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.expect("html");
    assert!(
        html.contains("/pkg/partnersync"),
        "the shell loads the WASM bundle"
    );
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let app = spawn_app().await;
    let admin = app.setup_admin().await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let r = admin
            .post(app.url("/api/v1/customers"))
            .header(name, value)
            .json(&customer("666", "Forged AS"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    let (_, page) = app
        .call(&admin, Method::GET, "/api/v1/customers", None)
        .await;
    assert_eq!(page["total"], 0, "nothing was created");
    // Same-origin requests from the app pass.
    let r = admin
        .post(app.url("/api/v1/customers"))
        .header("sec-fetch-site", "same-origin")
        .json(&customer("667", "Real AS"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CREATED);
    // No route changes state on GET: every GET of the document is read-only by design,
    // and a GET to a state-changing path is not allowed.
    let r = admin
        .get(app.url("/api/v1/setup"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .anon
        .get(app.url("/api/v1/users/1"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}
