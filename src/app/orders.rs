//! Orders: who may place, see and move which order.
//!
//! Any authenticated caller may place an order, and it is theirs. Staff (admin, manager) see
//! and move every order; a customer sees only their own — another customer's order is "not
//! found", exactly like a missing one — and may only cancel their own pending order. These
//! checks are made here, on the order the store returns or has locked, not only by filtering
//! in SQL. The state machine is [`OrderStatus::can_become`].

use std::collections::BTreeMap;

use crate::app::{Actor, App};
use crate::domain::*;
use crate::error::Error;

/// Lines an order may have (the spec says so too).
const MAX_LINES: usize = 50;
/// Units a line may ask for (the spec's `Quantity`): with prices of at most 10^10 cents and 50
/// lines, a total stays far below `i64::MAX`.
const MAX_QUANTITY: i64 = 1_000_000;

impl App {
    /// Places an order for the caller, in state `pending`.
    pub async fn order_create(&self, actor: &Actor, lines: &[OrderLine]) -> Result<Order, Error> {
        let user = actor.require_user()?;
        if lines.is_empty() || lines.len() > MAX_LINES {
            return Err(Error::invalid("items", format!("must have 1 to {MAX_LINES} lines")));
        }
        let mut seen: BTreeMap<Id, usize> = BTreeMap::new();
        for (i, line) in lines.iter().enumerate() {
            if !(1..=MAX_QUANTITY).contains(&line.quantity) {
                return Err(Error::invalid(
                    format!("items.{i}.quantity"),
                    format!("must be 1 to {MAX_QUANTITY}"),
                ));
            }
            if let Some(first) = seen.insert(line.product_id, i) {
                return Err(Error::invalid(
                    format!("items.{i}.product_id"),
                    format!("repeats the product of items.{first}; raise that line's quantity instead"),
                ));
            }
        }
        self.store().order_create(user.id, lines).await
    }

    /// A page of the orders the caller may see, in id order.
    pub async fn order_list(
        &self,
        actor: &Actor,
        status: Option<OrderStatus>,
        start: Start<Id>,
        limit: i64,
    ) -> Result<Page<Order>, Error> {
        let user_id = if sees_all_orders(actor) { None } else { Some(actor.require_user()?.id) };
        self.store().orders(&OrderFilter { user_id, status }, start, limit).await
    }

    /// One order, if the caller may see it; "not found" otherwise.
    pub async fn order_get(&self, actor: &Actor, id: Id) -> Result<Order, Error> {
        let order = self.store().order(id).await?;
        visible(actor, &order)?;
        Ok(order)
    }

    /// Moves an order to `status`. On the locked order, in this order: not the caller's to
    /// see (404), a stale `If-Match` (412), a move the state machine refuses (409), a move the
    /// caller may not make (403: customers may only cancel a pending order).
    pub async fn order_set_status(
        &self,
        actor: &Actor,
        id: Id,
        status: OrderStatus,
        precondition: Precondition<'_>,
    ) -> Result<Order, Error> {
        actor.require_user()?;
        let staff = sees_all_orders(actor);
        let check = |order: &Order| {
            visible(actor, order)?;
            if !precondition(order.version()) {
                return Err(Error::PreconditionFailed);
            }
            if !order.status.can_become(status) {
                return Err(Error::Conflict(format!(
                    "an order that is {} cannot become {status} (pending → paid → shipped; pending or paid → \
                     cancelled)",
                    order.status
                )));
            }
            let own_pending_cancel = order.status == OrderStatus::Pending && status == OrderStatus::Cancelled;
            if !staff && !own_pending_cancel {
                return Err(Error::Forbidden("a customer may only cancel their own pending order".into()));
            }
            Ok(())
        };
        self.store().order_set_status(id, status, &check).await
    }
}

/// Staff and the operator see every order.
fn sees_all_orders(actor: &Actor) -> bool {
    match actor {
        Actor::User(user) => user.role.is_staff(),
        Actor::Operator => true,
        Actor::Anonymous => false,
    }
}

/// Whether the caller may see `order`: "not found" when not, so that another customer's order
/// cannot be told from a missing one.
fn visible(actor: &Actor, order: &Order) -> Result<(), Error> {
    if sees_all_orders(actor) || actor.user().is_some_and(|user| user.id == order.user_id) {
        Ok(())
    } else {
        Err(Error::NotFound("order"))
    }
}
