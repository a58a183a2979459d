-- Every report kept whole (body), with the columns a dashboard filters on. The id is the agent's
-- stable report id: a report delivered twice is one row (the sink inserts ON CONFLICT DO NOTHING).
CREATE TABLE reports (
    id            text PRIMARY KEY,
    site          text NOT NULL,
    kind          text NOT NULL,
    schema        text NOT NULL,
    -- NULL for a register entry, which has no period.
    period_start  timestamptz,
    period_end    timestamptz,
    agent_version text NOT NULL,
    topic         text NOT NULL,
    received_at   timestamptz NOT NULL,
    body          jsonb NOT NULL
);
CREATE INDEX reports_by_site_kind_period ON reports (site, kind, period_start);

-- sobre.savings/1 reports' figures, typed: what the savings views sum.
CREATE TABLE savings (
    id             text PRIMARY KEY REFERENCES reports (id),
    site           text NOT NULL,
    point          text NOT NULL,
    fuel           text NOT NULL,
    -- '1d' (savings-daily) or '1mo' (savings-monthly): the two cover the same days, so a total
    -- takes one of them, never both.
    resolution     text NOT NULL,
    period_start   timestamptz NOT NULL,
    period_end     timestamptz NOT NULL,
    metered_kwh    double precision NOT NULL,
    baseline_kwh   double precision NOT NULL,
    avoided_kwh    double precision NOT NULL,
    interval68_kwh double precision NOT NULL,
    interval90_kwh double precision NOT NULL,
    eur            double precision NOT NULL,
    kg_co2         double precision NOT NULL,
    -- false when the baseline fails ASHRAE Guideline 14: the figures are not a savings claim.
    claim          boolean NOT NULL,
    model_name     text NOT NULL,
    gl14_pass      boolean NOT NULL
);
CREATE INDEX savings_by_site_period ON savings (site, resolution, period_start);

-- What the sink would not store, and why; acknowledged all the same, so one poison message
-- cannot hold up the queue behind it.
CREATE TABLE refused (
    seq         bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL,
    topic       text NOT NULL,
    -- The site the topic names, if it names one.
    site        text,
    reason      text NOT NULL CHECK (reason IN ('oversize', 'not-json', 'unknown-schema', 'schema', 'topic')),
    detail      text NOT NULL,
    bytes       integer NOT NULL,
    -- NULL when it was too large to keep.
    payload     bytea
);
CREATE INDEX refused_by_site ON refused (site, received_at);
