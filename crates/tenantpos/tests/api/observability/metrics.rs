//! `GET /metrics` (API.md §3): the Prometheus text format, read with a real parser
//! (`prometheus-parse`); counters that move by exactly the requests made; labels that stay
//! bounded (route templates, never a tenant id, a user id or a raw path) after traffic from
//! many tenants. The recorder is the process's: under nextest each test is a process of its
//! own and the counts are exact; under `cargo test` the tests share one (`exact_counts`).

use std::collections::{BTreeSet, HashMap, HashSet};

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{PrometheusType, PrometheusValue};
use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;
use uuid::Uuid;

use crate::orders::order;
use crate::support::*;

/// Every series API.md §3 names.
const CONTRACT_SERIES: [&str; 9] = [
    "tenantpos_http_requests_total",
    "tenantpos_http_request_duration_seconds",
    "tenantpos_db_connections",
    "tenantpos_db_connection_wait_seconds",
    "tenantpos_cache_lookups_total",
    "tenantpos_rate_limited_total",
    "tenantpos_tenant_mismatch_total",
    "tenantpos_orders_placed_total",
    "tenantpos_tenants",
];

/// Whether this test is the only one of its process (nextest), so that the process's recorder
/// counts its requests alone. Under `cargo test` other tests' requests may add to a count, so a
/// count is only known to be at least the test's own.
fn exact_counts() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test")
}

/// `counted` is `expected` (at least `expected` when other tests may share the recorder).
fn assert_counted(counted: f64, expected: f64, what: &str) {
    if exact_counts() {
        assert_eq!(counted, expected, "{what}");
    } else {
        assert!(counted >= expected, "{what}: {counted} < {expected}");
    }
}

/// One sample as the parser read it.
#[derive(Debug)]
struct Series {
    metric: String,
    labels: HashMap<String, String>,
    /// A counter's or gauge's value; a histogram's count.
    value: f64,
    /// A histogram's cumulative buckets (upper bound, count).
    buckets: Option<Vec<(f64, f64)>>,
}

/// One scrape: the text as served and what the parser made of it.
pub(super) struct Metrics {
    pub(super) text: String,
    pub(super) families: HashMap<String, (PrometheusType, String)>,
    series: Vec<Series>,
}

impl Metrics {
    /// The series of `metric` whose labels include every pair of `labels`.
    fn matching<'a>(
        &'a self,
        metric: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Series> + 'a {
        self.series.iter().filter(move |series| {
            series.metric == metric
                && labels.iter().all(|(name, value)| {
                    series.labels.get(*name).map(String::as_str) == Some(*value)
                })
        })
    }

    /// The sum of the values of `metric` matching `labels` (0 if none).
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(metric, labels)
            .map(|series| series.value)
            .sum()
    }
}

