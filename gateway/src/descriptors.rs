//! The suite's contracts as a descriptor pool: JSON transcoding, the
//! streaming check and the policy test read it.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};

/// The encoded descriptor sets the gateway knows: every cppcc contract and
/// its imports, health, and the error details (`google.rpc.*`).
pub const SETS: [&[u8]; 3] = [
    cppcc_proto::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_types::pb::FILE_DESCRIPTOR_SET,
];

/// The pool, built once.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::new();
        for set in SETS {
            pool.decode_file_descriptor_set(set)
                .expect("the compiled descriptor sets decode");
        }
        pool
    })
}

/// The method at a gRPC path (`/package.Service/Method`).
pub fn method(path: &str) -> Option<MethodDescriptor> {
    let (service, name) = path.strip_prefix('/')?.split_once('/')?;
    pool()
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_methods_by_path() {
        let m = method("/cppcc.members.v1.CommitteeService/GetCommittee").unwrap();
        assert!(!m.is_server_streaming());
        assert!(
            method("/cppcc.events.v1.EventStreamService/Watch")
                .unwrap()
                .is_server_streaming()
        );
        assert!(method("/cppcc.members.v1.CommitteeService/Nope").is_none());
        assert!(method("nonsense").is_none());
        assert!(pool().get_message_by_name("google.rpc.ErrorInfo").is_some());
    }
}
