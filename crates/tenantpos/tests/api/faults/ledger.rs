//! What the database holds, read directly as the owner (a superuser: row-level security hides
//! nothing from it) in every database of the test's server and every schema of each, without
//! assuming where tenantpos keeps a tenant: any table with a `tenant_id` column counts, and the
//! order, payment, reservation and product tables are read in full wherever they are.

use std::collections::BTreeMap;

use crate::support::private_postgres::PrivatePostgres;

/// A schema of a database on the test's server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub database: String,
    pub schema: String,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.database, self.schema)
    }
}

#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub location: Location,
    pub tenant: String,
    pub id: String,
    pub status: String,
    pub note: Option<String>,
    pub total: i64,
    /// (product id, quantity) of every line.
    pub items: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct StoredPayment {
    pub location: Location,
    pub tenant: String,
    pub id: String,
    pub order_id: String,
    pub status: String,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct StoredReservation {
    pub location: Location,
    pub tenant: String,
    pub order_id: String,
    pub status: String,
    /// (product id, quantity) of every line.
    pub lines: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct StoredProduct {
    pub location: Location,
    pub tenant: String,
    pub id: String,
    pub stock: i64,
}

#[derive(Debug, Clone)]
pub struct CatalogEntry {
    pub strategy: String,
    pub status: String,
    pub moving: bool,
}

/// How many rows one tenant has in one table of one place.
#[derive(Debug, Clone)]
pub struct RowCount {
    pub location: Location,
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Default)]
pub struct Stored {
    pub main_database: String,
    pub catalog: BTreeMap<String, CatalogEntry>,
    /// Every tenant id found in any tenant table, with where and how many rows.
    pub rows: BTreeMap<String, Vec<RowCount>>,
    pub orders: Vec<StoredOrder>,
    pub payments: Vec<StoredPayment>,
    pub reservations: Vec<StoredReservation>,
    pub products: Vec<StoredProduct>,
    /// Every non-system schema of every database.
    pub schemas: Vec<Location>,
    /// The lines while they are read, before they join their reservations.
    pub(super) reservation_lines: Vec<StoredLine>,
}

#[derive(Debug)]
pub(super) struct StoredLine {
    location: Location,
    tenant: String,
    order_id: String,
    product_id: String,
    quantity: i64,
}

impl Stored {
    pub async fn read(postgres: &PrivatePostgres, main_database: &str) -> Stored {
        let mut stored = Stored {
            main_database: main_database.to_owned(),
            ..Stored::default()
        };
        let main = postgres.connect(main_database).await;
        for row in main
            .query(
                "SELECT id, strategy, status, moving FROM tenantpos.tenants",
                &[],
            )
            .await
            .unwrap()
        {
            stored.catalog.insert(
                row.get(0),
                CatalogEntry {
                    strategy: row.get(1),
                    status: row.get(2),
                    moving: row.get(3),
                },
            );
        }
        let databases: Vec<String> = main
            .query(
                "SELECT datname::text FROM pg_database WHERE datallowconn AND NOT datistemplate \
                 ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        for database in databases {
            // A database dropped since the listing (a deletion or move finishing) holds nothing.
            let Ok(client) = connect(postgres, &database).await else {
                continue;
            };
            stored.read_database(&client, &database).await;
        }
        let mut lines: BTreeMap<(Location, String, String), Vec<(String, i64)>> = BTreeMap::new();
        for line in std::mem::take(&mut stored.reservation_lines) {
            lines
                .entry((line.location, line.tenant, line.order_id))
                .or_default()
                .push((line.product_id, line.quantity));
        }
        for reservation in &mut stored.reservations {
            let key = (
                reservation.location.clone(),
                reservation.tenant.clone(),
                reservation.order_id.clone(),
            );
            reservation
                .lines
                .extend(lines.remove(&key).unwrap_or_default());
        }
        // Lines without their reservation cannot exist (a foreign key), so none are left.
        stored
    }

    async fn read_database(&mut self, client: &tokio_postgres::Client, database: &str) {
        for row in client
            .query(
                "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                 AND nspname <> 'information_schema' ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
        {
            self.schemas.push(Location {
                database: database.to_owned(),
                schema: row.get(0),
            });
        }
        let tables = client
            .query(
                "SELECT c.table_schema::text, c.table_name::text \
                 FROM information_schema.columns c \
                 JOIN information_schema.tables t USING (table_schema, table_name) \
                 WHERE c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' \
                   AND c.table_schema NOT IN ('pg_catalog', 'information_schema', 'tenantpos') \
                 ORDER BY 1, 2",
                &[],
            )
            .await
            .unwrap();
        for table in tables {
            let location = Location {
                database: database.to_owned(),
                schema: table.get(0),
            };
            let name: String = table.get(1);
            let counts = select(
                client,
                "SELECT tenant_id::text, count(*) FROM %I.%I GROUP BY 1",
                &location.schema,
                &name,
            )
            .await;
            for row in counts {
                self.rows.entry(row.get(0)).or_default().push(RowCount {
                    location: location.clone(),
                    table: name.clone(),
                    rows: row.get(1),
                });
            }
            self.read_table(client, &location, &name).await;
        }
    }

    /// The rows of the tables the accounting needs, wherever they are.
    async fn read_table(
        &mut self,
        client: &tokio_postgres::Client,
        location: &Location,
        table: &str,
    ) {
        let schema = &location.schema;
        match table {
            "orders" => {
                let sql = "SELECT tenant_id, id::text, status, note, total_amount, items::text \
                           FROM %I.%I";
                for row in select(client, sql, schema, table).await {
                    let items: serde_json::Value =
                        serde_json::from_str(row.get::<_, &str>(5)).unwrap();
                    let items = items
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .map(|item| {
                                    (
                                        item["product_id"].as_str().unwrap_or("?").to_owned(),
                                        item["quantity"].as_i64().unwrap_or(0),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    self.orders.push(StoredOrder {
                        location: location.clone(),
                        tenant: row.get(0),
                        id: row.get(1),
                        status: row.get(2),
                        note: row.get(3),
                        total: row.get(4),
                        items,
                    });
                }
            }
            "payments" => {
                let sql = "SELECT tenant_id, id::text, order_id::text, status, amount FROM %I.%I";
                for row in select(client, sql, schema, table).await {
                    self.payments.push(StoredPayment {
                        location: location.clone(),
                        tenant: row.get(0),
                        id: row.get(1),
                        order_id: row.get(2),
                        status: row.get(3),
                        amount: row.get(4),
                    });
                }
            }
            "reservations" => {
                // An order placed in one transaction keeps its lines in the reservation.
                let sql = "SELECT tenant_id, order_id::text, status, \
                           ARRAY(SELECT l.product_id::text FROM jsonb_to_recordset(coalesce(lines, '[]')) \
                                 AS l(product_id uuid, quantity bigint) ORDER BY 1), \
                           ARRAY(SELECT l.quantity FROM jsonb_to_recordset(coalesce(lines, '[]')) \
                                 AS l(product_id uuid, quantity bigint) ORDER BY l.product_id) \
                           FROM %I.%I";
                for row in select(client, sql, schema, table).await {
                    let products: Vec<String> = row.get(3);
                    let quantities: Vec<i64> = row.get(4);
                    self.reservations.push(StoredReservation {
                        location: location.clone(),
                        tenant: row.get(0),
                        order_id: row.get(1),
                        status: row.get(2),
                        lines: products.into_iter().zip(quantities).collect(),
                    });
                }
            }
            // Lines are joined to their reservation once everything is read.
            "reservation_lines" => {
                let sql = "SELECT tenant_id, order_id::text, product_id::text, quantity FROM %I.%I";
                for row in select(client, sql, schema, table).await {
                    self.reservation_lines.push(StoredLine {
                        location: location.clone(),
                        tenant: row.get(0),
                        order_id: row.get(1),
                        product_id: row.get(2),
                        quantity: row.get(3),
                    });
                }
            }
            "products" => {
                let sql = "SELECT tenant_id, id::text, stock FROM %I.%I";
                for row in select(client, sql, schema, table).await {
                    self.products.push(StoredProduct {
                        location: location.clone(),
                        tenant: row.get(0),
                        id: row.get(1),
                        stock: row.get(2),
                    });
                }
            }
            _ => {}
        }
    }

    /// Orders still being placed and stock still held: what the sweepers have yet to settle.
    pub fn unsettled(&self) -> usize {
        self.orders.iter().filter(|o| o.status == "pending").count()
            + self
                .reservations
                .iter()
                .filter(|r| r.status == "held")
                .count()
            + self.catalog.values().filter(|entry| entry.moving).count()
    }
}

async fn connect(
    postgres: &PrivatePostgres,
    database: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) =
        tokio_postgres::connect(&postgres.owner_url(database), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Runs `template` with its two `%I` filled by PostgreSQL's own quoting of `schema` and
/// `table` (names read from the catalogs, never spliced in by hand).
async fn select(
    client: &tokio_postgres::Client,
    template: &str,
    schema: &str,
    table: &str,
) -> Vec<tokio_postgres::Row> {
    let sql: String = client
        .query_one(
            "SELECT format($1::text, $2::text, $3::text)",
            &[&template, &schema, &table],
        )
        .await
        .unwrap()
        .get(0);
    client
        .query(&sql, &[])
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}
