//! Integration tests: the real server over a real PostgreSQL, one fresh database per test.

mod admin;
mod auth;
mod bad_input;
mod budget;
mod cache;
mod clusters;
mod dashboard;
mod idempotency;
mod import;
mod isolation;
mod late_captures;
mod lifecycle;
mod migrate;
mod money_faults;
mod moving;
mod order_history;
mod orders;
mod products;
mod public_routes;
mod resolver;
mod safety_net;
mod saga;
mod settings;
mod split;
mod support;
mod tokens;
