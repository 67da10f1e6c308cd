//! Wire types of the REST API under `/api/v1`.
//!
//! The browser and every script talk to the server with these types and
//! nothing else, so they are the contract. Integers on the wire are `i64`/`u32`,
//! never `usize`: wasm32 and x86-64 disagree on its size. Validation of input
//! lives here too, so the form in the browser and the server give the same
//! field-level answer.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// The answer of `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// A user's role. Administrators may do everything; supervisors may create
/// customers and see the customer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
        }
    }

    /// Parses the stored or typed name of a role (`admin`/`administrator`,
    /// `supervisor`).
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" | "administrator" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Supervisor => "Supervisor",
        }
    }
}

/// Body of `POST /api/v1/session` (sign in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

/// The signed-in user, as `GET /api/v1/session` and sign-in answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionInfo {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// Unix milliseconds at which the session ends even if it is used.
    pub expires_at: i64,
}

/// `GET /api/v1/setup`: whether the first administrator still has to be created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetupStatus {
    pub needed: bool,
}

/// Body of `POST /api/v1/setup`: creates the first administrator with the
/// one-time token printed in the server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetupRequest {
    pub token: String,
    pub username: String,
    pub password: String,
}

/// A user as administrators see it. Password hashes never leave the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewUser {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// Body of `PATCH /api/v1/users/{user_id}`: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// A new password (a reset by an administrator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// One field's complaint, shown next to that field in a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Every error the API answers with: a stable machine code, a sentence for
/// people, and field-level messages for form input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiError {
    /// E.g. `unauthorized`, `forbidden`, `not_found`, `validation`,
    /// `conflict`, `rate_limited`, `payload_too_large`, `bad_request`,
    /// `csrf`, `internal`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// A page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// All rows that match the search, over all pages.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// Query of the register lists: `?q=&sort=&dir=&page=&per_page=&include_inactive=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    /// Free text: matches number, name, email, city and phone.
    #[serde(default)]
    pub q: Option<String>,
    /// A column name of the list (`number`, `name`, `city`, ...).
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    pub dir: Option<String>,
    /// 1-based.
    #[serde(default)]
    pub page: Option<u32>,
    /// 1 to 500; 50 by default.
    #[serde(default)]
    pub per_page: Option<u32>,
    /// Inactive records are listed too unless this is `false`.
    #[serde(default)]
    pub include_inactive: Option<bool>,
}

impl ListQuery {
    pub const DEFAULT_PER_PAGE: u32 = 50;
    pub const MAX_PER_PAGE: u32 = 500;

    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    pub fn per_page(&self) -> u32 {
        self.per_page
            .unwrap_or(Self::DEFAULT_PER_PAGE)
            .clamp(1, Self::MAX_PER_PAGE)
    }

    pub fn descending(&self) -> bool {
        self.dir.as_deref() == Some("desc")
    }

    /// The query string for this query, with the leading `?` when not empty.
    pub fn to_query_string(&self) -> String {
        let mut parts = search_parts(self.q.as_deref(), self.sort.as_deref(), self.dir.as_deref());
        if let Some(p) = self.page {
            parts.push(format!("page={p}"));
        }
        if let Some(p) = self.per_page {
            parts.push(format!("per_page={p}"));
        }
        if let Some(i) = self.include_inactive {
            parts.push(format!("include_inactive={i}"));
        }
        query_string(&parts)
    }
}

/// `q`, `sort` and `dir`, the parameters every list shares.
fn search_parts(q: Option<&str>, sort: Option<&str>, dir: Option<&str>) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", percent_encode(q)));
    }
    if let Some(s) = sort {
        parts.push(format!("sort={}", percent_encode(s)));
    }
    if let Some(d) = dir {
        parts.push(format!("dir={}", percent_encode(d)));
    }
    parts
}

/// The query string of `parts`, with the leading `?` when not empty.
fn query_string(parts: &[String]) -> String {
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a query string value (RFC 3986 unreserved characters stay).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A customer of our register, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Customer {
    pub customer_id: i64,
    #[serde(flatten)]
    pub fields: CustomerInput,
    /// Increases with every change; a write naming an older version is refused.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The editable fields of a customer (create and full update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CustomerInput {
    /// Text, not a number: leading zeros are kept.
    pub number: String,
    pub name: String,
    #[serde(default)]
    pub organisation_number: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub contact_person: String,
    #[serde(default)]
    pub sales_rep_code: String,
    /// The user responsible for this customer, if any.
    #[serde(default)]
    pub assigned_user_id: Option<i64>,
    #[serde(default = "default_true")]
    pub active: bool,
}

/// An employee of our register, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Employee {
    pub employee_id: i64,
    #[serde(flatten)]
    pub fields: EmployeeInput,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The editable fields of an employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmployeeInput {
    pub number: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub city: String,
    #[serde(default = "default_true")]
    pub active: bool,
}

/// Body of `PUT /api/v1/customers/{id}` and `/employees/{id}`: the fields and
/// the version the editor saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Versioned<T> {
    pub version: i64,
    #[serde(flatten)]
    pub fields: T,
}

/// The kind of system on the other side of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    /// Files exported from the other system and imported by hand.
    #[default]
    File,
    /// The other system's database (PostgreSQL or SQLite), read and written
    /// directly.
    Database,
    /// The other system's JSON REST API.
    Rest,
}

impl SystemKind {
    /// True for systems Partnersync reads and writes by itself, on a
    /// schedule.
    pub fn is_integrated(self) -> bool {
        !matches!(self, SystemKind::File)
    }
}

