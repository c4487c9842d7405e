//! `tenantpos demo`: migrates, creates the three demo tenants of API.md §9 where missing (one
//! per isolation strategy), prints how to log in, then serves.

use std::sync::Arc;

use anyhow::Context;
use auth::{NewUser, Password, Username};
use inventory::products::{self, NewProduct};
use orders::{OrdersState, PlaceOrder};
use serde_json::json;
use tenancy::{BusinessType, OperatorAccess, Role, Strategy, TenantId};
use uuid::Uuid;

use crate::app;
use crate::config::{ServiceSet, Settings};

struct DemoTenant {
    id: &'static str,
    name: &'static str,
    business_type: BusinessType,
    strategy: Strategy,
    /// sku, name, category, price in cents, stock.
    products: &'static [(&'static str, &'static str, &'static str, i64, i64)],
}

const DEMO_TENANTS: [DemoTenant; 3] = [
    DemoTenant {
        id: "restaurant_01",
        name: "Trattoria Demo",
        business_type: BusinessType::Restaurant,
        strategy: Strategy::Shared,
        products: &[
            ("PIZ-MAR", "Pizza Margherita", "pizza", 1100, 40),
            ("PIZ-DIA", "Pizza Diavola", "pizza", 1350, 35),
            ("PAS-CAR", "Spaghetti Carbonara", "pasta", 1400, 30),
            ("PAS-BOL", "Tagliatelle Bolognese", "pasta", 1450, 30),
            ("SAL-CES", "Caesar Salad", "salad", 950, 25),
            ("ANT-BRU", "Bruschetta", "starter", 650, 50),
            ("DES-TIR", "Tiramisu", "dessert", 700, 20),
            ("DES-PAN", "Panna Cotta", "dessert", 650, 4),
            ("DRK-WAT", "Sparkling Water", "drinks", 300, 100),
            ("DRK-WIN", "House Red, glass", "drinks", 600, 60),
            ("DRK-ESP", "Espresso", "drinks", 250, 200),
        ],
    },
    DemoTenant {
        id: "fastfood_01",
        name: "Burger Demo",
        business_type: BusinessType::FastFood,
        strategy: Strategy::Schema,
        products: &[
            ("BRG-CLS", "Classic Burger", "burgers", 650, 80),
            ("BRG-CHS", "Cheeseburger", "burgers", 720, 80),
            ("BRG-VEG", "Veggie Burger", "burgers", 690, 30),
            ("BRG-DBL", "Double Burger", "burgers", 950, 40),
            ("SID-FRS", "Fries", "sides", 300, 150),
            ("SID-ONR", "Onion Rings", "sides", 350, 3),
            ("SID-NUG", "Nuggets x6", "sides", 450, 90),
            ("DRK-COL", "Cola", "drinks", 250, 200),
            ("DRK-LEM", "Lemonade", "drinks", 280, 120),
            ("DES-SHK", "Milkshake", "desserts", 400, 50),
            ("DES-SUN", "Sundae", "desserts", 350, 45),
        ],
    },
    DemoTenant {
        id: "retail_01",
        name: "Corner Shop Demo",
        business_type: BusinessType::Retail,
        strategy: Strategy::Database,
        products: &[
            ("GRO-MLK", "Milk 1L", "grocery", 129, 60),
            ("GRO-BRD", "Bread", "grocery", 249, 30),
            ("GRO-EGG", "Eggs x12", "grocery", 399, 25),
            ("GRO-CAF", "Coffee beans 500g", "grocery", 899, 15),
            ("HOM-SOP", "Dish soap", "home", 199, 40),
            ("HOM-TIS", "Tissues", "home", 149, 2),
            ("HOM-BAT", "Batteries AA x4", "home", 599, 35),
            ("STA-PEN", "Ballpoint pens x10", "stationery", 349, 50),
            ("STA-NTB", "Notebook A5", "stationery", 299, 45),
            ("SNK-CHO", "Chocolate bar", "snacks", 119, 120),
            ("SNK-CHP", "Crisps", "snacks", 179, 80),
        ],
    },
];

pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    if settings.jwt_secret.is_none() && settings.jwt_secrets.is_none() {
        settings.jwt_secret = Some(hex::encode(rand::random::<[u8; 32]>()));
    }
    let generated_admin_token = settings.admin_token.is_none();
    if generated_admin_token {
        settings.admin_token = Some(hex::encode(rand::random::<[u8; 24]>()));
    }
    crate::cli::migrate(&settings).await?;
    let app = app::build(&settings, &ServiceSet::all()).await?;
    let orders = app
        .orders
        .clone()
        .context("the demo serves the orders service")?;
    for demo in &DEMO_TENANTS {
        ensure_tenant(&app.operator, &orders, demo).await?;
    }
    // Listening before the instructions: whoever follows them at once finds the port open.
    let listener = app::listen(&settings.bind).await?;
    print_instructions(&settings, generated_admin_token);
    app::serve(app, listener).await
}

