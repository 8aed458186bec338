--# MySQL/MariaDB coverage corpus, checked by agent/src/sql/coverage_tests.rs.
--#
--# Format: lines starting with `--#` are comments and are ignored everywhere. Each entry starts
--# with a line `--@ KIND: table, table, ...` (or `--@ KIND` when no table is involved) and its
--# statement is every following line up to the next `--@` line, trimmed, sent as one text.
--#
--# Statements are taken from what real clients send: sysbench's OLTP Lua scripts, WordPress and
--# Drupal core queries, mysqldump output, Laravel/Rails/Hibernate migrations and ORM output,
--# phpMyAdmin, MySQL/MariaDB's own test suite (mysql-test/t) and manual, and SQL installed with
--# MariaDB itself (system tables, the sys schema), verbatim or lightly adapted. Stored programs
--# are sent whole, as clients do without the mysql CLI's DELIMITER. Sections marked "held out"
--# were annotated before the analyzer was run on them.
--#
--# KIND is what Analysis::kind must be: the command, with the object type for CREATE, ALTER and
--# DROP (`CREATE PROCEDURE`, `ALTER EVENT`), `BEGIN` for START TRANSACTION, `DESCRIBE` for DESC,
--# `SELECT` for TABLE and VALUES, `CREATE INDEX` for CREATE UNIQUE/FULLTEXT/SPATIAL INDEX, `LOAD`
--# for LOAD DATA and LOAD XML, `SET` for every SET form, `SHOW` for every SHOW form.
--#
--# Tables are the tables and views the statement names, `db.table` where written, with the
--# case of the text (MySQL table names are case-sensitive on Linux):
--# - DML and queries: every table read or written; not CTE names, derived tables or JSON_TABLE.
--# - DDL: the table created, altered or dropped (and the new name of a RENAME), the tables it
--#   names (REFERENCES, LIKE, AS SELECT, EXCHANGE PARTITION ... WITH TABLE, the table ON which
--#   an index or trigger is defined, the tables of a view's query).
--# - Table maintenance and inspection (ANALYZE/CHECK/OPTIMIZE/REPAIR/CHECKSUM TABLE, FLUSH TABLES
--#   t, LOCK TABLES, HANDLER, DESCRIBE, SHOW CREATE TABLE/VIEW, SHOW COLUMNS/INDEX FROM) name
--#   their tables; other SHOW forms, SET, USE, FLUSH PRIVILEGES, KILL and the like name none.
--# - GRANT/REVOKE ON db.t or t name that table; ON *.*, db.*, PROCEDURE or FUNCTION name none.
--# - Bodies are opaque: stored procedure, function, trigger and event bodies are not analysed;
--#   PREPARE ... FROM 'text' is a string. CALL names no table.