/// What Partnersync reads of one kind of record in an integrated system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Source {
    /// Database: the table, e.g. `customers` or `erp.customers`; REST: the
    /// resource's path under the base URL, e.g. `/customers`. Empty: this
    /// kind is not synchronized with the system.
    #[serde(default)]
    pub table: String,
}

/// Where an integrated system is and how it runs. Credentials are not part
/// of it: they are written through `ConnectionInput::secret` and never
/// shown back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Endpoint {
    /// REST: the API's base URL. A database's URL holds its password, so it
    /// is the connection's secret instead.
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub customers: Source,
    #[serde(default)]
    pub employees: Source,
    /// Minutes between scheduled runs (hourly by default); 0: only "Run now".
    #[serde(default = "hourly")]
    pub interval_minutes: u32,
    /// A full refresh that would delete more than this many records waits
    /// for an administrator's confirmation...
    #[serde(default = "default_delete_count")]
    pub delete_max_count: u32,
    /// ... as does one that would delete more than this percentage.
    #[serde(default = "default_delete_percent")]
    pub delete_max_percent: u32,
    /// REST: records asked for per page when listing.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn hourly() -> u32 {
    60
}
fn default_delete_count() -> u32 {
    100
}
fn default_delete_percent() -> u32 {
    10
}
fn default_page_size() -> u32 {
    500
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            base_url: String::new(),
            customers: Source::default(),
            employees: Source::default(),
            interval_minutes: hourly(),
            delete_max_count: default_delete_count(),
            delete_max_percent: default_delete_percent(),
            page_size: default_page_size(),
        }
    }
}

impl Endpoint {
    pub fn source(&self, kind: crate::schema::Kind) -> &Source {
        match kind {
            crate::schema::Kind::Customer => &self.customers,
            crate::schema::Kind::Employee => &self.employees,
        }
    }

    /// Field-level problems for a connection of `system`.
    pub fn validate(&self, system: SystemKind) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !system.is_integrated() {
            return errors;
        }
        if self.interval_minutes > 7 * 24 * 60 {
            errors.push(FieldError::new(
                "endpoint.interval_minutes",
                "At most a week (10080 minutes); 0 runs only on Run now.",
            ));
        }
        if self.delete_max_percent > 100 {
            errors.push(FieldError::new(
                "endpoint.delete_max_percent",
                "A percentage from 0 to 100.",
            ));
        }
        if !(1..=10_000).contains(&self.page_size) {
            errors.push(FieldError::new(
                "endpoint.page_size",
                "From 1 to 10000 records per page.",
            ));
        }
        if system == SystemKind::Rest {
            let url = self.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 500 {
                errors.push(FieldError::new(
                    "endpoint.base_url",
                    "The API's address, starting with https:// (or http://).",
                ));
            }
        }
        for (name, s) in [
            ("customers", &self.customers),
            ("employees", &self.employees),
        ] {
            let t = s.table.trim();
            let ok = match system {
                SystemKind::Database => t.split('.').all(|part| {
                    !part.is_empty()
                        && part.len() <= 63
                        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !part.starts_with(|c: char| c.is_ascii_digit())
                }),
                _ => {
                    t.starts_with('/')
                        && t.len() <= 200
                        && t.chars()
                            .all(|c| c.is_ascii_graphic() && c != '?' && c != '#')
                }
            };
            if !t.is_empty() && !ok {
                errors.push(FieldError::new(
                    &format!("endpoint.{name}.table"),
                    match system {
                        SystemKind::Database => {
                            "A table name: letters, digits and _, optionally schema.table."
                        }
                        _ => "A path under the base URL, starting with /, e.g. /customers.",
                    },
                ));
            }
        }
        if self.customers.table.trim().is_empty() && self.employees.table.trim().is_empty() {
            errors.push(FieldError::new(
                "endpoint.customers.table",
                "Name what to read for customers, employees or both.",
            ));
        }
        errors
    }
}

/// How one kind of record (customers or employees) is exchanged with a
/// connection's other system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterSettings {
    /// What their system does to record numbers.
    #[serde(default)]
    pub rules: crate::rules::NumberRules,
    /// Fields each side requires (No import / No export).
    pub required: crate::schema::RequiredFields,
    /// The saved column mapping of their files (or their system's columns).
    #[serde(default)]
    pub mapping: Vec<crate::read::MappingEntry>,
    /// Fields the integration owns: read-only in our register's forms, so a
    /// manual edit is not overwritten by the next run.
    #[serde(default)]
    pub owned: Vec<crate::schema::Field>,
}

impl RegisterSettings {
    /// No number rules, the default required fields, no saved mapping.
    pub fn defaults(kind: crate::schema::Kind) -> RegisterSettings {
        RegisterSettings {
            rules: crate::rules::NumberRules::default(),
            required: crate::schema::RequiredFields::defaults(kind),
            mapping: Vec::new(),
            owned: Vec::new(),
        }
    }

