//! A load run against a running tenantpos: creates tenants (on all three strategies) with a
//! product, a user and some orders each, then drives `wrk` (32 connections, every request for
//! the next tenant in turn) at each scenario and prints requests per second and latencies.
//!
//! `scripts/load.sh` starts the servers (one process, or split) and runs this; by hand:
//! `cargo run --release -p tenantpos --example load -- http://127.0.0.1:8080 <admin token> [tenants] [seconds]`.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};

struct Tenant {
    id: String,
    token: String,
    product: String,
    order: String,
    old_order: String,
}

async fn post(
    client: &reqwest::Client,
    url: String,
    tenant: Option<&str>,
    token: &str,
    body: Value,
) -> Value {
    let mut request = client.post(url).bearer_auth(token).json(&body);
    if let Some(tenant) = tenant {
        request = request.header("x-tenant-id", tenant);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn setup(
    client: &reqwest::Client,
    base: &str,
    products_base: &str,
    admin: &str,
    index: usize,
    run: &str,
) -> Tenant {
    let id = format!("load_{run}_{index:03}");
    // One in `TENANTPOS_LOAD_DATABASE_EVERY` (default 10; 0 for none) a database tenant, the
    // others shared or schema in turn: every tenant database holds connections of its own.
    let database_every: usize = std::env::var("TENANTPOS_LOAD_DATABASE_EVERY")
        .ok()
        .and_then(|every| every.parse().ok())
        .unwrap_or(10);
    let strategy = match index {
        n if database_every > 0 && n % database_every == 0 => "database",
        n if n % 2 == 1 => "shared",
        _ => "schema",
    };
    post(
        client,
        format!("{base}/admin/tenants"),
        None,
        admin,
        json!({
            "id": id, "name": id, "business_type": "retail", "strategy": strategy,
            "owner": {"username": "owner", "password": "load-password-1"},
        }),
    )
    .await;
    let login = client
        .post(format!("{base}/auth/login"))
        .header("x-tenant-id", &id)
        .json(&json!({"username": "owner", "password": "load-password-1"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let product = post(
        client,
        format!("{products_base}/products"),
        Some(&id),
        &token,
        json!({
            "sku": "LOAD", "name": "Load product", "price": 250, "stock": 1_000_000_000,
        }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut orders = Vec::new();
    for _ in 0..60 {
        let order = post(
            client,
            format!("{base}/orders"),
            Some(&id),
            &token,
            json!({
                "items": [{"product_id": product, "quantity": 1}],
            }),
        )
        .await;
        orders.push(order["id"].as_str().unwrap().to_owned());
    }
    Tenant {
        id,
        token,
        product,
        order: orders.last().unwrap().clone(),
        old_order: orders[5].clone(),
    }
}

/// A wrk script that sends each request for the next tenant in turn.
fn lua(
    tenants: &[Tenant],
    method: &str,
    path: impl Fn(&Tenant) -> String,
    body: impl Fn(&Tenant) -> Option<String>,
) -> String {
    let mut script = String::from("local requests = {}\n");
    for tenant in tenants {
        let body = match body(tenant) {
            Some(body) => format!("[[{body}]]"),
            None => "nil".to_owned(),
        };
        let _ = writeln!(
            script,
            "table.insert(requests, wrk.format(\"{method}\", \"{}\", {{[\"x-tenant-id\"] = \"{}\", [\"authorization\"] = \"Bearer {}\", [\"content-type\"] = \"application/json\"}}, {body}))",
            path(tenant),
            tenant.id,
            tenant.token
        );
    }
    script.push_str(
        "local i = math.random(1, #requests)\n\
         request = function() i = i % #requests + 1; return requests[i] end\n\
         local bad = 0\n\
         response = function(status) if status >= 300 then bad = bad + 1 end end\n\
         done = function(summary, latency, requests)\n\
           io.write(string.format(\"RESULT %.0f %.2f %.2f %d %d\\n\", summary.requests / (summary.duration / 1e6), \
             latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status, summary.requests))\n\
         end\n",
    );
    script
}

fn run_wrk(base: &str, name: &str, script: &str, seconds: u32) {
    let path = std::env::temp_dir()
        .join(format!("tenantpos-load-{name}.lua").replace(['/', '?', '=', '{', '}'], "_"));
    std::fs::write(&path, script).unwrap();
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c32",
            &format!("-d{seconds}s"),
            "-s",
            path.to_str().unwrap(),
            base,
        ])
        .output()
        .expect("wrk is installed (apt-get install wrk)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout
        .lines()
        .find(|line| line.starts_with("RESULT"))
        .unwrap_or("RESULT ? ? ? ? ?");
    let fields: Vec<&str> = result.split_whitespace().collect();
    println!(
        "{name:<34} {:>9} req/s   p50 {:>7} ms   p99 {:>7} ms   non-2xx {:>6} of {}",
        fields[1], fields[2], fields[3], fields[4], fields[5]
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let admin = args
        .get(2)
        .cloned()
        .expect("usage: load BASE_URL ADMIN_TOKEN [TENANTS] [SECONDS]");
    let count: usize = args.get(3).map(|n| n.parse().unwrap()).unwrap_or(100);
    let seconds: u32 = args.get(4).map(|n| n.parse().unwrap()).unwrap_or(10);
    // Split: products live on another process.
    let products_base = match args.get(5).map(String::as_str) {
        Some("--split") => args.get(6).cloned().expect("--split BACK_URL"),
        _ => base.clone(),
    };
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 0xfffff
    );
    let client = reqwest::Client::new();
    let mut tenants = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(10) {
        let made = futures::future::join_all(
            chunk
                .iter()
                .map(|&index| setup(&client, &base, &products_base, &admin, index, &run)),
        )
        .await;
        tenants.extend(made);
    }
    eprintln!("{count} tenants ready; {seconds} s per scenario, wrk -t2 -c32");
    run_wrk(
        &products_base,
        "GET /products/{id}",
        &lua(
            &tenants,
            "GET",
            |t| format!("/products/{}", t.product),
            |_| None,
        ),
        seconds,
    );
    run_wrk(
        &base,
        "GET /orders/{id}",
        &lua(
            &tenants,
            "GET",
            |t| format!("/orders/{}", t.order),
            |_| None,
        ),
        seconds,
    );
    run_wrk(
        &base,
        "GET /orders?limit=20",
        &lua(&tenants, "GET", |_| "/orders?limit=20".to_owned(), |_| None),
        seconds,
    );
    run_wrk(
        &base,
        "GET /orders?limit=20&after=(deep)",
        &lua(
            &tenants,
            "GET",
            |t| format!("/orders?limit=20&after={}", t.old_order),
            |_| None,
        ),
        seconds,
    );
    run_wrk(
        &base,
        "POST /orders",
        &lua(
            &tenants,
            "POST",
            |_| "/orders".to_owned(),
            |t| {
                Some(format!(
                    r#"{{"items":[{{"product_id":"{}","quantity":1}}]}}"#,
                    t.product
                ))
            },
        ),
        seconds,
    );
}
