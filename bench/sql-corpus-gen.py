#!/usr/bin/env python3
"""Regenerates bench/sql-corpus-postgres.txt and bench/sql-corpus-mysql.txt: realistic statement
mixes (OLTP ~60%, reporting ~25%, DDL ~8%, transaction/session control) for the SQL analysis
benchmark (agent/benches/analysis.rs, agent/examples/analysis_throughput.rs). The same shapes
recur with different literal values, as on a real server. Deterministic (fixed seed).

    python3 bench/sql-corpus-gen.py
"""
import random
from pathlib import Path

R = random.Random(20240501)


def n(lo=1, hi=100000):
    return R.randint(lo, hi)


def money():
    return f"{R.randint(1, 99999) / 100:.2f}"


def day():
    return f"2024-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"


def ts():
    return f"{day()} {R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d}"


def email():
    return f"{R.choice(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'])}{n(1, 9999)}@{R.choice(['example.com', 'mail.test', 'corp.local'])}"


def word():
    return R.choice(["new", "paid", "shipped", "cancelled", "refunded", "pending"])


def sb_c():
    return "-".join(f"{R.randint(0, 99999999999):011d}" for _ in range(10))


def sb_pad():
    return "-".join(f"{R.randint(0, 99999999999):011d}" for _ in range(5))


# --- PostgreSQL --------------------------------------------------------------------------------
def pg_pgbench():
    aid, tid, bid, delta = n(1, 1000000), n(1, 100), n(1, 10), R.randint(-5000, 5000)
    return [
        "BEGIN;",
        f"UPDATE pgbench_accounts SET abalance = abalance + {delta} WHERE aid = {aid};",
        f"SELECT abalance FROM pgbench_accounts WHERE aid = {aid};",
        f"UPDATE pgbench_tellers SET tbalance = tbalance + {delta} WHERE tid = {tid};",
        f"UPDATE pgbench_branches SET bbalance = bbalance + {delta} WHERE bid = {bid};",
        f"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ({tid}, {bid}, {aid}, {delta}, CURRENT_TIMESTAMP);",
        "END;",
    ]


PG_OLTP = [
    lambda: f"SELECT abalance FROM pgbench_accounts WHERE aid = {n(1, 1000000)};",
    lambda: f"SELECT id, email, name FROM users WHERE id = {n()}",
    lambda: f"SELECT * FROM users WHERE email = '{email()}' LIMIT 1",
    lambda: f"INSERT INTO users (email, name, created_at) VALUES ('{email()}', '{R.choice(['Alice', 'Bob', 'Carol'])} {n(1, 99)}', now()) RETURNING id",
    lambda: f"UPDATE users SET last_login = now() WHERE id = {n()}",
    lambda: f"DELETE FROM sessions WHERE expires_at < now() - interval '{n(1, 48)} hours'",
    lambda: f"INSERT INTO counters (name, n) VALUES ('hits:{n(1, 500)}', {n(1, 5)}) ON CONFLICT (name) DO UPDATE SET n = counters.n + excluded.n RETURNING n",
    lambda: f"INSERT INTO orders (user_id, total, status) VALUES ({n()}, {money()}, 'new'), ({n()}, {money()}, 'new')",
    lambda: f"UPDATE orders SET status = '{word()}', shipped_at = now() WHERE id = {n()} AND status = 'paid' RETURNING id, status",
    lambda: f"SELECT id FROM jobs WHERE status = 'queued' ORDER BY priority DESC, id LIMIT {R.choice([1, 5, 10, 50])} FOR UPDATE SKIP LOCKED",
    lambda: f"UPDATE jobs SET status = 'running', started_at = now() WHERE id = {n()}",
    lambda: f"SELECT \"django_session\".\"session_key\", \"django_session\".\"session_data\", \"django_session\".\"expire_date\" FROM \"django_session\" WHERE (\"django_session\".\"expire_date\" > '{day()}T10:00:00+00:00'::timestamptz AND \"django_session\".\"session_key\" = 'k{n(10**9, 10**10)}') LIMIT 21",
    lambda: f"SELECT \"auth_user\".\"id\", \"auth_user\".\"password\", \"auth_user\".\"last_login\", \"auth_user\".\"username\" FROM \"auth_user\" WHERE \"auth_user\".\"id\" = {n(1, 5000)} LIMIT 21",
    lambda: f"SELECT \"posts\".* FROM \"posts\" WHERE \"posts\".\"author_id\" = {n(1, 5000)} ORDER BY \"posts\".\"created_at\" DESC LIMIT {R.choice([10, 20, 25])}",
    lambda: f"select u1_0.id,u1_0.email,u1_0.name from users u1_0 where u1_0.id={n()}",
    lambda: f"select o1_0.id,o1_0.total,i1_0.order_id,i1_0.id,i1_0.qty from orders o1_0 left join order_items i1_0 on o1_0.id=i1_0.order_id where o1_0.user_id={n()}",
    lambda: f"SELECT id, name, price FROM products WHERE category_id = {n(1, 40)} AND price BETWEEN {n(1, 50)} AND {n(51, 500)} ORDER BY price LIMIT 20 OFFSET {R.choice([0, 20, 40, 60])}",
    lambda: f"UPDATE products SET stock = stock - {n(1, 3)} WHERE id = {n(1, 20000)} AND stock > 0",
    lambda: f"INSERT INTO audit.log (actor, action, target, logged_at) VALUES ('svc-{R.choice(['billing', 'shop', 'auth'])}', '{R.choice(['refund', 'login', 'update'])}', 'order:{n()}', now())",
    lambda: f"SELECT id, email FROM users WHERE id IN ({', '.join(str(n()) for _ in range(R.randint(2, 8)))})",
    lambda: f"DELETE FROM cart_items WHERE cart_id = {n()} AND product_id = {n(1, 20000)} RETURNING product_id, qty",
    lambda: f"UPDATE accounts a SET balance = a.balance - t.amount FROM transfers t WHERE t.src = a.id AND t.id = {n()}",
    lambda: f"SELECT u.id, u.email FROM users u WHERE u.email ILIKE '%@{R.choice(['example.com', 'mail.test'])}' AND u.active LIMIT {n(10, 100)}",
]

