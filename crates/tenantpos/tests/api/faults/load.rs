//! The mixed load: clients of each tenant placing orders, refunding some, reading, and now and
//! then registering a user, as a real client would — every `POST /orders` and refund carries an
//! `Idempotency-Key` and is retried with the same key on 503, 5xx, 409 `request_in_progress`
//! and timeouts, through whichever process comes next. Every HTTP attempt is journaled (when,
//! what it answered), and so is what each client was finally told, for the accounting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::client::Client;

pub struct Product {
    pub id: String,
    pub initial_stock: i64,
}

pub struct LoadTenant {
    pub id: String,
    pub token: String,
    pub products: Vec<Product>,
}

/// Where each kind of request goes; a kind served by several processes uses them in turn.
pub struct Targets {
    /// Orders, refunds and the dashboard.
    pub orders: Vec<String>,
    pub products: Vec<String>,
    pub auth: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Place,
    Refund,
    Read,
    Register,
    Probe,
}

/// One HTTP attempt; `status` is `None` when no answer came (refused, reset, timed out).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub tenant: String,
    pub op: Op,
    pub started: Instant,
    pub finished: Instant,
    pub status: Option<u16>,
    pub code: String,
    /// The `Idempotency-Key` it carried.
    pub key: Option<String>,
}

/// What a client was finally told about an order it placed.
#[derive(Debug, Clone)]
pub enum Told {
    Placed {
        order_id: String,
        total: i64,
    },
    Refused {
        status: u16,
        code: String,
    },
    /// No answer but 503s and timeouts until the client gave up.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Placement {
    pub tenant: String,
    pub key: String,
    pub told: Told,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundTold {
    Refunded,
    /// 409 `conflict`: the order is already refunded (an earlier attempt did it).
    AlreadyRefunded,
    Refused {
        status: u16,
        code: String,
    },
    Unknown,
}

#[derive(Debug, Clone)]
pub struct RefundRecord {
    pub tenant: String,
    pub order_id: String,
    pub told: RefundTold,
}

#[derive(Default)]
pub struct Journal {
    pub attempts: Mutex<Vec<Attempt>>,
    pub placements: Mutex<Vec<Placement>>,
    pub refunds: Mutex<Vec<RefundRecord>>,
    /// What no answer may ever be: 500s, an acknowledged order not found, an answer to
    /// another request.
    pub anomalies: Mutex<Vec<String>>,
}

impl Journal {
    pub(super) fn anomaly(&self, text: String) {
        eprintln!("ANOMALY: {text}");
        self.anomalies.lock().unwrap().push(text);
    }
}

/// What every client of one load shares.
pub(super) struct Shared {
    pub(super) http: reqwest::Client,
    pub(super) targets: Targets,
    pub(super) journal: Arc<Journal>,
    pub(super) stop: AtomicBool,
    /// Which process of a kind the next request goes to.
    pub(super) turn: AtomicUsize,
    /// `POST /orders` attempts sent and not answered yet.
    pub(super) placing: AtomicUsize,
}

pub struct Load {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `clients` clients per tenant.
    pub fn start(
        http: &reqwest::Client,
        targets: Targets,
        tenants: &[Arc<LoadTenant>],
        clients: usize,
    ) -> Load {
        let shared = Arc::new(Shared {
            http: http.clone(),
            targets,
            journal: Arc::default(),
            stop: AtomicBool::new(false),
            turn: AtomicUsize::new(0),
            placing: AtomicUsize::new(0),
        });
        let tasks = tenants
            .iter()
            .flat_map(|tenant| std::iter::repeat_n(tenant, clients))
            .enumerate()
            .map(|(index, tenant)| {
                let client = Client::new(shared.clone(), tenant.clone(), index as u64);
                tokio::spawn(client.run())
            })
            .collect();
        Load { shared, tasks }
    }

    pub fn journal(&self) -> Arc<Journal> {
        self.shared.journal.clone()
    }

    /// Waits (at most `within`) until a placement is on its way: a moment to kill a peer
    /// mid-placement.
    pub async fn wait_for_a_placement(&self, within: Duration) {
        let give_up = Instant::now() + within;
        while self.shared.placing.load(Ordering::SeqCst) == 0 && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `count` requests of `tenant` at once, half placements and half registrations (whose
    /// ~50 ms of password hashing before their transaction widen the window of a race).
    pub fn burst(
        &self,
        tenant: &Arc<LoadTenant>,
        count: usize,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..count)
            .map(|index| {
                let mut client =
                    Client::new(self.shared.clone(), tenant.clone(), 1000 + index as u64);
                tokio::spawn(async move {
                    if index % 2 == 0 {
                        client.place().await;
                    } else {
                        client.register().await;
                    }
                })
            })
            .collect()
    }

    /// Stops starting new requests, lets every client finish what it is doing (its retries
    /// included), and returns the journal.
    pub async fn finish(self) -> Arc<Journal> {
        self.shared.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            tokio::time::timeout(Duration::from_secs(40), task)
                .await
                .expect("a client finishes within its patience")
                .unwrap();
        }
        self.shared.journal.clone()
    }
}

/// Polls `GET path` (a list read from the database) of `tenant` through `base` until it
/// answers 200; how long after `since` that was, or `None` if not within `within`.
pub async fn probe(
    http: &reqwest::Client,
    journal: &Journal,
    tenant: &LoadTenant,
    (base, path): (&str, &str),
    since: Instant,
    within: Duration,
) -> Option<Duration> {
    loop {
        let started = Instant::now();
        let answer = http
            .get(format!("{base}{path}"))
            .header("x-tenant-id", &tenant.id)
            .bearer_auth(&tenant.token)
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        let status = answer.as_ref().ok().map(|answer| answer.status().as_u16());
        journal.attempts.lock().unwrap().push(Attempt {
            tenant: tenant.id.clone(),
            op: Op::Probe,
            started,
            finished: Instant::now(),
            status,
            code: String::new(),
            key: None,
        });
        if status == Some(500) {
            journal.anomaly(format!("probe GET {path} of {} via {base}: 500", tenant.id));
        }
        if status == Some(200) {
            return Some(since.elapsed());
        }
        if since.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
