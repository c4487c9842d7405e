//! Memory stays bounded whatever clients send (API.md §1): many tenants created at once, a
//! flood of logins. Measured on real `tenantpos serve` processes, in /proc.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::process::{Process, serve};
use crate::support::{ADMIN_TOKEN, OWNER_PASSWORD, TestDatabase};

const MIB: u64 = 1024 * 1024;
/// What creating or logging in may leave behind in a process, at most: less than one hash's
/// block, so that an allocator keeping freed blocks (glibc's malloc with its mmap threshold
/// rising, mimalloc with its purge delay: 23–33 MiB left after these tests) fails here.
const GROWTH_ALLOWED: u64 = 16 * MIB;
/// Each argon2 hash takes ~19 MiB while it runs.
const ONE_HASH: u64 = 20 * MIB;

const ALL_SERVICES: &str = "auth,inventory,orders,payments,dashboard,admin";

/// A field of /proc/<pid>/status (`VmRSS`, `VmHWM`), in bytes.
fn memory(process: &Process, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.pid())).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in {status}"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap();
    kib * 1024
}

async fn create_tenant(client: &reqwest::Client, process: &Process, id: String) -> StatusCode {
    client
        .post(format!("{}/admin/tenants", process.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "id": id,
            "name": format!("Tenant {id}"),
            "business_type": "retail",
            "strategy": "shared",
            "owner": {"username": "owner", "password": OWNER_PASSWORD},
        }))
        .send()
        .await
        .unwrap()
        .status()
}

fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |cores| cores.get() as u64)
}

#[tokio::test]
async fn creating_48_tenants_16_at_a_time_leaves_memory_where_it_was() {
    let database = TestDatabase::create().await;
    let process = serve(&database, ALL_SERVICES, &[]).await;
    let client = reqwest::Client::new();
    // One creation first, so that what every process keeps once it has served (pools,
    // statements, the runtime's threads) is in the baseline.
    assert_eq!(
        create_tenant(&client, &process, "warm_up".to_owned()).await,
        StatusCode::CREATED
    );
    let before = memory(&process, "VmRSS");
    for round in 0..3 {
        let creations =
            (0..16).map(|index| create_tenant(&client, &process, format!("shop_{round}_{index}")));
        for status in join_all(creations).await {
            assert_eq!(status, StatusCode::CREATED);
        }
    }
    let after = memory(&process, "VmRSS");
    let peak = memory(&process, "VmHWM");
    eprintln!(
        "RSS before {} MiB, after 48 creations {} MiB, peak {} MiB",
        before / MIB,
        after / MIB,
        peak / MIB
    );
    assert!(
        after < before + GROWTH_ALLOWED,
        "48 creations grew the process from {} MiB to {} MiB",
        before / MIB,
        after / MIB
    );
    // No more hashes run at once than there are cores.
    assert!(
        peak < before + cores() * ONE_HASH + GROWTH_ALLOWED,
        "the peak was {} MiB over a baseline of {} MiB",
        peak / MIB,
        before / MIB
    );
}

#[tokio::test]
async fn a_flood_of_logins_is_answered_401_or_503_and_memory_stays_bounded() {
    let database = TestDatabase::create().await;
    let process = serve(&database, ALL_SERVICES, &[]).await;
    let client = reqwest::Client::new();
    assert_eq!(
        create_tenant(&client, &process, "flooded".to_owned()).await,
        StatusCode::CREATED
    );
    let before = memory(&process, "VmRSS");
    // Distinct usernames, so that no lockout answers before the hash.
    let logins = (0..160).map(|index| {
        client
            .post(format!("{}/auth/login", process.base))
            .header("x-tenant-id", "flooded")
            .json(&json!({"username": format!("user{index}"), "password": "wrong-password"}))
            .send()
    });
    let mut refused = 0;
    for response in join_all(logins).await {
        let response = response.unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(response.headers().contains_key("retry-after"));
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                refused += 1;
            }
            other => panic!("a login answered {other}"),
        }
    }
    assert!(refused > 0, "160 hashes at once were all computed at once");
    let after = memory(&process, "VmRSS");
    let peak = memory(&process, "VmHWM");
    eprintln!(
        "{refused} of 160 logins refused; RSS before {} MiB, after {} MiB, peak {} MiB",
        before / MIB,
        after / MIB,
        peak / MIB
    );
    assert!(after < before + GROWTH_ALLOWED);
    assert!(peak < before + cores() * ONE_HASH + GROWTH_ALLOWED);
    // The process still logs in a user who waits for a free core.
    let login = client
        .post(format!("{}/auth/login", process.base))
        .header("x-tenant-id", "flooded")
        .json(&json!({"username": "owner", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
}
