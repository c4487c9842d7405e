//! `--help` of every command never prints a secret taken from the environment.

use std::process::Command;

/// Each variable that can hold a secret, set to a marker the help must never show.
const SECRETS: &[(&str, &str)] = &[
    (
        "TENANTPOS_DATABASE_URL",
        "postgres://owner:marker-db-password@db/x",
    ),
    (
        "TENANTPOS_APP_DATABASE_URL",
        "postgres://app:marker-app-password@db/x",
    ),
    (
        "TENANTPOS_CLUSTERS",
        "eu=postgres://c:marker-cluster-password@db/x",
    ),
    (
        "TENANTPOS_REDIS_URL",
        "redis://:marker-redis-password@cache:6379",
    ),
    (
        "TENANTPOS_JWT_SECRET",
        "marker-jwt-secret-at-least-32-bytes-long",
    ),
    (
        "TENANTPOS_JWT_SECRETS",
        "k1:marker-rotated-jwt-secret-of-32-bytes",
    ),
    ("TENANTPOS_ADMIN_TOKEN", "marker-admin-token"),
    ("TENANTPOS_OWNER_PASSWORD", "marker-owner-password"),
    (
        "TENANTPOS_INVENTORY_URL",
        "http://u:marker-peer-password@inventory",
    ),
    (
        "TENANTPOS_PAYMENTS_URL",
        "http://u:marker-peer-password@payments",
    ),
    (
        "TENANTPOS_ORDERS_URL",
        "http://u:marker-peer-password@orders",
    ),
];

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .args(args)
        .envs(SECRETS.iter().copied())
        .output()
        .expect("tenantpos runs");
    assert!(output.status.success(), "{args:?} failed");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

/// The subcommands a help text lists under "Commands:" (`help` itself excluded).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_help_text_shows_a_secret_from_the_environment() {
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(command) = pending.pop() {
        for flag in ["--help", "-h"] {
            let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
            args.push(flag);
            let text = help(&args);
            assert!(!text.contains("marker"), "{args:?} shows a secret:\n{text}");
            if flag == "--help" {
                for name in subcommands(&text) {
                    let mut child = command.clone();
                    child.push(name);
                    pending.push(child);
                }
            }
            seen += 1;
        }
    }
    // tenantpos, serve, migrate, demo, tenant and its subcommands: the walk found them.
    assert!(seen >= 2 * 6, "only {seen} help texts");
}
