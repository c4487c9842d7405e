//! W3C `traceparent` across a split deployment (real `tenantpos serve` processes): the trace a
//! client sends is continued by the process it calls and by the process that one calls in turn;
//! both name its id on their log lines, and every answer carries a `traceparent` of that trace
//! with a span id of its own. A malformed `traceparent` starts a new trace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::process::{login_at, serve_logging_to};
use crate::support::redis_server::eventually;
use crate::support::*;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The log lines that name the trace `trace_id`, anywhere in the line.
fn lines_naming(log: &Path, trace_id: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| names_trace(line, trace_id))
        .collect()
}

fn names_trace(value: &Value, trace_id: &str) -> bool {
    match value {
        Value::Object(fields) => fields.iter().any(|(name, field)| {
            (name == "trace_id" && field == trace_id) || names_trace(field, trace_id)
        }),
        Value::Array(items) => items.iter().any(|item| names_trace(item, trace_id)),
        _ => false,
    }
}

/// The fields of a `traceparent` answer header: version, trace id, span id, flags.
fn traceparent_of(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let value = headers
        .get("traceparent")
        .expect("every answer carries a traceparent")
        .to_str()
        .unwrap();
    let fields: Vec<String> = value.split('-').map(str::to_owned).collect();
    assert_eq!(fields.len(), 4, "{value}");
    assert_eq!(fields[0], "00", "{value}");
    assert_eq!(fields[1].len(), 32, "{value}");
    assert_eq!(fields[2].len(), 16, "{value}");
    assert_eq!(fields[3].len(), 2, "{value}");
    for field in &fields {
        assert!(
            field
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{value}"
        );
    }
    assert_ne!(fields[1], "0".repeat(32), "{value}");
    assert_ne!(fields[2], "0".repeat(16), "{value}");
    fields
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "tenantpos-trace-{name}-{}.log",
        uuid::Uuid::new_v4().simple()
    ))
}

#[tokio::test]
async fn one_traceparent_is_continued_by_both_processes_of_a_split_deployment() {
    let database = TestDatabase::create().await;
    let (stock_log, front_log) = (log_path("stock"), log_path("front"));
    // Request spans' lines: the HTTP layer's at debug.
    let logging = || ("TENANTPOS_LOG", "info,tenantpos=debug".to_owned());
    let json_logs = || ("TENANTPOS_LOG_FORMAT", "json".to_owned());
    let stock_side = serve_logging_to(
        &database,
        "inventory,payments",
        &[logging(), json_logs()],
        &stock_log,
    )
    .await;
    let front = serve_logging_to(
        &database,
        "auth,orders,dashboard,admin",
        &[
            ("TENANTPOS_INVENTORY_URL", stock_side.base.clone()),
            ("TENANTPOS_PAYMENTS_URL", stock_side.base.clone()),
            logging(),
            json_logs(),
        ],
        &front_log,
    )
    .await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/admin/tenants", front.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "id": "traced_shop", "name": "Traced", "business_type": "retail",
            "strategy": "shared", "owner": {"username": "owner", "password": OWNER_PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let token = login_at(&client, &front.base, "traced_shop", "owner", OWNER_PASSWORD).await;
    let product: Value = client
        .post(format!("{}/products", stock_side.base))
        .header("x-tenant-id", "traced_shop")
        .bearer_auth(&token)
        .json(&json!({"sku": "T", "name": "Traced", "price": 500, "stock": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // One traceparent in, at the front; the placement calls the stock side.
    let placed = client
        .post(format!("{}/orders", front.base))
        .header("x-tenant-id", "traced_shop")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .bearer_auth(&token)
        .json(&json!({
            "items": [{"product_id": product["id"], "quantity": 1}],
            "payment": {"method": "card", "card_token": "tok_visa"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let answered = traceparent_of(placed.headers());
    assert_eq!(
        answered[1], TRACE_ID,
        "the answer continues the caller's trace"
    );
    assert_ne!(answered[2], CALLER_SPAN, "with a span of its own");
    assert_eq!(answered[3], "01", "the caller's sampling decision is kept");

    // The same trace id on log lines of both processes.
    eventually(
        "both processes log lines naming the trace",
        Duration::from_secs(5),
        || async {
            !lines_naming(&front_log, TRACE_ID).is_empty()
                && !lines_naming(&stock_log, TRACE_ID).is_empty()
        },
    )
    .await;
    // Next to the request's id and its tenant.
    let front_lines = lines_naming(&front_log, TRACE_ID);
    assert!(
        front_lines.iter().any(|line| {
            line["span"]["tenant_id"] == "traced_shop"
                && line["span"]["request_id"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty())
        }),
        "{front_lines:?}"
    );
    // The stock side's lines of the trace are those of the calls the placement made to it.
    let stock_lines = lines_naming(&stock_log, TRACE_ID);
    assert!(
        stock_lines
            .iter()
            .any(|line| line.to_string().contains("/internal/")),
        "{stock_lines:?}"
    );

    // Another request, without a traceparent, is another trace, in the log too.
    let untraced = client
        .get(format!("{}/orders", front.base))
        .header("x-tenant-id", "traced_shop")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let started = traceparent_of(untraced.headers());
    assert_ne!(started[1], TRACE_ID);
    eventually(
        "the new trace is logged",
        Duration::from_secs(5),
        || async { !lines_naming(&front_log, &started[1]).is_empty() },
    )
    .await;
    assert!(lines_naming(&stock_log, &started[1]).is_empty());

    let _ = std::fs::remove_file(&stock_log);
    let _ = std::fs::remove_file(&front_log);
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace_and_every_answer_carries_one() {
    let app = spawn_app().await;
    let valid = format!("00-{TRACE_ID}-{CALLER_SPAN}-00");
    let continued = app
        .send(
            app.client
                .get(app.url("/health"))
                .header("traceparent", &valid),
        )
        .await;
    let fields = traceparent_of(&continued.headers);
    assert_eq!(fields[1], TRACE_ID);
    assert_eq!(fields[3], "00");

    for malformed in [
        format!("00-{TRACE_ID}-{CALLER_SPAN}"),
        format!("00-{}-{CALLER_SPAN}-01", "0".repeat(32)),
        format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
        format!("00-{}-{CALLER_SPAN}-01", TRACE_ID.to_uppercase()),
        format!("ff-{TRACE_ID}-{CALLER_SPAN}-01"),
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01-more"),
        "not a traceparent".to_owned(),
    ] {
        let answer = app
            .send(
                app.client
                    .get(app.url("/health"))
                    .header("traceparent", &malformed),
            )
            .await;
        let fields = traceparent_of(&answer.headers);
        assert_ne!(fields[1], TRACE_ID, "{malformed}: a new trace");
    }

    // Error answers carry one too: an unknown route, a wrong method, a missing tenant.
    let unknown = app
        .send(
            app.client
                .get(app.url("/no/such/route"))
                .header("traceparent", &valid),
        )
        .await;
    unknown.assert_error(404, "not_found");
    assert_eq!(traceparent_of(&unknown.headers)[1], TRACE_ID);
    let wrong_method = app.send(app.client.delete(app.url("/health"))).await;
    wrong_method.assert_error(405, "method_not_allowed");
    traceparent_of(&wrong_method.headers);
    let no_tenant = app.send(app.client.get(app.url("/products"))).await;
    no_tenant.assert_error(400, "missing_tenant");
    traceparent_of(&no_tenant.headers);
    // Two answers without a traceparent are two traces.
    let first = traceparent_of(&wrong_method.headers)[1].clone();
    assert_ne!(first, traceparent_of(&no_tenant.headers)[1]);
}
