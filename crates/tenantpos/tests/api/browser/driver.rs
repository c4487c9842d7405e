//! A headless Debian `chromium` driven through its own `chromedriver` process, one per test.
//!
//! Why a driver per test: tests run in parallel processes (nextest), and a WebDriver session
//! shared between them would need locking; a chromedriver starts in well under a second.
//! Nothing is downloaded: the binaries come from apt (scripts/bootstrap.sh installs them), and
//! a missing one fails the test with a message that says so, never skips it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a wait for something on the page lasts before the test fails: generous, since the
/// whole suite shares two cores with the browsers; a wait that is met returns at once.
pub const PATIENCE: Duration = Duration::from_secs(30);

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
    pub(super) viewport: Viewport,
    pub(super) downloads: PathBuf,
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
        // The page's console (uncaught exceptions, CSP refusals), read by `logged_errors`.
        capabilities.insert("goog:loggingPrefs".to_owned(), json!({"browser": "ALL"}));
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

    /// Ends the WebDriver session (chromium quits); the processes end when `self` drops.
    /// Fails if the page threw or broke its Content-Security-Policy since the last check.
    pub async fn close(self) {
        let errors = self.logged_errors().await;
        let _ = self.client.clone().close().await;
        let _ = std::fs::remove_dir_all(&self.downloads);
        assert!(
            errors.is_empty(),
            "the page logged errors:\n{}",
            errors.join("\n")
        );
    }
}
