//! A small builder for statements whose shape depends on the request (filters, sorts, `IN`
//! lists), numbering `$n` placeholders itself: sqlx's `QueryBuilder` writes `?` for the `Any`
//! driver, which PostgreSQL does not accept.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(value.to_string())
    }
}

/// SQL text and the values of its placeholders, in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
    /// Whether `WHERE` has been written (see [`Sql::and`]).
    filtered: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_string(), args: Vec::new(), filtered: false }
    }

    /// Starts a condition: ` WHERE ` the first time, ` AND ` after. (No `WHERE 1 = 1`: SQLite
    /// then counts row by row instead of reading the smallest index.)
    pub fn and(&mut self) -> &mut Self {
        self.text.push_str(if self.filtered { " AND " } else { " WHERE " });
        self.filtered = true;
        self
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends another statement (as a subquery, say), renumbering its placeholders.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        let offset = self.args.len();
        let mut rest = other.text.as_str();
        while let Some(at) = rest.find('$') {
            self.text.push_str(&rest[..at]);
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => self.text.push_str(&format!("${}", n + offset)),
                Err(_) => self.text.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        self.text.push_str(rest);
        self.args.extend(other.args.iter().cloned());
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `$a, $b, …` bound to `values`.
    pub fn bind_list<T: Into<Arg> + Clone>(&mut self, values: &[T]) -> &mut Self {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value.clone());
        }
        self
    }

    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement, ready to run.
    ///
    /// Audited for injection: the text is built from fragments in the code and `$n`
    /// placeholders only; every value from a request is bound.
    pub fn query(&self) -> Query<'_, Any, AnyArguments> {
        self.args.iter().fold(sqlx::query(sqlx::AssertSqlSafe(self.text.as_str())), |query, arg| match arg {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(value) => query.bind(value.clone()),
        })
    }

    /// The statement, decoding rows as `T`.
    pub fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, Any, T, AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        self.args.iter().fold(sqlx::query_as(sqlx::AssertSqlSafe(self.text.as_str())), |query, arg| match arg
        {
            Arg::Int(value) => query.bind(*value),
            Arg::Text(value) => query.bind(value.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT * FROM t");
        sql.and().push("a = ").bind(1).and().push("b IN (").bind_list(&["x", "y"]).push(")");
        assert_eq!(sql.text(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)");

        let mut outer = Sql::new("SELECT * FROM (");
        outer.bind(0).push(", ").append(&sql).push(") WHERE x = ").bind(9);
        assert_eq!(
            outer.text(),
            "SELECT * FROM ($1, SELECT * FROM t WHERE a = $2 AND b IN ($3, $4)) WHERE x = $5"
        );
    }
}
