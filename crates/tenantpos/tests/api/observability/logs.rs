//! Logs a person can read: a no-op `tenantpos migrate` over several tenants prints its own
//! lines and summary, and none of PostgreSQL's NOTICEs (`schema ... already exists,
//! skipping`), which are DEBUG lines now; `TENANTPOS_LOG_FORMAT` picks JSON or text.

use tenancy::Strategy;

use crate::support::*;

/// A real `tenantpos migrate` over the app's database, with a log filter and format.
async fn migrate(app: &TestApp, log: &str, format: &str) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tenantpos"))
        .arg("migrate")
        .env("TENANTPOS_DATABASE_URL", &app.settings.database_url)
        .env(
            "TENANTPOS_APP_DATABASE_URL",
            app.settings.app_database_url.as_deref().unwrap(),
        )
        .env("TENANTPOS_LOG", log)
        .env("TENANTPOS_LOG_FORMAT", format)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_no_op_migrate_over_several_tenants_prints_no_notice() {
    let app = spawn_app().await;
    for (id, strategy) in [
        ("obs_log_shared", Strategy::Shared),
        ("obs_log_s1", Strategy::Schema),
        ("obs_log_s2", Strategy::Schema),
        ("obs_log_s3", Strategy::Schema),
        ("obs_log_db", Strategy::Database),
    ] {
        app.create_tenant(id, strategy).await;
    }

    // At the default level: the command's own lines, nothing else.
    for format in ["json", "text"] {
        let run = migrate(&app, "info", format).await;
        let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
        assert!(run.status.success(), "{stdout}\n{stderr}");
        for quiet in ["NOTICE", "already exists, skipping"] {
            assert!(
                !stderr.contains(quiet) && !stdout.contains(quiet),
                "{format}: {quiet} printed:\n{stderr}"
            );
        }
        for line in [
            "schema obs_log_s1: ok (up to date)",
            "schema obs_log_s3: ok (up to date)",
        ] {
            assert!(stdout.lines().any(|l| l == line), "{line} in\n{stdout}");
        }
        assert!(stdout.contains("targets: "), "a summary:\n{stdout}");
    }

    // The notices are still there for whoever asks for DEBUG, in the format asked for.
    let json = migrate(&app, "tenancy=debug", "json").await;
    let stderr = text(&json.stderr);
    assert!(json.status.success(), "{stderr}");
    let notices: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .filter(|line: &serde_json::Value| line["fields"]["message"] == "PostgreSQL notice")
        .collect();
    assert!(
        !notices.is_empty(),
        "a no-op migrate meets NOTICEs:\n{stderr}"
    );
    assert!(
        notices
            .iter()
            .all(|notice| notice["level"] == "DEBUG" && notice["fields"]["severity"] == "NOTICE"),
        "{notices:?}"
    );
    let text_run = migrate(&app, "tenancy=debug", "text").await;
    let stderr = text(&text_run.stderr);
    let notice_lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("PostgreSQL notice"))
        .collect();
    assert!(!notice_lines.is_empty(), "{stderr}");
    assert!(
        notice_lines.iter().all(|line| line.contains("DEBUG")
            && serde_json::from_str::<serde_json::Value>(line).is_err()),
        "text lines, for a person: {notice_lines:?}"
    );
}
