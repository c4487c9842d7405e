//! The catalog of tenants (`tenantpos.tenants`), which is the operator's and not a tenant table.
//! The resolver's lookups go through the `TenantCache`, which every change invalidates: at once
//! in the process that made it, within a second everywhere else. An unknown id is answered from
//! a snapshot of the catalog's ids (`known_tenants`), so that random ids do not reach PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::Pool;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::cache::{CacheKey, TenantCache};
use crate::error::ApiError;
use crate::known_tenants::{KnownTenants, TRUSTED_FOR};
use crate::mismatch_throttle::MismatchThrottle;
use crate::tenant::{BusinessType, GateVouch, Strategy, Tenant, TenantStatus};
use crate::tenant_id::TenantId;

pub struct Catalog {
    /// The app role's pool: reads the catalog and writes the audit.
    app: Pool,
    /// The owner's pool: changes the catalog.
    owner: Pool,
    cache: Arc<TenantCache>,
    known: KnownTenants,
    /// The queries `lookup` sent to PostgreSQL: what a flood of unknown ids would cost.
    lookup_queries: AtomicU64,
    mismatches_written: MismatchThrottle,
}

/// What a new catalog entry says; it stays invisible to tenant traffic until activated.
pub struct NewTenant<'a> {
    pub id: &'a TenantId,
    pub name: &'a str,
    pub business_type: BusinessType,
    pub strategy: Strategy,
    pub cluster: &'a str,
}

/// A visible tenant (active or suspended), with the epoch as of which the row is the catalog's
/// (catalog migration 9).
const LOOKUP: &str = "SELECT * FROM tenantpos.lookup_tenant($1)";

/// A lookup as cached: the entry and the lookup's vouch for the gate, which the entry itself
/// never serializes (it is also the operator API's body). Side by side rather than flattened:
/// every request reads it, and `#[serde(flatten)]` would buffer each read through a map.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct CachedTenant {
    tenant: Tenant,
    gate_vouch: Option<GateVouch>,
}

impl Catalog {
    pub fn new(db: &crate::TenantDb, owner: Pool, cache: Arc<TenantCache>) -> Self {
        Self {
            app: db.main_pool().clone(),
            owner,
            cache,
            known: KnownTenants::default(),
            lookup_queries: AtomicU64::new(0),
            mismatches_written: MismatchThrottle::default(),
        }
    }

    /// The operator's (`OperatorAccess::owner_pool`).
    pub(crate) fn owner_pool(&self) -> &Pool {
        &self.owner
    }

