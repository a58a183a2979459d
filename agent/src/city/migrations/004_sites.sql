-- The sites the city knows, filled by its operator from the building inventory:
--   INSERT INTO sites (site, name) VALUES ('ecole-jaures', 'École Jean Jaurès');
-- A report from a site not in it is refused as `unknown-site` (a misconfigured agent, or one
-- publishing as a building the city never enrolled). The sink reads it on every batch: a site
-- added takes effect on the next batch, without a restart. The sites that reported before this
-- migration were accepted then, and stay known.
CREATE TABLE sites (
    site     text PRIMARY KEY,
    -- For the dashboards: what a person calls the building.
    name     text,
    added_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sites (site) SELECT DISTINCT site FROM reports;

ALTER TABLE refused DROP CONSTRAINT refused_reason_check;
ALTER TABLE refused ADD CONSTRAINT refused_reason_check
    CHECK (reason IN ('oversize', 'not-json', 'unknown-schema', 'schema', 'topic', 'unknown-site'));

-- Data health now starts from the known sites, so one enrolled and never heard from shows.
-- `silent`: nothing received from it for two days (an agent sends a health report every local
-- day by default), or never.
CREATE OR REPLACE VIEW fleet_health AS
WITH all_sites AS (
    SELECT site FROM sites
    UNION
    SELECT site FROM reports
    UNION
    SELECT site FROM refused WHERE site IS NOT NULL
),
received AS (
    SELECT site, count(*) AS reports, max(received_at) AS last_received_at, max(period_end) AS last_period_end
    FROM reports GROUP BY site
),
refusals AS (
    SELECT site, count(*) AS refused, max(received_at) AS last_refused_at
    FROM refused WHERE site IS NOT NULL GROUP BY site
),
last_health AS (
    SELECT DISTINCT ON (site) site, period_end, body
    FROM reports WHERE kind = 'health'
    ORDER BY site, period_end DESC
)
SELECT
    s.site,
    coalesce(r.reports, 0) AS reports,
    r.last_received_at,
    r.last_period_end,
    coalesce(f.refused, 0) AS refused,
    f.last_refused_at,
    h.period_end AS last_health_end,
    (h.body ->> 'rejections_total')::bigint AS readings_rejected_total,
    (SELECT coalesce(sum(value::bigint), 0) FROM jsonb_each_text(h.body -> 'outbox' -> 'dropped')) AS outbox_dropped_total,
    EXISTS (SELECT 1 FROM sites k WHERE k.site = s.site) AS known,
    coalesce(r.last_received_at < now() - interval '2 days', true) AS silent
FROM all_sites s
LEFT JOIN received r USING (site)
LEFT JOIN refusals f USING (site)
LEFT JOIN last_health h USING (site);
