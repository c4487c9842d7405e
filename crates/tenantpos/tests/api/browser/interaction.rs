//! What a person does on a page, and waits for: find, type, pick, click, read.

use std::time::{Duration, Instant};

use fantoccini::{Locator, elements::Element};

use super::driver::{Browser, PATIENCE};

// Not every helper is used by every test file that includes this module.
#[allow(dead_code)]
impl Browser {
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

    /// Clicks the element matching `css` once it is displayed. If the page drew it again
    /// between finding and clicking (a list refreshed), the new one is clicked, as a person
    /// would.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            match self.wait_for(css).await.click().await {
                Ok(_) => return,
                Err(error)
                    if error.is_stale_element_reference() && started.elapsed() < PATIENCE =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot click `{css}`: {error}"),
            }
        }
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

    /// Types `keys` into whatever has the focus, as a keyboard does (`\u{E004}` is Tab,
    /// `\u{E007}` Enter).
    pub async fn type_keys(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("something has the focus")
            .send_keys(keys)
            .await
            .expect("the keys are typed");
    }

    /// Whether the focused element matches `css`.
    pub async fn focus_is_on(&self, css: &str) -> bool {
        self.execute(
            "return document.activeElement !== null && document.activeElement.matches(arguments[0]);",
            vec![serde_json::Value::from(css)],
        )
        .await
            == serde_json::Value::Bool(true)
    }

    /// Presses Tab until the focus is on an element matching `css`, as a keyboard user moves
    /// through a page; fails after 60 presses.
    pub async fn tab_to(&self, css: &str) {
        for _ in 0..60 {
            if self.focus_is_on(css).await {
                return;
            }
            self.type_keys("\u{E004}").await;
        }
        let focused = self
            .execute("return document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : '';", vec![])
            .await;
        panic!("60 presses of Tab never reached `{css}`; the focus is on {focused}");
    }
}
