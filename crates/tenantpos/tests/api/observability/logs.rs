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

/// What `serve` says at start-up on a server running without autovacuum.
const AUTOVACUUM_IS_OFF: &str = "autovacuum is off on this PostgreSQL server";

/// `serve` names a server that runs without autovacuum, once, when it starts (a warning: the
/// tables slow down, nothing is wrong yet), and says nothing of a server with it. A private
/// server, whose setting the test may change: autovacuum on (PostgreSQL's default), then off.
#[tokio::test]
async fn serve_warns_of_a_server_without_autovacuum() {
    use crate::faults::ALL_SERVICES;
    use crate::faults::harness::Deployment;

    let deployment = Deployment::start("autovacuum", false).await;
    let log_of = |name: &str| {
        std::fs::read_to_string(deployment.postgres.directory.join(format!("{name}.log"))).unwrap()
    };
    let mut with = deployment.serve("with_autovacuum", ALL_SERVICES, &[]).await;
    with.kill();
    let log = log_of("with_autovacuum");
    assert!(!log.contains(AUTOVACUUM_IS_OFF), "{log}");

    let server = deployment.postgres.connect("postgres").await;
    // Two statements: ALTER SYSTEM refuses to run in the implicit transaction of a batch.
    for statement in [
        "ALTER SYSTEM SET autovacuum = off",
        "SELECT pg_reload_conf()",
    ] {
        server.batch_execute(statement).await.unwrap();
    }
    // The reload reaches new sessions once the postmaster has read the file again.
    let start = std::time::Instant::now();
    while deployment
        .postgres
        .connect("postgres")
        .await
        .query_one("SELECT current_setting('autovacuum')", &[])
        .await
        .unwrap()
        .get::<_, String>(0)
        != "off"
    {
        assert!(start.elapsed().as_secs() < 10, "autovacuum is still on");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut without = deployment
        .serve("without_autovacuum", ALL_SERVICES, &[])
        .await;
    without.kill();
    let log = log_of("without_autovacuum");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(AUTOVACUUM_IS_OFF))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("WARN"), "{log}");
}