--# ---- sysbench: oltp_common.lua, oltp_read_write.lua, select_random_*.lua -------------------
--@ CREATE TABLE: sbtest1
CREATE TABLE sbtest1(
  id INTEGER NOT NULL AUTO_INCREMENT,
  k INTEGER DEFAULT '0' NOT NULL,
  c CHAR(120) DEFAULT '' NOT NULL,
  pad CHAR(60) DEFAULT '' NOT NULL,
  PRIMARY KEY (id)
) /*! ENGINE = innodb */
--@ INSERT: sbtest1
INSERT INTO sbtest1(k, c, pad) VALUES(50148, '68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441', '22195207048-70116052123-74140395089-76317954521-98694025897'),(50032, '13241531885-45658403807-79170748828-69419634012-13605813761-77983377181-01582588137-21344716829-87370944992-02457486289', '28733802923-10548894641-11867531929-71265603657-36546888392')
--@ CREATE INDEX: sbtest1
CREATE INDEX k_1 ON sbtest1(k)
--@ SELECT: sbtest1
SELECT c FROM sbtest1 WHERE id=5021
--@ SELECT: sbtest1
SELECT c FROM sbtest1 WHERE id BETWEEN 4987 AND 5086
--@ SELECT: sbtest1
SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 4987 AND 5086
--@ SELECT: sbtest1
SELECT c FROM sbtest1 WHERE id BETWEEN 4987 AND 5086 ORDER BY c
--@ SELECT: sbtest1
SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 4987 AND 5086 ORDER BY c
--@ UPDATE: sbtest1
UPDATE sbtest1 SET k=k+1 WHERE id=5003
--@ UPDATE: sbtest1
UPDATE sbtest1 SET c='53202014282-70916154536-88013389512-87553937587-39452617013-70165223468-04447962024-76271434449-02613018063-12218961604' WHERE id=4996
--@ DELETE: sbtest1
DELETE FROM sbtest1 WHERE id=5005
--@ INSERT: sbtest1
INSERT INTO sbtest1 (id, k, c, pad) VALUES (5005, 4993, '05817466414-57624183813-76939893093-29738693395-99612437233-88779935432-54935617624-30133412512-87707613325-92018063839', '20351578735-23596960658-17488962131-01626683669-08016023620')
--@ SELECT: sbtest1
SELECT id, k, c, pad FROM sbtest1 WHERE k IN (4997, 5013, 5004, 4991, 5002, 5000, 4998, 5001, 4993, 5012)
--@ SELECT: sbtest1
SELECT count(k) FROM sbtest1 WHERE k BETWEEN 4990 AND 5010
--@ BEGIN
BEGIN
--@ COMMIT
COMMIT
--@ DROP TABLE: sbtest1
DROP TABLE IF EXISTS sbtest1
--@ ANALYZE: sbtest1
ANALYZE TABLE sbtest1
--@ SELECT
SELECT @@version_comment LIMIT 1
--@ SET
SET autocommit=0
--@ SET
SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'
--# ---- WordPress core (wp-includes, wp-admin) ------------------------------------------------
--@ SELECT: wp_options
SELECT option_name, option_value FROM wp_options WHERE autoload = 'yes'
--@ SELECT: wp_options
SELECT option_value FROM wp_options WHERE option_name = 'WPLANG' LIMIT 1
--@ INSERT: wp_options
INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('_transient_doing_cron', '1700000000.1234', 'yes') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)
--@ UPDATE: wp_options
UPDATE `wp_options` SET `option_value` = 'a:1:{i:0;s:3:\"foo\";}' WHERE `option_name` = 'cron'
--@ DELETE: wp_options
DELETE FROM `wp_options` WHERE `option_name` = '_transient_timeout_feed_mod_abc'
--@ SELECT: wp_posts
SELECT SQL_CALC_FOUND_ROWS  wp_posts.ID FROM wp_posts  WHERE 1=1  AND ((wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish' OR wp_posts.post_status = 'private')))  ORDER BY wp_posts.post_date DESC LIMIT 0, 10
--@ SELECT
SELECT FOUND_ROWS()
--@ SELECT: wp_posts
SELECT wp_posts.* FROM wp_posts WHERE ID IN (1,2,3)
--@ SELECT: wp_term_relationships, wp_term_taxonomy, wp_terms
SELECT t.*, tt.*, tr.object_id FROM wp_terms AS t  INNER JOIN wp_term_taxonomy AS tt ON t.term_id = tt.term_id INNER JOIN wp_term_relationships AS tr ON tr.term_taxonomy_id = tt.term_taxonomy_id WHERE tt.taxonomy IN ('category', 'post_tag', 'post_format') AND tr.object_id IN (1) ORDER BY t.name ASC
--@ SELECT: wp_postmeta
SELECT post_id, meta_key, meta_value FROM wp_postmeta WHERE post_id IN (1) ORDER BY meta_id ASC
--@ SELECT: wp_users
SELECT * FROM wp_users WHERE user_login = 'admin' LIMIT 1
--@ SELECT: wp_usermeta
SELECT user_id, meta_key, meta_value FROM wp_usermeta WHERE user_id IN (1) ORDER BY umeta_id ASC
--@ SELECT: wp_comments
SELECT comment_approved, COUNT( * ) AS total FROM wp_comments WHERE comment_post_ID = 1 GROUP BY comment_approved
--@ SELECT: wp_posts
SELECT YEAR(post_date) AS `year`, MONTH(post_date) AS `month`, count(ID) as posts FROM wp_posts  WHERE post_type = 'post' AND post_status = 'publish' GROUP BY YEAR(post_date), MONTH(post_date) ORDER BY post_date DESC
--@ INSERT: wp_posts
INSERT INTO `wp_posts` (`post_author`, `post_date`, `post_date_gmt`, `post_content`, `post_content_filtered`, `post_title`, `post_excerpt`, `post_status`, `post_type`, `comment_status`, `ping_status`, `post_password`, `post_name`, `to_ping`, `pinged`, `post_modified`, `post_modified_gmt`, `post_parent`, `menu_order`, `post_mime_type`, `guid`) VALUES (1, '2024-01-01 00:00:00', '0000-00-00 00:00:00', '', '', 'Auto Draft', '', 'auto-draft', 'post', 'open', 'open', '', '', '', '', '2024-01-01 00:00:00', '0000-00-00 00:00:00', 0, 0, '', '')
--@ UPDATE: wp_posts
UPDATE `wp_posts` SET `guid` = 'http://example.com/?p=5' WHERE `ID` = 5
--@ DELETE: wp_postmeta
DELETE FROM wp_postmeta WHERE meta_key = '_edit_lock' AND post_id = 5
--@ SELECT: wp_posts
SELECT COUNT(*) FROM wp_posts WHERE post_type = 'page' AND post_status NOT IN ( 'trash','auto-draft','inherit','request-pending','request-confirmed' )
--@ SHOW
SHOW TABLES LIKE 'wp\_users'
--@ SELECT: wp_options
SELECT autoload FROM wp_options WHERE option_name = 'rewrite_rules'
--@ CREATE TABLE: wp_termmeta
CREATE TABLE wp_termmeta (
  meta_id bigint(20) unsigned NOT NULL auto_increment,
  term_id bigint(20) unsigned NOT NULL default '0',
  meta_key varchar(255) default NULL,
  meta_value longtext,
  PRIMARY KEY  (meta_id),
  KEY term_id (term_id),
  KEY meta_key (meta_key(191))
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci
--@ DESCRIBE: wp_termmeta
DESCRIBE wp_termmeta;
--@ ALTER TABLE: wp_options
ALTER TABLE wp_options ADD KEY autoload (autoload)
--@ ALTER TABLE: wp_comments
ALTER TABLE wp_comments CHANGE COLUMN comment_author_email comment_author_email varchar(100) NOT NULL default ''
--@ SHOW: wp_posts
SHOW FULL COLUMNS FROM `wp_posts`
--@ SHOW
SHOW VARIABLES LIKE 'max_allowed_packet'
--@ SET
SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_520_ci'
--@ SELECT: wp_postmeta, wp_posts
SELECT   wp_posts.ID FROM wp_posts  LEFT JOIN wp_postmeta ON ( wp_posts.ID = wp_postmeta.post_id ) WHERE 1=1  AND ( wp_postmeta.meta_key = '_thumbnail_id' ) GROUP BY wp_posts.ID ORDER BY wp_posts.menu_order ASC LIMIT 0, 5
--# ---- Drupal core (database layer output) --------------------------------------------------
--@ SELECT: cache_bootstrap
SELECT cid, data, created, expire, serialized, tags, checksum FROM cache_bootstrap WHERE cid IN ( 'system.theme_engine.files' ) ORDER BY cid
--@ INSERT: cache_data
INSERT INTO cache_data (cid, expire, created, tags, checksum, data, serialized) VALUES ('route:/node:', -1, 1700000000.123, 'route_match', 0, 'a:3:{}', 1) ON DUPLICATE KEY UPDATE cid = VALUES(cid), expire = VALUES(expire), created = VALUES(created), tags = VALUES(tags), checksum = VALUES(checksum), data = VALUES(data), serialized = VALUES(serialized)
--@ SELECT: key_value
SELECT name, value FROM key_value WHERE name IN ( 'system.theme.data' ) AND collection = 'state'
--@ SELECT: semaphore
SELECT expire, value FROM semaphore WHERE name = 'state:Drupal\\Core\\Cache\\CacheCollector'
--@ DELETE: semaphore
DELETE FROM semaphore WHERE (name = 'theme_registry:runtime:claro') AND (value = '123abc')
--@ SELECT: node_field_data, node_access
SELECT node_field_data.nid AS nid FROM node_field_data node_field_data INNER JOIN node_access na ON na.nid = node_field_data.nid WHERE (node_field_data.status = 1) AND (na.grant_view >= 1) ORDER BY node_field_data.created DESC LIMIT 10 OFFSET 0
--@ INSERT: watchdog
INSERT INTO watchdog (uid, type, message, variables, severity, link, location, referer, hostname, timestamp) VALUES (0, 'php', '%type: @message', 'a:0:{}', 3, '', 'http://localhost/', '', '127.0.0.1', 1700000000)
--@ UPDATE: sessions
UPDATE sessions SET uid = 1, hostname = '127.0.0.1', session = '_sf2_attributes|a:0:{}', timestamp = 1700000000 WHERE sid = 'abc'
--@ SELECT: router
SELECT name, route, fit FROM router WHERE pattern_outline IN ( '/node', '/%' ) AND number_parts >= 1
--@ TRUNCATE: cache_render
TRUNCATE cache_render
--# ---- mysqldump output -------------------------------------------------------------------
--@ SET
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */
--@ SET
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */
--@ SET
/*!40103 SET TIME_ZONE='+00:00' */
--@ SET
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */
--@ DROP TABLE: customers
DROP TABLE IF EXISTS `customers`
--@ CREATE TABLE: customers
CREATE TABLE `customers` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `email` varchar(255) NOT NULL,
  `created_at` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`id`),
  UNIQUE KEY `email` (`email`)
) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
--@ LOCK: customers
LOCK TABLES `customers` WRITE
--@ ALTER TABLE: customers
/*!40000 ALTER TABLE `customers` DISABLE KEYS */
--@ INSERT: customers
INSERT INTO `customers` VALUES (1,'a@example.com','2024-01-01 00:00:00'),(2,'b@example.com','2024-01-02 00:00:00')
--@ ALTER TABLE: customers
/*!40000 ALTER TABLE `customers` ENABLE KEYS */
--@ UNLOCK
UNLOCK TABLES
--@ CREATE DATABASE
CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */
--@ USE
USE `shop`
--@ CREATE VIEW: customers, v_customers
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */
/*!50001 VIEW `v_customers` AS select `customers`.`id` AS `id`,`customers`.`email` AS `email` from `customers` */
--@ DROP VIEW: v_customers
/*!50001 DROP VIEW IF EXISTS `v_customers`*/
--@ CREATE TABLE: v_customers
/*!50001 CREATE TABLE `v_customers` (
  `id` tinyint NOT NULL,
  `email` tinyint NOT NULL
) ENGINE=MyISAM */
--@ SET
/*!50003 SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */
--@ SET
SET @saved_cs_client     = @@character_set_client
--@ SET
SET character_set_client = utf8mb4
--@ FLUSH
FLUSH TABLES WITH READ LOCK
--@ SHOW
SHOW MASTER STATUS
--@ SHOW
SHOW CREATE DATABASE IF NOT EXISTS `shop`
--@ SHOW: customers
SHOW CREATE TABLE `customers`
--@ SHOW
SHOW TABLE STATUS LIKE 'customers'
--@ SHOW
SHOW TRIGGERS LIKE 'customers'
--@ SELECT: information_schema.routines
SELECT COUNT(*) FROM INFORMATION_SCHEMA.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'
--@ SELECT: customers
SELECT /*!40001 SQL_NO_CACHE */ * FROM `customers`
--@ SAVEPOINT
SAVEPOINT sp
--@ ROLLBACK
ROLLBACK TO SAVEPOINT sp
--@ RELEASE
RELEASE SAVEPOINT sp
--@ BEGIN
START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */
--# ---- ORM output: Laravel, Rails (ActiveRecord), Hibernate, Django ---------------------------
--@ SELECT: users
select * from `users` where `email` = 'a@example.com' and `users`.`deleted_at` is null limit 1
--@ SELECT: posts
select count(*) as aggregate from `posts` where `posts`.`user_id` = 1 and `posts`.`user_id` is not null
--@ INSERT: users
insert into `users` (`name`, `email`, `password`, `updated_at`, `created_at`) values ('Ann', 'ann@example.com', '$2y$10$abc', '2024-01-01 10:00:00', '2024-01-01 10:00:00')
--@ UPDATE: users
update `users` set `remember_token` = 'xyz', `users`.`updated_at` = '2024-01-01 10:00:00' where `id` = 1
--@ SELECT: migrations
select `migration` from `migrations` order by `batch` asc, `migration` asc
--@ CREATE TABLE: migrations
create table `migrations` (`id` int unsigned not null auto_increment primary key, `migration` varchar(255) not null, `batch` int not null) default character set utf8mb4 collate 'utf8mb4_unicode_ci'
--@ ALTER TABLE: users
alter table `users` add unique `users_email_unique`(`email`)
--@ ALTER TABLE: posts, users
alter table `posts` add constraint `posts_user_id_foreign` foreign key (`user_id`) references `users` (`id`) on delete cascade
--@ SELECT: information_schema.tables
select * from information_schema.tables where table_schema = 'shop' and table_name = 'migrations' and table_type = 'BASE TABLE'
--@ SELECT: roles, role_user
select `roles`.*, `role_user`.`user_id` as `pivot_user_id`, `role_user`.`role_id` as `pivot_role_id` from `roles` inner join `role_user` on `roles`.`id` = `role_user`.`role_id` where `role_user`.`user_id` in (1, 2, 3)
--@ SELECT: articles
SELECT `articles`.* FROM `articles` WHERE `articles`.`id` = 1 LIMIT 1
--@ INSERT: articles
INSERT INTO `articles` (`title`, `body`, `created_at`, `updated_at`) VALUES ('Hello', 'World', '2024-01-01 10:00:00.123456', '2024-01-01 10:00:00.123456')
--@ SELECT: schema_migrations
SELECT `schema_migrations`.`version` FROM `schema_migrations` ORDER BY `schema_migrations`.`version` ASC
--@ SELECT: ar_internal_metadata
SELECT `ar_internal_metadata`.* FROM `ar_internal_metadata` WHERE `ar_internal_metadata`.`key` = 'environment' LIMIT 1
--@ SELECT: comments
SELECT COUNT(*) FROM `comments` WHERE `comments`.`article_id` = 1
--@ DELETE: comments
DELETE FROM `comments` WHERE `comments`.`id` = 7
--@ SELECT: customer
select customer0_.id as id1_0_, customer0_.email as email2_0_ from customer customer0_ where customer0_.id=?
--@ INSERT: hibernate_sequence
insert into hibernate_sequence values ( 1 )
--@ SELECT: hibernate_sequence
select next_val as id_val from hibernate_sequence for update
--@ UPDATE: hibernate_sequence
update hibernate_sequence set next_val= ? where next_val=?
--@ SELECT: django_session
SELECT `django_session`.`session_key`, `django_session`.`session_data`, `django_session`.`expire_date` FROM `django_session` WHERE (`django_session`.`expire_date` > '2024-01-01 10:00:00.000000' AND `django_session`.`session_key` = 'abc') LIMIT 21
--@ SELECT: auth_user
SELECT `auth_user`.`id`, `auth_user`.`password`, `auth_user`.`last_login` FROM `auth_user` WHERE `auth_user`.`id` = 1 LIMIT 21
--@ SET
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED
--@ SET
SET @@session.time_zone = '+00:00'
--@ SET
SET SQL_SAFE_UPDATES = 0
--@ SELECT
SELECT @@session.transaction_isolation, @@session.transaction_read_only
--@ SELECT
SELECT LAST_INSERT_ID()
--@ SHOW
SHOW SESSION VARIABLES LIKE 'lower_case_table_names'
--@ SELECT: orders, users
SELECT u.id, u.name FROM users u WHERE u.id IN (SELECT user_id FROM orders WHERE total > 100) ORDER BY u.name LIMIT 10
--# ---- DML forms: mysql-test/t/insert*.test, update*.test, delete*.test, replace.test ---------
--@ INSERT: t1
INSERT INTO t1 VALUES (1),(2),(3)
--@ INSERT: t1
INSERT IGNORE INTO t1 (a, b) VALUES (1, 2)
--@ INSERT: t1
INSERT LOW_PRIORITY INTO t1 VALUES (5)
--@ INSERT: t1
INSERT DELAYED INTO t1 VALUES (6)
--@ INSERT: t1
INSERT HIGH_PRIORITY IGNORE INTO t1 SET a = 1, b = 'x'
--@ INSERT: t1, t2
INSERT INTO t1 (a, b) SELECT a, b FROM t2 WHERE b > 0
--@ INSERT: t1
INSERT INTO t1 (a, b) VALUES (1, 2) AS new ON DUPLICATE KEY UPDATE b = new.b + t1.b
--@ INSERT: t1
INSERT INTO t1 (a,b,c) VALUES (1,2,3),(4,5,6) ON DUPLICATE KEY UPDATE c=VALUES(a)+VALUES(b)
--@ INSERT: t1, t2, t3
INSERT INTO t1 (a, b) SELECT * FROM (SELECT c, d FROM t2 UNION SELECT e, f FROM t3) AS dt ON DUPLICATE KEY UPDATE b = b + c
--@ INSERT: t1
INSERT INTO t1 PARTITION (p0, p1) VALUES (1, 'a')
--@ REPLACE: t1
REPLACE INTO t1 VALUES (1, 'a')
--@ REPLACE: t1
REPLACE t1 (a, b) VALUES (2, 'b')
--@ REPLACE: t1, t2
REPLACE INTO t1 SELECT * FROM t2
--@ REPLACE: t1
REPLACE LOW_PRIORITY INTO t1 SET a = 3, b = 'c'
--@ UPDATE: t1
UPDATE LOW_PRIORITY IGNORE t1 SET a = a + 1 ORDER BY a DESC LIMIT 10
--@ UPDATE: t1, t2
UPDATE t1, t2 SET t1.a = t2.a, t2.b = t1.b WHERE t1.id = t2.id
--@ UPDATE: items, month
UPDATE items,month SET items.price=month.price WHERE items.id=month.id
--@ UPDATE: t1, t2
UPDATE t1 LEFT JOIN t2 ON t1.id = t2.id SET t1.flag = 1 WHERE t2.id IS NULL
--@ UPDATE: t1, t2
UPDATE t1 SET a = (SELECT MAX(b) FROM t2 WHERE t2.id = t1.id)
--@ DELETE: t1
DELETE LOW_PRIORITY QUICK IGNORE FROM t1 WHERE a > 5 ORDER BY a LIMIT 2
--@ DELETE: t1, t2, t3
DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id=t2.id AND t2.id=t3.id
--@ DELETE: t1, t2, t3
DELETE FROM t1, t2 USING t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id=t2.id AND t2.id=t3.id
--@ DELETE: t1, t2
DELETE t1 FROM t1 LEFT JOIN t2 ON t1.id=t2.id WHERE t2.id IS NULL
--@ DELETE: db1.t1, db2.t2
DELETE db1.t1, db2.t2 FROM db1.t1 JOIN db2.t2 ON db1.t1.id = db2.t2.id
--@ DELETE: t1
DELETE FROM t1 PARTITION (p0) WHERE a < 10
--@ SELECT: t1
SELECT * FROM t1 PARTITION (p0, p1) WHERE a > 1
--@ SELECT: t1
SELECT a, COUNT(*) FROM t1 GROUP BY a WITH ROLLUP
--@ SELECT: t1
SELECT SQL_NO_CACHE SQL_BUFFER_RESULT a FROM t1
--@ SELECT: t1, t2
SELECT STRAIGHT_JOIN * FROM t1 JOIN t2 ON t1.a = t2.a
--@ SELECT: t1, t2
SELECT * FROM t1 STRAIGHT_JOIN t2 ON t1.a = t2.a
--@ SELECT: t1
SELECT * FROM t1 USE INDEX (i1) IGNORE INDEX FOR ORDER BY (i2) ORDER BY a
--@ SELECT: t1
SELECT * FROM t1 FORCE INDEX (PRIMARY) WHERE id > 10
--@ SELECT: t1
SELECT * FROM t1 WHERE a = 1 LOCK IN SHARE MODE
--@ SELECT: t1
SELECT * FROM t1 WHERE a = 1 FOR UPDATE NOWAIT
--@ SELECT: t1
SELECT * FROM t1 FOR SHARE SKIP LOCKED
--@ SELECT: t1
SELECT a, b INTO OUTFILE '/tmp/result.txt' FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' LINES TERMINATED BY '\n' FROM t1
--@ SELECT: t1
SELECT * FROM t1 INTO DUMPFILE '/tmp/dump.bin'
--@ SELECT: t1
SELECT a INTO @x FROM t1 LIMIT 1
--@ SELECT: t1
SELECT HIGH_PRIORITY DISTINCTROW a FROM t1
--@ SELECT: t1
SELECT a, GROUP_CONCAT(DISTINCT b ORDER BY b DESC SEPARATOR ';') FROM t1 GROUP BY a
--@ SELECT: t1
SELECT a, ROW_NUMBER() OVER w, SUM(b) OVER (PARTITION BY a ORDER BY b ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t1 WINDOW w AS (ORDER BY a)
--@ SELECT: t1
WITH RECURSIVE cte (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM cte WHERE n < 5) SELECT cte.n, t1.a FROM cte JOIN t1 ON t1.a = cte.n
--@ SELECT: employees
WITH RECURSIVE employee_paths (id, name, path) AS (SELECT id, name, CAST(id AS CHAR(200)) FROM employees WHERE manager_id IS NULL UNION ALL SELECT e.id, e.name, CONCAT(ep.path, ',', e.id) FROM employee_paths AS ep JOIN employees AS e ON ep.id = e.manager_id) SELECT * FROM employee_paths ORDER BY path
--@ UPDATE: t1, t2
WITH cte AS (SELECT id FROM t2 WHERE x = 1) UPDATE t1 JOIN cte ON t1.id = cte.id SET t1.flag = 1
--@ SELECT: t1
SELECT * FROM t1, JSON_TABLE(t1.doc, '$[*]' COLUMNS (id INT PATH '$.id', name VARCHAR(40) PATH '$.name')) AS jt
--@ SELECT: t1
SELECT JSON_EXTRACT(doc, '$.a'), doc->>'$.b' FROM t1 WHERE JSON_CONTAINS(doc, '1', '$.c')
--@ SELECT: t1
SELECT * FROM t1 WHERE MATCH (title, body) AGAINST ('database' IN NATURAL LANGUAGE MODE)
--@ SELECT: t1
SELECT * FROM t1 WHERE MATCH (title) AGAINST ('+MySQL -YourSQL' IN BOOLEAN MODE)
--@ SELECT: t1
SELECT a FROM t1 WHERE b REGEXP '^[a-d]' AND c SOUNDS LIKE 'x' AND d <=> NULL
--@ SELECT: t1, t2
SELECT * FROM t1 NATURAL LEFT JOIN t2
--@ SELECT: t1, t2
(SELECT a FROM t1 WHERE a=10 AND B=1 ORDER BY a LIMIT 10) UNION (SELECT a FROM t2 WHERE a=11 AND B=2 ORDER BY a LIMIT 10)
--@ SELECT: t1, t2
SELECT a FROM t1 EXCEPT SELECT a FROM t2
--@ SELECT: t1
TABLE t1 ORDER BY a LIMIT 3
--@ SELECT
VALUES ROW(1,2), ROW(3,4)
--@ SELECT
SELECT 1 FROM DUAL
--@ SELECT
SELECT CONVERT('abc' USING utf8mb4), CAST('2024-01-01' AS DATE), _utf8mb4'x' COLLATE utf8mb4_bin
--@ SELECT
SELECT SLEEP(0.1), BENCHMARK(10, MD5('a')), CONNECTION_ID(), DATABASE(), USER()
--@ DO
DO SLEEP(1)
--@ DO
DO RELEASE_LOCK('lock1')
--@ SELECT
SELECT GET_LOCK('lock1', 10)
--@ SELECT: t1, t2, t3
SELECT t1.* FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.id = t1.id) AND NOT EXISTS (SELECT 1 FROM t3 WHERE t3.id = t1.id)
--@ SELECT: t1, t2
SELECT * FROM t1 WHERE a IN (SELECT b FROM t2) ORDER BY a DESC LIMIT 5 OFFSET 10
--@ SELECT: t1
SELECT * FROM t1 LIMIT 10, 20
--# ---- DDL: mysql-test/t/alter_table.test, create.test, partition*.test, the manual -----------
--@ CREATE TABLE: t1
CREATE TABLE t1 (a INT NOT NULL PRIMARY KEY, b VARCHAR(32) CHARACTER SET latin1 COLLATE latin1_bin, c TEXT, FULLTEXT KEY ft (c)) ENGINE=MyISAM
--@ CREATE TABLE: t1
CREATE TABLE IF NOT EXISTS t1 (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, data JSON, PRIMARY KEY (id)) ENGINE=InnoDB ROW_FORMAT=DYNAMIC KEY_BLOCK_SIZE=8 COMMENT='test table'
--@ CREATE TABLE: t1
CREATE TEMPORARY TABLE t1 (a INT) ENGINE=MEMORY
--@ CREATE TABLE: t1
CREATE TABLE t1 (g GEOMETRY NOT NULL SRID 4326, SPATIAL INDEX(g))
--@ CREATE TABLE: t1
CREATE TABLE t1 (c1 INT, c2 INT AS (c1 + 1) VIRTUAL, c3 INT GENERATED ALWAYS AS (c1 * 2) STORED, INDEX (c2))
--@ CREATE TABLE: t1
CREATE TABLE t1 (a INT, b INT, CHECK (a > b), CONSTRAINT chk_a CHECK (a < 100) NOT ENFORCED)
--@ CREATE TABLE: t1
CREATE TABLE t1 (status ENUM('new','done') NOT NULL DEFAULT 'new', flags SET('a','b','c'), ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))
--@ CREATE TABLE: t1
CREATE TABLE t1 (id INT NOT NULL, purchased DATE) PARTITION BY RANGE (YEAR(purchased)) (PARTITION p0 VALUES LESS THAN (1990), PARTITION p1 VALUES LESS THAN (2000), PARTITION p2 VALUES LESS THAN MAXVALUE)
--@ CREATE TABLE: employees
CREATE TABLE employees (id INT NOT NULL, store_id INT) PARTITION BY LIST(store_id) (PARTITION pNorth VALUES IN (3,5,6,9,17), PARTITION pEast VALUES IN (1,2,10,11,19,20))
--@ CREATE TABLE: t1
CREATE TABLE t1 (col1 INT, col2 CHAR(5)) PARTITION BY HASH(col1) PARTITIONS 4
--@ CREATE TABLE: t1
CREATE TABLE t1 (id INT) PARTITION BY KEY(id) PARTITIONS 4 SUBPARTITION BY HASH(id) SUBPARTITIONS 2
--@ CREATE TABLE: child, parent
CREATE TABLE child (id INT, parent_id INT, INDEX par_ind (parent_id), FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE ON UPDATE RESTRICT) ENGINE=INNODB
--@ CREATE TABLE: new_tbl, orig_tbl
CREATE TABLE new_tbl LIKE orig_tbl
--@ CREATE TABLE: new_tbl, orig_tbl
CREATE TABLE new_tbl (LIKE orig_tbl)
--@ CREATE TABLE: bar, foo
CREATE TABLE bar (UNIQUE (n)) SELECT n FROM foo
--@ CREATE TABLE: t1, t2
CREATE TABLE t2 IGNORE AS SELECT * FROM t1
--@ CREATE TABLE: t1, t2
CREATE TABLE t2 (a INT) REPLACE SELECT a FROM t1
--@ CREATE TABLE: total, t1, t2
CREATE TABLE total (a INT NOT NULL AUTO_INCREMENT, message CHAR(20), INDEX(a)) ENGINE=MERGE UNION=(t1,t2) INSERT_METHOD=LAST
--@ CREATE TABLE: federated_table
CREATE TABLE federated_table (id INT(20) NOT NULL AUTO_INCREMENT, PRIMARY KEY (id)) ENGINE=FEDERATED CONNECTION='mysql://fed_user@remote_host:9306/federated/test_table'
--@ CREATE TABLE: t1
CREATE TABLE t1 (a INT) ENGINE=InnoDB STATS_PERSISTENT=0 STATS_AUTO_RECALC=1 ENCRYPTION='Y' TABLESPACE innodb_file_per_table
--@ CREATE TABLE: t1
CREATE TABLE t1 (x INT) WITH SYSTEM VERSIONING
--@ CREATE TABLE: s.t1
CREATE OR REPLACE TABLE s.t1 (a INT) ENGINE=Aria TRANSACTIONAL=1 PAGE_CHECKSUM=1
--@ ALTER TABLE: t1
ALTER TABLE t1 ENGINE = InnoDB
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD COLUMN c3 INT AFTER c1, ADD COLUMN c0 INT FIRST, DROP COLUMN c2
--@ ALTER TABLE: t1
ALTER TABLE t1 MODIFY b BIGINT NOT NULL DEFAULT 0 COMMENT 'counter'
--@ ALTER TABLE: t1
ALTER TABLE t1 CHANGE a b INT NOT NULL, ALGORITHM=INPLACE, LOCK=NONE
--@ ALTER TABLE: t1
ALTER TABLE t1 RENAME COLUMN b TO c
--@ ALTER TABLE: t1, t2
ALTER TABLE t1 RENAME t2
--@ ALTER TABLE: t1, db2.t1
ALTER TABLE t1 RENAME TO db2.t1
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD PRIMARY KEY (id), ADD UNIQUE INDEX uk_email (email), ADD FULLTEXT INDEX ft_body (body)
--@ ALTER TABLE: t1
ALTER TABLE t1 DROP PRIMARY KEY, DROP INDEX uk_email
--@ ALTER TABLE: t1
ALTER TABLE t1 RENAME INDEX idx_a TO idx_b
--@ ALTER TABLE: t1
ALTER TABLE t1 ALTER COLUMN b SET DEFAULT 1, ALTER COLUMN c DROP DEFAULT
--@ ALTER TABLE: t1
ALTER TABLE t1 CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci
--@ ALTER TABLE: t1
ALTER TABLE t1 DEFAULT CHARSET=utf8mb4, ROW_FORMAT=COMPRESSED
--@ ALTER TABLE: t1
ALTER TABLE t1 AUTO_INCREMENT = 1000
--@ ALTER TABLE: t1
ALTER TABLE t1 FORCE
--@ ALTER TABLE: t1
ALTER TABLE t1 ORDER BY a
--@ ALTER TABLE: t1
ALTER TABLE t1 DISCARD TABLESPACE
--@ ALTER TABLE: t1
ALTER TABLE t1 IMPORT TABLESPACE
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD PARTITION (PARTITION p3 VALUES LESS THAN (2010))
--@ ALTER TABLE: t1
ALTER TABLE t1 DROP PARTITION p0, p1
--@ ALTER TABLE: t1
ALTER TABLE t1 TRUNCATE PARTITION p0
--@ ALTER TABLE: t1
ALTER TABLE t1 REORGANIZE PARTITION p0 INTO (PARTITION n0 VALUES LESS THAN (1980), PARTITION n1 VALUES LESS THAN (1990))
--@ ALTER TABLE: e, e2
ALTER TABLE e EXCHANGE PARTITION p0 WITH TABLE e2
--@ ALTER TABLE: t1
ALTER TABLE t1 COALESCE PARTITION 2
--@ ALTER TABLE: t1
ALTER TABLE t1 REMOVE PARTITIONING
--@ ALTER TABLE: t1
ALTER TABLE t1 PARTITION BY HASH(id) PARTITIONS 8
--@ ALTER TABLE: t1
ALTER TABLE t1 ANALYZE PARTITION p1, p2
--@ ALTER TABLE: t1
ALTER TABLE t1 DROP FOREIGN KEY fk_1, DROP CHECK chk_a
--@ ALTER TABLE: t1, t2
ALTER TABLE t1 ADD CONSTRAINT fk_t2 FOREIGN KEY (t2_id) REFERENCES t2 (id) ON DELETE SET NULL
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD SPATIAL INDEX (g)
--@ ALTER TABLE: t1
ALTER ONLINE TABLE t1 ADD INDEX (b)
--@ ALTER TABLE: t1
ALTER IGNORE TABLE t1 ADD UNIQUE (c)
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD SYSTEM VERSIONING
--@ CREATE INDEX: t1
CREATE UNIQUE INDEX idx_a ON t1 (a) USING BTREE
--@ CREATE INDEX: t1
CREATE FULLTEXT INDEX ft_idx ON t1 (title, body) WITH PARSER ngram
--@ CREATE INDEX: t1
CREATE SPATIAL INDEX sp_idx ON t1 (g)
--@ CREATE INDEX: t1
CREATE INDEX idx_b ON t1 (b(10) DESC, (LOWER(c))) ALGORITHM=INPLACE LOCK=NONE
--@ DROP INDEX: t1
DROP INDEX idx_a ON t1
--@ DROP INDEX: t1
DROP INDEX `PRIMARY` ON t1
--@ RENAME TABLE: t1, t2, t3
RENAME TABLE t1 TO t2, t2 TO t3
--@ RENAME TABLE: current_db.tbl_name, other_db.tbl_name
RENAME TABLE current_db.tbl_name TO other_db.tbl_name
--@ DROP TABLE: t1, t2
DROP TABLE IF EXISTS t1, t2 RESTRICT
--@ DROP TABLE: t1
DROP TEMPORARY TABLE IF EXISTS t1
--@ TRUNCATE: t1
TRUNCATE TABLE t1
--@ TRUNCATE: db1.t1
TRUNCATE db1.t1
--@ CREATE VIEW: t1, v1
CREATE VIEW v1 AS SELECT a, b FROM t1 WHERE a > 0 WITH CASCADED CHECK OPTION
--@ CREATE VIEW: t1, t2, v2
CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`admin`@`localhost` SQL SECURITY INVOKER VIEW v2 (x, y) AS SELECT t1.a, t2.b FROM t1 JOIN t2 USING (id)
--@ ALTER VIEW: t1, v1
ALTER VIEW v1 AS SELECT a FROM t1
--@ DROP VIEW: v1, v2
DROP VIEW IF EXISTS v1, v2
--@ CREATE DATABASE
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci
--@ CREATE SCHEMA
CREATE SCHEMA reporting
--@ ALTER DATABASE
ALTER DATABASE shop CHARACTER SET = utf8mb4
--@ DROP DATABASE
DROP DATABASE IF EXISTS shop_test
--@ CREATE TABLESPACE
CREATE TABLESPACE ts1 ADD DATAFILE 'ts1.ibd' ENGINE=InnoDB
--@ CREATE SEQUENCE
CREATE SEQUENCE s1 START WITH 100 INCREMENT BY 10
--@ SELECT
SELECT NEXTVAL(s1)
--@ SELECT
SELECT NEXT VALUE FOR s1
--@ DROP SEQUENCE
DROP SEQUENCE IF EXISTS s1
--# ---- stored programs, triggers, events (sent whole, no DELIMITER) --------------------------
--@ CREATE PROCEDURE
CREATE PROCEDURE citycount (IN country CHAR(3), OUT cities INT)
BEGIN
  SELECT COUNT(*) INTO cities FROM world.city
  WHERE CountryCode = country;
