//! `Server-Timing` on every answer: `db`, `cache` and `total`, in milliseconds, so that a
//! developer sees in the browser where a request's time went.

use reqwest::Method;
use tenancy::Strategy;

use crate::support::*;

/// The durations of a `Server-Timing` header, in its order: exactly `db`, `cache`, `total`,
/// each `name;dur=<milliseconds>`.
fn server_timing(answer: &Answer) -> [f64; 3] {
    let header = answer
        .headers
        .get("server-timing")
        .unwrap_or_else(|| panic!("no Server-Timing on a {} answer", answer.status))
        .to_str()
        .unwrap();
    let entries: Vec<(&str, f64)> = header
        .split(", ")
        .map(|entry| {
            let (name, duration) = entry
                .split_once(";dur=")
                .unwrap_or_else(|| panic!("malformed entry {entry:?} in {header:?}"));
            let duration: f64 = duration
                .parse()
                .unwrap_or_else(|_| panic!("malformed duration in {header:?}"));
            assert!(duration.is_finite() && duration >= 0.0, "{header:?}");
            (name, duration)
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["db", "cache", "total"], "{header:?}");
    let [db, cache, total] = [entries[0].1, entries[1].1, entries[2].1];
    assert!(
        total >= db + cache,
        "the parts fit in the whole: {header:?}"
    );
    [db, cache, total]
}

#[tokio::test]
async fn every_answer_carries_server_timing_with_database_time_on_a_database_route() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("obs_timing", Strategy::Schema).await;

    // A listing reads PostgreSQL (it is not cached), after the cache answered the user.
    let listing = app.call(Method::GET, "/orders", &tenant, None).await;
    listing.assert_status(200);
    let [db, _, total] = server_timing(&listing);
    assert!(db > 0.0, "a database route spent time in the database");
    assert!(total > db);

    // Answers that never reach PostgreSQL: no database time, and still the header.
    for answer in [
        app.send(app.client.get(app.url("/health"))).await,
        app.send(app.client.get(app.url("/no-such-route"))).await,
        app.send(app.client.request(Method::PUT, app.url("/products")))
            .await,
        app.send(app.tenant_request(Method::GET, "/orders", "", None))
            .await,
    ] {
        assert!(answer.status.as_u16() == 200 || answer.status.is_client_error());
        let [db, _, _] = server_timing(&answer);
        assert_eq!(db, 0.0, "{}", answer.status);
    }
    let error = app
        .send(app.tenant_request(Method::GET, "/orders", &tenant.id, None))
        .await;
    error.assert_error(401, "missing_token");
    server_timing(&error);
}
