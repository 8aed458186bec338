//! Scope-aware walk of a parsed statement: which real tables it touches, which `table.column`
//! pairs it reads and writes, which tables it selects `*` from, which bare columns could not be
//! tied to one table, and whether its UPDATE/DELETE statements have a WHERE clause. Also derives
//! the statement kind (`"SELECT"`, `"DROP TABLE"`, ...) from the AST or, as a fallback, from the
//! first keywords of a text.
//!
//! Scopes: each query level has a CTE scope (names of the WITH list) and each SELECT (and each
//! UPDATE/DELETE/INSERT ... RETURNING) has a select scope mapping its aliases and table names to
//! sources. `alias.col` is looked up from the innermost scope outward; a bare `col` belongs to the
//! innermost select scope that has any source, and is resolved only when that scope has exactly
//! one source which is a real table. Subqueries (in FROM, in expressions, in CTEs) get their own
//! scopes. sqlparser's `Visitor` drives expression walking (a subquery met inside an expression is
//! walked with a fresh scope on top of the current ones), and `visit_relations` supplements the
//! explicit `match` for statement types that are not walked in detail.
//!
//! Details a reader would expect: `JOIN ... USING (c)` reads `c` of both sides; named windows
//! (`WINDOW w AS (...)`) are read; MySQL `VALUES(col)` in `ON DUPLICATE KEY UPDATE` and
//! PostgreSQL `excluded.col` name the proposed row, not stored data; `MATCH (a, b) AGAINST`
//! reads `a` and `b`; MERGE writes the target's columns; CREATE TABLE ... AS SELECT writes the new
//! table's columns; tables referenced by foreign keys, `CREATE TABLE ... LIKE`, `ALTER TABLE ...
//! RENAME TO`, GRANT/REVOKE on tables, `COMMENT ON TABLE/COLUMN`, `SHOW CREATE TABLE` and `LOCK
//! TABLES` are tables of the statement. DDL column definitions are not accesses.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_relations, AlterTableOperation, AssignmentTarget, ColumnDef, ColumnOption, CommentObject,
    ConflictTarget, CopySource, CreateTableLikeKind, Expr, FromTable, FunctionArguments,
    GrantObjects, GroupByExpr, Ident, Insert, JoinConstraint, JoinOperator, MergeAction,
    MergeClause, MergeInsertKind, ObjectName, ObjectNamePart, ObjectType, OnConflictAction,
    OnInsert, Query, RenameTableNameKind, Select, SelectItem, SelectItemQualifiedWildcardKind,
    SetExpr, ShowCreateObject, Statement, TableConstraint, TableFactor, TableObject,
    TableWithJoins, UpdateTableFromKind, Visit, Visitor,
};

/// What a walk over one or more statements found.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub tables: BTreeSet<String>,
    pub read: BTreeSet<String>,
    pub written: BTreeSet<String>,
    pub star: BTreeSet<String>,
    pub unresolved: BTreeSet<String>,
    /// Some WHERE clause was seen anywhere.
    pub any_where: bool,
    /// `Some(all had one)` when UPDATE/DELETE statements were seen.
    pub dml_where: Option<bool>,
    /// Names that look like relations but are not tables: CTE names, table functions.
    non_tables: BTreeSet<String>,
}

#[derive(Debug)]
enum Source {
    Table(String),
    Derived,
}

#[derive(Debug)]
struct Entry {
    keys: [Option<String>; 2],
    source: Source,
}

#[derive(Debug, Default)]
struct Scope {
    select: bool,
    entries: Vec<Entry>,
    ctes: Vec<String>,
    aliases: Vec<String>,
}

impl Scope {
    fn select() -> Self {
        Scope {
            select: true,
            ..Scope::default()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Bare words sqlparser may hand over as identifiers that are not columns.
const PSEUDO_COLUMNS: &[&str] = &[
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "localtime",
    "localtimestamp",
    "session_user",
];

/// Lower-cases an unquoted identifier; a quoted one is kept as written.
pub(crate) fn norm_ident(id: &Ident) -> String {
    if id.quote_style.is_none() {
        id.value.to_lowercase()
    } else {
        id.value.clone()
    }
}

/// `schema.table` with each part normalised as by [`norm_ident`].
pub(crate) fn norm_name(name: &ObjectName) -> String {
    let mut out = String::new();
    for (i, part) in name.0.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match part {
            ObjectNamePart::Identifier(id) => out.push_str(&norm_ident(id)),
            other => out.push_str(&other.to_string().to_lowercase()),
        }
    }
    out
}

fn last_part(name: &ObjectName) -> Option<String> {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(id)) => Some(norm_ident(id)),
        _ => None,
    }
}

struct ExprWalker<'a> {
    c: &'a mut Collected,
    scopes: &'a mut Vec<Scope>,
    depth: usize,
    idents: bool,
    aliases: bool,
    access: Access,
    /// Address of an expression whose identifiers are not columns (`VALUES(col)`), while
    /// inside it.
    skip: Option<usize>,
}

