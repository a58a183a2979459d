//! `sobre replay`: publishes a CSV of timestamped columns to a broker as readings, one topic per
//! column (`<prefix>/<column>`, payload `{"ts": "…Z", "value": …}`), either as fast as the
//! broker takes them or at a multiple of the data's own pace. Blank cells are missing data and
//! are not published.

use crate::ingest::decode::parse_timestamp;
use crate::mqtt::backoff::Backoff;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the broker acknowledges.
    Max,
    /// `n` times the data's pace: 3600 plays an hour of data per second.
    Factor(f64),
}

impl Speed {
    /// When a row stamped `ts_ms` is due, counted from the start of the replay of the row
    /// stamped `first_ms`; `None` when it is due at once. Rows out of order are due at once.
    pub fn offset(self, first_ms: i64, ts_ms: i64) -> Option<Duration> {
        match self {
            Speed::Max => None,
            Speed::Factor(factor) => Some(Duration::from_secs_f64((ts_ms - first_ms).max(0) as f64 / 1000.0 / factor)),
        }
    }
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "max" => Ok(Speed::Max),
            n => match n.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
                _ => Err(format!("{n:?} is not a speed; use \"max\" or a positive factor such as 3600")),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub host: String,
    pub port: u16,
    pub prefix: String,
    pub time_column: String,
    /// Columns to publish; all but the time column when empty.
    pub columns: Vec<String>,
    /// Zone of timestamps written without an offset.
    pub timezone: Tz,
    pub speed: Speed,
    pub qos: QoS,
    /// Give up when the broker acknowledges nothing for this long.
    pub stall_timeout: Duration,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    pub rows: u64,
    pub published: u64,
    /// Blank cells: missing data, not published.
    pub blank: u64,
    pub first_ts_ms: Option<i64>,
    pub last_ts_ms: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read the CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("no column {column:?} in the CSV header; it has {found:?}")]
    NoColumn { column: String, found: Vec<String> },
    #[error("row {row}: {value:?} in column {column:?} is not a timestamp (ISO 8601) ")]
    BadTimestamp { row: u64, column: String, value: String },
    #[error("row {row}: {value:?} in column {column:?} is not a number")]
    BadNumber { row: u64, column: String, value: String },
    #[error("the broker at {host}:{port} acknowledged nothing for {timeout:?}")]
    Stalled { host: String, port: u16, timeout: Duration },
}

/// Publishes every row of `csv`. Returns once the broker has acknowledged all of it (QoS 1)
/// or it has all been written to the socket (QoS 0).
pub async fn replay(csv: impl std::io::Read, options: &ReplayOptions) -> Result<ReplaySummary, ReplayError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv);
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let find = |column: &str| {
        header
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| ReplayError::NoColumn { column: column.to_string(), found: header.clone() })
    };
    let time_at = find(&options.time_column)?;
    let columns: Vec<(usize, String)> = if options.columns.is_empty() {
        header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != time_at)
            .map(|(i, h)| (i, format!("{}/{h}", options.prefix)))
            .collect()
    } else {
        options
            .columns
            .iter()
            .map(|c| Ok((find(c)?, format!("{}/{c}", options.prefix))))
            .collect::<Result<_, ReplayError>>()?
    };

    let mut mqtt = MqttOptions::new(format!("sobre-replay-{}", fastrand::u32(..)), &options.host, options.port);
    mqtt.set_keep_alive(Duration::from_secs(30));
    mqtt.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(mqtt, 1024);
    let (done_tx, mut done) = watch::channel(0u64);
    let qos = options.qos;
    let poller = tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut completed = 0u64;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) if qos != QoS::AtMostOnce => completed += 1,
                Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => completed += 1,
                Ok(Event::Incoming(Packet::ConnAck(_))) => backoff.reset(),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => continue,
                Err(e) => {
                    let delay = backoff.next_delay(fastrand::f64());
                    tracing::warn!(error = %e, retry_in = ?delay, "replay connection");
                    tokio::time::sleep(delay).await;
                }
            }
            done_tx.send_replace(completed);
        }
    });

    let mut summary = ReplaySummary::default();
    let started = Instant::now();
    for (row, record) in reader.records().enumerate() {
        let record = record?;
        let row = row as u64 + 2;
        let raw_ts = record.get(time_at).unwrap_or_default();
        let ts_ms = parse_timestamp(raw_ts, options.timezone).ok_or_else(|| ReplayError::BadTimestamp {
            row,
            column: options.time_column.clone(),
            value: raw_ts.to_string(),
        })?;
        if let Some(offset) = summary.first_ts_ms.and_then(|first| options.speed.offset(first, ts_ms)) {
            tokio::time::sleep_until(started + offset).await;
        }
        summary.first_ts_ms.get_or_insert(ts_ms);
        summary.last_ts_ms = Some(ts_ms);
        summary.rows += 1;
        let ts = DateTime::<Utc>::from_timestamp_millis(ts_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        for (at, topic) in &columns {
            let cell = record.get(*at).unwrap_or_default();
            if cell.is_empty() {
                summary.blank += 1;
                continue;
            }
            // The cell's own digits go on the wire: no float round trip changes a reading.
            if !cell.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(ReplayError::BadNumber { row, column: topic.clone(), value: cell.to_string() });
            }
            let payload = format!("{{\"ts\":\"{ts}\",\"value\":{cell}}}");
            if client.publish(topic, options.qos, false, payload).await.is_err() {
                break;
            }
            summary.published += 1;
        }
    }

    // Wait for the broker to take everything, failing if it stops making progress.
    let mut seen = *done.borrow();
    while seen < summary.published {
        match tokio::time::timeout(options.stall_timeout, done.changed()).await {
            Ok(Ok(())) => seen = *done.borrow(),
            _ => {
                poller.abort();
                return Err(ReplayError::Stalled {
                    host: options.host.clone(),
                    port: options.port,
                    timeout: options.stall_timeout,
                });
            }
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), poller).await;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_speed_factor_paces_rows_by_their_timestamps() {
        const H: i64 = 3_600_000;
        let table = [
            (Speed::Max, 5 * H, None),
            (Speed::Factor(3600.0), 0, Some(Duration::ZERO)),
            (Speed::Factor(3600.0), 5 * H, Some(Duration::from_secs(5))),
            (Speed::Factor(1.0), 90_000, Some(Duration::from_secs(90))),
            (Speed::Factor(7200.0), -H, Some(Duration::ZERO)),
        ];
        for (speed, ts, due) in table {
            assert_eq!(speed.offset(0, ts), due, "{speed:?} at {ts}");
        }
        assert_eq!("max".parse(), Ok(Speed::Max));
        assert_eq!("3600".parse(), Ok(Speed::Factor(3600.0)));
        assert!("-2".parse::<Speed>().is_err() && "fast".parse::<Speed>().is_err());
    }
}
