//! `/customers` and `/employees`: our registers. Supervisors may list and
//! create customers; everything else here is for administrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sync::protocol::{
    ApiError, Customer, CustomerInput, Employee, EmployeeInput, ListQuery, NewCustomer, OwnedField,
    Page, SyncTarget, Versioned,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Id, Params};
use crate::auth::{Admin, CurrentUser};
use crate::error::AppResult;
use crate::service::registers as svc;
use crate::state::AppState;
use crate::store::registers::{Customers, Employees};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(list_sync_targets))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(customer_owned_fields))
        .routes(routes!(employee_owned_fields))
        .routes(routes!(list_employees, create_employee))
        .routes(routes!(get_employee, update_employee))
}

/// Lists customers: search, sort, paginate.
#[utoipa::path(get, path = "/customers", tag = "customers", security(("session" = [])), params(ListQuery),
    responses((status = 200, body = Page<Customer>), (status = 401, body = ApiError)))]
pub async fn list_customers(
    _user: CurrentUser,
    State(state): State<AppState>,
    Params(q): Params<ListQuery>,
) -> AppResult<Json<Page<Customer>>> {
    Ok(Json(svc::list::<Customers>(&state.store, &q).await?))
}

/// Creates a customer. Supervisors may do this too. With `sync`, the
/// customer is synchronized to a connection at once, marked "Don't
/// synchronize", or left for later, in the same transaction.
#[utoipa::path(post, path = "/customers", tag = "customers", security(("session" = [])),
    request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 422, body = ApiError), (status = 401, body = ApiError)))]
pub async fn create_customer(
    user: CurrentUser,
    State(state): State<AppState>,
    Body(input): Body<NewCustomer>,
) -> AppResult<(StatusCode, Json<Customer>)> {
    let actor = crate::service::sync::Actor {
        user_id: user.user_id,
        username: user.username.clone(),
    };
    let c = crate::service::sync::create_customer(&state.store, &actor, input).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// The connections a new customer can be synchronized to, with their
/// number rules (for the sync choice of the customer form).
#[utoipa::path(get, path = "/sync-targets", tag = "customers", security(("session" = [])),
    responses((status = 200, body = Vec<SyncTarget>), (status = 401, body = ApiError)))]
pub async fn list_sync_targets(
    _user: CurrentUser,
    State(state): State<AppState>,
) -> AppResult<Json<Vec<SyncTarget>>> {
    Ok(Json(crate::service::sync::targets(&state.store).await?))
}

/// One customer.
#[utoipa::path(get, path = "/customers/{customer_id}", tag = "customers", security(("session" = [])),
    params(("customer_id" = i64, Path)),
    responses((status = 200, body = Customer), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_customer(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Customer>> {
    Ok(Json(svc::get::<Customers>(&state.store, id).await?))
}

/// The customer's fields that integrated systems own: edit them there.
#[utoipa::path(get, path = "/customers/{customer_id}/owned-fields", tag = "customers", security(("session" = [])),
    params(("customer_id" = i64, Path)),
    responses((status = 200, body = Vec<OwnedField>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn customer_owned_fields(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Vec<OwnedField>>> {
    Ok(Json(
        svc::owned_fields::<Customers>(&state.store, id).await?,
    ))
}

/// The employee's fields that integrated systems own: edit them there.
#[utoipa::path(get, path = "/employees/{employee_id}/owned-fields", tag = "employees", security(("session" = [])),
    params(("employee_id" = i64, Path)),
    responses((status = 200, body = Vec<OwnedField>), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn employee_owned_fields(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Vec<OwnedField>>> {
    Ok(Json(
        svc::owned_fields::<Employees>(&state.store, id).await?,
    ))
}

/// Replaces a customer's fields (set `active` to false to deactivate). The
/// body names the version that was read; a newer one answers 409.
#[utoipa::path(put, path = "/customers/{customer_id}", tag = "customers", security(("session" = [])),
    params(("customer_id" = i64, Path)), request_body = Versioned<CustomerInput>,
    responses((status = 200, body = Customer), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_customer(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<Versioned<CustomerInput>>,
) -> AppResult<Json<Customer>> {
    Ok(Json(
        svc::update::<Customers>(&state.store, id, body.version, body.fields).await?,
    ))
}

/// Lists employees: search, sort, paginate.
#[utoipa::path(get, path = "/employees", tag = "employees", security(("session" = [])), params(ListQuery),
    responses((status = 200, body = Page<Employee>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_employees(
    _admin: Admin,
    State(state): State<AppState>,
    Params(q): Params<ListQuery>,
) -> AppResult<Json<Page<Employee>>> {
    Ok(Json(svc::list::<Employees>(&state.store, &q).await?))
}

/// Creates an employee.
#[utoipa::path(post, path = "/employees", tag = "employees", security(("session" = [])),
    request_body = EmployeeInput,
    responses((status = 201, body = Employee), (status = 422, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_employee(
    _admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<EmployeeInput>,
) -> AppResult<(StatusCode, Json<Employee>)> {
    let e = svc::create::<Employees>(&state.store, input).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// One employee.
#[utoipa::path(get, path = "/employees/{employee_id}", tag = "employees", security(("session" = [])),
    params(("employee_id" = i64, Path)),
    responses((status = 200, body = Employee), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_employee(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> AppResult<Json<Employee>> {
    Ok(Json(svc::get::<Employees>(&state.store, id).await?))
}

/// Replaces an employee's fields, if the version is still current.
#[utoipa::path(put, path = "/employees/{employee_id}", tag = "employees", security(("session" = [])),
    params(("employee_id" = i64, Path)), request_body = Versioned<EmployeeInput>,
    responses((status = 200, body = Employee), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_employee(
    _admin: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    Body(body): Body<Versioned<EmployeeInput>>,
) -> AppResult<Json<Employee>> {
    Ok(Json(
        svc::update::<Employees>(&state.store, id, body.version, body.fields).await?,
    ))
}