PG_REPORTING = [
    lambda: f"WITH monthly AS (SELECT date_trunc('month', o.created_at) AS month, sum(o.total) AS revenue FROM orders o WHERE o.status = 'paid' AND o.created_at >= '{day()}' GROUP BY 1) SELECT month, revenue, revenue - lag(revenue) OVER (ORDER BY month) AS delta FROM monthly ORDER BY month",
    lambda: f"SELECT c.name AS category, p.name AS product, sum(oi.qty) AS units, sum(oi.qty * oi.price) AS revenue FROM order_items oi JOIN orders o ON o.id = oi.order_id JOIN products p ON p.id = oi.product_id JOIN categories c ON c.id = p.category_id WHERE o.created_at >= '{day()}' AND o.created_at < '{day()}' GROUP BY c.name, p.name HAVING sum(oi.qty) > {n(1, 50)} ORDER BY revenue DESC LIMIT {R.choice([10, 20, 50])}",
    lambda: f"SELECT * FROM (SELECT o.*, rank() OVER (PARTITION BY o.user_id ORDER BY o.total DESC) AS r FROM orders o WHERE o.created_at > now() - interval '{n(1, 90)} days') ranked WHERE r <= {n(1, 5)}",
    lambda: f"SELECT u.id, u.email, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS order_count FROM users u WHERE u.active AND u.created_at > '{day()}' ORDER BY order_count DESC LIMIT {n(10, 100)}",
    lambda: f"SELECT email FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > {n(100, 5000)})",
    lambda: f"SELECT date_trunc('day', created_at) AS day, count(*) FILTER (WHERE status = 'paid') AS paid, count(*) FILTER (WHERE status = 'failed') AS failed FROM payments WHERE created_at >= '{day()}' GROUP BY 1 ORDER BY 1",
    lambda: f"WITH active AS (SELECT id FROM users WHERE last_login > now() - interval '{n(1, 60)} days'), spend AS (SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id) SELECT a.id, coalesce(s.total, 0) FROM active a LEFT JOIN spend s ON s.user_id = a.id",
    lambda: f"SELECT id, email FROM users WHERE created_at > now() - interval '{n(1, 30)} days' UNION SELECT id, email FROM archived_users WHERE deleted_at > now() - interval '{n(1, 30)} days'",
    lambda: f"SELECT u.id, last_o.total FROM users u CROSS JOIN LATERAL (SELECT o.total FROM orders o WHERE o.user_id = u.id ORDER BY o.created_at DESC LIMIT 1) last_o WHERE u.id < {n()}",
    lambda: f"SELECT c.id, c.name, sum(o.total) AS lifetime FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status <> 'refunded' GROUP BY c.id, c.name ORDER BY lifetime DESC LIMIT {n(10, 500)}",
    lambda: f"SELECT day, revenue, avg(revenue) OVER (ORDER BY day ROWS BETWEEN {n(2, 30)} PRECEDING AND CURRENT ROW) AS ma FROM reporting.daily_revenue WHERE day >= '{day()}'",
    lambda: f"WITH RECURSIVE tree AS (SELECT id, parent_id, name, 1 AS depth FROM categories WHERE id = {n(1, 40)} UNION ALL SELECT c.id, c.parent_id, c.name, t.depth + 1 FROM categories c JOIN tree t ON c.parent_id = t.id) SELECT * FROM tree ORDER BY depth",
]

