/*
 * A MySQL C-API client (MariaDB Connector/C, Debian's libmariadb-dev) for the conformance tests:
 * binary prepared statements of several parameter types, a read-only cursor fetched with
 * COM_STMT_FETCH, COM_STMT_SEND_LONG_DATA, statement reset and close, multi-statements,
 * COM_INIT_DB and COM_PING, and errors.
 *
 *   mysql_client conformance HOST PORT        the broad workload (database dbgovtest)
 *   mysql_client big HOST PORT NPARAMS SIZE   one COM_STMT_EXECUTE of an INSERT with NPARAMS
 *                                             string parameters of SIZE bytes each
 *
 * Prints one line per phase to stdout; exits non-zero on any unexpected failure.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(MYSQL *c, const char *what) {
    fprintf(stderr, "%s: %s\n", what, c ? mysql_error(c) : "?");
    exit(1);
}

static void sdie(MYSQL_STMT *s, const char *what) {
    fprintf(stderr, "%s: %s\n", what, mysql_stmt_error(s));
    exit(1);
}

static MYSQL *connect_to(const char *host, unsigned port) {
    MYSQL *c = mysql_init(NULL);
    if (!c) die(NULL, "mysql_init");
    if (!mysql_real_connect(c, host, "root", "", "dbgovtest", port, NULL, CLIENT_MULTI_STATEMENTS))
        die(c, "connect");
    return c;
}

static void query(MYSQL *c, const char *sql) {
    if (mysql_query(c, sql)) die(c, sql);
    /* Drain every result of a (multi-)statement. */
    do {
        MYSQL_RES *r = mysql_store_result(c);
        if (r) mysql_free_result(r);
    } while (mysql_next_result(c) == 0);
}

static MYSQL_STMT *prepare(MYSQL *c, const char *sql) {
    MYSQL_STMT *s = mysql_stmt_init(c);
    if (!s) die(c, "stmt_init");
    if (mysql_stmt_prepare(s, sql, (unsigned long)strlen(sql))) sdie(s, sql);
    return s;
}

