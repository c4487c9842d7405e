//! A headless Debian `chromium` driven through its own `chromedriver` process, one per test.
//!
//! Why a driver per test: tests run in parallel processes (nextest), and a WebDriver session
//! shared between them would need locking; a chromedriver starts in well under a second.
//! Nothing is downloaded: the binaries come from apt (scripts/bootstrap.sh installs them), and
//! a missing one fails the test with a message that says so, never skips it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a wait for something on the page lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The two widths every main page is looked at (and photographed) in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// A phone held upright: 390 × 844 CSS pixels.
    Phone,
    /// A laptop: 1366 × 900 CSS pixels.
    Desktop,
}

impl Viewport {
    pub fn size(self) -> (u32, u32) {
        match self {
            Viewport::Phone => (390, 844),
            Viewport::Desktop => (1366, 900),
        }
    }

    /// `phone` or `desktop`, for screenshot names.
    pub fn name(self) -> &'static str {
        match self {
            Viewport::Phone => "phone",
            Viewport::Desktop => "desktop",
        }
    }
}

fn binary(variable: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()));
    assert!(
        path.exists(),
        "{} is missing: the browser tests need Debian's chromium and chromium-driver \
         (run `. scripts/bootstrap.sh`, which installs them, or set {variable})",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// The chromedriver process; killing its process group also ends the chromium it started.
struct Driver {
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser window under test control. Dropping it ends chromedriver and chromium.
pub struct Browser {
    pub client: Client,
    viewport: Viewport,
    downloads: PathBuf,
    // Dropped after `client`: the session's connection goes first, then the processes.
    _driver: Driver,
}

// Not every helper is used by every test file that includes this module.
#[allow(dead_code)]
impl Browser {
    /// Starts chromedriver on a free port and a headless chromium at `viewport`.
    pub async fn open(viewport: Viewport) -> Browser {
        let chromium = binary("TENANTPOS_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("TENANTPOS_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{} does not start: {error}", chromedriver.display()));
        let driver = Driver { child };
        let downloads = std::env::temp_dir().join(format!("tenantpos-downloads-{port}"));
        let _ = std::fs::remove_dir_all(&downloads);
        std::fs::create_dir_all(&downloads).unwrap();

        let (width, height) = viewport.size();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--disable-extensions",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(error) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!(
                    "no WebDriver session from {}: {error}",
                    chromedriver.display()
                ),
            }
        };
        let browser = Browser {
            client,
            viewport,
            downloads,
            _driver: driver,
        };
        browser.resize(viewport).await;
        browser
    }

    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// Makes the page's viewport exactly `viewport`'s size (the window's outer size can differ).
    pub async fn resize(&self, viewport: Viewport) {
        let (width, height) = viewport.size();
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
        let inner = self
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let inner_width = inner[0].as_u64().unwrap_or(width as u64) as u32;
        let inner_height = inner[1].as_u64().unwrap_or(height as u64) as u32;
        if (inner_width, inner_height) != (width, height) {
            self.client
                .set_window_size(
                    width + width.saturating_sub(inner_width),
                    height + height.saturating_sub(inner_height),
                )
                .await
                .expect("the window resizes");
        }
    }

    /// Switches to `viewport` and remembers it for screenshot names.
    pub async fn set_viewport(&mut self, viewport: Viewport) {
        self.viewport = viewport;
        self.resize(viewport).await;
    }

    /// Opens `url` (the full address, e.g. `app.url("/console/")`).
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("{url} does not open: {error}"));
    }

    /// Runs `script` in the page (a function body; `arguments` holds `args`) and returns its value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("the script failed: {error}\n{script}"))
    }

    /// Waits until an element matching `css` exists and is displayed.
    pub async fn wait_for(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            if started.elapsed() > PATIENCE {
                let text = self.page_text().await;
                panic!("no visible `{css}` within {PATIENCE:?}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no element matching `css` is displayed.
    pub async fn wait_until_gone(&self, css: &str) {
        let started = Instant::now();
        loop {
            let visible = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            if !visible {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "`{css}` is still shown after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of the element matching `css` contains `expected`; returns that text.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let mut text = String::new();
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                text = element.text().await.unwrap_or_default();
                if text.contains(expected) {
                    return text;
                }
            }
            if started.elapsed() > PATIENCE {
                panic!("`{css}` does not show {expected:?} within {PATIENCE:?}; it shows {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the whole page's visible text contains `expected`.
    pub async fn wait_for_page_text(&self, expected: &str) -> String {
        self.wait_for_text("body", expected).await
    }

    /// The visible text of the whole page (`document.body.innerText`).
    pub async fn page_text(&self) -> String {
        self.client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Every text node of the document, hidden ones included (`textContent`), to check that
    /// something is nowhere in the DOM rather than merely not shown.
    pub async fn dom_text(&self) -> String {
        self.execute("return document.documentElement.textContent;", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching `css` (no waiting).
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no `{css}`: {error}"))
    }

    /// Every element matching `css` (no waiting).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    /// Clears the field matching `css` and types `text` into it, as a person would.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("the field clears");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("cannot type into `{css}`: {error}"));
    }

    /// Picks the option with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.wait_for(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|error| panic!("`{css}` has no option {value:?}: {error}"));
    }

    /// Clicks the element matching `css` once it is displayed.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("cannot click `{css}`: {error}"));
    }

    /// Clicks the displayed button whose visible text is exactly `label` (trimmed), as a person
    /// looking for that word would.
    pub async fn click_button(&self, label: &str) {
        let started = Instant::now();
        loop {
            for button in self.find_all("button").await {
                let shown = button.is_displayed().await.unwrap_or(false);
                let enabled = button.is_enabled().await.unwrap_or(false);
                if shown && enabled && button.text().await.unwrap_or_default().trim() == label {
                    button
                        .click()
                        .await
                        .unwrap_or_else(|error| panic!("cannot click {label:?}: {error}"));
                    return;
                }
            }
            if started.elapsed() > PATIENCE {
                let text = self.page_text().await;
                panic!("no enabled button {label:?} within {PATIENCE:?}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses Enter in the focused element (submits a form from the keyboard).
    pub async fn press_enter(&self, css: &str) {
        self.find(css)
            .await
            .send_keys("\u{E007}")
            .await
            .expect("Enter is sent");
    }

    /// Fails if a JavaScript alert, confirm or prompt is open (e.g. an injected `alert(1)`).
    pub async fn assert_no_alert(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("an alert is open: {text:?}");
        }
    }

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

    /// Ends the WebDriver session (chromium quits); the processes end when `self` drops.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}
