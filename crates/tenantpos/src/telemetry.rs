//! Logs on stderr, for a person or for a machine (`TENANTPOS_LOG_FORMAT`): one JSON object a
//! line when stderr is not a terminal (a service manager, a container) or when asked, lines a
//! person reads on a terminal. Lines emitted while serving a request carry its span, with
//! `request_id`, `trace_id` and `tenant_id`, in both formats.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written (`TENANTPOS_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line.
    Json,
    /// A line a person reads, colored on a terminal.
    Text,
}

impl LogFormat {
    /// `format` if set, else text on a terminal and JSON otherwise.
    pub fn chosen(format: Option<LogFormat>) -> LogFormat {
        format.unwrap_or_else(|| {
            if std::io::stderr().is_terminal() {
                LogFormat::Text
            } else {
                LogFormat::Json
            }
        })
    }
}

pub fn init(filter: &str, format: Option<LogFormat>) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match LogFormat::chosen(format) {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
}
