//! A tenant as the catalog knows it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenant_id::TenantId;

/// Where a tenant's rows live (API.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Rows in the shared tables of the main database.
    Shared,
    /// Its own schema `t_<id>` in the main database.
    Schema,
    /// Its own database on a cluster.
    Database,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    Restaurant,
    FastFood,
    Retail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

/// A catalog entry: `{"id","name","business_type","strategy","cluster","status","created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    #[schema(value_type = String, example = "retail_01")]
    pub id: TenantId,
    pub name: String,
    pub business_type: BusinessType,
    pub strategy: Strategy,
    pub cluster: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    /// Made anew each time the id is created: a request resolved for an earlier incarnation of
    /// the id (deleted and created again since) is refused by the tenant's gate.
    pub incarnation: Uuid,
    /// True while the tenant is being moved (`POST /admin/tenants/{id}/move`): its requests
    /// answer 503 with `Retry-After` until the move ends. Shown only then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moving: bool,
    /// As of which catalog epoch this entry is the catalog's, if a lookup could vouch for it:
    /// tenantpos's own, never shown (`GateVouch`).
    #[serde(skip)]
    pub(crate) gate_vouch: Option<GateVouch>,
}

/// A lookup's word that at catalog epoch `epoch` (migration 9, `tenantpos.gate_epoch`) the
/// tenant's row passed the gate's catalog check for this incarnation at this placement. A
/// transaction of that incarnation at that placement passes the gate on its lock alone while
/// the epoch has not moved (`db::scope_statement`). It names the placement and incarnation it
/// was given for, so that a copy of the entry changed to another (a move's) vouches for nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GateVouch {
    pub epoch: i64,
    pub placement: Strategy,
    pub incarnation: Uuid,
}

macro_rules! text_enum {
    ($type:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl FromStr for $type {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown value {other:?}")),
                }
            }
        }
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Strategy { Shared => "shared", Schema => "schema", Database => "database" });
text_enum!(BusinessType { Restaurant => "restaurant", FastFood => "fast_food", Retail => "retail" });
text_enum!(TenantStatus { Active => "active", Suspended => "suspended" });

impl Tenant {
    /// Reads a row of `tenantpos.tenants` (or of `tenantpos.lookup_tenant`, without its vouch).
    pub(crate) fn from_row(row: &tokio_postgres::Row) -> anyhow::Result<Self> {
        let parse = |column: &str| -> anyhow::Result<String> { Ok(row.try_get(column)?) };
        Ok(Self {
            id: TenantId::parse(&parse("id")?)?,
            name: parse("name")?,
            business_type: parse("business_type")?
                .parse()
                .map_err(anyhow::Error::msg)?,
            strategy: parse("strategy")?.parse().map_err(anyhow::Error::msg)?,
            cluster: parse("cluster")?,
            status: parse("status")?.parse().map_err(anyhow::Error::msg)?,
            created_at: row.try_get("created_at")?,
            incarnation: row.try_get("incarnation")?,
            moving: row.try_get("moving")?,
            gate_vouch: None,
        })
    }

    /// Reads a row of `tenantpos.lookup_tenant`, with the lookup's vouch: only for a tenant
    /// the check passes at its own placement (not being moved).
    pub(crate) fn from_lookup_row(row: &tokio_postgres::Row) -> anyhow::Result<Self> {
        let mut tenant = Self::from_row(row)?;
        let epoch: Option<i64> = row.try_get("gate_epoch")?;
        tenant.gate_vouch = epoch.filter(|_| !tenant.moving).map(|epoch| GateVouch {
            epoch,
            placement: tenant.strategy,
            incarnation: tenant.incarnation,
        });
        Ok(tenant)
    }

    /// This entry as it would be at another placement (a move's destination); no lookup
    /// vouched for it there.
    pub fn placed_at(&self, strategy: Strategy, cluster: String) -> Self {
        Self {
            strategy,
            cluster,
            gate_vouch: None,
            ..self.clone()
        }
    }

    /// The catalog epoch as of which a transaction of this entry at its own placement may pass
    /// the gate on the lock alone (`GateVouch`).
    pub(crate) fn vouched_gate_epoch(&self) -> Option<i64> {
        self.gate_vouch
            .filter(|vouch| {
                vouch.placement == self.strategy && vouch.incarnation == self.incarnation
            })
            .map(|vouch| vouch.epoch)
    }

    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}