    /// Field-level problems, named `<prefix>.rules.max_len` and so on.
    pub fn validate(&self, kind: crate::schema::Kind, prefix: &str) -> Vec<FieldError> {
        use crate::schema::Field;
        let mut errors = Vec::new();
        let fields = kind.fields();
        if let Some(n) = self.rules.max_len
            && !(1..=MAX_NUMBER_CHARS as u32).contains(&n)
        {
            errors.push(FieldError::new(
                &format!("{prefix}.rules.max_len"),
                format!("A maximum length is between 1 and {MAX_NUMBER_CHARS}."),
            ));
        }
        for (side, list) in [
            ("ours", &self.required.ours),
            ("theirs", &self.required.theirs),
        ] {
            let name = format!("{prefix}.required.{side}");
            if !list.contains(&Field::Number) {
                errors.push(FieldError::new(&name, "The number is always required."));
            }
            if let Some(f) = list
                .iter()
                .find(|f| !fields.contains(f) || **f == Field::Active)
            {
                errors.push(FieldError::new(
                    &name,
                    format!("{f:?} is not a field of a {}.", kind.as_str()),
                ));
            }
        }
        let mut seen = Vec::new();
        for m in &self.mapping {
            if !fields.contains(&m.field) {
                errors.push(FieldError::new(
                    &format!("{prefix}.mapping"),
                    format!("{:?} is not a field of a {}.", m.field, kind.as_str()),
                ));
            } else if seen.contains(&m.field) {
                errors.push(FieldError::new(
                    &format!("{prefix}.mapping"),
                    format!("{:?} is mapped twice.", m.field),
                ));
            }
            seen.push(m.field);
        }
        for f in &self.owned {
            if kind.index_of(*f).is_none() || *f == Field::Number {
                errors.push(FieldError::new(
                    &format!("{prefix}.owned"),
                    format!("{} is not a field the integration can own.", f.as_str()),
                ));
            }
        }
        errors
    }
}

/// A connection to another system, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Connection {
    pub connection_id: i64,
    pub name: String,
    pub system: SystemKind,
    pub customers: RegisterSettings,
    pub employees: RegisterSettings,
    /// Integrated systems: where it is and how it runs.
    #[serde(default)]
    pub endpoint: Endpoint,
    /// Whether credentials are stored (they are never shown back).
    #[serde(default)]
    pub has_secret: bool,
    /// When the scheduler runs it next.
    #[serde(default)]
    pub next_run_at: Option<i64>,
    /// When it last ran a full refresh.
    #[serde(default)]
    pub last_full_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Connection {
    /// How one kind of record is exchanged with the other system.
    pub fn settings(&self, kind: crate::schema::Kind) -> &RegisterSettings {
        match kind {
            crate::schema::Kind::Customer => &self.customers,
            crate::schema::Kind::Employee => &self.employees,
        }
    }

    pub fn settings_mut(&mut self, kind: crate::schema::Kind) -> &mut RegisterSettings {
        match kind {
            crate::schema::Kind::Customer => &mut self.customers,
            crate::schema::Kind::Employee => &mut self.employees,
        }
    }
}

/// Body of `POST /api/v1/connections` and (with `version`) `PUT`.
/// Settings left out get the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConnectionInput {
    pub name: String,
    #[serde(default)]
    pub system: SystemKind,
    #[serde(default)]
    pub customers: Option<RegisterSettings>,
    #[serde(default)]
    pub employees: Option<RegisterSettings>,
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Write-only credentials: a database's URL (with its password) or a
    /// REST API's token. Left out: the stored one is kept; empty: removed.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Longest credential accepted, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;

impl ConnectionInput {
    /// The settings with defaults filled in and the name trimmed.
    pub fn complete(self) -> (String, SystemKind, RegisterSettings, RegisterSettings) {
        use crate::schema::Kind;
        (
            self.name.trim().to_string(),
            self.system,
            self.customers
                .unwrap_or_else(|| RegisterSettings::defaults(Kind::Customer)),
            self.employees
                .unwrap_or_else(|| RegisterSettings::defaults(Kind::Employee)),
        )
    }

    pub fn validate(&self) -> Vec<FieldError> {
        use crate::schema::Kind;
        let mut errors = Vec::new();
        check_required(&mut errors, "name", &self.name);
        if self.name.trim().chars().count() > 100 {
            errors.push(FieldError::new("name", "At most 100 characters."));
        }
        check_text(&mut errors, "name", &self.name);
        if let Some(c) = &self.customers {
            errors.extend(c.validate(Kind::Customer, "customers"));
        }
        if let Some(e) = &self.employees {
            errors.extend(e.validate(Kind::Employee, "employees"));
        }
        if self.system.is_integrated() {
            errors.extend(
                self.endpoint
                    .clone()
                    .unwrap_or_default()
                    .validate(self.system),
            );
        }
        if let Some(s) = &self.secret {
            if s.len() > MAX_SECRET_BYTES {
                errors.push(FieldError::new(
                    "secret",
                    format!("At most {MAX_SECRET_BYTES} characters."),
                ));
            }
            if s.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    "secret",
                    "Paste the URL or token without line breaks or control characters.",
                ));
            }
        }
        errors
    }
}

fn default_true() -> bool {
    true
}

/// Longest text a register field may hold, in characters.
pub const MAX_FIELD_CHARS: usize = 200;
/// Longest record number, in characters.
pub const MAX_NUMBER_CHARS: usize = 40;
/// Shortest password accepted for a user.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 hashes anything, but a 1 MB password is an attack).
pub const MAX_PASSWORD_CHARS: usize = 256;

impl Default for CustomerInput {
    fn default() -> Self {
        CustomerInput {
            number: String::new(),
            name: String::new(),
            organisation_number: String::new(),
            street: String::new(),
            postal_code: String::new(),
            city: String::new(),
            country: String::new(),
            email: String::new(),
            phone: String::new(),
            contact_person: String::new(),
            sales_rep_code: String::new(),
            assigned_user_id: None,
            active: true,
        }
    }
}

