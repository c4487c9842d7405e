//! One client of the load: what it sends, how it retries, and what it records.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use super::load::{Attempt, LoadTenant, Op, Placement, RefundRecord, RefundTold, Shared, Told};

struct Answer {
    status: u16,
    code: String,
    body: Value,
}

#[derive(Clone, Copy)]
enum Service {
    Orders,
    Products,
    Auth,
}

pub(super) struct Client {
    shared: Arc<Shared>,
    tenant: Arc<LoadTenant>,
    rng: StdRng,
    /// Acknowledged orders not refunded yet (candidates for a refund).
    paid: Vec<String>,
    acknowledged: Vec<String>,
    /// The tenant answered 404 `tenant_not_found`: it was deleted.
    gone: bool,
}

impl Client {
    pub(super) fn new(shared: Arc<Shared>, tenant: Arc<LoadTenant>, seed: u64) -> Client {
        Client {
            shared,
            tenant,
            rng: StdRng::seed_from_u64(seed),
            paid: Vec::new(),
            acknowledged: Vec::new(),
            gone: false,
        }
    }

    pub(super) async fn run(mut self) {
        while !self.shared.stop.load(Ordering::SeqCst) && !self.gone {
            let roll = self.rng.random_range(0..100);
            if roll < 55 {
                self.place().await;
            } else if roll < 67 && !self.paid.is_empty() {
                self.refund().await;
            } else if roll < 70 {
                self.register().await;
            } else {
                self.read().await;
            }
            let pause = self.rng.random_range(10..40);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }

    pub(super) async fn place(&mut self) {
        let key = uuid::Uuid::new_v4().to_string();
        let products = &self.tenant.products;
        let first = self.rng.random_range(0..products.len());
        let mut items = vec![
            json!({"product_id": products[first].id, "quantity": self.rng.random_range(1..=3)}),
        ];
        if self.rng.random_bool(0.4) {
            let second =
                (first + 1 + self.rng.random_range(0..products.len() - 1)) % products.len();
            items.push(json!({"product_id": products[second].id, "quantity": self.rng.random_range(1..=2)}));
        }
        // The note carries the key, so that the accounting finds every order a key placed.
        let mut body = json!({"items": items, "note": key});
        match self.rng.random_range(0..10) {
            0..7 => body["payment"] = json!({"method": "card", "card_token": "tok_visa"}),
            7 => body["payment"] = json!({"method": "card", "card_token": "tok_decline"}),
            _ => {}
        }
        let patience = self.patience();
        let answer = self
            .exchange(
                Op::Place,
                Method::POST,
                Service::Orders,
                "/orders",
                Some(&key),
                Some(&body),
                patience,
            )
            .await;
        let told = match answer {
            Some(answer) if answer.status == 201 => {
                let order_id = answer.body["id"].as_str().unwrap_or_default().to_owned();
                if answer.body["note"] != key.as_str() {
                    self.shared.journal.anomaly(format!(
                        "placing {key} for {} was answered with another order: {}",
                        self.tenant.id, answer.body
                    ));
                }
                self.paid.push(order_id.clone());
                self.acknowledged.push(order_id.clone());
                Told::Placed {
                    order_id,
                    total: answer.body["total_amount"].as_i64().unwrap_or(-1),
                }
            }
            Some(answer) => Told::Refused {
                status: answer.status,
                code: answer.code,
            },
            None => Told::Unknown,
        };
        self.shared
            .journal
            .placements
            .lock()
            .unwrap()
            .push(Placement {
                tenant: self.tenant.id.clone(),
                key,
                told,
            });
    }

    /// How long a client retries a placement or a refund, in seconds: 25, but one client in
    /// five walks away after its first failed attempt (as one that crashed would), leaving the
    /// server to finish or undo what that attempt started.
    fn patience(&mut self) -> u64 {
        if self.rng.random_bool(0.2) { 0 } else { 25 }
    }

    async fn refund(&mut self) {
        let order_id = self
            .paid
            .swap_remove(self.rng.random_range(0..self.paid.len()));
        let key = uuid::Uuid::new_v4().to_string();
        let path = format!("/orders/{order_id}/refund");
        let patience = self.patience();
        let answer = self
            .exchange(
                Op::Refund,
                Method::POST,
                Service::Orders,
                &path,
                Some(&key),
                None,
                patience,
            )
            .await;
        let told = match answer {
            Some(answer) if answer.status == 200 => {
                if answer.body["status"] != "refunded" || answer.body["id"] != order_id.as_str() {
                    self.shared
                        .journal
                        .anomaly(format!("refunding {order_id} answered {}", answer.body));
                }
                RefundTold::Refunded
            }
            Some(answer) if (answer.status, answer.code.as_str()) == (409, "conflict") => {
                RefundTold::AlreadyRefunded
            }
            Some(answer) => RefundTold::Refused {
                status: answer.status,
                code: answer.code,
            },
            None => RefundTold::Unknown,
        };
        self.shared
            .journal
            .refunds
            .lock()
            .unwrap()
            .push(RefundRecord {
                tenant: self.tenant.id.clone(),
                order_id,
                told,
            });
    }

    pub(super) async fn register(&mut self) {
        let username = format!("staff{}", self.rng.random::<u32>());
        let body = json!({"username": username, "password": "staff-password-1", "role": "cashier"});
        self.exchange(
            Op::Register,
            Method::POST,
            Service::Auth,
            "/auth/register",
            None,
            Some(&body),
            10,
        )
        .await;
    }

    async fn read(&mut self) {
        let roll = self.rng.random_range(0..100);
        let (service, path) = if roll < 40 && !self.acknowledged.is_empty() {
            let order = &self.acknowledged[self.rng.random_range(0..self.acknowledged.len())];
            (Service::Orders, format!("/orders/{order}"))
        } else if roll < 60 {
            (Service::Orders, "/orders?limit=5".to_owned())
        } else if roll < 90 {
            let product =
                &self.tenant.products[self.rng.random_range(0..self.tenant.products.len())];
            (Service::Products, format!("/products/{}", product.id))
        } else {
            (Service::Orders, "/dashboard/summary".to_owned())
        };
        let answer = self
            .exchange(Op::Read, Method::GET, service, &path, None, None, 5)
            .await;
        if let Some(answer) = answer
            && answer.status != 200
            && !self.gone
        {
            self.shared.journal.anomaly(format!(
                "GET {path} of {} (acknowledged data) answered {} {}",
                self.tenant.id, answer.status, answer.body
            ));
        }
    }

    /// Sends a request until it gets an answer a client acts on, retrying what a client
    /// retries, for at most `patience_seconds`; `None` if it never got one.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &mut self,
        op: Op,
        method: Method,
        service: Service,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        patience_seconds: u64,
    ) -> Option<Answer> {
        let give_up = Instant::now() + Duration::from_secs(patience_seconds);
        loop {
            let targets = match service {
                Service::Orders => &self.shared.targets.orders,
                Service::Products => &self.shared.targets.products,
                Service::Auth => &self.shared.targets.auth,
            };
            let base = &targets[self.shared.turn.fetch_add(1, Ordering::Relaxed) % targets.len()];
            let mut request = self
                .shared
                .http
                .request(method.clone(), format!("{base}{path}"))
                .header("x-tenant-id", &self.tenant.id)
                .bearer_auth(&self.tenant.token);
            if let Some(key) = key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = Instant::now();
            let placing = op == Op::Place;
            if placing {
                self.shared.placing.fetch_add(1, Ordering::SeqCst);
            }
            let response = request.send().await;
            let (status, retry_after, bytes) = match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
                    (Some(status), retry_after, response.bytes().await.ok())
                }
                Err(_) => (None, None, None),
            };
            if placing {
                self.shared.placing.fetch_sub(1, Ordering::SeqCst);
            }
            let body: Value = bytes
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            self.shared.journal.attempts.lock().unwrap().push(Attempt {
                tenant: self.tenant.id.clone(),
                op,
                started,
                finished: Instant::now(),
                status,
                code: code.clone(),
                key: key.map(str::to_owned),
            });
            let retry = match status {
                None => true,
                Some(500) => {
                    self.shared.journal.anomaly(format!(
                        "{op:?} {method} {path} of {} via {base}: 500 {body}",
                        self.tenant.id
                    ));
                    true
                }
                Some(status) if status >= 500 || status == 429 => true,
                Some(409) => code == "request_in_progress",
                Some(404) if code == "tenant_not_found" => {
                    self.gone = true;
                    false
                }
                Some(_) => false,
            };
            if !retry {
                return Some(Answer {
                    status: status.unwrap(),
                    code,
                    body,
                });
            }
            if Instant::now() >= give_up {
                return None;
            }
            let wait = match retry_after {
                Some(seconds) => Duration::from_secs(seconds.min(1)),
                None => Duration::from_millis(self.rng.random_range(100..250)),
            };
            tokio::time::sleep(wait).await;
        }
    }
}