static int conformance(const char *host, unsigned port) {
    MYSQL *c = connect_to(host, port);
    query(c, "DROP TABLE IF EXISTS capi_items");
    query(c, "CREATE TABLE capi_items (id INT PRIMARY KEY, name VARCHAR(64), price DOUBLE, "
             "note TEXT, created DATETIME, blobby MEDIUMBLOB)");

    /* Inserts: INT, VARCHAR, DOUBLE, TEXT or NULL, DATETIME. */
    MYSQL_STMT *ins = prepare(c, "INSERT INTO capi_items (id, name, price, note, created) "
                                 "VALUES (?, ?, ?, ?, ?)");
    int id = 0;
    char name[64];
    unsigned long name_len = 0;
    double price = 0;
    char note[64];
    unsigned long note_len = 0;
    my_bool note_null = 0;
    MYSQL_TIME created;
    MYSQL_BIND b[5];
    memset(b, 0, sizeof b);
    memset(&created, 0, sizeof created);
    b[0].buffer_type = MYSQL_TYPE_LONG;
    b[0].buffer = &id;
    b[1].buffer_type = MYSQL_TYPE_STRING;
    b[1].buffer = name;
    b[1].length = &name_len;
    b[2].buffer_type = MYSQL_TYPE_DOUBLE;
    b[2].buffer = &price;
    b[3].buffer_type = MYSQL_TYPE_STRING;
    b[3].buffer = note;
    b[3].length = &note_len;
    b[3].is_null = &note_null;
    b[4].buffer_type = MYSQL_TYPE_DATETIME;
    b[4].buffer = &created;
    if (mysql_stmt_bind_param(ins, b)) sdie(ins, "bind insert");
    for (id = 1; id <= 200; id++) {
        name_len = (unsigned long)snprintf(name, sizeof name, "item %d", id);
        price = id * 1.25;
        note_null = (id % 7 == 0);
        note_len = (unsigned long)snprintf(note, sizeof note, "it's note %d", id);
        created.year = 2024;
        created.month = 1 + id % 12;
        created.day = 1 + id % 28;
        created.hour = id % 24;
        created.time_type = MYSQL_TIMESTAMP_DATETIME;
        if (mysql_stmt_execute(ins)) sdie(ins, "execute insert");
    }
    /* A duplicate key: the execute fails on the server. */
    id = 5;
    if (mysql_stmt_execute(ins) == 0) {
        fprintf(stderr, "duplicate insert unexpectedly succeeded\n");
        return 1;
    }
    mysql_stmt_close(ins);
    printf("inserts done\n");

    /* Selects with bound results. */
    MYSQL_STMT *sel = prepare(c, "SELECT id, name, price FROM capi_items WHERE id BETWEEN ? AND ?");
    int lo = 0, hi = 0;
    MYSQL_BIND p[2];
    memset(p, 0, sizeof p);
    p[0].buffer_type = MYSQL_TYPE_LONG;
    p[0].buffer = &lo;
    p[1].buffer_type = MYSQL_TYPE_LONG;
    p[1].buffer = &hi;
    if (mysql_stmt_bind_param(sel, p)) sdie(sel, "bind select");
    int rid = 0;
    double rprice = 0;
    char rname[64];
    unsigned long rname_len = 0;
    MYSQL_BIND r[3];
    memset(r, 0, sizeof r);
    r[0].buffer_type = MYSQL_TYPE_LONG;
    r[0].buffer = &rid;
    r[1].buffer_type = MYSQL_TYPE_STRING;
    r[1].buffer = rname;
    r[1].buffer_length = sizeof rname;
    r[1].length = &rname_len;
    r[2].buffer_type = MYSQL_TYPE_DOUBLE;
    r[2].buffer = &rprice;
    if (mysql_stmt_bind_result(sel, r)) sdie(sel, "bind result");
    long rows = 0;
    for (int k = 0; k < 60; k++) {
        lo = k * 3;
        hi = lo + k % 5;
        if (mysql_stmt_execute(sel)) sdie(sel, "execute select");
        if (mysql_stmt_store_result(sel)) sdie(sel, "store select");
        while (mysql_stmt_fetch(sel) == 0) rows++;
        mysql_stmt_free_result(sel);
    }
    mysql_stmt_close(sel);
    printf("selects done: %ld rows\n", rows);

    /* A read-only cursor: the rows come with COM_STMT_FETCH, 7 at a time. */
    MYSQL_STMT *cur = mysql_stmt_init(c);
    unsigned long type = CURSOR_TYPE_READ_ONLY;
    unsigned long prefetch = 7;
    mysql_stmt_attr_set(cur, STMT_ATTR_CURSOR_TYPE, &type);
    mysql_stmt_attr_set(cur, STMT_ATTR_PREFETCH_ROWS, &prefetch);
    const char *cur_sql = "SELECT id, name FROM capi_items WHERE id > ? ORDER BY id";
    if (mysql_stmt_prepare(cur, cur_sql, (unsigned long)strlen(cur_sql))) sdie(cur, cur_sql);
    MYSQL_BIND cp[1];
    memset(cp, 0, sizeof cp);
    cp[0].buffer_type = MYSQL_TYPE_LONG;
    cp[0].buffer = &lo;
    if (mysql_stmt_bind_param(cur, cp)) sdie(cur, "bind cursor");
    MYSQL_BIND cr[2];
    memset(cr, 0, sizeof cr);
    cr[0].buffer_type = MYSQL_TYPE_LONG;
    cr[0].buffer = &rid;
    cr[1].buffer_type = MYSQL_TYPE_STRING;
    cr[1].buffer = rname;
    cr[1].buffer_length = sizeof rname;
    cr[1].length = &rname_len;
    if (mysql_stmt_bind_result(cur, cr)) sdie(cur, "bind cursor result");
    rows = 0;
    for (int k = 0; k < 5; k++) {
        lo = 150 + k * 10;
        if (mysql_stmt_execute(cur)) sdie(cur, "execute cursor");
        int rc;
        while ((rc = mysql_stmt_fetch(cur)) == 0) rows++;
        if (rc != MYSQL_NO_DATA) sdie(cur, "fetch cursor");
        mysql_stmt_free_result(cur);
    }
    mysql_stmt_close(cur);
    printf("cursor done: %ld rows\n", rows);

    /* Long data: two parameters sent in chunks with COM_STMT_SEND_LONG_DATA. */
    MYSQL_STMT *up = prepare(c, "UPDATE capi_items SET blobby = ?, note = ? WHERE id = ?");
    MYSQL_BIND u[3];
    memset(u, 0, sizeof u);
    u[0].buffer_type = MYSQL_TYPE_BLOB;
    u[1].buffer_type = MYSQL_TYPE_STRING;
    u[2].buffer_type = MYSQL_TYPE_LONG;
    u[2].buffer = &id;
    if (mysql_stmt_bind_param(up, u)) sdie(up, "bind update");
    char chunk[4096];
    for (int k = 0; k < 12; k++) {
        id = 10 + k;
        for (int part = 0; part < 3; part++) {
            memset(chunk, 'a' + (k + part) % 26, sizeof chunk);
            if (mysql_stmt_send_long_data(up, 0, chunk, sizeof chunk)) sdie(up, "long data 0");
        }
        memset(chunk, 'n', 100);
        if (mysql_stmt_send_long_data(up, 1, chunk, 100)) sdie(up, "long data 1");
        if (mysql_stmt_execute(up)) sdie(up, "execute update");
        if (k % 4 == 3 && mysql_stmt_reset(up)) sdie(up, "reset");
    }
    mysql_stmt_close(up);
    printf("long data done\n");

    /* A statement without parameters, executed repeatedly. */
    MYSQL_STMT *cnt = prepare(c, "SELECT COUNT(*) FROM capi_items");
    for (int k = 0; k < 20; k++) {
        if (mysql_stmt_execute(cnt)) sdie(cnt, "execute count");
        if (mysql_stmt_store_result(cnt)) sdie(cnt, "store count");
        mysql_stmt_free_result(cnt);
    }
    mysql_stmt_close(cnt);

    /* Multi-statements in one COM_QUERY, text-protocol queries, errors, ping, COM_INIT_DB. */
    query(c, "SELECT 1; UPDATE capi_items SET price = price + 1 WHERE id < 10; "
             "SELECT COUNT(*) FROM capi_items WHERE note IS NULL");
    for (int k = 0; k < 50; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT name, price FROM capi_items WHERE id = %d", k);
        query(c, sql);
    }
    if (mysql_query(c, "SELEC broken syntax") == 0) {
        fprintf(stderr, "syntax error unexpectedly accepted\n");
        return 1;
    }
    if (mysql_ping(c)) die(c, "ping");
    if (mysql_select_db(c, "otherdb")) die(c, "select_db");
    query(c, "CREATE TABLE IF NOT EXISTS capi_other (id INT)");
    query(c, "INSERT INTO capi_other VALUES (1), (2), (3)");
    MYSQL_STMT *o = prepare(c, "SELECT id FROM capi_other WHERE id >= ?");
    MYSQL_BIND op[1];
    memset(op, 0, sizeof op);
    op[0].buffer_type = MYSQL_TYPE_LONG;
    op[0].buffer = &lo;
    lo = 2;
    if (mysql_stmt_bind_param(o, op)) sdie(o, "bind other");
    if (mysql_stmt_execute(o)) sdie(o, "execute other");
    if (mysql_stmt_store_result(o)) sdie(o, "store other");
    mysql_stmt_free_result(o);
    mysql_stmt_close(o);
    mysql_close(c);
    printf("conformance workload done\n");
    return 0;
}

