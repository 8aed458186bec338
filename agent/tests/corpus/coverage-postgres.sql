--# PostgreSQL coverage corpus, checked by agent/src/sql/coverage_tests.rs.
--#
--# Format: lines starting with `--#` are comments and are ignored everywhere. Each entry starts
--# with a line `--@ KIND: table, table, ...` (or `--@ KIND` when no table is involved) and its
--# statement is every following line up to the next `--@` line, trimmed, sent as one text.
--#
--# Statements are taken from PostgreSQL's regression suite (src/test/regress/sql) and pgaudit's
--# regression SQL (sql/pgaudit.sql), verbatim or lightly adapted, plus the SQL common drivers,
--# ORMs and migration tools send, and SQL installed with PostgreSQL itself (information_schema,
--# system views, contrib extension scripts). psql meta-commands and psql variables are left out.
--# Sections marked "held out" were annotated before the analyzer was run on them.
--#
--# KIND is what Analysis::kind must be: the command, with the object type for CREATE, ALTER and
--# DROP (`CREATE FUNCTION`, `ALTER DEFAULT PRIVILEGES`, `CREATE MATERIALIZED VIEW`), `BEGIN` for
--# START TRANSACTION, `COMMIT` for END, `ROLLBACK` for ABORT, `SELECT` for TABLE and VALUES, the
--# main statement's kind for WITH, `CREATE INDEX` for CREATE UNIQUE INDEX, `CREATE TABLE` for
--# CREATE TABLE AS.
--#
--# Tables are the relations (tables, views, materialized views, foreign tables, partitions,
--# catalogs) the statement names, schema-qualified as written, unquoted names lower-cased:
--# - DML and queries: every relation read or written; not CTE names, derived tables, table
--#   functions (generate_series, unnest), sequences (nextval('s')), cursors or prepared names.
--# - DDL: the relation created, altered or dropped (and the new name of a RENAME), plus the
--#   relations it names: REFERENCES, LIKE, INHERITS, PARTITION OF, ATTACH/DETACH PARTITION, the
--#   query of AS SELECT, the table ON which an index, trigger, policy or rule is defined.
--#   Schemas, databases, roles, functions, types, domains, sequences, indexes, extensions,
--#   triggers, policies, rules and publications are not tables.
--# - GRANT/REVOKE/COMMENT/SECURITY LABEL ON a table, view or column name that relation; ON
--#   SCHEMA, FUNCTION, SEQUENCE, ALL TABLES IN SCHEMA, DATABASE or role membership name none.
--# - Bodies are opaque: DO blocks and function/procedure bodies (dollar-quoted or quoted), rule
--#   actions and trigger functions are not analysed, so they add no tables.
--# - PREPARE ... AS, EXPLAIN, DECLARE ... CURSOR FOR and COPY (query) name their query's tables.

--# ---- pgaudit: sql/pgaudit.sql -------------------------------------------------------------
--@ CREATE EXTENSION
CREATE EXTENSION IF NOT EXISTS pgaudit;
--@ GRANT
GRANT ALL ON SCHEMA public TO public;
--@ SET
SET pgaudit.log = 'all';
--@ SET
SET pgaudit.log_client = ON;
--@ SET
SET pgaudit.log_level = 'notice';
--@ CREATE TABLE: tmp
CREATE TABLE tmp (id int, data text);
--@ CREATE TABLE: tmp, tmp2
CREATE TABLE tmp2 AS (SELECT * FROM tmp);
--@ RESET
RESET pgaudit.log_client;
--@ DROP TABLE: tmp
DROP TABLE tmp;
--@ RESET
RESET pgaudit.log;
--@ SELECT
SELECT current_user
--@ CREATE ROLE
CREATE ROLE regress_auditor;
--@ CREATE USER
CREATE USER regress_user1 password 'password';
--@ ALTER ROLE
ALTER ROLE regress_user1 SET pgaudit.log = 'ddl, ROLE';
--@ ALTER ROLE
ALTER ROLE regress_user1 PassWord 'password2' NOLOGIN;
--@ ALTER USER
ALTER USER regress_user1 encrypted /* random comment */PASSWORD
	/* random comment */
    'md565cb1da342495ea6bb0418a6e5718c38' LOGIN;
--@ CREATE TABLE: public.test
CREATE TABLE public.test
(
	id INT
);
--@ SELECT: test
SELECT *
  FROM test;
--@ CREATE ROLE
CREATE ROLE regress_user2 LOGIN password 'password';
--@ ALTER ROLE
ALTER ROLE regress_user2 SET pgaudit.role = regress_auditor;
--@ ALTER ROLE
ALTER ROLE regress_user2 SET pgaudit.log_statement_once = ON;
--@ GRANT: test2
GRANT SELECT, INSERT, UPDATE, DELETE
   ON test2
   TO regress_user2, regress_user1;
--@ GRANT: public.test2
GRANT SELECT, UPDATE
   ON TABLE public.test2
   TO regress_auditor;
--@ CREATE FUNCTION
CREATE FUNCTION test2_insert() RETURNS TRIGGER AS $$
BEGIN
	UPDATE test2
	   SET id = id + 90
	 WHERE id = new.id;

	RETURN new;
END $$ LANGUAGE plpgsql security definer;
--@ ALTER FUNCTION
ALTER FUNCTION test2_insert() OWNER TO regress_user1;
--@ CREATE TRIGGER: test2
CREATE TRIGGER test2_insert_trg
	AFTER INSERT ON test2
	FOR EACH ROW EXECUTE PROCEDURE test2_insert();
--@ CREATE FUNCTION
CREATE FUNCTION test2_change(change_id int) RETURNS void AS $$
BEGIN
	UPDATE test2
	   SET id = id + 1
	 WHERE id = change_id;
END $$ LANGUAGE plpgsql security definer;
--@ ALTER FUNCTION
ALTER FUNCTION test2_change(int) OWNER TO regress_user2;
--@ CREATE VIEW: test3, vw_test3
CREATE VIEW vw_test3 AS
SELECT *
  FROM test3;
--@ GRANT: vw_test3
GRANT SELECT
   ON vw_test3
   TO regress_user2;
--@ SELECT: pg_class
SELECT count(*)
  FROM
(
	SELECT relname
	  FROM pg_class
	  LIMIT 1
) SUBQUERY;
--@ SELECT: test2, test3
SELECT *
  FROM test3, test2;
--@ INSERT: test2, test3
WITH CTE AS
(
	SELECT id
	  FROM test2
)
INSERT INTO test3
SELECT id
  FROM cte;
--@ INSERT: test2, test3
WITH CTE AS
(
	INSERT INTO test3 VALUES (1)
				   RETURNING id
)
INSERT INTO test2
SELECT id
  FROM cte;
--@ DO
DO $$ BEGIN PERFORM test2_change(91); END $$;
--@ INSERT: test2, test3
WITH CTE AS
(
	UPDATE test2
	   SET id = 45
	 WHERE id = 92
	RETURNING id
)
INSERT INTO test3
SELECT id
  FROM cte;
--@ UPDATE: test2, test3
WITH CTE AS
(
	INSERT INTO test2 VALUES (37)
				   RETURNING id
)
UPDATE test3
   SET id = cte.id
  FROM cte
 WHERE test3.id <> cte.id;
--@ SELECT: test2
SELECT *
  FROM test2
 ORDER BY ID;
--@ CREATE TABLE: test4
CREATE TABLE test4
(
	id int,
	name text
);
--@ GRANT: public.test4
GRANT SELECT (name)
   ON TABLE public.test4
   TO regress_auditor;
--@ GRANT: public.test4
GRANT insert (name)
   ON TABLE public.test4
   TO regress_auditor;
--@ INSERT: public.test4
INSERT INTO public.test4 (id)
				  VALUES (1);
--@ UPDATE: public.test4
UPDATE public.test4
   SET name = 'foo';
--@ UPDATE: public.test4
update public.test4 set name = 'foo' where name = 'bar';
--@ ALTER ROLE
ALTER ROLE regress_user2 SET pgaudit.log_parameter_max_size = 50;
--@ PREPARE: test4
PREPARE testinsert(int, text) AS
    INSERT INTO test4 VALUES($1, $2);
--@ EXECUTE
EXECUTE testinsert(1, '*******************************************************');
--@ DEALLOCATE
DEALLOCATE testinsert;
--@ ALTER ROLE
ALTER ROLE regress_user2 RESET pgaudit.log_parameter_max_size;
--@ DROP VIEW: vw_test3
DROP VIEW vw_test3;
--@ DROP FUNCTION
DROP FUNCTION test2_insert();
--@ DROP FUNCTION
DROP FUNCTION test2_change(int);
--@ CREATE TABLE: public.account
CREATE TABLE public.account
(
	id INT,
	name TEXT,
	password TEXT,
	description TEXT
);
--@ INSERT: account
INSERT INTO account (id, name, password, description)
			 VALUES (1, 'regress_user1', 'HASH1', 'blah, blah');
--@ GRANT: public.account
GRANT SELECT (password),
	  UPDATE (name, password)
   ON TABLE public.account
   TO regress_auditor;
--@ UPDATE: account
UPDATE account
   SET description = 'yada, yada';
--@ CREATE TABLE: account_role_map
CREATE TABLE ACCOUNT_ROLE_MAP
(
	account_id INT,
	role_id INT
);
--@ SELECT: account, account_role_map
SELECT account.password,
	   account_role_map.role_id
  FROM account
	   INNER JOIN account_role_map
			on account.id = account_role_map.account_id;
--@ SELECT: account
SELECT *
  FROM account
 WHERE password = 'HASH2'
   FOR UPDATE;
--@ SELECT: account
SELECT name
FROM account
    FOR UPDATE;
--@ ALTER ROLE
ALTER ROLE regress_user1 RESET pgaudit.log_relation;
--@ SET
SET pgaudit.log_relation = ON;
--@ DO
DO $$
BEGIN
	raise notice 'test';
END $$;
--@ CREATE SCHEMA
CREATE SCHEMA test;
--@ COPY: account
COPY account TO stdout;
--@ CREATE TABLE: account, test.account_copy
CREATE TABLE test.account_copy AS
SELECT *
  FROM account;
--@ COPY: test.account_copy
COPY test.account_copy from stdin;
--@ PREPARE: account
PREPARE pgclassstmt (oid) AS
SELECT *
  FROM account
 WHERE id = $1;
--@ EXECUTE
EXECUTE pgclassstmt (1);
--@ BEGIN
BEGIN;
--@ DECLARE: pg_class
DECLARE ctest SCROLL CURSOR FOR
SELECT count(*)
  FROM
(
	SELECT relname
	  FROM pg_class
	 LIMIT 1
 ) subquery;
--@ FETCH
FETCH NEXT FROM ctest;
--@ CLOSE
CLOSE ctest;
--@ COMMIT
COMMIT;
--@ PREPARE: test.test_insert
PREPARE pgclassstmt (oid) AS
INSERT INTO test.test_insert (id)
					  VALUES ($1);
--@ CREATE TABLE: public.test
CREATE TABLE public.test
(
	id INT,
	name TEXT,
	description TEXT,
	CONSTRAINT test_pkey PRIMARY KEY (id)
);
--@ ANALYZE: test
ANALYZE test;
--@ GRANT: public.test
GRANT SELECT
  ON TABLE public.test
  TO PUBLIC;
--@ SELECT: test
SELECT
  FROM test;
--@ SELECT
SELECT 1,
	   substring('Thomas' from 2 for 3);
--@ DO
DO $$
DECLARE
	test INT;
BEGIN
	SELECT 1,
		   substring('Thomas' from 2 for 3)
	  INTO test;

	-- Very simple select into statements with scalar expressions are not logged
	SELECT 56 * 89
	  INTO test;
END $$;
--@ EXPLAIN
explain select 1;
--@ INSERT: test
INSERT INTO TEST (id)
		  VALUES (1);
--@ DO
DO $$
DECLARE
	result RECORD;
BEGIN
	FOR result IN
		SELECT id
		  FROM test
	LOOP
		INSERT INTO test (id)
			 VALUES (result.id + 100);
	END LOOP;