END
--@ CREATE PROCEDURE
CREATE DEFINER=`root`@`localhost` PROCEDURE `archive_orders`(IN cutoff DATE)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'move old orders'
BEGIN
  DECLARE done INT DEFAULT FALSE;
  START TRANSACTION;
  INSERT INTO orders_archive SELECT * FROM orders WHERE created_at < cutoff;
  DELETE FROM orders WHERE created_at < cutoff;
  COMMIT;
END
--@ CREATE FUNCTION
CREATE FUNCTION hello (s CHAR(20)) RETURNS CHAR(50) DETERMINISTIC RETURN CONCAT('Hello, ',s,'!')
--@ CREATE FUNCTION
CREATE DEFINER=`app`@`%` FUNCTION `order_total`(oid INT) RETURNS decimal(12,2)
    READS SQL DATA
BEGIN
  DECLARE t DECIMAL(12,2);
  SELECT SUM(qty * price) INTO t FROM order_items WHERE order_id = oid;
  RETURN IFNULL(t, 0);
END
--@ CREATE FUNCTION
CREATE AGGREGATE FUNCTION agg_sum(x INT) RETURNS INT
BEGIN
  DECLARE z INT DEFAULT 0;
  DECLARE CONTINUE HANDLER FOR NOT FOUND RETURN z;
  LOOP
    FETCH GROUP NEXT ROW;
    SET z = z + x;
  END LOOP;