impl Default for EmployeeInput {
    fn default() -> Self {
        EmployeeInput {
            number: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            phone: String::new(),
            street: String::new(),
            postal_code: String::new(),
            city: String::new(),
            active: true,
        }
    }
}

impl CustomerInput {
    /// Trims every text field. Numbers keep their leading zeros.
    pub fn trimmed(mut self) -> Self {
        for f in [
            &mut self.number,
            &mut self.name,
            &mut self.organisation_number,
            &mut self.street,
            &mut self.postal_code,
            &mut self.city,
            &mut self.country,
            &mut self.email,
            &mut self.phone,
            &mut self.contact_person,
            &mut self.sales_rep_code,
        ] {
            trim_in_place(f);
        }
        self
    }

    /// Field-level problems; empty when the input may be stored.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_number(&mut errors, "number", &self.number);
        check_required(&mut errors, "name", &self.name);
        for (field, value) in [
            ("name", &self.name),
            ("organisation_number", &self.organisation_number),
            ("street", &self.street),
            ("postal_code", &self.postal_code),
            ("city", &self.city),
            ("country", &self.country),
            ("email", &self.email),
            ("phone", &self.phone),
            ("contact_person", &self.contact_person),
            ("sales_rep_code", &self.sales_rep_code),
        ] {
            check_text(&mut errors, field, value);
        }
        check_email(&mut errors, "email", &self.email);
        check_phone(&mut errors, "phone", &self.phone);
        errors
    }
}

impl EmployeeInput {
    pub fn trimmed(mut self) -> Self {
        for f in [
            &mut self.number,
            &mut self.first_name,
            &mut self.last_name,
            &mut self.email,
            &mut self.phone,
            &mut self.street,
            &mut self.postal_code,
            &mut self.city,
        ] {
            trim_in_place(f);
        }
        self
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_number(&mut errors, "number", &self.number);
        check_required(&mut errors, "first_name", &self.first_name);
        check_required(&mut errors, "last_name", &self.last_name);
        for (field, value) in [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
            ("phone", &self.phone),
            ("street", &self.street),
            ("postal_code", &self.postal_code),
            ("city", &self.city),
        ] {
            check_text(&mut errors, field, value);
        }
        check_email(&mut errors, "email", &self.email);
        check_phone(&mut errors, "phone", &self.phone);
        errors
    }
}

/// Checks a user name and password for `NewUser`, set-up and resets.
pub fn validate_credentials(username: Option<&str>, password: Option<&str>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(u) = username {
        let u = u.trim();
        if u.is_empty() {
            errors.push(FieldError::new("username", "Enter a user name."));
        } else if u.chars().count() > 64 {
            errors.push(FieldError::new(
                "username",
                "A user name has at most 64 characters.",
            ));
        } else if !u
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            errors.push(FieldError::new(
                "username",
                "Use letters, digits and . _ - @ only.",
            ));
        }
    }
    if let Some(p) = password {
        let n = p.chars().count();
        if n < MIN_PASSWORD_CHARS {
            errors.push(FieldError::new(
                "password",
                format!("A password has at least {MIN_PASSWORD_CHARS} characters."),
            ));
        } else if n > MAX_PASSWORD_CHARS {
            errors.push(FieldError::new(
                "password",
                format!("A password has at most {MAX_PASSWORD_CHARS} characters."),
            ));
        }
    }
    errors
}

fn trim_in_place(s: &mut String) {
    let t = s.trim();
    if t.len() != s.len() {
        *s = t.to_string();
    }
}

fn check_required(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "This field is required."));
    }
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if value.chars().count() > MAX_FIELD_CHARS {
        errors.push(FieldError::new(
            field,
            format!("At most {MAX_FIELD_CHARS} characters."),
        ));
    } else if value.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new(
            field,
            "Control characters (such as line breaks) are not allowed.",
        ));
    }
}

fn check_number(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(field, "This field is required."));
    } else if v.chars().count() > MAX_NUMBER_CHARS {
        errors.push(FieldError::new(
            field,
            format!("A number has at most {MAX_NUMBER_CHARS} characters."),
        ));
    } else if !v
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        errors.push(FieldError::new(
            field,
            "Use letters, digits and - _ . / only.",
        ));
    }
}

/// A deliberately plain check: one `@`, something before it, a dot in a
/// domain that neither starts nor ends with one, and no spaces.
pub fn is_plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !value.chars().any(char::is_whitespace)
}

fn check_email(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if !value.is_empty() && !is_plausible_email(value) {
        errors.push(FieldError::new(
            field,
            "This is not an email address (name@example.com).",
        ));
    }
}

fn check_phone(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    if !value.is_empty()
        && !value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '/'))
    {
        errors.push(FieldError::new(
            field,
            "A phone number has digits, spaces and + - ( ) only.",
        ));
    }
}

#[cfg(test)]
mod tests {
    // On wasm32 these same tests run under wasm-bindgen-test in Node.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn customer_validation_names_each_bad_field() {
        let ok = CustomerInput {
            number: "00123".into(),
            name: "Acme AS".into(),
            email: "post@acme.no".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_empty());

