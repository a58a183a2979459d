//! The advisor as a task of the daemon: on an event-time cadence it advises on the last window
//! of what the store holds and records what changed in the ledger; it takes a facility
//! manager's accept or reject from `<prefix>/recommendations/<id>/set`; every ledger record
//! goes out on `<prefix>/decisions`, and the current list, retained, on
//! `<prefix>/recommendations`, with where each zone's occupancy came from in the latest run.

use super::decision::{decision_request, DecisionRequest, Verdict};
use super::ledger::{Entry, Ledger, LedgerError, Record, Status};
use super::Basis;
use super::{advise_on, Advice, Blocker, Recommendation};
use crate::config::Settings;
use crate::mqtt::mailbox::{Mailbox, Requests};
use crate::mqtt::route::Parsed;
use crate::mqtt::{Inbound, Publisher, Route};
use crate::shared::{Shared, Unfinished};
use crate::stats::Stats;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A proposal whose yearly estimate moves by more than this share is recorded again.
const RESTATE: f64 = 0.2;

/// The shortest history the heat-loss model can use: the first run waits for it.
const FIRST_RUN_AFTER_MS: i64 = 14 * 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum AdvisorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Unfinished(#[from] Unfinished),
}

#[derive(Debug)]
pub struct AdvisorTask {
    pub settings: Arc<Settings>,
    pub store: Shared<Store>,
    pub ledger: Shared<Ledger>,
    pub publisher: Publisher,
    pub stats: Arc<Stats>,
    pub check_interval: Duration,
    /// Control's schedule rests on the latest programme and the changes accepted.
    pub basis: watch::Sender<Option<Basis>>,
}

pub fn decision_filter(settings: &Settings) -> String {
    format!("{}/recommendations/+/set", settings.agent.topic_prefix)
}

/// Decisions parsed as they are routed, into the mailbox the local page also fills.
pub(crate) fn decision_route(settings: &Settings, mailbox: Arc<Mailbox<DecisionRequest>>) -> Route {
    let prefix = settings.agent.topic_prefix.clone();
    let parse = move |m: &Inbound| decision_request(&prefix, m).map_err(|e| e.to_string());
    Route {
        topics: format!("{}/recommendations/", settings.agent.topic_prefix),
        to: Arc::new(Parsed::new(mailbox, parse)),
    }
}

