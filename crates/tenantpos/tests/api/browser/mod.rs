//! Browser tests: the web pages of API.md §10 in a real headless chromium, used as a person
//! would (sign in, click, type), with screenshots of each main page in target/screenshots/.
//!
//! `Browser::open(Viewport::Phone)` starts chromedriver and chromium for one test; the helpers
//! wait (up to `PATIENCE`) for what a person would wait for, and fail with the page's text.

mod app;
mod capture;
mod checks;
mod console;
pub mod driver;
mod harness;
mod interaction;

// Some helpers serve only the app's tests (browser/app.rs).
#[allow(unused_imports)]
pub use capture::screenshot_directory;
#[allow(unused_imports)]
pub use driver::{Browser, PATIENCE, Viewport};