        let cases: Vec<(CustomerInput, Vec<&str>)> = vec![
            (
                CustomerInput {
                    number: "".into(),
                    ..ok.clone()
                },
                vec!["number"],
            ),
            (
                CustomerInput {
                    name: "  ".into(),
                    ..ok.clone()
                },
                vec!["name"],
            ),
            (
                CustomerInput {
                    email: "not-an-email".into(),
                    ..ok.clone()
                },
                vec!["email"],
            ),
            (
                CustomerInput {
                    email: "a@b@c.no".into(),
                    phone: "12ab".into(),
                    ..ok.clone()
                },
                vec!["email", "phone"],
            ),
            (
                CustomerInput {
                    city: "x".repeat(MAX_FIELD_CHARS + 1),
                    ..ok.clone()
                },
                vec!["city"],
            ),
            (
                CustomerInput {
                    street: "line\nbreak".into(),
                    ..ok.clone()
                },
                vec!["street"],
            ),
        ];
        for (input, expect) in cases {
            assert_eq!(fields(&input.validate()), expect, "{input:?}");
        }
    }

    #[test]
    fn trimming_keeps_leading_zeros() {
        let c = CustomerInput {
            number: "  000123 ".into(),
            name: " A ".into(),
            ..Default::default()
        }
        .trimmed();
        assert_eq!(c.number, "000123");
        assert_eq!(c.name, "A");
    }

    #[test]
    fn credentials() {
        assert!(validate_credentials(Some("anna.admin"), Some("correct horse battery")).is_empty());
        assert_eq!(
            fields(&validate_credentials(Some(""), Some("short"))),
            vec!["username", "password"]
        );
        assert_eq!(
            fields(&validate_credentials(Some("a b"), None)),
            vec!["username"]
        );
    }

    #[test]
    fn list_query_string_round_trips_special_characters() {
        let q = ListQuery {
            q: Some("Ås & co".into()),
            page: Some(2),
            ..Default::default()
        };
        assert_eq!(q.to_query_string(), "?q=%C3%85s%20%26%20co&page=2");
        assert_eq!(ListQuery::default().to_query_string(), "");
        assert_eq!(
            ListQuery {
                per_page: Some(10_000),
                ..Default::default()
            }
            .per_page(),
            500
        );
    }

    #[test]
    fn connection_settings_are_checked_per_kind() {
        use crate::read::{ColumnRef, MappingEntry};
        use crate::schema::{Field, Kind};
        let ok = ConnectionInput {
            name: "Visma export".into(),
            system: SystemKind::File,
            customers: None,
            employees: None,
            endpoint: None,
            secret: None,
        };
        assert!(ok.validate().is_empty());
        let (name, _, customers, employees) = ok.clone().complete();
        assert_eq!(name, "Visma export");
        assert_eq!(customers, RegisterSettings::defaults(Kind::Customer));
        assert!(employees.required.ours.contains(&Field::FirstName));

        let mut bad = RegisterSettings::defaults(Kind::Customer);
        bad.rules.max_len = Some(0);
        bad.required.theirs = vec![Field::Name, Field::FirstName];
        bad.mapping = vec![
            MappingEntry {
                column: ColumnRef::Index(0),
                field: Field::Number,
            },
            MappingEntry {
                column: ColumnRef::Header("Nr".into()),
                field: Field::Number,
            },
        ];
        let errors = ConnectionInput {
            name: " ".into(),
            customers: Some(bad),
            ..ok.clone()
        }
        .validate();
        assert_eq!(
            fields(&errors),
            vec![
                "name",
                "customers.rules.max_len",
                "customers.required.theirs",
                "customers.required.theirs",
                "customers.mapping"
            ]
        );

        // Integrated systems: where they are, and credentials within bounds.
        let rest = ConnectionInput {
            system: SystemKind::Rest,
            endpoint: Some(Endpoint {
                base_url: "ftp://erp".into(),
                customers: Source {
                    table: "customers".into(),
                },
                interval_minutes: 20_000,
                ..Endpoint::default()
            }),
            secret: Some("line\nbreak".into()),
            ..ok.clone()
        };
        assert_eq!(
            fields(&rest.validate()),
            vec![
                "endpoint.interval_minutes",
                "endpoint.base_url",
                "endpoint.customers.table",
                "secret"
            ]
        );
        let db = ConnectionInput {
            system: SystemKind::Database,
            endpoint: Some(Endpoint {
                customers: Source {
                    table: "erp.kunder; drop table x".into(),
                },
                employees: Source {
                    table: "erp.ansatte".into(),
                },
                ..Endpoint::default()
            }),
            ..ok
        };
        assert_eq!(fields(&db.validate()), vec!["endpoint.customers.table"]);
        assert_eq!(
            Endpoint::default().interval_minutes,
            60,
            "hourly by default"
        );
    }

    #[test]
    fn customer_json_is_flat_and_keeps_number_text() {
        let c = Customer {
            customer_id: 7,
            fields: CustomerInput {
                number: "007".into(),
                name: "Bond".into(),
                ..Default::default()
            },
            version: 1,
            created_at: 0,
            updated_at: 0,
        };
        let v = serde_json::to_value(&c).expect("serializes");
        assert_eq!(v["number"], "007");
        assert_eq!(v["customer_id"], 7);
        let back: Customer = serde_json::from_value(v).expect("deserializes");
        assert_eq!(back, c);
    }
}

// ---------------------------------------------------------------------------
// The synchronization window: `/api/v1/connections/{id}/{kind}/...`.
// ---------------------------------------------------------------------------

/// Rows per category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CategoryCounts {
    pub conflicts: u32,
    pub new: u32,
    pub deleted: u32,
    pub deactivated: u32,
    pub synchronized: u32,
    pub inactive: u32,
}