END $$;
--@ DO
DO $$
DECLARE
	table_name TEXT = 'do_table';
BEGIN
	EXECUTE E'\t\n\r CREATE TABLE ' || table_name || E' ("weird name" INT)\t\n\r ; DROP table ' || table_name;
END $$;
--@ ALTER TABLE: public.test
ALTER TABLE public.test
	DROP COLUMN description ;
--@ ALTER TABLE: public.test, test2
ALTER TABLE public.test
	RENAME TO test2;
--@ ALTER TABLE: public.test2
ALTER TABLE public.test2
	SET SCHEMA test;
--@ ALTER TABLE: test.test2
ALTER TABLE test.test2
	ADD COLUMN description TEXT;
--@ DROP TABLE: test.test2
DROP TABLE test.test2;
--@ CREATE SCHEMA: foo.bar, foo.baz
CREATE SCHEMA foo
	CREATE TABLE foo.bar (id int)
	CREATE TABLE foo.baz (id int);
--@ CREATE FUNCTION
CREATE FUNCTION public.int_add
(
	a INT,
	b INT
)
	RETURNS INT LANGUAGE plpgsql AS $$
BEGIN
	return a + b;
END $$;
--@ SELECT
SELECT int_add(1, 1);
--@ CREATE AGGREGATE
CREATE AGGREGATE public.sum_test(INT) (SFUNC=public.int_add, STYPE=INT, INITCOND='0');
--@ ALTER AGGREGATE
ALTER AGGREGATE public.sum_test(integer) RENAME TO sum_test2;
--@ CREATE CONVERSION
CREATE CONVERSION public.conversion_test FOR 'latin1' TO 'utf8' FROM pg_catalog.iso8859_1_to_utf8;
--@ ALTER CONVERSION
ALTER CONVERSION public.conversion_test RENAME TO conversion_test2;
--@ CREATE DATABASE
CREATE DATABASE contrib_regression_pgaudit;
--@ ALTER DATABASE
ALTER DATABASE contrib_regression_pgaudit RENAME TO contrib_regression_pgaudit2;
--@ DROP DATABASE
DROP DATABASE contrib_regression_pgaudit2;
--@ CREATE TABLE: t
CREATE TABLE t ();
--@ CREATE SCHEMA: public.t
CREATE SCHEMA foo2
	GRANT SELECT
	   ON public.t
	   TO regress_alice;
--@ DROP ROLE
drop role regress_alice;
--@ CREATE FUNCTION
CREATE OR REPLACE FUNCTION get_test_id(_ret REFCURSOR) RETURNS REFCURSOR
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    OPEN _ret FOR SELECT 200;
    RETURN _ret;
END $$;
--@ FETCH
FETCH ALL FROM _ret;
--@ COMMIT
END;
--@ CREATE FUNCTION
CREATE FUNCTION test()
	RETURNS INT AS $$
DECLARE
	cur1 cursor for select * from hoge;
	tmp int;
BEGIN
	OPEN cur1;
	FETCH cur1 into tmp;
	RETURN tmp;
END $$
LANGUAGE plpgsql ;
--@ GRANT: bar
grant delete
   on bar
   to regress_auditor;
--@ DELETE: bar
delete from bar
 where col = 1;
--@ GRANT
GRANT regress_user1 TO regress_user2;
--@ REVOKE
REVOKE regress_user1 FROM regress_user2;
--@ SET
SET pgaudit.role TO 'regress_auditor';
--@ CREATE TABLE: aaa, bbb
CREATE TABLE bbb
(
	id int
		references aaa(id)
);
--@ INSERT: aaa
INSERT INTO aaa VALUES (generate_series(1,100));
--@ DROP EXTENSION
DROP EXTENSION pgaudit;
--@ SET
SET ROLE regress_alice;
--@ SET
SET search_path TO test, public;
--@ VACUUM: t
VACUUM t;
--@ RESET
RESET ROLE;
--@ DROP TABLE: public.t
DROP TABLE public.t;
--@ CREATE TABLE: h
CREATE TABLE h(x int ,y int) PARTITION BY HASH(x);
--@ CREATE TABLE: h, h_0
CREATE TABLE h_0 partition OF h FOR VALUES WITH ( MODULUS 2, REMAINDER 0);
--@ CREATE INDEX: h
CREATE INDEX h_idx ON h (x);
--@ DROP INDEX
DROP INDEX h_idx;
--@ SET
SET pgaudit.log_rows = on;
--# ---- row security: src/test/regress/sql/rowsecurity.sql ------------------------------------
--@ SET
SET client_min_messages TO 'warning';
--@ DROP USER
DROP USER IF EXISTS regress_rls_alice;
--@ DROP ROLE
DROP ROLE IF EXISTS regress_rls_group1;
--@ DROP SCHEMA
DROP SCHEMA IF EXISTS regress_rls_schema CASCADE;
--@ RESET
RESET client_min_messages;
--@ CREATE USER
CREATE USER regress_rls_exempt_user BYPASSRLS NOLOGIN;
--@ CREATE ROLE
CREATE ROLE regress_rls_group1 NOLOGIN;
--@ GRANT
GRANT regress_rls_group1 TO regress_rls_bob;
--@ SET
SET search_path = regress_rls_schema;
--@ CREATE FUNCTION
CREATE OR REPLACE FUNCTION f_leak(text) RETURNS bool
    COST 0.0000001 LANGUAGE plpgsql
    AS 'BEGIN RAISE NOTICE ''f_leak => %'', $1; RETURN true; END';
--@ GRANT
GRANT EXECUTE ON FUNCTION f_leak(text) TO public;
--@ SET
SET SESSION AUTHORIZATION regress_rls_alice;
--@ CREATE TABLE: uaccount
CREATE TABLE uaccount (
    pguser      name primary key,
    seclv       int
);
--@ INSERT: uaccount
INSERT INTO uaccount VALUES
    ('regress_rls_alice', 99),
    ('regress_rls_bob', 1),
    ('regress_rls_carol', 2),
    ('regress_rls_dave', 3);
--@ CREATE TABLE: category, document
CREATE TABLE document (
    did         int primary key,
    cid         int references category(cid),
    dlevel      int not null,
    dauthor     name,
    dtitle      text
);
--@ GRANT: document
GRANT ALL ON document TO public;
--@ ALTER TABLE: document
ALTER TABLE document ENABLE ROW LEVEL SECURITY;
--@ CREATE POLICY: document, uaccount
CREATE POLICY p1 ON document AS PERMISSIVE
    USING (dlevel <= (SELECT seclv FROM uaccount WHERE pguser = current_user));
--@ CREATE POLICY: document
CREATE POLICY p2r ON document AS RESTRICTIVE TO regress_rls_dave
    USING (cid <> 44 AND cid < 50);
--@ SELECT: pg_policies
SELECT * FROM pg_policies WHERE schemaname = 'regress_rls_schema' AND tablename = 'document' ORDER BY policyname;
--@ SET
SET row_security TO ON;
--@ SELECT: category, document
SELECT * FROM document NATURAL JOIN category WHERE f_leak(dtitle) ORDER BY did;
--@ SELECT: document
SELECT * FROM document TABLESAMPLE BERNOULLI(50) REPEATABLE(0)
  WHERE f_leak(dtitle) ORDER BY did;
--@ EXPLAIN: category, document
EXPLAIN (COSTS OFF) SELECT * FROM document NATURAL JOIN category WHERE f_leak(dtitle);
--@ INSERT: document
INSERT INTO document VALUES (100, 44, 1, 'regress_rls_dave', 'testing sorting of policies'); -- fail
--@ ALTER POLICY: document
ALTER POLICY p1 ON document USING (true);    --fail
--@ DROP POLICY: document
DROP POLICY p1 ON document;                  --fail
--@ CREATE POLICY: category
CREATE POLICY p2 ON category
    USING (CASE WHEN current_user = 'regress_rls_bob' THEN cid IN (11, 33)
           WHEN current_user = 'regress_rls_carol' THEN cid IN (22, 44)
           ELSE false END);
--@ SELECT: category, document
SELECT * FROM document d FULL OUTER JOIN category c on d.cid = c.cid ORDER BY d.did, c.cid;
--@ UPDATE: document
UPDATE document SET did = 8, dauthor = 'regress_rls_carol' WHERE did = 5; -- Should fail with RLS check violation, not duplicate key violation
--@ RESET
RESET SESSION AUTHORIZATION;
--@ CREATE TABLE: t1
CREATE TABLE t1 (a int, junk1 text, b text) WITH OIDS;
--@ COPY: t1
COPY t1 FROM stdin WITH (oids);
--@ CREATE TABLE: t1, t2
CREATE TABLE t2 (c float) INHERITS (t1);
--@ ALTER TABLE: t1, t3
ALTER TABLE t3 INHERIT t1;
--@ COPY: t3
COPY t3(a,b,c) FROM stdin WITH (oids);
--@ CREATE POLICY: t1
CREATE POLICY p1 ON t1 FOR ALL TO PUBLIC USING (a % 2 = 0); -- be even number
--@ SELECT: t1
SELECT oid, * FROM t1;
--@ SELECT: t1
SELECT *, t1 FROM t1;
--@ SELECT: t1
SELECT * FROM t1 WHERE f_leak(b) FOR SHARE;
--@ EXPLAIN: t2, t3
EXPLAIN (COSTS OFF) SELECT a, b, oid FROM t2 UNION ALL SELECT a, b, oid FROM t3;
--@ CREATE TABLE: part_document
CREATE TABLE part_document (
    did         int,
    cid         int,
    dlevel      int not null,
    dauthor     name,
    dtitle      text
) PARTITION BY RANGE (cid);
--@ CREATE TABLE: part_document, part_document_fiction
CREATE TABLE part_document_fiction PARTITION OF part_document FOR VALUES FROM (11) to (12);
--@ CREATE POLICY: part_document
CREATE POLICY pp1r ON part_document AS RESTRICTIVE TO regress_rls_dave
    USING (cid < 55);
--@ INSERT: part_document_satire
INSERT INTO part_document_satire VALUES (100, 55, 1, 'regress_rls_dave', 'testing RLS with partitions'); -- success
--@ ALTER POLICY: part_document
ALTER POLICY pp1 ON part_document USING (dauthor = current_user);
--# ---- MERGE: src/test/regress/sql/merge.sql -------------------------------------------------
--@ CREATE TABLE: target
CREATE TABLE target (tid integer, balance integer)
  WITH (autovacuum_enabled=off);
--@ CREATE TABLE: source
CREATE TABLE source (sid integer, delta integer) -- no index
  WITH (autovacuum_enabled=off);
--@ SELECT: source, target
SELECT t.ctid is not null as matched, t.*, s.* FROM source s FULL OUTER JOIN target t ON s.sid = t.tid ORDER BY t.tid, s.sid;
--@ ALTER TABLE: target
ALTER TABLE target OWNER TO regress_merge_privs;
--@ EXPLAIN: source, target
EXPLAIN (COSTS OFF)
MERGE INTO target t
USING source AS s
ON t.tid = s.sid
WHEN MATCHED THEN
	DELETE;
--@ MERGE: target
MERGE INTO target
USING target
ON tid = tid
WHEN MATCHED THEN DO NOTHING;
--@ MERGE: source2, target
MERGE INTO target
USING source2
ON target.tid = source2.sid
WHEN MATCHED THEN
	UPDATE SET balance = 0;
--@ MERGE: source, target
MERGE INTO target t
USING (SELECT * FROM source WHERE t.tid > sid) s
ON t.tid = s.sid
WHEN NOT MATCHED THEN
	INSERT DEFAULT VALUES;
--@ MERGE: source, target
MERGE INTO target t
USING source AS s
ON t.tid = s.sid
WHEN NOT MATCHED THEN
	INSERT VALUES (4, 4)
WHEN MATCHED THEN
	UPDATE SET balance = 0;
--@ MERGE: source, target
MERGE INTO target t
USING source AS s
ON t.tid = s.sid
WHEN MATCHED THEN
	UPDATE SET balance = t.balance + s.delta
WHEN NOT MATCHED THEN
	INSERT VALUES (s.sid, s.delta);
