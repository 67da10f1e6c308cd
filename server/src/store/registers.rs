//! Our two registers, customers and employees, through one generic piece of
//! SQL: each register describes its table and columns with [`Register`], and
//! list, get, insert and update are written once.

use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use sync::protocol::{Customer, CustomerInput, Employee, EmployeeInput, ListQuery};
use tracing::instrument;

use super::{Store, flag, like_contains};

/// A value bound to an editable column.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Int(i64),
    OptInt(Option<i64>),
}

/// The shape of one register's table.
pub trait Register: Send + Sync + 'static {
    const TABLE: &'static str;
    const ID: &'static str;
    /// Editable columns, in the order of [`Register::values`].
    const FIELDS: &'static [&'static str];
    /// Columns a list may be sorted by.
    const SORTABLE: &'static [&'static str];
    const DEFAULT_SORT: &'static str;
    type Input: Send + Sync;
    type Record: Send + Unpin;

    fn values(input: &Self::Input) -> Vec<Value>;
    fn number(input: &Self::Input) -> &str;
    /// What a search matches, lower-cased in Rust so both databases agree.
    fn search_text(input: &Self::Input) -> String;
    fn from_row(row: &AnyRow) -> sqlx::Result<Self::Record>;
}

pub struct Customers;
pub struct Employees;

fn text(row: &AnyRow, col: &str) -> sqlx::Result<String> {
    row.try_get::<String, _>(col)
}