impl CategoryCounts {
    /// From counts indexed by `Category as usize` (`count_input`'s answer).
    pub fn of_counts(c: [u32; 6]) -> CategoryCounts {
        use crate::categorize::Category as C;
        CategoryCounts {
            conflicts: c[C::Conflicts as usize],
            new: c[C::New as usize],
            deleted: c[C::Deleted as usize],
            deactivated: c[C::Deactivated as usize],
            synchronized: c[C::Synchronized as usize],
            inactive: c[C::Inactive as usize],
        }
    }

    /// The rows per category of a window.
    pub fn of_window(c: &crate::categorize::Categorized) -> CategoryCounts {
        use crate::categorize::Category as C;
        CategoryCounts {
            conflicts: c.count(C::Conflicts),
            new: c.count(C::New),
            deleted: c.count(C::Deleted),
            deactivated: c.count(C::Deactivated),
            synchronized: c.count(C::Synchronized),
            inactive: c.count(C::Inactive),
        }
    }

    pub fn of_summary(s: &crate::categorize::Summary) -> CategoryCounts {
        use crate::categorize::Category as C;
        CategoryCounts {
            conflicts: s.count(C::Conflicts),
            new: s.count(C::New),
            deleted: s.count(C::Deleted),
            deactivated: s.count(C::Deactivated),
            synchronized: s.count(C::Synchronized),
            inactive: s.count(C::Inactive),
        }
    }

    pub fn get(&self, c: crate::categorize::Category) -> u32 {
        use crate::categorize::Category as C;
        match c {
            C::Conflicts => self.conflicts,
            C::New => self.new,
            C::Deleted => self.deleted,
            C::Deactivated => self.deactivated,
            C::Synchronized => self.synchronized,
            C::Inactive => self.inactive,
        }
    }

    pub fn total(&self) -> u32 {
        self.conflicts
            + self.new
            + self.deleted
            + self.deactivated
            + self.synchronized
            + self.inactive
    }
}

/// What the reader should use instead of its guesses for an import. The
/// column mapping, when empty, is the connection's saved mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(default)]
pub struct ImportOptions {
    /// An encoding label (`utf-8`, `windows-1252`, ...); detected when absent.
    pub encoding: Option<String>,
    /// `,` `;` tab or `|`; detected when absent.
    pub delimiter: Option<char>,
    pub has_header: Option<bool>,
    /// The xlsx sheet; the first one when absent.
    pub sheet: Option<String>,
    pub mapping: Vec<crate::read::MappingEntry>,
}

impl ImportOptions {
    /// The reader's options, with the connection's saved mapping when this
    /// one names none.
    pub fn read_options(&self, saved: &[crate::read::MappingEntry]) -> crate::read::ReadOptions {
        crate::read::ReadOptions {
            encoding: self.encoding.clone(),
            delimiter: self.delimiter,
            has_header: self.has_header,
            sheet: self.sheet.clone(),
            mapping: if self.mapping.is_empty() {
                saved.to_vec()
            } else {
                self.mapping.clone()
            },
            ..Default::default()
        }
    }
}

/// Query of `POST .../imports`: the body is the file's bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ImportQuery {
    /// The file's name as the user chose it (its extension helps detection).
    pub file_name: String,
    /// `ImportOptions` as JSON.
    #[serde(default)]
    pub options: Option<String>,
    /// The fingerprint revision the browser's preview was computed against;
    /// when it is no longer current, nothing is stored and the answer is
    /// 409 `stale_preview`.
    #[serde(default)]
    pub preview_revision: Option<String>,
    /// Save the options' mapping as the connection's mapping for this kind.
    #[serde(default)]
    pub save_mapping: Option<bool>,
}

/// A stored import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportInfo {
    pub import_id: i64,
    pub file_name: String,
    /// SHA-256 of the file as uploaded, hex.
    pub sha256: String,
    pub size_bytes: i64,
    pub record_count: i64,
    pub error_count: i64,
    pub counts: CategoryCounts,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A row of a file that did not become a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportRowError {
    pub line: u32,
    pub reason: String,
}

/// The answer of an import: what was stored and the categories after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportResult {
    pub import: ImportInfo,
    pub row_errors: Vec<ImportRowError>,
    pub counts: CategoryCounts,
    pub revision: i64,
}

/// The window's overview of one connection and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WindowSummary {
    pub connection_id: i64,
    pub kind: crate::schema::Kind,
    /// Increases with every import and action on this connection and kind.
    pub revision: i64,
    pub counts: CategoryCounts,
    /// The newest import, if any.
    pub import: Option<ImportInfo>,
    /// Pending changes not yet downloaded and marked delivered.
    pub undelivered: u32,
    /// Pending changes their data does not show yet.
    pub pending: u32,
    /// The fields of the kind, in the order of the rows' value lists.
    pub fields: Vec<crate::schema::Field>,
}

/// Query of a category's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct WindowQuery {
    /// Free text: matches both numbers and both sides' values.
    #[serde(default)]
    pub q: Option<String>,
    /// `key` (default), `our_number`, `their_number` or `name`.
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    pub dir: Option<String>,
    /// 0-based index of the first row.
    #[serde(default)]
    pub offset: Option<u32>,
    /// 1 to 1000; 100 by default.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl WindowQuery {
    pub const MAX_LIMIT: u32 = 1000;

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, Self::MAX_LIMIT)
    }

    pub fn to_query_string(&self) -> String {
        let mut parts = search_parts(self.q.as_deref(), self.sort.as_deref(), self.dir.as_deref());
        if let Some(o) = self.offset {
            parts.push(format!("offset={o}"));
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit={l}"));
        }
        query_string(&parts)
    }
}

