//! The harness itself: what it promises to catch, it catches.

use super::{Browser, Viewport};
use crate::support::*;

#[tokio::test]
async fn page_errors_and_csp_refusals_are_caught() {
    let app = spawn_app().await;
    let browser = Browser::open(Viewport::Phone).await;
    browser.goto(&app.url("/console/")).await;
    browser.wait_for("#admin-token").await;
    assert_eq!(
        browser.logged_errors().await,
        Vec::<String>::new(),
        "the console page loads cleanly"
    );

    // What a careless page might do: an inline style attribute, an inline script, a throw.
    browser
        .execute(
            "const box = document.createElement('div'); box.setAttribute('style', 'color: red');
             document.body.appendChild(box);
             const script = document.createElement('script'); script.textContent = 'window.ran = 1';
             document.body.appendChild(script);
             setTimeout(() => { throw new Error('thrown by the page'); }, 0);",
            vec![],
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let errors = browser.logged_errors().await.join("\n");
    assert!(
        errors.contains("Content Security Policy"),
        "CSP refusals are caught: {errors}"
    );
    assert!(
        errors.contains("thrown by the page"),
        "exceptions are caught: {errors}"
    );
    let inline_ran = browser.execute("return window.ran === 1;", vec![]).await;
    assert_eq!(
        inline_ran,
        serde_json::json!(false),
        "the CSP stopped the inline script"
    );
    browser.close().await;
}

#[tokio::test]
async fn unlabelled_controls_and_sideways_scrolling_are_caught() {
    let app = spawn_app().await;
    let browser = Browser::open(Viewport::Phone).await;
    browser.goto(&app.url("/console/")).await;
    browser.wait_for("#admin-token").await;
    assert_eq!(browser.unlabelled_controls().await, Vec::<String>::new());
    let (content, viewport) = browser.widths().await;
    assert!(content <= viewport);

    browser
        .execute(
            "const main = document.querySelector('main');
             main.append(document.createElement('input'), document.createElement('button'));
             const wide = document.createElement('div');
             wide.style.width = '2000px';
             wide.textContent = 'wide';
             main.append(wide);",
            vec![],
        )
        .await;
    let missing = browser.unlabelled_controls().await;
    assert_eq!(
        missing.len(),
        2,
        "an unlabelled field and an empty button: {missing:?}"
    );
    let (content, viewport) = browser.widths().await;
    assert!(
        content > viewport,
        "a 2000 px element makes the page scroll sideways"
    );
    browser.close().await;
}
