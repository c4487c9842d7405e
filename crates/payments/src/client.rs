//! `PaymentsApi`: what other services may ask of payments, always for the caller's tenant.
//! `LocalPayments` answers in process; `HttpPayments` asks a remote payments service.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tenancy::peer::PeerClient;
use tenancy::{ApiError, Tenancy, TenantContext};
use uuid::Uuid;

use crate::faults::{CaptureStall, PaymentFaults};
use crate::payments::{self, Capture, Payment, PaymentsSummary};

#[async_trait]
pub trait PaymentsApi: Send + Sync {
    /// Takes an order's payment; again for the same order returns the first payment.
    async fn capture(
        &self,
        context: &TenantContext,
        capture: &Capture,
    ) -> Result<Payment, ApiError>;
    /// Undoes the payment of an order that failed; idempotent.
    async fn void(&self, context: &TenantContext, order_id: Uuid) -> Result<(), ApiError>;
    /// Refunds an order's payment; idempotent.
    async fn refund(&self, context: &TenantContext, order_id: Uuid) -> Result<Payment, ApiError>;
    /// Captured payments by method.
    async fn summary(&self, context: &TenantContext) -> Result<PaymentsSummary, ApiError>;
}

/// Payments in this process.
pub struct LocalPayments {
    tenancy: Arc<Tenancy>,
    faults: Arc<PaymentFaults>,
}

impl LocalPayments {
    pub fn new(tenancy: Arc<Tenancy>) -> Self {
        Self {
            tenancy,
            faults: Arc::default(),
        }
    }

    /// Fault injection for captures; inert unless a test sets it.
    pub fn faults(&self) -> Arc<PaymentFaults> {
        self.faults.clone()
    }

    /// A capture slowed down by `PaymentFaults`, spawned so that a caller that gives up does
    /// not stop it.
    async fn slow_capture(
        &self,
        context: &TenantContext,
        capture: &Capture,
        (stall, delay): (CaptureStall, Duration),
    ) -> Result<Payment, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let capture = capture.clone();
        let run = tokio::spawn(async move {
            if stall == CaptureStall::BeforeInsert {
                tokio::time::sleep(delay).await;
            }
            let payment = payments::capture(&tx, &capture).await?;
            if stall == CaptureStall::BeforeCommit {
                tokio::time::sleep(delay).await;
            }
            tx.commit().await?;
            Ok(payment)
        });
        run.await.map_err(ApiError::internal)?
    }
}

#[async_trait]
impl PaymentsApi for LocalPayments {
    async fn capture(
        &self,
        context: &TenantContext,
        capture: &Capture,
    ) -> Result<Payment, ApiError> {
        if let Some(slow) = self.faults.capture_stall() {
            return self.slow_capture(context, capture, slow).await;
        }
        let tx = self.tenancy.db.begin(context).await?;
        let payment = payments::capture(&tx, capture).await?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn void(&self, context: &TenantContext, order_id: Uuid) -> Result<(), ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        payments::void(&tx, order_id).await?;
        Ok(tx.commit().await?)
    }

    async fn refund(&self, context: &TenantContext, order_id: Uuid) -> Result<Payment, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let payment = payments::refund(&tx, order_id).await?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn summary(&self, context: &TenantContext) -> Result<PaymentsSummary, ApiError> {
        let tx = self.tenancy.db.begin(context).await?;
        let summary = payments::summary(&tx).await?;
        tx.commit().await?;
        Ok(summary)
    }
}

/// Payments in another process.
pub struct HttpPayments {
    peer: PeerClient,
}

impl HttpPayments {
    pub fn new(peer: PeerClient) -> Self {
        Self { peer }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Done {}

const NO_BODY: Option<&Done> = None;

#[async_trait]
impl PaymentsApi for HttpPayments {
    async fn capture(
        &self,
        context: &TenantContext,
        capture: &Capture,
    ) -> Result<Payment, ApiError> {
        self.peer
            .call(
                context,
                Method::POST,
                "/internal/payments/captures",
                Some(capture),
            )
            .await
    }

    async fn void(&self, context: &TenantContext, order_id: Uuid) -> Result<(), ApiError> {
        let path = format!("/internal/payments/orders/{order_id}/void");
        self.peer
            .call::<Done>(context, Method::POST, &path, NO_BODY)
            .await
            .map(|_| ())
    }

    async fn refund(&self, context: &TenantContext, order_id: Uuid) -> Result<Payment, ApiError> {
        let path = format!("/internal/payments/orders/{order_id}/refund");
        self.peer.call(context, Method::POST, &path, NO_BODY).await
    }

    async fn summary(&self, context: &TenantContext) -> Result<PaymentsSummary, ApiError> {
        self.peer
            .call(context, Method::GET, "/internal/payments/summary", NO_BODY)
            .await
    }
}
