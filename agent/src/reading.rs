//! What a reading is once accepted, and what ingest hands the store: part of the vocabulary every
//! layer shares.

/// What the writer hands the store, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Reading(Reading),
    Rejection { point: usize, reason: Reason, at_ms: i64, detail: String },
    Availability { topic: String, at_ms: i64, online: bool },
}

/// One accepted reading, in the stored unit of its point's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Index into `Settings::points`.
    pub point: usize,
    pub ts_ms: i64,
    pub value: f64,
    /// The energy this reading accounts for, when it is an energy point and it can be known.
    pub energy: Option<EnergySpan>,
}

/// Energy over `[start_ms, end_ms)`. Rollups spread it evenly over the buckets it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergySpan {
    pub start_ms: i64,
    pub end_ms: i64,
    pub kwh: f64,
}

/// Why a reading, or the energy of an interval, was not accepted. Stored and logged per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The payload is larger than `ingest.max_payload_bytes`.
    Oversize,
    /// The payload could not be decoded into a number.
    Malformed,
    /// NaN or infinite.
    NotFinite,
    /// Outside the point's physical range.
    OutOfRange,
    /// Stamped further ahead of the wall clock than `ingest.future_tolerance`.
    Future,
    /// Older than the point's newest reading by more than `ingest.late_window`.
    Late,
    /// The same timestamp and value again (QoS 1 redelivery).
    Duplicate,
    /// The same timestamp with another value: the first one stays.
    Conflict,
    /// A counter went backwards (reset, rollover, meter swap): the reading is stored, the
    /// interval's energy is unknown and not invented.
    CounterReset,
    /// A counter stepped more than `max_kw` could deliver: stored, interval energy unknown.
    CounterJump,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Oversize => "oversize",
            Reason::Malformed => "malformed",
            Reason::NotFinite => "not_finite",
            Reason::OutOfRange => "out_of_range",
            Reason::Future => "future",
            Reason::Late => "late",
            Reason::Duplicate => "duplicate",
            Reason::Conflict => "conflict",
            Reason::CounterReset => "counter_reset",
            Reason::CounterJump => "counter_jump",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