/// A field whose values differ, with both values and the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FieldDiff {
    pub field: crate::schema::Field,
    pub ours: String,
    pub theirs: String,
    /// The value at the last sync, when known.
    pub base: Option<String>,
}

/// A value that will be copied to the other side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PlannedChange {
    pub field: crate::schema::Field,
    /// The side that will be written.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub side: crate::schema::Side,
    pub from: String,
    pub to: String,
}

/// A row of the window: a pair or a lone record, with both sides' values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WindowRow {
    /// Stable identity of the row (`link:..`, `ours:..`, `theirs:..`).
    pub key: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub category: crate::categorize::Category,
    /// Why the row is where it is (`field_conflict`, `stopped`, ...).
    pub reason: Option<String>,
    pub our_number: Option<String>,
    pub their_number: Option<String>,
    pub name: String,
    /// Our record's values in `WindowSummary::fields` order.
    pub ours: Option<Vec<String>>,
    /// Their record's values (with pending changes laid over them).
    pub theirs: Option<Vec<String>>,
    /// Fields their data has no column for: their empty value there says
    /// nothing, and the field is not compared (`State::missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub their_missing: Vec<crate::schema::Field>,
    /// For a pair: whether synchronization runs.
    pub link_active: Option<bool>,
    pub no_import: bool,
    pub no_export: bool,
    pub skipped_multiple: bool,
    /// The number of a lone partner with the same number: the top suggestion.
    pub suggestion: Option<String>,
    pub conflicts: Vec<FieldDiff>,
    pub planned: Vec<PlannedChange>,
    /// Changes whenever anything shown in this row changes; actions name it
    /// to detect that someone else acted first.
    pub token: String,
}

/// A page of one category's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WindowPage {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub category: crate::categorize::Category,
    /// Rows that match the search.
    pub total: u32,
    pub offset: u32,
    pub revision: i64,
    pub rows: Vec<WindowRow>,
}

/// A ranked partner candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartnerCandidate {
    pub number: String,
    pub name: String,
    /// 0 to 100.
    pub score: u32,
    /// Fields whose normalized values agree.
    pub agreeing: Vec<crate::schema::Field>,
    /// The key of the candidate's own row (to name it in `expect`).
    pub row_key: String,
}

/// Candidates for a New row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartnerSuggestions {
    pub key: String,
    /// The side the row's record is on; candidates are on the other side.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub side: crate::schema::Side,
    pub number: String,
    pub candidates: Vec<PartnerCandidate>,
}

/// How new partners are numbered in a bulk create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Numbering {
    /// Each partner gets the number of its record (after their rules).
    Keep,
    /// Numbers from `first` upwards, skipping those taken.
    Series { first: String },
}

/// An action's row and the token the caller saw it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Expect {
    pub key: String,
    pub token: String,
}

/// What to do, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WindowOp {
    /// Explicit engine actions (link, unlink, create, set, deactivate,
    /// resume, stop, start).
    Plan {
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
        actions: Vec<crate::plan::Action>,
    },
    /// Link New rows to their top suggestion (the record with the same
    /// number on the other side): the rows named, or all when `keys` is
    /// absent.
    AcceptSuggestions {
        #[serde(default)]
        keys: Option<Vec<String>>,
    },
    /// Create the partner of each New row named (all when absent) in the
    /// other system.
    CreatePartners {
        #[serde(default)]
        keys: Option<Vec<String>>,
        numbering: Numbering,
    },
    /// Resolve conflicts by taking one side's value: of `field` only, or of
    /// every differing field when absent; the rows named, or all conflicts.
    TakeSide {
        #[serde(default)]
        keys: Option<Vec<String>>,
        #[serde(default)]
        field: Option<crate::schema::Field>,
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        side: crate::schema::Side,
    },
    /// Copy every one-sided change to the other side (the rows named, or
    /// all).
    ApplyPlanned {
        #[serde(default)]
        keys: Option<Vec<String>>,
    },
}

/// Body of `POST .../actions`. Send an `Idempotency-Key` header to make a
/// retry safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WindowAction {
    #[serde(flatten)]
    pub op: WindowOp,
    /// The rows the caller acted on, with the tokens they saw; when one
    /// changed, nothing is done and the answer is 409 with the rows now.
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// The answer of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActionResult {
    /// Engine actions applied.
    pub applied: u32,
    pub revision: i64,
    pub counts: CategoryCounts,
}

/// A 409 answer to an action whose rows changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RowsChanged {
    pub code: String,
    pub message: String,
    /// The rows as they are now; a row that is gone is absent.
    pub rows: Vec<WindowRow>,
}

/// What a number becomes on their side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NumberCheck {
    pub input: String,
    /// The number as their side will hold it, when allowed.
    pub result: Option<String>,
    pub shortened: bool,
    pub zeros_stripped: bool,
    /// Why the number is not allowed.
    pub error: Option<String>,
    /// A record on that side already has the (resulting) number.
    pub taken: bool,
}

/// A change to their side that their data does not show yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PendingItem {
    pub pending_id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub change: crate::state::PendingChange,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// Body of `POST .../pending/delivered`: the changes in the file that was
