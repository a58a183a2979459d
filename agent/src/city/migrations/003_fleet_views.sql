-- Flexibility events, planned (the agent's forecast when it accepted) against achieved.
CREATE VIEW flex_events AS
SELECT
    site,
    body ->> 'event_id' AS event_id,
    body ->> 'event_kind' AS event_kind,
    period_start,
    period_end,
    (body ->> 'planned_shed_kw')::double precision AS planned_shed_kw,
    (body ->> 'achieved_shed_kw')::double precision AS achieved_shed_kw,
    (body ->> 'achieved_shed_kw')::double precision
        / nullif((body ->> 'planned_shed_kw')::double precision, 0) AS achieved_share,
    (body ->> 'shifted_kwh')::double precision AS shifted_kwh,
    (body ->> 'rebound_peak_kw')::double precision AS rebound_peak_kw,
    (body ->> 'baseline_peak_kw')::double precision AS baseline_peak_kw,
    (body ->> 'discomfort_kh')::double precision AS discomfort_kh,
    (body ->> 'overrides')::integer AS overrides
FROM reports
WHERE kind = 'flex';

-- The agents' own footprint against what they save. A footprint report's CPU time and energy
-- count from the start of the agent's run (`process.since`), so a run's figure is its latest
-- (largest) one and a site's is the sum over its runs; `saved_kwh` is per period, summed.
CREATE VIEW footprint_vs_savings AS
WITH runs AS (
    SELECT site,
           max((body -> 'process' ->> 'cpu_seconds')::double precision) AS cpu_seconds,
           max((body -> 'process' ->> 'estimated_wh')::double precision) AS estimated_wh
    FROM reports
    WHERE kind = 'footprint'
    GROUP BY site, body -> 'process' ->> 'since'
),
saved AS (
    SELECT site, sum((body ->> 'saved_kwh')::double precision) AS saved_kwh
    FROM reports
    WHERE kind = 'footprint'
    GROUP BY site
)
SELECT
    site,
    count(*) AS runs,
    sum(runs.cpu_seconds) AS cpu_seconds,
    sum(runs.estimated_wh) / 1000 AS agent_kwh,
    saved.saved_kwh,
    saved.saved_kwh / nullif(sum(runs.estimated_wh) / 1000, 0) AS saved_per_agent_kwh
FROM runs
JOIN saved USING (site)
GROUP BY site, saved.saved_kwh;

-- Each site's current entry in the algorithm register: the last one received (a refit sends a
-- new entry, with its own id).
CREATE VIEW register_current AS
SELECT DISTINCT ON (site)
    site,
    id,
    agent_version,
    received_at,
    body ->> 'owner' AS owner,
    body ->> 'contact' AS contact,
    body -> 'models' AS models
FROM reports
WHERE kind = 'register'
ORDER BY site, received_at DESC, id DESC;
