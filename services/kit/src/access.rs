//! Who may call each method, as its contract declares it (the method's
//! `(cppcc.common.v1.access)` option, compiled into
//! [`cppcc_proto::access::METHODS`]). The gateway checks this before it
//! forwards a call and every service checks it before its handler runs; what
//! a role may do with one record (its own drafts, the proposals assigned to
//! its unit) is the service's domain.

use crate::auth::Role;
use crate::error::ServiceError;

/// What the contracts say of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The method declares its callers, and the role is not among them.
    Deny,
    /// No contract has this method.
    Unlisted,
}

/// The roles `method` (`package.Service/Method`, with or without a leading
/// slash) may be called by, or `None` when no contract has it.
pub fn callers(method: &str) -> Option<Vec<Role>> {
    cppcc_proto::access::callers(method)
        .map(|roles| roles.iter().filter_map(|r| Role::from_proto(*r)).collect())
}

/// Whether `role` may call `method`.
pub fn decide(method: &str, role: Role) -> Decision {
    match cppcc_proto::access::callers(method) {
        None => Decision::Unlisted,
        Some(roles) if roles.contains(&role.to_proto()) => Decision::Allow,
        Some(_) => Decision::Deny,
    }
}

/// Every method the contracts declare, sorted.
pub fn methods() -> impl Iterator<Item = &'static str> {
    cppcc_proto::access::METHODS.iter().map(|(m, _)| *m)
}

/// The refusal of a call `decide` did not allow: `PERMISSION_DENIED`, reason
/// `POLICY_DENIED`, naming the roles that may call the method. The gateway
/// and the services answer it in the same words.
pub fn refusal(method: &str, role: Role) -> ServiceError {
    let method = method.strip_prefix('/').unwrap_or(method);
    let message = match callers(method) {
        None => format!(
            "{} is in no contract, so no role may call it",
            crate::text::prefix(method, 160)
        ),
        Some(roles) => format!(
            "the {role} role may not call {method}; it takes one of: {}",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    ServiceError::permission_denied(message).with_reason("POLICY_DENIED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_by_the_contract() {
        let create = "cppcc.members.v1.MemberService/CreateMember";
        assert_eq!(decide(create, Role::Admin), Decision::Allow);
        assert_eq!(decide(&format!("/{create}"), Role::Admin), Decision::Allow);
        assert_eq!(decide(create, Role::Member), Decision::Deny);
        assert_eq!(
            decide("cppcc.members.v1.MemberService/Nothing", Role::Admin),
            Decision::Unlisted
        );
        assert_eq!(callers(create), Some(vec![Role::Admin]));
        let refused = refusal(create, Role::Member);
        assert_eq!(refused.kind(), crate::error::ErrorKind::PermissionDenied);
        assert!(
            refused.message().contains("it takes one of: admin"),
            "{}",
            refused.message()
        );
    }

    #[test]
    fn the_table_is_sorted_and_every_method_has_callers() {
        let methods: Vec<&str> = methods().collect();
        assert!(
            methods.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        assert!(methods.len() > 150, "{}", methods.len());
        for m in methods {
            let roles = callers(m).unwrap();
            assert!(!roles.is_empty(), "{m} has no callers");
            assert!(m.starts_with("cppcc.") && m.contains('/'), "{m}");
        }
    }
}
