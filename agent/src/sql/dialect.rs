//! Dialect wrapper that makes sqlparser's expression parsing cheaper without changing what it
//! parses.
//!
//! For every expression that starts with a word, sqlparser 0.59 first tries to read a typed
//! string literal (`DATE '2024-01-01'`): it parses the word as a data type and, for an ordinary
//! column or function name, gives up with an error whose message it formats (with the
//! location). That failed attempt is a large share of parsing time. [`Fast`] answers the common
//! cases directly through the dialect's `parse_prefix` hook, exactly as sqlparser's own path
//! would after the failed attempt: a word without a special meaning at the start of an
//! expression (see [`special_prefix`]) followed by `(` is a function call (parsed by sqlparser's
//! `parse_function`), and followed by anything but `(`, `[`, a string, `->`/`=>` or `COLLATE` is
//! `Expr::Identifier` with the word's span; a number, a string or a placeholder is the value
//! sqlparser's `parse_value` reads. Everything else, and every other dialect method, is
//! forwarded unchanged to the wrapped dialect, and `dialect()` reports the wrapped dialect's type
//! so that sqlparser's dialect checks are unaffected. The tests check that both parse the corpora
//! (and their prefixes) to identical statements.

use std::any::TypeId;
use std::cell::Cell;
use std::iter::Peekable;
use std::str::Chars;

