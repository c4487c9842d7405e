//! `deploy/prometheus/alerts.yml`, the example alert rules of the README: a rules file of the
//! shape Prometheus loads, each expression valid PromQL (a real PromQL parser reads it), and
//! every `tenantpos_*` series it names one that `GET /metrics` exports.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use tenancy::Strategy;

use super::metrics::scrape;
use crate::support::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertRule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    pending_for: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

/// The `tenantpos_*` names an expression mentions.
fn series_named(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find("tenantpos_") {
        let name: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[start + name.len()..];
        names.push(name);
    }
    names
}

#[tokio::test]
async fn the_example_alert_rules_parse_and_name_only_exported_series() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/prometheus/alerts.yml"
    );
    let file: RuleFile = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap())
        .expect("a Prometheus rules file");
    let app = spawn_app().await;
    // A series exists once something was recorded in it: a request that reads PostgreSQL.
    let tenant = app.create_tenant("obs_alerts", Strategy::Shared).await;
    app.call(Method::GET, "/orders", &tenant, None)
        .await
        .assert_status(200);
    let exported = scrape(&app).await.families;

    let mut alerts = Vec::new();
    for group in &file.groups {
        assert!(!group.name.is_empty());
        for rule in &group.rules {
            promql_parser::parser::parse(&rule.expr)
                .unwrap_or_else(|error| panic!("{}: not PromQL: {error}", rule.alert));
            let named = series_named(&rule.expr);
            assert!(
                !named.is_empty(),
                "{} names no tenantpos series",
                rule.alert
            );
            for name in named {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|base| exported.contains_key(*base))
                    .unwrap_or(&name);
                assert!(
                    exported.contains_key(family),
                    "{}: {name} is not exported by /metrics",
                    rule.alert
                );
            }
            assert!(
                rule.pending_for.ends_with('m') || rule.pending_for.ends_with('s'),
                "{}: for {}",
                rule.alert,
                rule.pending_for
            );
            assert!(rule.labels.contains_key("severity"), "{}", rule.alert);
            assert!(rule.annotations.contains_key("summary"), "{}", rule.alert);
            alerts.push(rule.alert.as_str());
        }
    }
    // What the README says to alert on.
    for expected in [
        "TenantposHighErrorRate",
        "TenantposConnectionWaits",
        "TenantposTenantDatabasesTakeTurns",
        "TenantposTenantsRateLimited",
        "TenantposOrderPlacementsFailing",
    ] {
        assert!(alerts.contains(&expected), "{expected} in {alerts:?}");
    }
}
