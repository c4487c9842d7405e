//! The OpenAPI document at `/openapi.json`. Each route's annotation says what is its own (its
//! bodies, its parameters, the answers of its rules); the answers every route of a kind shares —
//! the tenant checks of API.md §3, the operator token, the body and query answers, the
//! `x-request-id`, `traceparent` and `Retry-After` headers — are added here, once, so that no
//! route's document can forget one. `scripts/fuzz.sh` holds the server to the result.

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;
use utoipa::{OpenApi as _, ToSchema};

/// The error envelope of every answer of 400 and above (API.md §3).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // only its schema is used
pub struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// One code per cause, e.g. `validation_failed`; the response's description lists the
    /// codes an operation answers with that status.
    code: String,
    /// For people; never a stack trace, a SQL text or another tenant's id.
    message: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "tenantpos",
        description = "A multi-tenant point-of-sale API. Tenant routes need `x-tenant-id` and, but \
                       for login, `Authorization: Bearer <jwt>`; `/admin/*` takes the operator \
                       token. Every error answer is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(crate::app::health, crate::app::ready, crate::metrics::metrics),
    components(schemas(ErrorEnvelope))
)]
pub(crate) struct ApiDoc;

/// Who may call an operation, which decides the checks that can refuse it before its handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// `/health`, `/ready`, `/metrics`: no checks.
    Public,
    /// `/admin/*`: the operator token.
    Operator,
    /// `POST /auth/login`: the tenant checks 1–4, and lockouts instead of a token.
    Login,
    /// Every other tenant route: checks 1–10.
    Tenant,
}

fn caller_of(path: &str) -> Caller {
    match path {
        "/health" | "/ready" | "/metrics" => Caller::Public,
        "/auth/login" => Caller::Login,
        _ if path.starts_with("/admin/") => Caller::Operator,
        _ => Caller::Tenant,
    }
}

/// The statuses and codes an operation can answer whatever its own rules.
fn shared_answers(caller: Caller, operation: &Value) -> Vec<(u16, &'static str)> {
    let mut answers = Vec::new();
    let tenant = matches!(caller, Caller::Login | Caller::Tenant);
    if tenant {
        answers.extend([
            (400, "missing_tenant"),
            (400, "invalid_tenant"),
            (404, "tenant_not_found"),
            (403, "tenant_suspended"),
        ]);
    }
    match caller {
        Caller::Tenant => answers.extend([
            (401, "missing_token"),
            (401, "invalid_token"),
            (403, "tenant_mismatch"),
            (403, "forbidden"),
            (429, "rate_limited"),
        ]),
        Caller::Login => answers.extend([(401, "invalid_credentials"), (429, "rate_limited")]),
        Caller::Operator => answers.push((401, "unauthorized")),
        Caller::Public => {}
    }
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |place: &str| parameters.iter().any(|p| p["in"] == place);
    if has("path") {
        // A path parameter that does not parse names nothing.
        answers.push((
            404,
            if caller == Caller::Operator {
                "tenant_not_found"
            } else {
                "not_found"
            },
        ));
    }
    let idempotent = parameters.iter().any(|p| p["name"] == "Idempotency-Key");
    if has("query") || idempotent {
        answers.push((422, "validation_failed"));
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        // JSON bodies only: the import reads its NDJSON line by line, with no size limit.
        if content.contains_key("application/json") {
            answers.extend([
                (413, "payload_too_large"),
                (415, "unsupported_media_type"),
                (400, "invalid_json"),
                (422, "validation_failed"),
            ]);
        }
    }
    if caller != Caller::Public {
        // A dependency down, or PostgreSQL's connections all taken.
        answers.push((503, "unavailable"));
    }
    answers
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document with every shared answer, header and security requirement filled in, as JSON:
/// utoipa's types have no place for a response header's `required`.
pub(crate) fn complete(document: OpenApi) -> Value {
    let mut document = serde_json::to_value(document).expect("the OpenAPI document serializes");
    document["components"]["securitySchemes"] = json!({
        "tenant_jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "a token from POST /auth/login"},
        "operator_token": {"type": "http", "scheme": "bearer",
                           "description": "TENANTPOS_ADMIN_TOKEN"},
    });
    let paths = document["paths"]
        .as_object_mut()
        .expect("the document has paths");
    for (path, item) in paths.iter_mut() {
        let caller = caller_of(path);
        for method in METHODS {
            if let Some(operation) = item.get_mut(method) {
                complete_operation(caller, operation);
            }
        }
    }
    document
}

fn complete_operation(caller: Caller, operation: &mut Value) {
    match caller {
        Caller::Tenant | Caller::Login => {
            require_tenant_header(operation);
            if caller == Caller::Tenant {
                operation["security"] = json!([{"tenant_jwt": []}]);
            }
        }
        Caller::Operator => operation["security"] = json!([{"operator_token": []}]),
        Caller::Public => {}
    }
    let answers = shared_answers(caller, operation);
    let responses = operation["responses"]
        .as_object_mut()
        .expect("every operation documents its responses");
    for (status, code) in answers {
        let response = responses
            .entry(status.to_string())
            .or_insert_with(|| json!({"description": ""}));
        let description = response["description"].as_str().unwrap_or_default();
        if !description
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|word| word == code)
        {
            let joined = if description.is_empty() {
                code.to_owned()
            } else {
                format!("{description}; {code}")
            };
            response["description"] = Value::String(joined);
        }
    }
    for (status, response) in responses.iter_mut() {
        complete_response(status, response);
    }
}

