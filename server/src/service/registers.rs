//! Creating, editing and listing the customer and employee registers.

use sync::protocol::{CustomerInput, EmployeeInput, FieldError, ListQuery, OwnedField, Page};

use crate::auth::now_ms;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::store::registers::{Customers, Employees, Register, WriteOutcome};

/// What the service needs of a register's input beyond the store's view.
pub trait Checked: Register {
    const NOUN: &'static str;
    const KIND: sync::schema::Kind;
    fn normalize(input: Self::Input) -> Self::Input;
    fn validate(input: &Self::Input) -> Vec<FieldError>;
    /// A user the record refers to, checked to exist before writing.
    fn referenced_user(_input: &Self::Input) -> Option<i64> {
        None
    }
}

impl Checked for Customers {
    const NOUN: &'static str = "customer";
    const KIND: sync::schema::Kind = sync::schema::Kind::Customer;
    fn normalize(input: CustomerInput) -> CustomerInput {
        input.trimmed()
    }
    fn validate(input: &CustomerInput) -> Vec<FieldError> {
        input.validate()
    }
    fn referenced_user(input: &CustomerInput) -> Option<i64> {
        input.assigned_user_id
    }
}

impl Checked for Employees {
    const NOUN: &'static str = "employee";
    const KIND: sync::schema::Kind = sync::schema::Kind::Employee;
    fn normalize(input: EmployeeInput) -> EmployeeInput {
        input.trimmed()
    }
    fn validate(input: &EmployeeInput) -> Vec<FieldError> {
        input.validate()
    }
}

pub async fn list<R: Checked>(store: &Store, query: &ListQuery) -> AppResult<Page<R::Record>> {
    let (items, total) = store.list_records::<R>(query).await?;
    Ok(Page {
        items,
        total,
        page: query.page(),
        per_page: query.per_page(),
    })
}

pub async fn get<R: Checked>(store: &Store, id: i64) -> AppResult<R::Record> {
    store
        .get_record::<R>(id)
        .await?
        .ok_or(AppError::NotFound(R::NOUN))
}

pub(crate) async fn check<R: Checked>(
    store: &Store,
    input: R::Input,
    except: Option<i64>,
) -> AppResult<R::Input> {
    let input = R::normalize(input);
    let mut errors = R::validate(&input);
    if errors.iter().all(|e| e.field != "number")
        && store.number_taken::<R>(R::number(&input), except).await?
    {
        errors.push(duplicate::<R>(R::number(&input)));
    }
    if let Some(user_id) = R::referenced_user(&input)
        && store.get_user(user_id).await?.is_none()
    {
        errors.push(FieldError::new("assigned_user_id", "No such user."));
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(AppError::Validation(errors))
    }
}

fn duplicate<R: Checked>(number: &str) -> FieldError {
    FieldError::new(
        "number",
        format!("Another {} already has the number {number}.", R::NOUN),
    )
}

fn outcome<R: Checked>(o: WriteOutcome<R::Record>, number: &str) -> AppResult<R::Record> {
    match o {
        WriteOutcome::Written(r) => Ok(r),
        // The pre-check raced with another writer; the constraint still holds.
        WriteOutcome::Duplicate => Err(AppError::Validation(vec![duplicate::<R>(number)])),
        WriteOutcome::MissingReference => Err(AppError::field("assigned_user_id", "No such user.")),
        WriteOutcome::NotFound => Err(AppError::NotFound(R::NOUN)),
        WriteOutcome::Stale(_) => Err(AppError::Conflict(format!(
            "This {} was changed by someone else since you opened it. Reload to see the new values.",
            R::NOUN
        ))),
    }
}

pub async fn create<R: Checked>(store: &Store, input: R::Input) -> AppResult<R::Record> {
    let input = check::<R>(store, input, None).await?;
    let number = R::number(&input).to_string();
    let r = outcome::<R>(store.insert_record::<R>(&input, now_ms()).await?, &number)?;
    register_changed::<R>(store).await?;
    Ok(r)
}

/// Every window of this kind shows our register: tell their caches.
async fn register_changed<R: Checked>(store: &Store) -> AppResult<()> {
    let mut c = store.write.acquire().await?;
    crate::store::sync::bump_register(&mut c, R::KIND).await?;
    Ok(())
}

/// The fields of record `id` that integrated systems own (it is linked to
/// such a system and the connection marks the field owned).
pub async fn owned_fields<R: Checked>(store: &Store, id: i64) -> AppResult<Vec<OwnedField>>
where
    R::Record: serde::Serialize,
{
    let record = get::<R>(store, id).await?;
    let v = serde_json::to_value(&record).map_err(|e| AppError::Internal(e.into()))?;
    owners(store, R::KIND, &v).await
}

/// The owned fields of a record given as JSON (a record or an input).
async fn owners(
    store: &Store,
    kind: sync::schema::Kind,
    record: &serde_json::Value,
) -> AppResult<Vec<OwnedField>> {
    let number = record["number"].as_str().unwrap_or_default();
    Ok(store
        .owners_of(kind, number)
        .await?
        .into_iter()
        .map(|(field, connection)| OwnedField { field, connection })
        .collect())
}

/// Refuses a manual edit of a field that an integrated system owns for this
/// record: the next run would overwrite it silently.
async fn refuse_owned<R: Checked>(store: &Store, old: &R::Record, input: &R::Input) -> AppResult<()>
where
    R::Record: serde::Serialize,
    R::Input: serde::Serialize,
{
    let old = serde_json::to_value(old).map_err(|e| AppError::Internal(e.into()))?;
    let new = serde_json::to_value(input).map_err(|e| AppError::Internal(e.into()))?;
    let errors: Vec<FieldError> = owners(store, R::KIND, &old)
        .await?
        .iter()
        .filter(|o| old.get(o.field.as_str()) != new.get(o.field.as_str()))
        .map(|o| {
            FieldError::new(
                o.field.as_str(),
                format!(
                    "{} owns this field: change it there, the next run brings it here.",
                    o.connection
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Replaces a record's fields if `version` is the one the editor saw.
pub async fn update<R: Checked>(
    store: &Store,
    id: i64,
    version: i64,
    input: R::Input,
) -> AppResult<R::Record>
where
    R::Record: serde::Serialize,
    R::Input: serde::Serialize,
{
    let Some(old) = store.get_record::<R>(id).await? else {
        return Err(AppError::NotFound(R::NOUN));
    };
    let input = check::<R>(store, input, Some(id)).await?;
    refuse_owned::<R>(store, &old, &input).await?;
    let number = R::number(&input).to_string();
    let r = outcome::<R>(
        store
            .update_record::<R>(id, version, &input, now_ms())
            .await?,
        &number,
    )?;
    register_changed::<R>(store).await?;
    Ok(r)
}
