//! A tenant's settings (API.md §7): validation and storage. `name` and `business_type` are the
//! tenant's catalog entry; the rest is the `settings` row of its storage, read and written
//! through its `ScopedTx` only.

use serde::{Deserialize, Serialize};
use tenancy::db::Row;
use tenancy::{ApiError, BusinessType, ScopedTx, Tenant};
use utoipa::ToSchema;

/// Fields of settings that a tenant (or the operator at creation) may set.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: Option<String>,
    /// 0..10000 basis points.
    pub tax_rate_bps: Option<i32>,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub timezone: Option<String>,
    pub order_number_prefix: Option<String>,
    pub receipt_footer: Option<String>,
}

/// Settings whose every given field is valid.
#[derive(Debug, Default, Clone)]
pub struct ValidSettings(SettingsInput);

impl SettingsInput {
    pub fn validate(self) -> Result<ValidSettings, ApiError> {
        if let Some(currency) = &self.currency
            && iso_currency::Currency::from_code(currency).is_none()
        {
            return Err(ApiError::validation("currency must be an ISO 4217 code"));
        }
        if let Some(bps) = self.tax_rate_bps
            && !(0..=10_000).contains(&bps)
        {
            return Err(ApiError::validation(
                "tax_rate_bps must be between 0 and 10000",
            ));
        }
        if let Some(timezone) = &self.timezone
            && timezone.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(ApiError::validation("timezone must be an IANA time zone"));
        }
        if let Some(prefix) = &self.order_number_prefix
            && prefix.chars().count() > 20
        {
            return Err(ApiError::validation(
                "order_number_prefix has at most 20 characters",
            ));
        }
        if let Some(footer) = &self.receipt_footer
            && footer.chars().count() > 1000
        {
            return Err(ApiError::validation(
                "receipt_footer has at most 1000 characters",
            ));
        }
        Ok(ValidSettings(self))
    }
}

/// A tenant's name: 1 to 200 characters, not all blank.
pub fn validate_tenant_name(name: &str) -> Result<(), ApiError> {
    if (1..=200).contains(&name.chars().count()) && !name.trim().is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation("name must have 1 to 200 characters"))
    }
}

/// The body of `PATCH /settings`: any field of settings but `tenant_id` (an unknown field, so
/// a 422 like any other).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// The tenant's name, 1 to 200 characters.
    pub name: Option<String>,
    pub business_type: Option<BusinessType>,
    #[serde(flatten)]
    pub settings: SettingsInput,
}

/// A `SettingsPatch` whose every given field is valid.
#[derive(Debug)]
pub struct ValidSettingsPatch {
    pub name: Option<String>,
    pub business_type: Option<BusinessType>,
    pub settings: ValidSettings,
}

impl SettingsPatch {
    pub fn validate(self) -> Result<ValidSettingsPatch, ApiError> {
        if let Some(name) = &self.name {
            validate_tenant_name(name)?;
        }
        Ok(ValidSettingsPatch {
            name: self.name,
            business_type: self.business_type,
            settings: self.settings.validate()?,
        })
    }
}

impl ValidSettingsPatch {
    /// Whether the tenant's catalog entry changes too.
    pub fn changes_catalog(&self) -> bool {
        self.name.is_some() || self.business_type.is_some()
    }
}

/// Stored settings; `tenant_id`, `name` and `business_type` come from the catalog.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredSettings {
    pub currency: String,
    pub tax_rate_bps: i32,
    pub timezone: String,
    pub order_number_prefix: String,
    pub receipt_footer: String,
}

impl StoredSettings {
    fn from_row(row: &Row) -> Self {
        Self {
            currency: row.get("currency"),
            tax_rate_bps: row.get("tax_rate_bps"),
            timezone: row.get("timezone"),
            order_number_prefix: row.get("order_number_prefix"),
            receipt_footer: row.get("receipt_footer"),
        }
    }
}

/// The settings of API.md §7: `{"tenant_id","name","business_type","currency","tax_rate_bps",
/// "timezone","order_number_prefix","receipt_footer"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantSettings {
    #[schema(example = "retail_01")]
    pub tenant_id: String,
    pub name: String,
    pub business_type: BusinessType,
    /// ISO 4217 code.
    pub currency: String,
    /// 0..10000 basis points.
    pub tax_rate_bps: i32,
    /// IANA time zone.
    pub timezone: String,
    pub order_number_prefix: String,
    pub receipt_footer: String,
}

