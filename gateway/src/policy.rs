//! Which roles may call which method: one table (`gateway/policy.toml`,
//! DOMAIN.md's "Roles"), checked before a call is forwarded. The services
//! check again; this is the coarse first filter that keeps calls a role can
//! never make away from them.

use std::collections::HashMap;

use cppcc_kit::auth::Role;
use serde::Deserialize;

/// The table compiled into the gateway; `--policy` replaces it.
pub const DEFAULT_POLICY: &str = include_str!("../policy.toml");

/// The parsed table.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Allowed roles by method, as a bit set over [`Role::ALL`].
    methods: HashMap<String, u16>,
}

/// What the table says of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The method is in the table, the role is not among its callers.
    Deny,
    /// The method is not in the table: refused (fail closed).
    Unlisted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    methods: HashMap<String, Vec<String>>,
}

fn bit(role: Role) -> u16 {
    let index = Role::ALL
        .iter()
        .position(|r| *r == role)
        .expect("every role is in Role::ALL");
    1 << index
}

impl Policy {
    /// Parses a table; every method name must look like
    /// `package.Service/Method` and every role must exist.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("policy: {e}"))?;
        let mut methods = HashMap::with_capacity(file.methods.len());
        for (method, roles) in file.methods {
            let well_formed = method.split_once('/').is_some_and(|(service, name)| {
                service.contains('.') && !name.is_empty() && !name.contains('/')
            });
            if !well_formed {
                return Err(format!(
                    "policy: `{method}` is not a method name (`package.Service/Method`)"
                ));
            }
            let mut bits = 0;
            for role in roles {
                let role = Role::parse(&role)
                    .ok_or_else(|| format!("policy: `{method}` names an unknown role `{role}`"))?;
                bits |= bit(role);
            }
            methods.insert(method, bits);
        }
        Ok(Policy { methods })
    }

    /// The table compiled in.
    pub fn builtin() -> Policy {
        Policy::parse(DEFAULT_POLICY).expect("the built-in policy parses")
    }

    /// Reads `path`, or takes the built-in table when there is none.
    pub fn load(path: Option<&std::path::Path>) -> Result<Policy, String> {
        match path {
            None => Ok(Policy::builtin()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read policy {}: {e}", path.display()))?;
                Policy::parse(&text)
            }
        }
    }

    /// Whether `role` may call `method` (`package.Service/Method`, no slash in front).
    pub fn decide(&self, method: &str, role: Role) -> Decision {
        match self.methods.get(method) {
            None => Decision::Unlisted,
            Some(bits) if bits & bit(role) != 0 => Decision::Allow,
            Some(_) => Decision::Deny,
        }
    }

    /// The roles that may call `method`, in [`Role::ALL`] order.
    pub fn roles(&self, method: &str) -> Vec<Role> {
        let bits = self.methods.get(method).copied().unwrap_or(0);
        Role::ALL
            .into_iter()
            .filter(|r| bits & bit(*r) != 0)
            .collect()
    }

    /// Every method in the table.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_by_method_and_role() {
        let p = Policy::parse(
            r#"[methods]
"a.B/C" = ["admin", "staff"]
"a.B/D" = []
"#,
        )
        .unwrap();
        assert_eq!(p.decide("a.B/C", Role::Admin), Decision::Allow);
        assert_eq!(p.decide("a.B/C", Role::Staff), Decision::Allow);
        assert_eq!(p.decide("a.B/C", Role::Member), Decision::Deny);
        assert_eq!(p.decide("a.B/D", Role::Admin), Decision::Deny);
        assert_eq!(p.decide("a.B/E", Role::Admin), Decision::Unlisted);
        assert_eq!(p.roles("a.B/C"), vec![Role::Admin, Role::Staff]);
    }

    #[test]
    fn refuses_bad_tables() {
        assert!(
            Policy::parse("[methods]\n\"a.B/C\" = [\"king\"]\n")
                .unwrap_err()
                .contains("king")
        );
        assert!(
            Policy::parse("[methods]\n\"nomethod\" = []\n")
                .unwrap_err()
                .contains("nomethod")
        );
        assert!(Policy::parse("[other]\n").is_err());
    }

    #[test]
    fn every_contract_method_is_in_the_builtin_table_and_nothing_else() {
        let policy = Policy::builtin();
        let pool = crate::descriptors::pool();
        let mut contract = Vec::new();
        for service in pool.services() {
            if service.full_name().starts_with("cppcc.") {
                for method in service.methods() {
                    contract.push(format!("{}/{}", service.full_name(), method.name()));
                }
            }
        }
        contract.sort();
        let mut table: Vec<String> = policy.methods().map(str::to_owned).collect();
        table.sort();
        assert_eq!(
            table, contract,
            "gateway/policy.toml and the contracts differ"
        );
    }
}