--@ MERGE: target, wq_source, wq_target
MERGE INTO wq_target t
USING wq_source s ON t.tid = s.sid
WHEN MATCHED AND t.balance > (SELECT max(balance) FROM target) THEN
	UPDATE SET balance = t.balance + s.balance;
--@ MERGE: wq_source, wq_target
MERGE INTO wq_target t
USING wq_source s ON t.tid = s.sid
WHEN NOT MATCHED AND s.balance = 100 THEN
	INSERT (tid) VALUES (s.sid);
--@ DROP TABLE: wq_source, wq_target
DROP TABLE wq_target, wq_source;
--@ CREATE FUNCTION
create or replace function merge_trigfunc () returns trigger
language plpgsql as
$$
DECLARE
	line text;
BEGIN
	SELECT INTO line format('%s %s %s trigger%s',
		TG_WHEN, TG_OP, TG_LEVEL, CASE
		WHEN TG_OP = 'INSERT' AND TG_LEVEL = 'ROW'
			THEN format(' row: %s', NEW)
		WHEN TG_OP = 'UPDATE' AND TG_LEVEL = 'ROW'
			THEN format(' row: %s -> %s', OLD, NEW)
		WHEN TG_OP = 'DELETE' AND TG_LEVEL = 'ROW'
			THEN format(' row: %s', OLD)
		END);

	RAISE NOTICE '%', line;
	IF (TG_WHEN = 'BEFORE' AND TG_LEVEL = 'ROW') THEN
		IF (TG_OP = 'DELETE') THEN
			RETURN OLD;
		ELSE
			RETURN NEW;
		END IF;
	ELSE
		RETURN NULL;
	END IF;
END;
$$;
--@ CREATE TRIGGER: target
CREATE TRIGGER merge_bsi BEFORE INSERT ON target FOR EACH STATEMENT EXECUTE PROCEDURE merge_trigfunc ();
--@ CREATE TRIGGER: target
create trigger merge_skip BEFORE INSERT OR UPDATE or DELETE
  ON target FOR EACH ROW EXECUTE FUNCTION skip_merge_op();
--@ ALTER TABLE: target
alter table target drop CONSTRAINT target_pkey;
--@ ALTER TABLE: target
alter table target alter column tid drop not null;
--@ INSERT: target
INSERT INTO target SELECT generate_series(1000,2500), 0;
--@ CREATE MATERIALIZED VIEW: mv, target
CREATE MATERIALIZED VIEW mv AS SELECT * FROM target;
--@ DROP MATERIALIZED VIEW: mv
DROP MATERIALIZED VIEW mv;
--@ SELECT: source, target
WITH foo AS (
  MERGE INTO target USING source ON (true)
  WHEN MATCHED THEN DELETE
) SELECT * FROM foo;
--@ COPY: source, target
COPY (
  MERGE INTO target USING source ON (true)
  WHEN MATCHED THEN DELETE
) TO stdout;
--@ MERGE: sq_source, sq_target
MERGE INTO sq_target t
USING sq_source s
ON tid = sid
WHEN MATCHED AND t.balance > delta THEN
	UPDATE SET balance = t.balance + delta
RETURNING merge_action(), t.*;
--# ---- tables, partitions, inheritance: create_table.sql, alter_table.sql ---------------------
--@ CREATE TABLE: unknowntab
CREATE TABLE unknowntab (
	u unknown    -- fail
);
--@ CREATE TABLE: hobbies_r
CREATE TABLE hobbies_r (
	name		text,
	person 		text
);
--@ CREATE TABLE: emp, person
CREATE TABLE emp (
	salary 		int4,
	manager 	name
) INHERITS (person);
--@ CREATE TABLE: a_star, b_star
CREATE TABLE b_star (
	b 			text
) INHERITS (a_star);
--@ CREATE TABLE: array_index_op_test
CREATE TABLE array_index_op_test (
	seqno		int4,
	i			int4[],
	t			text[]
);
--@ CREATE TABLE: extra_wide_table
CREATE TEMP TABLE extra_wide_table(firstc text, lastc text);
--@ CREATE TABLE: as_select1, pg_class
CREATE TABLE as_select1 AS SELECT * FROM pg_class WHERE relkind = 'r';
--@ CREATE TABLE: as_select1, pg_class
CREATE TABLE IF NOT EXISTS as_select1 AS SELECT * FROM pg_class WHERE relkind = 'r';
--@ CREATE TABLE: withoid
CREATE TABLE withoid() WITH (oids = true);
--@ CREATE TABLE: partitioned
CREATE TABLE partitioned (
	a int,
	b int
) PARTITION BY RANGE ((a+b));
--@ CREATE TABLE: partitioned
CREATE TABLE partitioned (
	a int,
	b text
) PARTITION BY LIST (a, (b collate "C"));
--@ CREATE TABLE: part_p1, partitioned
CREATE TABLE part_p1 PARTITION OF partitioned FOR VALUES IN ('1');
--@ CREATE TABLE: list_parted, part_null
CREATE TABLE part_null PARTITION OF list_parted FOR VALUES IN (null);
--@ CREATE TABLE: list_parted, part_default
CREATE TABLE part_default PARTITION OF list_parted DEFAULT;
--@ CREATE TABLE: range_parted2, part0
CREATE TABLE part0 PARTITION OF range_parted2 FOR VALUES FROM (minvalue) TO (1);
--@ CREATE TABLE: parted, part_b
CREATE TABLE part_b PARTITION OF parted (
	b NOT NULL,
	b DEFAULT 1,
	CONSTRAINT check_a CHECK (length(a) > 0),
	CONSTRAINT check_b CHECK (b >= 0)
) FOR VALUES IN ('b');
--@ CREATE TABLE: parted, part_c
create table part_c partition of parted for values in ('c') partition by range (b);
--@ CREATE TABLE: hash_parted, hpart_1
CREATE TABLE hpart_1 PARTITION OF hash_parted FOR VALUES WITH (MODULUS 4, REMAINDER 0);
--@ ALTER TABLE: list_parted, part_1
ALTER TABLE list_parted ATTACH PARTITION part_1 FOR VALUES IN (1);
--@ ALTER TABLE: list_parted2, part_3_4
ALTER TABLE list_parted2 DETACH PARTITION part_3_4;
--@ ALTER TABLE: range_parted, part_2
ALTER TABLE range_parted DETACH PARTITION part_2 CONCURRENTLY;
--@ ALTER TABLE: attmp
ALTER TABLE attmp ADD COLUMN xmin integer; -- fails
--@ ALTER TABLE: attmp
ALTER TABLE attmp ADD COLUMN a int4 default 3;
--@ ALTER TABLE: attmp, attmp_new
ALTER TABLE attmp RENAME TO attmp_new;
--@ ALTER TABLE: attmp_new
ALTER TABLE IF EXISTS attmp_new RENAME COLUMN a TO aa;
--@ ALTER TABLE: attmp2, attmp3
ALTER TABLE attmp3 add constraint attmpconstr foreign key(c) references attmp2 match full;
--@ ALTER TABLE: attmp3
ALTER TABLE attmp3 validate constraint attmpconstr;
--@ ALTER TABLE: atacc1
ALTER TABLE atacc1 ADD CONSTRAINT atacc_test1 PRIMARY KEY (test);
--@ ALTER TABLE: atacc1
ALTER TABLE ONLY atacc1 ALTER COLUMN a SET NOT NULL;
--@ ALTER TABLE: atacc1
ALTER TABLE atacc1 ALTER COLUMN test TYPE bigint USING test::bigint;
--@ ALTER TABLE: atacc1
alter table atacc1 alter column a set statistics 0;
--@ ALTER TABLE: atacc1
alter table atacc1 alter column a set storage external;
--@ ALTER TABLE: atacc1
alter table atacc1 set (fillfactor = 10);
--@ ALTER TABLE: test_storage
alter table test_storage set unlogged;
--@ ALTER TABLE: atacc1
alter table atacc1 cluster on atacc1_pkey;
--@ ALTER TABLE: atacc1
alter table atacc1 set without cluster;
--@ ALTER TABLE: atacc1
alter table atacc1 replica identity using index atacc1_pkey;
--@ ALTER TABLE: atacc1
ALTER TABLE atacc1 DISABLE TRIGGER ALL;
--@ ALTER TABLE: atacc1
ALTER TABLE atacc1 FORCE ROW LEVEL SECURITY;
--@ ALTER TABLE: atacc1
ALTER TABLE atacc1 SET TABLESPACE regress_tblspace;
--@ ALTER TABLE: c1, p1
ALTER TABLE c1 NO INHERIT p1;
--@ ALTER TABLE: notnull_tbl1
ALTER TABLE notnull_tbl1 ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED;
--@ ALTER TABLE: itest4
ALTER TABLE itest4 ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;
--@ ALTER TABLE
ALTER TABLE ALL IN TABLESPACE regress_tblspace SET TABLESPACE pg_default;
--@ ALTER INDEX
ALTER INDEX attmp_idx ALTER COLUMN 2 SET STATISTICS 1000;
--@ ALTER INDEX
ALTER INDEX IF EXISTS __attmp_onek_unique1 RENAME TO onek_unique1;
--@ ALTER VIEW: attmp_view, attmp_view_new
ALTER VIEW attmp_view RENAME TO attmp_view_new;
--@ ALTER VIEW: my_view
ALTER VIEW my_view ALTER COLUMN id SET DEFAULT 42;
--@ ALTER MATERIALIZED VIEW: mvtest_tm
ALTER MATERIALIZED VIEW mvtest_tm RENAME COLUMN totamt TO amount;
--@ ALTER MATERIALIZED VIEW: mvtest_tvm
ALTER MATERIALIZED VIEW mvtest_tvm SET SCHEMA mvtest_mvschema;
--@ DROP TABLE: attmp, attmp2, attmp3
DROP TABLE attmp, attmp2, attmp3 CASCADE;
--@ CREATE TABLE: fktable, pktable
CREATE TABLE FKTABLE ( ftest1 int REFERENCES PKTABLE MATCH FULL ON DELETE CASCADE ON UPDATE CASCADE, ftest2 int );
--@ CREATE TABLE: fktable, pktable
CREATE TABLE FKTABLE ( ftest1 int, ftest2 int, CONSTRAINT constrname FOREIGN KEY(ftest1, ftest2)
                       REFERENCES PKTABLE MATCH FULL ON DELETE SET NULL ON UPDATE SET NULL);