END
--@ ALTER PROCEDURE
ALTER PROCEDURE citycount SQL SECURITY INVOKER COMMENT 'counts cities'
--@ ALTER FUNCTION
ALTER FUNCTION hello COMMENT 'greets'
--@ DROP PROCEDURE
DROP PROCEDURE IF EXISTS citycount
--@ DROP FUNCTION
DROP FUNCTION IF EXISTS hello
--@ CALL
CALL citycount('JPN', @cities)
--@ CALL
CALL archive_orders(CURDATE() - INTERVAL 1 YEAR)
--@ CREATE TRIGGER: account
CREATE TRIGGER ins_sum BEFORE INSERT ON account FOR EACH ROW SET @sum = @sum + NEW.amount
--@ CREATE TRIGGER: test1
CREATE TRIGGER testref BEFORE INSERT ON test1
  FOR EACH ROW
  BEGIN
    INSERT INTO test2 SET a2 = NEW.a1;
    DELETE FROM test3 WHERE a3 = NEW.a1;
    UPDATE test4 SET b4 = b4 + 1 WHERE a4 = NEW.a1;
  END
--@ CREATE TRIGGER: orders
CREATE DEFINER=`root`@`localhost` TRIGGER `orders_bu` BEFORE UPDATE ON `orders` FOR EACH ROW FOLLOWS `orders_bu0` SET NEW.updated_at = NOW()
--@ CREATE TRIGGER: t1
CREATE OR REPLACE TRIGGER IF NOT EXISTS trg1 AFTER DELETE ON t1 FOR EACH ROW INSERT INTO audit_log (tbl, id) VALUES ('t1', OLD.id)
--@ DROP TRIGGER
DROP TRIGGER IF EXISTS shop.ins_sum
--@ CREATE EVENT
CREATE EVENT myevent
    ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 HOUR
    DO
      UPDATE myschema.mytable SET mycol = mycol + 1