impl Visitor for ExprWalker<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            self.c.walk_query(query, self.scopes);
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.skip == Some(std::ptr::from_ref(expr) as usize) {
            self.skip = None;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.depth > 0 || !self.idents || self.skip.is_some() {
            return ControlFlow::Continue(());
        }
        match expr {
            // MySQL `VALUES(col)` (ON DUPLICATE KEY UPDATE) is the proposed row's value.
            Expr::Function(f)
                if matches!(&f.args, FunctionArguments::List(_))
                    && f.name.0.len() == 1
                    && last_part(&f.name).is_some_and(|n| n == "values") =>
            {
                self.skip = Some(std::ptr::from_ref(expr) as usize);
            }
            Expr::MatchAgainst { columns, .. } => {
                for c in columns {
                    let parts: Vec<Ident> =
                        c.0.iter().filter_map(|p| p.as_ident().cloned()).collect();
                    self.c.qualified_column(&parts, self.scopes, self.access);
                }
            }
            Expr::Identifier(id) => self
                .c
                .bare_column(id, self.scopes, self.access, self.aliases),
            Expr::CompoundIdentifier(parts) => {
                self.c.qualified_column(parts, self.scopes, self.access)
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

impl Collected {
    /// Walks one statement. Relations the detailed walk does not reach are added from
    /// sqlparser's `visit_relations`.
    pub(crate) fn statement(&mut self, stmt: &Statement) {
        let mut scopes = Vec::new();
        self.walk_statement(stmt, &mut scopes);
        // Bodies of stored programs and triggers run later, not now; and a SHOW's `FROM db`
        // names a database. Their relations are not tables of this statement.
        if matches!(
            stmt,
            Statement::CreateTrigger(_)
                | Statement::CreateFunction(_)
                | Statement::CreateProcedure { .. }
                | Statement::ShowTables { .. }
                | Statement::ShowViews { .. }
                | Statement::ShowObjects(_)
        ) {
            return;
        }
        let mut extra = Vec::new();
        let _ = visit_relations(stmt, |name| {
            extra.push(norm_name(name));
            ControlFlow::<()>::Continue(())
        });
        for name in extra {
            if !self.non_tables.contains(&name) {
                self.tables.insert(name);
            }
        }
    }

    fn visit_with<V: Visit + ?Sized>(
        &mut self,
        node: &V,
        scopes: &mut Vec<Scope>,
        access: Access,
        aliases: bool,
    ) {
        let mut w = ExprWalker {
            c: self,
            scopes,
            depth: 0,
            idents: true,
            aliases,
            access,
            skip: None,
        };
        let _ = node.visit(&mut w);
    }

    fn read<V: Visit + ?Sized>(&mut self, node: &V, scopes: &mut Vec<Scope>) {
        self.visit_with(node, scopes, Access::Read, false);
    }

    /// Walks only the queries inside `node`, ignoring its top-level identifiers.
    fn queries_only<V: Visit + ?Sized>(&mut self, node: &V, scopes: &mut Vec<Scope>) {
        let mut w = ExprWalker {
            c: self,
            scopes,
            depth: 0,
            idents: false,
            aliases: false,
            access: Access::Read,
            skip: None,
        };
        let _ = node.visit(&mut w);
    }

    fn note_dml_where(&mut self, has: bool) {
        self.dml_where = Some(self.dml_where.unwrap_or(true) && has);
        if has {
            self.any_where = true;
        }
    }

    fn walk_statement(&mut self, stmt: &Statement, scopes: &mut Vec<Scope>) {
        match stmt {
            Statement::Query(q) => self.walk_query(q, scopes),
            Statement::Insert(ins) => self.walk_insert(ins, scopes),
            Statement::Update {
                table,
                assignments,
                from,
                selection,
                returning,
                limit,
                ..
            } => {
                scopes.push(Scope::select());
                let mut pending = Vec::new();
                self.add_table_with_joins(table, scopes, &mut pending);
                if let Some(UpdateTableFromKind::BeforeSet(f) | UpdateTableFromKind::AfterSet(f)) =
                    from
                {
                    for twj in f {
                        self.add_table_with_joins(twj, scopes, &mut pending);
                    }
                }
                for op in pending {
                    self.read(op, scopes);
                }
                let target = match (&table.relation, table.joins.is_empty()) {
                    (
                        TableFactor::Table {
                            name, args: None, ..
                        },
                        true,
                    ) => {
                        let n = norm_name(name);
                        (!self.non_tables.contains(&n)).then_some(n)
                    }
                    _ => None,
                };
                for a in assignments {
                    self.assignment_target(&a.target, target.as_deref(), scopes);
                    self.read(&a.value, scopes);
                }
                if let Some(sel) = selection {
                    self.read(sel, scopes);
                }
                self.note_dml_where(selection.is_some());
                if let Some(items) = returning {
                    self.select_items(items, scopes);
                }
                if let Some(l) = limit {
                    self.read(l, scopes);
                }
                scopes.pop();
            }
            Statement::Delete(d) => {
                scopes.push(Scope::select());
                let mut pending = Vec::new();
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
                for twj in from {
                    self.add_table_with_joins(twj, scopes, &mut pending);
                }
                for twj in d.using.iter().flatten() {
                    self.add_table_with_joins(twj, scopes, &mut pending);
                }
                for op in pending {
                    self.read(op, scopes);
                }
                // MySQL multi-table form: `DELETE t1 FROM t1 JOIN t2 ...` names targets by alias.
                for name in &d.tables {
                    let key = norm_name(name);
                    match lookup(scopes, &key) {
                        Some(Source::Table(t)) => {
                            self.tables.insert(t.clone());
                        }
                        Some(Source::Derived) => {}
                        None => {
                            self.tables.insert(key);
                        }
                    }
                }
                if let Some(sel) = &d.selection {
                    self.read(sel, scopes);
                }
                self.note_dml_where(d.selection.is_some());
                if let Some(items) = &d.returning {
                    self.select_items(items, scopes);
                }
                for ob in &d.order_by {
                    self.read(ob, scopes);
                }
                if let Some(l) = &d.limit {
                    self.read(l, scopes);
                }
                scopes.pop();
            }
            Statement::Drop {
                object_type,
                names,
                table,
                ..
            } => {
                if matches!(
                    object_type,
                    ObjectType::Table | ObjectType::View | ObjectType::MaterializedView
                ) {
                    for n in names {
                        self.tables.insert(norm_name(n));
                    }
                }
                if let Some(t) = table {
                    self.tables.insert(norm_name(t));
                }
            }
            Statement::Truncate { table_names, .. } => {
                for t in table_names {
                    self.tables.insert(norm_name(&t.name));
                }
            }
            Statement::Copy { source, to, .. } => match source {
                CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let t = norm_name(table_name);
                    let set = if *to {
                        &mut self.read
                    } else {
                        &mut self.written
                    };
                    for c in columns {
                        set.insert(dotted(&t, &norm_ident(c)));
                    }
                    if columns.is_empty() && *to {
                        self.star.insert(t.clone());
                    }
                    self.tables.insert(t);
                }
                CopySource::Query(q) => self.walk_query(q, scopes),
            },
            Statement::RenameTable(renames) => {
                for r in renames {
                    self.tables.insert(norm_name(&r.old_name));
                    self.tables.insert(norm_name(&r.new_name));
                }
            }
            Statement::Explain { statement, .. } => self.walk_statement(statement, scopes),
            Statement::CreateView { name, query, .. } => {
                self.tables.insert(norm_name(name));
                self.walk_query(query, scopes);
            }
            Statement::CreateTable(ct) => {
                let t = norm_name(&ct.name);
                self.tables.insert(t.clone());
                for parent in ct.inherits.iter().flatten() {
                    self.tables.insert(norm_name(parent));
                }
                // MySQL MERGE tables: `UNION = (t1, t2)` names the underlying tables.
                if let sqlparser::ast::CreateTableOptions::Plain(options) = &ct.table_options {
                    for o in options {
                        if let sqlparser::ast::SqlOption::NamedParenthesizedList(l) = o {
                            if l.key.value.eq_ignore_ascii_case("union") {
                                for t in &l.values {
                                    self.tables.insert(norm_ident(t));
                                }
                            }
                        }
                    }
                }
                // MySQL reads `CREATE TABLE t (LIKE s)` as one column named `like` of type `s`.
                if let [c] = ct.columns.as_slice() {
                    if c.name.quote_style.is_none() && c.name.value.eq_ignore_ascii_case("like") {
                        if let sqlparser::ast::DataType::Custom(n, _) = &c.data_type {
                            self.tables.insert(norm_name(n));
                        }
                    }
                }
                if let Some(CreateTableLikeKind::Parenthesized(l) | CreateTableLikeKind::Plain(l)) =
                    &ct.like
                {
                    self.tables.insert(norm_name(&l.name));
                }
                for c in &ct.columns {
                    self.column_def(c);
                }
                for c in &ct.constraints {
                    self.table_constraint(c);
                }
                if let Some(q) = &ct.query {
                    self.walk_query(q, scopes);
                    // CREATE TABLE ... AS SELECT writes the new table's columns: the listed ones,
                    // else the query's output names.
                    let names = if ct.columns.is_empty() {
                        output_names(q)
                    } else {
                        ct.columns.iter().map(|c| norm_ident(&c.name)).collect()
                    };
                    for n in names {
                        self.written.insert(dotted(&t, &n));
                    }
                }
            }
            Statement::AlterTable {
                name, operations, ..
            } => {
                self.tables.insert(norm_name(name));
                for op in operations {
                    match op {
                        AlterTableOperation::AddConstraint { constraint, .. } => {
                            self.table_constraint(constraint)
                        }
                        AlterTableOperation::AddColumn { column_def, .. } => {
                            self.column_def(column_def)
                        }
                        AlterTableOperation::RenameTable {
                            table_name: RenameTableNameKind::To(n) | RenameTableNameKind::As(n),
                        } => {
                            self.tables.insert(norm_name(n));
                        }
                        _ => {}
                    }
                }
                self.queries_only(operations, scopes);
            }
            Statement::Grant { objects, .. } | Statement::Revoke { objects, .. } => {
                if let Some(GrantObjects::Tables(names) | GrantObjects::Views(names)) = objects {
                    for n in names {
                        // MySQL `db.*` and `*.*` name every table of a database, not one table.
                        if last_part(n).is_some_and(|l| l != "*") {
                            self.tables.insert(norm_name(n));
                        }
                    }
                }
            }
            Statement::ShowCreate { obj_type, obj_name } => {
                if matches!(obj_type, ShowCreateObject::Table | ShowCreateObject::View) {
                    self.tables.insert(norm_name(obj_name));
                }
            }
            Statement::Comment {
                object_type,
                object_name,
                ..
            } => match object_type {
                CommentObject::Table => {
                    self.tables.insert(norm_name(object_name));
                }
                CommentObject::Column if object_name.0.len() > 1 => {
                    let table = ObjectName(
                        object_name
                            .0
                            .get(..object_name.0.len() - 1)
                            .unwrap_or_default()
                            .to_vec(),
                    );
                    self.tables.insert(norm_name(&table));
                }
                _ => {}
            },
            Statement::CreateTrigger(t) => {
                self.tables.insert(norm_name(&t.table_name));
            }
            Statement::DropTrigger(t) => {
                if let Some(n) = &t.table_name {
                    self.tables.insert(norm_name(n));
                }
            }
            Statement::DropPolicy { table_name, .. } => {
                self.tables.insert(norm_name(table_name));
            }
            Statement::Vacuum(v) => {
                if let Some(n) = &v.table_name {
                    self.tables.insert(norm_name(n));
                }
            }
            Statement::Flush { tables, .. } => {
                for n in tables {
                    self.tables.insert(norm_name(n));
                }
            }
            Statement::ShowVariable { variable } => {
                // MySQL `SHOW INDEX|INDEXES|KEYS FROM t [FROM db]`, as sqlparser reads it.
                let words: Vec<String> = variable.iter().map(norm_ident).collect();
                if let [kw, from, rest @ ..] = words.as_slice() {
                    if matches!(kw.as_str(), "index" | "indexes" | "keys")
                        && matches!(from.as_str(), "from" | "in")
                    {
                        match rest {
                            [t] => {
                                self.tables.insert(t.clone());
                            }
                            [t, from, db] if matches!(from.as_str(), "from" | "in") => {
                                self.tables.insert(format!("{db}.{t}"));
                            }
                            _ => {}
                        }
                    }
                }
            }
            Statement::LockTables { tables } => {
                for t in tables {
                    self.tables.insert(norm_ident(&t.table));
                }
            }
            Statement::Merge {
                table,
                source,
                on,
                clauses,
                ..
            } => self.walk_merge(table, source, on, clauses, scopes),
            other => self.queries_only(other, scopes),
        }
    }

    /// MERGE: target and source are in scope; WHEN clauses write the target's columns.
    fn walk_merge(
        &mut self,
        table: &TableFactor,
        source: &TableFactor,
        on: &Expr,
        clauses: &[MergeClause],
        scopes: &mut Vec<Scope>,
    ) {
        scopes.push(Scope::select());
        let mut pending = Vec::new();
        self.add_table_factor(table, scopes, &mut pending);
        self.add_table_factor(source, scopes, &mut pending);
        for op in pending {
            self.read(op, scopes);
        }
        let target = match table {
            TableFactor::Table {
                name, args: None, ..
            } => Some(norm_name(name)),
            _ => None,
        };
        self.read(on, scopes);
        for clause in clauses {
            if let Some(p) = &clause.predicate {
                self.read(p, scopes);
            }
            match &clause.action {
                MergeAction::Update { assignments } => {
                    for a in assignments {
                        self.assignment_target(&a.target, target.as_deref(), scopes);
                        self.read(&a.value, scopes);
                    }
                }
                MergeAction::Insert(ins) => {
                    if let Some(t) = &target {
                        for c in &ins.columns {
                            self.written.insert(dotted(t, &norm_ident(c)));
                        }
                    }
                    if let MergeInsertKind::Values(v) = &ins.kind {
                        self.read(v, scopes);
                    }
                }
                MergeAction::Delete => {}
            }
        }
        scopes.pop();
    }

    fn column_def(&mut self, c: &ColumnDef) {
        for o in &c.options {
            if let ColumnOption::ForeignKey { foreign_table, .. } = &o.option {
                self.tables.insert(norm_name(foreign_table));
            }
        }
    }

    fn table_constraint(&mut self, c: &TableConstraint) {
        if let TableConstraint::ForeignKey { foreign_table, .. } = c {
            self.tables.insert(norm_name(foreign_table));
        }
    }

    fn walk_insert(&mut self, ins: &Insert, scopes: &mut Vec<Scope>) {
        let target = match &ins.table {
            TableObject::TableName(n) => Some(norm_name(n)),
            _ => None,
        };
        if let Some(t) = &target {
            self.tables.insert(t.clone());
            for c in ins.columns.iter().chain(&ins.after_columns) {
                self.written.insert(dotted(t, &norm_ident(c)));
            }
        }
        if let Some(src) = &ins.source {
            self.walk_query(src, scopes);
        }
        scopes.push(Scope::select());
        if let Some(t) = &target {
            let alias = ins.table_alias.as_ref().map(norm_ident);
            let keys = match alias {
                Some(a) => [Some(a), None],
                None => [Some(t.clone()), last_of(t)],
            };
            if let Some(s) = scopes.last_mut() {
                s.entries.push(Entry {
                    keys,
                    source: Source::Table(t.clone()),
                });
                if matches!(ins.on, Some(OnInsert::OnConflict(_))) {
                    // PostgreSQL ON CONFLICT: `excluded.col` is the proposed row.
                    s.entries.push(Entry {
                        keys: [Some("excluded".to_string()), None],
                        source: Source::Derived,
                    });
                }
            }
        }
        for a in &ins.assignments {
            self.assignment_target(&a.target, target.as_deref(), scopes);
            self.read(&a.value, scopes);
        }
        match &ins.on {
            Some(OnInsert::DuplicateKeyUpdate(assignments)) => {
                for a in assignments {
                    self.assignment_target(&a.target, target.as_deref(), scopes);
                    self.read(&a.value, scopes);
                }
            }
            Some(OnInsert::OnConflict(oc)) => {
                if let (Some(ConflictTarget::Columns(cols)), Some(t)) =
                    (&oc.conflict_target, &target)
                {
                    for c in cols {
                        self.read.insert(dotted(t, &norm_ident(c)));
                    }
                }
                if let OnConflictAction::DoUpdate(du) = &oc.action {
                    for a in &du.assignments {
                        self.assignment_target(&a.target, target.as_deref(), scopes);
                        self.read(&a.value, scopes);
                    }
                    if let Some(sel) = &du.selection {
                        self.read(sel, scopes);
                    }
                }
            }
            _ => {}
        }
        if let Some(items) = &ins.returning {
            self.select_items(items, scopes);
        }
        scopes.pop();
    }

    /// A SET target: bare names belong to `target` when known, else resolve like any column.
    fn assignment_target(
        &mut self,
        t: &AssignmentTarget,
        target: Option<&str>,
        scopes: &mut [Scope],
    ) {
        let names: &[ObjectName] = match t {
            AssignmentTarget::ColumnName(n) => std::slice::from_ref(n),
            AssignmentTarget::Tuple(ns) => ns,
        };
        for n in names {
            let idents: Vec<Ident> = n.0.iter().filter_map(|p| p.as_ident().cloned()).collect();
            match (idents.as_slice(), target) {
                ([single], Some(t)) => {
                    self.written.insert(dotted(t, &norm_ident(single)));
                }
                ([single], None) => self.bare_column(single, scopes, Access::Write, false),
                (parts, _) => self.qualified_column(parts, scopes, Access::Write),
            }
        }
    }

    fn walk_query(&mut self, q: &Query, scopes: &mut Vec<Scope>) {
        scopes.push(Scope::default());
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let name = norm_ident(&cte.alias.name);
                self.non_tables.insert(name.clone());
                if with.recursive {
                    if let Some(s) = scopes.last_mut() {
                        s.ctes.push(name.clone());
                    }
                }
                self.walk_query(&cte.query, scopes);
                if !with.recursive {
                    if let Some(s) = scopes.last_mut() {
                        s.ctes.push(name);
                    }
                }
            }
        }
        let pushed = self.walk_set_expr(&q.body, scopes);
        if let Some(ob) = &q.order_by {
            self.visit_with(ob, scopes, Access::Read, true);
        }
        if let Some(l) = &q.limit_clause {
            self.read(l, scopes);
        }
        if let Some(f) = &q.fetch {
            self.read(f, scopes);
        }
        if pushed {
            scopes.pop();
        }
        scopes.pop();
    }

    /// Returns true when a select scope was left pushed (the caller pops it after ORDER BY).
    fn walk_set_expr(&mut self, body: &SetExpr, scopes: &mut Vec<Scope>) -> bool {
        match body {
            SetExpr::Select(s) => {
                self.walk_select(s, scopes);
                true
            }
            SetExpr::Query(q) => {
                self.walk_query(q, scopes);
                false
            }
            SetExpr::SetOperation { left, right, .. } => {
                for side in [left, right] {
                    if self.walk_set_expr(side, scopes) {
                        scopes.pop();
                    }
                }
                false
            }
            SetExpr::Values(v) => {
                self.read(v, scopes);
                false
            }
            SetExpr::Insert(st)
            | SetExpr::Update(st)
            | SetExpr::Delete(st)
            | SetExpr::Merge(st) => {
                self.walk_statement(st, scopes);
                false
            }
            SetExpr::Table(t) => {
                if let Some(name) = &t.table_name {
                    let full = match &t.schema_name {
                        Some(s) => format!("{s}.{name}").to_lowercase(),
                        None => name.to_lowercase(),
                    };
                    self.tables.insert(full);
                }
                false
            }
        }
    }

    /// Pushes the SELECT's scope and walks it; the caller pops the scope.
    fn walk_select(&mut self, s: &Select, scopes: &mut Vec<Scope>) {
        // PostgreSQL `SELECT ... INTO [TABLE] t` creates `t`; MySQL `INTO @var` names a variable.
        if let Some(into) = &s.into {
            let t = norm_name(&into.name);
            if !t.starts_with('@') {
                self.tables.insert(t);
            }
        }
        scopes.push(Scope::select());
        let mut pending = Vec::new();
        for twj in &s.from {
            self.add_table_with_joins(twj, scopes, &mut pending);
        }
        for item in &s.projection {
            if let SelectItem::ExprWithAlias { alias, .. } = item {
                if let Some(sc) = scopes.last_mut() {
                    sc.aliases.push(norm_ident(alias));
                }
            }
        }
        for op in pending {
            self.read(op, scopes);
        }
        self.select_items(&s.projection, scopes);
        for e in [&s.prewhere, &s.selection].into_iter().flatten() {
            self.any_where = true;
            self.read(e, scopes);
        }
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            for e in exprs {
                self.visit_with(e, scopes, Access::Read, true);
            }
        }
        if let Some(h) = &s.having {
            self.visit_with(h, scopes, Access::Read, true);
        }
        if let Some(q) = &s.qualify {
            self.visit_with(q, scopes, Access::Read, true);
        }
        for e in s.cluster_by.iter().chain(&s.distribute_by) {
            self.read(e, scopes);
        }
        for e in &s.sort_by {
            self.visit_with(e, scopes, Access::Read, true);
        }
        self.read(&s.named_window, scopes);
        self.queries_only(&s.lateral_views, scopes);
        self.queries_only(&s.connect_by, scopes);
    }

    fn select_items(&mut self, items: &[SelectItem], scopes: &mut Vec<Scope>) {
        for item in items {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    self.read(e, scopes)
                }
                SelectItem::Wildcard(_) => {
                    let tables: Vec<String> = innermost_select(scopes)
                        .map(|s| {
                            s.entries
                                .iter()
                                .filter_map(|e| match &e.source {
                                    Source::Table(t) => Some(t.clone()),
                                    Source::Derived => None,
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    self.star.extend(tables);
                }
                SelectItem::QualifiedWildcard(kind, _) => match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        let key = norm_name(n);
                        match lookup(scopes, &key) {
                            Some(Source::Table(t)) => {
                                self.star.insert(t.clone());
                            }
                            Some(Source::Derived) => {}
                            None => {
                                self.unresolved.insert(format!("{key}.*"));
                            }
                        }
                    }
                    SelectItemQualifiedWildcardKind::Expr(e) => self.read(e, scopes),
                },
            }
        }
    }

    fn add_table_with_joins<'a>(
        &mut self,
        twj: &'a TableWithJoins,
        scopes: &mut Vec<Scope>,
        pending: &mut Vec<&'a sqlparser::ast::JoinOperator>,
    ) {
        let start = scopes.last().map_or(0, |s| s.entries.len());
        self.add_table_factor(&twj.relation, scopes, pending);
        for j in &twj.joins {
            let mid = scopes.last().map_or(0, |s| s.entries.len());
            self.add_table_factor(&j.relation, scopes, pending);
            pending.push(&j.join_operator);
            if let Some(cols) = using_columns(&j.join_operator) {
                self.using_columns(cols, scopes, start, mid);
            }
        }
    }

    /// `JOIN ... USING (c)` reads `c` of both sides: of each side that is one real table.
    fn using_columns(&mut self, cols: &[ObjectName], scopes: &[Scope], start: usize, mid: usize) {
        let Some(scope) = scopes.last() else {
            return;
        };
        let sides = [
            scope.entries.get(start..mid).unwrap_or_default(),
            scope.entries.get(mid..).unwrap_or_default(),
        ];
        for col in cols.iter().filter_map(last_part) {
            for side in sides {
                match side {
                    [Entry {
                        source: Source::Table(t),
                        ..
                    }] => {
                        self.read.insert(dotted(t, &col));
                    }
                    [Entry {
                        source: Source::Derived,
                        ..
                    }] => {}
                    _ => {
                        self.unresolved.insert(col.clone());
                    }
                }
            }
        }
    }

    fn add_table_factor<'a>(
        &mut self,
        tf: &'a TableFactor,
        scopes: &mut Vec<Scope>,
        pending: &mut Vec<&'a sqlparser::ast::JoinOperator>,
    ) {
        let alias_key = |alias: &Option<sqlparser::ast::TableAlias>| {
            alias.as_ref().map(|a| norm_ident(&a.name))
        };
        let entry = match tf {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                let full = norm_name(name);
                let alias = alias_key(alias);
                if let Some(a) = args {
                    self.read(a, scopes);
                    self.non_tables.insert(full.clone());
                    Entry {
                        keys: [alias.or(Some(full)), None],
                        source: Source::Derived,
                    }
                } else if name.0.len() == 1 && cte_visible(scopes, &full) {
                    Entry {
                        keys: [alias.or(Some(full)), None],
                        source: Source::Derived,
                    }
                } else {
                    self.tables.insert(full.clone());
                    let keys = match alias {
                        Some(a) => [Some(a), None],
                        None => [Some(full.clone()), last_part(name).filter(|l| *l != full)],
                    };
                    Entry {
                        keys,
                        source: Source::Table(full),
                    }
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                self.walk_query(subquery, scopes);
                Entry {
                    keys: [alias_key(alias), None],
                    source: Source::Derived,
                }
            }
            TableFactor::TableFunction { expr, alias } => {
                self.read(expr, scopes);
                Entry {
                    keys: [alias_key(alias), None],
                    source: Source::Derived,
                }
            }
            TableFactor::Function {
                name, args, alias, ..
            } => {
                self.non_tables.insert(norm_name(name));
                self.read(args, scopes);
                Entry {
                    keys: [alias_key(alias), None],
                    source: Source::Derived,
                }
            }
            TableFactor::UNNEST {
                alias, array_exprs, ..
            } => {
                self.read(array_exprs, scopes);
                Entry {
                    keys: [alias_key(alias), None],
                    source: Source::Derived,
                }
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.add_table_with_joins(table_with_joins, scopes, pending);
                return;
            }
            TableFactor::Pivot { table, .. }
            | TableFactor::Unpivot { table, .. }
            | TableFactor::MatchRecognize { table, .. } => {
                self.add_table_factor(table, scopes, pending);
                return;
            }
            other => {
                self.read(other, scopes);
                return;
            }
        };
        if let Some(s) = scopes.last_mut() {
            s.entries.push(entry);
        }
    }

    fn bare_column(&mut self, id: &Ident, scopes: &[Scope], access: Access, aliases: bool) {
        let col = norm_ident(id);
        if id.quote_style.is_none()
            && (col.starts_with('@') || PSEUDO_COLUMNS.binary_search(&col.as_str()).is_ok())
        {
            return;
        }
        if aliases {
            if let Some(s) = innermost_select(scopes) {
                if s.aliases.contains(&col) {
                    return;
                }
            }
        }
        let scope = scopes
            .iter()
            .rev()
            .find(|s| s.select && !s.entries.is_empty());
        let resolved = match scope.map(|s| s.entries.as_slice()) {
            Some(
                [Entry {
                    source: Source::Table(t),
                    ..
                }],
            ) => Some(dotted(t, &col)),
            _ => None,
        };
        match resolved {
            Some(qualified) => {
                self.set(access).insert(qualified);
            }
            None => {
                self.unresolved.insert(col);
            }
        }
    }

    fn qualified_column(&mut self, parts: &[Ident], scopes: &[Scope], access: Access) {
        let Some((col, quals)) = parts.split_last() else {
            return;
        };
        if quals.is_empty() {
            self.bare_column(col, scopes, access, false);
            return;
        }
        let col = norm_ident(col);
        let q = quals.iter().map(norm_ident).collect::<Vec<_>>().join(".");
        match lookup(scopes, &q) {
            Some(Source::Table(t)) => {
                let qualified = dotted(t, &col);
                self.set(access).insert(qualified);
            }
            Some(Source::Derived) => {}
            None => {
                self.unresolved.insert(dotted(&q, &col));
            }
        }
    }

    fn set(&mut self, access: Access) -> &mut BTreeSet<String> {
        match access {
            Access::Read => &mut self.read,
            Access::Write => &mut self.written,
        }
    }
}

