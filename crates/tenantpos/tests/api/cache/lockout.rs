//! Login lockouts across processes sharing Redis (API.md §3): failures add up across the
//! deployment, and attempts sent at once count as if sent one after another.

use std::time::Duration;

use serde_json::json;
use tenancy::Strategy;

use super::two_processes_sharing;
use crate::support::redis_server::RedisServer;
use crate::support::*;

async fn attempt(app: &TestApp, base: &str, username: &str, password: &str) -> Answer {
    let request = app
        .client
        .post(format!("{base}/auth/login"))
        .header("x-tenant-id", "guarded_shop")
        .json(&json!({"username": username, "password": password}));
    app.send(request).await
}

#[tokio::test]
async fn failed_logins_count_across_processes_sharing_redis() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth,admin").await;
    app.create_tenant("guarded_shop", Strategy::Shared).await;
    for index in 0..5 {
        // Alternate between the two processes: the failures add up in Redis.
        let base = if index % 2 == 0 {
            &app.address
        } else {
            &second.base
        };
        attempt(&app, base, "Owner", "wrong-password")
            .await
            .assert_error(401, "invalid_credentials");
    }
    for base in [&app.address, &second.base] {
        let locked = attempt(&app, base, "Owner", OWNER_PASSWORD).await;
        locked.assert_error(429, "rate_limited");
        assert!(locked.headers.contains_key("retry-after"));
    }
    let keys = app.tenancy.cache.redis_keys().await.unwrap();
    assert!(
        keys.iter().any(|key| key.contains("{guarded_shop}:login:")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn forty_wrong_passwords_at_once_through_two_processes_get_at_most_five_401s() {
    let redis = RedisServer::start();
    let (app, second) = two_processes_sharing(&redis.url(), "auth,admin").await;
    app.create_tenant("guarded_shop", Strategy::Shared).await;
    let answers = futures::future::join_all((0..40).map(|index| {
        let base = if index % 2 == 0 {
            &app.address
        } else {
            &second.base
        };
        // Case does not matter: all forty count against one username.
        let username = if index % 3 == 0 { "OWNER" } else { "owner" };
        attempt(&app, base, username, "wrong-password")
    }))
    .await;
    assert_at_most_five_401s_then_429s(&answers);
    // The right password is locked out too, in both processes, for the rest of the window.
    for base in [&app.address, &second.base] {
        attempt(&app, base, "owner", OWNER_PASSWORD)
            .await
            .assert_error(429, "rate_limited");
    }
}

/// Forty answers to wrong passwords sent at once: as if sent one after another, at most five
/// are 401 and every other one is 429 with a `Retry-After` of the rest of the window.
#[track_caller]
pub(crate) fn assert_at_most_five_401s_then_429s(answers: &[Answer]) {
    let refused = answers.iter().filter(|answer| answer.status == 401).count();
    let locked: Vec<&Answer> = answers
        .iter()
        .filter(|answer| answer.status == 429)
        .collect();
    assert!(
        (1..=5).contains(&refused) && refused + locked.len() == answers.len(),
        "{refused} answered 401, {} answered 429, of {}: {:?}",
        locked.len(),
        answers.len(),
        answers
            .iter()
            .map(|answer| (answer.status.as_u16(), answer.code().to_owned()))
            .collect::<Vec<_>>()
    );
    for answer in locked {
        answer.assert_error(429, "rate_limited");
        let retry_after: u64 = answer.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let window = Duration::from_secs(15 * 60).as_secs();
        assert!(
            retry_after > window - 60 && retry_after <= window + 1,
            "{retry_after}"
        );
    }
}
