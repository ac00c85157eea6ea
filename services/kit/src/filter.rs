//! AIP-160 list filters: parsed once, checked against the fields a resource
//! allows, and turned into SQL with every value bound as a parameter.
//!
//! The grammar is the useful core of AIP-160:
//!
//! ```text
//! filter     := expression?
//! expression := sequence ("AND" sequence)*
//! sequence   := factor+                  (juxtaposition means AND)
//! factor     := term ("OR" term)*        (OR binds tighter than AND)
//! term       := ("NOT" | "-")? simple
//! simple     := "(" expression ")" | comparison
//! comparison := field op value
//! op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//! value      := "string" | 'string' | number | true | false | IDENT
//! ```
//!
//! Each resource declares its [`FilterField`]s; a field names the SQL it
//! stands for and the kind of value it takes, so a bad field, operator or
//! value is an `INVALID_ARGUMENT` on `filter` that says exactly what is wrong.

use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `:`, "has": for text, contains.
    Has,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => " = ",
            Op::Ne => " <> ",
            Op::Lt => " < ",
            Op::Le => " <= ",
            Op::Gt => " > ",
            Op::Ge => " >= ",
            Op::Has => " ILIKE ",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Has => ":",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// A literal as written in the filter, before it is checked against a field.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    /// A quoted string.
    Text(String),
    /// A bare word: a number, `true`/`false` or an enum value name.
    Word(String),
}

impl Literal {
    fn as_str(&self) -> &str {
        match self {
            Literal::Text(s) | Literal::Word(s) => s,
        }
    }
}

/// A value checked against its field's kind, ready to bind.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Int(i64),
    Uuid(Uuid),
    Time(OffsetDateTime),
    Date(time::Date),
}

/// What values a field takes, and how they become SQL values.
#[derive(Clone, Copy, Debug)]
pub enum FieldKind {
    /// Free text; `=`/`!=` compare exactly, `:` matches a substring.
    Text,
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// An RFC 3339 timestamp, such as `"2023-01-01T00:00:00Z"`.
    Time,
    /// A calendar date, such as `"2023-01-01"`.
    Date,
    /// An enum value name (`MEMBER_STATUS_ACTIVE`), bound as its number.
    Enum(fn(&str) -> Option<i32>),
    /// A resource name, bound as the UUID it carries. The function returns
    /// `None` for a name of the wrong shape. (A name from another committee
    /// parses, and matches nothing: lists are scoped to their committee.)
    Reference(fn(&str) -> Option<Uuid>),
}

/// One field a filter may name.
#[derive(Clone, Copy, Debug)]
pub struct FilterField {
    /// The name callers write, e.g. `city_member`.
    pub name: &'static str,
    /// The SQL the field stands for. With a `{}` in it, the whole comparison
    /// is this text with the bound value in place of `{}` (only `=` and `!=`
    /// are allowed, `!=` negating it); without, it is the left-hand side of
    /// the comparison.
    pub sql: &'static str,
    /// What values it takes.
    pub kind: FieldKind,
}

/// A parsed and checked filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        /// Index into the field table the filter was checked against.
        field: usize,
        op: Op,
        value: Value,
    },
}

/// Why a filter was refused; the message is for the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(msg.into()))
}

/// Parses `input` and checks it against `fields`. An empty or blank filter
/// is `Ok(None)`.
pub fn parse(input: &str, fields: &[FilterField]) -> Result<Option<Filter>, FilterError> {
    if input.len() > 2000 {
        return err("filter is longer than 2000 characters");
    }
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        fields,
        depth: 0,
    };
    let filter = parser.expression()?;
    if let Some(tok) = parser.tokens.get(parser.pos) {
        return err(format!("unexpected {} in filter", tok.describe()));
    }
    Ok(Some(filter))
}

impl Filter {
    /// Appends the filter as SQL (in brackets) to `qb`, binding every value.
    pub fn push_sql(&self, qb: &mut QueryBuilder<Postgres>, fields: &[FilterField]) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                let joiner = if matches!(self, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                qb.push("(");
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        qb.push(joiner);
                    }
                    part.push_sql(qb, fields);
                }
                qb.push(")");
            }
            Filter::Not(inner) => {
                qb.push("(NOT ");
                inner.push_sql(qb, fields);
                qb.push(")");
            }
            Filter::Compare { field, op, value } => {
                let field = &fields[*field];
                qb.push("(");
                if let Some((before, after)) = field.sql.split_once("{}") {
                    if *op == Op::Ne {
                        qb.push("NOT ");
                    }
                    qb.push(before);
                    push_value(qb, value.clone());
                    qb.push(after);
                } else {
                    qb.push(field.sql);
                    qb.push(op.sql());
                    if *op == Op::Has {
                        let Value::Text(text) = value else {
                            unreachable!("`:` is only accepted on text fields")
                        };
                        push_value(qb, Value::Text(format!("%{}%", escape_like(text))));
                    } else {
                        push_value(qb, value.clone());
                    }
                }
                qb.push(")");
            }
        }
    }
}