/// delivered (all undelivered up to and including `through`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkDelivered {
    pub through: i64,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntry {
    pub audit_id: i64,
    pub at: i64,
    pub username: String,
    pub connection_id: Option<i64>,
    pub kind: String,
    pub action: String,
    pub our_number: Option<String>,
    pub their_number: Option<String>,
    /// Values before and after, and the action.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

/// What happens with a new customer in a connected system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SyncDecision {
    /// Create the partner in the other system now (for file connections: a
    /// pending change) and link the two.
    Synchronize,
    /// Put the customer under "Synchronization deactivated".
    DoNotSynchronize,
    /// Leave it under New, for an administrator to decide.
    ChooseLater,
}

/// The sync choice made when creating a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncChoice {
    pub connection_id: i64,
    pub decision: SyncDecision,
    /// The number in the other system (after their rules); the customer's
    /// own number when absent.
    #[serde(default)]
    pub their_number: Option<String>,
}

/// Body of `POST /api/v1/customers`: the customer and, when a connection
/// exists, what happens with it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewCustomer {
    #[serde(flatten)]
    pub fields: CustomerInput,
    #[serde(default)]
    pub sync: Option<SyncChoice>,
}

/// A field of one of our records that an integrated system owns: the
/// register's form shows it read-only, naming the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OwnedField {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub field: crate::schema::Field,
    /// The connection whose system owns it.
    pub connection: String,
}

/// A connection a new customer may be synchronized to, with the number
/// rules the form checks the number against before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncTarget {
    pub connection_id: i64,
    pub name: String,
    pub rules: crate::rules::NumberRules,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunTrigger {
    /// The connection's interval came round.
    Schedule,
    /// An administrator's "Run now".
    Manual,
    /// A file import.
    Import,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Done,
    /// The system could not be read (the message says why); nothing changed.
    Failed,
    /// A full refresh would delete more records than the connection allows:
    /// it waits for an administrator to confirm or cancel it.
    Waiting,
    Cancelled,
}

/// Change tracking: how their data set differs from the previous run's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(default)]
pub struct ChangeCounts {
    pub added: u32,
    pub changed: u32,
    pub removed: u32,
    pub unchanged: u32,
}

/// One run of a scope, with its report's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunInfo {
    pub run_id: i64,
    pub connection_id: i64,
    pub connection_name: String,
    pub kind: crate::schema::Kind,
    pub trigger: RunTrigger,
    pub full_refresh: bool,
    pub status: RunStatus,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// Every record of both sides and every row error; the counts add up
    /// to it.
    pub records_seen: i64,
    /// Records by action (`field_conflict`, `no_new_changes`, `updated`, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub counts: std::collections::BTreeMap<crate::report::Outcome, u32>,
    pub changes: ChangeCounts,
    pub message: Option<String>,
    pub started_by: Option<String>,
}

/// One record's line in a run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunDetail {
    pub seq: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub outcome: crate::report::Outcome,
    /// Whose record: `ours`, `theirs` or a linked `pair`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub whose: Option<crate::report::Whose>,
    pub number: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    /// Changed fields, before and after.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub changes: Vec<crate::report::FieldChange>,
    pub message: Option<String>,
}

/// A page of a run's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunDetailPage {
    pub items: Vec<RunDetail>,
    /// Details matching the filter, over all pages.
    pub total: i64,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<i64>,
}

/// Query of `GET /api/v1/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct RunQuery {
    pub connection_id: Option<i64>,
    pub kind: Option<String>,
    /// Runs started before this run (paging back in time).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

/// Query of `GET /api/v1/runs/{id}/details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct RunDetailQuery {
    /// Only this action, e.g. `field_conflict`.
    pub outcome: Option<String>,
    /// Details after this `seq`.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Body of `POST /api/v1/connections/{id}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RunNow {
    /// One kind, or both the connection reads when absent.
    #[serde(default)]
    pub kind: Option<crate::schema::Kind>,
    /// Re-send everything and allow deletions (the weekly refresh).
    #[serde(default)]
    pub full_refresh: bool,
}

/// What "Test connection" found for one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TestedSource {
    pub kind: crate::schema::Kind,
    /// Their columns (or JSON keys) as read.
    pub columns: Vec<String>,
    /// Which field each mapped column fills.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub mapped: Vec<crate::read::ColumnMapping>,
    /// Records read.
    pub records: u32,
}

/// The answer of `POST /api/v1/connections/{id}/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConnectionTest {
    pub ok: bool,
    /// In plain words: what works, or the validation error (bad
    /// credentials, unreachable host, missing table or column).
    pub message: String,
    pub sources: Vec<TestedSource>,
}

/// A change waiting to be written to an integrated system (the outbox).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OutboxItem {
    pub pending_id: i64,
    pub connection_id: i64,
    pub kind: crate::schema::Kind,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub change: crate::state::PendingChange,
    /// Sent with every attempt, so their system applies it once.
    pub idempotency_key: String,
    pub created_at: i64,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    /// Failed too often to go on by itself: retry it or look at the error.
    pub needs_attention: bool,
}

/// One value mapping: their code and our value for a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ValueMapping {
    pub field: crate::schema::Field,
    pub their_value: String,
    /// Empty in an edit: the mapping is removed.
    pub our_value: String,
}

/// The answer to a value mapping's edit: how many records it affects
/// (`dry_run`), or affected and re-synchronized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MappingImpact {
    pub affected: u32,
    /// Up to 20 of the affected records' numbers (theirs).
    pub sample: Vec<String>,
    /// The run that re-synchronized them, when not a dry run.
    pub run_id: Option<i64>,
}

/// Query of a value mapping's edit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
pub struct MappingEditQuery {
    /// Only count the affected records; change nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
}
