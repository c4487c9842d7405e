//! Orders and revenue per day of the tenant's own calendar, for the dashboard's chart
//! (`GET /dashboard/sales`, API.md §7).
//!
//! Why the days are cut in Rust and not with PostgreSQL's `AT TIME ZONE`: "today" must mean the
//! same instant here as in the summary (`repository::start_of_today`, chrono-tz), whatever time
//! zone data the server has. The query gets each day's first instant and buckets the orders
//! by them (`width_bucket`), in one statement.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tenancy::{ApiError, ScopedTx};
use utoipa::ToSchema;

/// The most days one answer covers.
pub const MAX_DAYS: u32 = 90;

/// One day of the tenant's calendar. Counts and sums as in the summary: every recorded
/// order counts, refunded ones too; revenue sums the totals (tax included) of paid orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DaySales {
    /// The day in the tenant's time zone, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub orders: i64,
    /// Minor units of the tenant's currency.
    pub revenue: i64,
}

/// The first instant of the local `day` in `zone`, in UTC (a day that starts in a DST gap
/// begins at the first instant that exists).
fn start_of(zone: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| zone.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

/// The last `days` days of the tenant's calendar that ends with the day holding `now`,
/// oldest first, each with its first instant.
pub fn calendar(timezone: &str, now: DateTime<Utc>, days: u32) -> Vec<(NaiveDate, DateTime<Utc>)> {
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = now.with_timezone(&zone).date_naive();
    (0..days.max(1))
        .rev()
        .filter_map(|back| today.checked_sub_days(Days::new(u64::from(back))))
        .map(|day| (day, start_of(zone, day)))
        .collect()
}

/// Orders and revenue for each of the last `days` days (1..=`MAX_DAYS`) of the tenant's
/// calendar, oldest first, days without orders as zeros.
pub async fn daily_sales(
    tx: &ScopedTx,
    timezone: &str,
    days: u32,
) -> Result<Vec<DaySales>, ApiError> {
    let calendar = calendar(timezone, Utc::now(), days.clamp(1, MAX_DAYS));
    let starts: Vec<DateTime<Utc>> = calendar.iter().map(|(_, start)| *start).collect();
    // Bucket i (1-based) holds the orders from the start of day i to the start of day i+1;
    // the last one is open-ended (today).
    let rows = tx
        .query(
            "SELECT width_bucket(created_at, $2::timestamptz[]), count(*), \
                    COALESCE(sum(total_amount) FILTER (WHERE status IN ('paid', 'refunding')), 0)::bigint \
             FROM orders WHERE tenant_id = $1 AND status <> 'pending' AND created_at >= $3 \
             GROUP BY 1",
            &[&tx.tenant_id(), &starts, &starts[0]],
        )
        .await?;
    let mut sales: Vec<DaySales> = calendar
        .iter()
        .map(|(date, _)| DaySales {
            date: *date,
            orders: 0,
            revenue: 0,
        })
        .collect();
    for row in rows {
        let bucket: i32 = row.get(0);
        if let Some(day) = usize::try_from(bucket)
            .ok()
            .and_then(|bucket| bucket.checked_sub(1))
            .and_then(|index| sales.get_mut(index))
        {
            day.orders = row.get(1);
            day.revenue = row.get(2);
        }
    }
    Ok(sales)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_is_the_tenants_own_and_ends_today() {
        // 02:30 UTC on the 26th: still the 25th in New York, already the 26th in Tokyo.
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 2, 30, 0).unwrap();
        let new_york = calendar("America/New_York", now, 3);
        let dates: Vec<String> = new_york.iter().map(|(day, _)| day.to_string()).collect();
        assert_eq!(dates, ["2026-11-23", "2026-11-24", "2026-11-25"]);
        assert_eq!(
            new_york[2].1,
            Utc.with_ymd_and_hms(2026, 11, 25, 5, 0, 0).unwrap()
        );
        let tokyo = calendar("Asia/Tokyo", now, 1);
        assert_eq!(tokyo[0].0.to_string(), "2026-11-26");
        assert_eq!(
            tokyo[0].1,
            Utc.with_ymd_and_hms(2026, 11, 25, 15, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_day_across_a_clock_change_is_one_day() {
        // New York left summer time on 2026-11-01: that day is 25 hours long.
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap();
        let days = calendar("America/New_York", now, 3);
        assert_eq!(days.len(), 3);
        assert_eq!(days[1].0.to_string(), "2026-11-01");
        assert_eq!(days[2].1 - days[1].1, chrono::Duration::hours(25));
    }
}