--@ CREATE TABLE: ctlt1, ctlt12_storage
CREATE TABLE ctlt12_storage (LIKE ctlt1 INCLUDING STORAGE);
--@ CREATE TABLE: ctlt1, ctlt1_inh
CREATE TABLE ctlt1_inh (LIKE ctlt1 INCLUDING CONSTRAINTS INCLUDING COMMENTS) INHERITS (ctlt1);
--@ CREATE TABLE: gtest1
CREATE TABLE gtest1 (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 2) STORED);
--@ CREATE TABLE: itest1
CREATE TABLE itest1 (a int generated by default as identity, b text);
--@ CREATE TABLE: unlogged1
CREATE UNLOGGED TABLE unlogged1 (a int primary key);
--@ CREATE TABLE: temp_parted_oncommit
CREATE TEMP TABLE temp_parted_oncommit (a int) PARTITION BY LIST (a) ON COMMIT DELETE ROWS;
--@ CREATE TABLE: circles
CREATE TABLE circles (
  c1 CIRCLE,
  c2 TEXT,
  EXCLUDE USING gist
    (c1 WITH &&, (c2::circle) WITH &&)
    WHERE (circle_center(c1) <> '(0,0)')
);
--@ CREATE FOREIGN TABLE: ft1
CREATE FOREIGN TABLE ft1 (
	c1 integer OPTIONS ("param 1" 'val1') NOT NULL,
	c2 text OPTIONS (param2 'val2', param3 'val3') CHECK (c2 <> ''),
	c3 date
) SERVER s0 OPTIONS (delimiter ',', quote '"', "be quoted" 'value');
--@ ALTER FOREIGN TABLE: ft1
ALTER FOREIGN TABLE ft1 ALTER COLUMN c4 SET DEFAULT 0;
--@ DROP FOREIGN TABLE: ft1
DROP FOREIGN TABLE ft1;
--@ CREATE FOREIGN DATA WRAPPER
CREATE FOREIGN DATA WRAPPER foo VALIDATOR postgresql_fdw_validator;
--@ CREATE SERVER
CREATE SERVER s1 FOREIGN DATA WRAPPER foo OPTIONS (host 'a', dbname 'b');
--@ CREATE USER MAPPING
CREATE USER MAPPING FOR current_user SERVER s1 OPTIONS (user 'secret');
--@ IMPORT FOREIGN SCHEMA
IMPORT FOREIGN SCHEMA s1 FROM SERVER s9 INTO public; -- ERROR
--# ---- indexes, cluster, reindex, vacuum: create_index.sql, cluster.sql, vacuum.sql -----------
--@ CREATE INDEX: onek
CREATE INDEX onek_unique1 ON onek USING btree(unique1 int4_ops);
--@ CREATE INDEX: onek
CREATE INDEX IF NOT EXISTS onek_unique1 ON onek USING btree(unique1 int4_ops);
--@ CREATE INDEX: tenk1
CREATE INDEX CONCURRENTLY concur_index1 ON tenk1(unique1);
--@ CREATE INDEX: gpolygon_tbl
CREATE INDEX ggpolygonind ON gpolygon_tbl USING gist (f1);
--@ CREATE INDEX: array_index_op_test
CREATE INDEX intarrayidx ON array_index_op_test USING gin (i);
--@ CREATE INDEX: func_index_heap
CREATE UNIQUE INDEX func_index_index on func_index_heap (textcat(f1,f2));
--@ CREATE INDEX: onek_with_null
CREATE UNIQUE INDEX onek_nulltest ON onek_with_null (unique2 desc nulls last,unique1);
--@ CREATE INDEX: covering_index_heap
CREATE UNIQUE INDEX covering_index_index on covering_index_heap (f1,f2) INCLUDE(f3);
--@ CREATE INDEX: tenk1
CREATE INDEX tenk1_hundred ON tenk1 (hundred) WHERE hundred < 50;
--@ DROP INDEX
DROP INDEX CONCURRENTLY IF EXISTS concur_index1;
--@ ALTER INDEX
ALTER INDEX concur_index1 SET (fillfactor = 70);
--@ CLUSTER: clstr_tst
CLUSTER clstr_tst_c ON clstr_tst;
--@ CLUSTER: clstr_tst
CLUSTER clstr_tst USING clstr_tst_c;
--@ CLUSTER
CLUSTER;
--@ CLUSTER: clstr_1
CLUSTER VERBOSE clstr_1;
--@ REINDEX: pg_class
REINDEX TABLE pg_class; -- mapped, non-shared, critical
--@ REINDEX: concur_reindex_tab
REINDEX TABLE CONCURRENTLY concur_reindex_tab;
--@ REINDEX
REINDEX INDEX concur_reindex_ind1;
--@ REINDEX
REINDEX (VERBOSE) SCHEMA schema_to_reindex;
--@ REINDEX
REINDEX DATABASE CONCURRENTLY regression;
--@ REINDEX: reindex_verbose
REINDEX (VERBOSE) TABLE reindex_verbose;
--@ VACUUM: vactst
VACUUM (FULL) vactst;
--@ VACUUM: vaccluster
VACUUM FULL vaccluster;
--@ VACUUM: vactst, vacparted
VACUUM (ANALYZE, FULL) vactst, vacparted;
--@ VACUUM: vactst
VACUUM (DISABLE_PAGE_SKIPPING) vactst;
--@ VACUUM: vacparted
VACUUM ANALYZE vacparted(a,b,a);
--@ VACUUM
VACUUM;
--@ VACUUM: pg_catalog.pg_class
VACUUM (SKIP_LOCKED, INDEX_CLEANUP FALSE) pg_catalog.pg_class;
--@ ANALYZE: vacparted
ANALYZE vacparted(a,b,b);
--@ ANALYZE: vactst, vacparted
ANALYZE (VERBOSE, SKIP_LOCKED) vactst, vacparted;
--@ ANALYZE
ANALYZE;
--# ---- sequences, domains, types: sequence.sql, domain.sql, create_type.sql --------------------
--@ CREATE SEQUENCE
CREATE SEQUENCE sequence_testx INCREMENT BY 0;
--@ CREATE SEQUENCE
CREATE SEQUENCE IF NOT EXISTS sequence_test2 START WITH 32;
--@ CREATE SEQUENCE
CREATE SEQUENCE sequence_test5 AS integer;
--@ ALTER SEQUENCE
ALTER SEQUENCE sequence_test2 RESTART WITH 24
  INCREMENT BY 4 MAXVALUE 36 MINVALUE 5 CYCLE;
--@ ALTER SEQUENCE: serialtest1
ALTER SEQUENCE serialtest1_f2_foo OWNED BY serialtest1.f2;
--@ SELECT
SELECT nextval('sequence_test2');
--@ SELECT
SELECT setval('sequence_test'::text, 99, false);
--@ SELECT: sequence_test4
SELECT * FROM sequence_test4;
--@ DROP SEQUENCE
DROP SEQUENCE IF EXISTS sequence_test2, sequence_test3;
--@ CREATE TABLE: serialtest1
CREATE TABLE serialTest1 (f1 text, f2 serial);
--@ INSERT: serialtest1
INSERT INTO serialTest1 VALUES ('foo');
--@ CREATE DOMAIN
create domain domainvarchar varchar(5);
--@ CREATE DOMAIN
create domain dnotnull varchar(15) NOT NULL;
--@ CREATE DOMAIN
create domain ddef1 int4 DEFAULT 3;
--@ CREATE DOMAIN
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
--@ ALTER DOMAIN
alter domain dnotnulltest drop not null;
--@ ALTER DOMAIN
alter domain con add constraint t check (VALUE < 34);
--@ DROP DOMAIN
drop domain domainvarchar restrict;
--@ CREATE TYPE
CREATE TYPE widget (
   internallength = 24,
   input = widget_in,
   output = widget_out,
   typmod_in = numerictypmodin,
   typmod_out = numerictypmodout,
   alignment = double
);
--@ CREATE TYPE
CREATE TYPE default_test_row AS (f1 text_w_default, f2 int42);
--@ CREATE TYPE
CREATE TYPE rainbow AS ENUM ('red', 'orange', 'yellow', 'green', 'blue', 'purple');
--@ ALTER TYPE
ALTER TYPE rainbow ADD VALUE 'crimson' BEFORE 'red';
--@ CREATE TYPE
CREATE TYPE float8range AS RANGE (subtype = float8, subtype_diff = float8mi);
--@ DROP TYPE
DROP TYPE default_test_row CASCADE;
--@ CREATE COLLATION
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
--@ CREATE STATISTICS: ab1
CREATE STATISTICS ab1_a_b_stats ON a, b FROM ab1;
--@ CREATE TABLESPACE
CREATE TABLESPACE regress_tblspace LOCATION '';
--# ---- triggers and rules: triggers.sql, rules.sql, event_trigger.sql ------------------------
--@ CREATE FUNCTION
create function trigger_return_old() returns trigger as $$
begin
  return old;
end;
$$ language plpgsql;
--@ CREATE TRIGGER: trigtest
create trigger trigtest_b_row_tg before insert or update or delete on trigtest
for each row execute procedure trigtest();
--@ CREATE TRIGGER: main_table
CREATE TRIGGER before_upd_a_stmt_trig BEFORE UPDATE OF a ON main_table
FOR EACH STATEMENT EXECUTE PROCEDURE trigger_func('before_upd_a_stmt');
--@ CREATE TRIGGER: main_table
CREATE TRIGGER modified_a BEFORE UPDATE OF a ON main_table
FOR EACH ROW WHEN (OLD.a <> NEW.a) EXECUTE PROCEDURE trigger_func('modified_a');
--@ CREATE TRIGGER: transition_table_base
CREATE TRIGGER transition_table_base_upd_trig
  AFTER UPDATE ON transition_table_base
  REFERENCING OLD TABLE AS oldtable NEW TABLE AS newtable
  FOR EACH STATEMENT
  EXECUTE PROCEDURE transition_table_base_upd_func();
--@ CREATE TRIGGER: main_view
CREATE TRIGGER instead_of_insert_trig INSTEAD OF INSERT ON main_view
FOR EACH ROW EXECUTE PROCEDURE view_trigger('instead_of_ins');
--@ CREATE TRIGGER: pkeys
create constraint trigger check_fkeys_pkey_exist after insert or update on pkeys
deferrable initially deferred for each row execute procedure check_primary_key ('fkey1', 'fkey2', 'pkeys', 'pkey1', 'pkey2');
--@ CREATE TRIGGER: parted_trig
create or replace trigger my_trig
  after insert on parted_trig
  for each row execute procedure trigger_nothing();
--@ ALTER TRIGGER: main_table
ALTER TRIGGER modified_a ON main_table RENAME TO modified_modified_a;
--@ DROP TRIGGER: trigtest
drop trigger trigtest_b_row_tg on trigtest;
--@ DROP TRIGGER: main_table
DROP TRIGGER IF EXISTS before_upd_a_stmt_trig ON main_table;
--@ ALTER TABLE: trigtest
alter table trigtest disable trigger trigtest_b_row_tg;
--@ CREATE EVENT TRIGGER
create event trigger regress_event_trigger on ddl_command_start
   execute procedure test_event_trigger();
--@ ALTER EVENT TRIGGER
alter event trigger regress_event_trigger disable;
--@ DROP EVENT TRIGGER
drop event trigger if exists regress_event_trigger2;
--@ CREATE RULE: rtest_v1
create rule rtest_v1_ins as on insert to rtest_v1 do instead
	insert into rtest_t1 values (new.a, new.b);
--@ CREATE RULE: shoelace_data
CREATE RULE log_shoelace AS ON UPDATE TO shoelace_data
	WHERE NEW.sl_avail <> OLD.sl_avail
	DO INSERT INTO shoelace_log VALUES (
		NEW.sl_name,
		NEW.sl_avail,
		'Al Bundy',
		'epoch'
	);
--@ CREATE RULE: rtest_system
create rule rtest_sys_del as on delete to rtest_system do (
	delete from rtest_interface where sysname = old.sysname;
	delete from rtest_admin where sysname = old.sysname;
	);
--@ CREATE RULE: rule_t1
CREATE OR REPLACE RULE rule_t1_ins AS ON INSERT TO rule_t1 DO INSTEAD NOTHING;
--@ ALTER RULE: rule_t1
ALTER RULE InsertRule ON rule_t1 RENAME TO NewInsertRule;
--@ DROP RULE: rtest_v1
drop rule rtest_v1_ins on rtest_v1;
--# ---- views and materialized views: create_view.sql, matview.sql -----------------------------
--@ CREATE VIEW: real_city, road, street
CREATE VIEW street AS
   SELECT r.name, r.thepath, c.cname AS cname
   FROM ONLY road r, real_city c
   WHERE c.outline ## r.thepath;
--@ CREATE VIEW: emp, toyemp
CREATE VIEW toyemp AS
   SELECT name, age, location, 12*salary AS annualsal
   FROM emp;
--@ CREATE VIEW: viewtest, viewtest_tbl
CREATE OR REPLACE VIEW viewtest AS
	SELECT a, b FROM viewtest_tbl WHERE a > 10;
--@ CREATE VIEW: temp_view_test.base_table, temp_view_test.v1
CREATE VIEW temp_view_test.v1 AS SELECT * FROM temp_view_test.base_table;
--@ CREATE VIEW: nums
CREATE RECURSIVE VIEW nums (n) AS
    VALUES (1)
UNION ALL
    SELECT n+1 FROM nums WHERE n < 5;
--@ CREATE VIEW: rw_view1, base_tbl
CREATE VIEW rw_view1 AS SELECT * FROM base_tbl WHERE a < b
  WITH LOCAL CHECK OPTION;
--@ CREATE VIEW: mysecview1, tbl1
CREATE VIEW mysecview1 WITH (security_barrier=true)
       AS SELECT * FROM tbl1 WHERE a = 0;