fn push_value(qb: &mut QueryBuilder<Postgres>, value: Value) {
    match value {
        Value::Text(v) => qb.push_bind(v),
        Value::Bool(v) => qb.push_bind(v),
        Value::Int(v) => qb.push_bind(v),
        Value::Uuid(v) => qb.push_bind(v),
        Value::Time(v) => qb.push_bind(v),
        Value::Date(v) => qb.push_bind(v),
    };
}

/// Escapes `%`, `_` and `\` so text matches literally inside a LIKE pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    LParen,
    RParen,
    Op(Op),
    Minus,
    Text(String),
    Word(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::Op(op) => format!("`{}`", op.text()),
            Token::Minus => "`-`".into(),
            Token::Text(s) => format!("\"{s}\""),
            Token::Word(w) => format!("`{w}`"),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w == kw)
    }
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::LParen);
            }
            ')' => {
                chars.next();
                tokens.push(Token::RParen);
            }
            ':' => {
                chars.next();
                tokens.push(Token::Op(Op::Has));
            }
            '=' => {
                chars.next();
                tokens.push(Token::Op(Op::Eq));
            }
            '!' => {
                chars.next();
                if chars.next_if(|&(_, c)| c == '=').is_none() {
                    return err("`!` in filter must be followed by `=`");
                }
                tokens.push(Token::Op(Op::Ne));
            }
            '<' | '>' => {
                chars.next();
                let eq = chars.next_if(|&(_, c)| c == '=').is_some();
                tokens.push(Token::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                }));
            }
            '"' | '\'' => {
                chars.next();
                let quote = c;
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return err("unterminated string in filter"),
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped)) => text.push(escaped),
                            None => return err("unterminated string in filter"),
                        },
                        Some((_, ch)) if ch == quote => break,
                        Some((_, ch)) => text.push(ch),
                    }
                }
                tokens.push(Token::Text(text));
            }
            '-' => {
                chars.next();
                // `-` directly before a digit is a negative number, otherwise NOT.
                match chars.peek() {
                    Some(&(_, d)) if d.is_ascii_digit() => {
                        let mut word = String::from("-");
                        while let Some((_, ch)) = chars.next_if(|&(_, ch)| is_word_char(ch)) {
                            word.push(ch);
                        }
                        tokens.push(Token::Word(word));
                    }
                    _ => tokens.push(Token::Minus),
                }
            }
            c if is_word_char(c) => {
                let mut word = String::new();
                while let Some((_, ch)) = chars.next_if(|&(_, ch)| is_word_char(ch)) {
                    word.push(ch);
                }
                tokens.push(Token::Word(word));
            }
            other => return err(format!("unexpected character `{other}` in filter")),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '+' | '-')
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    fields: &'a [FilterField],
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn expression(&mut self) -> Result<Filter, FilterError> {
        self.depth += 1;
        if self.depth > 32 {
            return err("filter is nested too deeply");
        }
        let mut parts = vec![self.sequence()?];
        while self.peek().is_some_and(|t| t.is_keyword("AND")) {
            self.pos += 1;
            parts.push(self.sequence()?);
        }
        self.depth -= 1;
        Ok(flatten(parts, Filter::And))
    }

    fn sequence(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.factor()?];
        while let Some(tok) = self.peek() {
            if matches!(tok, Token::RParen) || tok.is_keyword("AND") {
                break;
            }
            parts.push(self.factor()?);
        }
        Ok(flatten(parts, Filter::And))
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.term()?];
        while self.peek().is_some_and(|t| t.is_keyword("OR")) {
            self.pos += 1;
            parts.push(self.term()?);
        }
        Ok(flatten(parts, Filter::Or))
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        let negate = match self.peek() {
            Some(Token::Minus) => true,
            Some(tok) if tok.is_keyword("NOT") => true,
            _ => false,
        };
        if negate {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.simple()?)));
        }
        self.simple()
    }

    fn simple(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Token::LParen) => {
                let inner = self.expression()?;
                match self.next() {
                    Some(Token::RParen) => Ok(inner),
                    _ => err("missing `)` in filter"),
                }
            }
            Some(Token::Word(name)) if !matches!(name.as_str(), "AND" | "OR" | "NOT") => {
                self.comparison(name)
            }
            Some(tok) => err(format!(
                "expected a field name in filter, found {}",
                tok.describe()
            )),
            None => err("filter ends where a comparison was expected"),
        }
    }

    fn comparison(&mut self, name: String) -> Result<Filter, FilterError> {
        let Some(index) = self.fields.iter().position(|f| f.name == name) else {
            let known: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
            return err(format!(
                "unknown field `{name}` in filter; known fields: {}",
                known.join(", ")
            ));
        };
        let op = match self.next() {
            Some(Token::Op(op)) => op,
            _ => {
                return err(format!(
                    "expected an operator (=, !=, <, <=, >, >=, :) after `{name}` in filter"
                ));
            }
        };
        let literal = match self.next() {
            Some(Token::Text(s)) => Literal::Text(s),
            Some(Token::Word(w)) => Literal::Word(w),
            _ => return err(format!("expected a value after `{name} {}`", op.text())),
        };
        let field = &self.fields[index];
        let value = check(field, op, &literal)?;
        Ok(Filter::Compare {
            field: index,
            op,
            value,
        })
    }
}

