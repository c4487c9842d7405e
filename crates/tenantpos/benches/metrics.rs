//! The request path's cost of the metrics and of `Server-Timing`: one answer counted in
//! `tenantpos_http_requests_total` and its duration histogram (labels interned, the series
//! already held by the recorder), from one thread and from four at once; one request's timing
//! (its accumulator, two timed awaits, the header's value). `cargo bench -p tenantpos --bench
//! metrics`.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use tenancy::timing::{self, RequestTiming};
use tenantpos::metrics::{count_answer, method_label, recorder, route_label};

fn metrics(c: &mut Criterion) {
    recorder();
    let mut group = c.benchmark_group("metrics");
    let route = route_label("/orders/{id}");
    let method = method_label(&Method::GET);
    group.bench_function("count_one_answer", |b| {
        b.iter(|| count_answer(route, method, StatusCode::OK, Duration::from_micros(800)))
    });
    group.bench_function("count_one_answer_four_threads", |b| {
        b.iter_custom(|iterations| {
            let started = std::time::Instant::now();
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    std::thread::spawn(move || {
                        for _ in 0..iterations {
                            count_answer(route, method, StatusCode::OK, Duration::from_micros(800));
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            // Per answer: four threads each counted `iterations`.
            started.elapsed() / 4
        })
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("time_one_request", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let timing = RequestTiming::start();
                timing::within(timing.clone(), async {
                    timing::time_cache(async {}).await;
                    timing::time_database(async {}).await;
                })
                .await;
                timing.totals().server_timing_header()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
