//! Connections: administrators configure the other systems, per kind.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn connections_keep_per_kind_settings_and_refuse_bad_ones() {
    let app = spawn_app().await;
    let (admin, sup) = app.admin_and_supervisor().await;

    // Defaults: no number rules, number and name required on both sides.
    let (s, c) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "  Visma export "})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["name"], "Visma export");
    assert_eq!(c["system"], "file");
    assert_eq!(
        c["customers"]["required"]["ours"],
        json!(["number", "name"])
    );
    assert_eq!(
        c["employees"]["required"]["theirs"],
        json!(["number", "first_name", "last_name"])
    );
    assert_eq!(c["customers"]["rules"]["strip_leading_zeros"], false);

    // Their system shortens numbers to 6 digits and strips zeros; the saved
    // mapping names columns by header and by index.
    let mut edit = c.clone();
    edit["customers"]["rules"] =
        json!({"max_len": 6, "digits_only": true, "strip_leading_zeros": true});
    edit["customers"]["required"]["theirs"] = json!(["number", "name", "email"]);
    edit["customers"]["mapping"] =
        json!([{"column": "Kundenr", "field": "number"}, {"column": 3, "field": "city"}]);
    let id = c["connection_id"].clone();
    let (s, saved) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/connections/{id}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    let (_, again) = app
        .call(
            &admin,
            Method::GET,
            &format!("/api/v1/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(again["customers"]["rules"]["max_len"], 6);
    assert_eq!(again["customers"]["mapping"][0]["column"], "Kundenr");
    assert_eq!(again["customers"]["mapping"][1]["column"], 3);

    // The same version again: 409, nothing changes.
    edit["name"] = json!("Renamed");
    let (s, _) = app
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/connections/{id}"),
            Some(edit),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Bad settings are field errors and store nothing.
    let (s, e) = app
        .call(&admin, Method::POST, "/api/v1/connections", Some(json!({
            "name": "Broken",
            "customers": {"rules": {"max_len": 0}, "required": {"ours": ["name"], "theirs": ["number", "first_name"]}, "mapping": []}
        })))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields: Vec<&str> = e["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        vec![
            "customers.rules.max_len",
            "customers.required.ours",
            "customers.required.theirs"
        ]
    );
    let (s, e) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "Visma export"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["fields"][0]["field"], "name");
    let (s, _) = app
        .call(
            &admin,
            Method::POST,
            "/api/v1/connections",
            Some(json!({"name": "X", "system": "carrier-pigeon"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, list) = app
        .call(&admin, Method::GET, "/api/v1/connections", None)
        .await;
    assert_eq!(list.as_array().expect("list").len(), 1);

    let (s, _) = app
        .call(&sup, Method::GET, "/api/v1/connections", None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(&admin, Method::GET, "/api/v1/connections/424242", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