impl AdvisorTask {
    pub async fn run(self, mut decisions: Requests<DecisionRequest>, cancel: CancellationToken) {
        let mut next_ms: Option<i64> = None;
        let mut tick = tokio::time::interval(self.check_interval);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                request = decisions.recv() => match request {
                    Some(request) => self.decide_or_warn(&request).await,
                    None => break,
                },
                _ = tick.tick() => {
                    // A run takes seconds of fitting (a minute on a small box): shutdown does not
                    // wait for it, and decisions are taken meanwhile, so a click on the page is
                    // recorded at once. The run records its proposals against the ledger as it
                    // stands when the fit ends, decisions taken meanwhile included.
                    let run = self.maybe_advise(&mut next_ms);
                    tokio::pin!(run);
                    let result = loop {
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            result = &mut run => break result,
                            request = decisions.recv() => match request {
                                Some(request) => self.decide_or_warn(&request).await,
                                None => return,
                            },
                        }
                    };
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "advisor run failed; the next check retries");
                    }
                }
            }
        }
    }

    async fn decide_or_warn(&self, request: &DecisionRequest) {
        if let Err(e) = self.decide(request).await {
            tracing::warn!(subject = request.subject, via = request.via, error = %e, "decision not recorded");
        }
    }

    async fn maybe_advise(&self, next_ms: &mut Option<i64>) -> Result<(), AdvisorError> {
        let now = self.stats.snapshot().stored_through_ms as i64;
        if next_ms.is_none() {
            let oldest = self.store.try_with(|s| s.oldest_ms().map_err(AdvisorError::from)).await?;
            let Some(oldest) = oldest else { return Ok(()) };
            let first_ms = oldest + FIRST_RUN_AFTER_MS;
            *next_ms = Some(first_ms);
            if now < first_ms {
                // Until then the page, MQTT and /metrics say why there is no advice yet.
                let waiting = Blocker::first_run_pending(FIRST_RUN_AFTER_MS / 86_400_000, first_ms);
                self.ledger
                    .try_with(move |l| {
                        l.set_blocked(vec![waiting]);
                        Ok::<_, AdvisorError>(())
                    })
                    .await?;
                self.publish(&[]).await;
            }
        }
        if next_ms.is_some_and(|n| now < n) {
            return Ok(());
        }
        let records = self.advise_now(now).await?;
        *next_ms = Some(now + self.settings.advisor.interval.as_millis() as i64);
        self.publish(&records).await;
        Ok(())
    }

    /// Advises on the window ending at `now_ms` and records what changed, what stopped it and
    /// where each zone's occupancy came from.
    pub async fn advise_now(&self, now_ms: i64) -> Result<Vec<Record>, AdvisorError> {
        let settings = self.settings.clone();
        let window = settings.advisor.window.as_millis() as i64;
        let read = settings.clone();
        let history = self
            .store
            .try_with(move |s| super::read(s, &read, (now_ms - window, now_ms)).map_err(AdvisorError::from))
            .await?;
        // The fit runs without the store, so that ingest goes on meanwhile.
        let advice: Advice = tokio::task::spawn_blocking(move || advise_on(&history, &settings, &settings.advisor))
            .await
            .map_err(Unfinished::from)?;
        for z in &advice.occupancy {
            tracing::info!(
                zone = z.zone,
                source = z.source.name(),
                confidence = format!("{:.2}", z.confidence),
                text = z.text,
                "advisor: occupancy"
            );
        }
        for blocker in &advice.missing {
            tracing::info!(code = blocker.code, why = blocker.text, fix = blocker.fix, "advisor: cannot advise fully");
        }
        let expiry = self.settings.advisor.expiry.as_millis() as i64;
        let (programme, models_pass_gate) = (advice.programme.clone(), advice.models_pass_gate);
        let (zone_models, kw_per_demand) = (advice.zone_models.clone(), advice.kw_per_demand);
        let (records, accepted) = self
            .ledger
            .try_with(move |l| {
                l.set_blocked(advice.missing.clone());
                l.set_occupancy(advice.occupancy.clone());
                Ok::<_, AdvisorError>((record(l, &advice, now_ms, expiry)?, accepted(l)?))
            })
            .await?;
        if let Some(programme) = programme {
            self.basis.send_replace(Some(Basis { programme, accepted, models_pass_gate, zone_models, kw_per_demand }));
        }
        Ok(records)
    }

    async fn decide(&self, request: &DecisionRequest) -> Result<(), AdvisorError> {
        let (subject, decision) = (request.subject.clone(), request.decision.clone());
        let now = self.stats.snapshot().stored_through_ms as i64;
        let record = self
            .ledger
            .try_with(move |l| {
                let Some(c) = l.current()?.into_iter().find(|c| c.subject == subject) else {
                    tracing::warn!(subject, "refused: no such recommendation");
                    return Ok(None);
                };
                if c.status != Status::Proposed {
                    tracing::warn!(
                        subject,
                        status = c.status.name(),
                        "refused: only a proposed recommendation is decided on"
                    );
                    return Ok(None);
                }
                let r: Recommendation = serde_json::from_value(c.recommendation).map_err(LedgerError::from)?;
                let status = match decision.decision {
                    Verdict::Accept => Status::Accepted,
                    Verdict::Reject => Status::Rejected,
                };
                let entry = Entry {
                    status,
                    ts_ms: now.max(c.ts_ms),
                    expires_ms: None,
                    by: decision.by.as_deref(),
                    note: decision.note.as_deref(),
                };
                Ok::<_, AdvisorError>(Some(l.append(&r, entry)?))
            })
            .await?;
        if let Some(record) = record {
            self.publish(&[record]).await;
            let accepted = self.ledger.try_with(accepted).await?;
            self.basis.send_if_modified(|b| match b {
                Some(b) if b.accepted != accepted => {
                    b.accepted = accepted;
                    true
                }
                _ => false,
            });
        }
        Ok(())
    }

    /// Each new record on `decisions`, then the current list, retained.
    async fn publish(&self, records: &[Record]) {
        let prefix = &self.settings.agent.topic_prefix;
        for r in records {
            match serde_json::to_vec(r) {
                Ok(payload) => {
                    self.publisher.publish(format!("{prefix}/decisions"), false, payload);
                }
                Err(e) => tracing::error!(error = %e, "cannot serialise a decision record"),
            }
        }
        let site = self.settings.site.id.clone();
        let list = self.ledger.try_with(move |l| current_list(l, &site)).await;
        match list {
            Ok(payload) => {
                self.publisher.publish(format!("{prefix}/recommendations"), true, payload);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the current recommendations"),
        }
    }
}

