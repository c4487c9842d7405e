//! The `tenantpos` binary as a library: configuration, composition and commands, so that the
//! integration tests start the very server the binary runs.

pub mod app;
pub mod cli;
pub mod config;
mod demo;
mod edge;
pub mod metrics;
mod openapi;
pub mod server;
pub mod services;
mod startup;
pub mod telemetry;
mod web;
