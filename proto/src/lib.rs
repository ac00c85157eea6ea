//! The cppcc contracts (`proto/cppcc/**`), compiled for Rust: messages,
//! tonic clients and servers, and the encoded descriptor set that
//! reflection, JSON transcoding and the audit log read.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Messages every service shares.
pub mod common {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.common.v1");
    }
}

/// The audit log's records and the service that reads them.
pub mod audit {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.audit.v1");
    }
}

/// The event envelope and the event stream service.
pub mod events {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.events.v1");
    }
}

/// Committees, sectors, special committees and members.
pub mod members {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.members.v1");
    }
}

/// Proposals, their handling, follow-up and assessment.
pub mod proposals {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.proposals.v1");
    }
}

/// Consultations: the annual plan, platforms, activities and their eight
/// steps, results and publications.
pub mod consultations {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.consultations.v1");
    }
}

/// Opinions: public-opinion reports, bulletins, upward forwarding,
/// handling and quotas.
pub mod opinions {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.opinions.v1");
    }
}

/// Reports: the annual report, from every service's statistics.
pub mod reports {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("cppcc.reports.v1");
    }
}

/// The encoded `FileDescriptorSet` of every cppcc proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("cppcc_descriptor");

/// Who may call each method, as each method's contract declares it (its
/// `(cppcc.common.v1.access)` option): the one table the gateway and every
/// service check a caller's role against.
pub mod access {
    use crate::common::v1::Role;

    include!(concat!(env!("OUT_DIR"), "/cppcc_access.rs"));

    /// The roles that may call `method` (`package.Service/Method`, with or
    /// without a leading slash); `None` for a method no contract declares.
    pub fn callers(method: &str) -> Option<&'static [Role]> {
        let method = method.strip_prefix('/').unwrap_or(method);
        METHODS
            .binary_search_by(|(m, _)| (*m).cmp(method))
            .ok()
            .map(|i| METHODS[i].1)
    }
}
