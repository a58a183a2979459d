-- A refused message is recorded once. The same message again (the broker delivering anew what
-- the sink had not acknowledged when it stopped, or a publisher sending the same bytes twice)
-- adds one to `times` and moves `received_at` to its last delivery instead of adding a row, so
-- a flood of one broken message is one row, and `fleet_health` (a site's refusals and the last
-- one's time) reads it as before. A message is the same when its topic, its reason and its
-- content are: the payload's SHA-256, or for an oversize message (not kept) its size.
ALTER TABLE refused
    ADD COLUMN times bigint NOT NULL DEFAULT 1,
    ADD COLUMN first_received_at timestamptz,
    ADD COLUMN digest bytea NOT NULL
        GENERATED ALWAYS AS (sha256(coalesce(payload, decode(bytes::text, 'escape')))) STORED;

-- The rows recorded twice before: merged into the first, counted.
UPDATE refused SET first_received_at = received_at;
WITH repeated AS (
    SELECT min(seq) AS kept, topic, reason, digest, count(*) AS times,
        min(received_at) AS first, max(received_at) AS last
    FROM refused
    GROUP BY topic, reason, digest
    HAVING count(*) > 1
), counted AS (
    UPDATE refused r SET times = g.times, first_received_at = g.first, received_at = g.last
    FROM repeated g WHERE r.seq = g.kept
)
DELETE FROM refused r
USING repeated g
WHERE r.topic = g.topic AND r.reason = g.reason AND r.digest = g.digest AND r.seq <> g.kept;

ALTER TABLE refused ALTER COLUMN first_received_at SET NOT NULL;
CREATE UNIQUE INDEX refused_once ON refused (topic, reason, digest);