--@ CREATE EVENT
CREATE EVENT IF NOT EXISTS e_purge ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 03:00:00' ON COMPLETION PRESERVE ENABLE COMMENT 'purge sessions' DO DELETE FROM sessions WHERE expires < NOW()
--@ CREATE EVENT
CREATE DEFINER=`root`@`localhost` EVENT e_daily
    ON SCHEDULE EVERY 1 DAY
    DO
      BEGIN
        INSERT INTO site_activity.totals (time, total)
          SELECT CURRENT_TIMESTAMP, COUNT(*)
            FROM site_activity.sessions;
        DELETE FROM site_activity.sessions;
      END
--@ ALTER EVENT
ALTER EVENT myevent ON SCHEDULE EVERY 12 HOUR STARTS CURRENT_TIMESTAMP + INTERVAL 4 HOUR
--@ ALTER EVENT
ALTER EVENT myevent DISABLE
--@ DROP EVENT
DROP EVENT IF EXISTS myevent
--@ PREPARE
PREPARE stmt1 FROM 'SELECT SQRT(POW(?,2) + POW(?,2)) AS hypotenuse'
--@ SET
SET @a = 3, @b = 4
--@ EXECUTE
EXECUTE stmt1 USING @a, @b
--@ DEALLOCATE
DEALLOCATE PREPARE stmt1
--@ DEALLOCATE
DROP PREPARE stmt1
--# ---- table maintenance, HANDLER, LOAD DATA ------------------------------------------------
--@ OPTIMIZE: t1
OPTIMIZE TABLE t1
--@ OPTIMIZE: t1, t2
OPTIMIZE NO_WRITE_TO_BINLOG TABLE t1, t2
--@ ANALYZE: t1
ANALYZE LOCAL TABLE t1
--@ ANALYZE: t1
ANALYZE TABLE t1 UPDATE HISTOGRAM ON c1, c2 WITH 16 BUCKETS
--@ ANALYZE: t1
ANALYZE TABLE t1 PERSISTENT FOR ALL
--@ CHECK: t1
CHECK TABLE t1 EXTENDED
--@ CHECK: t1, t2
CHECK TABLE t1, t2 FOR UPGRADE
--@ REPAIR: t1
REPAIR TABLE t1 QUICK USE_FRM
--@ CHECKSUM: t1, t2
CHECKSUM TABLE t1, t2 EXTENDED
--@ FLUSH: t1, t2
FLUSH TABLES t1, t2 WITH READ LOCK
--@ FLUSH: t1
FLUSH TABLES t1 FOR EXPORT
--@ FLUSH
FLUSH PRIVILEGES
--@ FLUSH
FLUSH LOGS
--@ FLUSH
FLUSH NO_WRITE_TO_BINLOG STATUS
--@ FLUSH
FLUSH TABLES
--@ HANDLER: t1
HANDLER t1 OPEN
--@ HANDLER: t1
HANDLER t1 OPEN AS h1
--@ HANDLER: t1
HANDLER t1 READ FIRST
--@ HANDLER: t1
HANDLER t1 READ `PRIMARY` = (5) WHERE b > 1 LIMIT 3
--@ HANDLER: t1
HANDLER t1 READ a NEXT
--@ HANDLER: t1
HANDLER t1 CLOSE
--@ LOAD: t1
LOAD DATA INFILE '/tmp/data.txt' INTO TABLE t1
--@ LOAD: db2.my_table
LOAD DATA LOCAL INFILE 'data.txt' REPLACE INTO TABLE db2.my_table FIELDS TERMINATED BY ',' ENCLOSED BY '"' LINES TERMINATED BY '\r\n' IGNORE 1 LINES (col1, @var1) SET col2 = @var1 / 100
--@ LOAD: t1
LOAD DATA LOW_PRIORITY INFILE '/tmp/data.csv' IGNORE INTO TABLE t1 CHARACTER SET utf8mb4 FIELDS TERMINATED BY ','
--@ LOAD: person
LOAD XML LOCAL INFILE 'person.xml' INTO TABLE person ROWS IDENTIFIED BY '<person>'
--@ LOCK: t1, t2
LOCK TABLES t1 READ LOCAL, t2 WRITE
--@ LOCK: t1
LOCK TABLE t1 AS a READ, t1 AS b WRITE
--@ UNLOCK
UNLOCK TABLE
--# ---- SHOW, DESCRIBE, EXPLAIN --------------------------------------------------------------
--@ SHOW
SHOW DATABASES LIKE 'shop%'
--@ SHOW
SHOW FULL TABLES FROM shop WHERE Table_type = 'VIEW'
--@ SHOW: t1
SHOW COLUMNS FROM t1
--@ SHOW: t1
SHOW FIELDS FROM t1 LIKE 'a%'
--@ SHOW: t1
SHOW INDEX FROM t1
--@ SHOW: t1
SHOW KEYS IN t1 WHERE Key_name = 'PRIMARY'
--@ SHOW: v1
SHOW CREATE VIEW v1
--@ SHOW
SHOW CREATE PROCEDURE citycount
--@ SHOW
SHOW CREATE TRIGGER ins_sum
--@ SHOW
SHOW CREATE EVENT myevent
--@ SHOW
SHOW CREATE USER 'app'@'%'
--@ SHOW
SHOW GRANTS FOR 'app'@'%'
--@ SHOW
SHOW GRANTS FOR CURRENT_USER()
--@ SHOW
SHOW GLOBAL STATUS LIKE 'Com_%'
--@ SHOW
SHOW GLOBAL VARIABLES WHERE Variable_name = 'version'
--@ SHOW
SHOW ENGINE INNODB STATUS
--@ SHOW
SHOW ENGINES
--@ SHOW
SHOW PROCESSLIST
--@ SHOW
SHOW PROCEDURE STATUS WHERE Db = 'shop'
--@ SHOW
SHOW FUNCTION STATUS
--@ SHOW
SHOW EVENTS FROM shop
--@ SHOW
SHOW OPEN TABLES WHERE In_use > 0
--@ SHOW
SHOW BINARY LOGS
--@ SHOW
SHOW BINLOG EVENTS IN 'mysql-bin.000001' LIMIT 10
--@ SHOW
SHOW SLAVE STATUS
--@ SHOW
SHOW REPLICA STATUS
--@ SHOW
SHOW CHARACTER SET LIKE 'utf8%'
--@ SHOW
SHOW COLLATION WHERE Charset = 'utf8mb4'
--@ SHOW
SHOW PLUGINS
--@ SHOW
SHOW PRIVILEGES
--@ SHOW
SHOW ERRORS LIMIT 5
--@ SHOW
SHOW COUNT(*) WARNINGS
--@ SHOW
SHOW PROFILES
--@ SHOW
SHOW TABLE STATUS FROM shop LIKE 'orders'
--@ DESCRIBE: t1
DESCRIBE t1 a
--@ DESCRIBE: shop.orders
DESC shop.orders
--@ DESCRIBE: t1
EXPLAIN t1
--@ EXPLAIN: t1, t2
EXPLAIN SELECT * FROM t1 JOIN t2 ON t1.a = t2.a WHERE t1.b = 1
--@ EXPLAIN: t1
EXPLAIN FORMAT=JSON SELECT * FROM t1 WHERE a = 1
--@ EXPLAIN: t1
EXPLAIN ANALYZE SELECT COUNT(*) FROM t1
--@ EXPLAIN: t1
EXPLAIN EXTENDED SELECT * FROM t1
--@ EXPLAIN: t1
EXPLAIN UPDATE t1 SET a = 1 WHERE b = 2
--@ EXPLAIN: t1
EXPLAIN DELETE FROM t1 WHERE a > 5
--@ EXPLAIN
EXPLAIN FOR CONNECTION 42
--@ ANALYZE: t1
ANALYZE SELECT * FROM t1 WHERE a > 1
--# ---- accounts and privileges: mysql-test/t/grant*.test, the manual -------------------------
--@ CREATE USER
CREATE USER 'jeffrey'@'localhost' IDENTIFIED BY 'password'
--@ CREATE USER
CREATE USER IF NOT EXISTS 'app'@'10.0.0.%' IDENTIFIED WITH mysql_native_password BY 'secret' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 500 PASSWORD EXPIRE INTERVAL 180 DAY ACCOUNT UNLOCK
--@ CREATE USER
CREATE USER 'u1'@'%' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('pw')
--@ ALTER USER
ALTER USER 'jeffrey'@'localhost' IDENTIFIED BY 'new_password' PASSWORD EXPIRE NEVER
--@ ALTER USER
ALTER USER USER() IDENTIFIED BY 'auth_string'
--@ ALTER USER
ALTER USER 'app'@'%' ACCOUNT LOCK
--@ RENAME USER
RENAME USER 'jeffrey'@'localhost' TO 'jeff'@'127.0.0.1'
--@ DROP USER
DROP USER IF EXISTS 'jeffrey'@'localhost', 'app'@'%'
--@ SET
SET PASSWORD FOR 'jeffrey'@'localhost' = 'auth_string'
--@ SET
SET PASSWORD = PASSWORD('old-style')
--@ GRANT
GRANT ALL ON db1.* TO 'jeffrey'@'localhost'
--@ GRANT: db1.invoice
GRANT SELECT ON db1.invoice TO 'jeffrey'@'localhost'
--@ GRANT
GRANT USAGE ON *.* TO 'jeffrey'@'localhost' WITH MAX_QUERIES_PER_HOUR 90
--@ GRANT
GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' IDENTIFIED BY 'secret' WITH GRANT OPTION
--@ GRANT: shop.orders
GRANT SELECT, INSERT, UPDATE ON shop.orders TO 'app'@'%' IDENTIFIED BY 'pw'
--@ GRANT: mydb.mytbl
GRANT SELECT (col1), INSERT (col1, col2) ON mydb.mytbl TO 'someuser'@'somehost'
--@ GRANT: orders
GRANT SELECT ON TABLE orders TO reporting
--@ GRANT
GRANT EXECUTE ON PROCEDURE mydb.myproc TO 'someuser'@'somehost'
--@ GRANT
GRANT CREATE ROUTINE, ALTER ROUTINE ON shop.* TO 'dev'@'%'
--@ GRANT
GRANT PROXY ON 'localhost' TO 'joe'@'%'
--@ GRANT
GRANT 'role1', 'role2' TO 'user1'@'localhost'
--@ GRANT
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'
--@ REVOKE
REVOKE INSERT ON *.* FROM 'jeffrey'@'localhost'
--@ REVOKE: shop.orders
REVOKE UPDATE ON shop.orders FROM 'app'@'%'
--@ REVOKE
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'app'@'%'
--@ REVOKE
REVOKE 'role1' FROM 'user1'@'localhost'
--@ CREATE ROLE
CREATE ROLE 'app_developer', 'app_read', 'app_write'
--@ DROP ROLE
DROP ROLE 'app_read'
--@ SET
SET DEFAULT ROLE ALL TO 'dev1'@'localhost'
--@ SET
SET ROLE 'app_read'
--# ---- session, server administration, replication, XA -------------------------------------
--@ USE
USE shop
--@ SET
SET GLOBAL max_connections = 1000
--@ SET
SET PERSIST innodb_buffer_pool_size = 1073741824
--@ SET
SET @@GLOBAL.general_log = 'ON'
--@ SET
SET sql_log_bin = 0
--@ SET
SET NAMES utf8mb4
--@ SET
SET CHARACTER SET utf8mb4
--@ SET
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY
--@ SET
SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED
--@ SET
SET STATEMENT max_statement_time=1 FOR SELECT SLEEP(2)
--@ SET
SET @rownum := 0
--@ SET
SET FOREIGN_KEY_CHECKS = 0
--@ BEGIN
START TRANSACTION READ ONLY
--@ BEGIN
BEGIN WORK
--@ COMMIT
COMMIT AND NO CHAIN NO RELEASE
--@ ROLLBACK
ROLLBACK WORK
--@ XA
XA START 'xatest'
--@ XA
XA END 'xatest'
--@ XA
XA PREPARE 'xatest'
--@ XA
XA COMMIT 'xatest'
--@ XA
XA RECOVER
--@ KILL
KILL 42
--@ KILL
KILL QUERY 42
--@ KILL
KILL CONNECTION 42
--@ SHUTDOWN
SHUTDOWN
--@ RESET
RESET MASTER
--@ RESET
RESET QUERY CACHE
--@ PURGE
PURGE BINARY LOGS BEFORE '2024-01-01 00:00:00'
--@ CHANGE MASTER
CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_USER='repl', MASTER_PASSWORD='pw', MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4
--@ CHANGE REPLICATION SOURCE
CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.1', SOURCE_PORT=3306
--@ START SLAVE
START SLAVE
--@ STOP SLAVE
STOP SLAVE
--@ START REPLICA
START REPLICA
--@ INSTALL
INSTALL PLUGIN server_audit SONAME 'server_audit.so'
--@ UNINSTALL
UNINSTALL PLUGIN server_audit
--@ INSTALL
INSTALL COMPONENT 'file://component_validate_password'
--@ CACHE: t1, t2
CACHE INDEX t1, t2 IN hot_cache
--@ LOAD: t1, t2
LOAD INDEX INTO CACHE t1, t2 IGNORE LEAVES
--@ HELP
HELP 'contents'
--@ BINLOG
BINLOG 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=='
--@ SELECT
SELECT @@global.read_only, @@hostname, @@port
--@ SELECT: mysql.user
SELECT User, Host, plugin FROM mysql.user WHERE User <> ''
--@ SELECT: performance_schema.events_statements_summary_by_digest
SELECT digest_text, count_star, sum_timer_wait FROM performance_schema.events_statements_summary_by_digest ORDER BY sum_timer_wait DESC LIMIT 10
--@ SELECT: information_schema.innodb_trx
SELECT * FROM information_schema.innodb_trx WHERE trx_started < NOW() - INTERVAL 60 SECOND
--@ UPDATE: mysql.user
UPDATE mysql.user SET authentication_string = PASSWORD('x') WHERE User = 'root'
--@ DELETE: mysql.user
DELETE FROM mysql.user WHERE User = ''
--# ---- held out: mysql-test/t/alter_table.test and statements in the style of trigger.test,
--# ---- sp.test, partition.test, grant.test, handler.test; annotated before the analyzer ran ----
--@ DROP TABLE: t1, t2
drop table if exists t1,t2;
--@ DROP DATABASE
drop database if exists mysqltest;
--@ CREATE TABLE: t1
create table t1 (
col1 int not null auto_increment primary key,
col2 varchar(30) not null,
col3 varchar (20) not null,
col4 varchar(4) not null,
col5 enum('PENDING', 'ACTIVE', 'DISABLED') not null,
col6 int not null, to_be_deleted int);
--@ INSERT: t1
insert into t1 values (2,4,3,5,"PENDING",1,7);
--@ ALTER TABLE: t1
alter table t1
add column col4_5 varchar(20) not null after col4,
add column col7 varchar(30) not null after col5,
add column col8 datetime not null, drop column to_be_deleted,
change column col2 fourth varchar(30) not null after col3,
modify column col6 int not null first;
--@ ALTER TABLE: t1
alter table t1 add column new_col int, order by payoutid,bandid;
--@ CREATE TABLE: t1
CREATE TABLE t1 (
GROUP_ID int(10) unsigned DEFAULT '0' NOT NULL,
LANG_ID smallint(5) unsigned DEFAULT '0' NOT NULL,
NAME varchar(80) DEFAULT '' NOT NULL,
PRIMARY KEY (GROUP_ID,LANG_ID),
KEY NAME (NAME));
--@ ALTER TABLE: t1
ALTER TABLE t1 CHANGE NAME NAME CHAR(80) not null;
--@ ALTER TABLE: t1
ALTER TABLE t1 ORDER BY t1.id, t1.status, t1.type_id, t1.user_id, t1.body;
--@ CREATE TABLE: t1
CREATE TABLE t1 (AnamneseId int(10) unsigned NOT NULL auto_increment,B BLOB,PRIMARY KEY (AnamneseId)) engine=myisam;
--@ INSERT: t1
insert into t1 values (null,"hello");
--@ ALTER TABLE: t1
ALTER TABLE t1 ADD Column new_col int not null;
--@ ALTER TABLE: t1
alter table t1 drop i,add i int unsigned not null auto_increment, drop primary key, add primary key (i);
--@ CREATE TABLE: mysqltest.t1
create table mysqltest.t1 (name char(15));
--@ INSERT: mysqltest.t1
insert into mysqltest.t1 (name) values ("mysqltest");
--@ ALTER TABLE: mysqltest.t1, t1
alter table t1 rename mysqltest.t1;
--@ GRANT: mysqltest.t1
grant all on mysqltest.t1 to mysqltest_1@localhost;
--@ REVOKE: mysqltest.t1
revoke all privileges on mysqltest.t1 from mysqltest_1@localhost;
--@ DELETE: mysql.user
delete from mysql.user where user=_binary'mysqltest_1';
--@ CREATE TABLE: t1
create table t1 (n1 int not null, n2 int, n3 int, n4 float,
                unique(n1),
                key (n1, n2, n3, n4),
                key (n2, n3, n4, n1),
                key (n3, n4, n1, n2),
                key (n4, n1, n2, n3) );
