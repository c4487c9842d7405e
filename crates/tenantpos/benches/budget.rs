//! The cost of check 10: spending a request of a tenant's budget in process (governor) and
//! across the deployment (one Lua script in the Redis at 127.0.0.1:6379, under a deployment of
//! its own). `cargo bench -p tenantpos --bench budget`.

use std::num::NonZeroU32;

use criterion::{Criterion, criterion_group, criterion_main};
use tenancy::{TenantCache, TenantId, TenantRateLimiter};

fn budget(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tenant = TenantId::parse("bench_budget").unwrap();
    // A budget that is never spent: every check is admitted, as on the fast path.
    let limiter = TenantRateLimiter::new(NonZeroU32::new(u32::MAX / 4).unwrap());
    let in_process = TenantCache::in_process("bench_budget_in_process");
    let redis = runtime.block_on(async {
        let deployment = format!("bench_budget_{}", uuid::Uuid::new_v4().simple());
        let cache = TenantCache::with_redis(&deployment, "redis://127.0.0.1:6379").unwrap();
        for _ in 0..100 {
            if cache.status() == tenancy::cache::CacheStatus::Ok {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            cache.status(),
            tenancy::cache::CacheStatus::Ok,
            "Redis is up"
        );
        cache
    });
    let mut group = c.benchmark_group("request_budget");
    group.bench_function("in_process", |b| {
        b.to_async(&runtime)
            .iter(|| async { limiter.check(&in_process, &tenant).await.unwrap() })
    });
    group.bench_function("redis", |b| {
        b.to_async(&runtime)
            .iter(|| async { limiter.check(&redis, &tenant).await.unwrap() })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(4));
    targets = budget
}
criterion_main!(benches);
