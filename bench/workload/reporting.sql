-- Reporting and ad-hoc queries mixed into the recorded capture of scenario 5
-- (`cargo xtask bench --record-mix` runs this file five times with psql against the pgbench
-- tables). Some statements fail on purpose: errors are part of a realistic mix.
SELECT current_user, current_database(), version();
SELECT b.bid, sum(a.abalance) AS total, count(*) AS accounts
  FROM pgbench_accounts a JOIN pgbench_branches b ON b.bid = a.bid
 WHERE a.aid BETWEEN 1 AND 5000
 GROUP BY b.bid ORDER BY total DESC;
WITH recent AS (
  SELECT tid, delta, mtime FROM pgbench_history ORDER BY mtime DESC LIMIT 200
)
SELECT t.tid, t.tbalance, coalesce(sum(r.delta), 0) AS recent_delta
  FROM pgbench_tellers t LEFT JOIN recent r ON r.tid = t.tid
 GROUP BY t.tid, t.tbalance ORDER BY t.tid;
SELECT aid, abalance, rank() OVER (PARTITION BY bid ORDER BY abalance DESC) AS rnk
  FROM pgbench_accounts WHERE aid BETWEEN 1 AND 2000 ORDER BY rnk, aid LIMIT 20;
SELECT count(*) FILTER (WHERE delta > 0) AS credits,
       count(*) FILTER (WHERE delta < 0) AS debits,
       avg(delta)::numeric(12,2) AS avg_delta
  FROM pgbench_history;
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname = 'public'
 ORDER BY bytes DESC;
SELECT h.aid, h.delta, a.abalance
  FROM pgbench_history h JOIN pgbench_accounts a USING (aid)
 WHERE h.delta < -4000 ORDER BY h.mtime DESC LIMIT 25;
SELECT bid, bbalance FROM pgbench_branches WHERE bid IN (SELECT bid FROM pgbench_tellers WHERE tbalance > 0);
BEGIN;
UPDATE pgbench_branches SET filler = 'reviewed ' || now()::text WHERE bid = 1;
SELECT bbalance FROM pgbench_branches WHERE bid = 1 FOR UPDATE;
ROLLBACK;
CREATE TEMP TABLE top_accounts AS
  SELECT aid, abalance FROM pgbench_accounts WHERE abalance > 0 ORDER BY abalance DESC LIMIT 50;
SELECT * FROM top_accounts WHERE abalance > 100 ORDER BY abalance DESC;
DROP TABLE top_accounts;
PREPARE acct(int) AS SELECT aid, bid, abalance FROM pgbench_accounts WHERE aid = $1;
EXECUTE acct(42);
EXECUTE acct(4242);
DEALLOCATE acct;
COPY (SELECT aid, abalance FROM pgbench_accounts WHERE aid <= 200) TO STDOUT;
SELECT 1 / 0;
SELECT * FROM no_such_table;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now());
DELETE FROM pgbench_history WHERE delta = 0 AND aid = 1;
SELECT pg_sleep(0.01);