/// The column list of a `USING (...)` join.
fn using_columns(op: &JoinOperator) -> Option<&[ObjectName]> {
    let c = match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c)
        | JoinOperator::StraightJoin(c)
        | JoinOperator::AsOf { constraint: c, .. } => c,
        JoinOperator::CrossApply | JoinOperator::OuterApply => return None,
    };
    match c {
        JoinConstraint::Using(cols) => Some(cols),
        _ => None,
    }
}

/// Output column names of a query's first SELECT (aliases, plain and qualified column names);
/// unnamed expressions and wildcards are skipped.
fn output_names(q: &Query) -> Vec<String> {
    let mut body = q.body.as_ref();
    loop {
        match body {
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            _ => break,
        }
    }
    let SetExpr::Select(s) = body else {
        return Vec::new();
    };
    s.projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(norm_ident(alias)),
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(norm_ident(id)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(norm_ident)
            }
            _ => None,
        })
        .collect()
}

/// `a.b` without the formatting machinery (called for every column reference).
fn dotted(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + 1 + b.len());
    s.push_str(a);
    s.push('.');
    s.push_str(b);
    s
}

fn last_of(full: &str) -> Option<String> {
    full.rsplit_once('.').map(|(_, l)| l.to_string())
}

fn innermost_select(scopes: &[Scope]) -> Option<&Scope> {
    scopes.iter().rev().find(|s| s.select)
}

