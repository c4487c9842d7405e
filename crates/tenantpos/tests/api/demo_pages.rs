//! `tenantpos demo` prints where its pages are, and they work there: the console lists the
//! demo tenants, a demo cashier signs in through the API the app uses, and the dashboard's
//! sales show the demo's orders.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::browser::{Browser, Viewport};
use crate::support::process::login_at;
use crate::support::*;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_demo_prints_the_page_urls_and_serves_them() {
    let database = TestDatabase::create().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(["demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("TENANTPOS_DATABASE_URL", owner_url(&database.name))
        .env("TENANTPOS_APP_DATABASE_URL", app_url(&database.name))
        .env("TENANTPOS_JWT_SECRET", JWT_SECRET)
        .env("TENANTPOS_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TENANTPOS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    // Read what it prints until the last line of its instructions, on a thread of its own.
    let printed = tokio::task::spawn_blocking(move || {
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("API description") {
                break;
            }
        }
        printed
    });
    let printed = tokio::time::timeout(Duration::from_secs(180), printed)
        .await
        .expect("the demo prints its instructions within 3 minutes")
        .unwrap();
    for url in [format!("{base}/app/"), format!("{base}/console/")] {
        assert!(printed.contains(&url), "the demo names {url}:\n{printed}");
    }

    let client = reqwest::Client::new();
    let page = client.get(format!("{base}/app/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");

    // What the app does at sign-in and on the dashboard.
    let token = login_at(&client, &base, "restaurant_01", "owner", "demo-password-1").await;
    let sales: Value = client
        .request(Method::GET, format!("{base}/dashboard/sales"))
        .header("x-tenant-id", "restaurant_01")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sales = sales.as_array().expect("an array");
    assert_eq!(sales.len(), 14);
    let today = sales.last().unwrap();
    assert!(
        today["orders"].as_i64().unwrap() >= 8,
        "the demo's orders are today's: {today}"
    );
    assert!(today["revenue"].as_i64().unwrap() > 0);

    // The console, in a browser, lists the three demo tenants.
    let browser = Browser::open(Viewport::Desktop).await;
    browser.goto(&format!("{base}/console/")).await;
    browser.fill("#admin-token", ADMIN_TOKEN).await;
    browser.click_button("Sign in").await;
    for tenant in ["restaurant_01", "fastfood_01", "retail_01"] {
        browser
            .wait_for(&format!("tr[data-tenant=\"{tenant}\"]"))
            .await;
    }
    let table = browser.find("#tenants-body").await.text().await.unwrap();
    for strategy in ["Shared tables", "Own schema", "Own database"] {
        assert!(table.contains(strategy), "{strategy} in {table}");
    }
    browser.close().await;
}
