//! Idempotency keys live 24 hours: a sweep pass deletes the older ones and keeps the rest.

use reqwest::Method;
use serde_json::json;
use tenancy::Strategy;

use crate::support::*;

async fn keys_left(app: &TestApp) -> Vec<String> {
    app.database()
        .owner()
        .await
        .query("SELECT key FROM idempotency_keys ORDER BY key", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn a_sweep_pass_deletes_keys_older_than_24_hours_only() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("key_expiry", Strategy::Shared).await;
    let product = app.create_product(&tenant, "sku-1", 100, 10).await;
    for key in ["aged-25h", "aged-23h", "new"] {
        let request = app
            .tenant_request(
                Method::POST,
                "/orders",
                &tenant.id,
                Some(&tenant.owner_token),
            )
            .header("idempotency-key", key)
            .json(&json!({"items": [{"product_id": product["id"], "quantity": 1}]}));
        app.send(request).await.assert_status(201);
    }
    let owner = app.database().owner().await;
    for (key, hours) in [("aged-25h", 25), ("aged-23h", 23)] {
        owner
            .execute(
                "UPDATE idempotency_keys SET created_at = now() - $2::int * interval '1 hour' \
                 WHERE key = $1",
                &[&key, &hours],
            )
            .await
            .unwrap();
    }

    let forgotten = orders::sweeper::forget_expired_idempotency_keys(&app.operator.system())
        .await
        .unwrap();

    assert_eq!(forgotten, 1);
    assert_eq!(keys_left(&app).await, ["aged-23h", "new"]);
}
