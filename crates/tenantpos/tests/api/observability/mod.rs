//! Observability: metrics, Server-Timing, readable logs, traces across services, per-tenant
//! usage.

mod alerts;
mod logs;
mod metrics;
mod server_timing;
mod traces;
mod usage;