fn flatten(mut parts: Vec<Filter>, make: fn(Vec<Filter>) -> Filter) -> Filter {
    if parts.len() == 1 {
        parts.pop().unwrap()
    } else {
        make(parts)
    }
}

fn check(field: &FilterField, op: Op, literal: &Literal) -> Result<Value, FilterError> {
    let name = field.name;
    let raw = literal.as_str();
    let custom = field.sql.contains("{}");
    if custom && !matches!(op, Op::Eq | Op::Ne) {
        return err(format!("`{name}` in filter takes only `=` or `!=`"));
    }
    if op == Op::Has && !matches!(field.kind, FieldKind::Text) {
        return err(format!(
            "`:` in filter applies to text fields, not `{name}`"
        ));
    }
    match field.kind {
        FieldKind::Text => Ok(Value::Text(raw.to_owned())),
        FieldKind::Bool => {
            if op.is_ordering() {
                return err(format!("`{name}` in filter takes only `=` or `!=`"));
            }
            match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => err(format!("`{name}` in filter is true or false, not `{raw}`")),
            }
        }
        FieldKind::Int => raw
            .parse()
            .map(Value::Int)
            .or_else(|_| err(format!("`{name}` in filter is a whole number, not `{raw}`"))),
        FieldKind::Time => OffsetDateTime::parse(raw, &Rfc3339)
            .map(Value::Time)
            .or_else(|_| {
                err(format!(
                    "`{name}` in filter is an RFC 3339 time such as \"2023-01-01T00:00:00Z\", not `{raw}`"
                ))
            }),
        FieldKind::Date => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(raw, &format)
                .map(Value::Date)
                .or_else(|_| err(format!("`{name}` in filter is a date such as \"2023-01-01\", not `{raw}`")))
        }
        FieldKind::Enum(lookup) => {
            if op.is_ordering() {
                return err(format!("`{name}` in filter takes only `=` or `!=`"));
            }
            match lookup(raw) {
                Some(n) if n != 0 => Ok(Value::Int(n.into())),
                _ => err(format!("`{raw}` is not a value of `{name}`")),
            }
        }
        FieldKind::Reference(lookup) => {
            if op.is_ordering() {
                return err(format!("`{name}` in filter takes only `=` or `!=`"));
            }
            match lookup(raw) {
                Some(id) => Ok(Value::Uuid(id)),
                None => err(format!(
                    "`{raw}` is not a resource name `{name}` in this committee can have"
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: &str) -> Option<i32> {
        match s {
            "ACTIVE" => Some(1),
            "SUSPENDED" => Some(2),
            _ => None,
        }
    }

    fn sector(s: &str) -> Option<Uuid> {
        s.strip_prefix("sectors/").and_then(|id| id.parse().ok())
    }

    const FIELDS: &[FilterField] = &[
        FilterField {
            name: "name",
            sql: "t.name",
            kind: FieldKind::Text,
        },
        FilterField {
            name: "city",
            sql: "t.city",
            kind: FieldKind::Bool,
        },
        FilterField {
            name: "term",
            sql: "t.term",
            kind: FieldKind::Int,
        },
        FilterField {
            name: "status",
            sql: "t.status",
            kind: FieldKind::Enum(status),
        },
        FilterField {
            name: "sector",
            sql: "t.sector_id",
            kind: FieldKind::Reference(sector),
        },
        FilterField {
            name: "update_time",
            sql: "t.update_time",
            kind: FieldKind::Time,
        },
        FilterField {
            name: "day",
            sql: "t.day",
            kind: FieldKind::Date,
        },
        FilterField {
            name: "group",
            sql: "EXISTS (SELECT 1 FROM g WHERE g.t = t.id AND g.id = {})",
            kind: FieldKind::Reference(sector),
        },
    ];

    fn sql(filter: &str) -> String {
        let parsed = parse(filter, FIELDS).unwrap().unwrap();
        let mut qb = QueryBuilder::<Postgres>::new("");
        parsed.push_sql(&mut qb, FIELDS);
        qb.sql().as_str().to_owned()
    }

    fn error(filter: &str) -> String {
        parse(filter, FIELDS).unwrap_err().0
    }

    #[test]
    fn empty_filter_is_none() {
        assert_eq!(parse("  ", FIELDS), Ok(None));
        assert_eq!(parse("", FIELDS), Ok(None));
    }

    #[test]
    fn comparisons_bind_their_values() {
        assert_eq!(sql("city = true"), "(t.city = $1)");
        assert_eq!(sql("term >= 4"), "(t.term >= $1)");
        assert_eq!(sql(r#"name : "张""#), "(t.name ILIKE $1)");
        assert_eq!(
            sql(r#"update_time > "2023-01-01T00:00:00Z""#),
            "(t.update_time > $1)"
        );
        assert_eq!(
            parse("status = ACTIVE", FIELDS).unwrap().unwrap(),
            Filter::Compare {
                field: 3,
                op: Op::Eq,
                value: Value::Int(1)
            }
        );
    }

    #[test]
    fn or_binds_tighter_than_and() {
        assert_eq!(
            sql("city = true AND term = 3 OR term = 4"),
            "((t.city = $1) AND ((t.term = $2) OR (t.term = $3)))"
        );
        assert_eq!(
            sql("(city = true AND term = 3) OR term = 4"),
            "(((t.city = $1) AND (t.term = $2)) OR (t.term = $3))"
        );
    }

    #[test]
    fn juxtaposition_and_negation() {
        assert_eq!(
            sql("city = true term = 4"),
            "((t.city = $1) AND (t.term = $2))"
        );
        assert_eq!(sql("NOT city = true"), "(NOT (t.city = $1))");
        assert_eq!(sql("-city = true"), "(NOT (t.city = $1))");
        assert_eq!(sql("term = -1"), "(t.term = $1)");
    }

    #[test]
    fn custom_sql_takes_the_value_in_place() {
        let id = Uuid::nil();
        assert_eq!(
            sql(&format!("group = \"sectors/{id}\"")),
            "(EXISTS (SELECT 1 FROM g WHERE g.t = t.id AND g.id = $1))"
        );
        assert_eq!(
            sql(&format!("group != \"sectors/{id}\"")),
            "(NOT EXISTS (SELECT 1 FROM g WHERE g.t = t.id AND g.id = $1))"
        );
        assert!(error(&format!("group > \"sectors/{id}\"")).contains("only `=` or `!=`"));
    }

    #[test]
    fn strings_may_use_either_quote_and_escapes() {
        let f = parse(r#"name = 'a\'b'"#, FIELDS).unwrap().unwrap();
        assert_eq!(
            f,
            Filter::Compare {
                field: 0,
                op: Op::Eq,
                value: Value::Text("a'b".into())
            }
        );
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        assert!(error("colour = red").contains("unknown field `colour`"));
        assert!(error("colour = red").contains("known fields: name, city"));
        assert!(error("city = maybe").contains("true or false"));
        assert!(error("term = four").contains("whole number"));
        assert!(error("status = GONE").contains("`GONE` is not a value of `status`"));
        assert!(error("status > ACTIVE").contains("only `=` or `!=`"));
        assert!(error("sector = \"nope\"").contains("not a resource name"));
        assert!(error("update_time > yesterday").contains("RFC 3339"));
        assert!(error("day >= \"2023-13-01\"").contains("a date such as"));
        assert_eq!(sql("day >= \"2023-01-01\""), "(t.day >= $1)");
        assert!(error("city : true").contains("text fields"));
        assert!(error("city true").contains("expected an operator"));
        assert!(error("city =").contains("expected a value"));
        assert!(error("(city = true").contains("missing `)`"));
        assert!(error("city = true)").contains("unexpected `)`"));
        assert!(error("name = \"open").contains("unterminated"));
        assert!(error("name ! x").contains("followed by `=`"));
        assert!(error("name = x AND").contains("ends where"));
        assert!(error("name = x ; y").contains("unexpected character"));
        assert!(error(&"(".repeat(40)).contains("nested too deeply"));
    }
}