PG_DDL = [
    lambda: f"CREATE TEMP TABLE tmp_import_{n(1, 50)} (id bigint, payload jsonb)",
    lambda: f"DROP TABLE IF EXISTS tmp_import_{n(1, 50)}",
    lambda: f"CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_{n(1, 20)}_idx ON orders (created_at)",
    lambda: f"ALTER TABLE users ADD COLUMN IF NOT EXISTS attr_{n(1, 30)} text",
    lambda: f"CREATE TABLE IF NOT EXISTS events_{2024}_{R.randint(1, 12):02d} (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id), payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    lambda: f"TRUNCATE TABLE staging_{R.choice(['orders', 'users', 'events'])}",
    lambda: f"CREATE OR REPLACE VIEW recent_orders AS SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.created_at > now() - interval '{n(1, 30)} days'",
]

PG_CONTROL = [
    lambda: "BEGIN",
    lambda: "COMMIT",
    lambda: "ROLLBACK",
    lambda: f"SET statement_timeout = '{n(1, 60)}s'",
    lambda: f"SET application_name = 'worker-{n(1, 16)}'",
    lambda: "SHOW transaction_isolation",
    lambda: f"SAVEPOINT s{n(1, 10**6)}_x1",
]

# --- MySQL -------------------------------------------------------------------------------------
def my_sysbench():
    t, i = n(1, 8), n(1, 100000)
    return [
        "BEGIN",
        f"SELECT c FROM sbtest{t} WHERE id={i}",
        f"SELECT c FROM sbtest{t} WHERE id BETWEEN {i} AND {i + 99}",
        f"SELECT SUM(k) FROM sbtest{t} WHERE id BETWEEN {i} AND {i + 99}",
        f"SELECT c FROM sbtest{t} WHERE id BETWEEN {i} AND {i + 99} ORDER BY c",
        f"SELECT DISTINCT c FROM sbtest{t} WHERE id BETWEEN {i} AND {i + 99} ORDER BY c",
        f"UPDATE sbtest{t} SET k=k+1 WHERE id={n(1, 100000)}",
        f"UPDATE sbtest{t} SET c='{sb_c()}' WHERE id={n(1, 100000)}",
        f"DELETE FROM sbtest{t} WHERE id={i}",
        f"INSERT INTO sbtest{t} (id, k, c, pad) VALUES ({i}, {n(1, 100000)}, '{sb_c()}', '{sb_pad()}')",
        "COMMIT",
    ]


