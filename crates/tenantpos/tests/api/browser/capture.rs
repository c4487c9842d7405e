//! What a test keeps of a page: screenshots, downloads, and the errors the page logged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;

use super::driver::{Browser, PATIENCE};

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log: the page's console
/// messages since the last read (it empties the log).
#[derive(Debug)]
struct ReadBrowserLog;

impl WebDriverCompatibleCommand for ReadBrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Where the build's output lives: screenshots go under it, next to the binaries.
fn target_directory() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(directory) => PathBuf::from(directory),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

/// `target/screenshots/`, created if needed.
pub fn screenshot_directory() -> PathBuf {
    let directory = target_directory().join("screenshots");
    std::fs::create_dir_all(&directory).expect("target/screenshots can be created");
    directory
}

// Not every helper is used by every test file that includes this module.
#[allow(dead_code)]
impl Browser {
    /// Saves a PNG of the viewport as `target/screenshots/<name>-<phone|desktop>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = screenshot_directory().join(format!("{name}-{}.png", self.viewport.name()));
        std::fs::write(&path, png).expect("the screenshot is saved");
        path
    }

    /// Saves a PNG of the whole page (not only the viewport), as `screenshot` names it.
    pub async fn full_page_screenshot(&self, name: &str) -> PathBuf {
        let (width, height) = self.viewport.size();
        let page_height = self
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight);",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(height as u64) as u32;
        self.client
            .set_window_size(width, page_height.clamp(height, 4000))
            .await
            .expect("the window resizes");
        let path = self.screenshot(name).await;
        self.resize(self.viewport).await;
        path
    }

    /// The directory downloads land in.
    pub fn downloads(&self) -> &Path {
        &self.downloads
    }

    /// Waits for a finished download whose file name starts with `prefix`; returns its path.
    pub async fn wait_for_download(&self, prefix: &str) -> PathBuf {
        let started = Instant::now();
        loop {
            if let Ok(entries) = std::fs::read_dir(&self.downloads) {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with(prefix) && !name.ends_with(".crdownload") {
                        return entry.path();
                    }
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "no download named {prefix}* in {} within {PATIENCE:?}",
                self.downloads.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The errors the page logged since the last read: uncaught exceptions, refusals by the
    /// Content-Security-Policy, failed module imports. Failed requests (an API answering 401 or
    /// 404 on purpose) are left out: the pages show those as messages.
    pub async fn logged_errors(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(ReadBrowserLog)
            .await
            .expect("chromedriver hands out the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE" && entry["source"] != "network")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Fails if the page threw, or broke its Content-Security-Policy, since the last read.
    pub async fn assert_no_page_errors(&self) {
        let errors = self.logged_errors().await;
        assert!(
            errors.is_empty(),
            "the page logged errors:\n{}",
            errors.join("\n")
        );
    }
}