/* One INSERT of `n` string parameters of `size` bytes each. */
static int big(const char *host, unsigned port, int n, int size) {
    MYSQL *c = connect_to(host, port);
    query(c, "CREATE TABLE IF NOT EXISTS big_exec (v VARCHAR(4000))");
    size_t cap = (size_t)n * 4 + 64;
    char *sql = malloc(cap);
    if (!sql) return 1;
    size_t len = (size_t)snprintf(sql, cap, "INSERT INTO big_exec (v) VALUES (?)");
    for (int k = 1; k < n; k++) len += (size_t)snprintf(sql + len, cap - len, ",(?)");
    MYSQL_STMT *s = prepare(c, sql);
    MYSQL_BIND *b = calloc((size_t)n, sizeof *b);
    unsigned long *lens = calloc((size_t)n, sizeof *lens);
    char *val = malloc((size_t)size);
    if (!b || !lens || !val) return 1;
    memset(val, 'v', (size_t)size);
    for (int k = 0; k < n; k++) {
        b[k].buffer_type = MYSQL_TYPE_STRING;
        b[k].buffer = val;
        lens[k] = (unsigned long)size;
        b[k].length = &lens[k];
    }
    if (mysql_stmt_bind_param(s, b)) sdie(s, "bind big");
    if (mysql_stmt_execute(s)) sdie(s, "execute big");
    printf("big execute done: %llu rows\n", (unsigned long long)mysql_stmt_affected_rows(s));
    mysql_stmt_close(s);
    query(c, "SELECT COUNT(*) FROM big_exec");
    mysql_close(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "conformance") == 0)
        return conformance(argv[2], (unsigned)atoi(argv[3]));
    if (argc >= 6 && strcmp(argv[1], "big") == 0)
        return big(argv[2], (unsigned)atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: %s conformance HOST PORT | big HOST PORT NPARAMS SIZE\n", argv[0]);
    return 2;
}