MY_OLTP = [
    lambda: f"SELECT option_value FROM wp_options WHERE option_name = '{R.choice(['siteurl', 'home', 'blogname', 'cron', 'active_plugins'])}' LIMIT 1",
    lambda: f"SELECT wp_posts.* FROM wp_posts WHERE 1=1 AND wp_posts.post_type = 'post' AND (wp_posts.post_status = 'publish') ORDER BY wp_posts.post_date DESC LIMIT {R.choice([0, 10, 20])}, 10",
    lambda: f"SELECT post_id, meta_key, meta_value FROM wp_postmeta WHERE post_id IN ({','.join(str(n(1, 9000)) for _ in range(R.randint(1, 6)))}) ORDER BY meta_id ASC",
    lambda: f"INSERT INTO `wp_options` (`option_name`, `option_value`, `autoload`) VALUES ('_transient_feed_{n(10**6, 10**7):x}', 'a:0:{{}}', 'no') ON DUPLICATE KEY UPDATE `option_name` = VALUES(`option_name`), `option_value` = VALUES(`option_value`), `autoload` = VALUES(`autoload`)",
    lambda: f"SELECT `users`.* FROM `users` WHERE `users`.`id` = {n()} LIMIT 1",
    lambda: f"INSERT INTO `users` (`email`, `created_at`, `updated_at`) VALUES ('{email()}', '{ts()}', '{ts()}')",
    lambda: f"UPDATE `users` SET `users`.`sign_in_count` = {n(1, 500)}, `users`.`updated_at` = '{ts()}' WHERE `users`.`id` = {n()}",
    lambda: f"select * from `users` where `email` = '{email()}' and `users`.`deleted_at` is null limit 1",
    lambda: f"update `posts` set `views` = `views` + 1, `posts`.`updated_at` = '{ts()}' where `id` = {n()}",
    lambda: f"select `posts`.*, `users`.`name` as `author` from `posts` left join `users` on `users`.`id` = `posts`.`user_id` where `posts`.`published_at` <= '{ts()}' order by `posts`.`published_at` desc limit 15 offset {R.choice([0, 15, 30])}",
    lambda: f"select u1_0.id,u1_0.email from users u1_0 where u1_0.email='{email()}'",
    lambda: f"update orders set status='{word()}',version={n(1, 20)} where id={n()} and version={n(1, 20)}",
    lambda: f"INSERT INTO inventory (sku, qty) VALUES ('SKU-{n(1, 9999)}', {n(1, 50)}) ON DUPLICATE KEY UPDATE qty = qty + VALUES(qty)",
    lambda: f"UPDATE orders o JOIN users u ON u.id = o.user_id SET o.email = u.email WHERE o.email IS NULL AND o.id > {n()}",
    lambda: f"DELETE FROM logs WHERE created_at < DATE_SUB(NOW(), INTERVAL {n(1, 30)} DAY) LIMIT {R.choice([1000, 5000])}",
    lambda: f"SELECT * FROM orders WHERE id = {n()} FOR UPDATE",
    lambda: f"SELECT balance FROM accounts WHERE id = {n()} FOR SHARE",
    lambda: f"UPDATE accounts SET balance = balance - {money()} WHERE id = {n()}",
    lambda: f"INSERT INTO transfers (src, dst, amount, created_at) VALUES ({n()}, {n()}, {money()}, NOW(6))",
    lambda: f"SELECT id FROM users WHERE email LIKE '{R.choice(['a', 'b', 'c', 'd'])}%' ORDER BY id DESC LIMIT 10",
    lambda: "SELECT LAST_INSERT_ID()",
]

