//! Integration tests: the real server over a real PostgreSQL, one fresh database per test.

mod admin;
mod auth;
mod bad_input;
mod isolation;
mod products;
mod public_routes;
mod resolver;
mod safety_net;
mod settings;
mod support;
mod tokens;
