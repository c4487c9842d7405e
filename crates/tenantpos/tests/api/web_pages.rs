//! Serving the web pages (API.md §10): the files and their types, the headers every page
//! answer carries (CSP, nosniff, revalidation), redirects, and what is never served.

use reqwest::Method;
use serde_json::Value;
use tenantpos::config::ServiceSet;

use crate::support::*;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .send()
        .await
        .expect("the server answers")
}

#[track_caller]
fn assert_page_headers(response: &reqwest::Response, path: &str) {
    let headers = response.headers();
    assert_eq!(
        headers["content-security-policy"], CSP,
        "{path}: the CSP allows nothing inline and no other origin"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    assert!(headers.contains_key("x-request-id"), "{path}");
}

#[tokio::test]
async fn pages_and_assets_are_served_with_their_types_and_headers() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        (
            "/console/",
            "text/html; charset=utf-8",
            "<script type=\"module\"",
        ),
        ("/console/index.html", "text/html; charset=utf-8", "</html>"),
        (
            "/console/console.js",
            "text/javascript; charset=utf-8",
            "import",
        ),
        ("/console/console.css", "text/css; charset=utf-8", "{"),
        (
            "/common/api.js",
            "text/javascript; charset=utf-8",
            "export class ApiError",
        ),
        ("/common/base.css", "text/css; charset=utf-8", ":root"),
        (
            "/app/",
            "text/html; charset=utf-8",
            "<script type=\"module\"",
        ),
        ("/app/app.js", "text/javascript; charset=utf-8", "import"),
        ("/app/app.css", "text/css; charset=utf-8", "{"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_page_headers(&response, path);
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body = response.text().await.unwrap();
        assert!(body.contains(marker), "{path} holds {marker:?}");

        // Revalidation: the same version answers 304 without a body.
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

/// Fails if `html` holds an inline script, style or event handler.
#[track_caller]
fn assert_nothing_inline(html: &str, page: &str) {
    assert!(!html.contains("<style"), "{page}: no inline style element");
    assert!(!html.contains(" style="), "{page}: no style attribute");
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains("src="),
            "{page}: every script is a file: <script{tag}>"
        );
        let after = &script[script.find('>').unwrap() + 1..];
        assert!(
            after.trim_start().starts_with("</script>"),
            "{page}: an empty script element"
        );
    }
    let handlers = html.match_indices(" on").filter(|(at, _)| {
        let name: String = html[at + 3..]
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
    });
    assert_eq!(
        handlers.count(),
        0,
        "{page}: no inline event handler attribute"
    );
}

#[tokio::test]
async fn html_pages_hold_no_inline_script_or_style() {
    let app = spawn_app().await;
    for page in ["/app/", "/console/"] {
        let html = get(&app, page).await.text().await.unwrap();
        assert_nothing_inline(&html, page);
    }
}

/// Every file under `web/`, with its path relative to it.
fn web_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, text));
            }
        }
    }
    assert!(files.len() >= 6, "the pages are found under web/");
    files
}

#[test]
fn no_page_script_inserts_html_or_runs_strings_and_nothing_comes_from_another_origin() {
    for (name, text) in web_files() {
        if name.ends_with(".js") {
            for forbidden in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute(\"style\"",
                "setAttribute('style'",
            ] {
                assert!(!text.contains(forbidden), "{name} uses {forbidden}");
            }
        }
        if name.ends_with(".html") {
            assert_nothing_inline(&text, &name);
        }
        // The SVG namespace is a name, not a place anything is fetched from.
        let foreign = text
            .replace("http://www.w3.org/2000/svg", "")
            .contains("://");
        assert!(
            !foreign,
            "{name} names another origin (no CDN, works offline)"
        );
    }
}

#[tokio::test]
async fn page_roots_without_a_slash_redirect() {
    let app = spawn_app().await;
    for page in ["/app", "/console"] {
        let response = get(&app, page).await;
        assert_eq!(response.status(), 301, "{page}");
        assert_eq!(response.headers()["location"], format!("{page}/"), "{page}");
        assert_page_headers(&response, page);
    }
}

#[tokio::test]
async fn nothing_outside_the_pages_is_served() {
    let app = spawn_app().await;
    for path in [
        "/console/missing.js",
        "/console/..%2f..%2fCargo.toml",
        "/console/%2e%2e/%2e%2e/Cargo.toml",
        "/common/../../Cargo.toml",
        "/console/.hidden.js",
        "/console/index.rs",
        "/web/common/api.js",
        "/common/",
    ] {
        let response = get(&app, path).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let post = app
        .send(app.client.request(Method::POST, app.url("/console/")))
        .await;
    post.assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn pages_are_not_api_operations() {
    let app = spawn_app().await;
    let openapi = app.send(app.client.get(app.url("/openapi.json"))).await;
    let paths = openapi.assert_status(200)["paths"]
        .as_object()
        .unwrap()
        .clone();
    for path in paths.keys() {
        assert!(
            !path.starts_with("/app")
                && !path.starts_with("/console")
                && !path.starts_with("/common"),
            "{path} is documented as an API operation"
        );
    }
}

#[tokio::test]
async fn only_processes_that_serve_auth_serve_the_pages() {
    let database = TestDatabase::create().await;
    let settings = settings_for(&database);
    let inventory_only = start(database, settings, &ServiceSet::parse("inventory").unwrap()).await;
    let page = get(&inventory_only, "/console/").await;
    assert_eq!(page.status(), 404);

    let with_auth = spawn_app_with(|_| {}).await;
    assert_eq!(get(&with_auth, "/console/").await.status(), 200);
}