use sqlparser::ast::{
    ColumnOption, Expr, GranteesType, Ident, ObjectName, ObjectNamePart, Statement,
};
use sqlparser::dialect::{Dialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// `D` with the identifier shortcut described in the module documentation, and a work budget.
///
/// sqlparser backtracks (`maybe_parse`) at many points, and some inputs make it retry the same
/// tokens along exponentially many paths: a few dozen nested parentheses after `FROM`, found by
/// fuzzing, took minutes. Every expression start and every operator lookahead spends one step;
/// once `budget` steps are spent, the hooks return `RecursionLimitExceeded`, which sqlparser's
/// backtracking does not swallow, so the parse ends at once ([`Fast::exhausted`] tells why).
#[derive(Debug)]
pub(crate) struct Fast<D> {
    inner: D,
    steps: Cell<u64>,
    budget: u64,
}

impl<D> Fast<D> {
    /// `inner` with at most `budget` steps.
    pub(crate) fn new(inner: D, budget: u64) -> Self {
        Self {
            inner,
            steps: Cell::new(0),
            budget,
        }
    }

    /// Whether the parse stopped because its budget was spent.
    pub(crate) fn exhausted(&self) -> bool {
        self.steps.get() > self.budget
    }

    /// Steps spent so far.
    #[cfg(test)]
    pub(crate) fn steps(&self) -> u64 {
        self.steps.get()
    }

    fn spend(&self) -> Result<(), ParserError> {
        let s = self.steps.get().saturating_add(1);
        self.steps.set(s);
        if s > self.budget {
            Err(ParserError::RecursionLimitExceeded)
        } else {
            Ok(())
        }
    }
}

impl<D: Dialect> Dialect for Fast<D> {
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if let Err(e) = self.spend() {
            return Some(Err(e));
        }
        if let Some(r) = self.inner.parse_prefix(parser) {
            return Some(r);
        }
        let [word, next] = parser.peek_tokens_ref();
        let w = match &word.token {
            Token::Word(w) => w,
            // A literal or a placeholder: sqlparser's value path.
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Placeholder(_) => {
                return parser
                    .try_parse(|p| {
                        let v = p.parse_value()?;
                        match &p.peek_token_ref().token {
                            Token::Word(n) if n.keyword == Keyword::COLLATE => {
                                Err(ParserError::ParserError(String::new()))
                            }
                            _ => Ok(Expr::Value(v)),
                        }
                    })
                    .ok()
                    .map(Ok);
            }
            _ => return None,
        };
        if special_prefix(w.keyword) {
            return None;
        }
        match &next.token {
            Token::LParen if !self.inner.supports_outer_join_operator() => {}
            Token::LParen
            | Token::LBracket
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::HexStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::DollarQuotedString(_)
            | Token::Arrow
            | Token::RArrow => return None,
            Token::Word(n) if n.keyword == Keyword::COLLATE => return None,
            _ => {
                let t = parser.next_token();
                return match t.token {
                    Token::Word(w) => Some(Ok(Expr::Identifier(w.into_ident(t.span)))),
                    _ => None,
                };
            }
        }
        // A function call `name(...)`, parsed as sqlparser does after its typed-string attempt;
        // on any error (or a COLLATE after it) the position is restored and sqlparser's own path
        // runs (and reports the same error).
        parser
            .try_parse(|p| {
                let t = p.next_token();
                let Token::Word(w) = t.token else {
                    return Err(ParserError::ParserError(String::new()));
                };
                let f = p.parse_function(ObjectName::from(vec![w.into_ident(t.span)]))?;
                match &p.peek_token_ref().token {
                    Token::Word(n) if n.keyword == Keyword::COLLATE => {
                        Err(ParserError::ParserError(String::new()))
                    }
                    _ => Ok(f),
                }
            })
            .ok()
            .map(Ok)
    }

    fn dialect(&self) -> TypeId {
        // sqlparser's `dialect_of!` checks see the wrapped dialect.
        self.inner.dialect()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.inner.is_delimited_identifier_start(ch)
    }

    fn is_nested_delimited_identifier_start(&self, ch: char) -> bool {
        self.inner.is_nested_delimited_identifier_start(ch)
    }

    fn peek_nested_delimited_identifier_quotes(
        &self,
        chars: Peekable<Chars<'_>>,
    ) -> Option<(char, Option<char>)> {
        self.inner.peek_nested_delimited_identifier_quotes(chars)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.inner.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.inner.is_identifier_part(ch)
    }

    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.inner.is_custom_operator_part(ch)
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.inner.supports_string_literal_backslash_escape()
    }

    fn ignores_wildcard_escapes(&self) -> bool {
        self.inner.ignores_wildcard_escapes()
    }

    fn supports_unicode_string_literal(&self) -> bool {
        self.inner.supports_unicode_string_literal()
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        self.inner.supports_filter_during_aggregation()
    }

    fn supports_window_clause_named_window_reference(&self) -> bool {
        self.inner.supports_window_clause_named_window_reference()
    }

    fn supports_within_after_array_aggregation(&self) -> bool {
        self.inner.supports_within_after_array_aggregation()
    }

    fn supports_group_by_expr(&self) -> bool {
        self.inner.supports_group_by_expr()
    }

    fn supports_group_by_with_modifier(&self) -> bool {
        self.inner.supports_group_by_with_modifier()
    }

    fn supports_left_associative_joins_without_parens(&self) -> bool {
        self.inner.supports_left_associative_joins_without_parens()
    }

    fn supports_outer_join_operator(&self) -> bool {
        self.inner.supports_outer_join_operator()
    }

    fn supports_cross_join_constraint(&self) -> bool {
        self.inner.supports_cross_join_constraint()
    }

    fn supports_connect_by(&self) -> bool {
        self.inner.supports_connect_by()
    }

    fn supports_execute_immediate(&self) -> bool {
        self.inner.supports_execute_immediate()
    }

    fn supports_match_recognize(&self) -> bool {
        self.inner.supports_match_recognize()
    }

    fn supports_in_empty_list(&self) -> bool {
        self.inner.supports_in_empty_list()
    }

    fn supports_start_transaction_modifier(&self) -> bool {
        self.inner.supports_start_transaction_modifier()
    }

    fn supports_end_transaction_modifier(&self) -> bool {
        self.inner.supports_end_transaction_modifier()
    }

    fn supports_named_fn_args_with_eq_operator(&self) -> bool {
        self.inner.supports_named_fn_args_with_eq_operator()
    }

    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        self.inner.supports_named_fn_args_with_colon_operator()
    }

    fn supports_named_fn_args_with_assignment_operator(&self) -> bool {
        self.inner.supports_named_fn_args_with_assignment_operator()
    }

    fn supports_named_fn_args_with_rarrow_operator(&self) -> bool {
        self.inner.supports_named_fn_args_with_rarrow_operator()
    }

    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        self.inner.supports_named_fn_args_with_expr_name()
    }

    fn supports_numeric_prefix(&self) -> bool {
        self.inner.supports_numeric_prefix()
    }

    fn supports_numeric_literal_underscores(&self) -> bool {
        self.inner.supports_numeric_literal_underscores()
    }

    fn supports_window_function_null_treatment_arg(&self) -> bool {
        self.inner.supports_window_function_null_treatment_arg()
    }

    fn supports_dictionary_syntax(&self) -> bool {
        self.inner.supports_dictionary_syntax()
    }

    fn support_map_literal_syntax(&self) -> bool {
        self.inner.support_map_literal_syntax()
    }

    fn supports_lambda_functions(&self) -> bool {
        self.inner.supports_lambda_functions()
    }

    fn supports_parenthesized_set_variables(&self) -> bool {
        self.inner.supports_parenthesized_set_variables()
    }

    fn supports_comma_separated_set_assignments(&self) -> bool {
        self.inner.supports_comma_separated_set_assignments()
    }

    fn supports_select_wildcard_except(&self) -> bool {
        self.inner.supports_select_wildcard_except()
    }

    fn convert_type_before_value(&self) -> bool {
        self.inner.convert_type_before_value()
    }

    fn supports_triple_quoted_string(&self) -> bool {
        self.inner.supports_triple_quoted_string()
    }

    fn supports_trailing_commas(&self) -> bool {
        self.inner.supports_trailing_commas()
    }

    fn supports_limit_comma(&self) -> bool {
        self.inner.supports_limit_comma()
    }

    fn supports_string_literal_concatenation(&self) -> bool {
        self.inner.supports_string_literal_concatenation()
    }

    fn supports_projection_trailing_commas(&self) -> bool {
        self.inner.supports_projection_trailing_commas()
    }

    fn supports_from_trailing_commas(&self) -> bool {
        self.inner.supports_from_trailing_commas()
    }

    fn supports_column_definition_trailing_commas(&self) -> bool {
        self.inner.supports_column_definition_trailing_commas()
    }

    fn supports_object_name_double_dot_notation(&self) -> bool {
        self.inner.supports_object_name_double_dot_notation()
    }

    fn supports_struct_literal(&self) -> bool {
        self.inner.supports_struct_literal()
    }

    fn supports_empty_projections(&self) -> bool {
        self.inner.supports_empty_projections()
    }

    fn supports_select_expr_star(&self) -> bool {
        self.inner.supports_select_expr_star()
    }

    fn supports_from_first_select(&self) -> bool {
        self.inner.supports_from_first_select()
    }

    fn supports_pipe_operator(&self) -> bool {
        self.inner.supports_pipe_operator()
    }

    fn supports_user_host_grantee(&self) -> bool {
        self.inner.supports_user_host_grantee()
    }

    fn supports_match_against(&self) -> bool {
        self.inner.supports_match_against()
    }

    fn supports_select_wildcard_exclude(&self) -> bool {
        self.inner.supports_select_wildcard_exclude()
    }

    fn supports_select_exclude(&self) -> bool {
        self.inner.supports_select_exclude()
    }

    fn supports_create_table_multi_schema_info_sources(&self) -> bool {
        self.inner.supports_create_table_multi_schema_info_sources()
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        self.inner.parse_infix(parser, expr, precedence)
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        if let Err(e) = self.spend() {
            return Some(Err(e));
        }
        self.inner.get_next_precedence(parser)
    }

    fn get_next_precedence_default(&self, parser: &Parser) -> Result<u8, ParserError> {
        self.inner.get_next_precedence_default(parser)
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.inner.parse_statement(parser)
    }

    fn parse_column_option(
        &self,
        parser: &mut Parser,
    ) -> Result<Option<Result<Option<ColumnOption>, ParserError>>, ParserError> {
        self.inner.parse_column_option(parser)
    }

    fn prec_value(&self, prec: Precedence) -> u8 {
        self.inner.prec_value(prec)
    }

    fn prec_unknown(&self) -> u8 {
        self.inner.prec_unknown()
    }

    fn describe_requires_table_keyword(&self) -> bool {
        self.inner.describe_requires_table_keyword()
    }

    fn allow_extract_custom(&self) -> bool {
        self.inner.allow_extract_custom()
    }

    fn allow_extract_single_quotes(&self) -> bool {
        self.inner.allow_extract_single_quotes()
    }

    fn supports_dollar_placeholder(&self) -> bool {
        self.inner.supports_dollar_placeholder()
    }

    fn supports_create_index_with_clause(&self) -> bool {
        self.inner.supports_create_index_with_clause()
    }

    fn require_interval_qualifier(&self) -> bool {
        self.inner.require_interval_qualifier()
    }

    fn supports_explain_with_utility_options(&self) -> bool {
        self.inner.supports_explain_with_utility_options()
    }

    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.inner.supports_asc_desc_in_column_definition()
    }

    fn supports_factorial_operator(&self) -> bool {
        self.inner.supports_factorial_operator()
    }

    fn supports_nested_comments(&self) -> bool {
        self.inner.supports_nested_comments()
    }

    fn supports_eq_alias_assignment(&self) -> bool {
        self.inner.supports_eq_alias_assignment()
    }

    fn supports_try_convert(&self) -> bool {
        self.inner.supports_try_convert()
    }

    fn supports_bang_not_operator(&self) -> bool {
        self.inner.supports_bang_not_operator()
    }

    fn supports_listen_notify(&self) -> bool {
        self.inner.supports_listen_notify()
    }

    fn supports_load_data(&self) -> bool {
        self.inner.supports_load_data()
    }

    fn supports_load_extension(&self) -> bool {
        self.inner.supports_load_extension()
    }

    fn supports_top_before_distinct(&self) -> bool {
        self.inner.supports_top_before_distinct()
    }

    fn supports_boolean_literals(&self) -> bool {
        self.inner.supports_boolean_literals()
    }

    fn supports_show_like_before_in(&self) -> bool {
        self.inner.supports_show_like_before_in()
    }

    fn supports_comment_on(&self) -> bool {
        self.inner.supports_comment_on()
    }

    fn supports_create_table_select(&self) -> bool {
        self.inner.supports_create_table_select()
    }

    fn supports_partiql(&self) -> bool {
        self.inner.supports_partiql()
    }

    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool {
        self.inner.is_reserved_for_identifier(kw)
    }

    fn get_reserved_keywords_for_select_item_operator(&self) -> &[Keyword] {
        self.inner.get_reserved_keywords_for_select_item_operator()
    }

    fn get_reserved_grantees_types(&self) -> &[GranteesType] {
        self.inner.get_reserved_grantees_types()
    }

    fn supports_table_sample_before_alias(&self) -> bool {
        self.inner.supports_table_sample_before_alias()
    }

    fn supports_insert_set(&self) -> bool {
        self.inner.supports_insert_set()
    }

    fn supports_insert_table_function(&self) -> bool {
        self.inner.supports_insert_table_function()
    }

    fn supports_insert_format(&self) -> bool {
        self.inner.supports_insert_format()
    }

    fn supports_set_stmt_without_operator(&self) -> bool {
        self.inner.supports_set_stmt_without_operator()
    }

    fn is_column_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_column_alias(kw, parser)
    }

    fn is_select_item_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_select_item_alias(explicit, kw, parser)
    }

    fn is_table_factor(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_table_factor(kw, parser)
    }

    fn is_table_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_table_alias(kw, parser)
    }

    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_table_factor_alias(explicit, kw, parser)
    }

    fn supports_timestamp_versioning(&self) -> bool {
        self.inner.supports_timestamp_versioning()
    }

    fn supports_string_escape_constant(&self) -> bool {
        self.inner.supports_string_escape_constant()
    }

    fn supports_table_hints(&self) -> bool {
        self.inner.supports_table_hints()
    }

    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.inner.requires_single_line_comment_whitespace()
    }

    fn supports_array_typedef_with_brackets(&self) -> bool {
        self.inner.supports_array_typedef_with_brackets()
    }

    fn supports_geometric_types(&self) -> bool {
        self.inner.supports_geometric_types()
    }

    fn supports_order_by_all(&self) -> bool {
        self.inner.supports_order_by_all()
    }

    fn supports_set_names(&self) -> bool {
        self.inner.supports_set_names()
    }

    fn supports_space_separated_column_options(&self) -> bool {
        self.inner.supports_space_separated_column_options()
    }

    fn supports_alter_column_type_using(&self) -> bool {
        self.inner.supports_alter_column_type_using()
    }

    fn supports_comma_separated_drop_column_list(&self) -> bool {
        self.inner.supports_comma_separated_drop_column_list()
    }

    fn is_identifier_generating_function_name(
        &self,
        ident: &Ident,
        name_parts: &[ObjectNamePart],
    ) -> bool {
        self.inner
            .is_identifier_generating_function_name(ident, name_parts)
    }

    fn supports_notnull_operator(&self) -> bool {
        self.inner.supports_notnull_operator()
    }

    fn supports_data_type_signed_suffix(&self) -> bool {
        self.inner.supports_data_type_signed_suffix()
    }

    fn supports_interval_options(&self) -> bool {
        self.inner.supports_interval_options()
    }

    fn supports_create_table_like_parenthesized(&self) -> bool {
        self.inner.supports_create_table_like_parenthesized()
    }

    fn supports_semantic_view_table_factor(&self) -> bool {
        self.inner.supports_semantic_view_table_factor()
    }
}