--@ CREATE MATERIALIZED VIEW: mvtest_t, mvtest_tm
CREATE MATERIALIZED VIEW mvtest_tm AS SELECT type, sum(amt) AS totamt FROM mvtest_t GROUP BY type WITH NO DATA;
--@ CREATE MATERIALIZED VIEW: mvtest_tvv, mvtest_tvvm
CREATE MATERIALIZED VIEW IF NOT EXISTS mvtest_tvvm AS SELECT * FROM mvtest_tvv;
--@ CREATE INDEX: mvtest_tm
CREATE UNIQUE INDEX mvtest_tm_type ON mvtest_tm (type);
--@ REFRESH: mvtest_tm
REFRESH MATERIALIZED VIEW mvtest_tm;
--@ REFRESH: mvtest_tvmm
REFRESH MATERIALIZED VIEW CONCURRENTLY mvtest_tvmm;
--@ REFRESH: mvtest_mvschema.mvtest_tvm
REFRESH MATERIALIZED VIEW mvtest_mvschema.mvtest_tvm WITH NO DATA;
--@ DROP VIEW: toyemp
DROP VIEW IF EXISTS toyemp CASCADE;
--@ DROP MATERIALIZED VIEW: mvtest_tvm, mvtest_tm
DROP MATERIALIZED VIEW IF EXISTS mvtest_tvm, mvtest_tm CASCADE;
--# ---- privileges: privileges.sql -------------------------------------------------------------
--@ GRANT: atest1
GRANT ALL ON atest1 TO PUBLIC;
--@ GRANT: atest2
GRANT SELECT ON atest2 TO regress_priv_user2;
--@ GRANT: atest2
GRANT UPDATE ON atest2 TO regress_priv_user3;
--@ GRANT: atest2
GRANT INSERT, DELETE ON atest2 TO regress_priv_user4 WITH GRANT OPTION;
--@ REVOKE: atest2
REVOKE ALL PRIVILEGES ON atest2 FROM regress_priv_user4 CASCADE;
--@ REVOKE: atest2
REVOKE GRANT OPTION FOR INSERT ON atest2 FROM regress_priv_user4;
--@ GRANT: atest5
GRANT SELECT (one,two) ON atest5 TO regress_priv_user4;
--@ GRANT: atest5
GRANT INSERT (two), UPDATE (one) ON atest5 TO regress_priv_user4;
--@ GRANT: atestv1, atestv2
GRANT SELECT ON atestv1, atestv2 TO regress_priv_user2;
--@ GRANT
GRANT USAGE ON SCHEMA testns TO regress_priv_user2;
--@ GRANT
GRANT ALL ON ALL TABLES IN SCHEMA testns TO regress_priv_user2;
--@ REVOKE
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA testns FROM PUBLIC;
--@ GRANT
GRANT USAGE, SELECT ON SEQUENCE x_seq TO regress_priv_user2;
--@ GRANT
GRANT USAGE ON LANGUAGE sql TO regress_priv_user2;
--@ GRANT
GRANT CREATE ON DATABASE regression TO regress_priv_user1;
--@ GRANT
GRANT ALL PRIVILEGES ON FUNCTION priv_testfunc1(int) TO regress_priv_user2;
--@ REVOKE
REVOKE EXECUTE ON PROCEDURE priv_testproc1(int) FROM PUBLIC;
--@ GRANT
GRANT regress_priv_group2 TO regress_priv_user5 WITH ADMIN OPTION;
--@ GRANT
GRANT pg_read_all_data TO regress_priv_user6;
--@ GRANT
GRANT USAGE ON TYPE priv_testtype1 TO regress_priv_user2;
--@ GRANT
GRANT SET ON PARAMETER work_mem TO regress_host_resource_admin;
--@ REVOKE
REVOKE pg_write_server_files FROM regress_priv_user1;
--@ GRANT: atest1
GRANT SELECT ON TABLE atest1 TO regress_priv_user3 GRANTED BY regress_priv_user1;
--@ ALTER DEFAULT PRIVILEGES
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO public;
--@ ALTER DEFAULT PRIVILEGES
ALTER DEFAULT PRIVILEGES FOR ROLE regress_priv_user1 REVOKE EXECUTE ON FUNCTIONS FROM public;
--@ ALTER DEFAULT PRIVILEGES
ALTER DEFAULT PRIVILEGES IN SCHEMA testns GRANT INSERT ON TABLES TO regress_priv_user2;
--@ ALTER DEFAULT PRIVILEGES
ALTER DEFAULT PRIVILEGES IN SCHEMA testns GRANT USAGE ON SCHEMAS TO regress_priv_user2;
--@ REASSIGN OWNED
REASSIGN OWNED BY regress_priv_user1 TO regress_priv_user2;
--@ DROP OWNED
DROP OWNED BY regress_priv_user1 CASCADE;
--@ SET
SET SESSION AUTHORIZATION regress_priv_user1;
--@ SET
SET LOCAL ROLE regress_priv_group2;
--@ SELECT: atest1, atest2
SELECT * FROM atest1, atest2; -- fail
--@ SELECT
SELECT has_table_privilege('regress_priv_user1', 'atest1', 'SELECT');
--@ SELECT: atest1
SELECT a.* FROM atest1 a, LATERAL (SELECT 1) s;
--@ LOCK: atest2
LOCK atest2 IN ACCESS EXCLUSIVE MODE;
--@ LOCK: atest2
LOCK TABLE atest2 IN SHARE ROW EXCLUSIVE MODE NOWAIT;
--# ---- comments and security labels: comment.sql-style ----------------------------------------
--@ COMMENT: attmp
COMMENT ON TABLE attmp IS 'table comment';
--@ COMMENT: attmp
COMMENT ON TABLE attmp IS NULL;
--@ COMMENT: attmp
COMMENT ON COLUMN attmp.a IS 'column comment';
--@ COMMENT: public.attmp
COMMENT ON COLUMN public.attmp.b IS 'another column';
--@ COMMENT: toyemp
COMMENT ON VIEW toyemp IS 'is a view';
--@ COMMENT: mvtest_tm
COMMENT ON MATERIALIZED VIEW mvtest_tm IS 'a matview';
--@ COMMENT
COMMENT ON INDEX six_wrong IS 'bad index';
--@ COMMENT
COMMENT ON SCHEMA public IS 'standard public schema';
--@ COMMENT
COMMENT ON FUNCTION test2_insert() IS 'trigger function';
--@ COMMENT: main_table
COMMENT ON TRIGGER modified_a ON main_table IS 'trigger on main_table';
--@ COMMENT: document
COMMENT ON POLICY p1 ON document IS 'read own rows';
--@ COMMENT: circles
COMMENT ON CONSTRAINT circles_c1_c2_excl ON circles IS 'no overlaps';
--@ COMMENT
COMMENT ON ROLE regress_rls_alice IS 'test role';
--@ COMMENT
COMMENT ON EXTENSION pgaudit IS 'auditing';
--@ SECURITY LABEL: seclabel_tbl1
SECURITY LABEL ON TABLE seclabel_tbl1 IS 'classified';
--@ SECURITY LABEL
SECURITY LABEL FOR 'dummy' ON ROLE regress_seclabel_user1 IS 'classified';
--# ---- extensions, publications, text search, languages ---------------------------------------
--@ CREATE EXTENSION
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
--@ CREATE EXTENSION
CREATE EXTENSION pg_stat_statements WITH SCHEMA public VERSION '1.10';
--@ ALTER EXTENSION
ALTER EXTENSION pg_stat_statements UPDATE;
--@ DROP EXTENSION
DROP EXTENSION IF EXISTS postgis CASCADE;
--@ CREATE PUBLICATION: testpub_tbl1
CREATE PUBLICATION testpub_fortbl FOR TABLE testpub_tbl1;
--@ CREATE PUBLICATION
CREATE PUBLICATION testpub_foralltables FOR ALL TABLES;
--@ ALTER PUBLICATION: testpub_tbl2
ALTER PUBLICATION testpub_default ADD TABLE testpub_tbl2;
--@ CREATE SUBSCRIPTION
CREATE SUBSCRIPTION regress_testsub CONNECTION 'dbname=regress_doesnotexist' PUBLICATION testpub WITH (connect = false);
--@ ALTER SUBSCRIPTION
ALTER SUBSCRIPTION regress_testsub DISABLE;
--@ CREATE TEXT SEARCH CONFIGURATION
CREATE TEXT SEARCH CONFIGURATION my_config (COPY = english);
--@ ALTER TEXT SEARCH CONFIGURATION
ALTER TEXT SEARCH CONFIGURATION my_config ALTER MAPPING FOR word WITH simple;
--@ CREATE OPERATOR
CREATE OPERATOR ## (
   leftarg = path,
   rightarg = path,
   function = path_inter,
   commutator = ##
);
--@ CREATE CAST
CREATE CAST (int4 AS casttesttype) WITH INOUT;
--@ CREATE LANGUAGE
CREATE LANGUAGE plperl;
--@ CREATE ACCESS METHOD
CREATE ACCESS METHOD gist2 TYPE INDEX HANDLER gisthandler;
--@ ALTER SYSTEM
ALTER SYSTEM SET max_connections = 200;
--@ ALTER SCHEMA
ALTER SCHEMA test RENAME TO test_renamed;
--@ ALTER SCHEMA
ALTER SCHEMA test OWNER TO regress_user1;
--@ CREATE SCHEMA: regress_schema.abc, regress_schema.abc_view
CREATE SCHEMA AUTHORIZATION regress_create_schema_role
  CREATE TABLE regress_schema.abc (a serial, b int UNIQUE)
  CREATE VIEW regress_schema.abc_view AS
         SELECT a+1 AS a, b+1 AS b FROM regress_schema.abc;
--@ CREATE SCHEMA: abc, test_ns_schema_1.abc
CREATE SCHEMA test_ns_schema_1
       CREATE UNIQUE INDEX abc_a_idx ON abc (a)
       CREATE TABLE test_ns_schema_1.abc (
              a serial,
              b int UNIQUE
       );
--@ DROP SCHEMA
DROP SCHEMA test_ns_schema_1 CASCADE;
--@ ALTER DATABASE
ALTER DATABASE regression SET timezone = 'UTC';
--@ ALTER ROLE
ALTER ROLE regress_rls_alice WITH SUPERUSER CREATEDB CREATEROLE;
--@ ALTER ROLE
ALTER ROLE regress_user1 VALID UNTIL '2030-01-01';
--@ ALTER ROLE
ALTER ROLE regress_user1 IN DATABASE regression SET work_mem = '64MB';
--@ ALTER ROLE
ALTER ROLE regress_user1 RENAME TO regress_user1_renamed;
--@ CREATE ROLE
CREATE ROLE regress_role_admin CREATEDB CREATEROLE REPLICATION BYPASSRLS CONNECTION LIMIT 5;
--@ CREATE ROLE
CREATE ROLE regress_inroles ROLE regress_role_super, regress_createdb IN ROLE regress_role_admin;
--@ CREATE ROLE
CREATE ROLE regress_password_null PASSWORD NULL;
--@ CREATE USER
CREATE USER regress_hasprivs CREATEROLE LOGIN INHERIT CONNECTION LIMIT 5;
--@ CREATE GROUP
CREATE GROUP regress_priv_group1;
--@ ALTER GROUP
ALTER GROUP regress_priv_group1 ADD USER regress_priv_user4;
--@ DROP ROLE
DROP ROLE IF EXISTS regress_role_admin, regress_inroles;
--# ---- upserts, RETURNING, CTEs: insert_conflict.sql, with.sql, returning.sql -----------------
--@ INSERT: insertconflicttest
insert into insertconflicttest values(0, 'Crowberry') on conflict (key) do nothing;
--@ INSERT: insertconflicttest
insert into insertconflicttest values (1, 'Apple'), (2, 'Orange')
on conflict (key) do update set fruit = excluded.fruit;
--@ INSERT: insertconflicttest
insert into insertconflicttest AS ict values (6, 'Passionfruit') on conflict (key) do update set fruit = excluded.fruit where ict.fruit <> 'Lime';
--@ INSERT: insertconflicttest
insert into insertconflicttest values (23, 'Blackberry') on conflict on constraint insertconflicttest_pkey do update set fruit = excluded.fruit returning *;
--@ INSERT: insertconflicttest
insert into insertconflicttest values (1, 'Apple') on conflict (lower(fruit), key, lower(fruit), key) do nothing;
--@ INSERT: excluded
insert into excluded values(1, '2') on conflict (key) do update set data = excluded.data RETURNING *;
--@ INSERT: dropcol
insert into dropcol(key, keep1, keep2) values(1, '5', 5) on conflict(key)
    do update set drop1 = excluded.drop1, keep1 = excluded.keep1, keep2 = excluded.keep2
    returning *;
