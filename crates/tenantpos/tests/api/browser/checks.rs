//! What every page must hold to wherever a test stands: each control has a name a screen
//! reader can say, and nothing is wider than the screen.

use super::driver::Browser;

/// Lists the displayed controls without an accessible name: a field without a `<label>`,
/// `aria-label` or `aria-labelledby`; a button or link without text or `aria-label`.
const UNLABELLED_CONTROLS: &str = r#"
const shown = (element) => element.getClientRects().length > 0;
const named = (element) =>
  (element.getAttribute('aria-label') || '').trim() !== '' ||
  (element.getAttribute('aria-labelledby') || '').split(/\s+/).some((id) => id && document.getElementById(id));
const missing = [];
for (const field of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
  if (shown(field) && !named(field) && field.labels.length === 0) missing.push(field.outerHTML.slice(0, 120));
}
for (const control of document.querySelectorAll('button, a[href]')) {
  if (shown(control) && !named(control) && control.textContent.trim() === '') missing.push(control.outerHTML.slice(0, 120));
}
return missing;
"#;

// Not every helper is used by every test file that includes this module.
#[allow(dead_code)]
impl Browser {
    /// The displayed controls without an accessible name (their HTML, shortened).
    pub async fn unlabelled_controls(&self) -> Vec<String> {
        let missing = self.execute(UNLABELLED_CONTROLS, vec![]).await;
        missing
            .as_array()
            .into_iter()
            .flatten()
            .map(|html| html.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Fails if a displayed control has no accessible name.
    pub async fn assert_controls_are_labelled(&self, page: &str) {
        let missing = self.unlabelled_controls().await;
        assert!(
            missing.is_empty(),
            "{page}: controls without an accessible name: {missing:#?}"
        );
    }

    /// `(the page's width, the viewport's width)` in CSS pixels.
    pub async fn widths(&self) -> (u64, u64) {
        let widths = self
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await;
        (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap())
    }

    /// Fails if the page scrolls sideways: it must fit the viewport's width (tables may scroll
    /// inside their own box).
    pub async fn assert_fits_width(&self, page: &str) {
        let (content, viewport) = self.widths().await;
        assert!(
            content <= viewport,
            "{page}: the page is {content} px wide in a {viewport} px viewport"
        );
    }
}