MY_REPORTING = [
    lambda: f"SELECT u.id, u.name, COUNT(o.id) AS orders FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at > '{day()}' GROUP BY u.id, u.name HAVING COUNT(o.id) > {n(1, 20)} ORDER BY orders DESC",
    lambda: f"WITH monthly AS (SELECT DATE_FORMAT(created_at, '%Y-%m') AS ym, SUM(total) AS revenue FROM orders WHERE created_at >= '{day()}' GROUP BY ym) SELECT ym, revenue FROM monthly ORDER BY ym",
    lambda: f"SELECT `c`.`name`, SUM(`oi`.`qty` * `oi`.`price`) AS `revenue` FROM `order_items` `oi` JOIN `products` `p` ON `p`.`id` = `oi`.`product_id` JOIN `categories` `c` ON `c`.`id` = `p`.`category_id` WHERE `oi`.`created_at` >= '{day()}' GROUP BY `c`.`name` ORDER BY `revenue` DESC LIMIT {n(5, 50)}",
    lambda: f"SELECT t.user_id, t.n FROM (SELECT user_id, COUNT(*) AS n FROM orders WHERE created_at >= '{day()}' GROUP BY user_id) AS t WHERE t.n > {n(1, 30)}",
    lambda: f"SELECT u.country, COUNT(DISTINCT o.user_id) AS buyers, AVG(o.total) FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status = 'paid' AND o.created_at >= '{day()}' GROUP BY u.country HAVING buyers > {n(1, 200)} ORDER BY buyers DESC LIMIT 10",
    lambda: f"WITH ranked AS (SELECT p.id, p.category_id, p.price, ROW_NUMBER() OVER (PARTITION BY p.category_id ORDER BY p.price DESC) AS rn FROM products p WHERE p.stock > {n(0, 10)}) SELECT id, category_id, price FROM ranked WHERE rn <= {n(1, 5)}",
    lambda: f"SELECT o.id, (SELECT SUM(oi.qty) FROM order_items oi WHERE oi.order_id = o.id) AS items FROM orders o WHERE o.created_at > NOW() - INTERVAL {n(1, 7)} DAY",
    lambda: f"SELECT p.id, p.name, SUM(oi.qty) AS sold FROM products p JOIN order_items oi ON oi.product_id = p.id JOIN orders o ON o.id = oi.order_id WHERE o.created_at >= CURDATE() - INTERVAL {n(7, 90)} DAY GROUP BY p.id, p.name ORDER BY sold DESC LIMIT 10",
    lambda: f"SELECT DATE(created_at) AS d, COUNT(*) AS n, SUM(total) AS revenue FROM orders WHERE created_at >= '{day()}' GROUP BY DATE(created_at) ORDER BY d",
    lambda: f"SELECT id, 'user' AS src FROM users WHERE name LIKE '{R.choice(['a', 'b', 'm'])}%' UNION ALL SELECT id, 'admin' FROM admins WHERE name LIKE '{R.choice(['a', 'b', 'm'])}%'",
    lambda: f"SELECT name FROM products WHERE id NOT IN (SELECT product_id FROM order_items WHERE created_at > '{day()}')",
]

MY_DDL = [
    lambda: f"CREATE TABLE IF NOT EXISTS `tmp_import_{n(1, 50)}` (`id` bigint unsigned NOT NULL AUTO_INCREMENT, `payload` json NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    lambda: f"DROP TABLE IF EXISTS `tmp_import_{n(1, 50)}`",
    lambda: f"ALTER TABLE users ADD COLUMN attr_{n(1, 30)} VARCHAR(64) NULL AFTER email",
    lambda: f"CREATE INDEX idx_created_{n(1, 20)} ON orders (created_at)",
    lambda: f"TRUNCATE TABLE staging_{R.choice(['orders', 'users', 'events'])}",
    lambda: f"ALTER TABLE orders ADD CONSTRAINT fk_user_{n(1, 9)} FOREIGN KEY (user_id) REFERENCES users (id)",
    lambda: "CREATE TABLE sbtest1(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id)) /*! ENGINE = innodb */",
]

MY_CONTROL = [
    lambda: "START TRANSACTION",
    lambda: "COMMIT",
    lambda: "ROLLBACK",
    lambda: "SET autocommit=1",
    lambda: "SET NAMES utf8mb4",
    lambda: f"SET SESSION wait_timeout = {n(60, 28800)}",
    lambda: "SHOW WARNINGS",
    lambda: "SELECT @@session.transaction_isolation",
]


def mix(txn, oltp, reporting, ddl, control, target):
    out = []
    while len(out) < target:
        r = R.random()
        if r < 0.25:
            out.extend(txn())
        elif r < 0.62:
            out.append(R.choice(oltp)())
        elif r < 0.87:
            out.append(R.choice(reporting)())
        elif r < 0.95:
            out.append(R.choice(ddl)())
        else:
            out.append(R.choice(control)())
    return out


HEADER = """-- SQL analysis benchmark corpus ({dialect}): one statement per line; lines starting with `--`
-- and blank lines are not statements. Generated by bench/sql-corpus-gen.py (OLTP, reporting,
-- DDL, transaction and session control; recurring shapes with varying literals).
"""


def main():
    root = Path(__file__).resolve().parent
    for dialect, stmts in [
        ("postgres", mix(pg_pgbench, PG_OLTP, PG_REPORTING, PG_DDL, PG_CONTROL, 320)),
        ("mysql", mix(my_sysbench, MY_OLTP, MY_REPORTING, MY_DDL, MY_CONTROL, 320)),
    ]:
        for s in stmts:
            assert "\n" not in s
        text = HEADER.format(dialect=dialect) + "\n".join(stmts) + "\n"
        (root / f"sql-corpus-{dialect}.txt").write_text(text)


if __name__ == "__main__":
    main()