fn lookup<'s>(scopes: &'s [Scope], key: &str) -> Option<&'s Source> {
    scopes.iter().rev().find_map(|s| {
        s.entries
            .iter()
            .find(|e| e.keys.iter().flatten().any(|k| k == key))
            .map(|e| &e.source)
    })
}

fn cte_visible(scopes: &[Scope], name: &str) -> bool {
    scopes.iter().any(|s| s.ctes.iter().any(|c| c == name))
}

/// The kind of a parsed statement, upper case (`"SELECT"`, `"DROP TABLE"`, ...).
pub(crate) fn statement_kind(stmt: &Statement) -> String {
    let kind = match stmt {
        Statement::Query(q) => match q.body.as_ref() {
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
                return statement_kind(s)
            }
            _ => "SELECT",
        },
        Statement::Insert(i) if i.replace_into => "REPLACE",
        Statement::Insert(_) => "INSERT",
        Statement::Update { .. } => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge { .. } => "MERGE",
        Statement::Drop { object_type, .. } => return format!("DROP {object_type}"),
        Statement::Truncate { .. } => "TRUNCATE",
        Statement::CreateTable(_) => "CREATE TABLE",
        Statement::CreateView {
            materialized: true, ..
        } => "CREATE MATERIALIZED VIEW",
        Statement::CreateView { .. } => "CREATE VIEW",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::CreateSchema { .. } => "CREATE SCHEMA",
        Statement::CreateDatabase { .. } => "CREATE DATABASE",
        Statement::AlterTable { .. } => "ALTER TABLE",
        Statement::StartTransaction { .. } => "BEGIN",
        Statement::Commit { .. } => "COMMIT",
        Statement::Rollback { .. } => "ROLLBACK",
        Statement::Savepoint { .. } => "SAVEPOINT",
        Statement::Set(_) => "SET",
        Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. } => "SHOW",
        Statement::Copy { .. } => "COPY",
        Statement::Use(_) => "USE",
        Statement::Explain { .. } => "EXPLAIN",
        Statement::ExplainTable { .. } => "DESCRIBE",
        Statement::Grant { .. } => "GRANT",
        Statement::Revoke { .. } => "REVOKE",
        other => return kind_from_text(&other.to_string()),
    };
    kind.to_string()
}

