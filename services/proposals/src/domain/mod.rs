//! The proposals service's rules, free of I/O: the proposal's and the
//! reply's state machines, excellent-proposal decisions, settings, the
//! working calendar, similarity and the assessment.

pub mod assessment;
pub mod calendar;
pub mod excellent;
pub mod grams;
pub mod lifecycle;
pub mod reply;
pub mod settings;

pub use lifecycle::{State, Step, StepError};
pub use reply::{ReplyState, ReplyStep, ReplyStepError};

pub use cppcc_kit::convert::is_set;
