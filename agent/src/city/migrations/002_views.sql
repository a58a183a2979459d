-- The views a dashboard reads. Savings totals take the monthly reports (resolution '1mo'): the
-- daily ones cover the same days. A report's month is the UTC month of its period's midpoint,
-- which is its local month whatever the site's offset (a local month starts at local midnight,
-- up to 14 hours off UTC midnight).

-- Per site and month: every figure, and the claimed ones apart. Only reports whose baseline
-- passes Guideline 14 (claim) enter the claimed totals. The interval of a site's month adds its
-- points' intervals in quadrature: each point has its own meter and its own baseline model.
CREATE VIEW savings_by_site_month AS
SELECT
    site,
    date_trunc('month', period_start + (period_end - period_start) / 2) AS month,
    count(*) AS reports,
    count(*) FILTER (WHERE claim) AS claims,
    sum(metered_kwh) AS metered_kwh,
    sum(baseline_kwh) AS baseline_kwh,
    sum(avoided_kwh) AS avoided_kwh_all,
    coalesce(sum(avoided_kwh) FILTER (WHERE claim), 0) AS avoided_kwh,
    coalesce(sqrt(sum(interval90_kwh ^ 2) FILTER (WHERE claim)), 0) AS interval90_kwh,
    coalesce(sum(eur) FILTER (WHERE claim), 0) AS eur,
    coalesce(sum(kg_co2) FILTER (WHERE claim), 0) AS kg_co2
FROM savings
WHERE resolution = '1mo'
GROUP BY site, month;

-- The portfolio: claimed savings only. Its 90 % interval assumes the sites independent (their
-- own meters, weather-normalised by their own models), so the sites' intervals add in
-- quadrature. Within one site the months share one baseline model, whose error does not average
-- out over months: a site's interval is the plain sum of its months' (the conservative bound).
CREATE VIEW portfolio_totals AS
WITH per_site AS (
    SELECT site, sum(avoided_kwh) AS avoided_kwh, sum(interval90_kwh) AS interval90_kwh,
           sum(eur) AS eur, sum(kg_co2) AS kg_co2
    FROM savings_by_site_month
    WHERE claims > 0
    GROUP BY site
)
SELECT
    count(*) AS sites,
    coalesce(sum(avoided_kwh), 0) AS avoided_kwh,
    coalesce(sqrt(sum(interval90_kwh ^ 2)), 0) AS interval90_kwh,
    coalesce(sum(eur), 0) AS eur,
    coalesce(sum(kg_co2), 0) AS kg_co2
FROM per_site;

-- Data health across the fleet: per site, when it was last heard from, what it reported, what
-- the sink refused of it, and what its last health report says of its own outbox and input.
CREATE VIEW fleet_health AS
WITH sites AS (
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
    (SELECT coalesce(sum(value::bigint), 0) FROM jsonb_each_text(h.body -> 'outbox' -> 'dropped')) AS outbox_dropped_total
FROM sites s
LEFT JOIN received r USING (site)
LEFT JOIN refusals f USING (site)
LEFT JOIN last_health h USING (site);