/// Scrapes `/metrics` and reads it with a parser of the Prometheus text format, which refuses
/// anything the format does not allow.
pub(super) async fn scrape(app: &TestApp) -> Metrics {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(response.headers().contains_key("x-request-id"));
    let text = response.text().await.unwrap();
    let exposition = parse_prometheus(&text)
        .unwrap_or_else(|error| panic!("not the Prometheus text format: {error:?}\n{text}"));
    let mut families = HashMap::new();
    let mut series = Vec::new();
    for (name, family) in &exposition.families {
        families.insert(
            name.clone(),
            (family.family_type.clone(), family.help.clone()),
        );
        for sample in family.iter_samples() {
            let labels = sample
                .get_labelset()
                .unwrap()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            let (value, buckets) = match &sample.value {
                PrometheusValue::Counter(counter) => (counter.value.as_f64(), None),
                PrometheusValue::Gauge(number) | PrometheusValue::Unknown(number) => {
                    (number.as_f64(), None)
                }
                PrometheusValue::Histogram(histogram) => (
                    histogram.count.expect("a histogram has its count") as f64,
                    Some(
                        histogram
                            .buckets
                            .iter()
                            .map(|bucket| (bucket.upper_bound, bucket.count.as_f64()))
                            .collect(),
                    ),
                ),
                PrometheusValue::Summary(_) => panic!("{name} is a summary, not a histogram"),
            };
            series.push(Series {
                metric: name.clone(),
                labels,
                value,
                buckets,
            });
        }
    }
    Metrics {
        text,
        families,
        series,
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_name_every_series_of_the_contract() {
    let app = spawn_app().await;
    let shared = app.create_tenant("obs_metrics_a", Strategy::Shared).await;
    app.create_tenant("obs_metrics_b", Strategy::Schema).await;
    app.call(Method::GET, "/products", &shared, None)
        .await
        .assert_status(200);

    let metrics = scrape(&app).await;
    for series in CONTRACT_SERIES {
        assert!(
            metrics.series.iter().any(|s| s.metric == series),
            "no sample of {series}:\n{}",
            metrics.text
        );
        let (_, help) = &metrics.families[series];
        assert!(!help.is_empty(), "{series} has no HELP");
    }
    for histogram in [
        "tenantpos_http_request_duration_seconds",
        "tenantpos_db_connection_wait_seconds",
    ] {
        assert_eq!(metrics.families[histogram].0, PrometheusType::Histogram);
        assert!(
            metrics
                .matching(histogram, &[])
                .all(|s| s.buckets.as_ref().is_some_and(|buckets| buckets.len() > 5)),
            "{histogram} has buckets"
        );
    }
    assert_eq!(
        metrics.families["tenantpos_http_requests_total"].0,
        PrometheusType::Counter
    );
    assert_eq!(
        metrics.families["tenantpos_db_connections"].0,
        PrometheusType::Gauge
    );
    let listed = [
        ("service", "inventory"),
        ("route", "/products"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert_counted(
        metrics.value("tenantpos_http_requests_total", &listed),
        1.0,
        "the listing",
    );
    // The pools, per cluster and state, from the pool manager: the request above used and
    // gave back a connection of the main database.
    for state in ["idle", "in_use"] {
        assert_eq!(
            metrics
                .matching(
                    "tenantpos_db_connections",
                    &[("cluster", "default"), ("state", state)]
                )
                .count(),
            1,
            "{state}"
        );
    }
    assert!(
        metrics.value(
            "tenantpos_db_connections",
            &[("cluster", "default"), ("state", "idle")]
        ) >= 1.0
    );
    // The catalog, by strategy and status.
    for (strategy, count) in [("shared", 1.0), ("schema", 1.0), ("database", 0.0)] {
        if !exact_counts() {
            // Another test's app may have set the gauge from its own catalog meanwhile.
            break;
        }
        assert_eq!(
            metrics.value(
                "tenantpos_tenants",
                &[("strategy", strategy), ("status", "active")]
            ),
            count,
            "{strategy}"
        );
    }
}

#[tokio::test]
async fn counters_move_by_exactly_the_requests_made() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("obs_counted", Strategy::Shared).await;
    let other = app.create_tenant("obs_other", Strategy::Shared).await;
    let product = app.create_product(&tenant, "OBS-1", 250, 3).await;
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());
    let before = scrape(&app).await;

    for _ in 0..3 {
        app.call(Method::GET, &product_path, &tenant, None)
            .await
            .assert_status(200);
    }
    let missing = format!("/products/{}", Uuid::now_v7());
    app.call(Method::GET, &missing, &tenant, None)
        .await
        .assert_error(404, "not_found");
    let unknown_path = format!("/no-such-route/{}", Uuid::now_v7());
    app.send(app.client.get(app.url(&unknown_path)))
        .await
        .assert_error(404, "not_found");
    // The other tenant's token with this tenant's header.
    app.call_as(
        Method::GET,
        "/products",
        &tenant.id,
        &other.owner_token,
        None,
    )
    .await
    .assert_error(403, "tenant_mismatch");
    order(&app, &tenant, &[(&product, 1)], None)
        .await
        .assert_status(201);
    order(&app, &tenant, &[(&product, 50)], None)
        .await
        .assert_error(409, "insufficient_stock");
    let after = scrape(&app).await;

    let moved = |metric: &str, labels: &[(&str, &str)]| {
        after.value(metric, labels) - before.value(metric, labels)
    };
    let product_reads = [
        ("service", "inventory"),
        ("route", "/products/{id}"),
        ("method", "GET"),
    ];
    assert_counted(
        moved(
            "tenantpos_http_requests_total",
            &[product_reads.as_slice(), &[("status", "200")]].concat(),
        ),
        3.0,
        "product reads",
    );
    assert_counted(
        moved(
            "tenantpos_http_requests_total",
            &[product_reads.as_slice(), &[("status", "404")]].concat(),
        ),
        1.0,
        "missing products",
    );
    assert_counted(
        moved(
            "tenantpos_http_requests_total",
            &[("route", "unmatched"), ("status", "404")],
        ),
        1.0,
        "unknown paths",
    );
    assert!(
        !after.text.contains("no-such-route"),
        "a raw path became a label"
    );
    assert_counted(
        moved("tenantpos_tenant_mismatch_total", &[]),
        1.0,
        "mismatches",
    );
    assert_counted(
        moved("tenantpos_orders_placed_total", &[("outcome", "placed")]),
        1.0,
        "placed",
    );
    assert_counted(
        moved(
            "tenantpos_orders_placed_total",
            &[("outcome", "insufficient_stock")],
        ),
        1.0,
        "insufficient stock",
    );
    assert_counted(
        moved("tenantpos_orders_placed_total", &[("outcome", "failed")]),
        0.0,
        "failed",
    );
    assert!(moved("tenantpos_cache_lookups_total", &[("layer", "local")]) >= 4.0);
    // Every transaction waited (if only a little) for its connection, and was measured.
    assert!(moved("tenantpos_db_connection_wait_seconds", &[]) >= 4.0);
    let durations = |metrics: &Metrics| {
        metrics
            .matching("tenantpos_http_request_duration_seconds", &product_reads)
            .next()
            .map_or((0.0, 0.0), |series| {
                let buckets = series.buckets.as_ref().unwrap();
                let (bound, in_all) = *buckets.last().unwrap();
                assert_eq!(bound, f64::INFINITY, "{buckets:?}");
                (series.value, in_all)
            })
    };
    let (count, in_all_buckets) = durations(&after);
    assert_eq!(count, in_all_buckets, "the +Inf bucket holds every request");
    assert_counted(
        count - durations(&before).0,
        4.0,
        "durations of the product reads",
    );
}

#[tokio::test]
async fn requests_refused_by_the_budget_are_counted() {
    let app = spawn_app_with(|settings| {
        settings.tenant_rate = std::num::NonZeroU32::new(1).unwrap();
    })
    .await;
    let tenant = app.create_tenant("obs_limited", Strategy::Shared).await;
    let before = scrape(&app).await;
    let answers = futures::future::join_all(
        (0..12).map(|_| app.call(Method::GET, "/products", &tenant, None)),
    )
    .await;
    let refused = answers.iter().filter(|a| a.status == 429).count() as f64;
    let served = answers.iter().filter(|a| a.status == 200).count() as f64;
    assert!(refused >= 1.0, "a burst of 2 refuses some of 12");
    assert_eq!(refused + served, 12.0);
    let after = scrape(&app).await;
    let moved = |metric: &str, labels: &[(&str, &str)]| {
        after.value(metric, labels) - before.value(metric, labels)
    };
    assert_counted(
        moved("tenantpos_rate_limited_total", &[]),
        refused,
        "refusals",
    );
    let refused_listings = [("route", "/products"), ("method", "GET"), ("status", "429")];
    assert_counted(
        moved("tenantpos_http_requests_total", &refused_listings),
        refused,
        "429 answers",
    );
}

/// Four tenant databases served in turn through a budget of two connections: each request
/// finds its database without one, closes the least recently used database's and opens its
/// own. The counter of the tenant databases' pool moves by exactly those, and PostgreSQL lists
/// as many new sessions of the app role (each lives, idle in its pool, at least until the next
/// request, so listing the sessions after each request sees every one).
#[tokio::test]
async fn connections_opened_are_counted_by_pool_as_postgresql_sees_them() {
    let app = spawn_app_with(|settings| {
        settings.max_connections = 7;
        assert_eq!(settings.connection_shares().tenant_databases, 2);
        // The sweepers pass every saga timeout / 4 and would open connections of their own
        // to the tenant databases: none passes during the test.
        settings.saga_timeout_ms = 3_600_000;
    })
    .await;
    let mut tenants = Vec::new();
    for n in 0..4 {
        let id = format!("obs_opened_{n}");
        tenants.push(app.create_tenant(&id, Strategy::Database).await);
    }
    let owner = app.database().owner().await;
    let app_sessions = || {
        app.database()
            .app_session_pids(&owner, AppSessionsIn::TenantDatabases)
    };
    // A first round leaves the last two databases holding the budget.
    for tenant in &tenants {
        app.call(Method::GET, "/products", tenant, None)
            .await
            .assert_status(200);
    }
    let sessions_before: HashSet<i32> = app_sessions().await.into_iter().collect();
    let before = scrape(&app).await;
    let mut new_sessions = HashSet::new();
    for tenant in tenants.iter().chain(&tenants) {
        app.call(Method::GET, "/products", tenant, None)
            .await
            .assert_status(200);
        new_sessions.extend(
            app_sessions()
                .await
                .into_iter()
                .filter(|pid| !sessions_before.contains(pid)),
        );
    }
    let after = scrape(&app).await;
    assert_eq!(new_sessions.len(), 8, "{new_sessions:?}");
    let opened = |pool: &str| {
        let labels = [("pool", pool)];
        after.value("tenantpos_db_connections_opened_total", &labels)
            - before.value("tenantpos_db_connections_opened_total", &labels)
    };
    assert_counted(
        opened("tenant_databases"),
        8.0,
        "tenant databases' connections",
    );
    for pool in ["owner", "shared", "schemas", "tenant_databases"] {
        let labels = [("pool", pool)];
        let series = after.matching("tenantpos_db_connections_opened_total", &labels);
        assert_eq!(series.count(), 1, "{pool}: one series");
    }
}

#[tokio::test]
async fn no_tenant_id_user_id_or_raw_path_appears_after_traffic_from_many_tenants() {
    let app = spawn_app().await;
    let mut tenants = Vec::new();
    let ids: Vec<String> = (0..24).map(|n| format!("obs_noisy_{n:02}")).collect();
    for batch in ids.chunks(6) {
        let created = futures::future::join_all(batch.iter().enumerate().map(|(n, id)| {
            let strategy = if n % 3 == 0 {
                Strategy::Schema
            } else {
                Strategy::Shared
            };
            app.create_tenant(id, strategy)
        }))
        .await;
        tenants.extend(created);
    }
    let mut secrets = BTreeSet::new();
    let traffic = tenants.iter().map(|tenant| {
        let app = &app;
        async move {
            let me = app.call(Method::GET, "/auth/me", tenant, None).await;
            let user = me.assert_status(200)["id"].as_str().unwrap().to_owned();
            let missing = Uuid::now_v7().to_string();
            app.call(Method::GET, &format!("/orders/{missing}"), tenant, None)
                .await
                .assert_error(404, "not_found");
            app.call(Method::GET, "/orders", tenant, None)
                .await
                .assert_status(200);
            app.call(
                Method::POST,
                "/products",
                tenant,
                Some(json!({"sku": "N-1", "name": "noisy", "price": 100, "stock": 1})),
            )
            .await
            .assert_status(201);
            vec![user, missing]
        }
    });
    for found in futures::future::join_all(traffic).await {
        secrets.extend(found);
    }
    // Ids no tenant has, and paths no route has.
    for n in 0..5 {
        app.send(app.tenant_request(Method::GET, "/orders", &format!("obs_ghost_{n}"), None))
            .await
            .assert_error(404, "tenant_not_found");
        app.send(app.client.get(app.url(&format!("/obs_scan_{n}/x"))))
            .await
            .assert_error(404, "not_found");
    }

    let metrics = scrape(&app).await;
    for forbidden in ["obs_noisy_", "obs_ghost_", "obs_scan_"] {
        assert!(
            !metrics.text.contains(forbidden),
            "{forbidden} appears in /metrics:\n{}",
            metrics.text
        );
    }
    for secret in &secrets {
        assert!(!metrics.text.contains(secret.as_str()), "{secret} appears");
    }
    // Every route label is a documented template (or one of the few fixed ones).
    let openapi = app
        .send(app.client.get(app.url("/openapi.json")))
        .await
        .body;
    let routes: BTreeSet<&str> = metrics
        .series
        .iter()
        .filter_map(|series| series.labels.get("route").map(String::as_str))
        .collect();
    for route in &routes {
        assert!(
            openapi["paths"].get(*route).is_some()
                || ["unmatched", "/openapi.json"].contains(route),
            "route label {route:?} is no route template"
        );
    }
    assert!(routes.contains("/orders/{id}"), "{routes:?}");
    // A handful of series, not one per tenant.
    let request_series = metrics
        .matching("tenantpos_http_requests_total", &[])
        .count();
    // (Under `cargo test`, the other tests' routes and statuses add theirs.)
    let most = if exact_counts() { 20 } else { 400 };
    assert!(
        request_series < most,
        "{request_series} series for 24 tenants"
    );
}