    /// The tenant, if it exists and is provisioned (checks 3 and 4 of API.md §3 read this).
    pub async fn lookup(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>, ApiError> {
        if let Some(cached) = self.cache.get::<CachedTenant>(id, CacheKey::Tenant).await {
            let mut tenant = cached.tenant;
            tenant.gate_vouch = cached.gate_vouch;
            return Ok(Some(Arc::new(tenant)));
        }
        if self.surely_unknown(id).await {
            return Ok(None);
        }
        self.lookup_queries.fetch_add(1, Ordering::Relaxed);
        let row = crate::timing::time_database(async {
            let client = self.app.get().await?;
            let row = crate::db::statements::query_opt_outside_transaction(
                &client,
                client.statements,
                LOOKUP,
                &[&id.as_str()],
            )
            .await?;
            Ok::<_, ApiError>(row)
        })
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let tenant = Tenant::from_lookup_row(&row).map_err(ApiError::internal)?;
        let cached = CachedTenant {
            gate_vouch: tenant.gate_vouch,
            tenant,
        };
        self.cache.set(id, CacheKey::Tenant, &cached).await;
        Ok(Some(Arc::new(cached.tenant)))
    }

    async fn surely_unknown(&self, id: &TenantId) -> bool {
        self.known
            .surely_unknown(id, &self.app, &self.lookup_queries)
            .await
    }

    /// The queries tenant lookups sent to PostgreSQL since the process started.
    pub fn lookup_queries(&self) -> u64 {
        self.lookup_queries.load(Ordering::Relaxed)
    }

    /// Waits until no process can still take the tenant that this one just made visible for
    /// unknown (`known_tenants`): call it after the commit, before answering the creation.
    pub async fn settle_creation(&self) {
        tokio::time::sleep(TRUSTED_FOR).await;
    }

    /// Drops the cached lookup after a change made by this process.
    pub async fn invalidate(&self, id: &TenantId) {
        self.cache.invalidate(id, CacheKey::Tenant).await;
    }

    /// The tenant as the operator sees it, uncached.
    pub async fn get(&self, id: &TenantId) -> Result<Option<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let statement = client.prepare_cached(LOOKUP).await?;
        let row = client.query_opt(&statement, &[&id.as_str()]).await?;
        row.map(|row| Tenant::from_row(&row).map_err(ApiError::internal))
            .transpose()
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, name, business_type, strategy, cluster, status, moving, created_at, incarnation \
                 FROM tenantpos.tenants WHERE status IN ('active', 'suspended') ORDER BY id",
            )
            .await?;
        let rows = client.query(&statement, &[]).await?;
        rows.iter()
            .map(|row| Tenant::from_row(row).map_err(ApiError::internal))
            .collect()
    }

    /// Reserves the id with a row in status `provisioning`; its incarnation, `None` when the id
    /// is taken.
    pub async fn reserve(&self, new: &NewTenant<'_>) -> Result<Option<Uuid>, ApiError> {
        let client = self.owner.get().await?;
        Ok(Self::insert(&***client, new, "provisioning").await?)
    }

    /// Inserts a catalog entry in `status` through the owner's `client` (a transaction, when
    /// the tenant's storage is made in the same one); the new incarnation of the id, `None`
    /// when the id is taken.
    pub async fn insert(
        client: &impl tokio_postgres::GenericClient,
        new: &NewTenant<'_>,
        status: &str,
    ) -> Result<Option<Uuid>, tokio_postgres::Error> {
        let inserted = client
            .query_opt(
                "INSERT INTO tenantpos.tenants (id, name, business_type, strategy, cluster, status) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING incarnation",
                &[
                    &new.id.as_str(),
                    &new.name,
                    &new.business_type.as_str(),
                    &new.strategy.as_str(),
                    &new.cluster,
                    &status,
                ],
            )
            .await?;
        Ok(inserted.map(|row| row.get(0)))
    }

    /// Makes a provisioned tenant visible.
    pub async fn activate(&self, id: &TenantId) -> Result<Tenant, ApiError> {
        self.set_status_from(id, &["provisioning"], TenantStatus::Active)
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("tenant {id} vanished while provisioning"))
            })
    }

    /// Forgets a reservation whose provisioning failed.
    pub async fn release(&self, id: &TenantId) -> Result<(), ApiError> {
        let client = self.owner.get().await?;
        client
            .execute(
                "DELETE FROM tenantpos.tenants WHERE id = $1 AND status = 'provisioning'",
                &[&id.as_str()],
            )
            .await?;
        Ok(())
    }

    /// Suspends or resumes; `None` when the tenant does not exist.
    pub async fn set_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<Option<Tenant>, ApiError> {
        let tenant = self
            .set_status_from(id, &["active", "suspended"], status)
            .await?;
        self.invalidate(id).await;
        Ok(tenant)
    }

    async fn set_status_from(
        &self,
        id: &TenantId,
        from: &[&str],
        to: TenantStatus,
    ) -> Result<Option<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let row = client
            .query_opt(
                "UPDATE tenantpos.tenants SET status = $2 WHERE id = $1 AND status = ANY($3) \
                 RETURNING id, name, business_type, strategy, cluster, status, moving, created_at, incarnation",
                &[&id.as_str(), &to.as_str(), &from],
            )
            .await?;
        row.map(|row| Tenant::from_row(&row).map_err(ApiError::internal))
            .transpose()
    }

    /// Makes a tenant invisible for its deletion (again, if a deletion stopped halfway).
    /// `None` when there is no such tenant.
    pub async fn begin_deletion(&self, id: &TenantId) -> Result<Option<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let row = client
            .query_opt(
                "UPDATE tenantpos.tenants SET status = 'deleting' \
                 WHERE id = $1 AND status IN ('active', 'suspended', 'deleting') AND NOT moving \
                 RETURNING id, name, business_type, strategy, cluster, 'suspended' AS status, moving, created_at, incarnation",
                &[&id.as_str()],
            )
            .await?;
        self.invalidate(id).await;
        row.map(|row| Tenant::from_row(&row).map_err(ApiError::internal))
            .transpose()
    }

    /// Marks a tenant as being moved: its requests answer 503 until `finish_move` or
    /// `abandon_move`. `None` when there is no such tenant.
    pub async fn begin_move(&self, id: &TenantId) -> Result<Option<Tenant>, ApiError> {
        self.set_moving(
            "UPDATE tenantpos.tenants SET moving = true \
             WHERE id = $1 AND status IN ('active', 'suspended') \
             RETURNING id, name, business_type, strategy, cluster, status, moving, created_at, incarnation",
            &[&id.as_str()],
            id,
        )
        .await
    }

    /// Points the catalog at the tenant's new storage and lets its requests in again.
    pub async fn finish_move(
        &self,
        id: &TenantId,
        strategy: Strategy,
        cluster: &str,
    ) -> Result<Option<Tenant>, ApiError> {
        self.set_moving(
            "UPDATE tenantpos.tenants SET strategy = $2, cluster = $3, moving = false \
             WHERE id = $1 AND moving \
             RETURNING id, name, business_type, strategy, cluster, status, moving, created_at, incarnation",
            &[&id.as_str(), &strategy.as_str(), &cluster],
            id,
        )
        .await
    }

    /// Ends a move that failed: the tenant stays where it was.
    pub async fn abandon_move(&self, id: &TenantId) -> Result<Option<Tenant>, ApiError> {
        self.set_moving(
            "UPDATE tenantpos.tenants SET moving = false WHERE id = $1 AND moving \
             RETURNING id, name, business_type, strategy, cluster, status, moving, created_at, incarnation",
            &[&id.as_str()],
            id,
        )
        .await
    }

    async fn set_moving(
        &self,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        id: &TenantId,
    ) -> Result<Option<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let row = client.query_opt(statement, params).await?;
        self.invalidate(id).await;
        row.map(|row| Tenant::from_row(&row).map_err(ApiError::internal))
            .transpose()
    }

    /// Forgets a deleted tenant: its id is free again.
    pub async fn finish_deletion(&self, id: &TenantId) -> Result<(), ApiError> {
        let client = self.owner.get().await?;
        client
            .execute(
                "DELETE FROM tenantpos.tenants WHERE id = $1 AND status = 'deleting'",
                &[&id.as_str()],
            )
            .await?;
        self.invalidate(id).await;
        Ok(())
    }

    /// Keeps a record of what the operator did across tenants or to one.
    pub async fn record_operator_action(
        &self,
        action: &str,
        tenant: Option<&TenantId>,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let client = self.owner.get().await?;
        client
            .execute(
                "INSERT INTO tenantpos.operator_audit (action, tenant_id, detail) VALUES ($1, $2, $3)",
                &[&action, &tenant.map(TenantId::as_str), &detail],
            )
            .await?;
        Ok(())
    }

    /// Keeps a record of a token presented for another tenant (check 7), unless the header's
    /// tenant had its share of records this minute (`mismatch_throttle`).
    pub async fn record_mismatch(
        &self,
        header_tenant: &TenantId,
        token_tenant: &str,
        token_subject: &str,
        request_id: Option<&str>,
    ) -> Result<(), ApiError> {
        if !self.mismatches_written.admit(header_tenant) {
            return Ok(());
        }
        let client = self.app.get().await?;
        crate::db::statements::execute_outside_transaction(
            &client,
            client.statements,
            "INSERT INTO tenantpos.tenant_mismatch_audit \
             (header_tenant_id, token_tenant_id, token_subject, request_id) VALUES ($1, $2, $3, $4)",
            &[
                &header_tenant.as_str(),
                &token_tenant,
                &token_subject,
                &request_id,
            ],
        )
        .await?;
        Ok(())
    }

    /// How many tenants the catalog holds by strategy and status, for `tenantpos_tenants`.
    pub async fn count_by_strategy_and_status(
        &self,
    ) -> Result<Vec<(String, String, i64)>, ApiError> {
        let client = self.owner.get().await?;
        let rows = client
            .query(
                "SELECT strategy, status, count(*) FROM tenantpos.tenants GROUP BY strategy, status",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect())
    }

    /// The recorded mismatches, newest first, for the operator.
    pub async fn mismatches(&self, limit: i64) -> Result<Vec<MismatchRecord>, ApiError> {
        let client = self.owner.get().await?;
        let rows = client
            .query(
                "SELECT header_tenant_id, token_tenant_id, token_subject, request_id, recorded_at \
                 FROM tenantpos.tenant_mismatch_audit ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| MismatchRecord {
                header_tenant_id: row.get(0),
                token_tenant_id: row.get(1),
                token_subject: row.get(2),
                request_id: row.get(3),
                recorded_at: row.get(4),
            })
            .collect())
    }

    /// Changes a tenant's name or business type (what is `None` stays); `None` when the
    /// tenant does not exist. This process sees the change at once, others within a second.
    pub async fn update_profile(
        &self,
        id: &TenantId,
        name: Option<&str>,
        business_type: Option<BusinessType>,
    ) -> Result<Option<Tenant>, ApiError> {
        let client = self.owner.get().await?;
        let row = client
            .query_opt(
                "UPDATE tenantpos.tenants \
                 SET name = COALESCE($2, name), business_type = COALESCE($3, business_type) \
                 WHERE id = $1 AND status IN ('active', 'suspended') \
                 RETURNING id, name, business_type, strategy, cluster, status, moving, created_at, incarnation",
                &[
                    &id.as_str(),
                    &name,
                    &business_type.map(BusinessType::as_str),
                ],
            )
            .await?;
        self.invalidate(id).await;
        row.map(|row| Tenant::from_row(&row).map_err(ApiError::internal))
            .transpose()
    }
}

/// A token presented for another tenant than its own (check 7).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MismatchRecord {
    pub header_tenant_id: String,
    pub token_tenant_id: String,
    pub token_subject: String,
    pub request_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
}