/// Leading keywords recognised as statement kinds when the kind comes from text.
const COMMANDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYZE",
    "BEGIN",
    "BINLOG",
    "CACHE",
    "CALL",
    "CHANGE",
    "CHECK",
    "CHECKPOINT",
    "CHECKSUM",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "FLUSH",
    "GRANT",
    "HANDLER",
    "HELP",
    "IMPORT",
    "INSERT",
    "INSTALL",
    "KILL",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "OPTIMIZE",
    "PREPARE",
    "PURGE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPAIR",
    "REPLACE",
    "RESET",
    "RESTART",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "SHUTDOWN",
    "START",
    "STOP",
    "TABLE",
    "TRUNCATE",
    "UNINSTALL",
    "UNLISTEN",
    "UNLOCK",
    "UPDATE",
    "USE",
    "VACUUM",
    "VALUES",
    "WITH",
    "XA",
];

/// Words skipped between CREATE/DROP/ALTER and the object type.
const DDL_MODIFIERS: &[&str] = &[
    "ALGORITHM",
    "CONSTRAINT",
    "DEFINER",
    "EXTERNAL",
    "FULLTEXT",
    "GLOBAL",
    "IGNORE",
    "INVOKER",
    "LOCAL",
    "OFFLINE",
    "ONLINE",
    "OR",
    "PROCEDURAL",
    "RECURSIVE",
    "REPLACE",
    "SECURITY",
    "SPATIAL",
    "SQL",
    "TEMP",
    "TEMPORARY",
    "TRANSIENT",
    "TRUSTED",
    "UNIQUE",
    "UNLOGGED",
    "VOLATILE",
];

