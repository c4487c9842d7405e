//! The split deployment: real `tenantpos serve` processes over real HTTP. Inventory and
//! payments in one process; auth, orders, dashboard and admin in another. The order flow and
//! the isolation checks hold through it, and a call between services without the tenant, or
//! with another tenant's token, is refused by the receiving service.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::process::{Process, serve};
use crate::support::*;

struct Split {
    client: reqwest::Client,
    /// inventory, payments
    stock_side: Process,
    /// auth, orders, dashboard, admin
    front: Process,
}

impl Split {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    fn tenant(
        &self,
        process: &Process,
        method: Method,
        path: &str,
        tenant: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", process.base))
            .header("x-tenant-id", tenant)
            .bearer_auth(token)
    }

    async fn create_tenant(&self, id: &str, strategy: &str) -> String {
        let created = self
            .send(
                self.client
                    .post(format!("{}/admin/tenants", self.front.base))
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&json!({
                        "id": id, "name": id, "business_type": "retail", "strategy": strategy,
                        "owner": {"username": "owner", "password": OWNER_PASSWORD},
                    })),
            )
            .await;
        created.assert_status(201);
        let login = self
            .send(
                self.client
                    .post(format!("{}/auth/login", self.front.base))
                    .header("x-tenant-id", id)
                    .json(&json!({"username": "owner", "password": OWNER_PASSWORD})),
            )
            .await;
        login.assert_status(200)["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn the_order_flow_and_isolation_hold_across_processes() {
    let database = TestDatabase::create().await;
    let stock_side = serve(&database, "inventory,payments", &[]).await;
    let front = serve(
        &database,
        "auth,orders,dashboard,admin",
        &[
            ("TENANTPOS_INVENTORY_URL", stock_side.base.clone()),
            ("TENANTPOS_PAYMENTS_URL", stock_side.base.clone()),
        ],
    )
    .await;
    let split = Split {
        client: reqwest::Client::new(),
        stock_side,
        front,
    };
    let shop = split.create_tenant("split_shop", "shared").await;
    let rival = split.create_tenant("split_rival", "database").await;

    // Each process answers only its own services.
    split
        .send(split.tenant(&split.front, Method::GET, "/products", "split_shop", &shop))
        .await
        .assert_error(404, "not_found");
    split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            "/orders",
            "split_shop",
            &shop,
        ))
        .await
        .assert_error(404, "not_found");

    let product = split
        .send(
            split
                .tenant(
                    &split.stock_side,
                    Method::POST,
                    "/products",
                    "split_shop",
                    &shop,
                )
                .json(&json!({"sku": "S", "name": "Split", "price": 1000, "stock": 5})),
        )
        .await
        .assert_status(201)
        .clone();
    let rival_product = split
        .send(
            split
                .tenant(
                    &split.stock_side,
                    Method::POST,
                    "/products",
                    "split_rival",
                    &rival,
                )
                .json(&json!({"sku": "S", "name": "Rival", "price": 7, "stock": 5})),
        )
        .await
        .assert_status(201)
        .clone();
    let product_path = format!("/products/{}", product["id"].as_str().unwrap());

    // The order flow: placed in one process, stock and payment in the other.
    let placed = split
        .send(
            split
                .tenant(&split.front, Method::POST, "/orders", "split_shop", &shop)
                .json(&json!({
                    "items": [{"product_id": product["id"], "quantity": 2}],
                    "payment": {"method": "card", "card_token": "tok_visa"},
                })),
        )
        .await
        .assert_status(201)
        .clone();
    assert_eq!(placed["total_amount"], 2000);
    assert_eq!(placed["order_number"], "ORD-000001");
    let stock = split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            &product_path,
            "split_shop",
            &shop,
        ))
        .await;
    assert_eq!(stock.assert_status(200)["stock"], 3);
    let payments = split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            "/payments",
            "split_shop",
            &shop,
        ))
        .await;
    assert_eq!(payments.assert_status(200)[0]["order_id"], placed["id"]);

    // Every saga failure leaves nothing, across processes too.
    for (items, payment, status, code) in [
        (
            json!([{"product_id": product["id"], "quantity": 4}]),
            Value::Null,
            409,
            "insufficient_stock",
        ),
        (
            json!([{"product_id": product["id"], "quantity": 1}]),
            json!({"method": "card", "card_token": "tok_decline"}),
            402,
            "payment_declined",
        ),
        (
            json!([{"product_id": rival_product["id"], "quantity": 1}]),
            Value::Null,
            422,
            "unknown_product",
        ),
    ] {
        let mut body = json!({"items": items});
        if !payment.is_null() {
            body["payment"] = payment;
        }
        let answer = split
            .send(
                split
                    .tenant(&split.front, Method::POST, "/orders", "split_shop", &shop)
                    .json(&body),
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.code()),
            (status, code),
            "{:?}",
            answer.body
        );
    }
    let stock = split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            &product_path,
            "split_shop",
            &shop,
        ))
        .await;
    assert_eq!(stock.body["stock"], 3);
    let rival_stock = split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            &format!("/products/{}", rival_product["id"].as_str().unwrap()),
            "split_rival",
            &rival,
        ))
        .await;
    assert_eq!(rival_stock.body["stock"], 5);

    // The dashboard, built on the clients over HTTP, shows this tenant's numbers only.
    let summary = split
        .send(split.tenant(
            &split.front,
            Method::GET,
            "/dashboard/summary",
            "split_shop",
            &shop,
        ))
        .await;
    let summary = summary.assert_status(200);
    assert_eq!(summary["orders"]["count"], 1);
    assert_eq!(summary["orders"]["revenue"], 2000);
    assert_eq!(summary["payments"]["by_method"]["card"], 2000);
    assert_eq!(summary["inventory"]["product_count"], 1);
    let rival_summary = split
        .send(split.tenant(
            &split.front,
            Method::GET,
            "/dashboard/summary",
            "split_rival",
            &rival,
        ))
        .await;
    assert_eq!(rival_summary.assert_status(200)["orders"]["count"], 0);
    assert_eq!(rival_summary.body["payments"]["total"], 0);

    // A refund crosses both processes.
    let refund = format!("/orders/{}/refund", placed["id"].as_str().unwrap());
    let refunded = split
        .send(split.tenant(&split.front, Method::POST, &refund, "split_shop", &shop))
        .await;
    assert_eq!(refunded.assert_status(200)["status"], "refunded");
    let stock = split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            &product_path,
            "split_shop",
            &shop,
        ))
        .await;
    assert_eq!(stock.body["stock"], 5);

    // Isolation through both processes: another tenant's token is a mismatch, its objects do not exist.
    for (process, path) in [
        (&split.front, "/orders"),
        (&split.stock_side, "/products"),
        (&split.stock_side, "/payments"),
    ] {
        split
            .send(split.tenant(process, Method::GET, path, "split_shop", &rival))
            .await
            .assert_error(403, "tenant_mismatch");
    }
    split
        .send(split.tenant(
            &split.stock_side,
            Method::GET,
            &product_path,
            "split_rival",
            &rival,
        ))
        .await
        .assert_error(404, "not_found");
    split
        .send(split.tenant(
            &split.front,
            Method::GET,
            &format!("/orders/{}", placed["id"].as_str().unwrap()),
            "split_rival",
            &rival,
        ))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_service_call_without_the_tenant_or_with_another_tenants_token_is_refused() {
    let database = TestDatabase::create().await;
    let stock_side = serve(&database, "inventory,payments,admin", &[]).await;
    let split = Split {
        client: reqwest::Client::new(),
        front: serve(&database, "auth,admin", &[]).await,
        stock_side,
    };
    let shop = split.create_tenant("call_shop", "schema").await;
    let rival = split.create_tenant("call_rival", "shared").await;
    let service_token = crate::service_tokens::service_token("dashboard", "call_shop", "inventory");
    let summary = format!("{}/internal/inventory/summary", split.stock_side.base);

    // With the service token and the user's own token: the call goes through.
    let allowed = split
        .send(
            split
                .client
                .get(&summary)
                .header("x-service-token", &service_token)
                .header("x-tenant-id", "call_shop")
                .bearer_auth(&shop),
        )
        .await;
    assert_eq!(allowed.assert_status(200)["product_count"], 0);
    // Without the tenant: refused before anything else.
    split
        .send(
            split
                .client
                .get(&summary)
                .header("x-service-token", &service_token)
                .bearer_auth(&shop),
        )
        .await
        .assert_error(400, "missing_tenant");
    // With another tenant's token: the receiving service checks the claim again.
    split
        .send(
            split
                .client
                .get(&summary)
                .header("x-service-token", &service_token)
                .header("x-tenant-id", "call_shop")
                .bearer_auth(&rival),
        )
        .await
        .assert_error(403, "tenant_mismatch");
    // With a cashier's token on an owner-or-manager call: the role is checked again.
    split
        .send(
            split
                .tenant(
                    &split.front,
                    Method::POST,
                    "/auth/register",
                    "call_shop",
                    &shop,
                )
                .json(
                    &json!({"username": "till", "password": "till-password-1", "role": "cashier"}),
                ),
        )
        .await
        .assert_status(201);
    let cashier = split
        .send(
            split
                .client
                .post(format!("{}/auth/login", split.front.base))
                .header("x-tenant-id", "call_shop")
                .json(&json!({"username": "till", "password": "till-password-1"})),
        )
        .await
        .assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    split
        .send(
            split
                .client
                .get(&summary)
                .header("x-service-token", &service_token)
                .header("x-tenant-id", "call_shop")
                .bearer_auth(&cashier),
        )
        .await
        .assert_error(403, "forbidden");
    // Without the service token (a user calling an internal route): it does not exist.
    split
        .send(
            split
                .client
                .get(&summary)
                .header("x-tenant-id", "call_shop")
                .bearer_auth(&shop),
        )
        .await
        .assert_error(404, "not_found");
    split
        .send(
            split
                .client
                .get(&summary)
                .header("x-service-token", "0".repeat(64))
                .header("x-tenant-id", "call_shop")
                .bearer_auth(&shop),
        )
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_process_that_serves_only_admin_starts_and_serves_the_operator() {
    let database = TestDatabase::create().await;
    let admin = serve(&database, "admin", &[]).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/admin/tenants", admin.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "id": "admin_only_shop", "name": "Admin only", "business_type": "retail",
            "strategy": "schema",
            "owner": {"username": "owner", "password": OWNER_PASSWORD},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let tenant_route = http
        .get(format!("{}/products", admin.base))
        .header("x-tenant-id", "admin_only_shop")
        .send()
        .await
        .unwrap();
    assert_eq!(tenant_route.status(), 404, "no tenant route is served here");
}