/// Records what an advisor run changed: a new proposal for each recommendation not already
/// proposed (or whose estimate moved) or decided on, and an expiry for each proposal past its time or no longer supported
/// by the data.
pub fn record(l: &mut Ledger, advice: &Advice, now_ms: i64, expiry_ms: i64) -> Result<Vec<Record>, AdvisorError> {
    let mut records = Vec::new();
    let current = l.current()?;
    for r in &advice.recommendations {
        let before = current.iter().find(|c| c.subject == r.id);
        let settled = before.is_some_and(|c| {
            let was = c.recommendation["savings"]["kwh_per_year"].as_f64().unwrap_or(0.0);
            // A proposal is re-proposed when more data moved its estimate materially.
            c.status.is_decided()
                || (c.status == Status::Proposed && (r.savings.kwh_per_year - was).abs() <= RESTATE * was)
        });
        if settled {
            continue;
        }
        let entry = Entry {
            status: Status::Proposed,
            ts_ms: now_ms,
            expires_ms: Some(now_ms + expiry_ms),
            by: None,
            note: None,
        };
        records.push(l.append(r, entry)?);
    }
    for c in l.current()? {
        let gone = !advice.recommendations.iter().any(|r| r.id == c.subject);
        let lapsed = c.expires_ms.is_some_and(|e| now_ms >= e);
        if c.status == Status::Proposed && (gone || lapsed) {
            let r: Recommendation = serde_json::from_value(c.recommendation).map_err(LedgerError::from)?;
            let entry = Entry { status: Status::Expired, ts_ms: now_ms, expires_ms: None, by: None, note: None };
            records.push(l.append(&r, entry)?);
        }
    }
    Ok(records)
}

/// The settings of the recommendations a person accepted, with when.
pub fn accepted(ledger: &mut Ledger) -> Result<Vec<(super::Setting, i64)>, AdvisorError> {
    let mut out = Vec::new();
    for c in ledger.current()? {
        if c.status == Status::Accepted {
            let r: Recommendation = serde_json::from_value(c.recommendation).map_err(LedgerError::from)?;
            out.push((r.setting, c.ts_ms));
        }
    }
    Ok(out)
}

/// The retained list (schema `sobre.recommendations/1`): every recommendation not expired,
/// with its status, what stopped the advisor's latest run (`blocked`), and where each zone's occupancy came from in the latest run.
pub fn current_list(ledger: &Ledger, site: &str) -> Result<Vec<u8>, AdvisorError> {
    let mut items = Vec::new();
    for c in ledger.current()? {
        if c.status == Status::Expired {
            continue;
        }
        let mut item = c.recommendation;
        if let Some(o) = item.as_object_mut() {
            o.insert("status".into(), serde_json::Value::String(c.status.name().into()));
            o.insert("since".into(), serde_json::Value::String(crate::clock::iso(c.ts_ms)));
        }
        items.push(item);
    }
    let body = serde_json::json!({
        "schema": "sobre.recommendations/1",
        "site": site,
        "count": items.len(),
        "recommendations": items,
        "blocked": ledger.blocked(),
        "occupancy": ledger.occupancy(),
    });
    Ok(serde_json::to_vec(&body).map_err(LedgerError::from)?)
}