/// `x-tenant-id` on every tenant route, required: without it, 400 `missing_tenant`.
fn require_tenant_header(operation: &mut Value) {
    let parameters = operation
        .as_object_mut()
        .expect("an operation is an object")
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .expect("parameters are a list");
    parameters.retain(|p| {
        !(p["in"] == "header"
            && p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("x-tenant-id")))
    });
    parameters.insert(
        0,
        json!({"name": "x-tenant-id", "in": "header", "required": true,
               "description": "the tenant: 1..63 of a-z, 0-9 and _, starting with a letter",
               "schema": {"type": "string"}}),
    );
}

/// What every answer's `traceparent` looks like (version `00`, lowercase hex).
const TRACEPARENT_PATTERN: &str = "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$";

fn complete_response(status: &str, response: &mut Value) {
    let response = response.as_object_mut().expect("a response is an object");
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Map::new()));
    headers["x-request-id"] = json!({"description": "this request's id, also in the logs",
                                     "required": true, "schema": {"type": "string"}});
    headers["traceparent"] = json!({"description": "W3C trace context: the caller's trace (or a new one), this hop's span",
                                    "required": true, "schema": {"type": "string", "pattern": TRACEPARENT_PATTERN}});
    if status == "429" || status == "503" {
        headers["Retry-After"] = json!({"description": "seconds to wait before trying again",
                                        "required": true, "schema": {"type": "integer", "minimum": 0}});
    }
    if status.starts_with('4') || status.starts_with('5') {
        response.insert(
            "content".to_owned(),
            json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}),
        );
    }
}

/// The document of everything the routers hold, plus the public routes.
pub(crate) fn base() -> OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document_of(paths: Value) -> OpenApi {
        serde_json::from_value(json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
        }))
        .unwrap()
    }

    fn statuses(operation: &Value) -> Vec<&str> {
        operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn a_tenant_route_with_a_json_body_documents_every_shared_answer_in_the_envelope() {
        let document = complete(document_of(json!({"/products/{id}/stock": {"post": {
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": {"description": "the product"},
                          "409": {"description": "insufficient_stock"}},
        }}})));
        let operation = &document["paths"]["/products/{id}/stock"]["post"];
        assert_eq!(
            statuses(operation),
            [
                "200", "400", "401", "403", "404", "409", "413", "415", "422", "429", "503"
            ]
        );
        let bad_request = operation["responses"]["400"]["description"]
            .as_str()
            .unwrap();
        for code in ["missing_tenant", "invalid_tenant", "invalid_json"] {
            assert!(bad_request.contains(code), "{bad_request}");
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert_eq!(
                response["headers"]["x-request-id"]["required"], true,
                "{status}"
            );
            assert_eq!(
                response["headers"]["traceparent"]["required"], true,
                "{status}"
            );
            if status.as_str() >= "400" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{status}"
                );
            } else {
                assert!(response.get("content").is_none(), "{status}");
            }
        }
        for status in ["429", "503"] {
            assert_eq!(
                operation["responses"][status]["headers"]["Retry-After"]["required"],
                true
            );
        }
        assert_eq!(operation["parameters"][0]["name"], "x-tenant-id");
        assert_eq!(operation["parameters"][0]["required"], true);
        assert_eq!(operation["security"], json!([{"tenant_jwt": []}]));
    }

    #[test]
    fn login_operator_and_public_routes_document_only_the_answers_they_can_give() {
        let document = complete(document_of(json!({
            "/auth/login": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "a token"}}}},
            "/admin/tenants/{id}/import": {"post": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "rows added"}}}},
            "/health": {"get": {"responses": {"200": {"description": "ok"}}}},
        })));
        let login = &document["paths"]["/auth/login"]["post"];
        assert_eq!(
            statuses(login),
            [
                "200", "400", "401", "403", "404", "413", "415", "422", "429", "503"
            ]
        );
        assert!(login.get("security").is_none(), "login takes no token");
        let import = &document["paths"]["/admin/tenants/{id}/import"]["post"];
        // Not JSON: no size limit, 415 or invalid_json; the operator token, no tenant checks.
        assert_eq!(statuses(import), ["200", "401", "404", "503"]);
        assert_eq!(import["security"], json!([{"operator_token": []}]));
        assert_eq!(import["parameters"].as_array().unwrap().len(), 1);
        assert_eq!(statuses(&document["paths"]["/health"]["get"]), ["200"]);
    }
}
