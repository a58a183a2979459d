-- A refused message is recorded once. The same message again (the broker delivering anew what
-- the sink had not acknowledged when it stopped, or a publisher sending the same bytes twice)
-- adds one to `times` and moves `last_received_at` instead of adding a row, so a flood of one
-- broken message is one row. A message is the same when its topic, its reason and its content
-- are: the payload's SHA-256, or for an oversize message (not kept) its size.
ALTER TABLE refused
    ADD COLUMN times bigint NOT NULL DEFAULT 1,
    ADD COLUMN last_received_at timestamptz,
    ADD COLUMN digest bytea NOT NULL
        GENERATED ALWAYS AS (sha256(coalesce(payload, decode(bytes::text, 'escape')))) STORED;

-- The rows recorded twice before: merged into the first, counted.
UPDATE refused SET last_received_at = received_at;
WITH repeated AS (
    SELECT min(seq) AS kept, topic, reason, digest, count(*) AS times, max(received_at) AS last
    FROM refused
    GROUP BY topic, reason, digest
    HAVING count(*) > 1
), counted AS (
    UPDATE refused r SET times = g.times, last_received_at = g.last FROM repeated g WHERE r.seq = g.kept
)
DELETE FROM refused r
USING repeated g
WHERE r.topic = g.topic AND r.reason = g.reason AND r.digest = g.digest AND r.seq <> g.kept;

ALTER TABLE refused ALTER COLUMN last_received_at SET NOT NULL;
CREATE UNIQUE INDEX refused_once ON refused (topic, reason, digest);

-- A site's last refusal is the last delivery of any of its refused messages; `refused` counts
-- the distinct messages.
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
    SELECT site, count(*) AS refused, max(last_received_at) AS last_refused_at
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
