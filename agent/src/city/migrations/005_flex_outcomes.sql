-- sobre.flex/2 reports every request an agent answered for good: events it commanded and settled,
-- and requests it refused or events it cancelled (with why, and no figures). sobre.flex/1 reports,
-- from agents not yet upgraded, are settled events. The view keeps its columns (a dashboard's
-- query on it goes on working) and adds the status and the reason at the end; the figures are
-- NULL for a refusal or a cancellation.
CREATE OR REPLACE VIEW flex_events AS
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
    (body ->> 'overrides')::integer AS overrides,
    coalesce(body ->> 'status', 'settled') AS status,
    body ->> 'reason' AS reason
FROM reports
WHERE kind = 'flex';
