//! The sink's PostgreSQL side: the migrations, and a connection with its statements prepared
//! once, writing one transaction per batch of messages.

use super::row::{Reason, Refusal, ReportRow, Verdict};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use tokio_postgres::{Client, NoTls, Statement, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to PostgreSQL ({target}): {}", explain(source))]
    Connect { target: String, source: tokio_postgres::Error },
    #[error("migration {version} ({name}) failed: {}", explain(source))]
    Migrate { version: i32, name: &'static str, source: tokio_postgres::Error },
    #[error("the database is at schema version {found}, newer than this sink's {known}: upgrade the sink")]
    Newer { found: i32, known: i32 },
    #[error("PostgreSQL: {}", explain(.0))]
    Query(#[from] tokio_postgres::Error),
}

/// An error with what the server said: tokio-postgres's own text is only "db error".
pub fn explain(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// Applied in order, each once; the database records the last one in `schema_version`.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "reports", include_str!("migrations/001_reports.sql")),
    (2, "views", include_str!("migrations/002_views.sql")),
    (3, "fleet views", include_str!("migrations/003_fleet_views.sql")),
    (4, "sites", include_str!("migrations/004_sites.sql")),
    (5, "flex outcomes", include_str!("migrations/005_flex_outcomes.sql")),
    (6, "refused once", include_str!("migrations/006_refused_once.sql")),
];

/// A message as it came off the broker, with its verdict.
#[derive(Debug)]
pub struct Received {
    pub topic: String,
    pub received_at: DateTime<Utc>,
    pub verdict: Verdict,
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub stored: u64,
    pub duplicates: u64,
    pub refused: u64,
}

/// Connects; the connection's driver runs as a task of its own until the client is dropped.
pub async fn connect(config: &tokio_postgres::Config) -> Result<Client, DbError> {
    let target = describe(config);
    let (client, connection) =
        config.connect(NoTls).await.map_err(|source| DbError::Connect { target: target.clone(), source })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "the PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// Host, port and database, without the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("(the user's)"))
}

/// Brings the schema up to date in one transaction: all the pending migrations, or none. Two
/// sinks starting at once wait for each other on the table's lock.
pub async fn migrate(client: &mut Client) -> Result<i32, DbError> {
    let tx = client.transaction().await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL); LOCK TABLE schema_version IN EXCLUSIVE MODE;")
        .await?;
    let found: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[]).await?.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if found > known {
        return Err(DbError::Newer { found, known });
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql).await.map_err(|source| DbError::Migrate { version: *version, name, source })?;
        tracing::info!(version, name, "migrated the city database");
    }
    tx.execute("DELETE FROM schema_version", &[]).await?;
    tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known]).await?;
    tx.commit().await?;
    Ok(known)
}

/// A connection with the sink's statements prepared on it, once: a batch then costs its rows'
/// round trips only. A new connection (after a database restart) is prepared again.
#[derive(Debug)]
pub struct Connection {
    client: Client,
    statements: Statements,
}

#[derive(Debug)]
struct Statements {
    report: Statement,
    savings: Statement,
    refused: Statement,
    known: Statement,
}