--@ INSERT: foo
INSERT INTO foo (f2,f3)
  VALUES ('test', DEFAULT), ('More', 11), (upper('more'), 7+9)
  RETURNING *, f1+f3 AS sum;
--@ UPDATE: foo
UPDATE foo SET f2 = lower(f2), f3 = DEFAULT RETURNING foo.*, f1+f3 AS sum13;
--@ DELETE: foo
DELETE FROM foo WHERE f1 > 2 RETURNING f3, f2, f1, least(f1,f3);
--@ UPDATE: foo, int4_tbl
UPDATE foo SET f3 = f3 * 2
  FROM int4_tbl i
  WHERE foo.f1 + 123455 = i.f1
  RETURNING foo.*, i.f1 as "i.f1";
--@ DELETE: foo, int8_tbl
DELETE FROM foo
  USING int8_tbl i
  WHERE foo.f1 = i.q2
  RETURNING old.*, new.*, *;
--@ SELECT
WITH RECURSIVE t(n) AS (
    VALUES (1)
UNION ALL
    SELECT n+1 FROM t WHERE n < 100
)
SELECT sum(n) FROM t;
--@ SELECT: department
WITH RECURSIVE subdepartment AS
(
	SELECT name as root_name, * FROM department WHERE name = 'A'
	UNION ALL
	SELECT sd.root_name, d.* FROM department AS d, subdepartment AS sd
		WHERE d.parent_department = sd.id
)
SELECT * FROM subdepartment ORDER BY name;
--@ SELECT: graph
WITH RECURSIVE search_graph(f, t, label) AS (
	SELECT * FROM graph g
	UNION ALL
	SELECT g.*
	FROM graph g, search_graph sg
	WHERE g.f = sg.t
) SEARCH DEPTH FIRST BY f, t SET seq
SELECT * FROM search_graph ORDER BY seq;
--@ SELECT: y
WITH t AS (
    INSERT INTO y
    VALUES
        (11),
        (12),
        (13)
    RETURNING *
)
SELECT * FROM t;
--@ SELECT: y
WITH t AS (
    DELETE FROM y
    WHERE a <= 10
    RETURNING *
)
SELECT * FROM t;
--@ DELETE: y
WITH t AS (
	UPDATE y SET a = a * 100 RETURNING *
)
DELETE FROM y USING t WHERE t.a = y.a RETURNING y.a;
--@ INSERT: int8_tbl, parent
WITH wcte AS ( INSERT INTO int8_tbl VALUES ( 42, 47 ) RETURNING q2 )
INSERT INTO parent SELECT * FROM wcte;
--@ DELETE: y
WITH RECURSIVE t(a) AS (
	SELECT 11
	UNION ALL
	SELECT a+1 FROM t WHERE a < 50
)
DELETE FROM y USING t WHERE t.a = y.a RETURNING y.a;
--@ SELECT
WITH q1(x,y) AS (SELECT 1,2)
SELECT * FROM q1, q1 AS q2;
--# ---- windows, LATERAL, grouping: window.sql, join.sql, groupingsets.sql ---------------------
--@ SELECT: empsalary
SELECT depname, empno, salary, sum(salary) OVER (PARTITION BY depname) FROM empsalary ORDER BY depname, salary;
--@ SELECT: empsalary
SELECT depname, empno, salary, rank() OVER (PARTITION BY depname ORDER BY salary) FROM empsalary;
--@ SELECT: tenk1
SELECT four, ten, SUM(SUM(four)) OVER (PARTITION BY four), AVG(ten) FROM tenk1
GROUP BY four, ten ORDER BY four, ten;
--@ SELECT: empsalary
SELECT sum(salary),
	row_number() OVER (ORDER BY depname),
	sum(sum(salary)) OVER (ORDER BY depname DESC)
FROM empsalary GROUP BY depname;
--@ SELECT: empsalary
SELECT sum(salary) OVER w, avg(salary) OVER w
  FROM empsalary
  WINDOW w AS (PARTITION BY depname ORDER BY salary DESC);
--@ SELECT: tenk1
SELECT sum(unique1) over (order by four range between current row and unbounded following),
	unique1, four
FROM tenk1 WHERE unique1 < 10;
--@ SELECT: tenk1
SELECT first_value(ten) OVER (PARTITION BY four ORDER BY ten), ten, four FROM tenk1 WHERE unique2 < 10;
--@ SELECT: int4_tbl, int8_tbl
select * from int8_tbl a,
  lateral (select * from int4_tbl b where a.q1 = b.f1) ss;
--@ SELECT: int8_tbl
select * from int8_tbl a left join lateral
  (select *, a.q2 as x from int8_tbl b) ss on a.q2 = ss.q1;
--@ SELECT: int4_tbl, tenk1
select unique2, x.*
from tenk1 a, lateral (select * from int4_tbl b where f1 = a.unique1) x;
--@ SELECT: onek
select * from onek, lateral generate_series(1, onek.ten) g;
--@ SELECT: gstest1
select a, b, grouping(a,b), sum(v), count(*), max(v)
  from gstest1 group by rollup (a,b);
--@ SELECT: gstest2
select a, b, sum(c) from gstest2 group by grouping sets ((a, b), (a), ());
--@ SELECT: gstest2
select a, b, sum(c) from gstest2 group by cube (a, b) order by a, b;
--@ SELECT: j1_tbl, j2_tbl
SELECT *
  FROM J1_TBL INNER JOIN J2_TBL USING (i);
--@ SELECT: j1_tbl, j2_tbl
SELECT *
  FROM J1_TBL t1 (a, b, c) NATURAL JOIN J2_TBL t2 (a, d);
--@ SELECT: j1_tbl, j2_tbl
SELECT *
  FROM J1_TBL RIGHT OUTER JOIN J2_TBL USING (i);
--@ SELECT: tenk1
SELECT DISTINCT ON (string4) string4, two, ten
   FROM tenk1
   ORDER BY string4 using <, two using >, ten using <;
--@ SELECT: tenk1
select * from tenk1 where (unique1, ten) in (values (1, 1), (2, 2));
--@ SELECT: onek
SELECT onek.unique1, onek.stringu1 FROM onek
   WHERE onek.unique1 < 20
   ORDER BY unique1 using >;
--@ SELECT: tenk1
SELECT * FROM tenk1 FETCH FIRST 3 ROWS WITH TIES;
--@ SELECT: tenk1
SELECT * FROM tenk1 ORDER BY unique1 OFFSET 990 LIMIT 5;
--@ SELECT
SELECT * FROM generate_series(1, 10) g(i) WHERE i % 2 = 0;
--@ SELECT
SELECT x, unnest(ARRAY[1,2,3]) FROM (VALUES (1), (2)) v(x);
--@ SELECT
VALUES (1, 'one'), (2, 'two'), (3, 'three');
--@ SELECT: tenk1
TABLE tenk1;
--@ SELECT: int4_tbl, int8_tbl
SELECT q1 FROM int8_tbl UNION SELECT f1 FROM int4_tbl ORDER BY 1;
--@ SELECT: int4_tbl, int8_tbl
(SELECT q1 FROM int8_tbl INTERSECT SELECT q2 FROM int8_tbl) EXCEPT ALL SELECT f1 FROM int4_tbl;
--@ SELECT: onek, tmp1
SELECT * INTO TABLE tmp1 FROM onek WHERE onek.unique1 < 2;
--@ SELECT: tenk1
SELECT * FROM tenk1 t WHERE t.unique1 = ANY (SELECT unique2 FROM tenk1 WHERE ten = 1);
--@ SELECT: int4_tbl
SELECT f1, f1 IS OF (int4) AS is_int FROM int4_tbl;
--@ SELECT: tenk1
SELECT ten, count(*) FILTER (WHERE four = 1), percentile_cont(0.5) WITHIN GROUP (ORDER BY thousand) FROM tenk1 GROUP BY ten HAVING count(*) > 10;
--@ SELECT: jsonb_test
SELECT data->'a'->>'b', data #>> '{c,d}', jsonb_path_query(data, '$.x[*] ? (@ > 1)') FROM jsonb_test WHERE data @> '{"a":{"b":1}}';
--@ SELECT: t
SELECT * FROM t WHERE x::text ~* '^abc' AND y BETWEEN SYMMETRIC 1 AND 10 AND z IS DISTINCT FROM NULL;
--@ SELECT: information_schema.columns
SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position;
--@ SELECT: pg_catalog.pg_class, pg_catalog.pg_namespace
SELECT c.relname, n.nspname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f') AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 1;
--@ SELECT: pg_stat_activity
SELECT pid, usename, state, query FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid();
--@ SELECT
SELECT pg_terminate_backend(12345);
--@ SELECT
SELECT set_config('search_path', '', false);
--# ---- COPY variants: copy.sql, copy2.sql ----------------------------------------------------
--@ COPY: x
COPY x (b, d) from stdin;
--@ COPY: x
COPY x from stdin (format csv, header true, delimiter ',', quote '"');
--@ COPY: x
COPY x TO stdout WITH CSV HEADER FORCE QUOTE *;
--@ COPY: x
COPY x (a, b, c, d, e) from stdin with (format text, default '\D');
--@ COPY: x
copy x from '/tmp/nonexistent.csv' with (format csv);
--@ COPY: x
COPY x TO PROGRAM 'gzip > /tmp/x.gz';
--@ COPY: tenk1
COPY (SELECT * FROM tenk1 WHERE unique1 < 10) TO stdout;
--@ COPY: pg_class
copy (select relname from pg_class where relkind = 'r' limit 3) to stdout (format csv);
--@ COPY: check_con_tbl
COPY check_con_tbl FROM stdin WHERE f1 > 0;
--@ COPY: public.vistest
COPY public.vistest FROM stdin CSV FREEZE;
--@ COPY: x
COPY BINARY x TO stdout;
--# ---- session, transactions, notifications: transactions.sql, async.sql ---------------------
--@ BEGIN
BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE;
--@ BEGIN
START TRANSACTION READ ONLY, DEFERRABLE;
--@ BEGIN
BEGIN WORK;
--@ SET
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
--@ SET
SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;
--@ SET
SET TRANSACTION SNAPSHOT '00000003-0000001B-1';
--@ SAVEPOINT
SAVEPOINT one;
--@ ROLLBACK
ROLLBACK TO SAVEPOINT one;
--@ ROLLBACK
ROLLBACK TO one;
--@ RELEASE
RELEASE SAVEPOINT one;
--@ COMMIT
COMMIT AND CHAIN;
--@ ROLLBACK
ABORT;
--@ PREPARE TRANSACTION
PREPARE TRANSACTION 'foo1';
--@ COMMIT PREPARED
COMMIT PREPARED 'foo1';
--@ ROLLBACK PREPARED
ROLLBACK PREPARED 'foo3';
--@ SET CONSTRAINTS
SET CONSTRAINTS ALL DEFERRED;
--@ LISTEN
LISTEN notify_async1;
--@ NOTIFY
NOTIFY notify_async2;
--@ NOTIFY
NOTIFY notify_async2, 'payload';
--@ SELECT
SELECT pg_notify('notify_async1','sample message1');
--@ UNLISTEN
UNLISTEN *;
--@ CHECKPOINT
CHECKPOINT;
--@ DISCARD
DISCARD TEMP;
--@ LOAD
LOAD 'auto_explain';
--@ SET
SET LOCAL work_mem = '64MB';
--@ SET
SET TIME ZONE 'PST8PDT';
--@ SET
SET datestyle = ISO, YMD;
--@ SET
SET statement_timeout TO DEFAULT;
--@ SHOW
SHOW ALL;
--@ SHOW
SHOW TIME ZONE;
--@ RESET
RESET search_path;
--@ RESET
RESET ALL;
--@ SELECT: tenk1
SELECT * FROM tenk1 WHERE unique1 = 1 FOR UPDATE SKIP LOCKED;
--@ SELECT: tenk1, onek
SELECT * FROM tenk1 JOIN onek USING (unique1) FOR NO KEY UPDATE OF tenk1 NOWAIT;
--@ DECLARE: tenk1
DECLARE foo1 SCROLL CURSOR FOR SELECT * FROM tenk1 ORDER BY unique2;
--@ DECLARE: tenk1
DECLARE c2 CURSOR WITH HOLD FOR SELECT * FROM tenk1 WHERE unique1 < 10;
--@ FETCH
FETCH BACKWARD 23 in foo1;
--@ FETCH
FETCH ABSOLUTE 3 FROM foo1;
--@ MOVE
MOVE FORWARD ALL IN foo1;
--@ CLOSE
CLOSE ALL;
--@ EXPLAIN: tenk1
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM tenk1 WHERE unique1 < 5;
--@ EXPLAIN: tenk1
EXPLAIN (FORMAT JSON, VERBOSE) SELECT count(*) FROM tenk1;
--@ EXPLAIN: tenk1
EXPLAIN ANALYZE VERBOSE UPDATE tenk1 SET ten = ten WHERE unique1 = 1;
--@ EXPLAIN: tenk1, tmp_expl
EXPLAIN (COSTS OFF) CREATE TABLE tmp_expl AS SELECT * FROM tenk1;
--@ EXPLAIN
EXPLAIN (COSTS OFF) EXECUTE q1(1);
--# ---- functions and procedures: create_function_sql.sql, create_procedure.sql --------------
--@ CREATE FUNCTION
CREATE FUNCTION functest_A_1(text, date) RETURNS bool LANGUAGE 'sql'
       AS 'SELECT $1 = ''abcd'' AND $2 > ''2001-01-01''';
