//! Creating a tenant: its catalog entry, its storage, its settings and its owner. A failed
//! creation leaves nothing behind. For `shared` and `schema` tenants everything happens in one
//! transaction of the main database; a `database` tenant's id is reserved first (invisible to
//! everyone), its database made and filled, then the entry activated, and on any failure the
//! database is dropped and the reservation released.

use auth::settings::{INSERT_SETTINGS, SettingsInput, ValidSettings};
use auth::users::INSERT_USER;
use auth::{Password, Username};
use serde::Deserialize;
use tenancy::catalog::NewTenant;
use tenancy::db;
use tenancy::migrate::migrate_tenant_storage_in;
use tenancy::{
    ApiError, BusinessType, ErrorCode, OperatorAccess, Role, Strategy, Tenant, TenantId,
};
use tokio_postgres::GenericClient;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::storage::{self, Placement};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerInput {
    #[schema(pattern = "^[A-Za-z0-9_.@-]{3,64}$")]
    pub username: String,
    #[schema(min_length = 10)]
    pub password: String,
}

impl std::fmt::Debug for OwnerInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerInput")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(value_type = String, example = "retail_01")]
    pub id: TenantId,
    pub name: String,
    pub business_type: BusinessType,
    pub strategy: Strategy,
    /// Only for `database` tenants; `default` if none.
    pub cluster: Option<String>,
    pub owner: OwnerInput,
    pub settings: Option<SettingsInput>,
}

/// A creation request whose every part is valid.
struct ValidCreation {
    id: TenantId,
    name: String,
    business_type: BusinessType,
    strategy: Strategy,
    cluster: String,
    owner_username: Username,
    owner_password_hash: String,
    settings: ValidSettings,
}

async fn validate(
    tenancy: &OperatorAccess,
    request: CreateTenant,
) -> Result<ValidCreation, ApiError> {
    let name_length = request.name.chars().count();
    if !(1..=200).contains(&name_length) || request.name.trim().is_empty() {
        return Err(ApiError::validation("name must have 1 to 200 characters"));
    }
    let Placement { cluster, .. } =
        Placement::requested(tenancy.storage(), request.strategy, request.cluster)?;
    let owner_username = Username::parse(&request.owner.username)?;
    let password = Password::parse(request.owner.password)?;
    let settings = request.settings.unwrap_or_default().validate()?;
    Ok(ValidCreation {
        id: request.id,
        name: request.name,
        business_type: request.business_type,
        strategy: request.strategy,
        cluster,
        owner_username,
        owner_password_hash: password.hash().await?,
        settings,
    })
}

/// Creates a tenant with its owner; 409 `tenant_exists` when the id is taken.
pub async fn create_tenant(
    tenancy: &OperatorAccess,
    request: CreateTenant,
) -> Result<Tenant, ApiError> {
    let creation = validate(tenancy, request).await?;
    let new = NewTenant {
        id: &creation.id,
        name: &creation.name,
        business_type: creation.business_type,
        strategy: creation.strategy,
        cluster: &creation.cluster,
    };
    match creation.strategy {
        Strategy::Shared | Strategy::Schema => {
            create_in_main_database(tenancy, &creation, &new).await?
        }
        Strategy::Database => create_database_tenant(tenancy, &creation, &new).await?,
    }
    // Answered only once no process can still take the new id for unknown.
    tenancy.catalog.settle_creation().await;
    tracing::info!(tenant = %creation.id, strategy = %creation.strategy, "tenant created");
    tenancy.catalog.get(&creation.id).await?.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "tenant {} vanished after creation",
            creation.id
        ))
    })
}

fn tenant_exists() -> ApiError {
    ApiError::new(ErrorCode::TenantExists, "a tenant with this id exists")
}

async fn create_in_main_database(
    tenancy: &OperatorAccess,
    creation: &ValidCreation,
    new: &NewTenant<'_>,
) -> Result<(), ApiError> {
    let mut client = db::connect(&tenancy.storage().owner).await?;
    let tx = client.transaction().await?;
    if tenancy::Catalog::insert(&tx, new, "active")
        .await?
        .is_none()
    {
        return Err(tenant_exists());
    }
    let schema = match creation.strategy {
        Strategy::Schema => {
            let schema = creation.id.schema_name();
            migrate_tenant_storage_in(&tx, &schema, &tenancy.storage().app_role)
                .await
                .map_err(ApiError::internal)?;
            schema
        }
        _ => "public".to_owned(),
    };
    seed(&tx, creation, &schema).await?;
    tx.commit().await?;
    Ok(())
}

async fn create_database_tenant(
    tenancy: &OperatorAccess,
    creation: &ValidCreation,
    new: &NewTenant<'_>,
) -> Result<(), ApiError> {
    let Some(incarnation) = tenancy.catalog.reserve(new).await? else {
        return Err(tenant_exists());
    };
    let config = tenancy.storage();
    let placement = Placement {
        strategy: Strategy::Database,
        cluster: creation.cluster.clone(),
    };
    let created =
        storage::create_database(config, &creation.id, incarnation, &creation.cluster).await;
    let mut client = match created {
        Ok(client) => client,
        Err(error) => {
            tenancy.catalog.release(&creation.id).await?;
            return Err(storage::storage_error(
                error.context("creating a tenant database"),
            ));
        }
    };
    let outcome = async {
        let tx = client.transaction().await?;
        migrate_tenant_storage_in(&tx, "public", &config.app_role).await?;
        seed(&tx, creation, "public")
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        tx.commit().await?;
        storage::check_app_role_on(config, &creation.id, &creation.cluster).await
    }
    .await;
    drop(client);
    if let Err(error) = outcome {
        if let Err(drop_error) = storage::remove(config, &creation.id, &placement).await {
            tracing::error!(tenant = %creation.id, error = %format!("{drop_error:#}"), "could not drop a half-made tenant database");
        }
        tenancy.catalog.release(&creation.id).await?;
        return Err(ApiError::internal(
            error.context("creating a tenant database"),
        ));
    }
    tenancy.catalog.activate(&creation.id).await?;
    Ok(())
}

/// Writes the new tenant's settings and owner in its storage. The owner's transaction is
/// scoped to the tenant like any other: row-level security is forced on the owner too.
async fn seed(
    tx: &impl GenericClient,
    creation: &ValidCreation,
    schema: &str,
) -> Result<(), ApiError> {
    let tenant = creation.id.as_str();
    tx.execute(
        "SELECT set_config('app.current_tenant_id', $1, true), set_config('search_path', quote_ident($2), true)",
        &[&tenant, &schema],
    )
    .await?;
    let values = creation.settings.insert_values();
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&tenant];
    params.extend_from_slice(&values);
    tx.execute(INSERT_SETTINGS, &params).await?;
    tx.execute(
        INSERT_USER,
        &[
            &tenant,
            &Uuid::now_v7(),
            &creation.owner_username.as_str(),
            &creation.owner_password_hash,
            &Role::Owner.as_str(),
        ],
    )
    .await?;
    Ok(())
}