impl Connection {
    /// Prepares the statements on `client`, whose database is migrated.
    pub async fn prepare(client: Client) -> Result<Self, DbError> {
        let report = client
            .prepare(
                "INSERT INTO reports (id, site, kind, schema, period_start, period_end, agent_version, topic, received_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        let savings = client
            .prepare(
                "INSERT INTO savings (id, site, point, fuel, resolution, period_start, period_end, metered_kwh, baseline_kwh, \
                 avoided_kwh, interval68_kwh, interval90_kwh, eur, kg_co2, claim, model_name, gl14_pass) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .await?;
        let refused = client
            .prepare(
                "INSERT INTO refused (received_at, first_received_at, topic, site, reason, detail, bytes, payload) \
                 VALUES ($1, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (topic, reason, digest) \
                 DO UPDATE SET times = refused.times + 1, received_at = greatest(refused.received_at, excluded.received_at)",
            )
            .await?;
        let known = client.prepare("SELECT site FROM sites WHERE site = ANY($1)").await?;
        Ok(Connection { client, statements: Statements { report, savings, refused, known } })
    }

    /// True once the server has closed it (a restart, `pg_terminate_backend`): connect again.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Writes a batch in one transaction: reports of known sites idempotently by id (a duplicate
    /// changes nothing), refusals once each (a report of a site the `sites` table does not list
    /// among them; the same refused message again is counted in its row). Nothing of it is
    /// acknowledged to the broker before this returns Ok.
    pub async fn write(&mut self, batch: &[Received]) -> Result<Written, DbError> {
        let statements = &self.statements;
        let tx = self.client.transaction().await?;
        // Read in the batch's transaction: a site the operator adds counts from the next batch.
        let named: Vec<&str> = batch
            .iter()
            .filter_map(|m| match &m.verdict {
                Verdict::Store(row) => Some(row.site.as_str()),
                Verdict::Refuse(_) => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let known: BTreeSet<String> = if named.is_empty() {
            BTreeSet::new()
        } else {
            tx.query(&statements.known, &[&named]).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?
        };
        let mut written = Written::default();
        for message in batch {
            let refusal = match &message.verdict {
                Verdict::Store(row) if known.contains(&row.site) => {
                    if statements.store(&tx, message, row).await? {
                        written.stored += 1;
                    } else {
                        written.duplicates += 1;
                    }
                    continue;
                }
                Verdict::Store(row) => {
                    let refusal = unknown_site(row);
                    refusal.log(&message.topic);
                    refusal
                }
                Verdict::Refuse(refusal) => refusal.clone(),
            };
            let Refusal { reason, detail, site, bytes, payload } = &refusal;
            let bytes = i32::try_from(*bytes).unwrap_or(i32::MAX);
            tx.execute(
                &statements.refused,
                &[&message.received_at, &message.topic, site, &reason.code(), detail, &bytes, payload],
            )
            .await?;
            written.refused += 1;
        }
        tx.commit().await?;
        Ok(written)
    }
}

impl Statements {
    /// Inserts a report (and its savings row); false when its id was already there.
    async fn store(&self, tx: &Transaction<'_>, message: &Received, row: &ReportRow) -> Result<bool, DbError> {
        let ReportRow { id, site, kind, schema, period, agent_version, body, savings: figures } = row;
        let (start, end) = (period.map(|p| p.0), period.map(|p| p.1));
        let inserted = tx
            .execute(
                &self.report,
                &[id, site, kind, schema, &start, &end, agent_version, &message.topic, &message.received_at, body],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        if let (Some(s), Some((start, end))) = (figures, period) {
            tx.execute(
                &self.savings,
                &[
                    id,
                    site,
                    &s.point,
                    &s.fuel,
                    &s.resolution,
                    start,
                    end,
                    &s.metered_kwh,
                    &s.baseline_kwh,
                    &s.avoided_kwh,
                    &s.interval68_kwh,
                    &s.interval90_kwh,
                    &s.eur,
                    &s.kg_co2,
                    &s.claim,
                    &s.model_name,
                    &s.gl14_pass,
                ],
            )
            .await?;
        }
        Ok(true)
    }
}

/// A valid report whose site the city has not enrolled: kept (as JSON) for a person to look at.
fn unknown_site(row: &ReportRow) -> Refusal {
    let payload = row.body.to_string().into_bytes();
    Refusal {
        reason: Reason::UnknownSite,
        detail: format!(
            "site {:?} is not in the sites table (its operator enrols it: INSERT INTO sites (site) VALUES ('…'))",
            row.site
        ),
        site: Some(row.site.clone()),
        bytes: payload.len(),
        payload: Some(payload),
    }
}