fn search_of(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Register for Customers {
    const TABLE: &'static str = "customer";
    const ID: &'static str = "customer_id";
    const FIELDS: &'static [&'static str] = &[
        "number",
        "name",
        "organisation_number",
        "street",
        "postal_code",
        "city",
        "country",
        "email",
        "phone",
        "contact_person",
        "sales_rep_code",
        "assigned_user_id",
        "active",
    ];
    const SORTABLE: &'static [&'static str] = &[
        "number",
        "name",
        "organisation_number",
        "postal_code",
        "city",
        "country",
        "email",
        "phone",
        "contact_person",
        "sales_rep_code",
        "active",
        "updated_at",
    ];
    const DEFAULT_SORT: &'static str = "number";
    type Input = CustomerInput;
    type Record = Customer;

    fn values(c: &CustomerInput) -> Vec<Value> {
        vec![
            Value::Text(c.number.clone()),
            Value::Text(c.name.clone()),
            Value::Text(c.organisation_number.clone()),
            Value::Text(c.street.clone()),
            Value::Text(c.postal_code.clone()),
            Value::Text(c.city.clone()),
            Value::Text(c.country.clone()),
            Value::Text(c.email.clone()),
            Value::Text(c.phone.clone()),
            Value::Text(c.contact_person.clone()),
            Value::Text(c.sales_rep_code.clone()),
            Value::OptInt(c.assigned_user_id),
            Value::Int(flag(c.active)),
        ]
    }

    fn number(c: &CustomerInput) -> &str {
        &c.number
    }

    fn search_text(c: &CustomerInput) -> String {
        search_of(&[
            &c.number,
            &c.name,
            &c.organisation_number,
            &c.email,
            &c.phone,
            &c.city,
            &c.contact_person,
        ])
    }

    fn from_row(row: &AnyRow) -> sqlx::Result<Customer> {
        Ok(Customer {
            customer_id: row.try_get("customer_id")?,
            fields: CustomerInput {
                number: text(row, "number")?,
                name: text(row, "name")?,
                organisation_number: text(row, "organisation_number")?,
                street: text(row, "street")?,
                postal_code: text(row, "postal_code")?,
                city: text(row, "city")?,
                country: text(row, "country")?,
                email: text(row, "email")?,
                phone: text(row, "phone")?,
                contact_person: text(row, "contact_person")?,
                sales_rep_code: text(row, "sales_rep_code")?,
                assigned_user_id: row.try_get("assigned_user_id")?,
                active: row.try_get::<i64, _>("active")? != 0,
            },
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl Register for Employees {
    const TABLE: &'static str = "employee";
    const ID: &'static str = "employee_id";
    const FIELDS: &'static [&'static str] = &[
        "number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "active",
    ];
    const SORTABLE: &'static [&'static str] = &[
        "number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "postal_code",
        "city",
        "active",
        "updated_at",
    ];
    const DEFAULT_SORT: &'static str = "number";
    type Input = EmployeeInput;
    type Record = Employee;

    fn values(e: &EmployeeInput) -> Vec<Value> {
        vec![
            Value::Text(e.number.clone()),
            Value::Text(e.first_name.clone()),
            Value::Text(e.last_name.clone()),
            Value::Text(e.email.clone()),
            Value::Text(e.phone.clone()),
            Value::Text(e.street.clone()),
            Value::Text(e.postal_code.clone()),
            Value::Text(e.city.clone()),
            Value::Int(flag(e.active)),
        ]
    }

    fn number(e: &EmployeeInput) -> &str {
        &e.number
    }

    fn search_text(e: &EmployeeInput) -> String {
        search_of(&[
            &e.number,
            &e.first_name,
            &e.last_name,
            &e.email,
            &e.phone,
            &e.city,
        ])
    }

    fn from_row(row: &AnyRow) -> sqlx::Result<Employee> {
        Ok(Employee {
            employee_id: row.try_get("employee_id")?,
            fields: EmployeeInput {
                number: text(row, "number")?,
                first_name: text(row, "first_name")?,
                last_name: text(row, "last_name")?,
                email: text(row, "email")?,
                phone: text(row, "phone")?,
                street: text(row, "street")?,
                postal_code: text(row, "postal_code")?,
                city: text(row, "city")?,
                active: row.try_get::<i64, _>("active")? != 0,
            },
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// What an insert or update may run into besides a database failure.
#[derive(Debug)]
pub enum WriteOutcome<T> {
    Written(T),
    /// A unique value (a number, a name) is taken.
    Duplicate,
    /// A referenced row (e.g. the assigned user) does not exist.
    MissingReference,
    NotFound,
    /// The version named is not the current one; here is the current record.
    Stale(T),
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

fn bind_values(mut q: AnyQuery<'_>, values: Vec<Value>) -> AnyQuery<'_> {
    for v in values {
        q = match v {
            Value::Text(s) => q.bind(s),
            Value::Int(i) => q.bind(i),
            Value::OptInt(i) => q.bind(i),
        };
    }
    q
}

fn classify<T>(e: sqlx::Error) -> sqlx::Result<WriteOutcome<T>> {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Ok(WriteOutcome::Duplicate),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            Ok(WriteOutcome::MissingReference)
        }
        _ => Err(e),
    }
}

impl Store {
    /// One page of a register and the number of rows matching the search.
    #[instrument(skip_all, err, fields(table = R::TABLE))]
    pub async fn list_records<R: Register>(
        &self,
        query: &ListQuery,
    ) -> sqlx::Result<(Vec<R::Record>, i64)> {
        let sort = query
            .sort
            .as_deref()
            .filter(|s| R::SORTABLE.contains(s))
            .unwrap_or(R::DEFAULT_SORT);
        let dir = if query.descending() { "desc" } else { "asc" };
        let mut filters = Vec::new();
        let needle = query
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(|q| like_contains(&q.to_lowercase()));
        if needle.is_some() {
            filters.push("search_text like $1 escape '\\'".to_string());
        }
        if query.include_inactive == Some(false) {
            filters.push("active = 1".to_string());
        }
        let where_sql = if filters.is_empty() {
            String::new()
        } else {
            format!("where {}", filters.join(" and "))
        };
        let count_sql = format!("select count(*) from {} {where_sql}", R::TABLE);
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        if let Some(n) = &needle {
            count = count.bind(n.clone());
        }
        let total = count.fetch_one(&self.read).await?;

        let per_page = i64::from(query.per_page());
        let offset = (i64::from(query.page()) - 1) * per_page;
        let n = if needle.is_some() { 2 } else { 1 };
        // The sort column comes from the register's own list, never from the
        // request text, and the id breaks ties so pages never overlap.
        let list_sql = format!(
            "select * from {table} {where_sql} order by {sort} {dir}, {id} {dir} limit ${n} offset ${m}",
            table = R::TABLE,
            id = R::ID,
            m = n + 1
        );
        let mut list = sqlx::query(&list_sql);
        if let Some(n) = needle {
            list = list.bind(n);
        }
        let rows = list
            .bind(per_page)
            .bind(offset)
            .fetch_all(&self.read)
            .await?;
        let items = rows
            .iter()
            .map(R::from_row)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok((items, total))
    }

    #[instrument(skip_all, err, fields(table = R::TABLE))]
    pub async fn get_record<R: Register>(&self, id: i64) -> sqlx::Result<Option<R::Record>> {
        let sql = format!("select * from {} where {} = $1", R::TABLE, R::ID);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(R::from_row).transpose()
    }

    #[instrument(skip_all, err, fields(table = R::TABLE))]
    pub async fn insert_record<R: Register>(
        &self,
        input: &R::Input,
        now: i64,
    ) -> sqlx::Result<WriteOutcome<R::Record>> {
        let mut c = self.write.acquire().await?;
        insert_in::<R>(&mut c, input, now).await
    }

    /// Replaces the editable fields if `version` is still current.
    #[instrument(skip_all, err, fields(table = R::TABLE))]
    pub async fn update_record<R: Register>(
        &self,
        id: i64,
        version: i64,
        input: &R::Input,
        now: i64,
    ) -> sqlx::Result<WriteOutcome<R::Record>> {
        let n = R::FIELDS.len();
        let sets: Vec<String> = R::FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{f} = ${}", i + 1))
            .collect();
        let sql = format!(
            "update {table} set {sets}, search_text = ${s}, updated_at = ${t}, version = version + 1 \
             where {id_col} = ${i} and version = ${v} returning *",
            table = R::TABLE,
            sets = sets.join(", "),
            id_col = R::ID,
            s = n + 1,
            t = n + 2,
            i = n + 3,
            v = n + 4
        );
        let q = bind_values(sqlx::query(&sql), R::values(input))
            .bind(R::search_text(input))
            .bind(now)
            .bind(id)
            .bind(version);
        match q.fetch_optional(&self.write).await {
            Ok(Some(row)) => Ok(WriteOutcome::Written(R::from_row(&row)?)),
            Ok(None) => Ok(match self.get_record::<R>(id).await? {
                Some(current) => WriteOutcome::Stale(current),
                None => WriteOutcome::NotFound,
            }),
            Err(e) => classify(e),
        }
    }

    /// Whether a number is taken (by another record than `except`).
    #[instrument(skip_all, err, fields(table = R::TABLE))]
    pub async fn number_taken<R: Register>(
        &self,
        number: &str,
        except: Option<i64>,
    ) -> sqlx::Result<bool> {
        let sql = format!(
            "select count(*) from {} where number = $1 and {} <> $2",
            R::TABLE,
            R::ID
        );
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(number)
            .bind(except.unwrap_or(-1))
            .fetch_one(&self.read)
            .await?;
        Ok(n > 0)
    }
}

/// The number of an input, for messages.
pub fn number_of<R: Register>(input: &R::Input) -> &str {
    R::number(input)
}

/// Inserts a record through `c` (a transaction's connection when the
/// insert is part of a larger change).
pub async fn insert_in<R: Register>(
    c: &mut sqlx::AnyConnection,
    input: &R::Input,
    now: i64,
) -> sqlx::Result<WriteOutcome<R::Record>> {
    let cols = R::FIELDS.join(", ");
    let n = R::FIELDS.len();
    let params: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let sql = format!(
        "insert into {table} ({cols}, search_text, version, created_at, updated_at) \
         values ({params}, ${s}, 1, ${t}, ${t}) returning *",
        table = R::TABLE,
        params = params.join(", "),
        s = n + 1,
        t = n + 2
    );
    let q = bind_values(sqlx::query(&sql), R::values(input))
        .bind(R::search_text(input))
        .bind(now);
    match q.fetch_one(&mut *c).await {
        Ok(row) => Ok(WriteOutcome::Written(R::from_row(&row)?)),
        Err(e) => classify(e),
    }
}
