//! The request path's cost of per-tenant usage counting (`tenancy::usage`): one answer added to
//! the in-memory aggregate, for a tenant and route already held (the steady state), and for
//! tenants in turn among a thousand, from one thread and from four at once (the shards' locks
//! contended). `cargo bench -p tenantpos --bench usage`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tenancy::TenantId;
use tenancy::usage::{Aggregator, Counts, MOST_TENANTS_PER_FLUSH};

fn tenants(count: usize) -> Vec<TenantId> {
    (0..count)
        .map(|number| TenantId::parse(&format!("bench_tenant_{number:05}")).unwrap())
        .collect()
}

fn usage(c: &mut Criterion) {
    let mut group = c.benchmark_group("usage_record");
    let aggregator = Aggregator::new(MOST_TENANTS_PER_FLUSH);
    let one = tenants(1).remove(0);
    let answer = Counts::of_answer(200, 250);
    group.bench_function("one_tenant_held", |b| {
        b.iter(|| aggregator.record(&one, "/orders/{id}", &answer))
    });
    let many = tenants(1000);
    let mut next = 0;
    group.bench_function("a_thousand_tenants_in_turn", |b| {
        b.iter(|| {
            next = (next + 1) % many.len();
            aggregator.record(&many[next], "/orders/{id}", &answer)
        })
    });
    let shared = Arc::new(Aggregator::new(MOST_TENANTS_PER_FLUSH));
    let many = Arc::new(many);
    group.bench_function("four_threads_a_thousand_tenants", |b| {
        b.iter_custom(|iterations| {
            let started = std::time::Instant::now();
            let threads: Vec<_> = (0..4)
                .map(|thread| {
                    let (shared, many) = (shared.clone(), many.clone());
                    std::thread::spawn(move || {
                        for iteration in 0..iterations as usize {
                            let tenant = &many[(iteration * 7 + thread) % many.len()];
                            shared.record(tenant, "/orders/{id}", &answer);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            // Per answer: four threads each recorded `iterations`.
            started.elapsed() / 4
        })
    });
    group.finish();
}

criterion_group!(benches, usage);
criterion_main!(benches);
