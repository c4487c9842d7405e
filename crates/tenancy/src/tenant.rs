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
    /// Reads a row of `tenantpos.tenants` selected with `catalog::COLUMNS`.
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
        })
    }

    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}
