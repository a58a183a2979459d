-- Optional, the operator's, run after the sink has migrated the database (and again at will):
-- the daily savings as a table of their own, `savings_daily`, kept filled by a trigger on the
-- sink's `savings` table: a TimescaleDB hypertable (30-day chunks) where the extension is
-- installed and preloaded, a plain table otherwise. For daily charts over years of thousands
-- of sites; the views the dashboard reads do not depend on it.
--
--   psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d city -f deploy/city/timescaledb.sql
--
-- The fleet test runs this file on its database (without TimescaleDB there: the plain table)
-- and checks the table holds every daily report sent.
DO $$
DECLARE
    timescale boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND current_setting('shared_preload_libraries') LIKE '%timescaledb%';
BEGIN
    IF timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    ELSE
        RAISE NOTICE 'TimescaleDB is not installed or not in shared_preload_libraries: savings_daily is a plain table';
    END IF;
    CREATE TABLE IF NOT EXISTS savings_daily (
        -- The daily report's period start: the site's local midnight.
        day            timestamptz NOT NULL,
        site           text NOT NULL,
        point          text NOT NULL,
        fuel           text NOT NULL,
        metered_kwh    double precision NOT NULL,
        baseline_kwh   double precision NOT NULL,
        avoided_kwh    double precision NOT NULL,
        interval90_kwh double precision NOT NULL,
        eur            double precision NOT NULL,
        kg_co2         double precision NOT NULL,
        claim          boolean NOT NULL,
        -- A hypertable's unique keys include its time column.
        PRIMARY KEY (site, point, day)
    );
    IF timescale THEN
        PERFORM create_hypertable('savings_daily', 'day',
            chunk_time_interval => interval '30 days', if_not_exists => true, migrate_data => true);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION savings_daily_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.resolution = '1d' THEN
        INSERT INTO savings_daily
        VALUES (NEW.period_start, NEW.site, NEW.point, NEW.fuel, NEW.metered_kwh, NEW.baseline_kwh,
                NEW.avoided_kwh, NEW.interval90_kwh, NEW.eur, NEW.kg_co2, NEW.claim)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS savings_daily_fill ON savings;
CREATE TRIGGER savings_daily_fill AFTER INSERT ON savings FOR EACH ROW EXECUTE FUNCTION savings_daily_fill();

-- What the sink stored before this file ran.
INSERT INTO savings_daily
SELECT period_start, site, point, fuel, metered_kwh, baseline_kwh, avoided_kwh, interval90_kwh, eur, kg_co2, claim
FROM savings WHERE resolution = '1d'
ON CONFLICT DO NOTHING;