/// Iterates `(paren depth, word)` over a text, leaving out quoted sections.
struct Words<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        while self.pos < b.len() {
            let c = b.get(self.pos).copied().unwrap_or(0);
            match c {
                b'(' => {
                    self.depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.pos += 1;
                }
                b'\'' | b'"' | b'`' => {
                    let rest = self.text.get(self.pos + 1..).unwrap_or("");
                    self.pos = match rest.find(char::from(c)) {
                        Some(p) => self.pos + 2 + p,
                        None => b.len(),
                    };
                }
                _ if c.is_ascii_alphabetic() || c == b'_' => {
                    let start = self.pos;
                    while self
                        .text
                        .as_bytes()
                        .get(self.pos)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    {
                        self.pos += 1;
                    }
                    return Some((self.depth, self.text.get(start..self.pos).unwrap_or("")));
                }
                _ => self.pos += 1,
            }
        }
        None
    }
}

/// A statement kind from the first keyword(s) of a text (used when parsing failed or was
/// skipped, and for statement types not matched explicitly). `"UNKNOWN"` when the text does not
/// start with a known command keyword; `""` for a text without any word.
///
/// Multi-word kinds follow PostgreSQL's command tags where there is one (`ALTER DEFAULT
/// PRIVILEGES`, `CREATE EVENT TRIGGER`, `SECURITY LABEL`, `COMMIT PREPARED`, `SET CONSTRAINTS`)
/// and MySQL's statement names otherwise (`START SLAVE`, `CHANGE MASTER`).
pub(crate) fn kind_from_text(text: &str) -> String {
    let mut words = Words {
        text,
        pos: 0,
        depth: 0,
    };
    let Some((depth0, first)) = words.next() else {
        return String::new();
    };
    let first = first.to_ascii_uppercase();
    if !COMMANDS.contains(&first.as_str()) {
        return "UNKNOWN".to_string();
    }
    let next = |words: &mut Words<'_>| words.next().map(|(_, w)| w.to_ascii_uppercase());
    match first.as_str() {
        "WITH" => {
            for (d, w) in words {
                let w = w.to_ascii_uppercase();
                if d == depth0
                    && matches!(
                        w.as_str(),
                        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE"
                    )
                {
                    return w;
                }
            }
            "SELECT".to_string()
        }
        "TABLE" | "VALUES" => "SELECT".to_string(),
        "START" => match next(&mut words) {
            Some(w) if w == "TRANSACTION" => "BEGIN".to_string(),
            Some(w) => format!("START {w}"),
            None => first,
        },
        "STOP" => match next(&mut words) {
            Some(w) => format!("STOP {w}"),
            None => first,
        },
        "RENAME" => match next(&mut words) {
            Some(w) => format!("RENAME {w}"),
            None => first,
        },
        "END" => "COMMIT".to_string(),
        "ABORT" => "ROLLBACK".to_string(),
        "DESC" => "DESCRIBE".to_string(),
        "COMMIT" | "ROLLBACK" => match next(&mut words) {
            Some(w) if w == "PREPARED" => format!("{first} PREPARED"),
            _ => first,
        },
        "PREPARE" => match next(&mut words) {
            Some(w) if w == "TRANSACTION" => "PREPARE TRANSACTION".to_string(),
            _ => first,
        },
        "SET" => match next(&mut words) {
            Some(w) if w == "CONSTRAINTS" => "SET CONSTRAINTS".to_string(),
            _ => first,
        },
        "SECURITY" => match next(&mut words) {
            Some(w) if w == "LABEL" => "SECURITY LABEL".to_string(),
            _ => first,
        },
        "IMPORT" => match next(&mut words) {
            Some(w) if w == "FOREIGN" => "IMPORT FOREIGN SCHEMA".to_string(),
            _ => first,
        },
        "REASSIGN" => "REASSIGN OWNED".to_string(),
        "CHANGE" => {
            // `CHANGE MASTER TO`, `CHANGE REPLICATION SOURCE TO`, `CHANGE REPLICATION FILTER`.
            let mut kind = first;
            for _ in 0..2 {
                match next(&mut words) {
                    Some(w) if w != "TO" => {
                        kind.push(' ');
                        kind.push_str(&w);
                        if w != "REPLICATION" {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            kind
        }
        "CREATE" | "DROP" | "ALTER" => ddl_kind(first, &mut words),
        _ => first,
    }
}

/// `CREATE`/`DROP`/`ALTER` plus the object type, skipping modifiers (`OR REPLACE`, `TEMP`,
/// `DEFINER = user`, `ALGORITHM = x`, `SQL SECURITY ...`) and naming multi-word types in full.
fn ddl_kind(verb: String, words: &mut Words<'_>) -> String {
    let next = |words: &mut Words<'_>| words.next().map(|(_, w)| w.to_ascii_uppercase());
    let mut object = None;
    while let Some((_, w)) = words.next() {
        let up = w.to_ascii_uppercase();
        if DDL_MODIFIERS.contains(&up.as_str()) {
            match up.as_str() {
                "DEFINER" => words.skip_assigned_user(),
                "ALGORITHM" => {
                    words.next();
                }
                _ => {}
            }
            continue;
        }
        object = Some(up);
        break;
    }
    let Some(object) = object else {
        return verb;
    };
    let object = match object.as_str() {
        "MATERIALIZED" => match next(words) {
            Some(w) => format!("{object} {w}"),
            None => object,
        },
        "FOREIGN" => match next(words) {
            Some(w) if w == "DATA" => "FOREIGN DATA WRAPPER".to_string(),
            Some(w) => format!("{object} {w}"),
            None => object,
        },
        "TEXT" => match (next(words), next(words)) {
            (Some(s), Some(w)) if s == "SEARCH" => format!("TEXT SEARCH {w}"),
            _ => object,
        },
        "EVENT" | "DEFAULT" | "USER" | "ACCESS" | "OPERATOR" | "AGGREGATE" => {
            match (object.as_str(), next(words).as_deref()) {
                ("EVENT", Some("TRIGGER")) => "EVENT TRIGGER".to_string(),
                ("DEFAULT", Some("PRIVILEGES")) => "DEFAULT PRIVILEGES".to_string(),
                ("USER", Some("MAPPING")) => "USER MAPPING".to_string(),
                ("ACCESS", Some("METHOD")) => "ACCESS METHOD".to_string(),
                ("OPERATOR", Some(w @ ("CLASS" | "FAMILY"))) => format!("OPERATOR {w}"),
                // MySQL `CREATE AGGREGATE FUNCTION`.
                ("AGGREGATE", Some("FUNCTION")) => "FUNCTION".to_string(),
                _ => object,
            }
        }
        // MySQL `DROP PREPARE s` is `DEALLOCATE PREPARE s`.
        "PREPARE" if verb == "DROP" => return "DEALLOCATE".to_string(),
        _ => object,
    };
    format!("{verb} {object}")
}

impl Words<'_> {
    /// After `DEFINER`: skips `= user` (`'u'@'h'`, `` `u`@`h` ``, `u@h`, `CURRENT_USER[()]`),
    /// whose parts may be quoted; nothing when no `=` follows (`SQL SECURITY DEFINER`).
    fn skip_assigned_user(&mut self) {
        let b = self.text.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let skip_ws = |mut i: usize| {
            while at(i).is_ascii_whitespace() {
                i += 1;
            }
            i
        };
        let mut i = skip_ws(self.pos);
        if at(i) != b'=' {
            return;
        }
        i = skip_ws(i + 1);
        loop {
            let c = at(i);
            if matches!(c, b'\'' | b'"' | b'`') {
                i += 1;
                while i < b.len() && at(i) != c {
                    i += 1;
                }
                i += 1;
            } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'%' || c == b'?' {
                while at(i).is_ascii_alphanumeric() || matches!(at(i), b'_' | b'%' | b'.' | b'-') {
                    i += 1;
                }
                if at(i) == b'(' && at(i + 1) == b')' {
                    i += 2;
                }
            } else {
                break;
            }
            let j = skip_ws(i);
            if at(j) != b'@' {
                break;
            }
            i = skip_ws(j + 1);
        }
        self.pos = i.min(b.len());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_lists_are_sorted() {
        for list in [PSEUDO_COLUMNS, COMMANDS, DDL_MODIFIERS] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, list);
        }
    }

    #[test]
    fn kinds_from_text() {
        for (text, kind) in [
            ("select 1", "SELECT"),
            ("(select 1) union (select 2)", "SELECT"),
            ("with a as (select 1) update t set x = ?", "UPDATE"),
            ("with recursive a as (delete from x) select 1", "SELECT"),
            ("drop table if exists x", "DROP TABLE"),
            ("DROP MATERIALIZED VIEW mv", "DROP MATERIALIZED VIEW"),
            ("create or replace temporary view v", "CREATE VIEW"),
            ("create definer = admin view v", "CREATE VIEW"),
            ("create unique index i on t", "CREATE INDEX"),
            ("alter table t add c int", "ALTER TABLE"),
            ("start transaction", "BEGIN"),
            ("end", "COMMIT"),
            ("truncate t", "TRUNCATE"),
            ("use db", "USE"),
            ("desc t", "DESCRIBE"),
            ("rename table a to b", "RENAME TABLE"),
            ("table t", "SELECT"),
            ("drop", "DROP"),
            ("frobnicate", "UNKNOWN"),
            (
                "create definer = `root`@`localhost` procedure p() begin end",
                "CREATE PROCEDURE",
            ),
            (
                "create definer = root@localhost trigger t before insert on x",
                "CREATE TRIGGER",
            ),
            (
                "create definer = current_user() function f() returns int",
                "CREATE FUNCTION",
            ),
            (
                "create algorithm = merge sql security invoker view v as select 1",
                "CREATE VIEW",
            ),
            (
                "create or replace sql security definer view v as select 1",
                "CREATE VIEW",
            ),
            (
                "create constraint trigger t after insert on x",
                "CREATE TRIGGER",
            ),
            ("create fulltext index i on t (a)", "CREATE INDEX"),
            ("alter ignore table t add unique (a)", "ALTER TABLE"),
            (
                "create aggregate function f(x int) returns int",
                "CREATE FUNCTION",
            ),
            (
                "create aggregate s(int) (sfunc = f, stype = int)",
                "CREATE AGGREGATE",
            ),
            (
                "create foreign table ft (a int) server s",
                "CREATE FOREIGN TABLE",
            ),
            (
                "create foreign data wrapper w",
                "CREATE FOREIGN DATA WRAPPER",
            ),
            (
                "create event trigger e on ddl_command_start",
                "CREATE EVENT TRIGGER",
            ),
            (
                "create event e on schedule every 1 day do select 1",
                "CREATE EVENT",
            ),
            (
                "alter default privileges grant select on tables to r",
                "ALTER DEFAULT PRIVILEGES",
            ),
            ("create user mapping for u server s", "CREATE USER MAPPING"),
            ("create user u", "CREATE USER"),
            (
                "alter text search configuration c add mapping",
                "ALTER TEXT SEARCH CONFIGURATION",
            ),
            (
                "create operator class c for type t using btree",
                "CREATE OPERATOR CLASS",
            ),
            (
                "create access method m type index handler h",
                "CREATE ACCESS METHOD",
            ),
            ("drop prepare s", "DEALLOCATE"),
            ("security label on table t is ?", "SECURITY LABEL"),
            (
                "import foreign schema s from server x into y",
                "IMPORT FOREIGN SCHEMA",
            ),
            ("reassign owned by a to b", "REASSIGN OWNED"),
            ("prepare transaction ?", "PREPARE TRANSACTION"),
            ("prepare p as select 1", "PREPARE"),
            ("commit prepared ?", "COMMIT PREPARED"),
            ("rollback prepared ?", "ROLLBACK PREPARED"),
            ("rollback to savepoint a", "ROLLBACK"),
            ("set constraints all deferred", "SET CONSTRAINTS"),
            ("start slave", "START SLAVE"),
            ("stop replica io_thread", "STOP REPLICA"),
            ("change master to master_host = ?", "CHANGE MASTER"),
            (
                "change replication source to source_host = ?",
                "CHANGE REPLICATION SOURCE",
            ),
            ("binlog ?", "BINLOG"),
            ("\u{fffd} ?", ""),
            ("", ""),
            ("'unterminated", ""),
        ] {
            assert_eq!(kind_from_text(text), kind, "{text}");
        }
    }
}