impl TenantSettings {
    /// The tenant's catalog entry and its stored settings together.
    pub fn new(tenant: &Tenant, stored: StoredSettings) -> Self {
        Self {
            tenant_id: tenant.id.as_str().to_owned(),
            name: tenant.name.clone(),
            business_type: tenant.business_type,
            currency: stored.currency,
            tax_rate_bps: stored.tax_rate_bps,
            timezone: stored.timezone,
            order_number_prefix: stored.order_number_prefix,
            receipt_footer: stored.receipt_footer,
        }
    }
}

/// Writes a new tenant's settings row, defaults for what is not given. `$1` is the tenant id.
pub const INSERT_SETTINGS: &str = "INSERT INTO settings \
     (tenant_id, currency, tax_rate_bps, timezone, order_number_prefix, receipt_footer) \
     VALUES ($1, COALESCE($2, 'USD'), COALESCE($3, 0), COALESCE($4, 'UTC'), COALESCE($5, 'ORD-'), COALESCE($6, ''))";

impl ValidSettings {
    /// Whether no field is given, so storing it would change nothing.
    pub fn is_empty(&self) -> bool {
        let s = &self.0;
        s.currency.is_none()
            && s.tax_rate_bps.is_none()
            && s.timezone.is_none()
            && s.order_number_prefix.is_none()
            && s.receipt_footer.is_none()
    }

    /// The values for `INSERT_SETTINGS` after the tenant id.
    pub fn insert_values(&self) -> [&(dyn tenancy::db::ToSql + Sync); 5] {
        let s = &self.0;
        [
            &s.currency,
            &s.tax_rate_bps,
            &s.timezone,
            &s.order_number_prefix,
            &s.receipt_footer,
        ]
    }
}

fn missing_settings_row(tx: &ScopedTx) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "tenant {} has no settings row",
        tx.tenant_id()
    ))
}

/// The tenant's stored settings (its tax rate, currency, time zone, order number prefix...).
pub async fn load_settings(tx: &ScopedTx) -> Result<StoredSettings, ApiError> {
    let row = tx
        .query_opt(
            "SELECT currency, tax_rate_bps, timezone, order_number_prefix, receipt_footer \
             FROM settings WHERE tenant_id = $1",
            &[&tx.tenant_id()],
        )
        .await?;
    row.as_ref()
        .map(StoredSettings::from_row)
        .ok_or_else(|| missing_settings_row(tx))
}

/// Stores the given fields, keeps the others, and returns the settings as they now are.
pub async fn update_settings(
    tx: &ScopedTx,
    changes: &ValidSettings,
) -> Result<StoredSettings, ApiError> {
    if changes.is_empty() {
        return load_settings(tx).await;
    }
    let s = &changes.0;
    let row = tx
        .query_opt(
            "UPDATE settings SET currency = COALESCE($2, currency), \
                 tax_rate_bps = COALESCE($3, tax_rate_bps), timezone = COALESCE($4, timezone), \
                 order_number_prefix = COALESCE($5, order_number_prefix), \
                 receipt_footer = COALESCE($6, receipt_footer), updated_at = now() \
             WHERE tenant_id = $1 \
             RETURNING currency, tax_rate_bps, timezone, order_number_prefix, receipt_footer",
            &[
                &tx.tenant_id(),
                &s.currency,
                &s.tax_rate_bps,
                &s.timezone,
                &s.order_number_prefix,
                &s.receipt_footer,
            ],
        )
        .await?;
    row.as_ref()
        .map(StoredSettings::from_row)
        .ok_or_else(|| missing_settings_row(tx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SettingsPatch, serde_json::Error> {
        serde_json::from_str(body)
    }

    #[test]
    fn a_patch_refuses_tenant_id_and_unknown_fields_despite_the_flattened_settings() {
        assert!(parse(r#"{"tenant_id":"other_shop"}"#).is_err());
        assert!(parse(r#"{"currency":"EUR","colour":"blue"}"#).is_err());
        let patch = parse(r#"{"name":"Shop","business_type":"fast_food","tax_rate_bps":7}"#)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(patch.business_type, Some(BusinessType::FastFood));
        assert_eq!(patch.settings.0.tax_rate_bps, Some(7));
        assert!(patch.changes_catalog() && !patch.settings.is_empty());
    }

    #[test]
    fn a_patch_validates_the_name_and_the_settings() {
        for body in [
            r#"{"name":""}"#,
            r#"{"name":"  "}"#,
            r#"{"currency":"XYZ"}"#,
            r#"{"timezone":"Mars/Olympus"}"#,
            r#"{"tax_rate_bps":10001}"#,
        ] {
            assert!(parse(body).unwrap().validate().is_err(), "{body}");
        }
        assert!(parse("{}").unwrap().validate().unwrap().settings.is_empty());
    }
}
