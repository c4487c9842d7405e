use reqwest::Method;

use crate::support::{owner_url, spawn_app};

#[tokio::test]
async fn health_ready_and_openapi_answer_without_a_tenant() {
    let app = spawn_app().await;
    let health = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(health.assert_status(200)["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"));

    let ready = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(ready.assert_status(200)["status"], "ready");

    let openapi = app.send(app.client.get(app.url("/openapi.json"))).await;
    let document = openapi.assert_status(200);
    for path in [
        "/auth/login",
        "/auth/register",
        "/auth/me",
        "/users",
        "/users/{id}",
        "/settings",
        "/products",
        "/products/{id}",
        "/products/{id}/stock",
        "/orders",
        "/orders/{id}",
        "/orders/{id}/refund",
        "/payments",
        "/payments/{id}",
        "/dashboard/summary",
        "/chatbot/messages",
        "/admin/tenants",
        "/admin/tenants/{id}",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "openapi.json lacks {path}"
        );
    }
    let paths = document["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|path| !path.starts_with("/internal")),
        "service-to-service routes are not part of the API"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope_before_any_check() {
    let app = spawn_app().await;
    let unknown = app.send(app.client.get(app.url("/nope"))).await;
    unknown.assert_error(404, "not_found");
    assert_eq!(unknown.headers["content-type"], "application/json");
    assert!(unknown.headers.contains_key("x-request-id"));

    // A tenant route with a method it does not take: 405 even without a tenant header.
    let wrong_method = app
        .send(app.client.request(Method::PUT, app.url("/products")))
        .await;
    wrong_method.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    let app = spawn_app().await;
    let answer = app
        .send(
            app.client
                .get(app.url("/health"))
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    assert_eq!(answer.headers["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn ready_answers_503_while_postgresql_is_unreachable() {
    let app = spawn_app().await;
    app.send(app.client.get(app.url("/ready")))
        .await
        .assert_status(200);
    // Take the database away under the running server.
    let (maintenance, connection) =
        tokio_postgres::connect(&owner_url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    tenancy::migrate::execute_formatted(
        &maintenance,
        "SELECT format('DROP DATABASE %I WITH (FORCE)', $1::text)",
        &[&app.database().name],
    )
    .await
    .unwrap();
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    ready.assert_error(503, "unavailable");
    assert!(ready.headers.contains_key("retry-after"));
    // Liveness does not depend on the database.
    app.send(app.client.get(app.url("/health")))
        .await
        .assert_status(200);
}

/// What scripts/fuzz.sh holds the server to: every answer of every operation is documented.
#[tokio::test]
async fn the_openapi_document_gives_every_operation_its_shared_answers_in_the_envelope() {
    let app = spawn_app().await;
    let openapi = app.send(app.client.get(app.url("/openapi.json"))).await;
    let document = openapi.assert_status(200);
    let create_product = &document["paths"]["/products"]["post"];
    let statuses: Vec<&String> = create_product["responses"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        statuses,
        [
            "201", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"
        ]
    );
    let envelope = &create_product["responses"]["415"]["content"]["application/json"]["schema"];
    assert_eq!(envelope["$ref"], "#/components/schemas/ErrorEnvelope");
    assert!(document["components"]["schemas"]["ErrorEnvelope"].is_object());
    assert_eq!(create_product["parameters"][0]["name"], "x-tenant-id");
    // The list queries are query parameters, with their ranges.
    let list_orders = document["paths"]["/orders"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = list_orders.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["maximum"], 500);
    for path in ["/health", "/ready"] {
        assert!(document["paths"][path]["get"].is_object(), "{path}");
    }
}
