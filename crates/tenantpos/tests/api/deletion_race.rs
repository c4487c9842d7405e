//! Deletion wins over the tenant's requests still running (issue 9, item 1): nothing written by
//! a request of a deleted tenant exists afterwards, not even in a tenant created again under
//! the same id, under every strategy.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use rstest::rstest;
use serde_json::json;
use tenancy::db::naming;
use tenancy::{ErrorCode, Strategy, TenantId};
use uuid::Uuid;

use crate::support::redis_server::eventually;
use crate::support::*;

const TENANT: &str = "racing_shop";

/// The users of the tenant, as its (new) owner lists them.
async fn usernames(app: &TestApp, tenant: &TestTenant) -> Vec<String> {
    let answer = app.call(Method::GET, "/users", tenant, None).await;
    let mut names: Vec<String> = answer
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The old incarnation's users and tokens are worth nothing in the new one.
async fn assert_nothing_of_the_old_tenant_works(app: &TestApp, new: &TestTenant, old_token: &str) {
    assert_eq!(usernames(app, new).await, ["owner"]);
    for (username, password) in [
        ("parked", "user-password-1"),
        ("old_clerk", "user-password-1"),
    ] {
        app.send(
            app.tenant_request(Method::POST, "/auth/login", TENANT, None)
                .json(&json!({"username": username, "password": password})),
        )
        .await
        .assert_error(401, "invalid_credentials");
    }
    app.call_as(Method::GET, "/products", TENANT, old_token, None)
        .await
        .assert_error(401, "invalid_token");
}

/// A register that passed checks 1–9 and hashed its password waits at the tenant's gate
/// (held here as a move holds it) while the tenant is deleted and created again as fast as
/// the deletion lets it: the register must not land in the new tenant. It answers 503 (a
/// tenant database's drop may let it commit in the database going away first: see below).
#[rstest]
#[tokio::test]
async fn a_write_waiting_at_the_gate_during_a_deletion_never_lands_in_the_tenant_made_again(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let tenant = app.create_tenant(TENANT, strategy).await;
    let (_, old_token) = app.user_with_role(&tenant, "old_clerk", "cashier").await;

    // The gate lives in the main database, or in the tenant's own.
    let gate_database = match strategy {
        Strategy::Database => {
            naming::tenant_database_name(&app.database().name, &TenantId::parse(TENANT).unwrap())
        }
        _ => app.database().name.clone(),
    };
    let (gate, connection) =
        tokio_postgres::connect(&owner_url(&gate_database), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    gate.execute(
        "SELECT pg_advisory_lock(hashtext('tenantpos-tenant:' || $1 || ':' || $2))",
        &[&TENANT, &strategy.as_str()],
    )
    .await
    .unwrap();

    let register = app.call(
        Method::POST,
        "/auth/register",
        &tenant,
        Some(json!({"username": "parked", "password": "user-password-1", "role": "cashier"})),
    );
    let delete_and_create_again = async {
        let observer = app.database().owner().await;
        eventually(
            "the register waits at the gate",
            Duration::from_secs(10),
            || async {
                observer
                    .query_one(
                        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                     WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1",
                        &[&gate_database],
                    )
                    .await
                    .unwrap()
                    .get::<_, i64>(0)
                    > 0
            },
        )
        .await;
        let deletion = app.send(app.admin(Method::DELETE, &format!("/admin/tenants/{TENANT}")));
        tokio::pin!(deletion);
        // A deletion that does not wait for the gate is over by itself (a tenant database's
        // drop ends the sessions waiting in it, however long it takes on a busy server); then
        // the tenant is made again before the register goes on. One that waits is let through
        // by opening it.
        let patience = match strategy {
            Strategy::Database => Duration::from_secs(30),
            _ => Duration::from_secs(1),
        };
        let early = tokio::select! {
            answer = &mut deletion => Some(answer),
            () = tokio::time::sleep(patience) => None,
        };
        match early {
            Some(answer) => {
                answer.assert_status(204);
                // Made again without logging in: a login would wait at the gate too.
                app.send(app.admin(Method::POST, "/admin/tenants").json(&json!({
                    "id": TENANT, "name": "Racing", "business_type": "retail",
                    "strategy": strategy,
                    "owner": {"username": "owner", "password": OWNER_PASSWORD},
                })))
                .await
                .assert_status(201);
                drop(gate);
            }
            None => {
                drop(gate);
                deletion.await.assert_status(204);
                app.send(app.admin(Method::POST, "/admin/tenants").json(&json!({
                    "id": TENANT, "name": "Racing", "business_type": "retail",
                    "strategy": strategy,
                    "owner": {"username": "owner", "password": OWNER_PASSWORD},
                })))
                .await
                .assert_status(201);
            }
        }
    };
    let (registered, ()) = tokio::join!(register, delete_and_create_again);
    let new = TestTenant {
        id: TENANT.to_owned(),
        owner_token: app.login(TENANT, "owner", OWNER_PASSWORD).await,
    };

    match (strategy, registered.status.as_u16()) {
        // PostgreSQL ends the sessions of a database it drops one signal at a time: on a busy
        // server the gate's holder can end, and hand the lock to the waiting write, before the
        // write's own session is signalled, so the write may commit in the database being
        // dropped, and go with it. The contract holds either way (API.md §8: whatever the
        // tenant's requests wrote during the deletion is gone): nothing of it is found below.
        (Strategy::Database, 201) => {}
        _ => {
            registered.assert_error(503, "unavailable");
            assert!(registered.headers.contains_key("retry-after"));
        }
    }
    assert_nothing_of_the_old_tenant_works(&app, &new, &old_token).await;
}

/// A request resolved before the deletion (its context holds the old incarnation, as a
/// process whose cache still holds the tenant, or a request that was hashing a password, would)
/// opens its transaction after the id was created again: the gate refuses it.
#[rstest]
#[tokio::test]
async fn a_context_of_the_deleted_incarnation_cannot_write_into_the_tenant_made_again(
    #[values(Strategy::Shared, Strategy::Schema, Strategy::Database)] strategy: Strategy,
) {
    let app = spawn_app().await;
    let id = TenantId::parse(TENANT).unwrap();
    let tenant = app.create_tenant(TENANT, strategy).await;
    let (_, old_token) = app.user_with_role(&tenant, "old_clerk", "cashier").await;
    let resolved_before = app.tenancy.catalog.get(&id).await.unwrap().unwrap();

    app.send(app.admin(Method::DELETE, &format!("/admin/tenants/{TENANT}")))
        .await
        .assert_status(204);
    let new = app.create_tenant(TENANT, strategy).await;

    let scope = app.operator.scope(Arc::new(resolved_before));
    let context = app.operator.system_context(&scope);
    let written = async {
        let tx = app.tenancy.db.begin(&context).await?;
        tx.execute(
            "INSERT INTO users (tenant_id, id, username, password_hash, role) \
             VALUES ($1, $2, 'parked', 'not-a-hash', 'owner')",
            &[&tx.tenant_id(), &Uuid::now_v7()],
        )
        .await?;
        tx.commit().await?;
        Ok::<_, tenancy::ApiError>(())
    }
    .await;
    let refused = written.expect_err("a context of the deleted incarnation wrote");
    assert_eq!(refused.code, ErrorCode::Unavailable, "{refused}");
    assert!(refused.retry_after_seconds.is_some());
    assert_nothing_of_the_old_tenant_works(&app, &new, &old_token).await;
}