--@ CREATE FUNCTION
CREATE FUNCTION functest_B_2(int) RETURNS bool LANGUAGE 'sql'
       IMMUTABLE AS 'SELECT $1 > 0';
--@ CREATE FUNCTION
CREATE FUNCTION functest_C_1(int) RETURNS bool LANGUAGE 'sql'
       SECURITY DEFINER AS 'SELECT $1 > 0';
--@ CREATE FUNCTION
CREATE FUNCTION functest_S_1(a text, b date) RETURNS boolean
    LANGUAGE SQL
    RETURN a = 'abcd' AND b > '2001-01-01';
--@ CREATE FUNCTION
CREATE FUNCTION functest_S_3() RETURNS boolean
    BEGIN ATOMIC
        SELECT false;
    END;
--@ CREATE FUNCTION
CREATE FUNCTION functest_S_13() RETURNS boolean
    BEGIN ATOMIC
        SELECT 1;
        SELECT false;
    END;
--@ CREATE FUNCTION
CREATE OR REPLACE FUNCTION functest_sri1() RETURNS SETOF int
LANGUAGE SQL
STABLE
AS '
    VALUES (1), (2), (3);
';
--@ CREATE FUNCTION
CREATE FUNCTION add_em(integer, integer) RETURNS integer AS $func$
    SELECT $1 + $2;
$func$ LANGUAGE SQL PARALLEL SAFE STRICT;
--@ CREATE FUNCTION
CREATE FUNCTION tf1 (accountno integer, debit numeric) RETURNS numeric AS $$
    UPDATE bank
        SET balance = balance - debit
        WHERE accountno = tf1.accountno;
    SELECT 1;
$$ LANGUAGE SQL;
--@ ALTER FUNCTION
ALTER FUNCTION functest_A_1(text, date) STABLE;
--@ ALTER FUNCTION
ALTER FUNCTION functest_C_1(int) SECURITY INVOKER;
--@ ALTER FUNCTION
ALTER FUNCTION functest_B_2(int) SET search_path = pg_catalog, pg_temp;
--@ ALTER FUNCTION
ALTER FUNCTION functest_A_1(text, date) RENAME TO functest_A_1_renamed;
--@ DROP FUNCTION
DROP FUNCTION IF EXISTS functest_A_1(text,date), functest_B_2(int);
--@ CREATE PROCEDURE
CREATE PROCEDURE ptest1(x text)
LANGUAGE SQL
AS $$
INSERT INTO cp_test VALUES (1, x);
$$;
--@ CREATE PROCEDURE
CREATE OR REPLACE PROCEDURE ptest1s(x text)
LANGUAGE SQL
BEGIN ATOMIC
  INSERT INTO cp_test VALUES (1, x);
END;
--@ CREATE PROCEDURE
CREATE PROCEDURE ptest4a(INOUT a int, INOUT b int)
LANGUAGE plpgsql
AS $$
BEGIN
  a := a + 1;
  COMMIT;
END;
$$;
--@ ALTER PROCEDURE
ALTER PROCEDURE ptest1(text) SECURITY DEFINER;
--@ CALL
CALL ptest1('a');
--@ CALL
CALL ptest4a(NULL, NULL);
--@ DROP PROCEDURE
DROP PROCEDURE ptest1;
--@ DO
DO LANGUAGE plpgsql $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE 'ANALYZE ' || quote_ident(r.tablename);
  END LOOP;
END
$$;
--@ DO
DO $body$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_reader') THEN
    CREATE ROLE app_reader;
  END IF;
END
$body$;
--@ CREATE FUNCTION
CREATE OR REPLACE FUNCTION audit.if_modified_func() RETURNS TRIGGER AS $body$
DECLARE
    audit_row audit.logged_actions;
BEGIN
    IF TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'audit.if_modified_func() may only run as an AFTER trigger';
    END IF;
    INSERT INTO audit.logged_actions VALUES (audit_row.*);
    RETURN NULL;
END;
$body$
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public;
--# ---- held out: alter_table.sql (second half), annotated before the analyzer was run on it ----
--@ BEGIN: alterlock
begin; alter table alterlock alter column f2 set (n_distinct = 1);
--@ CREATE TRIGGER: alterlock
create trigger ttdummy
	before delete or update on alterlock
	for each row
	execute procedure
	ttdummy (1, 1);
--@ ALTER TABLE: alterlock, alterlock2
alter table alterlock2 add foreign key (f1) references alterlock (f1);
--@ ALTER TABLE: alterlock, alterlock2
alter table alterlock2
add constraint alterlock2nv foreign key (f1) references alterlock (f1) NOT VALID;
--@ CREATE VIEW: my_locks, pg_class, pg_locks, pg_namespace
create or replace view my_locks as
select case when c.relname like 'pg_toast%' then 'pg_toast' else c.relname end, max(mode::lockmodes) as max_lockmode
from pg_locks l join pg_class c on l.relation = c.oid
where virtualtransaction = (
        select virtualtransaction
        from pg_locks
        where transactionid = pg_current_xact_id()::xid)
and locktype = 'relation'
and relnamespace != (select oid from pg_namespace where nspname = 'pg_catalog')
and c.relname = 'my_locks'
group by c.relname;
--@ ALTER TABLE: my_locks
alter table my_locks set (autovacuum_enabled = false);
--@ ALTER VIEW: my_locks
alter view my_locks reset (autovacuum_enabled);
--@ ALTER VIEW: my_locks
alter view my_locks set (security_barrier=off);
--@ DROP TYPE
drop type lockmodes;
--@ CREATE FUNCTION
create function test_strict(text) returns text as
    'select coalesce($1, ''got passed a null'');'
    language sql returns null on null input;
--@ ALTER FUNCTION
alter function test_strict(text) called on null input;
--@ CREATE TABLE: alter1.t1
create table alter1.t1(f1 serial primary key, f2 int check (f2 > 0));
--@ CREATE VIEW: alter1.t1, alter1.v1
create view alter1.v1 as select * from alter1.t1;
--@ CREATE FUNCTION
create function alter1.plus1(int) returns int as 'select $1+1' language sql;
--@ CREATE DOMAIN
create domain alter1.posint integer check (value > 0);
--@ CREATE OPERATOR
create operator alter1.=(procedure = alter1.same, leftarg  = alter1.ctype, rightarg = alter1.ctype);
--@ CREATE OPERATOR CLASS
create operator class alter1.ctype_hash_ops default for type alter1.ctype using hash as
  operator 1 alter1.=(alter1.ctype, alter1.ctype);
--@ CREATE TEXT SEARCH PARSER
create text search parser alter1.prs(start = prsd_start, gettoken = prsd_nexttoken, end = prsd_end, lextypes = prsd_lextype);
--@ CREATE TEXT SEARCH DICTIONARY
create text search dictionary alter1.dict(template = alter1.tmpl);
--@ INSERT: alter1.t1
insert into alter1.t1(f2) values(11);
--@ ALTER TABLE: alter1.t1
alter table alter1.t1 set schema alter2;
--@ ALTER TABLE: alter1.v1
alter table alter1.v1 set schema alter2;
--@ ALTER FUNCTION
alter function alter1.plus1(int) set schema alter2;
--@ ALTER DOMAIN
alter domain alter1.posint set schema alter2;
--@ ALTER OPERATOR CLASS
alter operator class alter1.ctype_hash_ops using hash set schema alter2;
--@ ALTER OPERATOR FAMILY
alter operator family alter1.ctype_hash_ops using hash set schema alter2;
--@ ALTER OPERATOR
alter operator alter1.=(alter1.ctype, alter1.ctype) set schema alter2;
--@ ALTER TYPE
alter type alter1.ctype set schema alter2;
--@ ALTER CONVERSION
alter conversion alter1.latin1_to_utf8 set schema alter2;
--@ ALTER TEXT SEARCH TEMPLATE
alter text search template alter1.tmpl set schema alter2;
--@ DROP SCHEMA
drop schema alter1;
--@ SELECT: alter2.v1
select * from alter2.v1;
--@ SELECT
select alter2.plus1(41);
--@ DROP SCHEMA
drop schema alter2 cascade;
--@ CREATE TYPE
CREATE TYPE test_type AS (a int);
--@ ALTER TYPE
ALTER TYPE test_type ADD ATTRIBUTE b text;
--@ ALTER TYPE
ALTER TYPE test_type ALTER ATTRIBUTE b SET DATA TYPE varchar;
--@ ALTER TYPE
ALTER TYPE test_type DROP ATTRIBUTE IF EXISTS c;
--@ ALTER TYPE
ALTER TYPE test_type RENAME ATTRIBUTE a TO aa;
--@ CREATE TABLE: test_tbl2
CREATE TABLE test_tbl2 OF test_type2;
--@ CREATE TABLE: test_tbl2, test_tbl2_subclass
CREATE TABLE test_tbl2_subclass () INHERITS (test_tbl2);
--@ ALTER TYPE
ALTER TYPE test_type2 ADD ATTRIBUTE c text CASCADE;
--@ CREATE TABLE: test_tblx
CREATE TABLE test_tblx (x int, y test_typex check ((y).a > 0));
--@ CREATE TABLE: test_tbl3
CREATE TABLE test_tbl3 (c) AS SELECT '(1)'::test_type3;
--@ CREATE TYPE
CREATE TYPE test_type_empty AS ();
--@ CREATE TABLE: tt0, tt6
CREATE TABLE tt6 () INHERITS (tt0);					-- can't have a parent
--@ ALTER TABLE: tt7
ALTER TABLE tt7 DROP q;								-- OK
--@ ALTER TABLE: tt0
ALTER TABLE tt0 OF tt_t0;
--@ ALTER TABLE: tt7
ALTER TABLE tt7 NOT OF;
--@ CREATE TABLE: test_drop_constr_parent
CREATE TABLE test_drop_constr_parent (c text CHECK (c IS NOT NULL));
--@ ALTER TABLE: test_drop_constr_parent
ALTER TABLE ONLY test_drop_constr_parent DROP CONSTRAINT "test_drop_constr_parent_c_check";
--@ INSERT: test_drop_constr_child
INSERT INTO test_drop_constr_child (c) VALUES (NULL);
--@ ALTER TABLE: tt8
ALTER TABLE IF EXISTS tt8 ADD CHECK (f BETWEEN 0 AND 10);
--@ ALTER TABLE: tt8
ALTER TABLE IF EXISTS tt8 RENAME COLUMN f TO f1;
--@ ALTER TABLE: tt9
ALTER TABLE tt9 ADD CONSTRAINT tt9_c_key UNIQUE(c);  -- fail, dup name
--@ CREATE TABLE: comment_test
CREATE TABLE comment_test (
  id int,
  positive_col int CHECK (positive_col > 0),
  indexed_col int,
  CONSTRAINT comment_test_pk PRIMARY KEY (id));