--@ ALTER TABLE: t1
alter table t1 disable keys;
--@ SHOW: t1
show keys from t1;
--@ INSERT: t1
insert into t1 values(10,RAND()*1000,RAND()*1000,RAND());
--@ ALTER TABLE: t1, t2
alter table t2 rename t1, add c char(10) comment "no comment";
--@ ALTER TABLE: t1
alter table t1 add unique (a,b), add key (b);
--@ CREATE TABLE: t1
CREATE TABLE t1 (i int(10), index(i) );
--@ SET
set names koi8r;
--@ CREATE TABLE: t1
create table t1 (a char(10) character set koi8r);
--@ SELECT: t1
select a,hex(a) from t1;
--@ ALTER TABLE: t1
alter table t1 change a a char(10) character set cp1251;
--@ ALTER TABLE: t1
alter table t1 DEFAULT CHARACTER SET latin1;
--@ CREATE TABLE: t1
create table t1 (myblob longblob,mytext longtext) 
default charset latin1 collate latin1_general_cs;
--@ ALTER TABLE: t1
alter table t1 character set latin2;
--@ CREATE TABLE: t1
CREATE TABLE t1 (
  Host varchar(16) binary NOT NULL default '',
  User varchar(16) binary NOT NULL default '',
  PRIMARY KEY  (Host,User)
) ENGINE=MyISAM;
--@ INSERT: t1
INSERT INTO t1 VALUES ('localhost','root'),('localhost',''),('games','monty');
--@ CHECK: t1
CHECK TABLES t1;
--@ ALTER TABLE: t1
alter table t1 drop key no_such_key;
--@ CREATE TRIGGER: t1
create trigger t1_bi before insert on t1 for each row set @a:=new.i;
--@ CREATE TRIGGER: t1
create trigger trg before update on t1 for each row begin if new.a > 10 then set new.a = 10; end if; end
--@ DROP TRIGGER
drop trigger t1_bi;
--@ CREATE PROCEDURE
create procedure p1() begin declare x int default 0; while x < 10 do insert into t1 values (x); set x = x + 1; end while; end
--@ CALL
call p1();
--@ CREATE FUNCTION
create function f1() returns int deterministic begin return (select count(*) from t1); end
--@ SELECT
select f1(), (select f1());
--@ CREATE TABLE: t1
create table t1 (a int) partition by range (a) (partition p0 values less than (10), partition p1 values less than maxvalue);
--@ ALTER TABLE: t1
alter table t1 reorganize partition p1 into (partition p1 values less than (20), partition p2 values less than maxvalue);
--@ ALTER TABLE: t1
alter table t1 rebuild partition p0, p1;
--@ ALTER TABLE: t1
alter table t1 optimize partition p0;
--@ ALTER TABLE: t1
alter table t1 check partition all;
--@ SELECT: t1
select * from t1 partition (p0) where a < 5;
--@ EXPLAIN: t1
explain select * from t1 where a < 5;
--@ GRANT
grant select, insert on test.* to 'u1'@'localhost';
--@ GRANT: t1
grant select (a) on t1 to 'u1'@'localhost' with grant option;
--@ SHOW
show grants for u1@localhost;
--@ REVOKE: t1
revoke select on t1 from u1@localhost;
--@ CREATE USER
create user u1@localhost identified by 'foo';
--@ SET
set password for u1@localhost = password('bar');
--@ DROP USER
drop user u1@localhost;
--@ FLUSH
flush status;
--@ SELECT: t1
select sql_no_cache * from t1 where a = 1 for update;
--@ INSERT: t1, t2
insert into t2 select * from t1 on duplicate key update t2.a = t1.a;
--@ UPDATE: t1
update t1 set a = a + 1 order by a desc limit 1;
--@ DELETE: t1, t2
delete from t1 where a in (select a from t2);
--@ DELETE: t1, t2
delete t1.* from t1, t2 where t1.a = t2.a;
--@ LOAD: t1
load data infile '../../std_data/loaddata1.dat' ignore into table t1 fields terminated by ',' ignore 2 lines;
--@ SELECT: t1
select * into outfile 'x.txt' from t1;
--@ CREATE TABLE: t1, t3
create temporary table t3 select * from t1;
--@ CREATE TABLE: t1, t2
create table t2 (primary key (a)) select * from t1;
--@ CREATE TABLE: t1, t2
create table if not exists t2 like t1;
--@ HANDLER: t1
handler t1 read next limit 2;
--@ HANDLER: t1
handler t1 read a prev;
--@ LOCK: mysql.user, t1, t2
lock tables t1 read, t2 write, mysql.user read;
--@ UNLOCK
unlock tables;
--@ CHECKSUM: t1, t2
checksum table t1, t2 quick;
--@ REPAIR: t1
repair table t1 extended;
--@ CREATE VIEW: t1, v1
create view v1 as select a, sum(b) from t1 group by a;
--@ CREATE VIEW: v1, v2
create algorithm=temptable view v2 as select * from v1;
--@ SELECT: t2, v1
select * from v1 natural join t2;
--@ CREATE EVENT
create event e1 on schedule every 1 second do insert into t1 values (1);
--@ ALTER EVENT
alter event e1 rename to e2;
--@ SET
set global event_scheduler = on;
--@ SHOW
show create function f1;
--@ SHOW
show table status;
--@ SELECT: information_schema.tables
select table_name from information_schema.tables where table_schema = 'test' order by table_name;
--@ XA
xa rollback 'xid1';
--@ SELECT: t1
select * from t1 where match(a) against ('+hello' in boolean mode) order by 1;
--@ INSERT: t1
insert into t1 (a) values (1) on duplicate key update a = values(a) + 1;
--@ REPLACE: t1
replace delayed into t1 values (1);
--@ UPDATE: t1, t2
update low_priority t1, t2 set t1.a = 1 where t1.a = t2.a;
--@ SELECT: t1, t2
select straight_join t1.a from t1, t2 where t1.a = t2.a;
--@ SELECT: t1, t2
(select a from t1) union all (select a from t2) order by a limit 5;
--@ SELECT: t1, t2, t3
select * from t1 join t2 using (a) left join t3 on t3.b = t2.b;
--@ ANALYZE: t1, t2
analyze table t1, t2;
--@ RENAME TABLE: t1, t2
rename table t1 to t2;
--@ TRUNCATE: t1
truncate t1;
--@ CREATE VIEW: v1
create or replace view v1 as select 1;
--@ SELECT: seq_1_to_10
select * from seq_1_to_10;
--# ---- installed with MariaDB 10.11 (Debian): mysql_system_tables.sql, mysql_sys_schema.sql --
--@ SET
set sql_mode=''
--@ CREATE TABLE: global_priv
CREATE TABLE IF NOT EXISTS global_priv (Host char(255) binary DEFAULT '', User char(128) binary DEFAULT '', Priv JSON NOT NULL DEFAULT '{}' CHECK(JSON_VALID(Priv)), PRIMARY KEY (Host,User)) engine=Aria transactional=1 CHARACTER SET utf8mb3 COLLATE utf8mb3_bin comment='Users and global privileges'
--@ CREATE TABLE: global_priv, tmp_user_sys
CREATE TEMPORARY TABLE tmp_user_sys LIKE global_priv
--@ INSERT: global_priv, tmp_user_sys
INSERT IGNORE INTO global_priv SELECT * FROM tmp_user_sys WHERE 0 <> @need_sys_user_creation
--@ REPLACE: tmp_proxies_priv
REPLACE INTO tmp_proxies_priv SELECT 'localhost',IFNULL(@auth_root_socket, 'root'), '', '', TRUE, '', now() FROM DUAL
--@ CREATE DATABASE
CREATE DATABASE IF NOT EXISTS sys DEFAULT CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci
--@ CREATE VIEW: version
CREATE OR REPLACE
  DEFINER = 'mariadb.sys'@'localhost'
  SQL SECURITY INVOKER 