/// Keywords with a meaning of their own at the start of an expression in sqlparser 0.59: the
/// keywords of `Parser::parse_expr_prefix_by_reserved_word` (`CASE`, `CAST`, `EXISTS`, `NOT`,
/// `INTERVAL`, `TRUE`, `CURRENT_TIMESTAMP`, ...) and of `Parser::parse_data_type_helper` (type
/// names, which may start a typed string such as `TIMESTAMP WITH TIME ZONE '...'`). Words with
/// these keywords go through sqlparser's own path.
fn special_prefix(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::ANY
            | Keyword::ARRAY
            | Keyword::BIGDECIMAL
            | Keyword::BIGINT
            | Keyword::BIGNUMERIC
            | Keyword::BINARY
            | Keyword::BIT
            | Keyword::BLOB
            | Keyword::BOOL
            | Keyword::BOOLEAN
            | Keyword::BOX
            | Keyword::BYTEA
            | Keyword::BYTES
            | Keyword::CASE
            | Keyword::CAST
            | Keyword::CEIL
            | Keyword::CHAR
            | Keyword::CHARACTER
            | Keyword::CIRCLE
            | Keyword::CLOB
            | Keyword::CONVERT
            | Keyword::CURRENT_CATALOG
            | Keyword::CURRENT_DATE
            | Keyword::CURRENT_TIME
            | Keyword::CURRENT_TIMESTAMP
            | Keyword::CURRENT_USER
            | Keyword::DATE
            | Keyword::DATE32
            | Keyword::DATETIME
            | Keyword::DATETIME64
            | Keyword::DEC
            | Keyword::DECIMAL
            | Keyword::DOUBLE
            | Keyword::ENUM
            | Keyword::ENUM16
            | Keyword::ENUM8
            | Keyword::EXISTS
            | Keyword::EXTRACT
            | Keyword::FALSE
            | Keyword::FIXEDSTRING
            | Keyword::FLOAT
            | Keyword::FLOAT32
            | Keyword::FLOAT4
            | Keyword::FLOAT64
            | Keyword::FLOAT8
            | Keyword::FLOOR
            | Keyword::HUGEINT
            | Keyword::INT
            | Keyword::INT128
            | Keyword::INT16
            | Keyword::INT2
            | Keyword::INT256
            | Keyword::INT32
            | Keyword::INT4
            | Keyword::INT64
            | Keyword::INT8
            | Keyword::INTEGER
            | Keyword::INTERVAL
            | Keyword::JSON
            | Keyword::JSONB
            | Keyword::LARGE
            | Keyword::LINE
            | Keyword::LOCALTIME
            | Keyword::LOCALTIMESTAMP
            | Keyword::LONGBLOB
            | Keyword::LONGTEXT
            | Keyword::LOWCARDINALITY
            | Keyword::LSEG
            | Keyword::MAP
            | Keyword::MATCH
            | Keyword::MEDIUMBLOB
            | Keyword::MEDIUMINT
            | Keyword::MEDIUMTEXT
            | Keyword::NESTED
            | Keyword::NOT
            | Keyword::NULL
            | Keyword::NULLABLE
            | Keyword::NUMERIC
            | Keyword::NVARCHAR
            | Keyword::OBJECT
            | Keyword::OVERLAY
            | Keyword::PATH
            | Keyword::POINT
            | Keyword::POLYGON
            | Keyword::POSITION
            | Keyword::PRECISION
            | Keyword::PRIOR
            | Keyword::REAL
            | Keyword::REGCLASS
            | Keyword::SAFE_CAST
            | Keyword::SELECT
            | Keyword::SESSION_USER
            | Keyword::SET
            | Keyword::SIGNED
            | Keyword::SMALLINT
            | Keyword::STRING
            | Keyword::STRUCT
            | Keyword::SUBSTR
            | Keyword::SUBSTRING
            | Keyword::TABLE
            | Keyword::TEXT
            | Keyword::TIME
            | Keyword::TIMESTAMP
            | Keyword::TIMESTAMPTZ
            | Keyword::TIMESTAMP_NTZ
            | Keyword::TIMETZ
            | Keyword::TINYBLOB
            | Keyword::TINYINT
            | Keyword::TINYTEXT
            | Keyword::TRIGGER
            | Keyword::TRIM
            | Keyword::TRUE
            | Keyword::TRY_CAST
            | Keyword::TRY_CONVERT
            | Keyword::TSQUERY
            | Keyword::TSVECTOR
            | Keyword::TUPLE
            | Keyword::TYPE
            | Keyword::UBIGINT
            | Keyword::UHUGEINT
            | Keyword::UINT128
            | Keyword::UINT16
            | Keyword::UINT256
            | Keyword::UINT32
            | Keyword::UINT64
            | Keyword::UINT8
            | Keyword::UNION
            | Keyword::UNSIGNED
            | Keyword::USER
            | Keyword::USMALLINT
            | Keyword::UTINYINT
            | Keyword::UUID
            | Keyword::VARBINARY
            | Keyword::VARBIT
            | Keyword::VARCHAR
            | Keyword::VARYING
            | Keyword::WITH
            | Keyword::WITHOUT
            | Keyword::ZONE
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sql::corpus_tests;
    use crate::sql::Dialect as SqlDialect;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect};

    fn both(
        d: SqlDialect,
        text: &str,
    ) -> (
        Result<Vec<Statement>, ParserError>,
        Result<Vec<Statement>, ParserError>,
    ) {
        match d {
            SqlDialect::Postgres => (
                Parser::parse_sql(&PostgreSqlDialect {}, text),
                Parser::parse_sql(&Fast::new(PostgreSqlDialect {}, u64::MAX), text),
            ),
            SqlDialect::MySql => (
                Parser::parse_sql(&MySqlDialect {}, text),
                Parser::parse_sql(&Fast::new(MySqlDialect {}, u64::MAX), text),
            ),
        }
    }

    /// The wrapper parses every corpus statement (test and benchmark corpora, both dialects,
    /// and their prefixes) exactly as the wrapped dialect does.
    #[test]
    fn same_statements_as_the_wrapped_dialect() {
        let mut texts: Vec<(SqlDialect, String)> = corpus_tests::statements();
        for (d, corpus) in [
            (
                SqlDialect::Postgres,
                include_str!("../../../bench/sql-corpus-postgres.txt"),
            ),
            (
                SqlDialect::MySql,
                include_str!("../../../bench/sql-corpus-mysql.txt"),
            ),
        ] {
            texts.extend(
                corpus
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
                    .map(|l| (d, l.to_string())),
            );
        }
        let extra = [
            "SELECT name COLLATE \"C\" FROM t",
            "SELECT a FROM t ORDER BY b COLLATE \"en_US\"",
            "SELECT x.y.z, a[1], b::int, c->'k', d->>'k', e #> '{a}' FROM t",
            "SELECT foo 'bar', _utf8mb4 'x', f(a => 1) FROM t",
            "SELECT \"Q\".\"R\", \"Q\"(1) FROM t AS \"Q\"",
            "SELECT DATE '2024-01-01', INTERVAL '1 day', int4 '5', NOT a, -b FROM t",
            "SELECT name, status, value, key, data, level, password, version, user FROM t",
            "SELECT count(*), sum(x), max(x) FILTER (WHERE y), coalesce(a, b), lower(c) FROM t",
            "SELECT timestamp with time zone '2024-01-01 00:00', date, time, type FROM t",
            "SELECT current_timestamp, current_user, session_user, now(), version() FROM t",
            "SELECT rank() OVER (PARTITION BY a ORDER BY b), lag(x, 1) OVER w FROM t",
            "SELECT f(a) COLLATE \"C\", g(b)[1], h(c).d, name[2] FROM t",
            "SELECT cast(a AS int), extract(year FROM b), substring(c FROM 1 FOR 2) FROM t",
            "SELECT exists(SELECT 1), any(a), array[1, 2], row(1, 2) FROM t",
            "SELECT count(",
            "SELECT sum(x",
            "SELECT f(a,",
            "SELECT name COLLATE",
            "SELECT 1, 1.5e3, 'a', E'b', $$c$$, N'd', X'ff', $1, ?, :x, @y, -2, +3 FROM t",
            "SELECT 'a' COLLATE \"C\", 'x' 'y', 1 'z', ? COLLATE utf8mb4_bin FROM t",
            "SELECT 'a' || 'b', 1 + 2, $1::int, '{}'::jsonb -> 'k' FROM t",
        ];
        for d in [SqlDialect::Postgres, SqlDialect::MySql] {
            texts.extend(extra.iter().map(|t| (d, t.to_string())));
        }
        // The work budget the analyser gives the parser is far above what any corpus statement
        // (or prefix of one) needs.
        let mut worst = (0.0f64, String::new());
        for (d, text) in &texts {
            let steps = match d {
                SqlDialect::Postgres => {
                    let f = Fast::new(PostgreSqlDialect {}, u64::MAX);
                    let _ = Parser::parse_sql(&f, text);
                    f.steps()
                }
                SqlDialect::MySql => {
                    let f = Fast::new(MySqlDialect {}, u64::MAX);
                    let _ = Parser::parse_sql(&f, text);
                    f.steps()
                }
            };
            let ratio = steps as f64 / text.len().max(1) as f64;
            if ratio > worst.0 {
                worst = (ratio, text.clone());
            }
            assert!(
                steps < super::super::parse_budget(text.len()) / 2,
                "{steps} steps for {} bytes: {text}",
                text.len()
            );
        }
        eprintln!("most parse steps per byte: {:.2} ({})", worst.0, worst.1);
        let mut differ = Vec::new();
        for (d, text) in &texts {
            let mut cuts: Vec<usize> = (0..=text.len()).step_by(5).collect();
            cuts.push(text.len());
            for cut in cuts {
                let Some(t) = text.get(..cut) else { continue };
                let (plain, fast) = both(*d, t);
                let same = match (&plain, &fast) {
                    (Ok(a), Ok(b)) => a == b,
                    (Err(_), Err(_)) => true,
                    _ => false,
                };
                if !same && differ.len() < 10 {
                    differ.push(format!("{d:?} {t:?}:\n  plain {plain:?}\n  fast  {fast:?}"));
                }
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
    }
}