--@ COMMENT: comment_test
COMMENT ON COLUMN comment_test.id IS 'Column ''id'' on comment_test';
--@ COMMENT
COMMENT ON INDEX comment_test_index IS 'Simple index on comment_test';
--@ COMMENT: comment_test
COMMENT ON CONSTRAINT comment_test_pk ON comment_test IS 'PRIMARY KEY constraint of comment_test';
--@ SELECT
SELECT col_description('comment_test'::regclass, 1) as comment;
--@ SELECT: pg_index
SELECT indexrelid::regclass::text as index, obj_description(indexrelid, 'pg_class') as comment FROM pg_index where indrelid = 'comment_test'::regclass ORDER BY 1, 2;
--@ SELECT: pg_constraint
SELECT conname as constraint, obj_description(oid, 'pg_constraint') as comment FROM pg_constraint where conrelid = 'comment_test'::regclass ORDER BY 1, 2;
--@ ALTER TABLE: comment_test
ALTER TABLE comment_test ALTER COLUMN id SET DATA TYPE int USING id::integer;
--@ CREATE TABLE: comment_test, comment_test_child
CREATE TABLE comment_test_child (
  id text CONSTRAINT comment_test_child_fk REFERENCES comment_test);
--@ CREATE TABLE: filenode_mapping, pg_class
CREATE TEMP TABLE filenode_mapping AS
SELECT
    oid, mapped_oid, reltablespace, relfilenode, relname
FROM pg_class,
    pg_filenode_relation(reltablespace, pg_relation_filenode(oid)) AS mapped_oid
WHERE relkind IN ('r', 'i', 'S', 't', 'm') AND mapped_oid IS DISTINCT FROM oid;
--@ SELECT: filenode_mapping, pg_class
SELECT m.* FROM filenode_mapping m LEFT JOIN pg_class c ON c.oid = m.oid
WHERE c.oid IS NOT NULL OR m.mapped_oid IS NOT NULL;
--@ SHOW
SHOW allow_system_table_mods;
--@ CREATE TABLE: pg_catalog.new_system_table
CREATE TABLE pg_catalog.new_system_table();
--@ ALTER TABLE: new_system_table
ALTER TABLE new_system_table SET SCHEMA pg_catalog;
--@ ALTER TABLE: new_system_table, old_system_table
ALTER TABLE new_system_table RENAME TO old_system_table;
--@ CREATE INDEX: old_system_table
CREATE INDEX old_system_table__othercol ON old_system_table (othercol);
--@ UPDATE: old_system_table
UPDATE old_system_table SET id = -id;
--@ TRUNCATE: old_system_table
TRUNCATE old_system_table
--# ---- installed with PostgreSQL 15 (Debian): information_schema.sql, system_views.sql and
--# ---- contrib extension scripts (bloom, btree_gist, citext, cube, dict_int) ----------------
--@ CREATE SCHEMA
CREATE SCHEMA information_schema
--@ GRANT
GRANT USAGE ON SCHEMA information_schema TO PUBLIC
--@ CREATE FUNCTION
CREATE FUNCTION _pg_index_position(oid, smallint) RETURNS int
    LANGUAGE sql STRICT STABLE
BEGIN ATOMIC
SELECT (ss.a).n FROM
  (SELECT information_schema._pg_expandarray(indkey) AS a
   FROM pg_catalog.pg_index WHERE indexrelid = $1) ss
  WHERE (ss.a).x = $2
--@ CREATE FUNCTION
CREATE FUNCTION _pg_truetypid(pg_attribute, pg_type) RETURNS oid
    LANGUAGE sql
    IMMUTABLE
    PARALLEL SAFE
    RETURNS NULL ON NULL INPUT
RETURN CASE WHEN $2.typtype = 'd' THEN $2.typbasetype ELSE $1.atttypid END
--@ CREATE DOMAIN
CREATE DOMAIN cardinal_number AS integer
    CONSTRAINT cardinal_number_domain_check CHECK (value >= 0)
--@ CREATE VIEW: applicable_roles, pg_auth_members, pg_authid, pg_database
CREATE VIEW applicable_roles AS
    SELECT CAST(a.rolname AS sql_identifier) AS grantee,
           CAST(b.rolname AS sql_identifier) AS role_name,
           CAST(CASE WHEN m.admin_option THEN 'YES' ELSE 'NO' END AS yes_or_no) AS is_grantable
    FROM (SELECT member, roleid, admin_option FROM pg_auth_members
          -- This UNION could be UNION ALL, but UNION works even if we start
          -- to allow explicit pg_database_owner membership.
          UNION
          SELECT datdba, pg_authid.oid, false
          FROM pg_database, pg_authid
          WHERE datname = current_database() AND rolname = 'pg_database_owner'
         )  m
         JOIN pg_authid a ON (m.member = a.oid)
         JOIN pg_authid b ON (m.roleid = b.oid)
    WHERE pg_has_role(a.oid, 'USAGE')
--@ GRANT: applicable_roles
GRANT SELECT ON applicable_roles TO PUBLIC
--@ CREATE TABLE: sql_features
CREATE TABLE sql_features (
    feature_id          character_data,
    feature_name        character_data,
    sub_feature_id      character_data,
    sub_feature_name    character_data,
    is_supported        yes_or_no,
    is_verified_by      character_data,
    comments            character_data
)
--@ UPDATE: pg_catalog.pg_type, sql_sizing
UPDATE sql_sizing
    SET supported_value = (SELECT typlen-1 FROM pg_catalog.pg_type WHERE typname = 'name'),
        comments = 'Might be less, depending on character set.'
    WHERE supported_value = 63
--@ REVOKE: pg_shadow
REVOKE ALL ON pg_shadow FROM public
--@ CREATE RULE: pg_settings
CREATE RULE pg_settings_u AS
    ON UPDATE TO pg_settings
    WHERE new.name = old.name DO
    SELECT set_config(old.name, new.setting, 'f')
--@ CREATE VIEW: pg_attribute, pg_class, pg_namespace, pg_statistic, pg_stats
CREATE VIEW pg_stats WITH (security_barrier) AS
    SELECT
        nspname AS schemaname,
        relname AS tablename,
        attname AS attname,
        stainherit AS inherited,
        stanullfrac AS null_frac,
        stawidth AS avg_width,
        stadistinct AS n_distinct,
        CASE
            WHEN stakind1 = 1 THEN stavalues1
            WHEN stakind2 = 1 THEN stavalues2
            WHEN stakind3 = 1 THEN stavalues3
            WHEN stakind4 = 1 THEN stavalues4
            WHEN stakind5 = 1 THEN stavalues5
        END AS most_common_vals,
        CASE
            WHEN stakind1 = 1 THEN stanumbers1
            WHEN stakind2 = 1 THEN stanumbers2
            WHEN stakind3 = 1 THEN stanumbers3
            WHEN stakind4 = 1 THEN stanumbers4
            WHEN stakind5 = 1 THEN stanumbers5
        END AS most_common_freqs,
        CASE
            WHEN stakind1 = 2 THEN stavalues1
            WHEN stakind2 = 2 THEN stavalues2
            WHEN stakind3 = 2 THEN stavalues3
            WHEN stakind4 = 2 THEN stavalues4
            WHEN stakind5 = 2 THEN stavalues5
        END AS histogram_bounds,
        CASE
            WHEN stakind1 = 3 THEN stanumbers1[1]
            WHEN stakind2 = 3 THEN stanumbers2[1]
            WHEN stakind3 = 3 THEN stanumbers3[1]
            WHEN stakind4 = 3 THEN stanumbers4[1]
            WHEN stakind5 = 3 THEN stanumbers5[1]
        END AS correlation,
        CASE
            WHEN stakind1 = 4 THEN stavalues1
            WHEN stakind2 = 4 THEN stavalues2
            WHEN stakind3 = 4 THEN stavalues3
            WHEN stakind4 = 4 THEN stavalues4
            WHEN stakind5 = 4 THEN stavalues5
        END AS most_common_elems,
        CASE
            WHEN stakind1 = 4 THEN stanumbers1
            WHEN stakind2 = 4 THEN stanumbers2
            WHEN stakind3 = 4 THEN stanumbers3
            WHEN stakind4 = 4 THEN stanumbers4
            WHEN stakind5 = 4 THEN stanumbers5
        END AS most_common_elem_freqs,
        CASE
            WHEN stakind1 = 5 THEN stanumbers1
            WHEN stakind2 = 5 THEN stanumbers2
            WHEN stakind3 = 5 THEN stanumbers3
            WHEN stakind4 = 5 THEN stanumbers4
            WHEN stakind5 = 5 THEN stanumbers5
        END AS elem_count_histogram
    FROM pg_statistic s JOIN pg_class c ON (c.oid = s.starelid)
         JOIN pg_attribute a ON (c.oid = attrelid AND attnum = s.staattnum)
         LEFT JOIN pg_namespace n ON (n.oid = c.relnamespace)
    WHERE NOT attisdropped
    AND has_column_privilege(c.oid, a.attnum, 'select')
    AND (c.relrowsecurity = false OR NOT row_security_active(c.oid))
--@ CREATE ACCESS METHOD
CREATE ACCESS METHOD bloom TYPE INDEX HANDLER blhandler
--@ CREATE OPERATOR CLASS
CREATE OPERATOR CLASS int4_ops
DEFAULT FOR TYPE int4 USING bloom AS
	OPERATOR	1	=(int4, int4),
	FUNCTION	1	hashint4(int4)
--@ ALTER OPERATOR FAMILY
ALTER OPERATOR FAMILY gist_oid_ops USING gist ADD
	FUNCTION	9 (oid, oid) gbt_oid_fetch (internal)
--@ CREATE TYPE
CREATE TYPE gbtreekey4 (
	INTERNALLENGTH = 4,
	INPUT  = gbtreekey4_in,
	OUTPUT = gbtreekey4_out
)
--@ CREATE OPERATOR
CREATE OPERATOR <-> (
	LEFTARG = money,
	RIGHTARG = money,
	PROCEDURE = cash_dist,
	COMMUTATOR = '<->'
)
--@ ALTER EXTENSION
ALTER EXTENSION citext DROP FUNCTION regexp_matches( citext, citext, text )
--@ CREATE CAST
CREATE CAST (citext AS text)    WITHOUT FUNCTION AS IMPLICIT
--@ CREATE AGGREGATE
CREATE AGGREGATE min(citext)  (
    SFUNC = citext_smaller,
    STYPE = citext,
    SORTOP = <,
    PARALLEL = SAFE,
    COMBINEFUNC = citext_smaller
)
--@ ALTER OPERATOR
ALTER OPERATOR >= (citext, citext) SET (
    RESTRICT   = scalargesel,
    JOIN       = scalargejoinsel
)
--@ COMMENT
COMMENT ON TYPE cube IS 'multi-dimensional cube ''(FLOAT-1, FLOAT-2, ..., FLOAT-N), (FLOAT-1, FLOAT-2, ..., FLOAT-N)'''
--@ DROP OPERATOR
DROP OPERATOR ~ (cube, cube)
--@ ALTER TYPE
ALTER TYPE cube SET ( RECEIVE = cube_recv, SEND = cube_send )
--@ CREATE TEXT SEARCH TEMPLATE
CREATE TEXT SEARCH TEMPLATE intdict_template (
        LEXIZE = dintdict_lexize,
	INIT   = dintdict_init
)
