//! A tenant's settings (API.md §7): validation and storage.

use serde::{Deserialize, Serialize};
use tenancy::ApiError;
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

/// Stored settings; `tenant_id`, `name` and `business_type` come from the catalog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredSettings {
    pub currency: String,
    pub tax_rate_bps: i32,
    pub timezone: String,
    pub order_number_prefix: String,
    pub receipt_footer: String,
}

/// Writes a new tenant's settings row, defaults for what is not given. `$1` is the tenant id.
pub const INSERT_SETTINGS: &str = "INSERT INTO settings \
     (tenant_id, currency, tax_rate_bps, timezone, order_number_prefix, receipt_footer) \
     VALUES ($1, COALESCE($2, 'USD'), COALESCE($3, 0), COALESCE($4, 'UTC'), COALESCE($5, 'ORD-'), COALESCE($6, ''))";

impl ValidSettings {
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
