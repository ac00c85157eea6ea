//! The members schema: compile-time checked queries (`sqlx::query!`, with
//! the offline data in `.sqlx/`), and the list queries built at run time.

pub mod catalogue;
pub mod committees;
pub mod duty;
pub mod evaluation;
pub mod lists;
pub mod members;
pub mod organisation;
pub mod reseal;