VIEW version (
  sys_version,
  mysql_version
) AS 
SELECT '1.5.1' AS sys_version, 
        version() AS mysql_version
--@ FLUSH: sys.sys_config
FLUSH TABLES sys.sys_config
--@ DROP TRIGGER
DROP TRIGGER IF EXISTS sys_config_insert_set_user
--@ CREATE FUNCTION
CREATE DEFINER='mariadb.sys'@'localhost' FUNCTION extract_table_from_file_name (
        path VARCHAR(512)
    )
    RETURNS VARCHAR(64) 
    COMMENT '
             Description
             -----------

             Takes a raw file path, and extracts the table name from it.

             Useful for when interacting with Performance Schema data 
             concerning IO statistics, for example.

             Parameters
             -----------

             path (VARCHAR(512)):
               The full file path to a data file to extract the table name from.

             Returns
             -----------

             VARCHAR(64)

             Example
             -----------

             mysql> SELECT sys.extract_table_from_file_name(\'/var/lib/mysql/employees/employee.ibd\');
             +---------------------------------------------------------------------------+
             | sys.extract_table_from_file_name(\'/var/lib/mysql/employees/employee.ibd\') |
             +---------------------------------------------------------------------------+
             | employee                                                                  |
             +---------------------------------------------------------------------------+
             1 row in set (0.02 sec)
            '
    SQL SECURITY INVOKER
    DETERMINISTIC
    NO SQL
BEGIN
    RETURN LEFT(SUBSTRING_INDEX(REPLACE(SUBSTRING_INDEX(REPLACE(path, '\\', '/'), '/', -1), '@0024', '$'), '.', 1), 64);
END
--@ CREATE FUNCTION
CREATE DEFINER='mariadb.sys'@'localhost' FUNCTION ps_thread_id (
        in_connection_id BIGINT UNSIGNED
    ) RETURNS BIGINT UNSIGNED
    COMMENT '
             Description
             -----------

             Return the Performance Schema THREAD_ID for the specified connection ID.

             Parameters
             -----------

             in_connection_id (BIGINT UNSIGNED):
               The id of the connection to return the thread id for. If NULL, the current
               connection thread id is returned.

             Example
             -----------

             mysql> SELECT sys.ps_thread_id(79);
             +----------------------+
             | sys.ps_thread_id(79) |
             +----------------------+
             |                   98 |
             +----------------------+
             1 row in set (0.00 sec)

             mysql> SELECT sys.ps_thread_id(CONNECTION_ID());
             +-----------------------------------+
             | sys.ps_thread_id(CONNECTION_ID()) |
             +-----------------------------------+
             |                                98 |
             +-----------------------------------+
             1 row in set (0.00 sec)
            '

    SQL SECURITY INVOKER
    NOT DETERMINISTIC
    READS SQL DATA
BEGIN
    RETURN (SELECT THREAD_ID
              FROM `performance_schema`.`threads`
             WHERE PROCESSLIST_ID = IFNULL(in_connection_id, CONNECTION_ID())
           );
END
--@ CREATE VIEW: information_schema.innodb_buffer_page, innodb_buffer_stats_by_schema
CREATE OR REPLACE
  ALGORITHM = TEMPTABLE
  DEFINER = 'mariadb.sys'@'localhost'
  SQL SECURITY INVOKER 
VIEW innodb_buffer_stats_by_schema (
  object_schema,
  allocated,
  data,
  pages,
  pages_hashed,
  pages_old,
  rows_cached
) AS
SELECT IF(LOCATE('.', ibp.table_name) = 0, 'InnoDB System', REPLACE(SUBSTRING_INDEX(ibp.table_name, '.', 1), '`', '')) AS object_schema,
       sys.format_bytes(SUM(IF(ibp.compressed_size = 0, 16384, compressed_size))) AS allocated,
       sys.format_bytes(SUM(ibp.data_size)) AS data,
       COUNT(ibp.page_number) AS pages,
       COUNT(IF(ibp.is_hashed, 1, NULL)) AS pages_hashed,
       COUNT(IF(ibp.is_old, 1, NULL)) AS pages_old,
       ROUND(SUM(ibp.number_records)/COUNT(DISTINCT ibp.index_name)) AS rows_cached 
  FROM information_schema.innodb_buffer_page ibp 
 WHERE table_name IS NOT NULL
 GROUP BY object_schema
 ORDER BY SUM(IF(ibp.compressed_size = 0, 16384, compressed_size)) DESC
--@ CREATE PROCEDURE
CREATE DEFINER='mariadb.sys'@'localhost' PROCEDURE ps_setup_disable_background_threads ()
    COMMENT '
             Description
             -----------

             Disable all background thread instrumentation within Performance Schema.

             Parameters
             -----------

             None.

             Example
             -----------

             mysql> CALL sys.ps_setup_disable_background_threads();
             +--------------------------------+
             | summary                        |
             +--------------------------------+
             | Disabled 18 background threads |
             +--------------------------------+
             1 row in set (0.00 sec)
            '
    SQL SECURITY INVOKER
    NOT DETERMINISTIC
    MODIFIES SQL DATA
BEGIN
    UPDATE performance_schema.threads
       SET instrumented = 'NO'
     WHERE type = 'BACKGROUND';

    SELECT CONCAT('Disabled ', @rows := ROW_COUNT(), ' background thread', IF(@rows != 1, 's', '')) AS summary;
END
--@ CREATE PROCEDURE
CREATE DEFINER='mariadb.sys'@'localhost' PROCEDURE ps_setup_disable_thread (
        IN in_connection_id BIGINT
    )
    COMMENT '
             Description
             -----------

             Disable the given connection/thread in Performance Schema.

             Parameters
             -----------

             in_connection_id (BIGINT):
               The connection ID (PROCESSLIST_ID from performance_schema.threads
               or the ID shown within SHOW PROCESSLIST)

             Example
             -----------

             mysql> CALL sys.ps_setup_disable_thread(3);
             +-------------------+
             | summary           |
             +-------------------+
             | Disabled 1 thread |
             +-------------------+
             1 row in set (0.01 sec)

             To disable the current connection:

             mysql> CALL sys.ps_setup_disable_thread(CONNECTION_ID());
             +-------------------+
             | summary           |
             +-------------------+
             | Disabled 1 thread |
             +-------------------+
             1 row in set (0.00 sec)
            '
    SQL SECURITY INVOKER
    NOT DETERMINISTIC
    MODIFIES SQL DATA
BEGIN
    UPDATE performance_schema.threads
       SET instrumented = 'NO'
     WHERE processlist_id = in_connection_id;

    SELECT CONCAT('Disabled ', @rows := ROW_COUNT(), ' thread', IF(@rows != 1, 's', '')) AS summary;
END
--@ DROP PROCEDURE
DROP PROCEDURE IF EXISTS create_synonym_db
--@ PREPARE
PREPARE stmt FROM @str
--@ DEALLOCATE
DROP PREPARE stmt
--@ SET
--
-- The system tables of MySQL Server
--

set sql_mode='', default_storage_engine=Aria