async fn ensure_tenant(
    tenancy: &OperatorAccess,
    orders: &OrdersState,
    demo: &DemoTenant,
) -> anyhow::Result<()> {
    let id = TenantId::parse(demo.id)?;
    if tenancy.catalog.get(&id).await.map_err(error)?.is_some() {
        return Ok(());
    }
    let request = admin::CreateTenant {
        id: id.clone(),
        name: demo.name.to_owned(),
        business_type: demo.business_type,
        strategy: demo.strategy,
        cluster: None,
        owner: admin::OwnerInput {
            username: "owner".to_owned(),
            password: "demo-password-1".to_owned(),
        },
        settings: None,
    };
    let tenant = admin::create_tenant(tenancy, request)
        .await
        .map_err(error)?;
    let scope = tenancy.scope(Arc::new(tenant));
    let mut product_ids = Vec::new();
    let tx = tenancy.db.begin(&scope).await.map_err(error)?;
    let cashier = NewUser {
        username: Username::parse("cashier").map_err(error)?,
        password: Password::parse("demo-password-2".to_owned()).map_err(error)?,
        role: Role::Cashier,
    };
    auth::create_user(&tx, cashier).await.map_err(error)?;
    for (sku, name, category, price, stock) in demo.products {
        let product = NewProduct {
            sku: (*sku).to_owned(),
            name: (*name).to_owned(),
            category: Some((*category).to_owned()),
            price: *price,
            stock: *stock,
            low_stock_threshold: 5,
        };
        let created = products::create(&tx, product).await.map_err(error)?;
        // Sell only what is well stocked, so the low-stock list stays as listed above.
        if created.stock >= 20 {
            product_ids.push(created.id);
        }
    }
    tx.commit().await?;
    place_demo_orders(orders, &tenancy.system_context(&scope), &product_ids).await?;
    println!(
        "created demo tenant {} ({} strategy)",
        demo.id, demo.strategy
    );
    Ok(())
}

/// A day's worth of sales: some orders in cash, some by card, one refunded.
async fn place_demo_orders(
    orders: &OrdersState,
    context: &tenancy::TenantContext,
    product_ids: &[Uuid],
) -> anyhow::Result<()> {
    let mut placed = Vec::new();
    for (index, product_id) in product_ids.iter().enumerate().take(8) {
        let next = product_ids[(index + 3) % product_ids.len()];
        let payment = if index % 3 == 0 {
            json!({"method": "card", "card_token": "tok_visa"})
        } else {
            json!({"method": "cash"})
        };
        let request: PlaceOrder = serde_json::from_value(json!({
            "items": [{"product_id": product_id, "quantity": 1 + index % 3}, {"product_id": next, "quantity": 1}],
            "payment": payment,
        }))?;
        let valid = request.validate().map_err(error)?;
        placed.push(
            orders::saga::place_order(orders, context, valid)
                .await
                .map_err(error)?,
        );
    }
    if let Some(last) = placed.last() {
        orders::refund::refund_order(orders, context, last.id)
            .await
            .map_err(error)?;
    }
    Ok(())
}

fn error(error: tenancy::ApiError) -> anyhow::Error {
    match error.cause {
        Some(cause) => cause.context(error.message),
        None => anyhow::anyhow!("{}: {}", error.code.as_str(), error.message),
    }
}

fn print_instructions(settings: &Settings, generated_admin_token: bool) {
    let base = format!("http://{}", settings.bind);
    println!();
    println!("tenantpos demo is serving on {base}");
    println!("demo tenants: restaurant_01 (shared), fastfood_01 (schema), retail_01 (database)");
    println!("users in each: owner / demo-password-1, cashier / demo-password-2");
    println!();
    println!("open in a browser:");
    println!("  {base}/app/      the POS terminal and back office: tenant id, then a user above");
    println!("  {base}/console/  the operator console: sign in with the operator token");
    println!();
    println!("log in:");
    println!(
        "  TOKEN=$(curl -s -X POST {base}/auth/login -H 'x-tenant-id: restaurant_01' \
         -H 'content-type: application/json' -d '{{\"username\":\"owner\",\"password\":\"demo-password-1\"}}' \
         | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!(
        "  curl -s {base}/products -H 'x-tenant-id: restaurant_01' -H \"authorization: Bearer $TOKEN\""
    );
    if generated_admin_token {
        println!();
        println!("operator token for /admin/* (generated for this run):");
        println!("  {}", settings.admin_token.as_deref().unwrap_or_default());
    }
    println!("API description: {base}/openapi.json");
}
